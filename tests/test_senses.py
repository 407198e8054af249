"""atoms, senses and occurrences stages, ``wsi senses`` and ``wsi assign`` on a planted corpus.

Arora et al.'s generative model with known atoms: each document has one
discourse atom c and emits words with probability ∝ exp(β <c, v_w>). Every
ordinary word belongs to one atom t (v_w = 2 A_t ± 0.7 A_t' + noise); the
polysemous word "tie" is an even mix of atoms 0 and 1, so it occurs in
documents of both.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import (PLANTED_D, PLANTED_K, PLANTED_PER, base_args, corpus_shards, one_line,
                      read_manifest,
                      planted_sense_corpus, planted_settings)
from tasks.senses import rank_senses, score_senses

K, D, PER = PLANTED_K, PLANTED_D, PLANTED_PER


def _planted(tmp_path, n_docs=1500, seed=0):
    return planted_sense_corpus(tmp_path, {"tie": (0, 1)}, n_docs=n_docs, seed=seed)


_settings = planted_settings


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    from pipeline.cli import main
    tmp = tmp_path_factory.mktemp("planted")
    atoms, names, topic, corpus, vf, doc_topic = _planted(tmp)
    # context: the cluster method of wsi assign reads its common direction
    args = base_args(tmp / "out", [corpus], *_settings(vf, "occurrences.targets=[tie, w2x0]"),
                     stages="context,occurrences")
    assert main([str(a) for a in args]) == 0
    return tmp / "out" / "t", atoms, names, topic, doc_topic


def _match(learned, planted):
    """For each planted atom, the learned atom with the largest |cos|, and that |cos|."""
    c = np.abs(planted @ learned.T)
    return c.argmax(axis=1), c.max(axis=1)


def test_atoms_recover_the_planted_discourse_atoms(planted_run):
    run, atoms, names, topic, _ = planted_run
    t = pq.read_table(run / "atoms.parquet")
    assert t.schema.field("atom_id").type == "int32"
    assert str(t.schema.field("vector").type) == "fixed_size_list<element: float>[12]"
    learned = np.array(t["vector"].to_pylist())
    np.testing.assert_allclose(np.linalg.norm(learned, axis=1), 1.0, atol=1e-5)
    best, cos = _match(learned, atoms)
    assert np.all(cos > 0.95), cos
    assert len(set(best)) == K
    # an atom's nearest words are the words of its planted topic
    for t_id, a in enumerate(best):
        top = t["top_words"][int(a)].as_py()
        assert sum(w.startswith(f"w{t_id}x") for w in top) >= 4, (t_id, top)
    usage = t["usage"].to_numpy()
    assert usage.sum() > 0 and np.all(usage[best] > 0)


def test_senses_of_the_polysemous_word_are_its_two_atoms(planted_run, wsi):
    run, atoms, names, topic, _ = planted_run
    learned = np.array(pq.read_table(run / "atoms.parquet")["vector"].to_pylist())
    best, _ = _match(learned, atoms)
    s = pq.read_table(run / "senses.parquet").to_pandas()
    tie = s[s.word == "tie"].sort_values("rank")
    assert list(tie["rank"]) == list(range(1, len(tie) + 1))
    assert set(tie.atom_id[:2]) == {best[0], best[1]}
    assert (s.groupby("word").size() <= 2).all()  # sparsity never exceeded
    # ranks follow |coefficient|
    for _, g in s.groupby("word"):
        c = np.abs(g.sort_values("rank").coefficient.to_numpy())
        assert np.all(np.diff(c) <= 1e-7)
    r = pq.read_table(run / "reconstruction.parquet").to_pandas()
    assert set(r.word) >= set(names) - {"tie"} and (r.relative_error < 0.5).mean() > 0.9
    code, out, err = wsi("senses", "tie", "nosuchword", "--run", run)
    assert code == 0, err
    assert "tie: 2 sense atom(s)" in out and "nosuchword: no sense atoms" in out
    assert "corpus sense" not in out  # this run has no inventory stage
    assert "w0x" in out and "w1x" in out


def test_assign_picks_the_sense_of_the_context(planted_run, wsi, tmp_path):
    run, atoms, names, topic, _ = planted_run
    learned = np.array(pq.read_table(run / "atoms.parquet")["vector"].to_pylist())
    best, _ = _match(learned, atoms)
    rng = np.random.default_rng(9)
    lines, want = [], []
    for i in range(20):
        t = i % 2
        ctx = [f"w{t}x{j}" for j in rng.integers(PER, size=8)]
        lines.append(json.dumps({"id": f"q{i}", "word": "tie",
                                 "context": " ".join(ctx[:4] + ["<<tie>>"] + ctx[4:])}))
        want.append(best[t])
    lines.append(json.dumps({"id": "none", "context": "nosuchword <<tie>> unknownword"}))
    src = tmp_path / "q.jsonl"
    src.write_text("\n".join(lines) + "\n")
    dst = tmp_path / "a.parquet"
    code, out, err = wsi("assign", "--run", run, "--input", src, "--output", dst,
                         "--method", "atoms")
    assert code == 0, err
    t = pq.read_table(dst).to_pandas()
    assert list(t.id[:20]) == [f"q{i}" for i in range(20)]
    assert (t.sense[:20].to_numpy() == np.array(want)).mean() >= 0.9
    assert all(len(s) == len(a) == 2 for s, a in zip(t.scores[:20], t.atoms[:20]))
    assert t.sense.isna().iloc[-1]  # no context word with a vector: no sense, no NaN
    assert t.error.notna().iloc[-1] and t.error[:20].isna().all()
    code, out, err = wsi("assign", "--run", run, "--text", "w1x3 w1x4 <<tie>> w1x5 w1x6")
    assert code == 0, err
    assert json.loads(out)["atom_id"] == best[1]


def test_corpus_occurrences_follow_the_document_discourse(planted_run):
    run, atoms, names, topic, doc_topic = planted_run
    learned = np.array(pq.read_table(run / "atoms.parquet")["vector"].to_pylist())
    best, _ = _match(learned, atoms)
    t = pq.read_table(run / "occurrences").to_pandas()
    docs = [ln.split(" ") for p in corpus_shards(run)
            for ln in p.read_text().splitlines()]
    # brute force: every occurrence of the targets, by document and position
    expected = sorted((d, p, w) for d, toks in enumerate(docs) for p, w in enumerate(toks)
                      if w in ("tie", "w2x0"))
    got = sorted(zip(t.document, t.position, t.word))
    assert got == expected
    tie = t[t.word == "tie"]
    right = [best[doc_topic[d]] == a for d, a in zip(tie.document, tie.atom_id)
             if doc_topic[d] in (0, 1)]  # a discourse that is one of its senses
    assert len(right) > 50 and np.mean(right) > 0.9
    _assert_assigned_among_strongest(run, t)


def test_corpus_occurrences_get_the_labels_wsi_assign_gives_their_contexts(planted_run, wsi,
                                                                          tmp_path):
    """One assignment implementation: each corpus occurrence, marked in its document's
    text and sent through ``wsi assign --method atoms``, gets the stage's label."""
    run = planted_run[0]
    t = pq.read_table(run / "occurrences").to_pandas().sample(300, random_state=0)
    docs = [ln.split(" ") for p in corpus_shards(run) for ln in p.read_text().splitlines()]
    lines = []
    for d, p in zip(t.document, t.position):
        toks = list(docs[d])
        toks[p] = f"<<{toks[p]}>>"
        lines.append(json.dumps({"id": f"{d}:{p}", "context": " ".join(toks)}))
    (tmp_path / "occ.jsonl").write_text("\n".join(lines) + "\n")
    code, _o, err = wsi("assign", "--run", run, "--input", tmp_path / "occ.jsonl",
                        "--output", tmp_path / "occ.parquet", "--method", "atoms")
    assert code == 0, err
    got = pq.read_table(tmp_path / "occ.parquet").to_pandas()
    np.testing.assert_array_equal(got.sense.fillna(-1).to_numpy(),
                                  t.atom_id.fillna(-1).to_numpy())
    np.testing.assert_allclose(got.score.fillna(0), t.score.fillna(0), atol=1e-5)


