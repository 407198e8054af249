"""pipeline.semeval: SemEval-2013 Task 13 instances, labelling with a run's senses, scoring, CLI.

The real task cannot be scored meaningfully on a test-sized run, so the
end-to-end tests use a small fake task folder whose lemmas are words of a
planted corpus (Arora et al.'s generative model with known atoms, as in
test_senses.py): "bank" is an even mix of atoms 0 and 1, "plant" of atoms 2
and 3, and each instance's context is drawn from one atom's words, which
also decides its gold sense.
"""
from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from conftest import (PLANTED_D, PLANTED_K, PLANTED_PER, base_args, planted_sense_corpus,
                      planted_settings)
from pipeline.errors import InputError, UsageError, WsiError
from pipeline.commands.evaluate import evaluation_parser, run_evaluation
from pipeline.evaluations.semeval import evaluate_semeval, format_table, read_gold, read_instances
from tasks.wsi_scoring import read_key, score_key

TASK13 = Path(__file__).resolve().parents[2] / "shared" / "data" / "wsi" / "semeval2013_task13"
K, D, PER = PLANTED_K, PLANTED_D, PLANTED_PER
TARGETS = {"bank": (0, 1), "plant": (2, 3)}  # word -> its two planted atoms


# --------------------------------------------------------------------------- the real data


def test_read_instances_of_the_real_task():
    if not (TASK13 / "contexts" / "xml-format").is_dir():
        pytest.skip(f"SemEval-2013 Task 13 data not found at {TASK13}")
    inst = read_instances(TASK13)
    assert len(inst) == 4664
    assert len({lemma for lemma, _, _ in inst}) == 50
    assert len({i for _, i, _ in inst}) == 4664
    tokens = {}
    for f in (TASK13 / "contexts" / "xml-format").glob("*.xml"):
        for x in ET.parse(f).getroot():
            tokens[x.get("id")] = x.get("token")
    for lemma, iid, text in inst:
        assert re.fullmatch(r"[a-z]+\.[nvj]", lemma) and iid.startswith(lemma + ".")
        assert text.count("<<") == 1 and text.count(">>") == 1
        assert re.search(r"<<([^<>]+)>>", text).group(1) == tokens[iid]
    gold = read_gold(TASK13, "all")
    assert {i for _, i, _ in inst} == set(gold)
    assert all(gold.lemma[i] == lemma for lemma, i, _ in inst)


# --------------------------------------------------------------------------- planted run


def _planted(tmp, n_docs=1500, seed=0):
    return planted_sense_corpus(tmp, TARGETS, n_docs=n_docs, seed=seed)[3:5]


def _settings(vf):
    return planted_settings(vf)


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    from pipeline.cli import main
    tmp = tmp_path_factory.mktemp("semeval-planted")
    corpus, vf = _planted(tmp)
    args = base_args(tmp / "out", [corpus], *_settings(vf), stages="senses,induce")
    assert main([str(a) for a in args]) == 0
    return str(tmp / "out" / "t")


def _context(rng, topic, n=5):
    return " ".join(f"w{topic}x{j}" for j in rng.integers(PER, size=n))


