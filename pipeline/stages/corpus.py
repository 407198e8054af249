"""corpus stage: raw text files → tokenised text shards ``corpus/part-*.txt``.

Each output line is one document, its tokens joined by single spaces: the
format gensim's ``corpus_file`` training reads. Uncompressed line files are
split into byte ranges read in parallel (a line belongs to the range holding
its first byte); compressed files, paragraph files and wiki dumps are read by
one task each, streaming. A task's output rolls over to a new shard past
``corpus.shard_bytes`` so later stages get bounded partitions.

Shards are named after their file (``part-<key>-<block>-<n>.txt``, the key
hashing the file's URL, size, mtime and format and the tokeniser settings)
and ``corpus/_index.json`` lists each file's shards and counters in config
order, which is the corpus's document order. With
``run.incremental``, a run that finds files added to its inputs reads only
those and links the unchanged files' shards from the previous output.
"""
from __future__ import annotations

import codecs
import glob as _glob
import hashlib
import io
import json
import os
from dataclasses import asdict

import dask
import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractBufferedFile
from fsspec.utils import infer_compression

from tasks.line_tokens import iter_line_tokens, load_kernel
from tasks.tokenize import (DocStats, decoder, iter_line_docs, iter_paragraph_docs,
                            iter_senseval_docs, iter_wikidump_docs, looks_binary,
                            tokenize)

from ..artifacts.corpus import INDEX, ShardWriter
from ..errors import ConfigError, InputError
from ..stage import Stage, source_key
from ..storage import join, resolve_pkg, to_url

_HEAD = 8192
_READ_BLOCK = 1 << 20  # bytes a line file is read and tokenised (or decoded) in at a time


def list_inputs(cfg):
    """Expand ``corpus.paths`` into the files to read.

    Returns
    -------
    list of dict
        ``url, format, compression, size, mtime, key`` per file, in config order
        and sorted within each glob or directory, each file once (the first
        entry matching it gives its format); ``key`` names the file's shards
        (:func:`file_key`).

    Raises
    ------
    ConfigError
        When an entry names nothing (missing path, empty glob or directory).
    """
    files, seen = [], set()
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
            if to_url(fs, p) in seen:  # matched by an earlier entry: read once
                continue
            seen.add(to_url(fs, p))
            info = fs.info(p)
            files.append({"url": to_url(fs, p), "format": fmt,
                          "compression": infer_compression(p),
                          "size": int(info.get("size") or 0), "mtime": _mtime(info)})
    settings = _settings_key(cfg)
    for f in files:
        f["key"] = file_key(f, settings)
    return files


def _mtime(info):
    return str(info.get("mtime") or info.get("LastModified") or info.get("last_modified") or "")


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


def read_part(file, start, end, prefix, *, lowercase, encoding, max_chars, shard_bytes):
    """Tokenise one file or byte range into shards; returns counters (dict)."""
    stats = DocStats()
    decode = decoder(encoding, stats)
    writer = ShardWriter(prefix, shard_bytes)
    fmt = file["format"]
    try:
        with fsspec.open(file["url"], "rb", compression=file["compression"]) as raw:
            f = _buffered(raw)
            if start:
                f.seek(start - 1)
                f.readline()  # the line holding byte start-1 belongs to the previous range
            # an uncompressed file seeks cheaply (back to a long line's start)
            seekable = file["compression"] is None and f.seekable()
            if fmt == "lines" and codecs.lookup(encoding).name in ("utf-8", "ascii"):
                # tokenised from the bytes, many documents at a time (tasks.line_tokens)
                for chunk in iter_line_tokens(f, decode=decode, max_chars=max_chars, end=end,
                                              stats=stats, block=_READ_BLOCK,
                                              lowercase=lowercase, seekable=seekable):
                    stats.documents += len(chunk.ends)
                    stats.tokens += int(chunk.tokens.sum())
                    stats.empty_documents += chunk.empty
                    writer.write_chunk(chunk)
                docs = ()
            elif fmt == "lines":
                docs = iter_line_docs(f, decode=decode, max_chars=max_chars, end=end,
                                      stats=stats, block=_READ_BLOCK if seekable else None)
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


def _buffered(f):
    """A file object with the whole ``io`` reading interface (``readline(limit)``,
    ``peek``): fsspec's own remote files (S3, GCS, HTTP: ``AbstractBufferedFile``)
    lack some of it, so they are read through ``io.BufferedReader``; local and
    decompressed files already have it."""
    if isinstance(f, AbstractBufferedFile):
        return io.BufferedReader(f, buffer_size=1 << 20)
    return f


_COUNTERS = ("documents", "tokens", "empty_documents", "split_documents", "decode_errors",
             "redirects")


def file_key(file, settings):
    """A file's shard-name key: its URL, size, mtime, format and the tokeniser settings.

    Equal keys mean equal shards, so a later run reuses them (``run.incremental``)
    and a changed file or setting gets new names.
    """
    doc = {k: file[k] for k in ("url", "size", "mtime", "format", "compression")}
    return hashlib.sha256(json.dumps([doc, settings], sort_keys=True).encode()).hexdigest()[:16]


def _settings_key(cfg):
    """The code and settings that shape every shard (all but the list of files)."""
    h = hashlib.sha256(source_key(__name__, "tasks.tokenize", "tasks.line_tokens",
                               "pipeline.artifacts.corpus").encode())
    c = cfg.corpus
    h.update(json.dumps([c.lowercase, c.encoding, c.blocksize, c.shard_bytes,
                         c.max_document_chars]).encode())
    return h.hexdigest()


