"""Reliability: a run killed in the middle of a stage resumes to the same outputs; the same
configuration gives identical outputs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, base_args, wsi_subprocess


def _corpus(path, n_docs=40000, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(3000)])
    p = 1.0 / np.arange(1, 3001)
    ids = rng.choice(3000, size=(n_docs, 30), p=p / p.sum())
    path.write_text("\n".join(" ".join(words[row]) for row in ids) + "\n")
    return path


def _tables(run, name):
    return pq.read_table(Path(run) / name).sort_by([("row", "ascending"), ("col", "ascending")]) \
        if name == "cooc" else pq.read_table(Path(run) / name)


def test_run_killed_mid_stage_leaves_nothing_partial_and_resumes(tmp_path):
    corpus = _corpus(tmp_path / "c.txt")
    sets = ["--set", "cooc.window=10", "--set", "cooc.block_nnz=20000", "--set", "vocab.min_count=1"]
    ref = tmp_path / "ref"
    args = base_args(ref, [corpus], *sets, scheduler="sync")
    r = subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    args = base_args(out, [corpus], *sets, scheduler="sync")
    p = subprocess.Popen([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run = out / "t"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        if any(d.name.startswith("cooc-") for d in (run / "_attempts").glob("*")) \
                if (run / "_attempts").is_dir() else False:
            break
        time.sleep(0.005)
    assert p.poll() is None, "the run ended before the cooc stage could be interrupted"
    time.sleep(0.2)  # well inside the stage: partial files being written
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    # Nothing of the interrupted stage is visible; the finished stages are intact.
    assert not (run / "cooc").exists()
    assert (run / "vocab.parquet").exists()
    m = json.loads((run / "manifest.json").read_text()) if (run / "manifest.json").exists() \
        else {"stages": {}}
    assert m["stages"].get("cooc", {}).get("status") != "complete"
    # The next run takes over the dead run's lock and resumes from the first incomplete stage.
    r = subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = json.loads((run / "manifest.json").read_text())
    assert m["stages"]["cooc"]["status"] == "complete"
    assert not any((run / ".tmp").glob("*")) if (run / ".tmp").exists() else True
    published = {p.name for p in (run / "_attempts").iterdir()}  # the killed attempt is gone
    assert published == {json.loads((run / "manifest.json").read_text())["stages"][s]["attempt"]
                         .split("/")[-1] for s in ("corpus", "vocab", "cooc")}
    assert _tables(run, "cooc").equals(_tables(ref / "t", "cooc"))
    assert _tables(run, "vocab.parquet").equals(_tables(ref / "t", "vocab.parquet"))


def test_same_configuration_gives_identical_outputs(tmp_path, wsi):
    corpus = _corpus(tmp_path / "c.txt", n_docs=3000)
    sets = ["--set", "embed.method=ppmi_svd", "--set", "embed.vector_size=16",
            "--set", "vocab.min_count=3", "--set", "atoms.n_atoms=40",
            "--set", "atoms.sparsity=3", "--set", "atoms.iterations=5",
            "--set", "evaluate.similarity=[]", "--set", "evaluate.analogies=null",
            "--set", "induce.evaluation_targets=false", "--set", "induce.min_count=20"]
    runs = []
    for name, scheduler in (("a", "threads"), ("b", "threads"), ("c", "sync")):
        code, _, err = wsi(*base_args(tmp_path / name, [corpus], *sets, scheduler=scheduler,
                                      stages="senses"))
        assert code == 0, err
        runs.append(tmp_path / name / "t")
    # The same configuration and scheduler: every output identical (PPMI-SVD and k-SVD
    # are deterministic for a seed; multi-threaded gensim is the documented exception).
    names = ("vocab.parquet", "cooc", "embeddings.parquet", "atoms.parquet", "senses.parquet")
    for name in names:
        assert _tables(runs[0], name).equals(_tables(runs[1], name)), name
    # Another scheduler: counts bit-identical; floats equal to rounding (BLAS called from
    # concurrent tasks may block its sums differently).
    for name in ("vocab.parquet", "cooc"):
        assert _tables(runs[0], name).equals(_tables(runs[2], name)), name
    a = np.array(_tables(runs[0], "embeddings.parquet")["vector"].to_pylist())
    c = np.array(_tables(runs[2], "embeddings.parquet")["vector"].to_pylist())
    np.testing.assert_allclose(a, c, atol=1e-5)


@pytest.mark.parametrize("stage", ["cooc", "atoms"])
def test_worker_killed_mid_stage_on_a_local_cluster(tmp_path, wsi, stage):
    """A LocalCluster worker process SIGKILLed while a stage runs: its tasks are recomputed
    elsewhere and the outputs equal an undisturbed run's."""
    import threading

    import psutil
    corpus = _corpus(tmp_path / "c.txt", n_docs=60000 if stage == "cooc" else 20000)
    sets = ["--set", "cooc.window=10", "--set", "cooc.block_nnz=20000", "--set",
            "vocab.min_count=1", "--set", "corpus.blocksize=262144"]
    if stage == "atoms":
        sets += ["--set", "embed.method=ppmi_svd", "--set", "embed.vector_size=32",
                 "--set", "atoms.n_atoms=300", "--set", "atoms.iterations=30",
                 "--set", "atoms.tol=0", "--set", "atoms.block_rows=200"]
    code, _, err = wsi(*base_args(tmp_path / "ref", [corpus], *sets, scheduler="sync",
                                  stages=stage))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    killed = []

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (run / "_attempts").is_dir() and any(d.name.startswith(f"{stage}-")
                                                     for d in (run / "_attempts").glob("*")):
                time.sleep(0.3)
                # The nannies live in this process; each spawned a worker process.
                workers = [c for c in psutil.Process().children(recursive=True)
                           if "spawn_main" in " ".join(c.cmdline())]
                if workers:
                    workers[0].kill()
                    killed.append(time.time())
                return
            time.sleep(0.01)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], *sets, scheduler="local:2",
                                  stages=stage))
    t.join()
    assert code == 0, err
    assert killed, "no worker process was killed (the stage ended first?)"
    from datetime import datetime
    ended = json.loads((run / "manifest.json").read_text())["stages"][stage]["ended"]
    assert datetime.strptime(ended, "%Y-%m-%dT%H:%M:%S%z").timestamp() >= int(killed[0])
    ref = tmp_path / "ref" / "t"
    assert _tables(run, "cooc").equals(_tables(ref, "cooc"))
    if stage == "atoms":
        a, b = _tables(run, "atoms.parquet"), _tables(ref, "atoms.parquet")
        np.testing.assert_allclose(np.array(a["vector"].to_pylist()),
                                   np.array(b["vector"].to_pylist()), atol=1e-4)


