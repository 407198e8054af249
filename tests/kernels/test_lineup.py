"""tasks.wordnet against the raw database lines, tasks.lineup against brute force and planted
senses, and pipeline.lineup on a small fake run.

The WordNet tests read /work/shared/data/wordnet (the project's ../shared/data/wordnet) and
skip when it is absent; the scoring tests need no data.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tasks.lineup import (STOPWORDS, build_testset, method_scores, precision_recall,
                          rank_baseline, rank_method, read_testset, score_testset, summarize,
                          write_testset)
from pipeline.readers import open_wordnet
from tasks.wordnet import split_gloss

WORDNET = Path(__file__).resolve().parents[3] / "shared" / "data" / "wordnet"
needs_wordnet = pytest.mark.skipif(not (WORDNET / "index.noun").is_file(),
                                   reason=f"WordNet 3.0 database not found at {WORDNET}")


@pytest.fixture(scope="module")
def wn():
    return open_wordnet(WORDNET)


@pytest.fixture(scope="module")
def vocabulary(wn):
    """Every one-word WordNet lemma: a large vocabulary without a corpus."""
    return {w for w in wn.lemmas() if w.isalpha()}


def raw_index_line(pos_file, lemma):
    with open(WORDNET / f"index.{pos_file}", encoding="utf-8") as f:
        for line in f:
            if line.startswith(lemma + " "):
                return line.split()
    raise AssertionError(f"{lemma} not in index.{pos_file}")


def raw_data_line(pos_file, offset):
    with open(WORDNET / f"data.{pos_file}", "rb") as f:
        f.seek(offset)
        return f.readline().decode("utf-8").rstrip()


# --------------------------------------------------------------------------- WordNet reader


@needs_wordnet
def test_bank_has_its_wordnet_senses_in_index_order(wn):
    nouns = wn.synsets("bank", "n")
    assert len(nouns) == 10 and len(wn.synsets("bank", "v")) == 8
    raw = raw_index_line("noun", "bank")  # lemma pos synset_cnt ... then the 10 offsets
    assert raw[2] == "10"
    assert [s.offset for s in nouns] == [int(o) for o in raw[-10:]]
    both = wn.synsets("Bank")
    assert len(both) == 18 and [s.pos for s in both] == ["n"] * 10 + ["v"] * 8
    assert wn.synsets("nosuchlemmaxyz") == []
    # a multiword lemma: spaces or underscores
    assert wn.synsets("piggy bank") == wn.synsets("Piggy_Bank") != []


@needs_wordnet
def test_gloss_and_hypernym_match_the_raw_data_line(wn):
    s = wn.synsets("bank", "n")[0]
    raw = raw_data_line("noun", s.offset)
    body, gloss = raw.split(" | ", 1)
    assert gloss.startswith(s.definition + ";")
    assert s.definition == "sloping land (especially the slope beside a body of water)"
    assert len(s.examples) == gloss.count('"') // 2 == 2
    assert all(f'"{e}"' in gloss for e in s.examples)
    fields = body.split()
    hyper = [int(fields[i + 1]) for i, f in enumerate(fields) if f == "@"]
    assert [o for o, _ in s.hypernyms] == hyper == [9437454]
    h = wn.synset(hyper[0], "n")
    assert "slope" in h.lemmas and raw_data_line("noun", hyper[0]).split()[4] == "slope"
    # lemmas with underscores become phrases; the key is unique per synset
    inst = wn.synsets("bank", "n")[1]
    assert inst.lemmas[:2] == ("depository financial institution", "bank")
    assert inst.key == f"{inst.offset:08d}-n"


@needs_wordnet
def test_instance_hypernyms_adjective_markers_and_satellites(wn):
    actor = [s for s in wn.synsets("dean", "n") if "James Dean" in s.lemmas][0]
    fields = raw_data_line("noun", actor.offset).split(" | ")[0].split()
    inst = [int(fields[i + 1]) for i, f in enumerate(fields) if f == "@i"]
    assert inst and set(inst) <= {o for o, _ in actor.hypernyms}
    galore = [s for s in wn.synsets("galore", "a") if "galore" in s.lemmas]
    assert galore and galore[0].ss_type == "s" and galore[0].pos == "a"
    assert "galore(ip)" in raw_data_line("adj", galore[0].offset)
    assert wn.synset(galore[0].offset, "s") == galore[0]
    with pytest.raises(KeyError):
        wn.synset(galore[0].offset + 1, "a")


@needs_wordnet
def test_morphy_uses_exception_lists_and_suffix_rules(wn):
    assert "bank" in wn.morphy("banks") and "bank" in wn.morphy("banking")
    assert wn.morphy("geese") == ["goose"]
    assert "run" in wn.morphy("ran", "v")
    assert wn.morphy("qwxzzy") == []


def test_missing_wordnet_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        open_wordnet(tmp_path / "nowhere")
    (tmp_path / "index.noun").write_text("")
    with pytest.raises(FileNotFoundError, match="has no data.noun"):
        open_wordnet(tmp_path)


def test_split_gloss():
    assert split_gloss('a long ridge or pile; "a huge bank of earth"') == \
        ("a long ridge or pile", ("a huge bank of earth",))
    assert split_gloss('promise of reward as in "carrot and stick"') == \
        ('promise of reward as in "carrot and stick"', ())
    assert split_gloss('draw air into the lungs; "I breathe"; "She respires"')[1] == \
        ("I breathe", "She respires")


# --------------------------------------------------------------------------- test set


@pytest.fixture(scope="module")
def testset(wn, vocabulary):
    return build_testset(wn, vocabulary, n_words=40, m=20, seed=0)


@needs_wordnet
def test_construction_is_deterministic_for_a_seed(wn, vocabulary, testset):
    again = build_testset(wn, vocabulary, n_words=40, m=20, seed=0)
    assert again == testset and len(testset) == 40
    other = build_testset(wn, vocabulary, n_words=40, m=20, seed=1)
    assert [i["word"] for i in other] != [i["word"] for i in testset]


@needs_wordnet
def test_target_never_among_the_candidates_words(wn, testset):
    for item in testset:
        t = item["word"]
        for c in item["candidates"]:
            assert t not in c["words"], (t, c)
            # nor an inflected form of it (banks, banking for bank)
            assert not any(t in wn.morphy(w) for w in c["words"]), (t, c)


@needs_wordnet
def test_each_target_has_m_candidates_with_all_its_kept_senses(wn, vocabulary, testset):
    for item in testset:
        t, cands, true = item["word"], item["candidates"], item["true"]
        assert len(cands) == 20 and 2 <= len(true) <= 5
        own = {s.key for s in wn.synsets(t)}
        assert [i for i, c in enumerate(cands) if c["owner"] == t] == true
        assert all(cands[i]["synset"] in own for i in true)
        assert not any(c["synset"] in own for i, c in enumerate(cands) if i not in true)
        assert len({c["synset"] for c in cands}) == 20  # no sense twice
        for c in cands:
            assert 5 <= len(c["words"]) <= 8 and len(set(c["words"])) == len(c["words"])
            assert all(w in vocabulary and w not in STOPWORDS for w in c["words"])
    # distractors are senses of the other targets of the test set
    targets = {i["word"] for i in testset}
    assert all(c["owner"] in targets for i in testset for c in i["candidates"])


@needs_wordnet
def test_sense_words_come_from_synonyms_hypernyms_and_gloss(wn, testset):
    item = testset[0]
    c = item["candidates"][item["true"][0]]
    s = wn.synset(int(c["synset"][:8]), c["synset"][-1])
    text = " ".join(list(s.lemmas) + [lem for o, p in s.hypernyms + s.related("&")
                                      for lem in wn.synset(o, p).lemmas]
                    + [s.definition, *s.examples]).lower()
    assert all(w in text for w in c["words"])


@needs_wordnet
def test_testset_round_trips_through_json_lines(tmp_path, testset):
    path = tmp_path / "lineup.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        write_testset(testset, f)
    assert len(path.read_text().splitlines()) == len(testset)
    assert read_testset(path.read_text().splitlines()) == testset
    path.write_text('{"word": "x"}\n')
    with pytest.raises(ValueError, match="line 1"):
        read_testset(path.read_text().splitlines())


@needs_wordnet
def test_too_few_senses_for_m_is_refused(wn, vocabulary):
    with pytest.raises(ValueError, match="distractor"):
        build_testset(wn, vocabulary, n_words=3, m=19, seed=0)
    with pytest.raises(ValueError, match="max_senses"):
        build_testset(wn, vocabulary, n_words=3, m=5, seed=0, max_senses=5)


# --------------------------------------------------------------------------- scoring


def test_precision_recall_against_a_brute_force_count():
    rankings = [[3, 1, 0, 2, 4], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]
    truths = [[1, 2], [0], [0, 1, 2]]
    k = 2
    # by hand: word 1 guesses {3, 1} → 1 hit; word 2 {0, 1} → 1 hit; word 3 {4, 3} → 0
    assert precision_recall(rankings[0], truths[0], k) == (0.5, 0.5)
    assert precision_recall(rankings[1], truths[1], k) == (0.5, 1.0)
    assert precision_recall(rankings[2], truths[2], k) == (0.0, 0.0)
    hits = [sum(g in t for g in r[:k]) for r, t in zip(rankings, truths)]
    s = summarize(rankings, truths, k)
    assert s["precision"] == pytest.approx(np.mean([h / k for h in hits])) == \
        pytest.approx(1 / 3)
    assert s["recall"] == pytest.approx(np.mean([h / len(t) for h, t in zip(hits, truths)])) \
        == pytest.approx(0.5)
    assert s["micro_precision"] == pytest.approx(2 / 6)
    assert s["micro_recall"] == pytest.approx(2 / 6)
    assert s["n_words"] == 3
    assert precision_recall([5, 6, 7, 8, 9], [5, 6, 7, 8, 9], 4) == (1.0, 0.8)


def _brute_force_rank(atoms, v, senses, background, gamma):
    """The paper's rule with plain loops: per atom its two best senses become candidates."""
    def rms(xs):
        return (sum(x * x for x in xs) / len(xs)) ** 0.5

    def unit(x):
        return x / np.linalg.norm(x)
    v = unit(v)
    sc = {}
    for a, L in itertools.product(range(len(atoms)), range(len(senses))):
        us = [unit(u) for u in senses[L]]
        sc[a, L] = (rms([unit(atoms[a]) @ u for u in us]) - rms([background @ u for u in us])
                    + gamma * rms([v @ u for u in us]))
    best = {}
    for a in range(len(atoms)):
        top = sorted(range(len(senses)), key=lambda L: (-sc[a, L], L))[:2]
        for L in top:
            best[L] = max(best.get(L, -np.inf), sc[a, L])
    rest = {L: max(sc[a, L] for a in range(len(atoms))) for L in range(len(senses))
            if L not in best}
    return (sorted(best, key=lambda L: (-best[L], L))
            + sorted(rest, key=lambda L: (-rest[L], L)))


