"""induce stage: the induction map (v_w ≈ A ũ_w + b) and induced vectors → ``induced.parquet``.

A and b are fitted by least squares (optionally weighted by log count) on
words with count ≥ ``induce.min_count`` that have both a vector and a
context; a random ``induce.holdout`` fraction is held out first and the mean
cosine of A ũ_w + b with v_w on it is reported, overall and by frequency
band. The map refitted on all training words is saved as
``induction_map.npy`` (A, shape (d_v, d_u)) and ``induction_intercept.npy``
(b, shape (d_v,); zero unless ``induce.fit_intercept``).

``induced.parquet`` (``word, count, vector, source``) holds the trained
vectors of the training words (source ``trained``) and induced vectors A ũ_w + b
(source ``induced``) for vocabulary words below the threshold and for
out-of-vocabulary targets (``induce.targets``, and the words of the
evaluation sets when ``induce.evaluation_targets``), whose contexts a second
pass over the tokenised corpus collects.
"""
from __future__ import annotations

import dask
import numpy as np
import pyarrow as pa

from tasks.context import remove_components, sif_weighted_vectors
from tasks.counting import encode_lines
from tasks.evaluation import similarity_scores
from tasks.induce import (apply_map, fit_induction_map, holdout_split, row_cosines,
                          target_contexts)

from ..artifacts.corpus import list_shards, read_lines
from ..artifacts.tables import read_vectors, read_vocab, vectors_table
from ..errors import InputError
from ..readers import similarity_sets
from ..runner import tree_reduce
from ..stage import Stage
from ..storage import load_npy, save_npy, write_parquet


def _bands(min_count):
    edges = [min_count, 2 * min_count, 10 * min_count, 100 * min_count]
    return [(lo, hi) for lo, hi in zip(edges, edges[1:] + [None])]


def _targets_of_shard(url, words, targets, weighted, has_vector, window):
    ids, offsets = encode_lines(read_lines(url), pa.array(list(words) + list(targets)))
    n = len(words)
    return target_contexts(ids, offsets, np.arange(n, n + len(targets)), weighted, has_vector,
                           window=window, n_targets=len(targets))


def _add(*parts):
    return tuple(np.sum([p[k] for p in parts], axis=0) for k in range(3))


def _evaluation_words(sets):
    return [w for _name, _path, pairs in sets for a, b, _s in pairs for w in (a, b)]


def _coverage_gain(sets, trained_words, trained, induced_words, induced):
    """Similarity scores with trained vectors only, and with induced vectors for the rest.

    Trained vectors are kept wherever they exist, so on the pairs both cover the
    scores are identical; induced vectors add coverage (RW is the test of this),
    and ``induced_pairs_only`` scores the pairs that only they make usable.
    """
    index = {w: i for i, w in enumerate(trained_words)}
    extra = [(w, v) for w, v in zip(induced_words, induced) if w not in index]
    both_words = list(trained_words) + [w for w, _ in extra]
    both = np.vstack([trained] + [v[None, :] for _, v in extra]) if extra else trained
    both_index = {w: i for i, w in enumerate(both_words)}
    out = {}
    for name, _path, pairs in sets:
        new = [p for p in pairs if not (p[0] in index and p[1] in index)]
        out[name] = {"trained": similarity_scores(pairs, trained, index),
                     "with_induced": similarity_scores(pairs, both, both_index),
                     "induced_pairs_only": similarity_scores(new, both, both_index)}
    return out


