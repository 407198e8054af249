"""tasks.tokenize: tokeniser spec table, streaming readers against whole-file references."""
from __future__ import annotations

import io
import threading
import tracemalloc

import numpy as np
import pytest

from tasks.tokenize import (DocStats, decoder, iter_line_docs, iter_paragraph_docs,
                            iter_wikidump_docs, looks_binary, tokenize)

# --------------------------------------------------------------------------- tokenize

# Expected tokens worked out from the spec: runs of Unicode letters/digits,
# optionally joined by single inner apostrophes (' or ’) or hyphens; all other
# characters (punctuation, dashes, underscores, whitespace) separate tokens.
TOKEN_TABLE = [
    ("", []),
    ("   \t\n ", []),
    ("Don't stop—well-known café's 3.5 x_y",
     ["don't", "stop", "well-known", "café's", "3", "5", "x", "y"]),
    ("Hello, World!", ["hello", "world"]),
    ("rock'n'roll O'Neil-Smith can't-stop", ["rock'n'roll", "o'neil-smith", "can't-stop"]),
    ("it\u2019s", ["it\u2019s"]),
    ("'quoted' -dash- trailing' 'leading", ["quoted", "dash", "trailing", "leading"]),
    ("a--b a''b a'-b", ["a", "b", "a", "b", "a", "b"]),
    ("e-mail e\u2013mail e\u2014mail", ["e-mail", "e", "mail", "e", "mail"]),
    ("__init__ snake_case_name", ["init", "snake", "case", "name"]),
    ("3.14159 1,000 2024-01-02", ["3", "14159", "1", "000", "2024-01-02"]),
    ("#hashtag @user http://ex.am/ple?q=1", ["hashtag", "user", "http", "ex", "am", "ple", "q", "1"]),
    ("tab\tseparated\nlines\r\nhere", ["tab", "separated", "lines", "here"]),
    ("naïve Ärger ÉCOLE Straße", ["naïve", "ärger", "école", "straße"]),
    ("東京タワー2024年 に行く。", ["東京タワー2024年", "に行く"]),
    ("ｆｕｌｌ－ｗｉｄｔｈ ２０２４", ["ｆｕｌｌ", "ｗｉｄｔｈ", "２０２４"]),   # U+FF0D is not '-'
    ("Ελληνικά κείμενα, русский-текст", ["ελληνικά", "κείμενα", "русский-текст"]),
    ("«guillemets» (parens) [brackets] {braces}", ["guillemets", "parens", "brackets", "braces"]),
    ("İstanbul İZMİR", ["i\u0307stanbul", "i\u0307zmi\u0307r"]),   # lowercasing keeps tokens whole
]


@pytest.mark.parametrize("text, expected", TOKEN_TABLE)
def test_tokenize_table(text, expected):
    assert tokenize(text) == expected


def _spec_tokens(text):
    """The token rule read character by character: runs of str.isalnum() characters,
    joined by one apostrophe (' or ’) or hyphen between two of them."""
    out, i, n = [], 0, len(text)
    while i < n:
        if not text[i].isalnum():
            i += 1
            continue
        j = i
        while j < n and (text[j].isalnum() or (text[j] in "'\u2019-" and j + 1 < n
                                               and text[j + 1].isalnum() and j > i)):
            j += 1
        out.append(text[i:j])
        i = j
    return out


@pytest.mark.parametrize("alphabet", ["aZ09_'- .,\t-x", "aZ09_'\u2019- .é²ßЖ"])
def test_tokenize_equals_the_rule_read_char_by_char(alphabet):
    """Random ASCII texts (the fast path) and mixed ones against the rule itself."""
    rng = np.random.default_rng(len(alphabet))
    for _ in range(3000):
        text = "".join(rng.choice(list(alphabet), int(rng.integers(0, 30))))
        want = _spec_tokens(text)
        assert tokenize(text, lowercase=False) == want, repr(text)
        assert tokenize(text) == [t.lower() for t in want], repr(text)


