"""atoms stage: a dictionary of "atoms of discourse" by k-SVD → ``atoms.parquet``.

The word vectors of the vocabulary words with count ≥ ``atoms.min_count``
(the ``atoms.max_words`` most frequent of them, if set; unit-normalised with
``atoms.normalize``) are coded as sparse combinations of at most
``atoms.sparsity`` of ``atoms.n_atoms`` unit atoms, learned by approximate
K-SVD (:mod:`tasks.ksvd`). The sparse-coding step of every iteration (batch
OMP) runs as one Dask task per block of ``atoms.block_rows`` words; the
dictionary update runs in this process.

``atoms.parquet``: ``atom_id: int32, vector: fixed_size_list<float32>,
usage: int64`` (words of the training set whose code uses the atom),
``top_words: list<string>, top_similarities: list<float32>`` (the
``atoms.top_words`` coded words with count ≥ ``atoms.top_words_min_count``
whose vectors are closest in cosine: the atom's discourse).
"""
from __future__ import annotations

import dask
import numpy as np
import pyarrow as pa

from tasks.ksvd import KSVD, omp_gram

from ..errors import InputError
from ..stage import Stage
from ..storage import write_parquet
from .embed import read_embeddings

__all__ = ["DaskCoder", "coded_words", "read_atoms"]


def _code_block(x, dictionary, gram, sparsity):
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


def coded_words(emb, vectors, a):
    """The words the dictionary is learned on: (row numbers in ``emb``, X float64).

    Words with count ≥ ``a.min_count``, most frequent first, at most
    ``a.max_words``; zero vectors dropped; rows unit-normalised with
    ``a.normalize``.
    """
    counts = emb["count"].to_numpy()
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= a.min_count]
    x = vectors[order].astype(np.float64)
    norms = np.linalg.norm(x, axis=1)
    keep = norms > 0
    order, x, norms = order[keep], x[keep], norms[keep]
    if a.max_words is not None:
        order, x, norms = order[:a.max_words], x[:a.max_words], norms[:a.max_words]
    if a.normalize:
        x /= norms[:, None]
    return order, x


def _top_block(xn, atoms, n_top):
    """Indices and similarities of the ``n_top`` rows of ``xn`` closest to each atom."""
    s = xn @ atoms.T  # (n_words, n_atoms_in_block), float32
    top = np.argpartition(-s, n_top - 1, axis=0)[:n_top] if n_top < len(xn) else \
        np.broadcast_to(np.arange(len(xn))[:, None], s.shape)
    ts = np.take_along_axis(s, top, axis=0)
    order = np.argsort(-ts, axis=0, kind="stable")
    return np.take_along_axis(top, order, axis=0).T, np.take_along_axis(ts, order, axis=0).T


def _top_words(runner, x, dictionary, n_top):
    """For each atom, the ``n_top`` rows of ``x`` closest in cosine (indices, similarities).

    One Dask task per block of atoms, in float32 (a ranking, not a sum).
    """
    xn = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    n_top = min(n_top, len(xn))
    x_ = runner.share(xn, "atoms-top-x")
    cuts = _cuts(len(dictionary), min(len(dictionary), 4 * max(1, runner.n_workers)))
    tasks = [dask.delayed(_top_block, pure=True)(
        x_, dictionary[lo:hi].astype(np.float32), n_top, dask_key_name=f"atoms-top-{i}")
        for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:]))]
    out = runner.compute(tasks, "atoms top words")
    return np.vstack([o[0] for o in out]), np.vstack([o[1] for o in out])


def read_atoms(url):
    """(atoms table without vectors, dictionary float64 (n_atoms, d)) of an ``atoms.parquet``."""
    table, vectors = read_embeddings(url, what="atoms")
    return table, vectors.astype(np.float64)


def build(ctx):
    a = ctx.cfg.atoms
    emb, vectors = read_embeddings(ctx.url(ctx.input_path("embeddings.parquet")))
    rows, x = coded_words(emb, vectors, a)
    if len(x) < 2:
        raise InputError(f"only {len(x)} word(s) with a non-zero vector and count >= "
                         f"atoms.min_count={a.min_count}: too few to learn atoms")
    if a.n_atoms > len(x):
        raise InputError(f"atoms.n_atoms={a.n_atoms} exceeds the {len(x)} words coded "
                         f"(atoms.min_count={a.min_count}, atoms.max_words={a.max_words}): "
                         "lower atoms.n_atoms")
    if a.sparsity > min(x.shape[1], a.n_atoms):
        raise InputError(f"atoms.sparsity={a.sparsity} exceeds the vector dimension "
                         f"{x.shape[1]} or atoms.n_atoms={a.n_atoms}")

    def progress(restart, iteration, error, replaced):
        ctx.log(f"atoms: restart {restart + 1}/{a.restarts} iteration {iteration + 1}: "
                f"relative error {error:.4f}" + (f", {replaced} unused atom(s) replaced"
                                                 if replaced else ""))

    model = KSVD(n_atoms=a.n_atoms, sparsity=a.sparsity, max_iter=a.iterations, tol=a.tol,
                 n_restarts=a.restarts, random_state=a.seed,
                 coder=DaskCoder(ctx.runner, a.block_rows), callback=progress)
    try:
        model.fit(x)
    except ValueError as e:
        raise InputError(f"atoms: {e}") from None
    dictionary = model.components_
    idx = model.idx_
    usage = np.bincount(idx[idx >= 0], minlength=a.n_atoms)
    # Nearest words among the coded words frequent enough to have reliable vectors
    # (rare words' vectors crowd together and would top many atoms).
    frequent = np.flatnonzero(emb["count"].to_numpy()[rows] >= a.top_words_min_count)
    if len(frequent) == 0:
        frequent = np.arange(len(rows))
    top, sim = _top_words(ctx.runner, x[frequent], dictionary, a.top_words)
    top = frequent[top]
    words = np.asarray(emb["word"].to_pylist(), dtype=object)[rows]
    d = dictionary.shape[1]
    flat = pa.array(dictionary.astype(np.float32).reshape(-1), type=pa.float32())
    n_top = top.shape[1]
    offsets = pa.array(np.arange(0, (a.n_atoms + 1) * n_top, n_top, dtype=np.int32))
    table = pa.table({
        "atom_id": pa.array(np.arange(a.n_atoms), type=pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(flat, d),
        "usage": pa.array(usage, type=pa.int64()),
        "top_words": pa.ListArray.from_arrays(offsets, pa.array(words[top.reshape(-1)].tolist(),
                                                                type=pa.string())),
        "top_similarities": pa.ListArray.from_arrays(
            offsets, pa.array(sim.reshape(-1).astype(np.float32), type=pa.float32())),
    })
    write_parquet(ctx.url(ctx.out), table)
    return {"words": int(len(x)), "dimension": int(d), "atoms": int(a.n_atoms),
            "sparsity": int(a.sparsity), "iterations": int(model.n_iter_),
            "relative_error": float(model.error_[-1]),
            "error_history": [float(e) for e in model.error_],
            "restart_errors": [float(e) for e in model.restart_errors_],
            "unused_atoms": int((usage == 0).sum())}


STAGE = Stage(
    name="atoms",
    summary="k-SVD dictionary of atoms of discourse over the word vectors → atoms.parquet",
    needs=("embed",),
    params=("atoms",),
    output="atoms.parquet",
    build=build,
    code=("tasks.ksvd",),
)
