"""SIF context vectors for new text, with a finished run's vocabulary, weights and common components.

The definition is the context stage's, applied to one occurrence: the mean of
s(w') v_w' over the tokens within ``cooc.window`` of the target that have a
vector, and then the same vector with the run's common components removed
(what the induction map takes).

    enc = ContextEncoder("outputs/default")
    enc.encode("the <<bank>> raised interest rates")        # marked target
    enc.encode("she sat on the river bank", word="bank")    # first occurrence
    enc.encode_tokens(["sat", "on", "the", "river"])         # a context token list
"""
from __future__ import annotations

import json
import re

import fsspec
import numpy as np

from tasks.context import remove_components, sif_weights
from tasks.tokenize import tokenize

from .errors import InputError, UsageError
from .artifacts.tables import read_vectors, read_vocab
from .storage import load_npy, open_run, write_parquet

__all__ = ["ContextEncoder"]

_MARK = re.compile(r"<<\s*([^<>]+?)\s*>>")


class ContextEncoder:
    """Turns occurrences in text into the run's SIF context vectors.

    Parameters
    ----------
    run_dir : str
        A run directory (path or fsspec URL) with ``vocab.parquet``,
        ``embeddings.parquet`` and ``context_common.npy``.
    """

    def __init__(self, run_dir):
        run, manifest = open_run(run_dir, [("vocab.parquet", "vocab"),
                                           ("embeddings.parquet", "embed"),
                                           ("context_common.npy", "context")])
        cfg = manifest["config"]
        self.window = int(cfg["cooc"]["window"])
        self.lowercase = bool(cfg["corpus"]["lowercase"])
        vocab, total = read_vocab(run.url_of("vocab.parquet"))
        emb, vectors = read_vectors(run.url_of("embeddings.parquet"))
        counts = dict(zip(vocab["word"].to_pylist(), vocab["count"].to_numpy()))
        words = emb["word"].to_pylist()
        s = sif_weights(np.array([counts[w] for w in words]), total,
                        a=float(cfg["context"]["sif_a"]))
        self.index = {w: i for i, w in enumerate(words)}
        self.weighted = vectors.astype(np.float64) * s[:, None]
        self.common = load_npy(run.url_of("context_common.npy"))

    def encode_tokens(self, context):
        """Context vector of a list of context tokens (the target not among them).

        Returns (raw vector (d,), vector with common components removed (d,),
        number of context tokens with a vector); vectors are None without any.
        """
        ids = [self.index[t] for t in context if t in self.index]
        if not ids:
            return None, None, 0
        raw = self.weighted[ids].mean(axis=0)
        return raw, remove_components(raw[None, :], self.common)[0], len(ids)

    def encode(self, text, word=None):
        """Context vector of one occurrence in ``text``.

        The target is the ``<<word>>``-marked token, else the first occurrence
        of ``word``. Returns a dict: word, position, context (tokens used),
        vector, vector_clean, n_context.
        """
        m = _MARK.search(text)
        if m:
            target = tokenize(m.group(1), lowercase=self.lowercase)
            if len(target) != 1:
                raise InputError(f"marked target {m.group(0)!r} is not one token")
            before = tokenize(text[:m.start()], lowercase=self.lowercase)
            after = tokenize(text[m.end():], lowercase=self.lowercase)
            tokens, position = before + target + after, len(before)
        else:
            if not word:
                raise InputError("no <<target>> marked in the text and no word given")
            tokens = tokenize(text, lowercase=self.lowercase)
            key = word.lower() if self.lowercase else word
            if key not in tokens:
                raise InputError(f"{word!r} does not occur in the text")
            position = tokens.index(key)
        lo, hi = max(0, position - self.window), position + self.window + 1
        context = tokens[lo:position] + tokens[position + 1:hi]
        raw, clean, n = self.encode_tokens(context)
        return {"word": tokens[position], "position": position, "context": context,
                "vector": raw, "vector_clean": clean, "n_context": n}


def main_context(args):
    """``wsi context RUN_DIR (--text TEXT [--word W] | --input FILE.jsonl --output FILE.parquet)``."""
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
    with fsspec.open(args.input, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
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
