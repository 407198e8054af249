"""Reading and writing word vectors in the common exchange formats, without pickle.

Formats (``fmt``):

- ``word2vec``: text. A header line ``count dim``, then one line per word,
  ``word v1 ... vdim``, fields separated by spaces or tabs (trailing
  whitespace and ``\\r\\n`` line ends are accepted).
- ``fasttext``: fastText's ``.vec`` files, the same layout as ``word2vec``.
- ``glove``: text without a header, ``word v1 ... vd``; d is taken from the
  first line.
- ``word2vec_binary``: the word2vec C tool's ``-binary 1`` output. A text
  header line ``count dim``, then per word: the word's UTF-8 bytes, one space,
  ``dim`` little-endian float32 values, and an optional newline.

- ``read_vectors(f, fmt=...)`` -> ``(words list[str], vectors float32 (n, d))``
- ``write_word2vec_text(f, words, vectors)``, ``write_word2vec_binary(f, words, vectors)``
- ``sniff_format(head_bytes)`` -> a guess of ``fmt`` from a file's first bytes

Readers stream a binary file object (a local file, an fsspec file, a gzip
stream: anything with ``read(n)`` returning bytes), so the memory they need
is that of the result. They are strict: any malformed input raises
ValueError with a one-line message naming the input and the 1-based line
(text) or entry (binary, with its byte offset). Rejected are: an empty file,
a bad header, rows of the wrong length, values that are not numbers or not
finite float32, words that are not valid UTF-8, fewer or more rows than the
header announces, and repeated words (a repeat usually points at a broken
conversion or a lossy decoding upstream, so it is reported with both line
numbers instead of being silently dropped).

A word is everything before the first ASCII whitespace character of a line
(text) or before the first space (binary); words containing spaces, as in a
few entries of GloVe's Common Crawl vectors, are therefore rejected as rows of
the wrong length. The writers refuse words containing ASCII whitespace.
Text writers print 9 significant digits, which always read back to the same
float32 bits, so text round trips are exact.

Longer than 400 lines because it reads and writes four vector formats through one
buffered parser; each format is a few lines on top of it.
"""
from __future__ import annotations

import codecs
import os

import numpy as np

__all__ = ["FORMATS", "read_vectors", "write_word2vec_text", "write_word2vec_binary",
           "sniff_format"]

FORMATS = ("word2vec", "word2vec_binary", "glove", "fasttext")

_CHUNK = 1 << 20                 # bytes per read()
_MAX_LINE = 64 << 20             # longest text line accepted
_MAX_WORD = 1 << 16              # longest binary-format word accepted (bytes)
_ASCII_SPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits on
_SHOWN = 60                      # characters of bad input quoted in messages


def _shown(data):
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


class _Buffered:
    """Minimal buffered reader over ``f.read(n)`` keeping track of byte offsets."""

    def __init__(self, f, name):
        self.f = f
        self.name = name
        self.buf = b""
        self.pos = 0        # next unread byte in buf
        self.base = 0       # file offset of buf[0]
        self.eof = False

    def fill(self):
        """Read one more chunk; False at end of input."""
        if self.eof:
            return False
        chunk = self.f.read(_CHUNK)
        if isinstance(chunk, str):
            raise TypeError(f"{self.name}: the file must be opened in binary mode ('rb')")
        if not chunk:
            self.eof = True
            return False
        self.base += self.pos
        self.buf = self.buf[self.pos:] + bytes(chunk)
        self.pos = 0
        return True

    @property
    def offset(self):
        return self.base + self.pos

    def lines(self, hint=""):
        """Yield ``(number, line)`` without the line end; a final unterminated line counts."""
        n = 1
        while True:
            end = self.buf.find(b"\n", self.pos)
            while end < 0:
                if len(self.buf) - self.pos > _MAX_LINE:
                    raise ValueError(f"{self.name}: line {n}: longer than {_MAX_LINE} bytes{hint}")
                searched = len(self.buf) - self.pos
                if not self.fill():
                    break
                end = self.buf.find(b"\n", self.pos + searched)
            if end < 0:
                if self.pos < len(self.buf):
                    line, self.pos = self.buf[self.pos:], len(self.buf)
                    yield n, line
                return
            line, self.pos = self.buf[self.pos:end], end + 1
            yield n, line
            n += 1

    def ensure(self, n):
        """Make ``n`` bytes available from ``pos`` if the input has them; returns how many are."""
        while len(self.buf) - self.pos < n and self.fill():
            pass
        return min(n, len(self.buf) - self.pos)

    def take(self, n):
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out


