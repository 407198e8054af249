"""``wsi assign``: the sense of target occurrences in new text.

One text (``--text``) or a batch (``--input``: a JSONL/Parquet file, glob, directory or
fsspec URL; see :mod:`pipeline.batches`) assigned by :mod:`pipeline.assigner`, the
batch's partitions as Dask tasks on the scheduler of ``--scheduler`` (as ``wsi run``).
A batch never aborts: every non-blank line gives one output row with its id; a line
that cannot be assigned (invalid JSON, no marked target, no context word with a
vector...) gets its ``error`` text and no sense, and one line on stderr sums them up.
"""
from __future__ import annotations

import json
import os
import sys
from functools import partial

import dask

from ..config import SENSE_METHODS
from ..errors import UsageError
from . import add_occurrence_arguments, add_run_argument

HELP = "the sense of target occurrences in new text"


def add_arguments(a):
    add_run_argument(a)
    add_occurrence_arguments(
        a, 'JSONL lines {"id": ..., "word": ..., "context": "text with <<word>>"} or Parquet '
           "with those columns: a file, glob, directory or URL")
    a.add_argument("--method", choices=SENSE_METHODS, default=None,
                   help="cluster: each word's occurrences in the batch clustered together; "
                        "inventory: each occurrence's nearest sense of the corpus inventory "
                        "(words without one: atoms); atoms: each occurrence's nearest sense "
                        "atom (default: the run's senses.method)")
    a.add_argument("--scheduler", default=None,
                   help="auto | threads | processes | sync | local:N | tcp://host:port "
                        "(default: the run's run.scheduler)")
    a.add_argument("--workers", type=int, default=None,
                   help="worker processes/threads for threads|processes (default: all cores)")
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a senses.* or assign.* setting of the run (repeatable)")
    a.add_argument("--quiet", action="store_true", help="no progress bars")


def _settings(run_dir, sets):
    from ..config import load_config
    from ..runs import open_run
    bad = [x for x in sets if not x.startswith(("senses.", "assign."))]
    if bad:
        raise UsageError(f"--set {bad[0]}: only senses.* and assign.* settings can be changed "
                         "here")
    _run, manifest = open_run(run_dir)
    return load_config(base=manifest["config"], sets=sets), manifest


def _one_text(args, method, sets):
    """One context: clustering needs a batch, so the cluster method falls back to the
    corpus inventory (the atoms rule when the run has none)."""
    from ..assigner import Item, assign_items, load_model
    from ..runs import open_run
    from ..sense_model import sense_names
    used = method
    if method == "cluster":
        run, _m = open_run(args.run)
        used = "inventory" if run.exists("sense_inventory.parquet") else "atoms"
    table = assign_items(load_model(args.run, used, tuple(sets)),
                         [Item(1, "1", args.word, args.text)])
    row = table.to_pylist()[0]
    row["atom_id"] = row["sense"] if row["method"] == "atoms" else None
    row["top_words"] = sense_names(args.run, row["word"], row["method"], row["sense"])
    if used != method:
        row["method"] = f"{row['method']} (one context cannot be clustered)"
    if row["error"]:
        print(f"wsi: {row['error']}", file=sys.stderr)
    print(json.dumps(row))
    return 0


# ------------------------------------------------------------------- tasks (on workers)

def _count(part, options):
    from ..batches import count_lines
    return count_lines(part, options)


def _in_task():
    """One thread, no cyclic GC: a partition makes an object per line, and full
    collections re-scanned them (20% of a batch)."""
    from ..runner import in_task
    return in_task(pause_gc=True)


def _lines(part, first_line, options):
    """A partition as columns (every line an object) or, when not, as items."""
    from ..batches import read_lines
    return read_lines(part, first_line, options)


def _candidates(run_dir, method, sets, part, first_line, options):
    from ..assigner import load_model
    with _in_task():
        model = load_model(run_dir, method, sets)
        return model.candidates(_lines(part, first_line, options))


def _chosen(run_dir, method, sets, part, first_line, chosen, options):
    """{key: (orders, ids, lengths, offsets)}: the sampled lines of a partition, encoded
    (:meth:`pipeline.assigner.AssignModel.sample_segments`)."""
    from ..assigner import load_model
    with _in_task():
        model = load_model(run_dir, method, sets)
        return model.sample_segments(_lines(part, first_line, options), chosen)


def _merge_segments(*parts):
    import numpy as np
    out = {}
    for p in parts:
        for key, seg in p.items():
            out.setdefault(key, []).append(seg)
    return {key: tuple(np.concatenate(a) for a in zip(*segs)) for key, segs in out.items()}


def _fit(run_dir, method, sets, key, segments):
    """One word's senses from its merged sampled segments."""
    from ..assigner import fit_batch, load_model
    with _in_task():
        model = load_model(run_dir, method, sets)
        got = model.segment_vectors(segments)
        if got is None:
            return {}
        fitted = fit_batch(model, {key: (None, *got)}, model.background())
    return {k: (m.astype("float32"), c.astype("float32")) for k, (m, c) in fitted.items()}


