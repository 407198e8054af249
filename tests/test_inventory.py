"""The inventory stage: senses of frequent words from their corpus occurrences.

Kernels against brute-force references (sampling, snippets, contexts), and the
stage on a planted-sense corpus (Arora et al.'s model, conftest): each document
has one discourse atom; "tie" and "bow" mix two atoms each, so their
occurrences come in two senses, the documents' atoms; ordinary words belong to
one atom; "the" is inserted at random positions of every document, so its
contexts carry the documents' topics but no sense of its own.
"""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import base_args, planted_sense_corpus, planted_settings, senseval_pos_file
from tasks.sense_clusters import centre_unit, multiscale_contexts, window_contexts
from tasks.sense_inventory import (choose_k, fit_word, merge_samples, sample_occurrences,
                                   snippet_contexts, snippets)

TARGETS = {"tie": (0, 1), "bow": (2, 4)}
CAP = 150


# -- kernels -------------------------------------------------------------------------

def _corpus(rng, n_docs=40, vocab=30):
    lengths = rng.integers(0, 25, n_docs)
    offsets = np.r_[0, np.cumsum(lengths)]
    ids = rng.integers(-1, vocab, offsets[-1])
    return ids, offsets


def test_sample_keeps_each_words_smallest_keys_over_all_shards():
    rng = np.random.default_rng(1)
    shards = [rng.integers(-1, 12, n) for n in (300, 0, 450, 120)]
    eligible = np.zeros(12, bool)
    eligible[[0, 3, 5, 11]] = True
    cap = 20
    parts = [sample_occurrences(s, eligible, cap, 7, i) for i, s in enumerate(shards)]
    word, shard, position = merge_samples(parts, cap)
    # brute force: every occurrence's key from the documented generator, per word sorted
    keys = {}
    for i, s in enumerate(shards):
        k = np.random.default_rng([7, i]).random(len(s))
        for p, w in enumerate(s):
            if w >= 0 and eligible[w]:
                keys.setdefault(int(w), []).append((k[p], i, p))
    for w in range(12):
        got = sorted(zip(shard[word == w].tolist(), position[word == w].tolist()))
        want = sorted((i, p) for _k, i, p in sorted(keys.get(w, []))[:cap])
        assert got == want, w
        assert len(got) == min(cap, len(keys.get(w, [])))
    assert all(len(p[0]) <= cap * eligible.sum() for p in parts)


def test_snippets_and_their_contexts_match_a_corpus_level_computation():
    rng = np.random.default_rng(2)
    ids, offsets = _corpus(rng)
    n_vocab, d = 30, 5
    weighted = rng.standard_normal((n_vocab, d))
    has = rng.random(n_vocab) > 0.2
    common = np.linalg.qr(rng.standard_normal((d, 1)))[0].T
    word = int(np.bincount(ids[ids >= 0]).argmax())
    positions = np.flatnonzero(ids == word)[::2]
    width = 6
    s = snippets(ids, offsets, positions, width)
    for row, p in zip(s, positions):  # brute force: token by token
        doc = np.searchsorted(offsets, p, side="right") - 1
        for j, q in enumerate(range(p - width, p + width + 1)):
            inside = offsets[doc] <= q < offsets[doc + 1]
            assert row[j] == (ids[q] if inside else -2)
    x, _n = snippet_contexts(s, weighted, has, common, [2, 5])
    # the same vectors straight from the corpus, the word's own id excluded
    ref, _m = multiscale_contexts(ids, offsets, positions, weighted, has, common,
                                  windows=[2, 5], exclude=[word])
    np.testing.assert_allclose(x, ref, atol=1e-12)
    x32, _n = snippet_contexts(s, weighted, has, common, [2, 5], np.float32)  # the stage's
    assert x32.dtype == np.float32
    np.testing.assert_allclose(x32, ref, atol=1e-6)
    # the plain window the map takes, from the same pass (a window between the others,
    # other common directions, float32 rows as the stage gathers them)
    other = np.linalg.qr(rng.standard_normal((d, 2)))[0].T
    x2, _n, u, n_u = snippet_contexts(s, weighted.astype(np.float32), has, common, [2, 5],
                                      np.float32, plain=(other, 3))
    np.testing.assert_allclose(x2, ref, atol=1e-6)
    plain, n_ref = window_contexts(ids, offsets, positions, weighted, has, other, window=3,
                                   exclude=[word])
    np.testing.assert_allclose(u, plain, atol=1e-6)
    assert u.dtype == np.float64 and n_u.tolist() == n_ref.tolist()
    brute = [sum(1 for q in range(max(p - 3, offsets[doc]), min(p + 4, offsets[doc + 1]))
                 if q != p and ids[q] >= 0 and ids[q] != word and has[ids[q]])
             for p, doc in zip(positions, np.searchsorted(offsets, positions, "right") - 1)]
    assert n_u.tolist() == brute