class _Rows:
    """Growable float32 (n, dim) array."""

    def __init__(self, dim, expected=None):
        self.dim = dim
        cap = 1024 if expected is None else max(1, min(expected, 1 << 16))
        self.data = np.empty((cap, dim), dtype=np.float32)
        self.n = 0
        self.expected = expected

    def append(self, row):
        if self.n == self.data.shape[0]:
            cap = 2 * self.n
            if self.expected is not None:
                cap = min(cap, max(self.expected, self.n + 1))
            grown = np.empty((cap, self.dim), dtype=np.float32)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n] = row
        self.n += 1

    def result(self):
        if self.n == self.data.shape[0]:
            return self.data
        return self.data[:self.n].copy()


def _parse_header(line, name):
    """``count dim`` -> (count, dim)."""
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{name}: line 1: expected a 'count dim' header, got {_shown(line)}")
    count, dim = int(parts[0]), int(parts[1])
    if dim < 1:
        raise ValueError(f"{name}: line 1: header dimension must be >= 1, got {dim}")
    return count, dim


def _decode_word(raw, where, line=None):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        hint = _binary_hint(line) if line is not None and b"\x00" in line else ""
        raise ValueError(f"{where}: word {_shown(raw)} is not valid UTF-8 ({e.reason} at byte "
                         f"{e.start}){hint}") from None


