"""A small HTML kit for the report: escaping, number formatting, tables, and the page's
own stylesheet and script (the page reads offline)."""
from __future__ import annotations

import html
import math

import numpy as np

__all__ = ["Raw", "esc", "fmt", "summarize", "table", "kv_table", "generic", "not_computed",
           "failed", "filter_box", "is_scalar", "STYLE", "SCRIPT"]


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


def is_scalar(x):
    return x is None or isinstance(x, (str, int, float, bool, np.generic))


def generic(v, depth=0):
    """Any JSON value as HTML: scalars as text, a dict of flat dicts as a matrix
    table, a list of flat dicts as a table, other dicts as nested key/value tables."""
    if is_scalar(v):
        return esc(v)
    if depth >= 4:
        return esc(summarize(v))
    if isinstance(v, dict):
        if not v:
            return Raw("<em>empty</em>")
        if all(isinstance(x, dict) and x and all(is_scalar(y) for y in x.values())
               for x in v.values()):
            cols = []
            for x in v.values():
                cols += [k for k in x if k not in cols]
            return table(["", *cols], [[str(k), *[x.get(c) for c in cols]] for k, x in v.items()],
                         numeric=range(1, len(cols) + 1))
        return kv_table(v)
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) and all(is_scalar(y) for y in x.values()) for x in v):
            cols = []
            for x in v:
                cols += [k for k in x if k not in cols]
            return table(cols, [[x.get(c) for c in cols] for x in v])
        if len(v) <= 20 and all(is_scalar(x) for x in v):
            return esc(", ".join(fmt(x) for x in v) if v else "(none)")
        return esc(summarize(v))
    return esc(str(v))


def not_computed(what, stage=None):
    hint = f" (run the stages up to {stage})" if stage else ""
    return Raw(f'<p class="missing">not computed: {esc(what)}{esc(hint)}</p>')


def failed(what, err):
    return Raw(f'<p class="missing error">could not read {esc(what)}: {esc(str(err))}</p>')


def filter_box(table_id, what):
    return (f'<p><input type="search" class="filter" data-table="{esc(table_id)}" '
            f'placeholder="filter {esc(what)}…" aria-label="filter {esc(what)}"> '
            f'<span class="count" id="{esc(table_id)}-count"></span></p>')


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
ul.examples{margin:0;padding-left:1.1em}ul.examples li{margin:.1em 0}
.kwic{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
.kwic mark{background:#ffe08a;font-weight:600;padding:0 .15em}
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
