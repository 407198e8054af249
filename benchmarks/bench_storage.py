"""Object-store overhead: corpus → vocab → cooc with corpus and output on ``s3://`` against
the same run on local disk.

Usage::

    .venv/bin/python benchmarks/bench_storage.py [--data DIR] [--repeat 3] [--workers 2]
        [--quick] [--results DIR]

The S3 endpoint is moto's server (``python -m moto.server``, started here on 127.0.0.1
and a free port, stopped at the end, as tests/servers.py does for the tests); the script
says why and exits 0 when moto's server or s3fs is not installed. Setup (not timed): the
six shared corpora (``--data``, default ``../shared/data/corpora``) are uploaded to
``s3://bench-storage/corpus/``, read once locally (page cache), and one untimed run of
each kind on one small file fills numba's on-disk cache and loads the S3 client code.

Timed, ``--repeat`` times in alternating order (local first on even repeats, S3 first on
odd ones, so a drift in the machine's load falls on both): a fresh ``wsi run`` subprocess
with the same settings, ``-c conf/small_corpus.yaml --stages cooc --scheduler auto
--set run.workers=<w> --set run.report=false``, with

- *local*: ``corpus.paths`` the local files, ``--out`` a new temporary directory;
- *s3*: ``corpus.paths`` the uploaded objects, ``--out s3://bench-storage/runs/<n>``
  (endpoint and credentials through fsspec's and boto's environment variables).

Measured per run: wall time of the subprocess, each stage's ``seconds`` from its
``manifest.json``, the peak summed RSS of the ``wsi`` process tree, the CPU seconds the
moto server used meanwhile (it runs on the same cores: part of the S3 overhead here is the
fake server's own work, which a real object store does elsewhere), and the bytes the run
left under its run directory. Reported: the median run per storage, S3 / local ratios of
wall and stage seconds. The outputs of the first pair are compared: ``vocab.parquet``
and the ``cooc`` rows (sorted by row, col) must be equal, counts bit for bit and the float
weights to rounding (max relative difference reported).

Results: benchmarks/results/storage.json, table ``storage``. Figures are reported, never
asserted: the exit status is 0 unless a run fails.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
DEFAULT_DATA = ROOT.parent / "shared/data/corpora"
FILES = ("abc_news", "brown", "inaugural", "movie_reviews", "state_union", "webtext")
QUICK_FILES = ("inaugural", "state_union")
WARMUP_FILE = "inaugural"
STAGES = ("corpus", "vocab", "cooc")
PROFILE = "conf/small_corpus.yaml"
BUCKET = "bench-storage"

for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
if str(ROOT / "tests") not in sys.path:  # tests/servers.py; last, so it shadows nothing
    sys.path.append(str(ROOT / "tests"))

import results  # noqa: E402
from bench_cooc import TreeSampler, _wsi_command, run_sampled  # noqa: E402

EXTRA_HASHED = ("benchmarks/results.py", "benchmarks/bench_cooc.py", "tests/servers.py")


def log(msg, _t0=time.monotonic()):
    print(f"[{time.monotonic() - _t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------
# moto's S3 server
# ----------------------------------------------------------------------------------------

def missing_requirement():
    """Why the benchmark cannot run here (None when it can)."""
    import importlib.util
    for mod, what in (("moto.server", "moto's S3 server (pip install 'moto[server]')"),
                      ("s3fs", "s3fs (pip install s3fs, the wsi-dask[s3] extra)")):
        try:
            found = importlib.util.find_spec(mod) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{what} is not installed"
    return None


class Moto:
    """moto's server as a child process on 127.0.0.1 (tests/servers.py's helpers)."""

    def __init__(self, log_path):
        import psutil

        import servers
        self._servers = servers
        port = servers.free_port()
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **servers.CREDENTIALS})
        try:
            servers._wait_for_port(port, self.proc, "moto.server")
        except BaseException:
            self.stop()
            raise
        self.s3 = servers.S3(f"http://127.0.0.1:{port}")
        self._ps = psutil.Process(self.proc.pid)

    def cpu_seconds(self):
        t = self._ps.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def stop(self):
        self._servers._stop([self.proc])
        self._log.close()


# ----------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------

def wsi_command(out, paths, workers):
    return [*_wsi_command(), "run", "-c", PROFILE, "--out", str(out), "--name", "bench",
            "--stages", "cooc", "--scheduler", "auto", "--quiet",
            "--set", f"corpus.paths={json.dumps([str(p) for p in paths])}",
            "--set", f"run.workers={workers}", "--set", "run.report=false"]


def run_one(kind, out, paths, workers, moto):
    """A timed ``wsi run`` into ``out`` (local directory or s3:// URL)."""
    cpu0 = moto.cpu_seconds()
    wall, other, events = run_sampled(wsi_command(out, paths, workers), TreeSampler)
    moto_cpu = moto.cpu_seconds() - cpu0
    sampler = events.pop(None)
    run_url = f"{out}/bench"
    fs = moto.s3.fs if kind == "s3" else None
    if fs is None:
        manifest = json.loads((Path(run_url) / "manifest.json").read_text())
        stored = sum(f.stat().st_size for f in Path(run_url).rglob("*")
                     if f.is_file() and not f.is_symlink())
    else:
        root = run_url.removeprefix("s3://")
        manifest = json.loads(fs.cat_file(f"{root}/manifest.json"))
        stored = sum(fs.du(root, total=False).values())
    st = manifest["stages"]
    return {"storage": kind, "run": run_url, "wall": wall, "other_load": other,
            "seconds": {s: float(st[s]["seconds"]) for s in STAGES},
            "tokens": int(st["corpus"]["counters"]["tokens"]),
            "nnz": int(st["cooc"]["counters"]["nnz"]),
            "pairs": int(st["cooc"]["counters"]["pairs"]),
            "vocabulary": int(st["cooc"]["counters"]["vocabulary"]),
            "peak_mb": sampler.peak() / 2**20, "moto_cpu_s": moto_cpu,
            "stored_bytes": stored}


def read_output(run_url, name, options):
    """A published output of a run (local path or s3:// URL) as one Arrow table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.run import storage_options
    from pipeline.storage import RunDir
    with storage_options(options):
        run = RunDir(str(run_url))
        path = run.path(name)
        parts = (sorted(p for p in run.fs.find(path) if p.endswith(".parquet"))
                 if run.fs.isdir(path) else [path])
        tables = []
        for p in parts:
            with run.fs.open(p, "rb") as f:
                tables.append(pq.read_table(f))
    t = pa.concat_tables(tables)
    return t.sort_by([("row", "ascending"), ("col", "ascending")]) if name == "cooc" else t


def compare_outputs(local_url, s3_url, options):
    """(equal, message): vocab.parquet identical; cooc row/col/count identical, float
    columns to rounding."""
    import numpy as np

    msgs, ok = [], True
    a, b = read_output(local_url, "vocab.parquet", {}), read_output(s3_url, "vocab.parquet",
                                                                    options)
    same = a.equals(b)
    ok &= same
    msgs.append(f"vocab.parquet {'identical' if same else 'DIFFERENT'} ({a.num_rows:,} words)")
    a, b = read_output(local_url, "cooc", {}), read_output(s3_url, "cooc", options)
    if a.num_rows != b.num_rows or a.schema.names != b.schema.names:
        return False, "; ".join(msgs + [f"cooc rows {a.num_rows:,} vs {b.num_rows:,} or "
                                        "columns differ"])
    worst = 0.0
    for name in a.schema.names:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        if np.issubdtype(x.dtype, np.floating):
            x, y = x.astype(np.float64), y.astype(np.float64)
            rel = np.abs(x - y) / np.maximum(np.abs(x), 1e-30)
            worst = max(worst, float(rel.max()) if rel.size else 0.0)
        elif not np.array_equal(x, y):
            ok = False
            msgs.append(f"cooc column {name} DIFFERENT")
    if worst > 1e-6:
        ok = False
    msgs.append(f"cooc {a.num_rows:,} rows: integer columns "
                f"{'identical' if ok else 'DIFFERENT'}, float columns max relative "
                f"difference {worst:.1e}")
    return ok, "; ".join(msgs)


# ----------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------

def median_run(runs):
    ordered = sorted(runs, key=lambda r: r["wall"])
    return ordered[(len(ordered) - 1) // 2]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help=f"folder of the six shared corpora (default {DEFAULT_DATA})")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per storage (default 3)")
    ap.add_argument("--workers", type=int, default=2, help="run.workers (default 2)")
    ap.add_argument("--out", type=Path, default=None,
                    help="parent of the local run directories (default the system temp folder)")
    results.add_arguments(ap, quick_help="two small files, one run per storage: checks the "
                                         "script end to end; figures not publishable")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    names = QUICK_FILES if args.quick else FILES
    if args.quick:
        args.repeat = 1
    files = [args.data / f"{n}.txt" for n in names]
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        print(f"bench_storage: skipped: corpus file(s) not found: {', '.join(absent)} "
              "(--data names their folder)")
        return 0
    why = missing_requirement()
    if why:
        print(f"bench_storage: skipped: {why}")
        return 0
    rec = results.Recorder(__file__, args, EXTRA_HASHED)

    work = Path(tempfile.mkdtemp(prefix="wsi-bench-storage-", dir=args.out))
    import servers  # tests/servers.py: needs pytest, part of the test extra
    os.environ.update(servers.CREDENTIALS)
    moto = Moto(work / "moto.log")
    runs = []
    try:
        os.environ["FSSPEC_S3_ENDPOINT_URL"] = moto.s3.endpoint  # for the wsi subprocesses
        fs = moto.s3.fs
        moto.s3.bucket(BUCKET)
        remote = []
        for f in files:
            fs.put_file(str(f), f"{BUCKET}/corpus/{f.name}")
            remote.append(f"s3://{BUCKET}/corpus/{f.name}")
            with open(f, "rb") as fh:  # page cache
                while fh.read(16 << 20):
                    pass
        log(f"setup: {len(files)} files uploaded to {moto.s3.endpoint}/{BUCKET}/corpus")
        warm = args.data / f"{WARMUP_FILE}.txt"
        log("warm-up: one untimed run of each kind on one file")
        run_one("local", work / "warm", [warm], args.workers, moto)
        run_one("s3", f"s3://{BUCKET}/warm", [f"s3://{BUCKET}/corpus/{warm.name}"],
                args.workers, moto)
        for i in range(args.repeat):
            order = ("local", "s3") if i % 2 == 0 else ("s3", "local")
            for kind in order:
                if kind == "local":
                    r = run_one("local", work / f"local-{i}", files, args.workers, moto)
                else:
                    r = run_one("s3", f"s3://{BUCKET}/runs/{i}", remote, args.workers, moto)
                r["repeat"] = i
                runs.append(r)
                log(f"{kind} #{i}: wall {r['wall']:.1f}s; " + ", ".join(
                    f"{k} {v:.2f}s" for k, v in r["seconds"].items()) +
                    f"; peak {r['peak_mb']:.0f} MB; moto CPU {r['moto_cpu_s']:.1f}s; "
                    f"other load {r['other_load']:.2f}")
        log("comparing the outputs of the first pair")
        first = {r["storage"]: r for r in runs if r["repeat"] == 0}
        equal, message = compare_outputs(first["local"]["run"], first["s3"]["run"],
                                         moto.s3.options)
        log(message)
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)

    same_counts = len({(r["tokens"], r["nnz"], r["pairs"], r["vocabulary"]) for r in runs}) == 1
    med = {k: median_run([r for r in runs if r["storage"] == k]) for k in ("local", "s3")}
    loc = med["local"]

    def ratio(a, b):
        return a / b if b else None

    cols = [("storage", ""), ("runs", "d"), ("tokens", ",d"), ("wall s", ".2f"),
            ("corpus s", ".2f"), ("vocab s", ".2f"), ("cooc s", ".2f"), ("c+v+c s", ".2f"),
            ("wall / local", ".2f"), ("c+v+c / local", ".2f"), ("cooc / local", ".2f"),
            ("peak MB", ".0f"), ("moto CPU s", ".1f"), ("stored MB", ".1f")]
    rows = []
    for kind, label in (("local", "local disk"), ("s3", "s3:// (moto server, 127.0.0.1)")):
        r = med[kind]
        s, tot = r["seconds"], sum(r["seconds"].values())
        rows.append([label, sum(x["storage"] == kind for x in runs), r["tokens"], r["wall"],
                     s["corpus"], s["vocab"], s["cooc"], tot, ratio(r["wall"], loc["wall"]),
                     ratio(tot, sum(loc["seconds"].values())),
                     ratio(s["cooc"], loc["seconds"]["cooc"]), r["peak_mb"],
                     r["moto_cpu_s"] if kind == "s3" else None, r["stored_bytes"] / 1e6])
    notes = [
        f"{len(files)} shared corpora ({', '.join(names)}); `-c {PROFILE} --stages cooc "
        f"--scheduler auto`, run.workers={args.workers}; median run (by wall) of "
        f"{args.repeat} per storage, the two storages alternating",
        "wall s = the `wsi run` subprocess (interpreter start and imports included); stage "
        "seconds from manifest.json; peak MB = summed RSS of wsi and its worker processes "
        "(the moto server not included); stored MB = bytes under the run directory "
        "(10^6 bytes)",
        "moto CPU s = CPU the moto server used during the run, on the same cores: part of "
        "the S3 overhead measured here is the fake server's own work",
        "outputs of the first pair: " + message + (" -> equal" if equal else " -> NOT EQUAL"),
        "s3 / local seconds per stage (median runs): " + ", ".join(
            f"{k} {ratio(med['s3']['seconds'][k], loc['seconds'][k]):.2f}x"
            if loc["seconds"][k] else f"{k} -" for k in STAGES),
        "tokens, nnz, pairs and vocabulary equal in every run: "
        + ("yes" if same_counts else "NO"),
        "every run (wall s / c+v+c s): " + "; ".join(
            f"{r['storage']}#{r['repeat']} {r['wall']:.2f}/{sum(r['seconds'].values()):.2f}"
            for r in runs),
    ]
    print("\n".join(notes))
    rec.write("storage", {"runs": runs, "files": list(names), "workers": args.workers,
                          "repeat": args.repeat, "equal": equal, "compare": message,
                          "same_counts": same_counts},
              {"storage": results.table(cols, rows, notes)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