def fake_task(root, seed=1):
    """A SemEval-2013 Task 13 style folder: bank.n and plant.v from the planted corpus,
    quux.j (a word the run has never seen); gold senses follow the context's atom."""
    rng = np.random.default_rng(seed)
    xml_dir = root / "contexts" / "xml-format"
    xml_dir.mkdir(parents=True)
    gold = []
    specs = {  # lemma -> [(token, context topic or None for unknown words)]
        "bank.n": [("bank", 0), ("bank", 0), ("Bank", 0), ("banks", 0),
                   ("bank", 1), ("bank", 1), ("bank", 1), ("bank", None)],
        "plant.v": [("plant", 2), ("plant", 2), ("plant", 2), ("plant", 3), ("plant", 3),
                    ("plants", 3)],
        "quux.j": [("quux", 4), ("quux", 5)],
    }
    for lemma, rows in specs.items():
        word, pos = lemma.split(".")
        top = ET.Element("instances", lemma=word, partOfSpeech=pos)
        for k, (token, topic) in enumerate(rows, start=1):
            left = _context(rng, topic) if topic is not None else "qqq zzz yyy"
            right = _context(rng, topic) if topic is not None else "xxx vvv"
            left = (">> " if k == 2 else "") + left  # a stray marker in the text
            text = f"{left} {token}, {right}."
            start = len(left) + 1
            iid = f"{lemma}.{k}"
            x = ET.SubElement(top, "instance", id=iid, lemma=word, partOfSpeech=pos,
                              token=token, tokenStart=str(start),
                              tokenEnd=str(start + len(token)))
            x.text = text
            sense = f"{word}%{(topic if topic is not None else 0) % 2 + 1}"
            if lemma == "plant.v" and k == 3:
                gold.append(f"{lemma} {iid} {sense}/4 {word}%2/2")  # a graded gold line
            else:
                gold.append(f"{lemma} {iid} {sense}/4")
        ET.ElementTree(top).write(xml_dir / f"{lemma}.xml", encoding="utf-8",
                                  xml_declaration=True)
    (root / "keys" / "gold").mkdir(parents=True)
    (root / "keys" / "gold" / "all.key").write_text("\n".join(gold) + "\n")
    return root


# --------------------------------------------------------------------------- end to end


def test_evaluate_semeval_on_a_fake_task(planted_run, tmp_path):
    data = fake_task(tmp_path / "task")
    assert [i for _, i, _ in read_instances(data)][:2] == ["bank.n.1", "bank.n.2"]
    assert all(t.count("<<") == 1 for _, _, t in read_instances(data))
    out = tmp_path / "system.key"
    r = evaluate_semeval(planted_run, str(data), key_out=str(out), graded=False,
                         use_lemma=False, method="atoms")
    lines = out.read_text().splitlines()
    assert len(lines) == 14  # 16 instances, the two quux.j ones have no senses
    for line in lines:
        assert re.fullmatch(r"(bank\.n|plant\.v) \1\.\d+ \1\.atom\d+/1", line), line
    gold = read_key((data / "keys" / "gold" / "all.key").read_text())
    system = read_key(out.read_text())
    direct = score_key(gold, system)
    for k in ("fbc_precision", "fbc_recall", "fbc_f", "fnmi", "mean", "coverage"):
        assert r["overall"][k] == pytest.approx(direct[k]) and 0 <= r["overall"][k] <= 1
    assert r["overall"]["instances"] == 16 and r["overall"]["covered"] == 14
    assert set(r["by_pos"]) == {"nouns", "verbs", "adjectives"}
    nouns = score_key(gold.subset(lambda i, lemma: lemma.endswith(".n")), system)
    assert r["by_pos"]["nouns"]["fbc_f"] == pytest.approx(nouns["fbc_f"])
    assert r["by_pos"]["adjectives"]["fbc_f"] == 0.0  # quux.j: no instance labelled
    c = r["labelled"]
    # "banks" and "plants" are not in the run: the lemma's senses are used
    assert c["lemma"] == 2 and c["first_sense"] == 1 and c["no_sense"] == 2
    assert c["token"] == 11 and c["no_context"] == c["bad_target"] == 0
    assert c["no_context_text"] == 0
    # the planted atoms separate the contexts: one atom per gold sense
    per = r["overall"]["per_lemma"]
    assert per["bank.n"]["fnmi"] > 0.5 and per["plant.v"]["fbc_f"] > 0.5, per
    assert r["reference"]["pre_bert_sota"]["fnmi"] == 0.113
    table = format_table(r)
    assert "all" in table and "adjectives" in table and "first-sense back-off" in table


def test_graded_labels_and_leaving_out(planted_run, tmp_path):
    data = fake_task(tmp_path / "task")
    out = tmp_path / "graded.key"
    r = evaluate_semeval(planted_run, str(data), key_out=str(out), graded=True,
                         method="atoms")
    system = read_key(out.read_text())
    assert len(system) == 14 and r["graded"]
    assert any(len(labels) > 1 for labels in system.values())
    assert all(w > 0 for labels in system.values() for w in labels.values())
    gold = read_key((data / "keys" / "gold" / "all.key").read_text())
    assert r["overall"]["fnmi"] == pytest.approx(score_key(gold, system)["fnmi"])
    assert 0 <= r["overall"]["fbc_f"] <= 1 and 0 <= r["overall"]["fnmi"] <= 1
    r2 = evaluate_semeval(planted_run, str(data), unassigned="omit", use_lemma=True,
                          method="atoms")
    assert r2["labelled"]["no_context"] == 1 and r2["labelled"]["first_sense"] == 0
    assert r2["labelled"]["lemma"] == 13 and r2["labelled"]["token"] == 0
    assert r2["overall"]["covered"] == 13


