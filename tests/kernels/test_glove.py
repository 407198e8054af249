"""tasks.glove: convergence, planted structure, one-step AdaGrad update vs numpy, validation."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.glove import init_state, sgd_epoch, train_glove


def random_symmetric(rng, n_words, density=0.3):
    """COO arrays (rows, cols, weighted) of a random symmetric positive matrix."""
    a = rng.random((n_words, n_words)) * 20
    a[rng.random((n_words, n_words)) > density] = 0
    a = np.triu(a) + np.triu(a, 1).T
    r, c = np.nonzero(a)
    return r.astype(np.int32), c.astype(np.int32), a[r, c].astype(np.float32)


def planted(rng, group_size):
    """Two groups; words co-occur only with words of their own group.

    Within a group the counts follow the words' (heavy-tailed) frequencies,
    x_ij ~ 1 + Poisson(5 p_i p_j), as in a corpus of single-topic documents.
    """
    n = 2 * group_size
    group = np.repeat([0, 1], group_size)
    p = rng.pareto(1.0, n) + 1
    a = rng.poisson(5 * np.outer(p, p)).astype(np.float64) + 1
    a = np.triu(a) + np.triu(a, 1).T
    a[group[:, None] != group[None, :]] = 0
    r, c = np.nonzero(a)
    return r.astype(np.int32), c.astype(np.int32), a[r, c].astype(np.float32), group


def cosines(v):
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    return u @ u.T


def within_across(cos, group):
    same = group[:, None] == group[None, :]
    off = ~np.eye(len(group), dtype=bool)
    return cos[same & off].mean(), cos[~same].mean()


# --------------------------------------------------------------------------- behaviour


def test_shape_dtype_and_losses():
    rng = np.random.default_rng(0)
    r, c, x = random_symmetric(rng, 30)
    seen = []
    vec, losses = train_glove(r, c, x, 30, vector_size=7, epochs=4,
                              callback=lambda e, loss: seen.append((e, loss)))
    assert vec.shape == (30, 7) and vec.dtype == np.float32
    assert isinstance(losses, list) and len(losses) == 4
    assert all(isinstance(v, float) and np.isfinite(v) for v in losses)
    assert seen == list(enumerate(losses))


def test_loss_decreases_every_epoch():
    rng = np.random.default_rng(1)
    r, c, x = random_symmetric(rng, 60)
    _, losses = train_glove(r, c, x, 60, vector_size=10, epochs=15, x_max=10.0)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_groups(seed):
    """GloVe sees only the non-zeros, so nothing pushes the groups apart; what makes a
    group's vectors similar is the first epochs' pull of each word vector toward its
    group's context vectors (all residuals start negative). The two groups' directions
    are independent, so across-group cosines scatter around 0 with spread ~ 1/sqrt(d):
    d = 50 keeps them small (margin >= 0.4 over 20 seeds when the test was written)."""
    rng = np.random.default_rng(seed)
    r, c, x, group = planted(rng, 20)
    vec, losses = train_glove(r, c, x, len(group), vector_size=50, epochs=10, seed=seed)
    within, across = within_across(cosines(vec), group)
    assert within > 0.5 and abs(across) < 0.3, (within, across)
    assert within > across + 0.25, (within, across)
    assert losses[-1] < losses[0]


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    r, c, x = random_symmetric(rng, 25)
    v1, l1 = train_glove(r, c, x, 25, vector_size=5, epochs=3, seed=11)
    v2, l2 = train_glove(r, c, x, 25, vector_size=5, epochs=3, seed=11)
    v3, l3 = train_glove(r, c, x, 25, vector_size=5, epochs=3, seed=12)
    np.testing.assert_array_equal(v1, v2)
    assert l1 == l2
    assert not np.array_equal(v1, v3)


def test_zero_entries_are_ignored_and_isolated_words_keep_init():
    rng = np.random.default_rng(4)
    r, c, x = random_symmetric(rng, 10)
    # Word 10 and 11 exist but have no positive entry (11 only has explicit zeros).
    r2 = np.concatenate([r, [11, 3]]).astype(np.int32)
    c2 = np.concatenate([c, [3, 11]]).astype(np.int32)
    x2 = np.concatenate([x, [0, 0]]).astype(np.float32)
    v1, l1 = train_glove(r, c, x, 12, vector_size=4, epochs=2, seed=5)
    v2, l2 = train_glove(r2, c2, x2, 12, vector_size=4, epochs=2, seed=5)
    np.testing.assert_array_equal(v1, v2)
    assert l1 == l2
    init = init_state(12, 4, 5)
    np.testing.assert_array_equal(v1[10:], (init.W + init.C)[10:])


# --------------------------------------------------------------------------- one step vs numpy


def reference_step(params, i, j, x, *, x_max, alpha, lr):
    """One AdaGrad step of the GloVe reference (glove.c), written out in float64 numpy.

    params: dict of float64 arrays w, c, bw, bc, gw, gc, gbw, gbc (modified copies returned).
    The gradient of 0.5 f (w.c + bw + bc - log x)^2 is checked by central differences.
    """
    p = {k: v.copy() for k, v in params.items()}
    f = min(1.0, (x / x_max) ** alpha)

    def half_cost(w, c, b1, b2):
        return 0.5 * f * (w @ c + b1 + b2 - np.log(x)) ** 2

    w, c, b1, b2 = p["w"][i].copy(), p["c"][j].copy(), p["bw"][i], p["bc"][j]
    diff = w @ c + b1 + b2 - np.log(x)
    grad_w, grad_c, grad_b = f * diff * c, f * diff * w, f * diff
    # Finite-difference check of the analytic gradient.
    h = 1e-6
    for b in range(w.size):
        e = np.zeros_like(w)
        e[b] = h
        fd_w = (half_cost(w + e, c, b1, b2) - half_cost(w - e, c, b1, b2)) / (2 * h)
        fd_c = (half_cost(w, c + e, b1, b2) - half_cost(w, c - e, b1, b2)) / (2 * h)
        assert abs(fd_w - grad_w[b]) <= 1e-6 * max(1.0, abs(grad_w[b]))
        assert abs(fd_c - grad_c[b]) <= 1e-6 * max(1.0, abs(grad_c[b]))
    fd_b = (half_cost(w, c, b1 + h, b2) - half_cost(w, c, b1 - h, b2)) / (2 * h)
    assert abs(fd_b - grad_b) <= 1e-6 * max(1.0, abs(grad_b))
    # AdaGrad as glove.c: divide by the accumulator before adding (lr * grad)^2.
    sw, sc, sb = lr * grad_w, lr * grad_c, lr * grad_b
    p["w"][i] = w - sw / np.sqrt(p["gw"][i])
    p["c"][j] = c - sc / np.sqrt(p["gc"][j])
    p["bw"][i] = b1 - sb / np.sqrt(p["gbw"][i])
    p["bc"][j] = b2 - sb / np.sqrt(p["gbc"][j])
    p["gw"][i] += sw ** 2
    p["gc"][j] += sc ** 2
    p["gbw"][i] += sb ** 2
    p["gbc"][j] += sb ** 2
    loss = f * diff ** 2
    return p, loss


def as_params(state):
    names = ["w", "c", "bw", "bc", "gw", "gc", "gbw", "gbc"]
    return {n: a.astype(np.float64) for n, a in zip(names, state)}


def assert_params_close(state, expected, before):
    """Compare the kernel's float32 state with the float64 reference, on the changes."""
    got = as_params(state)
    for name in expected:
        delta_ref = expected[name] - before[name]
        delta_got = got[name] - before[name]
        scale = np.abs(delta_ref).max() + 1e-30
        # float32 rounding of the stored value (a few ulps) plus a small relative error
        # on the update itself.
        tol = 4 * np.finfo(np.float32).eps * np.abs(before[name]) + 2e-5 * scale + 1e-9
        assert np.all(np.abs(delta_got - delta_ref) <= tol), (name, delta_got, delta_ref)


