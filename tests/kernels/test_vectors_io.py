"""tasks.vectors_io: exact round trips, gensim as an independent reader/writer, strict errors."""
from __future__ import annotations

import gzip
import io
import os
import struct

import numpy as np
import pytest

from tasks import vectors_io
from tasks.vectors_io import (FORMATS, read_vectors, sniff_format, write_word2vec_binary,
                              write_word2vec_text)

# Non-ASCII words, including an astral code point, and characters that must not split a word
# (NBSP and the ideographic space are not ASCII whitespace).
WORDS = ["the", "café", "東京", "𝔘", "naïve", "don't", "new_york", "#tag", ":", "a\u00a0b",
         "x\u3000y", "Ａ", "ß", "1", "-0.5", "é"]


def random_vectors(n, d, seed=0):
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-6, 6, size=(n, 1))
    vec = (rng.standard_normal((n, d)) * scale).astype(np.float32)
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1.1754944e-38, np.finfo(np.float32).max,
                        -np.finfo(np.float32).max, 0.1, 1 / 3, 123456.7], dtype=np.float32)
    flat = vec.reshape(-1)
    flat[:special.size] = special[:flat.size]
    return vec


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and \
        np.array_equal(a.view(np.uint32), b.view(np.uint32))


def written(writer, words, vectors):
    buf = io.BytesIO()
    writer(buf, words, vectors)
    return buf.getvalue()


def glove_bytes(words, vectors, *, sep=" ", end="\n"):
    return "".join(w + sep + sep.join("%.9g" % x for x in row) + end
                   for w, row in zip(words, vectors.tolist())).encode("utf-8")


def read(data, fmt, **kw):
    return read_vectors(io.BytesIO(data), fmt=fmt, name="vec", **kw)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", ["word2vec", "fasttext"])
def test_text_round_trip_exact(fmt):
    vec = random_vectors(len(WORDS), 7)
    words, got = read(written(write_word2vec_text, WORDS, vec), fmt)
    assert words == WORDS and same_bits(got, vec)


def test_binary_round_trip_exact():
    vec = random_vectors(len(WORDS), 5, seed=1)
    data = written(write_word2vec_binary, WORDS, vec)
    words, got = read(data, "word2vec_binary")
    assert words == WORDS and same_bits(got, vec)
    # Entries without the newline separator (gensim-style) read the same.
    header, _, _ = data.partition(b"\n")
    packed = header + b"\n" + b"".join(w.encode() + b" " + row.astype("<f4").tobytes()
                                        for w, row in zip(WORDS, vec))
    words2, got2 = read(packed, "word2vec_binary")
    assert words2 == WORDS and same_bits(got2, vec)


def test_binary_values_are_little_endian_float32():
    data = b"2 2\na " + struct.pack("<2f", 1.5, -2.0) + b"\nb " + struct.pack("<2f", 0.25, 8.0)
    words, vec = read(data, "word2vec_binary")
    assert words == ["a", "b"] and vec.tolist() == [[1.5, -2.0], [0.25, 8.0]]
    # Float bytes that look like spaces or newlines (0x20, 0x0a) stay values.
    tricky = np.array([[struct.unpack("<f", b"\x20\x0a\x20\x0a")[0]]], dtype=np.float32)
    words, vec = read(written(write_word2vec_binary, ["w"], tricky), "word2vec_binary")
    assert same_bits(vec, tricky)


@pytest.mark.parametrize("sep, end", [(" ", "\n"), ("\t", "\n"), (" ", " \r\n"), (" ", " \n")])
def test_glove_round_trip(sep, end):
    vec = random_vectors(len(WORDS), 4, seed=2)
    data = glove_bytes(WORDS, vec, sep=sep, end=end)
    words, got = read(data, "glove")
    assert words == WORDS and same_bits(got, vec)
    words, got = read(data.rstrip(b"\r\n"), "glove")  # no newline at the end
    assert words == WORDS and same_bits(got, vec)


def test_word2vec_text_layout_and_whitespace():
    data = b"2 3\r\nfoo\t1 2  3 \r\nbar -1e-3 0.5 7\n"
    words, vec = read(data, "word2vec")
    assert words == ["foo", "bar"]
    assert vec.dtype == np.float32 and vec.flags.c_contiguous
    assert vec.tolist() == np.array([[1, 2, 3], [-1e-3, 0.5, 7]], dtype=np.float32).tolist()
    assert written(write_word2vec_text, ["a"], np.array([[0.5, 2.0]])) == b"1 2\na 0.5 2\n"