def test_method_ranking_matches_a_brute_force_implementation():
    rng = np.random.default_rng(3)
    for _ in range(5):
        d = 6
        atoms = rng.standard_normal((3, d))
        v = rng.standard_normal(d)
        senses = [rng.standard_normal((int(rng.integers(2, 6)), d)) for _ in range(9)]
        bg = 0.3 * rng.standard_normal(d)
        order, score = rank_method(atoms, v, senses, background=bg, gamma=0.7)
        assert list(order) == _brute_force_rank(atoms, v, senses, bg, 0.7)
        s, base = method_scores(atoms, v, senses, background=bg, gamma=0.7)
        assert s.shape == (3, 9) and base.shape == (9,)
        u0 = senses[0] / np.linalg.norm(senses[0], axis=1, keepdims=True)
        a0 = atoms[0] / np.linalg.norm(atoms[0])
        assert s[0, 0] - base[0] == pytest.approx(np.sqrt(np.mean((u0 @ a0) ** 2)))
    # one atom: two candidates, then the rest by their score
    order, _ = rank_method(atoms[:1], v, senses, background=bg)
    assert len(order) == 9 and sorted(order) == list(range(9))
    # no atom: the atom-free part of the score
    order, score = rank_method(np.zeros((0, d)), v, senses, background=bg)
    assert list(order) == list(np.argsort(-score, kind="stable"))