def _assert_assigned_among_strongest(run, t):
    """As `wsi assign`: each occurrence scored on its word's senses.assign_max strongest
    senses and labelled with the best of them."""
    senses = pq.read_table(run / "senses.parquet").to_pandas()
    k = read_manifest(run)["config"]["senses"]["assign_max"]
    for w, g in t.groupby("word"):
        top = senses[(senses.word == w) & (senses["rank"] <= k)].atom_id
        assert g.atom_id.dropna().isin(top).all()
        assert (g.scores.map(len) == len(top)).all()
        done = g.dropna(subset=["atom_id"])
        assert len(done) > 10
        np.testing.assert_allclose(done.score, [max(x) for x in done.scores], atol=1e-6)
    return senses


def test_occurrences_choose_among_the_assign_max_strongest_senses(planted_run, tmp_path, wsi):
    import shutil
    import yaml
    run = tmp_path / "out" / "t"
    shutil.copytree(planted_run[0], run)
    conf = tmp_path / "run.yaml"
    conf.write_text(yaml.safe_dump(read_manifest(run)["config"]))
    code, _o, err = wsi("run", "-c", conf, "--out", tmp_path / "out", "--name", "t", "--quiet",
                        "--stages", "occurrences", "--set", "senses.assign_max=1")
    assert code == 0, err
    stages = read_manifest(run)["stages"]
    assert stages["occurrences"]["status"] == "complete" and stages["atoms"]["status"] == "cached"
    t = pq.read_table(run / "occurrences").to_pandas()
    senses = _assert_assigned_among_strongest(run, t)
    assert (senses.groupby("word").size() > 1).any()  # truncation had something to cut


