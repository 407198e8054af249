"""Incremental corpora: a scheduled run that finds files added to its inputs, against a
full recount of the same files.

Usage::

    .venv/bin/python benchmarks/bench_incremental.py [--out DIR] [--tokens 1e7]
        [--files 10] [--added 1] [--workers 2] [--window 10] [--json FILE]
    .venv/bin/python benchmarks/bench_incremental.py --shared [--added 1] ...

Setup (not timed): a corpus from the planted-sense generator, as in bench_scale.py
(``wsi synth --tokens <tokens> --vocab 50000 --dim 50 --polysemous 100 --seed 0``,
kept in ``DIR/synth-<tokens>`` and reused), cut into ``--files`` files of equal numbers
of lines in ``DIR/incremental-<tokens>-<files>/``. With ``--shared`` the corpus is
instead the six English corpora of ``../shared/data/corpora`` (natural text, 3.8M
tokens; the last ``--added`` of them in alphabetical order are the added files).

Timed, each a fresh ``wsi run --stages cooc`` subprocess (``--scheduler auto``,
``run.workers``, ``cooc.window``, ``run.report=false``):

1. "first run": the first files - added files, into run directory ``inc``;
2. "incremental": all the files, into the same run directory ``inc`` (the scheduled run
   that sees the new files; ``run.incremental`` is on by default);
3. "full recount": all the files, into a new run directory ``full`` (the reference).

Reported: wall time and the corpus/vocab/cooc stages' seconds (manifest.json), the
speed-up of the incremental run over the full recount (corpus+vocab+cooc seconds and
wall), what the incremental run did (files reused, shards counted, words new to the
vocabulary, old shards rescanned for them), the disk the kept state takes next to the
outputs, and whether ``vocab.parquet`` and the ``cooc/`` rows of the incremental run are
identical to the full recount's (Arrow ``Table.equals``: every count and float weight).
The run directories are deleted at the end unless ``--keep``.

Figures are reported, never asserted: the exit status is 0 unless a command fails.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("corpus", "vocab", "cooc")
SHARED = ROOT.parent / "shared" / "data" / "corpora"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results  # noqa: E402
from bench_cooc import _wsi_command, code_hash, run_timed, table  # noqa: E402  (same folder)
from bench_scale import _count, make_corpus, size_label, warm_page_cache  # noqa: E402


def log(msg, _t0=time.monotonic()):
    print(f"[{time.monotonic() - _t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def split_corpus(corpus, dest, n_files):
    """Cut ``corpus`` (one document per line) into ``n_files`` files of equal line counts."""
    dest = Path(dest)
    marker = dest / "done.json"
    want = {"corpus": str(corpus), "size": Path(corpus).stat().st_size, "files": n_files}
    if marker.is_file() and json.loads(marker.read_text()) == want:
        return sorted(dest.glob("part-*.txt"))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with open(corpus, "rb") as f:
        n_lines = sum(1 for _ in f)
    per = -(-n_lines // n_files)
    with open(corpus, "rb") as f:
        for k in range(n_files):
            with open(dest / f"part-{k:03d}.txt", "wb") as out:
                for _ in range(per):
                    line = f.readline()
                    if not line:
                        break
                    out.write(line)
    marker.write_text(json.dumps(want))
    return sorted(dest.glob("part-*.txt"))


def run(out, name, files, workers, window):
    cmd = [*_wsi_command(), "run", "--out", str(out), "--name", name, "--stages", "cooc",
           "--scheduler", "auto", "--set", f"run.workers={workers}",
           "--set", f"cooc.window={window}", "--set", "run.report=false",
           "--set", f"corpus.paths={json.dumps([str(p) for p in files])}", "--quiet"]
    wall, other, _err = run_timed(cmd)
    st = json.loads((Path(out) / name / "manifest.json").read_text())["stages"]
    return {"wall": wall, "other_load": other, "command": cmd,
            "seconds": {s: float(st[s]["seconds"]) for s in STAGES},
            "counters": {s: st[s]["counters"] for s in STAGES},
            "status": {s: st[s]["status"] for s in STAGES}}


def dir_bytes(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _batches(files, rows):
    """The rows of Parquet ``files`` in order, as tables of ``rows`` rows (the last shorter)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    buf, n = [], 0
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=rows):
            buf.append(batch)
            n += batch.num_rows
            while n >= rows:
                t = pa.Table.from_batches(buf)
                yield t.slice(0, rows)
                rest = t.slice(rows)
                buf, n = rest.to_batches(), rest.num_rows
    if n:
        yield pa.Table.from_batches(buf)


