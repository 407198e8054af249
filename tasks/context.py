"""SIF-weighted context vectors (Arora et al. 2018, Theorem 2; Arora, Liang & Ma 2017).

The average context vector of a word w over all its occurrences and all
context tokens within the window (same document, having a vector) is

    u_w = sum_w' C[w, w'] s(w') v_w'  /  sum_w' C[w, w']      (w' with a vector)

with SIF weights s(w) = a / (a + p(w)), p(w) = count(w) / total tokens. The
co-occurrence matrix C already sums the occurrences, so u is one sparse ×
dense product per row block instead of a pass over every token.
"""
from __future__ import annotations

import numba
import numpy as np

from . import _checks

__all__ = ["sif_weights", "sif_weighted_vectors", "context_block", "load_kernel", "common_components",
           "gram_components", "remove_components", "occurrence_context"]


def sif_weights(counts, total_tokens, *, a=1e-3):
    """s(w) = a / (a + count(w) / total_tokens).

    Parameters
    ----------
    counts : ndarray of shape (V,)
    total_tokens : int
        All corpus tokens, in or out of the vocabulary.
    a : float

    Returns
    -------
    weights : ndarray of shape (V,), float64
    """
    a = _checks.real(a, "a", lo=0.0, lo_open=True)
    total = _checks.real(total_tokens, "total_tokens", lo=0.0, lo_open=True)
    counts = np.asarray(counts, dtype=np.float64)
    if np.any(counts < 0):
        raise ValueError("counts must be >= 0")
    return a / (a + counts / total)


def sif_weighted_vectors(vectors, ids, counts, total_tokens, *, a, dtype=np.float64):
    """s(w) v_w for every vocabulary word, zero for words without a vector.

    Parameters
    ----------
    vectors : ndarray of shape (n_rows, n_dims)
        The vectors of vocabulary words ``ids``.
    ids : ndarray of int, shape (n_rows,)
    counts : ndarray of shape (n_words,)
        Vocabulary counts (ids index it).
    total_tokens : int
    a : float
        The SIF constant (:func:`sif_weights`).
    dtype : numpy dtype
        Of the product (float32 halves the memory of a large vocabulary).

    Returns
    -------
    weighted : ndarray of shape (n_words, n_dims)
    has_vector : ndarray of bool, shape (n_words,)
    """
    ids = np.asarray(ids)
    n_words = len(counts)
    s = sif_weights(counts, total_tokens, a=a)[ids].astype(dtype)[:, None]
    has_vector = np.zeros(n_words, dtype=bool)
    has_vector[ids] = True
    if np.array_equal(ids, np.arange(n_words)):  # every word has a vector: no scatter
        return np.multiply(np.asarray(vectors, dtype=dtype), s), has_vector
    weighted = np.zeros((n_words, np.shape(vectors)[1]), dtype=dtype)
    weighted[ids] = np.asarray(vectors, dtype=dtype) * s
    return weighted, has_vector


def context_block(rows, cols, counts, weighted_vectors, has_vector, *, row_start, n_rows):
    """Average context vectors of one row block of C (rows sorted ascending).

    Parameters
    ----------
    rows, cols : ndarray of shape (nnz,), int
        Global ids, ``rows`` sorted ascending; every row in
        [row_start, row_start + n_rows).
    counts : ndarray of shape (nnz,)
        C[row, col].
    weighted_vectors : ndarray of shape (V, d), float32 or float64
        s(w') v_w' for words with a vector, zero rows for the others.
    has_vector : ndarray of shape (V,), bool
    row_start, n_rows : int

    Returns
    -------
    u : ndarray of shape (n_rows, d), float32
        sum_w' C[w, w'] s(w') v_w' / sum_w' C[w, w'] (float64 sums of float32
        runs, see ``_RUN``); zero rows where the denominator is 0.
    weights : ndarray of shape (n_rows,), float64
        sum_w' C[w, w'] over context words with a vector (the number of
        occurrence-context pairs averaged).
    """
    rows = np.asarray(rows)
    if len(rows) and (rows.min() < row_start or rows.max() >= row_start + n_rows):
        raise ValueError("rows outside [row_start, row_start + n_rows)")
    if len(rows) > 1 and np.any(rows[1:] < rows[:-1]):
        raise ValueError("rows must be sorted ascending")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows - row_start, minlength=n_rows), out=indptr[1:])
    w = np.asarray(weighted_vectors)
    if w.dtype not in (np.float32, np.float64):
        w = w.astype(np.float64)
    u = np.zeros((n_rows, w.shape[1]), dtype=np.float32)
    weights = np.zeros(n_rows)
    _average_rows(indptr, np.asarray(cols), np.asarray(counts), np.ascontiguousarray(w),
                  np.asarray(has_vector, dtype=np.bool_), u, weights)
    return u, weights


def load_kernel():
    """Compile (or load from numba's cache) the kernel of :func:`context_block` now.

    A first call pays this (~0.2 s); a caller can start it in a thread while
    it reads its inputs.
    """
    context_block(np.zeros(1, np.int32), np.zeros(1, np.int32), np.ones(1, np.int64),
                  np.ones((1, 1), np.float32), np.ones(1, bool), row_start=0, n_rows=1)


