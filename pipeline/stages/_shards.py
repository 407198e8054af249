"""Reading the tokenised corpus shards written by the corpus stage."""
from __future__ import annotations

import fsspec

from ..errors import InputError
from ..storage import to_url


def list_shards(ctx):
    """URLs of ``corpus/part-*.txt`` in order; fails when the corpus output is missing."""
    fs = ctx.run.fs
    paths = sorted(fs.glob(ctx.input_path("corpus") + "/part-*.txt"))
    if not paths:
        raise InputError(f"{ctx.run.url_of('corpus')}: no corpus shards (rerun the corpus "
                         "stage with --force)")
    return [to_url(fs, p) for p in paths]


def read_lines(url):
    """Documents of one shard as a list of str (one per line, no newline)."""
    try:
        with fsspec.open(url, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{url}: cannot read corpus shard ({e})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines
