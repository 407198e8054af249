"""Kernels of sense assignment for many occurrences at once.

An *occurrence* is a target (one token or a span of tokens) in a text, given
by a ``<<marked>>`` span or by the first occurrence of a word. A partition of
occurrences is turned into arrays once and scored as arrays:

1. :func:`tasks.targets.target_windows`: the target's tokens and at most ``width``
   tokens on each side.
2. :func:`window_sums`: for every occurrence and every window r of an
   ascending list, the sum of the context rows within r tokens and their
   count, in one pass over each occurrence's widest window (the windows are
   nested, so each context token is added once).
3. :func:`blocks_from_sums`: the mean of each window with common directions
   removed, each block unit length, concatenated and divided by
   sqrt(#windows): the multi-scale context vector (one window: the plain SIF
   context vector of the context stage's definition).
4. :func:`fit_centres` / :func:`nearest_centres`: senses of a word as k-means
   centres in the centred unit space of its occurrences, the most similar centres
   merged while their cosine exceeds a threshold (:func:`merge_close_centres`: a
   word with two senses is not cut into k); an occurrence goes to the nearest
   centre (the k-means rule) and is scored by its cosine to each.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["window_sums", "blocks_from_sums", "centre_unit_rows", "fit_centres",
           "merge_close_centres", "nearest_centres", "nearest_centres_from_sums",
           "sample_priority", "merge_samples"]

@numba.njit(cache=True, nogil=True)
def _add_rows(ids, lo, hi, rows, out):
    """Adds ``rows[ids[q]]`` to ``out`` for q in [lo, hi) whose id is a row; returns
    how many were added."""
    n = 0
    for q in range(lo, hi):
        c = ids[q]
        if 0 <= c < rows.shape[0]:
            n += 1
            for t in range(rows.shape[1]):
                out[t] += rows[c, t]
    return n


@numba.njit(cache=True, nogil=True)
def _window_sums(ids, starts, ends, positions, rows, windows, sums, counts):
    d = rows.shape[1]
    for i in range(len(positions)):
        start, end, p = starts[i], ends[i], positions[i]
        prev = 0
        for j in range(len(windows)):
            r = windows[j]
            if j > 0:  # a wider window: the narrower one's sum plus the tokens between
                counts[i, j] = counts[i, j - 1]
                for t in range(d):
                    sums[i, j, t] = sums[i, j - 1, t]
            out = sums[i, j]
            counts[i, j] += _add_rows(ids, max(start, p - r), max(start, p - prev), rows, out)
            counts[i, j] += _add_rows(ids, min(end, p + prev + 1), min(end, p + r + 1), rows,
                                      out)
            prev = r


def window_sums(ids, starts, ends, positions, rows, windows):
    """Sums of context rows within each window of every occurrence.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
        Row of ``rows`` of each token; -1 (or any id outside the rows) for a token
        that is no context (no vector, the target itself, an excluded word).
    starts, ends : ndarray of shape (m,), int
        Occurrence i's text is ``ids[starts[i]:ends[i]]`` (a document): its context
        never crosses these bounds.
    positions : ndarray of shape (m,), int
        Index into ``ids`` of each occurrence's target (its own token is never context).
    rows : ndarray of shape (V, d)
        Vectors to sum (s(w) v_w).
    windows : sequence of int, ascending, >= 1

    Returns
    -------
    sums : ndarray of shape (m, len(windows), d), float64
    counts : ndarray of shape (m, len(windows)), int64
    """
    windows = np.asarray(windows, dtype=np.int64)
    if windows.ndim != 1 or not len(windows) or windows.min() < 1 or \
            np.any(np.diff(windows) <= 0):
        raise ValueError(f"windows must be ascending and >= 1, got {windows.tolist()}")
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    rows = np.ascontiguousarray(rows)
    m = len(positions)
    if len(starts) != m or len(ends) != m:
        raise ValueError("starts, ends and positions must have one entry per occurrence")
    if m and (np.any(positions < starts) or np.any(positions >= ends) or starts.min() < 0
              or ends.max() > len(ids)):
        raise ValueError("each position must lie inside its occurrence's tokens")
    sums = np.zeros((m, len(windows), rows.shape[1]), dtype=np.float64)
    counts = np.zeros((m, len(windows)), dtype=np.int64)
    _window_sums(ids, starts, ends, positions, rows, windows, sums, counts)
    return sums, counts


@numba.njit(cache=True, nogil=True, fastmath=True)  # (vectorised sums over d)
def _blocks(sums, counts, columns, common, scale, out):
    d, n_common = sums.shape[2], common.shape[0]
    mean = np.empty(d)
    dots = np.empty(n_common)
    for i in range(sums.shape[0]):
        for b in range(len(columns)):
            j = columns[b]
            if counts[i, j] == 0:
                out[i, b, :] = 0.0
                continue
            for t in range(d):
                mean[t] = sums[i, j, t] / counts[i, j]
            for q in range(n_common):  # all projections first: (x @ C.T) @ C
                dots[q] = 0.0
                for t in range(d):
                    dots[q] += mean[t] * common[q, t]
            for q in range(n_common):
                for t in range(d):
                    mean[t] -= dots[q] * common[q, t]
            f = 1.0
            if scale > 0:
                norm = 0.0
                for t in range(d):
                    norm += mean[t] * mean[t]
                f = 1.0 / (np.sqrt(norm) * scale) if norm > 0 else 0.0
            for t in range(d):
                out[i, b, t] = mean[t] * f


def blocks_from_sums(sums, counts, common, dtype=np.float64, columns=None):
    """Multi-scale context vectors from :func:`window_sums`.

    Each window's mean with the (orthonormal) ``common`` directions removed; with
    several windows each block is scaled to unit length and the concatenation
    divided by sqrt(#windows). Rows whose widest window has no context are zero.
    ``columns`` (indices into the windows of ``sums``; default all) picks the
    windows used. One numba pass a row, in float64, stored as ``dtype``.

    Returns ndarray of shape (m, #windows * d) of ``dtype``.
    """
    m, _nw, d = sums.shape
    columns = np.arange(sums.shape[1]) if columns is None else np.asarray(columns, np.int64)
    nw = len(columns)
    x = np.empty((m, nw, d), dtype)
    common = np.ascontiguousarray(np.asarray(common, dtype=np.float64).reshape(-1, d))
    _blocks(np.ascontiguousarray(sums, dtype=np.float64), np.ascontiguousarray(counts),
            columns.astype(np.int64), common, np.sqrt(nw) if nw > 1 else 0.0, x)
    return x.reshape(m, nw * d)


def centre_unit_rows(x, mean, dtype=np.float64):
    """Rows of ``x`` minus ``mean``, scaled to unit length (zero rows of ``x`` stay zero),
    computed in ``dtype``."""
    x = np.asarray(x, dtype=dtype)
    mean = np.asarray(mean, dtype=dtype)
    nz = np.any(x != 0, axis=1)
    if nz.all():  # (no masked copies: 5x faster on a 5000 x 900 sample)
        y = x - mean
    else:
        y = np.zeros_like(x)
        y[nz] = x[nz] - mean
    norm = np.sqrt(np.einsum("ij,ij->i", y, y))
    y *= np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)[:, None]
    return y


# power iterations of the randomized SVD that finds the subspace (scikit-learn's default,
# 7 at these sizes, costs 5x more; the development set scores the same, see fit_dims)
SVD_ITERATIONS = 2


def merge_close_centres(centres, sizes, threshold):
    """Cluster centres merged greedily: while the two most similar centres (cosine) are
    more similar than ``threshold``, they are replaced by their size-weighted mean (the
    mean of their rows). Returns (centres, sizes) of the groups left, in the order of
    each group's first original centre. ``threshold`` >= 1 merges nothing."""
    c = np.array(centres, dtype=np.float64)
    n = np.array(sizes, dtype=np.float64)
    while len(c) > 1:
        norm = np.linalg.norm(c, axis=1)
        norm[norm == 0] = 1.0
        cos = (c @ c.T) / np.outer(norm, norm)
        np.fill_diagonal(cos, -np.inf)
        i, j = np.unravel_index(np.argmax(cos), cos.shape)
        if not cos[i, j] > threshold:
            break
        i, j = min(i, j), max(i, j)
        total = n[i] + n[j]
        c[i] = (c[i] * n[i] + c[j] * n[j]) / total if total else (c[i] + c[j]) / 2
        n[i] = total
        c, n = np.delete(c, j, axis=0), np.delete(n, j)
    return c, n


def fit_centres(x, *, k, seed=0, n_init=10, min_batch=20, background=None, min_excess=0.0,
                criterion_n_init=3, dims=0, rows_per_dim=0, merge=1.0):
    """Senses of one word from its occurrences' vectors: k-means in centred unit space.

    Parameters
    ----------
    x : ndarray of shape (n, D)
        Multi-scale context vectors of (a sample of) the word's occurrences, in a fixed
        order (k-means' seeded start depends on it); zero rows are ignored.
    k : int
        Senses of a word with at least ``max(min_batch, k + 1)`` non-zero rows (that
        passes the one-sense criterion, when ``background`` is given).
    seed, n_init : int
        Of k-means (:class:`sklearn.cluster.KMeans`).
    background, min_excess :
        The one-sense criterion of :func:`tasks.sense_clusters.excess_drop`.
    dims : int
        With ``0 < dims < D``, k-means runs on the rows' coordinates in their top
        ``dims`` right singular vectors (seeded randomized SVD) and the centres are
        mapped back: a centre then lies in that subspace, so a row's nearest centre
        is the same in both spaces and the fitted rows keep their k-means labels.
    rows_per_dim : int
        With ``dims`` > 0, a batch of n non-zero rows uses at most ``n // rows_per_dim``
        (at least 2) of those directions: a small batch's lower singular directions are
        noise (0: always ``dims``).
    merge : float
        The k centres are merged while two have a cosine above this
        (:func:`merge_close_centres`; >= 1: never).

    Returns
    -------
    mean : ndarray of shape (D,)
        Mean of the non-zero rows (occurrences are centred by it).
    centres : ndarray of shape (n_senses, D)
        k-means centres of the centred unit rows (one sense: their mean).
    excess : float or None (None when the criterion did not run)
    """
    from sklearn.cluster import KMeans

    from .sense_clusters import excess_drop
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    keep = np.any(x != 0, axis=1)
    nz = x if keep.all() else x[keep]
    if not len(nz):
        return np.zeros(x.shape[1]), np.zeros((1, x.shape[1])), None
    mean = nz.mean(axis=0, dtype=np.float64)
    one_sense = len(nz) < max(min_batch, k + 1) or k == 1
    if dims > 0 and rows_per_dim > 0:
        dims = min(dims, max(2, len(nz) // rows_per_dim))
    subspace = not one_sense and 0 < dims < min(nz.shape)
    # the subspace fit works in float32 (the SVD does anyway): half the memory traffic
    y = centre_unit_rows(nz, mean, np.float32 if subspace and background is None
                         else np.float64)
    excess = None
    if one_sense:
        return mean, y.mean(axis=0, keepdims=True), None
    if subspace:
        from sklearn.utils.extmath import randomized_svd
        _u, _s, basis = randomized_svd(y.astype(np.float32, copy=False), dims,
                                       n_iter=SVD_ITERATIONS, random_state=seed)
        km = KMeans(k, n_init=n_init, random_state=seed).fit((y @ basis.T).astype(np.float64))
    else:
        km = KMeans(k, n_init=n_init, random_state=seed).fit(y)
    centres, _sizes = merge_close_centres(km.cluster_centers_,
                                          np.bincount(km.labels_, minlength=k), merge)
    if subspace:  # an orthonormal basis: cosines and means are the same in both spaces
        centres = centres @ basis.astype(np.float64)
    if background is not None:
        excess = float(excess_drop(y, background, k, seed=seed, n_init=criterion_n_init))
        if excess < min_excess:
            centres = y.mean(axis=0, keepdims=True)
    return mean, centres, excess


def nearest_centres(y, centres):
    """Sense of each centred unit row: the nearest centre (ties: the first).

    Returns labels (n,) int64 (-1 for zero rows) and scores (n, n_senses): the cosine
    to every centre (NaN rows for zero rows; 1 when there is one sense).
    """
    y = np.asarray(y, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    nz = np.any(y != 0, axis=1)
    labels = np.full(len(y), -1, dtype=np.int64)
    scores = np.full((len(y), len(c)), np.nan)
    if len(c) == 1:
        labels[nz] = 0
        scores[nz] = 1.0
        return labels, scores
    dots = y[nz] @ c.T
    labels[nz] = np.argmin((c * c).sum(axis=1)[None, :] - 2.0 * dots, axis=1)
    norm = np.linalg.norm(c, axis=1)
    scores[nz] = dots / np.where(norm > 0, norm, 1.0)[None, :]
    return labels, scores


def nearest_centres_from_sums(sums, counts, common, mean, centres):
    """:func:`nearest_centres` of ``centre_unit_rows(blocks_from_sums(sums, counts,
    common), mean)`` without forming the (m, #windows * d) vectors.

    With P the projection off the common directions and s_b a window's sum, the
    block is P s_b / |P s_b| (the count cancels), so every product the rule needs
    is s_b against P applied to a slice of ``mean`` or a centre: one (m, d) by
    (d, k + 1) product per window.
    """
    m, nw, d = sums.shape
    q = np.asarray(common, dtype=np.float64).reshape(-1, d)
    mean = np.asarray(mean, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    k = len(c)
    xm = np.zeros(m)           # x . mean
    xc = np.zeros((m, k))      # x . centre_j
    xx = np.zeros(m)           # |x|^2 (times nw)
    for b in range(nw):
        s = sums[:, b]
        targets = np.vstack([mean[b * d:(b + 1) * d], c[:, b * d:(b + 1) * d]])  # (k+1, d)
        targets = targets - (targets @ q.T) @ q          # P v (P is symmetric)
        dots = s @ targets.T                             # (m, k + 1)
        qs = s @ q.T
        norm2 = np.einsum("ij,ij->i", s, s) - np.einsum("ij,ij->i", qs, qs)
        ok = (counts[:, b] > 0) & (norm2 > 0)
        inv = np.zeros(m)
        inv[ok] = 1.0 / np.sqrt(norm2[ok])
        if nw == 1:  # one window: the plain mean, not unit length
            inv = np.where(counts[:, b] > 0, 1.0 / np.maximum(counts[:, b], 1), 0.0)
            xx += inv ** 2 * np.maximum(norm2, 0.0)
        else:
            xx += ok
        xm += dots[:, 0] * inv
        xc += dots[:, 1:] * inv[:, None]
    if nw > 1:
        scale = 1.0 / np.sqrt(nw)
        xm, xc, xx = xm * scale, xc * scale, xx / nw
    nz = xx > 0
    mm = float(mean @ mean)
    dist = np.sqrt(np.maximum(xx - 2.0 * xm + mm, 0.0))  # |x - mean|
    labels = np.full(m, -1, dtype=np.int64)
    scores = np.full((m, k), np.nan)
    good = nz & (dist > 0)
    if k == 1:
        labels[good] = 0
        scores[good] = 1.0
        return labels, scores
    cm = c @ mean
    yc = (xc[good] - cm[None, :]) / dist[good, None]        # y . centre_j
    labels[good] = np.argmin((c * c).sum(axis=1)[None, :] - 2.0 * yc, axis=1)
    norm = np.linalg.norm(c, axis=1)
    scores[good] = yc / np.where(norm > 0, norm, 1.0)[None, :]
    return labels, scores


def sample_priority(orders, seed):
    """A seeded 64-bit hash (splitmix64) of each order number: the sampling priority."""
    with np.errstate(over="ignore"):
        z = orders.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def merge_samples(cap, *parts):
    """Merge samples {key: (priorities, orders, rows)}, keeping the ``cap`` smallest
    priorities per key (a tree reduction can apply this at every level)."""
    out = {}
    for part in parts:
        for key, (p, o, x) in part.items():
            if key in out:
                p0, o0, x0 = out[key]
                p, o, x = np.concatenate([p0, p]), np.concatenate([o0, o]), np.vstack([x0, x])
            if len(p) > cap:
                keep = np.argsort(p, kind="stable")[:cap]
                p, o, x = p[keep], o[keep], x[keep]
            out[key] = (p, o, x)
    return out
