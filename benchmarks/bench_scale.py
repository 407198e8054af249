"""Scaling benchmark: corpus → vocab → cooc on generated corpora of 10^7 and 10^8 tokens.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--out DIR] [--sizes 1e7,1e8] [--workers 1,2]
        [--vocab 50000] [--window 10] [--json FILE] [--quick] [--results DIR]
    .venv/bin/python benchmarks/bench_scale.py --shared [--data DIR] [--sizes 1e5,3e5,1e6,3e6]
    .venv/bin/python benchmarks/bench_scale.py --project benchmarks/results/scale.json

Setup (not timed): one corpus per size from the planted-sense generator,
``wsi synth --out DIR/synth-<size> --tokens <size> --vocab <V> --dim 50 --polysemous 100
--seed 0 --quiet`` (about 0.5M tokens/s: 10^8 tokens take 3-4 minutes). With ``--out`` the
corpora are kept in ``DIR/synth-1e7`` etc. and reused by later runs when their
``synth.json`` records the same parameters; without it everything goes into a temporary
directory that is deleted at the end. Before any timing, a tiny corpus (10^5 tokens) is
run once to fill numba's on-disk cache (no JIT compile time is measured), and each corpus
is read once so that it is in the page cache.

Timed: for every size and every worker count, a fresh ``wsi run`` subprocess into a new
run directory (deleted afterwards)::

    wsi run --stages cooc --scheduler auto --set run.workers=<w> --set cooc.window=<window>
        --set 'corpus.paths=["<corpus.txt>"]' --set run.report=false --quiet

Measured per run:

- wall time of the subprocess (interpreter start-up and imports included) and each
  stage's ``seconds`` from the run's ``manifest.json`` (corpus, vocab, cooc);
- tokens (corpus stage counter), tokens/s over corpus+vocab+cooc and of the cooc stage
  alone, and the speed-up of 2 workers over 1 (per size);
- nnz (cooc counter) and the cooc output's size on disk (sum of ``cooc/part-*.parquet``);
- the bytes of every published output per stage, as ``manifest.json`` records them, per
  unit of what it grows with: corpus shards per token, vocab.parquet +
  vocab.counts.parquet per vocabulary word, cooc parts per distinct pair;
- memory: every ~50 ms psutil reads the RSS of the ``wsi`` process and of each of its
  descendants (the ``auto`` scheduler's worker processes, which tokenise; counting and
  cooc run on threads in the main process). Reported: (a) the peak of the whole tree's
  summed RSS, (b) the peak RSS of the largest single process (= peak memory per worker),
  also split by stage at the ``<stage>: done`` lines ``wsi`` logs;
- the CPU used meanwhile by other processes on the machine (in cores), which skews timings.

Memory growth (per worker count, between the smallest and the largest size): peak
(largest process, and tree) ratio next to the cooc output's size ratio, and the issue's
requirement — memory must not grow with corpus size beyond the output's own size —
checked as peak(large) - peak(small) <= output(large) - output(small) + 10% of
peak(small) (the margin covers sampling and allocator noise), reported met/MISSED.

With ``--shared`` the corpora are natural text instead: for each size, the first lines
holding that many whitespace tokens of the six shared corpora's non-blank lines in one
seeded random order (``DIR/text-<size>``, reused when its text.json matches); results
``scale_text.json`` with tables ``scale_text`` and ``capacity_text``.

Capacity plan (table ``capacity``, a pure function of the runs in the results file, see
:func:`capacity`): distinct pairs and vocabulary fitted as power laws of the tokens, time
per stage as fixed + per-token seconds with the measured parallel efficiency, memory per
process as base + bytes per pair, storage as bytes per unit; projected to 10^9 and 10^10
tokens on 1, 2, 8 and 32 workers. ``--project FILE`` prints it from an existing results
file without running anything. ``--quick`` measures 1e5 and 1e6 tokens (two sizes, so
that the fits run) unless ``--sizes`` is given.

Figures are reported, never asserted: the exit status is 0 unless a command fails.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.05
STAGES = ("corpus", "vocab", "cooc")
SYNTH_DIM = 50
SYNTH_POLYSEMOUS = 100
SYNTH_SEED = 0
WARMUP_TOKENS = 100_000
MEMORY_MARGIN = 0.10  # of the small size's peak

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results as bench_results  # noqa: E402
from bench_cooc import (TreeSampler, _wsi_command, code_hash, run_sampled,  # noqa: E402  (same folder)
                        run_timed, table)


def log(msg, _t0=time.monotonic()):
    print(f"[{time.monotonic() - _t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------

def _count(text):
    """A whole number that may be written 1e7 or 10_000_000."""
    try:
        v = float(text.strip().replace("_", ""))
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v != int(v) or v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(v)


def _counts(text):
    vals = [_count(t) for t in text.split(",") if t.strip()]
    if not vals:
        raise argparse.ArgumentTypeError("expected a comma-separated list of numbers")
    return sorted(set(vals))


def size_label(n):
    """1e7 for 10_000_000; the plain number when it is not d x 10^k."""
    mant, _, exp = f"{n:.0e}".partition("e")
    if float(f"{mant}e{exp}") == n:
        return f"{mant}e{int(exp)}"
    return str(n)


def _mb(b):
    return b / 2**20


def _m(x):
    return f"{x / 1e6:.2f}M"


# ----------------------------------------------------------------------------------------
# Setup: generated corpora
# ----------------------------------------------------------------------------------------

def synth_params(tokens, vocab):
    """The parameters ``wsi synth`` records in synth.json for our command line."""
    return {"n_tokens": tokens, "vocab_size": vocab, "dim": SYNTH_DIM,
            "n_polysemous": SYNTH_POLYSEMOUS, "seed": SYNTH_SEED}


def synth_matches(directory, tokens, vocab):
    meta = Path(directory) / "synth.json"
    if not meta.is_file() or not (Path(directory) / "corpus.txt").is_file():
        return False
    try:
        params = json.loads(meta.read_text())["params"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(params.get(k) == v for k, v in synth_params(tokens, vocab).items())


def make_corpus(directory, tokens, vocab):
    """Generate (or reuse) a corpus; returns a dict describing the setup step."""
    directory = Path(directory)
    if synth_matches(directory, tokens, vocab):
        return {"dir": str(directory), "reused": True, "seconds": None, "other_load": None}
    cmd = [*_wsi_command(), "synth", "--out", str(directory), "--tokens", str(tokens),
           "--vocab", str(vocab), "--dim", str(SYNTH_DIM), "--polysemous",
           str(SYNTH_POLYSEMOUS), "--seed", str(SYNTH_SEED), "--quiet"]
    wall, other, _ = run_timed(cmd)
    if not synth_matches(directory, tokens, vocab):
        raise RuntimeError(f"`{shlex.join(cmd)}` did not leave a matching synth.json")
    return {"dir": str(directory), "reused": False, "seconds": wall, "other_load": other}


SHARED_DATA = ROOT.parent / "shared/data/corpora"
SHARED_FILES = ("abc_news", "brown", "inaugural", "movie_reviews", "state_union", "webtext")
TEXT_SEED = 0


def text_lines(files, seed=TEXT_SEED):
    """The non-blank lines of ``files`` in one seeded random order: every prefix is the same
    mix of the corpora (the runs' windows stop at line ends, so no window is cut)."""
    import numpy as np
    lines = [ln for f in files for ln in Path(f).read_text(encoding="utf-8",
                                                           errors="replace").splitlines()
             if ln.strip()]
    return [lines[i] for i in np.random.default_rng(seed).permutation(len(lines))]


def make_text_corpus(directory, files, tokens, lines=None):
    """The first lines of :func:`text_lines` holding ``tokens`` whitespace tokens, in
    ``directory/corpus.txt`` (reused when its text.json matches)."""
    directory = Path(directory)
    want = {"files": [str(f) for f in files], "bytes": [Path(f).stat().st_size for f in files],
            "tokens": tokens, "seed": TEXT_SEED}
    meta = directory / "text.json"
    try:
        if json.loads(meta.read_text()) == want and (directory / "corpus.txt").is_file():
            return {"dir": str(directory), "reused": True, "seconds": None, "other_load": None}
    except (OSError, ValueError):
        pass
    t = time.monotonic()
    out, n = [], 0
    for ln in (lines if lines is not None else text_lines(files)):
        out.append(ln)
        n += len(ln.split())
        if n >= tokens:
            break
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "corpus.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
    meta.write_text(json.dumps(want))
    return {"dir": str(directory), "reused": False, "seconds": time.monotonic() - t,
            "other_load": 0.0}


def warm_page_cache(path, chunk=16 << 20):
    with open(path, "rb") as f:
        while f.read(chunk):
            pass


# ----------------------------------------------------------------------------------------
# Timed runs
# ----------------------------------------------------------------------------------------

class ProcessSampler(TreeSampler):
    """Every ~50 ms: the summed RSS of the process tree and the RSS of its largest process."""

    def __init__(self, pid, interval=SAMPLE_SECONDS):
        super().__init__(pid, interval)
        self.samples = []  # (monotonic time, tree bytes, largest process bytes, largest is root)
        self.max_processes = 0

    def run(self):
        ps = self._psutil
        while not self._halt.is_set():
            total, largest, largest_root, n = 0, 0, False, 0
            for p in self._tree():
                try:
                    rss = p.memory_info().rss
                except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                    continue
                n += 1
                total += rss
                if rss > largest:
                    largest, largest_root = rss, p.pid == self.root.pid
            if total:
                self.samples.append((time.monotonic(), total, largest, largest_root))
                self.max_processes = max(self.max_processes, n)
            self._halt.wait(self.interval)

    def peaks(self, t0=float("-inf"), t1=float("inf")):
        """(peak tree bytes, peak largest-process bytes, whether that process was wsi's own)."""
        window = [s for s in self.samples if t0 < s[0] <= t1]
        if not window:
            return 0, 0, None
        tree = max(s[1] for s in window)
        top = max(window, key=lambda s: s[2])
        return tree, top[2], top[3]


def cooc_output_bytes(run_dir):
    """(bytes on disk, bytes as Arrow columns in memory) of cooc/part-*.parquet."""
    import pyarrow.parquet as pq

    disk = arrow = 0
    for f in (Path(run_dir) / "cooc").glob("part-*.parquet"):
        disk += f.stat().st_size
        pf = pq.ParquetFile(f)
        try:  # the columns are fixed-width (int32, int64, float32)
            width = sum(max(t.type.bit_width, 8) // 8 for t in pf.schema_arrow)
        except ValueError:  # a variable-width column: its uncompressed Parquet size
            arrow += sum(pf.metadata.row_group(i).total_byte_size
                         for i in range(pf.metadata.num_row_groups))
        else:
            arrow += pf.metadata.num_rows * width
    return disk, arrow


def run_scale(parent, corpus, workers, window):
    """One ``wsi run --stages cooc`` subprocess in a fresh run directory, sampled."""
    tmp = Path(tempfile.mkdtemp(prefix=f"wsi-scale-w{workers}-", dir=parent))
    try:
        return _run_scale(tmp, corpus, workers, window)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_scale(out_root, corpus, workers, window):
    name = "bench"
    cmd = [*_wsi_command(), "run", "--out", str(out_root), "--name", name,
           "--stages", "cooc", "--scheduler", "auto",
           "--set", f"run.workers={workers}", "--set", f"cooc.window={window}",
           "--set", f"corpus.paths={json.dumps([str(corpus)])}",
           "--set", "run.report=false", "--quiet"]
    wall, other, events = run_sampled(cmd, ProcessSampler)
    sampler = events.pop(None)
    run_dir = Path(out_root) / name
    st = json.loads((run_dir / "manifest.json").read_text())["stages"]
    seconds = {s: float(st[s]["seconds"]) for s in STAGES}
    stage_peaks, prev = {}, float("-inf")
    for s in STAGES:
        end = events.get(s, float("inf"))
        tree, top, top_root = sampler.peaks(prev, end)
        stage_peaks[s] = {"tree_mb": _mb(tree), "largest_mb": _mb(top),
                          "largest_is_main": top_root}
        prev = end
    tree, top, top_root = sampler.peaks()
    disk, arrow = cooc_output_bytes(run_dir)
    # bytes of each published output, as the manifest records them, per stage
    outputs = {s: {k: int(v) for k, v in (st[s].get("outputs") or {}).items()}
               for s in STAGES}
    return {"workers": workers, "wall": wall, "seconds": seconds,
            "output_bytes": outputs,
            "stage_bytes": {s: sum(v.values()) for s, v in outputs.items()},
            "tokens": int(st["corpus"]["counters"]["tokens"]),
            "documents": int(st["corpus"]["counters"]["documents"]),
            "vocabulary": int(st["cooc"]["counters"]["vocabulary"]),
            "nnz": int(st["cooc"]["counters"]["nnz"]),
            "pairs": int(st["cooc"]["counters"]["pairs"]),
            "cooc_bytes": disk, "cooc_arrow_bytes": arrow,
            "corpus_shard_bytes": int(st["corpus"].get("outputs", {}).get("corpus", 0)),
            "peak_tree_mb": _mb(tree), "peak_largest_mb": _mb(top),
            "peak_largest_is_main": top_root, "stage_peaks": stage_peaks,
            "max_processes": sampler.max_processes, "samples": len(sampler.samples),
            "other_load": other, "command": cmd}


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------

HEADER = ["size", "workers", "tokens", "wall s", "corpus s", "vocab s", "cooc s",
          "c+v+c tok/s", "cooc tok/s", "speed-up c+v+c/cooc", "peak tree MB",
          "peak largest MB", "cooc out MB", "nnz", "other load"]


def result_row(label, r, base):
    s = r["seconds"]
    total = sum(s.values())
    if base is not None and base is not r:
        bs = base["seconds"]
        speed = f"{sum(bs.values()) / total:.2f}x / {bs['cooc'] / s['cooc']:.2f}x"
    else:
        speed = "-"
    return [label, r["workers"], f"{r['tokens']:,}", f"{r['wall']:.1f}", f"{s['corpus']:.2f}",
            f"{s['vocab']:.2f}", f"{s['cooc']:.2f}", _m(r["tokens"] / total),
            _m(r["tokens"] / s["cooc"]), speed, f"{r['peak_tree_mb']:.0f}",
            f"{r['peak_largest_mb']:.0f}", f"{_mb(r['cooc_bytes']):.1f}", f"{r['nnz']:,}",
            f"{r['other_load']:.2f}"]


def memory_lines(results, sizes, workers):
    """Growth from the smallest to the largest size, per worker count, with the verdict."""
    out = []
    small, large = sizes[0], sizes[-1]
    verdicts = {}
    if small == large:
        out.append("memory growth: needs at least two sizes; not evaluated")
        return out, verdicts
    ls, ll = size_label(small), size_label(large)
    for w in workers:
        a, b = results[(small, w)], results[(large, w)]
        out_a, out_b = _mb(a["cooc_bytes"]), _mb(b["cooc_bytes"])
        out_ratio = f"{out_b / out_a:.2f}x" if out_a else "-"
        arr_a, arr_b = _mb(a["cooc_arrow_bytes"]), _mb(b["cooc_arrow_bytes"])
        out.append(
            f"memory growth, {w} worker(s), {ls} -> {ll} tokens: peak largest process "
            f"{a['peak_largest_mb']:.0f} -> {b['peak_largest_mb']:.0f} MB = "
            f"{b['peak_largest_mb'] / a['peak_largest_mb']:.2f}x; peak tree "
            f"{a['peak_tree_mb']:.0f} -> {b['peak_tree_mb']:.0f} MB = "
            f"{b['peak_tree_mb'] / a['peak_tree_mb']:.2f}x; cooc output {out_a:.1f} -> "
            f"{out_b:.1f} MB = {out_ratio} on disk, {arr_a:.1f} -> {arr_b:.1f} MB as Arrow "
            f"columns in memory (corpus x{b['tokens'] / a['tokens']:.1f}, "
            f"vocabulary {a['vocabulary']:,} -> {b['vocabulary']:,}, nnz x"
            f"{b['nnz'] / max(a['nnz'], 1):.2f})")
    out.append(f"requirement: memory must not grow with corpus size beyond the output's own "
               f"size, checked as peak({ll}) - peak({ls}) <= output({ll}) - output({ls}) + "
               f"{MEMORY_MARGIN:.0%} of peak({ls}) (margin for sampling and allocator noise); "
               f"output = cooc/part-*.parquet on disk:")
    for w in workers:
        a, b = results[(small, w)], results[(large, w)]
        d_out = _mb(b["cooc_bytes"] - a["cooc_bytes"])
        verdicts[w] = {}
        parts = []
        for key, what in (("peak_largest_mb", "per worker (largest process)"),
                          ("peak_tree_mb", "whole tree")):
            grow = b[key] - a[key]
            allowed = d_out + MEMORY_MARGIN * a[key]
            ok = grow <= allowed
            verdicts[w][key] = {"growth_mb": grow, "allowed_mb": allowed, "met": ok}
            parts.append(f"{what}: +{grow:.0f} MB vs allowed {d_out:.0f} + "
                         f"{MEMORY_MARGIN * a[key]:.0f} = {allowed:.0f} MB -> "
                         f"{'met' if ok else 'MISSED'}")
        out.append(f"  {w} worker(s): " + "; ".join(parts))
    out.append("informative, not the requirement: the same growth against the output's size "
               "as Arrow columns in memory (nnz x bytes per row, uncompressed) instead of on "
               "disk:")
    for w in workers:
        a, b = results[(small, w)], results[(large, w)]
        d_arr = _mb(b["cooc_arrow_bytes"] - a["cooc_arrow_bytes"])
        parts = []
        for key, what in (("peak_largest_mb", "per worker"), ("peak_tree_mb", "whole tree")):
            grow = b[key] - a[key]
            allowed = d_arr + MEMORY_MARGIN * a[key]
            verdicts[w][key]["allowed_arrow_mb"] = allowed
            parts.append(f"{what}: +{grow:.0f} MB vs {d_arr:.0f} + {MEMORY_MARGIN * a[key]:.0f}"
                         f" = {allowed:.0f} MB -> {'within' if grow <= allowed else 'beyond'}")
        out.append(f"  {w} worker(s): " + "; ".join(parts))
    return out, verdicts


# ----------------------------------------------------------------------------------------
# Capacity plan: projections from the measured runs (a pure function of results["runs"])
# ----------------------------------------------------------------------------------------

PROJECT_TOKENS = (10**9, 10**10)
PROJECT_WORKERS = (1, 2, 8, 32)


def fit_power_law(x, y):
    """(a, b) of y = a * x**b, least squares in log-log over the points; one point gives
    b = 1 (proportional)."""
    import numpy as np
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(set(x.tolist())) < 2:
        return float(y.mean() / x.mean()), 1.0
    b, loga = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(loga)), float(b)


def fit_affine(x, y):
    """(c, r) of y = c + r * x with c, r >= 0 (non-negative least squares); one distinct
    x gives c = 0, r = mean(y / x)."""
    import numpy as np
    from scipy.optimize import nnls
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(set(x.tolist())) < 2:
        return 0.0, float(np.mean(y / x))
    (c, r), _ = nnls(np.column_stack([np.ones_like(x), x]), y)
    return float(c), float(r)


def capacity(runs, tokens=PROJECT_TOKENS, workers=PROJECT_WORKERS, vocab_limit=None):
    """Project time, memory and storage of corpus -> vocab -> cooc to ``tokens`` on
    ``workers`` from this script's measured ``runs`` (results JSON ``figures.runs``);
    ``vocab_limit``: the most words the corpus can have (a generated corpus's vocabulary).

    Returns (model, rows): model holds every fitted rate; rows are (tokens, workers,
    vocabulary, nnz, hours per stage..., peak GB per process, GB per output...).
    """
    sizes = sorted({r["tokens"] for r in runs})
    ws = sorted({r["workers"] for r in runs})
    w1, wmax = ws[0], ws[-1]
    by_size = {}
    for r in runs:  # counts do not depend on the worker count; keep one run per size
        by_size.setdefault(r["tokens"], r)
    toks = [by_size[t]["tokens"] for t in sizes]
    nnz_a, nnz_b = fit_power_law(toks, [by_size[t]["nnz"] for t in sizes])
    voc_a, voc_b = fit_power_law(toks, [by_size[t]["vocabulary"] for t in sizes])
    big = by_size[sizes[-1]]
    sb = big.get("stage_bytes") or {}
    bytes_rate = {  # storage per unit at the largest measured size
        "corpus": ("token", sb.get("corpus", big.get("corpus_shard_bytes", 0)) / big["tokens"]),
        "vocab": ("word", sb.get("vocab", 0) / big["vocabulary"]),
        "cooc": ("pair", sb.get("cooc", big["cooc_bytes"]) / big["nnz"])}
    time_fit, memory_fit = {}, {}
    for s in STAGES:
        at = {w: [r for r in runs if r["workers"] == w] for w in (w1, wmax)}
        c1, r1 = fit_affine([r["tokens"] for r in at[w1]], [r["seconds"][s] for r in at[w1]])
        _cw, rw = fit_affine([r["tokens"] for r in at[wmax]],
                            [r["seconds"][s] for r in at[wmax]])
        # parallel efficiency per worker at the largest measured worker count, held
        # constant beyond it (at most 1)
        eff = 1.0 if wmax == w1 or rw <= 0 else min(1.0, r1 * w1 / (rw * wmax))
        time_fit[s] = {"fixed_s": c1, "s_per_token_1_worker": r1 * w1, "workers_measured":
                       [w1, wmax], "efficiency": eff}
        # memory: per size the highest of the worker counts (the conservative reading)
        worst = {}
        for r in runs:
            p = r["stage_peaks"][s]
            mb = p["largest_mb"] if p["largest_is_main"] is not None else r["peak_largest_mb"]
            worst[r["nnz"]] = max(worst.get(r["nnz"], 0.0), mb)
        m0, m1 = fit_affine(list(worst), list(worst.values()))
        memory_fit[s] = {"base_mb": m0, "mb_per_pair": m1}
    model = {"sizes": sizes, "workers": ws, "nnz": {"a": nnz_a, "b": nnz_b},
             "vocab_limit": vocab_limit,
             "vocabulary": {"a": voc_a, "b": voc_b}, "bytes": bytes_rate,
             "time": time_fit, "memory": memory_fit}
    rows = []
    for t in tokens:
        vocab = voc_a * t ** voc_b
        if vocab_limit:
            vocab = min(vocab, vocab_limit)
        nnz_fit = nnz_a * t ** nnz_b
        nnz = min(nnz_fit, vocab * vocab)
        store = {"corpus": bytes_rate["corpus"][1] * t, "vocab": bytes_rate["vocab"][1] * vocab,
                 "cooc": bytes_rate["cooc"][1] * nnz}
        peak_mb = max(m["base_mb"] + m["mb_per_pair"] * nnz for m in memory_fit.values())
        for n in workers:
            hours = {}
            for s, f in time_fit.items():
                e = 1.0 if n == 1 else f["efficiency"]
                hours[s] = (f["fixed_s"] + f["s_per_token_1_worker"] * t / (n * e)) / 3600
            rows.append({"tokens": t, "workers": n, "vocabulary": vocab, "nnz": nnz,
                         "nnz_capped": nnz < nnz_fit, "hours": hours,
                         "peak_gb": peak_mb * 2**20 / 1e9,
                         "storage_gb": {k: v / 1e9 for k, v in store.items()}})
    return model, rows


def capacity_table(runs, vocab_limit=None):
    """The ``capacity`` table (results.table) of the measured runs."""
    model, rows = capacity(runs, vocab_limit=vocab_limit)
    cols = [("tokens", ""), ("workers", "d"), ("vocabulary", ",.0f"), ("nnz", ".2e"),
            ("corpus h", ".2f"), ("vocab h", ".2f"), ("cooc h", ".2f"), ("c+v+c h", ".2f"),
            ("peak GB / process", ".1f"), ("corpus GB", ".1f"), ("vocab GB", ".3f"),
            ("cooc GB", ".1f"), ("storage GB", ".1f")]
    trows = [[size_label(r["tokens"]), r["workers"], r["vocabulary"], r["nnz"],
              *(r["hours"][s] for s in STAGES), sum(r["hours"].values()), r["peak_gb"],
              *(r["storage_gb"][s] for s in STAGES), sum(r["storage_gb"].values())]
             for r in rows]
    sizes = ", ".join(size_label(s) for s in model["sizes"])
    nz, vc = model["nnz"], model["vocabulary"]
    notes = [
        f"fitted on the measured runs above: sizes {sizes} tokens, workers "
        f"{', '.join(map(str, model['workers']))}; corpus -> vocab -> cooc only "
        "(the trainers and the sense stages are not in it)",
        f"distinct pairs nnz = {nz['a']:.3g} x tokens^{nz['b']:.3f} and vocabulary = "
        f"{vc['a']:.3g} x tokens^{vc['b']:.3f} (least squares in log-log)"
        + (f", vocabulary capped at the generator's {vocab_limit:,} words" if vocab_limit
           else "") + "; nnz capped at vocabulary^2" + ("; capped in: " + ", ".join(
            f"{size_label(r['tokens'])}" for r in rows[::len(PROJECT_WORKERS)]
            if r["nnz_capped"]) if any(r["nnz_capped"] for r in rows) else ""),
        "time per stage = fixed + (seconds per token on 1 worker) x tokens / (workers x "
        "efficiency), fixed and rate by non-negative least squares over the 1-worker runs; "
        "efficiency = measured speed-up / workers at the largest measured worker count, "
        "held constant beyond it: " + "; ".join(
            f"{s} {f['s_per_token_1_worker'] * 1e6:.3f} us/token + {f['fixed_s']:.2f} s, "
            f"efficiency {f['efficiency']:.2f}" for s, f in model["time"].items()),
        "peak GB / process = the largest stage's base + per-pair growth of the largest "
        "process's peak RSS (non-negative least squares over the sizes, each at the worker "
        "count with the highest peak): "
        + "; ".join(f"{s} {m['base_mb']:.0f} MB + {m['mb_per_pair'] * 2**20:.2f} B/pair"
                    for s, m in model["memory"].items()),
        "storage per unit at the largest size: " + ", ".join(
            f"{s} {b[1]:.2f} B/{b[0]}" for s, b in model["bytes"].items())
        + " (published outputs as manifest.json records them; corpus = tokenised shards, "
        "vocab = vocab.parquet + vocab.counts.parquet, cooc = cooc/ parts)",
    ]
    notes.append("not in the table, by construction rather than measured: embed.method glove "
                 "trains in one task holding every pair's row and column (int32), weight "
                 "(float64) and place in the epoch's order (int64), 24 B a pair, the Arrow "
                 "table it reads them from aside: " + ", ".join(
                     f"{size_label(r['tokens'])} {24 * r['nnz'] / 1e9:.1f} GB"
                                       for r in rows[::len(PROJECT_WORKERS)])
                 + " on one node")
    slow = [s for s, f in model["time"].items()
            if f["workers_measured"][1] > f["workers_measured"][0]
            and f["efficiency"] * f["workers_measured"][1] <= f["workers_measured"][0]]
    if slow:
        notes.append(f"WARNING: no speed-up from {model['workers'][0]} to "
                     f"{model['workers'][-1]} workers measured for {', '.join(slow)} (a busy "
                     "machine?): more workers project slower there; rerun on an idle machine")
    return model, bench_results.table(cols, trows, notes)


def print_projection(path):
    """``--project FILE``: the capacity table of an existing results file, as text."""
    try:
        res = json.loads(Path(path).read_text())
        runs = res["figures"]["runs"]
        limit = (res["figures"].get("synth") or {}).get("vocab")
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"bench_scale: {path}: not a results file of this script ({e})", file=sys.stderr)
        return 2
    _model, t = capacity_table(runs, limit)
    print(f"capacity projection from {path} ({'QUICK ' if res.get('quick') else ''}"
          f"measured {res.get('finished')}, code {res.get('code_hash')})")
    print_projection_table(t)
    return 0


