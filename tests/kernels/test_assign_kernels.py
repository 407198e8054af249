"""Kernels of batch assignment (tasks.assign) against brute force."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from tasks.assign import (blocks_from_sums, centre_unit_rows, fit_centres,
                          merge_close_centres, nearest_centres, window_sums)
from tasks.targets import locate, target_windows
from tasks.tokenize import tokenize

PIECES = ["bank", "river", "well-known", "don't", "rock\u2019n", "é", "straße", "42", "x_y",
          "İstanbul", "ΣΟΦΟΣ", "--", "'", ",", ".", "a-", "-b", "naïve", "日本"]
SPACES = [" ", "  ", "\t", "\n", " \u00a0 ", ""]


def _text(rng, n):
    return "".join(str(rng.choice(PIECES)) + str(rng.choice(SPACES)) for _ in range(n))


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("lowercase", [True, False])
def test_target_windows_are_the_whole_texts_tokens(seed, lowercase):
    rng = np.random.default_rng(seed)
    left, right = _text(rng, int(rng.integers(0, 400))), _text(rng, int(rng.integers(0, 400)))
    target = str(rng.choice(["bank", "interest rate", "well-known", "Bank"]))
    text = f"{left}<<{target}>>{right}"
    tokens, start, end = locate(text, lowercase=lowercase)
    # the reference: the whole text tokenised at once, pieces as locate defines them
    assert tokens == tokenize(left, lowercase=lowercase) + \
        tokenize(target, lowercase=lowercase) + tokenize(right, lowercase=lowercase)
    for width in (0, 1, 3, 20, 1000):
        got = target_windows(text, width=width, lowercase=lowercase)
        assert got == (tokens[max(0, start - width):start], tokens[start:end],
                       tokens[end:end + width])


def test_an_unmarked_word_is_found_at_its_first_occurrence_and_errors_say_why():
    text = "The ballroom dancing and ice cream, ballroom dancing again"
    assert target_windows(text, "ballroom_dancing", width=2, lowercase=True) == (
        ["the"], ["ballroom", "dancing"], ["and", "ice"])
    assert target_windows(text, "ice-cream", width=1, lowercase=True)[1] == ["ice", "cream"]
    for text, word, msg in [("no mark here", None, "no <<target>> marked"),
                            ("a <<,>> b", None, "has no token"),
                            ("a b c", "zebra", "does not occur")]:
        with pytest.raises(ValueError, match=msg):
            target_windows(text, word, width=3, lowercase=True)


def test_window_sums_equal_brute_force():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((50, 7))
    lengths = rng.integers(1, 60, size=40)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ends = starts + lengths
    ids = rng.integers(-3, 55, size=int(lengths.sum()))  # -3..-1 and 50..54: no row
    positions = starts + (rng.random(40) * lengths).astype(int)
    windows = [1, 2, 5, 20]
    sums, counts = window_sums(ids, starts, ends, positions, rows, windows)
    for i in range(40):
        for j, r in enumerate(windows):
            ctx = [ids[q] for q in range(max(starts[i], positions[i] - r),
                                         min(ends[i], positions[i] + r + 1))
                   if q != positions[i] and 0 <= ids[q] < 50]
            assert counts[i, j] == len(ctx)
            np.testing.assert_allclose(sums[i, j], rows[ctx].sum(axis=0) if ctx else 0,
                                       atol=1e-12)
    with pytest.raises(ValueError, match="ascending"):
        window_sums(ids, starts, ends, positions, rows, [5, 2])
    with pytest.raises(ValueError, match="inside"):
        window_sums(ids, starts, ends, ends, rows, [2])


def test_blocks_are_unit_common_free_means():
    rng = np.random.default_rng(1)
    sums = rng.standard_normal((5, 2, 6))
    counts = np.array([[1, 2], [0, 3], [0, 0], [2, 2], [4, 9]])
    q = np.linalg.qr(rng.standard_normal((6, 2)))[0].T  # two orthonormal directions
    x = blocks_from_sums(sums, counts, q)
    for i in range(5):
        for j in range(2):
            block = x[i, 6 * j:6 * (j + 1)] * np.sqrt(2)
            if counts[i, j] == 0:
                assert not block.any()
                continue
            m = sums[i, j] / counts[i, j]
            m = m - q.T @ (q @ m)
            np.testing.assert_allclose(block, m / np.linalg.norm(m), atol=1e-12)
    one = blocks_from_sums(sums[:, :1], counts[:, :1], q)  # one window: plain means
    np.testing.assert_allclose(one[0], (sums[0, 0] - q.T @ (q @ sums[0, 0])) / 1, atol=1e-12)


@pytest.mark.parametrize("dims", [0, 3])
def test_fitted_rows_keep_their_kmeans_labels_and_nearest_is_brute_force(dims):
    rng = np.random.default_rng(2)
    centres_true = rng.standard_normal((3, 10)) * 3
    x = np.vstack([c + rng.standard_normal((40, 10)) for c in centres_true])
    x[5] = 0.0  # no context: ignored by the fit, label -1
    mean, centres, _ = fit_centres(x, k=3, seed=0, n_init=4, dims=dims)
    nz = np.any(x != 0, axis=1)
    np.testing.assert_allclose(mean, x[nz].mean(axis=0))
    y = centre_unit_rows(x, mean)
    labels, scores = nearest_centres(y, centres)
    assert labels[5] == -1 and np.isnan(scores[5]).all()
    d2 = ((y[nz, None, :] - centres[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels[nz], d2.argmin(axis=1))
    cos = (y[nz] @ centres.T) / np.linalg.norm(centres, axis=1)
    np.testing.assert_allclose(scores[nz], cos, atol=1e-12)
    # the k-means labels of the rows fitted (in the projected space when dims > 0)
    yy = y[nz]
    if dims:  # centres in a dims-dimensional subspace
        assert np.linalg.matrix_rank(centres, tol=1e-8) <= dims
    else:
        km = KMeans(3, n_init=4, random_state=0).fit(yy)
        np.testing.assert_array_equal(labels[nz], km.labels_)
    # the planted groups come out as three senses
    truth = np.repeat([0, 1, 2], 40)[nz]
    assert len(set(zip(truth, labels[nz]))) == 3


def test_a_small_batch_fits_in_fewer_directions():
    """rows_per_dim caps the subspace at n // rows_per_dim directions (n = non-zero rows,
    at least 2): the centres' rank; a batch large enough keeps ``dims``, exactly."""
    rng = np.random.default_rng(4)
    x = np.vstack([c + rng.standard_normal((40, 12)) for c in rng.standard_normal((3, 12)) * 3])
    x[7] = 0.0  # 119 non-zero rows
    _m, plain, _ = fit_centres(x, k=4, seed=0, n_init=4, dims=8)
    assert np.linalg.matrix_rank(plain, tol=1e-8) == 4  # uncapped: k centres in 8 dims
    for rows_per_dim, want in ((40, 2), (30, 3), (1000, 2)):
        _m, centres, _ = fit_centres(x, k=4, seed=0, n_init=4, dims=8,
                                     rows_per_dim=rows_per_dim)
        assert np.linalg.matrix_rank(centres, tol=1e-8) == want
    _m, capped, _ = fit_centres(x, k=4, seed=0, n_init=4, dims=8, rows_per_dim=10)
    np.testing.assert_array_equal(capped, plain)  # 119 // 10 = 11 >= 8


