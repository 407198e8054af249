"""Shifted positive PMI and its truncated SVD (Levy, Goldberg & Dagan, TACL 2015).

PMI with context-distribution smoothing (cds) of exponent ``a``::

    P(w, c)   = #(w, c) / total
    P(w)      = #w / total
    P_a(c)    = #c^a / sum_c' #c'^a
    PMI(w, c) = log( P(w, c) / (P(w) P_a(c)) )
    SPPMI     = max(PMI - log(shift), 0)        (shift = k of SGNS; 1: plain PPMI)

Pairs never seen (#(w, c) = 0) have PMI = -inf and SPPMI = 0; zeros are not stored.

The matrix is produced and factorised as row blocks so that a Dask graph can
map over them: :func:`ppmi_block` builds one block of rows, and the randomized
SVD (Halko, Martinsson & Tropp, SIAM Review 2011, Algorithm 4.4: randomized
subspace iteration) needs only two per-block products, :func:`sketch_block`
(``A_b @ omega``, stacked over blocks) and :func:`project_block`
(``A_b.T @ Q_b``, summed over blocks), plus QR factorisations and one small
SVD of tall-skinny / small dense matrices. :func:`randomized_svd_from_blocks`
is the reference loop in plain numpy over a list of blocks.

Public functions
----------------
- ``context_distribution(col_sums, cds=0.75)`` -> float64 (n_cols,)
- ``ppmi_block(rows, cols, counts, row_sums, context_p, total, *, shift, row_start, n_rows, n_cols)``
  -> csr_array float32 (n_rows, n_cols)
- ``gaussian_omega(n_cols, width, seed)`` -> float64 (n_cols, width)
- ``sketch_block(block, omega)`` -> float64 (n_rows_b, width)
- ``project_block(block, q_block)`` -> float64 (n_cols, width)
- ``orthonormal_basis(y)`` -> float64, same shape
- ``svd_from_projection(q, bt, k)`` -> (U, S, Vt)
- ``randomized_svd_from_blocks(blocks, k, *, oversample=10, n_iter=4, seed=0)`` -> (U, S, Vt)
- ``svd_vectors(U, S, Vt=None, *, eig=0.5, add_context=False)`` -> float32 (V, k)
"""
from __future__ import annotations


import numpy as np
import scipy.sparse as sp

from . import _checks

__all__ = ["context_distribution", "ppmi_block", "gaussian_omega", "sketch_block",
           "project_block", "orthonormal_basis", "svd_from_projection",
           "randomized_svd_from_blocks", "svd_vectors"]


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


# --------------------------------------------------------------------------- randomized SVD


def gaussian_omega(n_cols, width, seed):
    """Gaussian test matrix of the sketch, as :func:`randomized_svd_from_blocks` draws it.

    Parameters
    ----------
    n_cols : int
        Columns of the matrix to factorise (>= 1).
    width : int
        k + oversample (>= 1).
    seed : int
        Non-negative; the draw is ``numpy.random.default_rng(seed).standard_normal``.

    Returns
    -------
    omega : ndarray of shape (n_cols, width), float64
    """
    n_cols = _checks.integer(n_cols, "n_cols", lo=1)
    width = _checks.integer(width, "width", lo=1)
    seed = _checks.integer(seed, "seed", lo=0)
    return np.random.default_rng(seed).standard_normal((n_cols, width))


def sketch_block(block, omega):
    """``block @ omega``: a row block of the sketch Y = A @ omega.

    Parameters
    ----------
    block : sparse array or ndarray of shape (n_rows_b, n_cols)
    omega : ndarray of shape (n_cols, width)

    Returns
    -------
    y_block : ndarray of shape (n_rows_b, width), float64
    """
    block = _matrix(block, "block")
    omega = _dense2d(omega, "omega")
    if omega.shape[0] != block.shape[1]:
        raise ValueError(f"omega must have {block.shape[1]} rows (block columns), "
                         f"got shape {omega.shape}")
    return np.asarray(block @ omega, dtype=np.float64)


def project_block(block, q_block):
    """``block.T @ q_block``: one term of A.T @ Q (sum it over the row blocks).

    Parameters
    ----------
    block : sparse array or ndarray of shape (n_rows_b, n_cols)
    q_block : ndarray of shape (n_rows_b, width)
        The rows of Q matching the block's rows.

    Returns
    -------
    z_part : ndarray of shape (n_cols, width), float64
    """
    block = _matrix(block, "block")
    q_block = _dense2d(q_block, "q_block")
    if q_block.shape[0] != block.shape[0]:
        raise ValueError(f"q_block must have {block.shape[0]} rows (block rows), "
                         f"got shape {q_block.shape}")
    return np.asarray(block.T @ q_block, dtype=np.float64)


def orthonormal_basis(y):
    """Orthonormal basis of the column space of a tall matrix (reduced QR's Q).

    Parameters
    ----------
    y : ndarray of shape (n, m), n >= m

    Returns
    -------
    q : ndarray of shape (n, m), float64, with q.T @ q = I
    """
    y = _dense2d(y, "y")
    if y.shape[0] < y.shape[1]:
        raise ValueError(f"y must have at least as many rows as columns, got shape {y.shape}")
    q, _ = np.linalg.qr(y, mode="reduced")
    return q


