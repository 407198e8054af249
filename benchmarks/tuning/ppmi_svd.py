"""PPMI-SVD (Levy, Goldberg & Dagan 2015 style) on the pipeline's cooc Parquet.

One SVD per (window, column, cds, neg, dim); eigenvalue weighting p and w / w+c
are post-hoc variants evaluated from the same SVD.

  PMI(w,c) = log( #(w,c) * sum_c' #(c')^cds / (#(w) * #(c)^cds) ) - log(neg)
  where #(w,c) is the cooc matrix (`count` or harmonic `weighted`), #(w) its row
  sums and #(c) its column sums; SPPMI = max(PMI, 0) on the non-zeros only.
  U, S, V^T = randomized_svd(SPPMI, dim, n_iter=7, n_oversamples=20, random_state=0)
  W = U * S^p ; C = V * S^p ; w+c = normalize(normalize(W) + normalize(C)).

Usage: ppmi_svd.py --window 2 --column count --cds 0.75 --neg 1 --dim 300 \
          [--eig 0 0.5] [--save NAME] [--analogy]
"""
import argparse
import os

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from common import Timer, load_cooc, load_vocab, normalize, record, TUNE


def sppmi(C, cds=0.75, neg=1.0):
    C = C.tocsr()
    total = C.sum()
    row = np.asarray(C.sum(axis=1)).ravel()
    col = np.asarray(C.sum(axis=0)).ravel()
    colp = col ** cds
    colp = colp / colp.sum()
    rowp = row / total
    coo = C.tocoo()
    pmi = np.log(coo.data / total) - np.log(rowp[coo.row]) - np.log(colp[coo.col]) - np.log(neg)
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=C.shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--column", default="count")
    ap.add_argument("--cds", type=float, default=0.75)
    ap.add_argument("--neg", type=float, default=1.0)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--eig", type=float, nargs="+", default=[0.0, 0.5])
    ap.add_argument("--save", default=None, help="save U,S,V to /tmp/tune/vecs/NAME.npz")
    ap.add_argument("--analogy", action="store_true")
    ap.add_argument("--run", default=None, help="take cooc from /tmp/tune/RUN/cooc instead")
    ap.add_argument("--niter", type=int, default=7)
    a = ap.parse_args()

    words, _ = load_vocab()
    with Timer() as t:
        M = sppmi(load_cooc(a.window, a.column, a.run), a.cds, a.neg)
        U, S, VT = randomized_svd(M, a.dim, n_iter=a.niter, n_oversamples=20, random_state=0)
    V = VT.T
    print(f"svd done {t.s:.1f}s nnz={M.nnz}", flush=True)
    if a.save:
        os.makedirs(f"{TUNE}/vecs", exist_ok=True)
        np.savez(f"{TUNE}/vecs/{a.save}.npz", U=U.astype(np.float32), S=S, V=V.astype(np.float32))
    base = dict(method="ppmi_svd", run=a.run, window=a.window, column=a.column, cds=a.cds,
                neg=a.neg, dim=a.dim)
    for p in a.eig:
        W = U * S ** p
        Cv = V * S ** p
        for wc in (False, True):
            mat = normalize(normalize(W) + normalize(Cv)) if wc else W
            params = dict(base, eig=p, wc=wc)
            name = f"svd {a.run + ' ' if a.run else ''}w{a.window} {a.column[:1]} cds{a.cds} k{a.neg:g} d{a.dim} p{p:g}{' w+c' if wc else ''}"
            record(name, params, words, mat, t.s, analogy=a.analogy)


if __name__ == "__main__":
    main()
