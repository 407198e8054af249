"""SemEval-2013 Task 13 (word sense induction): label its instances with a run's senses, score them.

``wsi evaluate semeval2013 --run RUN_DIR [--data DIR] [--key-out FILE] [--no-graded]
[--no-use-lemma] [--max-senses N] [--method cluster|atoms]``

Each of the 4,664 test instances (50 lemmas: 20 nouns, 20 verbs, 10 adjectives) is
one occurrence of its lemma in context, labelled as one ``wsi assign`` batch
(:func:`pipeline.assigner.assign_items`) with the run's ``senses.method``:

- ``cluster``: each lemma's instances are clustered together (transductive, as the
  task allows); labels ``<lemma>.sense<j>``.
- ``atoms``: the atoms rule, labels ``<lemma>.atom<id>`` (e.g. ``add.v.atom17``); the
  senses of the marked form ("added"), or of the lemma's base form ("add") when the
  form has none or with ``use_lemma=True`` (the default; the target token is never
  its own context, so only the sense inventory changes).

The system key is scored against the gold key with the task's measures, Fuzzy
B-Cubed and Fuzzy NMI (:mod:`tasks.wsi_scoring`, the official scorers'
definitions), overall and by part of speech. An instance without a context vector
gets the first sense (the rank-1 atom; the lemma's largest cluster) with
``unassigned="first"``, else is left out (0 in B-Cubed, membership 0 in NMI), as is
an instance whose word has no senses. Graded labels (``graded=True``): every sense
with a positive score (a cosine), weighted by it. The result counts how instances
went and the coverage; ``main_semeval`` merges it into the run's
``evaluations/semeval2013.json`` under ``crisp`` / ``graded``. A data directory that
does not exist is a usage error (exit 2); a missing or malformed file inside it an
input error naming the file (exit 3).

Longer than 400 lines: the task's file formats, its labelling rules and its table
are one evaluation; reading them apart would split one format across modules.
"""
from __future__ import annotations


import math
import xml.etree.ElementTree as ET
from pathlib import Path

import fsspec
from fsspec.core import url_to_fs

from tasks.wsi_scoring import Key, format_key, read_key, score_key

from ..errors import InputError, UsageError
from ..runs import open_run
from ..storage import join, to_url
from . import save_result

__all__ = ["DEFAULT_DATA", "REFERENCE", "read_instances", "read_gold", "label_instances", "evaluate_semeval", "format_table"]

DEFAULT_DATA = str(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wsi"
                   / "semeval2013_task13")
XML_DIR = "contexts/xml-format"
POS = {"n": "nouns", "v": "verbs", "j": "adjectives"}

# Anchors from the project's issue, as fractions (the papers report percentages).
REFERENCE = {
    "pre_bert_sota": {"fbc_f": 0.575, "fnmi": 0.113, "mean": 0.254,
                      "source": "Amrami & Goldberg (2018), biLM + symmetric patterns"},
    "sif_kmeans": {"fbc_f": 0.501, "fnmi": 0.047, "mean": 0.154,
                   "source": "naive SIF context vectors + k-means (the issue's baseline)"},
}


# --------------------------------------------------------------------------- data


def _fs(data_dir):
    """(file system, root) of an existing data directory, else UsageError (exit 2)."""
    try:
        fs, root = url_to_fs(str(data_dir))
    except (ValueError, ImportError) as e:
        raise UsageError(f"{data_dir}: unsupported location ({e})") from None
    root = root.rstrip("/") or "/"
    if not fs.isdir(root):
        raise UsageError(f"SemEval-2013 Task 13 data directory {data_dir} does not exist "
                         "(give --data DIR)")
    return fs, root


def read_instances(data_dir):
    """The task's test instances with the target occurrence marked.

    Parameters
    ----------
    data_dir : str or Path
        The task's folder (local path or fsspec URL) holding
        ``contexts/xml-format/<lemma>.<pos>.xml``: ``<instances>`` of
        ``<instance id lemma partOfSpeech token tokenStart tokenEnd>text</instance>``,
        where ``text[tokenStart:tokenEnd]`` is the target token.

    Returns
    -------
    list of (lemma, instance_id, text)
        ``lemma`` as in the keys (``"add.v"``); ``text`` with the target
        marked ``<<token>>`` (any other ``<`` or ``>`` in the text is replaced
        by a space, so the marker is the only one). Files in name order,
        instances in file order.

    Raises
    ------
    UsageError
        ``data_dir`` does not exist.
    InputError
        No XML file, or a file that is not valid XML, lacks an attribute, or
        whose offsets do not select its token; the message names the file
        (and the instance).
    """
    fs, root = _fs(data_dir)
    files = sorted(fs.glob(join(root, XML_DIR, "*.xml")))
    if not files:
        raise InputError(f"{join(str(data_dir), XML_DIR)}: no .xml files (not the "
                         "SemEval-2013 Task 13 folder?)")
    out, seen = [], {}
    for path in files:
        shown = to_url(fs, path)
        try:
            with fs.open(path, "rb") as f:
                top = ET.parse(f).getroot()
        except ET.ParseError as e:
            raise InputError(f"{shown}: not valid XML ({e})") from None
        except OSError as e:
            raise InputError(f"{shown}: cannot read ({e.strerror or e})") from None
        instances = top.findall("instance")
        if top.tag != "instances" or not instances:
            raise InputError(f"{shown}: expected <instances> with <instance> elements")
        for inst in instances:
            out.append(_instance(inst, top, shown, seen))
    return out


