"""Shifted positive PMI and its truncated SVD (Levy, Goldberg & Dagan, TACL 2015).

PMI with context-distribution smoothing (cds) of exponent ``a``::

    P(w, c)   = #(w, c) / total
    P(w)      = #w / total
    P_a(c)    = #c^a / sum_c' #c'^a
    PMI(w, c) = log( P(w, c) / (P(w) P_a(c)) )
    SPPMI     = max(PMI - log(shift), 0)        (shift = k of SGNS; 1: plain PPMI)

Pairs never seen (#(w, c) = 0) have PMI = -inf and SPPMI = 0; zeros are not stored.

The matrix is produced as row blocks so that a Dask graph can map over them
(:func:`ppmi_block` builds one block of rows); the embed stage factorises the
blocks with ``dask.array``'s randomized SVD (``svd_compressed``), and
:func:`svd_vectors` turns the factors into word vectors.

Public functions
----------------
- ``context_distribution(col_sums, cds=0.75)`` -> float64 (n_cols,)
- ``ppmi_block(rows, cols, counts, row_sums, context_p, total, *, shift, row_start, n_rows, n_cols)``
  -> csr_array float32 (n_rows, n_cols)
- ``svd_vectors(U, S, Vt=None, *, eig=0.5, add_context=False)`` -> float32 (V, k)
"""
from __future__ import annotations


import numpy as np
import scipy.sparse as sp

from . import _checks
from .linalg import unit_rows

__all__ = ["context_distribution", "ppmi_block", "svd_vectors"]


# --------------------------------------------------------------------------- PPMI


def context_distribution(col_sums, cds=0.75):
    """Smoothed context distribution P_cds(c) = #c^cds / sum_c' #c'^cds.

    Parameters
    ----------
    col_sums : ndarray of shape (n_cols,), real
        Count of each context (column sums of the co-occurrence counts), finite,
        >= 0, not all 0.
    cds : float, default 0.75
        Smoothing exponent (> 0); 1 gives the unsmoothed distribution.

    Returns
    -------
    p : ndarray of shape (n_cols,), float64
        Sums to 1; 0 exactly where ``col_sums`` is 0.
    """
    col_sums = np.asarray(col_sums)
    if col_sums.ndim != 1:
        raise ValueError(f"col_sums must be 1-D, got shape {col_sums.shape}")
    col_sums = _real_array(col_sums, "col_sums")
    if not np.all(np.isfinite(col_sums)) or np.any(col_sums < 0):
        raise ValueError("col_sums must be finite and >= 0")
    cds = _checks.real(cds, "cds", lo=0.0, lo_open=True)
    powered = col_sums ** cds
    z = powered.sum()
    if not z > 0:
        raise ValueError("col_sums are all 0: no context distribution")
    return powered / z


