"""The induction map: few-context induction (issue 17) and Arora et al. (2018) Table 1.

Usage: .venv/bin/python benchmarks/bench_induce.py [--protocol all|rarity|size] [--quick]
           [--run RUN_DIR] [--data DIR] [--out DIR] [--sample random|first]
           [--embeddings NAME,...] [--json FILE] [--keep]

``--protocol rarity`` (issue 17's development protocols, on the default sense profile:
``-c small_corpus -c shared``, or an existing run given with ``--run``, read only):

* simulated rarity: 400 words drawn (``default_rng(0)``) from the words with count >= 100
  are left out of the map fit; 16 of their occurrences are drawn (``default_rng(1)``) and
  each word's vector is induced from the first n = 1, 2, 4, 8, 16 (nested), contexts
  being ``induce.window`` tokens each side within the line. Score: mean cosine with the
  trained vector, for the map (as the induce stage fits and applies it) and for the
  baselines on the same contexts: the SIF average, the SIF average with the common
  direction removed (the map's input) and the additive (unweighted) average; and the
  constant predictor (the mean training vector). Also the map's cosine from all their
  corpus contexts.
* RW: the fixed dev/test halves (``tasks.evaluation.split_pairs``); trained vectors
  wherever the run has one, otherwise induced from every corpus occurrence; Spearman
  and coverage for trained-only pairs, pairs needing an induced vector, and all pairs.
  Choose on dev, report test.

With ``--run``, the run supplies the tokenised corpus, the vocabulary and the
vectors; the induce and context settings are always conf/default.yaml's.
``--quick`` runs it on a small profile (two corpora, PPMI-SVD 100d, 100 held-out words)
to check the code, not for figures. ``--protocol size`` is the corpus-size table below.

Arora, Li, Liang, Ma & Risteski (2018, "Linear algebraic structure of word
senses", Table 1) fit a linear map from a word's average (SIF) context vector
u_w to its GloVe vector v_w and report the mean cosine of A u_w with v_w:
0.94 / 0.95 / 0.96 / 0.96 when u is computed from 250k / 500k / 750k / 1M
Wikipedia paragraphs. Here, on the six NLTK-derived corpora of
../shared/data/corpora (3.77M tokens):

1. One full `wsi run` per embedding (default: PPMI-SVD 300d with eig 0.5, and
   PPMI-SVD 300d with eig 1) up to the induce stage. Its
   `embeddings.w2v.txt` is the fixed v of every later run.
2. Subset corpora: a nested random sample (fixed seed) of 25/50/75/100% of the
   documents of the full run's tokenised corpus (`corpus/part-*.txt`, one
   document per line), written as `lines` files; `--sample first` takes the
   first documents instead (then 25% is abc_news plus part of brown only).
3. For each subset, `wsi run --stages induce` with `embed.method=pretrained`
   (the full run's vectors), the full run's `vocab.min_count`, and
   `induce.min_count` = 100 x fraction (25, 50, 75, 100): a word's expected
   count scales with the fraction, so every fraction trains on about the same
   words (those seen ~100+ times in the whole corpus) and the frequency bands of
   `heldout_by_band` cover the same full-corpus counts (100-199, 200-999, ...).
   The pipeline's own `heldout_mean_cosine` (random 10% held out, seed 0) is
   reported. Each subset run is repeated with `context.remove_components=0`
   (only context + induce rerun).
4. "fixed-set cos": the same fit recomputed here (tasks.induce functions) on
   exactly the training and held-out words of the 100% run, with each
   fraction's u: identical words at every fraction.

Then, on the full corpus, the issue's comparison point (0.934 with unweighted
windows and a plain least-squares fit over all words) next to our
configuration, `induce.log_count_weights=false`, `context.remove_components=0`,
a linear fit (A u, ``induce.fit_intercept=false``) and a constant predictor
(the mean training vector); and the induce stage's similarity counters: coverage
and Spearman of the full run's trained vectors vs trained + induced (RW).

Results go to benchmarks/results/induce.json; `--quick` uses two small files and the
first embedding only, to check the script end to end.

Takes about 5-15 minutes on 2 cores (mostly the two PPMI-SVD trainings), and
about 2 GB of disk in a temporary directory (deleted unless --keep).
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results  # noqa: E402
from pipeline.artifacts.corpus import shard_paths  # noqa: E402

FILES = ["abc_news", "brown", "inaugural", "movie_reviews", "state_union", "webtext"]
QUICK_FILES = ["inaugural", "state_union"]
EXTRA_HASHED = ("benchmarks/results.py",)
FRACTIONS = (0.25, 0.50, 0.75, 1.00)
PAPER = {0.25: 0.94, 0.50: 0.95, 0.75: 0.96, 1.00: 0.96}
ISSUE_BASELINE = 0.934
BASE_MIN_COUNT = 100       # induce.min_count of the full corpus (the default)
SEED = 0                   # document sample
# The subsets skip the second pass for out-of-vocabulary evaluation words (not measured
# there); the full-corpus run makes it, for the RW coverage line.
COMMON = ["run.workers=2", "induce.evaluation_targets=false"]
EMBEDDINGS = {
    "ppmi_svd 300d eig0.5": ["embed.method=ppmi_svd", "embed.vector_size=300",
                             "cooc.window=10"],
    "ppmi_svd 300d eig1": ["embed.method=ppmi_svd", "embed.vector_size=300",
                           "cooc.window=10", "embed.eig=1"],
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def wsi(out, name, sets):
    cmd = [sys.executable, "-m", "pipeline", "run", "--out", str(out), "--name", name,
           "--quiet", "--stages", "context,induce"]
    for s in COMMON + sets:
        cmd += ["--set", s]
    t = time.time()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"wsi run {name} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    manifest = json.loads((Path(out) / name / "manifest.json").read_text())
    ran = [line.split(":")[0] for line in r.stderr.splitlines() if ": done in" in line]
    log(f"  {name}: {time.time() - t:.1f}s ({', '.join(ran)}) {' '.join(sets[-2:])}")
    return manifest


# -- recomputing the fit here (same functions as the induce stage) ------------------------

def load_run(run):
    """Vocabulary words/counts, v and u (common components removed) of a run directory."""
    from pipeline.artifacts.tables import read_vectors as read_embeddings
    from pipeline.artifacts.tables import read_vocab
    from tasks.context import remove_components
    vocab, _total = read_vocab(str(run / "vocab.parquet"))
    words = vocab["word"].to_pylist()
    counts = vocab["count"].to_numpy()
    n = len(words)
    emb, vec = read_embeddings(str(run / "embeddings.parquet"))
    ctx, u = read_embeddings(str(run / "context_vectors.parquet"))
    common = np.load(io.BytesIO((run / "context_common.npy").read_bytes()), allow_pickle=False)
    v_all = np.zeros((n, vec.shape[1]))
    has_v = np.zeros(n, dtype=bool)
    v_all[emb["id"].to_numpy()] = vec
    has_v[emb["id"].to_numpy()] = True
    u_all = np.zeros((n, u.shape[1]))
    has_u = np.zeros(n, dtype=bool)
    u_all[ctx["id"].to_numpy()] = remove_components(u, common)
    has_u[ctx["id"].to_numpy()] = True
    return {"words": words, "index": {w: i for i, w in enumerate(words)}, "counts": counts,
            "v": v_all, "u": u_all, "ok": has_u & has_v, "removed": len(common)}


def reference_split(r, min_count, holdout=0.1, seed=0):
    """The induce stage's training words and held-out mask for this run."""
    from tasks.induce import holdout_split
    train = np.flatnonzero(r["ok"] & (r["counts"] >= min_count))
    held = holdout_split(len(train), holdout, seed)
    words = [r["words"][i] for i in train]
    return ([w for w, h in zip(words, held) if not h], [w for w, h in zip(words, held) if h])


