"""SemEval-2013 Task 13 cluster comparison: Fuzzy B-Cubed and Fuzzy NMI of graded sense keys.

Jurgens & Klapaftis (2013), "SemEval-2013 Task 13: Word Sense Induction for
Graded and Non-Graded Senses", score a word-sense-induction system by
comparing its (possibly graded, overlapping) clustering of each lemma's
instances with the gold WordNet 3.1 labelling. The definitions implemented
here are those of the task's official scorers (``fuzzy-bcubed.jar`` and
``fuzzy-nmi.jar``, source released as Jurgens's *cluster-comparison-tools*,
``FuzzyBCubed``, ``FuzzyNormalizedMutualInformation``,
``DiscretizedDifferentialEntropy`` and ``KeyUtil``), reimplemented in numpy:

Keys (``KeyUtil``)
    A line is ``lemma instance_id label[/weight] ...``; a token starting with
    ``!!`` starts a comment. Weights are normalised per instance so that the
    largest is 1 (:func:`memberships`); when any label of a line has no weight, every label of that
    line gets weight 1. The normalised weight is the instance's *membership*
    in that cluster (0 when it does not carry the label).

Fuzzy B-Cubed (``FuzzyBCubed``; Amigó et al.'s (2009) overlapping B-Cubed made fuzzy)
    The agreement of items i and j under a labelling is
    ``a(i, j) = Σ_c (1 − |w_ic − w_jc|)`` over the labels c *both* carry.
    With G and T the agreements under the gold and the test key:

    - item precision: the mean, over the items j ≠ i that share at least one
      gold label with i, of ``min(G_ij, T_ij) / G_ij`` (0 when G_ij = 0);
    - item recall: the mean, over the items j ≠ i that share at least one
      test label with i, of ``min(G_ij, T_ij) / T_ij`` (0 when T_ij = 0);
    - an item with no such j scores 0 (a singleton cluster scores 0, not 1);
    - a lemma's precision and recall are the sums of the item scores divided
      by the number of *gold* instances, so an instance missing from the
      test key counts 0 in both.

    These are the names the official scorer prints. Note that they are the
    reverse of Amigó et al.'s (there precision is taken over the items that
    share a *system* cluster): putting every instance into one cluster gives
    a high "precision" and a lower "recall" here. F is symmetric and
    unaffected.

Fuzzy NMI (``FuzzyNormalizedMutualInformation``; Lancichinetti et al.'s overlapping NMI, fuzzy)
    Each cluster is a vector of memberships over the lemma's N instances,
    discretised into 10 equal bins of [0, 1] (bin k holds (k/10, (k+1)/10];
    0 shares the first bin with (0, 0.1]); entropies are of these binned
    distributions, in bits. ``H(X|Y) = H(X, Y) − H(Y)``. For each gold
    cluster g, ``H(g|T) = min_t H(g|t)`` over the test clusters t that pass
    Lancichinetti et al.'s constraint (eq. B.14) on presence (membership > 0):
    t is left out when ``h(P11) + h(P00) < h(P10) + h(P01)`` with
    ``h(p) = −p log p``; when every t is left out, ``H(g|T) = H(g)``.
    ``H(G|T) = Σ_g H(g|T)``, ``H(G) = Σ_g H(g)``, symmetrically for T, and
    ``NMI = ½ (H(G) − H(G|T) + H(T) − H(T|G)) / max(H(G), H(T))``. An
    instance missing from the test key has membership 0 in every test
    cluster. When both H(G) and H(T) are 0 (one cluster on each side) the
    official scorer divides 0 by 0; this module returns 0 (no information).

Averaging (both scorers' ``score``)
    Scores are computed per lemma and averaged over the gold key's lemmas
    (macro average, every lemma counting once, not per instance): the
    B-Cubed precision and recall are averaged and F is the harmonic mean of
    the two averages; NMI is averaged. A lemma with no instance in the test
    key scores 0. The usual single figure (e.g. Amrami & Goldberg 2018) is
    the geometric mean ``sqrt(FBC-F × FNMI)``.

Instances are matched by id. Test-key instances that are not in the gold key
are ignored (the later official B-Cubed scorer does this, "filter down the
test key to only contain those instances in the gold key"), so the keys of
``keys/gold/{nouns,verbs,spoken,...}.key`` score a full system key on their
subset.

Checked against the task's own baseline keys with ``keys/gold/all.key``
(``tests/kernels/test_wsi_scoring.py``; scores in %, FBC = Fuzzy B-Cubed F):

=============================================  =======  ======  ======  ==================
key                                            FBC      FNMI    mean    published
=============================================  =======  ======  ======  ==================
baselines/random.2-senses.induced.key          47.35    2.83    11.57   47.4 / 2.8 / 11.6
baselines/random.3-senses.induced.key          38.10    1.85     8.40   (not checked)
baselines/random.n-senses.induced.key          24.44    1.65     6.35   (not checked)
baselines/mfs.wn.key (one cluster per lemma)   62.19    0.00     0.00   FNMI 0 by definition
one cluster per instance (built from all.key)   0.00    7.18     0.00   FBC 0 by definition
=============================================  =======  ======  ======  ==================

Reproduced: the random 2-senses baseline's published FBC 47.4, FNMI 2.8 and
mean 11.6 (the figures of the task paper as cited in this project's issue),
to the published precision of 0.1 point (the test allows 0.05, half the last
published digit). The other rows are this module's output; their published
counterparts in the task paper were not at hand to compare digit by digit,
and only their structural values (FNMI 0 for one cluster per lemma, FBC 0
for one cluster per instance) are asserted. The official loader's handling
of a repeated label (17 ``common.j`` lines of ``all.key``; see
:attr:`Key.scale`) is reproduced too; ignoring it would move the random
2-senses scores by 0.1 point (FBC 47.45, FNMI 2.84). Print any key's scores with
``python -m tasks.wsi_scoring GOLD.key SYSTEM.key [...]``.

- ``read_key(text, name)`` -> :class:`Key`
- ``format_key(rows)`` -> str
- ``fuzzy_bcubed(gold, test)``, ``fuzzy_nmi(gold, test)``: one lemma
- ``memberships(key)`` -> normalised weights, as the official loader computes them
- ``score_key(gold, test)`` -> dict of the averaged scores (and per lemma)

Sources: the task paper and README (``keys/``, baselines), the scorers'
source (code.google.com/archive/p/cluster-comparison-tools), Amigó et al.
(2009) "A comparison of extrinsic clustering evaluation metrics based on
formal constraints", Lancichinetti, Fortunato & Kertész (2009) "Detecting the
overlapping and hierarchical community structure in complex networks"
(appendix B).

Longer than 400 lines because the key format and both official measures (Fuzzy
B-Cubed, Fuzzy NMI) are documented and implemented beside each other.
"""
from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["Key", "read_key", "format_key", "fuzzy_bcubed", "fuzzy_nmi",
           "score_key", "geometric_mean", "memberships", "N_BINS"]