def identical(run_a, run_b, rows=1 << 22):
    """(vocab identical, cooc rows identical) of two run directories, streaming the cooc
    parts (they follow row order and are sorted by (row, col) inside) in equal slices."""
    import itertools

    import pyarrow.parquet as pq
    va, vb = (pq.read_table(Path(r) / "vocab.parquet") for r in (run_a, run_b))
    a, b = (_batches(sorted((Path(r) / "cooc").glob("part-*.parquet")), rows)
            for r in (run_a, run_b))
    same = all(x is not None and y is not None and x.equals(y)
               for x, y in itertools.zip_longest(a, b))
    return va.equals(vb), same


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/wsi-bench-incremental"),
                   help="corpora and run directories (default /tmp/wsi-bench-incremental)")
    p.add_argument("--tokens", type=_count, default=10**7)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--added", type=int, default=1, help="files added for the scheduled run")
    p.add_argument("--vocab", type=_count, default=50000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--shared", action="store_true",
                   help="the shared English corpora instead of a generated corpus")
    p.add_argument("--keep", action="store_true", help="keep the run directories")
    p.add_argument("--json", type=Path, default=None)
    results.add_arguments(p, quick_help="a 1e6-token corpus: checks the script end to end")
    a = p.parse_args(argv)
    if a.quick:
        a.tokens = 10**6
    rec = results.Recorder(__file__, a, ("benchmarks/results.py", "benchmarks/bench_cooc.py",
                                         "benchmarks/bench_scale.py"))
    if a.shared:
        names = ("abc_news", "brown", "inaugural", "movie_reviews", "state_union", "webtext")
        files = [SHARED / f"{n}.txt" for n in names]
        if not all(f.is_file() for f in files):
            print(f"bench_incremental: skipped, --shared needs the six corpora in {SHARED} "
                  "(absent here)")
            return
        a.files, label = len(files), "shared"
    if not 0 < a.added < a.files:
        p.error("--added must be between 1 and --files - 1")
    if not a.shared:
        label = size_label(a.tokens)
        log(f"corpus: {label} tokens (wsi synth, reused when present)")
        setup = make_corpus(a.out / f"synth-{label}", a.tokens, a.vocab)
        files = split_corpus(Path(setup["dir"]) / "corpus.txt",
                             a.out / f"incremental-{label}-{a.files}", a.files)
    for f in files:
        warm_page_cache(f)
    runs = a.out / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    first = files[:a.files - a.added]
    log(f"first run: {len(first)} files")
    r_first = run(runs, "inc", first, a.workers, a.window)
    log(f"incremental run: {a.added} file(s) added")
    r_inc = run(runs, "inc", files, a.workers, a.window)
    log("full recount")
    r_full = run(runs, "full", files, a.workers, a.window)
    disk = {k: dir_bytes(runs / "inc" / k) for k in
            ("corpus", "vocab.parquet", "vocab.counts.parquet", "cooc")}

    def row(name, r):
        s = r["seconds"]
        return [name, f"{r['wall']:.1f}", *(f"{s[k]:.1f}" for k in STAGES),
                f"{sum(s.values()):.1f}", r["counters"]["vocab"].get("shards_counted", "-"),
                r["counters"]["cooc"].get("shards_counted", "-"), f"{r['other_load']:.2f}"]
    header = ["run", "wall s", "corpus s", "vocab s", "cooc s", "c+v+c s", "vocab shards",
              "cooc shards", "other load"]
    print(f"# bench_incremental — {label} corpus in {a.files} files, {a.added} added; "
          f"{a.workers} worker(s), window {a.window}; {platform.node()}, code {code_hash()}")
    print(table([row("first run", r_first), row("incremental", r_inc),
                 row("full recount (ref)", r_full)], header))
    t_inc, t_full = sum(r_inc["seconds"].values()), sum(r_full["seconds"].values())
    c = r_inc["counters"]
    print(f"\nspeed-up of the incremental run over the full recount: {t_full / t_inc:.2f}x "
          f"(corpus+vocab+cooc seconds), {r_full['wall'] / r_inc['wall']:.2f}x (wall)")
    print("per stage: " + ", ".join(f"{k} {r_full['seconds'][k] / r_inc['seconds'][k]:.2f}x"
                                     for k in STAGES))
    print(f"incremental run: corpus files reused {c['corpus']['files_reused']} of "
          f"{c['corpus']['files']}; cooc: {c['cooc'].get('entering_words', 0)} words new to "
          f"the vocabulary, rescanned in {c['cooc'].get('shards_refocused', 0)} old shards")
    print("disk (MB): " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in disk.items()))
    sys.stdout.flush()
    log("comparing the outputs")
    same_vocab, same_cooc = identical(runs / "inc", runs / "full")
    print("identical to the full recount: vocab.parquet " + ("yes" if same_vocab else "NO")
          + ", cooc rows " + ("yes" if same_cooc else "NO"))
    trows = [[name, r["wall"], *(r["seconds"][k] for k in STAGES), sum(r["seconds"].values()),
              r["counters"]["vocab"].get("shards_counted"),
              r["counters"]["cooc"].get("shards_counted"), r["other_load"]]
             for name, r in (("first run", r_first), ("incremental", r_inc),
                             ("full recount (reference)", r_full))]
    tnotes = [f"{label} corpus in {a.files} files, {a.added} added; {a.workers} worker(s), "
              f"window {a.window}",
              f"speed-up over the full recount: {t_full / t_inc:.2f}x (corpus+vocab+cooc s), "
              f"{r_full['wall'] / r_inc['wall']:.2f}x (wall); per stage " + ", ".join(
                  f"{k} {r_full['seconds'][k] / r_inc['seconds'][k]:.2f}x" for k in STAGES),
              f"incremental run: corpus files reused {c['corpus']['files_reused']} of "
              f"{c['corpus']['files']}; {c['cooc'].get('entering_words', 0)} words new to the "
              f"vocabulary, rescanned in {c['cooc'].get('shards_refocused', 0)} old shards",
              "identical to the full recount: vocab.parquet "
              + ("yes" if same_vocab else "NO") + ", cooc rows "
              + ("yes" if same_cooc else "NO"),
              "disk (10^6 bytes): " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in disk.items())]
    name = f"incremental_{label}"
    rec.write(name, {"first": r_first, "incremental": r_inc, "full": r_full,
                     "identical": [same_vocab, same_cooc], "disk": disk,
                     "args": {k: str(v) for k, v in vars(a).items()}},
              {name: results.table([(h, "" if i == 0 else ".1f" if i < 6 else
                                     "d" if i < 8 else ".2f")
                                    for i, h in enumerate(header)], trows, tnotes)})
    if a.json:
        a.json.write_text(json.dumps({"first": r_first, "incremental": r_inc, "full": r_full,
                                      "identical": [same_vocab, same_cooc], "disk": disk,
                                      "args": {k: str(v) for k, v in vars(a).items()}},
                                     indent=1))
    if not a.keep:
        shutil.rmtree(runs, ignore_errors=True)


if __name__ == "__main__":
    main()