def print_projection_table(t):
    print(table([[format(v, spec) if v is not None and spec else str(v)
                  for v, (_c, spec) in zip(row, t["columns"])] for row in t["rows"]],
                [c for c, _ in t["columns"]]))
    print("\n".join(t["notes"]))


# ----------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None,
                   help="keep the generated corpora in DIR/synth-<size> (reused when their "
                        "synth.json matches) and put the run directories under DIR/runs "
                        "(each deleted after its run); default: a temporary directory, "
                        "deleted at the end")
    p.add_argument("--sizes", type=_counts, default=None,
                   help="corpus sizes in tokens, comma-separated (default 1e7,1e8; with "
                        "--quick 1e5,1e6)")
    p.add_argument("--workers", type=_counts, default=[1, 2],
                   help="run.workers values, comma-separated (default 1,2)")
    p.add_argument("--vocab", type=_count, default=50000,
                   help="wsi synth --vocab: words in the generator's vocabulary (default 50000)")
    p.add_argument("--window", type=_count, default=10, help="cooc.window (default 10)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--shared", action="store_true",
                   help="natural text instead of wsi synth: prefixes of the six shared "
                        "corpora's lines in one seeded random order (results scale_text.json, "
                        "tables scale_text and capacity_text; default sizes 1e5,3e5,1e6,3e6)")
    p.add_argument("--data", type=Path, default=SHARED_DATA,
                   help=f"with --shared: the corpora's folder (default {SHARED_DATA})")
    p.add_argument("--project", type=Path, default=None, metavar="SCALE_JSON",
                   help="run nothing: print the capacity projection of an existing results "
                        "file of this script (benchmarks/results/scale.json)")
    bench_results.add_arguments(p, quick_help="small corpora (1e5,1e6 tokens unless --sizes "
                                              "says otherwise): checks the script end to "
                                              "end; figures not publishable")
    args = p.parse_args(argv)
    if args.project is not None:
        return print_projection(args.project)
    text_files, lines = None, None
    if args.shared:
        text_files = [args.data / f"{n}.txt" for n in SHARED_FILES]
        absent = [str(f) for f in text_files if not f.is_file()]
        if absent:
            print(f"bench_scale: skipped: --shared needs {', '.join(absent)} (--data names "
                  "their folder)")
            return 0
        if args.sizes is None:
            args.sizes = [10**5, 3 * 10**5] if args.quick else [10**5, 3 * 10**5, 10**6,
                                                               3 * 10**6]
        lines = text_lines(text_files)
        have = sum(len(ln.split()) for ln in lines)
        if args.sizes[-1] > have:
            p.error(f"--sizes: {args.sizes[-1]:,} tokens asked, the shared corpora hold "
                    f"{have:,} whitespace tokens")
    if args.sizes is None:
        args.sizes = [10**5, 10**6] if args.quick else [10**7, 10**8]
    rec = bench_results.Recorder(__file__, args, ("benchmarks/results.py",
                                                  "benchmarks/bench_cooc.py"))

    try:
        import psutil
    except ImportError:
        print("bench_scale: skipped: psutil is not installed (needed for peak memory)")
        return 0

    t_bench = time.monotonic()
    code_start = code_hash()
    command = shlex.join([sys.executable, *sys.argv]) if argv is None else \
        shlex.join([sys.executable, __file__, *argv])
    own_tmp = None
    if args.out is None:
        own_tmp = Path(tempfile.mkdtemp(prefix="wsi-bench-scale-"))
        base = own_tmp
    else:
        base = args.out.resolve()
        base.mkdir(parents=True, exist_ok=True)
    runs_parent = base / "runs"
    runs_parent.mkdir(exist_ok=True)

    setups, results = {}, {}
    try:
        # Setup (not timed): the corpora, then a tiny warm-up run.
        for size in args.sizes:
            if args.shared:
                directory = base / f"text-{size_label(size)}"
                log(f"setup: {size_label(size)} tokens of the shared corpora -> {directory}")
                setups[size] = make_text_corpus(directory, text_files, size, lines)
                continue
            directory = base / f"synth-{size_label(size)}"
            log(f"setup: wsi synth --tokens {size_label(size)} --vocab {args.vocab} -> "
                f"{directory}")
            st = make_corpus(directory, size, args.vocab)
            setups[size] = st
            if st["reused"]:
                log("setup: reused (synth.json matches)")
            else:
                log(f"setup: generated in {st['seconds']:.1f}s "
                    f"({size / st['seconds'] / 1e6:.2f}M tokens/s, other load "
                    f"{st['other_load']:.2f} cores)")
        warm_dir = base / f"synth-warmup-{size_label(WARMUP_TOKENS)}"
        make_corpus(warm_dir, WARMUP_TOKENS, args.vocab)
        log(f"warm-up: tiny run ({size_label(WARMUP_TOKENS)} tokens) to fill numba's cache")
        run_scale(runs_parent, warm_dir / "corpus.txt", max(args.workers), args.window)

        # Timed.
        for size in args.sizes:
            corpus = Path(setups[size]["dir"]) / "corpus.txt"
            warm_page_cache(corpus)
            for w in args.workers:
                log(f"run: {size_label(size)} tokens, {w} worker(s)")
                r = run_scale(runs_parent, corpus, w, args.window)
                results[(size, w)] = r
                s = r["seconds"]
                log(f"  wall {r['wall']:.1f}s; " + ", ".join(f"{k} {v:.2f}s" for k, v in
                                                           s.items()) +
                    f"; peak tree {r['peak_tree_mb']:.0f} MB, largest process "
                    f"{r['peak_largest_mb']:.0f} MB; cooc output "
                    f"{_mb(r['cooc_bytes']):.1f} MB; other load {r['other_load']:.2f} cores")
    finally:
        if own_tmp is not None:
            shutil.rmtree(own_tmp, ignore_errors=True)
        else:
            shutil.rmtree(runs_parent, ignore_errors=True)

    # Report.
    rows = []
    for size in args.sizes:
        base_run = results.get((size, 1))
        for w in args.workers:
            rows.append(result_row(size_label(size), results[(size, w)], base_run))
    mem, verdicts = memory_lines(results, args.sizes, args.workers)

    out = []
    what = ("prefixes of the shared corpora (natural text)" if args.shared else
             f"wsi synth corpora (--vocab {args.vocab} --dim {SYNTH_DIM} --polysemous "
             f"{SYNTH_POLYSEMOUS} --seed {SYNTH_SEED})")
    out.append(f"bench_scale: corpus -> vocab -> cooc on {what}, "
               f"cooc.window={args.window}, scheduler auto, run.workers in "
               f"{','.join(map(str, args.workers))}")
    out.append(f"machine: {os.cpu_count()} cores, "
               f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}, "
               f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    out.append(f"command: {command}")
    code_end = code_hash()
    out.append(f"code measured: sha256[:12] of pipeline/, tasks/, conf/default.yaml = "
               f"{code_start}" + ("" if code_end == code_start else
                                  f" at start, {code_end} at end: the code CHANGED while the "
                                  "benchmark ran; rerun"))
    out.append("setup (not timed): " + "; ".join(
        f"{size_label(s)} tokens " + ("reused" if st["reused"] else
                                      f"generated in {st['seconds']:.1f}s")
        for s, st in setups.items()))
    out.append("one fresh `wsi run --stages cooc` subprocess per row (run.report=false); "
               "numba cache warmed first; corpus read once beforehand (page cache)")
    out.append("")
    out.append(table(rows, HEADER))
    out.append("")
    out.append("wall s = the subprocess (incl. interpreter start and imports); corpus/vocab/"
               "cooc s = manifest.json; c+v+c tok/s = tokens / (corpus+vocab+cooc s); "
               "speed-up = 1-worker seconds / these seconds, for c+v+c and cooc; peak tree MB "
               "= max over the run of the summed RSS of wsi and its worker processes; peak "
               f"largest MB = max RSS of any single one of them (= per worker); sampled every "
               f"{SAMPLE_SECONDS * 1000:.0f} ms (RSS counts shared and copy-on-write pages in "
               "every process that maps them); cooc out MB = cooc/part-*.parquet; other load "
               "= CPU cores used by other processes during the run")
    out.append("peak MB by stage, largest process / tree (M = the wsi process itself, "
               "W = a worker process; - = the stage ended between two samples; the corpus "
               "stage's figure includes start-up):")
    for size in args.sizes:
        for w in args.workers:
            r = results[(size, w)]
            out.append(f"  {size_label(size):>6}, {w} worker(s): " + "; ".join(
                f"{k} -" if v["largest_is_main"] is None else
                f"{k} {v['largest_mb']:.0f}{'M' if v['largest_is_main'] else 'W'}"
                f" / {v['tree_mb']:.0f}" for k, v in r["stage_peaks"].items()) +
                f"  (up to {r['max_processes']} processes, {r['samples']} samples)")
    out.append("")
    out.extend(mem)
    busy = [r for r in results.values() if r["other_load"] > 0.2]
    if busy:
        out.append(f"WARNING: other processes used > 0.2 cores during {len(busy)} of "
                   f"{len(results)} runs: timings on this machine are skewed; rerun on an "
                   "idle machine")
    out.append(f"benchmark time {time.monotonic() - t_bench:.0f}s")
    print("\n".join(out))

    cols = [("size", ""), ("workers", "d"), ("tokens", ",d"), ("wall s", ".1f"),
            ("corpus s", ".2f"), ("vocab s", ".2f"), ("cooc s", ".2f"),
            ("c+v+c M tok/s", ".2f"), ("cooc M tok/s", ".2f"), ("speed-up c+v+c", ".2f"),
            ("speed-up cooc", ".2f"), ("peak tree MB", ".0f"), ("peak largest MB", ".0f"),
            ("cooc out MB", ".1f"), ("nnz", ",d"), ("corpus B/token", ".2f"),
            ("vocab B/word", ".1f"), ("cooc B/pair", ".2f"), ("other load", ".2f")]
    trows = []
    for size in args.sizes:
        b = results.get((size, 1))
        for w in args.workers:
            r = results[(size, w)]
            s_, tot = r["seconds"], sum(r["seconds"].values())
            sp = b is not None and b is not r
            trows.append([size_label(size), w, r["tokens"], r["wall"], s_["corpus"],
                          s_["vocab"], s_["cooc"], r["tokens"] / tot / 1e6,
                          r["tokens"] / s_["cooc"] / 1e6,
                          sum(b["seconds"].values()) / tot if sp else None,
                          b["seconds"]["cooc"] / s_["cooc"] if sp else None,
                          r["peak_tree_mb"], r["peak_largest_mb"], _mb(r["cooc_bytes"]),
                          r["nnz"], r["stage_bytes"]["corpus"] / r["tokens"],
                          r["stage_bytes"]["vocab"] / r["vocabulary"],
                          r["stage_bytes"]["cooc"] / r["nnz"], r["other_load"]])
    stage_notes = ["peak MB by stage, largest process / whole tree (M = the wsi process, "
                   "W = a worker process, - = the stage ended between two samples): " + "; ".join(
                       f"{size_label(s_)} x{w}: " + ", ".join(
                           f"{k} -" if v["largest_is_main"] is None else
                           f"{k} {v['largest_mb']:.0f}{'M' if v['largest_is_main'] else 'W'}"
                           f"/{v['tree_mb']:.0f}" for k, v in results[(s_, w)]["stage_peaks"]
                           .items()) for s_ in args.sizes for w in args.workers),
                   "bytes per unit = published output bytes (manifest.json) / tokens, "
                   "vocabulary words, distinct pairs: corpus = tokenised shards, vocab = "
                   "vocab.parquet + vocab.counts.parquet, cooc = cooc/ parts"]
    run_list = [{"size": s_, **r} for (s_, _w), r in results.items()]
    model, cap_table = capacity_table(run_list, None if args.shared else args.vocab)
    print()
    print_projection_table(cap_table)
    if args.shared:
        source = {"text": {"files": [str(f) for f in text_files], "seed": TEXT_SEED}}
        stage_notes.insert(0, "natural text: prefixes of the six shared corpora's non-blank "
                              "lines in one seeded random order (sizes in whitespace tokens; "
                              "tokens = the pipeline's count)")
    else:
        source = {"synth": {"vocab": args.vocab, "dim": SYNTH_DIM,
                            "polysemous": SYNTH_POLYSEMOUS, "seed": SYNTH_SEED}}
    suffix = "_text" if args.shared else ""
    rec.write("scale" + suffix, {"window": args.window, "runs": run_list,
                                 "setup": {size_label(s): st for s, st in setups.items()},
                                 "capacity_model": model, **source},
              {"scale" + suffix: bench_results.table(cols, trows, [m.strip() for m in mem]
                                                     + stage_notes),
               "capacity" + suffix: cap_table})
    if args.json:
        args.json.write_text(json.dumps({
            "command": command, "code": [code_start, code_end], "window": args.window,
            "synth": {"vocab": args.vocab, "dim": SYNTH_DIM, "polysemous": SYNTH_POLYSEMOUS,
                      "seed": SYNTH_SEED},
            "setup": {size_label(s): st for s, st in setups.items()},
            "runs": [{"size": s, **r} for (s, _w), r in results.items()],
            "memory_margin": MEMORY_MARGIN,
            "memory_verdicts": {str(w): v for w, v in verdicts.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
