"""Vectors for new words and phrases from a few contexts, with a finished run's induction map.

The vector of a target given contexts c_1..c_n is the induce stage's
definition applied to them: the pooled SIF average ũ of the ``induce.window``
tokens each side of the target in every context (the target's own tokens
left out, :func:`tasks.induce.span_context_sums`), the run's common
components removed, v̂ = A ũ + b, and each component block rescaled as the
run's induced vectors are. Targets are found by
:meth:`pipeline.encoder.ContextEncoder.locate` (``<<marked phrase>>`` or the
first occurrence of a given word).

    ind = Inducer("outputs/default")
    r = ind.induce(["a <<zorbing>> ball rolled down the hill", "we went <<zorbing>>"])
    r["vector"]       # ndarray (n_dims,), float64
    rows = ind.induce_batch([{"id": 1, "word": "ice cream", "contexts": ["..."]}, ...])
"""
from __future__ import annotations

import numpy as np

from tasks.context import remove_components
from tasks.induce import apply_map, pool_contexts, rescale_blocks, span_context_sums

from .encoder import ContextEncoder
from .errors import InputError
from .runs import artifact_url, open_run
from .storage import load_npy

__all__ = ["Inducer"]

_NEEDED = ["induction_map", "induction_intercept", "induction_common", "induction_blocks"]


class Inducer:
    """Induces vectors in a run's embedding space from user-supplied contexts.

    Parameters
    ----------
    run_dir : str
        A run directory (path or fsspec URL) whose induce stage has run.
    """

    def __init__(self, run_dir):
        run, _manifest = open_run(run_dir, _NEEDED)
        self.encoder = ContextEncoder(run_dir, for_map=True)
        self.map = load_npy(artifact_url(run, "induction_map"))
        self.intercept = load_npy(artifact_url(run, "induction_intercept"))
        self.blocks = load_npy(artifact_url(run, "induction_blocks"))
        self.n_dims = self.map.shape[0]

    def induce(self, contexts, word=None):
        """Vector of one target from its contexts.

        Parameters
        ----------
        contexts : list of str
            Texts with the target marked ``<<...>>``, or unmarked when ``word``
            is given (its first occurrence in each).
        word : str or None

        Returns
        -------
        dict with word, vector (ndarray (n_dims,), float64), n_contexts (contexts
        where the target was found), n_context_words (context tokens with a vector).

        Raises
        ------
        InputError
            When no vector can be induced (see :meth:`induce_batch`'s errors).
        """
        row = self.induce_batch([{"word": word, "contexts": contexts}])[0]
        if row["error"]:
            raise InputError(row["error"])
        return row

    def induce_batch(self, items):
        """One result per item, never raising for a bad item.

        Parameters
        ----------
        items : iterable of dict
            ``{"id": ..., "contexts": [str, ...], "word": str (optional)}``.

        Returns
        -------
        list of dict with id, word, vector (None on error), n_contexts,
        n_context_words and error (None, or why no vector: no contexts, no
        context contains the target, no context word has a vector).
        """
        rows, tokens, spans, group = [], [], [], []
        for item in items:
            word = item.get("word")
            row = {"id": item.get("id"), "word": word if isinstance(word, str) else None,
                   "vector": None,
                   "n_contexts": 0, "n_context_words": 0, "error": None}
            rows.append(row)
            found = self._locate(item, row)
            for toks, start, end in found:
                tokens.append(toks)
                spans.append((start, end))
                group.append(len(rows) - 1)
            row["n_contexts"] = len(found)
        if tokens:
            self._fill(rows, tokens, spans, np.array(group, dtype=np.int64))
        return rows

    def _locate(self, item, row):
        """[(tokens, start, end)] of the item's contexts that contain the target; sets
        row["error"] when none does."""
        contexts, word = item.get("contexts"), item.get("word")
        if word is not None and not isinstance(word, str):
            row["error"] = f'"word" must be a string, got {type(word).__name__}'
            return []
        if not isinstance(contexts, list) or not contexts:
            row["error"] = 'expected "contexts": a non-empty list of strings'
            return []
        found, first_error = [], None
        for k, text in enumerate(contexts):
            if not isinstance(text, str):
                first_error = first_error or f"contexts[{k}] is not a string"
                continue
            try:
                found.append(self.encoder.locate(text, word))
            except InputError as e:
                first_error = first_error or f"contexts[{k}]: {e}"
        if not found:
            row["error"] = f"no context has the target ({first_error})"
        elif row["word"] is None:
            toks, start, end = found[0]
            row["word"] = " ".join(toks[start:end])
        return found

    def _fill(self, rows, tokens, spans, group):
        index = self.encoder.index
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        ids = np.array([index.get(t, -1) for toks in tokens for t in toks], dtype=np.int64)
        spans = np.asarray(spans, dtype=np.int64)
        weighted = self.encoder.weighted
        sums, n = span_context_sums(ids, offsets, offsets[:-1] + spans[:, 0],
                                    offsets[:-1] + spans[:, 1], weighted,
                                    np.ones(len(weighted), dtype=bool),
                                    window=self.encoder.window)
        u, n_tokens = pool_contexts(sums, n, group, n_groups=len(rows))
        vectors = apply_map(self.map, remove_components(u, self.encoder.common), self.intercept)
        if len(self.blocks):
            vectors = rescale_blocks(vectors, self.blocks)
        for k, row in enumerate(rows):
            row["n_context_words"] = int(n_tokens[k])
            if row["error"]:
                continue
            if n_tokens[k] == 0:
                row["error"] = (f"no word within {self.encoder.window} tokens of the target has "
                                "a vector in this run")
            else:
                row["vector"] = vectors[k]