def fit_eval(r, fit_words, test_words, *, log_weights=True, intercept=True):
    """Mean held-out cosine of the map fitted on ``fit_words`` (words missing from r dropped)."""
    from tasks.induce import apply_map, fit_induction_map, row_cosines

    def rows(ws):
        ids = np.array([r["index"][w] for w in ws if w in r["index"]], dtype=np.int64)
        return ids[r["ok"][ids]]
    tr, te = rows(fit_words), rows(test_words)
    u = r["u"]
    w = np.log(r["counts"][tr]) if log_weights else None
    fit = fit_induction_map(u[tr], r["v"][tr], w, removed=r["removed"], intercept=intercept)
    a, b = fit if intercept else (fit, None)
    cos = row_cosines(apply_map(a, u[te], b), r["v"][te])
    return float(cos.mean()), len(tr), len(te)


# -- the benchmark ------------------------------------------------------------------------

def write_subsets(full_run, dest, mode):
    docs = []
    for p in map(Path, shard_paths(full_run)):
        docs += [d for d in p.read_bytes().split(b"\n") if d]
    if mode == "random":
        order = np.random.default_rng(SEED).permutation(len(docs))
    else:
        order = np.arange(len(docs))
    paths = {}
    for f in FRACTIONS:
        keep = np.sort(order[:int(round(f * len(docs)))])  # nested; original order kept
        path = dest / f"subset-{int(f * 100)}.txt"
        with open(path, "wb") as out:
            for i in keep:
                out.write(docs[i] + b"\n")
        paths[f] = path
    return paths, len(docs)


