"""Senses of a batch of one word's occurrences by clustering their multi-scale contexts.

Representation (chosen on the senseval2_ls development set, issue 13): for each
window size r in ``windows`` the occurrence's SIF context vector over the
tokens within r positions (:func:`tasks.senses.occurrence_contexts`), with
the corpus' common directions removed and scaled to unit length; the blocks
are concatenated and divided by sqrt(len(windows)). Near words then count
more than far ones while the widest window keeps the topic.

A batch of one word's occurrences is centred by its mean, scaled to unit rows
and clustered by seeded k-means (:func:`tasks.assign.fit_centres`). Whether the word has
more than one sense at all is decided by the *excess inertia drop*

    excess = [log W_1 − log W_k](occurrences) − [log W_1 − log W_k](background)

at its largest over k = 2..K (W_k is the k-means inertia with k clusters; the
background is as many contexts of random corpus positions in the same
representation): those carry the corpus' topic structure but no sense of
their own, so a function word's contexts split no better than they do
(excess ≈ 0). A word that passes gets K senses (a setting), one that fails
gets one.

:func:`window_contexts` and :func:`multiscale_contexts` compute that representation
from a tokenised corpus directly; the pipeline's numba path
(:func:`tasks.assign.window_sums`, :func:`tasks.assign.blocks_from_sums`) is tested
against them.

Metrics of a labelling against gold senses: V-measure and ARI from
:mod:`sklearn.metrics`, and the paired F-score (:func:`paired_f_score`).
"""
from __future__ import annotations

import numpy as np

from .context import remove_components
from .senses import occurrence_contexts

__all__ = ["window_contexts", "multiscale_contexts", "centre_unit", "excess_drop",
           "paired_f_score", "cluster_scores"]


def window_contexts(ids, doc_offsets, positions, weighted_vectors, has_vector, common, *,
                    window, exclude=()):
    """Mean SIF context vectors of given occurrences, common directions removed.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
        Token ids (rows of ``weighted_vectors``; -1 for tokens without one).
    doc_offsets : ndarray of shape (n_docs + 1,), int
        Document bounds in ``ids``: context windows stay inside a document.
    positions : ndarray of shape (m,), int
        Distinct indices into ``ids`` of the occurrences (any order; the token
        at any of them is never context of another).
    weighted_vectors : ndarray of shape (V, d)
        s(w) v_w.
    has_vector : ndarray of shape (V,), bool
    common : ndarray of shape (n_common, d)
        Orthonormal common directions to remove.
    window : int
    exclude : sequence of int
        Ids never counted as context (the target's forms).

    Returns
    -------
    vectors : ndarray of shape (m, d), float64 (zero rows where no context
        token has a vector)
    n_context : ndarray of shape (m,), int64
    """
    ids = np.asarray(ids, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.int64)
    n_vocab = len(has_vector)
    m = len(positions)
    if m == 0:
        return np.zeros((0, np.shape(weighted_vectors)[1])), np.zeros(0, np.int64)
    if len(np.unique(positions)) != m:
        raise ValueError("positions must be distinct")
    # The occurrences become the only targets: their tokens get the extra id
    # n_vocab (no vector, so never context), the excluded ids lose their vector.
    marked = ids.copy()
    marked[positions] = n_vocab
    is_target = np.zeros(n_vocab + 1, dtype=bool)
    is_target[n_vocab] = True
    has = np.zeros(n_vocab + 1, dtype=bool)
    has[:n_vocab] = has_vector
    exclude = np.asarray(list(exclude), dtype=np.int64)
    has[exclude[(exclude >= 0) & (exclude < n_vocab)]] = False
    document, position, _w, sums, n_context = occurrence_contexts(
        marked, doc_offsets, is_target, weighted_vectors, has, window=window)
    # occurrence_contexts lists hits in token order: map them back to ``positions``
    found = np.asarray(doc_offsets, dtype=np.int64)[document] + position
    order = np.argsort(positions, kind="stable")
    out = np.zeros_like(sums)
    cnt = np.zeros(m, dtype=np.int64)
    out[order] = sums
    cnt[order] = n_context
    if not np.array_equal(found, positions[order]):
        raise ValueError("positions must lie inside the documents of doc_offsets")
    nz = cnt > 0
    out[nz] /= cnt[nz, None]
    out = remove_components(out, common)
    out[~nz] = 0.0
    return out, cnt


