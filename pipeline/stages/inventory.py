"""inventory stage: senses of frequent words learned from their corpus occurrences
→ ``sense_inventory.parquet``.

For every word with a vector and at least ``inventory.min_count`` corpus
occurrences (the ``inventory.max_words`` most frequent when set), a seeded
sample of at most ``inventory.cap`` occurrences (:mod:`tasks.sense_inventory`;
pass 1: one Dask task per corpus shard keeps each word's smallest random keys;
pass 2: one task per shard cuts the ±max(``senses.windows``) token snippets of
the chosen occurrences and of ``inventory.cap`` random corpus positions, the
background). Each snippet's multi-scale SIF context (``senses.windows``,
``context.sif_a``, the context stage's common directions, the word's own id
never context) is centred by the word's sample mean and scaled to unit length;
the number of senses comes from the background-relative k-means inertia drop
(``inventory.min_excess``, ``inventory.tolerance``; the background's curve is
fitted once per sample size, one task per size) and the senses are k-means
clusters. Words are processed in blocks of about ``inventory.block_rows``
occurrences, one task per block.

Each sense is linked to atoms through the induction map: v = A ū + b, where ū
is the mean of its occurrences' SIF contexts over ±``induce.window`` tokens
(the induce stage's common components removed), i.e. the sense's à la carte
vector; its ``inventory.atoms`` atoms of largest cosine with v − v̄ name it (v̄
the mean word vector: see :func:`tasks.sense_inventory.link_atoms`).

``sense_inventory.parquet``, one row per (word, sense), senses ordered by share:
``word: string, word_id: int32, sense_id: int16, share: float32, n_occurrences:
int32, centroid: fixed_size_list<float32>[D], mean: fixed_size_list<float32>[D]``
(the word's sample mean, the same on each of its rows; D = d × len(windows)),
``atom_ids: list<int32>, top_words: list<string>, examples: list<string>``
(keyword-in-context lines of the occurrences nearest the centroid). A new
occurrence with multi-scale vector x gets y = unit(x − mean) and the sense
argmin_j ||y − centroid_j||² (the k-means rule); cos(y, centroid_j) grades it.
"""
from __future__ import annotations

import functools
import itertools

import dask
import numpy as np
import pyarrow as pa

from tasks.assign import centre_unit_rows
from tasks.context import sif_weighted_vectors
from tasks.counting import encode_lines
from tasks.sense_inventory import (drop_curve, fit_word, kwic, link_atoms, merge_samples,
                                   reduce_rows, sample_occurrences, snippet_contexts,
                                   snippets)

from ..artifacts.corpus import list_shards, read_lines
from ..artifacts.tables import read_atoms, read_vectors, read_vocab
from ..errors import InputError
from ..runner import in_task
from ..stage import Stage
from ..storage import load_npy, write_parquet

KWIC_WIDTH = 8  # tokens each side in an example line


def schema(n_dims):
    """The table's schema for D = ``n_dims`` (multi-scale) dimensions."""
    vec = pa.list_(pa.float32(), n_dims)
    return pa.schema([("word", pa.string()), ("word_id", pa.int32()), ("sense_id", pa.int16()),
                      ("share", pa.float32()), ("n_occurrences", pa.int32()),
                      ("centroid", vec), ("mean", vec), ("atom_ids", pa.list_(pa.int32())),
                      ("top_words", pa.list_(pa.string())), ("examples", pa.list_(pa.string()))])


def _sample_shard(url, vocab_words, eligible, cap, seed, shard):
    ids, _offsets = encode_lines(read_lines(url), vocab_words)
    return len(ids), sample_occurrences(ids, eligible, cap, seed, shard)


def _snip_shard(url, vocab_words, positions, width):
    ids, offsets = encode_lines(read_lines(url), vocab_words)
    return snippets(ids, offsets, positions, width)


def _one_thread(task):
    """``task`` run with one BLAS/OpenMP thread (:func:`pipeline.runner.in_task`)."""
    @functools.wraps(task)
    def run(*args, **kwargs):
        with in_task():
            return task(*args, **kwargs)
    return run


@_one_thread
def _background_curve(x_bg, n, p, seed):
    """Drop curve of a seeded sample of n background rows (non-zero rows only)."""
    rows = x_bg[np.any(x_bg != 0, axis=1)]
    rng = np.random.default_rng([seed, n])
    pick = rows[rng.choice(len(rows), min(n, len(rows)), replace=False)]
    z, residual = reduce_rows(centre_unit_rows(pick, pick.mean(axis=0), np.float32), p.dims,
                              seed)  # as fit_word's rows
    return drop_curve(z, residual, p.max_senses, seed=seed, n_init=p.n_init)[0]


def _sizes(cap, low):
    """Sample sizes at which the background curve is fitted: cap, cap/√2, ... >= low/2."""
    out, n = [], float(cap)
    while n >= max(low / 2, 8):
        out.append(round(n))
        n /= np.sqrt(2)
    return out or [int(cap)]