N_BINS = 10  # the official scorer's DiscretizedDifferentialEntropy default
_MAX_SHOWN = 80
_SPACE = re.compile(r"\s")


class Key(dict):
    """A sense key: ``instance_id -> {label: weight}`` (weights as written, not normalised).

    Attributes
    ----------
    lemma : dict
        ``instance_id -> lemma`` (e.g. ``"add.v"``).
    scale : dict
        ``instance_id -> divisor`` for the rare line where a repeated label's
        later weight replaced a larger one: the official loader keeps the
        last weight but still divides by the largest weight written on the
        line (17 ``common.j`` lines of the gold ``all.key``, e.g. ``common.j.4
        common%3:00:01::/4 common%3:00:01::/2`` gives membership 0.5).
    """

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.lemma = {}
        self.scale = {}

    def add(self, lemma, instance_id, labels):
        """Add one instance (``labels``: dict label -> weight)."""
        self[instance_id] = dict(labels)
        self.lemma[instance_id] = lemma

    def lemmas(self):
        """``lemma -> [instance ids]`` in the order the instances were added."""
        out = {}
        for i in self:
            out.setdefault(self.lemma[i], []).append(i)
        return out

    def subset(self, keep):
        """A new Key with the instances for which ``keep(instance_id, lemma)`` is true."""
        out = Key()
        for i, labels in self.items():
            if keep(i, self.lemma[i]):
                out.add(self.lemma[i], i, labels)
                if i in self.scale:
                    out.scale[i] = self.scale[i]
        return out


def _shown(line):
    line = line.rstrip("\r\n")
    return repr(line if len(line) <= _MAX_SHOWN else line[:_MAX_SHOWN] + "...")


