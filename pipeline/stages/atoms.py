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

import numpy as np
import pyarrow as pa

from tasks.atoms import dictionary_words

from ..artifacts.tables import read_vectors
from ..coding import DaskCoder, top_words
from ..errors import InputError
from ..stage import Stage
from ..storage import write_parquet


def build(ctx):
    from tasks.ksvd import KSVD  # loads scikit-learn (0.7 s): only when this stage runs
    settings = ctx.cfg.atoms
    emb, vectors = read_vectors(ctx.input_url("embeddings"))
    rows, x = dictionary_words(emb["count"].to_numpy(), vectors, min_count=settings.min_count,
                               max_words=settings.max_words, normalize=settings.normalize)
    if len(x) < 2:
        raise InputError(f"only {len(x)} word(s) with a non-zero vector and count >= "
                         f"atoms.min_count={settings.min_count}: too few to learn atoms")

    def progress(restart, iteration, error, replaced):
        ctx.log(f"atoms: restart {restart + 1}/{settings.restarts} iteration {iteration + 1}: "
                f"relative error {error:.4f}" + (f", {replaced} unused atom(s) replaced"
                                                 if replaced else ""))

    model = KSVD(n_atoms=settings.n_atoms, sparsity=settings.sparsity,
                 max_iter=settings.iterations, tol=settings.tol,
                 n_restarts=settings.restarts, random_state=settings.seed,
                 coder=DaskCoder(ctx.runner, settings.block_rows), callback=progress)
    try:
        model.fit(x)
    except ValueError as e:  # KSVD's checks name its parameters: the settings' own names
        msg = str(e)
        raise InputError(f"atoms.{msg}" if msg.startswith(("n_atoms=", "sparsity="))
                         else f"atoms: {msg}") from None
    dictionary = model.components_
    idx = model.idx_
    usage = np.bincount(idx[idx >= 0], minlength=settings.n_atoms)
    # Nearest words among the coded words frequent enough to have reliable vectors
    # (rare words' vectors crowd together and would top many atoms).
    frequent = np.flatnonzero(emb["count"].to_numpy()[rows] >= settings.top_words_min_count)
    if len(frequent) == 0:
        frequent = np.arange(len(rows))
    top, sim = top_words(ctx.runner, x[frequent], dictionary, settings.top_words)
    top = frequent[top]
    words = np.asarray(emb["word"].to_pylist(), dtype=object)[rows]
    d = dictionary.shape[1]
    flat = pa.array(dictionary.astype(np.float32).reshape(-1), type=pa.float32())
    n_top = top.shape[1]
    offsets = pa.array(np.arange(0, (settings.n_atoms + 1) * n_top, n_top, dtype=np.int32))
    table = pa.table({
        "atom_id": pa.array(np.arange(settings.n_atoms), type=pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(flat, d),
        "usage": pa.array(usage, type=pa.int64()),
        "top_words": pa.ListArray.from_arrays(offsets, pa.array(words[top.reshape(-1)].tolist(),
                                                                type=pa.string())),
        "top_similarities": pa.ListArray.from_arrays(
            offsets, pa.array(sim.reshape(-1).astype(np.float32), type=pa.float32())),
    })
    write_parquet(ctx.output_url("atoms"), table)
    return {"words": int(len(x)), "dimension": int(d), "atoms": int(settings.n_atoms),
            "sparsity": int(settings.sparsity), "iterations": int(model.n_iter_),
            "relative_error": float(model.error_[-1]),
            "error_history": [float(e) for e in model.error_],
            "restart_errors": [float(e) for e in model.restart_errors_],
            "unused_atoms": int((usage == 0).sum())}


STAGE = Stage(
    name="atoms",
    summary="k-SVD dictionary of atoms of discourse over the word vectors → atoms.parquet",
    reads=("embeddings",),
    writes=("atoms",),
    params=("atoms",),
    build=build,
    code=("tasks._checks", "tasks.ksvd", "tasks.atoms", "pipeline.coding"),
)