def multiscale_contexts(ids, doc_offsets, positions, weighted_vectors, has_vector, common, *,
                        windows, exclude=()):
    """Concatenated unit context blocks of several windows, divided by sqrt(len(windows)).

    Arguments as :func:`window_contexts`. Returns vectors (m, d * len(windows))
    and the number of context tokens with a vector in the widest window.
    """
    if not len(windows):
        raise ValueError("at least one window is needed")
    blocks, n_widest = [], None
    for win in sorted(int(w) for w in windows):
        x, n = window_contexts(ids, doc_offsets, positions, weighted_vectors, has_vector,
                               common, window=win, exclude=exclude)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        blocks.append(np.divide(x, norm, out=np.zeros_like(x), where=norm > 0))
        n_widest = n
    return np.hstack(blocks) / np.sqrt(len(windows)), n_widest


def centre_unit(x):
    """Rows of ``x`` minus their mean, scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    y = x - x.mean(axis=0) if len(x) else x.copy()
    norm = np.linalg.norm(y, axis=1, keepdims=True)
    return np.divide(y, norm, out=np.zeros_like(y), where=norm > 0)


def _kmeans(x, k, seed, n_init):
    from sklearn.cluster import KMeans  # scikit-learn loads only where it is used
    km = KMeans(k, n_init=n_init, random_state=seed).fit(x)
    return km.labels_.astype(np.int64), km.cluster_centers_, float(km.inertia_)


def _log_drop(x, k, seed, n_init):
    """(log W_1 − log W_k, labels, centres) of the rows of ``x``."""
    w1 = float(np.sum((x - x.mean(axis=0)) ** 2))
    labels, centres, wk = _kmeans(x, k, seed, n_init)
    return np.log(max(w1, 1e-300)) - np.log(max(wk, 1e-300)), labels, centres


def excess_drop(x, background, k, *, seed=0, n_init=3):
    """Largest excess of the word's log inertia drop over the background's, k' = 2..k.

    Parameters
    ----------
    x : ndarray of shape (n, D)
        The word's occurrence vectors (centred unit rows, :func:`centre_unit`).
    background : ndarray of shape (n_bg, D)
        Random-position contexts; a seeded sample of min(n, n_bg) rows is
        centred, scaled and clustered the same way.
    k : int, >= 2

    Returns
    -------
    float
        max over k' of [log W_1 − log W_k'](x) − [log W_1 − log W_k'](background).
    """
    bg = np.asarray(background, dtype=np.float64)
    bg = bg[np.any(bg != 0, axis=1)]
    if len(bg) <= k or len(x) <= k:
        raise ValueError(f"the batch and the background need more than {k} non-zero rows, "
                         f"have {len(x)} and {len(bg)}")
    rng = np.random.default_rng(seed)
    bg = centre_unit(bg[rng.choice(len(bg), min(len(x), len(bg)), replace=False)])
    return max(_log_drop(x, j, seed, n_init)[0] - _log_drop(bg, j, seed, n_init)[0]
               for j in range(2, k + 1))


def paired_f_score(gold, labels):
    """F-score of the pairs of items put together (Manandhar et al. 2010's paired F).

    Precision: the share of system pairs (same label) that share a gold sense;
    recall: the share of gold pairs that share a system label. 0 without pairs.
    """
    from sklearn.metrics.cluster import pair_confusion_matrix
    (_tn, fp), (fn, tp) = pair_confusion_matrix(gold, labels)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return float(2 * p * r / (p + r)) if p + r else 0.0


def cluster_scores(gold, labels):
    """{"v_measure", "ari", "paired_f"} of a labelling against gold senses."""
    from sklearn.metrics import adjusted_rand_score, v_measure_score
    return {"v_measure": float(v_measure_score(gold, labels)),
            "ari": float(adjusted_rand_score(gold, labels)),
            "paired_f": paired_f_score(gold, labels)}
