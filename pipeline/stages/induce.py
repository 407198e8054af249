"""induce stage: the induction map (v_w ≈ A ũ_w + b) and induced vectors → ``induced.parquet``.

ũ_w is the pooled SIF average of the ``induce.window`` tokens each side of
every occurrence of w, within its line (a sentence or document of the
corpus shards, as a context a user supplies is one text), with the first
``context.remove_components`` principal directions of these averages removed
(``induction_common.npy``). One pass over the tokenised corpus counts the
window pairs (:func:`tasks.cooc.cooc_partial`) for the vocabulary and the
out-of-vocabulary targets at once; ũ is then one sparse × dense product.

A and b come from ridge regression (``induce.ridge``, relative to the Gram
matrix's mean diagonal, b unpenalised) on the words with count ≥
``induce.min_count`` that have a vector and a context. A random
``induce.holdout`` fraction is held out first and scored by the mean cosine
of the induced with the trained vector: from all their contexts
(``heldout_mean_cosine``, by frequency band) and, for held-out words with
count ≥ ``induce.rarity_min_count``, from their first 4 corpus contexts
against the SIF and additive averages of the same contexts (``rarity_n4``).

With ``induce.rescale`` each component block of an induced vector gets the
norm the trained vectors have there (√weight of a combined space,
``induction_blocks.npy`` rows (start, end, norm)).

``induced.parquet`` (``word, count, vector, source``) holds every trained
vector (source ``trained``; never replaced) and induced vectors (source
``induced``) for vocabulary words without a trained vector and for
out-of-vocabulary targets (``induce.targets``, and the words of the
evaluation sets when ``induce.evaluation_targets``). Similarity counters
give coverage and Spearman for trained vectors only, with induced vectors,
and on the pairs only induced vectors cover, each for all pairs and for the
fixed dev and test halves (:func:`tasks.evaluation.split_pairs`).
"""
from __future__ import annotations

import dask
import numpy as np
import pyarrow as pa

from tasks.context import gram_components, remove_components, sif_weighted_vectors
from tasks.cooc import cooc_partial
from tasks.counting import encode_lines
from tasks.evaluation import similarity_scores, split_pairs
from tasks.induce import (apply_map, count_weights, first_occurrences, fit_induction_map,
                          holdout_split, rescale_blocks, row_cosines, span_context_sums)

from ..artifacts.corpus import list_shards, read_lines
from ..artifacts.tables import read_vectors, read_vocab, vectors_table
from ..errors import InputError
from ..readers import similarity_sets
from ..runner import tree_reduce
from ..stage import Stage
from ..storage import save_npy, write_parquet

RARITY_CONTEXTS = 4  # the simulated-rarity figure induces from this many contexts


def _bands(min_count):
    edges = [min_count, 2 * min_count, 10 * min_count, 100 * min_count]
    return [(lo, hi) for lo, hi in zip(edges, edges[1:] + [None])]


def _shard(url, types, n_words, model, window, probes):
    """Window counts (rows: vocabulary + targets, columns: vocabulary) and the targets'
    occurrences in one shard, and the first contexts of the probe words:
    (counts, occurrences, probe slots, SIF sums, plain sums, n)."""
    weighted, plain, has_vector = model
    ids, offsets = encode_lines(read_lines(url), types)
    counts, _weighted = cooc_partial(ids, offsets, n_words=len(types), window=window)
    pos, slot = first_occurrences(ids, probes, n=RARITY_CONTEXTS)
    sif, n = span_context_sums(ids, offsets, pos, pos + 1, weighted, has_vector, window=window)
    add, _ = span_context_sums(ids, offsets, pos, pos + 1, plain, has_vector, window=window)
    occurrences = np.bincount(ids[ids >= n_words] - n_words, minlength=len(types) - n_words)
    return counts[:, :n_words], occurrences, slot, sif, add, n


