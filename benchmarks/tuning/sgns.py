"""gensim Word2Vec / FastText on /tmp/tune/corpus.txt (corpus_file, workers=2).

Evaluates w (input vectors) and w+c (normalize(normalize(w) + normalize(syn1neg)))
on the pipeline vocabulary (min_count 5, same 29816 words as vocab.parquet).

Usage: sgns.py --window 2 --dim 300 --epochs 15 --sample 1e-4 --negative 15 \
          [--ns-exp 0.75] [--cbow] [--fasttext] [--no-shrink] [--alpha 0.025] [--seed 1]
          [--save NAME] [--analogy]
"""
import argparse
import os

import numpy as np
from gensim.models import FastText, Word2Vec

from common import Timer, load_vocab, normalize, record, TUNE


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--ns-exp", type=float, default=0.75)
    ap.add_argument("--alpha", type=float, default=None)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--cbow", action="store_true")
    ap.add_argument("--fasttext", action="store_true")
    ap.add_argument("--no-shrink", action="store_true", help="shrink_windows=False (fixed window)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", default=None)
    ap.add_argument("--analogy", action="store_true")
    ap.add_argument("--no-wc", action="store_true")
    a = ap.parse_args()

    sg = 0 if a.cbow else 1
    alpha = a.alpha if a.alpha is not None else (0.05 if a.cbow else 0.025)
    kw = dict(corpus_file=f"{TUNE}/corpus.txt", vector_size=a.dim, window=a.window,
              min_count=a.min_count, sample=a.sample, negative=a.negative,
              ns_exponent=a.ns_exp, sg=sg, hs=0, epochs=a.epochs, workers=2, seed=a.seed,
              alpha=alpha, shrink_windows=not a.no_shrink)
    with Timer() as t:
        model = (FastText if a.fasttext else Word2Vec)(**kw)
    wv = model.wv
    words, _ = load_vocab()
    missing = [w for w in words if w not in wv.key_to_index]
    print(f"trained {t.s:.1f}s; gensim vocab {len(wv)}; pipeline words missing {len(missing)}",
          flush=True)
    ids = [wv.key_to_index[w] for w in words if w in wv.key_to_index]
    words_k = [w for w in words if w in wv.key_to_index]
    W = wv.vectors[ids]
    C = model.syn1neg[ids] if a.fasttext is False else model.syn1neg[ids]
    if a.save:
        os.makedirs(f"{TUNE}/vecs", exist_ok=True)
        np.savez(f"{TUNE}/vecs/{a.save}.npz", W=W, C=C, words=np.array(words_k))
    params = {k: v for k, v in kw.items() if k not in ("corpus_file",)}
    params["method"] = ("fasttext" if a.fasttext else "word2vec") + ("-cbow" if a.cbow else "-sg")
    tag = (f"{'ft' if a.fasttext else 'w2v'}-{'cbow' if a.cbow else 'sg'} w{a.window}"
           f"{'' if not a.no_shrink else 'fix'} d{a.dim} e{a.epochs} s{a.sample:g} n{a.negative}"
           f" ns{a.ns_exp:g} a{alpha:g}")
    variants = [(False, W)] if a.no_wc else [(False, W), (True, normalize(normalize(W) + normalize(C)))]
    for wc, mat in variants:
        record(tag + (" w+c" if wc else ""), dict(params, wc=wc), words_k, mat, t.s,
               analogy=a.analogy, extra={"cpu_s": round(t.cpu, 1)})


if __name__ == "__main__":
    main()
