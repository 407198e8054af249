"""Line documents tokenised straight from their bytes, in the shards' format.

:func:`iter_line_tokens` gives what :func:`tasks.tokenize.iter_line_docs`
followed by :func:`tasks.tokenize.tokenize` and ``" ".join(tokens) + "\\n"``
give for every document with a token, but in chunks of many documents at a
time: an ASCII line no longer than ``max_chars`` is tokenised by a numba
kernel over the raw bytes (on ASCII text the token pattern is
``[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*``, found after lowercasing, which on ASCII
moves no boundary), with no Python string per line or per token. Any other
line (a byte >= 128, or too long) goes the Python way: decoded, cut at spaces
when too long, and tokenised by the Unicode pattern. Only for UTF-8 or ASCII
input, whose ASCII bytes are the characters themselves.

On the shared English corpora this is ~10x faster than the Python path,
which spent most of its time in a regex call and string operations per line.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .tokenize import continued, iter_line_docs, line_blocks, split_long, tokenize

__all__ = ["TokenChunk", "iter_line_tokens", "tokenize_lines", "load_kernel"]


@dataclass
class TokenChunk:
    """Documents in the shard format: ``data[ends[i - 1]:ends[i]]`` is document i
    (its tokens joined by spaces, then a newline), with ``tokens[i]`` tokens;
    ``empty`` documents without a token were dropped."""

    data: object  # bytes-like
    ends: np.ndarray
    tokens: np.ndarray
    empty: int


def iter_line_tokens(f, *, decode, max_chars, stats, block, lowercase=True, end=None,
                     seekable=True):
    """Tokenised documents of a binary stream of lines, as :class:`TokenChunk`.

    Arguments as :func:`tasks.tokenize.iter_line_docs` (``block`` required);
    ``seekable`` as :func:`tasks.tokenize.line_blocks` (false for a
    decompressing reader). ``stats.split_documents`` and
    ``stats.decode_errors`` are counted here, documents and tokens are left to
    the caller (each chunk says them).
    """
    limit = max(1, max_chars)
    for raw, final in line_blocks(f, block=block, limit=limit, end=end, seekable=seekable):
        if raw is None:  # a long line: the rest a line at a time
            pending = final
            docs = iter_line_docs(continued(f, pending), decode=decode, max_chars=max_chars,
                                  end=end, stats=stats)
            yield from _python_chunks(docs, lowercase, 1 << 20)  # a line at a time
            return
        yield tokenize_lines(raw, final=final, lowercase=lowercase, max_chars=max_chars,
                             decode=decode, stats=stats)


def tokenize_lines(raw, *, final, lowercase, max_chars, decode, stats):
    """The documents of whole lines ``raw`` (bytes) as one :class:`TokenChunk`.

    Every line is one document (cut into several when longer than
    ``max_chars`` characters), the last one possibly without its newline.
    ``decode`` sees only the lines the kernel left (the non-ASCII or long
    ones), each with its newline, so invalid byte sequences are counted as
    when the whole block is decoded.
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    n_lines = raw.count(b"\n") + 1
    out = np.empty(len(buf) + 1, np.uint8)
    ends = np.empty(n_lines, np.int64)
    tokens = np.empty(n_lines, np.int64)
    slow = np.empty((n_lines, 3), np.int64)
    n_docs, n_bytes, n_slow, empty = _ascii_lines(buf, lowercase, max_chars, out, ends,
                                                  tokens, slow)
    if n_slow == 0:
        return TokenChunk(memoryview(out)[:n_bytes], ends[:n_docs], tokens[:n_docs], empty)
    # Stitch the kernel's documents and the Python-tokenised ones in line order.
    parts, all_ends, all_tokens = [], [], []
    size = done = at = 0  # output bytes so far; kernel documents and bytes consumed
    for start, stop, before in slow[:n_slow].tolist():
        if before > done:
            upto = int(ends[before - 1])
            parts.append(memoryview(out)[at:upto])
            all_ends += (ends[done:before] - at + size).tolist()
            all_tokens += tokens[done:before].tolist()
            size += upto - at
            done, at = before, upto
        text = decode(raw[start:stop], final=final and stop == len(raw))
        if text.endswith("\n"):
            text = text[:-1]
        pieces, rest = split_long(text, max_chars)
        stats.split_documents += len(pieces)
        lines, counts, none = _encode_docs(pieces + [rest], lowercase)
        empty += none
        for line in lines:
            parts.append(line)
            size += len(line)
            all_ends.append(size)
        all_tokens += counts
    if n_docs > done:
        parts.append(memoryview(out)[at:n_bytes])
        all_ends += (ends[done:n_docs] - at + size).tolist()
        all_tokens += tokens[done:n_docs].tolist()
    return TokenChunk(b"".join(parts), np.array(all_ends, np.int64),
                      np.array(all_tokens, np.int64), empty)


