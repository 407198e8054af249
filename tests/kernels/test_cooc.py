"""tasks.cooc against a brute-force double loop over positions."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tasks.cooc import balanced_cuts, cooc_partial, merge_stacked, sum_partials

WINDOWS = [1, 2, 5, 10, 60]
SEEDS = [0, 1, 2, 3]


# --------------------------------------------------------------------------- references


def brute_cooc(ids, doc_offsets, n_words, window):
    """Dense reference: every ordered pair (i, j), i != j, |i - j| <= window, same document."""
    ids = [int(x) for x in ids]
    counts = np.zeros((n_words, n_words), dtype=np.int64)
    weighted = np.zeros((n_words, n_words), dtype=np.float64)
    for d in range(len(doc_offsets) - 1):
        start, stop = int(doc_offsets[d]), int(doc_offsets[d + 1])
        for i in range(start, stop):
            for j in range(start, stop):
                if i == j or abs(i - j) > window or ids[i] < 0 or ids[j] < 0:
                    continue
                counts[ids[i], ids[j]] += 1
                weighted[ids[i], ids[j]] += 1.0 / abs(i - j)
    return counts, weighted


def random_corpus(rng, n_words, *, n_docs=None, oov=0.2, unused_top=0):
    """Random documents (incl. empty and length-1 ones) over a skewed vocabulary.

    Ids ``n_words - unused_top .. n_words - 1`` never occur.
    """
    if n_docs is None:
        n_docs = int(rng.integers(3, 9))
    lengths = []
    for _ in range(n_docs):
        kind = rng.random()
        lengths.append(0 if kind < 0.15 else 1 if kind < 0.3 else int(rng.integers(2, 40)))
    if n_docs >= 3:  # always at least one empty and one single-token document
        empty, single = rng.choice(n_docs, size=2, replace=False)
        lengths[empty], lengths[single] = 0, 1
    n_tokens = sum(lengths)
    usable = n_words - unused_top
    # Zipf-like draw so that words repeat (non-zero diagonal).
    p = 1.0 / np.arange(1, usable + 1)
    ids = rng.choice(usable, size=n_tokens, p=p / p.sum()).astype(np.int32)
    ids[rng.random(n_tokens) < oov] = -1
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return ids, offsets


def assert_canonical_csr(m, n_words, dtype):
    assert isinstance(m, (sp.csr_array, sp.csr_matrix))
    assert m.shape == (n_words, n_words)
    assert m.dtype == dtype
    indptr, indices = np.asarray(m.indptr), np.asarray(m.indices)
    assert indptr.shape == (n_words + 1,)
    assert indptr[0] == 0 and indptr[-1] == len(indices) == len(m.data)
    assert np.all(np.diff(indptr) >= 0)
    for r in range(n_words):
        row = indices[indptr[r]:indptr[r + 1]]
        assert np.all(np.diff(row) > 0), f"row {r}: columns not sorted/unique: {row}"
        assert np.all((row >= 0) & (row < n_words))


def assert_pair_ok(counts, weighted, n_words):
    assert_canonical_csr(counts, n_words, np.int64)
    assert_canonical_csr(weighted, n_words, np.float64)
    # Identical sparsity pattern, no explicit zeros (pipeline writes them side by side).
    np.testing.assert_array_equal(counts.indptr, weighted.indptr)
    np.testing.assert_array_equal(counts.indices, weighted.indices)
    assert np.all(counts.data > 0) and np.all(weighted.data > 0)


# --------------------------------------------------------------------------- cooc_partial


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("seed", SEEDS)
def test_cooc_partial_matches_brute_force(seed, window):
    rng = np.random.default_rng(seed)
    n_words = int(rng.integers(3, 15))
    unused_top = int(rng.integers(0, 3))
    ids, offsets = random_corpus(rng, n_words, unused_top=unused_top)
    counts, weighted = cooc_partial(ids, offsets, n_words=n_words, window=window)
    ref_c, ref_w = brute_cooc(ids, offsets, n_words, window)

    assert_pair_ok(counts, weighted, n_words)
    np.testing.assert_array_equal(counts.toarray(), ref_c)
    np.testing.assert_allclose(weighted.toarray(), ref_w, rtol=1e-12, atol=0)
    # Symmetry.
    np.testing.assert_array_equal(counts.toarray(), counts.toarray().T)
    np.testing.assert_allclose(weighted.toarray(), weighted.toarray().T, rtol=1e-12)
    # The random corpus must exercise what the test claims to cover.
    if unused_top:
        assert not counts.toarray()[n_words - unused_top:].any()


def test_random_corpora_cover_diagonal_and_oov():
    """Guard on the generator: the parametrised cases really contain repeats, OOV, empty docs."""
    seen = {"diag": False, "oov": False, "empty": False, "single": False}
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        n_words = int(rng.integers(3, 15))
        ids, offsets = random_corpus(rng, n_words, unused_top=int(rng.integers(0, 3)))
        ref_c, _ = brute_cooc(ids, offsets, n_words, 2)
        lengths = np.diff(offsets)
        seen["diag"] |= bool(np.diag(ref_c).any())
        seen["oov"] |= bool((ids == -1).any())
        seen["empty"] |= bool((lengths == 0).any())
        seen["single"] |= bool((lengths == 1).any())
    assert all(seen.values()), seen


@pytest.mark.parametrize("seed", range(6))
def test_cooc_partial_larger_random(seed):
    rng = np.random.default_rng(100 + seed)
    n_words = 40
    ids, offsets = random_corpus(rng, n_words, n_docs=12, oov=0.2)
    window = int(rng.integers(1, 12))
    counts, weighted = cooc_partial(ids, offsets, n_words=n_words, window=window)
    ref_c, ref_w = brute_cooc(ids, offsets, n_words, window)
    assert_pair_ok(counts, weighted, n_words)
    np.testing.assert_array_equal(counts.toarray(), ref_c)
    np.testing.assert_allclose(weighted.toarray(), ref_w, rtol=1e-12)


def test_oov_tokens_keep_their_positions():
    ids = np.array([0, -1, 1], dtype=np.int32)
    offsets = np.array([0, 3])
    c1, w1 = cooc_partial(ids, offsets, n_words=2, window=1)
    assert c1.nnz == 0 and w1.nnz == 0           # 0 and 1 are two apart
    c2, w2 = cooc_partial(ids, offsets, n_words=2, window=2)
    np.testing.assert_array_equal(c2.toarray(), [[0, 1], [1, 0]])
    np.testing.assert_allclose(w2.toarray(), [[0, 0.5], [0.5, 0]])


def test_windows_do_not_cross_document_boundaries():
    ids = np.array([0, 1, 2, 3], dtype=np.int32)
    split = np.array([0, 2, 4])
    joined = np.array([0, 4])
    c, _ = cooc_partial(ids, split, n_words=4, window=10)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 1] = expected[1, 0] = expected[2, 3] = expected[3, 2] = 1
    np.testing.assert_array_equal(c.toarray(), expected)
    c, _ = cooc_partial(ids, joined, n_words=4, window=10)
    np.testing.assert_array_equal(c.toarray(), 1 - np.eye(4, dtype=np.int64))


def test_single_word_repeated_fills_diagonal():
    ids = np.zeros(4, dtype=np.int32)
    c, w = cooc_partial(ids, np.array([0, 4]), n_words=1, window=3)
    # ordered pairs: distance 1: 6, distance 2: 4, distance 3: 2
    assert c.toarray().tolist() == [[12]]
    np.testing.assert_allclose(w.toarray(), [[6 + 4 / 2 + 2 / 3]])


@pytest.mark.parametrize("offsets", [[0], [0, 0], [0, 0, 0, 0]])
@pytest.mark.parametrize("n_words", [0, 1, 5])
def test_empty_input(offsets, n_words):
    counts, weighted = cooc_partial(np.empty(0, dtype=np.int32), np.array(offsets),
                                    n_words=n_words, window=3)
    assert counts.nnz == 0 and weighted.nnz == 0
    assert_pair_ok(counts, weighted, n_words)


def test_all_oov():
    ids = np.full(7, -1, dtype=np.int32)
    counts, weighted = cooc_partial(ids, np.array([0, 3, 7]), n_words=3, window=2)
    assert counts.nnz == 0
    assert_pair_ok(counts, weighted, 3)


def test_accepts_other_integer_dtypes():
    ids = np.array([0, 1, -1, 1], dtype=np.int64)
    offsets = np.array([0, 4], dtype=np.int32)
    counts, _ = cooc_partial(ids, offsets, n_words=2, window=1)
    ref_c, _ = brute_cooc(ids, offsets, 2, 1)
    np.testing.assert_array_equal(counts.toarray(), ref_c)


@pytest.mark.parametrize("ids, offsets, n_words, window", [
    ([0, 1], [0, 2], 2, 0),          # window < 1
    ([0, 2], [0, 2], 2, 1),          # id >= n_words
    ([0, -2], [0, 2], 2, 1),         # id < -1
    ([0, 1], [0, 1], 2, 1),          # offsets do not end at n_tokens
    ([0, 1], [1, 2], 2, 1),          # offsets do not start at 0
    ([0, 1, 1], [0, 2, 1, 3], 2, 1),  # offsets decrease
    ([0, 1], [], 2, 1),              # no offsets at all
])
def test_invalid_arguments_raise(ids, offsets, n_words, window):
    with pytest.raises(ValueError):
        cooc_partial(np.array(ids, dtype=np.int32), np.array(offsets, dtype=np.int64),
                     n_words=n_words, window=window)


# --------------------------------------------------------------------------- sum_partials


@pytest.mark.parametrize("n_parts", [1, 2, 5])
def test_sum_partials_equals_dense_sum(n_parts):
    rng = np.random.default_rng(7 + n_parts)
    n_words, window = 12, 3
    parts, ref_c, ref_w = [], 0, 0
    all_ids, all_lengths = [], []
    for _ in range(n_parts):
        ids, offsets = random_corpus(rng, n_words, unused_top=2)
        parts.append(cooc_partial(ids, offsets, n_words=n_words, window=window))
        c, w = brute_cooc(ids, offsets, n_words, window)
        ref_c, ref_w = ref_c + c, ref_w + w
        all_ids.append(ids)
        all_lengths.extend(np.diff(offsets))
    counts, weighted = sum_partials(*parts)
    assert_pair_ok(counts, weighted, n_words)
    np.testing.assert_array_equal(counts.toarray(), ref_c)
    np.testing.assert_allclose(weighted.toarray(), ref_w, rtol=1e-12)
    # Summing partitions is the same as counting the concatenated documents.
    offsets = np.concatenate([[0], np.cumsum(all_lengths)]).astype(np.int64)
    whole_c, whole_w = cooc_partial(np.concatenate(all_ids), offsets, n_words=n_words,
                                    window=window)
    np.testing.assert_array_equal(counts.toarray(), whole_c.toarray())
    np.testing.assert_allclose(weighted.toarray(), whole_w.toarray(), rtol=1e-12)


def test_sum_partials_with_empty_partials():
    n_words = 4
    ids = np.array([0, 1, 0, 3], dtype=np.int32)
    full = cooc_partial(ids, np.array([0, 4]), n_words=n_words, window=2)
    empty = cooc_partial(np.empty(0, np.int32), np.array([0]), n_words=n_words, window=2)
    counts, weighted = sum_partials(empty, full, empty)
    ref_c, ref_w = brute_cooc(ids, [0, 4], n_words, 2)
    assert_pair_ok(counts, weighted, n_words)
    np.testing.assert_array_equal(counts.toarray(), ref_c)
    np.testing.assert_allclose(weighted.toarray(), ref_w)


def stack(mats):
    """Stacked form of csr pairs for merge_stacked: row pointers and concatenated entries."""
    indptrs = np.stack([c.indptr for c, _ in mats])
    sizes = [c.nnz for c, _ in mats]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return (indptrs, np.concatenate([c.indices for c, _ in mats]),
            np.concatenate([c.data for c, _ in mats]),
            np.concatenate([w.data for _, w in mats]), offsets)


@pytest.mark.parametrize("n_parts", [1, 2, 5])
@pytest.mark.parametrize("n_words", [3, 40, 400])
def test_merge_stacked_equals_dense_sum(n_parts, n_words):
    # n_words 3 makes rows dense, 400 sparse.
    rng = np.random.default_rng(n_parts * 1000 + n_words)
    parts, ref_c, ref_w = [], 0, 0
    for _ in range(n_parts):
        ids, offsets = random_corpus(rng, n_words, n_docs=6, unused_top=1)
        c, w = brute_cooc(ids, offsets, n_words, 4)
        ref_c, ref_w = ref_c + c, ref_w + w
        parts.append((sp.csr_array(c), sp.csr_array(w)))
    counts, weighted = merge_stacked(*stack(parts), n_words)
    assert_pair_ok(counts, weighted, n_words)
    np.testing.assert_array_equal(counts.toarray(), ref_c)
    np.testing.assert_allclose(weighted.toarray(), ref_w, rtol=1e-12)


@pytest.mark.parametrize("n_cols", [1, 64, 65, 4096, 4097, 9000])
def test_merge_stacked_wide_rows_in_column_order(n_cols):
    """Columns at every bitset boundary (63/64, 4095/4096) and rows of every density come
    back summed and in column order, as scipy's canonical sum has them."""
    rng = np.random.default_rng(n_cols)
    edges = np.array([c for c in (0, 62, 63, 64, 127, 4095, 4096, 4097, n_cols - 1)
                      if c < n_cols])
    mats = []
    for _ in range(4):
        dense = np.zeros((6, n_cols), np.int64)
        for r, density in enumerate((0.0, 0.001, 0.01, 0.3, 1.0, 0.05)):
            cols = np.flatnonzero(rng.random(n_cols) < density)
            dense[r, cols] = rng.integers(1, 5, cols.size)
        dense[5, rng.choice(edges, size=min(3, edges.size), replace=False)] += 1
        mats.append((sp.csr_array(dense), sp.csr_array(dense * 0.25)))
    counts, weighted = merge_stacked(*stack(mats), n_cols)
    ref = sum(c for c, _ in mats)
    ref.sort_indices()
    np.testing.assert_array_equal(counts.indptr, ref.indptr)
    np.testing.assert_array_equal(counts.indices, ref.indices)
    np.testing.assert_array_equal(counts.data, ref.data)
    np.testing.assert_allclose(weighted.toarray(), ref.toarray() * 0.25, rtol=1e-12)


