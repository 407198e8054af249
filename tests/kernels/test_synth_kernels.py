"""tasks.synth: the generated corpus's statistics match the generator's parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tasks.synth import (SynthModel, SynthParams, generate, merge_weights, zipf_frequencies,
                         zipf_slope)
from tasks.tokenize import tokenize


def _corpus(params, **kw):
    """(ids, offsets, discourse or None) of the whole corpus."""
    model = SynthModel(params)
    ids, lens, disc = [], [], []
    for ch in generate(model, **kw):
        ids.append(ch.ids)
        lens.append(np.diff(ch.offsets))
        if ch.discourse is not None:
            disc.append(ch.discourse)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(lens))])
    return model, np.concatenate(ids), offsets, (np.concatenate(disc) if disc else None)


def test_token_count_is_exact_and_documents_have_the_set_length():
    p = SynthParams(n_tokens=12_345, vocab_size=300, dim=16, doc_length=100, block_length=7,
                    topics=5, seed=4)
    model, ids, offsets, _ = _corpus(p, chunk_tokens=3000)
    assert len(ids) == 12_345 and offsets[-1] == 12_345
    lengths = np.diff(offsets)
    assert len(lengths) == 124 == model.n_docs
    assert np.all(lengths[:-1] == 100) and lengths[-1] == 45
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < 300
    # one token: one document of one token
    _, ids1, off1, _ = _corpus(SynthParams(n_tokens=1, vocab_size=10, dim=4, topics=2))
    assert len(ids1) == 1 and off1.tolist() == [0, 1]


@pytest.mark.parametrize("vocab_size", [1000, 37])  # 1000: 32 groups of 32, 24 padding columns
def test_word_frequencies_match_the_softmax_of_a_fixed_discourse(vocab_size):
    # drift 0: each document keeps its starting discourse c, so its tokens are iid
    # draws from p(w | c) = softmax(<c, v_w>); 4 documents of 50k tokens.
    n_doc = 50_000
    p = SynthParams(n_tokens=4 * n_doc, vocab_size=vocab_size, dim=20, doc_length=n_doc,
                    drift=0.0, block_length=20, topics=6, seed=11)
    model, ids, offsets, disc = _corpus(p, return_discourse=True)
    assert disc.shape == (4, n_doc // 20, 20)
    for k in range(4):
        c = disc[k]
        np.testing.assert_allclose(c, np.broadcast_to(c[0], c.shape), atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(c[0]), 1.0, atol=1e-12)
        expected = model.probabilities(c[0]) * n_doc
        observed = np.bincount(ids[offsets[k]:offsets[k + 1]], minlength=vocab_size)
        # chi-square over the words expected >= 5 times, the rest pooled into one bin;
        # a correct sampler fails this at the 1e-4 level once in 10^4 seeds
        big = expected >= 5
        obs = np.append(observed[big], observed[~big].sum())
        exp = np.append(expected[big], expected[~big].sum())
        if exp[-1] < 5:
            obs, exp = obs[:-1], exp[:-1]
            exp = exp * obs.sum() / exp.sum()
        assert stats.chisquare(obs, exp).pvalue > 1e-4, k
        # and no frequent word off by more than 5 binomial standard deviations
        freq = expected >= 500
        sd = np.sqrt(expected[freq] * (1 - expected[freq] / n_doc))
        assert np.all(np.abs(observed[freq] - expected[freq]) < 5 * sd), k
        assert observed[expected < 1e-9].sum() == 0


def _mc_step_cos(step, dim, n, seed):
    """Monte Carlo E cos(c, normalize(c + step g)), g ~ N(0, I/d), straight from the
    definition (c = e_1 by rotation invariance)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, dim)) / math.sqrt(dim)
    x = g * step
    x[:, 0] += 1.0
    cos = x[:, 0] / np.linalg.norm(x, axis=1)
    return cos.mean(), cos.std() / math.sqrt(n)


