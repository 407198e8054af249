"""Sense evaluations: SemEval-2013 Task 13, the police lineup and planted senses.

Usage::

    .venv/bin/python benchmarks/bench_senses.py [dev] [semeval] [lineup] [planted]
        [--run DIR] [--text-run DIR] [--out DIR] [--quick] [--results DIR]

Every figure comes from the project's own commands, run as subprocesses on finished run
directories (their scores are read back from the run's ``evaluations/NAME.json``):

- ``dev``: ``wsi evaluate senseval2 --run RUN`` with ``senses.seed`` 0, 1, 2 (and once
  with merging off, ``senses.merge=1``): the senseval2_ls DEVELOPMENT set, whole and as
  two-sense subsets, with the k-means baselines on the same vectors; the data that chose
  the sense defaults, reported here against issue 13's development targets.
- ``semeval``: ``wsi evaluate semeval2013 --run RUN`` in several settings (graded or
  crisp labels, the lemma's or the marked form's senses, a word's 1/2/3/all strongest
  atoms) on ``--run`` (default: made now with ``wsi run -c conf/small_corpus.yaml -c
  shared``), and the default setting on ``--text-run`` (default: the same with ``-c
  semeval_text``, the task's own contexts added as unlabelled text). SemEval-2013 is a
  TEST set: these settings are reported, never chosen on it here.
- ``lineup``: ``wsi evaluate lineup --run RUN`` (200 words, m = 20, k = 4, seed 0).
- ``planted``: ``wsi synth`` (5M tokens, 10,000 words, 100 dimensions, 100 polysemous
  pseudo-words, seed 0), a ``wsi run`` to the senses stage with word2vec 100d and 500
  atoms, then ``wsi evaluate planted``. Planted senses are development data.

With no sub-benchmark named, all four run. Results go to
``benchmarks/results/senses_<name>.json``. ``--quick`` makes small runs instead (two
shared files with the default configuration and 300 atoms; a 0.5M-token synth corpus),
which checks the script end to end; those figures are not the published ones.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import results  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
QUICK_FILES = ("inaugural", "state_union")
EXTRA_HASHED = ("benchmarks/results.py",)
# (method, labels, senses from, max senses) -> wsi evaluate semeval2013 flags; None = the
# run's default (senses.method, senses.assign_max); the first is the default setting
SEMEVAL_SETTINGS = [
    (None, "graded", "lemma", None), (None, "crisp", "lemma", None),
    ("atoms", "graded", "lemma", None),
    ("atoms", "graded", "lemma", 0), ("atoms", "graded", "marked form", None),
    ("atoms", "crisp", "marked form", 0),
]
PLANTED = {"tokens": "5e6", "vocab": "10000", "dim": "100", "polysemous": "100", "seed": "0"}
PLANTED_QUICK = {"tokens": "5e5", "vocab": "3000", "dim": "50", "polysemous": "30", "seed": "0"}


def log(msg, _t0=time.monotonic()):
    print(f"[{time.monotonic() - _t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def wsi(*args, label=None):
    """Run ``python -m pipeline ARGS`` in the project root; (stdout, seconds)."""
    cmd = [sys.executable, "-m", "pipeline", *map(str, args)]
    with results.OtherLoad(label=label or " ".join(map(str, args[:2])), record=False):
        t = time.monotonic()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        seconds = time.monotonic() - t
    if r.returncode:
        raise SystemExit(f"bench_senses: `wsi {' '.join(map(str, args))}` failed "
                         f"({r.returncode}): {r.stderr.strip()[-600:]}")
    return r.stdout, seconds


def evaluation(run, name):
    """The scores ``wsi evaluate NAME`` wrote to the run's ``evaluations/NAME.json``."""
    return json.loads((Path(run) / "evaluations" / f"{name}.json").read_text())


def make_run(out, name, confs, sets=()):
    args = ["run", "--out", out, "--name", name, "--quiet"]
    for c in confs:
        args += ["-c", c]
    for s in sets:
        args += ["--set", s]
    log(f"making run {name}: wsi {' '.join(args[5:])} ...")
    _, seconds = wsi(*args, label=f"run {name}")
    log(f"run {name} done in {seconds:.0f}s")
    return Path(out) / name, seconds


def quick_sets():
    paths = json.dumps([str(DATA / "corpora" / f"{f}.txt") for f in QUICK_FILES])
    return [f"corpus.paths={paths}", "atoms.n_atoms=300", "atoms.iterations=5"]


def setting_flags(method, labels, source, max_senses):
    flags = ["--graded" if labels == "graded" else "--no-graded",
             "--use-lemma" if source == "lemma" else "--no-use-lemma"]
    if method is not None:
        flags += ["--method", method]
    if max_senses is not None:
        flags += ["--max-senses", max_senses]
    return flags