def test_rank_senses_and_score_senses_against_direct_computation():
    idx = np.array([[3, 1, -1], [0, -1, -1], [-1, -1, -1]])
    coef = np.array([[0.2, -0.9, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    rows, rank, atom, c = rank_senses(idx, coef)
    assert rows.tolist() == [0, 0, 1] and rank.tolist() == [1, 2, 1]
    assert atom.tolist() == [1, 3, 0] and c.tolist() == [-0.9, 0.2, 0.5]
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 4))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    v = rng.standard_normal((2, 4))
    best, score, scores = score_senses(v, a, [np.array([1, 3]), np.array([])],
                                       [np.array([-1.0, 1.0]), np.array([])])
    direct = [-(a[1] @ v[0]) / np.linalg.norm(v[0]), a[3] @ v[0] / np.linalg.norm(v[0])]
    np.testing.assert_allclose(scores[0], direct)
    assert best[0] == [1, 3][int(np.argmax(direct))] and best[1] == -1 and np.isnan(score[1])


def test_score_senses_on_many_occurrences_against_a_direct_loop():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((30, 6))
    a[8] = a[7]
    v = rng.standard_normal((500, 6))
    v[::7] = 0.0                                        # no context: no assignment
    cand = [rng.choice(30, size=rng.integers(0, 5), replace=False) for _ in range(500)]
    signs = [rng.choice([-1.0, 1.0], size=len(c)) * rng.random(len(c)) for c in cand]
    cand[3], signs[3] = np.array([8, 7]), np.array([1.0, 1.0])  # a tie: the first wins
    best, score, scores = score_senses(v, a, cand, signs)
    for i in range(500):
        direct = [np.sign(sg) * (a[c] @ v[i]) / np.linalg.norm(a[c]) / np.linalg.norm(v[i])
                  if v[i].any() else 0.0 for c, sg in zip(cand[i], signs[i])]
        np.testing.assert_allclose(scores[i], direct, rtol=1e-12, atol=1e-15)
        if len(direct) and v[i].any():
            assert best[i] == cand[i][int(np.argmax(direct))]
            assert score[i] == pytest.approx(max(direct), rel=1e-12)
        else:
            assert best[i] == -1 and np.isnan(score[i])
    assert (best >= 0).sum() > 300 and best[3] == 8


@pytest.mark.parametrize("setting, message", [
    ("atoms.n_atoms=500", "atoms.n_atoms=500 exceeds the"),
    ("atoms.sparsity=13", "atoms.sparsity=13 must be <= min(n_dims=12"),
    ("atoms.min_count=100000", "too few to learn atoms"),
])
def test_bad_atoms_settings_give_one_line(tmp_path, wsi, setting, message):
    _, _, _, corpus, vf, _ = _planted(tmp_path, n_docs=200)
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], *_settings(vf, setting),
                                  stages="atoms"))
    assert code == 3, err
    assert message in one_line(err)