def load_kernel():
    """Load the kernel (from numba's cache) now, with numba's own set-up (~0.17 s
    in a process's first numba call): a process that forks workers calls it first."""
    _ascii_lines(np.zeros(0, np.uint8), True, 1, np.zeros(1, np.uint8), np.zeros(1, np.int64),
                 np.zeros(1, np.int64), np.zeros((1, 3), np.int64))


def _encode_docs(docs, lowercase):
    """The Python path: (shard lines as bytes, their token counts, documents without a token)."""
    lines, counts, empty = [], [], 0
    for doc in docs:
        toks = tokenize(doc, lowercase=lowercase)
        if toks:
            lines.append((" ".join(toks) + "\n").encode("utf-8"))
            counts.append(len(toks))
        else:
            empty += 1
    return lines, counts, empty


def _python_chunks(docs, lowercase, size):
    """Documents (str) tokenised one by one, in chunks of about ``size`` characters."""
    batch, chars = [], 0
    for doc in docs:
        batch.append(doc)
        chars += len(doc)
        if chars >= size:
            yield _chunk(*_encode_docs(batch, lowercase))
            batch, chars = [], 0
    if batch:
        yield _chunk(*_encode_docs(batch, lowercase))


def _chunk(lines, counts, empty):
    ends = np.cumsum([len(line) for line in lines], dtype=np.int64)
    return TokenChunk(b"".join(lines), ends, np.array(counts, np.int64), empty)


# The token rule on ASCII bytes, shared with tasks.targets. numba's cache checks only
# the file of the function it compiled: after editing these, the kernels of other
# modules that call them are recompiled only once their own file changes too.
@numba.njit(cache=True, nogil=True)
def is_ascii_alnum(c):
    """[A-Za-z0-9]: the ASCII characters of ``[^\\W_]``."""
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122)


@numba.njit(cache=True, nogil=True)
def ascii_token_end(data, s, hi):
    """End of the ASCII token that starts at alphanumeric ``data[s]`` (before ``hi``):
    a run of alphanumerics, joined by one ' or - to the next run."""
    e = s
    while True:
        while e < hi and is_ascii_alnum(data[e]):
            e += 1
        if e + 1 < hi and (data[e] == 39 or data[e] == 45) and is_ascii_alnum(data[e + 1]):
            e += 1
            continue
        return e


@numba.njit(cache=True, nogil=True)
def _ascii_lines(raw, lowercase, max_chars, out, ends, tokens, slow):
    """Tokenise the ASCII lines of ``raw`` of at most ``max_chars`` bytes into ``out``.

    Each document with a token is written as its tokens joined by spaces and
    a newline; ``ends``/``tokens`` get its end in ``out`` and its number of
    tokens. Any other line is left: ``slow`` gets (its first byte, the byte
    after its newline, the number of documents written before it).
    Returns (documents, bytes written, lines left, empty documents).
    """
    n = len(raw)
    p = 0
    w = 0
    n_docs = 0
    n_slow = 0
    empty = 0
    while p < n:
        q = p
        plain = True
        while q < n and raw[q] != 10:
            if raw[q] >= 128:
                plain = False
            q += 1
        after = q + 1 if q < n else q
        if not plain or q - p > max_chars:
            slow[n_slow, 0] = p
            slow[n_slow, 1] = after
            slow[n_slow, 2] = n_docs
            n_slow += 1
            p = after
            continue
        count = 0
        i = p
        while i < q:
            if not is_ascii_alnum(raw[i]):
                i += 1
                continue
            if count:
                out[w] = 32
                w += 1
            count += 1
            e = ascii_token_end(raw, i, q)
            while i < e:
                c = raw[i]
                if lowercase and 65 <= c <= 90:
                    c += 32
                out[w] = c
                w += 1
                i += 1
        if count:
            out[w] = 10
            w += 1
            ends[n_docs] = w
            tokens[n_docs] = count
            n_docs += 1
        else:
            empty += 1
        p = after
    return n_docs, w, n_slow, empty
