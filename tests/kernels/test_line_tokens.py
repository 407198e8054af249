"""tasks.line_tokens against the documents of iter_line_docs tokenised one by one,
and against the token rule read character by character."""
from __future__ import annotations

import io

import numpy as np
import pytest

from tasks.line_tokens import iter_line_tokens
from tasks.tokenize import DocStats, decoder, iter_line_docs, tokenize

from test_tokenize import INVALID_LINES, _spec_tokens

# Characters a line is drawn from: every class the ASCII kernel tells apart
# (letters of both cases, digits, both joiners, the underscore, other
# punctuation, CR, tab), runs of spaces, and non-ASCII text that sends a line
# to the Python path (accented letters, CJK, the dotted capital I, a curly
# apostrophe joiner).
PIECES = ["a", "Z", "q", "0", "9", "'", "-", "_", ".", " ", "  ", "\r", "\t", "don't",
          "Well-Known", "x-'y", "--", "a'", "'b", "é", "東京", "İ", "o\u2019k", "\n", "\n",
          "\n", "lorem ipsum dolor sit amet"]


def random_bytes(rng, n, *, invalid=0, ascii_only=False):
    pieces = [p for p in PIECES if p.isascii()] if ascii_only else PIECES
    data = bytearray("".join(rng.choice(pieces, size=n)).encode("utf-8"))
    for i in rng.choice(len(data), size=min(invalid, len(data)), replace=False):
        data[i] = int(rng.choice([0x80, 0xC3, 0xE6, 0xFF]))
    return bytes(data)


def reference(data, max_chars, lowercase=True, encoding="utf-8"):
    """The shard text the corpus stage wrote one document at a time, and its counters."""
    stats = DocStats()
    out, tokens, empty = [], [], 0
    for doc in iter_line_docs(io.BytesIO(data), decode=decoder(encoding, stats),
                              max_chars=max_chars, stats=stats):
        toks = tokenize(doc, lowercase=lowercase)
        if not toks:
            empty += 1
            continue
        out.append((" ".join(toks) + "\n").encode("utf-8"))
        tokens.append(len(toks))
    return out, tokens, empty, stats


def chunked(data, max_chars, block, lowercase=True, end=None, f=None, seekable=True):
    stats = DocStats()
    f = f or io.BytesIO(data)
    chunks = list(iter_line_tokens(f, decode=decoder("utf-8", stats), max_chars=max_chars,
                                   stats=stats, block=block, lowercase=lowercase, end=end,
                                   seekable=seekable))
    docs, tokens, empty = [], [], 0
    for c in chunks:
        raw = bytes(c.data)
        assert len(c.ends) == len(c.tokens)
        assert (len(c.ends) == 0 and raw == b"") or int(c.ends[-1]) == len(raw)
        starts = [0, *c.ends[:-1].tolist()]
        docs += [raw[a:b] for a, b in zip(starts, c.ends.tolist())]
        tokens += c.tokens.tolist()
        empty += c.empty
    return docs, tokens, empty, stats


@pytest.mark.parametrize("block", [1, 3, 64, 4096, 1 << 20])
@pytest.mark.parametrize("max_chars", [3, 20, 10**6])
@pytest.mark.parametrize("case", ["ascii", "mixed", "invalid"])
def test_chunks_equal_documents_tokenised_one_by_one(case, max_chars, block):
    """Same documents, token counts, empty and cut documents, invalid sequences."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        data = random_bytes(rng, 3000, invalid=40 if case == "invalid" else 0,
                            ascii_only=case == "ascii")
        if seed == 1:
            data = data.rstrip(b"\n")  # no newline at the end
        if seed == 2 and case == "invalid":
            data += b"\xe6\x9d"  # an incomplete sequence at the end of the file
        for lowercase in (True, False):
            docs, tokens, empty, stats = chunked(data, max_chars, block, lowercase)
            ref_docs, ref_tokens, ref_empty, ref_stats = reference(data, max_chars, lowercase)
            assert docs == ref_docs
            assert tokens == ref_tokens
            assert tokens == [d.count(b" ") + 1 for d in docs]
            assert empty == ref_empty
            assert stats.split_documents == ref_stats.split_documents
            assert stats.decode_errors == ref_stats.decode_errors


@pytest.mark.parametrize("lowercase", [True, False])
def test_ascii_lines_follow_the_token_rule(lowercase):
    """Each ASCII line's tokens are those of the rule read character by character."""
    rng = np.random.default_rng(7)
    alphabet = list("aZ09_'- .,\t-x\r")
    lines = ["".join(rng.choice(alphabet, int(rng.integers(0, 30)))) for _ in range(3000)]
    data = "\n".join(lines).encode()
    docs, _tokens, empty, _stats = chunked(data, 10**6, 1 << 20, lowercase)
    want = [_spec_tokens(line) for line in lines]
    want = [[t.lower() for t in w] if lowercase else w for w in want]
    assert docs == [(" ".join(w) + "\n").encode() for w in want if w]
    assert empty == sum(not w for w in want)