def _instance(inst, top, shown, seen):
    iid = inst.get("id")
    where = f"{shown}: instance {iid!r}" if iid else f"{shown}: an <instance> without id"
    attrs = {}
    for name in ("id", "token", "tokenStart", "tokenEnd"):
        if inst.get(name) is None:
            raise InputError(f"{where}: no {name} attribute")
        attrs[name] = inst.get(name)
    lemma, pos = inst.get("lemma", top.get("lemma")), inst.get("partOfSpeech",
                                                                 top.get("partOfSpeech"))
    if not lemma or not pos:
        raise InputError(f"{where}: no lemma or partOfSpeech attribute")
    text = inst.text or ""
    try:
        start, end = int(attrs["tokenStart"]), int(attrs["tokenEnd"])
    except ValueError:
        raise InputError(f"{where}: tokenStart/tokenEnd are not integers") from None
    if not (0 <= start < end <= len(text)) or text[start:end] != attrs["token"]:
        raise InputError(f"{where}: text[{start}:{end}] is not the token "
                         f"{attrs['token']!r}")
    if iid in seen:
        raise InputError(f"{where}: id repeated (also in {seen[iid]})")
    seen[iid] = shown

    def clean(s):
        return s.replace("<", " ").replace(">", " ")

    marked = f"{clean(text[:start])}<<{text[start:end]}>>{clean(text[end:])}"
    return f"{lemma}.{pos}", iid, marked


