"""Small vector helpers shared by the kernels."""
from __future__ import annotations

import numpy as np

__all__ = ["unit_rows", "combine_vectors"]


def unit_rows(x):
    """Rows (last axis) of ``x`` scaled to unit length; all-zero rows stay zero.

    Parameters
    ----------
    x : ndarray of shape (..., n_dims)

    Returns
    -------
    ndarray of the same shape and dtype (float64 for integer input).
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


def combine_vectors(parts, weights):
    """Unit-normalise each part, scale by sqrt(weight) and concatenate, on common ids.

    The cosine of two combined vectors is then the weight-averaged cosine of
    their parts (weights are normalised to sum to 1).

    Parameters
    ----------
    parts : list of (ids, vectors)
        ``ids`` sorted int array of shape (n_rows_k,), ``vectors`` of shape
        (n_rows_k, n_dims_k).
    weights : list of float, one per part

    Returns
    -------
    ids : ndarray of shape (n_common,), the ids every part has
    vectors : ndarray of shape (n_common, sum of n_dims_k), float32
    """
    common = parts[0][0]
    for ids, _v in parts[1:]:
        common = np.intersect1d(common, ids)
    total = float(sum(weights))
    blocks = []
    for (ids, vectors), w in zip(parts, weights):
        rows = vectors[np.searchsorted(ids, common)] if len(ids) else vectors[:0]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        blocks.append(rows / np.where(norms > 0, norms, 1) * np.sqrt(w / total))
    return common, np.hstack(blocks).astype(np.float32)