def test_empty_vocabulary_with_header():
    for fmt, writer in (("word2vec", write_word2vec_text),
                        ("word2vec_binary", write_word2vec_binary)):
        data = written(writer, [], np.zeros((0, 3), dtype=np.float32))
        assert data == b"0 3\n"
        words, vec = read(data, fmt)
        assert words == [] and vec.shape == (0, 3) and vec.dtype == np.float32


def test_large_file_crosses_read_chunks():
    # More than one 1 MiB read(): lines and binary entries straddle chunk edges.
    n, d = 6000, 50
    vec = random_vectors(n, d, seed=3)
    words = [f"w{i}é" for i in range(n)]
    for fmt, writer in (("word2vec", write_word2vec_text),
                        ("word2vec_binary", write_word2vec_binary)):
        data = written(writer, words, vec)
        assert len(data) > (1 << 20)
        got_words, got = read(data, fmt)
        assert got_words == words and same_bits(got, vec)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_tiny_read_chunks(monkeypatch, chunk):
    """Every buffer edge case: results and error messages do not depend on read() sizes."""
    monkeypatch.setattr(vectors_io, "_CHUNK", chunk)
    vec = random_vectors(len(WORDS), 3, seed=9)
    for fmt, data in (("word2vec", written(write_word2vec_text, WORDS, vec)),
                      ("word2vec_binary", written(write_word2vec_binary, WORDS, vec)),
                      ("glove", glove_bytes(WORDS, vec, end=" \r\n"))):
        words, got = read(data, fmt)
        assert words == WORDS and same_bits(got, vec)
    for fmt, data, message in BAD_INPUT:
        with pytest.raises(ValueError, match=rf"^vec: {message}"):
            read(data, fmt)
    with pytest.raises(ValueError, match=r"entry 2 \(byte 15\)"):
        read(b"2 2\na " + F + b"\nb " + F[:3], "word2vec_binary")


def test_limit():
    vec = random_vectors(10, 3, seed=4)
    words = [f"w{i}" for i in range(10)]
    for fmt, data in (("word2vec", written(write_word2vec_text, words, vec)),
                      ("word2vec_binary", written(write_word2vec_binary, words, vec)),
                      ("glove", glove_bytes(words, vec))):
        got_words, got = read(data, fmt, limit=4)
        assert got_words == words[:4] and same_bits(got, vec[:4])
        # Rows past the limit are not read, so damage there goes unnoticed.
        got_words, _ = read(data + b"garbage", fmt, limit=10)
        assert got_words == words
        with pytest.raises(ValueError, match="limit"):
            read(data, fmt, limit=0)


# --------------------------------------------------------------------------- gensim as reference


def test_gensim_reads_what_we_write(tmp_path):
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    # gensim splits text lines on " " only, so keep to words without other Unicode spaces.
    words = [w for w in WORDS if w.isprintable() and " " not in w and "\u3000" not in w
             and "\u00a0" not in w]
    vec = random_vectors(len(words), 6, seed=5)
    for binary, writer in ((False, write_word2vec_text), (True, write_word2vec_binary)):
        path = tmp_path / f"v{int(binary)}"
        with open(path, "wb") as f:
            writer(f, words, vec)
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert list(kv.index_to_key) == words and same_bits(kv.vectors, vec)


def test_we_read_what_gensim_writes(tmp_path):
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    words = ["the", "café", "東京", "𝔘", "naïve", "new_york"]
    vec = random_vectors(len(words), 8, seed=6)
    kv = KeyedVectors(8)
    kv.add_vectors(words, vec)
    for binary, fmt in ((False, "word2vec"), (True, "word2vec_binary")):
        path = tmp_path / f"g{int(binary)}"
        kv.save_word2vec_format(str(path), binary=binary)
        with open(path, "rb") as f:
            got_words, got = read_vectors(f, fmt=fmt)
        assert got_words == words
        if binary:
            assert same_bits(got, vec)
        else:  # gensim prints repr() of each float32, also exact
            np.testing.assert_array_equal(got, vec)


@pytest.mark.parametrize("fname, fmt, kw", [
    ("lee_fasttext.vec", "fasttext", {}),
    ("euclidean_vectors.bin", "word2vec_binary", {"binary": True}),
    ("test_glove.txt", "glove", {"no_header": True}),
])
def test_gensim_test_files(fname, fmt, kw):
    gensim = pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    path = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data", fname)
    if not os.path.exists(path):
        pytest.skip(f"{fname} missing")
    with open(path, "rb") as f:
        words, vec = read_vectors(f, fmt=fmt)
    kv = KeyedVectors.load_word2vec_format(path, **kw)
    assert words == list(kv.index_to_key) and same_bits(vec, kv.vectors)
    with open(path, "rb") as f:
        assert sniff_format(f.read(4096)) == ("glove" if fmt == "glove" else
                                               "word2vec_binary" if kw.get("binary") else
                                               "word2vec")