def build(ctx):
    cfg = ctx.cfg.induce
    vocab, total_tokens = read_vocab(ctx.input_url("vocab"))
    words = vocab["word"].to_pylist()
    counts = vocab["count"].to_numpy()
    n_words = len(words)
    emb, vectors = read_vectors(ctx.input_url("embeddings"))
    ctxv, u = read_vectors(ctx.input_url("context_vectors"), what="context vectors")
    common = load_npy(ctx.input_url("common_directions"))
    sets = similarity_sets(ctx.cfg.evaluate)
    u_all = np.zeros((n_words, u.shape[1]))
    has_u = np.zeros(n_words, dtype=bool)
    u_all[ctxv["id"].to_numpy()] = remove_components(u, common)
    has_u[ctxv["id"].to_numpy()] = True
    v_all = np.zeros((n_words, vectors.shape[1]))
    has_v = np.zeros(n_words, dtype=bool)
    v_all[emb["id"].to_numpy()] = vectors
    has_v[emb["id"].to_numpy()] = True

    train = np.flatnonzero(has_u & has_v & (counts >= cfg.min_count))
    if len(train) <= u.shape[1]:
        raise InputError(f"only {len(train)} words have a vector, a context and count >= "
                         f"induce.min_count={cfg.min_count}: too few to fit a "
                         f"{vectors.shape[1]}x{u.shape[1]} map (lower induce.min_count)")
    weights = np.log(counts[train]) if cfg.log_count_weights else None
    held = holdout_split(len(train), cfg.holdout, cfg.seed)
    def fit(rows, w):
        out = fit_induction_map(u_all[rows], v_all[rows], w, removed=len(common),
                                intercept=cfg.fit_intercept)
        return out if cfg.fit_intercept else (out, np.zeros(v_all.shape[1]))

    try:
        counters = {"train_words": int(len(train)), "heldout_words": int(held.sum())}
        if held.any():
            a, b = fit(train[~held], None if weights is None else weights[~held])
            cos = row_cosines(apply_map(a, u_all[train[held]], b), v_all[train[held]])
            counters["heldout_mean_cosine"] = float(cos.mean())
            hc = counts[train[held]]
            counters["heldout_by_band"] = {
                f"{lo}-{hi - 1 if hi else 'max'}": (float(cos[m].mean()) if m.any() else None)
                for lo, hi in _bands(cfg.min_count)
                for m in [(hc >= lo) & ((hc < hi) if hi else True)]}
        a, b = fit(train, weights)
    except ValueError as e:
        raise InputError(f"induction map: {e}") from None

    # Induced vectors: vocabulary words below the threshold, then outside targets.
    rare = np.flatnonzero(has_u & (counts < cfg.min_count))
    rows = [(words[i], int(counts[i]), v_all[i], "trained") for i in train]
    rows += [(words[i], int(counts[i]), x, "induced")
             for i, x in zip(rare, apply_map(a, u_all[rare], b))]
    known = set(words)
    targets = list(dict.fromkeys(cfg.targets + (_evaluation_words(sets)
                                                if cfg.evaluation_targets else [])))
    targets = [t for t in targets if t not in known]
    without = []
    if targets:
        weighted, _has = sif_weighted_vectors(vectors, emb["id"].to_numpy(), counts,
                                              total_tokens, a=ctx.cfg.context.sif_a)
        w_d = dask.delayed(weighted, name="induce-weighted")
        parts = [dask.delayed(_targets_of_shard, pure=True, nout=3)(
            url, words, targets, w_d, has_v, ctx.cfg.cooc.window)
            for url in list_shards(ctx.run.fs, ctx.input_path("corpus"))]
        total = tree_reduce(parts, _add, ctx.runner.split_every, name="induce-targets")
        (sums, n_ctx, occ), = ctx.runner.compute([total], "induce targets")
        for k, t in enumerate(targets):
            if n_ctx[k] == 0:
                without.append(t)
                continue
            ut = remove_components(sums[k:k + 1] / n_ctx[k], common)
            rows.append((t, int(occ[k]), apply_map(a, ut, b)[0], "induced"))
    table = vectors_table([r[0] for r in rows], np.zeros(len(rows)), [r[1] for r in rows],
                             np.array([r[2] for r in rows], dtype=np.float32).reshape(
                                 len(rows), v_all.shape[1]))
    table = table.drop_columns(["id"]).append_column(
        "source", pa.array([r[3] for r in rows], type=pa.string()))
    write_parquet(ctx.output_url("induced"), table)
    save_npy(ctx.output_url("induction_map"), a)
    save_npy(ctx.output_url("induction_intercept"), b)
    if without:
        ctx.log(f"warning: {len(without)} target(s) never occur with a context word that has "
                f"a vector (e.g. {without[0]!r}); no vector induced for them")
    counters.update(induced_vocabulary=int(len(rare)),
                    induced_targets=int(len(targets) - len(without)),
                    targets_without_context=len(without))
    induced_rows = [r for r in rows if r[3] == "induced"]
    gain = _coverage_gain(sets, emb["word"].to_pylist(), vectors,
                          [r[0] for r in induced_rows],
                          [np.asarray(r[2], dtype=np.float64) for r in induced_rows])
    if gain:
        counters["similarity"] = gain
        for name, g in gain.items():
            t, b = g["trained"], g["with_induced"]
            ctx.log(f"induce {name}: coverage {t['pairs_used']}/{t['pairs_total']} -> "
                    f"{b['pairs_used']}/{b['pairs_total']}, Spearman "
                    f"{t['spearman'] if t['spearman'] is None else round(t['spearman'], 3)} -> "
                    f"{b['spearman'] if b['spearman'] is None else round(b['spearman'], 3)}")
    return counters


STAGE = Stage(
    name="induce",
    summary="induction map (v ≈ A ũ + b) by least squares; induced vectors → induced.parquet",
    reads=("corpus", "vocab", "embeddings", "context_vectors", "common_directions"),
    writes=("induced", "induction_map", "induction_intercept"),
    params=("induce", "context.sif_a", "cooc.window", "evaluate.similarity",
            "evaluate.lowercase"),
    build=build,
    code=("tasks.induce", "tasks.context", "tasks.evaluation", "pipeline.readers"),
)
