"""Kernels of sense assignment for many occurrences at once.

An *occurrence* is a target (one token or a span of tokens) in a text, given
by a ``<<marked>>`` span or by the first occurrence of a word. A partition of
occurrences is turned into arrays once and scored as arrays:

1. :func:`locate` / :func:`target_windows`: the target's tokens and at most
   ``width`` tokens on each side, tokenised as :func:`tasks.tokenize.tokenize`
   does the whole text (only the text near the target is tokenised: cuts are
   made at whitespace, which no token spans, so the tokens are the same).
2. :func:`window_sums`: for every occurrence and every window r of an
   ascending list, the sum of the context rows within r tokens and their
   count, in one pass over each occurrence's widest window (the windows are
   nested, so each context token is added once).
3. :func:`blocks_from_sums`: the mean of each window with common directions
   removed, each block unit length, concatenated and divided by
   sqrt(#windows): the multi-scale context vector (one window: the plain SIF
   context vector of the context stage's definition).
4. :func:`fit_centres` / :func:`nearest_centres`: senses of a word as k-means
   centres in the centred unit space of its occurrences; an occurrence goes to
   the nearest centre (the k-means rule) and is scored by its cosine to each.
"""
from __future__ import annotations

import re

import numba
import numpy as np

from .context import remove_components
from .tokenize import tokenize

__all__ = ["MARK_RE", "locate", "target_windows", "word_forms", "window_sums",
           "blocks_from_sums", "centre_unit_rows", "fit_centres", "nearest_centres"]

MARK_RE = re.compile(r"<<\s*([^<>]+?)\s*>>")
_SPACE = re.compile(r"\s")


def word_forms(word, *, lowercase):
    """Token sequences that count as ``word``: as tokenised, hyphens split, hyphen-joined.

    ``ballroom_dancing`` is the span ``ballroom dancing`` (the tokeniser splits at
    underscores); ``ice-cream`` also matches ``ice cream`` and ``ice cream`` the token
    ``ice-cream``. Raises ValueError when the word has no token.
    """
    seq = tokenize(word, lowercase=lowercase)
    if not seq:
        raise ValueError(f"target word {word!r} has no token")
    split = [p for t in seq for p in t.split("-")]
    return list(dict.fromkeys(tuple(x) for x in (seq, split, ["-".join(seq)])))


def locate(text, word=None, *, lowercase):
    """Tokens of ``text`` and the target's span [start, end) in them.

    The target is the first ``<<...>>``-marked text (one or several tokens), else the
    first occurrence of ``word`` (:func:`word_forms`). Raises ValueError with the
    reason when there is no target.
    """
    m = MARK_RE.search(text)
    if m:
        target = tokenize(m.group(1), lowercase=lowercase)
        if not target:
            raise ValueError(f"marked target {m.group(0)!r} has no token")
        before = tokenize(text[:m.start()], lowercase=lowercase)
        after = tokenize(text[m.end():], lowercase=lowercase)
        return before + target + after, len(before), len(before) + len(target)
    if not word:
        raise ValueError("no <<target>> marked in the text and no word given")
    tokens = tokenize(text, lowercase=lowercase)
    for seq in word_forms(word, lowercase=lowercase):
        k = len(seq)
        for i in range(len(tokens) - k + 1):
            if tuple(tokens[i:i + k]) == seq:
                return tokens, i, i + k
    raise ValueError(f"{word!r} does not occur in the text")


def _last_tokens(text, end, n, lowercase):
    """The last ``n`` tokens of ``text[:end]``, tokenising only as much as needed."""
    if n <= 0:
        return []
    size = 12 * n + 64
    while True:
        lo = end - size
        if lo <= 0:
            return tokenize(text[:end], lowercase=lowercase)[-n:]
        cut = _SPACE.search(text, lo, end)  # no token spans a whitespace character
        if cut is not None:
            tokens = tokenize(text[cut.start():end], lowercase=lowercase)
            if len(tokens) >= n:
                return tokens[-n:]
        size *= 2


def _first_tokens(text, start, n, lowercase):
    """The first ``n`` tokens of ``text[start:]``, tokenising only as much as needed."""
    if n <= 0:
        return []
    size = 12 * n + 64
    while True:
        hi = start + size
        if hi >= len(text):
            return tokenize(text[start:], lowercase=lowercase)[:n]
        cut = text.rfind(" ", start, hi)
        if cut < 0:
            m = None
            for m in _SPACE.finditer(text, start, hi):
                pass
            cut = -1 if m is None else m.start()
        if cut >= 0:
            tokens = tokenize(text[start:cut], lowercase=lowercase)
            if len(tokens) >= n:
                return tokens[:n]
        size *= 2