def read_key(text, name="key"):
    """Parse a SemEval sense key.

    Parameters
    ----------
    text : str or iterable of str
        The whole key (or its lines). Each non-blank line is
        ``lemma instance_id label[/weight] [label[/weight] ...] [!! comment]``,
        fields separated by white space; a weight is a finite number >= 0.
    name : str
        Named in error messages (e.g. the file name).

    Returns
    -------
    Key
        ``instance_id -> {label: weight}`` with ``.lemma[instance_id]``. A
        label without ``/weight`` has weight 1; as in the official scorer,
        when any label of a line lacks a weight, all labels of that line get
        weight 1.

    Raises
    ------
    ValueError
        ``"<name>: line <n>: ..."`` for a line with fewer than three fields, a
        bad or negative weight, only zero weights, or an instance id seen
        before. A label repeated on a line keeps its last weight (as the
        official loader does; see :attr:`Key.scale`).
    """
    lines = text.splitlines() if isinstance(text, str) else text
    key = Key()
    first_line = {}
    for lineno, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            line = line.decode("utf-8")
        if lineno == 1:
            line = line.lstrip("\ufeff")
        fields = line.split()
        if not fields:
            continue
        for k, f in enumerate(fields):
            if f.startswith("!!"):
                fields = fields[:k]
                break

        def bad(why):
            return ValueError(f"{name}: line {lineno}: {why}: {_shown(line)}")

        if len(fields) < 3:
            raise bad("expected 'lemma instance_id label[/weight] ...'")
        lemma, inst = fields[0], fields[1]
        labels, weighted, written = {}, True, 0.0
        for tok in fields[2:]:
            label, slash, w = tok.rpartition("/")
            if not slash:
                label, w = tok, None
            if not label:
                raise bad(f"empty sense label in {tok!r}")
            if w is None:
                weighted = False
                labels[label] = 1.0
                continue
            try:
                weight = float(w)
            except ValueError:
                raise bad(f"weight {w!r} of {label!r} is not a number") from None
            if not math.isfinite(weight) or weight < 0:
                raise bad(f"weight {w!r} of {label!r} must be a finite number >= 0")
            labels[label] = weight  # a repeated label: the last weight wins
            written = max(written, weight)
        if not weighted:
            labels = dict.fromkeys(labels, 1.0)
        elif written <= 0:
            raise bad("all weights are 0")
        if inst in key:
            raise bad(f"instance {inst!r} repeated (first on line {first_line[inst]})")
        first_line[inst] = lineno
        key.add(lemma, inst, labels)
        if weighted and written > max(labels.values()):
            key.scale[inst] = written
    return key


def format_key(rows):
    """Write a sense key: one ``lemma instance_id label/weight ...`` line per row.

    Parameters
    ----------
    rows : iterable of (lemma, instance_id, labels), or a :class:`Key`
        ``labels`` is a dict ``label -> weight`` (or a list of pairs);
        weights are finite numbers >= 0, at least one > 0.

    Returns
    -------
    str
        The key text, newline-terminated lines, weights with 6 significant
        digits (a Key's ``scale`` quirk is not written).
    """
    if isinstance(rows, Key):
        rows = [(rows.lemma[i], i, labels) for i, labels in rows.items()]
    out = []
    for lemma, inst, labels in rows:
        pairs = list(labels.items() if isinstance(labels, dict) else labels)
        for field in (lemma, inst):
            if not isinstance(field, str) or not field or _SPACE.search(field):
                raise ValueError(f"lemma and instance id must be non-empty strings without "
                                 f"white space, got {field!r}")
        if not pairs:
            raise ValueError(f"instance {inst!r} has no label")
        toks = [lemma, inst]
        for label, w in pairs:
            if not isinstance(label, str) or not label or "/" in label or _SPACE.search(label):
                raise ValueError(f"instance {inst!r}: label {label!r} must be non-empty, "
                                 "without '/' or white space")
            w = float(w)
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"instance {inst!r}: weight {w!r} of {label!r} must be "
                                 "finite and >= 0")
            toks.append(f"{label}/{w:.6g}")
        if max(float(w) for _, w in pairs) <= 0:
            raise ValueError(f"instance {inst!r}: all weights are 0")
        out.append(" ".join(toks))
    return "".join(line + "\n" for line in out)