def _best_partition_inertia(z, k):
    """The k-means optimum by enumerating every labelling (tiny n only)."""
    import itertools
    best = np.inf
    for lab in itertools.product(range(k), repeat=len(z) - 1):
        lab = np.array((0,) + lab)
        if len(set(lab.tolist())) < k:
            continue
        best = min(best, sum(((z[lab == j] - z[lab == j].mean(axis=0)) ** 2).sum()
                             for j in range(k)))
    return best


def test_kmeans_runs_reach_the_enumerated_optimum_and_scikit_learns_inertia():
    from sklearn.cluster import KMeans
    from tasks.kmeans import kmeans_runs
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(10):  # three loose groups of three: local optima exist
        tiny = rng.standard_normal((9, 3)) + np.repeat(np.eye(3) * 2.0, 3, axis=0)
        for k, (inertia, labels, centres) in zip([2, 3], kmeans_runs(tiny, [2, 3], seed=0,
                                                                     n_init=8)):
            best = _best_partition_inertia(tiny, k)
            assert inertia >= best - 1e-9
            hits += inertia == pytest.approx(best, rel=1e-9)
            # labels and centres agree: each row nearest its centre, centres the means
            d2 = ((tiny[:, None] - centres[None]) ** 2).sum(-1)
            assert (d2.argmin(axis=1) == labels).all()
            np.testing.assert_allclose(centres, [tiny[labels == j].mean(axis=0)
                                                 for j in range(k)])
            assert inertia == pytest.approx(d2.min(axis=1).sum())
    assert hits >= 18  # of 20 (scikit-learn's KMeans, 8 restarts: 18 on these sets)
    # weakly clustered rows like a word's reduced sample: as good as scikit-learn's
    # KMeans with many restarts, on average over k and seeds (two restarts each here)
    ratios = []
    for seed in range(4):
        z = rng.standard_normal((400, 20))
        z[:150, 0] += 1.5
        z[150:250, 1] += 1.0
        for k, (inertia, _l, _c) in zip(range(2, 7), kmeans_runs(z, range(2, 7), seed=seed,
                                                                  n_init=2)):
            ratios.append(inertia / KMeans(k, n_init=20, random_state=seed).fit(z).inertia_)
    assert np.mean(ratios) < 1.005 and max(ratios) < 1.03


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reduce_rows_against_a_dense_svd(dtype):
    from tasks.sense_inventory import reduce_rows
    rng = np.random.default_rng(5)
    # a clear gap after 6 directions, noise below it
    y = (rng.standard_normal((300, 6)) * [9, 8, 7, 6, 5, 4]) @ \
        np.linalg.qr(rng.standard_normal((90, 6)))[0].T + 0.1 * rng.standard_normal((300, 90))
    z, residual = reduce_rows(y.astype(dtype), 6, 0)
    _u, s, _vt = np.linalg.svd(y, full_matrices=False)
    assert z.dtype == dtype and z.shape == (300, 6)
    # the coordinates' Gram matrix is the rows' projection on the top 6 directions
    np.testing.assert_allclose(np.sort(np.linalg.svd(z.astype(np.float64),
                                                     compute_uv=False)), np.sort(s[:6]),
                               rtol=1e-4)
    np.testing.assert_allclose(residual, np.sum(s[6:] ** 2), rtol=1e-3)


