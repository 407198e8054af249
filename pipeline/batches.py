"""Batches of occurrences in files: partitions to read as Dask tasks, and the output
written part by part, atomically and resumably.

Input (``wsi assign --input``): one file, a glob, a directory or an fsspec URL of
JSONL (``{"id": ..., "word": ..., "context": ...}`` per line; ``.gz``/``.bz2``... by
fsspec's inference, then one partition per file) or Parquet (``id``, ``word``,
``context`` columns; one partition per row group). JSONL files are cut into
partitions of ``assign.partition_bytes`` at line ends (``fsspec.utils.read_block``),
so a batch larger than memory streams (a line belongs to the partition its first
byte is in). A line's number counts every line of its
file from 1, blank ones included; an item without ``id`` gets it (``NAME:LINE``
when the batch has several files).

Output (``--output``): ``*.parquet`` is one file, anything else a directory of
``part-NNNNN.parquet`` (one per input partition, in input order). Parts are
written whole (a temporary file and a rename locally, one PUT on object stores)
next to ``_batch.json``, which names the input files (sizes and modification
marks), the run and the settings. A rerun of the same command after a kill keeps
the parts already written and computes the rest; a different batch refuses to mix
with them. A single-file output is assembled from such parts (in
``OUTPUT.parts/``), streamed into one Parquet file that appears at once, and the
parts are then removed.

Longer than 400 lines because input and output are one protocol: the output's parts
are numbered by the input's partitions, and its identity (``_batch.json``) is the
input's signature, which decides what a rerun keeps.
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import uuid
from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError, StorageError, UsageError
from .storage import put_whole

__all__ = ["Item", "SCHEMA", "Partition", "plan", "read_lines", "Columns", "count_lines",
           "Output", "rows_table", "RowScores"]

SCHEMA = pa.schema([
    ("id", pa.string()), ("word", pa.string()), ("method", pa.string()),
    ("sense", pa.int32()), ("score", pa.float32()), ("scores", pa.list_(pa.float32())),
    ("atoms", pa.list_(pa.int32())), ("error", pa.string())])


@dataclass(frozen=True)
class Item:
    """One input line: its number, id, target word (or None), context text (or None) and
    the error that makes it unusable (or None)."""

    line: int
    id: str
    word: object = None
    context: object = None
    error: object = None
    order: int = 0  # position in the whole batch (file number, byte offset...), for sampling

_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")


@dataclass(frozen=True)
class Partition:
    """One task's share of the input: bytes [offset, offset + length) of a JSONL file
    (length None: the whole file, e.g. compressed), or one row group of a Parquet file."""

    index: int
    url: str
    kind: str            # "jsonl" | "parquet"
    file_no: int
    label: str           # the file's name in ids (empty with a single input file)
    offset: int = 0
    length: object = None
    row_group: int = 0
    first_row: int = 0   # parquet: rows of the file before this row group
    compression: object = None


def _kind(path):
    name = path.lower()
    for ext in (".gz", ".bz2", ".xz", ".zst", ".lz4"):
        if name.endswith(ext):
            name = name[:-len(ext)]
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    return "jsonl"


def _files(spec, storage_options):
    fs, token, paths = fsspec.get_fs_token_paths(spec, storage_options=storage_options or {})
    found = []
    for p in paths:
        if fs.isdir(p):
            found += sorted(f for f in fs.find(p) if not posixpath.basename(f).startswith(
                ("_", ".")))
        else:
            found.append(p)
    if not found:
        raise InputError(f"{spec}: no input files")
    return fs, found


def plan(spec, *, partition_bytes, storage_options=None):
    """(list of :class:`Partition`, signature of the input files) of an input spec."""
    fs, files = _files(spec, storage_options)
    parts, signature = [], []
    several = len(files) > 1
    for file_no, path in enumerate(files):
        url = fs.unstrip_protocol(path)
        try:
            info = fs.info(path)
        except (OSError, FileNotFoundError) as e:
            raise InputError(f"{url}: cannot read ({e})") from None
        size = int(info.get("size") or 0)
        mark = info.get("mtime") or info.get("LastModified") or info.get("ETag") or \
            info.get("etag") or info.get("md5Hash") or ""
        signature.append([url, size, str(mark)])
        label = posixpath.basename(path) if several else ""
        kind = _kind(path)
        if kind == "parquet":
            try:
                with fs.open(path, "rb") as f:
                    meta = pq.ParquetFile(f).metadata
            except (OSError, pa.ArrowInvalid) as e:
                raise InputError(f"{url}: not a Parquet file ({e})") from None
            first = 0
            for g in range(meta.num_row_groups):
                parts.append(Partition(len(parts), url, kind, file_no, label, row_group=g,
                                       first_row=first))
                first += meta.row_group(g).num_rows
            continue
        compression = fsspec.utils.infer_compression(path)
        if compression or size == 0:
            parts.append(Partition(len(parts), url, kind, file_no, label,
                                   compression=compression))
            continue
        for offset in range(0, size, partition_bytes):
            parts.append(Partition(len(parts), url, kind, file_no, label, offset=offset,
                                   length=min(partition_bytes, size - offset)))
    return parts, signature


def _read_bytes(p, storage_options):
    """(byte offset in the file where the data start, data) of partition ``p``: the
    lines that start in [offset, offset + length), or the whole (decompressed) file."""
    from fsspec.utils import seek_delimiter
    try:
        if p.length is None:
            with fsspec.open(p.url, "rb", compression=p.compression,
                             **(storage_options or {})) as f:
                return 0, f.read()
        with fsspec.open(p.url, "rb", **(storage_options or {})) as f:
            bounds = []
            for at in (p.offset, p.offset + p.length):
                f.seek(at)
                if at > 0:  # the next line start at or after ``at``
                    f.seek(at - 1)
                    seek_delimiter(f, b"\n", 2**16)
                bounds.append(f.tell())
            f.seek(bounds[0])
            return bounds[0], f.read(bounds[1] - bounds[0])
    except OSError as e:
        raise InputError(f"{p.url}: cannot read ({e})") from None


def count_lines(p, storage_options=None):
    """Lines that start in partition ``p`` (JSONL), for numbering the next partitions."""
    if p.kind == "parquet":
        return 0
    _start, data = _read_bytes(p, storage_options)
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@dataclass
class Columns:
    """A partition whose every line is a JSON object (or a Parquet row group), as
    columns: the cheap form for passes that look at a few fields of every line and
    build :class:`Item` objects only for the lines they keep (:meth:`items`)."""

    lines: np.ndarray  # line (JSONL) or row (Parquet) numbers, from 1
    orders: np.ndarray  # positions in the whole batch (Item.order)
    ids: pa.Array | None
    words: pa.Array | None
    contexts: pa.Array
    prefix: str

    def items(self, rows=None):
        """The :class:`Item` of ``rows`` (indices, in that order; default all)."""
        rows = np.arange(len(self.lines)) if rows is None else np.asarray(rows, np.int64)
        n = len(rows)
        take = (lambda a: a.to_pylist()) if len(rows) == len(self.lines) else \
            (lambda a: a.take(pa.array(rows)).to_pylist())
        ids = take(self.ids) if self.ids is not None else [None] * n
        words = take(self.words) if self.words is not None else [None] * n
        contexts = take(self.contexts)
        lines, orders = self.lines[rows].tolist(), self.orders[rows].tolist()
        prefix = self.prefix
        return [Item(lines[j], f"{prefix}{lines[j]}" if ids[j] is None else str(ids[j]),
                     words[j], contexts[j], order=orders[j]) for j in range(n)]


def read_lines(p, first_line, storage_options=None):
    """Partition ``p`` read once: :class:`Columns` when every line is a JSON object (or
    a Parquet row group), else the :class:`Item` list that gives each line its own item
    and error (blank lines skipped). ``first_line`` is the number of its first line in
    its file (JSONL)."""
    prefix = f"{p.label}:" if p.label else ""
    if p.kind == "parquet":
        return _read_parquet(p, prefix, storage_options)
    start, data = _read_bytes(p, storage_options)
    base = (p.file_no << 40) + start
    cols = _read_json_columns(data, first_line, prefix, base)
    return cols if cols is not None else _json_items(data, first_line, prefix, base)


def _json_items(data, first_line, prefix, base):
    """Each line of a JSONL block as an :class:`Item`, with its own error when it is not
    valid JSON or not an object."""
    items = []
    pos = 0
    for n, raw in enumerate(data.split(b"\n")):
        at = pos
        pos += len(raw) + 1
        if not raw.strip():
            continue
        line = first_line + n
        ident = f"{prefix}{line}"
        order = base + at
        try:
            item = json.loads(raw)
        except ValueError as e:
            msg = getattr(e, "msg", str(e))
            items.append(Item(line, ident, error=f"not valid JSON ({msg})", order=order))
            continue
        if not isinstance(item, dict):
            items.append(Item(line, ident, order=order,
                              error=f"expected a JSON object, got {type(item).__name__}"))
            continue
        if item.get("id") is not None:
            ident = str(item["id"])
        items.append(Item(line, ident, item.get("word"), item.get("context"), order=order))
    return items


def _read_json_columns(data, first_line, prefix, base):
    """:class:`Columns` of a block whose every line is a JSON object, parsed by Arrow's
    JSON reader; None when any line is blank, not an object or of a type the reader
    refuses."""
    import pyarrow.json as pj
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    if not lines:
        return None
    try:
        t = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(
            use_threads=False, block_size=max(len(data), 1 << 20)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if t.num_rows != lines or "context" not in t.column_names:
        return None
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    at = np.concatenate([[0], ends[:lines - 1] + 1]) + base
    col = (lambda name: t[name].combine_chunks() if name in t.column_names else None)
    return Columns(np.arange(first_line, first_line + lines, dtype=np.int64),
                   at.astype(np.int64), col("id"), col("word"), col("context"), prefix)


def _read_parquet(p, prefix, storage_options):
    try:
        with fsspec.open(p.url, "rb", **(storage_options or {})) as f:
            pf = pq.ParquetFile(f)
            names = set(pf.schema_arrow.names)
            if "context" not in names:
                raise InputError(f"{p.url}: no 'context' column (has {sorted(names)})")
            cols = [c for c in ("id", "word", "context") if c in names]
            t = pf.read_row_group(p.row_group, columns=cols)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{p.url}: cannot read row group {p.row_group} ({e})") from None
    n = t.num_rows
    rows = np.arange(p.first_row + 1, p.first_row + n + 1, dtype=np.int64)
    col = (lambda name: t[name].combine_chunks() if name in cols else None)
    ids = col("id")
    return Columns(rows, (p.file_no << 40) + p.first_row + np.arange(n, dtype=np.int64),
                   ids.cast(pa.string()) if ids is not None else None, col("word"),
                   col("context"), prefix)


def _table_bytes(table):
    from .storage import write_parquet
    buf = io.BytesIO()
    write_parquet(buf, table)
    return buf.getvalue()


class Output:
    """Where a batch's results go (see the module docstring).

    Parameters
    ----------
    url : str
        ``*.parquet`` for one file, else a directory.
    identity : dict
        What the parts depend on (input signature, run, method, settings): a rerun
        with the same identity resumes, a different one is refused.
    """

    MARK = "_batch.json"

    def __init__(self, url, identity, storage_options=None):
        self.url = url.rstrip("/")
        self.single = self.url.lower().endswith(".parquet")
        self.fs, self.path = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple)
                                else (self.fs.protocol,))
        self.parts_path = f"{self.path}.parts" if self.single else self.path
        self.identity = identity

    def part_url(self, index):
        return self.fs.unstrip_protocol(f"{self.parts_path}/part-{index:05d}.parquet")

    def prepare(self):
        """Check or write ``_batch.json``; returns the indices of parts already written."""
        mark = f"{self.parts_path}/{self.MARK}"
        try:
            if self.fs.exists(mark):
                with self.fs.open(mark, "rb") as f:
                    found = json.loads(f.read())
                if found != json.loads(json.dumps(self.identity)):
                    where = (f"{self.fs.unstrip_protocol(self.parts_path)} holds the "
                             "unfinished parts" if self.single else f"{self.url} holds the "
                             "output")
                    raise UsageError(
                        f"{where} of another batch (different input, run or settings in "
                        f"{self.MARK}); remove it or choose another --output")
            elif self.fs.exists(self.parts_path) and (
                    self.single or self.fs.ls(self.parts_path, detail=False)):
                raise UsageError(f"{self.url}: exists and is not a wsi assign output; "
                                 "remove it or choose another --output")
            else:
                self.fs.makedirs(self.parts_path, exist_ok=True)
                put_whole(self.fs, mark, json.dumps(self.identity, indent=1).encode(), self.local)
            done = set()
            for f in self.fs.ls(self.parts_path, detail=False):
                name = posixpath.basename(f)
                if name.endswith(".tmp"):  # left by a killed writer: never a part
                    self.fs.rm(f)
                if name.startswith("part-") and name.endswith(".parquet"):
                    done.add(int(name[5:10]))
            return done
        except OSError as e:
            raise StorageError(f"{self.url}: cannot prepare the output ({e})") from None

    def finish(self, n_parts):
        """Assemble the single file from the parts (streamed; appears at once), or leave
        the directory; returns the output URL."""
        if not self.single:
            return self.url
        tmp = f"{self.path}.{uuid.uuid4().hex[:8]}.tmp" if self.local else self.path
        try:
            with self.fs.open(tmp, "wb") as f, pq.ParquetWriter(f, SCHEMA) as writer:
                for i in range(n_parts):
                    with self.fs.open(f"{self.parts_path}/part-{i:05d}.parquet", "rb") as pf:
                        writer.write_table(pq.read_table(pf))
            if self.local:
                os.replace(tmp, self.path)
            self.fs.rm(self.parts_path, recursive=True)
        except OSError as e:
            if self.local and os.path.exists(tmp):
                os.unlink(tmp)
            raise StorageError(f"{self.url}: cannot write ({e})") from None
        return self.url


def write_part(url, table, storage_options=None):
    """Write one part whole (:func:`pipeline.storage.put_whole`)."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    put_whole(fs, path, _table_bytes(table), local)

