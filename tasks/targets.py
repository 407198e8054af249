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

import numba
import numpy as np

from .line_tokens import ascii_token_end, is_ascii_alnum
from .tokenize import tokenize

__all__ = ["MARK_RE", "locate", "target_windows", "word_forms", "marked_windows"]

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


# -- a partition at once (ASCII lines) ---------------------------------------------------

def marked_windows(data, starts, ends, width, *, lowercase):
    """:func:`target_windows` of many marked texts at once, for the ASCII ones.

    Parameters
    ----------
    data : ndarray of uint8
        The texts' UTF-8 bytes, one after another (an Arrow string column's data).
    starts, ends : ndarray of shape (n,), int
        Text i is ``data[starts[i]:ends[i]]``.
    width : int
    lowercase : bool

    Returns
    -------
    done : ndarray of shape (n,), bool
        The texts handled here: pure ASCII, with a ``<<...>>`` mark whose text has a
        token. The others (non-ASCII, unmarked, an empty mark) are left to
        :func:`target_windows`, which gives their tokens or their error.
    n_left, n_right : ndarray of shape (n,), int64
        How many tokens each done text has left and right of its target (<= width).
    tokens : (offsets (T + 1,) int64, bytes (B,) uint8)
        Every done text's left then right tokens, one after another, as an Arrow
        string column's buffers.
    targets : (offsets (n + 1,) int64, bytes uint8)
        Each text's target tokens joined by spaces (empty when not done).

    The tokens are :func:`tasks.tokenize.tokenize`'s: on ASCII text, runs of
    [A-Za-z0-9] joined by one ' or - between two of them; the mark is
    :data:`MARK_RE`'s first match (the first ``<<`` followed by text without
    ``<`` or ``>`` and then ``>>``).
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    if lowercase:
        upper = (data >= 65) & (data <= 90)
        data = data + (upper.astype(np.uint8) << 5)
    return _marked_windows(data, starts, ends, int(width))


@numba.njit(cache=True, nogil=True)
def _marked_windows(data, starts, ends, width):
    n = starts.size
    done = np.zeros(n, np.bool_)
    n_left = np.zeros(n, np.int64)
    n_right = np.zeros(n, np.int64)
    tok_off = np.zeros(n * 2 * width + 1, np.int64)
    size = 0
    for i in range(n):
        size += max(ends[i] - starts[i], 0)
    tok = np.empty(size, np.uint8)
    tgt_off = np.zeros(n + 1, np.int64)
    tgt = np.empty(size, np.uint8)
    ring_s = np.empty(max(width, 1), np.int64)
    ring_e = np.empty(max(width, 1), np.int64)
    n_tok, at, t_at = 0, 0, 0
    for i in range(n):
        lo, hi = starts[i], ends[i]
        tgt_off[i + 1] = t_at
        ascii_ = True
        for q in range(lo, hi):
            if data[q] >= 128:
                ascii_ = False
                break
        if not ascii_:
            continue
        m_start, k = -1, -1  # the first <<...>>: mark start and the first '>' of '>>'
        for q in range(lo, hi - 1):
            if data[q] == 60 and data[q + 1] == 60:
                k = q + 2
                while k < hi and data[k] != 60 and data[k] != 62:
                    k += 1
                if k > q + 2 and k + 1 < hi and data[k] == 62 and data[k + 1] == 62:
                    m_start = q
                    break
        if m_start < 0:
            continue
        # the target: tokens of the mark's text joined by spaces; none: not done here
        t0 = t_at
        q = m_start + 2
        while q < k:
            if is_ascii_alnum(data[q]):
                e = ascii_token_end(data, q, k)
                if t_at > t0:
                    tgt[t_at] = 32
                    t_at += 1
                for c in range(q, e):
                    tgt[t_at] = data[c]
                    t_at += 1
                q = e
            else:
                q += 1
        if t_at == t0:
            continue
        tgt_off[i + 1] = t_at
        done[i] = True
        # left: the last `width` tokens before the mark (a ring of the latest)
        seen = 0
        q = lo
        while q < m_start:
            if is_ascii_alnum(data[q]):
                e = ascii_token_end(data, q, m_start)
                if width > 0:
                    ring_s[seen % width] = q
                    ring_e[seen % width] = e
                seen += 1
                q = e
            else:
                q += 1
        keep = min(seen, width)
        for j in range(seen - keep, seen):
            s, e = ring_s[j % width], ring_e[j % width]
            for c in range(s, e):
                tok[at] = data[c]
                at += 1
            n_tok += 1
            tok_off[n_tok] = at
        n_left[i] = keep
        # right: the first `width` tokens after it
        q = k + 2
        got = 0
        while q < hi and got < width:
            if is_ascii_alnum(data[q]):
                e = ascii_token_end(data, q, hi)
                for c in range(q, e):
                    tok[at] = data[c]
                    at += 1
                n_tok += 1
                tok_off[n_tok] = at
                got += 1
                q = e
            else:
                q += 1
        n_right[i] = got
    return done, n_left, n_right, (tok_off[:n_tok + 1], tok[:at]), (tgt_off, tgt[:t_at])