def test_baseline_ranks_by_cosine_with_the_mean_sense_vector():
    v = np.array([1.0, 0.0, 0.0])
    senses = [np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),   # orthogonal to v
              np.array([[1.0, 0.1, 0.0], [2.0, -0.2, 0.0]]),  # along v
              np.array([[-1.0, 0.0, 0.0]])]                   # opposite
    order, cos = rank_baseline(v, senses)
    assert list(order) == [1, 0, 2]
    assert cos[0] == pytest.approx(0.0) and cos[2] == pytest.approx(-1.0)


def _planted(seed=0, n_targets=40, n_atoms=40, d=60, m=20, n_true=4, noise=0.5, weights=None):
    """Atoms = sense directions; each target's vector mixes its 4 sense atoms (with
    ``weights``, else uniform in [0.6, 1.4]), and each candidate sense's 8 words lie near
    one atom (true senses: the target's atoms)."""
    rng = np.random.default_rng(seed)
    atoms = np.linalg.qr(rng.standard_normal((d, d)))[0][:n_atoms]
    names, vecs, items, atoms_of = [], [], [], {}

    def add(name, vec):
        names.append(name)
        vecs.append(vec)

    for t in range(n_targets):
        own = rng.choice(n_atoms, size=n_true, replace=False)
        word = f"target{t}"
        mix = rng.uniform(0.6, 1.4, n_true) if weights is None else np.asarray(weights)
        add(word, mix @ atoms[own] + 0.05 * rng.standard_normal(d))
        atoms_of[word] = atoms[own]
        others = rng.choice(np.setdiff1d(np.arange(n_atoms), own), size=m - n_true,
                            replace=False)
        cands = []
        for j, a in enumerate(list(own) + list(others)):
            words = []
            for i in range(8):
                w = f"t{t}s{j}w{i}"
                add(w, atoms[a] + noise * rng.standard_normal(d) / np.sqrt(d))
                words.append(w)
            cands.append({"sense": f"s{j}", "synset": f"{t}-{j}", "owner": word,
                          "definition": "", "words": words})
        order = rng.permutation(m)
        items.append({"word": word, "candidates": [cands[i] for i in order],
                      "true": sorted(int(p) for p, i in enumerate(order) if i < n_true)})
    vectors = np.array(vecs)
    return items, {w: i for i, w in enumerate(names)}, vectors, atoms_of