def test_nan_vectors_are_refused(tmp_path, wsi):
    _, _, _, corpus, vf, _ = _planted(tmp_path, n_docs=200)
    text = vf.read_text().splitlines()
    parts = text[1].split(" ")
    parts[1] = "nan"
    vf.write_text("\n".join([text[0], " ".join(parts), *text[2:]]) + "\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [corpus], *_settings(vf), stages="atoms"))
    assert code == 3, err
    line = one_line(err)
    assert "nan" in line.lower() or "finite" in line.lower()


def test_assign_and_senses_bad_input_give_one_line(planted_run, wsi, tmp_path):
    run = planted_run[0]
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": 1, "context": "w0x1 <<tie>> w0x2"}\n{"id": 2, "context": \n')
    code, _, err = wsi("assign", "--run", run, "--input", src, "--output", tmp_path / "o.parquet")
    # the batch goes on: the bad line has its error row, the summary names file and line
    assert code == 0 and "bad.jsonl; first: line 2 (id 2): not valid JSON" in one_line(err)
    t = pq.read_table(tmp_path / "o.parquet").to_pandas()
    assert list(t.id) == ["1", "2"] and t.error.isna()[0] and t.sense.isna()[1]
    code, _, err = wsi("assign", "--run", run, "--input", tmp_path / "missing.jsonl",
                       "--output", tmp_path / "o.parquet")
    assert code == 3 and "missing.jsonl" in one_line(err)
    code, _, err = wsi("senses", "tie", "--run", tmp_path / "nowhere")
    assert code == 2 and "not a run directory" in one_line(err)
    code, _, err = wsi("assign", "--run", run)
    assert code == 2 and "--input" in one_line(err)


@pytest.mark.parametrize("workers, block_rows", [(1, 7), (2, 7), (2, 1000)])
def test_dask_coder_codes_like_sparse_code_and_fits_like_ksvd(workers, block_rows):
    from pipeline.runner import Runner
    from pipeline.coding import DaskCoder
    from tasks.ksvd import KSVD, sparse_code
    rng = np.random.default_rng(3)
    x = rng.standard_normal((45, 8))
    d = rng.standard_normal((12, 8))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    with Runner("threads", workers=workers, quiet=True) as runner:
        coder = DaskCoder(runner, block_rows)
        idx, coef = coder(x, d, None, 3)
        ref_idx, ref_coef = sparse_code(x, d, 3)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(coef, ref_coef, atol=1e-12)
        a = KSVD(n_atoms=10, sparsity=3, max_iter=4, tol=0, coder=coder).fit(x)
    b = KSVD(n_atoms=10, sparsity=3, max_iter=4, tol=0).fit(x)
    np.testing.assert_allclose(a.error_, b.error_, atol=1e-12)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-10)


def test_assignment_chooses_among_the_strongest_senses_only(planted_run):
    from pipeline.assigner import Item, assign_items, load_model
    from pipeline.sense_model import SenseModel
    run = planted_run[0]
    full = SenseModel(str(run), max_senses=0)
    one = SenseModel(str(run), max_senses=1)
    assert len(full.senses("tie")) == 2 and one.senses("tie") == full.senses("tie")[:1]
    item = [Item(1, "1", None, "w1x3 w1x4 <<tie>> w1x5 w1x6")]
    r = assign_items(load_model(str(run), "atoms", ("senses.assign_max=1",)), item).to_pylist()[0]
    assert r["atoms"] == [full.senses("tie")[0][1]] and r["sense"] == r["atoms"][0]
    r = assign_items(load_model(str(run), "atoms", ("senses.assign_max=0",)), item).to_pylist()[0]
    assert r["atoms"] == [a for _r, a, _c, _t in full.senses("tie")]
    with pytest.raises(Exception, match="max senses"):
        SenseModel(str(run), max_senses=-1)