class RowScores:
    """Each item's row of scores (one per sense or atom), set for a block of items at a
    time, so that no Python code runs per item."""

    def __init__(self, n):
        self.n = n
        self._blocks = []  # (items (m,), lengths (m,), values of their rows one after another)

    def set(self, items, block):
        """Rows of equal length: ``block`` (m, k) for ``items`` (m,)."""
        block = np.asarray(block, dtype=np.float32)
        self._blocks.append((np.asarray(items, dtype=np.int64),
                             np.full(len(block), block.shape[1], dtype=np.int64),
                             block.reshape(-1)))

    def set_ragged(self, items, lengths, values):
        """Rows of several lengths, one after another in ``values``."""
        self._blocks.append((np.asarray(items, dtype=np.int64),
                             np.asarray(lengths, dtype=np.int64),
                             np.asarray(values, dtype=np.float32)))

    def flat(self, keep):
        """(lengths (n,) int32, values float32) of the rows in item order; items not in
        ``keep`` (bool (n,)) get empty rows."""
        lengths = np.zeros(self.n, dtype=np.int64)
        for items, lens, _v in self._blocks:
            lengths[items] = lens
        lengths[~keep] = 0
        starts = np.cumsum(lengths) - lengths
        values = np.empty(int(lengths.sum()), dtype=np.float32)
        for items, lens, vals in self._blocks:
            src = np.cumsum(lens) - lens
            ok = keep[items]
            lens_ok = lens[ok]
            src_at = np.repeat(src[ok] - np.cumsum(lens_ok) + lens_ok, lens_ok)
            dst_at = np.repeat(starts[items[ok]] - np.cumsum(lens_ok) + lens_ok, lens_ok)
            j = np.arange(int(lens_ok.sum()))
            values[dst_at + j] = vals[src_at + j]
        return lengths.astype(np.int32), values


