"""Run directory behaviour: manifest, caching, --force, --stages, atomic outputs, CLI."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from conftest import base_args, one_line, read_manifest, wsi_subprocess


@pytest.fixture
def corpus(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    return f


def statuses(run):
    return {k: v["status"] for k, v in read_manifest(run)["stages"].items()}


def test_manifest_records_config_counters_and_versions(tmp_path, wsi, corpus):
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], "--set", "cooc.window=2"))
    assert code == 0, err
    m = read_manifest(tmp_path / "out" / "t")
    assert m["config"]["cooc"]["window"] == 2
    assert m["config"]["corpus"]["paths"] == [str(corpus)]
    for pkg in ("dask", "numpy", "pyarrow", "python"):
        assert m["packages"][pkg]
    for name in ("corpus", "vocab", "cooc"):
        st = m["stages"][name]
        assert st["status"] == "complete"
        assert st["seconds"] >= 0 and st["started"] <= st["ended"]
    assert m["stages"]["corpus"]["counters"]["tokens"] == 240
    assert m["stages"]["corpus"]["inputs"]["files"][0]["size"] == corpus.stat().st_size
    assert not (tmp_path / "out" / "t" / ".lock").exists()
    assert not list((tmp_path / "out" / "t").glob(".tmp/*"))


def test_rerun_is_cached_and_force_recomputes(tmp_path, wsi, corpus):
    args = base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=1")
    run = tmp_path / "out" / "t"
    assert wsi(*args)[0] == 0
    mtime = (run / "vocab.parquet").stat().st_mtime_ns
    code, _, err = wsi(*args)
    assert code == 0
    assert statuses(run) == {"corpus": "cached", "vocab": "cached", "cooc": "cached"}
    assert (run / "vocab.parquet").stat().st_mtime_ns == mtime

    code, _, err = wsi(*args, "--force", "--stages", "vocab")
    assert code == 0
    assert statuses(run) == {"corpus": "cached", "vocab": "complete", "cooc": "cached"}

    # A changed setting reruns its stage and what depends on it, not what is upstream.
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=2"))
    assert code == 0
    assert statuses(run) == {"corpus": "cached", "vocab": "complete", "cooc": "complete"}

    # A changed input file reruns everything.
    with open(corpus, "a") as f:
        f.write("a brand new line of text\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=2"))
    assert code == 0
    assert statuses(run) == {"corpus": "complete", "vocab": "complete", "cooc": "complete"}


def test_stages_option_runs_missing_upstream(tmp_path, wsi, corpus):
    run = tmp_path / "out" / "t"
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], "--stages", "vocab"))
    assert code == 0, err
    assert set(read_manifest(run)["stages"]) == {"corpus", "vocab"}
    assert not (run / "cooc").exists()
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], "--stages", "cooc"))
    assert code == 0
    assert statuses(run) == {"corpus": "cached", "vocab": "cached", "cooc": "complete"}


def test_failed_stage_leaves_no_partial_output(tmp_path, wsi, corpus, monkeypatch):
    from pipeline.stages import cooc
    args = base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=1",
                     "--set", "cooc.block_nnz=5")
    calls = []
    real = cooc.write_block

    def failing(pair, url, row_start):
        calls.append(url)
        if len(calls) == 2:  # the first block is already written
            raise OSError(28, "No space left on device")
        return real(pair, url, row_start)

    monkeypatch.setattr(cooc, "write_block", failing)
    code, _, err = wsi(*args, "--scheduler", "sync")
    assert code == 5
    assert "No space left on device" in one_line(err)
    run = tmp_path / "out" / "t"
    assert not (run / "cooc").exists()
    assert not list(run.glob(".tmp/*"))
    st = statuses(run)
    assert st == {"corpus": "complete", "vocab": "complete", "cooc": "failed"}
    vocab = pq.read_table(run / "vocab.parquet")  # earlier outputs intact
    assert vocab["word"].to_pylist() == ["the", "on", "sat", "cat", "dog", "log", "mat"]

    monkeypatch.setattr(cooc, "write_block", real)
    code, _, err = wsi(*args)
    assert code == 0
    assert statuses(run) == {"corpus": "cached", "vocab": "cached", "cooc": "complete"}


def test_stages_command_and_module_entry_point(tmp_path):
    r = wsi_subprocess("stages")
    assert r.returncode == 0
    graph = r.stdout.split("\n\n")[1].splitlines()  # after the header: one line a stage
    order = [ln.split()[0] for ln in graph]
    assert order == ["corpus", "vocab", "cooc", "embed", "evaluate", "context", "induce", "atoms",
                     "senses", "inventory", "occurrences"]
    # each line: the artifacts read -> those written, as the stages declare them
    assert graph[2].split()[1:] == ["corpus,", "vocab", "->", "cooc"]
    r = wsi_subprocess("config", "--set", "cooc.window=4")
    assert r.returncode == 0 and "window: 4" in r.stdout


def test_later_config_files_and_sets_override_earlier(tmp_path, wsi):
    a = tmp_path / "a.yaml"
    a.write_text("cooc:\n  window: 3\nvocab:\n  min_count: 2\n")
    b = tmp_path / "b.yaml"
    b.write_text("cooc:\n  window: 4\n")
    code, out, _ = wsi("config", "-c", a, "-c", b)
    assert "window: 4" in out and "min_count: 2" in out
    code, out, _ = wsi("config", "-c", a, "-c", b, "--set", "cooc.window=7")
    assert "window: 7" in out


def test_module_entry_point_with_worker_processes(tmp_path):
    """`python -m pipeline run` with the processes scheduler: spawned workers must not rerun main."""
    f = tmp_path / "c.txt"
    f.write_text("the cat sat on the mat\n" * 2000)
    r = wsi_subprocess(*base_args(tmp_path / "out", [f], "--set", "run.workers=2",
                                  "--set", "corpus.blocksize=8192", scheduler="processes"),
                       timeout=120)
    assert r.returncode == 0, r.stderr
    c = read_manifest(tmp_path / "out" / "t")["stages"]["corpus"]["counters"]
    assert c["tokens"] == 12000 and c["shards"] > 2


def test_a_saved_configuration_with_retired_settings_still_loads():
    """A run saved by an older version (a setting since renamed or removed) is read with
    today's defaults for what it lacks; what it still has is kept."""
    from pipeline.config import load_config
    old = {"induce": {"log_count_weights": True, "min_count": 7}, "retired_section": {"x": 1},
           "cooc": {"window": 4}}
    cfg = load_config(base=old)
    assert cfg.induce.min_count == 7 and cfg.cooc.window == 4
    assert cfg.induce.weights == load_config().induce.weights
    with pytest.raises(Exception, match="log_count_weights"):  # a user's own file is strict
        load_config(sets=["induce.log_count_weights=true"])
