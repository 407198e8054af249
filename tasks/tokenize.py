"""Reading documents from byte streams and tokenising them.

A *document* is one line (``lines``), one blank-line separated paragraph
(``paragraphs``) or one article of a MediaWiki XML dump (``wikidump``).
A token is a run of Unicode letters or digits, optionally joined by inner
apostrophes or hyphens ("don't", "well-known"); everything else is dropped.

Readers work on binary file objects and never hold more than
``max_chars`` characters of one document: a longer document is cut at a
whitespace boundary into several documents, and the cut is counted.
"""
from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass, field

__all__ = [
    "TOKEN_RE", "tokenize", "DocStats", "decoder", "iter_line_docs",
    "iter_paragraph_docs", "iter_wikidump_docs", "looks_binary",
]

TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")

_counter = threading.local()


def _count_and_replace(err):
    _counter.n = getattr(_counter, "n", 0) + 1
    return "\ufffd", err.end


codecs.register_error("wsi-count", _count_and_replace)


def tokenize(text, *, lowercase=True):
    """Split text into tokens (list of str)."""
    if lowercase:
        text = text.lower()
    return TOKEN_RE.findall(text)


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


def _split_long(text, max_chars):
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


def iter_line_docs(f, *, decode, max_chars, end=None, stats):
    """Yield one document per line of a binary stream.

    Parameters
    ----------
    f : binary file object, positioned at the start of a line
    decode : decoder
    max_chars : int
        Longest document; longer lines are cut at whitespace.
    end : int or None
        Stop before a line that starts at or after this byte offset.
    stats : DocStats
    """
    limit = max(1, max_chars)
    pending = ""
    pos = f.tell() if end is not None else 0
    while True:
        if end is not None and not pending and pos >= end:
            return
        chunk = f.readline(limit)
        if not chunk:
            break
        if end is not None:
            pos += len(chunk)
        finished = chunk.endswith(b"\n")
        text = pending + decode(chunk)
        if not finished:
            pieces, pending = _split_long(text, max_chars)
            for piece in pieces:
                stats.split_documents += 1
                yield piece
            continue
        pending = ""
        yield text
    if pending:
        yield pending + decode(b"", final=True)


def iter_paragraph_docs(f, *, decode, max_chars, end=None, stats):
    """Yield blank-line separated paragraphs of a binary stream.

    A paragraph belongs to the block where its first line starts; ``f`` must
    be positioned at the start of a paragraph (or of blank lines before one).
    """
    buf = []
    size = 0
    for line in iter_line_docs(f, decode=decode, max_chars=max_chars, stats=stats,
                               end=None):
        if not line.strip():
            if buf:
                yield " ".join(buf)
                buf, size = [], 0
            if end is not None and f.tell() >= end:
                return
            continue
        buf.append(line.rstrip("\n"))
        size += len(line)
        if size > max_chars:
            pieces, rest = _split_long(" ".join(buf), max_chars)
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
        if not text or text.lstrip()[:9].lower() == "#redirect":
            redirects += 1
            continue
        text = filter_wiki(text).replace("\n", " ")
        pieces, rest = _split_long(text, max_chars)
        for piece in pieces:
            stats.split_documents += 1
            yield piece
        yield rest
    stats.extra["redirects"] = stats.extra.get("redirects", 0) + redirects