def test_fit_word_recovers_separated_groups_and_leaves_background_like_words_whole():
    rng = np.random.default_rng(3)
    dim = 40
    directions = np.linalg.qr(rng.standard_normal((dim, 6)))[0].T

    def mix(n, topics):
        t = rng.choice(topics, n)
        return 3 * directions[t] + rng.standard_normal((n, dim))

    background = mix(600, range(6))
    bg_curve = {}

    def curve(n):
        from tasks.sense_inventory import drop_curve, reduce_rows
        if n not in bg_curve:
            z, r = reduce_rows(centre_unit(background[:n]), 10, 0)
            bg_curve[n] = drop_curve(z, r, 4, seed=0, n_init=2)[0]
        return bg_curve[n]

    kw = {"max_senses": 4, "dims": 10, "min_excess": 0.05, "tolerance": 0.8, "seed": 0,
          "n_init": 2}
    two = mix(400, [1, 4])
    fit = fit_word(two, curve, **kw)
    assert len(fit["centroids"]) == 2
    # each centroid points at one planted direction (after centring)
    centred = directions[[1, 4]] - directions[[1, 4]].mean(axis=0)
    cos = fit["centroids"] @ centred.T / np.linalg.norm(fit["centroids"], axis=1)[:, None] \
        / np.linalg.norm(centred, axis=1)[None, :]
    assert sorted(cos.argmax(axis=1)) == [0, 1] and cos.max(axis=1).min() > 0.9
    assert fit["counts"].sum() == 400 and fit["counts"][0] >= fit["counts"][1]
    # the k-means rule: every row is nearest its own centroid
    y = centre_unit(two)
    d = ((y[:, None, :] - fit["centroids"][None]) ** 2).sum(-1)
    assert np.mean(d.argmin(axis=1) == fit["labels"]) > 0.99
    like_background = fit_word(mix(400, range(6)), curve, **kw)
    assert len(like_background["centroids"]) == 1
    assert like_background["counts"].tolist() == [400]


def test_choose_k():
    assert choose_k([0, 0.01, 0.012], 0.015, 0.8) == 1
    assert choose_k([0, 0.02, 0.05, 0.06], 0.015, 0.8) == 3
    assert choose_k([0, 0.06, 0.05, 0.04], 0.015, 0.8) == 2
    assert choose_k([0, 0.02, 0.05, 0.06], 0.015, 1.0) == 4


# -- the stage on planted senses ---------------------------------------------------

@pytest.fixture(scope="module")
def planted_inventory(tmp_path_factory):
    from pipeline.cli import main
    tmp = tmp_path_factory.mktemp("inventory")
    atoms, _names, _topic, corpus, vf, doc_topic = planted_sense_corpus(tmp, TARGETS,
                                                                         n_docs=1500)
    rng = np.random.default_rng(5)
    lines = []
    for line in corpus.read_text().splitlines():  # "the" at 5 random places of each line
        tokens = line.split()
        for _ in range(5):
            tokens.insert(int(rng.integers(len(tokens) + 1)), "the")
        lines.append(" ".join(tokens))
    corpus.write_text("\n".join(lines) + "\n")
    # "the" needs a vector: the mean of all words' (it has no topic of its own)
    text = vf.read_text().splitlines()
    vecs = np.array([[float(v) for v in ln.split()[1:]] for ln in text[1:]])
    mean = vecs.mean(axis=0)
    vf.write_text(f"{len(vecs) + 1} {vecs.shape[1]}\n" + "\n".join(text[1:]) + "\nthe "
                  + " ".join(repr(float(v)) for v in mean) + "\n")
    args = base_args(tmp / "out", [corpus],
                     *planted_settings(vf, "inventory.min_count=60", f"inventory.cap={CAP}",
                                       "inventory.dims=20", "inventory.max_senses=4",
                                       "inventory.block_rows=500"),
                     stages="inventory")
    assert main([str(a) for a in args]) == 0
    run = tmp / "out" / "t"
    return run, atoms, lines, doc_topic