def _assign(run_dir, method, sets, part, first_line, centres, out_url, options):
    """Assign one partition and write its part; returns (rows, errors, first error)."""
    from ..assigner import load_model
    from ..batches import Columns, write_part
    with _in_task():
        model = load_model(run_dir, method, sets)
        lines = _lines(part, first_line, options)
        if isinstance(lines, Columns):
            items = lines.items()
            enc = model.encode_columns(lines.contexts, lines.words, items)
        else:  # some line is not a JSON object: each line on its own
            items = lines
            enc = model.encode(items)
        table = model.table(enc, centres)
        write_part(out_url, table, options)
        errors = table["error"].to_pylist()
        first = next(((it.line, it.id, e) for it, e in zip(items, errors) if e), None)
    return len(items), sum(e is not None for e in errors), first


def _merge_fits(*parts):
    return {k: v for p in parts for k, v in p.items()}


def run_batch(run_dir, spec, output, method, sets=(), *, scheduler=None, workers=None,
              quiet=False, log=None):
    """Assign every line of ``spec`` into ``output``; returns a summary dict."""
    from tasks.assign import merge_samples

    from ..assigner import load_model
    from ..batches import Output, plan
    from ..runner import Runner, tree_reduce
    cfg, manifest = _settings(run_dir, sets)
    sets = tuple(sets)
    options = {}  # object stores: fsspec's environment (FSSPEC_S3_ENDPOINT_URL, ...)
    parts, signature = plan(spec, partition_bytes=cfg.assign.partition_bytes,
                            storage_options=options)
    identity = {"input": signature, "run": str(run_dir), "run_stages": manifest.get("stages"),
                "method": method, "sets": list(sets),
                "partition_bytes": cfg.assign.partition_bytes,
                "sample_cap": cfg.assign.sample_cap}
    out = Output(str(output), identity)
    done = out.prepare()
    delayed = partial(dask.delayed, pure=False)
    total = sum(int(s[1]) for s in signature)
    spec = scheduler or cfg.run.scheduler
    workers = workers or cfg.run.workers or os.cpu_count() or 1
    if spec == "auto":  # tokenising holds the GIL: worker processes for large batches
        spec = "processes" if workers > 1 and total >= cfg.run.process_min_bytes else "sync"
    if spec in ("processes", "sync", "threads"):
        # loaded before the pool forks: its workers share the arrays, loaded once
        load_model(run_dir, method, sets)
    with Runner(spec, workers=workers, quiet=quiet, log=log,
                split_every=cfg.run.split_every) as runner:
        counts = runner.compute([delayed(_count)(p, options) for p in parts], "lines")
        first, at = [], {}
        for p, n in zip(parts, counts):
            first.append(at.get(p.file_no, 1))
            at[p.file_no] = first[-1] + n
        todo = [p for p in parts if p.index not in done]
        centres = None
        if method == "cluster" and todo:
            merge = partial(merge_samples, cfg.assign.sample_cap)
            chosen = tree_reduce([delayed(_candidates)(run_dir, method, sets, p,
                                                       first[p.index], options)
                                  for p in parts], merge, runner.split_every,
                                 name="assign-candidates")
            chosen = runner.share(runner.compute([chosen], "sample")[0], "assign-chosen")
            picked = tree_reduce([delayed(_chosen)(run_dir, method, sets, p, first[p.index],
                                                   chosen, options) for p in parts],
                                 _merge_segments, runner.split_every, name="assign-chosen")
            picked = runner.compute([picked], "sample")[0]
            # one fit per word, spread over the workers; its arrays travel as one opaque
            # argument (not traversed while the graph is built)
            fits = runner.compute([delayed(_fit)(run_dir, method, sets, k,
                                                 dask.delayed(v, traverse=False))
                                   for k, v in picked.items()], "fit")
            centres = runner.share(_merge_fits(*fits), "assign-centres")
        results = runner.compute(
            [delayed(_assign)(run_dir, method, sets, p, first[p.index], centres,
                              out.part_url(p.index), options) for p in todo], "assign")
    url = out.finish(len(parts))
    rows = sum(r[0] for r in results)
    errors = [r for r in results if r[1]]
    return {"output": url, "partitions": len(parts), "resumed": len(parts) - len(todo),
            "rows": rows, "errors": sum(r[1] for r in errors),
            "first_error": errors[0][2] if errors else None}


def main(args):
    """``wsi assign --run RUN_DIR (--text TEXT [--word W] | --input SPEC --output OUT)
    [--method cluster|atoms] [--scheduler S] [--set KEY=VALUE]``."""
    cfg, _manifest = _settings(args.run, args.set)
    method = args.method or cfg.senses.method
    if args.text is not None:
        return _one_text(args, method, args.set)
    if not (args.input and args.output):
        raise UsageError("wsi assign: give --text, or --input FILE.jsonl and --output FILE")
    r = run_batch(args.run, args.input, args.output, method, args.set,
                  scheduler=args.scheduler, workers=args.workers, quiet=args.quiet)
    resumed = f", {r['resumed']} of {r['partitions']} partition(s) kept from an earlier " \
              f"attempt" if r["resumed"] else ""
    print(f"{r['rows']} line(s) read, {r['rows'] - r['errors']} assigned ({method}), "
          f"written to {r['output']}{resumed}")
    if r["errors"]:
        line, ident, msg = r["first_error"]
        print(f"wsi: {r['errors']} line(s) without a sense in {args.input}; first: "
              f"line {line} (id {ident}): {msg}", file=sys.stderr)
    if r["rows"] == 0 and not r["resumed"]:
        from ..errors import InputError
        raise InputError(f"{args.input}: no lines to assign")
    return 0
