"""Benchmark of the corpus → vocab → cooc pipeline on the shared corpus.

Usage::

    .venv/bin/python benchmarks/bench_cooc.py [--data DIR] [--out DIR] [--repeat N]

Every pipeline configuration runs as a fresh ``wsi run`` subprocess into a
temporary run directory (created under ``--out``, default the system temp
directory, and deleted afterwards). Stage times come from the run's
``manifest.json``; peak memory is the sum of the RSS of the whole process tree
(``wsi`` and its worker processes), sampled from this process every ~20 ms.

Measured:

1. 1 and 2 workers (``run.workers``) on the six corpus files at
   ``cooc.window=10``: seconds per stage, tokens/s of the cooc stage and of
   corpus+vocab+cooc, the same per core, and the 1 → 2 worker speed-up.
2. Peak memory of the corpus once and repeated 4x (same distinct pairs).
3. A plain numpy offset-loop count run here, on the run's tokenised corpus
   encoded with the run's vocabulary, checked equal to the pipeline's
   ``cooc/`` output.
4. GloVe's ``vocab_count`` + ``cooccur`` (built from ../shared/reference/glove into
   a cache folder by benchmarks/references.py; skipped with the reason when it
   cannot be built), measured in the same run on the same text: the corpus
   stage's output (lowercased tokens separated by spaces, one document per line),
   min_count and window as the pipeline's, symmetric, 1/d weights. Ratios of
   equal work: GloVe seconds / the pipeline's corpus+vocab+cooc stage seconds and
   / its process wall time, for 1 and 2 workers. The runs count only
   (``run.report=false``, as GloVe writes no report); 2-worker runs with the
   default report.html are timed as well and reported beside.

Results go to benchmarks/results/cooc.json (benchmarks/results.py); ``--quick``
uses two small files and one run per configuration, to check the script.

Targets are reported, never asserted: the exit status is 0 unless a run fails.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/corpora"
FILES = ("abc_news", "brown", "inaugural", "movie_reviews", "state_union", "webtext")
WINDOW = 10
SAMPLE_SECONDS = 0.02

QUICK_FILES = ("inaugural", "state_union")

TARGETS = {"cooc_tokens_per_s_per_core": 1.0e6, "speedup_1_to_2": 1.7, "mem_ratio_4x": 1.2}
# raw text -> co-occurrence counts, GloVe (vocab_count + cooccur) seconds / the pipeline's
GLOVE_TARGETS = {("stage", 2): 2.0, ("wall", 2): 1.3, ("stage", 1): 1.0}
REPORT_ON = ("run.report=true",)  # the default: report.html rewritten after the run

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import references  # noqa: E402
import results  # noqa: E402
from results import OtherLoad  # noqa: E402,F401  (other benchmarks import it from here)


# ----------------------------------------------------------------------------------------
# Running ``wsi run`` with a memory sampler
# ----------------------------------------------------------------------------------------

def _wsi_command():
    exe = Path(sys.executable).with_name("wsi")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pipeline"]


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants every ~20 ms.

    Reading a process's RSS costs ~0.01 ms, but finding the descendants scans every
    process on the machine (~0.75 ms): done each 20 ms it took 4% of a core from the
    measured program, which a program using every core pays and a one-core one
    does not. So the descendants are looked up every ``RESCAN`` samples (a new
    worker is seen within ~0.1 s of its start) and the known ones read every sample.
    """

    RESCAN = 5

    def __init__(self, pid, interval=SAMPLE_SECONDS):
        super().__init__(daemon=True)
        import psutil
        self._psutil = psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.samples = []  # (monotonic time, bytes)
        self._halt = threading.Event()
        self._procs = {pid: self.root}
        self._calls = 0

    def _tree(self):
        ps = self._psutil
        self._calls += 1
        if (self._calls - 1) % self.RESCAN:
            return list(self._procs.values())
        try:
            kids = self.root.children(recursive=True)
        except (ps.NoSuchProcess, ps.AccessDenied):
            kids = []
        alive = {self.root.pid: self.root}
        for k in kids:
            alive[k.pid] = self._procs.get(k.pid, k)  # keep Process objects: cheaper
        self._procs = alive
        return alive.values()

    def run(self):
        ps = self._psutil
        while not self._halt.is_set():
            total = 0
            for p in self._tree():
                try:
                    total += p.memory_info().rss
                except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                    pass
            if total:
                self.samples.append((time.monotonic(), total))
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()

    def peak(self, t0=float("-inf"), t1=float("inf")):
        vals = [b for t, b in self.samples if t0 < t <= t1]
        return max(vals) if vals else 0


