"""``report.html``: every section and plot present, tables matching the run's outputs,
text from the data escaped, partial runs rendered with "not computed" notes.

The complete run is a small planted corpus (topic words with known vectors and
two words shared by two topics), every stage, vectors read from a file.
"""
from __future__ import annotations

import argparse
import base64
import json
import math
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import base_args

from pipeline.errors import UsageError
from pipeline.commands import report as report_command
from pipeline.report import PLOTS, REPORT_NAME, SECTIONS, build_report, write_report
from pipeline.report.evaluations import EVALUATIONS
from pipeline.report.html import esc, summarize

PNG = b"\x89PNG\r\n\x1a\n"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


# -- a tiny DOM from the stdlib parser ------------------------------------------

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.parts = [], []

    def text(self):
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts)

    def iter(self, tag=None):
        for c in self.children:
            if tag is None or c.tag == tag:
                yield c
            yield from c.iter(tag)

    def find(self, tag, **attrs):
        return next((n for n in self.iter(tag)
                     if all(n.attrs.get(k) == v for k, v in attrs.items())), None)


class Tree(HTMLParser):
    """Parses a page into ``Node`` objects; checks that every element is closed in order."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)
        self.ids = []
        self.feed(text)
        self.close()
        assert self.cur is self.root, f"unclosed <{self.cur.tag}>"

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        if "id" in node.attrs:
            self.ids.append(node.attrs["id"])
        self.cur.children.append(node)
        self.cur.parts.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.cur = self.cur.parent

    def handle_endtag(self, tag):
        assert tag not in VOID and self.cur.tag == tag, f"</{tag}> closes <{self.cur.tag}>"
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.parts.append(data)


def body_rows(table):
    return [[td.text() for td in tr.iter("td")] for tr in table.find("tbody").iter("tr")]


def check_page(text):
    """Parse; every section with its h2; ids unique. Returns the tree."""
    tree = Tree(text)
    assert text.startswith("<!DOCTYPE html>")
    assert len(tree.ids) == len(set(tree.ids)), "duplicate ids"
    for sid, title in SECTIONS:
        sec = tree.root.find("section", id=sid)
        assert sec is not None, sid
        h2 = sec.children[0]
        assert h2.tag == "h2" and h2.text() == title
    # offline: nothing loaded from elsewhere
    for n in tree.root.iter():
        for attr in ("src", "href"):
            v = n.attrs.get(attr)
            assert v is None or v.startswith(("data:image/png;base64,", "#")), (n.tag, v)
        assert n.tag not in ("link", "iframe")
        assert not (n.tag == "script" and "src" in n.attrs)
    return tree


def png_of(tree, pid):
    img = tree.root.find("img", id=pid)
    if img is None:
        return None
    assert img.attrs.get("alt")
    src = img.attrs["src"]
    assert src.startswith("data:image/png;base64,")
    return base64.b64decode(src.split(",", 1)[1], validate=True)


# -- a complete run on a planted corpus ---------------------------------------

K, D, PER = 4, 8, 16


def _make_corpus(tmp, n_docs=900, seed=3):
    rng = np.random.default_rng(seed)
    topics = np.linalg.qr(rng.standard_normal((D, D)))[0][:K]
    words, vecs = [], []
    for t in range(K):
        for i in range(PER):
            words.append(f"t{t}w{i}")
            vecs.append(2.0 * topics[t] + 0.6 * topics[(t + 1 + i % (K - 1)) % K]
                        + 0.05 * rng.standard_normal(D))
    for name, (a, b) in {"bank": (0, 1), "crane": (2, 3)}.items():  # two senses each
        words.append(name)
        vecs.append(1.5 * topics[a] + 1.5 * topics[b])
    vecs = np.array(vecs)
    docs = []
    for _ in range(n_docs):
        p = np.exp(1.8 * vecs @ topics[int(rng.integers(K))])
        docs.append(" ".join(words[j] for j in rng.choice(len(words), 25, p=p / p.sum())))
    corpus = tmp / "planted.txt"
    corpus.write_text("\n".join(docs) + "\n")
    vec_file = tmp / "planted.vec"
    vec_file.write_text(f"{len(words)} {D}\n" + "".join(
        w + " " + " ".join(f"{x:.6f}" for x in v) + "\n" for w, v in zip(words, vecs)))
    sim_file = tmp / "toy-sim.txt"
    pairs = [("t0w1", "t0w2", 9.0), ("t0w3", "t1w4", 2.0), ("t2w1", "t2w5", 8.5),
             ("t3w2", "t1w1", 1.0), ("t1w7", "t1w9", 8.0), ("bank", "t0w4", 6.0),
             ("t2w2", "nosuchword", 3.0)]
    sim_file.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs))
    return corpus, vec_file, sim_file


def _sets(vec_file, sim_file):
    sets = ["vocab.min_count=3", "embed.method=pretrained", f"embed.path={vec_file}",
            "cooc.window=5", "induce.min_count=20", "induce.evaluation_targets=false",
            f"evaluate.similarity=[{{name: toy, path: {json.dumps(str(sim_file))}}}]",
            "evaluate.analogies=null", f"atoms.n_atoms={K}", "atoms.sparsity=2",
            "atoms.iterations=8", "atoms.restarts=2", "atoms.top_words=5",
            "atoms.block_rows=16", "occurrences.targets=[bank]"]
    return [x for s in sets for x in ("--set", s)]


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    return tmp, _make_corpus(tmp)


@pytest.fixture(scope="module")
def complete_run(corpus_files):
    from pipeline.cli import main
    tmp, (corpus, vec_file, sim_file) = corpus_files
    args = base_args(tmp / "out", [corpus], *_sets(vec_file, sim_file), name="full",
                     stages=None)
    assert main([str(a) for a in args]) == 0
    run = tmp / "out" / "full"
    url = write_report(str(run))
    assert url.endswith(REPORT_NAME)
    return run, (run / REPORT_NAME).read_text(encoding="utf-8")


def test_report_of_a_complete_run(complete_run):
    run, text = complete_run
    tree = check_page(text)
    assert "not computed" not in text and "could not" not in text
    for pid, _title in PLOTS:
        png = png_of(tree, pid)
        assert png is not None and png.startswith(PNG), pid
    # configuration and stages
    cfg = tree.root.find("section", id="config").text()
    assert "pretrained" in cfg and "n_atoms: 4" in cfg
    stages = body_rows(tree.root.find("table", id="stages-table"))
    by_name = {r[0]: r for r in stages}
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["stages"]) <= set(by_name)
    for name, s in manifest["stages"].items():
        assert by_name[name][1] == s["status"]
    assert "error_history" in by_name["atoms"][5]
    # metrics: the similarity set, and the induce counters
    sim = body_rows(tree.root.find("table", id="similarity-table"))
    assert [r[0] for r in sim] == ["toy"]
    assert tree.root.find("table", id="induce-summary") is not None


def test_atoms_table_has_every_atom(complete_run):
    run, text = complete_run
    tree = Tree(text)
    atoms = pq.read_table(run / "atoms.parquet")
    rows = body_rows(tree.root.find("table", id="atoms-table"))
    assert len(rows) == atoms.num_rows
    assert [int(r[0]) for r in rows] == atoms["atom_id"].to_pylist()
    for r, top in zip(rows, atoms["top_words"].to_pylist()):
        assert r[2] == ", ".join(top)
    assert tree.root.find("input", **{"data-table": "atoms-table"}) is not None


def _brute_force_ranking(table):
    """[(score, word)] best first, by the report's stated rule, with plain loops."""
    groups = {}
    for r in table.to_pylist():
        groups.setdefault(r["word"], []).append(r)
    out = []
    for w, senses in groups.items():
        if len(senses) < 2:
            continue
        total = sum(s["share"] for s in senses)
        entropy = -sum(s["share"] / total * math.log(s["share"] / total) for s in senses)
        balance = entropy / math.log(len(senses))
        separation = min(math.dist(a["centroid"], b["centroid"])
                         for i, a in enumerate(senses) for b in senses[i + 1:]) / 2
        out.append((balance * separation, w))
    return sorted(out, key=lambda x: (-x[0], x[1]))


