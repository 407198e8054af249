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

__all__ = ["cooc_partial", "sum_partials", "merge_stacked", "balanced_cuts"]


def cooc_partial(ids, doc_offsets, *, n_words, window, sorted_columns=True, focus=None):
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
    sorted_columns : bool
        Sort each row's columns (canonical CSR). Sorting is about a quarter of
        the kernel's time; a caller that only feeds the result to
        :func:`merge_stacked`, which sorts its output anyway, can skip it.
    focus : ndarray of shape (n_words,), bool, optional
        Count only the entries (a, b) where ``focus[a]`` or ``focus[b]``: the
        pairs a word gains when it joins the vocabulary of an already counted
        corpus. Only windows around focus words are walked, and every kept
        entry is summed in the same order as without ``focus``, so it is
        bit-identical to the same entry of the full count.

    Returns
    -------
    counts : csr_array of shape (n_words, n_words), int64
    weighted : csr_array of shape (n_words, n_words), float64
        Both symmetric, without duplicates, with identical sparsity patterns;
        canonical (sorted indices) when ``sorted_columns``.
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
    if focus is None:
        focus = np.ones(n_words, np.bool_)
        restricted = False
    else:
        focus = np.ascontiguousarray(focus, dtype=np.bool_)
        if focus.shape != (n_words,):
            raise ValueError(f"focus must have shape ({n_words},), got {focus.shape}")
        restricted = True
    indptr, indices, counts, weighted = _cooc_csr(ids, doc_offsets, n_words, window,
                                                  sorted_columns, focus, restricted)
    return _pair(indptr, indices, counts, weighted, (n_words, n_words), sorted_columns)


def _pair(indptr, indices, counts, weighted, shape, canonical=True):
    """Two csr arrays sharing one sparsity pattern (no duplicates), without copies.

    scipy widens the column indices to the row pointers' dtype, so pointers
    become int32 whenever the entries fit (a copy of n_rows + 1 values instead
    of one of every index).
    """
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    c = sp.csr_array((counts, indices, indptr), shape=shape, copy=False)
    w = sp.csr_array((weighted, indices, indptr), shape=shape, copy=False)
    if canonical:
        c.has_canonical_format = w.has_canonical_format = True
    else:
        c.has_sorted_indices = w.has_sorted_indices = False
    return c, w


def merge_stacked(indptrs, indices, counts, weighted, data_offsets, n_cols):
    """Sum k CSR matrices of the same shape given in stacked form.

    One pass with a sparse accumulator per row (numba, releases the GIL), so
    k inputs cost O(total non-zeros) instead of the O(k x result) of adding
    them two at a time.

    Parameters
    ----------
    indptrs : ndarray of shape (k, n_rows + 1), int64
        Row pointers of each matrix, relative to its own entries.
    indices : ndarray of shape (total_nnz,), int32
    counts : ndarray of shape (total_nnz,), int64
    weighted : ndarray of shape (total_nnz,), float64
        The k matrices' entries, concatenated.
    data_offsets : ndarray of shape (k,), int64
        Where each matrix's entries start in the concatenated arrays.
    n_cols : int

    Returns
    -------
    (counts, weighted) : csr_array pair of shape (n_rows, n_cols), canonical,
        sharing one sparsity pattern; counts int64, weighted float64.
    """
    indptrs = np.ascontiguousarray(indptrs, dtype=np.int64)
    n_rows = indptrs.shape[1] - 1
    out = _merge(indptrs, np.ascontiguousarray(indices, dtype=np.int32),
                 np.ascontiguousarray(counts, dtype=np.int64),
                 np.ascontiguousarray(weighted, dtype=np.float64),
                 np.ascontiguousarray(data_offsets, dtype=np.int64), n_cols)
    return _pair(*out, (n_rows, n_cols))


def sum_partials(*partials):
    """Sum (counts, weighted) pairs of csr arrays; scipy adds canonical CSR in linear time."""
    counts, weighted = partials[0]
    for c, w in partials[1:]:
        counts = counts + c
        weighted = weighted + w
    return counts, weighted


