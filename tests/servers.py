"""Real services for the object-store and cluster tests: moto's S3 server and a Dask
scheduler with two worker processes, each a child process on 127.0.0.1 with free ports.

Import the fixtures into a test module: ``from servers import s3, cluster``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


def _stop(procs):
    """SIGTERM every process group, then SIGKILL whatever is left."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # also the group's stragglers (worker children)
        except ProcessLookupError:
            pass
        p.wait()


class S3:
    """moto's S3 server: ``endpoint``, ``env`` (fsspec's and boto's variables for a child
    process), ``options`` (``run.storage_options``) and ``fs`` (an s3fs client)."""

    def __init__(self, endpoint):
        import s3fs
        self.endpoint = endpoint
        self.env = {**CREDENTIALS, "FSSPEC_S3_ENDPOINT_URL": endpoint}
        self.options = {"s3": {"endpoint_url": endpoint, "key": "testing",
                               "secret": "testing"}}
        self.fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing",
                                    use_listings_cache=False, skip_instance_cache=True)

    def bucket(self, name):
        """A fresh, empty bucket."""
        if self.fs.exists(name):
            self.fs.rm(name, recursive=True)
        self.fs.mkdir(name)
        return name


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's S3 server (``python -m moto.server``) on 127.0.0.1 and a free port."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                 "-p", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, **CREDENTIALS})
    try:
        _wait_for_port(port, proc, "moto.server")
        yield S3(f"http://127.0.0.1:{port}")
    finally:
        _stop([proc])


class Cluster:
    """``address`` (tcp://...) of a scheduler with two single-threaded workers;
    ``worker_pids()`` the pids of the worker processes (the nannies' children)."""

    def __init__(self, address, workers):
        self.address, self.workers = address, workers

    def worker_pids(self):
        import psutil
        pids = []
        for w in self.workers:
            try:
                pids += [c.pid for c in psutil.Process(w.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return pids

    def wait_for_workers(self, n=2, timeout=60):
        from distributed import Client
        with Client(self.address, timeout="20s") as c:
            c.wait_for_workers(n, timeout=timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3):
    """``dask scheduler`` and two ``dask worker`` processes (separate working
    directories, ``--nthreads 1``) on 127.0.0.1; the workers have the S3 credentials
    in their environment but not the endpoint (runs pass ``run.storage_options``)."""
    base = tmp_path_factory.mktemp("dask")
    port = free_port()
    env = {**os.environ, **CREDENTIALS, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    logs = []
    procs = []
    try:
        logs.append(open(base / "scheduler.log", "wb"))
        procs.append(subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], cwd=base, stdout=logs[-1], stderr=subprocess.STDOUT,
            start_new_session=True, env=env))
        _wait_for_port(port, procs[0], "dask scheduler")
        address = f"tcp://127.0.0.1:{port}"
        for i in range(2):
            wdir = base / f"worker{i}"
            wdir.mkdir()
            logs.append(open(wdir / "worker.log", "wb"))
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(wdir),
                 "--memory-limit", "0"], cwd=wdir, stdout=logs[-1],
                stderr=subprocess.STDOUT, start_new_session=True, env=env))
        c = Cluster(address, procs[1:])
        c.wait_for_workers(2)
        yield c
    finally:
        _stop(procs[1:])
        _stop(procs[:1])
        for f in logs:
            f.close()