def test_inventory_words_are_the_distinct_balanced_ones(complete_run):
    run, text = complete_run
    tree = Tree(text)
    inv = pq.read_table(run / "sense_inventory.parquet")
    expected = _brute_force_ranking(inv)
    shown = body_rows(tree.root.find("table", id="inventory-words"))
    assert [r[1] for r in shown] == [w for _, w in expected[:12]]
    assert [float(r[6]) for r in shown] == pytest.approx([s for s, _ in expected[:12]],
                                                         abs=6e-4)
    # the planted two-sense words (equal halves of two topics) come first, not by frequency
    assert {r[1] for r in shown[:2]} == {"bank", "crane"}
    rule = tree.root.find("p", id="inventory-rule").text()
    assert "not by frequency" in rule and "entropy" in rule and "distance" in rule
    totals = tree.root.find("p", id="inventory-totals").text()
    n_words = len(set(inv["word"].to_pylist()))
    assert totals.startswith(f"{n_words} words in the inventory, {len(expected)} with at least")
    # every sense of every shown word, with its share, occurrences, naming words, examples
    rows = body_rows(tree.root.find("table", id="inventory-senses"))
    by_word = {}
    for r in inv.to_pylist():
        by_word.setdefault(r["word"], []).append(r)
    assert len(rows) == sum(len(by_word[r[1]]) for r in shown)
    it = iter(rows)
    for r in shown:
        for sense in sorted(by_word[r[1]], key=lambda s: s["sense_id"]):
            row = next(it)
            assert row[:5] == [r[1], str(sense["sense_id"]), f"{100 * sense['share']:.1f}",
                               str(sense["n_occurrences"]), ", ".join(sense["top_words"])]
            assert row[6] == "".join(x.replace("<<", "").replace(">>", "")
                                     for x in sense["examples"][:2])
    marks = [m.text() for m in tree.root.find("table", id="inventory-senses").iter("mark")]
    assert marks and set(marks) <= {r[1] for r in shown}
    # atom links point at rows of the atoms table
    links = [a.attrs["href"] for a in tree.root.find("table", id="inventory-senses").iter("a")]
    assert links and all(tree.root.find("tr", id=h[1:]) is not None for h in links)


