"""The small_corpus profile's mixing weight, chosen on the development halves only.

Usage: python benchmarks/tuning/weight_dev.py RUN_DIR [--data DIR] [--step 0.02]

RUN_DIR is a finished run of a ``combined`` profile with two components
(``wsi run -c conf/small_corpus.yaml -c conf/shared.yaml``). Its stored vectors are
the concatenation sqrt(w) unit(A) | sqrt(1 - w) unit(B) (:func:`tasks.linalg.
combine_vectors`), so each part is recovered up to scale and any other weight w' is
scored without retraining: cos = w' cos_A + (1 - w') cos_B. Every weight of the grid
is scored on the dev half (:func:`tasks.evaluation.pair_half`) of WS-353, MEN and
SimLex-999; the chosen weight has the largest worst margin to the profile's targets
(0.60, 0.60, 0.30). Test halves are not read.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.artifacts.tables import read_vectors  # noqa: E402
from tasks.evaluation import read_pairs, similarity_scores, split_pairs  # noqa: E402

SETS = {"ws353": ("EN-WS-353-ALL.txt", 0.60), "men": ("EN-MEN-TR-3k.txt", 0.60),
        "simlex999": ("EN-SIMLEX-999.txt", 0.30)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "similarity"))
    ap.add_argument("--step", type=float, default=0.02)
    args = ap.parse_args(argv)
    manifest = json.loads((Path(args.run) / "manifest.json").read_text())
    parts = manifest["config"]["embed"].get("components") or []
    if len(parts) != 2:
        print(f"weight_dev: {args.run}: not a run of a two-component combined profile",
              file=sys.stderr)
        return 2
    emb, x = read_vectors(str(Path(args.run) / "embeddings.parquet"))
    index = {w: i for i, w in enumerate(emb["word"].to_pylist())}
    d = int(parts[0]["vector_size"])
    a, b = x[:, :d].astype(np.float64), x[:, d:].astype(np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    dev = {n: split_pairs(read_pairs(open(Path(args.data) / f)))[0]
           for n, (f, _t) in SETS.items()}
    print("weight  " + "  ".join(f"{n:>9s}" for n in SETS) + "  worst margin (dev halves)")
    best = None
    for w in np.round(np.arange(0.30, 0.80 + 1e-9, args.step), 4):
        v = np.hstack([np.sqrt(w) * a, np.sqrt(1 - w) * b]).astype(np.float32)
        r = {n: similarity_scores(pairs, v, index)["spearman"] for n, pairs in dev.items()}
        margin = min(r[n] - t for n, (_f, t) in SETS.items())
        print(f"{w:6.2f}  " + "  ".join(f"{r[n]:9.4f}" for n in SETS) + f"  {margin:+.4f}")
        if best is None or margin > best[1]:
            best = (w, margin)
    print(f"chosen: weight {best[0]:.2f} (worst dev margin {best[1]:+.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