def counters(manifest):
    return manifest["stages"]["induce"]["counters"]


def bench_embedding(out, label, sets, files, mode):
    """Full run + subset runs for one embedding; returns a dict of results."""
    tag = "e" + str(list(EMBEDDINGS).index(label))
    paths = "[" + ", ".join(json.dumps(str(f)) for f in files) + "]"
    base = [f"corpus.paths={paths}"] + sets
    log(f"[{label}] full corpus")
    full = out / f"{tag}-full"
    m = wsi(out, full.name, base + ["induce.evaluation_targets=true"])
    res = {"embed_s": m["stages"]["embed"]["seconds"], "config": m["config"]["embed"],
           "vocab_min_count": m["config"]["vocab"]["min_count"],
           "similarity": {k: v.get("trained", {}).get("spearman")
                          for k, v in (counters(m).get("similarity") or {}).items()},
           "full": {}}
    # comparison point: variants on the full corpus (only context/induce rerun)
    ref = load_run(full)
    fit_w, held_w = reference_split(ref, BASE_MIN_COUNT)
    mean_v = np.mean([ref["v"][ref["index"][w]] for w in fit_w], axis=0)
    from tasks.induce import row_cosines
    hv = np.array([ref["v"][ref["index"][w]] for w in held_w])
    res["full"]["ours"] = counters(m)
    res["full"]["affine"] = fit_eval(ref, fit_w, held_w, intercept=True)[0]
    res["full"]["linear"] = counters(wsi(out, full.name, base + ["induce.fit_intercept=false"]))
    res["full"]["constant"] = float(row_cosines(np.tile(mean_v, (len(hv), 1)), hv).mean())
    res["full"]["insample_plain"] = fit_eval(ref, fit_w + held_w, fit_w + held_w,
                                             log_weights=False, intercept=True)[0]
    all_w = [ref["words"][i] for i in np.flatnonzero(ref["ok"])]
    res["full"]["insample_plain_all"] = (fit_eval(ref, all_w, all_w, log_weights=False,
                                                  intercept=True)[0], len(all_w))
    res["full"]["weighted"] = counters(wsi(out, full.name, base + ["induce.weights=log"]))
    res["full"]["rc0"] = counters(wsi(out, full.name, base + ["context.remove_components=0"]))
    res["full"]["rc0_weighted"] = counters(wsi(out, full.name, base + [
        "context.remove_components=0", "induce.weights=log"]))
    vectors = out / f"{tag}-vectors.w2v.txt"
    # the fixed v of the subsets (the run's name is a link into its attempt folder)
    shutil.copyfile(os.path.realpath(full / "embeddings.w2v.txt"), vectors)

    subsets, n_docs = write_subsets(full, out, mode)
    res["documents"] = n_docs
    res["rows"] = {}
    for f in FRACTIONS:
        name = f"{tag}-sub{int(f * 100)}"
        mc = int(round(BASE_MIN_COUNT * f))
        sub = [f"corpus.paths=[{json.dumps(str(subsets[f]))}]", "corpus.format=lines",
               "cooc.window=10", f"vocab.min_count={res['vocab_min_count']}",
               "embed.method=pretrained", f"embed.path={vectors}", "embed.format=word2vec",
               f"induce.min_count={mc}"]
        row = {"min_count": mc}
        for rc in (1, 0):
            m = wsi(out, name, sub + [f"context.remove_components={rc}"])
            c = counters(m)
            r = load_run(out / name)
            trained = [r["words"][i] for i in
                       np.flatnonzero(r["ok"] & (r["counts"] >= mc))]
            row[rc] = {"tokens": m["stages"]["corpus"]["counters"]["tokens"],
                       "documents": m["stages"]["corpus"]["counters"]["documents"],
                       "vocabulary": m["stages"]["vocab"]["counters"]["words"],
                       "with_vector": m["stages"]["embed"]["counters"]["words"],
                       "train_words": c["train_words"], "heldout_words": c["heldout_words"],
                       "cos": c["heldout_mean_cosine"], "bands": c["heldout_by_band"],
                       "overlap": len(set(trained) & set(fit_w + held_w)),
                       "fixed": fit_eval(r, fit_w, held_w)}
        res["rows"][f] = row
    return res