def test_truncated_output_or_edited_manifest_is_recomputed_not_trusted(tmp_path, wsi):
    corpus = _corpus(tmp_path / "c.txt", n_docs=2000)
    args = base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=1")
    code, _, err = wsi(*args)
    assert code == 0, err
    run = tmp_path / "out" / "t"
    ref = _tables(run, "cooc")
    part = sorted((run / "cooc").glob("part-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:100])  # truncated behind the pipeline's back
    code, _, err = wsi(*args)
    assert code == 0, err
    assert "cooc: output changed on disk" in err
    assert _tables(run, "cooc").equals(ref)
    for garbage in ("{not json", '{"version": 1, "stages": ["x"]}',
                    '{"stages": {"cooc": {"status": "complete", "fingerprint": 5}}}'):
        (run / "manifest.json").write_text(garbage)
        code, _, err = wsi(*args)
        assert code == 0 and "Traceback" not in err, err
        assert _tables(run, "cooc").equals(ref)
        m = json.loads((run / "manifest.json").read_text())
        assert m["stages"]["cooc"]["status"] in ("complete", "cached")


def test_word2vec_with_one_worker_is_reproducible_across_processes(tmp_path):
    """The deterministic mode of the gensim trainers: ``embed.workers: 1`` gives the same
    vectors in another process, whatever Python's string-hash seed."""
    corpus = _corpus(tmp_path / "c.txt", n_docs=2000)
    sets = ["--set", "embed.method=word2vec", "--set", "embed.vector_size=16",
            "--set", "embed.epochs=1", "--set", "embed.workers=1", "--set", "vocab.min_count=3",
            "--set", "run.report=false"]
    for name, hash_seed in (("a", "1"), ("b", "2")):
        r = wsi_subprocess(*base_args(tmp_path / name, [corpus], *sets, stages="embed"),
                           env={"PYTHONHASHSEED": hash_seed})
        assert r.returncode == 0, r.stderr
    a, b = (_tables(tmp_path / n / "t", "embeddings.parquet") for n in "ab")
    assert a.num_rows > 100 and a.equals(b)