def semeval(runs, quick):
    data = DATA / "wsi" / "semeval2013_task13"
    if not data.is_dir():
        return None, f"SemEval-2013 data not found ({data})"
    rows, raw = [], []
    for run_label, run in runs:
        settings = SEMEVAL_SETTINGS if run_label == "shared" else SEMEVAL_SETTINGS[:1]
        for method, labels, source, k in settings:
            wsi("evaluate", "semeval2013", "--run", run,
                *setting_flags(method, labels, source, k),
                label=f"semeval {method} {labels} {source} {k}")
            r = evaluation(run, "semeval2013")[labels]
            o = r["overall"]
            senses = "run default" if k is None else ("all" if k == 0 else str(k))
            used = r.get("method", "atoms")
            rows.append([run_label, used + (" (default)" if method is None else ""), labels,
                         source if used == "atoms" else "lemma batch", senses
                         if used == "atoms" else "-", 100 * o["fbc_f"], 100 * o["fnmi"],
                         100 * o["mean"], o["instances"]])
            raw.append({"run": run_label, "method": used, "labels": labels, "source": source,
                        "max_senses": k, "result": r})
            log(f"semeval {run_label} {used} {labels} {source} {senses}: FBC "
                f"{100 * o['fbc_f']:.1f} FNMI {100 * o['fnmi']:.1f}")
    ref = raw[0]["result"]["reference"]
    notes = ["FBC = Fuzzy B-Cubed F, FNMI = Fuzzy NMI, mean = their geometric mean (x100, the "
             "task's measures); method cluster: each lemma's instances clustered together "
             "(the default, senses.method); atoms: "
             "the atoms rule over a word's strongest atoms (`--max-senses`; run default = "
             "senses.assign_max)"]
    for key, r in ref.items():
        notes.append(f"reference {key}: FBC {100 * r['fbc_f']:.1f}, FNMI {100 * r['fnmi']:.1f}, "
                     f"mean {100 * r['mean']:.1f} ({r.get('source', '')})")
    default = raw[0]
    for pos, s in default["result"]["by_pos"].items():
        notes.append(f"by part of speech, {default['run']}, default setting: {pos} FBC "
                     f"{100 * s['fbc_f']:.1f} / FNMI {100 * s['fnmi']:.1f} / mean "
                     f"{100 * s['mean']:.1f}")
    notes.append("SemEval-2013 is a test set: reported, not tuned on")
    notes += inventory_notes(runs)
    cols = [("run", ""), ("method", ""), ("labels", ""), ("senses from", ""), ("atoms", ""),
            ("FBC", ".1f"), ("FNMI", ".1f"), ("mean", ".1f"), ("instances", ",d")]
    return {"figures": raw, "tables": {"senses_semeval": results.table(cols, rows, notes)}}, None


def inventory_notes(runs):
    """The inventory stage's seconds in each run's manifest (target: <= 60 s on 2 cores)."""
    out = []
    for label, run in runs:
        m = json.loads((Path(run) / "manifest.json").read_text())
        st = m.get("stages", {}).get("inventory")
        if not st or st.get("seconds") is None:
            continue
        r = m["config"]["run"]
        made = Path(run).parent.name.startswith("bench-senses-")
        out.append(f"inventory stage of run '{label}': {st['seconds']:.1f} s "
                   f"(scheduler {r['scheduler']}, workers {r['workers'] or 'all'} of "
                   f"{os.cpu_count()} cores; "
                   + ("made by this script, in this run" if made else
                      f"as recorded when {run} was made, {st.get('ended', '?')}")
                   + "; target <= 60 s on 2 cores)")
    return out


DEV_SEEDS = (0, 1, 2)


def _dev_figures(r):
    """(V, k-means k=6 V, best k-means V, its k, two-sense V, two-sense k-means k=2 V,
    small-batch V, small-batch best k-means V) of one ``wsi evaluate senseval2`` result;
    a variant's figures None when it has none."""
    m, p, s = r["mean"], r["pairs"]["mean"] or {}, (r.get("small") or {}).get("mean") or {}
    best = max(m["baseline"], key=lambda k: m["baseline"][k]["v_measure"])
    return (m["system"]["v_measure"], m["baseline"]["k=6"]["v_measure"],
            m["baseline"][best]["v_measure"], best, (p.get("system") or {}).get("v_measure"),
            ((p.get("baseline") or {}).get("k=2") or {}).get("v_measure"),
            (s.get("system") or {}).get("v_measure"),
            max((b["v_measure"] for b in (s.get("baseline") or {}).values()), default=None))


