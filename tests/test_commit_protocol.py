"""The commit protocol on a local disk: outputs under attempt prefixes, published by
manifest.json, stable names as symbolic links, garbage collected, older layouts read."""
from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import base_args, read_manifest


@pytest.fixture
def corpus(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    return f


def _attempts(run):
    return sorted(p.name for p in (run / "_attempts").iterdir())


def test_outputs_live_in_attempts_named_by_the_manifest_and_linked(tmp_path, wsi, corpus):
    args = base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=1")
    code, _, err = wsi(*args)
    assert code == 0, err
    run = tmp_path / "out" / "t"
    m = read_manifest(run)
    assert set(m["outputs"]) == {"corpus", "vocab.parquet", "vocab.counts.parquet", "cooc"}
    for name, where in m["outputs"].items():
        stage = name.split(".")[0]
        assert where == f"{m['stages'][stage]['attempt']}/{name}"
        assert (run / name).is_symlink() and (run / name).resolve() == (run / where).resolve()
    assert _attempts(run) == sorted(m["stages"][s]["attempt"].split("/")[1]
                                    for s in ("corpus", "vocab", "cooc"))
    # Other tools read the stable names.
    cooc = pd.read_parquet(run / "cooc")
    assert len(cooc) == m["stages"]["cooc"]["counters"]["nnz"] > 0
    vocab = pq.read_table(run / "vocab.parquet")
    assert dict(zip(vocab["word"].to_pylist(), vocab["count"].to_pylist()))["the"] == 80
    from pipeline.storage import output_url
    assert os.path.samefile(output_url(str(run), "vocab.parquet"), run / "vocab.parquet")

    # Recomputing vocab publishes a new attempt, swaps the link, deletes the old attempt.
    old = m["stages"]["vocab"]["attempt"]
    code, _, err = wsi(*args, "--force", "--stages", "vocab")
    assert code == 0, err
    m2 = read_manifest(run)
    assert m2["stages"]["vocab"]["attempt"] != old
    assert not (run / old).exists()
    assert (run / "vocab.parquet").resolve() == (run / m2["outputs"]["vocab.parquet"]).resolve()
    assert len(_attempts(run)) == 3
    assert not [p for p in os.listdir(run) if p.endswith((".link", ".tmp"))]


def test_a_failed_stage_leaves_no_attempt_and_keeps_the_published_output(tmp_path, wsi,
                                                                         corpus, monkeypatch):
    args = base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=1")
    assert wsi(*args)[0] == 0
    run = tmp_path / "out" / "t"
    before = read_manifest(run)["outputs"]
    from pipeline.stages import cooc

    def failing(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cooc, "write_block", failing)
    code, _, err = wsi(*args, "--force", "--stages", "cooc", "--scheduler", "sync")
    assert code == 5, err
    m = read_manifest(run)
    assert m["stages"]["cooc"]["status"] == "failed"
    assert m["outputs"] == before  # the last published cooc is still what cooc names
    assert not [a for a in _attempts(run) if a not in {v.split("/")[1] for v in before.values()}]


def test_garbage_of_killed_attempts_is_removed_and_never_read(tmp_path, wsi, corpus):
    args = base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=1")
    assert wsi(*args)[0] == 0
    run = tmp_path / "out" / "t"
    # What a killed attempt leaves: a half-written output under an unpublished prefix,
    # and a stale link of an output the manifest no longer names.
    junk = run / "_attempts" / "cooc-20000101T000000-deadbeef0000" / "cooc"
    junk.mkdir(parents=True)
    (junk / "part-00000.parquet").write_bytes(b"PAR1 half written")
    os.symlink("_attempts/cooc-20000101T000000-deadbeef0000/cooc", run / "occurrences")
    code, _, err = wsi(*args)
    assert code == 0, err
    assert not junk.parent.exists() and not os.path.lexists(run / "occurrences")
    assert {s["status"] for s in read_manifest(run)["stages"].values()} == {"cached"}


def test_a_run_directory_of_the_layout_without_attempts_is_read_then_upgraded(tmp_path, wsi,
                                                                              corpus):
    args = base_args(tmp_path / "out", [corpus], "--set", "vocab.min_count=1")
    assert wsi(*args)[0] == 0
    run = tmp_path / "out" / "t"
    ref = pq.read_table(run / "cooc")
    # The older layout: outputs at their names, a manifest without "outputs".
    m = read_manifest(run)
    for name in m.pop("outputs"):
        target = (run / name).resolve()
        os.unlink(run / name)
        shutil.move(target, run / name)
    shutil.rmtree(run / "_attempts")
    (run / "manifest.json").write_text(json.dumps(m))
    code, _, err = wsi(*args)
    assert code == 0, err
    assert {s["status"] for s in read_manifest(run)["stages"].values()} == {"cached"}
    code, _, err = wsi(*args, "--force", "--stages", "cooc")
    assert code == 0, err
    assert (run / "cooc").is_symlink() and pq.read_table(run / "cooc").equals(ref)
    assert not (run / "vocab.parquet").is_symlink()  # not recomputed: still in place


def test_the_lock_is_a_lease_renewed_while_held_and_taken_over_once_expired(tmp_path):
    import time

    from pipeline.errors import LockError
    from pipeline.storage import RunDir
    a, b = RunDir(str(tmp_path / "r"), lease_seconds=1.2), RunDir(str(tmp_path / "r"))
    a.prepare()
    with a:
        first = json.loads((tmp_path / "r" / ".lock").read_text())["renewed"]
        time.sleep(2.5)  # longer than the lease: renewed meanwhile, so still held
        held = json.loads((tmp_path / "r" / ".lock").read_text())
        assert held["renewed"] > first + 1
        held["host"] = "elsewhere"  # not checkable by pid: only the lease protects it
        (tmp_path / "r" / ".lock").write_text(json.dumps(held))
        with pytest.raises(LockError):
            b.acquire()
    assert not (tmp_path / "r" / ".lock").exists()
    # A holder on another host that stopped renewing: taken over after its lease.
    held["renewed"] = time.time() - 2
    (tmp_path / "r" / ".lock").write_text(json.dumps(held))
    b.acquire()
    try:
        assert json.loads((tmp_path / "r" / ".lock").read_text())["token"] != held["token"]
    finally:
        b.release()
