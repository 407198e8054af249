"""Executing Dask graphs on the scheduler the user chose, with a progress bar.

Scheduler specs:

- ``auto`` (default): per stage, a pool of worker processes for stages that
  hold the GIL (tokenising pure Python text) and a thread pool for stages whose
  kernels release it (numba, Arrow), where threads share memory for free.
  Starting worker processes costs about 0.5 s, so a GIL-bound stage uses them
  only when it reads at least ``run.process_min_bytes``: tokenising the 22 MB
  shared corpus in Python took 1.0 s on threads and 1.1 s on 2 processes, the
  same repeated 4x 4.8 s on threads and 2.3 s on processes. (The corpus stage
  now tokenises ASCII lines in numba, without the GIL: the shared corpus takes
  0.10 s on 2 processes, 0.18 s on 2 threads; other text still goes through Python.)
- ``processes``: a pool of worker processes kept for the whole run.
- ``threads``: one process, a thread pool.
- ``sync``: everything in the calling thread, for debugging.
- ``local:N``: a distributed ``LocalCluster`` of N single-threaded worker
  processes; its dashboard address is printed.
- ``tcp://host:port``: an existing distributed scheduler.
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

import dask

from .errors import UsageError

__all__ = ["Runner", "tree_reduce", "gc_paused", "in_task"]

_GC_LOCK = threading.Lock()
_GC = {"depth": 0, "was_enabled": False}


@contextlib.contextmanager
def gc_paused():
    """Python's cyclic garbage collector off inside the block (threads: until the last
    one leaves). A task that makes millions of short-lived objects (one per input
    line) otherwise triggers full collections that re-scan every live object: 14 s of
    a 10^6-line ``wsi assign``. Reference counting still frees acyclic objects."""
    with _GC_LOCK:
        if _GC["depth"] == 0:
            _GC["was_enabled"] = gc.isenabled()
            gc.disable()
        _GC["depth"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC["depth"] -= 1
            if _GC["depth"] == 0 and _GC["was_enabled"]:
                gc.enable()


@contextlib.contextmanager
def in_task(pause_gc=False):
    """Inside a task: one BLAS/OpenMP thread, since the tasks are the parallelism
    (nested threads oversubscribed the cores; even with one worker, k-means' OpenMP
    threads beside BLAS' made the inventory stage 4x slower), and with ``pause_gc``
    no cyclic garbage collection (:func:`gc_paused`)."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1), (gc_paused() if pause_gc else contextlib.nullcontext()):
        yield


def tree_reduce(items, func, split_every, name="reduce"):
    """Reduce delayed ``items`` with ``func(*group)`` in a tree of fan-in ``split_every``.

    Returns one delayed value (``items[0]`` passed through ``func`` when alone,
    so the result always comes from ``func``).
    """
    if not items:
        raise ValueError("nothing to reduce")
    level = 0
    items = list(items)
    while True:
        groups = [items[i:i + split_every] for i in range(0, len(items), split_every)]
        items = [dask.delayed(func, pure=True)(*g, dask_key_name=f"{name}-{level}-{i}-"
                                               f"{dask.base.tokenize(*g)}")
                 for i, g in enumerate(groups)]
        level += 1
        if len(items) == 1:
            return items[0]


def _noop(_):
    return None


class Runner:
    """Owns the scheduler (pool or distributed client) for one run.

    Parameters
    ----------
    spec : str
        Scheduler spec, see the module docstring.
    workers : int or None
        Pool size for ``threads``/``processes``; None means all cores.
    quiet : bool
        No progress bars.
    split_every : int
        Fan-in of the tree reductions stages build (:func:`tree_reduce`).
    preload : sequence of callables
        Run in this process before it forks its worker processes, which then
        inherit what they loaded (numba's set-up, ~0.17 s, and compiled
        kernels) instead of each loading it again.

    ``workers`` and ``split_every`` are execution settings (``run.*``): they
    change how stages run, never what they write.
    """

    def __init__(self, spec, *, workers=None, quiet=False, log=None, process_min_bytes=0,
                 split_every=8, preload=()):
        self.spec = spec
        self.preload = tuple(preload)
        self.split_every = int(split_every)
        self.process_min_bytes = process_min_bytes
        self.workers = workers or os.cpu_count() or 1
        self.quiet = quiet or not sys.stderr.isatty()
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.client = None
        self.cluster = None
        self._pool = None

    @property
    def distributed(self):
        return self.client is not None

    @property
    def n_workers(self):
        if self.client is not None:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        return 1 if self.spec == "sync" else self.workers

    def __enter__(self):
        if self.spec in ("auto", "processes") and self.workers > 1 and \
                "fork" in multiprocessing.get_all_start_methods() and \
                threading.active_count() == 1:
            # Fork the worker processes now, while this process has no other
            # thread (forking after threads exist is unsafe): ~10 ms instead of
            # the ~0.5 s a spawned worker needs to start and import. In a
            # process that already runs threads (a notebook, a test session)
            # the pool is spawned when first needed.
            for load in self.preload:
                load()
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("fork"))
            list(self._pool.map(_noop, range(self.workers)))
        if self.spec.startswith("local:"):
            from distributed import Client, LocalCluster
            n = int(self.spec.split(":", 1)[1])
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        dashboard_address=":0")
            self.client = Client(self.cluster)
            self.log(f"dask dashboard: {self.client.dashboard_link}")
        elif self.spec.startswith("tcp://"):
            from distributed import Client
            try:
                self.client = Client(self.spec, timeout="10s")
            except OSError as e:
                raise UsageError(f"run.scheduler {self.spec}: cannot connect ({e})") from None
            self.log(f"dask dashboard: {self.client.dashboard_link}")
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def _process_pool(self):
        """The worker pool: the one forked at start, else (re)created with spawn."""
        if self._pool is None:
            ctx = multiprocessing.get_context(dask.config.get("multiprocessing.context",
                                                              "spawn"))
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self._pool

    def share(self, value, name):
        """``value`` as an argument for many tasks: scattered once to every worker
        on a distributed cluster (instead of travelling inside the graph), else a
        named ``dask.delayed`` (no hashing of a large array)."""
        if self.client is not None:  # in a list: a dict or tuple is one future, not many
            return self.client.scatter([value], broadcast=True, hash=False)[0]
        return dask.delayed(value, name=name)

    def compute(self, tasks, desc, *, gil_bound=False, input_bytes=0):
        """Compute a list of delayed objects; returns their results in order.

        ``gil_bound`` says the tasks hold the GIL (pure Python work): under the
        ``auto`` spec they then run in worker processes when ``input_bytes``
        reaches ``process_min_bytes``, otherwise in threads.
        """
        if not tasks:
            return []
        if self.client is not None:
            return self._compute_distributed(tasks, desc)
        from tqdm.dask import TqdmCallback
        import dask.local
        import dask.multiprocessing
        import dask.threaded
        spec = self.spec
        if spec == "auto":
            if not gil_bound or self.workers == 1:
                spec = "threads"
            elif input_bytes >= self.process_min_bytes:
                spec = "processes"
            else:  # threads would only contend for the GIL
                spec = "sync"
        # Scheduler functions rather than names: a name makes dask import
        # distributed to look for a default client (0.2 s per process).
        if spec == "processes":
            # chunksize 1: our tasks are large, and dask's default batches of 6
            # gave one process six tasks while the other sat idle.
            kw = {"scheduler": dask.multiprocessing.get, "pool": self._process_pool(),
                  "chunksize": 1}
        elif spec == "threads":
            kw = {"scheduler": dask.threaded.get, "num_workers": self.workers}
        else:
            kw = {"scheduler": dask.local.get_sync}
        try:
            with TqdmCallback(desc=desc, disable=self.quiet, leave=False, unit="task"):
                return list(dask.compute(*tasks, **kw))
        finally:
            if self.spec == "auto" and self._pool is not None:
                # Later thread-based stages should not carry idle worker processes.
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def _compute_distributed(self, tasks, desc):
        from distributed import as_completed
        from tqdm import tqdm
        futures = self.client.compute(list(tasks))
        with tqdm(total=len(futures), desc=desc, disable=self.quiet, leave=False,
                  unit="part") as bar:
            for fut in as_completed(futures):
                if fut.status == "error":
                    break
                bar.update()
        return self.client.gather(futures)