def _previous_index(ctx):
    """{file key: entry} of the corpus output an earlier run left intact, else {}."""
    if not ctx.previous:
        return {}
    try:
        with ctx.run.fs.open(ctx.previous_path("corpus") + "/" + INDEX, "rb") as f:
            entries = json.loads(f.read().decode())["files"]
        return {e["key"]: e for e in entries}
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        return {}


def _link(fs, src, dst):
    """Put an existing shard into the new output: a hard link when local, else a copy."""
    if isinstance(fs, LocalFileSystem):
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    fs.copy(src, dst)


def build(ctx):
    c = ctx.cfg.corpus
    files = ctx.external["files"]
    fs = ctx.run.fs
    old = _previous_index(ctx)
    kept = {f["key"]: old[f["key"]] for f in files if f["key"] in old}
    new = [f for f in files if f["key"] not in kept]
    reads, binary, empty = plan_reads(new, c.blocksize)
    for url in binary:
        ctx.log(f"warning: skipping binary file {url}")
    for url in empty:
        ctx.log(f"warning: skipping empty file {url}")
    out = ctx.output_path("corpus")
    fs.makedirs(out, exist_ok=True)
    # Bytes each task reads (compressed bytes expand about 4x). Keys rank tasks
    # by size so the largest run first (dask's local schedulers take equally
    # ranked tasks in descending key order) and small ones fill the end.
    sizes = [(end if end is not None else file["size"] * (4 if file["compression"] else 1))
             - start for _i, _b, file, start, end in reads]
    rank = {k: r for r, k in enumerate(sorted(range(len(reads)), key=lambda k: sizes[k]))}
    tasks = [dask.delayed(read_part, pure=True)(
        file, start, end, ctx.url(join(out, f"part-{file['key']}-{b:05d}")),
        lowercase=c.lowercase, encoding=c.encoding, max_chars=c.max_document_chars,
        shard_bytes=c.shard_bytes, dask_key_name=f"corpus-read-{rank[k]:05d}")
        for k, (_i, b, file, start, end) in enumerate(reads)]
    results = ctx.runner.compute(tasks, "corpus", gil_bound=True, input_bytes=sum(sizes))
    _check_unchanged(new)

    index = {}
    skipped = {**{u: "binary" for u in binary}, **{u: "empty" for u in empty}}
    for f in new:
        index[f["key"]] = {"key": f["key"], "url": f["url"], "shards": [],
                           **{k: 0 for k in _COUNTERS}}
        if f["url"] in skipped:
            index[f["key"]]["skipped"] = skipped[f["url"]]
    for (_i, _b, file, _s, _e), r in zip(reads, results):
        entry = index[file["key"]]
        for k in _COUNTERS:
            entry[k] += r.get(k, 0)
        entry["shards"] += r["shards"]
    for entry in index.values():
        entry["shards"].sort()
    for key, entry in kept.items():
        for name, *_ in entry["shards"]:
            _link(fs, ctx.previous_path("corpus") + "/" + name, out + "/" + name)
        index[key] = entry
    index = [index[f["key"]] for f in files]  # config order: the corpus's document order
    with fs.open(out + "/" + INDEX, "wb") as f:
        f.write(json.dumps({"files": index}, indent=1).encode())

    binary, empty = ([e["url"] for e in index if e.get("skipped") == why]
                     for why in ("binary", "empty"))
    totals = {"files": len(files), "files_read": len(files) - len(binary) - len(empty),
              "files_reused": len(kept), "skipped_binary_files": sorted(binary),
              "empty_files": sorted(empty)}
    for key in _COUNTERS:
        totals[key] = sum(e.get(key, 0) for e in index)
    totals["shards"] = sum(len(e["shards"]) for e in index)
    if totals["tokens"] == 0:
        raise InputError("the corpus has no tokens: no letters or digits in "
                         f"{totals['files_read']} readable file(s) of {len(files)} "
                         "(check corpus.paths, corpus.format and corpus.encoding)")
    decode_errors = sum(r.get("decode_errors", 0) for r in results)
    if decode_errors:
        ctx.log(f"warning: {decode_errors} invalid {c.encoding} byte sequence(s) replaced")
    split = sum(r.get("split_documents", 0) for r in results)
    if split:
        ctx.log(f"warning: {split} over-long document(s) cut at {c.max_document_chars} "
                "characters")
    if kept:
        ctx.log(f"corpus: reused the shards of {len(kept)} unchanged file(s), read "
                f"{len(new)} new or changed")
    return totals


def _check_unchanged(files):
    """Fail when a file's size or mtime moved while it was being read (a torn read)."""
    for file in files:
        try:
            fs, path = url_to_fs(file["url"])
            info = fs.info(path)
        except (OSError, ValueError) as e:
            raise InputError(f"{file['url']}: vanished while being read ({e})") from None
        now = (int(info.get("size") or 0), _mtime(info))
        if now != (file["size"], file["mtime"]):
            raise InputError(f"{file['url']}: changed while being read (size/mtime "
                             f"{file['size']}/{file['mtime']} -> {now[0]}/{now[1]}); run again "
                             "once it is complete")


def inputs(cfg):
    return {"files": list_inputs(cfg)}


STAGE = Stage(
    name="corpus",
    summary="raw text (lines, paragraphs, wiki dump, Senseval XML; .gz/.bz2) → tokenised shards",
    reads=(),
    writes=("corpus",),
    params=("corpus",),
    build=build,
    code=("tasks.tokenize", "tasks.line_tokens", "pipeline.artifacts.corpus"),
    preload=load_kernel,
    inputs=inputs,
)
