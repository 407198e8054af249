"""``report.html``: one self-contained page describing a run directory.

Sections: the resolved configuration, the stages (status, timings, counters),
the metrics of ``metrics.json``, plots (Zipf curve of the vocabulary, k-SVD
error per iteration, atom usage, a 2-D map of the atoms, the induction map's
held-out cosine by frequency band), a filterable table of every atom and the
senses of the most frequent polysemous words.

Images are PNGs embedded as ``data:`` URIs and the page carries its own small
stylesheet and script, so the file reads offline and can be mailed around.
Works on partial runs: whatever output is missing is shown as "not computed".

    from pipeline.report import write_report
    write_report("outputs/default")          # -> outputs/default/report.html

Plots use ``matplotlib.figure.Figure`` with an Agg canvas directly, never
pyplot, so no global backend or figure state is touched.
"""
from __future__ import annotations

import base64
import html
import io
import math
import os
import time
import warnings

import numpy as np

from .errors import UsageError
from .storage import RunDir, open_run

__all__ = ["build_report", "write_report", "main_report", "add_parser", "REPORT_NAME",
           "SECTIONS", "PLOTS"]

REPORT_NAME = "report.html"
TOP_POLYSEMOUS = 100  # words listed in the senses section
DPI = 100

SECTIONS = [("config", "Configuration"), ("stages", "Stages"), ("metrics", "Metrics"),
            ("plots", "Plots"), ("atoms", "Atoms of discourse"),
            ("senses", "Senses of the most frequent polysemous words")]
PLOTS = [("zipf", "Zipf curve: word count by frequency rank (vocab.parquet)"),
         ("ksvd-error", "k-SVD relative reconstruction error per iteration"),
         ("atom-usage", "Atom usage: words whose sparse code uses the atom"),
         ("atom-map", "Atoms projected on their first two principal components"),
         ("induction-bands", "Induction map: held-out cosine by frequency band")]


# -- HTML helpers --------------------------------------------------------------

class Raw(str):
    """A string that is already HTML (not escaped again)."""


def esc(value):
    """``value`` as escaped HTML text (``Raw`` passes through)."""
    if isinstance(value, Raw):
        return value
    return Raw(html.escape(value if isinstance(value, str) else fmt(value), quote=True))


def fmt(v):
    """A short human-readable rendering of a scalar."""
    if v is None:
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}".replace(",", "\u202f")  # thin space: lists stay readable
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.3e}"
        if abs(v) >= 1000:
            return f"{v:,.1f}"
        return f"{v:.4g}"
    return str(v)


def summarize(v, depth=0, limit=6, width=240):
    """A one-line summary of a counter value: long lists and nested dicts shortened."""
    def inner(x, d):
        if isinstance(x, dict):
            if not x:
                return "{}"
            if d >= 1 or len(x) > limit:
                keys = [str(k) for k in list(x)[:3]]
                more = ", …" if len(x) > 3 else ""
                return "{" + ", ".join(keys) + more + f"}} ({len(x)} keys)"
            return "{" + ", ".join(f"{k}: {inner(y, d + 1)}" for k, y in x.items()) + "}"
        if isinstance(x, (list, tuple)):
            if not x:
                return "[]"
            if len(x) <= limit:
                return "[" + ", ".join(inner(y, d + 1) for y in x) + "]"
            head = ", ".join(inner(y, d + 1) for y in x[:3])
            return f"[{head}, …, {inner(x[-1], d + 1)}] ({len(x)} items)"
        return fmt(x)
    s = inner(v, depth)
    return s if len(s) <= width else s[:width - 1] + "…"


def _attrs(attrs):
    return "".join(f' {k}="{esc(str(v))}"' for k, v in attrs.items() if v is not None)


