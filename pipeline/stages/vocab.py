"""vocab stage: per-shard word counts summed by a tree reduction → ``vocab.parquet``.

Schema ``word: string, id: int32, count: int64``, ordered by count descending
then word ascending (code points), ids 0..V-1 in that order. The total number
of corpus tokens (in or out of the vocabulary) is stored in the file's
metadata (``total_tokens``) and in the manifest.
"""
from __future__ import annotations

import dask
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.counting import count_words, merge_counts, select_vocab

from ..errors import InputError
from ..runner import tree_reduce
from ..stage import Stage
from ..storage import write_parquet
from ._shards import list_shards, read_lines


def count_shard(url):
    return count_words(read_lines(url))


def write_vocab(counts, url, *, min_count, max_size):
    total = int(pa.compute.sum(counts["count"]).as_py() or 0)
    vocab = select_vocab(counts, min_count=min_count, max_size=max_size)
    table = vocab.replace_schema_metadata({b"total_tokens": str(total).encode()})
    write_parquet(url, table)
    return {"words": vocab.num_rows, "distinct_words": counts.num_rows,
            "total_tokens": total,
            "vocab_tokens": int(pa.compute.sum(vocab["count"]).as_py() or 0)}


def read_vocab(url):
    """The vocabulary table and total token count of a run."""
    try:
        with fsspec.open(url, "rb") as f:
            table = pq.ParquetFile(f).read()  # read_table would import pyarrow.dataset
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{url}: unreadable vocabulary ({e})") from None
    meta = table.schema.metadata or {}
    return table, int(meta.get(b"total_tokens", b"0"))


def build(ctx):
    v = ctx.cfg.vocab
    shards = list_shards(ctx)
    parts = [dask.delayed(count_shard, pure=True)(u, dask_key_name=f"vocab-count-{i}")
             for i, u in enumerate(shards)]
    total = tree_reduce(parts, merge_counts, ctx.cfg.run.split_every, name="vocab-merge")
    out = dask.delayed(write_vocab, pure=True)(total, ctx.url(ctx.out), min_count=v.min_count,
                                               max_size=v.max_size)
    (counters,) = ctx.runner.compute([out], "vocab")
    if counters["words"] == 0:
        raise InputError(f"no word occurs vocab.min_count={v.min_count} times in the corpus "
                         f"({counters['distinct_words']} distinct words, "
                         f"{counters['total_tokens']} tokens): lower vocab.min_count")
    return counters


STAGE = Stage(
    name="vocab",
    summary="word counts (per shard + tree reduction) → vocab.parquet",
    needs=("corpus",),
    params=("vocab.min_count", "vocab.max_size"),
    output="vocab.parquet",
    build=build,
    code=("tasks.counting", "pipeline.stages._shards"),
)
