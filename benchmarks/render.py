"""Render the tables of benchmarks/README.md from benchmarks/results/*.json.

Usage: python benchmarks/render.py [--readme FILE] [--results DIR] [--check]

Every table in the README sits between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``;
everything between the two markers is replaced by the table NAME found in the ``tables``
of a results file (the newest when several have it), followed by the code hash, the date,
the machine, the other load and the command that measured it. Prose outside the markers
is left alone. A table with no results says so. ``--check`` writes nothing and exits 1
when the README differs from what would be rendered.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from results import RESULTS, ROOT  # noqa: E402

MARKER = re.compile(r"(<!-- table:([\w.-]+) -->\n)(.*?)(<!-- /table:\2 -->)", re.S)


def load_results(folder):
    """{table name: results dict}, the newest result per table; unreadable files are
    reported on stderr and skipped."""
    found = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            res = json.loads(path.read_text())
            tables = res["tables"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"render: {path}: unreadable results file ({e}); skipped", file=sys.stderr)
            continue
        res["_file"] = path
        for name in tables:
            old = found.get(name)
            if old is None or (res.get("finished") or "") > (old.get("finished") or ""):
                found[name] = res
    return found


def _cell(value, spec):
    if value is None:
        return "-"
    if isinstance(value, str) or not spec:
        return str(value).replace("|", "\\|")
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def render_table(name, res):
    t = res["tables"][name]
    cols = t["columns"]
    lines = []
    if t.get("title"):
        lines += [f"**{t['title']}**", ""]
    lines.append("| " + " | ".join(c[0] for c in cols) + " |")
    lines.append("|" + "|".join("---" if not c[1] else "---:" for c in cols) + "|")
    for row in t["rows"]:
        lines.append("| " + " | ".join(_cell(v, c[1]) for v, c in zip(row, cols)) + " |")
    lines.append("")
    for note in t.get("notes", []):
        lines.append(f"- {note}")
    if t.get("notes"):
        lines.append("")
    m = res.get("machine") or {}
    other = res.get("other_cores_max")
    src = Path(res["_file"])
    try:
        src = src.relative_to(ROOT)
    except ValueError:
        pass
    lines.append(
        f"<sub>code `{res.get('code_hash')}` · measured {res.get('finished')} · "
        f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB · other load "
        f"during timed runs ≤ {'-' if other is None else f'{other:.2f}'} cores · "
        f"`{src}` · command `{res.get('command')}`</sub>")
    if res.get("quick"):
        lines += ["", "**QUICK run (`--quick`, small inputs): not the published figures.**"]
    return "\n".join(lines) + "\n"


def render(text, found):
    def sub(m):
        name = m.group(2)
        body = (render_table(name, found[name]) if name in found else
                f"*No results for table `{name}` yet: run `make bench`.*\n")
        return m.group(1) + body + m.group(4)
    return MARKER.sub(sub, text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", type=Path, default=HERE / "README.md")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--check", action="store_true", help="exit 1 if the README is not rendered")
    args = ap.parse_args(argv)
    try:
        text = args.readme.read_text()
    except OSError as e:
        print(f"render: {args.readme}: {e.strerror}", file=sys.stderr)
        return 2
    found = load_results(args.results)
    new = render(text, found)
    names = [m.group(2) for m in MARKER.finditer(text)]
    missing = [n for n in names if n not in found]
    if args.check:
        if new != text:
            print(f"render: {args.readme} is not rendered from {args.results}", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.readme.write_text(new)
    print(f"render: {len(names) - len(missing)} of {len(names)} tables rendered into "
          f"{args.readme}" + (f"; no results for: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