def test_planted_atoms_find_the_true_senses():
    items, index, vectors, atoms_of = _planted()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    r = score_testset(items, index, vectors, atoms_of, k=4, background=unit.mean(axis=0))
    assert r["method"]["n_words"] == 40
    assert r["method"]["precision"] >= 0.9 and r["method"]["recall"] >= 0.9
    assert len(r["answers"]) == 40 and all(len(a["method"]) == 4 for a in r["answers"])
    # chance is 4/20; the baseline sees the senses only through the word vector
    assert r["baseline"]["precision"] > 0.4


def test_planted_minor_senses_are_found_through_the_atoms():
    """One dominant sense: the minor ones barely move the word vector (the baseline loses
    them among the distractors) but each has its atom."""
    items, index, vectors, atoms_of = _planted(seed=1, weights=[4.0, 0.5, 0.2, 0.1])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    r = score_testset(items, index, vectors, atoms_of, k=4, background=unit.mean(axis=0))
    assert r["method"]["precision"] >= 0.9
    assert r["method"]["precision"] > r["baseline"]["precision"] + 0.1


def test_score_testset_names_a_word_without_vector():
    items, index, vectors, atoms_of = _planted(n_targets=2)
    del index[items[1]["candidates"][0]["words"][3]]
    with pytest.raises(ValueError, match="has no vector"):
        score_testset(items, index, vectors, atoms_of)


