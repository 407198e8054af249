"""Planted senses: how well a run on a ``wsi synth`` corpus recovers the pseudo-words'
true components (``wsi evaluate planted --run RUN_DIR --truth DIR``).

See :func:`evaluate_planted`. The scores are written to the run's
``evaluations/planted.json``.
"""
from __future__ import annotations

import math

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.induce import apply_map, fit_induction_map, holdout_split, row_cosines
from tasks.linalg import unit_rows

from ..errors import InputError, UsageError
from ..runs import artifact_url, open_run
from ..storage import load_npy

__all__ = ["evaluate_planted", "read_truth", "format_planted"]

TRUTH = "truth"

def _read_table(url, what):
    try:
        with fsspec.open(url, "rb") as f:
            return pq.ParquetFile(f).read()
    except FileNotFoundError:
        raise UsageError(f"{url}: missing ({what})") from None
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{url}: unreadable {what} ({e})") from None


def _vectors(table):
    col = table["vector"].combine_chunks()
    return col.flatten().to_numpy().reshape(-1, col.type.list_size).astype(np.float64)


def read_truth(truth_dir):
    """(words table, true vectors (V, d), pseudo_words table, component vectors, topics)
    of a ``wsi synth`` output (its directory or its ``truth/`` folder)."""
    base = truth_dir.rstrip("/")
    fs, root = fsspec.core.url_to_fs(base)
    if not fs.exists(f"{root}/pseudo_words.parquet") and fs.exists(f"{root}/{TRUTH}"):
        base = f"{base}/{TRUTH}"
        root = f"{root}/{TRUTH}"
    if not fs.exists(f"{root}/pseudo_words.parquet"):
        raise UsageError(f"{truth_dir}: no pseudo_words.parquet (not a wsi synth output)")
    words = _read_table(f"{base}/words.parquet", "true word vectors")
    pseudo = _read_table(f"{base}/pseudo_words.parquet", "pseudo-word table")
    topics = load_npy(f"{base}/topics.npy") if fs.exists(f"{root}/topics.npy") else None
    return words, _vectors(words), pseudo, _vectors(pseudo), topics


def _order_weights(n, k):
    """P(the max of a uniformly random k-subset of n sorted values is the j-th smallest),
    j = k..n: C(j-1, k-1) / C(n, k)."""
    from scipy.special import gammaln
    j = np.arange(k, n + 1)
    return np.exp(gammaln(j) - gammaln(k) - gammaln(j - k + 1)
                  - (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)))


def _expected_best(values, k, weights=None):
    """E[max] and P(max > t) for t in (0.5, 0.7) over a uniformly random k-subset of
    ``values`` (exact, by order statistics; ``weights`` = ``_order_weights(n, k)``)."""
    from scipy.special import gammaln
    x = np.sort(values)
    n = len(x)
    k = min(k, n)
    if weights is None:
        weights = _order_weights(n, k)
    mean = float(weights @ x[k - 1:])
    above = {}
    for t in (0.5, 0.7):
        m = int(np.searchsorted(x, t, side="right"))  # values <= t
        # no value above t: all k drawn among those m
        p_none = math.exp(gammaln(m + 1) - gammaln(m - k + 1) - gammaln(n + 1)
                          + gammaln(n - k + 1)) if m >= k else 0.0
        above[t] = 1.0 - p_none
    return mean, above


def _summary(values):
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return {"mean": None, "median": None, "above_0.5": None, "above_0.7": None}
    return {"mean": float(v.mean()), "median": float(np.median(v)),
            "above_0.5": float((v > 0.5).mean()), "above_0.7": float((v > 0.7).mean())}


