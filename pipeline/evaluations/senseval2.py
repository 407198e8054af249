"""The senseval2_ls development set: sense labels of a run against gold senses
(``wsi evaluate senseval2 --run RUN_DIR [--data DIR]``).

The data are NLTK's Senseval-2 lexical-sample files ``hard.pos``,
``interest.pos``, ``line.pos`` and ``serve.pos`` (well-formed XML: ``lexelt`` →
``instance`` with an ``answer senseid`` and a ``context`` of ``wf`` tokens and
one ``head``). Every instance of a word (all its inflections pooled, as the
lexelt does) is labelled with the run's default method (``senses.method``);
beside it, the plain k-means baseline: the same run's SIF context vectors over
±``BASELINE_WINDOW`` tokens, common directions removed, centred and unit,
k-means with k in ``BASELINE_K``. Per word and on average: V-measure, ARI and
paired F-score. Written to ``evaluations/senseval2.json``.

The same data also give a two-sense variant (``pairs``), for words with only two
senses such as homonyms: every pair of a word's senses with at least ``PAIR_MIN``
instances each, at most ``PAIR_CAP`` of each (a seeded sample, in file order), is
one batch, labelled by the same method; beside it k-means with k = 2. And a
small-batch variant (``small``), for words of which a batch holds few occurrences
(SemEval-2013 has about 100 a lemma): ``SMALL_DRAWS`` seeded random batches of
``SMALL_SIZE`` instances of each word (in file order), each labelled alone; beside
them the k-means baselines. Both variants report, per word and on average, the mean
of their batches' scores.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from tasks.sense_clusters import centre_unit, cluster_scores

from ..errors import InputError, UsageError
from ..storage import resolve_pkg

__all__ = ["DEFAULT_DATA", "read_senseval", "evaluate_senseval2",
           "format_senseval2"]

DEFAULT_DATA = str(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wsi"
                   / "senseval2_ls")
BASELINE_WINDOW = 10
BASELINE_K = (2, 3, 4, 6)
METRICS = ("v_measure", "ari", "paired_f")
PAIR_MIN, PAIR_CAP, PAIR_SEED = 100, 300, 0
SMALL_SIZE, SMALL_DRAWS, SMALL_SEED = 100, 20, 0


def _clean(token):
    return (token or "").replace("<", " ").replace(">", " ").strip()


def read_senseval(path):
    """[(instance id, text with the head marked <<form>>, gold sense)] of one .pos file."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise UsageError(f"{path}: not found (give --data DIR)") from None
    except (ET.ParseError, OSError) as e:
        raise InputError(f"{path}: not a Senseval XML file ({e})") from None
    out = []
    for inst in root.iter("instance"):
        answer, context = inst.find("answer"), inst.find("context")
        if answer is None or context is None or not answer.get("senseid"):
            raise InputError(f"{path}: instance {inst.get('id')!r} has no answer or context")
        parts, heads = [], 0
        for el in context:
            if el.tag == "head":
                wf = el.find("wf")
                form = _clean(wf.text if wf is not None else el.text)
                parts.append(f"<<{form}>>")
                heads += 1
            elif el.tag == "wf" and _clean(el.text):
                parts.append(_clean(el.text))
        if heads != 1:
            raise InputError(f"{path}: instance {inst.get('id')!r} has {heads} head words")
        out.append((inst.get("id"), " ".join(parts), answer.get("senseid")))
    return out


def _mean(results):
    return {m: float(np.mean([r[m] for r in results])) for m in METRICS}


def _sense_pairs(instances, pair_min, pair_cap, seed):
    """The two-sense subsets of one word's instances (see the module docstring)."""
    from itertools import combinations
    rng = np.random.default_rng(seed)
    by = {}
    for x in instances:
        by.setdefault(x[2], []).append(x)
    senses = sorted(g for g, xs in by.items() if len(xs) >= pair_min)
    out = []
    for a, b in combinations(senses, 2):
        keep = set()
        for g in (a, b):
            keep |= {by[g][i][0] for i in rng.permutation(len(by[g]))[:pair_cap]}
        out.append([x for x in instances if x[0] in keep])
    return out


def _small_batches(instances, size, draws, seed):
    """``draws`` seeded random batches of ``size`` of a word's instances, in file order
    (none when the word has no more than ``size``)."""
    if len(instances) <= size:
        return []
    rng = np.random.default_rng(seed)
    return [[instances[i] for i in np.sort(rng.choice(len(instances), size, replace=False))]
            for _ in range(draws)]


def _means(results, ks):
    """Mean system and k-means (k in ``ks``) scores over a list of results."""
    return {"system": _mean([r["system"] for r in results]),
            "baseline": {f"k={k}": _mean([r["baseline"][f"k={k}"] for r in results])
                         for k in ks}}


def _batch_means(results, ks):
    """The mean scores of a variant's batches (None when it has none)."""
    return {"batches": len(results), **_means(results, ks)} if results else None


def _score_batch(model, plain, word, instances, ks, seed, method):
    """System and k-means scores of one batch of a word's instances."""
    from ..assigner import Item, assign_items
    items = [Item(n, iid, word, text, order=n)
             for n, (iid, text, _g) in enumerate(instances, start=1)]
    gold = [g for _i, _t, g in instances]
    table = assign_items(model, items)
    labels = np.array([-1 if s is None else s for s in table["sense"].to_pylist()])
    n_senses = (max((len(s) for s in table["scores"].to_pylist()), default=0)
                if method != "atoms" else int(len(set(labels) - {-1})))
    res = {"instances": len(instances), "gold_senses": len(set(gold)),
           "system": {**cluster_scores(gold, labels), "senses": n_senses}, "baseline": {}}
    enc = plain.encode(items)
    xs = plain.vectors(enc, np.arange(len(enc.rows)))
    x = np.zeros((len(items), xs.shape[1]))
    x[enc.rows] = xs
    nz = np.any(x != 0, axis=1)
    y = centre_unit(x[nz])
    for k in ks:
        lab = np.full(len(x), -1)
        lab[nz] = KMeans(k, n_init=10, random_state=seed).fit_predict(y)
        res["baseline"][f"k={k}"] = cluster_scores(gold, lab)
    return res