def test_partial_run_says_not_computed(corpus_files, wsi):
    tmp, (corpus, vec_file, sim_file) = corpus_files
    code, _, err = wsi(*base_args(tmp / "out", [corpus], *_sets(vec_file, sim_file),
                                  name="partial", stages="cooc"))
    assert code == 0, err
    run = tmp / "out" / "partial"
    write_report(str(run))
    text = (run / REPORT_NAME).read_text(encoding="utf-8")
    tree = check_page(text)
    assert png_of(tree, "zipf").startswith(PNG)
    for pid in ("ksvd-error", "atom-usage", "atom-map", "induction-bands"):
        assert png_of(tree, pid) is None
        assert "not computed" in tree.root.find("figure", id=f"fig-{pid}").text()
    for sid in ("metrics", "atoms", "senses"):
        assert "not computed" in tree.root.find("section", id=sid).text(), sid
    rows = {r[0]: r[1] for r in body_rows(tree.root.find("table", id="stages-table"))}
    assert rows["vocab"] in ("complete", "cached") and rows["atoms"] == "not run"


# -- escaping: a crafted run directory ------------------------------------------

EVIL = "<b>&"
SCRIPT = "</pre><script>alert(1)</script>"


def _crafted_run(path):
    """A run directory written by hand with markup in words, settings and metric names."""
    path.mkdir()
    manifest = {
        "run": EVIL, "command": ["wsi", "run", SCRIPT],
        "config": {"run": {"name": EVIL}, "corpus": {"paths": [SCRIPT]}},
        "packages": {"wsi-dask": "0"},
        "stages": {"vocab": {"status": "complete", "seconds": 0.1, "started": "t0",
                             "counters": {"note": EVIL, "row_bounds": list(range(50))}},
                   "atoms": {"status": "complete", "seconds": 1.0, "counters":
                             {"error_history": [0.5, 0.4, 0.3]}},
                   "induce": {"status": "complete", "counters":
                              {"heldout_mean_cosine": 0.8,
                               "heldout_by_band": {"5-9": 0.9, "$10-max$": 0.7,
                                                   EVIL: None}}}}}
    (path / "manifest.json").write_text(json.dumps(manifest))
    metrics = {"similarity": {EVIL: {"pearson": 0.5, "spearman": None, "pairs_used": 3,
                                     "pairs_total": 4, "oov_rate": 0.25}},
               "analogies": None, "skipped": [EVIL]}
    (path / "metrics.json").write_text(json.dumps(metrics))
    # each sense evaluation writes its own file
    (path / "evaluations").mkdir()
    for name, result in {
            "semeval2013": {"fuzzy_b_cubed": 0.41, "fuzzy_nmi": 0.07, EVIL: SCRIPT},
            "lineup": {"models": [{"model": EVIL, "accuracy": 0.5}]},
            "planted": {"recovered": {"cos": 0.99, "n": 4}}}.items():
        (path / "evaluations" / f"{name}.json").write_text(json.dumps(result))
    words = [EVIL, "$x^2$", "plain", "w3"]
    pq.write_table(pa.table({"word": words, "id": pa.array(range(4), pa.int32()),
                             "count": pa.array([50, 40, 30, 20], pa.int64())}),
                   path / "vocab.parquet")
    vec = np.eye(3, dtype=np.float32)
    pq.write_table(pa.table({
        "atom_id": pa.array(range(3), pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), 3),
        "usage": pa.array([3, 1, 0], pa.int64()),
        "top_words": [[EVIL, "plain"], ["$x^2$"], ["w3"]],
        "top_similarities": pa.array([[0.9, 0.5], [0.8], [0.7]], pa.list_(pa.float32()))}),
        path / "atoms.parquet")
    pq.write_table(pa.table({
        "word": [EVIL, EVIL, "$x^2$", "plain", "plain", "w3"],
        "word_id": pa.array([0, 0, 1, 2, 2, 3], pa.int32()),
        "rank": pa.array([1, 2, 1, 1, 2, 1], pa.int8()),
        "atom_id": pa.array([0, 1, 1, 0, 2, 2], pa.int32()),
        "coefficient": pa.array([0.9, -0.3, 1.0, 0.7, 0.2, 1.0], pa.float32()),
        "top_words": [[EVIL], ["$x^2$"], ["$x^2$"], [EVIL], ["w3"], ["w3"]]}),
        path / "senses.parquet")
    return path