def test_discourse_drift_matches_sigma():
    sigma, L, d = 0.05, 10, 50
    p = SynthParams(n_tokens=40 * 2000, vocab_size=200, dim=d, doc_length=2000, drift=sigma,
                    block_length=L, topics=0, seed=5)
    _, _, _, disc = _corpus(p, return_discourse=True)
    assert disc.shape == (40, 200, d)
    np.testing.assert_allclose(np.linalg.norm(disc, axis=2), 1.0, atol=1e-12)
    cos = np.einsum("nkd,nkd->nk", disc[:, 1:], disc[:, :-1]).ravel()  # within documents
    step = sigma * math.sqrt(L)
    want, want_se = _mc_step_cos(step, d, 400_000, seed=99)
    se = math.hypot(cos.std() / math.sqrt(len(cos)), want_se)
    assert abs(cos.mean() - want) < 5 * se, (cos.mean(), want, se)
    assert abs(want - 1 / math.sqrt(1 + step ** 2)) < 2e-3  # the documented approximation
    # L per-token steps of sigma spread like one block step of sigma * sqrt(L): over k
    # blocks the expected cos is about exp(-(d - 1) k step^2 / (2 d))
    k = 50
    far = np.einsum("nkd,nkd->nk", disc[:, k:], disc[:, :-k]).mean()
    assert abs(far - math.exp(-(d - 1) * k * step ** 2 / (2 * d))) < 0.05
    # a new document restarts the discourse: nearly orthogonal starts
    starts = disc[:, 0]
    assert np.abs(starts[1:] @ starts[:-1].T).diagonal().mean() < 3 / math.sqrt(d)


def test_pseudo_words_replace_their_components_and_count_their_occurrences():
    base = dict(n_tokens=60_000, vocab_size=400, dim=16, doc_length=150, topics=10, seed=8)
    model, ids, _, _ = _corpus(SynthParams(**base, n_polysemous=6, senses=3))
    plain, plain_ids, _, _ = _corpus(SynthParams(**base))
    # merging does not change what is sampled: the corpus without pseudo-words is the same
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_array_equal(model.vectors, plain.vectors)
    groups = model.groups
    members = np.concatenate(groups)
    assert len(groups) == 6 and all(len(g) == 3 for g in groups)
    assert len(set(members.tolist())) == 18                      # disjoint
    assert all(len(set(model.topic[g].tolist())) == 3 for g in groups)  # distinct topics
    assert members.min() >= 400 // 100 and members.max() < 200    # the eligible band
    out = model.merge(ids)
    assert not np.isin(out, members).any()                       # no component remains
    counts_out = np.bincount(out, minlength=model.n_output)
    counts_plain = np.bincount(plain_ids, minlength=400)
    for g, words in enumerate(groups):
        assert counts_out[400 + g] == counts_plain[words].sum() > 0
    untouched = np.setdiff1d(np.arange(400), members)
    np.testing.assert_array_equal(counts_out[untouched], counts_plain[untouched])
    assert counts_out.sum() == len(ids)
    w = merge_weights(counts_plain, groups)
    for g, words in enumerate(groups):
        np.testing.assert_allclose(w[g], counts_plain[words] / counts_plain[words].sum())
    # every written token survives the pipeline's tokeniser as one token
    names = model.names()
    assert names[:3] == ["w0", "w1", "w2"]
    assert names[400] == "-".join(f"w{i}" for i in groups[0])
    line = " ".join(names)
    assert tokenize(line) == names


def test_same_seed_same_corpus_and_chunking_does_not_change_it():
    p = SynthParams(n_tokens=30_001, vocab_size=250, dim=12, doc_length=90, block_length=13,
                    n_polysemous=3, topics=4, seed=21)
    _, one, off_one, _ = _corpus(p, chunk_tokens=10 ** 9)
    model = SynthModel(p)
    chunks = list(generate(model, chunk_tokens=1))  # smallest chunks: one random-stream unit
    assert len(chunks) > 3
    unit = model.unit_docs * p.doc_length
    assert all(len(ch.ids) <= unit for ch in chunks)  # memory bound: one unit per chunk
    assert [ch.first_doc for ch in chunks] == [k * model.unit_docs for k in range(len(chunks))]
    np.testing.assert_array_equal(np.concatenate([ch.ids for ch in chunks]), one)
    _, again, off_again, _ = _corpus(p, chunk_tokens=5000)
    np.testing.assert_array_equal(again, one)
    np.testing.assert_array_equal(off_again, off_one)
    # a shorter corpus is a prefix of a longer one
    _, short, _, _ = _corpus(SynthParams(**{**p.as_dict(), "n_tokens": 7_777}))
    np.testing.assert_array_equal(short, one[:7_777])
    _, other, _, _ = _corpus(SynthParams(**{**p.as_dict(), "seed": 22}))
    assert (other != one).mean() > 0.5
    assert [g.tolist() for g in SynthModel(p).groups] == [g.tolist() for g in model.groups]