def test_inventory_schema_shares_and_cap(planted_inventory):
    run, *_ = planted_inventory
    t = pq.read_table(run / "sense_inventory.parquet")
    assert [f.name for f in t.schema] == ["word", "word_id", "sense_id", "share",
                                          "n_occurrences", "centroid", "mean", "atom_ids",
                                          "top_words", "examples"]
    n_dims = 12 * 3
    assert str(t.schema.field("centroid").type) == f"fixed_size_list<element: float>[{n_dims}]"
    assert str(t.schema.field("mean").type) == f"fixed_size_list<element: float>[{n_dims}]"
    df = t.to_pandas()
    vocab = pq.read_table(run / "vocab.parquet").to_pandas()
    count = dict(zip(vocab.word, vocab["count"]))
    assert set(df.word) == {w for w, c in count.items() if c >= 60}
    for w, g in df.groupby("word"):
        assert abs(g.share.sum() - 1) < 1e-5
        assert g.sense_id.tolist() == list(range(len(g)))
        assert np.all(np.diff(g.share.to_numpy()) <= 1e-7)  # ordered by share
        # the sample cap bounds the occurrences read (every planted token has a context)
        assert g.n_occurrences.sum() == min(CAP, count[w])
        assert all(np.array_equal(m, g["mean"].iloc[0]) for m in g["mean"])
        for ex in g.examples:
            assert 1 <= len(ex) <= 3 and all(f"<<{w}>>" in e for e in ex)
        assert all(len(a) == 3 for a in g.atom_ids)


def test_planted_senses_are_found_and_function_words_get_one(planted_inventory):
    run, atoms, *_ = planted_inventory
    df = pq.read_table(run / "sense_inventory.parquet").to_pandas()
    k = df.groupby("word").size()
    assert k["tie"] == 2 and k["bow"] == 2, k[["tie", "bow"]]
    assert k["the"] == 1
    # An ordinary word is also emitted, more rarely, in other topics' documents
    # (v = 2 A_t ± 0.7 A_t'): a minor second cluster may appear, rarely a balanced one.
    major = df[df.share >= 0.25].groupby("word").size()
    ordinary = major[[w for w in major.index if w not in TARGETS and w != "the"]]
    assert len(ordinary) > 50 and (ordinary == 1).mean() >= 0.95, ordinary.value_counts()
    # each sense's uncentred centroid points at one of the word's planted atoms: the
    # first block (window 2) of mean + centroid, compared with the atoms
    for word, (a, b) in TARGETS.items():
        g = df[df.word == word]
        best = []
        for c, m in zip(g.centroid, g["mean"]):
            v = (np.asarray(m) + np.asarray(c))[:12]
            cos = atoms @ v / np.linalg.norm(v)
            best.append(int(cos.argmax()))
            assert cos.max() > 0.8, (word, cos)
        assert sorted(best) == sorted([a, b]), (word, best)
        assert min(g.share) > 0.3  # the two topics are drawn equally often
    # each sense is named first by the learned atom of its planted topic
    learned = np.array(pq.read_table(run / "atoms.parquet")["vector"].to_pylist())
    learned /= np.linalg.norm(learned, axis=1, keepdims=True)
    for word, (a, b) in TARGETS.items():
        g = df[df.word == word]
        named = [int(np.argmax(np.abs(atoms @ learned[ids[0]]))) for ids in g.atom_ids]
        assert sorted(named) == sorted([a, b]), (word, named)


def test_read_inventory_and_the_nearest_centroid_rule(planted_inventory):
    from pipeline.artifacts.tables import read_inventory
    run, atoms, *_ = planted_inventory
    inv = read_inventory(str(run / "sense_inventory.parquet"))
    mean, cent, ids, shares = inv["tie"]
    assert mean.shape == (36,) and cent.shape == (2, 36) and ids.tolist() == [0, 1]
    assert abs(shares.sum() - 1) < 1e-6
    assert inv["the"][1].shape == (1, 36)
    df_words = set(pq.read_table(run / "sense_inventory.parquet", columns=["word"])
                   .column("word").to_pylist())
    assert set(inv) == df_words and len(inv) == len(df_words)  # a mapping of every word
    assert "no-such-word" not in inv and inv.get("no-such-word") is None
    # a context made of one topic's words goes to the sense of that topic
    df = pq.read_table(run / "sense_inventory.parquet").to_pandas()
    g = df[df.word == "tie"]
    topic_of = [int((atoms @ (np.asarray(m) + np.asarray(c))[:12]).argmax())
                for c, m in zip(g.centroid, g["mean"])]
    # the run's own representation, computed here from its files: SIF-weighted vectors
    # (context.sif_a 1e-3), the context stage's common direction, windows 2, 5, 20
    vocab = pq.read_table(run / "vocab.parquet")
    emb = pq.read_table(run / "embeddings.parquet")
    total = int(vocab.schema.metadata[b"total_tokens"])
    counts = dict(zip(vocab["word"].to_pylist(), vocab["count"].to_pylist()))
    words = emb["word"].to_pylist()
    index = {w: i for i, w in enumerate(words)}
    vec = np.array(emb["vector"].to_pylist())
    p = np.array([counts[w] for w in words]) / total
    weighted = vec * (1e-3 / (1e-3 + p))[:, None]
    common = np.load(run / "context_common.npy")
    for sense, t in enumerate(topic_of):
        context = [index[f"w{t}x{i}"] for i in range(20)]
        ids = np.array(context[:10] + [index["tie"]] + context[10:])
        x, _n = multiscale_contexts(ids, np.array([0, len(ids)]), np.array([10]), weighted,
                                    np.ones(len(words), bool), common, windows=[2, 5, 20])
        y = x[0] - mean
        y /= np.linalg.norm(y)
        assert int(((y[None] - cent) ** 2).sum(1).argmin()) == sense