def rows_table(items, words, method, labels, scores, atoms, errors, *, best):
    """The output table (:data:`SCHEMA`) of assigned items: ``labels`` (n,) (-1: none,
    the reason in ``errors``), their :class:`RowScores` and per item its ``atoms``
    (arrays or lists); ``best`` "label" (score = the label's) or "max" (the highest)."""
    ok = labels >= 0
    lengths, flat = scores.flat(ok)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    top = np.zeros(len(lengths), dtype=np.float32)
    has = ok & (lengths > 0)
    if best == "max":
        top[has] = np.maximum.reduceat(flat, starts[:-1][has]) if has.any() else []
    else:
        top[has] = flat[starts[:-1][has] + labels[has]]
    n_atoms = np.fromiter(map(len, atoms), dtype=np.int32, count=len(atoms))
    flat_atoms = np.fromiter((a for row in atoms for a in row), dtype=np.int32,
                             count=int(n_atoms.sum()))
    return pa.table({
        "id": pa.array([it.id for it in items], type=pa.string()),
        "word": pa.array(words, type=pa.string()),
        "method": pa.array([method] * len(items), type=pa.string()),
        "sense": pa.array(labels, type=pa.int32(), mask=~ok),
        "score": pa.array(top, type=pa.float32(), mask=~has),
        "scores": pa.ListArray.from_arrays(pa.array(starts), pa.array(flat)),
        "atoms": pa.ListArray.from_arrays(
            pa.array(np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int32)),
            pa.array(flat_atoms)),
        "error": pa.array([None if o else (e or "no sense") for e, o in zip(errors, ok)],
                          type=pa.string()),
    }, schema=SCHEMA)