@pytest.mark.parametrize("x, x_max, alpha, lr", [
    (3.0, 100.0, 0.75, 0.05),     # f < 1
    (250.0, 100.0, 0.75, 0.05),   # f = 1
    (0.4, 10.0, 0.5, 0.3),        # x < 1: log x < 0
])
def test_single_step_matches_numpy(x, x_max, alpha, lr):
    n_words, d, seed = 5, 6, 7
    i, j = 3, 1
    state = init_state(n_words, d, seed)
    # Bigger parameters than the initial ones, so the update is far above float32 noise.
    rng = np.random.default_rng(0)
    for a in state[:4]:
        a[...] = rng.uniform(-1, 1, a.shape).astype(np.float32)
    for a in state[4:]:
        a[...] = rng.uniform(1, 3, a.shape).astype(np.float32)
    before = as_params(state)
    expected, loss_ref = reference_step(before, i, j, x, x_max=x_max, alpha=alpha, lr=lr)
    loss = sgd_epoch(state, np.array([i]), np.array([j]), np.array([x]), np.array([0]),
                     x_max=x_max, alpha=alpha, learning_rate=lr)
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    assert_params_close(state, expected, before)


def test_steps_in_given_order_including_diagonal():
    """A few entries (one on the diagonal, one repeated) visited in a fixed order."""
    n_words, d = 4, 3
    rows = np.array([0, 2, 2, 1], dtype=np.int32)
    cols = np.array([1, 2, 0, 3], dtype=np.int32)
    x = np.array([5.0, 2.5, 40.0, 120.0])
    order = np.array([2, 0, 1, 2, 3])
    state = init_state(n_words, d, 3)
    before = as_params(state)
    ref, total = before, 0.0
    for k in order:
        ref, loss = reference_step(ref, rows[k], cols[k], x[k], x_max=50.0, alpha=0.75, lr=0.2)
        total += loss
    got = sgd_epoch(state, rows, cols, x, order, x_max=50.0, alpha=0.75, learning_rate=0.2)
    assert got == pytest.approx(total / order.size, rel=1e-5)
    assert_params_close(state, ref, before)