def target_windows(text, word=None, *, width, lowercase):
    """(left tokens, target tokens, right tokens) of the occurrence in ``text``.

    The same tokens :func:`locate` gives, at most ``width`` on each side. A marked
    target is found without tokenising the whole text; an unmarked ``word`` needs the
    whole text. Raises ValueError as :func:`locate`.
    """
    m = MARK_RE.search(text)
    if m is None:
        tokens, start, end = locate(text, word, lowercase=lowercase)
        return tokens[max(0, start - width):start], tokens[start:end], tokens[end:end + width]
    target = tokenize(m.group(1), lowercase=lowercase)
    if not target:
        raise ValueError(f"marked target {m.group(0)!r} has no token")
    if "\u0130" in text:  # lowercasing may change lengths: tokenise whole pieces
        left = tokenize(text[:m.start()], lowercase=lowercase)[-width:] if width else []
        right = tokenize(text[m.end():], lowercase=lowercase)[:width]
        return left, target, right
    return (_last_tokens(text, m.start(), width, lowercase), target,
            _first_tokens(text, m.end(), width, lowercase))


@numba.njit(cache=True, nogil=True)
def _window_sums(ids, starts, ends, positions, rows, windows, sums, counts):
    n_rows = rows.shape[0]
    d = rows.shape[1]
    for i in range(len(positions)):
        start, end, p = starts[i], ends[i], positions[i]
        prev = 0
        for j in range(len(windows)):
            r = windows[j]
            if j > 0:
                counts[i, j] = counts[i, j - 1]
                for t in range(d):
                    sums[i, j, t] = sums[i, j - 1, t]
            lo_a, lo_b = max(start, p - r), max(start, p - prev)
            hi_a, hi_b = min(end, p + prev + 1), min(end, p + r + 1)
            for q in range(lo_a, lo_b):
                c = ids[q]
                if 0 <= c < n_rows:
                    counts[i, j] += 1
                    for t in range(d):
                        sums[i, j, t] += rows[c, t]
            for q in range(hi_a, hi_b):
                c = ids[q]
                if 0 <= c < n_rows:
                    counts[i, j] += 1
                    for t in range(d):
                        sums[i, j, t] += rows[c, t]
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


def blocks_from_sums(sums, counts, common):
    """Multi-scale context vectors from :func:`window_sums`.

    Each window's mean with the (orthonormal) ``common`` directions removed; with
    several windows each block is scaled to unit length and the concatenation
    divided by sqrt(#windows). Rows whose widest window has no context are zero.

    Returns ndarray of shape (m, #windows * d), float64.
    """
    m, nw, d = sums.shape
    out = np.zeros((m, nw * d))
    for j in range(nw):
        n = counts[:, j]
        ok = n > 0
        x = np.zeros((m, d))
        x[ok] = remove_components(sums[ok, j] / n[ok, None], common)
        if nw > 1:
            norm = np.linalg.norm(x, axis=1, keepdims=True)
            x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
        out[:, j * d:(j + 1) * d] = x
    return out / np.sqrt(nw) if nw > 1 else out


def centre_unit_rows(x, mean):
    """Rows of ``x`` minus ``mean``, scaled to unit length (zero rows of ``x`` stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    nz = np.any(x != 0, axis=1)
    y = np.zeros_like(x)
    y[nz] = x[nz] - mean
    norm = np.linalg.norm(y, axis=1, keepdims=True)
    return np.divide(y, norm, out=np.zeros_like(y), where=norm > 0)


def fit_centres(x, *, k, seed=0, n_init=10, min_batch=20, background=None, min_excess=0.0,
                criterion_n_init=3, dims=0):
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
    x = np.asarray(x, dtype=np.float64)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    nz = x[np.any(x != 0, axis=1)]
    if not len(nz):
        return np.zeros(x.shape[1]), np.zeros((1, x.shape[1])), None
    mean = nz.mean(axis=0)
    y = centre_unit_rows(nz, mean)
    excess = None
    if len(y) < max(min_batch, k + 1) or k == 1:
        return mean, y.mean(axis=0, keepdims=True), None
    if 0 < dims < min(y.shape):
        from sklearn.utils.extmath import randomized_svd
        _u, _s, basis = randomized_svd(y, dims, random_state=seed)
        centres = KMeans(k, n_init=n_init, random_state=seed).fit(
            y @ basis.T).cluster_centers_ @ basis
    else:
        centres = KMeans(k, n_init=n_init, random_state=seed).fit(y).cluster_centers_
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

