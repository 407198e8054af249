"""context stage: SIF-weighted average context vectors → ``context_vectors.parquet``.

u_w = Σ_w' C[w,w'] s(w') v_w' / Σ_w' C[w,w'] over context words w' that have a
vector (:mod:`tasks.context`): one sparse × dense product per cooc row block,
assembled with ``dask.array``, so its cost follows the distinct pairs, not the
tokens. ``context_vectors.parquet`` holds the raw u_w (``word, id, count,
vector``) of every vocabulary word with at least one context;
``context_common.npy`` holds the first ``context.remove_components``
principal directions of u, which the induce stage removes (as SIF does).
"""
from __future__ import annotations

import threading

import dask
import numpy as np

from tasks.context import context_block, gram_components, load_kernel, sif_weighted_vectors

from ..artifacts.cooc import part_urls, read_parts
from ..artifacts.tables import read_vectors, read_vocab, vectors_table
from ..errors import InputError
from ..stage import Stage
from ..storage import save_npy, write_parquet


def _block(url, lo, hi, weighted_vectors, has_vector):
    """(global ids of rows with a context, their u (float32), their Gram matrix)."""
    t = read_parts([url], ["row", "col", "count"])
    u, weights = context_block(t["row"].to_numpy(), t["col"].to_numpy(), t["count"].to_numpy(),
                               weighted_vectors, has_vector, row_start=lo, n_rows=hi - lo)
    keep = np.flatnonzero(weights > 0)
    if len(keep) < len(u):
        u = u[keep]
    u64 = u.astype(np.float64)
    return keep + lo, u, u64.T @ u64


def build(ctx):
    # The kernel loads from numba's cache while the inputs are read (they mostly
    # release the GIL): ~0.2 s that the first row block would otherwise wait for.
    warm = threading.Thread(target=load_kernel, daemon=True)
    warm.start()
    vocab, total_tokens = read_vocab(ctx.input_url("vocab"))
    counts = vocab["count"].to_numpy()
    n_words = len(counts)
    emb, vectors = read_vectors(ctx.input_url("embeddings"))
    d = vectors.shape[1]
    # float32 as the vectors are stored (the kernel sums runs of float32 in float64).
    weighted, has_vector = sif_weighted_vectors(vectors, emb["id"].to_numpy(), counts,
                                                total_tokens, a=ctx.cfg.context.sif_a,
                                                dtype=np.float32)
    bounds = ctx.upstream.get("cooc", {}).get("counters", {}).get("row_bounds")
    if not bounds:
        raise InputError("cooc stage record has no row_bounds: rerun it with --force --stages "
                         "cooc")
    w_d = ctx.runner.share(weighted, "context-vectors")
    h_d = ctx.runner.share(has_vector, "context-has-vector")
    parts = [dask.delayed(_block, pure=True)(url, lo, hi, w_d, h_d,
                                             dask_key_name=f"context-block-{i}")
             for i, (url, lo, hi) in enumerate(zip(part_urls(ctx.run.fs, ctx.input_path("cooc")),
                                                   bounds[:-1], bounds[1:]))]
    warm.join()
    blocks = ctx.runner.compute(parts, "context")
    rows = np.concatenate([b[0] for b in blocks])
    if len(rows) == 0:
        raise InputError("no vocabulary word has a context word with a vector")
    u = np.concatenate([b[1] for b in blocks])
    n_common = ctx.cfg.context.remove_components
    if n_common > min(u.shape):
        raise InputError(f"context.remove_components={n_common} exceeds the rank of the "
                         f"{u.shape} context matrix")
    common = gram_components(sum(b[2] for b in blocks), n_common)
    words = vocab["word"].to_pylist()
    table = vectors_table([words[i] for i in rows], rows, counts[rows], u)
    write_parquet(ctx.output_url("context_vectors"), table)
    save_npy(ctx.output_url("common_directions"), common)
    return {"words": int(len(rows)), "vocabulary": n_words,
            "without_context": int(n_words - len(rows)), "dimension": d,
            "common_components": int(n_common)}


STAGE = Stage(
    name="context",
    summary="SIF-weighted average context vectors (sparse C x weighted V) → context_vectors.parquet",
    reads=("vocab", "cooc", "embeddings"),
    writes=("context_vectors", "common_directions"),
    params=("context",),
    build=build,
    code=("tasks._checks", "tasks.context"),
)
