"""``report.html``: one self-contained page describing a run directory.

Sections: the resolved configuration, the stages (status, timings, counters),
the metrics of ``metrics.json``, plots (Zipf curve of the vocabulary, k-SVD
error per iteration, atom usage, a 2-D map of the atoms, the induction map's
held-out cosine by frequency band), a filterable table of every atom, and the
sense inventory: the words whose occurrence-based senses are most distinct and
balanced, each sense with its share, naming words and example contexts
(:mod:`.inventory`). The sense evaluations (SemEval-2013, police lineup,
senseval2_ls, planted senses) are compact tables (:mod:`.evaluations`).

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
import os
import time

import numpy as np

from .. import artifacts, registry
from ..errors import UsageError
from ..runs import open_run
from ..storage import RunDir
from .data import RunData
from .evaluations import EVALUATIONS, evaluation_html
from .html import (SCRIPT, STYLE, Raw, esc, failed, filter_box, fmt, generic, is_scalar, kv_table,
                   not_computed, summarize, table)
from .inventory import section_inventory
from .plots import plot_inputs

__all__ = ["build_report", "write_report", "REPORT_NAME", "SECTIONS", "PLOTS"]

REPORT_NAME = artifacts.path_of("report")

SECTIONS = [("config", "Configuration"), ("stages", "Stages"), ("metrics", "Metrics"),
            ("plots", "Plots"), ("atoms", "Atoms of discourse"),
            ("senses", "Sense inventory: words with distinct, balanced senses")]
PLOTS = [("zipf", "Zipf curve: word count by frequency rank (vocab.parquet)"),
         ("ksvd-error", "k-SVD relative reconstruction error per iteration"),
         ("atom-usage", "Atom usage: words whose sparse code uses the atom"),
         ("atom-map", "Atoms projected on their first two principal components"),
         ("induction-bands", "Induction map: held-out cosine by frequency band")]


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
    names = list(registry.STAGES)
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
        parts.append(data.missing("metrics", "evaluate"))
    elif not isinstance(m, dict):
        parts.append(failed("metrics.json", "not a JSON object"))
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
                   if k not in ("similarity", "analogies", "skipped") and is_scalar(v)}
        if scalars:
            parts += ["<h3>Evaluated vectors</h3>", kv_table(scalars, id="metrics-other")]
        for k, title in EVALUATIONS.items():
            if k in m:
                parts += [f'<h3 class="evaluation" id="eval-{esc(k)}">{esc(title)}</h3>',
                          evaluation_html(k, m[k])]
        for k, v in m.items():
            if k in ("similarity", "analogies", "skipped") or k in EVALUATIONS or is_scalar(v):
                continue
            parts += [f'<h3 class="metric-key">{esc(str(k))}</h3>', generic(v)]
    ind = data.counters("induce")
    if ind:
        parts.append("<h3>Induction map (induce stage)</h3>")
        flat = {k: v for k, v in ind.items() if is_scalar(v)}
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


def _section_plots(data):
    inputs = plot_inputs(data)
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


def _reconstruction_note(data):
    rec = data.reconstruction()
    if rec is None or not rec.num_rows:
        return ""
    e = rec["relative_error"].to_numpy(zero_copy_only=False).astype(np.float64)
    e = e[np.isfinite(e)]
    if not len(e):
        return ""
    return (f'<p class="note">relative reconstruction error of the word vectors by their '
            f"atoms: mean {np.mean(e):.4f}, median {np.median(e):.4f}, 90th percentile "
            f"{np.percentile(e, 90):.4f}</p>")


def _section_atoms(data):
    atoms = data.atoms()
    if atoms is None:
        return data.missing("atoms", "atoms")
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
            + _reconstruction_note(data)
            + filter_box("atoms-table", "atoms by word or id")
            + '<div class="scroll">'
            + table(["atom_id", "usage", "top words", "top similarities"], rows,
                    id="atoms-table", cls="sortable", numeric={0, 1})
            + "</div>")


def _section(sid, title, builder, data):
    try:
        body = builder(data)
    except Exception as e:  # report what could not be rendered, keep the rest
        body = (f'<p class="missing error">could not render this section: '
                f"{esc(e.__class__.__name__)}: {esc(str(e))}</p>")
    return f'<section id="{sid}"><h2>{esc(title)}</h2>{body}</section>\n'


_BUILDERS = {"config": _section_config, "stages": _section_stages, "metrics": _section_metrics,
             "plots": _section_plots, "atoms": _section_atoms, "senses": section_inventory}


def render(run, manifest):
    """The report of an opened run (``RunDir``, manifest dict) as an HTML string."""
    data = RunData(run, manifest)
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
