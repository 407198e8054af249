"""A word's senses learned from a sample of its corpus occurrences (the inventory stage).

Sampling (:func:`sample_occurrences`, :func:`merge_samples`): every corpus
occurrence of an eligible word draws a uniform key from a generator seeded by
(seed, shard); each word keeps the ``cap`` occurrences with the smallest keys,
first within a shard and then over all shards. That is a uniform sample without
replacement of at most ``cap`` occurrences per word, and the memory it needs is
bounded by ``cap`` times the number of words, not by the corpus.

Contexts (:func:`snippets`, :func:`snippet_contexts`): each sampled occurrence
keeps the ±``width`` token ids around it inside its document (-1 outside); the
multi-scale SIF context vectors are then exactly
:func:`tasks.sense_clusters.multiscale_contexts` over those snippets, each
snippet its own document, with the word's own id removed from its context
(its other tokens of the word become -1, the id of a token without vector).

Senses of one word (:func:`fit_word`): the rows with a context are centred by
their mean and scaled to unit length, in float32 (:func:`tasks.assign.centre_unit_rows`),
projected on their first ``dims`` principal directions (randomized SVD) for
choosing k, and clustered by seeded k-means for k = 1..K. The log inertia drop
log W_1 − log W_k (inertia in the full space: the reduced inertia plus the
energy outside the projection) is compared with that of as many random corpus
positions in the same representation (:func:`drop_curve` on the background,
computed once per sample size): those carry the corpus' topic structure but no
sense, so

    excess(k) = drop_word(k) − drop_background(k).

A word whose largest excess is below ``min_excess`` has one sense (function
words: their contexts split no better than random positions'). Otherwise k is
the smallest k whose excess reaches ``tolerance`` times the largest. The final
centroids are k-means centres in the full centred unit space (the means of
their members' rows), so that the nearest-centroid rule reproduces the k-means
labels.

Naming a sense (:func:`link_atoms`): the atoms of largest cosine with the
sense's induced vector after the mean word vector is taken from it. An induced
vector A ū + b carries the map's intercept, close to the mean word vector; left
in, it makes the few atoms nearest the mean ("hub" atoms) the nearest atoms of
many unrelated senses.
"""
from __future__ import annotations

import numpy as np

from .assign import blocks_from_sums, centre_unit_rows, window_sums
from .kmeans import kmeans_runs

N_ITER = 2  # power iterations of the randomized SVD

__all__ = ["sample_occurrences", "merge_samples", "snippets", "snippet_contexts",
           "reduce_rows", "drop_curve", "choose_k", "fit_word",
           "link_atoms", "kwic"]


def sample_occurrences(ids, eligible, cap, seed, shard):
    """The ``cap`` smallest-key occurrences of every eligible word in one shard.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
        Token ids of the shard (-1 outside the vocabulary).
    eligible : ndarray of shape (V,), bool
    cap : int
    seed, shard : int
        The keys' generator is seeded by (seed, shard).

    Returns
    -------
    word : ndarray of int64, key : ndarray of float64, position : ndarray of int64
        Sorted by (word, key); at most ``cap`` rows per word.
    """
    ids = np.asarray(ids, dtype=np.int64)
    ok = ids >= 0
    ok[ok] = eligible[ids[ok]]
    position = np.flatnonzero(ok)
    word = ids[position]
    key = np.random.default_rng([int(seed), int(shard)]).random(len(ids))[position]
    return _keep_smallest(word, key, position, cap)


def _keep_smallest(word, key, position, cap):
    order = np.lexsort((key, word))
    word, key, position = word[order], key[order], position[order]
    if len(word) == 0:
        return word, key, position
    starts = np.flatnonzero(np.r_[True, word[1:] != word[:-1]])
    rank = np.arange(len(word)) - np.repeat(starts, np.diff(np.r_[starts, len(word)]))
    keep = rank < cap
    return word[keep], key[keep], position[keep]


def merge_samples(parts, cap):
    """Merge shards' samples: (word, shard, position) of each word's ``cap`` smallest
    keys over all shards, sorted by word, then shard and position.

    ``parts`` is a list of :func:`sample_occurrences` results, one per shard in order.
    """
    if not parts:
        z = np.zeros(0, np.int64)
        return z, z, z
    word = np.concatenate([p[0] for p in parts])
    key = np.concatenate([p[1] for p in parts])
    shard = np.concatenate([np.full(len(p[0]), i, np.int64) for i, p in enumerate(parts)])
    position = np.concatenate([p[2] for p in parts])
    # Break key ties (probability ~0) by shard and position, deterministically.
    order = np.lexsort((position, shard, key, word))
    word, key, shard, position = word[order], key[order], shard[order], position[order]
    w, _k, idx = _keep_smallest(word, key, np.arange(len(word)), cap)
    shard, position = shard[idx], position[idx]
    order = np.lexsort((position, shard, w))
    return w[order], shard[order], position[order]


