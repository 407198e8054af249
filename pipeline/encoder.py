"""SIF context vectors of occurrences in new text, with a finished run's vocabulary,
weights, window and common components.

The definition is the context stage's, applied to one occurrence
(:func:`tasks.context.occurrence_context`): the mean of s(w') v_w' over the
tokens within ``cooc.window`` of the target that have a vector, and then the
same vector with the run's common components removed. With ``for_map=True``
the window is ``induce.window`` and the components are the induce stage's:
the input the induction map was fitted on (``wsi assign``, ``wsi induce``).

A target is one token or several (a phrase): ``<<interest rate>>`` marks a
two-token span; an unmarked ``word`` is found at its first occurrence as a
token sequence (``ballroom_dancing`` is the span ``ballroom dancing``, since
the tokeniser splits at underscores; a hyphenated ``ice-cream`` also matches
``ice cream``, and ``ice cream`` matches the token ``ice-cream``). A span's own
tokens are never its context.

    enc = ContextEncoder("outputs/default")
    enc.encode("the <<bank>> raised interest rates")        # marked target
    enc.encode("she sat on the river bank", word="bank")    # first occurrence
    enc.encode_tokens(["sat", "on", "the", "river"])         # a context token list
"""
from __future__ import annotations

from tasks.targets import locate
from tasks.context import occurrence_context, remove_components
from .artifacts.tables import read_sif_rows
from .errors import InputError
from .runs import artifact_url, open_run
from .storage import load_npy

__all__ = ["ContextEncoder"]


class ContextEncoder:
    """Turns occurrences in text into the run's SIF context vectors.

    Parameters
    ----------
    run_dir : str
        A run directory (path or fsspec URL) with ``vocab.parquet``,
        ``embeddings.parquet`` and ``context_common.npy`` (``induction_common.npy``
        with ``for_map``).
    for_map : bool
        Window and common components of the induction map's input instead of
        the context stage's.
    """

    def __init__(self, run_dir, *, for_map=False):
        common = "induction_common" if for_map else "common_directions"
        run, manifest = open_run(run_dir, ["vocab", "embeddings", common])
        cfg = manifest["config"]
        self.window = int(cfg["induce"]["window"] if for_map else cfg["cooc"]["window"])
        self.lowercase = bool(cfg["corpus"]["lowercase"])
        self.weighted, self.index = read_sif_rows(artifact_url(run, "vocab"),
                                                  artifact_url(run, "embeddings"),
                                                  cfg["context"]["sif_a"])
        self.common = load_npy(artifact_url(run, common))

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

    def locate(self, text, word=None):
        """Tokens of ``text`` and the target's span [start, end) in them
        (:func:`tasks.targets.locate`: the ``<<...>>``-marked text, else the first
        occurrence of ``word``).

        Raises
        ------
        InputError
            No mark and no word, an empty mark, or a word that does not occur.
        """
        try:
            return locate(text, word, lowercase=self.lowercase)
        except ValueError as e:
            raise InputError(str(e)) from None

    def span_context(self, tokens, start, end):
        """Context tokens of the span [start, end): ``window`` each side, the span left out."""
        return tokens[max(0, start - self.window):start] + tokens[end:end + self.window]

    def encode(self, text, word=None):
        """Context vector of one occurrence in ``text``.

        The target is the ``<<word>>``-marked token(s), else the first
        occurrence of ``word``. Returns a dict: word (the target's tokens
        joined by spaces), position (its first token), length (its tokens),
        context (tokens used), vector, vector_clean, n_context.
        """
        tokens, start, end = self.locate(text, word)
        context = self.span_context(tokens, start, end)
        if end - start == 1:
            raw = occurrence_context(tokens, start, self.index, self.weighted,
                                     window=self.window)
        else:
            raw, _clean, _n = self.encode_tokens(context)
        n = sum(t in self.index for t in context)
        clean = None if raw is None else remove_components(raw[None, :], self.common)[0]
        return {"word": " ".join(tokens[start:end]), "position": start, "length": end - start,
                "context": context, "vector": raw, "vector_clean": clean, "n_context": n}
