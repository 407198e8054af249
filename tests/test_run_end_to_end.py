"""`wsi run` end to end: vocabulary and co-occurrences against brute-force counts."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SHARED, base_args, corpus_shards, read_cooc, read_manifest

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "café", "naïve", "don't",
         "well-known", "東京", "x2", "1999", "über", "rare", "zebra", "quartz"]
SEPARATORS = [" ", " ", " ", ", ", ". ", " — ", " (", ") ", "; ", "! ", " \"", "\" "]


def make_corpus(tmp_path, rng, n_files=3, n_docs=60):
    """Random documents rendered with capitals and punctuation; returns (paths, docs)."""
    p = np.array([1 / (r + 1) for r in range(len(WORDS))])
    p /= p.sum()
    paths, docs = [], []
    for f in range(n_files):
        lines = []
        for _ in range(n_docs):
            kind = rng.random()
            if kind < 0.05:
                lines.append("")  # empty document
                continue
            if kind < 0.08:
                lines.append(" ... !!! -- ")  # no tokens at all
                continue
            n = int(rng.integers(1, 40))
            words = list(rng.choice(WORDS, size=n, p=p))
            docs.append(words)
            text = ""
            for w in words:
                w = w.capitalize() if rng.random() < 0.3 else w
                text += w + SEPARATORS[int(rng.integers(len(SEPARATORS)))]
            lines.append(text)
        path = tmp_path / f"part{f}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths, docs


def brute_vocab(docs, min_count):
    c = Counter(w for d in docs for w in d)
    kept = sorted((w for w in c if c[w] >= min_count), key=lambda w: (-c[w], w))
    return kept, c


def brute_cooc(docs, index, window):
    n = len(index)
    counts = np.zeros((n, n), dtype=np.int64)
    weighted = np.zeros((n, n))
    for d in docs:
        for i, a in enumerate(d):
            for j, b in enumerate(d):
                if i != j and abs(i - j) <= window and a in index and b in index:
                    counts[index[a], index[b]] += 1
                    weighted[index[a], index[b]] += 1.0 / abs(i - j)
    return counts, weighted


@pytest.mark.parametrize("scheduler", ["threads", "sync", "auto"])
def test_vocab_and_cooc_equal_brute_force(tmp_path, wsi, scheduler):
    rng = np.random.default_rng(7)
    paths, docs = make_corpus(tmp_path, rng)
    window, min_count = 3, 4
    # Small blocks force byte-range splitting of files and several row blocks.
    code, _, err = wsi(*base_args(tmp_path / "out", paths, "--set", f"cooc.window={window}",
                                  "--set", f"vocab.min_count={min_count}",
                                  "--set", "corpus.blocksize=4096",
                                  "--set", "corpus.shard_bytes=4096",
                                  "--set", "cooc.block_nnz=100", scheduler=scheduler))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    vocab = pq.read_table(run / "vocab.parquet")
    assert vocab.schema.field("word").type == pa.string()
    assert vocab.schema.field("id").type == pa.int32()
    assert vocab.schema.field("count").type == pa.int64()
    words, counter = brute_vocab(docs, min_count)
    assert vocab["word"].to_pylist() == words
    assert vocab["id"].to_pylist() == list(range(len(words)))
    assert vocab["count"].to_pylist() == [counter[w] for w in words]

    counts, weighted = read_cooc(run, len(words))
    ref_c, ref_w = brute_cooc(docs, {w: i for i, w in enumerate(words)}, window)
    np.testing.assert_array_equal(counts, ref_c)
    np.testing.assert_allclose(weighted, ref_w, rtol=1e-6)
    assert len(list((run / "cooc").glob("part-*.parquet"))) > 1

    m = read_manifest(run)
    total = sum(len(d) for d in docs)
    assert m["stages"]["corpus"]["counters"]["tokens"] == total
    assert m["stages"]["corpus"]["counters"]["documents"] == len(docs)
    assert m["stages"]["vocab"]["counters"]["total_tokens"] == total
    assert m["stages"]["cooc"]["counters"]["pairs"] == int(ref_c.sum())
    meta = pq.read_schema(run / "vocab.parquet").metadata
    assert int(meta[b"total_tokens"]) == total

    # The shards are gensim's corpus_file input: one document per line, single spaces.
    lines = [ln for f in corpus_shards(run)
             for ln in f.read_text(encoding="utf-8").splitlines()]
    assert lines == [" ".join(d) for d in docs]


def test_shards_roll_over_and_the_index_records_them(tmp_path, wsi):
    """A shard rolls over at the first document that takes it to corpus.shard_bytes (so
    only a byte range's last shard is smaller), and the index records each shard's tokens
    and bytes as they are on disk."""
    paths, docs = make_corpus(tmp_path, np.random.default_rng(3), n_files=2, n_docs=800)
    shard_bytes = 4096
    code, _, err = wsi(*base_args(tmp_path / "out", paths, "--set", "corpus.blocksize=16384",
                                  "--set", f"corpus.shard_bytes={shard_bytes}",
                                  stages="corpus"))
    assert code == 0, err
    corpus = tmp_path / "out" / "t" / "corpus"
    index = json.loads((corpus / "_index.json").read_text())
    rolled = 0
    for f in index["files"]:
        for k, (name, tokens, size) in enumerate(f["shards"]):
            data = (corpus / name).read_bytes()
            assert (tokens, size) == (len(data.split()), len(data)), name
            last_doc = data[:-1].rsplit(b"\n", 1)[-1] + b"\n"
            assert size - len(last_doc) < shard_bytes, name  # no roll-over was missed
            same_range = k + 1 < len(f["shards"]) and \
                f["shards"][k + 1][0].rsplit("-", 1)[0] == name.rsplit("-", 1)[0]
            if same_range:
                assert size >= shard_bytes, name  # none was early
                rolled += 1
    assert rolled > 3  # the settings do make shards roll over
    lines = [ln for f in corpus_shards(tmp_path / "out" / "t")
             for ln in f.read_text(encoding="utf-8").splitlines()]
    assert lines == [" ".join(d) for d in docs]


def test_other_readers_see_the_counts(tmp_path, wsi):
    """The outputs are read by the tools users analyse them with: DuckDB and polars (their
    own Parquet readers, not Arrow's) give the brute-force counts and vocabulary."""
    duckdb = pytest.importorskip("duckdb")
    pl = pytest.importorskip("polars")
    paths, docs = make_corpus(tmp_path, np.random.default_rng(11))
    code, _, err = wsi(*base_args(tmp_path / "out", paths, "--set", "cooc.window=4",
                                  "--set", "vocab.min_count=3", "--set", "cooc.block_nnz=100"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    words, counter = brute_vocab(docs, 3)
    ref_c, ref_w = brute_cooc(docs, {w: i for i, w in enumerate(words)}, 4)
    glob = str(run / "cooc" / "part-*.parquet")
    frames = {
        "duckdb": duckdb.sql(f"SELECT row, col, count, weighted FROM read_parquet('{glob}') "
                             "ORDER BY row, col").fetchnumpy(),
        "polars": {k: v.to_numpy() for k, v in
                   pl.read_parquet(glob, use_pyarrow=False).sort(["row", "col"]).to_dict().items()},
    }
    for name, t in frames.items():
        counts = np.zeros_like(ref_c)
        weighted = np.zeros_like(ref_w)
        counts[t["row"], t["col"]] = t["count"]
        weighted[t["row"], t["col"]] = t["weighted"]
        assert len(t["row"]) == np.count_nonzero(ref_c), name
        np.testing.assert_array_equal(counts, ref_c, err_msg=name)
        np.testing.assert_allclose(weighted, ref_w, rtol=1e-6, err_msg=name)
    vocab = duckdb.sql(f"SELECT word, count FROM read_parquet('{run / 'vocab.parquet'}') "
                       "ORDER BY id").fetchall()
    assert vocab == [(w, counter[w]) for w in words]
    # Readers skip row groups by their row ranges: each part's statistics hold them.
    for part in sorted((run / "cooc").glob("part-*.parquet")):
        f = pq.ParquetFile(part)
        for g in range(f.metadata.num_row_groups):
            rows = f.read_row_group(g, columns=["row"])["row"].to_numpy()
            stats = f.metadata.row_group(g).column(0).statistics
            assert (stats.min, stats.max) == (rows.min(), rows.max()), part.name


def _reference_tokens(line):
    """Tokens by the specification, written independently of tasks.tokenize:
    maximal runs of letters/digits, joined across one inner apostrophe or hyphen."""
    out, cur, i = [], [], 0
    chars = line.lower()
    while i < len(chars):
        ch = chars[i]
        if ch.isalnum():
            cur.append(ch)
        elif ch in "'\u2019-" and cur and i + 1 < len(chars) and chars[i + 1].isalnum():
            cur.append(ch)
        elif cur:
            out.append("".join(cur))
            cur = []
        i += 1
    if cur:
        out.append("".join(cur))
    return out


@pytest.mark.skipif(not (SHARED / "corpora" / "inaugural.txt").exists(),
                    reason="../shared/data/corpora is absent (shared data not mounted)")
def test_shared_corpus_against_brute_force(tmp_path, wsi):
    files = [SHARED / "corpora" / "inaugural.txt", SHARED / "corpora" / "state_union.txt"]
    window, min_count = 10, 5
    code, _, err = wsi(*base_args(tmp_path / "out", files, "--set", f"cooc.window={window}",
                                  "--set", "corpus.blocksize=262144"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    docs = [t for f in files for line in f.read_text(encoding="utf-8").splitlines()
            if (t := _reference_tokens(line))]
    words, counter = brute_vocab(docs, min_count)
    vocab = pq.read_table(run / "vocab.parquet")
    assert vocab["word"].to_pylist() == words
    assert vocab["count"].to_pylist() == [counter[w] for w in words]

    # Brute force with numpy: every offset d, pairs within one document.
    index = {w: i for i, w in enumerate(words)}
    ids = np.array([index.get(w, -1) for d in docs for w in d])
    doc_of = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    n = len(words)
    ref = np.zeros(n * n, dtype=np.int64)
    for d in range(1, window + 1):
        a, b = ids[:-d], ids[d:]
        ok = (doc_of[:-d] == doc_of[d:]) & (a >= 0) & (b >= 0)
        np.add.at(ref, a[ok] * n + b[ok], 1)
        np.add.at(ref, b[ok] * n + a[ok], 1)
    t = pq.read_table(run / "cooc")
    got = np.zeros(n * n, dtype=np.int64)
    got[t["row"].to_numpy().astype(np.int64) * n + t["col"].to_numpy()] = t["count"].to_numpy()
    np.testing.assert_array_equal(got, ref)


def test_join_documents_counts_windows_across_consecutive_documents(tmp_path, wsi):
    rng = np.random.default_rng(3)
    paths, docs = make_corpus(tmp_path, rng, n_files=1, n_docs=40)
    window, join = 3, 4
    code, _, err = wsi(*base_args(tmp_path / "out", paths, "--set", f"cooc.window={window}",
                                  "--set", "vocab.min_count=1",
                                  "--set", f"cooc.join_documents={join}"))
    assert code == 0, err
    run = tmp_path / "out" / "t"
    words, _ = brute_vocab(docs, 1)
    joined = [sum(docs[i:i + join], []) for i in range(0, len(docs), join)]
    ref_c, ref_w = brute_cooc(joined, {w: i for i, w in enumerate(words)}, window)
    counts, weighted = read_cooc(run, len(words))
    np.testing.assert_array_equal(counts, ref_c)
    np.testing.assert_allclose(weighted, ref_w, rtol=1e-6)


PRELOAD_PROBE = """
import json, os, sys
import dask
from pipeline.runner import Runner
from tasks.line_tokens import load_kernel

def probe(_):
    from tasks.line_tokens import _ascii_lines
    return os.getpid(), len(_ascii_lines.overloads)

with Runner("processes", workers=2, quiet=True, preload=[load_kernel] * (sys.argv[1] == "1")) as r:
    print(json.dumps([os.getpid(), r.compute([dask.delayed(probe)(i) for i in range(4)], "p",
                                             gil_bound=True)]))
"""


@pytest.mark.parametrize("preload", [False, True])
def test_forked_workers_inherit_what_the_run_preloads(preload):
    """Worker processes forked after the preload find the tokeniser kernel loaded
    (they do not load numba again); without it they start without."""
    import subprocess
    import sys
    from pathlib import Path
    out = subprocess.run([sys.executable, "-c", PRELOAD_PROBE, str(int(preload))],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, check=True)
    parent, results = json.loads(out.stdout)
    assert {pid for pid, _ in results} - {parent}, "the tasks ran in worker processes"
    assert all(pid != parent and n == int(preload) for pid, n in results)