def fmt_bands(bands):
    return " ".join("-" if v is None else f"{v:.3f}" for v in bands.values())


def tables(found):
    """The results as tables for benchmarks/README.md."""
    rows, full_rows = [], []
    for label, res in found.items():
        for rc in (1, 0):
            for f, row in res["rows"].items():
                r = row[rc]
                rows.append([label, rc, f, r["documents"], r["tokens"], row["min_count"],
                             r["train_words"], r["heldout_words"], r["cos"], PAPER[f],
                             r["fixed"][0]])
        fl = res["full"]
        for name, c in (("ours: affine ridge A u + b, unweighted, 1 direction removed",
                         fl["ours"]),
                        ("induce.fit_intercept=false (linear A u)", fl["linear"]),
                        ("induce.weights=log", fl["weighted"]),
                        ("context.remove_components=0", fl["rc0"]),
                        ("context.remove_components=0, induce.weights=log",
                         fl["rc0_weighted"])):
            full_rows.append([label, name, c["heldout_mean_cosine"], c["train_words"]])
        full_rows.append([label, "constant predictor (mean training vector)",
                          fl["constant"], None])
        full_rows.append([label, "affine plain LS, in-sample, all words with u and v",
                          fl["insample_plain_all"][0], fl["insample_plain_all"][1]])
    cols = [("v", ""), ("remove_components", "d"), ("fraction", ".0%"), ("docs", ",d"),
            ("tokens", ",d"), ("induce.min_count", "d"), ("train words", ",d"),
            ("held out", ",d"), ("held-out cos", ".4f"), ("paper", ".2f"),
            ("fixed-set cos", ".4f")]
    notes = ["paper = Arora et al. (2018) Table 1 (GloVe, 250k-1M Wikipedia paragraphs); "
             "held-out cos = the induce stage's heldout_mean_cosine; fixed-set cos = refit on "
             "exactly the 100% run's words with this fraction's u"]
    fcols = [("v", ""), ("configuration (full corpus)", ""), ("held-out cos", ".4f"),
             ("words", ",d")]
    fnotes = [f"the issue's comparison point: {ISSUE_BASELINE} (unweighted windows, plain "
              "least squares over all words)"]
    return {"induce": results.table(cols, rows, notes),
            "induce_full": results.table(fcols, full_rows, fnotes)}


