"""vocab stage: per-shard word counts summed by a tree reduction → ``vocab.parquet``.

Schema ``word: string, id: int32, count: int64``, ordered by count descending
then word ascending (code points), ids 0..V-1 in that order. The total number
of corpus tokens (in or out of the vocabulary) is stored in the file's
metadata (``total_tokens``) and in the manifest.

``vocab.counts.parquet`` keeps the count of every distinct word (``word,
count``) and, in its metadata, the shards it covers. Counts are sums, so when
the corpus stage only added shards, a run with ``run.incremental`` counts the
new shards and adds them to it: the vocabulary is the one a full recount gives.
"""
from __future__ import annotations

import json

import dask
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.counting import count_words, merge_counts, select_vocab

from ..artifacts.corpus import list_shards, only_added, read_lines
from ..errors import InputError
from ..runner import tree_reduce
from ..stage import Stage, source_key
from ..storage import read_parquet, write_parquet


def count_shard_words(url):
    return count_words(read_lines(url))


def write_vocab(counts, url, *, min_count, max_size, counts_url, shards):
    total = int(pa.compute.sum(counts["count"]).as_py() or 0)
    vocab = select_vocab(counts, min_count=min_count, max_size=max_size)
    table = vocab.replace_schema_metadata({b"total_tokens": str(total).encode()})
    write_parquet(url, table)
    write_parquet(counts_url, counts.replace_schema_metadata(
        {b"shards": json.dumps(shards).encode(), b"key": counting_key().encode()}))
    return {"words": vocab.num_rows, "distinct_words": counts.num_rows,
            "total_tokens": total,
            "vocab_tokens": int(pa.compute.sum(vocab["count"]).as_py() or 0)}


def counting_key():
    """Hash of the code that counts a shard: counts made by other code are not reused."""
    return source_key("tasks.counting", "pipeline.artifacts.corpus", __name__)


def _previous_counts(ctx, names):
    """The shard names the earlier run's word counts cover, if they can be extended."""
    if not ctx.previous:
        return None
    url = ctx.url(ctx.previous_path("word_counts"))
    try:
        with fsspec.open(url, "rb") as f:
            meta = pq.ParquetFile(f).schema_arrow.metadata or {}
        covered = json.loads(meta[b"shards"].decode())
        if meta.get(b"key", b"").decode() != counting_key():
            return None
    except (OSError, pa.ArrowInvalid, KeyError, ValueError, UnicodeDecodeError):
        return None
    return covered if only_added(ctx.log, "vocab", covered, names) else None


def build(ctx):
    v = ctx.cfg.vocab
    shards = list_shards(ctx.run.fs, ctx.input_path("corpus"))
    names = [u.rsplit("/", 1)[-1] for u in shards]
    covered = _previous_counts(ctx, names)
    todo = [u for u, n in zip(shards, names) if covered is None or n not in covered]
    parts = [dask.delayed(count_shard_words, pure=True)(u, dask_key_name=f"vocab-count-{i}")
             for i, u in enumerate(todo)]
    if covered is not None:
        parts.append(dask.delayed(read_parquet, pure=True)(
            ctx.url(ctx.previous_path("word_counts")), "word counts",
            dask_key_name="vocab-previous-counts"))
        ctx.log(f"vocab: adding the counts of {len(todo)} new shard(s) to those of "
                f"{len(covered)}")
    total = tree_reduce(parts, merge_counts, ctx.runner.split_every, name="vocab-merge")
    out = dask.delayed(write_vocab, pure=True)(
        total, ctx.output_url("vocab"), min_count=v.min_count, max_size=v.max_size,
        counts_url=ctx.output_url("word_counts"), shards=names)
    (counters,) = ctx.runner.compute([out], "vocab")
    counters["shards_counted"] = len(todo)
    if counters["words"] == 0:
        raise InputError(f"no word occurs vocab.min_count={v.min_count} times in the corpus "
                         f"({counters['distinct_words']} distinct words, "
                         f"{counters['total_tokens']} tokens): lower vocab.min_count")
    return counters


STAGE = Stage(
    name="vocab",
    summary="word counts (per shard + tree reduction) → vocab.parquet",
    reads=("corpus",),
    writes=("vocab", "word_counts"),
    params=("vocab.min_count", "vocab.max_size"),
    build=build,
    code=("tasks.counting", "pipeline.artifacts.corpus"),
)