def _as_float32(values, where):
    """float64 values -> float32, or ValueError unless every value is a finite float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = values.astype(np.float32)
    ok = np.isfinite(out)
    if not ok.all():
        k = int(np.argmin(ok))
        v = float(values[k])
        why = "not finite" if not np.isfinite(v) else "outside the float32 range"
        raise ValueError(f"{where}: value {k + 1} ({v!r}) is {why}")
    return out


def _parse_values(fields, where, line=None):
    """Numeric fields (bytes) -> float32 array, or ValueError naming the bad field.

    ``line``, when given, is the whole line: it feeds the hint of the message
    and tells whether an underscore may hide among the values.
    """
    try:
        values = np.array(fields, dtype=np.float64)
    except ValueError:
        values = None
    # Python's float() accepts "1_000"; no vector file writes that.
    if values is None or ((line is None or b"_" in line) and any(b"_" in v for v in fields)):
        for k, v in enumerate(fields):
            try:
                if b"_" in v:
                    raise ValueError
                float(v)
            except ValueError:
                raise ValueError(f"{where}: value {k + 1} ({_shown(v)}) is not a number"
                                 f"{_binary_hint(line)}") from None
    return _as_float32(values, where)


def _binary_hint(line):
    if line is not None and _looks_binary(line):
        return " (binary data? try fmt='word2vec_binary')"
    return ""


def _looks_binary(line):
    return b"\x00" in line or not _utf8_ok(line)


def _utf8_ok(data):
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
        return True
    except UnicodeDecodeError:
        return False


def _read_text(src, name, *, header, limit):
    lines = src.lines(hint=" (binary data? try fmt='word2vec_binary')")
    count = dim = None
    first_line_hint = ""
    if header:
        item = next(lines, None)
        if item is None:
            raise ValueError(f"{name}: line 1: empty file")
        count, dim = _parse_header(item[1], name)
    words, seen = [], {}
    rows = _Rows(dim, count) if dim is not None else None
    last = 1 if header else 0
    for n, line in lines:
        last = n
        if limit is not None and len(words) >= limit:
            break
        where = f"{name}: line {n}"
        if header and len(words) == count:
            raise ValueError(f"{where}: more vectors than the {count} announced by the header "
                             "(line 1)")
        fields = line.split()
        if not fields:
            raise ValueError(f"{where}: empty line")
        if dim is None:  # GloVe: the first row sets the dimension
            dim = len(fields) - 1
            if dim < 1:
                raise ValueError(f"{where}: expected a word followed by its values, got "
                                 f"{_shown(line)}")
            rows = _Rows(dim)
            if len(fields) == 2 and all(p.isdigit() for p in fields):
                first_line_hint = " (line 1 looks like a 'count dim' header: try fmt='word2vec')"
        if len(fields) != dim + 1:
            origin = "the header" if header else "line 1"
            raise ValueError(f"{where}: expected a word and {dim} values (as set by {origin}), "
                             f"got {len(fields) - 1} values{_binary_hint(line) or first_line_hint}")
        word = _decode_word(fields[0], where, line)
        values = _parse_values(fields[1:], where, line)
        if word in seen:
            raise ValueError(f"{where}: word {word!r} repeats the word of line {seen[word]}")
        seen[word] = n
        words.append(word)
        rows.append(values)
    if rows is None:  # GloVe file without a line
        raise ValueError(f"{name}: line 1: empty file")
    if header and len(words) < count and (limit is None or len(words) < limit):
        raise ValueError(f"{name}: line {last + 1}: file ended after {len(words)} of the {count} "
                         "vectors announced by the header (line 1)")
    return words, rows.result()


def _read_binary(src, name, *, limit):
    lines = src.lines()
    item = next(lines, None)
    if item is None:
        raise ValueError(f"{name}: line 1: empty file")
    count, dim = _parse_header(item[1], name)
    n_bytes = 4 * dim
    wanted = count if limit is None else min(count, limit)
    words, seen = [], {}
    rows = _Rows(dim, wanted)
    for k in range(1, wanted + 1):
        while src.ensure(1) and src.buf[src.pos] == 0x0A:  # newline ending the previous entry
            src.pos += 1
        where = f"{name}: entry {k} (byte {src.offset})"
        if not src.ensure(1):
            raise ValueError(f"{where}: file ended after {k - 1} of the {count} vectors "
                             "announced by the header (line 1)")
        start = src.pos
        end = src.buf.find(b" ", start)
        while end < 0 and len(src.buf) - start <= _MAX_WORD:
            searched = len(src.buf) - start
            if not src.fill():
                break
            start = src.pos
            end = src.buf.find(b" ", start + searched)
        if end - start > _MAX_WORD or (end < 0 and len(src.buf) - start > _MAX_WORD):
            raise ValueError(f"{where}: no space ending the word within {_MAX_WORD} bytes")
        if end < 0:
            raise ValueError(f"{where}: file ended inside the word (no space after it)")
        if end == start:
            raise ValueError(f"{where}: empty word")
        raw = src.take(end - start)
        src.pos += 1  # the space
        word = _decode_word(raw, where)
        got = src.ensure(n_bytes)
        if got < n_bytes:
            raise ValueError(f"{where}: file ended inside the vector of {word!r} ({got} of "
                             f"{n_bytes} bytes)")
        values = np.frombuffer(src.take(n_bytes), dtype="<f4")
        if not np.isfinite(values).all():
            _as_float32(values.astype(np.float64), where)
        if word in seen:
            raise ValueError(f"{where}: word {word!r} repeats the word of entry {seen[word]}")
        seen[word] = k
        words.append(word)
        rows.append(values)
    if limit is None or limit > count:  # else stopped at the limit: the rest is not read
        while src.ensure(1) and src.buf[src.pos] in _ASCII_SPACE:
            src.pos += 1
        if src.ensure(1):
            raise ValueError(f"{name}: entry {count + 1} (byte {src.offset}): data after the "
                             f"{count} vectors announced by the header (line 1)")
    return words, rows.result()


def read_vectors(f, *, fmt, name=None, limit=None):
    """Read word vectors.

    Parameters
    ----------
    f : binary file object or str or os.PathLike
        Anything whose ``read(n)`` returns bytes (opened in ``'rb'`` mode), or
        a path to open.
    fmt : {'word2vec', 'word2vec_binary', 'glove', 'fasttext'}
        See the module docstring.
    name : str, optional
        Name of the input in error messages; defaults to the path, the file
        object's ``name`` or ``"<input>"``.
    limit : int, optional
        Read only the first ``limit`` vectors (like gensim's ``limit``); once
        they are read, the rest of the file is neither read nor checked.

    Returns
    -------
    words : list of str, length n
        Distinct words in file order.
    vectors : ndarray of shape (n, d), float32
        Row i is the vector of ``words[i]``.

    Raises
    ------
    ValueError
        Malformed input (see the module docstring); the one-line message
        names the input and the 1-based line (text) or entry (binary).
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    if isinstance(f, (str, os.PathLike)):
        raise TypeError("read_vectors takes a binary file object, not a path (tasks/ opens no "
                        "file)")
    name = name or str(getattr(f, "name", None) or "<input>")
    src = _Buffered(f, name)
    if fmt == "word2vec_binary":
        return _read_binary(src, name, limit=limit)
    return _read_text(src, name, header=fmt != "glove", limit=limit)


def sniff_format(head):
    """Guess the format of a vector file from its first bytes.

    Parameters
    ----------
    head : bytes
        The start of the file (a few KiB are plenty).

    Returns
    -------
    fmt : {'word2vec', 'word2vec_binary', 'glove'}
        ``'word2vec'`` also stands for fastText's ``.vec`` (same layout).

    Raises
    ------
    ValueError
        When the bytes match none of the formats.
    """
    first, _, rest = bytes(head).partition(b"\n")
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return "word2vec_binary" if _looks_binary(rest) else "word2vec"
    if len(parts) >= 2 and not _looks_binary(first):
        try:
            _parse_values(parts[1:], "")
            return "glove"
        except ValueError:
            pass
    raise ValueError(f"cannot tell the vector format from the first line {_shown(first)}")


def _for_writing(words, vectors):
    """Validate; returns (encoded words, float32 C-contiguous vectors)."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] < 1:
        raise ValueError(f"vectors must be 2-D (n, d) with d >= 1, got shape {vectors.shape}")
    if not (np.issubdtype(vectors.dtype, np.floating) or np.issubdtype(vectors.dtype, np.integer)):
        raise ValueError(f"vectors must be numeric, got dtype {vectors.dtype}")
    words = list(words)
    if len(words) != vectors.shape[0]:
        raise ValueError(f"{len(words)} words for {vectors.shape[0]} vectors")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(vectors, dtype="<f4")
    if not np.isfinite(out).all():
        i, j = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"vectors[{i}, {j}] = {vectors[i, j]!r} is not a finite float32")
    encoded, seen = [], set()
    for i, w in enumerate(words):
        if not isinstance(w, str) or not w:
            raise ValueError(f"words[{i}] must be a non-empty str, got {w!r}")
        try:
            raw = w.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"words[{i}] = {w!r} cannot be encoded as UTF-8") from None
        if any(c in raw for c in _ASCII_SPACE):
            raise ValueError(f"words[{i}] = {w!r} contains whitespace")
        if raw in seen:
            raise ValueError(f"words[{i}] = {w!r} is repeated")
        seen.add(raw)
        encoded.append(raw)
    return encoded, out


def write_word2vec_text(f, words, vectors):
    """Write vectors in word2vec text format (also readable as fastText ``.vec``).

    Parameters
    ----------
    f : binary file object
    words : sequence of str, length n
        Distinct, non-empty, without ASCII whitespace.
    vectors : array-like of shape (n, d), float
        Written as float32 values with 9 significant digits (they read back
        to the same bits).
    """
    raw, vecs = _for_writing(words, vectors)
    row_format = " ".join(["%.9g"] * vecs.shape[1])
    _write_entries(f, vecs.shape, (w + b" " + (row_format % tuple(row.tolist())).encode("ascii")
                                   + b"\n" for w, row in zip(raw, vecs)))


def write_word2vec_binary(f, words, vectors):
    """Write vectors in word2vec binary format, one newline after each vector (as the C tool).

    Parameters
    ----------
    f : binary file object
    words : sequence of str, length n
        Distinct, non-empty, without ASCII whitespace.
    vectors : array-like of shape (n, d), float
        Written as little-endian float32.
    """
    raw, vecs = _for_writing(words, vectors)
    _write_entries(f, vecs.shape, (w + b" " + row.tobytes() + b"\n" for w, row in zip(raw, vecs)))


def _write_entries(f, shape, entries, batch_size=2048):
    """The ``count dim`` header line, then the encoded entries in batches."""
    f.write(b"%d %d\n" % shape)
    batch = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == batch_size:
            f.write(b"".join(batch))
            batch.clear()
    f.write(b"".join(batch))