def evaluate_planted(run_dir, truth_dir, *, seed=0, holdout=0.1):
    """How well a run's senses recover the pseudo-words' true components.

    The run's atoms live in the embedding space the run learned, not in the
    true vector space, so the true vectors are first mapped into the run's
    space: an affine least-squares map v_run ≈ A v_true + b fitted on the
    ordinary (non-merged) words that have a vector in the run, both sides
    unit-normalised (atoms code directions). A random ``holdout`` fraction
    of those words is left out of the fit and its mean cosine(mapped, learned)
    is reported, so a poor common space is visible. With
    ``embed.method=pretrained`` on ``truth/vectors.txt`` the map is the
    identity.

    For each pseudo-word the run coded (rows in ``senses.parquet``) and each
    of its true components i: best_i = max over the word's atoms a of
    |cos(A v̂_i + b, a)|. Reported: mean, median, fraction above 0.5 and 0.7,
    overall and by component rank (1 = largest merge weight). Baseline: the
    same statistic for as many atoms drawn at random from the dictionary
    (its exact expectation over random draws). With planted topics, also
    each topic atom's best |cos| with the whole dictionary.

    Returns the ``"planted"`` dict (JSON-ready).
    """
    from ..sense_model import SenseModel
    from ..artifacts.tables import read_vectors

    words, true_vecs, pseudo, comp_vecs, topics = read_truth(truth_dir)
    run, _ = open_run(run_dir, ["embeddings", "atoms", "senses"])
    model = SenseModel(run_dir)
    atoms = unit_rows(np.asarray(model.atoms, dtype=np.float64))
    emb, learned = read_vectors(artifact_url(run, "embeddings"))
    index = {w: i for i, w in enumerate(emb["word"].to_pylist())}
    learned = learned.astype(np.float64)

    # the common space: ordinary words with a (non-zero) vector in both
    names = words["word"].to_pylist()
    merged = words["pseudo_word"].is_valid().to_numpy(zero_copy_only=False)
    src, dst = [], []
    for i, w in enumerate(names):
        j = index.get(w)
        if j is not None and not merged[i]:
            src.append(i)
            dst.append(j)
    x = unit_rows(true_vecs[src])
    y = unit_rows(learned[dst]) if dst else np.zeros((0, learned.shape[1]))
    ok = (np.linalg.norm(x, axis=1) > 0) & (np.linalg.norm(y, axis=1) > 0)
    x, y = x[ok], y[ok]
    d_true = true_vecs.shape[1]
    held = holdout_split(len(x), holdout, seed) if len(x) > 10 * (d_true + 1) else \
        np.zeros(len(x), dtype=bool)
    try:
        a, b = fit_induction_map(x[~held], y[~held], intercept=True)
    except ValueError as e:
        raise InputError(f"cannot map the true vectors into the run's space: {e} "
                         f"({len(x)} ordinary words have vectors in both)") from None
    fit_cos = row_cosines(apply_map(a, x[~held], b), y[~held])
    held_cos = row_cosines(apply_map(a, x[held], b), y[held]) if held.any() else fit_cos

    # components of every coded pseudo-word
    pw = pseudo["word"].to_pylist()
    ranks = pseudo["rank"].to_numpy()
    weights = pseudo["weight"].to_numpy()
    mapped = unit_rows(apply_map(a, unit_rows(comp_vecs), b))
    all_cos = np.abs(mapped @ atoms.T)                       # (components, n_atoms)
    best, base, base_above, rank_of, n_atoms_used = [], [], {0.5: [], 0.7: []}, [], []
    coded, order_weights = set(), {}
    for r, w in enumerate(pw):
        entry = model.table.get(w)
        if entry is None or len(entry[0]) == 0:
            continue
        coded.add(w)
        ids = np.asarray(entry[0], dtype=np.int64)
        best.append(float(all_cos[r, ids].max()))
        k = min(len(ids), len(atoms))
        if k not in order_weights:
            order_weights[k] = _order_weights(len(atoms), k)
        mean, above = _expected_best(all_cos[r], k, order_weights[k])
        base.append(mean)
        for t in above:
            base_above[t].append(above[t])
        rank_of.append(int(ranks[r]))
        n_atoms_used.append(len(ids))
    best = np.array(best)
    rank_of = np.array(rank_of, dtype=np.int64)
    baseline = _summary(base)
    baseline["median"] = None if not base else float(np.median(base))
    if base:
        baseline["above_0.5"] = float(np.mean(base_above[0.5]))
        baseline["above_0.7"] = float(np.mean(base_above[0.7]))
    out = {
        "truth": truth_dir,
        "pseudo_words": len(set(pw)),
        "coded": len(coded),
        "components": int(len(best)),
        "atoms_per_word": float(np.mean(n_atoms_used)) if n_atoms_used else None,
        "best_abs_cos": _summary(best),
        "random_atoms": baseline,
        "by_rank": [{"rank": int(k), "components": int((rank_of == k).sum()),
                     **_summary(best[rank_of == k])} for k in np.unique(rank_of)],
        "mean_weight_by_rank": [{"rank": int(k), "weight": float(weights[ranks == k].mean())}
                                for k in np.unique(ranks)],
        "map": {"words": int(len(x)), "fit_words": int((~held).sum()),
                "heldout_words": int(held.sum()), "dim_true": int(d_true),
                "dim_run": int(learned.shape[1]),
                "fit_mean_cos": float(fit_cos.mean()) if len(fit_cos) else None,
                "heldout_mean_cos": float(held_cos.mean()) if len(held_cos) else None},
    }
    if topics is not None and len(topics):
        t = np.abs(unit_rows(apply_map(a, unit_rows(np.asarray(topics, dtype=np.float64)), b))
                   @ atoms.T).max(axis=1)
        out["topics"] = {"planted": int(len(topics)), "n_atoms": int(len(atoms)),
                         **_summary(t)}
    return out


def _fmt(x, pct=False):
    if x is None:
        return "-"
    return f"{100 * x:.0f}%" if pct else f"{x:.3f}"


def format_planted(m):
    b, r = m["best_abs_cos"], m["random_atoms"]
    lines = [f"planted senses: {m['pseudo_words']} pseudo-word(s), {m['coded']} coded, "
             f"{m['components']} component(s), {_fmt(m['atoms_per_word'])} atoms per word",
             f"{'':34}{'mean':>7}{'median':>8}{'>0.5':>6}{'>0.7':>6}"]
    for label, s in [("best |cos| with the word's atoms", b),
                     ("random atoms (same number)", r)] + \
            [(f"  component rank {x['rank']}", x) for x in m["by_rank"]]:
        lines.append(f"{label:34}{_fmt(s['mean']):>7}{_fmt(s['median']):>8}"
                     f"{_fmt(s['above_0.5'], True):>6}{_fmt(s['above_0.7'], True):>6}")
    if "topics" in m:
        t = m["topics"]
        lines.append(f"planted topics best |cos| with the dictionary: mean {_fmt(t['mean'])} "
                     f"({t['planted']} topics, {t['n_atoms']} atoms)")
    mp = m["map"]
    lines.append(f"true → run space map: {mp['words']} words, held-out mean cos "
                 f"{_fmt(mp['heldout_mean_cos'])}")
    return "\n".join(lines)