# --------------------------------------------------------------------------- file objects


def test_file_objects(tmp_path):
    vec = random_vectors(4, 3, seed=7)
    words = ["a", "b", "c", "é"]
    data = written(write_word2vec_text, words, vec)
    path = tmp_path / "v.vec.gz"
    with gzip.open(path, "wb") as f:
        f.write(data)
    with gzip.open(path, "rb") as f:
        got_words, got = read_vectors(f, fmt="word2vec")
    assert got_words == words and same_bits(got, vec)
    fsspec = pytest.importorskip("fsspec")
    with fsspec.open(f"file://{path}", "rb", compression="gzip") as f:
        got_words, got = read_vectors(f, fmt="fasttext")
    assert got_words == words and same_bits(got, vec)
    with fsspec.open("memory://vectors/v.bin", "wb") as f:
        write_word2vec_binary(f, words, vec)
    with fsspec.open("memory://vectors/v.bin", "rb") as f:
        got_words, got = read_vectors(f, fmt="word2vec_binary")
    assert got_words == words and same_bits(got, vec)
    # Errors name the file.
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"2 3\na 1 2 3\n")
    with pytest.raises(TypeError, match="not a path"):
        read_vectors(bad, fmt="word2vec")
    with open(bad, "rb") as f, pytest.raises(ValueError, match=r"bad\.txt: line 3"):
        read_vectors(f, fmt="word2vec")
    with open(bad, encoding="utf-8") as f, pytest.raises(TypeError, match="binary mode"):
        read_vectors(f, fmt="word2vec")


def test_sniff_format():
    vec = random_vectors(3, 4, seed=8)
    words = ["a", "b", "c"]
    assert sniff_format(written(write_word2vec_text, words, vec)) == "word2vec"
    assert sniff_format(written(write_word2vec_binary, words, vec)) == "word2vec_binary"
    assert sniff_format(glove_bytes(words, vec)) == "glove"
    for junk in (b"", b"hello world\n", b"\x00\x01\x02 3 4\n"):
        with pytest.raises(ValueError, match="cannot tell"):
            sniff_format(junk)


def test_bad_arguments():
    with pytest.raises(ValueError, match="fmt must be one of"):
        read(b"1 1\na 1\n", "word2vec_text")
    assert set(FORMATS) == {"word2vec", "word2vec_binary", "glove", "fasttext"}


# --------------------------------------------------------------------------- bad input


F = struct.pack("<2f", 1.0, 2.0)  # one binary vector of dimension 2