def memberships(key):
    """Cluster memberships as the official loader computes them from a key's weights.

    Parameters
    ----------
    key : Key or dict
        ``instance_id -> {label: weight}``, weights >= 0 with a positive maximum.

    Returns
    -------
    dict
        ``instance_id -> {label: membership}``: each instance's weights
        divided by its largest weight (by ``key.scale[instance_id]`` where
        that is set), so the most applicable label has membership 1.
    """
    scale = getattr(key, "scale", {})
    out = {}
    for i, labels in key.items():
        top = max(max(labels.values()), scale.get(i, 0.0))
        if not top > 0:
            raise ValueError(f"instance {i!r}: all weights are 0")
        out[i] = {c: w / top for c, w in labels.items()}
    return out


# --------------------------------------------------------------------------- one lemma


def _matrices(items, member, side):
    """(W, P): memberships (n, L) float and label presence (n, L) bool of ``items``.

    Rows of items missing from ``member`` are all zero / False.
    """
    labels = {}
    for i in items:
        for c in member.get(i, ()):
            labels.setdefault(c, len(labels))
    w = np.zeros((len(items), len(labels)))
    p = np.zeros((len(items), len(labels)), dtype=bool)
    for r, i in enumerate(items):
        for c, m in member.get(i, {}).items():
            w[r, labels[c]] = m
            p[r, labels[c]] = True
    if not np.all((w >= 0) & (w <= 1)):  # also refuses NaN
        raise ValueError(f"{side} memberships must lie in [0, 1] (normalise weights with "
                         "memberships())")
    return w, p


def _agreement(w, p):
    """Fuzzy agreement (n, n): Σ over labels both carry of 1 − |w_ic − w_jc|."""
    n = len(w)
    a = np.zeros((n, n))
    for c in range(w.shape[1]):
        idx = np.flatnonzero(p[:, c])
        if len(idx):
            wc = w[idx, c]
            a[np.ix_(idx, idx)] += 1.0 - np.abs(wc[:, None] - wc[None, :])
    return a


def _item_means(share, num, den):
    """Per row: mean over the columns in ``share`` of min(num, den)/den (0 where den = 0)."""
    ratio = np.divide(np.minimum(num, den), den, out=np.zeros_like(den), where=den > 0)
    count = share.sum(axis=1)
    total = np.where(share, ratio, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.zeros(len(count)), where=count > 0)


def _check_lemma(gold, test):
    if not gold:
        raise ValueError("the gold labelling has no instance")
    for i, labels in gold.items():
        if not labels:
            raise ValueError(f"gold instance {i!r} has no label")


def fuzzy_bcubed(gold, test):
    """Fuzzy B-Cubed precision and recall of one lemma (official scorer's definition).

    Parameters
    ----------
    gold, test : dict
        ``instance_id -> {label: membership}`` for one lemma's instances,
        memberships in [0, 1] (see :func:`memberships`). ``test`` may miss
        instances (they score 0) or hold extra ones (ignored).

    Returns
    -------
    precision, recall : float
        In [0, 1]; see the module docstring for which is which.
    """
    _check_lemma(gold, test)
    items = list(gold)
    gw, gp = _matrices(items, gold, "gold")
    tw, tp = _matrices(items, test, "test")
    g, t = _agreement(gw, gp), _agreement(tw, tp)
    off = ~np.eye(len(items), dtype=bool)
    share_g = ((gp.astype(np.int64) @ gp.T.astype(np.int64)) > 0) & off
    share_t = ((tp.astype(np.int64) @ tp.T.astype(np.int64)) > 0) & off
    n = len(items)
    precision = _item_means(share_g, t, g).sum() / n
    recall = _item_means(share_t, g, t).sum() / n
    return float(precision), float(recall)


def _bins(m):
    """Bin index 0..N_BINS-1 of memberships in [0, 1]: the first k with m <= (k+1)/N_BINS."""
    edges = np.arange(1, N_BINS + 1) / N_BINS
    return np.minimum(np.searchsorted(edges, m, side="left"), N_BINS - 1)


def _entropy(codes):
    """Entropy in bits of the empirical distribution of integer codes."""
    counts = np.bincount(codes)
    p = counts[counts > 0] / len(codes)
    return float(-(p * np.log2(p)).sum())


def _h(p):
    return 0.0 if p == 0 else -p * math.log(p)


def _left_out(x, y):
    """Lancichinetti et al.'s eq. B.14 fails: x and y are closer to complements than to copies."""
    n = len(x)
    both = np.count_nonzero(x & y) / n
    neither = np.count_nonzero(~x & ~y) / n
    only_x = np.count_nonzero(x & ~y) / n
    only_y = np.count_nonzero(~x & y) / n
    return _h(both) + _h(neither) < _h(only_x) + _h(only_y)


