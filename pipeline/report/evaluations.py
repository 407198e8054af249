"""The sense evaluations' saved results (``evaluations/*.json``) as compact tables.

One renderer per evaluation (shapes: :mod:`pipeline.evaluations`); a result of any
other shape (an older file, a hand-edited one) falls back to the generic escaped
rendering rather than failing the report.
"""
from __future__ import annotations

from .html import Raw, esc, generic, summarize, table

__all__ = ["EVALUATIONS", "evaluation_html", "SEMEVAL_COLS", "LINEUP_COLS", "PLANTED_COLS"]

EVALUATIONS = {"semeval2013": "SemEval-2013 Task 13 (test set)",
               "lineup": "Police lineup (test set)",
               "senseval2": "senseval2_ls (development set)",
               "planted": "Planted senses (wsi synth)"}
SEMEVAL_COLS = [("lemmas", "lemmas"), ("instances", "instances"), ("coverage", "coverage %"),
                ("fbc_precision", "FBC-P %"), ("fbc_recall", "FBC-R %"), ("fbc_f", "FBC-F %"),
                ("fnmi", "FNMI %"), ("mean", "mean %")]
LINEUP_COLS = [("precision", "precision"), ("recall", "recall"),
               ("micro_precision", "micro precision"), ("micro_recall", "micro recall")]
SENSEVAL_METRICS = [("v_measure", "V-measure"), ("ari", "ARI"), ("paired_f", "paired F")]
PLANTED_COLS = [("mean", "mean"), ("median", "median"), ("above_0.5", "share > 0.5"),
                ("above_0.7", "share > 0.7")]
_COUNTS = {"lemmas", "instances", "components", "rank"}


def _num(v, digits=3, scale=1.0):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None if v is None else str(v)
    return f"{scale * v:.{digits}f}"


def _note(text):
    return f'<p class="note">{esc(text)}</p>'


def _semeval(r):
    settings = ({"graded" if r.get("graded") else "crisp": r} if "overall" in r
                else {k: v for k, v in r.items() if isinstance(v, dict) and "overall" in v})
    if not settings:
        raise KeyError("overall")
    rows, notes, reference = [], [], {}
    for name, res in settings.items():
        sets = {"all": res["overall"], **(res.get("by_pos") or {})}
        for part, s in sets.items():
            rows.append([str(name), str(part), *[
                str(s.get(k)) if k in _COUNTS else _num(s.get(k), 1, 100.0)
                for k, _ in SEMEVAL_COLS]])
        reference.update(res.get("reference") or {})
        bits = [f"method {res.get('method')}", f"gold {res.get('gold')}.key"]
        if isinstance(res.get("labels_per_lemma"), (int, float)):
            bits.append(f"{res['labels_per_lemma']:.1f} labels per lemma")
        if isinstance(res.get("labelled"), dict):
            bits.append("instances labelled " + summarize(res["labelled"], depth=-9, limit=99))
        notes.append(f"{name}: " + ", ".join(bits))
    for name, ref in reference.items():
        if isinstance(ref, dict):
            rows.append([f"reference: {name}", str(ref.get("source") or ""), None, None, None,
                         None, None, *[_num(ref.get(k), 1, 100.0)
                                       for k in ("fbc_f", "fnmi", "mean")]])
    return (table(["setting", "set", *[h for _, h in SEMEVAL_COLS]], rows, id="semeval-table",
                  numeric=range(2, 2 + len(SEMEVAL_COLS)))
            + "".join(_note(n) for n in notes)
            + _note("mean = √(FBC-F × FNMI); percentages of the fractions in "
                    "evaluations/semeval2013.json"))


def _lineup(r):
    paper = (r.get("paper") or {}).get("method") or {}
    rows = [["atoms (the paper's rule)", *[_num(r[k]) for k, _ in LINEUP_COLS]],
            ["baseline: cos(v_w, mean)", *[_num(r["baseline"].get(k)) for k, _ in LINEUP_COLS]]]
    if paper:
        rows.append(["paper: atoms (Arora et al. 2018)",
                     *[_num(paper.get(k)) for k, _ in LINEUP_COLS]])
    bits = [f"{r.get('n_words')} words", f"m = {r.get('m')} candidates",
            f"top k = {r.get('k')}", f"seed {r.get('seed')}"]
    if isinstance(r.get("mean_true_senses"), (int, float)):
        bits.append(f"{r['mean_true_senses']:.2f} true senses a word")
    return (table(["method", *[h for _, h in LINEUP_COLS]], rows, id="lineup-table",
                  numeric=range(1, len(LINEUP_COLS) + 1)) + _note(", ".join(bits)))


