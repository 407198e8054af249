"""The linear induction map of Arora et al. (2018) and Khodak et al. (2018, "à la carte").

A word's vector is close to an affine map of its average context vector:
v_w ≈ A ũ_w + b (ũ with the common discourse directions removed). A is fitted
by (optionally weighted, optionally ridge-regularised) least squares on the
vocabulary, then induces vectors for rare words, for new words and phrases
from a few given contexts, and for single occurrences.

Vocabulary of names: ``n_words`` vocabulary size (the rows of the vector
matrix), ``n_dims`` vector dimension, ``n_tokens`` tokens of a stream of
documents, ``n_spans`` target occurrences (a word or a phrase each).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from . import _checks

__all__ = ["fit_induction_map", "apply_map", "holdout_split", "row_cosines",
           "count_weights", "span_context_sums", "pool_contexts",
           "rescale_blocks", "first_occurrences"]


def fit_induction_map(u, v, weights=None, *, removed=0, intercept=False, ridge=0.0):
    """Least-squares A (d_v, d_u) with v_i ≈ A u_i (+ b with ``intercept``).

    With ``ridge`` > 0 it minimises Σ_i w_i ||v_i − A u_i − b||² + λ ||A||_F²
    with λ = ``ridge`` × the mean diagonal entry of the weighted Gram matrix of
    the (centred) u, so one value carries across spaces and corpus sizes; b is
    never penalised.

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
    ridge : float, >= 0
        Relative ridge penalty (see above); 0 is plain least squares.

    Returns
    -------
    A : ndarray of shape (d_v, d_u), float64
    b : ndarray of shape (d_v,), float64
        Only with ``intercept``.

    Raises
    ------
    ValueError
        When the fit is singular: fewer usable words than dimensions, or
        context vectors that span fewer than d_u dimensions (only without
        ``ridge``: a ridge fit is never singular while some row has weight).
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
    ridge = _checks.real(ridge, "ridge", lo=0.0, lo_open=False)
    if ridge > 0:
        a_t = _ridge(u, v, ridge)
        if intercept:
            return a_t.T, v_mean - u_mean @ a_t
        return a_t.T
    rank = np.linalg.matrix_rank(u) if len(u) else 0
    needed = u.shape[1] - _checks.integer(removed, "removed", lo=0)
    if rank < needed:
        raise ValueError(f"singular fit: the {len(u)} training context vectors span {rank} of "
                         f"{needed} dimensions (lower induce.min_count or use more text)")
    a_t, *_ = np.linalg.lstsq(u, v, rcond=None)
    if intercept:
        return a_t.T, v_mean - u_mean @ a_t
    return a_t.T


def _ridge(u, v, ridge):
    """(d_u, d_v) solution of (uᵀu + λI) X = uᵀv, λ = ridge · tr(uᵀu) / d_u."""
    gram = u.T @ u
    lam = ridge * np.trace(gram) / max(gram.shape[0], 1)
    if lam <= 0:
        raise ValueError("singular fit: every training context vector is zero")
    gram[np.diag_indices_from(gram)] += lam
    return scipy.linalg.solve(gram, u.T @ v, assume_a="pos")


def count_weights(counts, kind):
    """Weights of the words' squared errors in the map fit: 1, log or sqrt of the count.

    Parameters
    ----------
    counts : ndarray of shape (n,)
        Corpus counts (>= 1) of the training words.
    kind : {"none", "log", "sqrt"}

    Returns
    -------
    weights : ndarray of shape (n,), float64, or None for ``"none"``
    """
    c = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    if kind == "none":
        return None
    if kind == "log":
        return np.log(c)
    if kind == "sqrt":
        return np.sqrt(c)
    raise ValueError(f"weights must be none, log or sqrt, got {kind!r}")


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