def test_train_glove_one_entry_one_epoch_is_one_step():
    """train_glove starts from init_state(seed) and returns W + C."""
    n_words, d, seed = 3, 4, 9
    before = as_params(init_state(n_words, d, seed))
    expected, loss_ref = reference_step(before, 2, 0, 7.0, x_max=100.0, alpha=0.75, lr=0.05)
    vec, losses = train_glove(np.array([2]), np.array([0]), np.array([7.0]), n_words,
                              vector_size=d, epochs=1, seed=seed)
    np.testing.assert_allclose(vec, expected["w"] + expected["c"], rtol=1e-6, atol=1e-7)
    assert losses[0] == pytest.approx(loss_ref, rel=1e-5)


def test_init_state():
    s = init_state(50, 10, 0)
    for a in s[:4]:
        assert a.dtype == np.float32
        assert np.all(np.abs(a) <= 0.5 / 10)
    for a in s[4:]:
        assert np.all(a == 1)
    assert s.W.shape == s.C.shape == (50, 10) and s.bw.shape == s.bc.shape == (50,)
    assert not np.array_equal(s.W, s.C)


# --------------------------------------------------------------------------- validation


GOOD = dict(rows=np.array([0, 1]), cols=np.array([1, 0]), x=np.array([2.0, 2.0]), n_words=2)


@pytest.mark.parametrize("change", [
    dict(rows=np.array([0, 1, 1])),                 # lengths differ
    dict(x=np.array([2.0])),                        # lengths differ
    dict(x=np.array([2.0, -1.0])),                  # negative count
    dict(x=np.array([2.0, np.nan])),                # not finite
    dict(x=np.array([0.0, 0.0])),                   # nothing positive
    dict(rows=np.array([0, 2])),                    # id >= n_words
    dict(cols=np.array([-1, 0])),                   # negative id
    dict(rows=np.array([0.0, 1.0])),                # float ids
    dict(rows=np.array([[0, 1]]), cols=np.array([[1, 0]]), x=np.array([[2.0, 2.0]])),  # 2-D
    dict(n_words=0),
    dict(vector_size=0),
    dict(vector_size=2.5),
    dict(epochs=0),
    dict(x_max=0.0),
    dict(alpha=-0.1),
    dict(learning_rate=0.0),
    dict(learning_rate=float("inf")),
    dict(seed=-1),
    dict(callback="not callable"),
])
def test_bad_inputs_raise(change):
    kw = dict(GOOD, vector_size=2, epochs=1)
    kw.update(change)
    with pytest.raises(ValueError):
        train_glove(kw.pop("rows"), kw.pop("cols"), kw.pop("x"), kw.pop("n_words"), **kw)


def test_divergence_raises():
    # A huge learning rate on large counts blows the parameters up.
    rng = np.random.default_rng(5)
    r, c, x = random_symmetric(rng, 20, density=1.0)
    with pytest.raises(FloatingPointError):
        train_glove(r, c, x * 1e30, 20, vector_size=5, epochs=20, learning_rate=1e30)
