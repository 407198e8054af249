"""SIF context vectors of occurrences in new text, with a finished run's vocabulary,
weights, window and common components.

The definition is the context stage's, applied to one occurrence
(:func:`tasks.context.occurrence_context`): the mean of s(w') v_w' over the
tokens within ``cooc.window`` of the target that have a vector, and then the
same vector with the run's common components removed (what the induction map
takes).

    enc = ContextEncoder("outputs/default")
    enc.encode("the <<bank>> raised interest rates")        # marked target
    enc.encode("she sat on the river bank", word="bank")    # first occurrence
    enc.encode_tokens(["sat", "on", "the", "river"])         # a context token list
"""
from __future__ import annotations

import re

import numpy as np

from tasks.context import occurrence_context, remove_components, sif_weighted_vectors
from tasks.tokenize import tokenize

from .artifacts.tables import read_vectors, read_vocab
from .errors import InputError
from .runs import artifact_url, open_run
from .storage import load_npy

__all__ = ["ContextEncoder"]

_MARK = re.compile(r"<<\s*([^<>]+?)\s*>>")


class ContextEncoder:
    """Turns occurrences in text into the run's SIF context vectors.

    Parameters
    ----------
    run_dir : str
        A run directory (path or fsspec URL) with ``vocab.parquet``,
        ``embeddings.parquet`` and ``context_common.npy``.
    """

    def __init__(self, run_dir):
        run, manifest = open_run(run_dir, ["vocab", "embeddings", "common_directions"])
        cfg = manifest["config"]
        self.window = int(cfg["cooc"]["window"])
        self.lowercase = bool(cfg["corpus"]["lowercase"])
        vocab, total = read_vocab(artifact_url(run, "vocab"))
        emb, vectors = read_vectors(artifact_url(run, "embeddings"))
        counts = dict(zip(vocab["word"].to_pylist(), vocab["count"].to_numpy()))
        words = emb["word"].to_pylist()
        # rows as in embeddings.parquet: the words with a vector
        self.weighted, _ = sif_weighted_vectors(
            vectors, np.arange(len(words)), np.array([counts[w] for w in words]), total,
            a=float(cfg["context"]["sif_a"]))
        self.index = {w: i for i, w in enumerate(words)}
        self.common = load_npy(artifact_url(run, "common_directions"))

    def encode_tokens(self, context):
        """Context vector of a list of context tokens (the target not among them).

        Returns (raw vector (d,), vector with common components removed (d,),
        number of context tokens with a vector); vectors are None without any.
        """
        ids = [self.index[t] for t in context if t in self.index]
        if not ids:
            return None, None, 0
        raw = self.weighted[ids].mean(axis=0)
        return raw, remove_components(raw[None, :], self.common)[0], len(ids)

    def encode(self, text, word=None):
        """Context vector of one occurrence in ``text``.

        The target is the ``<<word>>``-marked token, else the first occurrence
        of ``word``. Returns a dict: word, position, context (tokens used),
        vector, vector_clean, n_context.
        """
        m = _MARK.search(text)
        if m:
            target = tokenize(m.group(1), lowercase=self.lowercase)
            if len(target) != 1:
                raise InputError(f"marked target {m.group(0)!r} is not one token")
            before = tokenize(text[:m.start()], lowercase=self.lowercase)
            after = tokenize(text[m.end():], lowercase=self.lowercase)
            tokens, position = before + target + after, len(before)
        else:
            if not word:
                raise InputError("no <<target>> marked in the text and no word given")
            tokens = tokenize(text, lowercase=self.lowercase)
            key = word.lower() if self.lowercase else word
            if key not in tokens:
                raise InputError(f"{word!r} does not occur in the text")
            position = tokens.index(key)
        lo, hi = max(0, position - self.window), position + self.window + 1
        context = tokens[lo:position] + tokens[position + 1:hi]
        raw = occurrence_context(tokens, position, self.index, self.weighted,
                                 window=self.window)
        n = sum(t in self.index for t in context)
        clean = None if raw is None else remove_components(raw[None, :], self.common)[0]
        return {"word": tokens[position], "position": position, "context": context,
                "vector": raw, "vector_clean": clean, "n_context": n}