def _conditional_sum(xs, ys, hx, hy):
    """Σ_x min over admissible y of H(x|y) (H(x) when none is admissible)."""
    total = 0.0
    for (xb, xpos), h_x in zip(xs, hx):
        best = None
        for (yb, ypos), h_y in zip(ys, hy):
            if _left_out(xpos, ypos):
                continue
            c = _entropy(xb * N_BINS + yb) - h_y
            if best is None or c < best:
                best = c
        total += h_x if best is None else best
    return total


def fuzzy_nmi(gold, test):
    """Fuzzy normalised mutual information of one lemma (official scorer's definition).

    Parameters
    ----------
    gold, test : dict
        ``instance_id -> {label: membership}`` for one lemma's instances; as
        in :func:`fuzzy_bcubed`.

    Returns
    -------
    float
        In [0, 1]; 0 when the test key has no instance of the lemma or when
        neither side has any entropy.
    """
    _check_lemma(gold, test)
    items = list(gold)
    sides = []
    for member, side in ((gold, "gold"), (test, "test")):
        w, _ = _matrices(items, member, side)
        clusters = [(_bins(w[:, c]), w[:, c] > 0) for c in range(w.shape[1])]
        sides.append((clusters, [_entropy(b) for b, _ in clusters]))
    (gc, gh), (tc, th) = sides
    h_g, h_t = sum(gh), sum(th)
    if max(h_g, h_t) <= 0:
        return 0.0
    h_g_t = _conditional_sum(gc, tc, gh, th)
    h_t_g = _conditional_sum(tc, gc, th, gh)
    mi = 0.5 * (h_g - h_g_t + h_t - h_t_g)
    return float(mi / max(h_g, h_t))


# --------------------------------------------------------------------------- whole key


def geometric_mean(fbc_f, fnmi):
    """sqrt(FBC-F × FNMI), the single figure WSI papers report for SemEval-2013."""
    return math.sqrt(max(fbc_f, 0.0) * max(fnmi, 0.0))


def score_key(gold, test):
    """Fuzzy B-Cubed and Fuzzy NMI of a test key against a gold key, averaged over lemmas.

    Parameters
    ----------
    gold, test : Key
        As returned by :func:`read_key`. Lemmas are those of the gold key;
        test instances are matched by id and those not in the gold key are
        ignored.

    Returns
    -------
    dict
        ``fbc_precision``, ``fbc_recall``, ``fbc_f``, ``fnmi``, ``mean``
        (geometric mean of FBC-F and FNMI), all in [0, 1]; ``lemmas``,
        ``instances`` (gold), ``covered`` (gold instances in the test key),
        ``coverage``; ``per_lemma``: lemma -> dict of ``fbc_precision``,
        ``fbc_recall``, ``fbc_f``, ``fnmi``, ``instances``, ``covered``.
    """
    if not gold:
        raise ValueError("the gold key has no instance")
    per_lemma = {}
    gm = memberships(gold)
    tm = memberships({i: labels for i, labels in test.items() if i in gold}
                     if not hasattr(test, "scale") else test.subset(lambda i, _: i in gold))
    for lemma, ids in gold.lemmas().items():
        g = {i: gm[i] for i in ids}
        t = {i: tm[i] for i in ids if i in tm}
        if t:
            p, r = fuzzy_bcubed(g, t)
            nmi = fuzzy_nmi(g, t)
        else:  # the official scorers: "had no instances labeled in the evaluation key"
            p = r = nmi = 0.0
        per_lemma[lemma] = {"fbc_precision": p, "fbc_recall": r, "fbc_f": _f(p, r),
                            "fnmi": nmi, "instances": len(ids), "covered": len(t)}
    rows = list(per_lemma.values())
    p = float(np.mean([x["fbc_precision"] for x in rows]))
    r = float(np.mean([x["fbc_recall"] for x in rows]))
    nmi = float(np.mean([x["fnmi"] for x in rows]))
    covered = sum(x["covered"] for x in rows)
    f = _f(p, r)
    return {"fbc_precision": p, "fbc_recall": r, "fbc_f": f, "fnmi": nmi,
            "mean": geometric_mean(f, nmi), "lemmas": len(rows), "instances": len(gold),
            "covered": covered, "coverage": covered / len(gold), "per_lemma": per_lemma}


def _f(p, r):
    return 2 * p * r / (p + r) if p + r > 0 else 0.0