def _combine(*parts):
    """Sum the counts; keep the probes' contexts in shard order (the first ones win later)."""
    counts, occurrences = parts[0][0], parts[0][1]
    for p in parts[1:]:
        counts, occurrences = counts + p[0], occurrences + p[1]
    return (counts, occurrences) + tuple(np.concatenate([p[k] for p in parts])
                                         for k in range(2, 6))


def component_blocks(embed_counters, vectors):
    """(n_blocks, 3) rows (start, end, norm) of the rescaling: the components of a combined
    space (from the embed stage's counters), else one block at the vectors' mean norm."""
    parts = [embed_counters[f"component_{i}"] for i in range(len(embed_counters))
             if isinstance(embed_counters.get(f"component_{i}"), dict)]
    if parts and sum(p["dimension"] for p in parts) == vectors.shape[1]:
        total = sum(p["weight"] for p in parts)
        ends = np.cumsum([p["dimension"] for p in parts])
        return np.array([[e - p["dimension"], e, np.sqrt(p["weight"] / total)]
                         for e, p in zip(ends, parts)], dtype=np.float64)
    return np.array([[0, vectors.shape[1], float(np.linalg.norm(vectors, axis=1).mean())]])


def _evaluation_words(sets):
    return [w for _name, _path, pairs in sets for a, b, _s in pairs for w in (a, b)]


def _coverage_gain(sets, trained_words, trained, induced_words, induced):
    """Similarity scores with trained vectors only, and with induced vectors for the rest.

    Trained vectors are kept wherever they exist, so on the pairs both cover the
    scores are identical; induced vectors add coverage (RW is the test of this),
    and ``induced_pairs_only`` scores the pairs that only they make usable. Each
    for all pairs and for the fixed dev and test halves.
    """
    index = {w: i for i, w in enumerate(trained_words)}
    extra = [(w, v) for w, v in zip(induced_words, induced) if w not in index]
    both = np.vstack([trained] + [v[None, :] for _, v in extra]) if extra else trained
    both_index = dict(index, **{w: len(index) + k for k, (w, _) in enumerate(extra)})

    def scores(pairs):
        new = [p for p in pairs if not (p[0] in index and p[1] in index)]
        return {"trained": similarity_scores(pairs, trained, index),
                "with_induced": similarity_scores(pairs, both, both_index),
                "induced_pairs_only": similarity_scores(new, both, both_index)}
    out = {}
    for name, _path, pairs in sets:
        dev, test = split_pairs(pairs)
        out[name] = dict(scores(pairs), dev=scores(dev), test=scores(test))
    return out


def _rarity(slot, sif, add, n, n_probes, common, a, b, blocks, truth):
    """Simulated rarity: mean cosines of the map, the SIF and the additive average from the
    first RARITY_CONTEXTS contexts of each held-out probe word."""
    order = np.lexsort((np.arange(len(slot)), slot))
    slot, sif, add, n = slot[order], sif[order], add[order], n[order]
    keep = np.arange(len(slot)) - np.searchsorted(slot, slot) < RARITY_CONTEXTS
    g = n_probes
    tokens = np.bincount(slot[keep], weights=n[keep], minlength=g)
    ok = tokens > 0
    if not ok.any():
        return None
    u_sif = np.zeros((g, sif.shape[1]))
    u_add = np.zeros((g, sif.shape[1]))
    np.add.at(u_sif, slot[keep], sif[keep])
    np.add.at(u_add, slot[keep], add[keep])
    u_sif, u_add = u_sif[ok] / tokens[ok, None], u_add[ok] / tokens[ok, None]
    induced = apply_map(a, remove_components(u_sif, common), b)
    if blocks is not None:
        induced = rescale_blocks(induced, blocks)
    t = truth[ok]
    return {"words": int(ok.sum()), "map": float(row_cosines(induced, t).mean()),
            "sif_average": float(row_cosines(u_sif, t).mean()),
            "additive_average": float(row_cosines(u_add, t).mean())}


