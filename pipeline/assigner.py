"""Sense assignment of occurrences as array work: one implementation for ``wsi assign``
(one text or millions of lines) and the evaluations.

A partition is encoded at once (:mod:`pipeline.batch_encoding`: the target and at most
the widest window of tokens on each side, one id array for the partition; every window's
SIF sum in one kernel pass, :mod:`tasks.assign`) and scored at once:

- ``cluster`` (transductive): each word's senses are k-means centres fitted on a seeded
  sample of at most ``assign.sample_cap`` of its occurrences in the batch (all of them,
  in input order, when fewer), then every occurrence goes to the nearest centre.
- ``inventory``: the same rule with the corpus inventory's centres, one occurrence at a
  time; ``atoms``: the atoms rule (:mod:`tasks.senses`). Neither needs a batch, so one
  context gets the label it gets in any batch.

Models are cached per process (:func:`load_model`): a Dask worker loads a run's
arrays once, not once per task.

Longer than 400 lines because :class:`AssignModel` is one model: sampling and scoring
read the same arrays and must agree on what a line's word and context are.

    model = load_model("outputs/default", "cluster")
    table = assign_items(model, [Item(1, "a", None, "the <<bank>> raised rates"), ...])
    # partitioned: model.candidates(part) per partition, merged (merge_samples); then
    # model.sample_segments(part, merged) per partition, a fit per word (segment_vectors,
    # fit_batch), then model.table(model.encode(part), centres) per partition
"""
from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa

from tasks.assign import (blocks_from_sums, fit_centres,
                          nearest_centres_from_sums, sample_priority, window_sums)
from tasks.senses import score_senses_flat
from tasks.targets import MARK_RE
from tasks.tokenize import tokenize

from .artifacts.tables import read_atoms, read_inventory, read_sense_table, read_sif_rows
from .batch_encoding import EncodeMixin, Encoded, is_text
from .batches import SCHEMA, Columns, Item, RowScores, rows_table
from .config import SENSE_METHODS, load_config
from .errors import UsageError
from .runs import artifact_url, open_run
from .storage import load_npy

__all__ = ["Item", "Encoded", "AssignModel", "load_model", "fit_batch", "assign_items",
           "SCHEMA", "METHODS"]

METHODS = SENSE_METHODS
NOT_IN_INVENTORY = "not in the sense inventory"

CHUNK = 2048  # occurrences whose vectors are held at once (2048 x 1800 float64: 29 MB)


_MODELS: dict = {}
_LOCK = threading.Lock()


def load_model(run_dir, method, sets=()):
    """The :class:`AssignModel` of a run, loaded once per process and reused."""
    key = (str(run_dir), method, tuple(sets))
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = AssignModel(run_dir, method, sets=sets)
        return model


