"""tasks.sense_clusters against brute force: context windows, scores, paired F, clustering."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import v_measure_score

from tasks.assign import centre_unit_rows, fit_centres, nearest_centres
from tasks.sense_clusters import (centre_unit, excess_drop, multiscale_contexts,
                                  paired_f_score, window_contexts)


def _problem(seed=0, n_vocab=30, d=5, n_docs=7):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 25, n_docs)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = rng.integers(-1, n_vocab, offsets[-1])
    positions = np.sort(rng.choice(offsets[-1], 12, replace=False))
    w = rng.standard_normal((n_vocab, d))
    has = rng.random(n_vocab) > 0.2
    common = np.linalg.qr(rng.standard_normal((d, 2)))[0].T[:1]
    return ids, offsets, positions, w, has, common


def _brute(ids, offsets, positions, w, has, common, window, exclude):
    out = np.zeros((len(positions), w.shape[1]))
    counts = np.zeros(len(positions), dtype=int)
    for i, p in enumerate(positions):
        doc = np.searchsorted(offsets, p, side="right") - 1
        vs = [w[ids[q]] for q in range(offsets[doc], offsets[doc + 1])
              if q not in set(positions) and abs(q - p) <= window and ids[q] >= 0
              and has[ids[q]]
              and ids[q] not in exclude]
        if vs:
            v = np.mean(vs, axis=0)
            out[i] = v - common.T @ (common @ v)
            counts[i] = len(vs)
    return out, counts


@pytest.mark.parametrize("seed, window, exclude", [(0, 1, ()), (1, 3, (2, 5)), (2, 20, (0,))])
def test_window_contexts_match_a_loop_over_tokens(seed, window, exclude):
    ids, offsets, positions, w, has, common = _problem(seed)
    got, n = window_contexts(ids, offsets, positions, w, has, common, window=window,
                             exclude=exclude)
    want, n_want = _brute(ids, offsets, positions, w, has, common, window, set(exclude))
    np.testing.assert_array_equal(n, n_want)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_window_contexts_keep_the_order_of_unsorted_positions():
    ids, offsets, positions, w, has, common = _problem(3)
    perm = np.random.default_rng(0).permutation(len(positions))
    got, _ = window_contexts(ids, offsets, positions[perm], w, has, common, window=4)
    want, _ = _brute(ids, offsets, positions[perm], w, has, common, 4, set())
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_multiscale_contexts_are_unit_blocks_concatenated():
    ids, offsets, positions, w, has, common = _problem(4)
    got, n = multiscale_contexts(ids, offsets, positions, w, has, common, windows=(5, 2))
    blocks = []
    for win in (2, 5):
        b, cnt = _brute(ids, offsets, positions, w, has, common, win, set())
        norm = np.linalg.norm(b, axis=1, keepdims=True)
        blocks.append(np.where(norm > 0, b / np.where(norm > 0, norm, 1), 0))
    np.testing.assert_allclose(got, np.hstack(blocks) / np.sqrt(2), atol=1e-12)
    np.testing.assert_array_equal(n, cnt)  # the widest window's count


def test_paired_f_counts_pairs():
    rng = np.random.default_rng(1)
    gold, sys_ = rng.integers(0, 3, 40), rng.integers(0, 4, 40)
    pairs = list(itertools.combinations(range(40), 2))
    same_sys = {p for p in pairs if sys_[p[0]] == sys_[p[1]]}
    same_gold = {p for p in pairs if gold[p[0]] == gold[p[1]]}
    prec = len(same_sys & same_gold) / len(same_sys)
    rec = len(same_sys & same_gold) / len(same_gold)
    assert paired_f_score(gold, sys_) == pytest.approx(2 * prec * rec / (prec + rec))
    assert paired_f_score(gold, gold) == pytest.approx(1.0)


def _blobs(n, k, d, rng, spread=0.15):
    centres = np.linalg.qr(rng.standard_normal((d, k)))[0].T * 3
    truth = rng.integers(0, k, n)
    return centres[truth] + spread * rng.standard_normal((n, d)), truth


def test_the_criterion_separates_structure_from_the_background():
    rng = np.random.default_rng(4)
    background = rng.standard_normal((400, 8))           # no cluster structure
    flat = rng.standard_normal((300, 8))                  # a "function word": none either
    senses, truth = _blobs(300, 2, 8, rng, spread=0.5)    # two clear senses
    assert abs(excess_drop(centre_unit(flat), background, 4)) < 0.05
    assert excess_drop(centre_unit(senses), background, 4) > 0.5
    # the fit applies it: one sense for the flat batch, two found for the other
    mean, c_flat, e_flat = fit_centres(flat, k=4, background=background, min_excess=0.05)
    lab_flat, _s = nearest_centres(centre_unit_rows(flat, mean), c_flat)
    assert len(c_flat) == 1 and set(lab_flat) == {0} and e_flat < 0.05
    mean, c, e = fit_centres(senses, k=2, background=background, min_excess=0.05)
    lab, _s = nearest_centres(centre_unit_rows(senses, mean), c)
    assert len(c) == 2 and e > 0.5 and v_measure_score(truth, lab) > 0.9
