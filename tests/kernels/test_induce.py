"""tasks.induce against planted maps and brute force."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.induce import (apply_map, fit_induction_map, holdout_split, row_cosines,
                          target_contexts)


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


def test_target_contexts_brute_force():
    rng = np.random.default_rng(2)
    n_words, d, window = 6, 3, 2
    wv = rng.standard_normal((n_words, d))
    has = np.array([True, True, False, True, True, True])
    wv[~has] = 0
    ids = rng.integers(-1, 8, size=60)  # 6 and 7 are targets
    offsets = np.array([0, 10, 10, 35, 60])
    sums, counts, occ = target_contexts(ids, offsets, np.array([6, 7]), wv, has,
                                        window=window, n_targets=2)
    ref_s, ref_c, ref_o = np.zeros((2, d)), np.zeros(2), np.zeros(2)
    for k in range(len(offsets) - 1):
        lo, hi = offsets[k], offsets[k + 1]
        for i in range(lo, hi):
            if ids[i] in (6, 7):
                t = ids[i] - 6
                ref_o[t] += 1
                for j in range(max(lo, i - window), min(hi, i + window + 1)):
                    if j != i and 0 <= ids[j] < n_words and has[ids[j]]:
                        ref_s[t] += wv[ids[j]]
                        ref_c[t] += 1
    np.testing.assert_allclose(sums, ref_s)
    np.testing.assert_array_equal(counts, ref_c)
    np.testing.assert_array_equal(occ, ref_o)


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
