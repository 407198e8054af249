"""GloVe word vectors (Pennington, Socher & Manning, EMNLP 2014) from a co-occurrence matrix.

The model fits, for every non-zero x_ij of the co-occurrence matrix,

    w_i . c_j + b_i + b~_j  ~  log x_ij

by weighted least squares,

    J = sum_ij f(x_ij) (w_i . c_j + b_i + b~_j - log x_ij)^2,
    f(x) = min(1, (x / x_max)^alpha),

with stochastic gradient descent over the non-zeros in a fresh random order
every epoch and AdaGrad step sizes per parameter, as the reference C program
(``glove.c`` of stanfordnlp/GloVe) does. The update of one entry, with
``diff = w_i . c_j + b_i + b~_j - log x_ij`` and ``s = learning_rate * f(x_ij) * diff``
(the gradient of ``f diff^2 / 2``, scaled by the learning rate), is for every
coordinate, all right-hand sides taken before the update:

    w_i[b] -= s c_j[b] / sqrt(G_w[i, b]);   G_w[i, b] += (s c_j[b])^2
    c_j[b] -= s w_i[b] / sqrt(G_c[j, b]);   G_c[j, b] += (s w_i[b])^2
    b_i    -= s / sqrt(G_bw[i]);            G_bw[i]   += s^2
    b~_j   -= s / sqrt(G_bc[j]);            G_bc[j]   += s^2

The accumulators G start at 1, so the first step has size ``learning_rate``.
Like the reference code, the step divides by the accumulator *before* adding
the current (learning-rate-scaled) gradient; unlike its later versions there is
no gradient clipping, and a non-finite loss raises instead of skipping entries.

The epoch is one sequential pass in a numba kernel that releases the GIL
(deterministic for a seed; the C program's lock-free threads are not).

Public functions
----------------
- ``train_glove(rows, cols, x, n_words, *, vector_size, epochs, ...)`` -> ``(vectors, losses)``
- ``init_state(n_words, vector_size, seed)`` -> :class:`GloveState`
- ``sgd_epoch(state, rows, cols, x, order, *, x_max, alpha, learning_rate)`` -> loss
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from . import _checks

__all__ = ["GloveState", "init_state", "sgd_epoch", "train_glove"]


class GloveState(NamedTuple):
    """Parameters and AdaGrad accumulators, updated in place by :func:`sgd_epoch`.

    Attributes
    ----------
    W, C : ndarray of shape (n_words, vector_size), float32
        Word and context vectors.
    bw, bc : ndarray of shape (n_words,), float32
        Word and context biases.
    gW, gC : ndarray of shape (n_words, vector_size), float32
    gbw, gbc : ndarray of shape (n_words,), float32
        Sums of squared (learning-rate-scaled) gradients, starting at 1.
    """

    W: np.ndarray
    C: np.ndarray
    bw: np.ndarray
    bc: np.ndarray
    gW: np.ndarray
    gC: np.ndarray
    gbw: np.ndarray
    gbc: np.ndarray


def init_state(n_words, vector_size, seed):
    """Initial GloVe parameters, as :func:`train_glove` draws them for the same seed.

    Every vector coordinate and bias is drawn from uniform(-0.5, 0.5) / vector_size
    (W, then C, then bw, then bc, from ``numpy.random.default_rng([seed, 0])``);
    the accumulators are all 1.

    Parameters
    ----------
    n_words : int
        Vocabulary size V (>= 1).
    vector_size : int
        Dimension d (>= 1).
    seed : int
        Non-negative.

    Returns
    -------
    GloveState
    """
    n_words = _checks.integer(n_words, "n_words", lo=1)
    vector_size = _checks.integer(vector_size, "vector_size", lo=1)
    seed = _checks.integer(seed, "seed", lo=0)
    rng = np.random.default_rng([seed, 0])

    def draw(shape):
        a = rng.random(shape, dtype=np.float32)
        a -= np.float32(0.5)
        a /= np.float32(vector_size)
        return a

    W = draw((n_words, vector_size))
    C = draw((n_words, vector_size))
    bw = draw(n_words)
    bc = draw(n_words)
    return GloveState(W, C, bw, bc,
                      np.ones((n_words, vector_size), np.float32),
                      np.ones((n_words, vector_size), np.float32),
                      np.ones(n_words, np.float32), np.ones(n_words, np.float32))


def sgd_epoch(state, rows, cols, x, order, *, x_max, alpha, learning_rate):
    """One AdaGrad pass over the entries in the given order, updating ``state`` in place.

    Parameters
    ----------
    state : GloveState
        From :func:`init_state` (or a previous epoch); arrays must have its dtypes.
    rows, cols : ndarray of shape (nnz,), int32
        Word (row) and context (column) id of each entry, in [0, n_words).
    x : ndarray of shape (nnz,), float64
        Co-occurrence values, all > 0.
    order : ndarray of shape (n_steps,), int64
        Entry indices in visiting order (usually a permutation of range(nnz)).
    x_max, alpha, learning_rate : float
        As in :func:`train_glove`.

    Returns
    -------
    loss : float
        ``sum f(x) diff^2 / n_steps`` over the visited entries, each term evaluated
        just before that entry's update (the reference program's running cost,
        without its factor 1/2). NaN for an empty ``order``.

    Notes
    -----
    Inputs are converted, not validated; :func:`train_glove` validates them.
    """
    rows = np.ascontiguousarray(rows, dtype=np.int32)
    cols = np.ascontiguousarray(cols, dtype=np.int32)
    x = np.ascontiguousarray(x, dtype=np.float64)
    order = np.ascontiguousarray(order, dtype=np.int64)
    for name, a in zip(GloveState._fields, state):
        if a.dtype != np.float32 or not a.flags.c_contiguous:
            raise ValueError(f"state.{name} must be a C-contiguous float32 array")
    if order.size == 0:
        return float("nan")
    total = _sgd_epoch(*state, rows, cols, x, order, float(x_max), float(alpha),
                       float(learning_rate))
    return total / order.size


def train_glove(rows, cols, x, n_words, *, vector_size, epochs, x_max=100.0, alpha=0.75,
                learning_rate=0.05, seed=0, callback=None):
    """Train GloVe vectors on a sparse co-occurrence matrix.

    Parameters
    ----------
    rows, cols : ndarray of shape (nnz,), integer
        Word and context id of each non-zero, in [0, n_words). For a symmetric
        matrix both (a, b) and (b, a) are listed; each listed entry is one term
        of the cost (duplicates are not merged).
    x : ndarray of shape (nnz,), float
        Co-occurrence values (e.g. harmonically weighted counts), finite and
        >= 0. Entries with x == 0 are dropped.
    n_words : int
        Vocabulary size V (>= 1).
    vector_size : int
        Dimension d of the vectors (>= 1).
    epochs : int
        Number of passes over the non-zeros (>= 1).
    x_max : float, default 100.0
        Cut-off of the weighting function f (> 0).
    alpha : float, default 0.75
        Exponent of the weighting function f (>= 0).
    learning_rate : float, default 0.05
        Initial AdaGrad step size (> 0).
    seed : int, default 0
        Non-negative; fixes the initialisation (see :func:`init_state`) and the
        per-epoch shuffles (drawn from ``numpy.random.default_rng([seed, 1])``).
    callback : callable or None, default None
        Called as ``callback(epoch, loss)`` after each epoch, epoch counted from
        0 (so ``loss == losses[epoch]``).

    Returns
    -------
    vectors : ndarray of shape (n_words, vector_size), float32
        W + C, word plus context vectors (the sum the GloVe paper evaluates).
        A word without any entry keeps its random initial vectors.
    losses : list of float, length epochs
        Per epoch, ``J / nnz`` accumulated during the pass (see :func:`sgd_epoch`).

    Raises
    ------
    ValueError
        Invalid parameters, arrays of different lengths, ids outside
        [0, n_words), negative or non-finite x, or no positive entry.
    FloatingPointError
        The loss became non-finite (diverged; lower ``learning_rate``).
    """
    n_words = _checks.integer(n_words, "n_words", lo=1)
    vector_size = _checks.integer(vector_size, "vector_size", lo=1)
    epochs = _checks.integer(epochs, "epochs", lo=1)
    x_max = _checks.real(x_max, "x_max", lo=0.0, lo_open=True)
    alpha = _checks.real(alpha, "alpha", lo=0.0, lo_open=False)
    learning_rate = _checks.real(learning_rate, "learning_rate", lo=0.0, lo_open=True)
    seed = _checks.integer(seed, "seed", lo=0)
    if callback is not None and not callable(callback):
        raise ValueError("callback must be callable or None")
    rows, cols, x = _validated_entries(rows, cols, x, n_words)

    state = init_state(n_words, vector_size, seed)
    rng = np.random.default_rng([seed, 1])
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(x.size)
        loss = sgd_epoch(state, rows, cols, x, order, x_max=x_max, alpha=alpha,
                         learning_rate=learning_rate)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"GloVe loss became non-finite in epoch {epoch}; lower learning_rate "
                f"(now {learning_rate})")
        losses.append(float(loss))
        if callback is not None:
            callback(epoch, float(loss))
    vectors = state.W
    vectors += state.C
    return vectors, losses


# --------------------------------------------------------------------------- validation


def _validated_entries(rows, cols, x, n_words):
    """Checked contiguous (int32, int32, float64) copies holding only entries with x > 0."""
    rows, cols, x = np.asarray(rows), np.asarray(cols), np.asarray(x)
    if rows.ndim != 1 or cols.ndim != 1 or x.ndim != 1:
        raise ValueError("rows, cols and x must be 1-D arrays")
    if not (rows.size == cols.size == x.size):
        raise ValueError(f"rows, cols and x must have the same length, got "
                         f"{rows.size}, {cols.size}, {x.size}")
    for name, a in (("rows", rows), ("cols", cols)):
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= n_words):
            raise ValueError(f"{name} must lie in [0, n_words={n_words}), got values in "
                             f"[{a.min()}, {a.max()}]")
    if x.size and not (np.issubdtype(x.dtype, np.number) and not np.iscomplexobj(x)):
        raise ValueError(f"x must hold real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    if np.any(x < 0):
        raise ValueError("x must be >= 0 (co-occurrence values)")
    keep = x > 0
    if not keep.any():
        raise ValueError("x has no positive entry: nothing to train on")
    if not keep.all():
        rows, cols, x = rows[keep], cols[keep], x[keep]
    return (np.ascontiguousarray(rows, dtype=np.int32),
            np.ascontiguousarray(cols, dtype=np.int32),
            np.ascontiguousarray(x, dtype=np.float64))


# --------------------------------------------------------------------------- kernel


@numba.njit(cache=True, nogil=True)
def _sgd_epoch(W, C, bw, bc, gW, gC, gbw, gbc, rows, cols, x, order, x_max, alpha, lr):
    d = W.shape[1]
    total = 0.0
    for t in range(order.size):
        k = order[t]
        i = rows[k]
        j = cols[k]
        xv = x[k]
        wi = W[i]
        cj = C[j]
        gwi = gW[i]
        gcj = gC[j]
        dot = np.float32(0.0)
        for b in range(d):
            dot += wi[b] * cj[b]
        diff = dot + bw[i] + bc[j] - np.log(xv)
        f = 1.0 if xv >= x_max else (xv / x_max) ** alpha
        fdiff = f * diff
        total += fdiff * diff
        step = lr * fdiff
        s = np.float32(step)
        for b in range(d):
            u = wi[b]
            v = cj[b]
            g1 = s * v
            g2 = s * u
            wi[b] = u - g1 / np.sqrt(gwi[b])
            cj[b] = v - g2 / np.sqrt(gcj[b])
            gwi[b] += g1 * g1
            gcj[b] += g2 * g2
        bw[i] -= step / np.sqrt(gbw[i])
        bc[j] -= step / np.sqrt(gbc[j])
        gbw[i] += step * step
        gbc[j] += step * step
    return total
