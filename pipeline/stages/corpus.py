"""corpus stage: raw text files → tokenised text shards ``corpus/part-*.txt``.

Each output line is one document, its tokens joined by single spaces: the
format gensim's ``corpus_file`` training reads. Uncompressed line files are
split into byte ranges read in parallel (a line belongs to the range holding
its first byte); compressed files, paragraph files and wiki dumps are read by
one task each, streaming. A task's output rolls over to a new shard past
``corpus.shard_bytes`` so later stages get bounded partitions.
"""
from __future__ import annotations

import glob as _glob
from dataclasses import asdict

import dask
import fsspec
from fsspec.core import url_to_fs
from fsspec.utils import infer_compression

from tasks.tokenize import (DocStats, decoder, iter_line_docs, iter_paragraph_docs,
                            iter_senseval_docs, iter_wikidump_docs, looks_binary,
                            tokenize)

from ..errors import ConfigError, InputError
from ..stage import Stage
from ..storage import join, resolve_pkg, to_url

_HEAD = 8192


def list_inputs(cfg):
    """Expand ``corpus.paths`` into the files to read.

    Returns
    -------
    list of dict
        ``url, format, compression, size, mtime`` per file, in config order and
        sorted within each glob or directory.

    Raises
    ------
    ConfigError
        When an entry names nothing (missing path, empty glob or directory).
    """
    files = []
    for i, (raw, fmt) in enumerate(cfg.corpus.items()):
        where = f"corpus.paths[{i}]"
        url = resolve_pkg(raw)
        if url is None:
            raise ConfigError(f"{where}: package of {raw!r} is not installed")
        try:
            fs, path = url_to_fs(url)
        except (ValueError, ImportError) as e:
            raise ConfigError(f"{where}: cannot open {raw!r} ({e})") from None
        if _glob.has_magic(path):
            found = [p for p in fs.glob(path) if fs.isfile(p)]
        elif fs.isdir(path):
            # Files only: a symlink to a directory (possibly a loop back up the tree)
            # is listed by find() but not followed.
            found = [p for p in fs.find(path) if not p.rsplit("/", 1)[-1].startswith(".")
                     and fs.isfile(p)]
        elif fs.exists(path):
            found = [path]
        else:
            raise ConfigError(f"{where}: {raw!r} does not exist")
        if not found:
            raise ConfigError(f"{where}: {raw!r} matches no file")
        for p in sorted(found):
            info = fs.info(p)
            files.append({"url": to_url(fs, p), "format": fmt,
                          "compression": infer_compression(p),
                          "size": int(info.get("size") or 0),
                          "mtime": str(info.get("mtime") or info.get("LastModified") or
                                       info.get("last_modified") or "")})
    return files


def _head(file):
    with fsspec.open(file["url"], "rb", compression=file["compression"]) as f:
        return f.read(_HEAD)


def plan_reads(files, blocksize):
    """Split files into read tasks; binary and empty files are set aside.

    Returns
    -------
    reads : list of (file_index, block_index, file, start, end)
    binary : list of str
    empty : list of str
    """
    reads, binary, empty = [], [], []
    for i, file in enumerate(files):
        try:
            head = _head(file)
        except (OSError, EOFError) as e:
            raise InputError(f"{file['url']}: cannot read ({e})") from None
        if not head:
            empty.append(file["url"])
            continue
        if looks_binary(head):
            binary.append(file["url"])
            continue
        if file["compression"] is None and file["format"] == "lines" and \
                file["size"] > blocksize:
            starts = list(range(0, file["size"], blocksize))
            for b, s in enumerate(starts):
                reads.append((i, b, file, s, min(s + blocksize, file["size"])))
        else:
            reads.append((i, 0, file, 0, None))
    return reads, binary, empty


class _ShardWriter:
    """Writes documents to ``<prefix>-NNN.txt``, rolling over past ``shard_bytes``."""

    def __init__(self, prefix, shard_bytes):
        self.prefix, self.shard_bytes = prefix, shard_bytes
        self.shards = []
        self._f = None
        self._bytes = self._tokens = 0

    def write(self, line, n_tokens):
        if self._f is None:
            name = f"{self.prefix}-{len(self.shards):03d}.txt"
            self._f = fsspec.open(name, "wb").open()
            self.shards.append([name.rsplit("/", 1)[-1], 0, 0])
        data = line.encode("utf-8")
        self._f.write(data)
        self._bytes += len(data)
        self._tokens += n_tokens
        if self._bytes >= self.shard_bytes:
            self.close()

    def close(self):
        if self._f is not None:
            self._f.close()
            self.shards[-1][1:] = [self._tokens, self._bytes]
            self._f = None
            self._bytes = self._tokens = 0