def table(headers, rows, *, id=None, cls=None, numeric=()):
    """An HTML table; cells are escaped unless ``Raw``. ``numeric``: right-aligned columns."""
    out = [f"<table{_attrs({'id': id, 'class': cls})}>", "<thead><tr>"]
    out += [f"<th>{esc(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for row in rows:
        rid = None
        if isinstance(row, dict):  # {"id": ..., "cells": [...]}
            rid, row = row.get("id"), row["cells"]
        out.append(f"<tr{_attrs({'id': rid})}>")
        for i, c in enumerate(row):
            out.append(f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return Raw("".join(out))


def kv_table(d, *, id=None):
    """A two-column key/value table; nested values are rendered generically."""
    return table(["key", "value"], [[str(k), generic(v, depth=1)] for k, v in d.items()],
                 id=id, cls="kv")


def _is_scalar(x):
    return x is None or isinstance(x, (str, int, float, bool, np.generic))


def generic(v, depth=0):
    """Any JSON value as HTML: scalars as text, a dict of flat dicts as a matrix
    table, a list of flat dicts as a table, other dicts as nested key/value tables."""
    if _is_scalar(v):
        return esc(v)
    if depth >= 4:
        return esc(summarize(v))
    if isinstance(v, dict):
        if not v:
            return Raw("<em>empty</em>")
        if all(isinstance(x, dict) and x and all(_is_scalar(y) for y in x.values())
               for x in v.values()):
            cols = []
            for x in v.values():
                cols += [k for k in x if k not in cols]
            return table(["", *cols], [[str(k), *[x.get(c) for c in cols]] for k, x in v.items()],
                         numeric=range(1, len(cols) + 1))
        return kv_table(v)
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) and all(_is_scalar(y) for y in x.values()) for x in v):
            cols = []
            for x in v:
                cols += [k for k in x if k not in cols]
            return table(cols, [[x.get(c) for c in cols] for x in v])
        if len(v) <= 20 and all(_is_scalar(x) for x in v):
            return esc(", ".join(fmt(x) for x in v) if v else "(none)")
        return esc(summarize(v))
    return esc(str(v))


def not_computed(what, stage=None):
    hint = f" (run the stages up to {stage})" if stage else ""
    return Raw(f'<p class="missing">not computed: {esc(what)}{esc(hint)}</p>')


def _failed(what, err):
    return Raw(f'<p class="missing error">could not read {esc(what)}: {esc(str(err))}</p>')


# -- the run's data, loaded lazily -------------------------------------------

class _Data:
    """The run's outputs, each read once; ``None`` when absent, errors remembered."""

    def __init__(self, run, manifest):
        self.run, self.manifest = run, manifest
        self.errors = {}
        self._cache = {}

    def stage(self, name):
        return (self.manifest.get("stages") or {}).get(name) or {}

    def counters(self, name):
        c = self.stage(name).get("counters")
        return c if isinstance(c, dict) else {}

    def _get(self, name, reader):
        if name not in self._cache:
            value = None
            try:
                if self.run.exists(name):
                    value = reader(self.run.url_of(name))
            except Exception as e:  # a damaged output must not stop the report
                self.errors[name] = f"{e.__class__.__name__}: {e}"
            self._cache[name] = value
        return self._cache[name]

    def vocab(self):
        from .artifacts.tables import read_vocab
        return self._get("vocab.parquet", lambda u: read_vocab(u))

    def atoms(self):
        from .artifacts.tables import read_atoms
        return self._get("atoms.parquet", read_atoms)

    def metrics(self):
        import json

        def read(url):
            with self.run.fs.open(self.run.path("metrics.json"), "rb") as f:
                return json.loads(f.read().decode("utf-8"))
        return self._get("metrics.json", read)

    def senses(self):
        def read(url):
            import fsspec
            import pyarrow.parquet as pq
            with fsspec.open(url, "rb") as f:
                return pq.ParquetFile(f).read(
                    columns=["word", "word_id", "rank", "atom_id", "coefficient", "top_words"])
        return self._get("senses.parquet", read)

    def reconstruction(self):
        def read(url):
            import fsspec
            import pyarrow.parquet as pq
            with fsspec.open(url, "rb") as f:
                return pq.ParquetFile(f).read(columns=["relative_error"])
        return self._get("reconstruction.parquet", read)

    def missing(self, name, what, stage):
        """The note for an output that is absent or unreadable."""
        if name in self.errors:
            return _failed(name, self.errors[name])
        return not_computed(what, stage)


# -- sections -------------------------------------------------------------------

def _section_config(data):
    import json
    m = data.manifest
    head = {"run": m.get("run"), "directory": data.run.url, "created": m.get("created"),
            "updated": m.get("updated"),
            "command": " ".join(str(x) for x in m.get("command") or []) or None}
    parts = [kv_table({k: v for k, v in head.items() if v is not None}, id="run-info"),
             "<h3>Resolved configuration</h3>"]
    cfg = m.get("config")
    try:
        import yaml
        text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, default_flow_style=False)
    except Exception:  # not plain data: fall back to JSON
        text = json.dumps(cfg, indent=2, default=str, ensure_ascii=False)
    parts.append(f'<pre class="config">{esc(text)}</pre>')
    packages = m.get("packages")
    if isinstance(packages, dict) and packages:
        parts += ["<h3>Package versions</h3>",
                  table(["package", "version"], [[k, str(v)] for k, v in packages.items()],
                        id="packages")]
    return "".join(parts)


