"""Sparse coding and approximate K-SVD: the "atoms of discourse" of Arora et al. (2018).

Given signals X (n, d) (word vectors), K-SVD looks for a dictionary D
(n_atoms, d) of unit-norm rows and codes Γ (n, n_atoms) with at most k
non-zeros per row that minimise ||X − Γ D||_F, alternating two steps:

* sparse coding: Γ from D by orthogonal matching pursuit (OMP), here the
  Batch-OMP of Rubinstein, Zibulevsky & Elad (2008), which works from
  X Dᵀ and D Dᵀ and never forms a residual;
* dictionary update: every atom in turn refitted, with its coefficients, to
  the residual of the signals that use it, by one step of the "approximate
  K-SVD" of the same paper (a power-iteration step in place of an SVD).

Codes are stored compactly as two (n, k) arrays: ``idx`` (int32 atom ids, -1
for an unused slot, unused slots always after the used ones) and ``coef``
(float64, 0 where ``idx`` is -1). :func:`codes_to_sparse` turns them into a
scipy sparse matrix.

The kernels are numba functions that hold no GIL, so Dask threads can code
row blocks side by side (see the ``coder`` hook of :class:`KSVD`).

References
----------
Arora, Li, Liang, Ma & Risteski (2018). Linear algebraic structure of word
    senses, with applications to polysemy. TACL 6.
Aharon, Elad & Bruckstein (2006). K-SVD: an algorithm for designing
    overcomplete dictionaries for sparse representation. IEEE TSP 54(11).
Rubinstein, Zibulevsky & Elad (2008). Efficient implementation of the K-SVD
    algorithm using batch orthogonal matching pursuit. Technion CS-2008-08.

Longer than 400 lines because it is one algorithm: batch OMP, the dictionary update,
the K-SVD loop with restarts and its scikit-learn-style estimator.
"""
from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from . import _checks

__all__ = ["omp_gram", "sparse_code", "reconstruct", "codes_to_sparse",
           "update_dictionary", "relative_error", "KSVD"]

# A new atom whose squared distance to the span of the selected ones is below
# this fraction of its squared norm is taken as linearly dependent: OMP stops.
_SINGULAR = 1e-10
# Rows of X coded per X Dᵀ product in sparse_code: bounds the (rows, n_atoms)
# scratch matrix (4096 x 2000 float64 = 66 MB) without slowing the product.
_BLOCK = 4096


# --------------------------------------------------------------------------- validation