def read_gold(data_dir, gold="all"):
    """The gold key ``keys/gold/<gold>.key`` of the task folder (or ``gold`` as a path).

    Raises InputError naming the file when it is missing or malformed.
    """
    gold = str(gold)
    if gold.endswith(".key") or "/" in gold:
        url = gold
    else:
        _fs(data_dir)
        url = join(str(data_dir), "keys", "gold", f"{gold}.key")
    try:
        with fsspec.open(url, "rt", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError(f"{url}: gold key not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{url}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    try:
        key = read_key(text, url)
    except ValueError as e:
        raise InputError(str(e)) from None
    if not key:
        raise InputError(f"{url}: empty gold key")
    return key


# --------------------------------------------------------------------------- labelling


def _label(lemma, method, sense):
    return f"{lemma}.{'atom' if method == 'atoms' else 'sense'}{int(sense)}"


def _relabel(marked, base):
    """The marked text with the target token replaced by ``base``."""
    start = marked.index("<<")
    end = marked.index(">>", start)
    return f"{marked[:start]}<<{base}>>{marked[end + 2:]}"


def label_instances(model, instances, *, graded=False, use_lemma=False, unassigned="first"):
    """System labels of ``[(lemma, instance id, marked text)]``, as one ``wsi assign``
    batch (:func:`pipeline.assigner.assign_items`): [(labels dict or None, how)].

    ``how`` is ``"token"``/``"lemma"`` (assigned with that word's senses; the cluster
    method clusters each lemma's instances together, so always ``"lemma"``),
    ``"first_sense"`` (back-off: the atoms rule's rank-1 atom, the cluster method's
    largest cluster of the lemma) or ``"no_sense"``/``"no_context"``/``"bad_target"``
    (left out: labels None).
    """
    from ..assigner import Item, assign_items
    method = model.method
    base = [lemma.rsplit(".", 1)[0] for lemma, _i, _t in instances]

    def run(texts, words):
        items = [Item(n, iid, w, t, order=n) for n, ((_l, iid, _m), t, w) in
                 enumerate(zip(instances, texts, words))]
        return assign_items(model, items).to_pylist()

    if method == "atoms":
        marked = [t for _l, _i, t in instances]
        rows = run([_relabel(t, b) if use_lemma else t for t, b in zip(marked, base)],
                   [None] * len(instances))
        how = ["lemma" if use_lemma else "token"] * len(rows)
        if not use_lemma:  # the form has no senses: the lemma's, when it has
            redo = [j for j, r in enumerate(rows) if not r["atoms"] and r["word"] is not None
                    and r["word"] != base[j]]
            again = run([_relabel(marked[j], base[j]) for j in redo], [None] * len(redo)) \
                if redo else []
            for j, r in zip(redo, again):
                if r["atoms"]:
                    rows[j], how[j] = r, "lemma"
    else:  # each lemma's instances are one group
        rows = run([t for _l, _i, t in instances], [lemma for lemma, _i, _t in instances])
        how = ["lemma"] * len(rows)
    common = {}
    for (lemma, _i, _t), r in zip(instances, rows):
        if r["sense"] is not None:
            common.setdefault(lemma, []).append(r["sense"])
    common = {lemma: max(set(v), key=v.count) for lemma, v in common.items()}
    out = []
    for (lemma, _i, _t), r, h in zip(instances, rows, how):
        if r["word"] is None:  # the marked target is no token for this run's tokenizer
            out.append((None, "bad_target"))
        elif method == "atoms" and not r["atoms"]:
            out.append((None, "no_sense"))
        elif r["sense"] is None:
            first = r["atoms"][0] if method == "atoms" and r["atoms"] else common.get(lemma)
            if unassigned == "first" and first is not None:
                out.append(({_label(lemma, method, first): 1.0}, "first_sense"))
            else:
                out.append((None, "no_context"))
        else:
            senses = r["atoms"] if method == "atoms" else range(len(r["scores"]))
            labels = {_label(lemma, method, a): sc for a, sc in zip(senses, r["scores"])
                      if sc is not None and sc > 0} if graded else {}
            out.append((labels or {_label(lemma, method, r["sense"]): 1.0}, h))
    return out


def _scores(gold, system):
    s = score_key(gold, system)
    out = {k: s[k] for k in ("fbc_precision", "fbc_recall", "fbc_f", "fnmi", "mean",
                             "lemmas", "instances", "covered", "coverage")}
    out["per_lemma"] = {lemma: {k: (round(v, 6) if isinstance(v, float) else v)
                                for k, v in row.items()}
                        for lemma, row in s["per_lemma"].items()}
    return out


def evaluate_semeval(run_dir, data_dir=DEFAULT_DATA, key_out=None, gold="all", *,
                     graded=True, use_lemma=True, unassigned="first", method=None,
                     max_senses=None, sets=()):
    """Label the SemEval-2013 Task 13 instances with a run's senses and score them.

    Parameters
    ----------
    run_dir : str
        A finished run directory (senses, atoms, induce and context outputs).
    data_dir : str
        The task's folder (``contexts/xml-format``, ``keys/gold``).
    key_out : str or None
        Write the system key there (``lemma instance_id label/weight ...``).
    gold : str
        ``keys/gold/<gold>.key`` (``"all"``, ``"spoken"``, ...) or a key path.
        Only the gold key's instances are labelled and scored.
    graded : bool
        Graded labels (every atom with a positive score, weighted by it)
        instead of the best atom alone.
    use_lemma : bool
        Always use the lemma's senses (default: the marked form's, the
        lemma's when the form has none).
    unassigned : {"first", "omit"}
        What an instance whose context has no vector gets: the word's first
        sense, or nothing (left out of the key).
    method : {"cluster", "atoms"} or None
        How instances get senses (:mod:`pipeline.assigner`); None: the run's
        ``senses.method``.
    max_senses : int or None
        Atoms rule: a word's this-many strongest atoms (None: ``senses.assign_max``).
    sets : sequence of str
        ``senses.KEY=VALUE`` overrides of the run's settings.

    Returns
    -------
    dict
        ``overall`` and ``by_pos`` (``nouns``/``verbs``/``adjectives``, by the
        lemma suffix): ``fbc_precision``, ``fbc_recall``, ``fbc_f``, ``fnmi``,
        ``mean`` (geometric mean of FBC-F and FNMI), all in [0, 1], with
        ``lemmas``, ``instances``, ``covered``, ``coverage`` and
        ``per_lemma``; ``labelled`` (counts of how instances were labelled:
        ``token``, ``lemma``, ``first_sense``, left out as ``no_sense``,
        ``no_context``, ``bad_target``, ``no_context_text``), ``gold``,
        ``graded``, ``use_lemma``, ``unassigned``, ``labels_per_lemma``
        (mean number of distinct labels), and ``reference`` (published
        anchors, fractions).
    """
    if unassigned not in ("first", "omit"):
        raise UsageError(f"unassigned must be 'first' or 'omit', got {unassigned!r}")
    from ..assigner import load_model
    from ..config import load_config
    gold_key = read_gold(data_dir, gold)
    instances = read_instances(data_dir)
    _run, manifest = open_run(run_dir)
    sets = tuple(sets) + ((f"senses.assign_max={int(max_senses)}",)
                          if max_senses is not None else ())
    if max_senses is not None and max_senses < 0:
        raise UsageError(f"max senses must be >= 0, got {max_senses}")
    method = method or load_config(base=manifest["config"], sets=sets).senses.method
    model = load_model(run_dir, method, sets)
    counts = dict.fromkeys(("token", "lemma", "first_sense", "no_sense", "no_context",
                            "bad_target", "no_context_text"), 0)
    system = Key()
    chosen = []
    for lemma, iid, marked in instances:
        if iid not in gold_key:
            continue
        if gold_key.lemma[iid] != lemma:
            raise InputError(f"instance {iid!r}: lemma {lemma!r} in the contexts but "
                             f"{gold_key.lemma[iid]!r} in the gold key")
        chosen.append((lemma, iid, marked))
    found = {iid for _l, iid, _m in chosen}
    labelled = label_instances(model, chosen, graded=graded, use_lemma=use_lemma,
                               unassigned=unassigned)
    for (lemma, iid, _m), (labels, how) in zip(chosen, labelled):
        counts[how] += 1
        if labels is not None:
            system.add(lemma, iid, labels)
    counts["no_context_text"] = len(gold_key) - len(found)
    if key_out:
        _write_key(key_out, system)
    result = {"method": method, "gold": gold, "graded": bool(graded),
              "use_lemma": bool(use_lemma),
              "unassigned": unassigned, "labelled": counts,
              "overall": _scores(gold_key, system), "by_pos": {}}
    for suffix, name in POS.items():
        part = gold_key.subset(lambda i, lemma, s=suffix: lemma.endswith("." + s))
        if part:
            result["by_pos"][name] = _scores(part, system)
    per_lemma = {}
    for i, labels in system.items():
        per_lemma.setdefault(system.lemma[i], set()).update(labels)
    result["labels_per_lemma"] = (sum(map(len, per_lemma.values())) / len(per_lemma)
                                  if per_lemma else 0.0)
    result["reference"] = {k: dict(v) for k, v in REFERENCE.items()}
    return result


def _write_key(url, system):
    try:
        with fsspec.open(url, "wt", encoding="utf-8") as f:
            f.write(format_key(system))
    except OSError as e:
        raise UsageError(f"--key-out {url}: cannot write ({e.strerror or e})") from None


# --------------------------------------------------------------------------- command line


def format_table(result):
    """The scores as a plain-text table (percentages)."""
    mode = "graded" if result["graded"] else "crisp"
    lines = [f"SemEval-2013 Task 13 WSI, cluster comparison against {result['gold']}.key "
             f"({mode} labels)",
             f"{'set':<22}{'lemmas':>7}{'inst.':>7}{'cover':>8}{'FBC-P':>8}{'FBC-R':>8}"
             f"{'FBC-F':>8}{'FNMI':>8}{'mean':>8}"]

    def row(name, s):
        return (f"{name:<22}{s['lemmas']:>7}{s['instances']:>7}{100 * s['coverage']:>7.1f}%"
                + "".join(f"{100 * s[k]:>8.1f}" for k in ("fbc_precision", "fbc_recall",
                                                           "fbc_f", "fnmi", "mean")))

    lines.append(row("all", result["overall"]))
    for name, s in result["by_pos"].items():
        lines.append(row(name, s))
    for name, r in (("ref: pre-BERT SOTA", result["reference"]["pre_bert_sota"]),
                    ("ref: SIF + k-means", result["reference"]["sif_kmeans"])):
        lines.append(f"{name:<22}{'':>38}{100 * r['fbc_f']:>8.1f}{100 * r['fnmi']:>8.1f}"
                     f"{100 * r['mean']:>8.1f}  {r['source']}")
    c = result["labelled"]
    left = c["no_sense"] + c["no_context"] + c["bad_target"] + c["no_context_text"]
    lines.append(f"labelled: {c['token']} with the marked form's senses, {c['lemma']} with the "
                 f"lemma's, {c['first_sense']} first-sense back-off (no context vector); "
                 f"{left} left out ({c['no_sense']} no senses, {c['no_context']} no context "
                 f"vector, {c['bad_target']} target not one token, {c['no_context_text']} "
                 f"not in the contexts); {result['labels_per_lemma']:.1f} labels per lemma")
    return "\n".join(lines)


def save_semeval(run_dir, result):
    """Put ``result`` into the run's ``evaluations/semeval2013.json`` under crisp or graded."""
    run, _ = open_run(run_dir)
    return save_result(run, "semeval2013", lambda old: {
        **old, "graded" if result["graded"] else "crisp": result})


def _finite(x):
    """JSON-safe copy (no NaN/inf; there should be none)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
