"""``wsi assign``: the sense of target occurrences in new text."""
from __future__ import annotations

import json

import pyarrow as pa

from ..errors import InputError, UsageError
from ..readers import read_jsonl
from ..storage import write_parquet
from . import add_occurrence_arguments

HELP = "the sense of target occurrences in new text"


def add_arguments(a):
    a.add_argument("--run", default="outputs/default", metavar="RUN_DIR",
                   help="run directory (default: outputs/default)")
    add_occurrence_arguments(
        a, 'lines {"id": ..., "word": ..., "context": "text with <<word>>"}')


def main(args):
    """``wsi assign --run RUN_DIR (--text TEXT [--word W] | --input F.jsonl --output F.parquet)``."""
    from ..sense_model import SenseModel
    model = SenseModel(args.run)
    if args.text is not None:
        print(json.dumps(model.assign(args.text, args.word)))
        return 0
    if not (args.input and args.output):
        raise UsageError("wsi assign: give --text, or --input FILE.jsonl and --output FILE")
    rows = []
    for lineno, item, error in read_jsonl(args.input):
        try:
            if error or "context" not in item:
                raise ValueError(error or 'expected an object with "context"')
            r = model.assign(str(item["context"]), item.get("word"))
        except (ValueError, TypeError, InputError) as e:
            raise InputError(f"{args.input}: line {lineno}: {e}") from None
        rows.append((str(item.get("id", lineno)), r))
    no_sense = sum(r["atom_id"] is None for _, r in rows)
    table = pa.table({
        "id": pa.array([i for i, _ in rows], type=pa.string()),
        "word": pa.array([r["word"] for _, r in rows], type=pa.string()),
        "atom_id": pa.array([r["atom_id"] for _, r in rows], type=pa.int32()),
        "score": pa.array([r["score"] for _, r in rows], type=pa.float32()),
        "atoms": pa.array([r["atoms"] for _, r in rows], type=pa.list_(pa.int32())),
        "scores": pa.array([r["scores"] for _, r in rows], type=pa.list_(pa.float32())),
    })
    write_parquet(args.output, table)
    print(f"{len(rows)} occurrence(s) assigned, written to {args.output}"
          + (f"; {no_sense} without a sense (word not coded or no context vector)"
             if no_sense else ""))
    return 0
