"""Reading documents from byte streams and tokenising them.

A *document* is one line (``lines``), one blank-line separated paragraph
(``paragraphs``) or one article of a MediaWiki XML dump (``wikidump``).
A token is a run of Unicode letters or digits, optionally joined by inner
apostrophes or hyphens ("don't", "well-known"); everything else is dropped.

Readers work on binary file objects and yield documents of at most
``max_chars`` characters (a line's newline not counted): a longer document is
cut at a whitespace boundary into several documents, and the cut is counted.
The line and paragraph readers also never hold more than about that much text
in memory (the line reader, given a block size, about a block more); the
wikidump reader holds one article at a time.
"""
from __future__ import annotations

import codecs
import io
import re
import threading
from dataclasses import dataclass, field

__all__ = [
    "TOKEN_RE", "tokenize", "DocStats", "decoder", "iter_line_docs",
    "iter_paragraph_docs", "iter_wikidump_docs", "iter_senseval_docs", "looks_binary",
    "line_blocks", "continued", "split_long",
]

TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")
# TOKEN_RE on ASCII text, where [^\W_] is [A-Za-z0-9] and the only joiners are ' and -:
# the same tokens, found without Unicode lookups (a quarter faster on English text)
_ASCII_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*")

_counter = threading.local()


def _count_and_replace(err):
    _counter.n = getattr(_counter, "n", 0) + 1
    return "\ufffd", err.end


codecs.register_error("wsi-count", _count_and_replace)


def tokenize(text, *, lowercase=True):
    """Split text into tokens (list of str), lowercased if ``lowercase``.

    Tokens are found before lowercasing, so lowercasing never moves token
    boundaries ("İ".lower() is "i" plus a combining dot, which is no letter).
    """
    if text.isascii():  # (O(1) in CPython)
        return _ASCII_TOKEN_RE.findall(text.lower() if lowercase else text)
    if not lowercase:
        return TOKEN_RE.findall(text)
    if "\u0130" in text:  # the only code point whose lowercase form is longer
        return [t.lower() for t in TOKEN_RE.findall(text)]
    return TOKEN_RE.findall(text.lower())  # fast path: one lower() per document


@dataclass
class DocStats:
    """Counters of one reading pass."""

    documents: int = 0
    tokens: int = 0
    empty_documents: int = 0
    split_documents: int = 0
    decode_errors: int = 0
    extra: dict = field(default_factory=dict)


def looks_binary(head: bytes) -> bool:
    """True when a file's first bytes hold a NUL byte: text corpora never do."""
    return b"\x00" in head


class decoder:
    """Incremental decoder that replaces invalid bytes and counts them.

    Parameters
    ----------
    encoding : str
    stats : DocStats
        ``stats.decode_errors`` grows by one per invalid byte sequence.
    """

    def __init__(self, encoding, stats):
        self._dec = codecs.getincrementaldecoder(encoding)(errors="wsi-count")
        self._stats = stats

    def __call__(self, data: bytes, final=False) -> str:
        _counter.n = 0
        text = self._dec.decode(data, final)
        self._stats.decode_errors += _counter.n
        return text


def split_long(text, max_chars):
    """Cut ``text`` at whitespace into pieces of at most ``max_chars``.

    Returns the complete pieces and the unfinished remainder.
    """
    pieces = []
    while len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        if cut <= 0:
            cut = max_chars
        pieces.append(text[:cut])
        text = text[cut:]
    return pieces, text


