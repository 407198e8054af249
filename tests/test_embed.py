"""embed and evaluate stages end to end: every trainer, imports, interop files, metrics."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from conftest import base_args, one_line, read_manifest

GROUPS = {"a": [f"alpha{i}" for i in range(15)], "b": [f"beta{i}" for i in range(15)]}
SMALL = ["--set", "embed.vector_size=16", "--set", "embed.epochs=5", "--set",
         "embed.seed=3", "--set", "vocab.min_count=2", "--set", "cooc.window=4",
         "--set", "evaluate.similarity=[]", "--set", "evaluate.analogies=null",
         "--set", "atoms.n_atoms=8", "--set", "atoms.sparsity=2"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Two word groups that never share a document, so never a context."""
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("planted")
    lines = []
    for _ in range(1500):
        g = GROUPS["a" if rng.random() < 0.5 else "b"]
        lines.append(" ".join(rng.choice(g, size=12)))
    f = d / "planted.txt"
    f.write_text("\n".join(lines) + "\n")
    return f


def read_vectors(run):
    t = pq.read_table(run / "embeddings.parquet")
    d = t.schema.field("vector").type.list_size
    return t, t["vector"].combine_chunks().flatten().to_numpy().reshape(-1, d)


def cos(u, v):
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def group_gap(table, vectors):
    """Mean cosine within groups minus mean cosine across groups."""
    index = {w: i for i, w in enumerate(table["word"].to_pylist())}
    a = [vectors[index[w]] for w in GROUPS["a"]]
    b = [vectors[index[w]] for w in GROUPS["b"]]
    within = np.mean([cos(x, y) for g in (a, b) for i, x in enumerate(g) for y in g[i + 1:]])
    across = np.mean([cos(x, y) for x in a for y in b])
    return within - across


@pytest.mark.parametrize("method, extra", [
    ("word2vec", ["--set", "embed.sg=1"]),
    ("word2vec", ["--set", "embed.sg=0", "--set", "embed.hs=1", "--set", "embed.negative=0"]),
    ("fasttext", ["--set", "embed.bucket=10000"]),
    ("glove", ["--set", "embed.epochs=30"]),
    ("ppmi_svd", ["--set", "embed.vector_size=8"]),
])
def test_trainers_separate_planted_groups(tmp_path, wsi, planted, method, extra):
    code, _, err = wsi(*base_args(tmp_path / "out", [planted], *SMALL, "--set",
                                  f"embed.method={method}", *extra, stages=None))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    table, vectors = read_vectors(run)
    vocab = pq.read_table(run / "vocab.parquet")
    # ids and counts as in the vocabulary; every word got a vector
    assert table["id"].to_pylist() == vocab["id"].to_pylist()
    assert table["word"].to_pylist() == vocab["word"].to_pylist()
    assert table["count"].to_pylist() == vocab["count"].to_pylist()
    assert vectors.dtype == np.float32 and vectors.shape[0] == vocab.num_rows
    assert np.all(np.isfinite(vectors))
    assert group_gap(table, vectors) > 0.2
    m = read_manifest(run)
    assert m["stages"]["embed"]["counters"]["method"] == method
    assert json.loads((run / "metrics.json").read_text())["method"] == method