def evaluate_senseval2(run_dir, data=DEFAULT_DATA, *, method=None, sets=(), log=None,
                       pair_min=PAIR_MIN, pair_cap=PAIR_CAP, small_size=SMALL_SIZE,
                       small_draws=SMALL_DRAWS):
    """Scores of a run on the development set (a dict; see the module docstring).

    Every ``WORD.pos`` file of ``data`` is a word, labelled as one ``wsi assign`` batch
    (:func:`pipeline.assigner.assign_items`, ``word`` = the file's word); ``sets`` are
    ``senses.KEY=VALUE`` overrides of the run's settings (to compare settings on this set);
    ``pair_min``, ``pair_cap``: of the two-sense variant; ``small_size``,
    ``small_draws``: of the small-batch variant.
    """
    from ..assigner import load_model
    from ..config import load_config
    from ..runs import open_run
    data = resolve_pkg(data)
    if not os.path.isdir(data):
        raise UsageError(f"{data}: no such directory (give --data DIR)")
    words = sorted(f[:-4] for f in os.listdir(data) if f.endswith(".pos"))
    if not words:
        raise UsageError(f"{data}: no WORD.pos files")
    bad = [x for x in sets if not x.startswith("senses.")]
    if bad:
        raise UsageError(f"--set {bad[0]}: only senses.* settings can be changed here")
    _run, manifest = open_run(run_dir)
    settings = load_config(base=manifest["config"], sets=sets).senses
    method = method or settings.method
    model = load_model(run_dir, method, tuple(sets))
    # the baseline's vectors: one window, common directions removed (no block scaling)
    plain = load_model(run_dir, "cluster",
                       tuple(sets) + (f"senses.windows=[{BASELINE_WINDOW}]",))
    out = {"data": data, "method": method, "settings": settings.model_dump(),
           "baseline": {"window": BASELINE_WINDOW, "k": list(BASELINE_K)}, "words": {},
           "pairs": {"min": pair_min, "cap": pair_cap, "seed": PAIR_SEED, "words": {}},
           "small": {"size": small_size, "draws": small_draws, "seed": SMALL_SEED,
                     "words": {}}}
    variants = (("pairs", (2,), lambda xs: _sense_pairs(xs, pair_min, pair_cap, PAIR_SEED)),
                ("small", BASELINE_K,
                 lambda xs: _small_batches(xs, small_size, small_draws, SMALL_SEED)))
    for word in words:
        instances = read_senseval(os.path.join(data, f"{word}.pos"))
        res = _score_batch(model, plain, word, instances, BASELINE_K, settings.seed, method)
        out["words"][word] = res
        if log:
            log(f"{word}: V {res['system']['v_measure']:.3f} ({res['system']['senses']} "
                f"senses); baseline k=6 V {res['baseline']['k=6']['v_measure']:.3f}")
        for name, ks, batches in variants:
            got = _batch_means([_score_batch(model, plain, word, batch, ks, settings.seed,
                                             method) for batch in batches(instances)], ks)
            if got:
                out[name]["words"][word] = got
    out["mean"] = _means(list(out["words"].values()), BASELINE_K)
    for name, ks, _batches in variants:
        per = list(out[name]["words"].values())
        out[name]["mean"] = _means(per, ks) if per else None
    return out


def format_senseval2(result):
    """A plain-text table of :func:`evaluate_senseval2`'s result."""
    head = f"{'':14s}" + "".join(f"{w:>10s}" for w in result["words"]) + f"{'mean':>10s}"
    lines = [f"senseval2_ls, method {result['method']} (V-measure / ARI / paired F)", head]
    rows = [("system", lambda r: r["system"], result["mean"]["system"])]
    rows += [(f"k-means {k}", lambda r, k=k: r["baseline"][k], result["mean"]["baseline"][k])
             for k in result["mean"]["baseline"]]
    for metric in METRICS:
        lines.append(metric)
        for name, get, mean in rows:
            lines.append(f"  {name:12s}" + "".join(f"{get(r)[metric]:10.3f}"
                                                  for r in result["words"].values())
                         + f"{mean[metric]:10.3f}")
    for name, title in (("pairs", "two-sense subsets (each pair of a word's senses with >= "
                                  "{min} instances, <= {cap} each)"),
                        ("small", "small batches ({draws} random batches of {size} "
                                  "instances a word)")):
        variant = result.get(name) or {}
        if not variant.get("mean"):
            continue
        words = variant["words"]
        lines.append(title.format(**variant) + ", V-measure")
        lines.append(f"{'':14s}" + "".join(f"{w + ' (' + str(r['batches']) + ')':>14s}"
                                          for w, r in words.items()) + f"{'mean':>10s}")
        names = [("system", None)] + [(f"k-means {k}", k) for k in variant["mean"]["baseline"]]
        for label, key in names:
            get = (lambda r, key=key: r["system"] if key is None else r["baseline"][key])
            lines.append(f"  {label:12s}" + "".join(f"{get(r)['v_measure']:14.3f}"
                                                   for r in words.values())
                         + f"{get(variant['mean'])['v_measure']:10.3f}")
    return "\n".join(lines)
