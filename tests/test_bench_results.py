"""The benchmark results machinery (benchmarks/results.py, render.py, check_fresh.py):
the code hash follows the measured files' content, tables are rendered between their
markers only, and the freshness check names stale, quick and missing tables."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import check_fresh  # noqa: E402
import render  # noqa: E402
import results  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "proj"
    (root / "pipeline").mkdir(parents=True)
    (root / "conf").mkdir()
    (root / "pipeline" / "a.py").write_text("x = 1\n")
    (root / "conf" / "default.yaml").write_text("k: 1\n")
    (root / "README.md").write_text("not measured\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return root


def test_code_hash_is_sha256_of_paths_and_contents(repo):
    # independent reference: sha256 over (path NUL, sha256(content)) in path order
    h = hashlib.sha256()
    for rel in ("conf/default.yaml", "pipeline/a.py"):
        h.update(rel.encode() + b"\0")
        h.update(hashlib.sha256((repo / rel).read_bytes()).digest())
    assert results.code_hash(["pipeline", "conf"], root=repo) == h.hexdigest()[:12]


def test_code_hash_follows_working_tree_edits_new_and_deleted_files(repo):
    paths = ["pipeline", "conf"]
    h0 = results.code_hash(paths, root=repo)
    (repo / "pipeline" / "a.py").write_text("x = 2\n")  # uncommitted edit
    h1 = results.code_hash(paths, root=repo)
    assert h1 != h0
    (repo / "pipeline" / "a.py").write_text("x = 1\n")
    assert results.code_hash(paths, root=repo) == h0
    (repo / "pipeline" / "new.py").write_text("y = 1\n")  # untracked, not ignored
    assert results.code_hash(paths, root=repo) != h0
    (repo / "pipeline" / "new.py").unlink()
    (repo / "pipeline" / "__pycache__").mkdir()
    (repo / "pipeline" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0junk")
    (repo / "README.md").write_text("edited, but outside the measured paths\n")
    assert results.code_hash(paths, root=repo) == h0
    (repo / "conf" / "default.yaml").unlink()  # deleted in the working tree
    assert results.code_hash(paths, root=repo) != h0


def _result(folder, name, table, code_hash, paths, quick=False, finished="2026-01-01T00:00:00Z"):
    folder.mkdir(exist_ok=True)
    res = {"name": name, "quick": quick, "finished": finished, "code_hash": code_hash,
           "hashed_paths": paths, "machine": {"cpu": "cpu", "cores": 2, "memory_gib": 1.0},
           "command": "python bench.py", "other_cores_max": 0.01,
           "tables": {table: results.table([("what", ""), ("tokens", ",d"), ("s", ".2f")],
                                           [["a", 1234567, 1.234], ["b", None, 2.0]],
                                           ["a note"])}}
    (folder / f"{name}.json").write_text(json.dumps(res))


README = """# Title
Prose with no figure.
<!-- table:t1 -->
old text
<!-- /table:t1 -->
More prose.
<!-- table:t2 -->
<!-- /table:t2 -->
"""


def test_render_replaces_only_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    res = tmp_path / "results"
    _result(res, "one", "t1", "abcdef123456", ["tasks"])
    assert render.main(["--readme", str(readme), "--results", str(res)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\nProse with no figure.\n<!-- table:t1 -->\n")
    assert "old text" not in text
    assert "| a | 1,234,567 | 1.23 |" in text and "| b | - | 2.00 |" in text
    assert "- a note" in text and "`abcdef123456`" in text
    assert "More prose.\n<!-- table:t2 -->\n*No results for table `t2`" in text
    # rendering again changes nothing, and --check agrees
    assert render.main(["--readme", str(readme), "--results", str(res)]) == 0
    assert readme.read_text() == text
    assert render.main(["--readme", str(readme), "--results", str(res), "--check"]) == 0


def test_check_fresh_names_stale_quick_and_missing_tables(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    res = tmp_path / "results"
    current = results.code_hash(["tasks"])
    _result(res, "one", "t1", current, ["tasks"])
    _result(res, "two", "t2", current, ["tasks"])
    assert check_fresh.main(["--readme", str(readme), "--results", str(res)]) == 0
    _result(res, "two", "t2", "000000000000", ["tasks"])
    assert check_fresh.main(["--readme", str(readme), "--results", str(res)]) == 1
    out = capsys.readouterr().out
    assert "t2: stale" in out and "t1:" not in out
    _result(res, "two", "t2", current, ["tasks"], quick=True)
    assert check_fresh.main(["--readme", str(readme), "--results", str(res)]) == 1
    assert "t2: quick run only" in capsys.readouterr().out
    (res / "one.json").unlink()
    assert check_fresh.main(["--readme", str(readme), "--results", str(res)]) == 1
    assert "t1: no results" in capsys.readouterr().out


def test_check_fresh_runs_with_a_bare_python_and_only_the_stdlib(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    r = subprocess.run([sys.executable, "-S", "-I", str(BENCH / "check_fresh.py"),
                        "--readme", str(readme), "--results", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "t1: no results" in r.stdout and "t2: no results" in r.stdout


def test_other_load_counts_our_descendants_as_ours():
    """CPU burnt by a grandchild (a child's child) is ours, not other load: the meter's own
    tree time grows by what getrusage reports for our reaped children."""
    import resource
    pytest.importorskip("psutil")
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"
    outer = (f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {burn!r}])\n"
             f"exec({burn!r})\n")
    meter = results.OtherLoad(label="test", interval=0.05, record=False)
    ours0 = meter._ours()
    def rusage():
        a = resource.getrusage(resource.RUSAGE_CHILDREN)
        b = resource.getrusage(resource.RUSAGE_SELF)
        return a.ru_utime + a.ru_stime, b.ru_utime + b.ru_stime

    kids0, self0 = rusage()
    subprocess.run([sys.executable, "-c", outer], check=True)
    grown = meter._ours() - ours0
    kids1, self1 = rusage()
    assert kids1 - kids0 >= 0.8  # both processes burnt their 0.4 s
    # ours = this process (sampler thread included) + every descendant, ended or alive
    assert grown == pytest.approx((kids1 - kids0) + (self1 - self0), abs=0.05)
    r = meter.stop()
    assert r["seconds"] > 0 and r["other_cores"] >= 0 and r["samples"] >= 1