def _stage_order(manifest):
    try:
        from .registry import STAGES
        names = list(STAGES)
    except Exception:
        names = []
    return names + [s for s in (manifest.get("stages") or {}) if s not in names]


def _counters_html(counters):
    if not counters:
        return Raw("")
    items = "".join(f'<li><span class="k">{esc(str(k))}</span> {esc(summarize(v))}</li>'
                    for k, v in counters.items())
    return Raw(f'<ul class="counters">{items}</ul>')


def _section_stages(data):
    rows, total = [], 0.0
    for name in _stage_order(data.manifest):
        s = data.stage(name)
        if not s:
            rows.append([name, Raw('<span class="status none">not run</span>'), None, None, None,
                         Raw("")])
            continue
        status = str(s.get("status", "?"))
        sec = s.get("seconds")
        if isinstance(sec, (int, float)):
            total += float(sec)
        counters = s.get("counters") if isinstance(s.get("counters"), dict) else {}
        extra = {k: s[k] for k in ("error", "message") if k in s}
        rows.append([name, Raw(f'<span class="status {esc(status)}">{esc(status)}</span>'),
                     sec, s.get("started"), s.get("ended"),
                     _counters_html({**extra, **counters})])
    return (table(["stage", "status", "seconds", "started", "ended", "counters"], rows,
                  id="stages-table", numeric={2})
            + f'<p class="note">total {esc(fmt(total))} s of stage time recorded (cached stages '
              "show the time of the run that computed them)</p>")


SIMILARITY_COLS = [("pearson", "Pearson"), ("spearman", "Spearman"), ("pairs_used", "pairs used"),
                   ("pairs_total", "pairs total"), ("oov_rate", "OOV rate")]
ANALOGY_COLS = [("add_accuracy", "3CosAdd"), ("mul_accuracy", "3CosMul"),
                ("coverage", "coverage"), ("questions_used", "questions used"),
                ("questions_total", "questions total")]


def _similarity_table(sets, id=None):
    rows = []
    for name, r in sets.items():
        r = r if isinstance(r, dict) else {}
        rows.append([str(name), *[r.get(k) for k, _ in SIMILARITY_COLS]])
    return table(["set", *[h for _, h in SIMILARITY_COLS]], rows, id=id,
                 numeric=range(1, len(SIMILARITY_COLS) + 1))


def _section_metrics(data):
    parts = []
    m = data.metrics()
    if m is None:
        parts.append(data.missing("metrics.json", "metrics.json", "evaluate"))
    elif not isinstance(m, dict):
        parts.append(_failed("metrics.json", "not a JSON object"))
    else:
        sim = m.get("similarity")
        parts.append("<h3>Word similarity</h3>")
        if isinstance(sim, dict) and sim:
            parts.append(_similarity_table(sim, id="similarity-table"))
        else:
            parts.append('<p class="note">no similarity set evaluated</p>')
        a = m.get("analogies")
        parts.append("<h3>Analogies</h3>")
        if isinstance(a, dict) and a:
            parts.append(table([h for _, h in ANALOGY_COLS], [[a.get(k) for k, _ in ANALOGY_COLS]],
                               id="analogies-table", numeric=range(len(ANALOGY_COLS))))
            sections = a.get("by_section")
            if isinstance(sections, dict) and sections:
                parts.append(table(["section", *[h for _, h in ANALOGY_COLS]],
                                   [[str(k), *[(v or {}).get(c) for c, _ in ANALOGY_COLS]]
                                    for k, v in sections.items()],
                                   id="analogy-sections", numeric=range(1, len(ANALOGY_COLS) + 1)))
            rest = {k: v for k, v in a.items() if k != "by_section"
                    and k not in dict(ANALOGY_COLS)}
            if rest:
                parts.append(kv_table(rest))
        else:
            parts.append('<p class="note">no analogy set evaluated</p>')
        skipped = m.get("skipped")
        if skipped:
            parts.append(f'<p class="note">skipped (file not found): '
                         f'{esc(", ".join(map(str, skipped)))}</p>')
        scalars = {k: v for k, v in m.items()
                   if k not in ("similarity", "analogies", "skipped") and _is_scalar(v)}
        if scalars:
            parts += ["<h3>Evaluated vectors</h3>", kv_table(scalars, id="metrics-other")]
        for k, v in m.items():
            if k in ("similarity", "analogies", "skipped") or _is_scalar(v):
                continue
            parts += [f'<h3 class="metric-key">{esc(str(k))}</h3>', generic(v)]
    ind = data.counters("induce")
    if ind:
        parts.append("<h3>Induction map (induce stage)</h3>")
        flat = {k: v for k, v in ind.items() if _is_scalar(v)}
        parts.append(kv_table(flat, id="induce-summary"))
        bands = ind.get("heldout_by_band")
        if isinstance(bands, dict) and bands:
            parts.append(table(["count band", "held-out mean cosine"],
                               [[str(k), v] for k, v in bands.items()], numeric={1}))
        sim = ind.get("similarity")
        if isinstance(sim, dict) and sim:
            flat_rows = {}
            for name, variants in sim.items():
                if isinstance(variants, dict):
                    for variant, r in variants.items():
                        flat_rows[f"{name} · {variant}"] = r
            if flat_rows:
                parts.append("<p class=\"note\">word similarity with trained vectors only, with "
                             "induced vectors for missing words, and on the pairs that need "
                             "them:</p>")
                parts.append(_similarity_table(flat_rows))
    return "".join(parts)


