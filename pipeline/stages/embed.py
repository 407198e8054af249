"""embed stage: word vectors → ``embeddings.parquet`` (+ gensim KeyedVectors, word2vec text).

Methods (``embed.method``):

- ``word2vec`` / ``fasttext``: gensim, trained from the tokenised shards in
  its ``corpus_file`` mode with the vocab stage's vocabulary. gensim trains
  on one machine (its maintainers declined distributed training), so one
  Dask task owns the multi-threaded run.
- ``glove``: GloVe's weighted least squares on cooc's harmonic-weighted
  counts (:func:`tasks.glove.train_glove`), one task.
- ``ppmi_svd``: shifted PPMI with context-distribution smoothing, computed
  per cooc row block, then a randomized SVD with ``dask.array``
  (``svd_compressed`` on sparse chunks): the method that scales out.
- ``pretrained``: vectors read from a word2vec (text or binary), GloVe or
  fastText ``.vec`` file; never a pickle.

``embeddings.parquet``: ``word: string, id: int32, count: int64, vector:
fixed_size_list<float32>[d]``, ids as in ``vocab.parquet``; vocabulary words
without a vector are absent.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import dask
import fsspec
import numpy as np

from tasks.linalg import combine_vectors

from ..artifacts.cooc import part_urls, read_parts
from ..artifacts.corpus import list_shards
from ..artifacts.tables import read_vocab, vectors_table
from ..errors import ConfigError, InputError
from ..runner import tree_reduce
from ..stage import Stage
from ..storage import resolve_pkg, write_parquet

COUNT_METHODS = ("glove", "ppmi_svd")  # the trainers that read cooc's counts


# -- trainers (each returns vectors for the vocabulary rows it covers) --------

def _gensim(shards, words, counts, e, total_words, documents, workers):
    from tasks.gensim_train import train_gensim
    with tempfile.TemporaryDirectory(prefix="wsi-embed-") as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "wb") as out:  # gensim's corpus_file reads one local file
            for url in shards:
                with fsspec.open(url, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        vectors, _model = train_gensim(
            corpus, words, counts, method=e["method"], total_words=total_words,
            corpus_count=documents, vector_size=e["vector_size"], window=e["window"],
            epochs=e["epochs"], seed=e["seed"], workers=workers, sg=e["sg"], hs=e["hs"],
            negative=e["negative"], ns_exponent=e["ns_exponent"], sample=e["sample"],
            alpha=e["alpha"], min_alpha=e["min_alpha"], min_n=e["min_n"], max_n=e["max_n"],
            bucket=e["bucket"], shrink_windows=e["shrink_windows"])
    return np.arange(len(words)), vectors


def _glove(cooc_urls, n_words, e):
    from tasks.glove import train_glove
    t = read_parts(cooc_urls, ["row", "col", "weighted"])
    vectors, losses = train_glove(
        t["row"].to_numpy(), t["col"].to_numpy(), t["weighted"].to_numpy(), n_words,
        vector_size=e["vector_size"], epochs=e["epochs"], x_max=e["x_max"],
        alpha=e["weighting_exponent"], learning_rate=e["learning_rate"], seed=e["seed"])
    return np.arange(n_words), vectors, [float(x) for x in losses]


def _row_sums(url, n_words, column):
    t = read_parts([url], ["row", column])
    return np.bincount(t["row"].to_numpy(), weights=t[column].to_numpy().astype(np.float64),
                       minlength=n_words)


def _ppmi_part(url, lo, hi, row_sums, context_p, total, shift, n_words, column):
    import scipy.sparse as sp
    from tasks.ppmi import ppmi_block
    t = read_parts([url], ["row", "col", column])
    block = ppmi_block(t["row"].to_numpy(), t["col"].to_numpy(), t[column].to_numpy(),
                       row_sums, context_p, total, shift=shift, row_start=lo, n_rows=hi - lo,
                       n_cols=n_words)
    # dask.array's sparse matrix products expect the spmatrix interface (its
    # tensordot on csr_array chunks transposes the wrong operand).
    return sp.csr_matrix(block)


def _ppmi_svd(ctx, cooc_urls, bounds, n_words, e):
    """Shifted PPMI per row block, then ``dask.array.linalg.svd_compressed``."""
    import dask.array as da  # 0.1 s to load: only for this trainer
    from tasks.ppmi import context_distribution, svd_vectors
    column = e["ppmi_input"]
    sums = tree_reduce([dask.delayed(_row_sums, pure=True)(u, n_words, column)
                        for u in cooc_urls],
                       _add_arrays, ctx.runner.split_every, name="ppmi-rowsums")
    (row_sums,) = ctx.runner.compute([sums], "ppmi sums")
    total = float(row_sums.sum())
    context_p = context_distribution(row_sums, cds=e["cds"])  # C is symmetric
    import scipy.sparse as sp
    meta = sp.csr_matrix((0, 0), dtype=np.float32)
    blocks = [da.from_delayed(
        dask.delayed(_ppmi_part, pure=True)(u, lo, hi, row_sums, context_p, total,
                                            e["shift"], n_words, column),
        shape=(hi - lo, n_words), dtype=np.float32, meta=meta)
        for u, lo, hi in zip(cooc_urls, bounds[:-1], bounds[1:])]
    x = da.concatenate(blocks, axis=0)
    k = min(e["vector_size"], n_words - 1)
    # QR between power iterations: plain powers of a float32 PPMI matrix overflow
    # (S^(2q) passes 3e38 for q = 7 and S ~ 1e3), and LAPACK then fails to converge.
    u, s, vt = da.linalg.svd_compressed(x, k=k, n_oversamples=e["oversample"],
                                        n_power_iter=e["power_iterations"], iterator="QR",
                                        seed=e["seed"], compute=False)
    u, s, vt = ctx.runner.compute([u, s, vt], "ppmi svd")
    vectors = svd_vectors(u, s, vt, eig=e["eig"], add_context=e["add_context"],
                          normalize_parts=e["normalize_parts"])
    return np.arange(n_words), vectors


def _add_arrays(*arrays):
    return np.sum(arrays, axis=0)


def _pretrained(e, vocab_index):
    from tasks.vectors_io import read_vectors
    if not e["path"]:
        raise ConfigError("embed.path: required with embed.method=pretrained")
    url = resolve_pkg(e["path"])
    try:
        with fsspec.open(url, "rb", compression="infer") as f:
            if f.read(2)[:1] == b"\x80":  # pickle protocol 2+ (e.g. gensim's .kv/.model)
                raise InputError(f"{e['path']}: a Python pickle; refused (loading one can run "
                                 "any code): give word2vec text/binary, GloVe or fastText .vec")
            f.seek(0)
            words, vectors = read_vectors(f, fmt=e["format"], name=e["path"])
    except FileNotFoundError:
        raise ConfigError(f"embed.path: {e['path']!r} does not exist") from None
    except ValueError as err:
        raise InputError(str(err)) from None
    rows, ids = [], []
    for i, w in enumerate(words):
        j = vocab_index.get(w)
        if j is not None:
            rows.append(i)
            ids.append(j)
    return np.asarray(ids, dtype=np.int64), vectors[rows], len(words)


# -- the stage ------------------------------------------------------------------

def _train(ctx, e, words, counts, total_tokens):
    """Vectors of one method: (vocabulary ids, vectors (n, d), counters)."""
    n_words = len(words)
    method = e["method"]
    counters = {}
    if method in ("word2vec", "fasttext"):
        workers = e["workers"] or ctx.runner.workers or os.cpu_count() or 1
        documents = int(ctx.upstream.get("corpus", {}).get("counters", {}).get("documents", 0))
        task = dask.delayed(_gensim, pure=True)(
            list_shards(ctx.run.fs, ctx.input_path("corpus")), words, counts.tolist(), e,
            total_tokens, documents, workers)
        (ids, vectors), = ctx.runner.compute([task], f"embed {method}")
    elif method == "glove":
        task = dask.delayed(_glove, pure=True)(_cooc_parts(ctx), n_words, e)
        (ids, vectors, losses), = ctx.runner.compute([task], "embed glove")
        counters["losses"] = losses
    elif method == "ppmi_svd":
        bounds = ctx.upstream.get("cooc", {}).get("counters", {}).get("row_bounds")
        if not bounds:
            raise InputError("cooc stage record has no row_bounds: rerun it with "
                             "--force --stages cooc")
        ids, vectors = _ppmi_svd(ctx, _cooc_parts(ctx), bounds, n_words, e)
    else:
        ids, vectors, n_file = _pretrained(e, {w: i for i, w in enumerate(words)})
        counters["file_words"] = n_file
        if len(ids) == 0:
            raise InputError(f"{e['path']}: no word of the vocabulary has a vector")
    return np.asarray(ids), np.asarray(vectors, dtype=np.float32), counters


def build(ctx):
    cfg = ctx.cfg.embed
    vocab, total_tokens = read_vocab(ctx.input_url("vocab"))
    words = vocab["word"].to_pylist()
    counts = vocab["count"].to_numpy()
    n_words = len(words)
    counters = {"method": cfg.method}
    if cfg.method == "combined":
        parts, weights = [], []
        for i in range(len(cfg.components)):
            weight, sub_cfg = cfg.component(i)
            ids, vectors, sub = _train(ctx, sub_cfg.model_dump(), words, counts, total_tokens)
            order = np.argsort(ids, kind="stable")
            parts.append((ids[order], vectors[order]))
            weights.append(weight)
            counters[f"component_{i}"] = {"method": sub_cfg.method, "weight": weight,
                                          "dimension": int(vectors.shape[1]), **sub}
        ids, vectors = combine_vectors(parts, weights)
    else:
        ids, vectors, sub = _train(ctx, cfg.model_dump(), words, counts, total_tokens)
        counters.update(sub)
    if cfg.min_count:
        keep = counts[ids] >= cfg.min_count
        ids, vectors = ids[keep], vectors[keep]
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], vectors[order]
    if not np.all(np.isfinite(vectors)):
        raise InputError(f"embed {cfg.method}: training produced non-finite vectors "
                         "(lower embed.learning_rate or embed.alpha)")
    _write(ctx, [words[i] for i in ids], ids, counts[ids], vectors)
    counters.update(words=int(len(ids)), vocabulary=n_words, dimension=int(vectors.shape[1]),
                    coverage=round(len(ids) / n_words, 6))
    return counters


def _cooc_parts(ctx):
    return part_urls(ctx.run.fs, ctx.input_path("cooc"))


def _write(ctx, words, ids, counts, vectors):
    from gensim.models import KeyedVectors
    from tasks.vectors_io import write_word2vec_text
    table = vectors_table(words, ids, counts, vectors)
    write_parquet(ctx.output_url("embeddings"), table)
    kv = KeyedVectors(vector_size=vectors.shape[1], count=len(words), dtype=np.float32)
    kv.add_vectors(words, vectors)
    for w, c in zip(words, counts):
        kv.set_vecattr(w, "count", int(c))
    with fsspec.open(ctx.output_url("embeddings_kv"), "wb") as f:
        kv.save(f)
    with fsspec.open(ctx.output_url("embeddings_w2v"), "wb") as f:
        write_word2vec_text(f, words, vectors)


def _methods(e):
    """The settings of each trainer an ``embed`` section runs (its components, if combined)."""
    return ([e.component(i)[1] for i in range(len(e.components))]
            if e.method == "combined" else [e])


def reads_counts(cfg):
    """Whether the embed settings train on cooc's counts (glove, ppmi_svd)."""
    return any(c.method in COUNT_METHODS for c in _methods(cfg.embed))


