"""``wsi context``: SIF context vectors of target occurrences in new text."""
from __future__ import annotations

import json

import numpy as np

from ..errors import InputError, UsageError
from ..readers import read_jsonl
from ..storage import write_parquet
from . import add_occurrence_arguments

HELP = "SIF context vectors of target occurrences in new text"


def add_arguments(x):
    x.add_argument("run_dir", metavar="RUN_DIR")
    add_occurrence_arguments(
        x, 'lines {"id": ..., "context": "text with <<word>>", "word": ...}')


def main(args):
    """``wsi context RUN_DIR (--text TEXT [--word W] | --input FILE.jsonl --output FILE.parquet)``."""
    from ..encoder import ContextEncoder
    enc = ContextEncoder(args.run_dir)
    if args.text is not None:
        r = enc.encode(args.text, args.word)
        out = {k: (None if v is None else v.tolist()) if isinstance(v, np.ndarray) or v is None
               else v for k, v in r.items()}
        print(json.dumps(out))
        return 0
    if not (args.input and args.output):
        raise UsageError("wsi context: give --text, or --input FILE.jsonl and --output FILE")
    import pyarrow as pa
    ids, words, vecs, cleans, ns = [], [], [], [], []
    for lineno, item, error in read_jsonl(args.input):
        try:
            if error:
                raise ValueError(error)
            r = enc.encode(item["context"], item.get("word"))
        except (ValueError, KeyError, TypeError, InputError) as e:
            raise InputError(f"{args.input}: line {lineno}: {e}") from None
        ids.append(str(item.get("id", lineno)))
        words.append(r["word"])
        vecs.append(None if r["vector"] is None else r["vector"].astype(np.float32))
        cleans.append(None if r["vector_clean"] is None
                      else r["vector_clean"].astype(np.float32))
        ns.append(r["n_context"])
    table = pa.table({"id": ids, "word": words,
                      "vector": pa.array(vecs, type=pa.list_(pa.float32())),
                      "vector_clean": pa.array(cleans, type=pa.list_(pa.float32())),
                      "n_context": pa.array(ns, type=pa.int32())})
    write_parquet(args.output, table)
    print(f"{len(ids)} context vectors written to {args.output}")
    return 0
