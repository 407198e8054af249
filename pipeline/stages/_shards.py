"""Reading the tokenised corpus shards written by the corpus stage."""
from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..storage import to_url


def list_shards(ctx, sizes=False):
    """URLs of ``corpus/part-*.txt`` in order (with their sizes in bytes if ``sizes``).

    Fails when the corpus output is missing.
    """
    fs = ctx.run.fs
    found = fs.glob(ctx.input_path("corpus") + "/part-*.txt", detail=True)
    if not found:
        raise InputError(f"{ctx.run.url_of('corpus')}: no corpus shards (rerun the corpus "
                         "stage with --force)")
    paths = sorted(found)
    urls = [to_url(fs, p) for p in paths]
    return (urls, [int(found[p].get("size") or 0) for p in paths]) if sizes else urls


def read_lines(url):
    """Documents of one shard as an Arrow string array (one per line, no newline).

    The file is split in Arrow's C++ kernels: no Python string per document,
    and the GIL is free while it runs.
    """
    try:
        with fsspec.open(url, "rb") as f:
            data = f.read()
        one = pa.array([data], type=pa.large_binary()).cast(pa.large_string())
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{url}: cannot read corpus shard ({e})") from None
    docs = pc.list_flatten(pc.split_pattern(one, "\n"))
    if len(docs) and len(docs[-1].as_py() or "") == 0:
        docs = docs.slice(0, len(docs) - 1)
    return docs
