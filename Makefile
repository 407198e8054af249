# Quickstart: `make run` and `make test` work on a fresh machine with only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench bench-main bench-scale bench-report bench-check clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/wsi run $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

# Every benchmark, each writing benchmarks/results/NAME.json, then the README's tables.
# About 2-3 hours on 2 idle cores (the ksvd reference and the 10^8-token runs most of it).
bench: bench-main bench-scale
	$(MAKE) bench-report

bench-main: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_cooc.py
	$(BIN)/python benchmarks/bench_context.py
	$(BIN)/python benchmarks/bench_atoms.py
	OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/bench_induce.py
	$(BIN)/python benchmarks/bench_embed.py
	$(BIN)/python benchmarks/bench_senses.py
	$(BIN)/python benchmarks/bench_incremental.py --shared
	$(BIN)/python benchmarks/bench_storage.py
	$(BIN)/python benchmarks/bench_assign.py

# The long ones (generated corpora of 10^7 and 10^8 tokens, kept in /tmp/bscale, and
# prefixes of the shared corpora up to 3x10^6 tokens for the natural-text capacity plan; ~45 min).
bench-scale: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_scale.py --out /tmp/bscale
	$(BIN)/python benchmarks/bench_scale.py --shared --out /tmp/bscale
	$(BIN)/python benchmarks/bench_incremental.py --out /tmp/bscale --tokens 1e8

# The tables of benchmarks/README.md from benchmarks/results/*.json (standard library only).
bench-report:
	$(PYTHON) benchmarks/render.py

# Exit 1 naming every README table not measured on the current code.
bench-check:
	$(PYTHON) benchmarks/check_fresh.py

clean-venv:
	rm -rf $(VENV)
