"""Dask graphs shared by the atoms and senses stages: sparse coding over blocks of
words (:class:`DaskCoder`) and the atoms' nearest words (:func:`top_words`)."""
from __future__ import annotations

import dask
import numpy as np

from tasks.atoms import top_rows

__all__ = ["DaskCoder", "top_words"]


def _code_block(x, dictionary, gram, sparsity):
    # tasks.ksvd (its estimator is scikit-learn's kind) loads scikit-learn, 0.7 s:
    # imported where words are coded, so that runs of other stages never pay for it.
    from tasks.ksvd import omp_gram
    return omp_gram(x @ dictionary.T, gram, sparsity)


def _gram_rows(dictionary, lo, hi):
    return dictionary[lo:hi] @ dictionary.T


def _stack(*parts):
    return np.vstack(parts)


def _cuts(n, n_parts):
    """``n_parts + 1`` boundaries splitting ``n`` rows into near-equal blocks."""
    return np.linspace(0, n, n_parts + 1).round().astype(int)


class DaskCoder:
    """The sparse-coding step of :class:`tasks.ksvd.KSVD` as Dask tasks.

    Rows of X are cut into equal blocks — at least ``ceil(n / block_rows)``,
    rounded up to a multiple of the workers so that none idles at the end —
    shared once (scattered to the workers of a distributed cluster), and every
    call codes all blocks against the current dictionary in parallel. The
    Gram matrix D Dᵀ is formed by row-block tasks too (``computes_gram``).
    """

    computes_gram = True

    def __init__(self, runner, block_rows, name="atoms"):
        self.runner, self.block_rows, self.name = runner, int(block_rows), name
        self._x = None
        self._calls = 0

    def _blocks(self, x):
        if self._x is not x:
            workers = max(1, self.runner.n_workers)
            n_blocks = -(-max(1, -(-len(x) // self.block_rows)) // workers) * workers
            cuts = _cuts(len(x), min(n_blocks, max(1, len(x))))
            self._parts = [self.runner.share(x[lo:hi], f"{self.name}-x-{i}")
                           for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:]))]
            self._x = x
        return self._parts

    def __call__(self, x, dictionary, gram, sparsity):
        # On a cluster, a worker lost with the only copy of scattered data cancels the
        # step's tasks: share the data again and redo the step (a few times at most).
        for attempt in range(3):
            try:
                return self._code(x, dictionary, gram, sparsity)
            except Exception as e:  # noqa: BLE001 - only lost-data failures are retried
                if not (self.runner.distributed and type(e).__name__ in _LOST) or attempt == 2:
                    raise
                self.runner.log(f"warning: {self.name}: data lost with a failed worker "
                                f"({type(e).__name__}); coding step repeated")
                self._x = None

    def _code(self, x, dictionary, gram, sparsity):
        parts = self._blocks(x)
        self._calls += 1
        c = self._calls
        d_ = self.runner.share(dictionary, f"{self.name}-dictionary-{c}")
        if gram is None:
            cuts = _cuts(len(dictionary), max(1, self.runner.n_workers))
            rows = [dask.delayed(_gram_rows, pure=True)(d_, lo, hi,
                                                       dask_key_name=f"{self.name}-gram-{c}-{i}")
                    for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:]))]
            g_ = dask.delayed(_stack, pure=True)(*rows, dask_key_name=f"{self.name}-gram-{c}")
        else:
            g_ = self.runner.share(gram, f"{self.name}-gram-{c}")
        tasks = [dask.delayed(_code_block, pure=True)(
            p, d_, g_, sparsity, dask_key_name=f"{self.name}-code-{c}-{i}")
            for i, p in enumerate(parts)]
        out = self.runner.compute(tasks, f"{self.name} code")
        return (np.concatenate([o[0] for o in out]) if out else np.zeros((0, sparsity), np.int32),
                np.concatenate([o[1] for o in out]) if out else np.zeros((0, sparsity)))


# distributed's errors when a task's input died with a worker
_LOST = {"FutureCancelledError", "CancelledError", "KilledWorker"}


def top_words(runner, x, dictionary, n_top):
    """For each atom, the ``n_top`` rows of ``x`` closest in cosine (indices, similarities).

    One Dask task per block of atoms, in float32 (a ranking, not a sum).
    """
    xn = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    n_top = min(n_top, len(xn))
    x_ = runner.share(xn, "atoms-top-x")
    cuts = _cuts(len(dictionary), min(len(dictionary), 4 * max(1, runner.n_workers)))
    tasks = [dask.delayed(top_rows, pure=True)(
        x_, dictionary[lo:hi].astype(np.float32), n_top, dask_key_name=f"atoms-top-{i}")
        for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:]))]
    out = runner.compute(tasks, "atoms top words")
    return np.vstack([o[0] for o in out]), np.vstack([o[1] for o in out])
