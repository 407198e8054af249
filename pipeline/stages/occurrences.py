"""occurrences stage: the sense of every corpus occurrence of chosen words → ``occurrences/``.

For each word of ``occurrences.targets`` that has senses, every occurrence in
the tokenised corpus gets the SIF context vector of its ±``induce.window``
tokens (the input the induction map was fitted on), the induce stage's common
components removed, the induction map applied (v̂ = A ũ + b) and the best-scoring of the word's
``senses.assign_max`` strongest sense atoms (:mod:`tasks.senses`), as ``wsi
assign`` does. One Dask task per corpus shard; one Parquet
part per shard: ``occurrences/part-NNNNN.parquet`` with ``document: int64``
(0-based line of the tokenised corpus, counted over all shards in order),
``position: int32`` (token), ``word: string, atom_id: int32, score: float32``
and ``scores: list<float32>`` (each of those senses, by rank).
"""
from __future__ import annotations

import dask
import numpy as np
import pyarrow as pa

from tasks.assign import blocks_from_sums, window_sums
from tasks.context import sif_weighted_vectors
from tasks.counting import encode_lines
from tasks.senses import score_senses_flat

from ..artifacts.corpus import list_shards, read_lines
from ..artifacts.tables import read_atoms, read_sense_table, read_vectors, read_vocab
from ..stage import Stage
from ..storage import load_npy, write_parquet

SCHEMA = pa.schema([("document", pa.int64()), ("position", pa.int32()),
                    ("word", pa.string()), ("atom_id", pa.int32()), ("score", pa.float32()),
                    ("scores", pa.list_(pa.float32()))])


