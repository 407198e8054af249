"""cooc stage: windowed co-occurrence counts → Parquet dataset ``cooc/``.

Each corpus shard is encoded with the vocabulary and counted into sparse
matrices by :func:`tasks.cooc.cooc_partial`; the partial is cut into row
blocks (:func:`tasks.cooc.row_blocks`) and each block is saved to the stage's
work directory. Every row block is then summed over shards by a tree of
fan-in ``run.split_every`` whose intermediate sums are also files, and the
task at the root writes ``cooc/part-RRRRR.parquet``.

Keeping partial and intermediate sums on storage rather than in scheduler
memory is what bounds memory: a task holds one shard's partial, or the
running sum of one row block plus one input, whatever the corpus size. (With
in-memory results, a repeated corpus made every intermediate sum as large as
the final block and they piled up: peak memory doubled from 1× to 4×.) On a
cluster the work directory is on shared storage, so a lost worker's tasks
are simply rerun from files.

Columns: ``row: int32, col: int32, count: int64, weighted: float32``, one row
per non-zero (both (a, b) and (b, a)); ``weighted`` adds 1/|i - j| per pair.
Rows are sorted by (row, col); part files follow row order.
"""
from __future__ import annotations

import dask
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from tasks.cooc import cooc_partial, row_blocks, split_rows, sum_partials
from tasks.counting import encode_lines

from ..errors import InputError
from ..stage import Stage
from ._shards import list_shards, read_lines
from .vocab import read_vocab

COOC_SCHEMA = pa.schema([("row", pa.int32()), ("col", pa.int32()), ("count", pa.int64()),
                         ("weighted", pa.float32())])


def save_pair(pair, url):
    """Save a (counts, weighted) pair of csr arrays with identical patterns to ``url``."""
    counts, weighted = pair
    with fsspec.open(url, "wb") as f:
        np.savez(f, shape=np.asarray(counts.shape), indptr=counts.indptr,
                 indices=counts.indices, counts=counts.data, weighted=weighted.data)
    return url


def load_pair(url):
    """Inverse of :func:`save_pair`; counts come back as int64, weights as float64."""
    try:
        with fsspec.open(url, "rb") as f, np.load(f) as z:
            shape = tuple(z["shape"])
            indptr, indices = z["indptr"], z["indices"]
            counts = z["counts"].astype(np.int64, copy=False)
            weighted = z["weighted"].astype(np.float64, copy=False)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{url}: unreadable intermediate co-occurrence file ({e})") from None
    c = sp.csr_array((counts, indices, indptr), shape=shape)
    w = sp.csr_array((weighted, indices, indptr), shape=shape)
    c.has_canonical_format = w.has_canonical_format = True
    return c, w


def sum_files(urls):
    """Sum saved pairs one at a time: memory is the running sum plus one input."""
    total = load_pair(urls[0])
    for u in urls[1:]:
        total = sum_partials(total, load_pair(u))
    return total


def count_shard(url, vocab_words, bounds, window, work):
    """Count one shard and save one file per row block; returns their URLs."""
    ids, offsets = encode_lines(read_lines(url), vocab_words)
    counts, weighted = cooc_partial(ids, offsets, n_words=len(vocab_words), window=window)
    name = url.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return [save_pair(block, f"{work}/{name}-b{b:05d}.npz")
            for b, block in enumerate(split_rows(counts, weighted, bounds))]


def sum_to_file(urls, out):
    return save_pair(sum_files(urls), out)


def write_block(urls, url, row_start):
    """Sum one row block's inputs and write it as Parquet.

    Returns (nnz, sum of counts, sum of weights).
    """
    counts, weighted = sum_files(urls)
    lengths = np.diff(counts.indptr)
    rows = np.repeat(np.arange(counts.shape[0], dtype=np.int32), lengths) + np.int32(row_start)
    table = pa.table({"row": rows, "col": counts.indices.astype(np.int32, copy=False),
                      "count": counts.data.astype(np.int64, copy=False),
                      "weighted": weighted.data.astype(np.float32)}, schema=COOC_SCHEMA)
    with fsspec.open(url, "wb") as f:
        pq.write_table(table, f, row_group_size=1 << 20)
    return int(counts.nnz), int(counts.data.sum()), float(weighted.data.sum())


def _reduce_block(items, b, split_every, work, out_url, row_start):
    """Tree of file sums over one row block's inputs; the root writes Parquet."""
    level = 0
    while len(items) > split_every:
        items = [dask.delayed(sum_to_file, pure=True)(
            items[i:i + split_every], f"{work}/sum-b{b:05d}-l{level}-{i // split_every:05d}.npz",
            dask_key_name=f"cooc-sum-{b}-{level}-{i // split_every}")
            for i in range(0, len(items), split_every)]
        level += 1
    return dask.delayed(write_block, pure=True)(items, out_url, row_start,
                                                dask_key_name=f"cooc-write-{b}")


def build(ctx):
    window = ctx.cfg.cooc.window
    vocab, _total = read_vocab(ctx.url(ctx.input_path("vocab.parquet")))
    words = vocab["word"].combine_chunks()
    bounds = row_blocks(vocab["count"].to_numpy(), window=window,
                        block_nnz=ctx.cfg.cooc.block_nnz)
    shards = list_shards(ctx)
    work = ctx.out + ".work"
    ctx.run.fs.makedirs(work, exist_ok=True)
    ctx.run.fs.makedirs(ctx.out, exist_ok=True)
    work_url = ctx.url(work)
    words_d = dask.delayed(words, name="cooc-vocab")
    n_blocks = len(bounds) - 1
    parts = [dask.delayed(count_shard, pure=True, nout=n_blocks)(
        u, words_d, bounds, window, work_url, dask_key_name=f"cooc-count-{i}")
        for i, u in enumerate(shards)]
    writes = [_reduce_block([p[b] for p in parts], b, ctx.cfg.run.split_every, work_url,
                            ctx.url(f"{ctx.out}/part-{b:05d}.parquet"), int(bounds[b]))
              for b in range(n_blocks)]
    results = ctx.runner.compute(writes, "cooc")
    ctx.run.discard(work)
    return {"nnz": sum(r[0] for r in results), "pairs": sum(r[1] for r in results),
            "weighted_sum": sum(r[2] for r in results), "row_blocks": n_blocks,
            "shards": len(shards), "vocabulary": len(words)}


STAGE = Stage(
    name="cooc",
    summary="windowed co-occurrence counts (per shard sparse + tree reduction) → cooc/",
    needs=("corpus", "vocab"),
    params=("cooc.window", "cooc.block_nnz"),
    output="cooc",
    build=build,
    code=("tasks.cooc", "tasks.counting", "pipeline.stages._shards"),
)