def snippets(ids, doc_offsets, positions, width):
    """Token ids within ``width`` of each position, inside its document.

    Returns an int32 array (m, 2 * width + 1) whose middle column is the token
    itself; -2 marks positions outside the document (-1 stays a token without id).
    """
    ids = np.asarray(ids)
    positions = np.asarray(positions, dtype=np.int64)
    offsets = np.asarray(doc_offsets, dtype=np.int64)
    doc = np.searchsorted(offsets, positions, side="right") - 1
    lo, hi = offsets[doc], offsets[doc + 1]
    at = positions[:, None] + np.arange(-width, width + 1)[None, :]
    inside = (at >= lo[:, None]) & (at < hi[:, None])
    out = np.full(at.shape, -2, dtype=np.int32)
    out[inside] = ids[at[inside]]
    return out


def snippet_contexts(snips, weighted_vectors, has_vector, common, windows, dtype=np.float64,
                     *, plain=None):
    """Multi-scale context vectors of snippets (:func:`snippets`) of one or more words.

    The middle token of each snippet is the occurrence; its other tokens with the
    same id are not context (the word's own id is excluded). Windows must not
    exceed the snippets' width. Returns (vectors (m, d * len(windows)) of ``dtype``, number
    of context tokens with a vector in the widest window), as
    :func:`tasks.sense_clusters.multiscale_contexts` over the snippets, from the
    nested-window sums of :func:`tasks.assign.window_sums` (one numba pass).

    ``plain=(common2, window)`` also returns, from the same pass, the plain SIF
    context vectors over that one window with the ``common2`` directions removed
    (float64, unscaled: what the induction map takes) and their context counts:
    (vectors, counts, plain vectors (m, d), plain counts).
    """
    windows = sorted(int(w) for w in windows)
    every = sorted(set(windows) | ({int(plain[1])} if plain is not None else set()))
    sums, counts = _window_sums(snips, weighted_vectors, has_vector, every)
    pick = [every.index(w) for w in windows]
    x = blocks_from_sums(sums, counts, common, dtype, columns=pick)
    if plain is None:
        return x, counts[:, pick[-1]]
    j = every.index(int(plain[1]))
    u = blocks_from_sums(sums, counts, plain[0], columns=[j])
    return x, counts[:, pick[-1]], u, counts[:, j]


def _window_sums(snips, weighted_vectors, has_vector, windows):
    ids, offsets, positions = _flat(snips, max(windows))
    known = ids >= 0
    ids[known] = np.where(np.asarray(has_vector, dtype=bool)[ids[known]], ids[known], -1)
    rows = np.asarray(weighted_vectors)  # float32 rows halve the gathers (sums are float64)
    if rows.dtype not in (np.float32, np.float64):
        rows = rows.astype(np.float64)
    return window_sums(ids, offsets[:-1], offsets[1:], positions, rows, windows)


def _flat(snips, widest):
    """Snippets as one id array of one-snippet documents, the word's own id and the
    outside-document marks turned into -1 (no vector)."""
    snips = np.array(snips, dtype=np.int64)
    m, span = snips.shape
    width = span // 2
    if widest > width:
        raise ValueError(f"window {widest} exceeds the snippets' width {width}")
    own = snips[:, width:width + 1]
    snips[((snips == own) & (np.arange(span)[None, :] != width)) | (snips < 0)] = -1
    offsets = np.arange(m + 1, dtype=np.int64) * span
    return snips.ravel(), offsets, offsets[:-1] + width


def reduce_rows(y, dims, seed):
    """(coordinates (n, r) on the first r <= dims principal directions of the rows of
    ``y`` (uncentred: ``y`` is centred already), energy outside them), computed in
    ``y``'s floating dtype (float32 halves the time of the stage's largest step)."""
    from sklearn.utils.extmath import randomized_svd  # loaded only where it is used
    y = np.asarray(y)
    if y.dtype not in (np.float32, np.float64):
        y = y.astype(np.float64)
    r = int(min(dims, min(y.shape) - 1))
    total = float(np.einsum("ij,ij->i", y, y).sum(dtype=np.float64))  # (row sums: no cast)
    if r < 1:
        return y.copy(), 0.0
    u, s, _vt = randomized_svd(y, r, n_iter=N_ITER, random_state=seed)
    z = u * s
    return z, max(total - float(np.sum(np.square(s, dtype=np.float64))), 0.0)


def drop_curve(z, residual, max_k, *, seed, n_init):
    """log W_1 − log W_k for k = 1..max_k (first entry 0) and the k-means fits.

    W_k is the k-means inertia (:func:`kmeans_runs`) of the rows of ``z`` plus
    ``residual`` (the energy outside the projection, the same for every k).

    Returns (drops ndarray (max_k,), [(labels, centres) for k = 1..max_k]).
    """
    z = np.asarray(z, dtype=np.float64)
    w1 = float(np.sum((z - z.mean(axis=0)) ** 2)) + residual
    drops, fits = [0.0], [(np.zeros(len(z), np.int64), z.mean(axis=0, keepdims=True))]
    ks = [k for k in range(2, max_k + 1) if k < len(z)]
    for inertia, labels, centres in kmeans_runs(z, ks, seed=seed, n_init=n_init):
        drops.append(np.log(max(w1, 1e-300)) - np.log(max(inertia + residual, 1e-300)))
        fits.append((labels, centres))
    while len(drops) < max_k:  # k >= the number of rows: no further drop
        drops.append(drops[-1])
        fits.append(fits[-1])
    return np.array(drops), fits


