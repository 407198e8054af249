"""Weighted concatenation of saved embeddings (from ppmi_svd.py --save / sgns.py --save).

Each component is L2-normalised row-wise, multiplied by sqrt(weight_i) (weights
sum to 1) and the parts are concatenated, so cos(concat) = sum_i weight_i * cos_i.

Component spec:  NAME:KIND[:p]   with KIND one of
   w, c, wc          for sgns saves (input vectors / context vectors / w+c)
   w, c, wc + p      for svd saves (U S^p, V S^p, w+c), p = eigenvalue weight
   optional extra fields: abtt=D  (all-but-the-top post-processing, D top PCs removed)
Usage: combine.py --comp sg_w2_e15:w w10c:wc:0 --weights 0.5 0.5 [--grid] [--analogy]
  --grid evaluates weights w0 in 0.2..0.8 step 0.1 for two components.
"""
import argparse

import numpy as np

from common import TUNE, load_vocab, normalize, record


def abtt(m, d):
    """All-but-the-top (Mu & Viswanath 2018): remove the mean, then the top d PCA directions."""
    m = m - m.mean(axis=0)
    if d > 0:
        _, _, vt = np.linalg.svd(m, full_matrices=False)
        top = vt[:d]
        m = m - (m @ top.T) @ top
    return m


def load_comp(spec, words):
    parts = spec.split(":")
    name, kind = parts[0], parts[1]
    opts = dict(o.split("=") for o in parts[2:] if "=" in o)
    plain = [o for o in parts[2:] if "=" not in o]
    z = np.load(f"{TUNE}/vecs/{name}.npz")
    if "U" in z:
        p = float(plain[0]) if plain else float(opts.get("p", 0.0))
        W = z["U"] * z["S"] ** p
        C = z["V"] * z["S"] ** p
        vocab = words
    else:
        W, C = z["W"], z["C"]
        vocab = list(z["words"])
        assert vocab == words, "vocab mismatch"
    if kind == "w":
        m = W
    elif kind == "c":
        m = C
    else:
        m = normalize(W) + normalize(C)
    m = np.asarray(m, dtype=np.float64)
    if "abtt" in opts:  # applied to the (normalised) component before the final normalisation
        m = abtt(normalize(m), int(opts["abtt"]))
    return normalize(m)


def combine(mats, weights):
    s = sum(weights)
    return np.hstack([np.sqrt(w / s) * m for m, w in zip(mats, weights)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--comp", nargs="+", required=True)
    ap.add_argument("--weights", type=float, nargs="+", default=None)
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--analogy", action="store_true")
    a = ap.parse_args()
    words, _ = load_vocab()
    mats = [load_comp(s, words) for s in a.comp]
    if a.grid:
        grids = [[w, 1 - w] for w in np.round(np.arange(0.2, 0.81, 0.1), 2)]
    else:
        grids = [a.weights or [1.0] * len(mats)]
    for ws in grids:
        ws = [round(float(w), 3) for w in ws]
        name = "combo " + " + ".join(f"{w:g}*{s}" for s, w in zip(a.comp, ws))
        record(name, {"method": "combo", "comp": a.comp, "weights": ws}, words,
               combine(mats, ws), 0.0, analogy=a.analogy)


if __name__ == "__main__":
    main()