def run_label(cmd):
    """A short label of a command for the results' timed runs."""
    words = [str(c) for c in cmd[1:] if not str(c).startswith("corpus.paths=")]
    return " ".join(w for w in words if w != "--set")[:160]


def run_timed(cmd, env=None):
    """Run a command in the project root: (wall seconds, other processes' load in cores,
    stderr); a failure raises RuntimeError with the end of its stderr."""
    meter = OtherLoad(label=run_label(cmd))
    t = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       env=None if env is None else {**os.environ, **env})
    wall = time.monotonic() - t
    other = meter.cores()
    if r.returncode:
        raise RuntimeError(f"`{' '.join(map(str, cmd))}` exited with {r.returncode}:\n"
                           f"{r.stderr.strip()[-2000:]}")
    return wall, other, r.stderr


def wait_quiet(budget, log, threshold=0.15, max_wait=30.0):
    """Wait (up to ``max_wait`` s, within the remaining ``budget``) until the machine is idle.

    Returns the seconds waited; ``budget`` is a one-element list, decremented.
    """
    import psutil
    waited = 0.0
    limit = min(max_wait, budget[0])
    told = False
    while waited < limit:
        t = time.monotonic()
        busy = psutil.cpu_percent(interval=0.5) / 100 * (os.cpu_count() or 1)
        waited += time.monotonic() - t
        if busy < threshold:
            break
        if not told:
            log(f"machine busy ({busy:.1f} cores used by other processes); waiting up to "
                f"{limit:.0f}s for it to be idle")
            told = True
    budget[0] -= waited
    return waited


def run_sampled(cmd, sampler_class):
    """Run ``cmd`` in the project root while ``sampler_class(pid)`` samples its memory.

    Returns (wall seconds, other processes' load in cores, events) where events maps
    each stage to when its ``<stage>: done in`` line arrived on stderr, and
    ``events[None]`` is the stopped sampler. A failure raises RuntimeError with the end
    of stderr.
    """
    meter = OtherLoad(label=run_label(cmd))
    t_start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sampler = sampler_class(proc.pid)
    sampler.start()
    events, err_lines = {}, []

    def read_stderr():
        for line in proc.stderr:  # Python's stderr is line-buffered: lines arrive live
            err_lines.append(line.rstrip("\n"))
            stage, sep, _rest = line.partition(": done in ")
            if sep:
                events[stage.strip()] = time.monotonic()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        stdout = proc.stdout.read()
        code = proc.wait()
    except BaseException:  # interrupted: do not leave our wsi run behind
        proc.kill()
        proc.wait()
        sampler.stop()
        raise
    wall = time.monotonic() - t_start
    reader.join()
    sampler.stop()
    other = meter.cores()
    if code != 0:
        tail = "\n".join(err_lines[-15:])
        raise RuntimeError(f"`{' '.join(map(str, cmd))}` exited with {code}:\n{tail}\n{stdout}")
    events[None] = sampler
    return wall, other, events


def run_wsi(out_root, name, paths, workers, scheduler, extra_sets=()):
    """One ``wsi run`` in a fresh subprocess, sampled; returns a result dict."""
    cmd = [*_wsi_command(), "run", "--out", str(out_root), "--name", name,
           "--stages", "cooc", "--scheduler", scheduler, "--quiet",
           "--set", f"corpus.paths={json.dumps([str(p) for p in paths])}",
           "--set", f"cooc.window={WINDOW}", "--set", f"run.workers={workers}",
           # Counting only, as GloVe's tools do: no report.html (its plots add ~0.5 s;
           # measured separately, REPORT_ON)
           "--set", "run.report=false",
           *[a for s in extra_sets for a in ("--set", s)]]
    wall, other, events = run_sampled(cmd, TreeSampler)
    sampler = events.pop(None)
    manifest = json.loads((Path(out_root) / name / "manifest.json").read_text())
    st = manifest["stages"]
    seconds = {s: float(st[s]["seconds"]) for s in ("corpus", "vocab", "cooc")}
    # Peak memory per stage: between the "done" lines that wsi logs as it goes.
    stage_peaks, prev = {}, float("-inf")
    for s in ("corpus", "vocab", "cooc"):
        end = events.get(s, float("inf"))
        stage_peaks[s] = sampler.peak(prev, end) / 2**20
        prev = end
    return {"workers": workers, "files": len(paths), "wall": wall, "seconds": seconds,
            "tokens": int(st["corpus"]["counters"]["tokens"]),
            "nnz": int(st["cooc"]["counters"]["nnz"]),
            "pairs": int(st["cooc"]["counters"]["pairs"]),
            "vocabulary": int(st["cooc"]["counters"]["vocabulary"]),
            "peak_mb": sampler.peak() / 2**20, "stage_peak_mb": stage_peaks,
            "samples": len(sampler.samples), "other_load": other,
            "run_dir": str(Path(out_root) / name)}