def choose_k(excess, min_excess, tolerance):
    """Number of senses from the excess curve (k = 1..K, excess[0] = 0).

    One when the largest excess is below ``min_excess``; else the smallest k whose
    excess is at least ``tolerance`` times the largest.
    """
    excess = np.asarray(excess, dtype=np.float64)
    best = float(excess.max())
    if best < min_excess or best <= 0:
        return 1
    return int(np.flatnonzero(excess >= tolerance * best)[0]) + 1


def fit_word(x, background, *, max_senses, dims, min_excess, tolerance, seed, n_init,
             fixed_k=None):
    """Senses of one word from its occurrences' multi-scale vectors.

    Parameters
    ----------
    x : ndarray of shape (n, D)
        :func:`snippet_contexts` of the word's sample (zero rows: no context).
    background : callable(n) -> ndarray (max_senses,)
        The background's drop curve for a sample of n rows.
    max_senses, dims, min_excess, tolerance, seed, n_init
        See the module docstring.
    fixed_k : int or None
        K senses for a word that passes the criterion, instead of ``choose_k``'s.

    Returns
    -------
    dict with ``mean`` (D,), ``centroids`` (k, D) (means of the members' centred
    unit rows, ordered by size desc), ``labels`` (n,) (-1 for zero rows),
    ``counts`` (k,), ``excess`` (max_senses,), ``rows`` (the centred unit rows, n_nz × D).
    """
    x = np.asarray(x)
    nz = np.flatnonzero(np.any(x != 0, axis=1))
    mean = x[nz].mean(axis=0, dtype=np.float64) if len(nz) else np.zeros(x.shape[1])
    y = centre_unit_rows(x[nz], mean, dtype=np.float32)
    labels = np.full(len(x), -1, dtype=np.int64)
    excess = np.zeros(max_senses)
    k = 1
    if len(nz) > max(2 * max_senses, 10) and max_senses > 1:
        z, residual = reduce_rows(y, dims, seed)
        drops, fits = drop_curve(z, residual, max_senses, seed=seed, n_init=n_init)
        excess = drops - background(len(nz))
        k = choose_k(excess, min_excess, tolerance)
        if k > 1 and fixed_k:
            k = int(fixed_k)
        lab = fits[k - 1][0] if k > 1 else np.zeros(len(nz), np.int64)
        if k > 1:
            # Refine in the full space from the reduced fit's partition (Lloyd steps).
            lab = _lloyd(y, lab, k)
    else:
        lab = np.zeros(len(nz), np.int64)
    counts = np.bincount(lab, minlength=k)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty(k, np.int64)
    rank[order] = np.arange(k)
    lab = rank[lab]
    counts = counts[order]
    keep = counts > 0
    centroids = np.array([y[lab == j].mean(axis=0, dtype=np.float64)
                          for j in range(k) if keep[j]])
    counts = counts[keep]
    if len(centroids) == 0:
        centroids = np.zeros((1, x.shape[1]))
        counts = np.zeros(1, np.int64)
    labels[nz] = lab
    return {"mean": mean, "centroids": centroids, "labels": labels, "counts": counts,
            "excess": excess, "rows": y, "nonzero": nz}


def _lloyd(y, labels, k, iterations=5):
    """Lloyd iterations of k-means on ``y`` from a partition; returns the labels."""
    for _ in range(iterations):
        onehot = (labels[None, :] == np.arange(k)[:, None]).astype(y.dtype)
        n = onehot.sum(axis=1)
        if np.any(n == 0):
            break
        c = (onehot @ y) / n[:, None]
        new = ((c * c).sum(axis=1)[None, :] - 2 * y @ c.T).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def link_atoms(v, atoms, centre, n):
    """The ``n`` atoms naming a sense: indices of the largest cos(atom, v − centre).

    Parameters
    ----------
    v : ndarray of shape (d,)
        The sense's induced vector (A ū + b).
    atoms : ndarray of shape (n_atoms, d)
        Unit atoms.
    centre : ndarray of shape (d,)
        The mean word vector of the space.
    n : int

    Returns
    -------
    ndarray of int32, best first (ties: lower index first)
    """
    x = np.asarray(v, dtype=np.float64) - centre
    return np.argsort(-(atoms @ x), kind="stable")[:n].astype(np.int32)


def kwic(tokens, width=8):
    """A keyword-in-context line of a snippet's tokens (strings, the target in the
    middle, None outside the document): ±``width`` tokens, the target as <<word>>."""
    mid = len(tokens) // 2
    left = [t for t in tokens[max(0, mid - width):mid] if t is not None]
    right = [t for t in tokens[mid + 1:mid + 1 + width] if t is not None]
    return " ".join(left + [f"<<{tokens[mid]}>>"] + right)
