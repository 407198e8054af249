"""Sense assignment at scale: ``wsi assign`` on batches of 10^5 and 10^6 JSONL lines.

Usage::

    .venv/bin/python benchmarks/bench_assign.py [--run RUN_DIR] [--out DIR] [--sizes 1e5,1e6]
        [--workers 1,2] [--methods cluster,inventory,atoms] [--quick]

The batch: every context of two real WSI sets, as ``{"id", "word", "context"}`` lines with
the target marked — senseval2_ls (15,225 contexts of hard, interest, line, serve; word =
the lexical item) and the SemEval-2013 Task 13 instances (4,664 contexts of 50 lemmas;
word = the lemma), shuffled with a fixed seed and repeated to the size (ids made unique
per copy). SemEval is only read here for its text; nothing is scored or chosen on it.
The run: ``--run`` (a finished small_corpus run over the shared corpora with the inventory
stage), else one is made into ``--out`` with ``wsi run -c conf/small_corpus.yaml -c
shared`` (about 15 minutes; reused when its manifest is there).

Timed, per size, worker count and method, a fresh subprocess (imports and model loading
included)::

    wsi assign --run RUN --input batch-N.jsonl --output OUT.parquet --method M \\
        --workers W --scheduler auto|sync --quiet

(``auto`` with W = 2: two worker processes forked after the model is loaded; W = 1: the
calling process). Reported: wall seconds, occurrences per second, and the peak RSS of
the whole process tree (sampled every 50 ms). Beside them, in the same run, the
reference: reading the same file and splitting it into JSON objects, line by line with
Python's ``json`` (one core), and the ratio. Memory growth: peak at 10^6 lines over peak
at 10^5 lines, same partition size (``assign.partition_bytes``). Targets (issue 18):
>= 50,000 occurrences/s on 2 cores and >= 25,000 on 1 core at 10^6 lines; peak memory
flat from 10^5 to 10^6 lines. Figures are reported, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import results  # noqa: E402
from bench_cooc import TreeSampler, _wsi_command as wsi_command  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def log(msg, _t0=time.monotonic()):
    print(f"[{time.monotonic() - _t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def base_lines():
    """The real WSI contexts as JSON objects (senseval2_ls, then SemEval-2013's)."""
    from pipeline.evaluations.semeval import DEFAULT_DATA as SEMEVAL, read_instances
    from pipeline.evaluations.senseval2 import DEFAULT_DATA as SENSEVAL, read_senseval
    out = []
    for f in sorted(os.listdir(SENSEVAL)):
        if f.endswith(".pos"):
            word = f[:-4]
            out += [{"id": i, "word": word, "context": t}
                    for i, t, _g in read_senseval(os.path.join(SENSEVAL, f))]
    n_senseval = len(out)
    out += [{"id": i, "word": lemma.rsplit(".", 1)[0], "context": t}
            for lemma, i, t in read_instances(SEMEVAL)]
    return out, n_senseval


def make_batch(path, lines, n):
    """``n`` lines: the base lines shuffled (seed 0) and repeated, ids unique per copy."""
    if path.exists() and sum(1 for _ in open(path, "rb")) == n:
        return path
    rng = random.Random(0)
    order = list(range(len(lines)))
    rng.shuffle(order)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        for k in range(n):
            x = lines[order[k % len(lines)]]
            f.write(json.dumps({**x, "id": f"{x['id']}#{k // len(lines)}"}) + "\n")
    tmp.replace(path)
    return path


def read_and_split(path):
    """Seconds to read the file and split it into JSON objects, line by line, one core."""
    t = time.perf_counter()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                json.loads(line)
                n += 1
    return time.perf_counter() - t, n


def timed_assign(run, batch, out, method, workers):
    cmd = [*wsi_command(), "assign", "--run", str(run), "--input", str(batch), "--output",
           str(out), "--method", method, "--workers", str(workers),
           "--scheduler", "auto" if workers > 1 else "sync", "--quiet"]
    load = results.OtherLoad(label=f"assign {method} {batch.name} w{workers}")
    t = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.monotonic() - t
    sampler.stop()
    other = load.stop()
    if proc.returncode:
        raise SystemExit(f"bench_assign: {' '.join(cmd)} failed ({proc.returncode}): "
                         f"{stderr.strip()[-500:]}")
    peak = max((s[1] for s in sampler.samples), default=0)
    return {"seconds": seconds, "peak_bytes": peak, "stdout": stdout.strip(),
            "other_cores": other["other_cores"]}


def ensure_run(args):
    if args.run:
        return Path(args.run)
    run = Path(args.out) / "shared"
    if not (run / "manifest.json").exists() or not (run / "sense_inventory.parquet").exists():
        log(f"making the run {run} (wsi run -c conf/small_corpus.yaml -c shared) ...")
        subprocess.run([*wsi_command(), "run", "-c", "conf/small_corpus.yaml", "-c", "shared",
                        "--out", str(args.out), "--name", "shared", "--quiet"], cwd=ROOT,
                       check=True)
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="finished run directory (default: made in --out)")
    ap.add_argument("--out", default=None, help="folder for batches, outputs and the run "
                    "(default: a temporary folder)")
    ap.add_argument("--sizes", default="1e5,1e6")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--methods", default="cluster,inventory,atoms")
    results.add_arguments(ap, quick_help="sizes 2e4,1e5, cluster only: a smoke test")
    args = ap.parse_args(argv)
    rec = results.Recorder(__file__, args)
    if args.quick:
        args.sizes, args.methods = "2e4,1e5", "cluster"
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    methods = args.methods.split(",")
    tmpdir = None
    if args.out is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="bench_assign-")
        args.out = tmpdir.name
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = ensure_run(args)
    lines, n_senseval = base_lines()
    log(f"base batch: {len(lines)} contexts ({n_senseval} senseval2_ls, "
        f"{len(lines) - n_senseval} SemEval-2013)")
    raw, rows = {}, []
    for n in sizes:
        batch = make_batch(out / f"batch-{n}.jsonl", lines, n)
        size = batch.stat().st_size
        split_s, n_read = read_and_split(batch)
        raw[n] = {"bytes": size, "lines": n_read, "read_split_seconds": split_s, "runs": {}}
        log(f"{n:,} lines ({size / 2**20:.0f} MB): read + split {split_s:.2f}s")
        for method in methods:
            for w in workers:
                dest = out / f"out-{n}-{method}-{w}.parquet"
                if dest.exists():
                    dest.unlink()
                r = timed_assign(run, batch, dest, method, w)
                r["occ_per_s"] = n / r["seconds"]
                r["ratio_to_read_split"] = r["seconds"] / split_s
                raw[n]["runs"][f"{method}/{w}"] = r
                dest.unlink()
                log(f"  {method} w{w}: {r['seconds']:.1f}s = {r['occ_per_s']:,.0f}/s, "
                    f"{r['ratio_to_read_split']:.0f}x read+split, peak "
                    f"{r['peak_bytes'] / 2**20:,.0f} MB (other load {r['other_cores']:.2f})")
                rows.append([n, method, w, r["seconds"], r["occ_per_s"], split_s,
                             r["ratio_to_read_split"], r["peak_bytes"] / 2**20,
                             r["other_cores"]])
    notes = [f"Batch: {len(lines):,} real WSI contexts ({n_senseval:,} senseval2_ls, "
             f"{len(lines) - n_senseval:,} SemEval-2013), shuffled and repeated; run: {run.name}.",
             "Targets (issue 18): >= 50,000 occ/s on 2 cores and >= 25,000 on 1 core at 10^6 "
             "lines; peak memory flat from 10^5 to 10^6 lines."]
    big, small = max(sizes), min(sizes)
    growth = {}
    for key in raw[big]["runs"]:
        if key in raw[small]["runs"] and big != small:
            growth[key] = raw[big]["runs"][key]["peak_bytes"] / raw[small]["runs"][key][
                "peak_bytes"]
            notes.append(f"peak memory {key}: {growth[key]:.2f}x from {small:,} to {big:,} lines")
    for w, target in ((2, 50000), (1, 25000)):
        r = raw[big]["runs"].get(f"cluster/{w}")
        if r:
            notes.append(f"cluster (default) on {w} core(s) at {big:,} lines: "
                         f"{r['occ_per_s']:,.0f}/s, target {target:,}: "
                         f"{'met' if r['occ_per_s'] >= target else 'MISSED'}")
    cols = [("lines", ",d"), ("method", ""), ("workers", "d"), ("seconds", ".1f"),
            ("occurrences/s", ",.0f"), ("read+split s", ".2f"), ("x read+split", ".1f"),
            ("peak MB", ",.0f"), ("other load", ".2f")]
    rec.write("assign", {"sizes": raw, "memory_growth": growth, "run": str(run)},
              tables={"assign": results.table(cols, rows, notes)})
    if tmpdir is not None:
        tmpdir.cleanup()


if __name__ == "__main__":
    main()
