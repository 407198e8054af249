"""cooc stage: windowed co-occurrence counts → Parquet dataset ``cooc/``.

Phase 1: each corpus shard is encoded with the vocabulary and counted by
:func:`tasks.cooc.cooc_partial`; its partial matrix is saved whole to the
stage's work directory as a raw CSR file whose row ranges can be read with a
few seeks. Phase 2: the rows are cut into blocks of equal merge work
(:func:`tasks.cooc.balanced_cuts` on the partials' measured sizes, at most
``cooc.block_nnz`` partial entries a block), and one task per block reads that
row range of every partial, sums them with :func:`tasks.cooc.merge_stacked` and
writes ``cooc/part-RRRRR.parquet``.

Keeping partials on storage rather than in scheduler memory is what bounds
memory: a task holds one shard's partial, or at most ``cooc.block_nnz``
entries of one row block plus their sum, whatever the corpus size. (With
in-memory results, a repeated corpus made every intermediate sum as large as
the final block and they piled up: peak memory doubled from 1× to 4×.) The
sum needs no reduction tree: the cut already bounds what a block task reads
however many shards there are, and a tree of fan-in ``run.split_every`` wrote
and re-read every entry once more for each level (four copies of the shared
corpus, 32 shards, 2 workers: merge phase 1.77 s with the tree of fan-in 8,
0.8 s in one level). On a cluster the work directory is on shared storage,
so a lost worker's tasks are simply rerun from files.

Incremental runs (``run.incremental``): ``cooc/_state.json`` records the
vocabulary and the corpus shards the parts sum over. When the corpus stage
only added shards, phase 1 counts just those, relabels the previous parts to
the new vocabulary's ids (words that left it drop out), and counts in the
already covered shards only the pairs of words new to the vocabulary
(``cooc_partial(focus=...)``). Phase 2 is unchanged, so the result equals a
full recount: counts exactly, and the float64 weights bit for bit while a
pair's weighted sum stays below 2**(30 - ceil(log2(window))), 6.7e7 for
window 10 (float64 sums of the float32 shard partials, each at least
1/window, are exact up to there, so their order does not matter).

With ``cooc.join_documents`` = n > 1, every n consecutive documents of a
shard count as one: windows cross sentence ends on sentence-per-line text.

Columns: ``row: int32, col: int32, count: int64, weighted: float64``, one row
per non-zero (both (a, b) and (b, a)); ``weighted`` adds 1/|i - j| per pair.
Rows are sorted by (row, col); part files follow row order.
"""
from __future__ import annotations

import json

import dask
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.cooc import balanced_cuts, cooc_partial, merge_stacked
from tasks.counting import encode_lines

from ..artifacts.cooc import COOC_SCHEMA, STATE_NAME, load_rows, save_csr
from ..artifacts.corpus import list_shards, only_added, read_lines
from ..artifacts.tables import read_vocab
from ..stage import Stage, source_key
from ..storage import read_parquet

_BUCKETS = 4096  # row groups in which partial sizes are reported for cutting row blocks
# Parquet encoding of the parts: dictionary (RLE) for the repetitive row and weight
# columns, delta (bit-packed) for the ascending columns of a row and for the counts
# (mostly small), no page compression on top. Against pyarrow's defaults (dictionary
# everywhere, snappy) on the shared corpus at window 10, the 8 parts took 0.35 s to write
# instead of 0.51 s (one core) and 50 instead of 56 MB, and read twice as fast; counts
# by delta rather than dictionary saved 8% of the writing time and 3% of the bytes.
# Standard Parquet encodings (tests read the parts with DuckDB and polars too). Min/max
# statistics only for ``row``, the one column whose ranges tell row groups apart
# (readers skip row groups by it); computing them for the others took 7% of the writing.
PART_ENCODING = {"use_dictionary": ["row", "weighted"],
                 "column_encoding": {"col": "DELTA_BINARY_PACKED",
                                     "count": "DELTA_BINARY_PACKED"},
                 "compression": "none", "write_statistics": ["row"]}