def test_merge_stacked_row_slices():
    """Row blocks of different matrices merge like the matching rows of their sum."""
    rng = np.random.default_rng(5)
    mats = [sp.csr_array(rng.integers(0, 3, size=(9, 7)) * (rng.random((9, 7)) < 0.4))
            for _ in range(3)]
    pairs = [(m[2:6], sp.csr_array(m[2:6] * 0.5)) for m in mats]
    counts, weighted = merge_stacked(*stack(pairs), 7)
    ref = sum(m.toarray() for m in mats)[2:6]
    np.testing.assert_array_equal(counts.toarray(), ref)
    np.testing.assert_allclose(weighted.toarray(), ref * 0.5)


# --------------------------------------------------------------------------- balanced_cuts


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_parts", [1, 2, 3, 8, 50])
def test_balanced_cuts_cover_everything_and_balance(seed, n_parts):
    rng = np.random.default_rng(seed)
    weights = rng.zipf(1.5, size=40).astype(float)  # skewed, like rows of frequent words
    bounds = balanced_cuts(weights, n_parts)
    assert bounds[0] == 0 and bounds[-1] == len(weights)
    assert np.all(np.diff(bounds) > 0)
    assert len(bounds) - 1 <= n_parts
    totals = np.add.reduceat(weights, bounds[:-1])
    np.testing.assert_allclose(totals.sum(), weights.sum())
    # Brute force: no part exceeds the fair share by more than its heaviest item.
    share = weights.sum() / min(n_parts, len(weights))
    for (lo, hi), tot in zip(zip(bounds[:-1], bounds[1:]), totals):
        assert tot <= share + weights[lo:hi].max() + 1e-9


