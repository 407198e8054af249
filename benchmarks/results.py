"""Results of the benchmarks: one JSON file per benchmark, ``benchmarks/results/NAME.json``.

Every benchmark script ends with :func:`write_result`, which records next to its figures
the exact command, the machine, the time, the code hash (:func:`code_hash`) and the CPU
load that other processes put on the machine while each timed run ran (:class:`OtherLoad`,
collected in :data:`LOADS`). ``render.py`` turns the ``tables`` of these files into the
tables of ``benchmarks/README.md``; ``check_fresh.py`` compares their code hash with the
current code.

This module imports only the standard library at import time (``check_fresh.py`` runs
with a bare ``python3``); psutil is imported when a load is measured.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# What every benchmark measures: the code, the configuration and the dependencies' pins.
CODE_PATHS = ("pipeline", "tasks", "conf", "pyproject.toml")
_SKIP_SUFFIXES = (".pyc", ".nbi", ".nbc")

# Timed runs of this process, appended by OtherLoad.stop(); write_result stores them.
LOADS: list[dict] = []


# ----------------------------------------------------------------------------- code hash

def _listed_files(paths, root):
    """Files under ``paths`` (relative to ``root``) that git tracks or would track
    (untracked but not ignored), as relative POSIX paths; a plain walk without git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--", *paths],
            capture_output=True, check=True, timeout=30).stdout
        return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})
    except (OSError, subprocess.SubprocessError):
        found = []
        for p in paths:
            full = root / p
            if full.is_file():
                found.append(p)
                continue
            for dirpath, dirnames, filenames in os.walk(full):
                dirnames[:] = [d for d in dirnames if d != "__pycache__"]
                for f in filenames:
                    found.append(Path(dirpath, f).relative_to(root).as_posix())
        return sorted(found)


def hashed_paths(script=None, extra=()):
    """The paths whose content a benchmark's code hash covers (relative to the root)."""
    paths = list(CODE_PATHS)
    if script is not None:
        paths.append(Path(script).resolve().relative_to(ROOT).as_posix())
    paths.extend(extra)
    return paths


def code_hash(paths, root=ROOT):
    """sha256[:12] of the working-tree content of the files under ``paths``.

    The files are those git tracks or would track (untracked, not ignored), so an
    uncommitted edit, a new file or a deleted file all change the hash; the hash is of
    (path, content) pairs in path order, so it does not depend on the commit or on file
    times. Compiled caches (``__pycache__``) are ignored by git and never counted.
    """
    root = Path(root)
    h = hashlib.sha256()
    for rel in _listed_files(list(paths), root):
        if rel.endswith(_SKIP_SUFFIXES):
            continue
        try:
            data = (root / rel).read_bytes()
        except OSError:  # listed by git, deleted in the working tree
            continue
        h.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()[:12]


# ------------------------------------------------------------------------------- machine

