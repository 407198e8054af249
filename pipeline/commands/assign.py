"""``wsi assign``: the sense of target occurrences in new text.

A batch (``--input``) never aborts: every non-blank line gives one output row
with its id; a line that cannot be assigned (invalid JSON, no marked target,
no context word with a vector...) gets its ``error`` text and no sense.
"""
from __future__ import annotations

import json
import sys

import pyarrow as pa

from ..errors import InputError, UsageError
from ..readers import read_jsonl
from ..storage import write_parquet
from . import add_occurrence_arguments, add_run_argument

HELP = "the sense of target occurrences in new text"

FALLBACK = "atoms (one context cannot be clustered)"


def add_arguments(a):
    add_run_argument(a)
    add_occurrence_arguments(
        a, 'lines {"id": ..., "word": ..., "context": "text with <<word>>"}')
    a.add_argument("--method", choices=("cluster", "atoms"), default=None,
                   help="cluster: each word's occurrences in the batch clustered together; "
                        "atoms: each occurrence's nearest sense atom (default: the run's "
                        "senses.method)")


def _atoms_row(model, text, word, method):
    r = model.assign(text, word)
    return {"word": r["word"], "method": method, "sense": r["atom_id"], "score": r["score"],
            "scores": r["scores"], "atoms": r["atoms"],
            "error": None if r["atom_id"] is not None else
            "no sense: the word is not coded or no context word has a vector"}


def assign_batch(run_dir, lines, method):
    """One row dict per ``(lineno, item, error)`` of ``lines`` (:func:`read_jsonl`):
    id, word, method, sense, score, scores, atoms, error."""
    rows, groups = [], {}
    model = clusters = None
    if method == "cluster":
        from ..sense_clusters import ClusterModel
        clusters = ClusterModel(run_dir)
    else:
        from ..sense_model import SenseModel
        model = SenseModel(run_dir)
    for lineno, item, error in lines:
        row = {"id": str(lineno) if item is None else str(item.get("id", lineno)),
               "word": None, "method": method, "sense": None, "score": None, "scores": [],
               "atoms": [], "error": error, "line": lineno}
        rows.append(row)
        if error:
            continue
        try:
            text, word = item.get("context"), item.get("word")
            if not isinstance(text, str) or not text.strip():
                raise ValueError('expected a non-empty "context" text')
            if word is not None and not isinstance(word, str):
                raise ValueError('"word" must be a string')
            if clusters is None:
                row.update(_atoms_row(model, text, word, method))
                continue
            occ = clusters.occurrence(text, word)
            row["word"] = occ.word
            groups.setdefault(clusters.key(word or occ.word), []).append((row, occ))
        except (ValueError, TypeError, KeyError, InputError) as e:
            row["error"] = str(e.args[0]) if e.args else type(e).__name__
    for key, members in groups.items():
        labels, scores, info = clusters.cluster([o for _r, o in members])
        for (row, _o), label, sc in zip(members, labels, scores):
            if label < 0:
                row["error"] = "no context word with a vector"
                continue
            row.update(sense=int(label), score=float(sc[label]),
                       scores=[float(v) for v in sc])
    return rows


def _table(rows):
    return pa.table({
        "id": pa.array([r["id"] for r in rows], type=pa.string()),
        "word": pa.array([r["word"] for r in rows], type=pa.string()),
        "method": pa.array([r["method"] for r in rows], type=pa.string()),
        "sense": pa.array([r["sense"] for r in rows], type=pa.int32()),
        "score": pa.array([r["score"] for r in rows], type=pa.float32()),
        "scores": pa.array([r["scores"] for r in rows], type=pa.list_(pa.float32())),
        "atoms": pa.array([r["atoms"] for r in rows], type=pa.list_(pa.int32())),
        "error": pa.array([r["error"] for r in rows], type=pa.string()),
    })


def main(args):
    """``wsi assign --run RUN_DIR (--text TEXT [--word W] | --input F.jsonl --output F.parquet)
    [--method cluster|atoms]``."""
    from ..sense_clusters import settings_of
    method = args.method or settings_of(args.run).method
    if args.text is not None:
        from ..sense_model import SenseModel
        r = SenseModel(args.run).assign(args.text, args.word)
        r["method"] = FALLBACK if method == "cluster" else "atoms"
        print(json.dumps(r))
        return 0
    if not (args.input and args.output):
        raise UsageError("wsi assign: give --text, or --input FILE.jsonl and --output FILE")
    rows = assign_batch(args.run, read_jsonl(args.input), method)
    if not rows:
        raise InputError(f"{args.input}: no lines to assign")
    write_parquet(args.output, _table(rows))
    errors = [r for r in rows if r["error"]]
    print(f"{len(rows)} line(s) read, {len(rows) - len(errors)} assigned ({method}), "
          f"written to {args.output}")
    if errors:
        first = errors[0]
        print(f"wsi: {len(errors)} line(s) without a sense in {args.input}; first: "
              f"line {first['line']} (id {first['id']}): {first['error']}", file=sys.stderr)
    return 0
