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

from ..artifacts.tables import read_vectors
from ..errors import InputError
from ..readers import evaluation_files, read_text_lines
from ..stage import Stage


def inputs(cfg):
    return [{"kind": k, "name": n, "path": p, "present": u is not None, **(st or {})}
            for k, n, p, u, st in evaluation_files(cfg.evaluate)]


def _finite(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def evaluate_vectors(ev, words, vectors, log):
    """Metrics dict for vectors whose row i belongs to ``words[i]`` (rows by frequency).

    ``ev`` is an ``evaluate`` config section.
    """
    from tasks.evaluation import analogy_scores, read_analogies, read_pairs, similarity_scores
    index = {w: i for i, w in enumerate(words)}
    metrics = {"similarity": {}, "analogies": None, "skipped": []}
    for kind, name, path, url, _st in evaluation_files(ev):
        if url is None:
            log(f"warning: evaluation set {name}: {path} not found, skipped")
            metrics["skipped"].append(name)
            continue
        try:
            if kind == "similarity":
                pairs = read_pairs(read_text_lines(url), lowercase=ev.lowercase, name=path)
                r = similarity_scores(pairs, vectors, index)
                metrics["similarity"][name] = {k: _finite(v) for k, v in r.items()}
            else:
                questions = read_analogies(read_text_lines(url), name=path)
                r = analogy_scores(questions, vectors, index, restrict=ev.analogy_restrict)
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


def build(ctx):
    table, vectors = read_vectors(ctx.input_url("embeddings"))
    words = table["word"].to_pylist()
    metrics = evaluate_vectors(ctx.cfg.evaluate, words, vectors, ctx.log)
    metrics["method"] = ctx.cfg.embed.method
    metrics["words"] = len(words)
    with fsspec.open(ctx.output_url("metrics"), "w") as f:
        json.dump(metrics, f, indent=2)
    ctx.log(format_table(metrics))
    out = {f"{n}_spearman": r["spearman"] for n, r in metrics["similarity"].items()}
    if metrics["analogies"]:
        out["analogy_add"] = metrics["analogies"]["add_accuracy"]
    return out


STAGE = Stage(
    name="evaluate",
    summary="word similarity (Pearson/Spearman) and analogies (3CosAdd/3CosMul) → metrics.json",
    reads=("embeddings",),
    writes=("metrics",),
    params=("evaluate", "embed.method"),
    build=build,
    code=("tasks.evaluation", "tasks.linalg", "pipeline.readers"),
    inputs=inputs,
)