BAD_INPUT = [
    # (fmt, data, expected message fragment with the line/entry number)
    ("word2vec", b"", "line 1: empty file"),
    ("glove", b"", "line 1: empty file"),
    ("word2vec_binary", b"", "line 1: empty file"),
    ("word2vec", b"a 1 2\n", "line 1: expected a 'count dim' header"),
    ("word2vec", b"2 x\n", "line 1: expected a 'count dim' header"),
    ("word2vec", b"2 3 4\n", "line 1: expected a 'count dim' header"),
    ("word2vec", b"-2 3\n", "line 1: expected a 'count dim' header"),
    ("word2vec", b"1 0\na\n", "line 1: header dimension must be >= 1"),
    ("word2vec_binary", b"one two\n", "line 1: expected a 'count dim' header"),
    # ragged rows
    ("word2vec", b"2 3\na 1 2 3\nb 1 2\n", "line 3: expected a word and 3 values"),
    ("fasttext", b"2 3\na 1 2 3\nb 1 2 3 4\n", "line 3: expected a word and 3 values"),
    ("glove", b"a 1 2 3\nb 1 2 3\nc 1 2\n", "line 3: expected a word and 3 values"),
    ("glove", b"a\nb 1\n", "line 1: expected a word followed by its values"),
    ("glove", b"2 3\na 1 2 3\n", "line 2: expected a word and 1 values.*try fmt='word2vec'"),
    ("word2vec", b"2 2\na 1 2\n\nb 1 2\n", "line 3: empty line"),
    # values
    ("word2vec", b"2 3\na 1 2 3\nb 1 x 3\n", r"line 3: value 2 \('x'\) is not a number"),
    ("glove", b"a 1 2\nb 1,5 2\n", r"line 2: value 1 \('1,5'\) is not a number"),
    ("glove", b"a 1 2\nb 1_0 2\n", r"line 2: value 1 \('1_0'\) is not a number"),
    ("glove", b"a 1 2\nb 0x1 2\n", "line 2: value 1"),
    ("word2vec", b"1 2\na 1 nan\n", "line 2: value 2 .* not finite"),
    ("word2vec", b"1 2\na -inf 1\n", "line 2: value 1 .* not finite"),
    ("glove", b"a 1 2\nb 1 1e39\n", "line 2: value 2 .* outside the float32 range"),
    ("word2vec_binary", b"2 2\na " + F + b"\nb " + struct.pack("<2f", 1.0, float("nan")),
     "entry 2 .*value 2 .* not finite"),
    # UTF-8
    ("word2vec", b"2 1\na 1\ncaf\xe9 2\n", "line 3: word 'caf.*' is not valid UTF-8"),
    ("glove", b"\xff\xfe 1\n", "line 1: word .* is not valid UTF-8"),
    ("word2vec_binary", b"2 2\na " + F + b"\n\xe6\x9d b " + F, "entry 2 .*not valid UTF-8"),
    ("word2vec", b"1 2\n\x00\x01 " + F + b"\n", "line 2: .*binary data"),
    # header counts
    ("word2vec", b"3 1\na 1\nb 2\n", "line 4: file ended after 2 of the 3 vectors"),
    ("word2vec", b"3 1\n", "line 2: file ended after 0 of the 3 vectors"),
    ("word2vec", b"1 1\na 1\nb 2\n", "line 3: more vectors than the 1 announced"),
    ("fasttext", b"0 1\na 1\n", "line 2: more vectors than the 0 announced"),
    ("word2vec_binary", b"3 2\na " + F + b"\nb " + F + b"\n", "entry 3 .*ended after 2 of the 3"),
    ("word2vec_binary", b"1 2\na " + F + b"\nb " + F + b"\n", "entry 2 .*data after the 1 vectors"),
    ("word2vec_binary", b"2 2\na " + F + b"\nb " + F[:5],
     r"entry 2 .*inside the vector of 'b' \(5 of 8"),
    ("word2vec_binary", b"1 2\nabc", "entry 1 .*file ended inside the word"),
    ("word2vec_binary", b"2 2\na " + F + b"\n " + F, "entry 2 .*empty word"),
    # duplicates
    ("word2vec", b"3 1\na 1\nb 2\na 3\n", "line 4: word 'a' repeats the word of line 2"),
    ("glove", b"a 1\nb 2\nb 3\n", "line 3: word 'b' repeats the word of line 2"),
    ("word2vec_binary", b"2 2\na " + F + b"\na " + F,
     "entry 2 .*word 'a' repeats the word of entry 1"),
]


@pytest.mark.parametrize("fmt, data, message", BAD_INPUT)
def test_bad_input(fmt, data, message):
    with pytest.raises(ValueError, match=rf"^vec: {message}") as e:
        read(data, fmt)
    assert "\n" not in str(e.value)


def test_binary_error_reports_byte_offset():
    data = b"2 2\na " + F + b"\nb " + F[:3]
    with pytest.raises(ValueError, match=r"entry 2 \(byte 15\)"):  # 4 + 2 + 8 + 1
        read(data, "word2vec_binary")


def test_overlong_binary_word():
    for tail in (b" " + F, b"", b"x" * (2 << 20)):  # space found late, never, past a chunk
        data = b"1 2\n" + b"x" * 70000 + tail
        with pytest.raises(ValueError, match="entry 1 .*no space ending the word within 65536"):
            read(data, "word2vec_binary")


@pytest.mark.parametrize("words, vectors, message", [
    (["a b"], np.zeros((1, 2)), "contains whitespace"),
    (["a\tb"], np.zeros((1, 2)), "contains whitespace"),
    ([""], np.zeros((1, 2)), "non-empty str"),
    ([3], np.zeros((1, 2)), "non-empty str"),
    (["a", "a"], np.zeros((2, 2)), "repeated"),
    (["a"], np.zeros((2, 2)), "1 words for 2 vectors"),
    (["a"], np.zeros(2), "2-D"),
    (["a"], np.zeros((1, 0)), "2-D"),
    (["a"], np.array([[np.nan, 1.0]]), "not a finite float32"),
    (["a"], np.array([[1e39, 1.0]]), "not a finite float32"),
    (["\ud800"], np.zeros((1, 2)), "UTF-8"),
    (["a"], np.array([["x", "y"]]), "numeric"),
])
def test_writers_reject_bad_input(words, vectors, message):
    for writer in (write_word2vec_text, write_word2vec_binary):
        buf = io.BytesIO()
        with pytest.raises(ValueError, match=message):
            writer(buf, words, vectors)
        assert buf.getvalue() == b""  # nothing written


def test_float64_input_written_as_float32():
    vec = np.array([[0.1, 1 / 3, 1e-50]])
    for fmt, writer in (("word2vec", write_word2vec_text),
                        ("word2vec_binary", write_word2vec_binary)):
        _, got = read(written(writer, ["a"], vec), fmt)
        assert same_bits(got, vec.astype(np.float32))