def _shard(url, vocab_words, model, window):
    """(number of documents, per-occurrence arrays) of one shard: the context sums and
    the scoring are :mod:`pipeline.assigner`'s (``wsi assign --method atoms``) kernels."""
    weighted, has_vector, is_target, common, a, b, atoms, senses = model
    lines = read_lines(url)
    ids, offsets = encode_lines(lines, vocab_words)
    ids = np.asarray(ids, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    known = (ids >= 0) & (ids < len(is_target))
    hit = np.zeros(len(ids), dtype=bool)
    hit[known] = is_target[ids[known]]
    at = np.flatnonzero(hit)
    doc = np.searchsorted(offsets, at, side="right") - 1
    word = ids[at]
    context = np.where(known, ids, -1)
    context[known & ~has_vector[np.where(known, ids, 0)]] = -1  # no vector: no context
    sums, counts = window_sums(context, offsets[doc], offsets[doc + 1], at, weighted,
                               [window])
    ok = counts[:, 0] > 0
    v = blocks_from_sums(sums, counts, common) @ a.T + b
    v[~ok] = 0.0  # no context: no assignment
    start, length, sense_atoms, sense_coef = senses
    lengths = length[word]
    # Flat positions of each occurrence's candidates in the word-ordered sense arrays.
    flat = np.repeat(start[word] - (np.cumsum(lengths) - lengths), lengths) + \
        np.arange(lengths.sum())
    best, score, scores = score_senses_flat(v, atoms, sense_atoms[flat], sense_coef[flat],
                                            lengths)
    return len(lines), (doc, at - offsets[doc], word, best, score, (lengths, scores))


def _write(url, doc_base, result, vocab_words):
    doc, pos, word, best, score, scores = result
    words = vocab_words.take(pa.array(word, type=pa.int64())) if len(word) else \
        pa.array([], type=pa.string())
    table = pa.table({
        "document": pa.array(doc + doc_base, type=pa.int64()),
        "position": pa.array(pos, type=pa.int32()),
        "word": words,
        "atom_id": pa.array(np.where(best >= 0, best, 0), type=pa.int32(), mask=best < 0),
        "score": pa.array(np.nan_to_num(score).astype(np.float32), type=pa.float32(),
                          mask=best < 0),
        "scores": pa.ListArray.from_arrays(
            pa.array(np.concatenate([[0], np.cumsum(scores[0])]), type=pa.int32()),
            pa.array(scores[1].astype(np.float32), type=pa.float32())),
    }, schema=SCHEMA)
    write_parquet(url, table)
    return len(doc), int((best >= 0).sum())


def build(ctx):
    cfg = ctx.cfg
    vocab, total_tokens = read_vocab(ctx.input_url("vocab"))
    words = vocab["word"].to_pylist()
    vocab_words = pa.array(words, type=pa.string())
    counts = vocab["count"].to_numpy()
    n_words = len(words)
    out = ctx.output_path("occurrences")
    ctx.run.fs.makedirs(out, exist_ok=True)
    table = read_sense_table(ctx.input_url("senses"))
    index = {w: i for i, w in enumerate(words)}
    targets = list(dict.fromkeys(cfg.occurrences.targets))
    missing = [t for t in targets if t not in table or t not in index]
    if missing:
        ctx.log(f"warning: {len(missing)} occurrences.targets word(s) have no senses "
                f"(not coded or not in the vocabulary), e.g. {missing[0]!r}; skipped")
    targets = [t for t in targets if t in table and t in index]
    urls = list_shards(ctx.run.fs, ctx.input_path("corpus"))
    if not targets:
        write_parquet(ctx.url(f"{out}/part-00000.parquet"), SCHEMA.empty_table())
        return {"targets": 0, "occurrences": 0, "assigned": 0, "parts": 1,
                "targets_without_senses": len(missing)}
    emb, vectors = read_vectors(ctx.input_url("embeddings"))
    weighted, has_vector = sif_weighted_vectors(vectors, emb["id"].to_numpy(), counts,
                                                total_tokens, a=cfg.context.sif_a)
    is_target = np.zeros(n_words, dtype=bool)
    is_target[[index[t] for t in targets]] = True
    # Each target's senses.assign_max strongest atoms (0: its whole code), by word id.
    k = cfg.senses.assign_max or None
    start = np.zeros(n_words, dtype=np.int64)
    length = np.zeros(n_words, dtype=np.int64)
    order = sorted(index[t] for t in targets)
    picked = [table[words[w]] for w in order]
    length[order] = [len(a[:k]) for a, _c in picked]
    start[order] = np.cumsum(length[order]) - length[order]
    senses = (start, length, np.concatenate([a[:k] for a, _c in picked]).astype(np.int64),
              np.concatenate([c[:k] for _a, c in picked]).astype(np.float64))
    _atoms, dictionary = read_atoms(ctx.input_url("atoms"))
    a = load_npy(ctx.input_url("induction_map"))
    b = load_npy(ctx.input_url("induction_intercept"))
    common = load_npy(ctx.input_url("induction_common"))
    model = ctx.runner.share((weighted, has_vector, is_target, common, a, b, dictionary, senses),
                             "occurrences-model")
    parts = [dask.delayed(_shard, pure=True, nout=2)(url, vocab_words, model, cfg.induce.window,
                                                    dask_key_name=f"occurrences-shard-{i}")
             for i, url in enumerate(urls)]
    # Document numbers are global: each part's base is the documents of the shards
    # before it, so the shards are assigned first and written once their bases are known.
    results = ctx.runner.compute(parts, "occurrences")
    bases = np.concatenate([[0], np.cumsum([r[0] for r in results])[:-1]])
    written = [_write(ctx.url(f"{out}/part-{i:05d}.parquet"), int(base), r[1], vocab_words)
               for i, (base, r) in enumerate(zip(bases, results))]
    return {"targets": len(targets), "occurrences": int(sum(w[0] for w in written)),
            "assigned": int(sum(w[1] for w in written)), "parts": len(written),
            "targets_without_senses": len(missing)}


STAGE = Stage(
    name="occurrences",
    summary="sense of every corpus occurrence of occurrences.targets → occurrences/",
    reads=("corpus", "vocab", "embeddings", "induction_common", "induction_map",
           "induction_intercept", "atoms", "senses"),
    writes=("occurrences",),
    params=("occurrences", "induce.window", "context.sif_a", "senses.assign_max"),
    build=build,
    code=("tasks._checks", "tasks.senses", "tasks.context", "tasks.assign", "tasks.counting",
          "tasks.sense_clusters"),
)
