"""The pipeline on an object store and a real cluster: moto's S3 server, a ``dask
scheduler`` with two ``dask worker`` processes over tcp://, runs killed and resumed.

References are the same runs on local disk with the in-process ``sync`` scheduler.
"""
from __future__ import annotations

import bz2
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, base_args
from servers import cluster, s3  # noqa: F401  (fixtures)

SETS = ["--set", "embed.method=ppmi_svd", "--set", "embed.vector_size=16",
        "--set", "vocab.min_count=3", "--set", "atoms.n_atoms=40",
        "--set", "atoms.sparsity=3", "--set", "atoms.iterations=5",
        "--set", "evaluate.similarity=[]", "--set", "evaluate.analogies=null",
        "--set", "induce.evaluation_targets=false", "--set", "induce.min_count=20",
        "--set", "corpus.blocksize=65536", "--set", "cooc.block_nnz=200000",
        "--set", "run.report=false"]


def _lines(n_docs, seed):
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(2000)])
    p = 1.0 / np.arange(1, 2001)
    ids = rng.choice(2000, size=(n_docs, 30), p=p / p.sum())
    return ("\n".join(" ".join(words[row]) for row in ids) + "\n").encode()


def _corpus(tmp, s3fs_, bucket, n_docs=2000):
    """The same three files (plain, .gz, .bz2) on local disk and in the bucket."""
    files = {"a.txt": _lines(n_docs, 0), "b.txt.gz": gzip.compress(_lines(n_docs // 2, 1)),
             "c.txt.bz2": bz2.compress(_lines(n_docs // 2, 2))}
    local = []
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        local.append(tmp / name)
        s3fs_.pipe_file(f"{bucket}/corpus/{name}", data)
    return local, [f"s3://{bucket}/corpus/{n}" for n in files]


def _args(out, paths, scheduler, stages="senses", extra=()):
    return base_args(out, paths, *SETS, *extra, scheduler=scheduler, stages=stages)


def _read(run_url, name, options):
    """A published output of a run (local path or s3:// URL) as one Arrow table."""
    from pipeline.run import storage_options
    from pipeline.storage import RunDir
    with storage_options(options):
        run = RunDir(str(run_url))
        path = run.path(name)
        if run.fs.isdir(path):
            parts = sorted(p for p in run.fs.find(path) if p.endswith(".parquet"))
        else:
            parts = [path]
        tables = []
        for p in parts:
            with run.fs.open(p, "rb") as f:
                tables.append(pq.read_table(f))
    t = pa.concat_tables(tables)
    return t.sort_by([("row", "ascending"), ("col", "ascending")]) if name == "cooc" else t


def _vectors(t, column="vector"):
    return np.array(t[column].to_pylist(), dtype=np.float64)


def _assert_same(run_url, ref, options, names=("vocab.parquet", "cooc")):
    """Counts bit for bit; float outputs (when asked) to rounding."""
    for name in ("vocab.parquet", "cooc"):
        if name in names:
            assert _read(run_url, name, options).equals(_read(ref, name, {})), name
    if "embeddings.parquet" in names:
        np.testing.assert_allclose(_vectors(_read(run_url, "embeddings.parquet", options)),
                                   _vectors(_read(ref, "embeddings.parquet", {})), atol=1e-5)
    if "atoms.parquet" in names:
        np.testing.assert_allclose(_vectors(_read(run_url, "atoms.parquet", options)),
                                   _vectors(_read(ref, "atoms.parquet", {})), atol=1e-4)
    if "senses.parquet" in names:
        a, b = _read(run_url, "senses.parquet", options), _read(ref, "senses.parquet", {})
        assert a.select(["word", "rank", "atom_id"]).equals(b.select(["word", "rank", "atom_id"]))
        np.testing.assert_allclose(a["coefficient"].to_numpy(), b["coefficient"].to_numpy(),
                                   atol=1e-4)


def _manifest(s3, run_url):
    return json.loads(s3.fs.cat_file(run_url.removeprefix("s3://") + "/manifest.json"))


def _assert_only_published(s3, run_url):
    """Nothing but published attempts under the run's prefix; no lock, no temporaries."""
    root = run_url.removeprefix("s3://")
    m = _manifest(s3, run_url)
    live = {"/".join(v.split("/")[:2]) for v in m["outputs"].values()}
    attempts = {p.removeprefix(root + "/") for p in s3.fs.ls(root + "/_attempts", refresh=True)}
    assert attempts == live
    top = {p.rsplit("/", 1)[-1] for p in s3.fs.ls(root, refresh=True)}
    assert top <= {"_attempts", "manifest.json", "report.html", "metrics.json"}, top
    assert all(m["stages"][s]["status"] in ("complete", "cached") for s in m["stages"])


def _wait_for_attempt(s3, run_url, stage, proc=None, timeout=120):
    """Wait until ``stage`` has started writing its attempt (an object under it)."""
    root = run_url.removeprefix("s3://") + "/_attempts"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended first: {proc.stderr.read()}")
        try:
            found = [p for p in s3.fs.find(root) if f"/_attempts/{stage}-" in p]
        except FileNotFoundError:
            found = []
        if found:
            return
        time.sleep(0.05)
    raise AssertionError(f"{stage} did not start within {timeout}s")


def test_run_on_s3_and_a_tcp_cluster_equals_the_local_run(tmp_path, wsi, s3, cluster):
    bucket = s3.bucket("runs-equal")
    local, remote = _corpus(tmp_path, s3.fs, bucket)
    code, _, err = wsi(*_args(tmp_path / "ref", local, "sync"))
    assert code == 0, err
    url = f"s3://{bucket}/out"
    opts = json.dumps(s3.options)
    code, _, err = wsi(*_args(url, remote, cluster.address,
                              extra=["--set", f"run.storage_options={opts}"]))
    assert code == 0, err
    m = _manifest(s3, url + "/t")
    assert m["stages"]["corpus"]["counters"]["tokens"] == 4000 * 30
    assert m["config"]["run"]["storage_options"]["s3"]["secret"] == "***"  # never stored
    _assert_same(url + "/t", tmp_path / "ref" / "t", s3.options,
                 ("vocab.parquet", "cooc", "embeddings.parquet", "atoms.parquet",
                  "senses.parquet"))
    _assert_only_published(s3, url + "/t")
    # A rerun finds everything published and up to date.
    code, _, err = wsi(*_args(url, remote, cluster.address,
                              extra=["--set", f"run.storage_options={opts}"]))
    assert code == 0, err
    assert {s["status"] for s in _manifest(s3, url + "/t")["stages"].values()} == {"cached"}


def _subprocess_run(args, s3, **kw):
    env = dict(os.environ, **s3.env)
    return subprocess.Popen([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_client_killed_mid_stage_on_s3_resumes_to_equal_outputs(tmp_path, wsi, s3, cluster):
    """SIGKILL of the ``wsi run`` process while cooc writes its attempt: nothing of the
    stage is published, and a rerun (fsspec's environment variables for the endpoint)
    takes the dead run's lock over and resumes to the local run's outputs."""
    bucket = s3.bucket("runs-client-killed")
    local, remote = _corpus(tmp_path, s3.fs, bucket, n_docs=4000)
    code, _, err = wsi(*_args(tmp_path / "ref", local, "sync", stages="cooc"))
    assert code == 0, err
    url = f"s3://{bucket}/out"
    args = _args(url, remote, cluster.address, stages="cooc")
    p = _subprocess_run(args, s3)
    _wait_for_attempt(s3, url + "/t", "cooc", p)
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    m = _manifest(s3, url + "/t")
    assert m["stages"]["cooc"]["status"] == "running"
    assert "cooc" not in m["outputs"] and "vocab.parquet" in m["outputs"]
    lock = json.loads(s3.fs.cat_file(f"{bucket}/out/t/.lock"))
    assert lock["pid"] == p.pid  # left behind by the killed run
    p = _subprocess_run(args, s3)
    _, err = p.communicate(timeout=240)
    assert p.returncode == 0, err
    _assert_same(url + "/t", tmp_path / "ref" / "t", s3.options)
    _assert_only_published(s3, url + "/t")
    assert not s3.fs.exists(f"{bucket}/out/t/.lock")


def test_worker_killed_mid_stage_on_s3_costs_only_recomputation(tmp_path, wsi, s3, cluster):
    """SIGKILL of a ``dask worker`` process while cooc runs (its nanny restarts it): the
    run succeeds with the local run's outputs."""
    import threading
    bucket = s3.bucket("runs-worker-killed")
    local, remote = _corpus(tmp_path, s3.fs, bucket, n_docs=4000)
    code, _, err = wsi(*_args(tmp_path / "ref", local, "sync", stages="cooc"))
    assert code == 0, err
    url = f"s3://{bucket}/out"
    killed = []

    def killer():
        try:
            _wait_for_attempt(s3, url + "/t", "cooc")
        except AssertionError:
            return
        time.sleep(0.1)
        pids = cluster.worker_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(time.time())

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    opts = json.dumps(s3.options)
    code, _, err = wsi(*_args(url, remote, cluster.address, stages="cooc",
                              extra=["--set", f"run.storage_options={opts}"]))
    t.join()
    assert code == 0, err
    assert killed, "no worker was killed"
    from datetime import datetime
    ended = _manifest(s3, url + "/t")["stages"]["cooc"]["ended"]
    assert datetime.strptime(ended, "%Y-%m-%dT%H:%M:%S%z").timestamp() >= int(killed[0])
    _assert_same(url + "/t", tmp_path / "ref" / "t", s3.options)
    _assert_only_published(s3, url + "/t")
    cluster.wait_for_workers(2)  # the nanny restarted it, for the next tests


def test_lock_on_s3_is_exclusive_and_an_expired_lease_is_taken_over(s3):
    from pipeline.errors import LockError
    from pipeline.run import storage_options
    from pipeline.storage import RunDir
    bucket = s3.bucket("runs-lock")
    with storage_options(s3.options):
        a, b = RunDir(f"s3://{bucket}/r"), RunDir(f"s3://{bucket}/r")
        # The conditional PUT itself: a second create of one key fails.
        a._create_exclusive(f"{bucket}/probe", b"1")
        with pytest.raises(FileExistsError):
            b._create_exclusive(f"{bucket}/probe", b"2")
        assert s3.fs.cat_file(f"{bucket}/probe") == b"1"
        with a:
            with pytest.raises(LockError, match="in use by pid"):
                b.acquire()
            a.check_lock()
        assert not s3.fs.exists(f"{bucket}/r/.lock")
        # A lock of a run on another host: held while its lease runs, then taken over.
        other = {"pid": 1, "host": "elsewhere", "token": "x", "started": "then",
                 "renewed": time.time(), "lease_seconds": 600}
        s3.fs.pipe_file(f"{bucket}/r/.lock", json.dumps(other).encode())
        with pytest.raises(LockError, match="elsewhere"):
            b.acquire()
        s3.fs.pipe_file(f"{bucket}/r/.lock",
                        json.dumps(dict(other, renewed=time.time() - 601)).encode())
        b.acquire()
        try:
            assert json.loads(s3.fs.cat_file(f"{bucket}/r/.lock"))["host"] == socket.gethostname()
            # Taken over behind b's back: b refuses to publish (write its manifest).
            s3.fs.pipe_file(f"{bucket}/r/.lock", json.dumps(other).encode())
            with pytest.raises(LockError, match="taken over"):
                b.write_json("manifest.json", {})
        finally:
            b._lock_owned = False
            b.release()


def test_wsi_run_refuses_an_s3_run_directory_in_use(tmp_path, wsi, s3):
    bucket = s3.bucket("runs-busy")
    local, remote = _corpus(tmp_path, s3.fs, bucket, n_docs=100)
    other = {"pid": 1, "host": "elsewhere", "token": "x", "started": "then",
             "renewed": time.time(), "lease_seconds": 600}
    s3.fs.pipe_file(f"{bucket}/out/t/.lock", json.dumps(other).encode())
    opts = json.dumps(s3.options)
    code, _, err = wsi(*_args(f"s3://{bucket}/out", remote, "threads", stages="vocab",
                              extra=["--set", f"run.storage_options={opts}"]))
    assert code == 4, err
    assert "elsewhere" in err and "Traceback" not in err