@pytest.mark.parametrize("text, expected", [
    ("Don't stop—Well-Known Café's", ["Don't", "stop", "Well-Known", "Café's"]),
    ("ÉCOLE x_Y", ["ÉCOLE", "x", "Y"]),
    ("İstanbul", ["İstanbul"]),
])
def test_tokenize_keeps_case(text, expected):
    assert tokenize(text, lowercase=False) == expected


@pytest.mark.parametrize("text, expected", TOKEN_TABLE)
def test_tokenize_lowercase_is_lowercased_tokens(text, expected):
    """Lowercasing never moves token boundaries."""
    assert tokenize(text) == [t.lower() for t in tokenize(text, lowercase=False)]


# --------------------------------------------------------------------------- helpers

WORDS = ["the", "a", "of", "don't", "well-known", "café", "naïve", "東京", "𝔘nicode",
         "x", "lorem", "ipsum", "dolor", "sit", "amet", "3.5"]


def random_words(rng, n):
    return " ".join(WORDS[k] for k in rng.integers(0, len(WORDS), size=n))


def random_line_file(rng, n_lines, *, long_every=0, long_len=0):
    lines = []
    for k in range(n_lines):
        r = rng.random()
        if long_every and k % long_every == long_every - 1:
            line = random_words(rng, long_len)
        elif r < 0.15:
            line = ""
        else:
            line = random_words(rng, int(rng.integers(1, 15)))
        lines.append(line)
    text = "\n".join(lines)
    if rng.random() < 0.5:
        text += "\n"
    return text.encode("utf-8")


