"""Small vector helpers shared by the kernels."""
from __future__ import annotations

import numpy as np

__all__ = ["unit_rows"]


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