def _merge_by_groups(centres, sizes, threshold):
    """Reference: groups of the original centres, each group's centre recomputed from
    its members, the most similar pair of groups merged while above the threshold."""
    groups = [[i] for i in range(len(centres))]

    def centre(g):
        return sum(centres[i] * sizes[i] for i in g) / sum(sizes[i] for i in g)

    while len(groups) > 1:
        best = None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                u, v = centre(groups[a]), centre(groups[b])
                cos = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
                if cos > threshold and (best is None or cos > best[0]):
                    best = (cos, a, b)
        if best is None:
            break
        groups[best[1]] += groups.pop(best[2])
    return groups, np.array([centre(g) for g in groups])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [-0.2, 0.0, 0.3, 0.6, 1.0])
def test_merge_close_centres_against_groups_recomputed(seed, threshold):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((7, 4))
    sizes = rng.integers(1, 50, 7).astype(float)
    groups, want = _merge_by_groups(centres, sizes, threshold)
    got, n = merge_close_centres(centres, sizes, threshold)
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(n, [sizes[g].sum() for g in groups])
    if len(got) > 1:  # no two centres left above the threshold
        u = got / np.linalg.norm(got, axis=1, keepdims=True)
        cos = u @ u.T
        assert cos[~np.eye(len(got), dtype=bool)].max() <= threshold
    if threshold >= 1:
        np.testing.assert_array_equal(got, centres)