def fresh_run(parent, label, paths, workers, scheduler, keep=False, extra_sets=()):
    """Run into a new temporary directory; deleted unless ``keep`` (caller deletes it)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"wsi-bench-{label}-", dir=parent))
    try:
        res = run_wsi(tmp, "bench", paths, workers, scheduler, extra_sets)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    res["tmp"] = str(tmp)
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


EXTRA_HASHED = ("benchmarks/references.py", "benchmarks/results.py")


def repeated_corpus(paths, times, dest):
    """``times`` copies of the corpus files under ``dest`` (copy k in ``dest/k/``), as a
    list of paths: the corpus stage reads a path listed twice only once, so a repeated
    corpus needs distinct files."""
    out = []
    for k in range(times):
        d = Path(dest) / str(k)
        d.mkdir(parents=True, exist_ok=True)
        for p in paths:
            q = d / Path(p).name
            if not q.exists():
                shutil.copyfile(p, q)
            out.append(q)
    return out


def code_hash():
    """Code hash of what this benchmark measures (benchmarks/results.py: pipeline/,
    tasks/, conf/, pyproject.toml, this script and its helpers; working-tree content)."""
    return results.code_hash(results.hashed_paths(__file__, EXTRA_HASHED))


def load_min_count():
    """vocab.min_count of conf/default.yaml (the 1x runs use it unchanged)."""
    from pipeline.config import load_config
    return int(load_config().vocab.min_count)


def median_run(runs):
    """The run whose corpus+vocab+cooc time is the median (lower middle when even)."""
    ordered = sorted(runs, key=lambda r: sum(r["seconds"].values()))
    return ordered[(len(ordered) - 1) // 2]


# ----------------------------------------------------------------------------------------
# Reference: plain numpy offset loop
# ----------------------------------------------------------------------------------------

class SelfSampler(TreeSampler):
    """RSS of this (the benchmark) process only."""

    def _tree(self):
        return [self.root]


def load_encoded(run_dir):
    """The run's tokenised corpus encoded with the run's vocabulary (one array)."""
    import numpy as np
    import pyarrow.parquet as pq

    from pipeline.artifacts.corpus import read_lines, shard_paths
    from tasks.counting import encode_lines

    vocab = pq.read_table(Path(run_dir) / "vocab.parquet")
    words = vocab["word"].combine_chunks()
    all_ids, all_doc_lengths = [], []
    for shard in shard_paths(run_dir):
        ids, offsets = encode_lines(read_lines(str(shard)), words)
        all_ids.append(ids)
        all_doc_lengths.append(np.diff(offsets))
    ids = np.concatenate(all_ids).astype(np.int32, copy=False)
    lengths = np.concatenate(all_doc_lengths)
    doc = np.repeat(np.arange(lengths.size, dtype=np.int32), lengths)
    return ids, doc, len(words)


def offset_loop_cooc(ids, doc, n_words, window):
    """Plain numpy: for each offset d, pairs (ids[:-d], ids[d:]) in the same document and
    the vocabulary, accumulated into one scipy COO → CSR, then symmetrised (M + M^T)."""
    import numpy as np
    import scipy.sparse as sp

    rows, cols, wts = [], [], []
    for d in range(1, window + 1):
        a, b = ids[:-d], ids[d:]
        m = (doc[:-d] == doc[d:]) & (a >= 0) & (b >= 0)
        rows.append(a[m])
        cols.append(b[m])
        wts.append(np.full(int(m.sum()), 1.0 / d))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    w = np.concatenate(wts)
    del rows, cols, wts
    shape = (n_words, n_words)
    counts = sp.coo_array((np.ones(r.size, dtype=np.int64), (r, c)), shape=shape).tocsr()
    weighted = sp.coo_array((w, (r, c)), shape=shape).tocsr()
    del r, c, w
    counts = (counts + counts.T).tocsr()
    weighted = (weighted + weighted.T).tocsr()
    counts.sort_indices()
    weighted.sort_indices()
    return counts, weighted


def read_pipeline_cooc(run_dir, n_words):
    import numpy as np
    import pyarrow.parquet as pq
    import scipy.sparse as sp

    t = pq.read_table(Path(run_dir) / "cooc", columns=["row", "col", "count", "weighted"])
    row = t["row"].to_numpy()
    col = t["col"].to_numpy()
    shape = (n_words, n_words)
    counts = sp.coo_array((t["count"].to_numpy(), (row, col)), shape=shape).tocsr()
    weighted = sp.coo_array((t["weighted"].to_numpy().astype(np.float64), (row, col)),
                            shape=shape).tocsr()
    counts.sort_indices()
    weighted.sort_indices()
    return counts, weighted, t.num_rows


def compare(ref, got):
    """(equal, message): counts identical, weights equal to float32 precision."""
    import numpy as np

    (rc, rw), (gc, gw) = ref, got
    if rc.nnz != gc.nnz:
        return False, f"nnz differs: reference {rc.nnz:,} vs pipeline {gc.nnz:,}"
    if not (np.array_equal(rc.indptr, gc.indptr) and np.array_equal(rc.indices, gc.indices)):
        return False, "sparsity patterns differ"
    bad = int(np.count_nonzero(rc.data != gc.data))
    if bad:
        return False, f"{bad:,} counts differ"
    if not (np.array_equal(rw.indptr, gw.indptr) and np.array_equal(rw.indices, gw.indices)):
        return False, "weighted sparsity patterns differ"
    err = float(np.max(np.abs(rw.data - gw.data) / np.maximum(np.abs(rw.data), 1e-30)))
    if err > 1e-6:
        return False, f"weighted values differ (max relative error {err:.2e})"
    return True, (f"equal: {rc.nnz:,} non-zeros, {int(rc.data.sum()):,} pairs; weighted max "
                  f"relative error {err:.1e} (stored as float32)")


def run_reference(run_dir):
    sampler = SelfSampler(os.getpid())
    sampler.start()
    t0 = time.perf_counter()
    ids, doc, n_words = load_encoded(run_dir)
    t1 = time.perf_counter()
    ref = offset_loop_cooc(ids, doc, n_words, WINDOW)
    t2 = time.perf_counter()
    sampler.stop()
    got = read_pipeline_cooc(run_dir, n_words)
    ok, msg = compare(ref, got[:2])
    return {"tokens": int(ids.size), "encode_s": t1 - t0, "count_s": t2 - t1,
            "seconds": t2 - t0, "peak_mb": sampler.peak() / 2**20, "equal": ok,
            "check": msg, "nnz": int(ref[0].nnz)}


# ----------------------------------------------------------------------------------------
# Reference: GloVe vocab_count + cooccur, built from its public source, same text
# ----------------------------------------------------------------------------------------

def run_tool(cmd, stdin_path, stdout_path, cwd):
    """Run one GloVe tool with files as stdin/stdout, sampling its RSS; returns wall
    seconds, peak MB, other load and stderr."""
    meter = OtherLoad(label=" ".join(Path(c).name for c in cmd[:1]))
    with open(stdin_path, "rb") as fin, open(stdout_path, "wb") as fout:
        t = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE,
                                cwd=cwd)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        err = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
        wall = time.monotonic() - t
        sampler.stop()
    other = meter.cores()
    if code:
        raise RuntimeError(f"`{' '.join(cmd)}` exited with {code}: {err.strip()[-500:]}")
    return {"seconds": wall, "peak_mb": sampler.peak() / 2**20, "other_load": other,
            "stderr": err[-2000:]}


def run_glove(tools, text, work, min_count, window):
    """vocab_count then cooccur on ``text`` in the folder ``work``: seconds of each,
    their peaks, tokens counted, vocabulary size and non-zeros written."""
    vocab, cooc = Path(work) / "vocab.txt", Path(work) / "cooccurrence.bin"
    v = run_tool([tools["vocab_count"], "-min-count", str(min_count), "-verbose", "2"],
                 text, vocab, work)
    c = run_tool([tools["cooccur"], "-window-size", str(window), "-symmetric", "1",
                  "-vocab-file", str(vocab), "-memory", "4.0", "-verbose", "2",
                  "-overflow-file", str(Path(work) / "overflow")], text, cooc, work)
    tokens = None
    for line in v["stderr"].replace("\033[0G", "\n").splitlines():
        if line.startswith("Processed ") and line.rstrip().endswith("tokens."):
            tokens = int(line.split()[1])
    res = {"vocab_count_s": v["seconds"], "cooccur_s": c["seconds"],
           "seconds": v["seconds"] + c["seconds"],
           "peak_mb": max(v["peak_mb"], c["peak_mb"]),
           "other_load": max(v["other_load"], c["other_load"]), "tokens": tokens,
           "vocabulary": sum(1 for _ in open(vocab, "rb")),
           "nnz": cooc.stat().st_size // 16}  # CREC: int, int, double
    cooc.unlink()
    return res


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------

def _m(x):
    return f"{x / 1e6:.2f}M"


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r):
        return "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                         for i, (v, w) in enumerate(zip(r, widths)))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), sep, *[fmt(r) for r in rows]])


def pipeline_row(label, r, ref):
    s = r["seconds"]
    total = s["corpus"] + s["vocab"] + s["cooc"]
    cooc_tps = r["tokens"] / s["cooc"]
    total_tps = r["tokens"] / total
    w = r["workers"]
    return [label, w, r["tokens"], s["corpus"], s["vocab"], s["cooc"], total, r["wall"],
            cooc_tps / 1e6, total_tps / 1e6, cooc_tps / w / 1e6, total_tps / w / 1e6,
            r["peak_mb"], cooc_tps / (ref["tokens"] / ref["seconds"]) if ref else None]


COLUMNS = [("configuration", ""), ("workers", "d"), ("tokens", ",d"), ("corpus s", ".2f"),
           ("vocab s", ".2f"), ("cooc s", ".2f"), ("c+v+c s", ".2f"), ("process wall s", ".2f"),
           ("cooc M tok/s", ".2f"), ("c+v+c M tok/s", ".2f"), ("cooc M tok/s/core", ".2f"),
           ("c+v+c M tok/s/core", ".2f"), ("peak MB", ".0f"), ("cooc vs numpy", ".2f")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"directory holding the corpus files (default {DEFAULT_DATA})")
    p.add_argument("--out", type=Path, default=None,
                   help="parent directory for the temporary run directories (default: the "
                        "system temp directory); each is deleted after its run")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per timed configuration; the median run is reported (default 3)")
    p.add_argument("--scheduler", default="auto", help="wsi --scheduler (default auto)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--max-wait", type=float, default=90.0,
                   help="total seconds to wait, before runs, for other processes to leave "
                        "the CPUs idle (default 90; 0 = never wait)")
    results.add_arguments(p, quick_help="two small files, one run per configuration: checks "
                                        "the script end to end; figures are not publishable")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if args.quick:
        args.repeat, args.max_wait = 1, 0.0
    rec = results.Recorder(__file__, args, EXTRA_HASHED)
    files = QUICK_FILES if args.quick else FILES

    paths = [args.data / f"{f}.txt" for f in files]
    missing = [str(x) for x in paths if not x.is_file()]
    if missing:
        print(f"bench_cooc: skipped: corpus data not found ({', '.join(missing)}); "
              f"pass --data DIR holding {', '.join(f + '.txt' for f in files)}")
        return 0
    try:
        import psutil  # noqa: F401
    except ImportError:
        print("bench_cooc: skipped: psutil is not installed (needed for peak memory)")
        return 0
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)

    t_bench = time.monotonic()
    code_start = code_hash()
    log = lambda msg: print(f"[{time.monotonic() - t_bench:6.1f}s] {msg}", file=sys.stderr,
                            flush=True)
    # Warm the OS page cache with the corpus, and numba's on-disk cache (tasks/__pycache__)
    # with one tiny run, so neither disk reads nor JIT compilation are timed below.
    for x in paths:
        x.read_bytes()
    log("warm-up: tiny run (numba compile/cache) on inaugural.txt")
    fresh_run(args.out, "warmup", [args.data / "inaugural.txt"], 1, args.scheduler)

    wait_budget = [args.max_wait]

    def bench(label, files, workers, keep=False, extra_sets=()):
        wait_quiet(wait_budget, log)
        r = fresh_run(args.out, label.split(",")[0].replace(" ", ""), files, workers,
                      args.scheduler, keep=keep, extra_sets=extra_sets)
        log(f"{label}: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["seconds"].items()) +
            f", peak {r['peak_mb']:.0f} MB, other load {r['other_load']:.2f} cores")
        return r

    try:
        tools = references.glove_tools()
        glove_skip = None
    except references.Skip as e:
        tools, glove_skip = None, str(e)
        log(f"GloVe reference skipped: {glove_skip}")
    base_min = load_min_count()
    runs = {1: [], 2: []}
    glove_runs = []
    keep = None  # the first 2-worker run directory, kept for the references
    try:
        for i in range(args.repeat):
            for w in (1, 2):
                want_keep = keep is None and w == 2
                r = bench(f"{w} worker(s), run {i + 1}/{args.repeat}", paths, w,
                          keep=want_keep)
                if want_keep:
                    keep = r
                runs[w].append(r)
        runs_report = [bench(f"2 workers, with report.html, run {i + 1}/{args.repeat}",
                             paths, 2, extra_sets=REPORT_ON) for i in range(args.repeat)]
        log("numpy offset-loop reference on the 2-worker run's corpus and vocabulary")
        wait_quiet(wait_budget, log)
        meter = OtherLoad(label="numpy offset loop")
        ref = run_reference(keep["run_dir"])
        ref["other_load"] = meter.cores()
        log(f"reference: {ref['seconds']:.2f}s; {ref['check']}")
        if tools:
            from pipeline.artifacts.corpus import shard_paths
            gdir = Path(keep["tmp"]) / "glove"
            gdir.mkdir()
            text = references.concat_shards(shard_paths(keep["run_dir"]), gdir / "corpus.txt")
            text.read_bytes()  # page cache, as for the pipeline's input
            for i in range(args.repeat):
                wait_quiet(wait_budget, log)
                g = run_glove(tools, text, gdir, base_min, WINDOW)
                glove_runs.append(g)
                log(f"GloVe run {i + 1}/{args.repeat}: vocab_count {g['vocab_count_s']:.2f}s + "
                    f"cooccur {g['cooccur_s']:.2f}s, peak {g['peak_mb']:.0f} MB, other load "
                    f"{g['other_load']:.2f} cores")
    finally:
        if keep is not None:
            shutil.rmtree(keep["tmp"], ignore_errors=True)
    # A word seen c times in the corpus is seen 4c times in the 4x corpus: the same
    # vocabulary (hence the same distinct pairs) needs min_count scaled by 4 as well.
    same_vocab = [f"vocab.min_count={4 * base_min}"]
    copies = Path(tempfile.mkdtemp(prefix="wsi-bench-4x-", dir=args.out))
    paths4 = repeated_corpus(paths, 4, copies)
    runs4 = [bench(f"4x corpus, 2 workers, min_count {4 * base_min}, run {i + 1}/"
                   f"{args.repeat}", paths4, 2, extra_sets=same_vocab)
             for i in range(args.repeat)]
    # The naive 4x run (min_count unchanged): the vocabulary, and the pairs, grow.
    r4n = bench(f"4x corpus, 2 workers, min_count {base_min} (1 run)", paths4, 2)

    shutil.rmtree(copies, ignore_errors=True)
    r1, r2, r4 = median_run(runs[1]), median_run(runs[2]), median_run(runs4)
    # Peak memory is deterministic enough to take the worst run of each configuration.
    peak1x = max(r["peak_mb"] for r in runs[2])
    peak4x = max(r["peak_mb"] for r in runs4)
    g = sorted(glove_runs, key=lambda x: x["seconds"])[(len(glove_runs) - 1) // 2] \
        if glove_runs else None

    rows = [pipeline_row("wsi, 1x corpus, 1 worker", r1, ref),
            pipeline_row("wsi, 1x corpus, 2 workers", r2, ref),
            pipeline_row(f"wsi, 4x corpus, 2 workers, min_count {4 * base_min}", r4, ref),
            pipeline_row(f"wsi, 4x corpus, 2 workers, min_count {base_min} *", r4n, ref),
            ["numpy offset loop (cooc only)", 1, ref["tokens"], None, None, ref["seconds"],
             None, None, ref["tokens"] / ref["seconds"] / 1e6, None,
             ref["tokens"] / ref["seconds"] / 1e6, None, ref["peak_mb"], 1.0]]
    if g:
        rows.append(["GloVe vocab_count + cooccur", 1, g["tokens"], None, g["vocab_count_s"],
                     g["cooccur_s"], g["seconds"], g["seconds"],
                     g["tokens"] / g["cooccur_s"] / 1e6, g["tokens"] / g["seconds"] / 1e6,
                     g["tokens"] / g["cooccur_s"] / 1e6, g["tokens"] / g["seconds"] / 1e6,
                     g["peak_mb"], g["tokens"] / g["cooccur_s"] / (ref["tokens"] / ref["seconds"])])

    s1, s2 = r1["seconds"], r2["seconds"]
    speed_cooc = s1["cooc"] / s2["cooc"]
    speed_total = sum(s1.values()) / sum(s2.values())
    speed_stage = {k: s1[k] / s2[k] for k in s1}
    per_core = r2["tokens"] / s2["cooc"] / 2
    per_core1 = r1["tokens"] / s1["cooc"]
    mem_ratio = peak4x / peak1x

    def verdict(ok):
        return "met" if ok else "MISSED"

    wall = {w: statistics.median(r["wall"] for r in rs) for w, rs in
            ((1, runs[1]), (2, runs[2]), ("4x", runs4), ("report", runs_report))}
    # raw text -> co-occurrence counts: GloVe seconds / the pipeline's (> 1: pipeline faster)
    glove_rows, glove_notes = [], []
    if g:
        for w, r in ((1, r1), (2, r2)):
            stage = sum(r["seconds"].values())
            glove_rows.append([w, r["tokens"], g["tokens"], stage, wall[w], g["vocab_count_s"],
                               g["cooccur_s"], g["seconds"], g["seconds"] / stage,
                               g["seconds"] / wall[w], r["peak_mb"], g["peak_mb"]])
        for (kind, w), target in GLOVE_TARGETS.items():
            r = r1 if w == 1 else r2
            mine = sum(r["seconds"].values()) if kind == "stage" else wall[w]
            ratio = g["seconds"] / mine
            glove_notes.append(f"target: {w} worker(s), {kind} time >= {target}x GloVe: "
                               f"{ratio:.2f}x -> {verdict(ratio >= target)}")
        glove_notes.append(
            f"pipeline runs count only (`run.report=false`: GloVe writes no report); with "
            f"report.html and its plots (the default) the 2-worker process wall is "
            f"{wall['report']:.2f} s, {g['seconds'] / wall['report']:.2f}x GloVe")
        glove_notes.append(
            f"vocabulary: pipeline {r2['vocabulary']:,} words, GloVe {g['vocabulary']:,}; "
            f"tokens read: pipeline {r2['tokens']:,}, GloVe {g['tokens'] or 0:,}; non-zeros "
            f"written: pipeline {r2['nnz']:,}, GloVe {g['nnz']:,} (GloVe drops out-of-"
            "vocabulary tokens before windowing, so its windows reach further)")
    else:
        glove_notes.append(f"GloVe not measured: {glove_skip}")

    out = []
    out.append(f"bench_cooc: cooc.window={WINDOW}, scheduler={args.scheduler}, corpus = "
               f"{', '.join(f + '.txt' for f in files)} ({args.data})"
               + (" -- QUICK run" if args.quick else ""))
    out.append(f"machine: {os.cpu_count()} cores, "
               f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}, "
               f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    code_end = code_hash()
    out.append(f"code measured: {code_start}" + ("" if code_end == code_start else
               f" at start, {code_end} at end: the code CHANGED while the benchmark ran, so "
               "rows may mix versions; rerun"))
    out.append("")
    out.append(table([[("-" if v is None else format(v, c[1]) if c[1] else str(v))
                       for v, c in zip(row, COLUMNS)] for row in rows], [c[0] for c in COLUMNS]))
    out.append("")
    main_notes = [
        f"median of {args.repeat} fresh `wsi run` subprocesses per wsi row (numba cache warmed "
        "first; stage seconds from manifest.json; process wall includes interpreter start and "
        "imports); GloVe: median of its runs, wall time of each tool",
        "peak MB = max of the summed RSS of the process and its children, sampled every 20 ms; "
        "numpy row: RSS of the benchmark process",
        f"* default min_count: the 4x corpus has a larger vocabulary ({r4n['vocabulary']:,} vs "
        f"{r2['vocabulary']:,}) and more distinct pairs (nnz {r4n['nnz']:,} vs {r2['nnz']:,}); "
        "for information",
        f"target: cooc tokens/s per core >= 1.00M: 2 workers {_m(per_core)}, 1 worker "
        f"{_m(per_core1)} -> "
        f"{verdict(min(per_core, per_core1) >= TARGETS['cooc_tokens_per_s_per_core'])}",
        f"target: speed-up 1 -> 2 workers >= 1.7x: cooc {speed_cooc:.2f}x, corpus+vocab+cooc "
        f"{speed_total:.2f}x (corpus {speed_stage['corpus']:.2f}x, vocab "
        f"{speed_stage['vocab']:.2f}x) -> {verdict(speed_cooc >= TARGETS['speedup_1_to_2'])} "
        f"(cooc), {verdict(speed_total >= TARGETS['speedup_1_to_2'])} (total)",
        f"target: peak memory 4x corpus within 20% of 1x (2 workers, worst runs): "
        f"{peak4x:.0f} / {peak1x:.0f} MB = {mem_ratio:.2f}x -> "
        f"{verdict(mem_ratio <= TARGETS['mem_ratio_4x'])} (nnz {r2['nnz']:,} vs {r4['nnz']:,}, "
        f"pairs x{r4['pairs'] / r2['pairs']:.2f})",
        f"numpy offset loop: read+encode {ref['encode_s']:.2f}s, count+CSR+symmetrise "
        f"{ref['count_s']:.2f}s; pipeline cooc/ output {ref['check']}",
    ]
    out += main_notes
    if glove_rows:
        out.append("")
        out.append("raw text -> co-occurrence counts, GloVe seconds / pipeline seconds:")
        for row in glove_rows:
            out.append(f"  {row[0]} worker(s): pipeline stages {row[3]:.2f}s, process "
                       f"{row[4]:.2f}s; GloVe {row[7]:.2f}s -> {row[8]:.2f}x (stages), "
                       f"{row[9]:.2f}x (process)")
    out += glove_notes
    out.append("")
    out.append("all runs (corpus/vocab/cooc seconds, peak MB, CPU cores used by other "
               "processes meanwhile):")
    every = [*runs[1], *runs[2], *runs_report, *runs4, r4n]
    for label, rs in (("1 worker", runs[1]), ("2 workers", runs[2]),
                      ("2w, report.html", runs_report), ("4x, 2 workers", runs4),
                      ("4x, min_count " + str(base_min), [r4n])):
        out.append(f"  {label:<16} " + "; ".join(
            f"{r['seconds']['corpus']:.2f}/{r['seconds']['vocab']:.2f}/"
            f"{r['seconds']['cooc']:.2f} wall {r['wall']:.2f} {r['peak_mb']:.0f} MB "
            f"({r['other_load']:.2f})" for r in rs))
    out.append(f"  numpy reference  other load {ref['other_load']:.2f}")
    if glove_runs:
        out.append("  GloVe            " + "; ".join(
            f"{x['vocab_count_s']:.2f}+{x['cooccur_s']:.2f} {x['peak_mb']:.0f} MB "
            f"({x['other_load']:.2f})" for x in glove_runs))
    busy = [r for r in [*every, *glove_runs] if r["other_load"] > 0.2]
    if busy or ref["other_load"] > 0.2:
        out.append(f"WARNING: other processes used > 0.2 cores during {len(busy)} runs"
                   f"{' and the reference' if ref['other_load'] > 0.2 else ''}"
                   ": timings on this machine are skewed; rerun on an idle machine")
    out.append(f"benchmark time {time.monotonic() - t_bench:.0f}s")
    print("\n".join(out))

    slim = lambda r: {k: v for k, v in r.items() if k not in ("run_dir", "tmp")}
    raw = {"window": WINDOW, "files": list(files), "code": [code_start, code_end],
           "runs_1": [slim(r) for r in runs[1]], "runs_2": [slim(r) for r in runs[2]],
           "runs_4x": [slim(r) for r in runs4], "runs_report": [slim(r) for r in runs_report],
           "run_4x_default_min_count": slim(r4n),
           "reference": ref, "glove_runs": glove_runs, "glove_tools": tools,
           "glove_skipped": glove_skip, "wall_median": {str(k): v for k, v in wall.items()},
           "speedup_cooc": speed_cooc, "speedup_total": speed_total, "mem_ratio_4x": mem_ratio}
    tables = {
        "cooc": results.table(COLUMNS, rows, main_notes),
        "cooc_vs_glove": results.table(
            [("workers", "d"), ("pipeline tokens", ",d"), ("GloVe tokens", ",d"),
             ("pipeline c+v+c s", ".2f"), ("pipeline process s", ".2f"),
             ("GloVe vocab_count s", ".2f"), ("GloVe cooccur s", ".2f"), ("GloVe s", ".2f"),
             ("GloVe / pipeline (stages)", ".2f"), ("GloVe / pipeline (process)", ".2f"),
             ("pipeline peak MB", ".0f"), ("GloVe peak MB", ".0f")],
            glove_rows, glove_notes),
    }
    rec.write("cooc", raw, tables)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
