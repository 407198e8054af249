"""Arora et al. (2018) Table 1 on the shared corpus: the induction map v_w ~ A u_w vs corpus size.

Usage: .venv/bin/python benchmarks/bench_induce.py [--data DIR] [--out DIR] [--sample random|first]
                                                   [--embeddings NAME,...] [--json FILE] [--keep]

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
           "--quiet", "--stages", "induce"]
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
    res["full"]["unweighted"] = counters(wsi(out, full.name,
                                             base + ["induce.log_count_weights=false"]))
    res["full"]["rc0"] = counters(wsi(out, full.name, base + ["context.remove_components=0"]))
    res["full"]["rc0_unweighted"] = counters(wsi(out, full.name, base + [
        "context.remove_components=0", "induce.log_count_weights=false"]))
    vectors = out / f"{tag}-vectors.w2v.txt"
    shutil.move(str(full / "embeddings.w2v.txt"), vectors)  # the fixed v of the subsets

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
        for name, c in (("ours: affine A u + b, log-count weights, 1 direction removed",
                         fl["ours"]),
                        ("induce.fit_intercept=false (linear A u)", fl["linear"]),
                        ("induce.log_count_weights=false (plain LS)", fl["unweighted"]),
                        ("context.remove_components=0", fl["rc0"]),
                        ("context.remove_components=0, plain LS", fl["rc0_unweighted"])):
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
            p(f"-- {what}, induce.log_count_weights=true")
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
            ("ours: affine A u + b, log-count weighted, 1 dir removed", ours),
            ("induce.fit_intercept=false (linear A u)", fl["linear"]),
            ("induce.log_count_weights=false (plain LS)", fl["unweighted"]),
            ("context.remove_components=0, log-count weights", fl["rc0"]),
            ("context.remove_components=0, plain LS", fl["rc0_unweighted"]),
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        Path(args.json).write_text(json.dumps(found, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
