"""``wsi assign --input`` on a planted-sense corpus: batches never abort, clustering
recovers planted senses, a function word gets one sense.

The corpus (conftest.planted_sense_corpus) gives every document one discourse
atom; "tie" is an even mix of atoms 0 and 1, so the atom of the document an
occurrence of "tie" sits in is its true sense. "fw", inserted at random places of
every document, is a function word: its contexts are those of random positions.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import v_measure_score

from conftest import base_args, planted_sense_corpus, planted_settings, senseval_pos_file


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from pipeline.cli import main
    tmp = tmp_path_factory.mktemp("assign")
    atoms, names, topic, corpus, vf, doc_topic = planted_sense_corpus(tmp, {"tie": (0, 1)})
    # a function word: two occurrences at random places of every document, whatever its atom
    rng = np.random.default_rng(1)
    lines = []
    for doc in corpus.read_text().split("\n")[:-1]:
        tokens = doc.split()
        for _ in range(2):
            tokens.insert(int(rng.integers(len(tokens) + 1)), "fw")
        lines.append(" ".join(tokens))
    corpus.write_text("\n".join(lines) + "\n")
    args = base_args(tmp / "out", [corpus], *planted_settings(vf, "senses.clusters=2",
                                                                 "senses.background=5000"),
                     stages="context,induce,senses")
    assert main([str(a) for a in args]) == 0
    docs = corpus.read_text().split("\n")
    return tmp / "out" / "t", docs, doc_topic, tmp


def _batch(docs, doc_topic, word, limit=None):
    """Lines marking the first ``word`` of every document that has it, and their truth."""
    lines, truth = [], []
    for i, doc in enumerate(docs):
        tokens = doc.split()
        if word in tokens:
            p = tokens.index(word)
            text = " ".join(tokens[:p] + [f"<<{word}>>"] + tokens[p + 1:])
            lines.append({"id": f"{word}-{i}", "context": text})
            truth.append(doc_topic[i])
    return lines[:limit], truth[:limit]


def _assign(wsi, run, tmp, lines, *extra, raw=()):
    src, out = tmp / "batch.jsonl", tmp / "out.parquet"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines) + "".join(raw))
    code, stdout, err = wsi("assign", "--run", run, "--input", src, "--output", out, *extra)
    assert code == 0, err
    return code, pq.read_table(out).to_pandas(), err


def test_clustering_recovers_the_planted_senses(planted, wsi):
    run, docs, doc_topic, tmp = planted
    lines, truth = _batch(docs, doc_topic, "tie")
    assert len(lines) > 100 and np.isin(truth, [0, 1]).mean() > 0.9
    code, rows, _err = _assign(wsi, run, tmp, lines)
    assert code == 0 and list(rows["id"]) == [x["id"] for x in lines]
    assert set(rows["method"]) == {"cluster"} and rows["error"].isna().all()
    labels = rows["sense"].to_numpy()
    v = v_measure_score(truth, labels)
    shuffled = np.mean([v_measure_score(truth, np.random.default_rng(s).permutation(labels))
                        for s in range(20)])
    assert v > 0.6 and shuffled < 0.05, (v, shuffled)
    scores = np.stack(rows["scores"].to_numpy())
    assert scores.shape == (len(lines), 2)
    # k-means labels: nearest centre; scores: cosine to the unit centroids (nearly the same)
    assert (np.argmax(scores, axis=1) == labels).mean() > 0.95
    np.testing.assert_allclose(rows["score"], scores[np.arange(len(labels)), labels], rtol=1e-6)


def test_a_function_word_gets_one_sense(planted, wsi):
    run, docs, doc_topic, tmp = planted
    lines, truth = _batch(docs, doc_topic, "fw")
    assert len(lines) > 1000 and len(set(truth)) == 6
    code, rows, _err = _assign(wsi, run, tmp, lines)
    assert set(rows["sense"]) == {0} and all(list(s) == [1.0] for s in rows["scores"])


def test_bad_lines_get_their_error_row_and_good_lines_a_sense(planted, wsi):
    run, docs, doc_topic, tmp = planted
    good, _ = _batch(docs, doc_topic, "tie", limit=60)
    bad = ['{"id": "broken", \n', '[1, 2]\n', '{"id": "nocontext"}\n',
           '{"id": "unmarked", "context": "tie w0x1 w0x2"}\n',
           '{"id": "empty", "context": "  "}\n',
           '{"id": "novector", "context": "<<tie>> zzz qqq"}\n',
           '{"id": "notword", "context": "w0x1 w0x2", "word": "tie"}\n']
    code, rows, err = _assign(wsi, run, tmp, good, raw=bad)
    assert code == 0
    assert len(rows) == len(good) + len(bad)
    by_id = rows.set_index("id")
    assert by_id.loc[[x["id"] for x in good], "sense"].notna().all()
    assert by_id.loc[[x["id"] for x in good], "error"].isna().all()
    errors = rows[rows["error"].notna()]
    assert len(errors) == len(bad) and errors["sense"].isna().all()
    msgs = dict(zip(errors["id"], errors["error"]))
    n = len(good)
    assert "not valid JSON" in msgs[str(n + 1)]
    assert "expected a JSON object" in msgs[str(n + 2)]
    assert "context" in msgs["nocontext"] and "context" in msgs["empty"]
    assert "no <<target>> marked" in msgs["unmarked"]
    assert "no context word with a vector" in msgs["novector"]
    assert "does not occur" in msgs["notword"]
    assert len(err.strip().splitlines()) == 1 and "7 line(s) without a sense" in err


def test_atoms_method_and_single_text_fallback_name_the_method(planted, wsi):
    run, docs, doc_topic, tmp = planted
    good, _ = _batch(docs, doc_topic, "tie", limit=5)
    code, rows, _err = _assign(wsi, run, tmp, good, "--method", "atoms")
    assert code == 0 and set(rows["method"]) == {"atoms"} and rows["sense"].notna().all()
    assert all(s in a for s, a in zip(rows["sense"], rows["atoms"]))
    code, out, _err = wsi("assign", "--run", run, "--text", good[0]["context"])
    r = json.loads(out)
    assert code == 0 and r["method"].startswith("atoms (") and r["atom_id"] in r["atoms"]


def test_without_the_criterion_the_function_word_is_split(planted):
    """The one sense of "fw" above comes from the criterion, not from the data alone."""
    from pipeline.assigner import Item, assign_items, fit_batch, load_model
    from tasks.assign import merge_samples
    run, docs, doc_topic, _tmp = planted
    lines, _truth = _batch(docs, doc_topic, "fw")
    items = [Item(n, x["id"], None, x["context"], order=n) for n, x in enumerate(lines)]
    plain = load_model(str(run), "cluster", ("senses.background=0",))
    senses = assign_items(plain, items)["sense"].to_numpy()
    assert set(senses) == {0, 1}
    model = load_model(str(run), "cluster")
    sample = model.sample(items, merge_samples(10**6, model.candidates(items)))
    assert len(sample["fw"][0]) == len(lines)  # the whole batch, below the cap
    (mean, centres), = fit_batch(model, sample, model.background()).values()
    assert len(centres) == 1
    # the criterion's excess, recomputed here, is below the threshold
    from tasks.assign import centre_unit_rows
    from tasks.sense_clusters import excess_drop
    y = centre_unit_rows(sample["fw"][2].astype(float), mean)
    assert excess_drop(y, model.background(), 2, seed=0) < model.senses.min_excess


def test_evaluate_senseval2_scores_the_planted_word_and_the_baseline(planted, wsi, tmp_path):
    from sklearn.metrics import v_measure_score as v
    run, docs, doc_topic, _tmp = planted
    senseval_pos_file(tmp_path / "tie.pos", docs, doc_topic, "tie")
    code, out, err = wsi("evaluate", "senseval2", "--run", run, "--data", tmp_path)
    assert code == 0, err
    result = json.loads((run / "evaluations" / "senseval2.json").read_text())
    tie = result["words"]["tie"]
    assert result["method"] == "cluster" and tie["gold_senses"] >= 2
    assert tie["system"]["senses"] == 2 and tie["system"]["v_measure"] > 0.6
    assert set(tie["baseline"]) == {"k=2", "k=3", "k=4", "k=6"}
    assert result["mean"]["system"] == {m: tie["system"][m] for m in ("v_measure", "ari",
                                                                     "paired_f")}
    # the file's V-measure is the one of the labels `wsi assign` gives the same contexts
    lines, truth = _batch(docs, doc_topic, "tie")
    _c, rows, _e = _assign(wsi, run, _tmp, lines)
    assert tie["system"]["v_measure"] == pytest.approx(v(truth, rows["sense"]), abs=1e-9)
    assert "k-means k=6" in out
    code, _o, err = wsi("evaluate", "senseval2", "--run", run, "--data", tmp_path,
                        "--set", "atoms.sparsity=1")
    assert code == 2 and "only senses.* settings" in err


def test_the_two_sense_variant_takes_each_pair_of_senses_capped(planted, tmp_path):
    """Each pair of senses with at least ``min`` instances is one batch of at most ``cap``
    of each, in file order; the planted word's two topics make one pair, which the
    default method separates (its V-measure recomputed from `wsi assign`'s labels)."""
    from collections import Counter

    from sklearn.metrics import v_measure_score

    from pipeline.assigner import Item, assign_items, load_model
    from pipeline.evaluations.senseval2 import _sense_pairs, evaluate_senseval2, read_senseval
    run, docs, doc_topic, _tmp = planted
    senseval_pos_file(tmp_path / "tie.pos", docs, doc_topic, "tie")
    instances = read_senseval(tmp_path / "tie.pos")
    counts = Counter(g for _i, _t, g in instances)
    big = sorted(g for g, n in counts.items() if n >= 20)
    assert len(big) == 2 and len(counts) > 2  # two planted topics, a few stray ones
    batch, = _sense_pairs(instances, 20, 10**6, 0)
    assert [x for x in instances if x[2] in big] == batch
    cap = min(counts[g] for g in big) // 2
    capped, = _sense_pairs(instances, 20, cap, 0)
    assert Counter(g for _i, _t, g in capped) == {g: cap for g in big}
    order = {iid: n for n, (iid, _t, _g) in enumerate(instances)}
    assert [order[i] for i, _t, _g in capped] == sorted(order[i] for i, _t, _g in capped)
    full = evaluate_senseval2(str(run), str(tmp_path), pair_min=20, pair_cap=10**6)
    pair = full["pairs"]["words"]["tie"]
    items = [Item(n, iid, "tie", t, order=n) for n, (iid, t, _g) in enumerate(batch, 1)]
    labels = assign_items(load_model(str(run), "cluster"), items)["sense"].to_numpy()
    want = v_measure_score([g for _i, _t, g in batch], labels)
    assert pair["batches"] == 1 and pair["system"]["v_measure"] == pytest.approx(want, abs=1e-9)
    assert want > 0.6 and full["pairs"]["mean"]["system"] == pair["system"]
    none = evaluate_senseval2(str(run), str(tmp_path), pair_min=max(counts.values()) + 1)
    assert none["pairs"]["words"] == {} and none["pairs"]["mean"] is None


def test_the_small_batch_variant_labels_random_batches_alone(planted, tmp_path):
    """``draws`` seeded batches of ``size`` distinct instances in file order, each labelled
    alone: the variant's V-measure is the mean over the batches of `wsi assign`'s labels'."""
    from sklearn.metrics import v_measure_score

    from pipeline.assigner import Item, assign_items, load_model
    from pipeline.evaluations.senseval2 import _small_batches, evaluate_senseval2, read_senseval
    run, docs, doc_topic, _tmp = planted
    senseval_pos_file(tmp_path / "tie.pos", docs, doc_topic, "tie")
    instances = read_senseval(tmp_path / "tie.pos")
    size = len(instances) // 2
    batches = _small_batches(instances, size, 3, 0)
    order = {iid: n for n, (iid, _t, _g) in enumerate(instances)}
    for batch in batches:
        at = [order[i] for i, _t, _g in batch]
        assert len(batch) == size and at == sorted(set(at))
    assert len({tuple(x[0] for x in b) for b in batches}) == 3
    assert _small_batches(instances, len(instances), 3, 0) == []
    full = evaluate_senseval2(str(run), str(tmp_path), small_size=size, small_draws=3)
    model = load_model(str(run), "cluster")
    want = []
    for batch in batches:
        items = [Item(n, iid, "tie", t, order=n) for n, (iid, t, _g) in enumerate(batch, 1)]
        labels = assign_items(model, items)["sense"].to_numpy()
        want.append(v_measure_score([g for _i, _t, g in batch], labels))
    got = full["small"]["words"]["tie"]
    assert got["batches"] == 3 and set(got["baseline"]) == {"k=2", "k=3", "k=4", "k=6"}
    assert got["system"]["v_measure"] == pytest.approx(np.mean(want), abs=1e-9)
    none = evaluate_senseval2(str(run), str(tmp_path), small_size=len(instances))
    assert none["small"]["words"] == {} and none["small"]["mean"] is None


@pytest.mark.parametrize("text, message", [
    ("<corpus><lexelt>", "not a Senseval XML file"),
    ('<corpus><lexelt item="x"><instance id="a"><context><wf>w</wf></context></instance>'
     "</lexelt></corpus>", "instance 'a' has no answer or context"),
    ('<corpus><lexelt item="x"><instance id="b"><answer senseid="s"/><context><wf>w</wf>'
     "</context></instance></lexelt></corpus>", "instance 'b' has 0 head words"),
])
def test_a_bad_senseval_file_is_one_line_naming_it(planted, wsi, tmp_path, text, message):
    run = planted[0]
    (tmp_path / "x.pos").write_text(text)
    code, _out, err = wsi("evaluate", "senseval2", "--run", run, "--data", tmp_path)
    assert code == 3 and len(err.strip().splitlines()) == 1
    assert "x.pos" in err and message in err


def test_a_multi_word_target_is_clustered_on_the_context_around_the_span(planted, wsi):
    """``<<tie knot>>``: two tokens, the second unseen; the batch is clustered on the tokens
    around the whole span, so the planted senses come out as for ``<<tie>>``."""
    run, docs, doc_topic, tmp = planted
    lines, truth = _batch(docs, doc_topic, "tie")
    phrase = [{"id": x["id"], "context": x["context"].replace("<<tie>>", "<<tie knot>>")}
              for x in lines]
    code, rows, _err = _assign(wsi, run, tmp, phrase)
    assert rows["error"].isna().all() and set(rows["word"]) == {"tie knot"}
    assert v_measure_score(truth, rows["sense"].to_numpy()) > 0.6