def read_part(file, start, end, prefix, *, lowercase, encoding, max_chars, shard_bytes):
    """Tokenise one file or byte range into shards; returns counters (dict)."""
    stats = DocStats()
    decode = decoder(encoding, stats)
    writer = _ShardWriter(prefix, shard_bytes)
    fmt = file["format"]
    try:
        with fsspec.open(file["url"], "rb", compression=file["compression"]) as f:
            if start:
                f.seek(start - 1)
                f.readline()  # the line holding byte start-1 belongs to the previous range
            if fmt == "lines":
                docs = iter_line_docs(f, decode=decode, max_chars=max_chars, end=end,
                                      stats=stats)
            elif fmt == "paragraphs":
                docs = iter_paragraph_docs(f, decode=decode, max_chars=max_chars, stats=stats)
            elif fmt == "senseval":
                docs = iter_senseval_docs(f, decode=decode, max_chars=max_chars, stats=stats)
            else:
                docs = iter_wikidump_docs(f, decode=decode, max_chars=max_chars, stats=stats)
            for doc in docs:
                tokens = tokenize(doc, lowercase=lowercase)
                if not tokens:
                    stats.empty_documents += 1
                    continue
                stats.documents += 1
                stats.tokens += len(tokens)
                writer.write(" ".join(tokens) + "\n", len(tokens))
    except (OSError, EOFError, ValueError) as e:
        raise InputError(f"{file['url']}: cannot read ({e.__class__.__name__}: {e})") from None
    except Exception as e:  # malformed XML and the like
        if e.__class__.__name__ == "ParseError":
            raise InputError(f"{file['url']}: not a valid MediaWiki XML dump ({e})") from None
        raise
    finally:
        writer.close()
    out = asdict(stats)
    out.update(out.pop("extra"))
    out["shards"] = writer.shards
    return out


def build(ctx):
    c = ctx.cfg.corpus
    files = ctx.external["files"]
    reads, binary, empty = plan_reads(files, c.blocksize)
    for url in binary:
        ctx.log(f"warning: skipping binary file {url}")
    for url in empty:
        ctx.log(f"warning: skipping empty file {url}")
    ctx.run.fs.makedirs(ctx.out, exist_ok=True)
    # Bytes each task reads (compressed bytes expand about 4x). Keys rank tasks
    # by size so the largest run first (dask's local schedulers take equally
    # ranked tasks in descending key order) and small ones fill the end.
    sizes = [(end if end is not None else file["size"] * (4 if file["compression"] else 1))
             - start for _i, _b, file, start, end in reads]
    rank = {k: r for r, k in enumerate(sorted(range(len(reads)), key=lambda k: sizes[k]))}
    tasks = [dask.delayed(read_part, pure=True)(
        file, start, end, ctx.url(join(ctx.out, f"part-{i:05d}-{b:05d}")),
        lowercase=c.lowercase, encoding=c.encoding, max_chars=c.max_document_chars,
        shard_bytes=c.shard_bytes, dask_key_name=f"corpus-read-{rank[k]:05d}")
        for k, (i, b, file, start, end) in enumerate(reads)]
    work = sum(sizes)
    results = ctx.runner.compute(tasks, "corpus", gil_bound=True, input_bytes=work)
    totals = {"files": len(files), "files_read": len(files) - len(binary) - len(empty),
              "skipped_binary_files": binary, "empty_files": empty}
    for key in ("documents", "tokens", "empty_documents", "split_documents",
                "decode_errors", "redirects"):
        totals[key] = sum(r.get(key, 0) for r in results)
    shards = sorted(s for r in results for s in r["shards"])
    totals["shards"] = len(shards)
    if totals["tokens"] == 0:
        raise InputError("the corpus has no tokens: no letters or digits in "
                         f"{totals['files_read']} readable file(s) of {len(files)} "
                         "(check corpus.paths, corpus.format and corpus.encoding)")
    if totals["decode_errors"]:
        ctx.log(f"warning: {totals['decode_errors']} invalid {c.encoding} byte sequence(s) "
                "replaced")
    if totals["split_documents"]:
        ctx.log(f"warning: {totals['split_documents']} over-long document(s) cut at "
                f"{c.max_document_chars} characters")
    return totals


def inputs(cfg):
    return {"files": list_inputs(cfg)}


STAGE = Stage(
    name="corpus",
    summary="raw text (lines, paragraphs, wiki dump, Senseval XML; .gz/.bz2) → tokenised shards",
    needs=(),
    params=("corpus.format", "corpus.paths", "corpus.lowercase", "corpus.encoding",
            "corpus.blocksize", "corpus.shard_bytes", "corpus.max_document_chars"),
    output="corpus",
    build=build,
    code=("tasks.tokenize",),
    inputs=inputs,
)
