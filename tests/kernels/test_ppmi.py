"""tasks.ppmi: PPMI blocks vs a dense reference, svd_vectors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tasks.ppmi import context_distribution, ppmi_block, svd_vectors


def random_counts(rng, n, density=0.4, with_empty=True):
    """Symmetric count matrix with zeros; the last word (optionally) never occurs."""
    m = rng.poisson(3.0, size=(n, n)) * (rng.random((n, n)) < density)
    m = np.triu(m) + np.triu(m, 1).T
    if with_empty:
        m[-1, :] = m[:, -1] = 0
    return m.astype(np.int64)


def dense_sppmi(m, cds, shift):
    """Direct dense PPMI of Levy et al. from the count matrix."""
    total = m.sum()
    pwc = m / total
    pw = m.sum(axis=1) / total
    pc = m.sum(axis=0).astype(float) ** cds
    pc = pc / pc.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(pwc / np.outer(pw, pc))
    out = np.where(m > 0, np.maximum(pmi - np.log(shift), 0), 0)
    return out


def coo(m):
    r, c = np.nonzero(m)
    return r.astype(np.int32), c.astype(np.int32), m[r, c]


def block_of(m, start, stop, cds, shift):
    r, c, v = coo(m)
    sel = (r >= start) & (r < stop)
    return ppmi_block(r[sel], c[sel], v[sel], m.sum(axis=1), context_distribution(m.sum(0), cds),
                      m.sum(), shift=shift, row_start=start, n_rows=stop - start,
                      n_cols=m.shape[1])


# --------------------------------------------------------------------------- PPMI


def test_context_distribution():
    col = np.array([4.0, 0.0, 1.0, 9.0])
    p = context_distribution(col, cds=0.5)
    np.testing.assert_allclose(p, np.array([2, 0, 1, 3]) / 6)
    assert p.dtype == np.float64
    np.testing.assert_allclose(context_distribution(col, cds=1.0), col / 14)
    np.testing.assert_allclose(context_distribution(np.array([3, 1]), 0.75),
                               np.array([3 ** .75, 1]) / (3 ** .75 + 1))


@pytest.mark.parametrize("cds", [0.75, 1.0])
@pytest.mark.parametrize("shift", [1.0, 5.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_ppmi_block_matches_dense(cds, shift, seed):
    m = random_counts(np.random.default_rng(seed), 17)
    ref = dense_sppmi(m, cds, shift)
    whole = block_of(m, 0, 17, cds, shift)
    assert isinstance(whole, sp.csr_array)
    assert whole.dtype == np.float32 and whole.shape == (17, 17)
    assert whole.has_canonical_format and np.all(whole.data > 0)
    np.testing.assert_allclose(whole.toarray(), ref, rtol=1e-6, atol=1e-6)
    assert whole.nnz == np.count_nonzero(ref)
    if shift > 1:   # the shift must actually have removed some positive PMI values
        assert np.count_nonzero(ref) < np.count_nonzero(dense_sppmi(m, cds, 1.0))


@pytest.mark.parametrize("cuts", [[0, 17], [0, 5, 17], [0, 1, 2, 9, 16, 17], [0, 0, 8, 8, 17]])
def test_blocks_concatenate_to_whole(cuts):
    m = random_counts(np.random.default_rng(3), 17)
    whole = block_of(m, 0, 17, 0.75, 5.0)
    blocks = [block_of(m, a, b, 0.75, 5.0) for a, b in zip(cuts[:-1], cuts[1:])]
    assert [b.shape[0] for b in blocks] == list(np.diff(cuts))
    stacked = sp.vstack(blocks, format="csr")
    np.testing.assert_array_equal(stacked.toarray(), whole.toarray())


def test_default_n_rows_and_unsorted_duplicated_entries():
    m = random_counts(np.random.default_rng(4), 9, with_empty=False)
    r, c, v = coo(m)
    sel = r >= 4
    r, c, v = r[sel], c[sel], v[sel]
    # Split every count into two entries and shuffle: duplicates are summed first.
    half = v // 2
    perm = np.random.default_rng(0).permutation(2 * r.size)
    rr = np.concatenate([r, r])[perm]
    cc = np.concatenate([c, c])[perm]
    vv = np.concatenate([half, v - half])[perm]
    p = context_distribution(m.sum(0))
    got = ppmi_block(rr, cc, vv, m.sum(1), p, m.sum(), row_start=4, n_cols=9)
    assert got.shape == (5, 9)
    np.testing.assert_allclose(got.toarray(), dense_sppmi(m, 0.75, 1.0)[4:], rtol=1e-6, atol=1e-6)


def test_empty_block():
    m = random_counts(np.random.default_rng(5), 6)
    p = context_distribution(m.sum(0))
    e = np.array([], dtype=np.int32)
    b = ppmi_block(e, e, np.array([], dtype=np.int64), m.sum(1), p, m.sum(), row_start=5,
                   n_rows=1, n_cols=6)
    assert b.shape == (1, 6) and b.nnz == 0 and b.dtype == np.float32


@pytest.mark.parametrize("change", [
    dict(rows=np.array([0, 1, 1])),            # lengths differ
    dict(counts=np.array([1, -2])),            # negative count
    dict(counts=np.array([1.0, np.inf])),      # not finite
    dict(rows=np.array([0, 3])),               # row outside the block
    dict(row_start=1),                         # row 0 outside the block
    dict(cols=np.array([1, 3])),               # col >= n_cols
    dict(cols=np.array([1.0, 0.0])),           # float ids
    dict(n_cols=2),                            # context_p length mismatch
    dict(row_sums=np.array([0.0, 3.0, 1.0])),  # row with counts but row_sum 0
    dict(context_p=np.array([0.0, 0.5, 0.5])),  # column with counts but P_c 0
    dict(total=0.0),
    dict(shift=0.5),
    dict(shift=float("nan")),
    dict(n_rows=5),                            # beyond len(row_sums)
    dict(row_start=-1),
])
def test_ppmi_block_bad_inputs(change):
    kw = dict(rows=np.array([0, 1]), cols=np.array([1, 0]), counts=np.array([2, 2]),
              row_sums=np.array([2.0, 2.0, 1.0]), context_p=np.array([0.4, 0.4, 0.2]),
              total=5.0, n_cols=3, row_start=0, n_rows=2)
    kw.update(change)
    with pytest.raises(ValueError):
        ppmi_block(kw.pop("rows"), kw.pop("cols"), kw.pop("counts"), kw.pop("row_sums"),
                   kw.pop("context_p"), kw.pop("total"), **kw)


@pytest.mark.parametrize("col_sums, cds", [
    (np.zeros(3), 0.75), (np.array([1.0, -1.0]), 0.75), (np.array([1.0, np.nan]), 0.75),
    (np.array([1.0, 2.0]), 0.0), (np.ones((2, 2)), 0.75),
])
def test_context_distribution_bad_inputs(col_sums, cds):
    with pytest.raises(ValueError):
        context_distribution(col_sums, cds)


# --------------------------------------------------------------------------- vectors


def test_svd_vectors_formula():
    rng = np.random.default_rng(10)
    U, S, Vt = rng.standard_normal((6, 3)), np.array([4.0, 2.0, 1.0]), rng.standard_normal((3, 6))
    w = svd_vectors(U, S)
    assert w.dtype == np.float32 and w.shape == (6, 3)
    np.testing.assert_allclose(w, U * np.sqrt(S), rtol=1e-6)
    np.testing.assert_allclose(svd_vectors(U, S, eig=0.0), U, rtol=1e-6)
    np.testing.assert_allclose(svd_vectors(U, S, eig=1.0), U @ np.diag(S), rtol=1e-6)
    np.testing.assert_allclose(svd_vectors(U, S, Vt, eig=0.5, add_context=True),
                               U @ np.diag(S ** 0.5) + Vt.T @ np.diag(S ** 0.5), rtol=1e-6)
    # Vt is ignored without add_context.
    np.testing.assert_array_equal(svd_vectors(U, S, Vt), w)


@pytest.mark.parametrize("args, kw", [
    ((np.ones((4, 2)), np.ones(3)), {}),                       # S length
    ((np.ones((4, 2)), np.array([1.0, -1.0])), {}),            # negative S
    ((np.ones((4, 2)), np.ones(2)), dict(add_context=True)),   # no Vt
    ((np.ones((4, 2)), np.ones(2), np.ones((2, 3))), dict(add_context=True)),  # Vt not (k, V)
    ((np.ones((4, 2)), np.ones(2)), dict(eig=float("nan"))),
    ((np.ones(4), np.ones(1)), {}),                            # 1-D U
])
def test_svd_vectors_bad_inputs(args, kw):
    with pytest.raises(ValueError):
        svd_vectors(*args, **kw)


# --------------------------------------------------------------------------- planted structure


@pytest.mark.parametrize("add_context", [False, True])
def test_planted_groups_svd_vectors(add_context):
    """Two groups of words that never share contexts: the SPPMI matrix is block diagonal."""
    rng = np.random.default_rng(11)
    n, g = 40, 20
    group = np.repeat([0, 1], g)
    m = rng.poisson(4.0, size=(n, n)) + 1
    m = np.triu(m) + np.triu(m, 1).T
    m[group[:, None] != group[None, :]] = 0
    r, c, v = coo(m)
    p = context_distribution(m.sum(0))
    blocks = []
    for lo, hi in [(0, 15), (15, 30), (30, 40)]:
        sel = (r >= lo) & (r < hi)
        blocks.append(ppmi_block(r[sel], c[sel], v[sel], m.sum(1), p, m.sum(), row_start=lo,
                                 n_rows=hi - lo, n_cols=n))
    U, S, Vt = np.linalg.svd(sp.vstack(blocks).toarray(), full_matrices=False)
    w = svd_vectors(U[:, :6], S[:6], Vt[:6], add_context=add_context)
    u = w / np.linalg.norm(w, axis=1, keepdims=True)
    cos = u @ u.T
    same = group[:, None] == group[None, :]
    off = ~np.eye(n, dtype=bool)
    within, across = cos[same & off].mean(), cos[~same].mean()
    assert within > across + 0.3, (within, across)
    assert abs(across) < 1e-5   # components live in one group each


def test_svd_vectors_normalize_parts_adds_unit_rows():
    rng = np.random.default_rng(4)
    U, S, Vt = rng.standard_normal((6, 3)), np.array([3.0, 2.0, 0.5]), rng.standard_normal((3, 6))
    w = U * S ** 0.0
    c = Vt.T * S ** 0.0
    ref = w / np.linalg.norm(w, axis=1, keepdims=True) + c / np.linalg.norm(c, axis=1, keepdims=True)
    got = svd_vectors(U, S, Vt, eig=0.0, add_context=True, normalize_parts=True)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
