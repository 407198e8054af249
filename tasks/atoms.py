"""Choosing and normalising the word vectors that atoms are learned on and code, and
naming atoms by their nearest words."""
from __future__ import annotations

import numpy as np

__all__ = ["dictionary_words", "coded_rows", "top_rows"]


def dictionary_words(counts, vectors, *, min_count, max_words=None, normalize=True):
    """The words a dictionary is learned on, most frequent first.

    Parameters
    ----------
    counts : ndarray of shape (n_words,)
    vectors : ndarray of shape (n_words, n_dims)
    min_count : int
        Words rarer than this are left out, and so are zero vectors.
    max_words : int or None
        At most this many words.
    normalize : bool
        Unit-normalise the rows.

    Returns
    -------
    rows : ndarray of int, shape (n_coded,)
        Row numbers into ``vectors``.
    x : ndarray of shape (n_coded, n_dims), float64
    """
    counts = np.asarray(counts)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    x = np.asarray(vectors)[order].astype(np.float64)
    norms = np.linalg.norm(x, axis=1)
    keep = norms > 0
    order, x, norms = order[keep], x[keep], norms[keep]
    if max_words is not None:
        order, x, norms = order[:max_words], x[:max_words], norms[:max_words]
    if normalize:
        x /= norms[:, None]
    return order, x


def coded_rows(vectors, *, normalize=True):
    """Every non-zero row of ``vectors``, as the senses stage codes them.

    Returns
    -------
    rows : ndarray of int, shape (n_coded,)
    x : ndarray of shape (n_coded, n_dims), float64 (unit rows with ``normalize``)
    """
    x = np.asarray(vectors).astype(np.float64)
    norms = np.linalg.norm(x, axis=1)
    rows = np.flatnonzero(norms > 0)
    x, norms = x[rows], norms[rows]
    if normalize:
        x /= norms[:, None]
    return rows, x


def top_rows(xn, atoms, n_top):
    """The ``n_top`` rows of ``xn`` closest to each atom, best first.

    Parameters
    ----------
    xn : ndarray of shape (n_words, n_dims)
        Unit rows.
    atoms : ndarray of shape (n_atoms, n_dims)
    n_top : int

    Returns
    -------
    rows : ndarray of int, shape (n_atoms, n_top)
    similarities : ndarray of shape (n_atoms, n_top)
    """
    s = xn @ atoms.T
    top = np.argpartition(-s, n_top - 1, axis=0)[:n_top] if n_top < len(xn) else \
        np.broadcast_to(np.arange(len(xn))[:, None], s.shape)
    ts = np.take_along_axis(s, top, axis=0)
    order = np.argsort(-ts, axis=0, kind="stable")
    return np.take_along_axis(top, order, axis=0).T, np.take_along_axis(ts, order, axis=0).T
