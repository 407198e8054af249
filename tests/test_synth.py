"""``wsi synth`` end to end, the pipeline on its corpus, and ``wsi evaluate planted``."""
from __future__ import annotations

import argparse
import gzip
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

import tasks.synth as ts
from conftest import base_args
from pipeline.errors import StorageError, UsageError
from pipeline.commands.evaluate import evaluation_parser, run_evaluation
from pipeline.commands.synth import add_arguments as add_parser
from pipeline.commands.synth import main as main_synth
from pipeline.evaluations.planted import evaluate_planted
from tasks.vectors_io import read_vectors

SMALL = ["--tokens", "1e5", "--vocab", "500", "--dim", "20", "--topics", "8",
         "--polysemous", "10", "--seed", "3", "--quiet"]


def synth(*argv):
    return main_synth(add_parser(argparse.ArgumentParser()).parse_args([str(a) for a in argv]))


def planted(*argv):
    return run_evaluation("planted", evaluation_parser("planted").parse_args(
        [str(a) for a in argv]))


def _settings(vectors, method):
    sets = ["vocab.min_count=5", f"embed.method={method}", f"embed.path={vectors}",
            "embed.vector_size=20", "cooc.window=5", "evaluate.similarity=[]",
            "evaluate.analogies=null", "atoms.n_atoms=8", "atoms.sparsity=2",
            "atoms.iterations=30", "atoms.restarts=3", "atoms.top_words=5",
            "atoms.block_rows=64"]
    return [x for s in sets for x in ("--set", s)]


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "s"
    assert synth("--out", out, *SMALL) == 0
    return out


def test_synth_writes_the_corpus_the_truth_and_the_statistics(synth_dir, capsys):
    info = json.loads((synth_dir / "synth.json").read_text())
    st = info["statistics"]
    assert info["params"]["n_tokens"] == 100_000 and info["params"]["seed"] == 3
    assert st["tokens"] == 100_000 and st["documents"] == 500 and st["pseudo_words"] == 10
    assert not (synth_dir / ".tmp").exists() and not (synth_dir / ".lock").exists()
    lines = (synth_dir / "corpus.txt").read_text().splitlines()
    tokens = [t for ln in lines for t in ln.split(" ")]
    assert len(lines) == 500 and len(tokens) == 100_000
    assert all(len(ln.split(" ")) == 200 for ln in lines)
    assert len(set(tokens)) == st["distinct_words"]
    pw = pq.read_table(synth_dir / "truth" / "pseudo_words.parquet").to_pandas()
    words = pq.read_table(synth_dir / "truth" / "words.parquet").to_pandas()
    assert pw.word.nunique() == 10 and len(pw) == 20
    counts = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    for name, g in pw.groupby("word", sort=False):
        assert list(g["rank"]) == [1, 2] and abs(g.weight.sum() - 1) < 1e-12
        assert g.weight.is_monotonic_decreasing
        assert counts[name] == g["count"].sum()          # every occurrence became the pseudo-word
        assert not set(g.component) & set(counts)        # no component is left in the text
        np.testing.assert_allclose(g.weight, g["count"] / g["count"].sum())
        assert name == "-".join(sorted(g.component, key=lambda w: int(w[1:])))
    merged = words[words.pseudo_word.notna()]
    assert len(merged) == 20 and (merged["count"] == 0).all()
    assert words["count_unmerged"].sum() == 100_000
    # the vectors file holds every word and pseudo-word, the latter as the weighted merge
    with open(synth_dir / "truth" / "vectors.txt", "rb") as f:
        names, vecs = read_vectors(f, fmt="word2vec", name="vectors.txt")
    assert len(names) == 510 and vecs.shape == (510, 20)
    true = np.stack(words.vector.to_numpy())
    np.testing.assert_allclose(vecs[:500], true, rtol=1e-6)
    g = pw[pw.word == names[500]]
    np.testing.assert_allclose(vecs[500], g.weight.to_numpy() @ np.stack(g.vector.to_numpy()),
                               rtol=1e-5, atol=1e-5)
    # the ground truth is the generator's: same seed, same vectors and corpus start
    model = ts.SynthModel(ts.SynthParams(n_tokens=100_000, vocab_size=500, dim=20, topics=8,
                                         n_polysemous=10, seed=3))
    np.testing.assert_allclose(true, model.vectors, rtol=1e-6)
    first = next(ts.generate(model, chunk_tokens=1))
    assert lines[0].split(" ") == [model.names()[i] for i in model.merge(first.ids[:200])]


def test_gzip_corpus_matches_the_plain_one(synth_dir, tmp_path):
    assert synth("--out", tmp_path, *SMALL, "--corpus", "c.txt.gz", "--chunk-tokens", "7000") == 0
    with gzip.open(tmp_path / "c.txt.gz", "rb") as f:
        assert f.read() == (synth_dir / "corpus.txt").read_bytes()
    assert json.loads((tmp_path / "synth.json").read_text())["corpus"] == "c.txt.gz"