class AssignModel(EncodeMixin):
    """A finished run's arrays for assigning occurrences.

    Parameters
    ----------
    run_dir : str
        Run directory (path or fsspec URL).
    method : {"cluster", "atoms"}
    sets : sequence of str
        ``senses.KEY=VALUE`` / ``assign.KEY=VALUE`` overrides of the run's settings.
    """

    def __init__(self, run_dir, method, *, sets=()):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        needed = ["vocab", "embeddings"]
        needed += (["induction_map", "induction_common", "senses", "atoms"]
                   if method == "atoms" else ["common_directions"])
        needed += ["sense_inventory"] if method == "inventory" else []
        run, manifest = open_run(run_dir, needed)
        cfg = load_config(base=manifest["config"], sets=sets)
        self.method = method
        self.run_dir, self.sets = run_dir, tuple(sets)
        self.senses = cfg.senses
        self.assign = cfg.assign
        self.lowercase = bool(cfg.corpus.lowercase)
        self.rows, self.index = read_sif_rows(artifact_url(run, "vocab"),
                                              artifact_url(run, "embeddings"),
                                              cfg.context.sif_a)
        if method == "atoms":
            self.windows = [int(cfg.induce.window)]
            self.common = load_npy(artifact_url(run, "induction_common"))
            self.map = load_npy(artifact_url(run, "induction_map"))
            self.intercept = (load_npy(artifact_url(run, "induction_intercept"))
                              if run.exists("induction_intercept.npy")
                              else np.zeros(self.map.shape[0]))
            k = int(cfg.senses.assign_max) or None
            self.sense_table = {w: (a[:k], c[:k]) for w, (a, c) in
                          read_sense_table(artifact_url(run, "senses")).items()}
            _atoms, self.atoms = read_atoms(artifact_url(run, "atoms"))
        else:
            self.windows = sorted({int(w) for w in cfg.senses.windows})
            self.common = load_npy(artifact_url(run, "common_directions"))
        self.inventory = {}
        if method == "inventory":  # the corpus' senses, as the inventory stage fitted them
            self.inventory = read_inventory(artifact_url(run, "sense_inventory"))
        self.width = max(self.windows)
        self.exclude_target = method != "atoms"

    # ------------------------------------------------------------------ vectors
    def _sums(self, ids, starts, ends, positions):
        """(sums, counts) of the segments' windows (:func:`tasks.assign.window_sums`)."""
        return window_sums(ids, starts, ends, positions, self.rows, self.windows)

    def _vectors(self, ids, starts, ends, positions):
        return blocks_from_sums(*self._sums(ids, starts, ends, positions), self.common)

    def vectors(self, enc, which):
        """Context vectors (len(which), D) of the usable occurrences ``which`` (indices
        into ``enc.rows``): the multi-scale blocks (cluster) or the SIF context vector
        of ``induce.window`` (atoms)."""
        return self._vectors(enc.ids, enc.starts[which], enc.ends[which],
                             enc.positions[which])

    def chunks(self, enc):
        """(indices into ``enc.rows``, their word codes, window sums and counts),
        :data:`CHUNK` at a time; with centres, a word's occurrences together (codes index
        ``enc_keys``: one scoring call per word and chunk, not one per word present in a
        chunk of shuffled lines); the atoms rule gets codes of -1."""
        order = np.arange(len(enc.rows))
        codes = np.full(len(enc.rows), -1, dtype=np.int64)
        if self.method != "atoms" and len(order):
            # codes in order of first appearance, as a dict would give them
            coded = pa.array(np.asarray(enc.keys, dtype=object)[enc.rows],
                             type=pa.string()).dictionary_encode()
            codes = coded.indices.to_numpy().astype(np.int64)
            order = np.argsort(codes, kind="stable")
            enc_keys = coded.dictionary.to_pylist()
        else:
            enc_keys = []
        for lo in range(0, len(enc.rows), CHUNK):
            which = order[lo:lo + CHUNK]
            yield (which, codes[which], enc_keys,
                   *self._sums(enc.ids, enc.starts[which], enc.ends[which],
                               enc.positions[which]))

    def background(self):
        """Multi-scale contexts of ``senses.background`` seeded random corpus positions,
        for the one-sense criterion (None when that is 0 or the run has no corpus)."""
        n = int(self.senses.background)
        if n and self.method == "cluster" and getattr(self, "_background", None) is None:
            self._background = self._background_vectors(n)
        return getattr(self, "_background", None) if n else None

    def _background_vectors(self, n):
        import fsspec

        from .artifacts.corpus import random_windows
        run, _m = open_run(self.run_dir)
        fs, root = fsspec.core.url_to_fs(artifact_url(run, "corpus"))
        if not fs.exists(root):
            return None
        ids, offsets, positions = [], [0], []
        for left, right in random_windows(fs, root, n, int(self.senses.seed), self.width):
            positions.append(len(ids) + len(left))
            ids += [self.index.get(t, -1) for t in left] + [-1]
            ids += [self.index.get(t, -1) for t in right]
            offsets.append(len(ids))
        offsets = np.array(offsets, dtype=np.int64)
        return self._vectors(np.array(ids, dtype=np.int64), offsets[:-1], offsets[1:],
                             np.array(positions, dtype=np.int64))

    # ------------------------------------------------------------------ sampling
    def group_key(self, item):
        """The cluster method's group of an item without tokenising its context (None
        when it has no target): its ``word``, else its marked text's tokens."""
        if item.error is not None or not isinstance(item.context, str):
            return None
        if isinstance(item.word, str) and item.word:
            return self.key(item.word)
        m = MARK_RE.search(item.context)
        return " ".join(tokenize(m.group(1), lowercase=self.lowercase)) if m else None

    def group_codes(self, cols):
        """:meth:`group_key` of every line of :class:`pipeline.batches.Columns`:
        (codes (n,) int64 indexing ``keys``, -1 for none; keys), the words looked up
        once per distinct spelling."""
        n = len(cols.orders)
        codes = np.full(n, -1, dtype=np.int64)
        keys, where = [], {}

        def code(key):
            c = where.get(key)
            if c is None:
                c = where[key] = len(keys)
                keys.append(key)
            return c

        if not is_text(cols.contexts.type):  # no line has a text context
            return codes, keys
        has_text = np.asarray(cols.contexts.is_valid())
        words = cols.words
        by_word = np.zeros(n, dtype=bool)
        if words is not None and is_text(words.type):
            enc = words.dictionary_encode()
            spell = [code(self.key(w)) if w else -1 for w in enc.dictionary.to_pylist()]
            idx = np.asarray(enc.indices.fill_null(-1), dtype=np.int64)
            got = np.append(np.array(spell, dtype=np.int64), -1)[idx]  # idx -1: null
            by_word = has_text & (got >= 0)
            codes[by_word] = got[by_word]
        rest = np.flatnonzero(has_text & ~by_word)
        if len(rest):
            marked = {}
            for i, text in zip(rest.tolist(), cols.contexts.take(pa.array(rest)).to_pylist()):
                m = MARK_RE.search(text)
                if m:
                    span = m.group(1)
                    if span not in marked:
                        marked[span] = code(" ".join(tokenize(span, lowercase=self.lowercase)))
                    codes[i] = marked[span]
        return codes, keys

    def candidates(self, items):
        """{key: (priorities, orders, (n, 0) array)}: each word's ``assign.sample_cap``
        items of smallest seeded priority (a hash of ``order``), so that merged
        (:func:`tasks.assign.merge_samples`) they do not depend on the partitioning.
        ``items``: a list of :class:`Item` or :class:`pipeline.batches.Columns`."""
        cap, seed = int(self.assign.sample_cap), int(self.senses.seed)
        if isinstance(items, Columns):
            codes, keys = self.group_codes(items)
            orders = items.orders
        else:
            keys, where, codes = [], {}, []
            for it in items:
                key = self.group_key(it)
                if key is not None and key not in where:
                    where[key] = len(keys)
                    keys.append(key)
                codes.append(-1 if key is None else where[key])
            codes = np.array(codes, dtype=np.int64)
            orders = np.array([it.order for it in items], dtype=np.int64)
        ok = np.flatnonzero(codes >= 0)
        codes, orders = codes[ok], orders[ok]
        prio = sample_priority(orders, seed)
        # by word, then priority; ties in input order (a stable sort)
        by = np.lexsort((prio, codes))
        codes, prio, orders = codes[by], prio[by], orders[by]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else []
        out = {}
        for lo, hi in zip(starts, list(starts[1:]) + [len(codes)]):
            hi = min(hi, lo + cap)
            out[keys[codes[lo]]] = (prio[lo:hi], orders[lo:hi],
                                    np.zeros((hi - lo, 0), np.float32))
        return out

    @staticmethod
    def chosen_rows(orders, chosen):
        """(rows, codes) of the lines whose ``orders`` ``chosen`` (:meth:`candidates`,
        merged) picked: their indices, grouped by word (``codes`` index ``list(chosen)``)
        and in input order within a word."""
        orders = np.asarray(orders, dtype=np.int64)
        picked = [o for _p, o, _x in chosen.values()]
        if not len(orders) or not picked:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        every = np.concatenate(picked)
        code = np.repeat(np.arange(len(picked)), [len(o) for o in picked])
        near = (every >= orders.min()) & (every <= orders.max())  # this partition's range
        every, code = every[near], code[near]
        s = np.argsort(every)
        every, code = every[s], code[s]
        at = np.minimum(np.searchsorted(every, orders), max(len(every) - 1, 0))
        rows = np.flatnonzero(every[at] == orders) if len(every) else np.zeros(0, np.int64)
        codes = code[at[rows]]
        o = np.argsort(codes, kind="stable")
        return rows[o], codes[o]

    def sample_segments(self, items, chosen):
        """{key: (orders, ids, lengths, offsets)}: the lines of ``items`` (a list of
        :class:`Item` or :class:`pipeline.batches.Columns`) that ``chosen`` picked, encoded;
        per word its usable lines' orders, their token ids one segment after another
        (int32), each segment's length and where the target sits in it. What a word's fit
        needs from a partition, as a few integer arrays (cheap to send between processes,
        unlike the texts)."""
        words = list(chosen)
        if isinstance(items, Columns):
            rows, want = self.chosen_rows(items.orders, chosen)
            flat = items.items(rows)
            take = pa.array(rows)
            enc = self.encode_columns(items.contexts.take(take), None if items.words is None
                                      else items.words.take(take), flat) if len(rows) else None
        else:
            rows, want = self.chosen_rows([it.order for it in items], chosen)
            flat = [items[i] for i in rows.tolist()]
            enc = self.encode(flat) if len(rows) else None
        if enc is None:
            return {}
        code = {key: c for c, key in enumerate(words)}
        got = np.array([code.get(enc.keys[i], -1) for i in enc.rows.tolist()], dtype=np.int64)
        keep = np.flatnonzero(got == want[enc.rows])  # the word it was picked for
        rows, starts, ends = enc.rows[keep], enc.starts[keep], enc.ends[keep]
        lengths = ends - starts
        seg_end = np.cumsum(lengths)
        ids = enc.ids[np.repeat(starts - (seg_end - lengths), lengths) +
                      np.arange(int(seg_end[-1]) if len(seg_end) else 0)].astype(np.int32)
        offsets = enc.positions[keep] - starts
        orders = np.array([flat[i].order for i in rows.tolist()], dtype=np.int64)
        bounds = np.searchsorted(got[keep], np.arange(len(words) + 1))
        out = {}
        for c, key in enumerate(words):
            lo, hi = int(bounds[c]), int(bounds[c + 1])
            if hi > lo:
                out[key] = (orders[lo:hi], ids[seg_end[lo] - lengths[lo]:seg_end[hi - 1]],
                            lengths[lo:hi], offsets[lo:hi])
        return out

    def segment_vectors(self, segments):
        """(orders, vectors float32) of a word's merged :meth:`sample_segments`, in input
        order, lines without a context vector left out; None when none is left."""
        orders, ids, lengths, offsets = segments
        order = np.argsort(orders, kind="stable")
        seg_end = np.cumsum(lengths)
        starts, ends = (seg_end - lengths)[order], seg_end[order]
        positions = starts + np.asarray(offsets)[order]
        ids = np.asarray(ids, dtype=np.int64)
        x = np.empty((len(order), len(self.windows) * self.rows.shape[1]), dtype=np.float32)
        for lo in range(0, len(order), CHUNK):
            part = slice(lo, lo + CHUNK)
            x[part] = self._vectors(ids, starts[part], ends[part], positions[part])
        nz = np.any(x != 0, axis=1)
        orders = np.asarray(orders)[order]
        if nz.all():
            return orders, x
        return (orders[nz], x[nz]) if nz.any() else None

    def sample(self, items, chosen):  # {key: (priorities, orders, vectors)}, in memory
        out = {}
        for key, segments in self.sample_segments(items, chosen).items():
            got = self.segment_vectors(segments)
            if got is not None:
                out[key] = (sample_priority(got[0], int(self.senses.seed)), *got)
        return out

    # ------------------------------------------------------------------ scoring
    def score(self, enc, centres=None):
        """(labels (n,), :class:`pipeline.batches.RowScores`, atoms) of the encoded items;
        -1: see ``enc.errors``."""
        n = len(enc.items)
        labels = np.full(n, -1, dtype=np.int64)
        scores = RowScores(n)
        atoms = [[] for _ in range(n)]
        for which, codes, keys, sums, counts in self.chunks(enc):
            if self.method == "atoms":
                x = blocks_from_sums(sums, counts, self.common)
                self._score_atoms(enc, which, x, labels, scores, atoms)
            else:
                self._score_centres(enc, which, codes, keys, sums, counts,
                                    centres or self.inventory, labels, scores, atoms)
        return labels, scores, atoms

    def _score_centres(self, enc, which, codes, keys, sums, counts, centres, labels, scores,
                       atoms):
        """Nearest centre of each row; with the inventory, ``atoms`` gets the chosen
        sense's naming atoms (its ``atom_ids``)."""
        # ``which`` is sorted by word code: each word's rows are one run
        cuts = np.flatnonzero(np.diff(codes)) + 1
        for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(codes)].tolist()):
            rows = enc.rows[which[lo:hi]]
            fit = centres.get(keys[codes[lo]])
            if fit is None:
                reason = (NOT_IN_INVENTORY if self.method == "inventory" else
                          "no context word with a vector")
                for i in rows.tolist():
                    enc.errors[i] = reason
                continue
            mean, cen = fit[:2]  # (mean, centres[, sense ids, shares] of the inventory)
            lab, sc = nearest_centres_from_sums(sums[lo:hi], counts[lo:hi], self.common, mean,
                                                cen)
            bad = lab < 0
            for i in rows[bad].tolist():
                enc.errors[i] = "no context word with a vector"
            labels[rows[~bad]] = lab[~bad]
            scores.set(rows[~bad], sc[~bad])
            if self.method == "inventory" and centres is self.inventory:
                links = centres.links(keys[codes[lo]])
                for i, j in zip(rows[~bad].tolist(), lab[~bad].tolist()):
                    atoms[i] = links[j]

    def _score_atoms(self, enc, which, x, labels, scores, atoms):
        empty = (np.zeros(0, np.int64), np.zeros(0))
        rows = enc.rows[which]
        cands = [self.sense_table.get(enc.words[i], empty) for i in rows]
        for i, (a, _c) in zip(rows, cands):
            atoms[i] = a
        nz = np.any(x != 0, axis=1)
        v = x @ self.map.T + self.intercept
        v[~nz] = 0.0
        lengths = np.array([len(a) for a, _c in cands], dtype=np.int64)
        flat_a = np.concatenate([a for a, _c in cands]) if lengths.sum() else np.zeros(0, int)
        flat_c = np.concatenate([c for _a, c in cands]) if lengths.sum() else np.zeros(0)
        best, _best_score, flat = score_senses_flat(v, self.atoms, flat_a, flat_c, lengths)
        scores.set_ragged(rows, lengths, flat)  # rows without a label are left out later
        for j, i in enumerate(rows):
            if best[j] < 0:
                enc.errors[i] = ("no sense: the word is not coded" if not lengths[j] else
                                 "no sense: no context word has a vector")
                continue
            labels[i] = int(best[j])

    def table(self, enc, centres=None):
        """The output rows (:data:`SCHEMA`) of the encoded items, in input order; with
        the inventory, words without an entry get the atoms rule (``method`` says so)."""
        t = self._table(enc, centres)
        missing = [i for i, e in enumerate(enc.errors) if e == NOT_IN_INVENTORY]
        if not missing:
            return t
        try:
            atoms = load_model(self.run_dir, "atoms", self.sets)
        except UsageError:  # the run has no atoms stage outputs: the rows keep their error
            return t
        sub = atoms.table(atoms.encode([enc.items[i] for i in missing]))
        keep = np.setdiff1d(np.arange(t.num_rows), missing)
        order = np.argsort(np.concatenate([keep, missing]), kind="stable")
        return pa.concat_tables([t.take(keep), sub]).take(order)

    def _table(self, enc, centres=None):
        labels, scores, atoms = self.score(enc, centres)
        return rows_table(enc.items, enc.words, self.method, labels, scores, atoms,
                          enc.errors, best="max" if self.method == "atoms" else "label")


def fit_batch(model, sample, background=None):
    """{key: (mean, centres)} fitted on a merged sample (rows in input order)."""
    s = model.senses
    out = {}
    for key, (_p, orders, x) in sample.items():
        rows = np.asarray(x)[np.argsort(orders, kind="stable")]
        mean, centres, _excess = fit_centres(rows, k=s.clusters, seed=s.seed, n_init=s.n_init,
                                             min_batch=s.min_batch, background=background,
                                             min_excess=s.min_excess, dims=s.fit_dims,
                                             rows_per_dim=s.fit_rows_per_dim, merge=s.merge)
        out[key] = (mean, centres)
    return out


def assign_items(model, items):
    """The output table of a batch held in memory (one partition): encoded, fitted on
    itself (cluster) and scored, as the partitioned path does with one partition."""
    centres = None
    if model.method == "cluster":
        sample = model.sample(items, model.candidates(items))
        centres = fit_batch(model, sample, model.background())
    return model.table(model.encode(items), centres)