def _matrix(a, name):
    """``a`` as a C-contiguous finite float64 2-D array."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (it contains NaN or inf)")
    return a


def _codes(idx, coef, n_atoms, n_signals=None):
    """Checked (idx int32, coef float64) pair, C-contiguous (no copy when already so)."""
    idx_in = np.asarray(idx)
    if idx_in.dtype.kind not in "iu":
        raise ValueError(f"idx must hold integers, got dtype {idx_in.dtype}")
    if idx_in.ndim != 2:
        raise ValueError(f"idx must be a 2-D array, got shape {idx_in.shape}")
    if idx_in.size and (idx_in.min() < -1 or idx_in.max() >= n_atoms):
        raise ValueError(f"idx must lie in [-1, {n_atoms})")
    idx = np.ascontiguousarray(idx_in, dtype=np.int32)
    coef = _matrix(coef, "coef")
    if coef.shape != idx.shape:
        raise ValueError(f"idx and coef must have the same shape, got {idx.shape} and "
                         f"{coef.shape}")
    if n_signals is not None and len(idx) != n_signals:
        raise ValueError(f"codes have {len(idx)} rows for {n_signals} signals")
    used = idx >= 0
    if np.any(used[:, 1:] & ~used[:, :-1]):
        raise ValueError("idx must be packed to the left (no atom id after a -1)")
    if np.any(coef[~used] != 0):
        raise ValueError("coef must be 0 where idx is -1")
    ordered = np.sort(idx, axis=1)
    if np.any((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)):
        raise ValueError("an atom appears twice in one row of idx")
    return idx, coef


def _signals_and_dictionary(X, D):
    X = _matrix(X, "X")
    D = _matrix(D, "D")
    if D.shape[1] != X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} dimensions but D has {D.shape[1]}")
    return X, D


# --------------------------------------------------------------------------- coding


def omp_gram(xy, gram, sparsity, *, tol=1e-10):
    """Batch-OMP of many signals from their correlations with the atoms.

    For each signal greedily adds the atom with the largest |correlation|
    with the current residual, α = xy_i − gram[:, S] γ_S (the residual is
    never formed), updates the Cholesky factor of gram[S, S] by one row and
    solves it for the least-squares coefficients γ_S on the selected atoms.
    The result equals plain OMP, which refits by least squares every step.

    Parameters
    ----------
    xy : ndarray of shape (n, n_atoms)
        X @ D.T.
    gram : ndarray of shape (n_atoms, n_atoms)
        D @ D.T (symmetric; its rows are read in place of its columns).
    sparsity : int
        Largest number of atoms per signal, 1 <= sparsity <= n_atoms.
    tol : float, >= 0
        A signal stops early when the largest |α| is <= tol (exactly
        represented). It also stops when the best atom is numerically linearly
        dependent on the selected ones (gram[S, S] would become singular).

    Returns
    -------
    idx : ndarray of shape (n, sparsity), int32
        Selected atoms in the order chosen, -1 in the unused slots (always the
        last ones).
    coef : ndarray of shape (n, sparsity), float64
        Least-squares coefficients, 0 in the unused slots.
    """
    xy = _matrix(xy, "xy")
    gram = _matrix(gram, "gram")
    n_atoms = gram.shape[0]
    if gram.shape != (n_atoms, n_atoms) or xy.shape[1] != n_atoms:
        raise ValueError(f"gram must be (n_atoms, n_atoms) and xy (n, n_atoms), got "
                         f"{gram.shape} and {xy.shape}")
    sparsity = _checks.integer(sparsity, "sparsity", lo=1)
    if sparsity > n_atoms:
        raise ValueError(f"sparsity={sparsity} exceeds n_atoms={n_atoms}")
    tol = _checks.real(tol, "tol", lo=0.0, lo_open=False)
    return _omp_gram(xy, gram, sparsity, tol)


def _omp_gram(xy, gram, sparsity, tol):
    idx = np.full((len(xy), sparsity), -1, dtype=np.int32)
    coef = np.zeros((len(xy), sparsity))
    _omp_rows(xy, gram, sparsity, tol, idx, coef)
    return idx, coef


def sparse_code(X, D, sparsity, *, tol=1e-10):
    """OMP codes of the rows of X over the rows of D (see :func:`omp_gram`).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    D : ndarray of shape (n_atoms, d)
        Atoms; OMP selects by |correlation|, so they are normally unit rows.
    sparsity : int
        1 <= sparsity <= n_atoms.
    tol : float

    Returns
    -------
    idx : ndarray of shape (n, sparsity), int32
    coef : ndarray of shape (n, sparsity), float64
    """
    X, D = _signals_and_dictionary(X, D)
    sparsity = _checks.integer(sparsity, "sparsity", lo=1)
    if sparsity > len(D):
        raise ValueError(f"sparsity={sparsity} exceeds n_atoms={len(D)}")
    tol = _checks.real(tol, "tol", lo=0.0, lo_open=False)
    return _sparse_code(X, D, D @ D.T, sparsity, tol)


def _sparse_code(X, D, gram, sparsity, tol=1e-10):
    """The math of :func:`sparse_code` on checked arrays, ``gram`` = D @ D.T given."""
    n = len(X)
    idx = np.full((n, sparsity), -1, dtype=np.int32)
    coef = np.zeros((n, sparsity))
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        _omp_rows(X[lo:hi] @ D.T, gram, sparsity, tol, idx[lo:hi], coef[lo:hi])
    return idx, coef


@numba.njit(cache=True, nogil=True)
def _omp_rows(xy, gram, k, tol, idx, coef):
    # Batch-OMP, one signal at a time (Rubinstein et al. 2008, algorithm 3 with
    # the gram matrix of possibly non-unit atoms). `idx` arrives filled with -1.
    n, m = xy.shape
    alpha = np.empty(m)
    chol = np.zeros((k, k))      # lower Cholesky factor of gram[S, S]
    w = np.empty(k)
    z = np.empty(k)
    gamma = np.zeros(k)
    chosen = np.zeros(m, dtype=np.bool_)
    for i in range(n):
        x = xy[i]
        alpha[:] = x
        s = 0
        while s < k:
            best = -1
            top = tol
            for t in range(m):
                a = abs(alpha[t])
                if a > top and not chosen[t]:
                    top = a
                    best = t
            if best < 0:
                break  # every |α| <= tol: exactly represented
            # New Cholesky row: w = L⁻¹ gram[S, j], diagonal sqrt(gram[j, j] - |w|²).
            sq = 0.0
            for p in range(s):
                v = gram[idx[i, p], best]
                for q in range(p):
                    v -= chol[p, q] * w[q]
                v /= chol[p, p]
                w[p] = v
                sq += v * v
            gjj = gram[best, best]
            rest = gjj - sq
            if not rest > _SINGULAR * gjj:
                break  # linearly dependent on the selected atoms (or a zero atom)
            for q in range(s):
                chol[s, q] = w[q]
            chol[s, s] = np.sqrt(rest)
            idx[i, s] = best
            chosen[best] = True
            s += 1
            # γ_S from L Lᵀ γ = xy[S]: forward then back substitution.
            for p in range(s):
                v = x[idx[i, p]]
                for q in range(p):
                    v -= chol[p, q] * z[q]
                z[p] = v / chol[p, p]
            for p in range(s - 1, -1, -1):
                v = z[p]
                for q in range(p + 1, s):
                    v -= chol[q, p] * gamma[q]
                gamma[p] = v / chol[p, p]
            if s == k:
                break
            # α = xy_i − gram[S, :]ᵀ γ_S (gram symmetric: contiguous rows).
            alpha[:] = x
            for p in range(s):
                row = gram[idx[i, p]]
                g = gamma[p]
                for t in range(m):
                    alpha[t] -= g * row[t]
        for p in range(s):
            coef[i, p] = gamma[p]
            chosen[idx[i, p]] = False


# --------------------------------------------------------------------------- codes


def reconstruct(idx, coef, D):
    """Γ D from compact codes.

    Parameters
    ----------
    idx : ndarray of shape (n, k), int
    coef : ndarray of shape (n, k)
    D : ndarray of shape (n_atoms, d)

    Returns
    -------
    approx : ndarray of shape (n, d), float64
    """
    D = _matrix(D, "D")
    idx, coef = _codes(idx, coef, len(D))
    out = np.zeros((len(idx), D.shape[1]))
    _add_codes(idx, coef, D, out, 1.0)
    return out


def _residual(X, idx, coef, D):
    """X − Γ D (n, d) on checked arrays."""
    out = X.copy()
    _add_codes(idx, coef, D, out, -1.0)
    return out


@numba.njit(cache=True, nogil=True)
def _add_codes(idx, coef, D, out, sign):
    # out += sign * Γ D, skipping unused slots.
    n, k = idx.shape
    d = D.shape[1]
    for i in range(n):
        for s in range(k):
            j = idx[i, s]
            if j < 0:
                break
            c = sign * coef[i, s]
            for t in range(d):
                out[i, t] += c * D[j, t]


def codes_to_sparse(idx, coef, n_atoms):
    """Compact codes as a canonical CSR matrix Γ.

    Parameters
    ----------
    idx : ndarray of shape (n, k), int
    coef : ndarray of shape (n, k)
    n_atoms : int

    Returns
    -------
    codes : csr_array of shape (n, n_atoms), float64
        Sorted column indices; slots with idx -1 or a zero coefficient are left
        out.
    """
    n_atoms = _checks.integer(n_atoms, "n_atoms", lo=1)
    idx, coef = _codes(idx, coef, n_atoms)
    keep = (idx >= 0) & (coef != 0)
    order = np.argsort(np.where(keep, idx, n_atoms), axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    coef = np.take_along_axis(coef, order, axis=1)
    keep = np.take_along_axis(keep, order, axis=1)
    indptr = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=indptr[1:])
    out = sp.csr_array((coef[keep], idx[keep], indptr), shape=(len(idx), n_atoms))
    out.has_canonical_format = True
    return out


def relative_error(X, idx, coef, D):
    """||X − Γ D||_F / ||X||_F (0 when X is all zeros and so is the residual).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    idx, coef : ndarray of shape (n, k)
    D : ndarray of shape (n_atoms, d)

    Returns
    -------
    error : float
    """
    X, D = _signals_and_dictionary(X, D)
    idx, coef = _codes(idx, coef, len(D), len(X))
    return _ratio(np.linalg.norm(_residual(X, idx, coef, D)), np.linalg.norm(X))


def _ratio(num, den):
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


# --------------------------------------------------------------------------- dictionary update


def update_dictionary(X, D, idx, coef, *, residual=None, rng=None):
    """One pass of approximate K-SVD over all atoms (Gauss-Seidel).

    For each atom j in turn, with the latest atoms and coefficients, over the
    signals I that use j with a non-zero coefficient (of either sign), g their
    coefficients on j and E_I = R_I + g d_jᵀ the residual without atom j::

        d = E_Iᵀ g,  d /= ||d||,  g = E_I d,  R_I = E_I − g dᵀ

    (one power-iteration step towards the rank-1 SVD of E_I; the error never
    increases). When d comes out 0 the atom is left unchanged. An atom no
    signal uses is replaced by the normalised signal with the largest current
    residual norm (each signal at most once per pass; signals of zero norm
    are never used); its coefficients stay 0, so the residual is unchanged.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    D : ndarray of shape (n_atoms, d)
    idx : ndarray of shape (n, k), int
        Atom ids, -1 in unused slots (packed to the left), no atom twice in a row.
    coef : ndarray of shape (n, k)
    residual : ndarray of shape (n, d) or None
        X − Γ D for the given D and codes, when already known.
    rng : numpy Generator, int or None
        Breaks ties between equal residual norms when choosing replacement
        signals (e.g. when all are 0); None picks the lowest index.

    Returns
    -------
    D : ndarray of shape (n_atoms, d), float64
        Updated atoms (unit rows where updated or replaced).
    coef : ndarray of shape (n, k), float64
        Updated coefficients (same ``idx``).
    residual : ndarray of shape (n, d), float64
        X − Γ D after the pass.
    n_replaced : int
        Unused atoms replaced by signals.

    None of the arguments is modified.
    """
    X, D = _signals_and_dictionary(X, D)
    idx, coef = _codes(idx, coef, len(D), len(X))
    if residual is None:
        residual = _residual(X, idx, coef, D)
    else:
        residual = _matrix(residual, "residual")
        if residual.shape != X.shape:
            raise ValueError(f"residual must have the shape of X {X.shape}, got "
                             f"{residual.shape}")
        residual = residual.copy()
    priority = np.zeros(0) if rng is None else np.random.default_rng(rng).random(len(X))
    return _update(X, D.copy(), idx, coef.copy(), residual, priority)


def _update(X, D, idx, coef, residual, priority):
    """The math of :func:`update_dictionary`; updates D, coef and residual in place."""
    n_replaced = _ksvd_pass(X, D, idx, coef, residual, priority)
    return D, coef, residual, int(n_replaced)


@numba.njit(cache=True, nogil=True)
def _ksvd_pass(X, D, idx, coef, R, priority):
    n, k = idx.shape
    n_atoms, d = D.shape
    # Users of each atom, CSC-like: (signal, slot) pairs grouped by atom.
    offsets = np.zeros(n_atoms + 1, dtype=np.int64)
    for i in range(n):
        for s in range(k):
            if idx[i, s] >= 0 and coef[i, s] != 0.0:
                offsets[idx[i, s] + 1] += 1
    for j in range(n_atoms):
        offsets[j + 1] += offsets[j]
    fill = offsets[:-1].copy()
    signal = np.empty(offsets[n_atoms], dtype=np.int64)
    slot = np.empty(offsets[n_atoms], dtype=np.int64)
    for i in range(n):
        for s in range(k):
            j = idx[i, s]
            if j >= 0 and coef[i, s] != 0.0:
                signal[fill[j]] = i
                slot[fill[j]] = s
                fill[j] += 1
    most = 0
    for j in range(n_atoms):
        most = max(most, offsets[j + 1] - offsets[j])
    # Squared norms of the residuals (kept current) and of the signals.
    rnorm = np.zeros(n)
    xnorm = np.zeros(n)
    for i in range(n):
        a = 0.0
        b = 0.0
        for t in range(d):
            a += R[i, t] * R[i, t]
            b += X[i, t] * X[i, t]
        rnorm[i] = a
        xnorm[i] = b
    taken = np.zeros(n, dtype=np.bool_)
    ties = priority.size == n
    g = np.empty(most)
    new = np.empty(d)
    n_replaced = 0
    for j in range(n_atoms):
        lo, hi = offsets[j], offsets[j + 1]
        if lo == hi:
            best = -1
            for i in range(n):
                if taken[i] or xnorm[i] == 0.0:
                    continue
                if best < 0 or rnorm[i] > rnorm[best] or \
                        (ties and rnorm[i] == rnorm[best] and priority[i] > priority[best]):
                    best = i
            if best >= 0:
                taken[best] = True
                scale = 1.0 / np.sqrt(xnorm[best])
                for t in range(d):
                    D[j, t] = X[best, t] * scale
                n_replaced += 1
            continue
        # d = E_Iᵀ g = R_Iᵀ g + (gᵀg) d_j
        gg = 0.0
        new[:] = 0.0
        for p in range(lo, hi):
            i = signal[p]
            c = coef[i, slot[p]]
            g[p - lo] = c
            gg += c * c
            for t in range(d):
                new[t] += c * R[i, t]
        sq = 0.0
        for t in range(d):
            new[t] += gg * D[j, t]
            sq += new[t] * new[t]
        if not sq > 0.0:
            continue
        scale = 1.0 / np.sqrt(sq)
        same = 0.0  # d_jᵀ d
        for t in range(d):
            new[t] *= scale
            same += D[j, t] * new[t]
        # g = E_I d = R_I d + g (d_jᵀ d);  R_I = R_I + g_old d_jᵀ − g dᵀ
        for p in range(lo, hi):
            i = signal[p]
            old = g[p - lo]
            c = old * same
            for t in range(d):
                c += R[i, t] * new[t]
            a = 0.0
            for t in range(d):
                r = R[i, t] + old * D[j, t] - c * new[t]
                R[i, t] = r
                a += r * r
            rnorm[i] = a
            coef[i, slot[p]] = c
        for t in range(d):
            D[j, t] = new[t]
    return n_replaced


def _orient(D, idx, coef):
    """Flip atoms (and their coefficients) whose coefficients sum below 0.

    An atom's sign is arbitrary for the reconstruction; oriented this way,
    the words nearest an atom are the ones that use it, not their opposites.
    """
    used = idx >= 0
    total = np.zeros(len(D))
    np.add.at(total, idx[used], coef[used])
    sign = np.where(total < 0, -1.0, 1.0)
    coef = np.where(used, coef * sign[np.where(used, idx, 0)], 0.0)
    return D * sign[:, None], coef


# --------------------------------------------------------------------------- estimator


class KSVD(BaseEstimator):
    """Dictionary learning by approximate K-SVD with Batch-OMP coding.

    Minimises ||X − Γ D||_F over unit-norm atoms D (n_atoms, d) and codes Γ
    with at most ``sparsity`` non-zeros per row (Aharon et al. 2006; the
    approximate K-SVD and Batch-OMP of Rubinstein et al. 2008), as used for
    the "atoms of discourse" of Arora et al. (2018). Each iteration codes
    every signal with the current atoms (:func:`sparse_code`), then updates
    every atom and its coefficients once (:func:`update_dictionary`, which
    also replaces unused atoms by badly represented signals).

    Each atom is finally oriented so that its coefficients over the training
    signals sum to >= 0 (a sign flip of atom and coefficients, which leaves
    the reconstruction unchanged): the signals nearest an atom then are those
    that use it.

    Stop rule: after iteration t the error e_t = ||X − Γ D||_F / ||X||_F is
    measured after the update; fitting stops when (e_{t-1} − e_t) / e_{t-1} <
    ``tol`` (or e_{t-1} = 0), or after ``max_iter`` iterations.

    Parameters
    ----------
    n_atoms : int
        Number of atoms, at most the number of non-zero training signals.
    sparsity : int
        Atoms per signal, 1 <= sparsity <= min(n_dims, n_atoms).
    max_iter : int, >= 1
    tol : float, >= 0
        Relative improvement below which fitting stops.
    n_restarts : int, >= 1
        Independent fits from different initial dictionaries; the one with
        the lowest final error is kept.
    random_state : int >= 0 or None
        Seed of the initial dictionaries (restart r uses child r of
        ``numpy.random.SeedSequence(random_state)``); None for fresh entropy.
    coder : callable or None
        ``coder(X, D, gram, sparsity) -> (idx, coef)`` replacing
        :func:`sparse_code` (X (n, d), D (n_atoms, d), gram = D Dᵀ), e.g. to
        code row blocks in parallel on Dask. Must return codes like
        :func:`sparse_code`. A coder with a true attribute ``computes_gram``
        gets ``gram=None`` and forms D Dᵀ itself (e.g. in parallel too).
    callback : callable or None
        ``callback(restart, iteration, error, n_replaced)`` after every
        iteration (restart and iteration counted from 0; error is the
        iteration's entry of the history).

    Attributes
    ----------
    components_ : ndarray of shape (n_atoms, n_dims), float64
        Unit-norm atoms.
    error_ : list of float
        Relative error after each iteration of the kept restart.
    n_iter_ : int
        Iterations run by the kept restart.
    restart_errors_ : list of float
        Final relative error of each restart.
    n_features_in_ : int
    idx_ : ndarray of shape (n, sparsity), int32
    coef_ : ndarray of shape (n, sparsity), float64
        Codes of the training signals after the last update, consistent with
        ``components_``: ``reconstruct(idx_, coef_, components_)`` has the
        relative error ``error_[-1]``.
    """

    def __init__(self, n_atoms=2000, sparsity=5, max_iter=25, tol=1e-4, n_restarts=1,
                 random_state=0, coder=None, callback=None):
        self.n_atoms = n_atoms
        self.sparsity = sparsity
        self.max_iter = max_iter
        self.tol = tol
        self.n_restarts = n_restarts
        self.random_state = random_state
        self.coder = coder
        self.callback = callback

    def _check_params(self, X):
        n_atoms = _checks.integer(self.n_atoms, "n_atoms", lo=1)
        sparsity = _checks.integer(self.sparsity, "sparsity", lo=1)
        max_iter = _checks.integer(self.max_iter, "max_iter", lo=1)
        n_restarts = _checks.integer(self.n_restarts, "n_restarts", lo=1)
        tol = _checks.real(self.tol, "tol", lo=0.0, lo_open=False)
        if self.random_state is not None:
            _checks.integer(self.random_state, "random_state", lo=0)
        for name in ("coder", "callback"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise ValueError(f"{name} must be callable or None")
        X = _matrix(X, "X")
        n, d = X.shape
        if n < 2:
            raise ValueError(f"KSVD needs at least 2 signals, got {n}")
        nonzero = np.flatnonzero(np.any(X != 0, axis=1))
        if n_atoms > len(nonzero):
            raise ValueError(f"n_atoms={n_atoms} exceeds the {len(nonzero)} signals with "
                             "non-zero norm")
        if sparsity > min(d, n_atoms):
            raise ValueError(f"sparsity={sparsity} must be <= min(n_dims={d}, "
                             f"n_atoms={n_atoms}) (X has dimension {d})")
        return X, nonzero, n_atoms, sparsity, max_iter, n_restarts, tol

    def _gram(self, D):
        if self.coder is not None and getattr(self.coder, "computes_gram", False):
            return None
        return D @ D.T

    def _code(self, X, D, gram, sparsity):
        if self.coder is None:
            return _sparse_code(X, D, D @ D.T if gram is None else gram, sparsity)
        idx, coef = self.coder(X, D, gram, sparsity)
        idx, coef = _codes(idx, coef, len(D), len(X))
        if idx.shape[1] > sparsity:
            raise ValueError(f"coder returned {idx.shape[1]} slots per signal for "
                             f"sparsity={sparsity}")
        return idx, coef

    def fit(self, X, y=None):
        """Learn the dictionary.

        Parameters
        ----------
        X : ndarray of shape (n, n_dims)
            Signals; converted to float64. Must be finite.
        y : ignored

        Returns
        -------
        self
        """
        X, nonzero, n_atoms, sparsity, max_iter, n_restarts, tol = self._check_params(X)
        norm_x = np.linalg.norm(X)
        seeds = np.random.SeedSequence(self.random_state).spawn(n_restarts)
        best = None
        finals = []
        for restart, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            D = X[rng.choice(nonzero, size=n_atoms, replace=False)]
            D /= np.linalg.norm(D, axis=1, keepdims=True)
            history = []
            for iteration in range(max_iter):
                idx, coef = self._code(X, D, self._gram(D), sparsity)
                D, coef, residual, n_replaced = _update(
                    X, D, idx, coef, _residual(X, idx, coef, D), np.zeros(0))
                error = _ratio(np.linalg.norm(residual), norm_x)
                history.append(error)
                if self.callback is not None:
                    self.callback(restart, iteration, error, n_replaced)
                if len(history) > 1:
                    previous = history[-2]
                    if previous == 0 or (previous - error) / previous < tol:
                        break
            finals.append(history[-1])
            if best is None or history[-1] < best[0][-1]:
                best = (history, D, idx, coef)
        history, D, idx, coef = best
        D, coef = _orient(D, idx, coef)
        self.components_ = D
        self.error_ = history
        self.n_iter_ = len(history)
        self.restart_errors_ = finals
        self.n_features_in_ = X.shape[1]
        self.idx_ = idx
        self.coef_ = coef
        return self

    def _check_fitted_input(self, X):
        if not hasattr(self, "components_"):
            raise ValueError("this KSVD instance is not fitted yet; call fit first")
        X = _matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} dimensions, the dictionary "
                             f"{self.n_features_in_}")
        return X

    def encode(self, X):
        """Compact codes of X with the learned atoms.

        Parameters
        ----------
        X : ndarray of shape (n, n_dims)

        Returns
        -------
        idx : ndarray of shape (n, sparsity), int32
        coef : ndarray of shape (n, sparsity), float64
        """
        X = self._check_fitted_input(X)
        D = self.components_
        return self._code(X, D, self._gram(D), self.idx_.shape[1])

    def transform(self, X):
        """Sparse codes of X with the learned atoms.

        Parameters
        ----------
        X : ndarray of shape (n, n_dims)

        Returns
        -------
        codes : csr_array of shape (n, n_atoms), at most ``sparsity`` entries per row
        """
        return codes_to_sparse(*self.encode(X), len(self.components_))

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)`` (codes with the final atoms).

        Returns
        -------
        codes : csr_array of shape (n, n_atoms)
        """
        return self.fit(X).transform(X)
