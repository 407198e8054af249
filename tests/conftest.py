"""Shared helpers: running the CLI in-process or as a subprocess, reading run outputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def wsi(capsys):
    """Run ``wsi ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from pipeline.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def wsi_subprocess(*args, env=None, **kw):
    """Run ``python -m pipeline ARGS`` as a child process (exit codes as a scheduler sees them)."""
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, env=e, **kw)


def base_args(out, paths, *extra, name="t", scheduler="threads", stages="cooc"):
    """``run`` arguments for a test corpus, no progress bars, up to ``stages``
    (corpus, vocab and cooc by default; None for every stage)."""
    plist = "[" + ", ".join(json.dumps(str(p)) for p in paths) + "]"
    only = ["--stages", stages] if stages and "--stages" not in extra else []
    return ["run", "--out", out, "--name", name, "--scheduler", scheduler, "--quiet",
            "--set", f"corpus.paths={plist}", *only, *extra]


def corpus_shards(run_dir):
    """The corpus stage's shard files in document order (its ``_index.json``)."""
    corpus = Path(run_dir) / "corpus"
    index = json.loads((corpus / "_index.json").read_text())
    return [corpus / s[0] for f in index["files"] for s in f["shards"]]


def read_manifest(run_dir):
    return json.loads((Path(run_dir) / "manifest.json").read_text())


def read_cooc(run_dir, n_words):
    """The cooc/ dataset as two dense matrices (counts, weighted)."""
    t = pq.read_table(Path(run_dir) / "cooc")
    counts = np.zeros((n_words, n_words), dtype=np.int64)
    weighted = np.zeros((n_words, n_words), dtype=np.float64)
    rows, cols = t["row"].to_numpy(), t["col"].to_numpy()
    assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows), "duplicate (row, col)"
    counts[rows, cols] = t["count"].to_numpy()
    weighted[rows, cols] = t["weighted"].to_numpy()
    return counts, weighted


def one_line(err):
    """Assert stderr holds exactly one error line (``wsi: ...``) and no traceback; return it.

    Progress lines of stages that finished before the error may precede it.
    """
    assert "Traceback" not in err, err
    errors = [ln for ln in err.splitlines() if ln.startswith("wsi: ")]
    assert len(errors) == 1, err
    assert err.rstrip().splitlines()[-1] == errors[0], err
    return errors[0]


# Planted senses (Arora et al.'s generative model with known atoms), shared by the
# atoms/senses/assign and SemEval tests.
PLANTED_K, PLANTED_D, PLANTED_PER = 6, 12, 30


def planted_sense_corpus(tmp, targets, n_docs=1500, seed=0):
    """A corpus in which each document has one discourse atom c and emits words with
    probability ∝ exp(2 <c, v_w>).

    Ordinary words ``w<t>x<i>`` belong to atom t (v = 2 A_t ± 0.7 A_t' + noise: a
    second, weaker atom makes the planted dictionary the only exact 2-sparse one);
    each word of ``targets`` (word -> (a, b)) is an even mix 1.6 (A_a + A_b).

    Returns (atoms (K, D), names, topic of each name (-1 for targets), corpus path,
    word2vec file of the true vectors, discourse atom of each document).
    """
    k, d, per = PLANTED_K, PLANTED_D, PLANTED_PER
    rng = np.random.default_rng(seed)
    atoms = np.linalg.qr(rng.standard_normal((d, d)))[0][:k]  # orthonormal rows
    names, vecs, topic = [], [], []
    for t in range(k):
        for i in range(per):
            names.append(f"w{t}x{i}")
            t2 = (t + 1 + int(rng.integers(k - 1))) % k
            vecs.append(2.0 * atoms[t] + rng.choice([-0.7, 0.7]) * atoms[t2]
                        + 0.05 * rng.standard_normal(d))
            topic.append(t)
    for word, (a, b) in targets.items():
        names.append(word)
        vecs.append(1.6 * atoms[a] + 1.6 * atoms[b])
        topic.append(-1)
    vecs = np.array(vecs)
    lines, doc_topic = [], []
    for _ in range(n_docs):
        t = int(rng.integers(k))
        p = np.exp(2.0 * vecs @ atoms[t])
        words = rng.choice(len(names), size=30, p=p / p.sum())
        lines.append(" ".join(names[w] for w in words))
        doc_topic.append(t)
    corpus = tmp / "planted.txt"
    corpus.write_text("\n".join(lines) + "\n")
    vf = tmp / "planted.vec"
    vf.write_text(f"{len(names)} {d}\n" + "".join(
        w + " " + " ".join(repr(float(x)) for x in v) + "\n" for w, v in zip(names, vecs)))
    return atoms, names, np.array(topic), corpus, vf, doc_topic


def planted_settings(vf, *extra):
    """``--set`` arguments of a small run on a planted corpus (true vectors, K atoms)."""
    sets = ["vocab.min_count=5", "embed.method=pretrained", f"embed.path={vf}",
            "cooc.window=5", "induce.min_count=20", "induce.evaluation_targets=false",
            "evaluate.similarity=[]", "evaluate.analogies=null", f"atoms.n_atoms={PLANTED_K}",
            "atoms.sparsity=2", "atoms.iterations=30", "atoms.restarts=20", "atoms.top_words=5",
            "atoms.block_rows=16", *extra]
    return [x for s in sets for x in ("--set", s)]


def senseval_pos_file(path, docs, doc_topic, word):
    """A Senseval-2 .pos file (NLTK's XML) of the documents holding ``word``."""
    out = ['<corpus lang="en">', f'<lexelt item="{word}-n">']
    for i, doc in enumerate(docs):
        tokens = doc.split()
        if word not in tokens:
            continue
        p = tokens.index(word)
        wfs = [f'<wf pos="NN">{t}</wf>' for t in tokens]
        wfs[p] = f'<head><wf pos="NN">{word}</wf></head>'
        out.append(f'<instance id="{word}.{i}"><answer instance="{word}.{i}" '
                   f'senseid="topic{doc_topic[i]}"/><context>{" ".join(wfs)}</context>'
                   '</instance>')
    path.write_text("\n".join(out + ["</lexelt>", "</corpus>"]))