def test_chunk_size_does_not_change_a_large_vocabulary_corpus():
    # V = 10^4, d = 100 (the CLI's defaults): each float32 logit sums 100 products, so a
    # sampler whose matrix products took their shape or row offsets from the chunking
    # would flip a near-tie about once per 2*10^4 tokens (observed: ~10 tokens in this
    # corpus). Chunks of 1, 4, 7 and 16 random-stream units cut the inner batches (15 units
    # here) at different places; the whole corpus in one chunk is the reference.
    p = SynthParams(n_tokens=200_000, vocab_size=10_000, dim=100, seed=5)
    model = SynthModel(p)
    unit = model.unit_docs * p.doc_length
    _, one, off_one, _ = _corpus(p, chunk_tokens=10 ** 9)
    for units in (1, 4, 7, 16):
        chunks = list(generate(SynthModel(p), chunk_tokens=units * unit))
        assert all(len(ch.ids) <= units * unit for ch in chunks)
        assert [ch.first_doc for ch in chunks] == [
            k * units * model.unit_docs for k in range(len(chunks))]
        ids = np.concatenate([ch.ids for ch in chunks])
        assert (ids != one).sum() == 0, units
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(
            [np.diff(ch.offsets) for ch in chunks]))])
        np.testing.assert_array_equal(offsets, off_one)
    # a shorter corpus, whose last inner batch is cut, is still a prefix
    _, short, _, _ = _corpus(SynthParams(**{**p.as_dict(), "n_tokens": 123_457}))
    assert (short != one[:123_457]).sum() == 0


def test_norms_follow_the_documented_zipf_law_and_frequencies_fall_with_rank():
    p = SynthParams(n_tokens=200_000, vocab_size=2000, dim=50, topics=20, zipf=1.0, seed=2)
    model, ids, _, _ = _corpus(p)
    r = np.arange(1, 2001)
    np.testing.assert_allclose(model.norms ** 2, 2 * 50 * (1 + np.log(2000 / r)))
    np.testing.assert_allclose(np.linalg.norm(model.vectors, axis=1), model.norms)
    # words lie around their topic's atom: cos ≈ 1/sqrt(1 + spread^2)
    cos = np.einsum("ij,ij->i", model.vectors / model.norms[:, None], model.atoms[model.topic])
    assert abs(cos.mean() - 1 / math.sqrt(1 + 0.5 ** 2)) < 0.03
    np.testing.assert_allclose(model.atoms @ model.atoms.T, np.eye(20), atol=1e-12)
    counts = np.bincount(ids, minlength=2000)
    # the idealised law is approximate (Z(c) is not constant): frequencies fall with the
    # id, with an exponent of the right order
    assert stats.spearmanr(r, counts).statistic < -0.9
    s = zipf_slope(counts)
    assert 0.5 < s < 1.3, s
    f = zipf_frequencies(2000, 1.0)
    np.testing.assert_allclose(f.sum(), 1.0)
    np.testing.assert_allclose(f[0] / f[9], 10.0)


@pytest.mark.parametrize("kw, message", [
    ({"n_tokens": 0}, "n_tokens must be an integer >= 1"),
    ({"vocab_size": 1}, "vocab_size must be an integer >= 2"),
    ({"senses": 1}, "senses must be an integer >= 2"),
    ({"drift": -0.1}, "drift must be a finite number >= 0"),
    ({"zipf": 0.0}, "zipf must be a finite number > 0"),
    ({"block_length": True}, "block_length must be an integer"),
    ({"n_polysemous": 5, "topics": 2, "senses": 3}, "senses=3 exceeds topics=2"),
    ({"n_polysemous": 60, "vocab_size": 200}, "n_polysemous * senses = 120 exceeds the 98"),
])
def test_bad_parameters_are_refused_with_their_name(kw, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        SynthModel(SynthParams(**{"n_tokens": 100, "vocab_size": 500, "dim": 8, **kw}))
