"""Input formats, compression, the embedded default corpus, and fsspec storage."""
from __future__ import annotations

import bz2
import gzip
import json

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from conftest import base_args, corpus_shards, read_manifest


def corpus_tokens(run):
    return [line.split() for p in corpus_shards(run)
            for line in p.read_text(encoding="utf-8").splitlines()]


def test_paragraphs_gzip_and_lines_bz2(tmp_path, wsi):
    para = tmp_path / "p.txt.gz"
    with gzip.open(para, "wt", encoding="utf-8") as f:
        f.write("First para, line one.\nLine two!\n\n\n\nSecond para.\n\nThird\npara here\n")
    lines = tmp_path / "l.txt.bz2"
    with bz2.open(lines, "wt", encoding="utf-8") as f:
        f.write("A line.\nAnother line.\n")
    items = json.dumps([{"path": str(para), "format": "paragraphs"}, str(lines)])
    code, _, err = wsi("run", "--out", tmp_path / "out", "--name", "t", "--scheduler",
                       "threads", "--quiet", "--set", f"corpus.paths={items}", "--stages", "cooc",
                       "--set", "vocab.min_count=1")
    assert code == 0, err
    assert corpus_tokens(tmp_path / "out" / "t") == [
        ["first", "para", "line", "one", "line", "two"], ["second", "para"],
        ["third", "para", "here"], ["a", "line"], ["another", "line"]]


def test_lowercase_off(tmp_path, wsi):
    f = tmp_path / "c.txt"
    f.write_text("The Cat and the cat\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "corpus.lowercase=false",
                                  "--set", "vocab.min_count=1"))
    assert code == 0, err
    vocab = pq.read_table(tmp_path / "out" / "t" / "vocab.parquet").to_pydict()
    assert dict(zip(vocab["word"], vocab["count"])) == {"The": 1, "Cat": 1, "and": 1,
                                                        "the": 1, "cat": 1}


def test_embedded_default_corpus(tmp_path, wsi):
    """The corpus `make run` uses ships with gensim: a bz2 wiki dump and the Lee corpus."""
    code, _, err = wsi("run", "--out", tmp_path / "out", "--scheduler", "threads", "--quiet",
                       "--stages", "corpus")
    assert code == 0, err
    c = read_manifest(tmp_path / "out" / "default")["stages"]["corpus"]["counters"]
    assert c["files_read"] == 2
    assert c["redirects"] > 0  # the dump's redirect pages are not articles
    assert c["tokens"] > 100_000
    docs = corpus_tokens(tmp_path / "out" / "default")
    assert ["anarchism", "is", "a", "political", "philosophy"] == docs[0][:5]
    assert not any("[[" in t or "{{" in t for d in docs[:50] for t in d)  # markup removed


def test_fsspec_urls_for_inputs_and_run_directory(tmp_path, wsi):
    f = tmp_path / "c.txt"
    f.write_text("the cat sat on the mat\nthe dog sat\n" * 10)
    out = "memory://wsi-test-runs"
    args = ["run", "--out", out, "--name", "m", "--scheduler", "threads", "--quiet",
            "--stages", "cooc",
            "--set", f"corpus.paths=file://{f}", "--set", "vocab.min_count=1"]
    code, _, err = wsi(*args)
    assert code == 0, err
    fs = fsspec.filesystem("memory")
    from pipeline.storage import RunDir
    run = RunDir("memory://wsi-test-runs/m")  # outputs are found through manifest.json
    try:
        with fs.open(run.path("vocab.parquet"), "rb") as fh:
            vocab = pq.read_table(fh)
        assert vocab.schema.field("id").type == pa.int32()
        assert dict(zip(vocab["word"].to_pylist(), vocab["count"].to_pylist()))["the"] == 30
        assert fs.find(run.path("cooc"))
        code, _, err = wsi(*args)
        m = json.loads(fs.cat("/wsi-test-runs/m/manifest.json"))
        assert {k: v["status"] for k, v in m["stages"].items()} == {
            "corpus": "cached", "vocab": "cached", "cooc": "cached"}
        assert not fs.exists("/wsi-test-runs/m/.lock")
    finally:
        fs.rm("/wsi-test-runs", recursive=True)
