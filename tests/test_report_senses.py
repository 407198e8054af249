"""report.html's sense inventory and evaluation tables on run directories written by hand:
the chosen words and their order follow the stated rule (computed here by brute force),
text from the data is escaped, a missing or damaged inventory is one line, and the
evaluation tables carry the JSON files' numbers."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from test_report import Tree, body_rows, check_page

from pipeline.report import build_report
from pipeline.stages.inventory import schema

EVIL = "<b>&"
SCRIPT = "</td><script>alert(1)</script>"
D = 6


def _run_dir(path):
    path.mkdir()
    (path / "manifest.json").write_text(json.dumps(
        {"run": "hand", "config": {"run": {"name": "hand"}}, "stages": {}}))
    return path


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _inventory_rows(seed=0):
    """{word: [(share, n_occurrences, centroid)]}: planted cases plus random filler words."""
    e = np.eye(D)
    rng = np.random.default_rng(seed)
    words = {
        "the": [(1.0, 5000, 0.3 * e[0])],  # function words, very frequent
        "of": [(1.0, 4000, 0.3 * e[1])],
        "and": [(0.97, 3880, 0.5 * e[0]), (0.03, 120, 0.45 * e[0] + 0.1 * e[1])],
        "bank": [(0.5, 200, 0.9 * e[2]), (0.5, 200, -0.9 * e[2])],  # balanced, far apart
        "tie": [(0.8, 160, 0.95 * e[3]), (0.2, 40, -0.95 * e[3])],
        "plant": [(0.4, 120, 0.8 * e[4]),
                  (0.35, 105, 0.8 * (-0.5 * e[4] + math.sqrt(0.75) * e[5])),
                  (0.25, 75, 0.8 * (-0.5 * e[4] - math.sqrt(0.75) * e[5]))],
        EVIL: [(0.6, 60, 0.7 * e[1]), (0.4, 40, -0.7 * e[1])],
    }
    for i in range(20):
        k = int(rng.integers(2, 5))
        shares = rng.dirichlet(np.ones(k))
        words[f"w{i:02d}"] = [(float(s), int(1000 * s) + 1,
                               rng.uniform(0.2, 1.0) * _unit(rng.standard_normal(D)))
                              for s in shares]
    return words


def _write_inventory(path, words):
    rows = {n: [] for n in schema(D).names}
    for wid, (w, senses) in enumerate(words.items()):
        for sid, (share, n, cent) in enumerate(senses):
            rows["word"].append(w)
            rows["word_id"].append(wid)
            rows["sense_id"].append(sid)
            rows["share"].append(share)
            rows["n_occurrences"].append(n)
            rows["centroid"].append(np.asarray(cent, dtype=np.float32).tolist())
            rows["mean"].append([0.0] * D)
            rows["atom_ids"].append([sid, 7])
            rows["top_words"].append([f"{w}-name{sid}", EVIL])
            rows["examples"].append([f"left {SCRIPT} <<{w}>> right & {sid}",
                                     f"<<{w}>> at the start", "a third example"])
    pq.write_table(pa.table(rows, schema=schema(D)), path / "sense_inventory.parquet")


def _expected(words):
    """(score, word) of every word with >= 2 senses, best first, by the stated rule."""
    out = []
    for w, senses in words.items():
        k = len(senses)
        if k < 2:
            continue
        total = sum(s for s, _, _ in senses)
        balance = -sum(s / total * math.log(s / total) for s, _, _ in senses) / math.log(k)
        # centroids as stored (float32)
        cents = [np.asarray(c, dtype=np.float32).astype(np.float64) for _, _, c in senses]
        separation = min(math.dist(a, b) for a, b in itertools.combinations(cents, 2)) / 2
        out.append((balance * separation, w))
    return sorted(out, key=lambda x: (-x[0], x[1]))


def test_inventory_section_follows_the_rule_and_escapes(tmp_path):
    run = _run_dir(tmp_path / "run")
    words = _inventory_rows()
    _write_inventory(run, words)
    text = build_report(str(run))
    tree = check_page(text)
    assert EVIL not in text and "<script>alert" not in text
    assert tree.root.find("b") is None
    assert [s.attrs.get("src") for s in tree.root.iter("script")] == [None]
    expected = _expected(words)
    shown = body_rows(tree.root.find("table", id="inventory-words"))
    assert [r[1] for r in shown] == [w for _, w in expected[:12]]
    assert [float(r[6]) for r in shown] == [round(s, 3) for s, _ in expected[:12]]
    # hand-computed anchors: bank balance 1, separation 0.9; frequent "and" is not shown
    by_word = {r[1]: r for r in shown}
    assert by_word["bank"][4:7] == ["1.000", "0.900", "0.900"]
    assert by_word["plant"][5] == f"{0.8 * math.sqrt(3) / 2:.3f}"
    assert "and" not in by_word and "the" not in by_word
    assert tree.root.find("p", id="inventory-totals").text() == (
        f"{len(words)} words in the inventory, {len(words) - 2} with at least 2 senses. "
        "Function words with one sense: the, of; with more: and (2).")
    # senses: shares as %, occurrences, naming words, two examples with the target marked
    rows = body_rows(tree.root.find("table", id="inventory-senses"))
    evil_rows = [r for r in rows if r[0] == EVIL]
    assert [r[1:5] for r in evil_rows] == [["0", "60.0", "60", f"{EVIL}-name0, {EVIL}"],
                                          ["1", "40.0", "40", f"{EVIL}-name1, {EVIL}"]]
    assert evil_rows[0][6] == f"left {SCRIPT} {EVIL} right & 0{EVIL} at the start"
    assert len(rows) == sum(len(words[r[1]]) for r in shown)
    table = tree.root.find("table", id="inventory-senses")
    marks = [m.text() for m in table.iter("mark")]
    assert len(marks) == 2 * len(rows) and EVIL in marks
    assert all(m == r[0] for m, r in zip(marks[::2], rows))
    # no atoms table in this run: atom ids are plain text, not dangling links
    assert table.find("a") is None and evil_rows[0][5] == "0, 7"


def test_missing_or_damaged_inventory_is_one_line(tmp_path):
    run = _run_dir(tmp_path / "none")
    tree = Tree(build_report(str(run)))
    sec = tree.root.find("section", id="senses")
    assert [c.tag for c in sec.children] == ["h2", "p"]
    assert "not computed: sense_inventory.parquet" in sec.children[1].text()
    bad = _run_dir(tmp_path / "bad")
    (bad / "sense_inventory.parquet").write_bytes(b"PAR1 not parquet " + EVIL.encode())
    sec = Tree(build_report(str(bad))).root.find("section", id="senses")
    assert [c.tag for c in sec.children] == ["h2", "p"]
    assert sec.children[1].text().startswith("could not read sense_inventory.parquet")
    old = _run_dir(tmp_path / "old")  # a table without the centroid column
    pq.write_table(pa.table({"word": ["a"], "sense_id": [0], "share": [1.0]}),
                   old / "sense_inventory.parquet")
    sec = Tree(build_report(str(old))).root.find("section", id="senses")
    assert "no column centroid" in sec.children[1].text()


# -- evaluation tables ------------------------------------------------------------

def _scores(base):
    return {"fbc_precision": base + 0.1, "fbc_recall": base + 0.2, "fbc_f": base + 0.15,
            "fnmi": base / 10, "mean": math.sqrt((base + 0.15) * base / 10), "lemmas": 50,
            "instances": 4664, "covered": 4600, "coverage": 4600 / 4664,
            "per_lemma": {"add.v": {"fbc_f": 0.5}}}


def _semeval(graded, base):
    return {"method": "cluster", "gold": "all", "graded": graded, "use_lemma": True,
            "unassigned": "first", "labelled": {"token": 4000, "lemma": 600, "first_sense": 64},
            "overall": _scores(base),
            "by_pos": {"nouns": _scores(base + 0.01), "verbs": _scores(base + 0.02)},
            "labels_per_lemma": 3.25,
            "reference": {"pre_bert_sota": {"fbc_f": 0.575, "fnmi": 0.113, "mean": 0.254,
                                            "source": "Amrami & Goldberg (2018)"}}}


RESULTS = {
    "semeval2013": {"crisp": _semeval(False, 0.41), "graded": _semeval(True, 0.43)},
    "lineup": {"precision": 0.5834, "recall": 0.6432, "micro_precision": 0.57,
               "micro_recall": 0.64, "baseline": {"precision": 0.639, "recall": 0.694,
                                                  "micro_precision": 0.61, "micro_recall": 0.69},
               "n_words": 200, "m": 20, "k": 4, "seed": 0, "mean_true_senses": 2.5,
               "paper": {"method": {"precision": 0.63, "recall": 0.70}}},
    "senseval2": {"method": "cluster", "baseline": {"window": 10, "k": [2, 6]},
                  "words": {w: {"system": {"v_measure": v, "ari": v / 2, "paired_f": v + 0.3},
                                "baseline": {"k=2": {"v_measure": v / 3, "ari": 0.1,
                                                     "paired_f": 0.5},
                                             "k=6": {"v_measure": v / 4, "ari": 0.05,
                                                     "paired_f": 0.4}}}
                            for w, v in (("hard", 0.21), ("line", 0.33))},
                  "mean": {"system": {"v_measure": 0.27, "ari": 0.135, "paired_f": 0.57},
                           "baseline": {"k=2": {"v_measure": 0.09, "ari": 0.1, "paired_f": 0.5},
                                        "k=6": {"v_measure": 0.0675, "ari": 0.05,
                                                "paired_f": 0.4}}},
                  "pairs": {"min": 100, "cap": 300, "seed": 0,
                            "words": {"hard": {"batches": 3}, "line": {"batches": 2}},
                            "mean": {"system": {"v_measure": 0.4123},
                                     "baseline": {"k=2": {"v_measure": 0.2987}}}},
                  "small": {"size": 100, "draws": 20, "seed": 0,
                            "words": {"hard": {"batches": 20}, "line": {"batches": 20}},
                            "mean": {"system": {"v_measure": 0.3351},
                                     "baseline": {"k=2": {"v_measure": 0.25},
                                                  "k=6": {"v_measure": 0.2684}}}}},
    "planted": {"pseudo_words": 40, "coded": 40, "components": 80, "atoms_per_word": 4.5,
                "best_abs_cos": {"mean": 0.81, "median": 0.85, "above_0.5": 0.95,
                                 "above_0.7": 0.8},
                "random_atoms": {"mean": 0.2, "median": 0.19, "above_0.5": 0.01,
                                 "above_0.7": 0.0},
                "by_rank": [{"rank": 1, "components": 40, "mean": 0.9, "median": 0.92,
                             "above_0.5": 1.0, "above_0.7": 0.95}],
                "map": {"words": 400, "heldout_mean_cos": 0.7}},
}


def test_evaluation_tables_carry_the_json_numbers(tmp_path):
    run = _run_dir(tmp_path / "eval")
    (run / "evaluations").mkdir()
    for name, result in RESULTS.items():
        (run / "evaluations" / f"{name}.json").write_text(json.dumps(result))
    tree = check_page(build_report(str(run)))
    sem = body_rows(tree.root.find("table", id="semeval-table"))
    keys = ("lemmas", "instances", "coverage", "fbc_precision", "fbc_recall", "fbc_f", "fnmi",
            "mean")
    got = {(r[0], r[1]): r[2:] for r in sem}
    for setting, res in RESULTS["semeval2013"].items():
        for part, s in {"all": res["overall"], **res["by_pos"]}.items():
            cells = got[(setting, part)]
            assert cells[:2] == ["50", "4664"]
            assert [float(c) for c in cells[2:]] == [round(100 * s[k], 1) for k in keys[2:]]
    ref = got[("reference: pre_bert_sota", "Amrami & Goldberg (2018)")]
    assert ref[5:] == ["57.5", "11.3", "25.4"]
    lineup = {r[0]: r[1:] for r in body_rows(tree.root.find("table", id="lineup-table"))}
    r = RESULTS["lineup"]
    assert lineup["atoms (the paper's rule)"] == ["0.583", "0.643", "0.570", "0.640"]
    assert [float(x) for x in lineup["baseline: cos(v_w, mean)"]] == [
        r["baseline"][k] for k in ("precision", "recall", "micro_precision", "micro_recall")]
    assert lineup["paper: atoms (Arora et al. 2018)"][:2] == ["0.630", "0.700"]
    table = tree.root.find("table", id="senseval2-table")
    head = [th.text() for th in table.iter("th")]
    assert head == ["method", "V-measure (mean)", "ARI (mean)", "paired F (mean)",
                    "V-measure hard", "V-measure line"]
    sv = {r[0]: [float(x) for x in r[1:]] for r in body_rows(table)}
    s = RESULTS["senseval2"]
    assert sv["system (cluster)"] == [0.27, 0.135, 0.57, 0.21, 0.33]
    assert sv["k-means k=6"] == [round(x, 3) for x in (
        0.0675, 0.05, 0.4, s["words"]["hard"]["baseline"]["k=6"]["v_measure"],
        s["words"]["line"]["baseline"]["k=6"]["v_measure"])]
    assert ("two-sense subsets (5 pairs of senses, at most 300 instances of each): "
            "V-measure 0.412, k-means k=2 0.299") in tree.root.text()
    assert ("small batches (20 random batches of 100 instances a word): V-measure 0.335, "
            "best k-means (k=6) 0.268") in tree.root.text()
    planted = {r[0]: r[1:] for r in body_rows(tree.root.find("table", id="planted-table"))}
    assert planted == {"learned atoms": ["0.810", "0.850", "0.950", "0.800"],
                       "random atoms": ["0.200", "0.190", "0.010", "0.000"]}
    assert body_rows(tree.root.find("table", id="planted-by-rank")) == [
        ["1", "40", "0.900", "0.920", "1.000", "0.950"]]
    # compact: no nested key/value tables for these results
    metrics = tree.root.find("section", id="metrics")
    assert not [t for t in metrics.iter("table") if "kv" in t.attrs.get("class", "")]
