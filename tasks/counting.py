"""Word counting, vocabulary selection and token encoding on Arrow arrays.

The tokenised corpus is text with one document per line and tokens joined
by single spaces. These kernels split such lines with Arrow's compute
functions (C++, no Python loop per token) and work on plain arrays:

- ``count_words(lines)`` -> table ``word: string, count: int64``
- ``merge_counts(*tables)`` -> the same table, summed by word
- ``select_vocab(table, min_count, max_size)`` -> ordered vocabulary
- ``encode_lines(lines, vocab_words)`` -> ``(ids int32[n_tokens], doc_offsets int64[n_docs + 1])``
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["count_words", "merge_counts", "select_vocab", "encode_lines", "split_tokens",
           "VOCAB_SCHEMA"]

VOCAB_SCHEMA = pa.schema([("word", pa.string()), ("id", pa.int32()), ("count", pa.int64())])
_COUNT_SCHEMA = pa.schema([("word", pa.string()), ("count", pa.int64())])


def split_tokens(lines):
    """Split space-joined documents into tokens.

    Parameters
    ----------
    lines : sequence of str or pyarrow string array, length n_docs
        Documents, tokens separated by single spaces, no empty tokens.

    Returns
    -------
    tokens : pyarrow.LargeStringArray (StringArray for a string array input), shape (n_tokens,)
    doc_offsets : numpy.ndarray of int64, shape (n_docs + 1,)
        Tokens of document d are ``tokens[doc_offsets[d]:doc_offsets[d+1]]``.
    """
    arr = pa.array(lines, type=pa.large_string()) if not isinstance(lines, pa.Array) else lines
    arr = pc.utf8_rtrim(arr, characters="\n")
    lists = pc.split_pattern(arr, " ")
    # An empty line splits into one empty token: drop those.
    flat = pc.list_flatten(lists)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    if len(flat) and pc.any(pc.equal(pc.utf8_length(flat), 0)).as_py():
        nonempty = pc.greater(pc.utf8_length(flat), 0)
        parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
        keep = nonempty.to_numpy(zero_copy_only=False)
        lengths = np.bincount(parents[keep], minlength=len(arr))
        flat = pc.filter(flat, nonempty)
    offsets = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return flat, offsets


def count_words(lines):
    """Count tokens of space-joined documents.

    Returns
    -------
    pyarrow.Table with columns ``word: string, count: int64``, one row per distinct word.
    """
    tokens, _ = split_tokens(lines)
    if len(tokens) == 0:
        return _COUNT_SCHEMA.empty_table()
    vc = pc.value_counts(tokens)
    return pa.table({"word": pc.cast(vc.field("values"), pa.string()),
                     "count": pc.cast(vc.field("counts"), pa.int64())})


def merge_counts(*tables):
    """Sum word-count tables (as produced by :func:`count_words`) by word."""
    tables = [t.select(["word", "count"]).cast(_COUNT_SCHEMA) for t in tables]
    if not tables:
        return _COUNT_SCHEMA.empty_table()
    merged = pa.concat_tables(tables)
    out = merged.group_by("word").aggregate([("count", "sum")])
    return pa.table({"word": out["word"], "count": out["count_sum"]}, schema=_COUNT_SCHEMA)


def select_vocab(counts, *, min_count, max_size=None):
    """Order words by count descending then word ascending (code points) and assign ids.

    Parameters
    ----------
    counts : pyarrow.Table ``word, count``
    min_count : int
        Words seen fewer times are dropped.
    max_size : int or None
        Keep at most this many of the most frequent words.

    Returns
    -------
    pyarrow.Table with schema :data:`VOCAB_SCHEMA`; ids are 0..V-1 in row order.
    """
    counts = counts.filter(pc.greater_equal(counts["count"], min_count))
    order = pc.sort_indices(counts, sort_keys=[("count", "descending"), ("word", "ascending")])
    counts = counts.take(order)
    if max_size is not None:
        counts = counts.slice(0, max_size)
    return pa.table({"word": pc.cast(counts["word"], pa.string()),
                     "id": pa.array(np.arange(counts.num_rows, dtype=np.int32)),
                     "count": pc.cast(counts["count"], pa.int64())}, schema=VOCAB_SCHEMA)


def encode_lines(lines, vocab_words):
    """Map the tokens of space-joined documents to vocabulary ids.

    Parameters
    ----------
    lines : sequence of str, length n_docs
    vocab_words : pyarrow.StringArray, shape (V,)
        Word of id i at position i.

    Returns
    -------
    ids : numpy.ndarray of int32, shape (n_tokens,)
        Vocabulary id of every token, -1 for tokens outside the vocabulary
        (they keep their position in the document).
    doc_offsets : numpy.ndarray of int64, shape (n_docs + 1,)
    """
    tokens, offsets = split_tokens(lines)
    if len(tokens) == 0:
        return np.empty(0, dtype=np.int32), offsets
    idx = pc.index_in(pc.cast(tokens, pa.string()), value_set=vocab_words)
    ids = pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return ids, offsets