def reads_corpus(cfg):
    """Whether the embed settings train on the tokenised corpus (word2vec, fasttext)."""
    return any(c.method in ("word2vec", "fasttext") for c in _methods(cfg.embed))


def inputs(cfg):
    """Pretrained vector files, if any, are external inputs (path, size, mtime)."""
    out = []
    for c in _methods(cfg.embed):
        if c.method != "pretrained" or not c.path:
            continue
        try:
            fs, path = fsspec.core.url_to_fs(resolve_pkg(c.path))
            info = fs.info(path)
        except FileNotFoundError:
            raise ConfigError(f"embed.path: {c.path!r} does not exist") from None
        except (OSError, ValueError) as err:
            raise ConfigError(f"embed.path: cannot open {c.path!r} ({err})") from None
        out.append({"path": c.path, "size": info.get("size"),
                    "mtime": str(info.get("mtime", ""))})
    return out or None


STAGE = Stage(
    name="embed",
    summary="word vectors (word2vec, fasttext, glove, ppmi_svd, pretrained, combined) "
            "→ embeddings.parquet",
    reads=("vocab",),
    writes=("embeddings", "embeddings_kv", "embeddings_w2v"),
    params=("embed",),
    build=build,
    code=("tasks._checks", "tasks.gensim_train", "tasks.glove", "tasks.ppmi",
          "tasks.vectors_io", "tasks.linalg", "pipeline.artifacts.corpus",
          "pipeline.artifacts.cooc"),
    inputs=inputs,
    reads_if={"corpus": reads_corpus, "cooc": reads_counts},
)