def test_an_interrupted_synth_leaves_no_complete_looking_output(synth_dir, tmp_path,
                                                                monkeypatch):
    real = ts.generate

    def dies(model, **kw):
        for k, ch in enumerate(real(model, **kw)):
            if k == 2:
                raise KeyboardInterrupt
            yield ch

    monkeypatch.setattr(ts, "generate", dies)
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt):
        synth("--out", fresh, *SMALL, "--chunk-tokens", "5000")
    assert sorted(p.name for p in fresh.iterdir()) == []   # no corpus, no truth, no .tmp/.lock
    # over a complete output: the old one stays intact and complete
    before = {p.name: p.read_bytes() for p in synth_dir.iterdir() if p.is_file()}
    with pytest.raises(KeyboardInterrupt):
        synth("--out", synth_dir, *SMALL[:-3], "--seed", "9", "--quiet", "--chunk-tokens", "5000")
    assert {p.name: p.read_bytes() for p in synth_dir.iterdir() if p.is_file()} == before
    assert not (synth_dir / ".tmp").exists()


@pytest.mark.parametrize("argv, message", [
    (["--senses", "1"], "--senses must be an integer >= 2"),
    (["--polysemous", "200"], "--polysemous * --senses = 400 exceeds the 245 words"),
    (["--drift", "-1"], "--drift must be a finite number >= 0"),
    (["--chunk-tokens", "0"], "--chunk-tokens must be an integer >= 1"),
    (["--corpus", "a/b.txt"], "--corpus must be a plain file name"),
])
def test_bad_synth_options_are_usage_errors(tmp_path, argv, message):
    with pytest.raises(UsageError, match=message.replace("*", r"\*")):
        synth("--out", tmp_path / "x", *SMALL, *argv)
    assert not (tmp_path / "x" / "synth.json").exists()


def test_tokens_accept_scientific_notation():
    p = add_parser(argparse.ArgumentParser())
    assert p.parse_args(["--out", "x", "--tokens", "1e7"]).tokens == 10 ** 7
    assert p.parse_args(["--out", "x", "--tokens", "10_000"]).tokens == 10_000
    with pytest.raises(SystemExit):
        p.parse_args(["--out", "x", "--tokens", "1.5"])


@pytest.fixture(scope="module")
def runs(synth_dir, tmp_path_factory):
    from pipeline.cli import main
    out = {}
    for method in ("pretrained", "ppmi_svd"):
        root = tmp_path_factory.mktemp(method)
        args = base_args(root, [synth_dir / "corpus.txt"],
                         *_settings(synth_dir / "truth" / "vectors.txt", method),
                         stages="senses")
        assert main([str(a) for a in args]) == 0
        out[method] = root / "t"
    return out


@pytest.mark.parametrize("method, min_best, min_gain, min_map", [
    ("pretrained", 0.7, 0.3, 0.999),   # the run's space is the true space: map = identity
    ("ppmi_svd", 0.7, 0.3, 0.7),       # a learned space: true vectors mapped into it
])
def test_planted_components_are_recovered_well_above_random_atoms(runs, synth_dir, capsys,
                                                                 method, min_best, min_gain,
                                                                 min_map):
    run = runs[method]
    assert planted("--run", run, "--truth", synth_dir) == 0
    out = capsys.readouterr().out
    assert "best |cos| with the word's atoms" in out and "random atoms" in out
    m = json.loads((run / "evaluations" / "planted.json").read_text())
    assert m["pseudo_words"] == 10 and m["coded"] == 10 and m["components"] == 20
    for key in ("best_abs_cos", "random_atoms"):
        for stat in ("mean", "median", "above_0.5", "above_0.7"):
            assert 0.0 <= m[key][stat] <= 1.0, (key, stat)
    best, rand = m["best_abs_cos"], m["random_atoms"]
    assert best["mean"] > min_best and best["mean"] > rand["mean"] + min_gain, m
    assert best["above_0.5"] > rand["above_0.5"] + 0.3
    assert m["map"]["heldout_mean_cos"] > min_map and m["map"]["words"] == 480
    assert [r["rank"] for r in m["by_rank"]] == [1, 2]
    assert m["topics"]["mean"] > 0.85          # the dictionary finds the planted topics
    # the same numbers from the function; the evaluate stage's metrics.json is not touched
    again = evaluate_planted(str(run), str(synth_dir / "truth"))
    assert again["best_abs_cos"] == best
    metrics = (run / "metrics.json").read_bytes() if (run / "metrics.json").exists() else None
    assert planted("--run", run, "--truth", synth_dir) == 0
    assert ((run / "metrics.json").read_bytes() if metrics is not None else None) == metrics


def test_random_atom_baseline_is_the_exact_expectation():
    from pipeline.evaluations.planted import _expected_best
    rng = np.random.default_rng(0)
    v = rng.random(7)
    mean, above = _expected_best(v, 3)
    import itertools
    maxes = [max(v[list(c)]) for c in itertools.combinations(range(7), 3)]
    assert abs(mean - np.mean(maxes)) < 1e-12
    assert abs(above[0.5] - np.mean([x > 0.5 for x in maxes])) < 1e-12


def test_planted_errors_are_usage_errors(runs, synth_dir, tmp_path):
    with pytest.raises(UsageError, match="no pseudo_words.parquet"):
        evaluate_planted(str(runs["pretrained"]), str(tmp_path))
    with pytest.raises(UsageError, match="not a run directory"):
        planted("--run", tmp_path, "--truth", synth_dir)


def test_storage_failure_is_reported(tmp_path, monkeypatch):
    import pipeline.commands.synth as ps

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ps, "write_word2vec_text", broken)
    with pytest.raises(StorageError, match="No space left"):
        synth("--out", tmp_path / "full", "--tokens", "1000", *SMALL[2:])
    assert not (tmp_path / "full" / "synth.json").exists()
    assert not (tmp_path / "full" / ".tmp").exists()
