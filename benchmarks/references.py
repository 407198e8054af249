"""Build and run the third-party references the benchmarks measure side by side.

Nothing third-party is kept in the project: the public sources in ``../shared/reference``
(relative to the project root) are copied into a cache folder (``WSI_BENCH_CACHE``, default
``~/.cache/wsi-bench``) and built or patched there; a copy is rebuilt when its source
changes. Each function raises :class:`Skip` with the reason when a reference cannot be
built here (no source, no C compiler, build failure), so a benchmark can report the skip
and go on.

- GloVe (stanfordnlp/GloVe): ``vocab_count`` and ``cooccur``, built with its own Makefile.
- à la carte (NLPrinceton/ALaCarte): ``alacarte.py`` with the two numpy-2 fixes its
  SOURCE.txt names (``np.vstack`` over a generator → over a list) applied to the copy; its
  corpus pass (``corpus_documents`` with an ``ALaCarteReader``) is run by
  :func:`run_alacarte_pass` in a fresh interpreter.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT.parent / "shared" / "reference"
CACHE = Path(os.environ.get("WSI_BENCH_CACHE", Path.home() / ".cache" / "wsi-bench"))


class Skip(Exception):
    """A reference that cannot be built or run here; the message says why."""


def _tree_digest(folder):
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:16]


def _fresh_copy(src, dest):
    """Copy ``src`` to ``dest`` unless ``dest`` holds a copy of the same content;
    returns (dest, whether it was copied now)."""
    stamp = dest / ".source-digest"
    digest = _tree_digest(src)
    if stamp.is_file() and stamp.read_text() == digest:
        return dest, False
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    stamp.write_text(digest)
    return dest, True


def glove_tools(source=None, cache=None):
    """{"vocab_count": path, "cooccur": path, "source": ..., "commit": ...} of a GloVe
    build in the cache (built now if needed); raises Skip with the reason otherwise."""
    src = Path(source or SOURCES / "glove")
    if not (src / "src" / "cooccur.c").is_file():
        raise Skip(f"GloVe source not found ({src / 'src' / 'cooccur.c'})")
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None or shutil.which("make") is None:
        raise Skip(f"no C compiler ({cc}) or make on PATH: cannot build GloVe")
    dest, _ = _fresh_copy(src, Path(cache or CACHE) / "glove")
    tools = {n: dest / "build" / n for n in ("vocab_count", "cooccur")}
    if not all(os.access(t, os.X_OK) for t in tools.values()):
        r = subprocess.run(["make", "-C", str(dest), f"CC={cc}"], capture_output=True,
                           text=True)
        if r.returncode or not all(os.access(t, os.X_OK) for t in tools.values()):
            raise Skip(f"GloVe build failed in {dest}: {(r.stderr or r.stdout).strip()[-300:]}")
    return {**{k: str(v) for k, v in tools.items()}, "source": str(src),
            "commit": _source_line(src, "commit")}


def _source_line(src, key):
    try:
        for line in (Path(src) / "SOURCE.txt").read_text().splitlines():
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


# The two numpy-2 fixes SOURCE.txt names: np.vstack needs a sequence, not a generator.
ALACARTE_FIXES = (
    ("np.vstack(c2v.pop(target, np.zeros(dimension, dtype=FLOAT)) for target in targets)",
     "np.vstack([c2v.pop(target, np.zeros(dimension, dtype=FLOAT)) for target in targets])"),
    ("np.vstack(vector for vector, count in zip(w2v.values(), target_counts) if count)",
     "np.vstack([vector for vector, count in zip(w2v.values(), target_counts) if count])"),
)


def alacarte_module(source=None, cache=None):
    """Path of the patched copy of alacarte.py in the cache; raises Skip otherwise."""
    src = Path(source or SOURCES / "alacarte")
    if not (src / "alacarte.py").is_file():
        raise Skip(f"à la carte source not found ({src / 'alacarte.py'})")
    dest, copied = _fresh_copy(src, Path(cache or CACHE) / "alacarte")
    path = dest / "alacarte.py"
    text = path.read_text()
    for old, new in ALACARTE_FIXES:
        if new in text:
            continue
        if old not in text:
            raise Skip(f"{src / 'alacarte.py'}: expected line for the numpy-2 fix not found "
                       f"({old[:50]}...)")
        text = text.replace(old, new)
    path.write_text(text)
    return {"path": str(path), "source": str(src), "commit": _source_line(src, "commit")}


# Run in a fresh interpreter: load the vectors, then time the corpus pass alone.
_DRIVER = r"""
import json, sys, time
from collections import OrderedDict
sys.path.insert(0, sys.argv[1])
import alacarte
t0 = time.perf_counter()
w2v = OrderedDict(alacarte.load_vectors(sys.argv[2]))
reader = alacarte.ALaCarteReader(w2v, w2v.keys(), wnd=int(sys.argv[4]))
t1 = time.perf_counter()
vectors, counts = alacarte.corpus_documents(sys.argv[3], reader)
t2 = time.perf_counter()
print("\nRESULT " + json.dumps({"load_seconds": t1 - t0, "pass_seconds": t2 - t1,
      "words": len(w2v), "covered": int((counts > 0).sum()), "occurrences": int(counts.sum())}))
"""


def glove_format_vectors(w2v_txt, dest):
    """word2vec text (with its "n dim" header) → GloVe text (no header), as alacarte.py
    reads it."""
    with open(w2v_txt, encoding="utf-8") as f, open(dest, "w", encoding="utf-8") as out:
        first = f.readline()
        if len(first.split()) != 2:
            out.write(first)
        shutil.copyfileobj(f, out)
    return dest


def concat_shards(shards, dest):
    """The corpus stage's shards (one document per line) as one file."""
    with open(dest, "wb") as out:
        for p in shards:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out)
    return dest


def run_alacarte_pass(module, vectors, corpus, window=10, python=None):
    """Run à la carte's own corpus pass in a fresh interpreter; returns its load and pass
    seconds, process wall seconds, words and occurrences counted."""
    cmd = [python or sys.executable, "-c", _DRIVER, str(Path(module).parent), str(vectors),
           str(corpus), str(window)]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        raise RuntimeError(f"alacarte pass failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return {**json.loads(line[len("RESULT "):]), "wall_seconds": wall}