def build(ctx):
    cfg = ctx.cfg.induce
    vocab, total_tokens = read_vocab(ctx.input_url("vocab"))
    words = vocab["word"].to_pylist()
    counts = vocab["count"].to_numpy()
    n_words = len(words)
    emb, vectors = read_vectors(ctx.input_url("embeddings"))
    sets = similarity_sets(ctx.cfg.evaluate)
    weighted, has_v = sif_weighted_vectors(vectors, emb["id"].to_numpy(), counts, total_tokens,
                                           a=ctx.cfg.context.sif_a)
    v_all = np.zeros((n_words, vectors.shape[1]))
    v_all[emb["id"].to_numpy()] = vectors
    known = set(words)
    targets = list(dict.fromkeys(cfg.targets + (_evaluation_words(sets)
                                                if cfg.evaluation_targets else [])))
    targets = [t for t in targets if t not in known]
    # Held-out words are drawn before the pass, so their first contexts come with it.
    candidates = np.flatnonzero(has_v & (counts >= cfg.min_count))
    held = np.zeros(n_words, dtype=bool)
    held[candidates[holdout_split(len(candidates), cfg.holdout, cfg.seed)]] = True
    probes = np.flatnonzero(held & (counts >= cfg.rarity_min_count))

    model = ctx.runner.share((weighted, v_all, has_v), "induce-model")
    types = pa.array(words + targets, type=pa.string())
    parts = [dask.delayed(_shard, pure=True)(url, types, n_words, model, cfg.window, probes,
                                             dask_key_name=f"induce-shard-{i}")
             for i, url in enumerate(list_shards(ctx.run.fs, ctx.input_path("corpus")))]
    if not parts:
        raise InputError("induce: the tokenised corpus has no shard")
    total = tree_reduce(parts, _combine, ctx.runner.split_every, name="induce-combine")
    (c, target_count, slot, sif, add, n_probe), = ctx.runner.compute([total], "induce")
    c = c.tocsr().astype(np.float64)
    denom = c @ has_v.astype(np.float64)
    u = np.asarray(c @ weighted)
    np.divide(u, denom[:, None], out=u, where=denom[:, None] > 0)
    has_u = denom > 0
    vocab_u = np.flatnonzero(has_u[:n_words])
    n_common = ctx.cfg.context.remove_components
    if len(vocab_u) == 0 or n_common > min(len(vocab_u), u.shape[1]):
        raise InputError(f"induce: {len(vocab_u)} vocabulary words have a context word with a "
                         f"vector within induce.window={cfg.window}: too few for "
                         f"context.remove_components={n_common}")
    common = gram_components(u[vocab_u].T @ u[vocab_u], n_common)
    u_clean = remove_components(u, common)

    train = np.flatnonzero(has_u[:n_words] & has_v & (counts >= cfg.min_count))
    if len(train) <= (0 if cfg.ridge > 0 else u.shape[1]):
        raise InputError(f"only {len(train)} words have a vector, a context and count >= "
                         f"induce.min_count={cfg.min_count}: too few to fit a "
                         f"{vectors.shape[1]}x{u.shape[1]} map (lower induce.min_count or "
                         "set induce.ridge > 0)")
    weights = count_weights(counts, cfg.weights)
    blocks = (component_blocks(ctx.upstream.get("embed", {}).get("counters", {}), vectors)
              if cfg.rescale else None)

    def fit(rows):
        out = fit_induction_map(u_clean[rows], v_all[rows],
                                None if weights is None else weights[rows],
                                removed=len(common), intercept=cfg.fit_intercept,
                                ridge=cfg.ridge)
        return out if cfg.fit_intercept else (out, np.zeros(v_all.shape[1]))

    def induce(rows):
        out = apply_map(a, u_clean[rows], b)
        return out if blocks is None else rescale_blocks(out, blocks)

    try:
        test = train[held[train]]
        counters = {"train_words": int(len(train) - len(test)), "heldout_words": int(len(test))}
        if len(test):
            a, b = fit(train[~held[train]])
            cos = row_cosines(induce(test), v_all[test])
            counters["heldout_mean_cosine"] = float(cos.mean())
            hc = counts[test]
            counters["heldout_by_band"] = {
                f"{lo}-{hi - 1 if hi else 'max'}": (float(cos[m].mean()) if m.any() else None)
                for lo, hi in _bands(cfg.min_count)
                for m in [(hc >= lo) & ((hc < hi) if hi else True)]}
            counters["rarity_n4"] = _rarity(slot, sif, add, n_probe, len(probes), common, a, b,
                                            blocks, v_all[probes])
        a, b = fit(train)
    except ValueError as e:
        raise InputError(f"induction map: {e}") from None
    counters["train_words"] = int(len(train))

    # Induced vectors: vocabulary words without a trained vector, then outside targets.
    have = emb["id"].to_numpy()
    rest = np.flatnonzero(has_u[:n_words] & ~has_v)
    found = [k for k in range(len(targets)) if has_u[n_words + k]]
    without = [t for k, t in enumerate(targets) if not has_u[n_words + k]]
    names = ([words[i] for i in have] + [words[i] for i in rest] + [targets[k] for k in found])
    induced = induce(np.concatenate([rest, n_words + np.array(found, dtype=np.int64)]))
    table_vectors = np.vstack([vectors.astype(np.float64), induced])
    row_counts = np.concatenate([counts[have], counts[rest],
                                 np.asarray(target_count, dtype=np.int64)[found]])
    table = vectors_table(names, np.zeros(len(names)), row_counts,
                          table_vectors.astype(np.float32))
    source = ["trained"] * len(have) + ["induced"] * (len(rest) + len(found))
    table = table.drop_columns(["id"]).append_column("source", pa.array(source, pa.string()))
    write_parquet(ctx.output_url("induced"), table)
    save_npy(ctx.output_url("induction_map"), a)
    save_npy(ctx.output_url("induction_intercept"), b)
    save_npy(ctx.output_url("induction_common"), common)
    save_npy(ctx.output_url("induction_blocks"),
             np.zeros((0, 3)) if blocks is None else blocks)
    if without:
        ctx.log(f"warning: {len(without)} target(s) never occur with a context word that has "
                f"a vector (e.g. {without[0]!r}); no vector induced for them")
    counters.update(induced_vocabulary=int(len(rest)), induced_targets=len(found),
                    targets_without_context=len(without))
    gain = _coverage_gain(sets, emb["word"].to_pylist(), vectors, names[len(have):], induced)
    if gain:
        counters["similarity"] = gain
        for name, g in gain.items():
            t, w = g["trained"], g["with_induced"]
            ctx.log(f"induce {name}: coverage {t['pairs_used']}/{t['pairs_total']} -> "
                    f"{w['pairs_used']}/{w['pairs_total']}, Spearman "
                    f"{t['spearman'] if t['spearman'] is None else round(t['spearman'], 3)} -> "
                    f"{w['spearman'] if w['spearman'] is None else round(w['spearman'], 3)}")
    return counters


STAGE = Stage(
    name="induce",
    summary="induction map (v ≈ A ũ + b, ridge) on line-bounded contexts; induced vectors → "
            "induced.parquet",
    reads=("corpus", "vocab", "embeddings"),
    writes=("induced", "induction_map", "induction_intercept", "induction_common",
            "induction_blocks"),
    params=("induce", "context.sif_a", "context.remove_components", "evaluate.similarity",
            "evaluate.lowercase"),
    build=build,
    code=("tasks._checks", "tasks.induce", "tasks.context", "tasks.cooc", "tasks.counting",
          "tasks.evaluation", "tasks.linalg", "pipeline.readers"),
)