def report(results, args, elapsed, machine):
    out = []
    p = out.append
    p(f"bench_induce: induction map A (v ~ A u) vs corpus fraction; corpus = "
      f"{', '.join(f + '.txt' for f in FILES)} ({args.data})")
    p(f"machine: {machine}; {datetime.datetime.now():%Y-%m-%d %H:%M}")
    p(f"subsets: {args.sample} nested document sample (seed {SEED}) of the full run's tokenised "
      f"corpus; v = the full run's vectors (embed.method=pretrained); cooc.window=10, "
      f"context.sif_a=0.001, induce.holdout=0.1 (seed 0), induce.min_count = "
      f"{BASE_MIN_COUNT} x fraction")
    p("paper (Arora et al. 2018, Table 1, GloVe, 250k-1M Wikipedia paragraphs): "
      + ", ".join(f"{int(f * 100)}% {c:.2f}" for f, c in PAPER.items()))
    for label, res in results.items():
        sim = res["similarity"]
        p("")
        p(f"== v: {label} (embed {res['embed_s']:.0f}s; trained vectors WS-353 "
          f"{sim.get('ws353', float('nan')):.3f}, MEN {sim.get('men', float('nan')):.3f}, "
          f"SimLex {sim.get('simlex999', float('nan')):.3f}; vocab.min_count "
          f"{res['vocab_min_count']})")
        for rc, what in ((1, "context.remove_components=1 (default)"),
                         (0, "context.remove_components=0")):
            p(f"-- {what}, the induce defaults")
            h = (f"{'fraction':>8} {'docs':>7} {'tokens':>9} {'min_count':>9} {'train':>6} "
                 f"{'in 100%':>7} {'held':>5} {'held-out cos':>12} {'paper':>5} "
                 f"{'fixed-set cos':>13}  by band (full-corpus counts 100/200/1000/10000+)")
            p(h)
            p("-" * len(h))
            for f, row in res["rows"].items():
                r = row[rc]
                fx = r["fixed"]
                p(f"{int(f * 100):>7}% {r['documents']:>7,} {r['tokens']:>9,} "
                  f"{row['min_count']:>9} {r['train_words']:>6,} {r['overlap']:>7,} "
                  f"{r['heldout_words']:>5} {r['cos']:>12.4f} {PAPER[f]:>5.2f} {fx[0]:>13.4f}  "
                  f"{fmt_bands(r['bands'])}")
        fl = res["full"]
        ours = fl["ours"]
        p(f"-- full corpus, comparison point (issue: {ISSUE_BASELINE} with unweighted windows "
          f"and a plain least-squares fit over all words)")
        rows = [
            ("ours: affine ridge A u + b, unweighted, 1 dir removed", ours),
            ("induce.fit_intercept=false (linear A u)", fl["linear"]),
            ("induce.weights=log", fl["weighted"]),
            ("context.remove_components=0", fl["rc0"]),
            ("context.remove_components=0, induce.weights=log", fl["rc0_weighted"]),
        ]
        for name, c in rows:
            p(f"  {name:<52} held-out {c['heldout_mean_cosine']:.4f} "
              f"({c['train_words']} words, {c['heldout_words']} held out; bands "
              f"{fmt_bands(c['heldout_by_band'])}) "
              f"{'beats' if c['heldout_mean_cosine'] > ISSUE_BASELINE else 'below'} "
              f"{ISSUE_BASELINE}")
        p("  recomputed here, same split, remove_components=1:")
        a, n = fl["insample_plain_all"]
        for name, value in (
                ("affine fit A u + b (log-count weights), held-out", fl["affine"]),
                # the same fit as the stage's: a check that this refit matches "ours"
                ("constant predictor (mean training vector), held-out", fl["constant"]),
                (f"affine plain LS, in-sample, {ours['train_words']} training words",
                 fl["insample_plain"]),
                (f"affine plain LS, in-sample, all {n} words with u and v", a)):
            p(f"    {name:<56} {value:.4f}")
        for name, g in (ours.get("similarity") or {}).items():
            t, w, new = g["trained"], g["with_induced"], g.get("induced_pairs_only") or {}

            def rho(x):
                return "n/a" if x.get("spearman") is None else f"{x['spearman']:.3f}"
            p(f"  {name}: coverage {t['pairs_used']}/{t['pairs_total']} trained -> "
              f"{w['pairs_used']}/{w['pairs_total']} with induced; Spearman {rho(t)} -> "
              f"{rho(w)} (on the pairs both cover: unchanged, trained vectors kept; on the "
              f"{new.get('pairs_used', 0)} pairs only induced vectors cover: {rho(new)})")
    p("")
    p("fraction = share of the documents; tokens/docs = the subset run's corpus counters; "
      "train = the induce stage's train_words (count >= min_count, with u and v; 10% of them "
      "held out); in 100% = of these, words also in the 100% run's set; held-out cos = "
      "manifest stages.induce.counters.heldout_mean_cosine; bands in the subset's counts "
      "(= full-corpus counts 100-199, 200-999, 1000-9999, 10000+ scaled by the fraction); "
      "fixed-set cos = refit here on exactly the 100% run's training/held-out words with "
      "this fraction's u.")
    p(f"benchmark time {elapsed:.0f}s")
    return "\n".join(out)