def dev(runs, quick):
    data = DATA / "wsi" / "senseval2_ls"
    if not data.is_dir():
        return None, f"senseval2_ls not found ({data})"
    run_label, run = runs[0]
    settings = [(f"default, senses.seed={s}", [f"senses.seed={s}"])
                for s in (DEV_SEEDS[:1] if quick else DEV_SEEDS)]
    settings.append(("merging off (senses.merge=1), seed 0", ["senses.merge=1"]))
    settings.append(("every batch in fit_dims directions (senses.fit_rows_per_dim=0), seed 0",
                     ["senses.fit_rows_per_dim=0"]))
    rows, raw = [], []
    for label, sets in settings:
        flags = [x for kv in sets for x in ("--set", kv)]
        wsi("evaluate", "senseval2", "--run", run, *flags, label="senseval2")
        r = evaluation(run, "senseval2")
        raw.append({"setting": label, "sets": sets, "result": r})
        v, k6, best_v, best, pair_v, pair_k2, small_v, small_k = _dev_figures(r)
        rows.append([label, v, k6, f"{best_v:.3f} ({best})", pair_v, pair_k2, small_v,
                     small_k])
        log(f"dev {label}: V {v:.3f}")
    figures = [_dev_figures(x["result"]) for x in raw if x["setting"].startswith("default")]

    def mean(i):  # of column i over the seeds (None when a seed has no value)
        values = [f[i] for f in figures]
        return None if None in values else sum(values) / len(values)
    full, base = mean(0), mean(2)
    rows.append([f"default, mean of {len(figures)} seeds", full, mean(1), f"{base:.3f}",
                 mean(4), mean(5), mean(6), mean(7)])
    first = raw[0]["result"]
    n_pairs = sum(w["batches"] for w in first["pairs"]["words"].values())
    small = first["small"]
    notes = [f"senseval2_ls (development data): {len(first['words'])} words "
             f"({', '.join(first['words'])}), mean V-measure over them; run: {run_label}; "
             f"method {first['method']}",
             f"two-sense subsets: {n_pairs} pairs of a word's senses with >= "
             f"{first['pairs']['min']} instances each, at most {first['pairs']['cap']} of each",
             f"small batches: {small['draws']} random batches of {small['size']} instances "
             "of each word (SemEval-2013 has about 100 a lemma), each labelled alone; "
             "k-means best = the best k of the baselines on the same batches",
             f"k-means baselines: the run's ±{first['baseline']['window']} SIF context vectors "
             f"of the same instances, k in {first['baseline']['k']} (best: the best k of that "
             "seed)",
             f"issue 13 targets: mean V >= 0.30 ({'met' if full >= 0.30 else 'missed'}: "
             f"{full:.3f}) and >= the k-means baseline + 0.05 "
             f"({'met' if full >= base + 0.05 else 'missed'}: {full - base:+.3f} over the best k)"]
    cols = [("setting", ""), ("V-measure", ".3f"), ("k-means k=6", ".3f"),
            ("k-means best k", ""), ("two-sense V", ".3f"), ("two-sense k-means k=2", ".3f"),
            ("small-batch V", ".3f"), ("small-batch k-means best", ".3f")]
    return {"figures": raw, "tables": {"senses_dev": results.table(cols, rows, notes)}}, None


def lineup(runs, quick):
    wordnet = DATA / "wordnet"
    if not wordnet.is_dir():
        return None, f"WordNet not found ({wordnet})"
    rows, raw = [], []
    for run_label, run in runs[:1]:
        wsi("evaluate", "lineup", "--run", run, *(["--words", 50] if quick else []),
            label="lineup")
        r = evaluation(run, "lineup")
        raw.append({"run": run_label, "result": r})
        rows.append([run_label, "atoms (paper's rule)", r["precision"], r["recall"],
                     r["n_words"]])
        rows.append([run_label, "baseline: cos with the sense's mean vector",
                     r["baseline"]["precision"], r["baseline"]["recall"], r["n_words"]])
        p = r["paper"]["method"]
        rows.append(["paper (Arora et al. 2018)", "atoms", p["precision"], p["recall"], None])
        log(f"lineup {run_label}: {r['precision']:.3f} / {r['recall']:.3f}")
    cols = [("run", ""), ("method", ""), ("precision", ".3f"), ("recall", ".3f"),
            ("words", "d")]
    notes = [f"m = {raw[0]['result']['m']} candidates, top k = {raw[0]['result']['k']}, seed "
             f"{raw[0]['result']['seed']}; {raw[0]['result']['mean_true_senses']:.2f} true "
             "senses a word; the test set's senses come from WordNet (a test set: reported, "
             "not tuned on)"]
    return {"figures": raw, "tables": {"senses_lineup": results.table(cols, rows, notes)}}, None