def iter_line_docs(f, *, decode, max_chars, end=None, stats, block=None):
    """Yield one document per line of a binary stream.

    Documents keep the line's newline. A line longer than ``max_chars``
    characters (newline not counted) is yielded as several documents, cut at
    spaces, and each cut is counted in ``stats.split_documents``.

    Parameters
    ----------
    f : binary file object, positioned at the start of a line
    decode : decoder
    max_chars : int
        Longest document; longer lines are cut at whitespace.
    end : int or None
        Stop before a line that starts at or after this byte offset.
    stats : DocStats
    block : int or None
        Read about this many bytes at a time and decode them in one call
        (``f`` must seek cheaply: an uncompressed file); otherwise one line at
        a time. The documents are the same; reading a line at a time cost half
        the corpus stage's time (a readline and a decoder call per line).
        Either way memory holds about ``block`` or ``max_chars`` bytes: a line
        that would not end within ``max_chars`` bytes of a block's end is read
        a line at a time, like everything after it.
    """
    limit = max(1, max_chars)
    if block is not None:
        for raw, final in line_blocks(f, block=block, limit=limit, end=end):
            if raw is None:
                break
            yield from _line_docs(raw, decode, max_chars, stats, final=final)
        else:
            return
    yield from _iter_lines(f, decode, limit, max_chars, end, stats)


def line_blocks(f, *, block, limit, end=None, seekable=True):
    """Whole lines of a binary stream, about ``block`` bytes at a time.

    Yields ``(raw, final)``: ``raw`` ends with a newline unless ``final`` (the
    stream's end). A line that would not end within ``limit`` bytes of a
    block's end is not read as a block: the lines before it are yielded, then
    ``(None, pending)``, after which the caller reads the rest a line at a
    time from ``continued(f, pending)`` (memory stays bounded). With
    ``seekable`` (an uncompressed file) the stream is moved back to the long
    line's start and ``pending`` is empty; otherwise (a decompressing reader,
    where seeking back means decompressing again) ``pending`` holds the bytes
    of it already read. Stops before a line that starts at or after byte
    ``end`` (``end`` needs a stream that tells its position).
    """
    pos = f.tell() if end is not None or seekable else 0
    while end is None or pos < end:
        want = block if end is None else min(block, end - pos)
        raw = _read_full(f, want)
        at_eof = len(raw) < want
        if raw and not at_eof and not raw.endswith(b"\n"):
            tail = f.readline(limit)  # the rest of a line that starts in this block
            if len(tail) == limit and not tail.endswith(b"\n"):
                cut = raw.rfind(b"\n") + 1  # a long line: from its start, a line at a time
                if seekable:
                    f.seek(pos + cut)
                    pending = b""
                else:
                    pending = raw[cut:] + tail
                yield raw[:cut], False
                yield None, pending
                return
            raw += tail
            at_eof = not tail.endswith(b"\n")
        pos += len(raw)
        yield raw, at_eof
        if at_eof:
            return


def _read_full(f, n):
    """``n`` bytes of ``f``, fewer only at its end (a decompressing reader may
    return less than asked before its end)."""
    data = f.read(n)
    if len(data) in (0, n):
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = f.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def continued(f, pending):
    """``f`` read on after :func:`line_blocks` stopped at a long line: a buffered
    stream giving ``pending`` first, then the rest of ``f``."""
    return io.BufferedReader(_Prefixed(pending, f), buffer_size=1 << 16) if pending else f


class _Prefixed(io.RawIOBase):
    def __init__(self, head, f):
        self._head, self._f = memoryview(head), f

    def readable(self):
        return True

    def readinto(self, b):
        if len(self._head):
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._f.read(len(b))
        b[:len(data)] = data
        return len(data)


def _line_docs(raw, decode, max_chars, stats, *, final):
    """The documents of whole lines ``raw`` (the last may lack its newline when ``final``)."""
    text = decode(raw) + (decode(b"", final=True) if final else "")
    lines = text.split("\n")
    last = lines.pop()  # "" after a final newline, else a last line without one
    for line in lines:
        if len(line) > max_chars:
            pieces, line = split_long(line, max_chars)
            stats.split_documents += len(pieces)
            yield from pieces
        yield line + "\n"
    if last:
        pieces, last = split_long(last, max_chars)
        stats.split_documents += len(pieces)
        yield from pieces
        yield last


