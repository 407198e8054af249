"""``wsi induce``: vectors for new words and phrases from contexts, in a run's embedding space."""
from __future__ import annotations

import sys

from ..errors import InputError
from . import add_run_argument

HELP = "vectors for new words and phrases from a few contexts (the induction map)"


def add_arguments(a):
    add_run_argument(a)
    a.add_argument("--input", required=True, metavar="FILE.jsonl",
                   help='lines {"id": ..., "contexts": ["text with <<target>>", ...]} or '
                        '{"id": ..., "word": "...", "contexts": ["unmarked text", ...]}')
    a.add_argument("--output", required=True, metavar="FILE",
                   help="vectors.parquet (id, word, vector, n_contexts, n_context_words, "
                        "error), or a word2vec text file with --format word2vec")
    a.add_argument("--format", choices=("parquet", "word2vec"), default="parquet",
                   help="parquet: one row per input line; word2vec: the rows with a vector, "
                        "spaces in a phrase written as _ (gensim's load_word2vec_format reads it)")


def _items(url):
    from ..readers import read_jsonl
    for lineno, item, error in read_jsonl(url):
        if error:
            yield lineno, {"id": str(lineno)}, error
        else:
            yield lineno, dict(item, id=str(item.get("id", lineno))), None


def _table(rows, n_dims):
    import numpy as np
    import pyarrow as pa
    flat = np.zeros((len(rows), n_dims), dtype=np.float32)
    valid = np.array([r["vector"] is not None for r in rows], dtype=bool)
    for k, r in enumerate(rows):
        if valid[k]:
            flat[k] = r["vector"]
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), n_dims,
                                                mask=pa.array(~valid))
    return pa.table({
        "id": pa.array([r["id"] for r in rows], type=pa.string()),
        "word": pa.array([r["word"] for r in rows], type=pa.string()),
        "vector": vectors,
        "n_contexts": pa.array([r["n_contexts"] for r in rows], type=pa.int32()),
        "n_context_words": pa.array([r["n_context_words"] for r in rows], type=pa.int32()),
        "error": pa.array([r["error"] for r in rows], type=pa.string()),
    })


def _write_word2vec(url, rows):
    import fsspec
    import numpy as np

    from tasks.vectors_io import write_word2vec_text
    seen, words, vectors = set(), [], []
    for r in rows:
        name = "_".join(str(r["word"]).split())
        if r["vector"] is None or not name or name in seen:
            continue
        seen.add(name)
        words.append(name)
        vectors.append(r["vector"])
    with fsspec.open(url, "wb") as f:
        write_word2vec_text(f, words, np.array(vectors, dtype=np.float32).reshape(
            len(words), -1))
    return len(words)


def main(args):
    """``wsi induce --run RUN --input F.jsonl --output F [--format parquet|word2vec]``."""
    from ..inducer import Inducer
    from ..storage import write_parquet
    inducer = Inducer(args.run)
    lines, items, read_errors = [], [], {}
    for lineno, item, error in _items(args.input):
        lines.append(lineno)
        items.append(item)
        if error:
            read_errors[len(items) - 1] = error
    rows = inducer.induce_batch([{} if k in read_errors else it for k, it in enumerate(items)])
    for k, error in read_errors.items():
        rows[k].update(id=items[k]["id"], error=error)
    for r in rows:
        r["id"] = str(r["id"])
    if args.format == "word2vec":
        written = _write_word2vec(args.output, rows)
    else:
        write_parquet(args.output, _table(rows, inducer.n_dims))
        written = sum(r["vector"] is not None for r in rows)
    bad = [(line, r) for line, r in zip(lines, rows) if r["error"]]
    print(f"{sum(r['vector'] is not None for r in rows)} of {len(rows)} line(s) induced, "
          f"written to {args.output}")
    if bad:
        line, r = bad[0]
        print(f"wsi induce: {len(bad)} line(s) without a vector; first: {args.input}: line "
              f"{line}: {r['error']}", file=sys.stderr)
    if not rows:
        raise InputError(f"wsi induce: {args.input} has no line")
    if written == 0:
        raise InputError(f"wsi induce: no vector induced from {args.input}")
    return 0
