"""The linear induction map of Arora et al. (2018) and Khodak et al. (2018, "à la carte").

A word's vector is close to a fixed linear map of its average context vector:
v_w ≈ A ũ_w (ũ with the common discourse directions removed). A is fitted
by (optionally weighted) least squares on frequent words, then induces
vectors for rare words and for single occurrences from their contexts.
"""
from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["fit_induction_map", "apply_map", "holdout_split", "row_cosines",
           "target_contexts"]


def fit_induction_map(u, v, weights=None, *, removed=0, intercept=False):
    """Least-squares A (d_v, d_u) with v_i ≈ A u_i (+ b with ``intercept``).

    Parameters
    ----------
    u : ndarray of shape (n, d_u)
        Context vectors of the training words (common components removed).
    v : ndarray of shape (n, d_v)
        Their word vectors.
    weights : ndarray of shape (n,) or None
        Non-negative weights of the squared errors (e.g. log counts).
    removed : int
        Directions projected out of ``u`` beforehand (common components): u
        then spans at most d_u - removed dimensions, and A is the
        minimum-norm solution, which maps those directions to zero.
    intercept : bool
        Fit v_i ≈ A u_i + b: A from the (weighted-)mean-centred rows, b the
        weighted mean of v minus A times that of u.

    Returns
    -------
    A : ndarray of shape (d_v, d_u), float64
    b : ndarray of shape (d_v,), float64
        Only with ``intercept``.

    Raises
    ------
    ValueError
        When the fit is singular: fewer usable words than dimensions, or
        context vectors that span fewer than d_u dimensions.
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if u.ndim != 2 or v.ndim != 2 or len(u) != len(v):
        raise ValueError(f"u and v must be (n, d) matrices with the same n, got {u.shape} "
                         f"and {v.shape}")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
        raise ValueError("u and v must be finite")
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(u),) or np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite, >= 0, one per row")
    else:
        w = np.ones(len(u))
    if intercept:
        total = w.sum()
        if total <= 0:
            raise ValueError("singular fit: no row has a positive weight")
        u_mean, v_mean = w @ u / total, w @ v / total
        u, v = u - u_mean, v - v_mean
    if weights is not None:
        root = np.sqrt(w)[:, None]
        u, v = u * root, v * root
    rank = np.linalg.matrix_rank(u) if len(u) else 0
    needed = u.shape[1] - _checks.integer(removed, "removed", lo=0)
    if rank < needed:
        raise ValueError(f"singular fit: the {len(u)} training context vectors span {rank} of "
                         f"{needed} dimensions (lower induce.min_count or use more text)")
    a_t, *_ = np.linalg.lstsq(u, v, rcond=None)
    if intercept:
        return a_t.T, v_mean - u_mean @ a_t
    return a_t.T


def apply_map(a, u, b=None):
    """A u (+ b) for every row of ``u`` (n, d_u) → (n, d_v)."""
    out = np.asarray(u, dtype=np.float64) @ np.asarray(a, dtype=np.float64).T
    if b is not None:
        out += np.asarray(b, dtype=np.float64)
    return out


def holdout_split(n, fraction, seed):
    """Random boolean mask of ``round(fraction * n)`` held-out rows (seeded)."""
    n = _checks.integer(n, "n", lo=0)
    fraction = _checks.real(fraction, "fraction", lo=0.0, lo_open=False)
    if fraction >= 1:
        raise ValueError(f"fraction must be < 1, got {fraction}")
    held = np.zeros(n, dtype=bool)
    k = int(round(fraction * n))
    held[np.random.default_rng(_checks.integer(seed, "seed", lo=0)).choice(n, k,
                                                                         replace=False)] = True
    return held


def row_cosines(x, y):
    """Cosine of each row of ``x`` with the same row of ``y`` (0 for a zero row)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    num = np.einsum("ij,ij->i", x, y)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def target_contexts(ids, doc_offsets, target_ids, weighted_vectors, has_vector, *, window,
                    n_targets):
    """Context sums of target occurrences in one partition (à la carte's second pass).

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
        Token ids; vocabulary words 0..V-1, targets ``target_ids`` (any ids
        >= V), others -1.
    doc_offsets : ndarray of shape (n_docs + 1,)
    target_ids : ndarray of shape (n_targets,)
        The id of each target in ``ids``.
    weighted_vectors : ndarray of shape (V, d)
        s(w) v_w (zero rows for words without a vector).
    has_vector : ndarray of shape (V,), bool
    window, n_targets : int

    Returns
    -------
    sums : ndarray of shape (n_targets, d)
    counts : ndarray of shape (n_targets,)
        Number of (occurrence, context token with a vector) pairs.
    occurrences : ndarray of shape (n_targets,)
    """
    ids = np.asarray(ids, dtype=np.int64)
    n_words, d = weighted_vectors.shape
    lookup = {int(t): k for k, t in enumerate(np.asarray(target_ids))}
    sums = np.zeros((n_targets, d))
    counts = np.zeros(n_targets)
    occurrences = np.zeros(n_targets, dtype=np.int64)
    is_target = np.isin(ids, np.asarray(target_ids))
    pos = np.flatnonzero(is_target)
    if len(pos) == 0:
        return sums, counts, occurrences
    doc = np.searchsorted(doc_offsets, pos, side="right") - 1
    start, end = doc_offsets[doc], doc_offsets[doc + 1]
    slot = np.array([lookup[int(t)] for t in ids[pos]])
    np.add.at(occurrences, slot, 1)
    for off in range(-window, window + 1):
        if off == 0:
            continue
        q = pos + off
        ok = (q >= start) & (q < end)
        qi = ids[q[ok]]
        good = (qi >= 0) & (qi < n_words)
        good[good] = has_vector[qi[good]]
        rows = slot[ok][good]
        np.add.at(sums, rows, weighted_vectors[qi[good]])
        np.add.at(counts, rows, 1)
    return sums, counts, occurrences