# -- plots ----------------------------------------------------------------------

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


def _plot_inputs(data):
    """{plot id: (callable returning PNG bytes or None, note when the input is missing)}."""
    out = {}
    voc = data.vocab()
    if voc is not None:
        out["zipf"] = (lambda: plot_zipf(voc[0]["count"].to_numpy()), None)
    else:
        out["zipf"] = (None, data.missing("vocab.parquet", "vocab.parquet", "vocab"))
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
        note = data.missing("atoms.parquet", "atoms.parquet", "atoms")
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


def _section_plots(data):
    inputs = _plot_inputs(data)
    parts = ['<div class="plots">']
    for pid, title in PLOTS:
        make, note = inputs[pid]
        body = note
        if make is not None:
            try:
                png = make()
                if png is None:
                    body = not_computed(f"{pid}: no data to plot")
                else:
                    b64 = base64.b64encode(png).decode("ascii")
                    body = Raw(f'<img id="{esc(pid)}" alt="{esc(title)}" '
                               f'src="data:image/png;base64,{b64}">')
            except Exception as e:  # one bad plot must not lose the report
                body = Raw(f'<p class="missing error">could not draw {esc(pid)}: '
                           f'{esc(e.__class__.__name__)}: {esc(str(e))}</p>')
        parts.append(f'<figure id="fig-{esc(pid)}"><figcaption>{esc(title)}</figcaption>'
                     f"{body}</figure>")
    parts.append("</div>")
    return "".join(parts)


def _filter_box(table_id, what):
    return (f'<p><input type="search" class="filter" data-table="{esc(table_id)}" '
            f'placeholder="filter {esc(what)}…" aria-label="filter {esc(what)}"> '
            f'<span class="count" id="{esc(table_id)}-count"></span></p>')


def _section_atoms(data):
    atoms = data.atoms()
    if atoms is None:
        return data.missing("atoms.parquet", "atoms.parquet", "atoms")
    t, vectors = atoms
    ids = t["atom_id"].to_pylist()
    usage = t["usage"].to_pylist()
    words = t["top_words"].to_pylist() if "top_words" in t.column_names else [[]] * len(ids)
    sims = (t["top_similarities"].to_pylist() if "top_similarities" in t.column_names
            else [[]] * len(ids))
    rows = [{"id": f"atom-{a}",
             "cells": [str(a), u, ", ".join(w or []),
                       " ".join(f"{s:.2f}" for s in (sv or []) if s is not None)]}
            for a, u, w, sv in zip(ids, usage, words, sims)]
    c = data.counters("atoms")
    bits = [f"{fmt(len(ids))} atoms of dimension {vectors.shape[1]}"]
    if isinstance(c.get("sparsity"), int):
        bits.append(f"at most {c['sparsity']} per word")
    if isinstance(c.get("relative_error"), (int, float)):
        bits.append(f"relative error {c['relative_error']:.4f}")
    bits.append(f"{sum(1 for u in usage if not u)} unused")
    return (f'<p class="note">{esc(", ".join(bits))}. Click a column header to sort.</p>'
            + _filter_box("atoms-table", "atoms by word or id")
            + '<div class="scroll">'
            + table(["atom_id", "usage", "top words", "top similarities"], rows,
                    id="atoms-table", cls="sortable", numeric={0, 1})
            + "</div>")