# -- issue 17: simulated rarity and the RW dev/test split -------------------------------

RARITY_NS = (1, 2, 4, 8, 16)
QUICK = ["corpus.paths=[../shared/data/corpora/inaugural.txt, "
         "../shared/data/corpora/state_union.txt]", "embed.method=ppmi_svd",
         "embed.vector_size=100", "embed.components=[]"]


def rarity_run(out, quick):
    """A run of the default sense profile (or the quick one) up to the induce stage."""
    cmd = [sys.executable, "-m", "pipeline", "run", "-c", "small_corpus", "-c", "shared",
           "--out", str(out), "--name", "rarity", "--quiet", "--stages", "induce",
           "--set", "run.workers=2"]
    for x in (QUICK if quick else []):
        cmd += ["--set", x]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"wsi run failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return Path(out) / "rarity"


def rarity_data(run):
    """Tokens, vocabulary, vectors and the induce settings of a finished run."""
    import pyarrow as pa

    from pipeline.artifacts.tables import read_vectors, read_vocab
    from tasks.counting import encode_lines
    import yaml
    manifest = json.loads((run / "manifest.json").read_text())
    # The run gives the corpus, vocabulary and vectors; the induce and context settings
    # are always conf/default.yaml's (a run made before them may lack or differ in them).
    cfg = yaml.safe_load((ROOT / "conf" / "default.yaml").read_text())
    vocab, total = read_vocab(str(run / "vocab.parquet"))
    words = vocab["word"].to_pylist()
    emb, vec = read_vectors(str(run / "embeddings.parquet"))
    docs = []
    for p in map(Path, shard_paths(run)):
        docs += [d for d in p.read_text(encoding="utf-8").split("\n") if d]
    from tasks.evaluation import read_pairs
    rw = read_pairs((ROOT.parent / "shared" / "data" / "similarity" /
                     "EN-RW-STANFORD.txt").read_text().splitlines(), lowercase=True)
    extra = sorted({w for a, b, _ in rw for w in (a, b)} - set(words))
    ids, offsets = encode_lines(docs, pa.array(words + extra, pa.string()))
    return {"words": words, "extra": extra, "counts": vocab["count"].to_numpy(),
            "total": total, "emb_ids": emb["id"].to_numpy(), "vec": vec, "ids": ids,
            "offsets": offsets, "cfg": cfg, "rw": rw,
            "embed_counters": manifest["stages"]["embed"]["counters"]}


