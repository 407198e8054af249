"""``wsi evaluate lineup``: the police-lineup test (Arora et al. 2018) on a finished run.

The test set is built from WordNet and the run's vocabulary (words with a
vector and a sparse code), written into the run directory as
``lineup_testset.jsonl`` (one target a line: its m candidate senses, each
with its related words, and the indices of the true ones), and scored by
the paper's atom-based rule and by a word-vector baseline
(:mod:`tasks.lineup`). The result is written to the run's
``evaluations/lineup.json``.

    evaluate_lineup("outputs/default", "../shared/data/wordnet")   # → dict
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tasks.lineup import PAPER, build_testset, inflections, score_testset, write_testset

from .. import artifacts
from ..artifacts.tables import read_atoms, read_sense_table, read_vectors
from ..errors import InputError, UsageError
from ..readers import open_wordnet
from ..runs import artifact_url, open_run
from . import save_result

__all__ = ["evaluate_lineup", "default_wordnet_dir", "format_lineup", "TESTSET_NAME"]

TESTSET_NAME = artifacts.path_of("lineup_testset")


def default_wordnet_dir():
    """``<project root>/../shared/data/wordnet``."""
    return str(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wordnet")


def _open_wordnet(wordnet_dir):
    try:
        return open_wordnet(wordnet_dir)
    except FileNotFoundError as e:
        raise UsageError(f"{e} (give --wordnet DIR: a WordNet 3.0 database with index.noun, "
                         "data.noun, ...)") from None


def evaluate_lineup(run_dir, wordnet_dir, n_words=200, m=20, k=4, seed=0, *, frequent=5000,
                    gamma=1.0, write_metrics=True):
    """Build, save and score the police-lineup test of a finished run.

    Parameters
    ----------
    run_dir : str
        Run directory with ``embeddings.parquet``, ``senses.parquet`` and
        ``atoms.parquet``.
    wordnet_dir : str
        WordNet 3.0 database directory.
    n_words, m, k, seed : int
        Targets, candidates per target, answers per target, seed.
    frequent : int or None
        Targets are drawn from this many most frequent coded words (None:
        all); sense words may be any coded word. Polysemous words worth
        testing are common ones, and their vectors are the reliable ones.
    gamma : float
        Weight of the word-vector term of the paper's score.
    write_metrics : bool
        Write the result to ``evaluations/lineup.json``.

    Returns
    -------
    dict
        precision, recall (the method's, macro over words), micro figures,
        ``baseline`` (precision, recall...), n_words, m, k, seed,
        mean_true_senses, testset, wordnet, ``paper`` (the paper's figures).
    """
    if m < 3 or k < 1 or n_words < 1:
        raise UsageError(f"lineup: need words >= 1, m >= 3 and k >= 1 (got {n_words}, {m}, {k})")
    run, _ = open_run(str(run_dir), ["embeddings", "senses", "atoms"])
    wn = _open_wordnet(wordnet_dir)
    emb, vectors = read_vectors(artifact_url(run, "embeddings"))
    try:
        table = read_sense_table(artifact_url(run, "senses"))
        _, dictionary = read_atoms(artifact_url(run, "atoms"))
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{run_dir}: unreadable senses or atoms ({e})") from None
    words = emb["word"].to_pylist()
    index = {w: i for i, w in enumerate(words)}
    coded = {w for w in words if w in table and len(table[w][0])}
    counts = emb["count"].to_numpy()
    by_freq = [words[i] for i in np.argsort(-counts, kind="stable") if words[i] in coded]
    targets = by_freq[:frequent] if frequent else by_freq
    try:
        items = build_testset(wn, coded, n_words=n_words, m=m, seed=seed, targets=targets,
                              max_senses=min(5, m - 1))
    except ValueError as e:
        raise InputError(f"{run_dir}: cannot build the lineup test set: {e}") from None
    if not items:
        raise InputError(f"{run_dir}: no word of the run's vocabulary has 2 WordNet senses "
                         "with enough related words in the vocabulary (corpus too small?)")
    buf = io.StringIO()
    write_testset(items, buf)
    run.write_bytes(TESTSET_NAME, buf.getvalue().encode("utf-8"))

    atoms_of = {}
    for item in items:
        w = item["word"]
        ids = list(table[w][0])
        for form in inflections(w, coded, wn):  # the paper's step 1: inflectional forms
            ids.extend(a for a in table[form][0] if a not in ids)
        atoms_of[w] = dictionary[np.asarray(ids, dtype=np.int64)]
    background = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True),
                                       1e-12)).mean(axis=0)
    scored = score_testset(items, index, vectors, atoms_of, k=k, background=background,
                           gamma=gamma)
    method, base = scored["method"], scored["baseline"]
    result = {
        "precision": method["precision"], "recall": method["recall"],
        "micro_precision": method["micro_precision"], "micro_recall": method["micro_recall"],
        "baseline": {key: base[key] for key in ("precision", "recall", "micro_precision",
                                                "micro_recall")},
        "n_words": len(items), "m": m, "k": k, "seed": seed,
        "mean_true_senses": float(np.mean([len(i["true"]) for i in items])),
        "target_pool": len(targets), "gamma": gamma,
        "testset": TESTSET_NAME, "wordnet": str(wordnet_dir), "paper": PAPER,
    }
    if write_metrics:
        save_result(run, "lineup", lambda _old: result)
    return result


def format_lineup(r):
    """A small table of a result of :func:`evaluate_lineup`."""
    paper = r["paper"]["method"]
    rows = [("atoms (paper's rule)", r["precision"], r["recall"]),
            ("baseline: cos(v_w, mean)", r["baseline"]["precision"], r["baseline"]["recall"]),
            ("paper, atoms (200 words)", paper["precision"], paper["recall"])]
    lines = [f"police lineup (Arora et al. 2018): {r['n_words']} words, m = {r['m']} "
             f"candidates, top k = {r['k']}, seed {r['seed']}, "
             f"{r['mean_true_senses']:.2f} true senses a word",
             f"{'method':<26} {'precision':>9} {'recall':>7}"]
    lines += [f"{name:<26} {p:>9.3f} {rc:>7.3f}" for name, p, rc in rows]
    lines.append(f"test set: {r['testset']}")
    return "\n".join(lines)
