"""Windowed co-occurrence counting on one partition of token ids.

The count matrix C (n_words, n_words) holds, for every ordered pair of
positions (i, j) in the same document with 0 < |i - j| <= window, one count at
C[token_i, token_j]; the weighted matrix adds 1 / |i - j| instead (GloVe's
harmonic weighting). Positions whose token is outside the vocabulary (id -1)
keep their place in the window but add nothing.

The kernel avoids materialising the pair list: it groups positions by word
with a counting sort (O(n_tokens)), then for each word walks the windows
around its positions and accumulates into a dense scratch row (a sparse
accumulator, as in Gustavson's sparse product). Memory is O(n_tokens +
n_words + nnz of the result), and the output is already in canonical CSR form
(rows in order, sorted unique columns), so partial results add with scipy's
linear-time ``+``.
"""
from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

__all__ = ["cooc_partial", "sum_partials", "row_blocks", "split_rows"]


def cooc_partial(ids, doc_offsets, *, n_words, window):
    """Co-occurrence counts of one partition.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
        Vocabulary id of each token, -1 for a token outside the vocabulary.
    doc_offsets : ndarray of shape (n_docs + 1,), int
        Start of each document in ``ids``; the last entry is ``n_tokens``.
    n_words : int
        Vocabulary size (the matrices are n_words x n_words).
    window : int
        Largest distance |i - j| counted (>= 1).

    Returns
    -------
    counts : csr_array of shape (n_words, n_words), int64
    weighted : csr_array of shape (n_words, n_words), float64
        Both symmetric, canonical (sorted indices, no duplicates) and with
        identical sparsity patterns.
    """
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    doc_offsets = np.ascontiguousarray(doc_offsets, dtype=np.int64)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if doc_offsets.ndim != 1 or doc_offsets.size < 1 or doc_offsets[0] != 0 \
            or doc_offsets[-1] != ids.size or np.any(np.diff(doc_offsets) < 0):
        raise ValueError("doc_offsets must rise from 0 to len(ids)")
    if ids.size and (ids.max(initial=-1) >= n_words or ids.min(initial=0) < -1):
        raise ValueError(f"ids must lie in [-1, {n_words})")
    indptr, indices, counts, weighted = _cooc_csr(ids, doc_offsets, n_words, window)
    shape = (n_words, n_words)
    c = sp.csr_array((counts, indices, indptr), shape=shape)
    w = sp.csr_array((weighted, indices.copy(), indptr.copy()), shape=shape)
    c.has_canonical_format = w.has_canonical_format = True
    return c, w


def sum_partials(*partials):
    """Sum (counts, weighted) pairs of csr arrays; scipy adds canonical CSR in linear time."""
    counts, weighted = partials[0]
    for c, w in partials[1:]:
        counts = counts + c
        weighted = weighted + w
    return counts, weighted


def row_blocks(word_counts, *, window, block_nnz):
    """Row boundaries that split the matrix into blocks of similar expected size.

    A word's row holds at most min(2 * window * count, n_words) non-zeros; the
    boundaries balance that estimate so each block's reduction costs about the
    same.

    Parameters
    ----------
    word_counts : ndarray of shape (n_words,)
    window, block_nnz : int

    Returns
    -------
    bounds : ndarray of shape (n_blocks + 1,), int64, from 0 to n_words.
    """
    n_words = len(word_counts)
    if n_words == 0:
        return np.array([0, 0], dtype=np.int64)
    est = np.minimum(2 * window * np.asarray(word_counts, dtype=np.float64), n_words)
    cum = np.cumsum(est)
    n_blocks = int(max(1, min(n_words, np.ceil(cum[-1] / block_nnz))))
    # A block ends after the last row whose cumulative estimate stays within its share.
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_blocks) / n_blocks, side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [n_words]])).astype(np.int64)
    return bounds


def split_rows(counts, weighted, bounds):
    """Slice a (counts, weighted) pair into the row blocks given by ``bounds``."""
    return tuple(
        (counts[lo:hi], weighted[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])
    )


@numba.njit(cache=True, nogil=True)
def _cooc_csr(ids, doc_offsets, n_words, window):
    n_tokens = ids.size
    # Document bounds per position.
    doc_start = np.empty(n_tokens, np.int32)
    doc_end = np.empty(n_tokens, np.int32)
    for d in range(doc_offsets.size - 1):
        for p in range(doc_offsets[d], doc_offsets[d + 1]):
            doc_start[p] = doc_offsets[d]
            doc_end[p] = doc_offsets[d + 1]
    # Counting sort of in-vocabulary positions by word id.
    word_ptr = np.zeros(n_words + 1, np.int64)
    for p in range(n_tokens):
        if ids[p] >= 0:
            word_ptr[ids[p] + 1] += 1
    for a in range(n_words):
        word_ptr[a + 1] += word_ptr[a]
    fill = word_ptr[:-1].copy()
    positions = np.empty(word_ptr[n_words], np.int32)
    for p in range(n_tokens):
        a = ids[p]
        if a >= 0:
            positions[fill[a]] = p
            fill[a] += 1
    # Sparse accumulator, one row at a time.
    mark = np.full(n_words, -1, np.int32)
    acc_c = np.zeros(n_words, np.int32)
    acc_w = np.zeros(n_words, np.float64)
    touched = np.empty(n_words, np.int32)
    cap = max(16, 2 * n_tokens)
    out_idx = np.empty(cap, np.int32)
    out_c = np.empty(cap, np.int64)
    out_w = np.empty(cap, np.float64)
    indptr = np.zeros(n_words + 1, np.int64)
    nnz = 0
    for a in range(n_words):
        n_touched = 0
        for k in range(word_ptr[a], word_ptr[a + 1]):
            p = positions[k]
            lo = max(doc_start[p], p - window)
            hi = min(doc_end[p], p + window + 1)
            for q in range(lo, hi):
                b = ids[q]
                if q == p or b < 0:
                    continue
                if mark[b] != a:
                    mark[b] = a
                    acc_c[b] = 0
                    acc_w[b] = 0.0
                    touched[n_touched] = b
                    n_touched += 1
                acc_c[b] += 1
                acc_w[b] += 1.0 / abs(q - p)
        if nnz + n_touched > cap:
            cap = max(2 * cap, nnz + n_touched)
            out_idx = _grow(out_idx, cap)
            out_c = _grow(out_c, cap)
            out_w = _grow(out_w, cap)
        cols = np.sort(touched[:n_touched])
        for t in range(n_touched):
            b = cols[t]
            out_idx[nnz] = b
            out_c[nnz] = acc_c[b]
            out_w[nnz] = acc_w[b]
            nnz += 1
        indptr[a + 1] = nnz
    return indptr, out_idx[:nnz].copy(), out_c[:nnz].copy(), out_w[:nnz].copy()


@numba.njit(cache=True, nogil=True)
def _grow(arr, cap):
    out = np.empty(cap, arr.dtype)
    out[: arr.size] = arr
    return out