def test_balanced_cuts_uniform_weights_split_evenly():
    bounds = balanced_cuts(np.ones(12), 4)
    np.testing.assert_array_equal(bounds, [0, 3, 6, 9, 12])


@pytest.mark.parametrize("weights, n_parts, expect", [
    ([], 3, [0, 0]),
    ([0, 0, 0, 0], 2, [0, 2, 4]),
    ([5], 4, [0, 1]),
    ([1, 1], 10, [0, 1, 2]),
])
def test_balanced_cuts_edge_cases(weights, n_parts, expect):
    np.testing.assert_array_equal(balanced_cuts(weights, n_parts), expect)


def test_unsorted_partial_has_the_same_entries_and_merges_canonically():
    rng = np.random.default_rng(11)
    n_words = 30
    ids, offsets = random_corpus(rng, n_words, n_docs=8)
    ref_c, ref_w = brute_cooc(ids, offsets, n_words, 5)
    c, w = cooc_partial(ids, offsets, n_words=n_words, window=5, sorted_columns=False)
    np.testing.assert_array_equal(c.toarray(), ref_c)
    np.testing.assert_allclose(w.toarray(), ref_w)
    counts, weighted = merge_stacked(*stack([(c, w)]), n_words)
    assert_pair_ok(counts, weighted, n_words)
    np.testing.assert_array_equal(counts.toarray(), ref_c)


