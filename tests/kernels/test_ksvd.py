"""tasks.ksvd against plain-numpy OMP, exhaustive search, a dense K-SVD pass and a planted dictionary."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

from tasks.ksvd import (KSVD, codes_to_sparse, omp_gram, reconstruct, relative_error,
                        sparse_code, update_dictionary)


def unit_rows(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def dense_codes(idx, coef, n_atoms):
    """Γ (n, n_atoms) written out slot by slot."""
    g = np.zeros((len(idx), n_atoms))
    for i in range(len(idx)):
        for s in range(idx.shape[1]):
            if idx[i, s] >= 0:
                g[i, idx[i, s]] += coef[i, s]
    return g


def dense_error(X, idx, coef, D):
    return np.linalg.norm(X - dense_codes(idx, coef, len(D)) @ D) / np.linalg.norm(X)


def plain_omp(x, D, k, tol=1e-10):
    """Textbook OMP: residual formed explicitly, least-squares refit every step."""
    support, c, r = [], np.zeros(0), x.copy()
    for _ in range(k):
        corr = np.abs(D @ r)
        corr[support] = -1
        j = int(np.argmax(corr))
        if corr[j] <= tol:
            break
        support.append(j)
        c = np.linalg.lstsq(D[support].T, x, rcond=None)[0]
        r = x - D[support].T @ c
    return support, c


def dense_ksvd_pass(X, D, idx, coef):
    """Approximate K-SVD on a dense Γ, atom by atom, as in Rubinstein et al. (2008)."""
    D = D.copy()
    G = dense_codes(idx, coef, len(D))
    R = X - G @ D
    taken, n_replaced = np.zeros(len(X), bool), 0
    for j in range(len(D)):
        users = np.flatnonzero(G[:, j])
        if users.size == 0:
            norms = np.where(taken | ~np.any(X != 0, axis=1), -1.0, np.sum(R ** 2, axis=1))
            best = int(np.argmax(norms))
            D[j] = X[best] / np.linalg.norm(X[best])
            taken[best] = True
            n_replaced += 1
            continue
        g = G[users, j]
        E = R[users] + np.outer(g, D[j])
        d = E.T @ g
        d /= np.linalg.norm(d)
        g = E @ d
        R[users] = E - np.outer(g, d)
        G[users, j] = g
        D[j] = d
    return D, G, R, n_replaced


def random_codes(rng, n, n_atoms, k):
    """k distinct atoms per row with random coefficients of both signs."""
    idx = np.array([rng.choice(n_atoms, k, replace=False) for _ in range(n)], dtype=np.int32)
    return idx, rng.standard_normal((n, k))


# --------------------------------------------------------------------------- coding


def test_omp_matches_plain_omp_on_random_problems():
    rng = np.random.default_rng(0)
    for _ in range(30):
        d = int(rng.integers(2, 12))
        n_atoms = int(rng.integers(2, 25))
        k = int(rng.integers(1, min(d, n_atoms) + 1))
        D = unit_rows(rng.standard_normal((n_atoms, d)))
        X = rng.standard_normal((6, d))
        idx, coef = sparse_code(X, D, k)
        idx2, coef2 = omp_gram(X @ D.T, D @ D.T, k)
        np.testing.assert_array_equal(idx, idx2)
        np.testing.assert_allclose(coef, coef2, atol=1e-12)
        assert idx.dtype == np.int32 and idx.shape == coef.shape == (6, k)
        for i in range(len(X)):
            support, c = plain_omp(X[i], D, k)
            assert list(idx[i, :len(support)]) == support
            assert np.all(idx[i, len(support):] == -1)
            np.testing.assert_allclose(coef[i, :len(support)], c, atol=1e-10)
            assert np.all(coef[i, len(support):] == 0)


def test_omp_with_unnormalised_atoms_matches_plain_omp():
    # Batch-OMP uses the Gram matrix as it is; plain OMP on the same atoms agrees.
    rng = np.random.default_rng(1)
    D = rng.standard_normal((12, 6)) * rng.uniform(0.5, 2, (12, 1))
    X = rng.standard_normal((10, 6))
    idx, coef = sparse_code(X, D, 4)
    for i in range(len(X)):
        support, c = plain_omp(X[i], D, 4)
        assert list(idx[i]) == support
        np.testing.assert_allclose(coef[i], c, atol=1e-10)


def incoherent_dictionary(rng, d=64, per_basis=10):
    """Spikes and Hadamard columns: mutual coherence 1 / sqrt(d) = 1/8."""
    spikes = np.eye(d)[rng.choice(d, per_basis, replace=False)]
    waves = scipy.linalg.hadamard(d)[rng.choice(d, per_basis, replace=False)] / np.sqrt(d)
    return np.vstack([spikes, waves])[rng.permutation(2 * per_basis)]


def test_omp_finds_the_exhaustive_optimum_of_exact_sparse_signals():
    # Coherence 1/8 and k = 3: (2k - 1) mu < 1, so OMP must recover the support.
    rng = np.random.default_rng(2)
    D = incoherent_dictionary(rng)
    k = 3
    supports = [s for size in range(1, k + 1) for s in itertools.combinations(range(len(D)), size)]
    X, planted = [], []
    for _ in range(8):
        s = rng.choice(len(D), k, replace=False)
        X.append(rng.choice([-1, 1], k) * rng.uniform(0.5, 2, k) @ D[s])
        planted.append(set(s))
    X = np.array(X)
    idx, coef = sparse_code(X, D, k)
    for i, x in enumerate(X):
        errors = []
        for s in supports:
            c = np.linalg.lstsq(D[list(s)].T, x, rcond=None)[0]
            errors.append(np.linalg.norm(x - D[list(s)].T @ c))
        errors = np.array(errors)
        exact = [set(supports[t]) for t in np.flatnonzero(errors < 1e-9)]
        assert exact == [planted[i]]  # the unique zero-error support of size <= k
        assert set(idx[i]) == planted[i]
        np.testing.assert_allclose(reconstruct(idx[i:i + 1], coef[i:i + 1], D)[0], x,
                                   atol=1e-10)


def test_exactly_represented_signal_stops_early():
    D = np.eye(5)
    X = np.array([[0, 2.0, 0, 0, 0], [0, 0, 0, 0, 0], [1.0, -1, 0, 0, 0]])
    idx, coef = sparse_code(X, D, 3)
    np.testing.assert_array_equal(idx, [[1, -1, -1], [-1, -1, -1], [0, 1, -1]])
    np.testing.assert_allclose(coef, [[2, 0, 0], [0, 0, 0], [1, -1, 0]])


def test_sparsity_holds_with_duplicate_and_dependent_atoms():
    rng = np.random.default_rng(3)
    base = unit_rows(rng.standard_normal((6, 4)))
    D = np.vstack([base, base[:2],                            # exact duplicates
                   unit_rows(base[[0]] + base[[1]]),          # in the span of two atoms
                   unit_rows(base[[2]] - 2 * base[[3]])])
    X = np.vstack([rng.standard_normal((40, 4)), D[:3] * 3, base[0] + base[1]])
    for k in (1, 2, 4, 6):
        idx, coef = sparse_code(X, D, k)
        assert idx.shape == (len(X), k)
        assert np.all(np.isfinite(coef))
        assert np.all(np.sum(idx >= 0, axis=1) <= k)
        for row in idx:
            used = row[row >= 0]
            assert len(set(used)) == len(used)
            assert np.all(row[len(used):] == -1)
        # A least-squares fit on at most 4 (the dimension) independent atoms.
        assert relative_error(X, idx, coef, D) <= 1.0 + 1e-12
    idx, coef = sparse_code(X, D, 6)
    assert np.all(np.sum(idx >= 0, axis=1) <= 4)  # never more atoms than dimensions
    np.testing.assert_allclose(reconstruct(idx, coef, D), X, atol=1e-8)


def test_codes_to_sparse_and_reconstruct():
    idx = np.array([[3, 0, -1], [-1, -1, -1], [1, 2, 3]], dtype=np.int32)
    coef = np.array([[2.0, -1, 0], [0, 0, 0], [0.5, 0, 4]])
    m = codes_to_sparse(idx, coef, 5)
    assert isinstance(m, sp.csr_array) and m.shape == (3, 5)
    np.testing.assert_allclose(m.toarray(), dense_codes(idx, coef, 5))
    assert m.nnz == 4  # the zero coefficient is left out
    assert np.all(np.diff(m.indices[m.indptr[0]:m.indptr[1]]) > 0)
    D = np.random.default_rng(4).standard_normal((5, 3))
    np.testing.assert_allclose(reconstruct(idx, coef, D), dense_codes(idx, coef, 5) @ D)


# --------------------------------------------------------------------------- dictionary update


def test_update_matches_a_dense_pass_and_never_increases_the_error():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 8))
    D = unit_rows(rng.standard_normal((15, 8)))
    for idx, coef in (sparse_code(X, D, 3), random_codes(rng, 60, 15, 3)):
        before = dense_error(X, idx, coef, D)
        args = [a.copy() for a in (X, D, idx, coef)]
        D2, coef2, R2, n_replaced = update_dictionary(X, D, idx, coef)
        for a, b in zip(args, (X, D, idx, coef)):
            np.testing.assert_array_equal(a, b)  # inputs untouched
        ref_D, ref_G, ref_R, ref_n = dense_ksvd_pass(X, D, idx, coef)
        np.testing.assert_allclose(D2, ref_D, atol=1e-10)
        np.testing.assert_allclose(dense_codes(idx, coef2, 15), ref_G, atol=1e-10)
        np.testing.assert_allclose(R2, ref_R, atol=1e-10)
        np.testing.assert_allclose(R2, X - dense_codes(idx, coef2, 15) @ D2, atol=1e-10)
        assert n_replaced == ref_n
        np.testing.assert_allclose(np.linalg.norm(D2, axis=1), 1.0, atol=1e-12)
        after = dense_error(X, idx, coef2, D2)
        assert after <= before + 1e-12
        np.testing.assert_allclose(relative_error(X, idx, coef2, D2), after, rtol=1e-12)
        # A supplied residual gives the same pass.
        again = update_dictionary(X, D, idx, coef, residual=X - dense_codes(idx, coef, 15) @ D)
        np.testing.assert_allclose(again[0], D2, atol=1e-12)


def test_atom_used_only_with_negative_coefficients_is_updated():
    rng = np.random.default_rng(6)
    a = unit_rows(rng.standard_normal((1, 10)))[0]
    other = unit_rows(rng.standard_normal((1, 10)))[0]
    X = -rng.uniform(1, 3, (50, 1)) * a + 0.01 * rng.standard_normal((50, 10))
    X[:5] = rng.uniform(1, 2, (5, 1)) * other
    D = np.vstack([unit_rows((a + 0.5 * rng.standard_normal(10))[None])[0], other])
    idx = np.zeros((50, 1), dtype=np.int32)
    idx[:5] = 1
    coef = np.einsum("nd,nd->n", X, D[idx[:, 0]])[:, None]
    assert np.all(coef[5:] < 0)  # atom 0 has only negative coefficients
    D2, coef2, _, _ = update_dictionary(X, D, idx, coef)
    assert abs(D2[0] @ a) > 0.999 > abs(D[0] @ a)
    assert dense_error(X, idx, coef2, D2) < 0.5 * dense_error(X, idx, coef, D)
    ref_D, ref_G, _, _ = dense_ksvd_pass(X, D, idx, coef)
    np.testing.assert_allclose(D2, ref_D, atol=1e-10)


def test_dead_atoms_are_replaced_by_the_worst_represented_signals():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((30, 6))
    X[4] = 0  # never a replacement
    D = unit_rows(rng.standard_normal((4, 6)))
    idx = np.full((30, 2), -1, dtype=np.int32)
    coef = np.zeros((30, 2))
    idx[:, 0] = 3  # atoms 0, 1 and 2 unused; atom 3 only touched after them
    coef[:, 0] = X @ D[3]
    coef[7, 0] = 0.0  # a zero coefficient does not count as a use ...
    idx[8, :] = [3, 2]  # ... nor does a slot of atom 2 with coefficient 0
    residual = np.sum((X - dense_codes(idx, coef, 4) @ D) ** 2, axis=1)
    worst = [i for i in np.argsort(-residual, kind="stable") if np.any(X[i] != 0)][:3]
    D2, coef2, R2, n_replaced = update_dictionary(X, D, idx, coef)
    assert n_replaced == 3
    for j, i in enumerate(worst):
        np.testing.assert_allclose(D2[j], X[i] / np.linalg.norm(X[i]), atol=1e-12)
    assert len(set(worst)) == 3
    np.testing.assert_allclose(coef2[:, 1], coef[:, 1])
    np.testing.assert_allclose(np.linalg.norm(D2, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(R2, X - dense_codes(idx, coef2, 4) @ D2, atol=1e-10)


def test_update_and_codes_reject_bad_input():
    X, D = np.ones((3, 2)), np.eye(2)
    good = np.array([[0], [1], [0]], dtype=np.int32), np.ones((3, 1))
    with pytest.raises(ValueError, match="lie in"):
        update_dictionary(X, D, good[0] + 1, good[1])
    with pytest.raises(ValueError, match="packed"):
        update_dictionary(X, D, np.array([[-1, 0]] * 3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="twice"):
        update_dictionary(X, D, np.array([[0, 0]] * 3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="rows"):
        update_dictionary(X[:2], D, *good)
    with pytest.raises(ValueError, match="finite"):
        sparse_code(np.array([[np.nan, 0]]), D, 1)
    with pytest.raises(ValueError, match="sparsity"):
        omp_gram(X @ D.T, D @ D.T, 3)
    with pytest.raises(ValueError, match="dimensions"):
        sparse_code(np.ones((2, 3)), D, 1)


# --------------------------------------------------------------------------- estimator


def planted_problem(seed, n_atoms=30, d=20, n=1500, k=3, noise=1e-3):
    rng = np.random.default_rng(seed)
    atoms = unit_rows(rng.standard_normal((n_atoms, d)))
    support = np.array([rng.choice(n_atoms, k, replace=False) for _ in range(n)])
    c = rng.choice([-1, 1], (n, k)) * rng.uniform(1, 2, (n, k))
    X = np.einsum("nk,nkd->nd", c, atoms[support]) + noise * rng.standard_normal((n, d))
    return atoms, X


def test_planted_dictionary_is_recovered():
    # K-SVD can stall in a local optimum (two atoms sharing one planted atom, one
    # atom mixing two); the lowest-error of 20 restarts recovered 28-30 of the 30
    # atoms for every problem and random_state tried.
    atoms, X = planted_problem(0)
    model = KSVD(n_atoms=30, sparsity=3, max_iter=150, tol=1e-7, n_restarts=20,
                 random_state=0).fit(X)
    best_cos = np.abs(atoms @ model.components_.T).max(axis=1)
    assert np.mean(best_cos > 0.95) >= 0.9
    assert model.error_[-1] == min(model.restart_errors_)
    assert len(model.restart_errors_) == 20


def test_fitted_attributes_and_transform():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((300, 10)).astype(np.float32)
    seen = []
    model = KSVD(n_atoms=25, sparsity=3, max_iter=8, tol=0.0, random_state=1,
                 callback=lambda *a: seen.append(a))
    model.fit(X)
    e = np.array(model.error_)
    assert model.n_iter_ == len(e) == len(seen) and 1 <= len(e) <= 8
    assert np.all(np.diff(e) <= 1e-9)
    assert [s[:3] for s in seen] == [(0, t, v) for t, v in enumerate(model.error_)]
    assert model.components_.shape == (25, 10) and model.components_.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1.0, atol=1e-12)
    assert model.n_features_in_ == 10 and model.restart_errors_ == [e[-1]]
    assert model.idx_.shape == model.coef_.shape == (300, 3)
    np.testing.assert_allclose(dense_error(X.astype(np.float64), model.idx_, model.coef_,
                                           model.components_), e[-1], rtol=1e-9)
    codes = model.transform(X[:40])
    assert isinstance(codes, sp.csr_array) and codes.shape == (40, 25)
    assert np.diff(codes.indptr).max() <= 3
    idx, coef = model.encode(X[:40])
    np.testing.assert_allclose(codes.toarray(), dense_codes(idx, coef, 25))
    # Same seed, same dictionary; the coder hook is used for every coding step.
    calls = []

    def coder(X, D, gram, sparsity):
        calls.append(len(X))
        np.testing.assert_allclose(gram, D @ D.T)
        return sparse_code(X, D, sparsity)

    hooked = KSVD(n_atoms=25, sparsity=3, max_iter=8, tol=0.0, random_state=1,
                  coder=coder).fit(X)
    np.testing.assert_allclose(hooked.components_, model.components_, atol=1e-12)
    assert calls == [300] * model.n_iter_
    assert hooked.fit_transform(X).shape == (300, 25)


def test_stop_rule():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((200, 6))
    model = KSVD(n_atoms=12, sparsity=2, max_iter=50, tol=0.05, random_state=0).fit(X)
    e = model.error_
    assert all((e[t - 1] - e[t]) / e[t - 1] >= 0.05 for t in range(1, len(e) - 1))
    assert len(e) == 50 or (e[-2] - e[-1]) / e[-2] < 0.05


@pytest.mark.parametrize("X, params, message", [
    (np.ones((5, 3)) + np.eye(5, 3), {"n_atoms": 6}, r"n_atoms=6 exceeds the 5 signals"),
    (np.vstack([np.eye(4), np.zeros((3, 4))]), {"n_atoms": 5}, r"n_atoms=5 exceeds the 4 signals"),
    (np.arange(1.0, 31).reshape(10, 3), {"n_atoms": 5, "sparsity": 4}, r"sparsity=4.*n_dims=3"),
    (np.arange(1.0, 31).reshape(10, 3), {"n_atoms": 2, "sparsity": 3}, r"sparsity=3.*n_atoms=2"),
    (np.array([[1.0, np.nan], [0, 1]]), {"n_atoms": 1, "sparsity": 1}, "NaN or inf"),
    (np.array([[1.0, np.inf], [0, 1]]), {"n_atoms": 1, "sparsity": 1}, "NaN or inf"),
    (np.ones((1, 3)), {"n_atoms": 1, "sparsity": 1}, "at least 2 signals"),
    (np.ones(3), {"n_atoms": 1, "sparsity": 1}, "2-D"),
    (np.eye(4), {"n_atoms": 2, "sparsity": 1, "tol": -1.0}, "tol"),
    (np.eye(4), {"n_atoms": 2, "sparsity": 1, "max_iter": 0}, "max_iter"),
    (np.eye(4), {"n_atoms": 2, "sparsity": 1, "n_restarts": 0}, "n_restarts"),
    (np.eye(4), {"n_atoms": 0, "sparsity": 1}, "n_atoms"),
])
def test_bad_input_is_refused(X, params, message):
    with pytest.raises(ValueError, match=message):
        KSVD(**params).fit(X)


def test_replacement_ties_go_to_the_lowest_index_or_follow_rng():
    rng = np.random.default_rng(10)
    D = unit_rows(rng.standard_normal((3, 4)))
    X = rng.uniform(1, 2, (8, 1)) * D[2]  # every signal exactly represented by atom 2
    idx = np.array([[2]] * 8, dtype=np.int32)
    coef = X @ D[2][:, None]
    D2, _, _, n_replaced = update_dictionary(X, D, idx, coef)
    assert n_replaced == 2
    np.testing.assert_allclose(D2[:2], unit_rows(X[:2]), atol=1e-12)
    a = update_dictionary(X, D, idx, coef, rng=3)[0]
    np.testing.assert_array_equal(a, update_dictionary(X, D, idx, coef, rng=3)[0])
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-12)


def test_atoms_are_oriented_towards_their_users():
    # Most signals use -a, a few +a: whichever signal the atom starts from, it
    # must end up pointing to -a, the side its coefficients mostly take.
    rng = np.random.default_rng(11)
    a = rng.standard_normal(6)
    a /= np.linalg.norm(a)
    scale = (1 + rng.random(40))[:, None]
    X = np.vstack([-scale[:30] * a, scale[30:] * a])
    for seed in range(10):
        m = KSVD(n_atoms=1, sparsity=1, max_iter=3, random_state=seed).fit(X)
        assert m.components_[0] @ a < -0.999
        assert m.coef_[:30, 0].min() > 0 and m.coef_[30:, 0].max() < 0
        np.testing.assert_allclose(reconstruct(m.idx_, m.coef_, m.components_), X, atol=1e-8)