@_one_thread
def _block(words, snips, model, curves, p, windows, map_window):
    """Inventory rows of a block of words: [(word id, fit dict, links, examples)]."""
    weighted, has_vector, common, a_map, b_map, map_common, atoms, centre, vocab_words = model
    sizes = np.array(sorted(curves))

    def background(n):
        return curves[int(sizes[np.argmin(np.abs(np.log(sizes) - np.log(n)))])]

    out = []
    for w, s in zip(words, snips):
        x, _n, u, n_ctx = snippet_contexts(s, weighted, has_vector, common, windows, np.float32,
                                           plain=(map_common, map_window))
        fit = fit_word(x, background, max_senses=p.max_senses, dims=p.dims,
                       min_excess=p.min_excess, tolerance=p.tolerance, seed=p.seed,
                       n_init=p.n_init, fixed_k=p.clusters or None)
        links, examples = [], []
        nz, y = fit["nonzero"], fit["rows"]
        labels = fit["labels"][nz]
        for j, c in enumerate(fit["centroids"]):
            members = np.flatnonzero(labels == j)
            rows = members[n_ctx[nz[members]] > 0]
            if len(rows):
                links.append(link_atoms(u[nz[rows]].mean(axis=0) @ a_map.T + b_map, atoms,
                                        centre, p.atoms))
            else:
                links.append(np.zeros(0, np.int32))
            near = members[np.argsort(-(y[members] @ c), kind="stable")[:p.examples]]
            examples.append([kwic([None if t == -2 else ("_" if t < 0 else vocab_words[t])
                                   for t in s[nz[i]]], KWIC_WIDTH) for i in near])
        out.append((int(w), {k: fit[k] for k in ("mean", "centroids", "counts", "excess")},
                    links, examples))
    return out


def _table(results, vocab_words, atom_words, n_dims, top_words):
    cols = {k: [] for k in schema(n_dims).names}
    cent, means = [], []
    for w, fit, links, examples in results:
        counts = fit["counts"]
        total = max(int(counts.sum()), 1)
        for j, c in enumerate(fit["centroids"]):
            cols["word"].append(vocab_words[w])
            cols["word_id"].append(w)
            cols["sense_id"].append(j)
            cols["share"].append(counts[j] / total)
            cols["n_occurrences"].append(int(counts[j]))
            cent.append(c)
            means.append(fit["mean"])
            cols["atom_ids"].append(links[j].tolist())
            names = []
            for rank in range(max((len(atom_words[a]) for a in links[j]), default=0)):
                for a in links[j]:  # round robin: each atom's best words first
                    t = atom_words[a][rank] if rank < len(atom_words[a]) else None
                    if t and t != vocab_words[w] and t not in names:
                        names.append(t)
            cols["top_words"].append(names[:top_words])
            cols["examples"].append(examples[j])
    sch = schema(n_dims)

    def fixed(rows):
        flat = np.ascontiguousarray(np.array(rows, dtype=np.float32).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), n_dims)

    arrays = {k: pa.array(v, type=sch.field(k).type) for k, v in cols.items()
              if k not in ("centroid", "mean")}
    arrays["centroid"], arrays["mean"] = fixed(cent), fixed(means)
    return pa.table([arrays[k] for k in sch.names], schema=sch)