def merge_files(sources):
    """Sum the row ranges ``[(url, lo, hi), ...]`` (same rows in each) in one pass."""
    parts = [load_rows(*src) for src in sources]
    n_cols = parts[0][4]
    sizes = [len(p[1]) for p in parts]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    stacked = (np.stack([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
               np.concatenate([p[2] for p in parts], dtype=np.int64),
               np.concatenate([p[3] for p in parts], dtype=np.float64))
    del parts
    return merge_stacked(*stacked, offsets, n_cols)


def count_shard_pairs(url, vocab_words, window, out, bucket, join=1, focus=None):
    """Count one shard and save its whole partial matrix.

    ``join`` consecutive documents of the shard count as one (windows cross
    their boundaries); with ``focus`` (bool per word) only the pairs with a
    focus word are counted. Returns the file's URL and its non-zeros per group
    of ``bucket`` rows, which the stage uses to cut row blocks of equal merge work.
    """
    ids, offsets = encode_lines(read_lines(url), vocab_words)
    if join > 1:
        offsets = np.append(offsets[:-1:join], offsets[-1])
    counts, weighted = cooc_partial(ids, offsets, n_words=len(vocab_words), window=window,
                                    sorted_columns=False, focus=focus)  # merge_files sorts
    save_csr(out, counts.indptr, counts.indices, counts.data, weighted.data, len(vocab_words),
             exact=False)
    return out, _histogram(counts.indptr, bucket)


def _histogram(indptr, bucket):
    starts = indptr[:-1:bucket]
    return np.diff(np.append(starts, indptr[-1]))


def relabel_part(url, new_of_old, n_words, out, bucket):
    """An earlier run's output part, in the current vocabulary's ids, as a partial.

    ``new_of_old[i]`` is the current id of the earlier vocabulary's word i (-1
    when it left the vocabulary: its row and column are dropped); ``n_words``
    is the current vocabulary's size. Saved like a shard's partial, with the
    exact float64 weights; returns (URL, histogram) as :func:`count_shard_pairs` does.
    """
    t = read_parquet(url, "co-occurrence part", columns=["row", "col", "count", "weighted"])
    rows = new_of_old[t["row"].to_numpy()]
    cols = new_of_old[t["col"].to_numpy()]
    take = np.flatnonzero((rows >= 0) & (cols >= 0))
    take = take[np.argsort(rows[take], kind="stable")]  # by new row, columns as they come
    new_ptr = np.zeros(n_words + 1, np.int64)
    np.cumsum(np.bincount(rows[take], minlength=n_words), out=new_ptr[1:])
    save_csr(out, new_ptr, cols[take], t["count"].to_numpy()[take],
             t["weighted"].to_numpy()[take], n_words, exact=True)
    return out, _histogram(new_ptr, bucket)


def write_block(sources, url, row_start):
    """Sum one row block's inputs and write it as Parquet.

    Returns (nnz, sum of counts, sum of weights).
    """
    counts, weighted = merge_files(sources)
    lengths = np.diff(counts.indptr)
    rows = np.repeat(np.arange(counts.shape[0], dtype=np.int32), lengths) + np.int32(row_start)
    table = pa.table({"row": rows, "col": counts.indices.astype(np.int32, copy=False),
                      "count": counts.data.astype(np.int64, copy=False),
                      "weighted": weighted.data}, schema=COOC_SCHEMA)
    with fsspec.open(url, "wb") as f:
        pq.write_table(table, f, row_group_size=1 << 20, **PART_ENCODING)
    return int(counts.nnz), int(counts.data.sum()), float(weighted.data.sum())


def counting_key(cfg):
    """What the exact sums depend on besides the shards: counting code and settings."""
    return source_key("tasks.cooc", "tasks.counting", "pipeline.artifacts.corpus",
                      "pipeline.artifacts.cooc", __name__) + \
        json.dumps([cfg.cooc.window, cfg.cooc.join_documents])


def _previous_state(ctx, names):
    """The earlier run's parts, if the current shards only add to what they cover.

    Returns the state (``key``, ``shards``, ``words``, ``parts``) or None.
    """
    if not ctx.previous:
        return None
    try:
        with ctx.run.fs.open(ctx.previous_path("cooc") + "/" + STATE_NAME, "rb") as f:
            state = json.loads(f.read().decode())
        if state["key"] != counting_key(ctx.cfg):
            return None
        covered = set(state["shards"])
        state["words"] = pa.array(state["words"], pa.string())
        state["parts"] = [(str(name), int(lo), int(hi)) for name, lo, hi in state["parts"]]
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, pa.ArrowInvalid):
        return None
    return state if only_added(ctx.log, "cooc", covered, names) else None


def build(ctx):
    window = ctx.cfg.cooc.window
    vocab, _total = read_vocab(ctx.input_url("vocab"))
    words = vocab["word"].combine_chunks()
    n_words = len(words)
    shards, sizes = list_shards(ctx.run.fs, ctx.input_path("corpus"), sizes=True)
    names = [u.rsplit("/", 1)[-1] for u in shards]
    out = ctx.output_path("cooc")
    work = out + ".work"
    ctx.run.fs.makedirs(work, exist_ok=True)
    ctx.run.fs.makedirs(out, exist_ok=True)
    work_url = ctx.url(work)
    previous = _previous_state(ctx, names)

    # Phase 1: one partial matrix per shard, saved whole. Incrementally: per new
    # shard; the earlier exact sums, relabelled to the current ids; and, for words
    # new to the vocabulary, their pairs in the shards counted before.
    bucket = max(1, -(-n_words // _BUCKETS))
    words_d = dask.delayed(words, name="cooc-vocab")
    join = ctx.cfg.cooc.join_documents
    todo = list(range(len(shards)))
    tasks, extra = [], {}
    if previous is not None:
        covered = set(previous["shards"])
        todo = [i for i in todo if names[i] not in covered]
        new_of_old = pc.fill_null(pc.index_in(previous["words"], value_set=words), -1).to_numpy(
            zero_copy_only=False).astype(np.int64)
        focus = np.ones(n_words, bool)
        focus[new_of_old[new_of_old >= 0]] = False
        map_d = dask.delayed(new_of_old, name="cooc-relabel-map")
        root = ctx.url(ctx.previous_path("cooc"))
        tasks += [dask.delayed(relabel_part, pure=True)(
            f"{root}/{name}", map_d, n_words, f"{work_url}/previous-{b:05d}.bin", bucket,
            dask_key_name=f"cooc-relabel-{b:05d}")
            for b, (name, _lo, _hi) in enumerate(previous["parts"])]
        if focus.any():
            focus_d = dask.delayed(focus, name="cooc-focus")
            tasks += [dask.delayed(count_shard_pairs, pure=True)(
                shards[i], words_d, window, f"{work_url}/focus-{i:05d}.bin", bucket, join,
                focus_d, dask_key_name=f"cooc-focus-{i:05d}")
                for i in range(len(shards)) if names[i] in covered]
        extra = {"incremental": True, "entering_words": int(focus.sum()),
                 "shards_refocused": len(covered) if focus.any() else 0}
        ctx.log(f"cooc: counting {len(todo)} new shard(s) onto the sums of {len(covered)}"
                + (f"; {int(focus.sum())} word(s) new to the vocabulary recounted there"
                   if focus.any() else ""))
    # Largest shards first, so small ones fill the gaps at the end (dask's local
    # schedulers run equally ranked tasks in descending key order).
    rank = {i: r for r, i in enumerate(sorted(todo, key=lambda i: sizes[i]))}
    tasks += [dask.delayed(count_shard_pairs, pure=True)(shards[i], words_d, window,
                                                   f"{work_url}/shard-{i:05d}.bin", bucket,
                                                   join, dask_key_name=f"cooc-count-{rank[i]:05d}")
              for i in todo]
    counted = ctx.runner.compute(tasks, "cooc count")

    # Phase 2: row blocks of equal merge work, from the partials' actual sizes:
    # enough blocks to bound each merge task's input (cooc.block_nnz entries)
    # and to keep every worker busy.
    load = np.sum([hist for _url, hist in counted], axis=0)
    n_blocks = max(-(-int(load.sum()) // ctx.cfg.cooc.block_nnz), 4 * ctx.runner.n_workers)
    cuts = balanced_cuts(load, n_blocks) * bucket
    bounds = np.minimum(cuts, n_words)
    writes, parts = [], []
    for b, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        sources = [(url, lo, hi) for url, _hist in counted]
        parts.append([f"part-{b:05d}.parquet", lo, hi])
        writes.append(dask.delayed(write_block, pure=True)(
            sources, ctx.url(f"{out}/{parts[-1][0]}"), lo, dask_key_name=f"cooc-write-{b}"))
    results = ctx.runner.compute(writes, "cooc merge")
    with ctx.run.fs.open(out + "/" + STATE_NAME, "wb") as f:
        f.write(json.dumps({"key": counting_key(ctx.cfg), "shards": names,
                            "parts": parts, "words": words.to_pylist()}).encode())
    ctx.run.discard(work)
    return {"nnz": sum(r[0] for r in results), "pairs": sum(r[1] for r in results),
            "weighted_sum": sum(r[2] for r in results), "row_blocks": len(writes),
            "partial_nnz": int(load.sum()), "shards": len(shards), "shards_counted": len(todo),
            "vocabulary": n_words, "row_bounds": bounds.tolist(), **extra}


STAGE = Stage(
    name="cooc",
    summary="windowed co-occurrence counts (per-shard partials summed per row block) → cooc/",
    reads=("corpus", "vocab"),
    writes=("cooc",),
    params=("cooc.window", "cooc.join_documents", "cooc.block_nnz"),
    build=build,
    code=("tasks.cooc", "tasks.counting", "pipeline.artifacts.corpus", "pipeline.artifacts.cooc"),
)
