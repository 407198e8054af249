"""Per-word sense tables from sparse codes, and sense assignment of single occurrences.

A word's senses are the atoms of its sparse code v_w ≈ Σ_i α_i A_i (Arora et
al. 2018), ranked by |α_i|. An occurrence of the word is assigned to one of
them from its context: the occurrence's SIF context vector ũ (common
components removed) is mapped by the induction map to an induced vector
v̂ = A ũ + b, and each sense atom i is scored by

    score_i = cos(v̂, sign(α_i) A_i)

(the sense's direction as it enters the word's vector: an atom used with a
negative coefficient points away from the sense); the assigned sense is the
highest-scoring atom.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["rank_senses", "score_senses", "score_senses_flat", "occurrence_contexts"]


def rank_senses(idx, coef):
    """Sense rows of many words, ranked by |coefficient|.

    Parameters
    ----------
    idx : ndarray of shape (n, k), int
        Atom ids of each word's code, -1 for unused slots.
    coef : ndarray of shape (n, k), float

    Returns
    -------
    word_row : ndarray of shape (m,), int64
        Row of ``idx`` of each sense (grouped by word, in row order).
    rank : ndarray of shape (m,), int8
        1 for the largest |coefficient| of the word, 2 for the next...
    atom : ndarray of shape (m,), int32
    coefficient : ndarray of shape (m,), float64
    """
    idx = np.asarray(idx)
    coef = np.asarray(coef, dtype=np.float64)
    if idx.shape != coef.shape or idx.ndim != 2:
        raise ValueError(f"idx and coef must be (n, k) arrays of one shape, got {idx.shape} "
                         f"and {coef.shape}")
    used = (idx >= 0) & (coef != 0)
    # Per row, slots by decreasing |coef|, unused last; ties keep slot order.
    order = np.argsort(np.where(used, -np.abs(coef), np.inf), axis=1, kind="stable")
    s_idx = np.take_along_axis(idx, order, axis=1)
    s_coef = np.take_along_axis(coef, order, axis=1)
    s_used = np.take_along_axis(used, order, axis=1)
    rows, slot = np.nonzero(s_used)
    return (rows.astype(np.int64), (slot + 1).astype(np.int8),
            s_idx[rows, slot].astype(np.int32), s_coef[rows, slot])


def score_senses(vectors, atoms, sense_atoms, sense_signs):
    """Score the candidate sense atoms of many occurrences.

    Parameters
    ----------
    vectors : ndarray of shape (m, d)
        Induced vector v̂ = A ũ + b of each occurrence.
    atoms : ndarray of shape (n_atoms, d)
        The dictionary (unit rows).
    sense_atoms : list of m int arrays
        Candidate atom ids of each occurrence (its word's senses, by rank).
    sense_signs : list of m float arrays
        Sign of the word's coefficient on each candidate.

    Returns
    -------
    best : ndarray of shape (m,), int32
        Highest-scoring candidate atom, -1 when an occurrence has no candidate
        or a zero vector.
    best_score : ndarray of shape (m,), float64 (NaN where best is -1)
    scores : list of m float arrays
        cos(v̂, sign_i A_i) for every candidate, in the given order.
    """
    if len(sense_atoms) != len(vectors) or len(sense_signs) != len(vectors):
        raise ValueError("one list of candidate atoms and signs per vector is needed")
    lengths = np.fromiter((len(c) for c in sense_atoms), dtype=np.int64, count=len(vectors))
    flat = [np.concatenate([np.asarray(x, dtype=dt) for x in xs]) if lengths.sum()
            else np.zeros(0, dt) for xs, dt in ((sense_atoms, np.int64),
                                               (sense_signs, np.float64))]
    best, best_score, scores = score_senses_flat(vectors, atoms, *flat, lengths)
    return best, best_score, np.split(scores, np.cumsum(lengths)[:-1])


def score_senses_flat(vectors, atoms, cand, signs, lengths):
    """:func:`score_senses` on candidates given flat: occurrence i's are the next
    ``lengths[i]`` entries of ``cand`` (atom ids) and ``signs``.

    Returns best (m,) int32, best_score (m,) float64 and the scores flat,
    shape (lengths.sum(),), in the order of ``cand``. Ties go to the first
    candidate, as with ``np.argmax``.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    atoms = np.asarray(atoms, dtype=np.float64)
    if vectors.ndim != 2 or atoms.ndim != 2 or vectors.shape[1] != atoms.shape[1]:
        raise ValueError(f"vectors {vectors.shape} and atoms {atoms.shape} must share their "
                         "second dimension")
    cand = np.asarray(cand, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    m = len(vectors)
    if lengths.shape != (m,) or len(cand) != lengths.sum() or len(signs) != len(cand):
        raise ValueError("lengths must give one count per vector, summing to the candidates")
    if len(cand) and (cand.min() < 0 or cand.max() >= len(atoms)):
        raise ValueError(f"candidate atom ids must lie in [0, {len(atoms)})")
    sign = np.ascontiguousarray(np.sign(np.asarray(signs, dtype=np.float64)))
    best = np.full(m, -1, dtype=np.int32)
    best_score = np.full(m, np.nan)
    scores = np.zeros(len(cand))
    _score_segments(np.ascontiguousarray(vectors), np.ascontiguousarray(atoms), cand, sign,
                    lengths, best, best_score, scores)
    return best, best_score, scores


@numba.njit(cache=True, nogil=True)
def _sq(x):
    total = 0.0
    for t in range(x.size):
        total += x[t] * x[t]
    return total


@numba.njit(cache=True, nogil=True)
def _score_segments(vectors, atoms, cand, sign, lengths, best, best_score, scores):
    d = vectors.shape[1]
    anorm = np.empty(atoms.shape[0])
    for j in range(atoms.shape[0]):
        anorm[j] = np.sqrt(_sq(atoms[j]))
    k = 0
    for i in range(vectors.shape[0]):
        norm = np.sqrt(_sq(vectors[i]))
        for _ in range(lengths[i]):
            if norm > 0:
                c = cand[k]
                dot = 0.0
                for t in range(d):
                    dot += atoms[c, t] * vectors[i, t]
                scores[k] = sign[k] * dot / (anorm[c] * norm)
                if best[i] < 0 or scores[k] > best_score[i]:  # ties: the first one
                    best[i] = c
                    best_score[i] = scores[k]
            k += 1




def occurrence_contexts(ids, doc_offsets, is_target, weighted_vectors, has_vector, *, window):
    """SIF context sums of every target occurrence in one partition.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,), int
        Token ids (vocabulary rows of ``weighted_vectors``; -1 or >= V for
        other tokens).
    doc_offsets : ndarray of shape (n_docs + 1,), int
        Token offsets of the documents in ``ids``.
    is_target : ndarray of shape (V,), bool
        Which vocabulary ids are targets.
    weighted_vectors : ndarray of shape (V, d)
        s(w) v_w (zero rows for words without a vector).
    has_vector : ndarray of shape (V,), bool
    window : int
        Context tokens within this many positions, in the same document.

    Returns
    -------
    document : ndarray of shape (m,), int64
        Document of each occurrence (0-based within the partition).
    position : ndarray of shape (m,), int64
        Token position within the document.
    word : ndarray of shape (m,), int64
        The target's id.
    sums : ndarray of shape (m, d), float64
        Σ s(w') v_w' over the context tokens with a vector.
    n_context : ndarray of shape (m,), int64
        Their number (0: no context vector).
    """
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    doc_offsets = np.ascontiguousarray(doc_offsets, dtype=np.int64)
    is_target = np.ascontiguousarray(is_target, dtype=np.bool_)
    has_vector = np.ascontiguousarray(has_vector, dtype=np.bool_)
    w = np.ascontiguousarray(weighted_vectors, dtype=np.float64)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    n_vocab = len(is_target)
    ok = (ids >= 0) & (ids < n_vocab)
    hit = np.zeros(len(ids), dtype=np.bool_)
    hit[ok] = is_target[ids[ok]]
    m = int(hit.sum())
    document = np.empty(m, dtype=np.int64)
    position = np.empty(m, dtype=np.int64)
    sums = np.zeros((m, w.shape[1]))
    n_context = np.zeros(m, dtype=np.int64)
    _occurrences(ids, doc_offsets, hit, w, has_vector, window, document, position, sums,
                 n_context)
    return document, position, ids[hit], sums, n_context


@numba.njit(cache=True, nogil=True)
def _occurrences(ids, doc_offsets, hit, w, has, window, document, position, sums, n_context):
    n_vocab = len(has)
    k = 0
    for doc in range(len(doc_offsets) - 1):
        start, end = doc_offsets[doc], doc_offsets[doc + 1]
        for p in range(start, end):
            if not hit[p]:
                continue
            document[k] = doc
            position[k] = p - start
            for q in range(max(start, p - window), min(end, p + window + 1)):
                c = ids[q]
                if q == p or c < 0 or c >= n_vocab or not has[c]:
                    continue
                n_context[k] += 1
                for t in range(w.shape[1]):
                    sums[k, t] += w[c, t]
            k += 1
