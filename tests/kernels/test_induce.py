"""tasks.induce against planted maps and brute force."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.induce import (apply_map, count_weights, first_occurrences, fit_induction_map,
                          holdout_split, pool_contexts, rescale_blocks, row_cosines,
                          span_context_sums)


def test_planted_map_is_recovered_exactly():
    rng = np.random.default_rng(0)
    a_true = rng.standard_normal((5, 4))
    u = rng.standard_normal((40, 4))
    a = fit_induction_map(u, u @ a_true.T)
    np.testing.assert_allclose(a, a_true, atol=1e-10)
    np.testing.assert_allclose(apply_map(a, u[:3]), u[:3] @ a_true.T, atol=1e-10)


def test_weights_match_a_repeated_rows_fit():
    rng = np.random.default_rng(1)
    u, v = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    w = rng.integers(1, 4, size=20)
    ref = fit_induction_map(np.repeat(u, w, axis=0), np.repeat(v, w, axis=0))
    np.testing.assert_allclose(fit_induction_map(u, v, weights=w), ref, atol=1e-10)


def test_singular_fit_is_refused():
    u = np.ones((10, 3))
    with pytest.raises(ValueError, match="singular fit"):
        fit_induction_map(u, np.ones((10, 3)))
    with pytest.raises(ValueError, match="singular fit"):
        fit_induction_map(np.eye(3)[:2], np.eye(3)[:2])


def test_holdout_and_cosines():
    held = holdout_split(50, 0.1, seed=3)
    assert held.sum() == 5
    np.testing.assert_array_equal(held, holdout_split(50, 0.1, seed=3))
    x = np.array([[1.0, 0], [0, 0], [1, 1]])
    y = np.array([[2.0, 0], [1, 1], [-1, -1]])
    np.testing.assert_allclose(row_cosines(x, y), [1, 0, -1])


def test_removed_directions_are_allowed_and_mapped_to_zero():
    rng = np.random.default_rng(4)
    a_true = rng.standard_normal((3, 4))
    u = rng.standard_normal((30, 4))
    direction = np.array([[1.0, 0, 0, 0]])
    u = u - (u @ direction.T) @ direction  # common component removed: rank 3
    with pytest.raises(ValueError, match="singular fit"):
        fit_induction_map(u, u @ a_true.T)
    a = fit_induction_map(u, u @ a_true.T, removed=1)
    np.testing.assert_allclose(apply_map(a, u), u @ a_true.T, atol=1e-9)
    np.testing.assert_allclose(a @ direction.T, 0, atol=1e-9)


def test_planted_affine_map_is_recovered_with_intercept():
    rng = np.random.default_rng(4)
    a_true, b_true = rng.standard_normal((5, 4)), rng.standard_normal(5)
    u = rng.standard_normal((40, 4))
    a, b = fit_induction_map(u, u @ a_true.T + b_true, intercept=True)
    np.testing.assert_allclose(a, a_true, atol=1e-10)
    np.testing.assert_allclose(b, b_true, atol=1e-10)
    np.testing.assert_allclose(apply_map(a, u[:3], b), u[:3] @ a_true.T + b_true, atol=1e-10)


def test_weighted_intercept_fit_equals_least_squares_with_a_ones_column():
    # Reference: plain lstsq on rows repeated by their weight, with a column of ones.
    rng = np.random.default_rng(5)
    u, v = rng.standard_normal((30, 3)), rng.standard_normal((30, 2))
    w = rng.integers(1, 5, size=30)
    ur, vr = np.repeat(u, w, axis=0), np.repeat(v, w, axis=0)
    sol, *_ = np.linalg.lstsq(np.hstack([ur, np.ones((len(ur), 1))]), vr, rcond=None)
    a, b = fit_induction_map(u, v, weights=w, intercept=True)
    np.testing.assert_allclose(a, sol[:3].T, atol=1e-10)
    np.testing.assert_allclose(b, sol[3], atol=1e-10)


def test_ridge_fit_equals_dense_normal_equations_with_unpenalised_intercept():
    # Reference: minimise Σ w ||v - A u - b||² + λ||A||² over [A b] by one dense
    # solve with a column of ones that the penalty leaves out.
    rng = np.random.default_rng(6)
    u, v, w = rng.normal(size=(80, 6)), rng.normal(size=(80, 4)), rng.random(80) + 0.1
    a, b = fit_induction_map(u, v, w, intercept=True, ridge=0.5)
    um = w @ u / w.sum()
    lam = 0.5 * np.trace(((u - um) * w[:, None]).T @ (u - um)) / 6
    x = np.hstack([u, np.ones((80, 1))])
    sol = np.linalg.solve(x.T @ (x * w[:, None]) + np.diag([lam] * 6 + [0.0]),
                          x.T @ (v * w[:, None]))
    np.testing.assert_allclose(a, sol[:6].T, atol=1e-8)
    np.testing.assert_allclose(b, sol[6], atol=1e-8)
    # without intercept: the plain ridge solution
    a0 = fit_induction_map(u, v, ridge=0.5)
    lam0 = 0.5 * np.trace(u.T @ u) / 6
    np.testing.assert_allclose(a0, np.linalg.solve(u.T @ u + lam0 * np.eye(6), u.T @ v).T,
                               atol=1e-8)


def test_ridge_fit_accepts_removed_directions_and_shrinks():
    rng = np.random.default_rng(7)
    u = rng.normal(size=(50, 4))
    u[:, 0] = 0  # a removed direction: rank 3, singular without ridge
    v = rng.normal(size=(50, 2))
    a_small = fit_induction_map(u, v, ridge=0.01)
    a_big = fit_induction_map(u, v, ridge=10.0)
    np.testing.assert_allclose(a_small[:, 0], 0, atol=1e-12)
    assert np.linalg.norm(a_big) < np.linalg.norm(a_small)


def test_count_weights():
    np.testing.assert_allclose(count_weights([1, np.e, 100], "log"), [0, 1, np.log(100)])
    np.testing.assert_allclose(count_weights([4, 9], "sqrt"), [2, 3])
    assert count_weights([4, 9], "none") is None
    with pytest.raises(ValueError, match="weights"):
        count_weights([1], "count")


def _brute_context(ids, offsets, start, end, vec, has, window):
    d = np.searchsorted(offsets, start, side="right") - 1
    lo, hi = offsets[d], offsets[d + 1]
    pos = [p for p in range(start - window, start) if p >= lo] + \
          [p for p in range(end, end + window) if p < hi]
    pos = [p for p in pos if 0 <= ids[p] < len(vec) and has[ids[p]]]
    return sum((vec[ids[p]] for p in pos), np.zeros(vec.shape[1])), len(pos)


def test_span_context_sums_match_brute_force_for_words_and_phrases():
    rng = np.random.default_rng(8)
    ids = rng.integers(-1, 12, 200)                 # ids 10, 11 and -1: no vector
    offsets = np.array([0, 37, 38, 120, 200])
    vec = rng.normal(size=(10, 3))
    has = rng.random(10) > 0.2
    starts = np.array([0, 5, 36, 37, 40, 118, 150, 199])
    ends = np.array([1, 8, 37, 38, 43, 120, 152, 200])  # 1-, 2- and 3-token spans
    for window in (1, 3, 6):
        sums, n = span_context_sums(ids, offsets, starts, ends, vec, has, window=window)
        for k, (s, e) in enumerate(zip(starts, ends)):
            ref, rn = _brute_context(ids, offsets, s, e, vec, has, window)
            assert n[k] == rn
            np.testing.assert_allclose(sums[k], ref, atol=1e-12)


def test_a_phrase_never_counts_its_own_tokens():
    ids = np.array([0, 1, 2, 1, 0])
    sums, n = span_context_sums(ids, np.array([0, 5]), np.array([1]), np.array([4]),
                                np.eye(3), np.ones(3, bool), window=5)
    np.testing.assert_allclose(sums[0], [2, 0, 0])   # the two 0s outside, not the 1s and 2
    assert n[0] == 2
    with pytest.raises(ValueError, match="one document"):
        span_context_sums(ids, np.array([0, 2, 5]), np.array([1]), np.array([3]), np.eye(3),
                          np.ones(3, bool), window=1)


def test_span_sums_over_every_position_equal_the_cooc_context_average():
    # Independent route: a dense co-occurrence matrix built by loops, then C @ V / C @ 1.
    rng = np.random.default_rng(9)
    ids = rng.integers(0, 5, 60)
    offsets = np.array([0, 20, 45, 60])
    vec = rng.normal(size=(5, 2))
    c = np.zeros((5, 5))
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        for i in range(lo, hi):
            for j in range(max(lo, i - 2), min(hi, i + 3)):
                if j != i:
                    c[ids[i], ids[j]] += 1
    pos = np.arange(60)
    sums, n = span_context_sums(ids, offsets, pos, pos + 1, vec, np.ones(5, bool), window=2)
    u, tokens = pool_contexts(sums, n, ids, n_groups=5)
    np.testing.assert_allclose(u, c @ vec / c.sum(axis=1, keepdims=True), atol=1e-12)
    np.testing.assert_array_equal(tokens, c.sum(axis=1))


def test_pool_contexts_pools_tokens_not_contexts():
    sums = np.array([[2.0, 0], [0, 3.0], [1.0, 1.0]])
    u, tokens = pool_contexts(sums, np.array([2, 1, 1]), np.array([0, 0, 1]), n_groups=3)
    np.testing.assert_allclose(u, [[2 / 3, 1.0], [1, 1], [0, 0]])
    np.testing.assert_array_equal(tokens, [3, 1, 0])


def test_rescaled_blocks_give_the_weighted_mean_of_block_cosines():
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    blocks = np.array([[0, 3, np.sqrt(0.54)], [3, 6, np.sqrt(0.46)]])
    xr, yr = rescale_blocks(x, blocks), rescale_blocks(y, blocks)
    np.testing.assert_allclose(np.linalg.norm(xr[:, :3], axis=1), np.sqrt(0.54))
    per_block = np.stack([row_cosines(x[:, :3], y[:, :3]), row_cosines(x[:, 3:], y[:, 3:])], 1)
    np.testing.assert_allclose(row_cosines(xr, yr), per_block @ [0.54, 0.46])
    np.testing.assert_array_equal(rescale_blocks(np.zeros((1, 6)), blocks), 0)


def test_first_occurrences_brute_force():
    rng = np.random.default_rng(11)
    ids = rng.integers(0, 6, 100)
    targets = np.array([4, 1, 9])
    pos, tgt = first_occurrences(ids, targets, n=3)
    for k, t in enumerate(targets):
        np.testing.assert_array_equal(pos[tgt == k], np.flatnonzero(ids == t)[:3])
