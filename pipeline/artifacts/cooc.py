"""The co-occurrence artifact: its Parquet parts and the raw CSR work files.

``cooc/part-RRRRR.parquet`` hold ``row: int32, col: int32, count: int64,
weighted: float64``, one row per non-zero, sorted by (row, col), parts in
row order; ``cooc/_state.json`` records the vocabulary and the shards they
sum over (for incremental runs). The CSR work files (:func:`save_csr`) hold
a shard's partial matrix (or an earlier run's part, relabelled) while the stage runs.
"""
from __future__ import annotations

import struct

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from ..storage import to_url

__all__ = ["COOC_SCHEMA", "STATE_NAME", "save_csr", "load_rows", "part_urls", "read_parts"]

COOC_SCHEMA = pa.schema([("row", pa.int32()), ("col", pa.int32()), ("count", pa.int64()),
                         ("weighted", pa.float64())])


STATE_NAME = "_state.json"  # in cooc/: what the parts cover, for incremental runs
_MAGIC = b"WSICSR3\n"
# magic, n_rows, n_cols, nnz, bytes per count, bytes per weight
_HEADER = struct.Struct("<8sqqqqq")
_INT = {4: np.int32, 8: np.int64}
_FLOAT = {4: np.float32, 8: np.float64}


def save_csr(url, indptr, indices, counts, weighted, n_cols, exact=True):
    """Write a whole (counts, weighted) CSR pair as one raw binary file.

    Layout: header, indptr int64[n_rows + 1], indices int32[nnz], counts
    int32 or int64[nnz], weighted float32 or float64[nnz]. Any row range can
    be read back with a few seeks (:func:`load_rows`), so a shard's partial is
    written once and each row block reads only its part. Counts are stored
    in 4 bytes when they fit (always exact); weights in 4 bytes unless
    ``exact`` (a shard's partial: float32 keeps 7 digits of a shard's sums,
    and the float64 sums of such values are exact, see above), which halves
    the bytes written and read.
    """
    n_rows = len(indptr) - 1
    base = int(indptr[0])
    nnz = int(indptr[-1]) - base
    counts = counts[base:base + nnz]
    c_bytes = 4 if nnz == 0 or counts.max() <= np.iinfo(np.int32).max else 8
    w_bytes = 8 if exact else 4
    with fsspec.open(url, "wb") as f:
        f.write(_HEADER.pack(_MAGIC, n_rows, n_cols, nnz, c_bytes, w_bytes))
        for arr, dtype in ((np.asarray(indptr) - base, np.int64),
                           (indices[base:base + nnz], np.int32),
                           (counts, _INT[c_bytes]),
                           (weighted[base:base + nnz], _FLOAT[w_bytes])):
            f.write(memoryview(np.ascontiguousarray(arr, dtype=dtype)))
    return url


def _read_into(f, arr, offset):
    f.seek(offset)
    view = memoryview(arr).cast("B")
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            raise EOFError("file is truncated")
        got += n
    return arr


def load_rows(url, lo, hi):
    """Rows [lo, hi) of a file written by :func:`save_csr`.

    Returns (indptr from 0, indices, counts, weighted, n_cols) with counts
    and weights in the dtypes stored.
    """
    try:
        with fsspec.open(url, "rb") as f:
            magic, n_rows, n_cols, nnz, c_bytes, w_bytes = _HEADER.unpack(
                f.read(_HEADER.size))
            if magic != _MAGIC or c_bytes not in _INT or w_bytes not in _FLOAT \
                    or not 0 <= lo <= hi <= n_rows:
                raise ValueError("not a co-occurrence block file or rows out of range")
            ptr_at = _HEADER.size
            indptr = _read_into(f, np.empty(hi - lo + 1, np.int64), ptr_at + 8 * lo)
            p0, p1 = int(indptr[0]), int(indptr[-1])
            idx_at = ptr_at + 8 * (n_rows + 1)
            cnt_at = idx_at + 4 * nnz
            wgt_at = cnt_at + c_bytes * nnz
            indices = _read_into(f, np.empty(p1 - p0, np.int32), idx_at + 4 * p0)
            counts = _read_into(f, np.empty(p1 - p0, _INT[c_bytes]), cnt_at + c_bytes * p0)
            weighted = _read_into(f, np.empty(p1 - p0, _FLOAT[w_bytes]),
                                  wgt_at + w_bytes * p0)
    except (OSError, ValueError, EOFError, struct.error) as e:
        raise InputError(f"{url}: unreadable intermediate co-occurrence file ({e})") from None
    return indptr - p0, indices, counts, weighted, n_cols


def part_urls(fs, cooc_dir):
    """URLs of the co-occurrence parts in row order."""
    paths = sorted(fs.glob(cooc_dir + "/part-*.parquet"))
    if not paths:
        raise InputError(f"{to_url(fs, cooc_dir)}: no co-occurrence parts (rerun the cooc "
                         "stage with --force)")
    return [to_url(fs, p) for p in paths]


def read_parts(urls, columns):
    """The named columns of co-occurrence parts, concatenated (one Arrow table)."""
    parts = []
    for url in urls:
        try:
            with fsspec.open(url, "rb") as f:
                parts.append(pq.ParquetFile(f).read(columns=columns))
        except (OSError, pa.ArrowInvalid) as e:
            raise InputError(f"{url}: unreadable co-occurrence part ({e})") from None
    return pa.concat_tables(parts)