def _iter_lines(f, decode, limit, max_chars, end, stats):
    """:func:`iter_line_docs` a line at a time."""
    pending = ""
    in_line = False  # the current line's first byte has been read
    pos = f.tell() if end is not None else 0
    while True:
        if end is not None and not in_line and pos >= end:
            return
        chunk = f.readline(limit)
        if not chunk:
            break
        pos += len(chunk)
        text = pending + decode(chunk)
        if not chunk.endswith(b"\n"):
            in_line = True
            pieces, pending = split_long(text, max_chars)
            for piece in pieces:
                stats.split_documents += 1
                yield piece
            continue
        in_line, pending = False, ""
        if len(text) > max_chars + 1:
            pieces, text = split_long(text[:-1], max_chars)
            for piece in pieces:
                stats.split_documents += 1
                yield piece
            text += "\n"
        yield text
    # Flush the decoder even when nothing is pending: the last line may be a
    # lone incomplete byte sequence.
    text = pending + decode(b"", final=True)
    if text:
        pieces, text = split_long(text, max_chars)
        for piece in pieces:
            stats.split_documents += 1
            yield piece
        yield text


def iter_paragraph_docs(f, *, decode, max_chars, stats):
    """Yield blank-line separated paragraphs of a binary stream, lines joined by spaces.

    The stream is read from its current position to its end (paragraph files
    are not split into byte ranges). Paragraphs longer than ``max_chars`` are
    cut at whitespace, each cut counted in ``stats.split_documents``.
    """
    buf = []
    size = 0
    # Cuts of long lines are re-joined below: only the paragraph cuts count.
    line_stats = DocStats()
    for line in iter_line_docs(f, decode=decode, max_chars=max_chars, stats=line_stats):
        if not line.strip():
            if buf:
                yield " ".join(buf)
                buf, size = [], 0
            continue
        buf.append(line.rstrip("\n"))
        size += len(line)
        if size > max_chars:
            pieces, rest = split_long(" ".join(buf), max_chars)
            for piece in pieces:
                stats.split_documents += 1
                yield piece
            buf, size = ([rest], len(rest)) if rest else ([], 0)
    if buf:
        yield " ".join(buf)


def iter_wikidump_docs(f, *, decode, max_chars, stats):
    """Yield the plain text of each main-namespace article of a MediaWiki dump.

    Markup is removed with gensim's ``filter_wiki``; redirects are skipped.
    """
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    class _Text:
        # extract_pages wants a text-yielding file object: feed it counted decoding.
        def read(self, n=-1):
            data = f.read(n if n and n > 0 else 1 << 16)
            return decode(data, final=not data)

    redirects = 0
    for _title, text, _pageid in extract_pages(_Text(), filter_namespaces=("0",)):
        if not text:  # other namespaces come out with empty text
            continue
        if text.lstrip()[:9].lower() == "#redirect":
            redirects += 1
            continue
        text = filter_wiki(text).replace("\n", " ")
        pieces, rest = split_long(text, max_chars)
        for piece in pieces:
            stats.split_documents += 1
            yield piece
        yield rest
    stats.extra["redirects"] = stats.extra.get("redirects", 0) + redirects


def iter_senseval_docs(f, *, decode, max_chars, stats):
    """Yield the text of every ``<context>`` of a Senseval/SemEval lexical-sample XML file.

    The markup inside a context (``<head>`` around the target) is dropped, its
    text kept: one document per instance. ``decode`` is unused (XML declares
    its encoding); malformed XML raises ValueError.
    """
    import xml.etree.ElementTree as ET
    try:
        for _event, elem in ET.iterparse(f, events=("end",)):
            if elem.tag == "context":
                text = " ".join("".join(elem.itertext()).split())
                while len(text) > max_chars:
                    cut = text.rfind(" ", 0, max_chars)
                    cut = cut if cut > 0 else max_chars
                    stats.split_documents += 1
                    yield text[:cut]
                    text = text[cut:].lstrip()
                yield text
                elem.clear()
    except ET.ParseError as e:
        raise ValueError(f"malformed Senseval XML ({e})") from None