# --------------------------------------------------------------------------- pipeline


def _fake_run(root, words, d=8, n_atoms=12, seed=0):
    """A run directory with what the lineup reads: manifest, embeddings, senses, atoms."""
    from pipeline.artifacts.tables import vectors_table as embeddings_table
    from pipeline.storage import write_parquet
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"config": {}}))
    vecs = rng.standard_normal((len(words), d)).astype(np.float32)
    write_parquet(str(root / "embeddings.parquet"), embeddings_table(
        words, np.arange(len(words)), rng.integers(5, 1000, len(words)), vecs))
    atoms = rng.standard_normal((n_atoms, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    flat = pa.array(atoms.astype(np.float32).reshape(-1), type=pa.float32())
    write_parquet(str(root / "atoms.parquet"), pa.table({
        "atom_id": pa.array(np.arange(n_atoms), type=pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(flat, d),
        "usage": pa.array(np.ones(n_atoms, dtype=np.int64)),
        "top_words": pa.array([["x"]] * n_atoms, type=pa.list_(pa.string()))}))
    rows = [(w, r + 1, int(a), float(rng.uniform(0.2, 1)))
            for w in words for r, a in enumerate(rng.choice(n_atoms, 3, replace=False))]
    write_parquet(str(root / "senses.parquet"), pa.table({
        "word": pa.array([r[0] for r in rows], type=pa.string()),
        "rank": pa.array([r[1] for r in rows], type=pa.int8()),
        "atom_id": pa.array([r[2] for r in rows], type=pa.int32()),
        "coefficient": pa.array([r[3] for r in rows], type=pa.float32())}))
    return root


@needs_wordnet
def test_evaluate_lineup_writes_testset_and_merges_metrics(tmp_path, vocabulary, capsys):
    from pipeline.errors import UsageError
    from pipeline.commands.evaluate import evaluation_parser, run_evaluation
    from pipeline.evaluations.lineup import evaluate_lineup
    words = sorted(vocabulary)[::4]  # ~19k real words with random vectors
    run = _fake_run(tmp_path / "run", words)
    (run / "metrics.json").write_text(json.dumps({"similarity": {"ws353": 0.5}}))
    r = evaluate_lineup(str(run), str(WORDNET), n_words=30, m=20, k=4, seed=2)
    assert r["n_words"] == 30 and (r["m"], r["k"], r["seed"]) == (20, 4, 2)
    assert 0 <= r["precision"] <= 1 and 0 <= r["baseline"]["recall"] <= 1
    assert r["paper"]["method"] == {"precision": 0.63, "recall": 0.70}
    items = read_testset((run / "lineup_testset.jsonl").read_text().splitlines())
    assert len(items) == 30 and all(len(i["candidates"]) == 20 for i in items)
    assert json.loads((run / "evaluations" / "lineup.json").read_text()) == r
    # the evaluate stage's metrics.json is not touched
    assert json.loads((run / "metrics.json").read_text()) == {"similarity": {"ws353": 0.5}}
    # the CLI entry point: its own parser arguments, a table, its own file rewritten
    args = evaluation_parser("lineup").parse_args(
        ["--run", str(run), "--wordnet", str(WORDNET), "--words", "10", "--seed", "1"])
    assert run_evaluation("lineup", args) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "baseline" in out and "0.630" in out
    assert json.loads((run / "evaluations" / "lineup.json").read_text())["n_words"] == 10
    # one-line usage errors: no WordNet, no senses
    with pytest.raises(UsageError, match="nowhere"):
        run_evaluation("lineup", evaluation_parser("lineup").parse_args(
            ["--run", str(run), "--wordnet", str(tmp_path / "nowhere")]))
    (run / "senses.parquet").unlink()
    with pytest.raises(UsageError, match="senses"):
        evaluate_lineup(str(run), str(WORDNET))
