"""Are the tables of benchmarks/README.md measured on the current code?

Usage: python3 benchmarks/check_fresh.py [--readme FILE] [--results DIR]

For every ``<!-- table:NAME -->`` in the README, finds the results file that holds the
table (benchmarks/results/*.json, the newest) and recomputes the code hash over the paths
that file lists (``hashed_paths``: pipeline/, tasks/, conf/, pyproject.toml and the
benchmark script, working-tree content). Prints one line per table that is stale (hash
differs), missing (no results) or quick (``--quick`` figures); exits 1 if there is any,
0 when every table is fresh. Standard library only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from render import MARKER, load_results  # noqa: E402
from results import RESULTS, code_hash  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", type=Path, default=HERE / "README.md")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    try:
        text = args.readme.read_text()
    except OSError as e:
        print(f"check_fresh: {args.readme}: {e.strerror}", file=sys.stderr)
        return 2
    names = list(dict.fromkeys(m.group(2) for m in MARKER.finditer(text)))
    found = load_results(args.results)
    hashes, bad = {}, []
    for name in names:
        res = found.get(name)
        if res is None:
            bad.append(f"{name}: no results (run `make bench`)")
            continue
        paths = tuple(res.get("hashed_paths") or ())
        if paths not in hashes:
            hashes[paths] = code_hash(paths)
        now = hashes[paths]
        where = Path(res["_file"]).name
        if res.get("code_hash") != now:
            bad.append(f"{name}: stale ({where} measured code {res.get('code_hash')}, "
                       f"current code {now})")
        elif res.get("quick"):
            bad.append(f"{name}: quick run only ({where}, --quick); re-run without --quick")
    for line in bad:
        print(f"check_fresh: {line}")
    if bad:
        print(f"check_fresh: {len(bad)} of {len(names)} tables not fresh; "
              "`make bench` then `make bench-report`")
        return 1
    print(f"check_fresh: all {len(names)} tables measured on the current code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