def span_context_sums(ids, doc_offsets, starts, ends, weighted_vectors, has_vector, *, window):
    """Sums of the context-word vectors around target spans (words or phrases).

    The context of the span [start, end) is the ``window`` tokens before
    ``start`` and the ``window`` tokens after ``end - 1`` in the same document;
    the span's own tokens never count, whatever they are.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
        Token ids: vocabulary words 0..n_words-1; any other id (< 0 or
        >= n_words) is a token without a vector.
    doc_offsets : ndarray of shape (n_docs + 1,), int
    starts, ends : ndarray of shape (n_spans,), int
        Target spans, ``start < end``, each inside one document.
    weighted_vectors : ndarray of shape (n_words, n_dims)
        The vectors summed (s(w) v_w for a SIF average, v_w for a plain one).
    has_vector : ndarray of shape (n_words,), bool
    window : int, >= 1

    Returns
    -------
    sums : ndarray of shape (n_spans, n_dims), float64
    n_context : ndarray of shape (n_spans,), int64
        Context tokens with a vector that were summed.
    """
    window = _checks.integer(window, "window", lo=1)
    ids = np.asarray(ids, dtype=np.int64)
    doc_offsets = np.asarray(doc_offsets, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    weighted_vectors = np.asarray(weighted_vectors)
    n_words, n_dims = weighted_vectors.shape
    if len(starts) == 0:
        return np.zeros((0, n_dims)), np.zeros(0, np.int64)
    if starts.shape != ends.shape or np.any(ends <= starts):
        raise ValueError("spans must satisfy start < end")
    doc = np.searchsorted(doc_offsets, starts, side="right") - 1
    if np.any(doc < 0) or np.any(doc >= len(doc_offsets) - 1) \
            or np.any(ends > doc_offsets[np.minimum(doc + 1, len(doc_offsets) - 1)]):
        raise ValueError("every span must lie inside one document")
    lo, hi = doc_offsets[doc], doc_offsets[doc + 1]
    step = np.arange(1, window + 1)
    pos = np.concatenate([starts[:, None] - step, ends[:, None] - 1 + step], axis=1)
    inside = (pos >= lo[:, None]) & (pos < hi[:, None])
    tok = np.where(inside, ids[np.clip(pos, 0, max(len(ids) - 1, 0))], -1)
    good = (tok >= 0) & (tok < n_words)
    good[good] = np.asarray(has_vector, dtype=bool)[tok[good]]
    span_of = np.broadcast_to(np.arange(len(starts))[:, None], tok.shape)[good]
    sums = np.zeros((len(starts), n_dims))
    np.add.at(sums, span_of, np.asarray(weighted_vectors, dtype=np.float64)[tok[good]])
    return sums, good.sum(axis=1).astype(np.int64)


def pool_contexts(sums, n_context, group, *, n_groups):
    """Pooled average context vector of groups of spans (à la carte: Σ sums / Σ counts).

    Parameters
    ----------
    sums : ndarray of shape (n_spans, n_dims)
    n_context : ndarray of shape (n_spans,)
    group : ndarray of shape (n_spans,), int in [0, n_groups)
        The output row of each span (e.g. the input line its context came from).
    n_groups : int

    Returns
    -------
    u : ndarray of shape (n_groups, n_dims), float64 (zero rows for groups
        without a context token)
    n_tokens : ndarray of shape (n_groups,), int64 — context tokens pooled
    """
    sums = np.asarray(sums, dtype=np.float64)
    group = np.asarray(group, dtype=np.int64)
    out = np.zeros((n_groups, sums.shape[1]))
    np.add.at(out, group, sums)
    tokens = np.bincount(group, weights=np.asarray(n_context, dtype=np.float64),
                         minlength=n_groups)
    np.divide(out, tokens[:, None], out=out, where=tokens[:, None] > 0)
    return out, tokens.astype(np.int64)


def rescale_blocks(x, blocks):
    """Each block of each row rescaled to a fixed norm (zero blocks stay zero).

    Combined vectors are concatenations of unit blocks times sqrt(weight);
    giving induced vectors the same block norms makes their cosine the same
    weighted mix of per-block cosines as the trained vectors'.

    Parameters
    ----------
    x : ndarray of shape (n, n_dims)
    blocks : ndarray of shape (n_blocks, 3)
        Rows (start, end, norm): columns [start, end) get norm ``norm``.

    Returns
    -------
    ndarray of shape (n, n_dims), float64
    """
    x = np.array(x, dtype=np.float64)
    for lo, hi, norm in np.asarray(blocks, dtype=np.float64).reshape(-1, 3):
        lo, hi = int(lo), int(hi)
        size = np.linalg.norm(x[:, lo:hi], axis=1, keepdims=True)
        np.divide(x[:, lo:hi] * norm, size, out=x[:, lo:hi], where=size > 0)
    return x


def first_occurrences(ids, targets, *, n):
    """Positions of the first ``n`` occurrences of each target word in ``ids``.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
    targets : ndarray of shape (n_targets,), int
    n : int, >= 1

    Returns
    -------
    positions : ndarray of shape (n_found,), int64, ascending within a target
    target : ndarray of shape (n_found,), int64 — index into ``targets``
    """
    n = _checks.integer(n, "n", lo=1)
    ids = np.asarray(ids, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    order = np.argsort(targets, kind="stable")
    hit = np.flatnonzero(np.isin(ids, targets))
    slot = order[np.searchsorted(targets[order], ids[hit])]
    by = np.lexsort((hit, slot))
    hit, slot = hit[by], slot[by]
    first = np.searchsorted(slot, slot, side="left")
    keep = np.arange(len(slot)) - first < n
    return hit[keep], slot[keep]
