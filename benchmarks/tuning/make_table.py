"""Render /tmp/tune/results.jsonl (+ seed-2 rows) as a markdown table."""
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tune/results.jsonl")]
print("| # | configuration | WS-353 | MEN | SimLex | analogy | train s |")
print("|---|---|---|---|---|---|---|")
for i, r in enumerate(rows, 1):
    an = f"{r['analogy']:.3f} ({r['analogy_n']})" if "analogy" in r else ""
    ts = r["train_s"] if r["train_s"] else "(combo of saved)"
    ok = all([r["ws353"] >= .6, r["men"] >= .6, r["simlex"] >= .3])
    name = ("**" + r["name"] + "**") if ok else r["name"]
    print(f"| {i} | {name} | {r['ws353']:.4f} | {r['men']:.4f} | {r['simlex']:.4f} | {an} | {ts} |")