@pytest.mark.parametrize("block", [1, 64, 1 << 20])
def test_invalid_lines_are_decoded_and_counted(block):
    data = b"".join(b for b, _, _ in INVALID_LINES)
    docs, _tokens, _empty, stats = chunked(data, 1000, block)
    assert docs == [(" ".join(tokenize(t)) + "\n").encode() for _, t, _ in INVALID_LINES
                    if tokenize(t)]
    assert stats.decode_errors == sum(n for _, _, n in INVALID_LINES)


@pytest.mark.parametrize("block", [1, 64, 1 << 20])
def test_byte_ranges_together_give_the_whole_file(tmp_path, block):
    """Ranges read as the corpus stage reads them: each line once, in order."""
    rng = np.random.default_rng(3)
    data = random_bytes(rng, 4000, invalid=10)
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    whole = chunked(data, 50, block)
    got = ([], [], 0)
    for start in range(0, len(data), 997):
        with open(path, "rb") as f:
            if start:
                f.seek(start - 1)
                f.readline()
            docs, tokens, empty, _ = chunked(None, 50, block, end=start + 997, f=f)
        got = (got[0] + docs, got[1] + tokens, got[2] + empty)
    assert got == whole[:3]


def test_a_line_longer_than_the_block_slack_reads_on_a_line_at_a_time():
    """A line that does not end within max_chars of a block's end: the rest of the
    file is read a line at a time, with the same documents."""
    rng = np.random.default_rng(5)
    long = ("word " * 400).encode()
    data = random_bytes(rng, 500) + b"\n" + long + b"\n" + random_bytes(rng, 500)
    for block in (64, 1000):
        assert chunked(data, 30, block)[:3] == reference(data, 30)[:3]


@pytest.mark.parametrize("compression", ["gzip", "bz2"])
@pytest.mark.parametrize("block", [64, 4096])
def test_a_decompressing_stream_gives_the_same_chunks(compression, block):
    """Without seeking back (seekable=False), long lines included: the bytes of a
    long line already read are handed on, nothing is read twice or lost."""
    import bz2
    import gzip
    rng = np.random.default_rng(11)
    long = ("wordy " * 300).encode()
    data = (random_bytes(rng, 800, invalid=5) + b"\n" + long + b"\n" + random_bytes(rng, 800)
            + b"\n" + long + long + b"\n" + random_bytes(rng, 300))
    packed = gzip.compress(data) if compression == "gzip" else bz2.compress(data)
    for max_chars in (30, 5000):
        f = (gzip.GzipFile(fileobj=io.BytesIO(packed)) if compression == "gzip"
             else bz2.BZ2File(io.BytesIO(packed)))
        stats = DocStats()
        chunks = list(iter_line_tokens(f, decode=decoder("utf-8", stats), max_chars=max_chars,
                                       stats=stats, block=block, seekable=False))
        got = b"".join(bytes(c.data) for c in chunks)
        ref_docs, ref_tokens, ref_empty, ref_stats = reference(data, max_chars)
        assert got == b"".join(ref_docs)
        assert sum(c.tokens.sum() for c in chunks) == sum(ref_tokens)
        assert sum(c.empty for c in chunks) == ref_empty
        assert (stats.split_documents, stats.decode_errors) == \
            (ref_stats.split_documents, ref_stats.decode_errors)


class _Trickle(io.RawIOBase):
    """A stream that returns at most 7 bytes a read, as some decompressors do."""

    def __init__(self, data):
        self._data = memoryview(data)

    def readable(self):
        return True

    def read(self, n=-1):
        n = 7 if n is None or n < 0 else min(n, 7)
        out, self._data = bytes(self._data[:n]), self._data[n:]
        return out

    def readline(self, limit=-1):
        end = bytes(self._data).find(b"\n")
        n = len(self._data) if end < 0 else end + 1
        n = n if limit is None or limit < 0 else min(n, limit)
        out, self._data = bytes(self._data[:n]), self._data[n:]
        return out


def test_short_reads_are_not_taken_for_the_end():
    rng = np.random.default_rng(12)
    data = random_bytes(rng, 2000)
    docs, tokens, empty, _stats = chunked(None, 100, 256, f=_Trickle(data), seekable=False)
    assert (docs, tokens, empty) == reference(data, 100)[:3]