def _cli(*argv, capsys):
    """Run the sub-command as ``wsi`` would: (exit code, stdout, stderr)."""
    name, *rest = [str(a) for a in argv]
    args = evaluation_parser(name).parse_args(rest)
    try:
        code = run_evaluation(name, args)
    except WsiError as e:
        print(f"wsi: {e}", file=sys.stderr)
        code = e.exit_code
    out, err = capsys.readouterr()
    return code, out, err


def test_main_prints_the_table_and_writes_its_own_file(planted_run, tmp_path, capsys):
    data = fake_task(tmp_path / "task")
    scores = Path(planted_run) / "evaluations" / "semeval2013.json"
    assert not scores.exists()
    code, out, err = _cli("semeval2013", "--run", planted_run, "--data", data, "--no-graded",
                          "--method", "atoms", capsys=capsys)
    assert code == 0, err
    assert out.splitlines()[0].startswith("SemEval-2013 Task 13") and "nouns" in out
    m = json.loads(scores.read_text())
    assert set(m) == {"crisp"}
    assert not (Path(planted_run) / "metrics.json").exists()  # the evaluate stage's file
    key = tmp_path / "k.key"
    code, out, err = _cli("semeval2013", "--run", planted_run, "--data", data,
                          "--key-out", key, "--method", "atoms", capsys=capsys)
    assert code == 0, err
    m = json.loads(scores.read_text())
    assert set(m) == {"crisp", "graded"}  # the crisp result is kept beside the graded one
    assert m["graded"]["graded"] is True and key.exists()
    assert m["crisp"]["overall"]["instances"] == 16


# --------------------------------------------------------------------------- bad input


def _one_line(code, err, want_code, *parts):
    assert code == want_code, err
    lines = [ln for ln in err.splitlines() if ln.startswith("wsi: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(p in lines[0] for p in parts), lines[0]


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    run = tmp_path / "norun"
    code, _, err = _cli("semeval2013", "--run", run, "--data", tmp_path / "nowhere",
                        capsys=capsys)
    _one_line(code, err, 2, "nowhere", "does not exist")

    data = fake_task(tmp_path / "task")
    gold = data / "keys" / "gold" / "all.key"
    text = gold.read_text()
    gold.write_text(text + "bank.n bank.n.99 bank%1/heavy\n")
    code, _, err = _cli("semeval2013", "--run", run, "--data", data, capsys=capsys)
    _one_line(code, err, 3, "all.key", "line 17", "'heavy'")

    gold.write_text(text)
    code, _, err = _cli("semeval2013", "--run", run, "--data", data, "--gold", "spoken",
                        capsys=capsys)
    _one_line(code, err, 3, "spoken.key", "not found")

    bad = data / "contexts" / "xml-format" / "plant.v.xml"
    good = bad.read_text()
    bad.write_text(good.replace('tokenStart="', 'tokenStart="1', 1))
    code, _, err = _cli("semeval2013", "--run", run, "--data", data, capsys=capsys)
    _one_line(code, err, 3, "plant.v.xml", "plant.v.1", "is not the token")

    bad.write_text(good[:-40])
    code, _, err = _cli("semeval2013", "--run", run, "--data", data, capsys=capsys)
    _one_line(code, err, 3, "plant.v.xml", "not valid XML")

    bad.write_text(good)
    code, _, err = _cli("semeval2013", "--run", run, "--data", data, capsys=capsys)
    _one_line(code, err, 2, "not a run directory")

    for f in (data / "contexts" / "xml-format").glob("*.xml"):
        f.unlink()
    with pytest.raises(InputError, match="no .xml files"):
        read_instances(data)
    with pytest.raises(UsageError, match="unassigned"):
        evaluate_semeval(str(run), str(data), unassigned="maybe")
