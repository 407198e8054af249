"""Reproduce the selected configuration end to end (see RESULTS.md).

  A = skip-gram (gensim Word2Vec sg=1) on the sentence-per-line pipeline corpus:
      vector_size 300, window 2 (shrink_windows=True, gensim default dynamic window),
      sample 1e-3, negative 10, ns_exponent 0.75, alpha 0.025 -> min_alpha 1e-4,
      epochs 15, min_count 5, hs 0, workers 2; input vectors W only.
  B = PPMI-SVD on a cross-sentence co-occurrence matrix: the pipeline corpus with
      every 10 consecutive lines (sentences) of each part file joined into one
      document, re-run through `wsi run` at cooc.window=20; harmonic `weighted`
      column (sum of 1/distance); PMI with context-distribution smoothing 0.75,
      no shift (k=1), positive part; randomized_svd dim 300 (n_iter 7,
      n_oversamples 20, random_state 0); eigenvalue weight p = 0 (W = U, C = V);
      w+c = normalize(normalize(U) + normalize(V)).
  Final vector = [sqrt(0.52) * normalize(A), sqrt(0.48) * normalize(B)]
      so cos = 0.52 cos_A + 0.48 cos_B.

Usage: best_config.py [--out /tmp/tune_repro] [--seed 1] [--analogy] [--wa 0.52]
Takes ~4-5 minutes on 2 cores (SGNS ~160 s, SVD ~50 s).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/tune_repro")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--wa", type=float, default=0.52, help="weight of the SGNS component")
    ap.add_argument("--analogy", action="store_true")
    a = ap.parse_args()
    os.environ["TUNE_DIR"] = a.out
    os.environ.setdefault("TUNE_RESULTS", os.path.join(a.out, "results.jsonl"))
    import common  # noqa: E402  (reads TUNE_DIR at import)
    from gensim.models import Word2Vec
    from ppmi_svd import sppmi
    from sklearn.utils.extmath import randomized_svd

    os.makedirs(a.out, exist_ok=True)
    wsi = os.path.join(ROOT, ".venv", "bin", "wsi")
    # 1. pipeline corpus (sentence per line)
    subprocess.run([wsi, "run", "-c", "shared", "--out", a.out, "--quiet", "--stages", "cooc"],
                   cwd=ROOT, check=True)
    parts = sorted(glob.glob(f"{a.out}/shared/corpus/part-*.txt"))
    corpus = f"{a.out}/corpus.txt"
    joined = f"{a.out}/joined10.txt"
    with open(corpus, "w") as fc, open(joined, "w") as fj:
        for p in parts:
            with open(p) as f:
                lines = [l.strip() for l in f if l.strip()]
            fc.write("\n".join(lines) + "\n")
            for i in range(0, len(lines), 10):
                fj.write(" ".join(lines[i:i + 10]) + "\n")
    # 2. cross-sentence cooc at window 20 through the pipeline
    subprocess.run([wsi, "run", "-c", "shared", "--out", a.out, "--quiet", "--stages", "cooc",
                    "--set", f'corpus.paths=["{joined}"]', "--set", "cooc.window=20",
                    "--name", "joined10_w20"], cwd=ROOT, check=True)
    words, _ = common.load_vocab("shared")
    # 3. component B: PPMI-SVD
    t0 = time.time()
    C = common.load_cooc(20, "weighted", run="joined10_w20")
    U, S, VT = randomized_svd(sppmi(C, 0.75, 1.0), 300, n_iter=7, n_oversamples=20,
                              random_state=0)
    B = common.normalize(common.normalize(U) + common.normalize(VT.T))
    tb = time.time() - t0
    # 4. component A: SGNS window 2
    t0 = time.time()
    m = Word2Vec(corpus_file=corpus, vector_size=300, window=2, min_count=5, sample=1e-3,
                 negative=10, ns_exponent=0.75, sg=1, hs=0, epochs=15, workers=2,
                 seed=a.seed, alpha=0.025, shrink_windows=True)
    A = m.wv.vectors[[m.wv.key_to_index[w] for w in words]]
    ta = time.time() - t0
    # 5. combine and evaluate
    res = {}
    for name, mat in (("A sgns w2", A), ("B ppmi-svd j10 w20 h w+c", B)):
        res[name] = common.eval_similarity(words, mat)
    final = np.hstack([np.sqrt(a.wa) * common.normalize(A),
                       np.sqrt(1 - a.wa) * common.normalize(B)])
    res["final"] = common.eval_similarity(words, final)
    if a.analogy:
        res["final"].update(common.eval_analogy(words, final))
    res["seconds"] = {"sgns": round(ta, 1), "svd": round(tb, 1)}
    print(json.dumps(res, indent=1))
    np.save(f"{a.out}/final_vectors.npy", final.astype(np.float32))
    with open(f"{a.out}/final_words.txt", "w") as f:
        f.write("\n".join(words) + "\n")


if __name__ == "__main__":
    main()
