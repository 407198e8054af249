"""Bad input: a clear one-line error (or a counted warning), never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, base_args, one_line, read_manifest, wsi_subprocess


def test_missing_path_names_the_entry(tmp_path, wsi):
    good = tmp_path / "good.txt"
    good.write_text("some words here\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [good, tmp_path / "nope.txt"]))
    assert code == 2
    msg = one_line(err)
    assert "corpus.paths[1]" in msg and "nope.txt" in msg
    assert not (tmp_path / "out").exists(), "failed before any work"


def test_glob_matching_nothing(tmp_path, wsi):
    code, _, err = wsi(*base_args(tmp_path / "out", [tmp_path / "*.txt"]))
    assert code == 2
    assert "matches no file" in one_line(err)


def test_directory_of_binary_files_is_skipped_and_listed(tmp_path, wsi):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.bin").write_bytes(bytes(range(256)) * 40)
    (d / "b.dat").write_bytes(b"\x00\x01\x02" * 1000)
    (d / "text.txt").write_text("the cat sat on the mat\n" * 10)
    code, _, err = wsi(*base_args(tmp_path / "out", [d], "--set", "vocab.min_count=1"))
    assert code == 0, err
    assert "skipping binary file" in err
    c = read_manifest(tmp_path / "out" / "t")["stages"]["corpus"]["counters"]
    assert sorted(os.path.basename(u) for u in c["skipped_binary_files"]) == ["a.bin", "b.dat"]
    assert c["tokens"] == 60


def test_only_binary_files_means_no_tokens(tmp_path, wsi):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.bin").write_bytes(b"\x00" * 100)
    code, _, err = wsi(*base_args(tmp_path / "out", [d]))
    assert code == 3
    assert "no tokens" in one_line(err)
    assert not (tmp_path / "out" / "t" / "corpus").exists()


def test_invalid_utf8_is_replaced_and_counted(tmp_path, wsi):
    f = tmp_path / "bad.txt"
    # three invalid sequences: a lone continuation byte, a truncated 2-byte
    # sequence, and an invalid start byte
    f.write_bytes(b"good words \x80 here\nmore caf\xc3 text\nand \xff done\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "vocab.min_count=1"))
    assert code == 0, err
    c = read_manifest(tmp_path / "out" / "t")["stages"]["corpus"]["counters"]
    assert c["decode_errors"] == 3
    text = (tmp_path / "out" / "t" / "corpus").glob("*.txt")
    tokens = " ".join(p.read_text() for p in text).split()
    assert tokens == ["good", "words", "here", "more", "caf", "text", "and", "done"]


def test_empty_file_is_listed(tmp_path, wsi):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "full.txt").write_text("one two three\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [tmp_path / "empty.txt",
                                                    tmp_path / "full.txt"],
                                  "--set", "vocab.min_count=1"))
    assert code == 0, err
    c = read_manifest(tmp_path / "out" / "t")["stages"]["corpus"]["counters"]
    assert [os.path.basename(u) for u in c["empty_files"]] == ["empty.txt"]
    assert c["tokens"] == 3


def test_corpus_without_tokens(tmp_path, wsi):
    f = tmp_path / "punct.txt"
    f.write_text("!!! ... ---\n\n   ?? ;;\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [f]))
    assert code == 3
    assert "no tokens" in one_line(err)


def test_vocabulary_empty_after_min_count(tmp_path, wsi):
    f = tmp_path / "few.txt"
    f.write_text("alpha beta gamma\n")
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "vocab.min_count=5"))
    assert code == 3
    assert "vocab.min_count" in one_line(err)


_PEAK = ("import resource, runpy, sys\n"
         "sys.argv = ['wsi'] + sys.argv[1:]\n"
         "try:\n"
         "    runpy.run_module('pipeline', run_name='__main__')\n"
         "finally:\n"
         "    print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")


def _run_with_peak(*args):
    """Run the CLI in a child process; returns (completed process, its peak RSS in MB)."""
    r = subprocess.run([sys.executable, "-c", _PEAK, *map(str, args)], capture_output=True,
                       text=True, cwd=ROOT, timeout=300)
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("MAXRSS")][-1]
    return r, int(line.split()[1]) / 1024


def test_fifty_megabyte_line_is_split_with_bounded_memory(tmp_path):
    f = tmp_path / "long.txt"
    words = b"alpha beta gamma delta epsilon zeta eta theta "  # 48 bytes, 8 tokens
    reps = (50 << 20) // len(words)
    with open(f, "wb") as fh:
        for _ in range(reps // 4096):
            fh.write(words * 4096)  # no newline anywhere
    n_tokens = 8 * (reps // 4096) * 4096
    small = tmp_path / "small.txt"
    small.write_bytes(words * 100)
    common = ("--stages", "corpus", "--set", "corpus.max_document_chars=1000000")
    r0, base_mb = _run_with_peak(*base_args(tmp_path / "out0", [small], *common,
                                            scheduler="sync"))
    assert r0.returncode == 0, r0.stderr
    r, peak_mb = _run_with_peak(*base_args(tmp_path / "out", [f], *common, scheduler="sync"))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    c = read_manifest(tmp_path / "out" / "t")["stages"]["corpus"]["counters"]
    assert c["tokens"] == n_tokens  # no token lost or broken at a cut
    assert c["split_documents"] >= 50
    assert c["documents"] >= 51
    longest = max(len(line) for p in (tmp_path / "out" / "t" / "corpus").glob("*.txt")
                  for line in p.read_text().splitlines())
    assert longest <= 1_000_000
    # Holding the whole line would cost several times its 50 MB (bytes, str,
    # lowered str, 8.7M token strings: over 500 MB); bounded reading adds
    # about one document's worth to what the same command needs for a tiny file.
    assert peak_mb - base_mb < 200, f"peak RSS {peak_mb:.0f} MB vs {base_mb:.0f} MB baseline"


@pytest.mark.parametrize("setting, expect", [
    ("cooc.windw=3", ["cooc.windw", "unknown key", "window"]),
    ("cooc.window=ten", ["cooc.window", "integer", "'ten'"]),
    ("corpus.format=xml", ["corpus.format", "lines", "paragraphs", "wikidump"]),
    ("vocab.min_count=0", ["vocab.min_count", "greater than or equal to 1"]),
    ("run.scheduler=fast", ["run.scheduler", "local:N"]),
    ("nosuch.key=1", ["nosuch", "unknown key", "corpus"]),
    # an output name leading out of run.out is refused before anything is written
    ("run.name=../elsewhere", ["run.name", "letters, digits"]),
    ("run.name=/etc", ["run.name", "letters, digits"]),
])
def test_config_errors_name_the_key(tmp_path, wsi, setting, expect):
    code, _, err = wsi("run", "--out", tmp_path / "out", "--set", setting)
    assert code == 2
    msg = one_line(err)
    for part in expect:
        assert part in msg, msg
    assert not (tmp_path / "out").exists()


def test_bad_config_file(tmp_path, wsi):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cooc:\n  window: [1, 2\n")
    code, _, err = wsi("run", "-c", bad)
    assert code == 2
    assert str(bad) in one_line(err)
    code, _, err = wsi("run", "-c", tmp_path / "missing.yaml")
    assert code == 2
    assert "missing.yaml" in one_line(err)


def test_unwritable_output_fails_before_work(tmp_path, wsi):
    f = tmp_path / "in.txt"
    f.write_text("a b c\n")
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a directory")
    code, _, err = wsi(*base_args(blocker / "sub", [f]))
    assert code == 2
    assert "cannot be written" in one_line(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_directory(tmp_path, wsi):
    f = tmp_path / "in.txt"
    f.write_text("a b c\n")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code, _, err = wsi(*base_args(ro, [f]))
    assert code == 2
    assert "cannot be written" in one_line(err)


def test_errors_in_a_subprocess_have_exit_codes_and_no_traceback(tmp_path):
    r = wsi_subprocess("run", "--out", tmp_path, "--set", "cooc.window=-1")
    assert r.returncode == 2
    assert "cooc.window" in one_line(r.stderr)
    r = wsi_subprocess("run", "--bogus-flag")
    assert r.returncode == 2
    assert "--bogus-flag" in one_line(r.stderr)
    r = wsi_subprocess("run", "--stages", "nosuch", "--out", tmp_path)
    assert r.returncode == 2
    assert "nosuch" in one_line(r.stderr)


def test_lock_held_by_a_live_run(tmp_path, wsi):
    f = tmp_path / "in.txt"
    f.write_text("a b c a b c\n")
    run = tmp_path / "out" / "t"
    run.mkdir(parents=True)
    import socket
    (run / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                           "started": "now"}))
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "vocab.min_count=1"))
    assert code == 4
    msg = one_line(err)
    assert f"pid {os.getpid()}" in msg
    assert not (run / "corpus").exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, wsi):
    import socket
    f = tmp_path / "in.txt"
    f.write_text("a b c a b c\n")
    run = tmp_path / "out" / "t"
    run.mkdir(parents=True)
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    (run / ".lock").write_text(json.dumps({"pid": p.pid, "host": socket.gethostname()}))
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "vocab.min_count=1"))
    assert code == 0, err
    assert not (run / ".lock").exists()


def test_json_logs_for_schedulers(tmp_path, wsi):
    f = tmp_path / "c.txt"
    f.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--log-json", "--set",
                                  "vocab.min_count=1"))
    assert code == 0
    recs = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert {r["stage"] for r in recs} >= {"corpus", "vocab", "cooc"}
    assert all(r["level"] in ("info", "warning") and "time" in r for r in recs)
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--log-json", "--set",
                                  "cooc.window=0"))
    assert code == 2
    last = json.loads(err.strip().splitlines()[-1])
    assert last["level"] == "error" and last["exit_code"] == 2 and "cooc.window" in last["message"]


def test_symlink_loop_in_an_input_directory_is_not_followed(tmp_path, wsi):
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x.txt").write_text("a b c a b c\n")
    (d / "sub" / "loop").symlink_to(d, target_is_directory=True)
    code, _, err = wsi(*base_args(tmp_path / "out", [d], "--set", "vocab.min_count=1"))
    assert code == 0, err
    m = read_manifest(tmp_path / "out" / "t")
    assert m["stages"]["corpus"]["counters"]["files"] == 1


def test_pretrained_pickle_is_refused_unread(tmp_path, wsi):
    import pickle
    f = tmp_path / "c.txt"
    f.write_text("a b c a b c\n")
    bad = tmp_path / "vectors.kv"
    bad.write_bytes(pickle.dumps({"a": [1.0, 2.0]}, protocol=4))
    code, _, err = wsi(*base_args(tmp_path / "out", [f], "--set", "vocab.min_count=1",
                                  "--set", "embed.method=pretrained", "--set",
                                  f"embed.path={bad}", stages="embed"))
    assert code == 3 and "pickle; refused" in one_line(err)


def test_input_changed_between_stages_is_read_again(tmp_path, wsi):
    f = tmp_path / "c.txt"
    f.write_text("the cat sat\n" * 10)
    out = tmp_path / "out"
    assert wsi(*base_args(out, [f], "--set", "vocab.min_count=1", stages="corpus"))[0] == 0
    f.write_text("the cat sat on the mat\n" * 10)  # edited before the next stage runs
    code, _o, err = wsi(*base_args(out, [f], "--set", "vocab.min_count=1", stages="vocab"))
    assert code == 0, err
    assert "corpus: out of date" in err
    vocab = pq.read_table(out / "t" / "vocab.parquet")
    assert dict(zip(vocab["word"].to_pylist(), vocab["count"].to_pylist())) == {
        "the": 20, "cat": 10, "sat": 10, "on": 10, "mat": 10}


@pytest.mark.parametrize("name", ["../escape.json", "corpus/../../x", "a\\..\\b"])
def test_run_directory_refuses_names_leading_out_of_it(tmp_path, name):
    from pipeline.errors import UsageError
    from pipeline.storage import RunDir
    run = RunDir(str(tmp_path / "run"))
    with pytest.raises(UsageError, match="must stay inside"):
        run.write_json(name, {"x": 1})
    assert run.path("corpus", "part-1.txt").endswith("/run/corpus/part-1.txt")
    assert list(tmp_path.iterdir()) == []