def ppmi_block(rows, cols, counts, row_sums, context_p, total, *, shift=1.0, row_start=0,
               n_rows=None, n_cols):
    """Shifted positive PMI of the rows [row_start, row_start + n_rows).

    Parameters
    ----------
    rows, cols : ndarray of shape (nnz_b,), integer
        Global row (word) and column (context) ids of the block's co-occurrence
        entries; every row must lie in the block, every column in [0, n_cols).
        Duplicated (row, col) pairs are summed before the PMI is taken.
    counts : ndarray of shape (nnz_b,), real
        Co-occurrence counts #(w, c), finite, >= 0 (zeros are ignored).
    row_sums : ndarray of shape (n_words,), real
        #w of every word, indexed by global row id (the whole vector, not just
        the block's part). Must be > 0 for every row that has a positive count.
    context_p : ndarray of shape (n_cols,), float
        P_cds(c), from :func:`context_distribution`. Must be > 0 for every
        column that has a positive count.
    total : float
        Total count (> 0), the denominator of P(w, c) and P(w). (With
        ``row_sums`` taken from the same counts it cancels out of the PMI.)
    shift : float, default 1.0
        k of SGNS (>= 1); log(shift) is subtracted before clipping at 0.
    row_start : int, default 0
        Global id of the block's first row (>= 0).
    n_rows : int or None, default None
        Number of rows in the block (>= 0); None means up to the end of
        ``row_sums`` (``len(row_sums) - row_start``).
    n_cols : int
        Number of columns (>= 1), equal to ``len(context_p)``.

    Returns
    -------
    block : csr_array of shape (n_rows, n_cols), float32
        Canonical (sorted, unique column indices), only positive values stored.
        Row r of the block is global row ``row_start + r``.
    """
    n_cols = _checks.integer(n_cols, "n_cols", lo=1)
    row_start = _checks.integer(row_start, "row_start", lo=0)
    shift = _checks.real(shift, "shift", lo=1.0, lo_open=False)
    total = _checks.real(total, "total", lo=0.0, lo_open=True)
    row_sums = np.asarray(row_sums)
    if row_sums.ndim != 1:
        raise ValueError(f"row_sums must be 1-D, got shape {row_sums.shape}")
    row_sums = _real_array(row_sums, "row_sums")
    context_p = _real_array(np.asarray(context_p), "context_p")
    if context_p.shape != (n_cols,):
        raise ValueError(f"context_p must have shape (n_cols,) = ({n_cols},), "
                         f"got {context_p.shape}")
    if n_rows is None:
        n_rows = row_sums.size - row_start
    n_rows = _checks.integer(n_rows, "n_rows", lo=0)
    if row_start + n_rows > row_sums.size:
        raise ValueError(f"block rows [{row_start}, {row_start + n_rows}) exceed "
                         f"len(row_sums) = {row_sums.size}")
    rows, cols, counts = (np.asarray(a) for a in (rows, cols, counts))
    if rows.ndim != 1 or cols.ndim != 1 or counts.ndim != 1:
        raise ValueError("rows, cols and counts must be 1-D arrays")
    if not (rows.size == cols.size == counts.size):
        raise ValueError(f"rows, cols and counts must have the same length, got "
                         f"{rows.size}, {cols.size}, {counts.size}")
    _check_ids(rows, "rows", row_start, row_start + n_rows)
    _check_ids(cols, "cols", 0, n_cols)
    counts = _real_array(counts, "counts")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("counts must be finite and >= 0")

    keep = counts > 0
    if not keep.all():
        rows, cols, counts = rows[keep], cols[keep], counts[keep]
    local = rows.astype(np.int64) - row_start
    m = sp.coo_array((counts, (local, cols.astype(np.int64))),
                     shape=(n_rows, n_cols)).tocsr()   # sums duplicates, sorts columns
    m.sum_duplicates()
    if m.nnz == 0:
        return sp.csr_array((n_rows, n_cols), dtype=np.float32)
    r = np.repeat(np.arange(n_rows), np.diff(m.indptr))
    pw = row_sums[row_start + r] / total
    pc = context_p[m.indices]
    if np.any(pw <= 0) or not np.all(np.isfinite(pw)):
        bad = row_start + r[(pw <= 0) | ~np.isfinite(pw)][0]
        raise ValueError(f"row_sums must be finite and > 0 where a row has counts "
                         f"(row {bad} has row_sum {row_sums[bad]})")
    if np.any(pc <= 0) or not np.all(np.isfinite(pc)):
        bad = m.indices[(pc <= 0) | ~np.isfinite(pc)][0]
        raise ValueError(f"context_p must be finite and > 0 where a column has counts "
                         f"(column {bad} has context_p {context_p[bad]})")
    pmi = np.log((m.data / total) / (pw * pc)) - np.log(shift)
    data = np.maximum(pmi, 0.0).astype(np.float32)
    out = sp.csr_array((data, m.indices.copy(), m.indptr.copy()), shape=(n_rows, n_cols))
    out.eliminate_zeros()
    out.has_canonical_format = True
    return out


def svd_vectors(U, S, Vt=None, *, eig=0.5, add_context=False, normalize_parts=False):
    """Word vectors from a truncated SVD: W = U S^eig, optionally plus C = V S^eig.

    Parameters
    ----------
    U : ndarray of shape (V, k)
    S : ndarray of shape (k,), >= 0
    Vt : ndarray of shape (k, V) or None, default None
        Needed (and must have V columns) when ``add_context``.
    eig : float, default 0.5
        Exponent of the singular values (finite; 0 drops them, 1 gives U S).
    add_context : bool, default False
        Return W + Vt.T S^eig (Levy et al.'s w + c).
    normalize_parts : bool, default False
        With ``add_context``, scale every row of W and of C to unit length
        before adding them, so neither part dominates a word's vector.

    Returns
    -------
    vectors : ndarray of shape (V, k), float32
    """
    U = _dense2d(U, "U")
    S = _real_array(np.asarray(S), "S")
    if S.shape != (U.shape[1],):
        raise ValueError(f"S must have shape ({U.shape[1]},) to match U {U.shape}, "
                         f"got {S.shape}")
    if not np.all(np.isfinite(S)) or np.any(S < 0):
        raise ValueError("S must be finite and >= 0")
    eig = _checks.real(eig, "eig", lo=-np.inf, lo_open=True)
    if not isinstance(add_context, (bool, np.bool_)):
        raise ValueError(f"add_context must be a bool, got {add_context!r}")
    scale = S ** eig
    w = U * scale
    if add_context:
        if Vt is None:
            raise ValueError("add_context=True needs Vt")
        Vt = _dense2d(Vt, "Vt")
        if Vt.shape != (U.shape[1], U.shape[0]):
            raise ValueError(f"Vt must have shape (k, V) = ({U.shape[1]}, {U.shape[0]}) "
                             f"for add_context, got {Vt.shape}")
        c = Vt.T * scale
        if normalize_parts:
            w, c = unit_rows(w), unit_rows(c)
        w = w + c
    return w.astype(np.float32)


# --------------------------------------------------------------------------- validation


def _real_array(a, name):
    if a.size and (not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a)
                   or a.dtype == np.bool_):
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def _check_ids(a, name, lo, hi):
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    if a.size and (a.min() < lo or a.max() >= hi):
        raise ValueError(f"{name} must lie in [{lo}, {hi}), got values in "
                         f"[{a.min()}, {a.max()}]")


def _dense2d(a, name):
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {a.shape}")
    a = _real_array(a, name)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a