def balanced_cuts(weights, n_parts):
    """Cut a sequence of non-negative weights into contiguous parts of similar total.

    Parameters
    ----------
    weights : ndarray of shape (n,)
        E.g. the number of entries a reduction will read per row (or per group
        of rows).
    n_parts : int
        Wanted number of parts; fewer come back when there are fewer
        non-empty positions to cut between.

    Returns
    -------
    bounds : ndarray of shape (n_parts' + 1,), int64, rising from 0 to n.
        Part i is ``weights[bounds[i]:bounds[i + 1]]``; no part is empty.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n = weights.size
    if n == 0:
        return np.array([0, 0], dtype=np.int64)
    n_parts = int(max(1, min(n_parts, n)))
    cum = np.cumsum(weights)
    if cum[-1] <= 0:
        cuts = np.linspace(0, n, n_parts + 1).round()
    else:
        targets = cum[-1] * np.arange(1, n_parts) / n_parts
        cuts = np.searchsorted(cum, targets, side="left") + 1
    return np.unique(np.clip(np.concatenate([[0], cuts, [n]]), 0, n)).astype(np.int64)


@numba.njit(cache=True, nogil=True)
def _cooc_csr(ids, doc_offsets, n_words, window, sort, focus, restricted):
    n_tokens = ids.size
    # Pad: `window` out-of-vocabulary sentinels before every document and after
    # the last, so windows never cross a document edge and need no bounds checks.
    n_docs = doc_offsets.size - 1
    padded = np.full(n_tokens + (n_docs + 1) * window, -1, np.int32)
    for d in range(n_docs):
        shift = (d + 1) * window
        for p in range(doc_offsets[d], doc_offsets[d + 1]):
            padded[p + shift] = ids[p]
    # Counting sort of in-vocabulary (padded) positions by word id.
    word_ptr = np.zeros(n_words + 1, np.int64)
    for p in range(n_tokens):
        if ids[p] >= 0:
            word_ptr[ids[p] + 1] += 1
    for a in range(n_words):
        word_ptr[a + 1] += word_ptr[a]
    fill = word_ptr[:-1].copy()
    positions = np.empty(word_ptr[n_words], np.int64)
    for p in range(padded.size):
        a = padded[p]
        if a >= 0:
            positions[fill[a]] = p
            fill[a] += 1
    # Restricted to focus words: mark the (padded) positions within a window of one.
    near = np.zeros(padded.size if restricted else 0, np.bool_)
    if restricted:
        for p in range(padded.size):
            if padded[p] >= 0 and focus[padded[p]]:
                near[p - window:p + window + 1] = True
    # Sparse accumulator, one row at a time.
    mark = np.full(n_words, -1, np.int32)
    acc_c = np.zeros(n_words, np.int64)
    acc_w = np.zeros(n_words, np.float64)
    touched = np.empty(n_words, np.int32)
    inv = np.zeros(window + 1, np.float64)
    for d in range(1, window + 1):
        inv[d] = 1.0 / d
    # Upper bound on the result: a row holds at most min(2 * window * count, n_words)
    # entries. Start from a fraction of it (real text repeats neighbours) and grow.
    bound = 0
    for a in range(n_words):
        bound += min(2 * window * (word_ptr[a + 1] - word_ptr[a]), n_words)
    cap = max(16, min(bound, 6 * n_tokens))
    out_idx = np.empty(cap, np.int32)
    out_c = np.empty(cap, np.int64)
    out_w = np.empty(cap, np.float64)
    indptr = np.zeros(n_words + 1, np.int64)
    nnz = 0
    for a in range(n_words):
        n_touched = 0
        every = focus[a]  # else only pairs with a focus word, near one
        for k in range(word_ptr[a], word_ptr[a + 1]):
            p = positions[k]
            if not every and not near[p]:
                continue
            for d in range(-window, window + 1):
                b = padded[p + d]
                if b < 0 or d == 0 or not (every or focus[b]):
                    continue
                if mark[b] != a:
                    mark[b] = a
                    acc_c[b] = 0
                    acc_w[b] = 0.0
                    touched[n_touched] = b
                    n_touched += 1
                acc_c[b] += 1
                acc_w[b] += inv[abs(d)]
        if nnz + n_touched > cap:
            cap = min(bound, max(cap + cap // 2, nnz + n_touched))
            out_idx = _grow(out_idx, cap)
            out_c = _grow(out_c, cap)
            out_w = _grow(out_w, cap)
        nnz = _emit_row(a, n_touched, touched, mark, acc_c, acc_w, out_idx, out_c, out_w, nnz,
                        sort)
        indptr[a + 1] = nnz
    return indptr, out_idx[:nnz], out_c[:nnz], out_w[:nnz]


@numba.njit(cache=True, nogil=True)
def _emit_row(row, n_touched, touched, mark, acc_c, acc_w, out_idx, out_c, out_w, nnz, sort):
    """Append one accumulated row, in column order if ``sort``; returns the new nnz.

    Few touched columns are sorted; many are gathered by a scan over the
    marks, which costs O(n_cols) and beats sorting once the row is dense.
    """
    n_cols = mark.size
    if not sort or n_touched * 64 < n_cols:
        cols = np.sort(touched[:n_touched]) if sort else touched[:n_touched]
        for t in range(n_touched):
            b = cols[t]
            out_idx[nnz] = b
            out_c[nnz] = acc_c[b]
            out_w[nnz] = acc_w[b]
            nnz += 1
    else:
        for b in range(n_cols):
            if mark[b] == row:
                out_idx[nnz] = b
                out_c[nnz] = acc_c[b]
                out_w[nnz] = acc_w[b]
                nnz += 1
    return nnz


# Index of the lowest set bit of a 64-bit word from its isolated bit (de Bruijn sequence).
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_LOWEST_BIT = np.array([0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59,
                        36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5, 63, 47, 56, 27, 60, 41,
                        37, 16, 54, 35, 52, 21, 44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10,
                        25, 14, 19, 9, 13, 8, 7, 6], np.int64)


@numba.njit(cache=True, inline="always")
def _bit_index(bit):
    """Index of the one set bit of a uint64."""
    return _LOWEST_BIT[(bit * _DEBRUIJN) >> np.uint64(58)]


@numba.njit(cache=True, nogil=True)
def _merge(indptrs, indices, counts, weighted, data_offsets, n_cols):
    # A row's columns are marked in a bitset with a summary level (a bit per non-zero
    # word), read back in column order: no sort, and a row costs O(n_cols / 4096 + its
    # entries). Twice as fast as collecting touched columns and sorting them.
    k = indptrs.shape[0]
    n_rows = indptrs.shape[1] - 1
    total = 0
    for i in range(k):
        total += indptrs[i, n_rows] - indptrs[i, 0]
    n_words = (n_cols + 63) >> 6
    bits = np.zeros(n_words, np.uint64)
    summary = np.zeros((n_words + 63) >> 6, np.uint64)
    acc_c = np.zeros(n_cols, np.int64)
    acc_w = np.zeros(n_cols, np.float64)
    out_idx = np.empty(total, np.int32)
    out_c = np.empty(total, np.int64)
    out_w = np.empty(total, np.float64)
    indptr = np.zeros(n_rows + 1, np.int64)
    one = np.uint64(1)
    nnz = 0
    for r in range(n_rows):
        for i in range(k):
            base = data_offsets[i]
            for p in range(base + indptrs[i, r], base + indptrs[i, r + 1]):
                b = indices[p]
                acc_c[b] += counts[p]
                acc_w[b] += weighted[p]
                w = b >> 6
                bits[w] |= one << np.uint64(b & 63)
                summary[w >> 6] |= one << np.uint64(w & 63)
        for s in range(summary.size):
            words = summary[s]
            summary[s] = 0
            while words:
                low = words & (~words + one)
                words ^= low
                w = s * 64 + _bit_index(low)
                x = bits[w]
                bits[w] = 0
                while x:
                    low = x & (~x + one)
                    x ^= low
                    b = w * 64 + _bit_index(low)
                    out_idx[nnz] = b
                    out_c[nnz] = acc_c[b]
                    out_w[nnz] = acc_w[b]
                    acc_c[b] = 0
                    acc_w[b] = 0.0
                    nnz += 1
        indptr[r + 1] = nnz
    return indptr, out_idx[:nnz], out_c[:nnz], out_w[:nnz]


@numba.njit(cache=True, nogil=True)
def _grow(arr, cap):
    out = np.empty(cap, arr.dtype)
    out[: arr.size] = arr
    return out
