"""Incremental corpora: files added to a scheduled run's inputs are the only ones
tokenised and counted, and vocab and cooc end equal to a full recount."""
from __future__ import annotations

import json
import random
from collections import Counter

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import base_args, one_line, read_manifest


def write_files(folder, n_files, seed=0):
    """Text files whose later ones make words rare in the earlier ones frequent.

    File k draws from a Zipf-like common vocabulary plus words ``rare<k>x<j>``
    that occur once or twice in every file from k on, so adding a file lifts
    words of the earlier files over ``vocab.min_count`` (new pairs in old
    text) and reorders the vocabulary (new ids for old words).
    """
    rng = random.Random(seed)
    common = [f"w{i}" for i in range(120)]
    weights = [1.0 / (i + 1) for i in range(len(common))]
    paths = []
    for k in range(n_files):
        lines = []
        for _ in range(250):
            doc = rng.choices(common, weights, k=rng.randint(2, 30))
            if rng.random() < 0.2:
                doc.insert(rng.randrange(len(doc)), f"rare{rng.randrange(k + 1)}x{rng.randrange(8)}")
            lines.append(" ".join(doc))
        path = folder / f"f{k}.txt"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def outputs(run_dir):
    vocab = pq.read_table(run_dir / "vocab.parquet")
    cooc = pq.read_table(run_dir / "cooc").sort_by([("row", "ascending"), ("col", "ascending")])
    return vocab, cooc


SETTINGS = ["--set", "vocab.min_count=3", "--set", "cooc.block_nnz=4000", "--set",
            "run.report=false"]


@pytest.mark.parametrize("extra", [[], ["--set", "vocab.max_size=60"],
                                   ["--set", "cooc.join_documents=3"]],
                         ids=["min_count", "max_size", "join_documents"])
def test_added_files_are_counted_alone_and_equal_a_full_recount(tmp_path, wsi, extra):
    files = write_files(tmp_path, 4)
    out = tmp_path / "out"
    args = [*SETTINGS, *extra]
    for paths in (files[:2], files[:3], files):  # two scheduled runs after the first
        code, _o, err = wsi(*base_args(out, paths, *args, name="inc"))
        assert code == 0, err
        stages = read_manifest(out / "inc")["stages"]
        assert stages["corpus"]["counters"]["files_reused"] == len(paths) - 1 or \
            len(paths) == 2
    code, _o, err = wsi(*base_args(out, files, *args, name="full"))
    assert code == 0, err

    inc, full = outputs(out / "inc"), outputs(out / "full")
    assert inc[0].equals(full[0])  # vocabulary: words, ids and counts
    assert inc[1].equals(full[1])  # co-occurrences: counts and float weights bit for bit
    counters = {s: r["counters"] for s, r in read_manifest(out / "inc")["stages"].items()}
    assert counters["vocab"]["shards_counted"] == 1      # only the added file's shard
    assert counters["cooc"]["shards_counted"] == 1
    assert counters["cooc"]["incremental"] is True
    # The data did what the test needs: words of the old files joined the vocabulary.
    assert counters["cooc"]["entering_words"] > 0 and counters["cooc"]["shards_refocused"] == 3

    # And the vocabulary is the brute-force count of the raw files.
    brute = Counter(w for p in files for w in p.read_text().split())
    got = dict(zip(inc[0]["word"].to_pylist(), inc[0]["count"].to_pylist()))
    assert all(brute[w] == c for w, c in got.items())
    assert int(pq.read_schema(out / "inc" / "vocab.parquet").metadata[b"total_tokens"]) == \
        sum(brute.values())


def test_removed_or_changed_files_mean_a_full_recount(tmp_path, wsi):
    files = write_files(tmp_path, 3)
    out = tmp_path / "out"
    assert wsi(*base_args(out, files, *SETTINGS, name="inc"))[0] == 0
    # A file removed: its counts cannot be subtracted from sums kept without it.
    code, _o, err = wsi(*base_args(out, files[1:], *SETTINGS, name="inc"))
    assert code == 0, err
    assert "removed or changed" in err
    counters = read_manifest(out / "inc")["stages"]["cooc"]["counters"]
    assert counters["shards_counted"] == 2 and "incremental" not in counters
    assert wsi(*base_args(out, files[1:], *SETTINGS, name="full"))[0] == 0
    assert all(a.equals(b) for a, b in zip(outputs(out / "inc"), outputs(out / "full")))

    # A file changed in place: re-read (new shard names), everything recounted.
    with open(files[2], "a") as f:
        f.write("w1 w2 w3 w4 w5\n")
    code, _o, err = wsi(*base_args(out, files[1:], *SETTINGS, name="inc"))
    assert code == 0, err
    corpus = read_manifest(out / "inc")["stages"]["corpus"]["counters"]
    assert corpus["files_reused"] == 1
    assert read_manifest(out / "inc")["stages"]["vocab"]["counters"]["shards_counted"] == 2
    assert wsi(*base_args(out, files[1:], *SETTINGS, name="full2"))[0] == 0
    assert all(a.equals(b) for a, b in zip(outputs(out / "inc"), outputs(out / "full2")))