def _senseval2(r):
    mean, words = r["mean"], r.get("words") or {}
    methods = [(f"system ({r.get('method')})", mean["system"],
                {w: v["system"] for w, v in words.items()})]
    methods += [(f"k-means {k}", v, {w: x["baseline"][k] for w, x in words.items()})
                for k, v in mean["baseline"].items()]
    head = ["method", *[f"{h} (mean)" for _, h in SENSEVAL_METRICS],
            *[f"V-measure {w}" for w in words]]
    rows = [[name, *[_num(m.get(k)) for k, _ in SENSEVAL_METRICS],
             *[_num(per[w].get("v_measure")) for w in words]] for name, m, per in methods]
    base = r.get("baseline") or {}
    notes = [f"{len(words)} words; k-means baseline on the run's ±{base.get('window')} "
             "word context vectors of the same instances"]
    pairs, small = r.get("pairs") or {}, r.get("small") or {}
    if isinstance(pairs.get("mean"), dict):
        # "batches" since this variant's batches were counted alike; "pairs" before
        n = sum(x.get("batches", x.get("pairs", 0)) for x in (pairs.get("words") or {}).values())
        m = pairs["mean"]
        notes.append(f"two-sense subsets ({n} pairs of senses, at most {pairs.get('cap')} "
                     f"instances of each): V-measure {_num(m['system'].get('v_measure'))}, "
                     f"k-means k=2 {_num(m['baseline']['k=2'].get('v_measure'))}")
    if isinstance(small.get("mean"), dict):
        m = small["mean"]
        best = max(m["baseline"].items(), key=lambda kv: kv[1].get("v_measure") or 0)
        notes.append(f"small batches ({small.get('draws')} random batches of "
                     f"{small.get('size')} instances a word): V-measure "
                     f"{_num(m['system'].get('v_measure'))}, best k-means ({best[0]}) "
                     f"{_num(best[1].get('v_measure'))}")
    return (table(head, rows, id="senseval2-table", numeric=range(1, len(head)))
            + "".join(_note(n) for n in notes))


def _planted(r):
    rows = [["learned atoms", *[_num(r["best_abs_cos"].get(k)) for k, _ in PLANTED_COLS]]]
    if isinstance(r.get("random_atoms"), dict):
        rows.append(["random atoms", *[_num(r["random_atoms"].get(k)) for k, _ in PLANTED_COLS]])
    parts = [table(["best |cos| of a planted sense", *[h for _, h in PLANTED_COLS]], rows,
                   id="planted-table", numeric=range(1, len(PLANTED_COLS) + 1))]
    by_rank = r.get("by_rank")
    if isinstance(by_rank, list) and by_rank:
        parts.append(table(["rank", "components", *[h for _, h in PLANTED_COLS]],
                           [[str(x.get("rank")), str(x.get("components")),
                             *[_num(x.get(k)) for k, _ in PLANTED_COLS]] for x in by_rank],
                           id="planted-by-rank", numeric=range(len(PLANTED_COLS) + 2)))
    bits = [f"{k.replace('_', ' ')} {summarize(r[k])}" for k in
            ("pseudo_words", "coded", "components", "atoms_per_word") if k in r]
    for k in ("map", "topics"):
        if isinstance(r.get(k), dict):
            bits.append(f"{k} {summarize(r[k], depth=-9, limit=99)}")
    return "".join(parts) + _note("; ".join(bits))


_RENDER = {"semeval2013": _semeval, "lineup": _lineup, "senseval2": _senseval2,
           "planted": _planted}


def evaluation_html(name, result):
    """HTML for evaluation ``name``'s saved ``result``."""
    render = _RENDER.get(name)
    if render is not None and isinstance(result, dict):
        try:
            return Raw(render(result))
        except (KeyError, TypeError, AttributeError, ValueError):
            pass  # not the shape this version writes: show it as it is
    return generic(result)
