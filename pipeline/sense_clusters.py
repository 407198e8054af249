"""Batch sense assignment by clustering each word's occurrences (``wsi assign --method cluster``).

Occurrences in new text are read through :class:`pipeline.encoder.ContextEncoder`
(its target marking and tokenisation) with a window as wide as the widest of
``senses.windows``; each word's occurrences in the batch are clustered
together (transductive, as WSI benchmarks allow) by
:func:`tasks.sense_clusters.cluster_batch`, with the one-sense criterion's
background drawn from random positions of the run's corpus.

    model = ClusterModel("outputs/default")
    occ = model.occurrence("the <<bank>> raised rates")    # or raises InputError
    labels, scores, info = model.cluster([occ, ...])        # one word's batch
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import fsspec
import numpy as np

from tasks.sense_clusters import cluster_batch, multiscale_contexts, window_contexts

from .artifacts.corpus import list_shards, read_lines
from .config import load_config
from .encoder import ContextEncoder
from .runs import artifact_url, open_run

__all__ = ["ClusterModel", "Occurrence", "settings_of"]


def settings_of(run_dir):
    """The run's ``senses`` settings, defaults filling keys an older run lacks."""
    _run, manifest = open_run(run_dir)
    return load_config(base=manifest["config"]).senses


@dataclass(frozen=True)
class Occurrence:
    """One target occurrence: the target token and the tokens on each side (widest window)."""

    word: str
    left: tuple
    right: tuple


class ClusterModel:
    """A finished run's vectors for clustering batches of occurrences.

    Parameters
    ----------
    run_dir : str
    settings : SensesConfig or None
        None reads the run's (:func:`settings_of`).
    """

    def __init__(self, run_dir, settings=None, encoder=None):
        self.run_dir = run_dir
        self.settings = settings or settings_of(run_dir)
        base = encoder or ContextEncoder(run_dir)
        self.encoder = copy.copy(base)  # shares the arrays; only the window differs
        self.encoder.window = max(self.settings.windows)
        self.has_vector = np.ones(len(self.encoder.weighted), dtype=bool)
        self._background = None

    def key(self, word):
        return word.lower() if self.encoder.lowercase else word

    def occurrence(self, text, word=None):
        """The :class:`Occurrence` of the target in ``text`` (errors as the encoder's)."""
        r = self.encoder.encode(text, word)
        ctx, left_n = r["context"], min(r["position"], self.encoder.window)
        return Occurrence(r["word"], tuple(ctx[:left_n]), tuple(ctx[left_n:]))

    def _ids(self, tokens):
        index = self.encoder.index
        return [index.get(t, -1) for t in tokens]

    def _arrays(self, occurrences):
        """(ids, document offsets, target positions, target form ids) of a batch, each
        occurrence its own document."""
        ids, offsets, positions = [], [0], []
        for o in occurrences:
            positions.append(offsets[-1] + len(o.left))
            ids += self._ids(o.left) + [-1] + self._ids(o.right)
            offsets.append(len(ids))
        forms = {self.encoder.index[o.word] for o in occurrences if o.word in self.encoder.index}
        return (np.array(ids, dtype=np.int64), np.array(offsets, dtype=np.int64),
                np.array(positions, dtype=np.int64), sorted(forms))

    def vectors(self, occurrences):
        """Multi-scale context vectors (n, d * len(windows)) and context counts of
        ``occurrences``; the targets' own forms are never context."""
        ids, offsets, positions, forms = self._arrays(occurrences)
        return multiscale_contexts(ids, offsets, positions, self.encoder.weighted,
                                   self.has_vector, self.encoder.common,
                                   windows=self.settings.windows, exclude=forms)

    def window_vectors(self, occurrences, window):
        """Plain SIF context vectors of one window (common directions removed), as
        :meth:`vectors` (the k-means baseline's)."""
        ids, offsets, positions, forms = self._arrays(occurrences)
        return window_contexts(ids, offsets, positions, self.encoder.weighted,
                               self.has_vector, self.encoder.common, window=window,
                               exclude=forms)

    def background(self):
        """Multi-scale contexts of ``senses.background`` seeded random corpus positions
        (None when that is 0 or the run has no corpus)."""
        s = self.settings
        if s.background == 0:
            return None
        if self._background is None:
            run, _m = open_run(self.run_dir)
            fs, root = fsspec.core.url_to_fs(artifact_url(run, "corpus"))
            if not fs.exists(root):
                return None
            docs = [d for url in list_shards(fs, root) for d in read_lines(url).to_pylist()]
            lengths = np.array([d.count(" ") + 1 if d else 0 for d in docs], dtype=np.int64)
            ends = np.cumsum(lengths)
            rng = np.random.default_rng(s.seed)
            picks = np.sort(rng.choice(int(ends[-1]), min(s.background, int(ends[-1])),
                                       replace=False))
            doc = np.searchsorted(ends, picks, side="right")
            at = picks - (ends[doc] - lengths[doc])
            w = max(s.windows)
            occ = []
            for d, p in zip(doc, at):
                tokens = docs[d].split(" ")
                occ.append(Occurrence("", tuple(tokens[max(0, p - w):p]),
                                      tuple(tokens[p + 1:p + 1 + w])))
            self._background = self.vectors(occ)[0]
        return self._background

    def cluster(self, occurrences, *, k=None):
        """Sense labels of one word's batch.

        Returns labels (n,) (-1: no context token with a vector), scores (n,
        n_senses) cosines to every sense, and a dict (senses, excess, n).
        """
        s = self.settings
        x, _n = self.vectors(occurrences)
        labels, centroids, scores, excess = cluster_batch(
            x, k=k or s.clusters, seed=s.seed, n_init=s.n_init, min_batch=s.min_batch,
            background=self.background(), min_excess=s.min_excess)
        return labels, scores, {"senses": int(len(centroids)), "excess": excess,
                                "n": int(len(x))}
