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