def planted(out, quick):
    params = PLANTED_QUICK if quick else PLANTED
    syn = Path(out) / "synth"
    args = ["synth", "--out", syn, "--quiet"]
    for k, v in params.items():
        args += [f"--{k}", v]
    log(f"wsi {' '.join(map(str, args[1:]))} ...")
    _, synth_s = wsi(*args, label="synth")
    n_atoms = 150 if quick else 500
    run, run_s = make_run(out, "planted", [], [
        f"corpus.paths={json.dumps([str(syn / 'corpus.txt')])}", "embed.method=word2vec",
        f"embed.vector_size={params['dim']}", f"atoms.n_atoms={n_atoms}", "run.report=false"])
    wsi("evaluate", "planted", "--run", run, "--truth", syn, label="planted")
    m = evaluation(run, "planted")
    b, r = m["best_abs_cos"], m["random_atoms"]
    rows = [["best |cos|, the pseudo-word's atoms", b["mean"], b["median"], b["above_0.5"],
             b["above_0.7"]],
            ["random atoms (same number)", r["mean"], r["median"], r["above_0.5"],
             r["above_0.7"]]]
    for x in m["by_rank"]:
        rows.append([f"component rank {x['rank']}", x["mean"], x["median"], x["above_0.5"],
                     x["above_0.7"]])
    notes = [f"wsi synth {' '.join(f'--{k} {v}' for k, v in params.items())}; wsi run with "
             f"word2vec {params['dim']}d, atoms.n_atoms={n_atoms}; synth {synth_s:.0f}s, run "
             f"{run_s:.0f}s",
             f"true -> run space map: held-out mean cos {m['map']['heldout_mean_cos']:.3f} "
             f"({m['map']['words']:,} words)",
             f"{m['pseudo_words']} pseudo-words, {m['components']} components, "
             f"{m['atoms_per_word']:.2f} atoms a word"]
    if "topics" in m:
        notes.append(f"planted topics: best |cos| with the dictionary, mean "
                     f"{m['topics']['mean']:.3f} ({m['topics']['planted']} topics)")
    cols = [("each true component vs", ""), ("mean", ".3f"), ("median", ".3f"),
            ("> 0.5", ".0%"), ("> 0.7", ".0%")]
    return {"figures": {"params": params, "n_atoms": n_atoms, "planted": m},
            "tables": {"senses_planted": results.table(cols, rows, notes)}}, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", nargs="*", choices=("dev", "semeval", "lineup", "planted", []),
                    help="sub-benchmarks (default: all)")
    ap.add_argument("--run", type=Path, help="finished run directory for semeval and lineup "
                    "(default: made now with -c conf/small_corpus.yaml -c shared)")
    ap.add_argument("--text-run", type=Path, help="finished run with the SemEval texts "
                    "added (default: made now with ... -c semeval_text)")
    ap.add_argument("--out", type=Path, default=None,
                    help="parent of the runs made here (default: a temporary directory)")
    results.add_arguments(ap, quick_help="small runs (two shared files, 300 atoms; 0.5M-token "
                                         "synth corpus): checks the script end to end")
    args = ap.parse_args(argv)
    which = args.which or ["dev", "semeval", "lineup", "planted"]
    for r in (args.run, args.text_run):
        if r is not None and not (r / "manifest.json").is_file():
            ap.error(f"{r}: not a run directory (no manifest.json)")
    if not (DATA / "corpora").is_dir():
        print(f"bench_senses: skipped: shared data not found ({DATA / 'corpora'})")
        return 0
    rec = results.Recorder(__file__, args, EXTRA_HASHED)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-senses-", dir=args.out) as out:
        runs, made = [], {}
        if {"dev", "semeval", "lineup"} & set(which):
            run = args.run
            if run is None:
                confs = ([] if args.quick else ["conf/small_corpus.yaml"]) + ["shared"]
                run, made["shared"] = make_run(out, "shared", confs,
                                               quick_sets() if args.quick else ())
            runs.append(("shared", run))
            if "semeval" in which:
                trun = args.text_run
                if trun is None and not args.quick:
                    trun, made["shared + semeval_text"] = make_run(
                        out, "shared-semeval", ["conf/small_corpus.yaml", "shared",
                                                "semeval_text"])
                if trun is not None:
                    runs.append(("shared + semeval_text", trun))
        for name in which:
            log(f"== {name}")
            if name == "planted":
                res, skip = planted(out, args.quick)
            else:
                res, skip = globals()[name](runs, args.quick)
            if skip:
                print(f"bench_senses {name}: skipped: {skip}")
                continue
            res["figures"] = {"results": res["figures"], "runs": [[k, str(v)] for k, v in runs],
                              "run_seconds": made}
            for t in res["tables"].values():
                print(f"\n{name}:")
                print("  ".join(c[0] for c in t["columns"]))
                for row in t["rows"]:
                    print("  ".join("-" if v is None else format(v, c[1]) if c[1] else str(v)
                                    for v, c in zip(row, t["columns"])))
                for n in t["notes"]:
                    print(n)
            rec.write(f"senses_{name}", res["figures"], res["tables"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