def build(ctx):
    p = ctx.cfg.inventory
    windows = sorted(int(w) for w in ctx.cfg.senses.windows)
    map_window = int(ctx.cfg.induce.window)
    width = max(max(windows), map_window)
    vocab, total_tokens = read_vocab(ctx.input_url("vocab"))
    words = vocab["word"].to_pylist()
    vocab_words = pa.array(words, type=pa.string())
    counts = vocab["count"].to_numpy()
    emb, vectors = read_vectors(ctx.input_url("embeddings"))
    weighted, has_vector = sif_weighted_vectors(vectors, emb["id"].to_numpy(), counts,
                                                total_tokens, a=ctx.cfg.context.sif_a)
    weighted = weighted.astype(np.float32)  # the rows the window sums gather: half the bytes
    common = load_npy(ctx.input_url("common_directions"))
    n_dims = weighted.shape[1] * len(windows)
    eligible = has_vector & (counts >= p.min_count)
    if p.max_words is not None and eligible.sum() > p.max_words:
        keep = np.flatnonzero(eligible)[np.argsort(-counts[eligible], kind="stable")]
        eligible[:] = False
        eligible[keep[:p.max_words]] = True
    out_url = ctx.output_url("sense_inventory")
    if not eligible.any():
        write_parquet(out_url, schema(n_dims).empty_table())
        return {"words": 0, "senses": 0, "sampled": 0}
    urls = list_shards(ctx.run.fs, ctx.input_path("corpus"))
    vw = ctx.runner.share(vocab_words, "inventory-vocab")
    el = ctx.runner.share(eligible, "inventory-eligible")
    parts = ctx.runner.compute(
        [dask.delayed(_sample_shard, pure=True)(url, vw, el, p.cap, p.seed, i,
                                                dask_key_name=f"inventory-sample-{i}")
         for i, url in enumerate(urls)], "inventory sample")
    word, shard, position = merge_samples([q[1] for q in parts], p.cap)
    # The background: inventory.cap random corpus positions (seeded).
    sizes = np.array([q[0] for q in parts], dtype=np.int64)
    ends = np.cumsum(sizes)
    rng = np.random.default_rng(p.seed)
    picks = np.sort(rng.choice(int(ends[-1]), min(p.cap, int(ends[-1])), replace=False))
    bg_shard = np.searchsorted(ends, picks, side="right")
    bg_pos = picks - (ends[bg_shard] - sizes[bg_shard])
    cut = ctx.runner.compute(
        [dask.delayed(_snip_shard, pure=True)(
            url, vw, np.concatenate([position[shard == i], bg_pos[bg_shard == i]]), width,
            dask_key_name=f"inventory-snippets-{i}") for i, url in enumerate(urls)],
        "inventory snippets")
    # Rows were cut shard by shard; put them back in the sample's (word, shard,
    # position) order, one shard at a time (no second copy of the whole sample).
    word_snips = np.empty((len(word), 2 * width + 1), dtype=np.int32)
    dest = np.argsort(shard, kind="stable")
    at = 0
    bg_snips = []
    for i in range(len(urls)):
        n = int((shard == i).sum())
        word_snips[dest[at:at + n]] = cut[i][:n]
        bg_snips.append(cut[i][n:].copy())
        cut[i] = None
        at += n
    bg_snips = np.concatenate(bg_snips)
    x_bg, _n = snippet_contexts(bg_snips, weighted, has_vector, common, windows, np.float32)
    if np.count_nonzero(np.any(x_bg != 0, axis=1)) <= p.max_senses:
        raise InputError("inventory: too few random corpus positions have a context")
    curve_sizes = _sizes(p.cap, p.min_count)
    xb = ctx.runner.share(x_bg, "inventory-background")
    curves = dict(zip(curve_sizes, ctx.runner.compute(
        [dask.delayed(_background_curve, pure=True)(xb, n, p, p.seed,
                                                    dask_key_name=f"inventory-bg-{n}")
         for n in curve_sizes], "inventory background")))
    atoms_table, dictionary = read_atoms(ctx.input_url("atoms"))
    atoms_unit = dictionary / np.maximum(np.linalg.norm(dictionary, axis=1, keepdims=True),
                                         1e-300)
    model = ctx.runner.share(
        (weighted, has_vector, common, load_npy(ctx.input_url("induction_map")),
         load_npy(ctx.input_url("induction_intercept")),
         load_npy(ctx.input_url("induction_common")), atoms_unit, vectors.mean(axis=0), words),
        "inventory-model")
    starts = np.flatnonzero(np.r_[True, word[1:] != word[:-1]])
    bounds = np.r_[starts, len(word)]
    blocks, cur, rows = [], [], 0
    for lo, hi in itertools.pairwise(bounds):
        cur.append((int(word[lo]), word_snips[lo:hi]))
        rows += hi - lo
        if rows >= p.block_rows:
            blocks.append(cur)
            cur, rows = [], 0
    if cur:
        blocks.append(cur)
    results = ctx.runner.compute(
        [dask.delayed(_block, pure=True)([w for w, _s in b], [s for _w, s in b], model, curves,
                                         p, windows, map_window,
                                         dask_key_name=f"inventory-block-{i}")
         for i, b in enumerate(blocks)], "inventory")
    results = [r for b in results for r in b]
    atom_words = atoms_table["top_words"].to_pylist()
    table = _table(results, words, atom_words, n_dims, p.top_words)
    write_parquet(out_url, table)
    k = np.array([len(r[1]["counts"]) for r in results])
    return {"words": len(results), "senses": int(k.sum()),
            "polysemous": int((k > 1).sum()), "sampled": len(word),
            "blocks": len(blocks), "dimension": n_dims,
            "senses_histogram": {str(j): int((k == j).sum()) for j in np.unique(k)}}


STAGE = Stage(
    name="inventory",
    summary="senses of frequent words clustered from their corpus occurrences → "
            "sense_inventory.parquet",
    reads=("corpus", "vocab", "embeddings", "common_directions", "induction_common",
           "induction_map", "induction_intercept", "atoms"),
    writes=("sense_inventory",),
    params=("inventory", "senses.windows", "context.sif_a", "induce.window"),
    build=build,
    code=("tasks._checks", "tasks.sense_inventory", "tasks.kmeans", "tasks.assign",
          "tasks.counting", "tasks.sense_clusters", "tasks.senses", "tasks.context"),
)