def _section_senses(data):
    t = data.senses()
    if t is None:
        return data.missing("senses.parquet", "senses.parquet", "senses")
    words = t["word"].to_pylist()
    n_senses = {}
    for w in words:
        n_senses[w] = n_senses.get(w, 0) + 1
    poly = [w for w, n in n_senses.items() if n >= 2]
    voc = data.vocab()
    counts = {}
    if voc is not None:
        vt = voc[0]
        counts = dict(zip(vt["word"].to_pylist(), vt["count"].to_pylist()))
    first_id = {}
    for w, i in zip(words, t["word_id"].to_pylist()):
        first_id.setdefault(w, i)
    # most frequent first: vocabulary count, else vocabulary id (ids follow frequency)
    poly.sort(key=lambda w: (-(counts.get(w) or 0), first_id.get(w, 0), w))
    chosen = poly[:TOP_POLYSEMOUS]
    chosen_set = set(chosen)
    rows_of = {w: [] for w in chosen}
    for w, r, a, c, tw in zip(words, t["rank"].to_pylist(), t["atom_id"].to_pylist(),
                              t["coefficient"].to_pylist(), t["top_words"].to_pylist()):
        if w in chosen_set:
            rows_of[w].append((r, a, c, tw))
    rows = []
    for w in chosen:
        for r, a, c, tw in sorted(rows_of[w], key=lambda x: x[0]):
            link = Raw(f'<a href="#atom-{a}">{a}</a>') if isinstance(a, int) else a
            rows.append([w, counts.get(w), str(r), link, None if c is None else f"{c:+.3f}",
                         ", ".join(tw or [])])
    note = (f"{fmt(len(n_senses))} coded words, {fmt(len(poly))} with at least 2 senses; "
            f"the {fmt(len(chosen))} most frequent of these")
    parts = [f'<p class="note">{esc(note)}.</p>']
    rec = data.reconstruction()
    if rec is not None and rec.num_rows:
        e = rec["relative_error"].to_numpy().astype(np.float64)
        e = e[np.isfinite(e)]
        if len(e):
            parts.append(f'<p class="note">relative reconstruction error of the word vectors: '
                         f"mean {np.mean(e):.4f}, median {np.median(e):.4f}, "
                         f"90th percentile {np.percentile(e, 90):.4f}</p>")
    if not chosen:
        parts.append('<p class="note">no word has two or more senses</p>')
        return "".join(parts)
    parts += [_filter_box("senses-table", "senses by word"), '<div class="scroll">',
              table(["word", "count", "rank", "atom", "coefficient", "atom's top words"], rows,
                    id="senses-table", numeric={1, 2, 3, 4}),
              "</div>"]
    return "".join(parts)