# Products of one row are summed in float32 over runs of this many entries
# (vectorises twice as wide as float64), the runs in float64: the result is
# as exact as a float64 sum to float32 rounding, 1.5x faster.
_RUN = 16
# Cache blocking: rows are taken _ROWS at a time (their float64 sums, 0.6 MB
# at d=300, stay in L2) and their entries in column ranges of _COLS (1.2 MB of
# float32 vectors): gathering vector rows from memory, not the arithmetic,
# bounds the product, and the blocking makes it ~1.5x faster on 2 threads.
_ROWS, _COLS = 256, 1024


@numba.njit(cache=True, nogil=True)
def _average_rows(indptr, cols, counts, w, has, u, weights):
    # One pass over the sorted CSR rows per tile; holds no GIL, so Dask threads
    # run row blocks side by side.
    n = len(indptr) - 1
    n_cols, d = w.shape
    cast = w.dtype.type
    ptr = indptr[:-1].copy()
    acc = np.empty((_ROWS, d))
    part = np.empty(d, dtype=w.dtype)  # float32 for float32 vectors
    for r in range(n):
        total = 0.0
        for j in range(indptr[r], indptr[r + 1]):
            if has[cols[j]]:
                total += counts[j]
        weights[r] = total
    for r0 in range(0, n, _ROWS):
        r1 = min(n, r0 + _ROWS)
        acc[:] = 0.0
        for c1 in range(_COLS, n_cols + _COLS, _COLS):
            for r in range(r0, r1):
                j, end = ptr[r], indptr[r + 1]
                if j >= end or cols[j] >= c1:
                    continue
                stop_col = j + np.searchsorted(cols[j:end], c1)  # entries of this tile
                a = acc[r - r0]
                while j < stop_col:
                    stop = min(j + _RUN, stop_col)
                    part[:] = 0.0
                    jj = j
                    while jj + 4 <= stop:
                        c0, c1_, c2, c3 = cols[jj], cols[jj + 1], cols[jj + 2], cols[jj + 3]
                        k0, k1 = cast(counts[jj]), cast(counts[jj + 1])
                        k2, k3 = cast(counts[jj + 2]), cast(counts[jj + 3])
                        for t in range(d):
                            part[t] += (k0 * w[c0, t] + k1 * w[c1_, t]) + \
                                (k2 * w[c2, t] + k3 * w[c3, t])
                        jj += 4
                    while jj < stop:
                        c0, k0 = cols[jj], cast(counts[jj])
                        for t in range(d):
                            part[t] += k0 * w[c0, t]
                        jj += 1
                    for t in range(d):
                        a[t] += part[t]
                    j = stop
                ptr[r] = j
        for r in range(r0, r1):
            if weights[r] > 0.0:
                for t in range(d):
                    u[r, t] = acc[r - r0, t] / weights[r]


def common_components(u, n):
    """The first ``n`` principal directions of the rows of ``u`` (uncentred, as SIF).

    Parameters
    ----------
    u : ndarray of shape (m, d)
    n : int, >= 0

    Returns
    -------
    components : ndarray of shape (n, d), float64, orthonormal rows
    """
    n = _checks.integer(n, "n", lo=0)
    u = np.asarray(u, dtype=np.float64)
    if n > min(u.shape):
        raise ValueError(f"cannot take {n} components of a {u.shape} matrix")
    return gram_components(u.T @ u, n)


def gram_components(gram, n):
    """:func:`common_components` from the Gram matrix ``u.T @ u`` (shape (d, d)).

    The top eigenvectors of the Gram matrix are the right singular vectors of
    u, without an SVD of the (m, d) matrix; the Gram matrix of stacked row
    blocks is the sum of the blocks' Gram matrices. Each direction's sign makes
    its largest entry positive.
    """
    n = _checks.integer(n, "n", lo=0)
    gram = np.asarray(gram, dtype=np.float64)
    if n > gram.shape[0]:
        raise ValueError(f"cannot take {n} components of {gram.shape[0]} dimensions")
    if n == 0:
        return np.zeros((0, gram.shape[0]))
    vals, vecs = np.linalg.eigh(gram)
    top = vecs[:, np.argsort(vals)[::-1][:n]].T
    return top * np.where(top[np.arange(n), np.argmax(np.abs(top), axis=1)] < 0, -1.0, 1.0)[:, None]


def remove_components(u, components):
    """u minus its projection on the (orthonormal) ``components``: shape of ``u``."""
    u = np.asarray(u, dtype=np.float64)
    if len(components) == 0:
        return u.copy()
    return u - (u @ components.T) @ components


def occurrence_context(tokens, position, index, weighted_vectors, *, window):
    """The same average for one occurrence: context tokens within ``window`` of ``position``.

    Parameters
    ----------
    tokens : sequence of str
        One document.
    position : int
        Index of the target occurrence in ``tokens``.
    index : dict str -> int
        Vocabulary ids of words that have a vector.
    weighted_vectors : ndarray of shape (V, d)
    window : int

    Returns
    -------
    vector : ndarray of shape (d,), float64, or None when no context token has a vector.
    """
    lo, hi = max(0, position - window), min(len(tokens), position + window + 1)
    ids = [index[t] for k, t in enumerate(tokens[lo:hi], start=lo)
           if k != position and t in index]
    if not ids:
        return None
    return np.asarray(weighted_vectors, dtype=np.float64)[ids].mean(axis=0)
