"""Encoding a partition of marked occurrences: each usable line's target, its group
key and its context tokens as one id array, the arguments of
:func:`tasks.assign.window_sums`.

Marked ASCII texts (nearly every line of a WSI batch) are tokenised in one pass over
the Arrow column's bytes (:func:`tasks.targets.marked_windows`); every other line
(non-ASCII, unmarked with a "word" field, bad) one at a time
(:func:`tasks.targets.target_windows`), with the same tokens, target and key.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pyarrow as pa

from tasks.targets import marked_windows, target_windows

__all__ = ["Encoded", "EncodeMixin", "is_text"]


@dataclass
class Encoded:
    """A partition encoded: per item an error (None when usable), the target's tokens
    joined by spaces and its key (cluster: the word's group; atoms: its sense-table
    entry); ``rows`` are the usable items' indices, and ``ids``/``starts``/``ends``/
    ``positions`` their tokens (:func:`tasks.assign.window_sums`'s arguments), from
    which :meth:`AssignModel.vectors` computes context vectors a chunk at a time."""

    items: list
    errors: list
    words: list
    keys: list
    rows: np.ndarray
    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    positions: np.ndarray


def is_text(t):  # Arrow string columns, as JSON, pandas (string) or polars (large) write them
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


class EncodeMixin:
    """Encoding for a model that has ``index`` (word -> vocabulary row), ``width`` (the
    widest window), ``lowercase``, ``method`` (``"atoms"``: the marked form is the key),
    ``inventory`` (forms with their own senses) and ``exclude_target`` (a word's own
    forms are never its context)."""

    def key(self, word):  # a word as the run's vocabulary spells it
        return word.lower() if self.lowercase else word

    def group_of(self, word, given):
        """The key an occurrence of the marked text ``word`` with "word" field ``given``
        is scored under: the given word as the vocabulary spells it (its marked form
        under the atoms rule); with the inventory method, the form's own senses first."""
        key = self.key(given) if (given and self.method != "atoms") else word
        if self.method == "inventory" and word in self.inventory:
            key = word
        return key

    def _own(self, word, key):  # the ids of an occurrence's own forms (-1: none)
        return self.index.get(word, -1), self.index.get(key, -1)

    def encode(self, items):
        """Context vectors of a partition of :class:`Item`; see :class:`Encoded`."""
        usable = [it.error is None and isinstance(it.context, str) and
                  (it.word is None or isinstance(it.word, str)) for it in items]
        contexts = pa.array([it.context if ok else None for it, ok in zip(items, usable)],
                            pa.large_string())
        words = pa.array([it.word if ok else None for it, ok in zip(items, usable)],
                         pa.large_string())
        return self.encode_columns(contexts, words, items)

    def encode_lines(self, items):
        """:meth:`encode` one line at a time (:func:`tasks.targets.target_windows`)."""
        errors, words, keys, rows = [], [], [], []
        tokens, lengths, positions, skips = [], [], [], []
        index, width, lower = self.index, self.width, self.lowercase
        at = 0
        for i, it in enumerate(items):
            err, word, key = it.error, None, None
            if err is None:
                try:
                    text, w = it.context, it.word
                    if not isinstance(text, str) or not text.strip():
                        raise ValueError('expected a non-empty "context" text')
                    if w is not None and not isinstance(w, str):
                        raise ValueError('"word" must be a string')
                    left, target, right = target_windows(text, w, width=width,
                                                         lowercase=lower)
                except ValueError as e:
                    err = str(e)
                else:
                    word = " ".join(target)
                    key = self.group_of(word, w)
                    positions.append(at + len(left))
                    tokens += left
                    tokens.append(None)  # the target's place: no context
                    tokens += right
                    n = len(left) + 1 + len(right)
                    at += n
                    lengths.append(n)
                    skips.append(self._own(word, key))
                    rows.append(i)
            errors.append(err)
            words.append(word)
            keys.append(key)
        # every token looked up at once (map with a default: no Python frame per token)
        ids = np.fromiter(map(index.get, tokens, repeat(-1)), dtype=np.int64,
                          count=len(tokens))
        lengths = np.array(lengths, dtype=np.int64)
        if self.exclude_target:
            _drop_own(ids, skips, lengths)
        ends = np.cumsum(lengths)
        return Encoded(list(items), errors, words, keys, np.array(rows, dtype=np.int64),
                       ids, ends - lengths, ends, np.array(positions, dtype=np.int64))

    def encode_columns(self, contexts, words, items):
        """:meth:`encode` of ``items`` given their ``context`` and ``word`` Arrow columns
        (``words`` may be None): the marked ASCII texts (nearly every line of a WSI batch)
        tokenised in one pass over the column's bytes (:func:`tasks.targets.marked_windows`,
        the same tokens) and looked up in one Arrow call; the other lines one at a time
        (:meth:`encode_lines`). Segments may lie in another order in ``ids`` than
        ``encode_lines`` puts them; each row's tokens are the same."""
        import pyarrow.compute as pc
        given_words = words
        if not is_text(contexts.type) or (words is not None and not is_text(words.type)):
            return self.encode_lines(items)
        ctx = contexts.cast(pa.large_string())
        n = len(ctx)
        if not n:
            return self.encode_lines(items)
        off = np.frombuffer(ctx.buffers()[1], np.int64)[ctx.offset:ctx.offset + n + 1]
        data = ctx.buffers()[2]
        data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
        ends = np.where(ctx.is_valid().to_numpy(zero_copy_only=False), off[1:], off[:-1])
        done, n_left, n_right, toks, targets = marked_windows(
            data, off[:-1], ends, self.width, lowercase=self.lowercase)
        fast, slow = np.flatnonzero(done), np.flatnonzero(~done)
        enc = self.encode_lines([items[i] for i in slow]) if len(slow) else None
        errors, words, keys = [None] * n, [None] * n, [None] * n
        if enc is not None:
            for j, i in enumerate(slow.tolist()):
                errors[i], words[i], keys[i] = enc.errors[j], enc.words[j], enc.keys[j]
        if not len(fast):
            return Encoded(list(items), errors, words, keys, slow[enc.rows], enc.ids,
                           enc.starts, enc.ends, enc.positions)
        tok = pa.LargeStringArray.from_buffers(len(toks[0]) - 1, pa.py_buffer(toks[0]),
                                               pa.py_buffer(toks[1]))
        keys_set, row_of = self._index_arrays()
        found = pc.fill_null(pc.index_in(tok, value_set=keys_set), -1).to_numpy(
            zero_copy_only=False)
        tok_ids = np.where(found >= 0, row_of[np.maximum(found, 0)], -1)
        span = pa.LargeStringArray.from_buffers(n, pa.py_buffer(targets[0]),
                                                pa.py_buffer(targets[1]))
        given = given_words.take(pa.array(fast)).to_pylist() if given_words is not None \
            else [None] * len(fast)
        key_of, own = {}, []
        for i, word, w in zip(fast.tolist(), span.take(pa.array(fast)).to_pylist(), given):
            got = key_of.get((word, w))
            if got is None:
                kk = self.group_of(word, w)
                got = key_of[(word, w)] = (kk, self._own(word, kk))
            words[i], keys[i] = word, got[0]
            own.append(got[1])
        # each fast line's segment: left tokens, the target's place (-1), right tokens
        nl, nr = n_left[fast], n_right[fast]
        lengths = nl + 1 + nr
        seg_end = np.cumsum(lengths)
        seg_start = seg_end - lengths
        line = np.repeat(np.arange(len(fast)), nl + nr)
        first = np.cumsum(nl + nr) - (nl + nr)
        j = np.arange(len(tok_ids)) - first[line]
        ids = np.full(int(seg_end[-1]), -1, dtype=np.int64)
        ids[seg_start[line] + j + (j >= nl[line])] = tok_ids
        if self.exclude_target:
            _drop_own(ids, own, lengths)
        rows, starts, ends_, positions = fast, seg_start, seg_end, seg_start + nl
        if enc is not None:
            shift = len(ids)
            rows = np.concatenate([fast, slow[enc.rows]])
            ids = np.concatenate([ids, enc.ids])
            starts = np.concatenate([starts, enc.starts + shift])
            ends_ = np.concatenate([ends_, enc.ends + shift])
            positions = np.concatenate([positions, enc.positions + shift])
        order = np.argsort(rows, kind="stable")  # rows in item order, as encode gives them
        return Encoded(list(items), errors, words, keys, rows[order], ids, starts[order],
                       ends_[order], positions[order])

    def _index_arrays(self):
        """The vocabulary index as (Arrow words, their rows), for one lookup call."""
        if getattr(self, "_index_cache", None) is None:
            self._index_cache = (pa.array(list(self.index), pa.large_string()),
                                 np.fromiter(self.index.values(), dtype=np.int64,
                                             count=len(self.index)))
        return self._index_cache


def _drop_own(ids, own, lengths):
    """Set to -1, in place, each segment's tokens that are one of its occurrence's own
    forms (``own``: a pair of ids per segment; ``lengths``: the segments' lengths): a
    word is never its own context."""
    if len(ids):
        own = np.repeat(np.asarray(own, dtype=np.int64).reshape(-1, 2), lengths, axis=0)
        ids[(ids >= 0) & ((ids == own[:, 0]) | (ids == own[:, 1]))] = -1