def svd_from_projection(q, bt, k):
    """Final step: SVD of the small B = Q.T @ A, lifted back with Q.

    Parameters
    ----------
    q : ndarray of shape (n_rows, width)
        Orthonormal basis of the (approximate) range of A.
    bt : ndarray of shape (n_cols, width)
        A.T @ Q, i.e. B.T (the sum of :func:`project_block` over blocks).
    k : int
        Number of components kept (1 <= k <= width).

    Returns
    -------
    U : ndarray of shape (n_rows, k), float64
    S : ndarray of shape (k,), float64, descending
    Vt : ndarray of shape (k, n_cols), float64
        Signs fixed so that the largest-magnitude entry of each row of Vt is
        positive (independent of the QR's column signs).
    """
    q = _dense2d(q, "q")
    bt = _dense2d(bt, "bt")
    if bt.shape[1] != q.shape[1]:
        raise ValueError(f"q and bt must have the same width, got {q.shape} and {bt.shape}")
    k = _checks.integer(k, "k", lo=1)
    if k > min(q.shape[1], bt.shape[0]):
        raise ValueError(f"k={k} exceeds min(width, n_cols) = {min(q.shape[1], bt.shape[0])}")
    ub, s, vt = np.linalg.svd(bt.T, full_matrices=False)
    ub, s, vt = ub[:, :k], s[:k], vt[:k]
    signs = np.sign(vt[np.arange(k), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1.0
    return (q @ ub) * signs, s, vt * signs[:, None]


def randomized_svd_from_blocks(blocks, k, *, oversample=10, n_iter=4, seed=0):
    """Truncated SVD of a matrix given as row blocks (randomized subspace iteration).

    With ``width = k + oversample`` (capped at min(n_rows, n_cols)) and
    ``A = vstack(blocks)``::

        Y = A @ omega                     # sketch_block per block, stacked
        Q = qr(Y)
        repeat n_iter times:
            Z = qr(A.T @ Q)               # project_block per block, summed
            Q = qr(A @ Z)                 # sketch_block per block, stacked
        U, S, Vt = svd_from_projection(Q, A.T @ Q, k)

    Parameters
    ----------
    blocks : sequence of sparse arrays or ndarrays, each of shape (n_rows_b, n_cols)
        Row blocks of A in order, at least one, all with the same n_cols.
    k : int
        Number of singular triplets (1 <= k <= min(n_rows, n_cols)).
    oversample : int, default 10
        Extra sketch columns (>= 0).
    n_iter : int, default 4
        Power (subspace) iterations (>= 0).
    seed : int, default 0
        Non-negative; omega is :func:`gaussian_omega` (n_cols, width, seed).

    Returns
    -------
    U : ndarray of shape (n_rows, k), float64
    S : ndarray of shape (k,), float64, descending
    Vt : ndarray of shape (k, n_cols), float64
    """
    if isinstance(blocks, (np.ndarray,)) or sp.issparse(blocks):
        raise ValueError("blocks must be a sequence of row blocks, not a single matrix")
    blocks = [_matrix(b, f"blocks[{i}]") for i, b in enumerate(blocks)]
    if not blocks:
        raise ValueError("blocks is empty")
    n_cols = blocks[0].shape[1]
    for i, b in enumerate(blocks):
        if b.shape[1] != n_cols:
            raise ValueError(f"blocks[{i}] has {b.shape[1]} columns, blocks[0] has {n_cols}")
    bounds = np.cumsum([0] + [b.shape[0] for b in blocks])
    n_rows = int(bounds[-1])
    k = _checks.integer(k, "k", lo=1)
    if k > min(n_rows, n_cols):
        raise ValueError(f"k={k} exceeds min(n_rows, n_cols) = {min(n_rows, n_cols)}")
    oversample = _checks.integer(oversample, "oversample", lo=0)
    n_iter = _checks.integer(n_iter, "n_iter", lo=0)
    seed = _checks.integer(seed, "seed", lo=0)
    width = min(k + oversample, n_rows, n_cols)

    def times(mat):             # A @ mat
        return np.vstack([sketch_block(b, mat) for b in blocks])

    def t_times(q):             # A.T @ q
        out = np.zeros((n_cols, q.shape[1]))
        for b, lo, hi in zip(blocks, bounds[:-1], bounds[1:]):
            out += project_block(b, q[lo:hi])
        return out

    q = orthonormal_basis(times(gaussian_omega(n_cols, width, seed)))
    for _ in range(n_iter):
        z = orthonormal_basis(t_times(q))
        q = orthonormal_basis(times(z))
    return svd_from_projection(q, t_times(q), k)


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
            w, c = _unit_rows(w), _unit_rows(c)
        w = w + c
    return w.astype(np.float32)


def _unit_rows(a):
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norms > 0, norms, 1.0)


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


def _matrix(b, name):
    if sp.issparse(b):
        if b.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {b.shape}")
        return b
    return _dense2d(b, name)
