"""evaluate stage: word similarity and analogies of the run's vectors → ``metrics.json``.

Similarity: Pearson and Spearman correlation between cosine similarity and
human scores, with the pairs used and the out-of-vocabulary rate, for every
set in ``evaluate.similarity`` (sets whose file is missing are skipped with a
warning). Analogies: 3CosAdd and 3CosMul accuracy on gensim's
``questions-words.txt``, restricted to the ``evaluate.analogy_restrict`` most
frequent words, with coverage. ``wsi evaluate RUN_DIR`` reruns it on an
existing run.
"""
from __future__ import annotations

import json
import math

import fsspec

from ..errors import InputError
from ..stage import Stage
from ..storage import resolve_pkg
from .embed import read_embeddings


def _files(cfg):
    """[(kind, name, url or None)] of the evaluation data, None when the file is missing."""
    ev = cfg.evaluate
    out = []
    for s in ev.similarity:
        out.append(("similarity", s.name, s.path))
    if ev.analogies:
        out.append(("analogies", "analogies", ev.analogies))
    resolved = []
    for kind, name, path in out:
        url = resolve_pkg(path)
        try:
            fs, p = fsspec.core.url_to_fs(url)
            info = fs.info(p)
        except (FileNotFoundError, OSError, ValueError, TypeError):
            resolved.append((kind, name, path, None, None))
            continue
        resolved.append((kind, name, path, url, {"size": info.get("size"),
                                                  "mtime": str(info.get("mtime", ""))}))
    return resolved


def inputs(cfg):
    return [{"kind": k, "name": n, "path": p, "present": u is not None, **(st or {})}
            for k, n, p, u, st in _files(cfg)]


def _read_text(url):
    with fsspec.open(url, "rb") as f:
        return f.read().decode("utf-8", errors="replace").splitlines()


def _finite(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def evaluate_vectors(cfg, words, vectors, log):
    """Metrics dict for vectors whose row i belongs to ``words[i]`` (rows by frequency)."""
    from tasks.evaluation import analogy_scores, read_analogies, read_pairs, similarity_scores
    index = {w: i for i, w in enumerate(words)}
    metrics = {"similarity": {}, "analogies": None, "skipped": []}
    for kind, name, path, url, _st in _files(cfg):
        if url is None:
            log(f"warning: evaluation set {name}: {path} not found, skipped")
            metrics["skipped"].append(name)
            continue
        try:
            if kind == "similarity":
                pairs = read_pairs(_read_text(url), lowercase=cfg.evaluate.lowercase,
                                   name=path)
                r = similarity_scores(pairs, vectors, index)
                metrics["similarity"][name] = {k: _finite(v) for k, v in r.items()}
            else:
                questions = read_analogies(_read_text(url), name=path)
                r = analogy_scores(questions, vectors, index,
                                   restrict=cfg.evaluate.analogy_restrict)
                metrics["analogies"] = r
        except ValueError as e:
            raise InputError(str(e)) from None
    return metrics


def format_table(metrics):
    """The metrics as a plain-text table."""
    def fmt(x, spec):  # None (nothing to score) prints as "-"
        return "-" if x is None else format(x, spec)

    lines = [f"{'set':<14}{'pairs':>12}{'oov':>8}{'pearson':>10}{'spearman':>10}"]
    for name, r in metrics["similarity"].items():
        used = f"{r['pairs_used']}/{r['pairs_total']}"
        lines.append(f"{name:<14}{used:>12}{fmt(r['oov_rate'], '.1%'):>8}"
                     f"{fmt(r['pearson'], '.3f'):>10}{fmt(r['spearman'], '.3f'):>10}")
    a = metrics.get("analogies")
    if a:
        lines.append(f"analogies: 3CosAdd {fmt(a['add_accuracy'], '.1%')}, 3CosMul "
                     f"{fmt(a['mul_accuracy'], '.1%')}, coverage {fmt(a['coverage'], '.1%')} "
                     f"({a['questions_used']}/{a['questions_total']})")
    return "\n".join(lines)


EXTRA_KEYS = ("semeval2013", "lineup", "planted")


def build(ctx):
    table, vectors = read_embeddings(ctx.url(ctx.input_path("embeddings.parquet")))
    words = table["word"].to_pylist()
    metrics = evaluate_vectors(ctx.cfg, words, vectors, ctx.log)
    metrics["method"] = ctx.cfg.embed.method
    metrics["words"] = len(words)
    # Results of the sense evaluations (`wsi evaluate semeval2013|lineup|planted`)
    # live in the same file: keep them when the vectors are re-scored.
    if ctx.run.exists("metrics.json"):
        try:
            with ctx.run.fs.open(ctx.run.path("metrics.json"), "r") as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = {}
        metrics.update({k: v for k, v in old.items() if k in EXTRA_KEYS})
    with fsspec.open(ctx.url(ctx.out), "w") as f:
        json.dump(metrics, f, indent=2)
    ctx.log(format_table(metrics))
    out = {f"{n}_spearman": r["spearman"] for n, r in metrics["similarity"].items()}
    if metrics["analogies"]:
        out["analogy_add"] = metrics["analogies"]["add_accuracy"]
    return out


STAGE = Stage(
    name="evaluate",
    summary="word similarity (Pearson/Spearman) and analogies (3CosAdd/3CosMul) → metrics.json",
    needs=("embed",),
    params=("evaluate",),
    output="metrics.json",
    build=build,
    code=("tasks.evaluation",),
    inputs=inputs,
)
