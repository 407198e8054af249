"""The tokenised corpus artifact: shard writing, listing (document order) and reading."""
from __future__ import annotations

import json

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem

from ..errors import InputError
from ..storage import to_url

__all__ = ["INDEX", "shard_names", "shard_paths", "list_shards", "read_lines", "only_added",
           "random_windows", "ShardWriter"]

INDEX = "_index.json"  # in corpus/: each input file's shards, in document order


def shard_names(fs, corpus_dir):
    """Names of the corpus shards in document order (``_index.json``; else sorted)."""
    try:
        with fs.open(corpus_dir + "/" + INDEX, "rb") as f:
            return [s[0] for e in json.loads(f.read().decode())["files"] for s in e["shards"]]
    except FileNotFoundError:
        return sorted(p.rsplit("/", 1)[-1] for p in fs.glob(corpus_dir + "/part-*.txt"))
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError, IndexError) as e:
        raise InputError(f"{to_url(fs, corpus_dir)}/{INDEX}: unreadable ({e}); rerun the "
                         "corpus stage with --force") from None


def shard_paths(run_dir):
    """Local paths of a local run directory's corpus shards, in document order."""
    corpus = str(run_dir).rstrip("/") + "/corpus"
    return [corpus + "/" + n for n in shard_names(LocalFileSystem(), corpus)]


def list_shards(fs, corpus_dir, sizes=False):
    """URLs of the corpus shards in document order (with their sizes in bytes if ``sizes``).

    Fails when the corpus output is missing or a listed shard is.
    """
    names = shard_names(fs, corpus_dir)
    found = fs.glob(corpus_dir + "/part-*.txt", detail=True)
    if not names:
        raise InputError(f"{to_url(fs, corpus_dir)}: no corpus shards (rerun the corpus "
                         "stage with --force)")
    paths = [corpus_dir + "/" + n for n in names]
    missing = [p for p in paths if p not in found]
    if missing:
        raise InputError(f"{to_url(fs, missing[0])}: corpus shard missing (rerun the corpus "
                         "stage with --force)")
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


def only_added(log, stage, covered, names):
    """Whether the shards ``names`` include every one of ``covered`` (an earlier run's
    sums can then be extended); otherwise says why everything is recounted."""
    if set(covered) <= set(names):
        return True
    log(f"{stage}: corpus files were removed or changed since the last run; "
        "recounting every shard")
    return False


def random_windows(fs, root, n, seed, width):
    """(left tokens, right tokens) within ``width`` of ``n`` seeded random token
    positions of the tokenised corpus under ``root`` (drawn without replacement)."""
    docs = [d for url in list_shards(fs, root) for d in read_lines(url).to_pylist()]
    lengths = np.array([d.count(" ") + 1 if d else 0 for d in docs], dtype=np.int64)
    ends = np.cumsum(lengths)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(int(ends[-1]), min(n, int(ends[-1])), replace=False))
    doc = np.searchsorted(ends, picks, side="right")
    at = picks - (ends[doc] - lengths[doc])
    out = []
    for d, p in zip(doc, at):
        tokens = docs[d].split(" ")
        out.append((tokens[max(0, p - width):p], tokens[p + 1:p + 1 + width]))
    return out


class ShardWriter:
    """Writes documents to shards ``<prefix>-NNN.txt``, rolling over past ``shard_bytes``.

    A shard ends with the first document that brings it to ``shard_bytes``;
    ``shards`` lists each one's name, tokens and bytes (for the corpus index).
    """

    _FLUSH = 1 << 20  # lines are written in batches of about this many bytes

    def __init__(self, prefix, shard_bytes):
        self.prefix, self.shard_bytes = prefix, shard_bytes
        self.shards = []
        self._f = None
        self._bytes = self._tokens = 0
        self._batch, self._batch_bytes = [], 0

    def _open(self):
        name = f"{self.prefix}-{len(self.shards):03d}.txt"
        self._f = fsspec.open(name, "wb").open()
        self.shards.append([name.rsplit("/", 1)[-1], 0, 0])

    def write(self, line, n_tokens):
        if self._f is None:
            self._open()
        data = line.encode("utf-8")
        self._batch.append(data)
        self._batch_bytes += len(data)
        self._bytes += len(data)
        self._tokens += n_tokens
        if self._bytes >= self.shard_bytes:
            self.close()
        elif self._batch_bytes >= self._FLUSH:
            self._flush()

    def write_chunk(self, chunk):
        """Write the documents of a :class:`tasks.line_tokens.TokenChunk`, rolling over
        after the same document :meth:`write` would."""
        data, ends, tokens = memoryview(chunk.data), chunk.ends, chunk.tokens
        i, lo = 0, 0
        while i < len(ends):
            if self._f is None:
                self._open()
            # the first document that brings the shard to shard_bytes, else the last
            last = min(int(np.searchsorted(ends, lo + self.shard_bytes - self._bytes)),
                       len(ends) - 1)
            hi = int(ends[last])
            self._batch.append(data[lo:hi])
            self._batch_bytes += hi - lo
            self._bytes += hi - lo
            self._tokens += int(tokens[i:last + 1].sum())
            i, lo = last + 1, hi
            if self._bytes >= self.shard_bytes:
                self.close()
            elif self._batch_bytes >= self._FLUSH:
                self._flush()

    def _flush(self):
        self._f.write(b"".join(self._batch))
        self._batch, self._batch_bytes = [], 0

    def close(self):
        if self._f is not None:
            self._flush()
            self._f.close()
            self.shards[-1][1:] = [self._tokens, self._bytes]
            self._f = None
            self._bytes = self._tokens = 0
