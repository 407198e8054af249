"""cooc stage: windowed co-occurrence counts → Parquet dataset ``cooc/``.

Each corpus shard is encoded with the vocabulary and counted into sparse
matrices by :func:`tasks.cooc.cooc_partial`; each partial is cut into row
blocks, and every row block is summed over shards by its own tree reduction
and written by the task that finishes it as ``cooc/part-RRRRR.parquet``.
No task ever holds more than one shard's partial matrix plus one row block
of the sum, and nothing is ever dense.

Columns: ``row: int32, col: int32, count: int64, weighted: float32``, one row
per non-zero (both (a, b) and (b, a)); ``weighted`` adds 1/|i - j| per pair.
Rows are sorted by (row, col).
"""
from __future__ import annotations

import dask
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.cooc import cooc_partial, row_blocks, split_rows, sum_partials
from tasks.counting import encode_lines

from ..runner import tree_reduce
from ..stage import Stage
from ._shards import list_shards, read_lines
from .vocab import read_vocab

COOC_SCHEMA = pa.schema([("row", pa.int32()), ("col", pa.int32()), ("count", pa.int64()),
                         ("weighted", pa.float32())])


def count_shard(url, vocab_words, bounds, window):
    ids, offsets = encode_lines(read_lines(url), vocab_words)
    counts, weighted = cooc_partial(ids, offsets, n_words=len(vocab_words), window=window)
    return split_rows(counts, weighted, bounds)


def write_block(pair, url, row_start):
    """Write one summed row block; returns (nnz, sum of counts, sum of weights)."""
    counts, weighted = pair
    lengths = np.diff(counts.indptr)
    rows = (np.repeat(np.arange(counts.shape[0], dtype=np.int64), lengths) + row_start)
    table = pa.table({"row": rows.astype(np.int32), "col": counts.indices.astype(np.int32),
                      "count": counts.data.astype(np.int64),
                      "weighted": weighted.data.astype(np.float32)}, schema=COOC_SCHEMA)
    with fsspec.open(url, "wb") as f:
        pq.write_table(table, f, row_group_size=1 << 20)
    return int(counts.nnz), int(counts.data.sum()), float(weighted.data.sum())


def build(ctx):
    window = ctx.cfg.cooc.window
    vocab, _total = read_vocab(ctx.url(ctx.input_path("vocab.parquet")))
    words = vocab["word"].combine_chunks()
    bounds = row_blocks(vocab["count"].to_numpy(), window=window,
                        block_nnz=ctx.cfg.cooc.block_nnz)
    shards = list_shards(ctx)
    words_d = dask.delayed(words, name="cooc-vocab")
    n_blocks = len(bounds) - 1
    parts = [dask.delayed(count_shard, pure=True, nout=n_blocks)(
        u, words_d, bounds, window, dask_key_name=f"cooc-count-{i}")
        for i, u in enumerate(shards)]
    ctx.run.fs.makedirs(ctx.out, exist_ok=True)
    writes = []
    for b in range(n_blocks):
        total = tree_reduce([p[b] for p in parts], sum_partials, ctx.cfg.run.split_every,
                            name=f"cooc-sum-{b}")
        url = ctx.url(f"{ctx.out}/part-{b:05d}.parquet")
        writes.append(dask.delayed(write_block, pure=True)(
            total, url, int(bounds[b]), dask_key_name=f"cooc-write-{b}"))
    results = ctx.runner.compute(writes, "cooc")
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
