"""context stage: the sparse product equals a per-occurrence brute force."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import base_args
from tasks.context import common_components, occurrence_context, remove_components, sif_weights


def test_context_vectors_equal_per_occurrence_average(tmp_path, wsi):
    rng = np.random.default_rng(12)
    words = [f"w{i}" for i in range(30)]
    p = 1 / np.arange(1, 31)
    docs = [list(rng.choice(words, size=int(rng.integers(1, 25)), p=p / p.sum()))
            for _ in range(150)]
    f = tmp_path / "c.txt"
    f.write_text("\n".join(" ".join(d) for d in docs) + "\n")
    # Pretrained vectors for only some words: the others are context without a vector.
    with_vec = words[:18]
    vecs = rng.standard_normal((len(with_vec), 7)).astype(np.float32)
    vf = tmp_path / "v.txt"
    vf.write_text(f"{len(with_vec)} 7\n" + "".join(
        w + " " + " ".join(repr(float(x)) for x in v) + "\n" for w, v in zip(with_vec, vecs)))
    window, a, min_count = 3, 0.05, 3
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", f"cooc.window={window}",
                                  "--set", f"vocab.min_count={min_count}",
                                  "--set", "embed.method=pretrained",
                                  "--set", f"embed.path={vf}", "--set", f"context.sif_a={a}",
                                  "--set", "cooc.block_nnz=40", stages="context"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    counts = {w: sum(d.count(w) for d in docs) for w in words}
    total = sum(len(d) for d in docs)  # every token, in or out of the vocabulary
    vocab = {w for w in words if counts[w] >= min_count}
    vec = {w: v.astype(np.float64) for w, v in zip(with_vec, vecs) if w in vocab}
    s = {w: a / (a + counts[w] / total) for w in words}
    ref = {}
    for d in docs:
        for i, w in enumerate(d):
            if w not in vocab:
                continue
            for j in range(max(0, i - window), min(len(d), i + window + 1)):
                if j != i and d[j] in vec:
                    acc = ref.setdefault(w, [np.zeros(7), 0])
                    acc[0] += s[d[j]] * vec[d[j]]
                    acc[1] += 1
    t = pq.read_table(run / "context_vectors.parquet")
    got = dict(zip(t["word"].to_pylist(),
                   t["vector"].combine_chunks().flatten().to_numpy().reshape(-1, 7)))
    assert set(got) == set(ref)
    for w, (total_vec, n) in ref.items():
        np.testing.assert_allclose(got[w], total_vec / n, rtol=1e-5, atol=1e-6)
    common = np.load(run / "context_common.npy")
    u = np.stack([got[w] for w in sorted(got)]).astype(np.float64)
    np.testing.assert_allclose(np.abs(common @ np.linalg.svd(u)[2][0]), [1.0], atol=1e-5)


def test_sif_weights_formula():
    np.testing.assert_allclose(sif_weights([0, 10, 90], 100, a=0.1), [1.0, 0.5, 0.1 / 1.0])
    with pytest.raises(ValueError):
        sif_weights([1], 0)


def test_remove_components_makes_rows_orthogonal_to_them():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((50, 6)) + 3.0  # a strong common direction
    comps = common_components(u, 2)
    np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-10)
    np.testing.assert_allclose(remove_components(u, comps) @ comps.T, 0, atol=1e-9)
    with pytest.raises(ValueError):
        common_components(u, 7)


def test_occurrence_context_single_occurrence():
    wv = np.arange(12, dtype=float).reshape(4, 3)
    index = {"a": 0, "b": 1, "c": 2}
    got = occurrence_context(["a", "x", "T", "b", "c"], 2, index, wv, window=1)
    np.testing.assert_allclose(got, wv[1])  # x has no vector, T is the target
    assert occurrence_context(["x", "T"], 1, index, wv, window=3) is None


def test_induced_vector_of_a_rare_word_lands_near_its_true_vector(tmp_path, wsi):
    """Arora et al.'s generative model: documents emit words w with probability
    proportional to exp(<c, v_w>) for a random discourse vector c per document."""
    rng = np.random.default_rng(5)
    d, n = 5, 80
    true = rng.standard_normal((n + 1, d))
    names = [f"w{i}" for i in range(n)] + ["newword"]
    base = np.ones(n + 1)
    base[-1] = 0.004  # the new word is rare: below vocab.min_count, so out of the vocabulary
    lines = []
    for _ in range(4000):
        c = rng.standard_normal(d)
        p = base * np.exp(true @ c * 0.8)
        lines.append(" ".join(np.array(names)[rng.choice(n + 1, size=20, p=p / p.sum())]))
    f = tmp_path / "c.txt"
    f.write_text("\n".join(lines) + "\n")
    vf = tmp_path / "true.vec"
    vf.write_text(f"{n + 1} {d}\n" + "".join(
        w + " " + " ".join(repr(float(x)) for x in v) + "\n" for w, v in zip(names, true)))
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "vocab.min_count=200",
                                  "--set", "embed.method=pretrained", "--set", f"embed.path={vf}",
                                  "--set", "cooc.window=5", "--set", "induce.min_count=200",
                                  "--set", "induce.holdout=0.2",
                                  "--set", "induce.targets=[newword, neverseen]",
                                  "--set", "induce.evaluation_targets=false",
                                  "--set", "evaluate.similarity=[]",
                                  "--set", "evaluate.analogies=null", stages="induce"))
    assert code == 0, err
    assert "neverseen" in err  # warned: no context, no vector, never a NaN row
    t = pq.read_table(tmp_path / "out" / "t" / "induced.parquet").to_pydict()
    vec = {w: np.array(v) for w, v in zip(t["word"], t["vector"])}
    src = dict(zip(t["word"], t["source"]))
    assert src["newword"] == "induced" and "neverseen" not in vec
    assert all(np.all(np.isfinite(v)) for v in vec.values())

    def cos(x, y):
        return x @ y / np.linalg.norm(x) / np.linalg.norm(y)
    near = cos(vec["newword"], true[-1])
    others = [cos(vec["newword"], v) for v in true[:-1]]
    assert near > 0.8 and near > np.percentile(others, 95)
    m = __import__("json").loads((tmp_path / "out" / "t" / "manifest.json").read_text())
    assert m["stages"]["induce"]["counters"]["heldout_mean_cosine"] > 0.8


def test_context_of_new_text_matches_the_definition(tmp_path, wsi):
    import json
    from pipeline.encoder import ContextEncoder
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(20)]
    f = tmp_path / "c.txt"
    f.write_text("\n".join(" ".join(rng.choice(words, size=15)) for _ in range(300)) + "\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "cooc.window=2",
                                  "--set", "vocab.min_count=1", "--set", "embed.method=ppmi_svd",
                                  "--set", "embed.vector_size=4", stages="context"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    enc = ContextEncoder(str(run))
    r = enc.encode("W1, w2 <<w3>> w4 unknown w5 w6", None)
    assert r["word"] == "w3" and r["context"] == ["w1", "w2", "w4", "unknown"]
    # Independent computation from the run's files.
    vocab = pq.read_table(run / "vocab.parquet")
    total = int(pq.read_schema(run / "vocab.parquet").metadata[b"total_tokens"])
    emb = pq.read_table(run / "embeddings.parquet")
    vec = dict(zip(emb["word"].to_pylist(),
                   emb["vector"].combine_chunks().flatten().to_numpy().reshape(-1, 4)))
    count = dict(zip(vocab["word"].to_pylist(), vocab["count"].to_pylist()))
    a = 1e-3
    expect = np.mean([a / (a + count[w] / total) * vec[w] for w in ["w1", "w2", "w4"]], axis=0)
    np.testing.assert_allclose(r["vector"], expect, rtol=1e-5)
    common = np.load(run / "context_common.npy")
    np.testing.assert_allclose(r["vector_clean"] @ common.T, 0, atol=1e-9)
    assert enc.encode("w7 w8 w9", "w8")["context"] == ["w7", "w9"]
    code, out, err = wsi("context", run, "--text", "<<w3>> w1")
    assert code == 0 and json.loads(out)["n_context"] == 1
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "context": "w1 <<w2>> w3"}\n{"id": "b", "context": "zz <<w2>>"}\n')
    code, out, err = wsi("context", run, "--input", inp, "--output", tmp_path / "o.parquet")
    assert code == 0, err
    t = pq.read_table(tmp_path / "o.parquet").to_pydict()
    assert t["id"] == ["a", "b"] and t["n_context"] == [2, 0] and t["vector"][1] is None
    inp.write_text('{"id": "a", "context": "no target here"}\n')
    code, _, err = wsi("context", run, "--input", inp, "--output", tmp_path / "o2.parquet")
    assert code == 3 and "line 1" in err


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_context_block_equals_a_dense_product_across_tiles(dtype):
    # More rows and columns than one cache tile (256 x 1024) and rows of very
    # different lengths; reference: the dense product divided by the dense sums.
    from tasks.context import context_block
    rng = np.random.default_rng(7)
    n_rows, n_cols, d, start = 600, 3000, 20, 100
    dense = np.zeros((n_rows, n_cols))
    for r in range(n_rows):
        k = int(rng.integers(0, 2500)) if r % 7 == 0 else int(rng.integers(0, 40))
        dense[r, rng.choice(n_cols, size=k, replace=False)] = rng.integers(1, 50, size=k)
    w = rng.standard_normal((n_cols, d))
    has = rng.random(n_cols) > 0.1
    w[~has] = 0.0
    rows, cols = np.nonzero(dense)  # row-major: sorted by row, then column
    u, weights = context_block(rows + start, cols, dense[rows, cols].astype(np.int64),
                               w.astype(dtype), has, row_start=start, n_rows=n_rows)
    ref_w = dense @ has
    ok = ref_w > 0
    np.testing.assert_allclose(weights, ref_w)
    ref = np.zeros((n_rows, d))
    ref[ok] = (dense @ w.astype(dtype).astype(np.float64))[ok] / ref_w[ok, None]
    np.testing.assert_allclose(u, ref, rtol=0, atol=2e-6 * np.abs(ref).max())
    assert u.dtype == np.float32 and np.all(u[~ok] == 0)