def test_text_from_the_data_is_escaped(tmp_path):
    run = _crafted_run(tmp_path / "crafted")
    write_report(run)  # a Path is accepted too
    text = (run / REPORT_NAME).read_text(encoding="utf-8")
    assert EVIL not in text and "<script>alert" not in text and "&lt;b&gt;&amp;" in text
    tree = check_page(text)
    assert [s.attrs.get("src") for s in tree.root.iter("script")] == [None]
    assert tree.root.find("b") is None
    atoms = body_rows(tree.root.find("table", id="atoms-table"))
    assert [r[2] for r in atoms] == [f"{EVIL}, plain", "$x^2$", "w3"]
    # no sense_inventory.parquet: one line says so
    inv = tree.root.find("section", id="senses")
    assert [c.tag for c in inv.children] == ["h2", "p"]
    assert inv.children[1].text() == ("not computed: sense_inventory.parquet "
                                      "(run the stages up to inventory)")
    assert SCRIPT in tree.root.find("pre").text()  # the YAML config, escaped
    h3 = [h.text() for h in tree.root.iter("h3")]
    assert {EVALUATIONS[k] for k in ("semeval2013", "lineup", "planted")} <= set(h3)
    metrics = tree.root.find("section", id="metrics").text()
    # results of another shape than the evaluations write: shown as they are, escaped
    assert "fuzzy_b_cubed" in metrics and SCRIPT in metrics and EVIL in metrics
    for pid in ("zipf", "ksvd-error", "atom-usage", "atom-map", "induction-bands"):
        assert png_of(tree, pid).startswith(PNG), pid  # mathtext-like words do not break plots
    stages = tree.root.find("table", id="stages-table").text()
    assert EVIL in stages and "(50 items)" in stages


def test_helpers():
    assert esc(EVIL) == "&lt;b&gt;&amp;" and esc('"q"') == "&quot;q&quot;"
    assert esc(None) == "—"
    s = summarize(list(range(100)))
    assert s.startswith("[0, 1, 2, …, 99]") and "100 items" in s
    assert summarize({"a": {"b": 1, "c": 2}}) == "{a: {b, c} (2 keys)}"


def test_cli_entry_points(complete_run, tmp_path, capsys):
    run, _ = complete_run
    parser = argparse.ArgumentParser(prog="wsi")
    report_command.add_arguments(parser.add_subparsers(dest="command").add_parser("report"))
    args = parser.parse_args(["report", str(run)])
    assert args.command == "report"
    assert report_command.main(args) == 0
    assert capsys.readouterr().out.strip() == str(run / REPORT_NAME)
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(UsageError, match="not a run directory"):
        build_report(str(tmp_path))