def machine():
    """CPU model, cores, memory, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
            "memory_gib": None if mem is None else round(mem / 2**30, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "host": platform.node()}


def now():
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- other load

class OtherLoad:
    """CPU used by processes outside this benchmark's process tree during a timed run.

    Machine busy CPU time (psutil.cpu_times, all but idle and iowait) minus the CPU time
    of this process and all its descendants, sampled every ``interval`` seconds by a
    thread: live descendants are read from /proc (user + system + their reaped
    children's), ended ones through our own reaped-children times. ``cores()`` is the
    mean over the run in cores; ``stop()`` also gives the highest sample.
    """

    def __init__(self, label="run", interval=0.5, record=True):
        import psutil
        self._ps = psutil
        self.label = label
        self._cores = psutil.cpu_count() or 1
        self.record = record
        self.interval = interval
        self._me = psutil.Process()
        self._procs, self._last = {}, {}
        self.samples = []
        self._halt = threading.Event()
        self.t0 = time.monotonic()
        self.busy0, self.ours0 = self._busy(), self._ours()
        self.started = now()
        self._result = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _busy(self):
        c = self._ps.cpu_times()
        # guest time is already inside user time on Linux; idle, iowait and steal are not
        # this machine's work
        return sum(getattr(c, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq"))

    def _ours(self):
        ps = self._ps
        t = self._me.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        try:
            kids = self._me.children(recursive=True)
        except (ps.NoSuchProcess, ps.AccessDenied):
            kids = []
        procs, last = {}, {}
        for k in kids:
            k = self._procs.get(k.pid, k)
            try:
                c = k.cpu_times()
                last[k.pid] = c.user + c.system + c.children_user + c.children_system
            except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                # still listed (e.g. a zombie not yet reaped): its last reading, until its
                # time moves into our reaped-children times
                if k.pid not in self._last:
                    continue
                last[k.pid] = self._last[k.pid]
            procs[k.pid] = k
            total += last[k.pid]
        self._procs, self._last = procs, last
        return total

    def _run(self):
        t, busy, ours = self.t0, self.busy0, self.ours0
        while not self._halt.wait(self.interval):
            t1, busy1, ours1 = time.monotonic(), self._busy(), self._ours()
            if t1 > t:  # clamped: accounting lags at process exits make single samples noisy
                self.samples.append(min(float(self._cores),
                                        max(0.0, ((busy1 - busy) - (ours1 - ours)) / (t1 - t))))
            t, busy, ours = t1, busy1, ours1

    def cores(self):
        """Mean other load in cores since the start (stops the sampler)."""
        return self.stop()["other_cores"]

    def stop(self):
        if self._result is None:
            self._halt.set()
            self._thread.join()
            dt = max(time.monotonic() - self.t0, 1e-9)
            other = (self._busy() - self.busy0) - (self._ours() - self.ours0)
            self._result = {
                "label": self.label, "started": self.started, "seconds": round(dt, 4),
                "other_cores": round(max(0.0, other / dt), 4),
                "other_cores_max": round(max(self.samples), 4) if self.samples else None,
                "samples": len(self.samples)}
            if self.record:
                LOADS.append(self._result)
        return self._result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------------------- the result

def table(columns, rows, notes=(), title=None):
    """A table for render.py: ``columns`` = [(title, format spec), ...] (spec for
    ``format()``, e.g. ",d", ".2f", ".1%"; "" for text), ``rows`` = lists of raw values
    (None renders as "-"), ``notes`` = lines printed under it."""
    return {"title": title, "columns": [list(c) for c in columns],
            "rows": [list(r) for r in rows], "notes": list(notes)}


def _jsonable(x):
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)


def write_result(name, figures, *, tables=None, script=None, extra_paths=(), quick=False,
                 started=None, hash_at_start=None, out_dir=None, argv=None):
    """Write ``benchmarks/results/NAME.json`` (or ``out_dir/NAME.json``); returns its path.

    figures : dict of everything measured (raw values, JSON-serialisable)
    tables : {table name: :func:`table`} rendered into benchmarks/README.md
    script : the benchmark script's path (its content is part of the code hash)
    extra_paths : more paths the code hash covers (helper modules the script uses)
    quick : the run used ``--quick`` (small inputs): never publishable figures
    hash_at_start : code hash when the benchmark started; a difference is recorded
    """
    paths = hashed_paths(script, extra_paths)
    digest = code_hash(paths)
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = bool(subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", *paths],
            capture_output=True, text=True, timeout=30).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    argv = list(sys.argv if argv is None else argv)
    res = {
        "name": name,
        "quick": bool(quick),
        "command": shlex.join([sys.executable, *argv]),
        "cwd": os.getcwd(),
        "started": started,
        "finished": now(),
        "machine": machine(),
        "code_hash": digest,
        "code_hash_at_start": hash_at_start,
        "code_changed_during_run": None if hash_at_start is None else hash_at_start != digest,
        "hashed_paths": paths,
        "git_commit": commit,
        "git_dirty": dirty,
        "timed_runs": list(LOADS),
        "other_cores_max": max((r["other_cores"] for r in LOADS), default=None),
        "tables": tables or {},
        "figures": figures,
    }
    out = Path(out_dir) if out_dir else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(res, indent=1, default=_jsonable) + "\n")
    tmp.replace(path)
    print(f"{name}: results written to {path} (code {digest}"
          f"{', QUICK' if quick else ''})", file=sys.stderr)
    return path


class Recorder:
    """What a benchmark needs from this module in one object: its start time and code
    hash, then :meth:`write`. ``Recorder(__file__, args)`` reads ``args.quick`` and
    ``args.results`` (the results folder) when present."""

    def __init__(self, script, args=None, extra_paths=()):
        self.script = script
        self.extra_paths = tuple(extra_paths)
        self.started = now()
        self.quick = bool(getattr(args, "quick", False))
        self.out_dir = getattr(args, "results", None)
        self.hash = code_hash(hashed_paths(script, self.extra_paths))

    def write(self, name, figures, tables=None):
        return write_result(name, figures, tables=tables, script=self.script,
                            extra_paths=self.extra_paths, quick=self.quick,
                            started=self.started, hash_at_start=self.hash,
                            out_dir=self.out_dir)


def add_arguments(parser, quick_help=None):
    """--results DIR (where NAME.json goes) and, with ``quick_help``, --quick."""
    parser.add_argument("--results", type=Path, default=None,
                        help=f"folder for the results JSON (default {RESULTS.relative_to(ROOT)})")
    if quick_help:
        parser.add_argument("--quick", action="store_true", help=quick_help)