def rarity_eval(d, n_held):
    """Every figure of the rarity protocol and the RW split for one run (see the docstring)."""
    from tasks.context import gram_components, remove_components, sif_weighted_vectors
    from tasks.cooc import cooc_partial
    from tasks.evaluation import similarity_scores, split_pairs
    from tasks.induce import (apply_map, count_weights, fit_induction_map, pool_contexts,
                              rescale_blocks, row_cosines, span_context_sums)
    ic, n_words = d["cfg"]["induce"], len(d["words"])
    window = ic["window"]
    weighted, has_v = sif_weighted_vectors(d["vec"], d["emb_ids"], d["counts"], d["total"],
                                           a=d["cfg"]["context"]["sif_a"])
    v = np.zeros((n_words, d["vec"].shape[1]))
    v[d["emb_ids"]] = d["vec"]
    c = cooc_partial(d["ids"], d["offsets"], n_words=n_words + len(d["extra"]),
                     window=window)[0][:, :n_words].astype(np.float64)
    denom = c @ has_v.astype(np.float64)
    u = np.asarray(c @ weighted)
    np.divide(u, denom[:, None], out=u, where=denom[:, None] > 0)
    vocab_u = np.flatnonzero(denom[:n_words] > 0)
    common = gram_components(u[vocab_u].T @ u[vocab_u], d["cfg"]["context"]["remove_components"])
    from pipeline.stages.induce import component_blocks
    blocks = component_blocks(d["embed_counters"], d["vec"]) if ic["rescale"] else None
    counts = d["counts"]
    held = np.sort(np.random.default_rng(0).choice(
        np.flatnonzero(has_v & (counts >= 100)), n_held, replace=False))
    train = np.flatnonzero(has_v & (denom[:n_words] > 0) & (counts >= ic["min_count"]))

    def fit(rows):
        w = count_weights(counts[rows], ic["weights"])
        out = fit_induction_map(remove_components(u[rows], common), v[rows], w,
                                removed=len(common), intercept=ic["fit_intercept"],
                                ridge=ic["ridge"])
        return out if ic["fit_intercept"] else (out, np.zeros(v.shape[1]))

    def induce(a, b, x):
        out = apply_map(a, remove_components(x, common), b)
        return out if blocks is None else rescale_blocks(out, blocks)
    a, b = fit(np.setdiff1d(train, held))
    truth = v[held]
    res = {"held_words": int(len(held)), "train_words": int(len(np.setdiff1d(train, held))),
           "constant": float(row_cosines(np.tile(v[np.setdiff1d(train, held)].mean(axis=0),
                                                 (len(held), 1)), truth).mean()),
           "full_contexts": float(row_cosines(induce(a, b, u[held]), truth).mean())}
    # 16 occurrences of each held word, nested prefixes of n
    ids = np.asarray(d["ids"], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    first = np.searchsorted(ids[order], held)
    last = np.searchsorted(ids[order], held, side="right")
    rng = np.random.default_rng(1)
    pos = np.concatenate([rng.choice(order[f:e], 16, replace=False)
                          for f, e in zip(first, last)])
    group = np.repeat(np.arange(len(held)), 16)
    rank = np.tile(np.arange(16), len(held))
    sif, n = span_context_sums(ids, d["offsets"], pos, pos + 1, weighted, has_v, window=window)
    add, _ = span_context_sums(ids, d["offsets"], pos, pos + 1, v, has_v, window=window)
    for k in RARITY_NS:
        m = rank < k
        us, _ = pool_contexts(sif[m], n[m], group[m], n_groups=len(held))
        ua, _ = pool_contexts(add[m], n[m], group[m], n_groups=len(held))
        res[f"n{k}"] = {"map": float(row_cosines(induce(a, b, us), truth).mean()),
                        "sif": float(row_cosines(us, truth).mean()),
                        "sif_common_removed": float(row_cosines(
                            remove_components(us, common), truth).mean()),
                        "additive": float(row_cosines(ua, truth).mean())}
    # RW: the map on every training word; induced vectors from all corpus contexts
    a, b = fit(train)
    index = {w: i for i, w in enumerate(d["words"]) if has_v[i]}
    rest = [k for k in range(len(d["extra"])) if denom[n_words + k] > 0]
    induced = induce(a, b, u[[n_words + k for k in rest]]) if rest else np.zeros((0, v.shape[1]))
    both = np.vstack([v, induced])
    both_index = dict(index, **{d["extra"][k]: n_words + j for j, k in enumerate(rest)})
    for half, pairs in zip(("dev", "test"), split_pairs(d["rw"])):
        new = [p for p in pairs if not (p[0] in index and p[1] in index)]
        res[f"rw_{half}"] = {"pairs": len(pairs),
                             "trained": similarity_scores(pairs, v, index),
                             "induced_only": similarity_scores(new, both, both_index),
                             "all": similarity_scores(pairs, both, both_index)}
    return res


def rarity_report(res, label):
    out = [f"== simulated rarity ({label}): {res['held_words']} held-out words (count >= 100), "
           f"map fitted on {res['train_words']} words; mean cosine with the trained vector",
           f"{'n':>3} {'map':>7} {'SIF avg':>8} {'SIF ũ':>7} {'additive':>9}"]
    for k in RARITY_NS:
        r = res[f"n{k}"]
        out.append(f"{k:>3} {r['map']:>7.3f} {r['sif']:>8.3f} {r['sif_common_removed']:>7.3f} "
                   f"{r['additive']:>9.3f}")
    out.append(f"all contexts: map {res['full_contexts']:.3f}; constant predictor "
               f"{res['constant']:.3f}")
    for half in ("dev", "test"):
        r = res[f"rw_{half}"]

        def f(x):
            rho = "n/a" if x["spearman"] is None else f"{x['spearman']:.3f}"
            return f"rho {rho} on {x['pairs_used']}"
        out.append(f"RW {half} ({r['pairs']} pairs): trained {f(r['trained'])}; needing an "
                   f"induced vector {f(r['induced_only'])}; all {f(r['all'])}")
    return "\n".join(out)


def main_rarity(args):
    t0 = time.time()
    if args.run:
        run, tmp = Path(args.run), None
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench-induce-rarity-", dir=args.out))
        log("[rarity] training the run" + (" (quick profile)" if args.quick else ""))
        run = rarity_run(tmp, args.quick)
    try:
        res = rarity_eval(rarity_data(run), 100 if args.quick else 400)
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    label = f"run {args.run}" if args.run else ("quick profile: NOT for figures" if args.quick
                                                else "-c small_corpus -c shared")
    print(rarity_report(res, label))
    print(f"benchmark time {time.time() - t0:.0f}s")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", choices=("all", "rarity", "size"), default="all")
    ap.add_argument("--run", help="rarity protocol on this finished run (read only)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "corpora"))
    ap.add_argument("--out", help="parent of the temporary run directories")
    ap.add_argument("--sample", choices=("random", "first"), default="random")
    ap.add_argument("--embeddings", help="comma-separated names of " + ", ".join(EMBEDDINGS))
    ap.add_argument("--json", help="write raw results here")
    ap.add_argument("--keep", action="store_true", help="keep the run directories")
    results.add_arguments(ap, quick_help="two small files, first embedding only: checks the "
                                         "script end to end")
    args = ap.parse_args(argv)
    rec = results.Recorder(__file__, args, EXTRA_HASHED)
    rarity = main_rarity(args) if args.protocol in ("all", "rarity") else None
    if rarity is not None:  # raw figures; the protocol's table is printed above
        results.write_result("induce_rarity", rarity, script=__file__,
                             extra_paths=EXTRA_HASHED, quick=args.quick,
                             started=rec.started, hash_at_start=rec.hash,
                             out_dir=args.results)
    if args.protocol == "rarity":
        return 0
    files = [Path(args.data) / f"{n}.txt" for n in (QUICK_FILES if args.quick else FILES)]
    missing = [f for f in files if not f.exists()]
    if missing:
        print(f"bench_induce: skipped: shared corpus absent ({missing[0]})")
        return 0
    names = [n.strip() for n in args.embeddings.split(",")] if args.embeddings \
        else list(EMBEDDINGS)[:1 if args.quick else None]
    import os
    import platform
    machine = f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}"
    t0 = time.time()
    found = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-induce-", dir=args.out))
    try:
        for name in names:
            found[name] = bench_embedding(tmp, name, EMBEDDINGS[name], files, args.sample)
    finally:
        if args.keep:
            log(f"run directories kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(report(found, args, time.time() - t0, machine))
    rec.write("induce", found, tables(found))
    if args.json:
        Path(args.json).write_text(json.dumps({"rarity": rarity, "size": found}, indent=2,
                                              default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
