"""Shared helpers for the embedding tuning experiments (scratch; see RESULTS.md).

Data layout (produced by `wsi run -c shared --out /tmp/tune --quiet`, plus
`--set cooc.window=N --name shared_wN` for other windows):
  /tmp/tune/shared/vocab.parquet     word, id, count (min_count 5, 29816 words)
  /tmp/tune/shared_wN/cooc/          row, col, count, weighted (symmetric, window N)
  /tmp/tune/corpus.txt               cat /tmp/tune/shared/corpus/part-*.txt
"""
import json
import os
import time

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy.stats import spearmanr

TUNE = os.environ.get("TUNE_DIR", "/tmp/tune")
SIM_DIR = "/work/shared/data/similarity"
SIM_SETS = {"ws353": "EN-WS-353-ALL.txt", "men": "EN-MEN-TR-3k.txt", "simlex": "EN-SIMLEX-999.txt"}
RESULTS = os.environ.get("TUNE_RESULTS", "/tmp/tune/results.jsonl")


def load_vocab(run="shared"):
    t = pq.read_table(f"{TUNE}/{run}/vocab.parquet").to_pydict()
    order = np.argsort(t["id"])
    words = [t["word"][i] for i in order]
    counts = np.asarray(t["count"], dtype=np.float64)[order]
    return words, counts


def cooc_dir(window, run=None):
    if run:
        return f"{TUNE}/{run}/cooc"
    return f"{TUNE}/shared/cooc" if window == 10 else f"{TUNE}/shared_w{window}/cooc"


def load_cooc(window, column="count", run=None):
    """Symmetric co-occurrence matrix (csr, float64) at the given window (or of run `run`)."""
    if run:  # other runs must share the vocabulary (same word -> id)
        assert load_vocab(run)[0] == load_vocab()[0], "vocabulary differs"
    t = pq.read_table(cooc_dir(window, run), columns=["row", "col", column])
    r = t.column("row").to_numpy()
    c = t.column("col").to_numpy()
    d = t.column(column).to_numpy().astype(np.float64)
    n = int(max(r.max(), c.max())) + 1
    return sp.csr_matrix((d, (r, c)), shape=(n, n))


def normalize(m):
    n = np.linalg.norm(m, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return m / n


def load_pairs(name):
    pairs = []
    with open(os.path.join(SIM_DIR, SIM_SETS[name])) as f:
        for line in f:
            p = line.split()
            if len(p) >= 3:
                pairs.append((p[0].lower(), p[1].lower(), float(p[2])))
    return pairs


def eval_similarity(words, mat):
    """Spearman on each set over pairs with both words in vocabulary.

    `mat` rows are vectors (any norm; cosine is used). ``name`` is the score on the set's
    DEVELOPMENT half (tasks.evaluation.pair_half), the only one a search may choose on;
    ``name_test`` (the other half) and ``name_full`` are reported, never selected on."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    from tasks.evaluation import pair_half
    idx = {w: i for i, w in enumerate(words)}
    m = normalize(np.asarray(mat, dtype=np.float64))
    out = {}
    for name in SIM_SETS:
        pairs = load_pairs(name)
        got = {"dev": ([], []), "test": ([], [])}
        for a, b, s in pairs:
            if a in idx and b in idx:
                gold, pred = got[pair_half(a, b)]
                gold.append(s)
                pred.append(float(m[idx[a]] @ m[idx[b]]))
        full_gold = got["dev"][0] + got["test"][0]
        full_pred = got["dev"][1] + got["test"][1]
        out[name] = round(float(spearmanr(*got["dev"]).correlation), 4)
        out[name + "_test"] = round(float(spearmanr(*got["test"]).correlation), 4)
        out[name + "_full"] = round(float(spearmanr(full_gold, full_pred).correlation), 4)
        out[name + "_n"] = f"{len(full_gold)}/{len(pairs)} (dev {len(got['dev'][0])})"
    return out


def eval_analogy(words, mat, restrict=30000):
    """gensim 3CosAdd on questions-words.txt (case-insensitive, top `restrict`)."""
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath
    kv = KeyedVectors(mat.shape[1])
    kv.add_vectors(list(words), np.asarray(mat, dtype=np.float32))
    score, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"),
                                                 restrict_vocab=restrict)
    total = [s for s in sections if s["section"] == "Total accuracy"][0]
    n = len(total["correct"]) + len(total["incorrect"])
    return {"analogy": round(float(score), 4), "analogy_n": n}


def record(name, params, words, mat, seconds, analogy=False, extra=None):
    res = {"name": name, "params": params, "train_s": round(seconds, 1)}
    res.update(eval_similarity(words, mat))
    if analogy:
        res.update(eval_analogy(words, mat))
    if extra:
        res.update(extra)
    with open(RESULTS, "a") as f:
        f.write(json.dumps(res) + "\n")
    print(json.dumps(res), flush=True)
    return res


class Timer:
    def __enter__(self):
        self.t0 = time.time()
        self.cpu0 = time.process_time()
        return self

    def __exit__(self, *a):
        self.s = time.time() - self.t0
        self.cpu = time.process_time() - self.cpu0