def test_interop_files_hold_the_same_vectors(tmp_path, wsi, planted):
    from gensim.models import KeyedVectors
    code, _, err = wsi(*base_args(tmp_path / "out", [planted], *SMALL, stages="embed"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    table, vectors = read_vectors(run)
    words = table["word"].to_pylist()
    kv = KeyedVectors.load(str(run / "embeddings.kv"))
    np.testing.assert_array_equal(kv[words], vectors)
    assert kv.get_vecattr(words[0], "count") == table["count"][0].as_py()
    txt = KeyedVectors.load_word2vec_format(str(run / "embeddings.w2v.txt"), binary=False)
    np.testing.assert_allclose(txt[words], vectors, rtol=1e-6, atol=1e-7)


def _write_w2v(path, words, vectors, header=True):
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write(f"{len(words)} {vectors.shape[1]}\n")
        for w, v in zip(words, vectors):
            f.write(w + " " + " ".join(repr(float(x)) for x in v) + "\n")


@pytest.mark.parametrize("fmt", ["word2vec", "glove", "fasttext"])
def test_pretrained_import(tmp_path, wsi, planted, fmt):
    rng = np.random.default_rng(1)
    words = GROUPS["a"][:10] + ["notinvocab"]
    vecs = rng.standard_normal((len(words), 6)).astype(np.float32)
    f = tmp_path / f"vectors.{fmt}"
    _write_w2v(f, words, vecs, header=fmt != "glove")
    code, _, err = wsi(*base_args(tmp_path / "out", [planted], *SMALL, "--set",
                                  "embed.method=pretrained", "--set", f"embed.path={f}",
                                  "--set", f"embed.format={fmt}", stages="embed"))
    assert code == 0, err
    table, vectors = read_vectors(tmp_path / "out" / "t")
    vocab = pq.read_table(tmp_path / "out" / "t" / "vocab.parquet")
    ids = dict(zip(vocab["word"].to_pylist(), vocab["id"].to_pylist()))
    expect = sorted((ids[w], w, v) for w, v in zip(words, vecs) if w in ids)
    assert table["id"].to_pylist() == [i for i, _, _ in expect]
    assert table["word"].to_pylist() == [w for _, w, _ in expect]
    np.testing.assert_array_equal(vectors, np.stack([v for _, _, v in expect]))


def test_pretrained_binary_written_by_gensim(tmp_path, wsi, planted):
    from gensim.models import KeyedVectors
    rng = np.random.default_rng(2)
    kv = KeyedVectors(vector_size=5)
    kv.add_vectors(GROUPS["b"], rng.standard_normal((15, 5)).astype(np.float32))
    f = tmp_path / "vectors.bin"
    kv.save_word2vec_format(str(f), binary=True)
    code, _, err = wsi(*base_args(tmp_path / "out", [planted], *SMALL, "--set",
                                  "embed.method=pretrained", "--set", f"embed.path={f}",
                                  "--set", "embed.format=word2vec_binary", stages="embed"))
    assert code == 0, err
    table, vectors = read_vectors(tmp_path / "out" / "t")
    np.testing.assert_array_equal(vectors, kv[table["word"].to_pylist()])


@pytest.mark.parametrize("content, where", [
    ("3 4\nalpha0 1 2 3 4\nalpha1 1 2 3\nalpha2 1 2 3 4\n", "line 3"),
    ("2 4\nalpha0 1 2 3 4\nalpha1 1 2 x 4\n", "line 3"),
    (b"2 2\nalpha0 1 2\nalp\xffha1 1 2\n", "line 3"),
])
def test_bad_vector_file_names_the_line(tmp_path, wsi, planted, content, where):
    f = tmp_path / "bad.vec"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = wsi(*base_args(tmp_path / "out", [planted], *SMALL, "--set",
                                  "embed.method=pretrained", "--set", f"embed.path={f}",
                                  stages="embed"))
    assert code == 3
    msg = one_line(err)
    assert where in msg and "bad.vec" in msg
    assert not (tmp_path / "out" / "t" / "embeddings.parquet").exists()


def test_unknown_method_lists_the_methods(tmp_path, wsi):
    code, _, err = wsi("run", "--out", tmp_path, "--set", "embed.method=bert")
    assert code == 2
    msg = one_line(err)
    for m in ("word2vec", "fasttext", "glove", "ppmi_svd", "pretrained"):
        assert m in msg


def test_missing_pretrained_file(tmp_path, wsi, planted):
    code, _, err = wsi(*base_args(tmp_path / "out", [planted], "--set",
                                  "embed.method=pretrained", "--set",
                                  f"embed.path={tmp_path / 'nope.vec'}", stages="embed"))
    assert code == 2
    assert "embed.path" in one_line(err)


def test_evaluate_command_matches_an_independent_computation(tmp_path, wsi, planted):
    pairs = tmp_path / "pairs.txt"
    rng = np.random.default_rng(5)
    words = GROUPS["a"] + GROUPS["b"]
    rows = [(words[i], words[j], float(rng.random() * 10))
            for i, j in rng.integers(0, len(words), size=(40, 2)) if i != j]
    rows.append(("alpha0", "unknownword", 5.0))
    pairs.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    code, _, err = wsi(*base_args(tmp_path / "out", [planted], *SMALL, stages="embed"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    code, out, err = wsi("evaluate", run, "--quiet", "--set",
                         f"evaluate.similarity=[{{name: mine, path: {pairs}}}]")
    assert code == 0, err
    m = json.loads((run / "metrics.json").read_text())["similarity"]["mine"]
    table, vectors = read_vectors(run)
    index = {w: i for i, w in enumerate(table["word"].to_pylist())}
    sims = [cos(vectors[index[a]], vectors[index[b]]) for a, b, _ in rows[:-1]]
    gold = [s for _, _, s in rows[:-1]]
    assert m["pairs_used"] == len(rows) - 1 and m["pairs_total"] == len(rows)
    assert m["oov_rate"] == pytest.approx(1 / len(rows))
    assert m["spearman"] == pytest.approx(stats.spearmanr(sims, gold)[0], abs=1e-6)
    assert m["pearson"] == pytest.approx(stats.pearsonr(sims, gold)[0], abs=1e-6)
    assert "mine" in out


def test_ppmi_svd_equals_dense_numpy(tmp_path, wsi):
    """The dask.array path (PPMI per cooc block, svd_compressed) against dense numpy."""
    rng = np.random.default_rng(9)
    words = [f"w{i}" for i in range(40)]
    p = 1 / np.arange(1, 41)
    f = tmp_path / "c.txt"
    f.write_text("\n".join(" ".join(rng.choice(words, size=15, p=p / p.sum()))
                           for _ in range(400)) + "\n")
    eig, cds, shift, k = 0.5, 0.75, 2.0, 5
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "embed.method=ppmi_svd",
                                  "--set", f"embed.vector_size={k}", "--set", f"embed.eig={eig}",
                                  "--set", f"embed.cds={cds}", "--set", f"embed.shift={shift}",
                                  "--set", "embed.oversample=40", "--set", "cooc.window=3",
                                  "--set", "vocab.min_count=1", "--set", "cooc.block_nnz=50",
                                  stages="embed"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    t = pq.read_table(run / "cooc")
    n = pq.read_table(run / "vocab.parquet").num_rows
    c = np.zeros((n, n))
    c[t["row"].to_numpy(), t["col"].to_numpy()] = t["count"].to_numpy()
    # Levy, Goldberg & Dagan (2015), written out densely.
    pw = c.sum(1) / c.sum()
    pc = c.sum(0) ** cds / (c.sum(0) ** cds).sum()
    with np.errstate(divide="ignore"):
        pmi = np.log((c / c.sum()) / np.outer(pw, pc))
    sppmi = np.maximum(pmi - np.log(shift), 0)
    u, s, _ = np.linalg.svd(sppmi)
    ref = u[:, :k] * s[:k] ** eig
    _, got = read_vectors(run)
    # Vectors are defined up to the signs of singular vectors: compare Gram matrices.
    np.testing.assert_allclose(got @ got.T, ref @ ref.T, rtol=1e-3, atol=1e-3)


def test_combined_cosine_is_the_weighted_mean_of_component_cosines(tmp_path, wsi, planted):
    comps = [("0.7", ["embed.eig=0.0", "embed.vector_size=6"]),
             ("0.3", ["embed.eig=1.0", "embed.vector_size=4", "embed.add_context=true",
                      "embed.normalize_parts=true"])]
    parts = []
    for i, (_w, sets) in enumerate(comps):
        extra = [x for s in ["embed.method=ppmi_svd", *sets] for x in ("--set", s)]
        code, _, err = wsi(*base_args(tmp_path / f"p{i}", [planted], *SMALL, *extra,
                                      stages="embed"))
        assert code == 0, err
        parts.append(read_vectors(tmp_path / f"p{i}" / "t")[1])
    spec = ("[{weight: 0.7, method: ppmi_svd, eig: 0.0, vector_size: 6}, "
            "{weight: 0.3, method: ppmi_svd, eig: 1.0, vector_size: 4, add_context: true, "
            "normalize_parts: true}]")
    code, _, err = wsi(*base_args(tmp_path / "c", [planted], *SMALL, "--set",
                                  "embed.method=combined", "--set", f"embed.components={spec}",
                                  stages="embed"))
    assert code == 0, err
    _, combined = read_vectors(tmp_path / "c" / "t")
    assert combined.shape[1] == 10
    rng = np.random.default_rng(0)
    for i, j in rng.integers(0, len(combined), size=(20, 2)):
        expect = 0.7 * cos(parts[0][i], parts[0][j]) + 0.3 * cos(parts[1][i], parts[1][j])
        assert cos(combined[i], combined[j]) == pytest.approx(expect, abs=1e-5)