@pytest.mark.parametrize("window", [1, 3, 10])
@pytest.mark.parametrize("seed", SEEDS)
def test_focus_counts_exactly_the_pairs_with_a_focus_word(seed, window):
    rng = np.random.default_rng(seed)
    n_words = int(rng.integers(4, 15))
    ids, offsets = random_corpus(rng, n_words, n_docs=6)
    focus = rng.random(n_words) < 0.3
    focus[int(rng.integers(n_words))] = True
    counts, weighted = cooc_partial(ids, offsets, n_words=n_words, window=window, focus=focus)
    ref_c, ref_w = brute_cooc(ids, offsets, n_words, window)
    keep = focus[:, None] | focus[None, :]
    assert_pair_ok(counts, weighted, n_words)
    np.testing.assert_array_equal(counts.toarray(), np.where(keep, ref_c, 0))
    np.testing.assert_allclose(weighted.toarray(), np.where(keep, ref_w, 0), rtol=1e-12, atol=0)
    # Kept entries are summed in the full count's order: bit-identical to it.
    full_c, full_w = cooc_partial(ids, offsets, n_words=n_words, window=window)
    np.testing.assert_array_equal(weighted.toarray(), np.where(keep, full_w.toarray(), 0))
    assert keep.any() and (~keep).any() or n_words == focus.sum()


def test_focus_of_nothing_counts_nothing_and_bad_shape_is_refused():
    ids, offsets = np.array([0, 1, 2, 1, 0], np.int32), np.array([0, 5])
    counts, _ = cooc_partial(ids, offsets, n_words=3, window=2, focus=np.zeros(3, bool))
    assert counts.nnz == 0
    with pytest.raises(ValueError, match="focus must have shape"):
        cooc_partial(ids, offsets, n_words=3, window=2, focus=np.zeros(2, bool))
