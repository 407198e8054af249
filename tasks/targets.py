"""Targets in text: the marked span or a word's first occurrence, and the tokens around it.

A target is the first ``<<...>>``-marked text (one token or several) or, without a
mark, the first occurrence of a word (:func:`word_forms`). :func:`target_windows`
gives the target's tokens and at most ``width`` tokens on each side, tokenised as
:func:`tasks.tokenize.tokenize` does the whole text: only the text near the target
is tokenised, cut at whitespace, which no token spans, so the tokens are the same.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .tokenize import tokenize

__all__ = ["MARK_RE", "locate", "target_windows", "word_forms"]

MARK_RE = re.compile(r"<<\s*([^<>]+?)\s*>>")
_SPACE = re.compile(r"\s")


def word_forms(word, *, lowercase):
    """Token sequences that count as ``word``: as tokenised, hyphens split, hyphen-joined.

    ``ballroom_dancing`` is the span ``ballroom dancing`` (the tokeniser splits at
    underscores); ``ice-cream`` also matches ``ice cream`` and ``ice cream`` the token
    ``ice-cream``. Raises ValueError when the word has no token.
    """
    seq = tokenize(word, lowercase=lowercase)
    if not seq:
        raise ValueError(f"target word {word!r} has no token")
    split = [p for t in seq for p in t.split("-")]
    return list(dict.fromkeys(tuple(x) for x in (seq, split, ["-".join(seq)])))


def locate(text, word=None, *, lowercase):
    """Tokens of ``text`` and the target's span [start, end) in them.

    The target is the first ``<<...>>``-marked text (one or several tokens), else the
    first occurrence of ``word`` (:func:`word_forms`). Raises ValueError with the
    reason when there is no target.
    """
    m = MARK_RE.search(text)
    if m:
        target = tokenize(m.group(1), lowercase=lowercase)
        if not target:
            raise ValueError(f"marked target {m.group(0)!r} has no token")
        before = tokenize(text[:m.start()], lowercase=lowercase)
        after = tokenize(text[m.end():], lowercase=lowercase)
        return before + target + after, len(before), len(before) + len(target)
    if not word:
        raise ValueError("no <<target>> marked in the text and no word given")
    tokens = tokenize(text, lowercase=lowercase)
    for seq in word_forms(word, lowercase=lowercase):
        k = len(seq)
        for i in range(len(tokens) - k + 1):
            if tuple(tokens[i:i + k]) == seq:
                return tokens, i, i + k
    raise ValueError(f"{word!r} does not occur in the text")


def _last_tokens(text, end, n, lowercase):
    """The last ``n`` tokens of ``text[:end]``, tokenising only as much as needed."""
    if n <= 0:
        return []
    size = 12 * n + 64
    while True:
        lo = end - size
        if lo <= 0:
            return tokenize(text[:end], lowercase=lowercase)[-n:]
        cut = _SPACE.search(text, lo, end)  # no token spans a whitespace character
        if cut is not None:
            tokens = tokenize(text[cut.start():end], lowercase=lowercase)
            if len(tokens) >= n:
                return tokens[-n:]
        size *= 2


def _first_tokens(text, start, n, lowercase):
    """The first ``n`` tokens of ``text[start:]``, tokenising only as much as needed."""
    if n <= 0:
        return []
    size = 12 * n + 64
    while True:
        hi = start + size
        if hi >= len(text):
            return tokenize(text[start:], lowercase=lowercase)[:n]
        cut = text.rfind(" ", start, hi)
        if cut < 0:
            m = None
            for m in _SPACE.finditer(text, start, hi):
                pass
            cut = -1 if m is None else m.start()
        if cut >= 0:
            tokens = tokenize(text[start:cut], lowercase=lowercase)
            if len(tokens) >= n:
                return tokens[:n]
        size *= 2


@lru_cache(maxsize=4096)
def _span_tokens(span, lowercase):  # a batch marks the same few words again and again
    return tuple(tokenize(span, lowercase=lowercase))


def target_windows(text, word=None, *, width, lowercase):
    """(left tokens, target tokens, right tokens) of the occurrence in ``text``.

    The same tokens :func:`locate` gives, at most ``width`` on each side. A marked
    target is found without tokenising the whole text; an unmarked ``word`` needs the
    whole text. Raises ValueError as :func:`locate`.
    """
    m = MARK_RE.search(text)
    if m is None:
        tokens, start, end = locate(text, word, lowercase=lowercase)
        return tokens[max(0, start - width):start], tokens[start:end], tokens[end:end + width]
    target = _span_tokens(m.group(1), lowercase)
    if not target:
        raise ValueError(f"marked target {m.group(0)!r} has no token")
    target = list(target)
    if "\u0130" in text:  # lowercasing may change lengths: tokenise whole pieces
        left = tokenize(text[:m.start()], lowercase=lowercase)[-width:] if width else []
        right = tokenize(text[m.end():], lowercase=lowercase)[:width]
        return left, target, right
    return (_last_tokens(text, m.start(), width, lowercase), target,
            _first_tokens(text, m.end(), width, lowercase))