def test_evaluate_senseval2_labels_by_the_inventory(planted_inventory, wsi, tmp_path):
    import json

    from sklearn.metrics import v_measure_score
    run, _atoms, docs, doc_topic = planted_inventory
    senseval_pos_file(tmp_path / "tie.pos", docs, doc_topic, "tie")
    code, out, err = wsi("evaluate", "senseval2", "--run", run, "--data", tmp_path,
                         "--method", "inventory")
    assert code == 0, err
    result = json.loads((run / "evaluations" / "senseval2.json").read_text())
    tie = result["words"]["tie"]
    assert result["method"] == "inventory" and "method inventory" in out
    assert tie["system"]["senses"] == 2  # the inventory's two senses of "tie"
    truth = [doc_topic[i] for i, d in enumerate(docs) if "tie" in d.split()]
    assert tie["instances"] == len(truth)
    # the planted senses are the documents' topics: the inventory's labels find them
    assert tie["system"]["v_measure"] > 0.6 > v_measure_score(truth, np.arange(len(truth)) % 2)


def test_wsi_senses_lists_the_inventory_senses(planted_inventory, wsi):
    run, *_ = planted_inventory
    df = pq.read_table(run / "sense_inventory.parquet").to_pandas()
    code, out, err = wsi("senses", "tie", "the", "nosuchword", "--run", run)
    assert code == 0, err
    for word in ("tie", "the"):
        g = df[df.word == word].sort_values("sense_id")
        block = out.split(f"{word}: {len(g)} corpus sense(s) from "
                          f"{g.n_occurrences.sum()} sampled occurrences")[1]
        for r in g.itertuples():  # each sense's share, count, naming words and examples
            line = (f"{r.sense_id:>5} {r.share:>6.1%} {r.n_occurrences:>11}  "
                    f"{', '.join(r.top_words)}")
            assert line in block, (word, line)
            assert all(e in block for e in r.examples)
    assert "nosuchword: no corpus senses" in out


def test_link_atoms_names_a_sense_by_its_topic_not_by_the_mean():
    from tasks.sense_inventory import link_atoms
    rng = np.random.default_rng(3)
    d = 40
    atoms = np.linalg.qr(rng.standard_normal((d, 12)))[0].T  # orthonormal rows
    mean = 3.0 * atoms[11] + 0.2 * rng.standard_normal(d)  # atom 11: the "hub" near the mean
    for topic in range(8):
        v = mean + atoms[topic] + 0.5 * atoms[topic + 1]  # an induced vector: mean + sense
        got = link_atoms(v, atoms, mean, 2)
        assert got.tolist() == [topic, topic + 1] and got.dtype == np.int32
        # without the centring the hub atom would come first (what this guards)
        assert int(np.argmax(atoms @ v)) == 11
    # brute force: the cosines with v - mean, sorted, ties by index
    v = mean + rng.standard_normal(d)
    x = v - mean
    cos = [float(a @ x) / np.linalg.norm(x) for a in atoms]
    want = sorted(range(12), key=lambda i: (-cos[i], i))[:5]
    assert link_atoms(v, atoms, mean, 5).tolist() == want
