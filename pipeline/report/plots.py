"""The report's plots, as PNG bytes, drawn on ``matplotlib.figure.Figure`` with an Agg
canvas (never pyplot: no global backend or figure state is touched)."""
from __future__ import annotations

import io
import math
import warnings

import numpy as np

from .html import fmt, not_computed

__all__ = ["plot_zipf", "plot_ksvd_error", "plot_atom_usage", "plot_atom_map",
           "plot_induction_bands", "plot_inputs", "DPI"]

DPI = 100


def _figure(width=6.4, height=3.8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig):
    buf = io.BytesIO()
    with warnings.catch_warnings():  # missing glyphs for exotic words are not errors
        warnings.simplefilter("ignore")
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _plain(s):
    """Text for matplotlib labels without mathtext interpretation."""
    return str(s).replace("$", r"\$")


def plot_zipf(counts):
    counts = np.asarray(counts, dtype=np.float64)
    counts = np.sort(counts[counts > 0])[::-1]
    if len(counts) == 0:
        return None
    n = len(counts)
    idx = np.unique(np.geomspace(1, n, num=min(n, 3000)).astype(np.int64)) - 1
    ranks = idx + 1.0
    fig = _figure()
    ax = fig.add_subplot()
    ax.loglog(ranks, counts[idx], ".", markersize=3, color="#1f77b4", label="words")
    if n >= 10:
        lr, lc = np.log(ranks), np.log(counts[idx])
        slope, icpt = np.polyfit(lr, lc, 1)
        ax.loglog(ranks, np.exp(icpt + slope * lr), "-", color="#d62728", linewidth=1,
                  label=f"fit: slope {slope:.2f}")
        ax.legend(loc="upper right")
    ax.set_xlabel("frequency rank (log)")
    ax.set_ylabel("count (log)")
    ax.set_title(f"{fmt(n)} vocabulary words")
    ax.grid(True, which="major", alpha=0.3)
    return _png(fig)


def plot_ksvd_error(history):
    h = np.asarray([np.nan if x is None else float(x) for x in history], dtype=np.float64)
    if len(h) == 0:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(h) + 1), h, "o-", markersize=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel("relative error ‖X − ΓD‖ / ‖X‖")
    ax.set_title(f"final {h[-1]:.4f} after {len(h)} iteration(s)")
    ax.grid(True, alpha=0.3)
    return _png(fig)


def plot_atom_usage(usage):
    usage = np.asarray(usage, dtype=np.float64)
    if len(usage) == 0:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    bins = int(min(50, max(5, np.sqrt(len(usage)))))
    ax.hist(usage, bins=bins, color="#2ca02c", edgecolor="white")
    if len(usage) >= 20 and usage.max() > 10 * max(np.median(usage), 1.0):
        ax.set_yscale("log")  # heavy tail: a few atoms used by very many words
        ax.set_ylabel("atoms (log)")
    else:
        ax.set_ylabel("atoms")
    ax.set_xlabel("words using the atom")
    unused = int((usage == 0).sum())
    ax.set_title(f"{fmt(len(usage))} atoms, median usage {np.median(usage):g}, {unused} unused")
    ax.grid(True, axis="y", alpha=0.3)
    return _png(fig)


def plot_atom_map(vectors, usage, labels, n_labels=15):
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2 or x.shape[1] < 2:
        return None
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)  # PCA: principal axes of the atoms
    xy = u[:, :2] * s[:2]
    var = s ** 2
    share = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    usage = np.asarray(usage, dtype=np.float64)
    top = usage.max() if len(usage) and usage.max() > 0 else 1.0
    sizes = 4 + 80 * np.sqrt(usage / top)
    fig = _figure(6.4, 5.2)
    ax = fig.add_subplot()
    ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=usage, cmap="viridis", alpha=0.6,
               edgecolors="none")
    span = np.ptp(xy, axis=0)
    span[span == 0] = 1.0
    placed = []  # greedily label the most used atoms, skipping crowded spots
    for i in np.argsort(-usage, kind="stable")[:20 * n_labels]:
        if len(placed) >= n_labels:
            break
        p = xy[i] / span
        if not labels[i] or any(np.abs(p - q).max() < 0.06 for q in placed):
            continue
        placed.append(p)
        ax.annotate(str(labels[i]), xy[i], xytext=(3, 3), textcoords="offset points",
                    fontsize=8, parse_math=False)
    ax.set_xlabel(f"PC 1 ({share[0]:.1%} of variance)")
    ax.set_ylabel(f"PC 2 ({share[1]:.1%} of variance)")
    ax.set_title("atoms (size: usage; labels: first top word of the most used)")
    ax.grid(True, alpha=0.3)
    return _png(fig)


def plot_induction_bands(bands, overall=None):
    items = [(str(k), float(v)) for k, v in bands.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if not items:
        return None
    names, vals = zip(*items)
    fig = _figure()
    ax = fig.add_subplot()
    pos = np.arange(len(vals))
    ax.bar(pos, vals, color="#9467bd")
    ax.set_xticks(pos)
    ax.set_xticklabels([_plain(n) for n in names])
    for p, v in zip(pos, vals):
        ax.annotate(f"{v:.3f}", (p, v), xytext=(0, 2), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    if overall is not None and math.isfinite(overall):
        ax.axhline(overall, color="#444444", linestyle="--", linewidth=1,
                   label=f"all held-out words: {overall:.3f}")
        ax.legend(loc="lower left")
    lo = min(0.0, min(vals) - 0.05)
    ax.set_ylim(lo, max(1.0, max(vals) + 0.05))
    empty = [str(k) for k, v in bands.items() if str(k) not in names]
    ax.set_xlabel("word count band" + (f" (no held-out words: {_plain(', '.join(empty))})"
                                        if empty else ""))
    ax.set_ylabel("mean cosine(A ũ + b, v)")
    ax.grid(True, axis="y", alpha=0.3)
    return _png(fig)


def plot_inputs(data):
    """{plot id: (callable returning PNG bytes or None, note when the input is missing)}."""
    out = {}
    voc = data.vocab()
    if voc is not None:
        out["zipf"] = (lambda: plot_zipf(voc[0]["count"].to_numpy()), None)
    else:
        out["zipf"] = (None, data.missing("vocab", "vocab"))
    hist = data.counters("atoms").get("error_history")
    if isinstance(hist, list) and hist:
        out["ksvd-error"] = (lambda: plot_ksvd_error(hist), None)
    else:
        out["ksvd-error"] = (None, not_computed("the atoms stage's error history", "atoms"))
    atoms = data.atoms()
    if atoms is not None:
        t, vectors = atoms
        usage = t["usage"].to_numpy()
        labels = [(w[0] if w else "") for w in t["top_words"].to_pylist()]
        out["atom-usage"] = (lambda: plot_atom_usage(usage), None)
        out["atom-map"] = (lambda: plot_atom_map(vectors, usage, labels), None)
    else:
        note = data.missing("atoms", "atoms")
        out["atom-usage"] = out["atom-map"] = (None, note)
    ind = data.counters("induce")
    bands = ind.get("heldout_by_band")
    if isinstance(bands, dict) and bands:
        overall = ind.get("heldout_mean_cosine")
        overall = float(overall) if isinstance(overall, (int, float)) else None
        out["induction-bands"] = (lambda: plot_induction_bands(bands, overall), None)
    else:
        out["induction-bands"] = (None, not_computed("the induction map's held-out cosines",
                                                     "induce"))
    return out