# -- the page -------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0;color:#1b1b1b;background:#fafafa;line-height:1.4}
header{background:#22313f;color:#fff;padding:1em 2em}
header h1{margin:0 0 .3em 0;font-size:1.5em}
header a{color:#cfe3ff;margin-right:1em}
main{padding:0 2em 2em 2em;max-width:1400px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5em 1.2em 1em;
 margin:1.2em 0}
h2{border-bottom:1px solid #eee;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f3f6;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.kv td:first-child{font-weight:600;white-space:nowrap}
table.sortable th{cursor:pointer}
pre.config{background:#f6f8fa;border:1px solid #e1e4e8;padding:.8em;overflow:auto;max-height:40em}
ul.counters{margin:0;padding:0;list-style:none;font-size:.92em}
ul.counters .k{color:#555;font-family:ui-monospace,Menlo,Consolas,monospace}
.status.complete,.status.cached{color:#137333;font-weight:600}
.status.failed{color:#b3261e;font-weight:600}.status.none{color:#888}
.missing{color:#8a6d00;background:#fff8e1;border-left:3px solid #f0c000;padding:.3em .6em}
.missing.error{color:#b3261e;background:#fdecea;border-color:#b3261e}
.note{color:#555}
.scroll{max-height:36em;overflow:auto;border:1px solid #eee}
.plots{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0;border:1px solid #eee;padding:.5em;background:#fff;max-width:100%}
figcaption{font-weight:600;margin-bottom:.3em}
figure img{max-width:100%;height:auto}
input.filter{font-size:1em;padding:.2em .4em;width:20em}
footer{color:#777;font-size:.85em;padding:1em 2em}
"""

SCRIPT = """
(function(){
  function rowsOf(t){return Array.prototype.slice.call(t.tBodies[0].rows);}
  document.querySelectorAll('input.filter').forEach(function(box){
    var t=document.getElementById(box.getAttribute('data-table'));
    var out=document.getElementById(box.getAttribute('data-table')+'-count');
    if(!t){return;}
    box.addEventListener('input',function(){
      var q=box.value.toLowerCase(),shown=0;
      rowsOf(t).forEach(function(r){
        var hit=!q||r.textContent.toLowerCase().indexOf(q)!==-1;
        r.style.display=hit?'':'none'; if(hit){shown++;}
      });
      if(out){out.textContent=q?shown+' row(s)':'';}
    });
  });
  document.querySelectorAll('table.sortable').forEach(function(t){
    Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,col){
      th.addEventListener('click',function(){
        var asc=th.getAttribute('data-dir')!=='asc';
        th.setAttribute('data-dir',asc?'asc':'desc');
        var key=function(r){var s=r.cells[col].textContent.replace(/[,\\u202f]/g,'');
          var v=parseFloat(s);return isNaN(v)?s.toLowerCase():v;};
        var rows=rowsOf(t).sort(function(a,b){var x=key(a),y=key(b);
          if(x===y){return 0;} return (x>y?1:-1)*(asc?1:-1);});
        rows.forEach(function(r){t.tBodies[0].appendChild(r);});
      });
    });
  });
})();
"""


def _section(sid, title, builder, data):
    try:
        body = builder(data)
    except Exception as e:  # report what could not be rendered, keep the rest
        body = (f'<p class="missing error">could not render this section: '
                f"{esc(e.__class__.__name__)}: {esc(str(e))}</p>")
    return f'<section id="{sid}"><h2>{esc(title)}</h2>{body}</section>\n'


_BUILDERS = {"config": _section_config, "stages": _section_stages, "metrics": _section_metrics,
             "plots": _section_plots, "atoms": _section_atoms, "senses": _section_senses}


def render(run, manifest):
    """The report of an opened run (``RunDir``, manifest dict) as an HTML string."""
    data = _Data(run, manifest)
    name = str(manifest.get("run") or (manifest.get("config") or {}).get("run", {}).get("name")
               or run.url)
    nav = "".join(f'<a href="#{sid}">{esc(title.split(" ")[0])}</a>' for sid, title in SECTIONS)
    version = (manifest.get("packages") or {}).get("wsi-dask", "")
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    body = "".join(_section(sid, title, _BUILDERS[sid], data) for sid, title in SECTIONS)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>wsi report: {esc(name)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<header><h1>Run report: {esc(name)}</h1>"
            f'<p>{esc(run.url)} · updated {esc(manifest.get("updated") or "?")}</p>'
            f"<nav>{nav}</nav></header>\n<main>\n{body}</main>\n"
            f"<footer>generated {esc(now)} by wsi-dask {esc(version)}</footer>\n"
            f"<script>{SCRIPT}</script>\n</body>\n</html>\n")


def _open(run_dir):
    if isinstance(run_dir, RunDir):
        try:
            manifest = run_dir.read_json("manifest.json")
        except (ValueError, UnicodeDecodeError):
            manifest = None
        if not manifest or "config" not in manifest:
            raise UsageError(f"{run_dir.url}: not a run directory (no readable manifest.json)")
        return run_dir, manifest
    return open_run(os.fspath(run_dir))


def build_report(run_dir):
    """The HTML report of a run directory (path, fsspec URL or ``RunDir``)."""
    run, manifest = _open(run_dir)
    return render(run, manifest)


def write_report(run_dir):
    """Write ``<run>/report.html`` atomically (temporary name, then move); returns its URL."""
    run, manifest = _open(run_dir)
    run.write_bytes(REPORT_NAME, render(run, manifest).encode("utf-8"))
    return run.url_of(REPORT_NAME)


# -- command line ---------------------------------------------------------------

def add_parser(subparsers):
    """Add ``wsi report RUN_DIR`` to an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "report", help="write RUN_DIR/report.html: configuration, stage timings, metrics, "
                       "plots, atoms and senses in one offline page")
    p.add_argument("run_dir", metavar="RUN_DIR")
    return p


def main_report(args):
    """``wsi report RUN_DIR``: write the report and print where."""
    print(write_report(args.run_dir))
    return 0