def test_incremental_off_or_force_recounts_everything(tmp_path, wsi):
    files = write_files(tmp_path, 3)
    out = tmp_path / "out"
    off = [*SETTINGS, "--set", "run.incremental=false"]
    assert wsi(*base_args(out, files[:2], *SETTINGS, name="a"))[0] == 0
    assert wsi(*base_args(out, files, *off, name="a"))[0] == 0
    counters = {s: r["counters"] for s, r in read_manifest(out / "a")["stages"].items()}
    assert counters["corpus"]["files_reused"] == 0
    assert counters["vocab"]["shards_counted"] == counters["cooc"]["shards_counted"] == 3
    # --force starts over too.
    assert wsi(*base_args(out, files, *SETTINGS, name="a"), "--force")[0] == 0
    cooc = read_manifest(out / "a")["stages"]["cooc"]
    assert cooc["status"] == "complete" and "incremental" not in cooc["counters"]
    assert cooc["counters"]["shards_counted"] == 3


def test_a_file_named_twice_is_read_once(tmp_path, wsi):
    files = write_files(tmp_path, 2)
    out = tmp_path / "out"
    assert wsi(*base_args(out, [files[0], tmp_path / "f*.txt"], *SETTINGS))[0] == 0
    counters = read_manifest(out / "t")["stages"]["corpus"]["counters"]
    assert counters["files"] == 2
    assert counters["tokens"] == sum(len(p.read_text().split()) for p in files)


def test_file_changed_while_being_read_is_an_input_error(tmp_path, wsi, monkeypatch):
    import pipeline.stages.corpus as corpus
    files = write_files(tmp_path, 2)
    read_part = corpus.read_part

    def read_then_append(file, *a, **kw):
        out = read_part(file, *a, **kw)
        if file["url"].endswith("f1.txt"):
            with open(file["url"], "a") as f:
                f.write("late words\n")
        return out

    monkeypatch.setattr(corpus, "read_part", read_then_append)
    code, _o, err = wsi(*base_args(tmp_path / "out", files, *SETTINGS))
    assert code == 3
    line = one_line(err)
    assert "f1.txt" in line and "changed while being read" in line
    assert not (tmp_path / "out" / "t" / "corpus").exists()


def test_incremental_run_on_fsspec_storage(tmp_path, wsi):
    """Inputs by file:// URL, run directory in fsspec's memory file system (no links:
    the unchanged files' shards are copied)."""
    files = write_files(tmp_path, 3)
    urls = [f"file://{p}" for p in files]
    fs = fsspec.filesystem("memory")
    args = ["run", "--out", "memory://wsi-inc", "--scheduler", "threads", "--quiet",
            "--stages", "cooc", *SETTINGS]
    try:
        for name, paths in (("inc", urls[:2]), ("inc", urls), ("full", urls)):
            plist = "[" + ", ".join(f'"{u}"' for u in paths) + "]"
            code, _o, err = wsi(*args, "--name", name, "--set", f"corpus.paths={plist}")
            assert code == 0, err

        def tables(name):
            from pipeline.storage import RunDir
            run = RunDir(f"memory://wsi-inc/{name}")  # outputs are found through the manifest
            with fs.open(run.path("vocab.parquet"), "rb") as f:
                vocab = pq.read_table(f)
            parts = sorted(p for p in fs.find(run.path("cooc")) if p.endswith(".parquet"))
            rows = []
            for p in parts:
                with fs.open(p, "rb") as f:
                    rows.append(pq.read_table(f))
            return vocab, pa.concat_tables(rows)
        inc, full = tables("inc"), tables("full")
        assert inc[0].equals(full[0]) and inc[1].equals(full[1])
        m = json.loads(fs.cat("/wsi-inc/inc/manifest.json"))
        assert m["stages"]["corpus"]["counters"]["files_reused"] == 2
        assert m["stages"]["cooc"]["counters"]["shards_counted"] == 1
    finally:
        fs.rm("/wsi-inc", recursive=True)