def ref_line_texts(data: bytes):
    """Lines of a valid UTF-8 byte string, newline kept, split on b"\\n" only."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return [line.decode("utf-8") for line in lines]


def read_whole(data, max_chars, encoding="utf-8", block=None):
    stats = DocStats()
    docs = list(iter_line_docs(io.BytesIO(data), decode=decoder(encoding, stats),
                               max_chars=max_chars, stats=stats, block=block))
    return docs, stats


# Read a line at a time, and in blocks of bytes: tiny ones (lines straddle every
# block end, long lines fall back to a line at a time) and the corpus stage's.
BLOCKS = [None, 1, 3, 64, 1 << 20]


def read_blocks(path, block_size, max_chars, block=None):
    """Read ``path`` as the corpus stage does: one pass per byte range [start, end)."""
    size = path.stat().st_size
    docs, stats = [], DocStats()
    for start in range(0, size, block_size):
        end = min(start + block_size, size)
        with open(path, "rb") as f:
            if start:
                f.seek(start - 1)
                f.readline()  # the line holding byte start-1 belongs to the previous block
            docs.extend(iter_line_docs(f, decode=decoder("utf-8", stats), max_chars=max_chars,
                                       end=end, stats=stats, block=block))
    return docs, stats


def body(doc):
    return doc[:-1] if doc.endswith("\n") else doc


# --------------------------------------------------------------------------- iter_line_docs


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("seed", range(4))
def test_line_docs_whole_file_yields_lines(seed, block):
    rng = np.random.default_rng(seed)
    data = random_line_file(rng, int(rng.integers(0, 60)))
    docs, stats = read_whole(data, max_chars=10**6, block=block)
    assert docs == ref_line_texts(data)
    assert stats.split_documents == 0 and stats.decode_errors == 0


@pytest.mark.parametrize("data, expected", [
    (b"", []),
    (b"\n", ["\n"]),
    (b"\n\n", ["\n", "\n"]),
    (b"one", ["one"]),
    (b"one\ntwo", ["one\n", "two"]),
    (b"one\n\ntwo\n", ["one\n", "\n", "two\n"]),
    ("caf\u00e9 \u6771\u4eac\r\n".encode(), ["caf\u00e9 \u6771\u4eac\r\n"]),
    ("a\u2028b\x0bc\n".encode(), ["a\u2028b\x0bc\n"]),   # only b"\n" ends a line
])
@pytest.mark.parametrize("block", BLOCKS)
def test_line_docs_cases(data, expected, block):
    assert read_whole(data, max_chars=1000, block=block)[0] == expected


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("max_chars", [1, 2, 3, 5, 16, 10**6])
@pytest.mark.parametrize("seed", range(3))
def test_line_docs_byte_ranges_equal_whole_read(tmp_path, seed, max_chars, block):
    rng = np.random.default_rng(seed)
    data = random_line_file(rng, 40, long_every=7, long_len=12)
    path = tmp_path / "corpus.txt"
    path.write_bytes(data)
    whole, whole_stats = read_whole(data, max_chars)
    # The whole read itself: contiguous pieces of the text, none longer than max_chars.
    assert "".join(whole) == data.decode("utf-8")
    assert all(len(body(d)) <= max_chars for d in whole)
    n_lines = len(ref_line_texts(data))
    assert whole_stats.split_documents == len(whole) - n_lines
    if max_chars >= 16:
        assert [t for d in whole for t in d.split()] == data.decode().split()

    size = len(data)
    block_sizes = {1, 2, 3, 7, size, size + 5} | set(rng.integers(1, size + 1, size=10).tolist())
    for block_size in sorted(block_sizes):
        docs, stats = read_blocks(path, block_size, max_chars, block)
        assert docs == whole, f"block_size={block_size}"
        assert stats.split_documents == whole_stats.split_documents


@pytest.mark.parametrize("block", BLOCKS)
def test_line_docs_blocks_at_line_starts_and_ends(tmp_path, block):
    data = b"ab\ncd\n\nef\n"
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    expected = ["ab\n", "cd\n", "\n", "ef\n"]
    for start_cuts in ([3], [2], [4], [6], [7], [3, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9]):
        bounds = [0, *start_cuts, len(data)]
        docs = []
        for start, end in zip(bounds[:-1], bounds[1:]):
            stats = DocStats()
            with open(path, "rb") as f:
                if start:
                    f.seek(start - 1)
                    f.readline()
                docs += list(iter_line_docs(f, decode=decoder("utf-8", stats), max_chars=100,
                                            end=end, stats=stats, block=block))
        assert docs == expected, bounds


@pytest.mark.parametrize("block", [None, 4096, 1 << 20])
@pytest.mark.parametrize("newline", [False, True])
def test_line_docs_long_line_is_cut_at_whitespace(newline, block):
    rng = np.random.default_rng(5)
    max_chars = 10_000
    line = random_words(rng, 360_000)                     # > 2 MB, no newline inside
    assert len(line.encode()) > 2_000_000
    text = line + ("\nshort tail line\n" if newline else "")
    docs, stats = read_whole(text.encode(), max_chars, block=block)
    n_lines = 2 if newline else 1
    assert "".join(docs) == text
    assert all(len(body(d)) <= max_chars for d in docs)
    assert [t for d in docs for t in d.split()] == text.split()   # no token broken
    assert stats.split_documents == len(docs) - n_lines
    assert stats.split_documents >= len(line) // max_chars
    # Cuts are at the last space that fits: no piece is much shorter than max_chars.
    longest_word = max(len(w) for w in WORDS)
    line_docs = docs[:-1] if newline else docs
    assert all(len(d) > max_chars - longest_word - 2 for d in line_docs[:-1])
    if newline:
        assert docs[-1] == "short tail line\n"


@pytest.mark.parametrize("block", [None, 1 << 20])
def test_line_docs_memory_stays_bounded(tmp_path, block):
    max_chars = 1 << 16
    path = tmp_path / "long.txt"
    rng = np.random.default_rng(9)
    ascii_words = [w for w in WORDS if w.isascii()]
    chunk = " ".join(ascii_words[k] for k in rng.integers(0, len(ascii_words), size=50_000))
    with open(path, "wb") as f:
        while f.tell() < 5_000_000:
            f.write(chunk.encode() + b" ")
        f.write(b"end\n")
    size = path.stat().st_size
    stats = DocStats()
    n_docs = n_chars = 0
    tracemalloc.start()
    try:
        with open(path, "rb") as f:
            for doc in iter_line_docs(f, decode=decoder("utf-8", stats), max_chars=max_chars,
                                      stats=stats, block=block):
                n_docs += 1
                n_chars += len(doc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n_chars == size
    assert n_docs == stats.split_documents + 1 and n_docs >= size // max_chars
    assert peak < 2_000_000, f"peak traced memory {peak} bytes for a {size} byte line"


# --------------------------------------------------------------------------- decoding


def test_decoder_counts_sequences_across_calls():
    stats = DocStats()
    dec = decoder("utf-8", stats)
    assert dec(b"ok \xe6") == "ok "          # incomplete, kept for the next call
    assert dec(b"\x9d") == ""
    assert dec(b"x \xe6\x9d\xb1") == "\ufffdx \u6771"   # truncated sequence, then a valid one
    assert stats.decode_errors == 1
    assert dec(b"\xff\xfe") == "\ufffd\ufffd"
    assert stats.decode_errors == 3
    assert dec(b"\xc3") == ""
    assert dec(b"", final=True) == "\ufffd"
    assert stats.decode_errors == 4


def test_decoder_latin1_never_fails():
    stats = DocStats()
    assert decoder("latin-1", stats)(b"\xff\xe9", final=True) == "\u00ff\u00e9"
    assert stats.decode_errors == 0


def test_decoder_counts_per_thread():
    results = {}

    def work(k):
        stats = DocStats()
        dec = decoder("utf-8", stats)
        for _ in range(2000):
            dec(b"a\xff" * k + b"b")
        results[k] = stats.decode_errors

    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {1: 2000, 2: 4000, 3: 6000}


# (bytes, expected text, number of invalid sequences)
INVALID_LINES = [
    (b"ok \xff bad\n", "ok \ufffd bad\n", 1),                 # byte never valid in UTF-8
    (b"\x80\x80 two\n", "\ufffd\ufffd two\n", 2),           # stray continuation bytes
    (b"trunc \xc3 x\n", "trunc \ufffd x\n", 1),             # 2-byte lead without continuation
    (b"trunc3 \xe6\x9d y\n", "trunc3 \ufffd y\n", 1),        # 3-byte sequence missing its last byte
    (b"end\xc3\n", "end\ufffd\n", 1),                       # truncated right before the newline
    ("\u6771\u4eac caf\u00e9\n".encode(), "\u6771\u4eac caf\u00e9\n", 0),
    (b"tail\xe6\x9d", "tail\ufffd", 1),                      # truncated at end of file
]


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("max_chars", [4, 8, 1000])
def test_line_docs_replace_and_count_invalid_bytes(max_chars, block):
    data = b"".join(b for b, _, _ in INVALID_LINES)
    expected = "".join(t for _, t, _ in INVALID_LINES)
    docs, stats = read_whole(data, max_chars, block=block)
    assert "".join(docs) == expected
    assert stats.decode_errors == sum(n for _, _, n in INVALID_LINES)
    if max_chars == 1000:
        assert docs == [t for _, t, _ in INVALID_LINES]


@pytest.mark.parametrize("block", BLOCKS)
def test_line_docs_invalid_sequence_split_across_reads(block):
    # max_chars=8 reads at most 8 bytes per readline call: the first read ends
    # inside a truncated sequence, the second inside a valid 3-byte character.
    data = b"abcdef\xe6\x9dx yz\n" + b"abcdefg" + "\u6771".encode() + b" z\n"
    assert data[:8] == b"abcdef\xe6\x9d" and data[13:21] == b"abcdefg\xe6"
    docs, stats = read_whole(data, max_chars=8, block=block)
    assert "".join(docs) == "abcdef\ufffdx yz\nabcdefg\u6771 z\n"
    assert stats.decode_errors == 1


@pytest.mark.parametrize("data, expected", [
    (b"abc\n\xe6", ["abc\n", "\ufffd"]),      # incomplete sequence alone on the last line
    (b"abc\n\xff", ["abc\n", "\ufffd"]),
    (b"\xf0\x9f\x98", ["\ufffd"]),
])
@pytest.mark.parametrize("block", BLOCKS)
def test_line_docs_flush_incomplete_sequence_at_eof(data, expected, block):
    docs, stats = read_whole(data, max_chars=100, block=block)
    assert docs == expected
    assert stats.decode_errors == 1


# --------------------------------------------------------------------------- paragraphs


def read_paragraphs(data, max_chars):
    stats = DocStats()
    docs = list(iter_paragraph_docs(io.BytesIO(data), decode=decoder("utf-8", stats),
                                    max_chars=max_chars, stats=stats))
    return docs, stats


def test_paragraph_docs_case():
    data = (b"\n\n"
            b"p1 line1\np1 line2\n"
            b"\n   \n\t\n"
            b"p2 only\n"
            b"\n"
            + "p3 caf\u00e9\np3 \u6771\u4eac\np3 c".encode())
    docs, stats = read_paragraphs(data, max_chars=1000)
    assert docs == ["p1 line1 p1 line2", "p2 only", "p3 caf\u00e9 p3 \u6771\u4eac p3 c"]
    assert stats.split_documents == 0


@pytest.mark.parametrize("data", [b"", b"\n", b"\n \n\t\n"])
def test_paragraph_docs_blank_input(data):
    assert read_paragraphs(data, max_chars=100)[0] == []


@pytest.mark.parametrize("max_chars", [16, 40, 10**6])
@pytest.mark.parametrize("seed", range(3))
def test_paragraph_docs_random(seed, max_chars):
    rng = np.random.default_rng(seed)
    paragraphs = []
    chunks = ["\n" * int(rng.integers(0, 3))]
    for _ in range(int(rng.integers(1, 12))):
        lines = [random_words(rng, int(rng.integers(1, 12)))
                 for _ in range(int(rng.integers(1, 6)))]
        paragraphs.append(lines)
        chunks.append("\n".join(lines) + "\n")
        chunks.append("".join(rng.choice(["", " ", "\t", "  "]) + "\n"
                              for _ in range(int(rng.integers(1, 4)))))
    data = "".join(chunks).encode()
    docs, stats = read_paragraphs(data, max_chars)
    ref = [" ".join(lines) for lines in paragraphs]
    if max_chars == 10**6:
        assert docs == ref
    assert all(len(d) <= max_chars for d in docs)
    assert [t for d in docs for t in d.split()] == [t for p in ref for t in p.split()]
    assert stats.split_documents == len(docs) - len(ref)


def test_paragraph_docs_count_invalid_bytes():
    docs, stats = read_paragraphs(b"a \xff b\nc\n\nd\xe6\x9d\n", max_chars=100)
    assert docs == ["a \ufffd b c", "d\ufffd"]
    assert stats.decode_errors == 2


# --------------------------------------------------------------------------- looks_binary


@pytest.mark.parametrize("head, expected", [
    (b"", False),
    (b"plain text\n", False),
    ("caf\u00e9 \u6771\u4eac".encode("utf-8"), False),
    (b"\xff\xfe not utf-8 but no NUL", False),
    (b"ab\x00cd", True),
    ("text".encode("utf-16-le"), True),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", True),
])
def test_looks_binary(head, expected):
    assert looks_binary(head) is expected


# --------------------------------------------------------------------------- wikidump

ALPHA = ("'''Alpha''' is the first [[Greek alphabet|letter]] of the [[Greek alphabet]]."
         "{{Citation needed|date=2020}}\n\n== History ==\n"
         "It came from the Phoenician ''aleph''.&lt;ref&gt;Some ref&lt;/ref&gt;")
ALPHA_TOKENS = ["alpha", "is", "the", "first", "letter", "of", "the", "greek", "alphabet",
                "history", "it", "came", "from", "the", "phoenician", "aleph"]
TOKYO = "Das [[Café]] in [[Tōkyō|東京]] ist groß."
TOKYO_TOKENS = ["das", "café", "in", "東京", "ist", "groß"]


def page(title, ns, pid, text, redirect=None):
    red = f'    <redirect title="{redirect}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n    <id>{pid}</id>\n{red}"
            f"    <revision>\n      <id>{pid * 10}</id>\n"
            f'      <text bytes="1" xml:space="preserve">{text}</text>\n'
            f"    </revision>\n  </page>\n")


def wiki_dump(*pages):
    return ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" '
            'version="0.10" xml:lang="en">\n'
            "  <siteinfo>\n    <sitename>Test</sitename>\n    <namespaces>\n"
            '      <namespace key="0" case="first-letter" />\n'
            '      <namespace key="1" case="first-letter">Talk</namespace>\n'
            "    </namespaces>\n  </siteinfo>\n"
            + "".join(pages) + "</mediawiki>\n").encode("utf-8")


def read_wiki(data, max_chars=10**6):
    stats = DocStats()
    docs = list(iter_wikidump_docs(io.BytesIO(data), decode=decoder("utf-8", stats),
                                   max_chars=max_chars, stats=stats))
    return docs, stats


def test_wikidump_articles_only():
    data = wiki_dump(
        page("Alpha", 0, 1, ALPHA),
        page("Talk:Alpha", 1, 2, "Talk page chatter about [[Alpha]]."),
        page("Alef", 0, 3, "#REDIRECT [[Alpha]]", redirect="Alpha"),
        page("Tokyo", 0, 4, TOKYO),
    )
    docs, stats = read_wiki(data)
    assert [tokenize(d) for d in docs] == [ALPHA_TOKENS, TOKYO_TOKENS]
    for d in docs:
        assert "\n" not in d and "[[" not in d and "{{" not in d and "<ref" not in d
    assert stats.extra["redirects"] == 1
    assert stats.decode_errors == 0


def test_wikidump_long_article_split_and_decoded_across_reads():
    # > 64 KiB of multibyte text: reads end inside characters; one invalid byte.
    words = ("東京 café naïve " * 12_000).strip()
    text = words + " \xff"  # placeholder for the invalid byte, encoded below
    data = wiki_dump(page("Long", 0, 1, text), page("Tokyo", 0, 2, TOKYO))
    data = data.replace("\xff".encode("utf-8"), b"\xff")
    assert len(data) > 3 * (1 << 16)
    max_chars = 5000
    docs, stats = read_wiki(data, max_chars=max_chars)
    assert stats.decode_errors == 1
    assert all(len(d) <= max_chars for d in docs)
    assert [t for d in docs for t in tokenize(d)] == tokenize(words) + TOKYO_TOKENS
    assert stats.split_documents == len(docs) - 2
    assert stats.extra["redirects"] == 0


def test_senseval_xml_gives_one_document_per_context():
    import io

    from tasks.tokenize import DocStats, iter_senseval_docs
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<corpus lang="english">'
           b'<lexelt item="bank.n"><instance id="bank.n.1"><context>The  <head>bank</head>'
           b' raised rates.</context></instance><instance id="bank.n.2"><context>River'
           b' <head>banks</head> &amp; fish</context></instance></lexelt></corpus>')
    docs = list(iter_senseval_docs(io.BytesIO(xml), decode=None, max_chars=1000,
                                   stats=DocStats()))
    assert docs == ["The bank raised rates.", "River banks & fish"]
    with pytest.raises(ValueError, match="malformed Senseval XML"):
        list(iter_senseval_docs(io.BytesIO(xml[:-20]), decode=None, max_chars=1000,
                                stats=DocStats()))