@pytest.mark.parametrize("dims", [0, 4])
def test_two_planted_senses_fitted_with_six_clusters_come_out_as_two(dims):
    """Two well-separated groups cut into 6 k-means clusters: the clusters within a group
    point the same way (cosine near 1 once centred), so merging leaves two centres,
    each the mean of its group's rows in the centred unit space."""
    rng = np.random.default_rng(7)
    directions = rng.standard_normal((2, 12)) * 4
    x = np.vstack([c + rng.standard_normal((150, 12)) for c in directions])
    truth = np.repeat([0, 1], 150)
    mean, plain, _ = fit_centres(x, k=6, seed=0, n_init=4, dims=dims)
    assert len(plain) == 6
    mean, centres, _ = fit_centres(x, k=6, seed=0, n_init=4, dims=dims, merge=0.3)
    assert len(centres) == 2
    y = centre_unit_rows(x, mean)
    labels, _ = nearest_centres(y, centres)
    assert len(set(zip(truth, labels))) == 2  # one centre per planted sense
    if not dims:  # each centre is the mean of its rows under the 6-cluster labels
        km = KMeans(6, n_init=4, random_state=0).fit(y)
        for c in centres:
            members = [j for j in range(6)
                       if np.argmin(((km.cluster_centers_[j] - centres) ** 2).sum(1)) ==
                       np.argmin(((c - centres) ** 2).sum(1))]
            np.testing.assert_allclose(c, y[np.isin(km.labels_, members)].mean(0),
                                       atol=1e-8)


def test_small_batches_and_one_sense():
    x = np.random.default_rng(3).standard_normal((10, 4))
    mean, centres, excess = fit_centres(x, k=6, min_batch=20)
    assert centres.shape == (1, 4) and excess is None
    labels, scores = nearest_centres(centre_unit_rows(x, mean), centres)
    assert (labels == 0).all() and (scores == 1).all()


@pytest.mark.parametrize("nw, k", [(3, 4), (1, 3), (2, 1)])
def test_scores_from_sums_equal_scores_of_the_formed_vectors(nw, k):
    from tasks.assign import nearest_centres_from_sums
    rng = np.random.default_rng(4)
    d = 9
    sums = rng.standard_normal((30, nw, d))
    counts = rng.integers(0, 4, size=(30, nw))
    counts[:, -1] = np.maximum(counts[:, -1], counts.max(axis=1))  # widest counts most
    counts[3] = 0
    sums[counts == 0] = 0.0
    q = np.linalg.qr(rng.standard_normal((d, 2)))[0].T
    x = blocks_from_sums(sums, counts, q)
    mean = x[:20].mean(axis=0)
    centres = rng.standard_normal((k, nw * d))
    want_l, want_s = nearest_centres(centre_unit_rows(x, mean), centres)
    got_l, got_s = nearest_centres_from_sums(sums, counts, q, mean, centres)
    np.testing.assert_array_equal(got_l, want_l)
    np.testing.assert_allclose(got_s, want_s, atol=1e-10)
    assert got_l[3] == -1


@pytest.mark.parametrize("width, lowercase", [(20, True), (3, False), (0, True)])
def test_marked_windows_are_target_windows_for_every_marked_ascii_text(width, lowercase):
    """The one-pass kernel against the per-text path, on random texts full of marks,
    joiners, underscores and a few non-ASCII letters; every marked ASCII text whose mark
    has a token must be done by the kernel, and nothing else."""
    import pyarrow as pa

    from tasks.targets import MARK_RE, marked_windows
    rng = np.random.default_rng(width)
    pieces = list("aB9_'- .,<>x\t") + ["<<", ">>", "<< ", " >>", "Q-r", "it's", "é", "<<w>>"]
    texts = ["".join(rng.choice(pieces, int(rng.integers(0, 40)))) for _ in range(4000)]
    arr = pa.array(texts, pa.large_string())
    off = np.frombuffer(arr.buffers()[1], np.int64)[:len(texts) + 1]
    data = np.frombuffer(arr.buffers()[2], np.uint8)
    done, n_left, n_right, (t_off, t_bytes), (w_off, w_bytes) = marked_windows(
        data, off[:-1], off[1:], width, lowercase=lowercase)
    tokens = [bytes(t_bytes[a:b]).decode() for a, b in zip(t_off[:-1], t_off[1:])]
    at = 0
    for i, text in enumerate(texts):
        m = MARK_RE.search(text)
        ok = text.isascii() and m is not None and bool(tokenize(m.group(1)))
        assert done[i] == ok, repr(text)
        if not ok:
            continue
        left, target, right = target_windows(text, width=width, lowercase=lowercase)
        assert tokens[at:at + n_left[i]] == left and \
            tokens[at + n_left[i]:at + n_left[i] + n_right[i]] == right, repr(text)
        assert bytes(w_bytes[w_off[i]:w_off[i + 1]]).decode() == " ".join(target)
        at += n_left[i] + n_right[i]
    assert at == len(tokens) and done.sum() > 500
