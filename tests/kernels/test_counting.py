"""tasks.counting against collections.Counter / str.split references."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from tasks.counting import (VOCAB_SCHEMA, count_words, encode_lines, merge_counts,
                            select_vocab, split_tokens)

# Words whose byte/code-point order differs from other plausible orders:
# upper before lower case, accented after ASCII, BMP full-width "Ａ" (U+FF21)
# before the astral "𝔘" (U+1D518) although UTF-16 code units would sort them the
# other way round.
WORDS = ["a", "b", "Z", "the", "café", "cafe", "naïve", "東京", "Ａ", "𝔘", "don't",
         "well-known", "x", "é", "ß", "3"]

COUNT_SCHEMA = pa.schema([("word", pa.string()), ("count", pa.int64())])


def random_lines(rng, n_lines, *, words=WORDS, max_len=12):
    """Space-joined documents with empty lines and some trailing newlines."""
    p = 1.0 / np.arange(1, len(words) + 1)
    lines = []
    for _ in range(n_lines):
        n = 0 if rng.random() < 0.15 else int(rng.integers(1, max_len + 1))
        toks = [words[k] for k in rng.choice(len(words), size=n, p=p / p.sum())]
        line = " ".join(toks)
        if rng.random() < 0.3:
            line += "\n"
        lines.append(line)
    return lines


def ref_tokens(lines):
    return [line.split() for line in lines]


def ref_vocab(counter, min_count, max_size):
    items = sorted(((w, c) for w, c in counter.items() if c >= min_count),
                   key=lambda wc: (-wc[1], wc[0]))
    return items if max_size is None else items[:max_size]


def table_as_dict(table):
    words, counts = table["word"].to_pylist(), table["count"].to_pylist()
    assert len(set(words)) == len(words), "duplicate words"
    return dict(zip(words, counts))


# --------------------------------------------------------------------------- split_tokens


@pytest.mark.parametrize("as_arrow", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_split_tokens_matches_str_split(seed, as_arrow):
    rng = np.random.default_rng(seed)
    lines = random_lines(rng, int(rng.integers(1, 40)))
    arg = pa.array(lines, type=pa.string()) if as_arrow else lines
    tokens, offsets = split_tokens(arg)
    ref = ref_tokens(lines)
    assert tokens.to_pylist() == [t for toks in ref for t in toks]
    assert offsets.dtype == np.int64
    assert offsets.tolist() == [0, *np.cumsum([len(t) for t in ref]).tolist()]
    for d, toks in enumerate(ref):
        assert tokens[offsets[d]:offsets[d + 1]].to_pylist() == toks


@pytest.mark.parametrize("lines, expected", [
    ([], []),
    ([""], [[]]),
    (["", "\n", ""], [[], [], []]),
    (["a\n", "", "b c"], [["a"], [], ["b", "c"]]),
    (["東京 café\n", "naïve"], [["東京", "café"], ["naïve"]]),
    (["a  b ", " c\n\n", "   "], [["a", "b"], ["c"], []]),
    (["x\ny z\n"], [["x\ny", "z"]]),
    (["a", "b", "c", "d", "e"], [["a"], ["b"], ["c"], ["d"], ["e"]]),
])
def test_split_tokens_edge_cases(lines, expected):
    tokens, offsets = split_tokens(lines)
    assert offsets.tolist() == [0, *np.cumsum([len(e) for e in expected]).tolist()]
    assert tokens.to_pylist() == [t for e in expected for t in e]


@pytest.mark.parametrize("type_", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("seed", [0, 1])
def test_split_tokens_of_a_sliced_array(seed, type_):
    """A slice of a larger array (as Arrow's split results are) splits like its lines."""
    rng = np.random.default_rng(seed)
    lines = random_lines(rng, 30)
    arr = pa.array(lines, type=type_)
    for lo, hi in [(0, 30), (1, 30), (7, 19), (12, 12), (29, 30)]:
        tokens, offsets = split_tokens(arr.slice(lo, hi - lo))
        ref = ref_tokens(lines[lo:hi])
        assert tokens.type == type_
        assert tokens.to_pylist() == [t for toks in ref for t in toks]
        assert offsets.tolist() == [0, *np.cumsum([len(t) for t in ref]).tolist()]


# --------------------------------------------------------------------------- count_words


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_count_words_matches_counter(seed):
    rng = np.random.default_rng(seed)
    lines = random_lines(rng, int(rng.integers(1, 60)))
    table = count_words(lines)
    assert table.schema == COUNT_SCHEMA
    assert table_as_dict(table) == Counter(t for line in lines for t in line.split())


@pytest.mark.parametrize("lines", [[], [""], ["", "\n"]])
def test_count_words_empty(lines):
    table = count_words(lines)
    assert table.schema == COUNT_SCHEMA
    assert table.num_rows == 0


# --------------------------------------------------------------------------- merge_counts


@pytest.mark.parametrize("n_parts", [1, 2, 3, 6])
def test_merge_counts_equals_count_of_concatenation(n_parts):
    rng = np.random.default_rng(n_parts)
    lines = random_lines(rng, 80)
    cuts = np.sort(rng.integers(0, len(lines) + 1, size=n_parts - 1))
    parts = np.split(np.array(lines, dtype=object), cuts)
    tables = [count_words(list(p)) for p in parts]
    merged = merge_counts(*tables)
    assert merged.schema == COUNT_SCHEMA
    assert table_as_dict(merged) == Counter(t for line in lines for t in line.split())


def test_merge_counts_with_empty_tables_and_none():
    a = count_words(["x y x", "東京"])
    empty = count_words([])
    merged = merge_counts(empty, a, empty, a)
    assert merged.schema == COUNT_SCHEMA
    assert table_as_dict(merged) == {"x": 4, "y": 2, "東京": 2}
    nothing = merge_counts()
    assert nothing.schema == COUNT_SCHEMA and nothing.num_rows == 0
    assert merge_counts(empty, empty).num_rows == 0


# --------------------------------------------------------------------------- select_vocab


@pytest.mark.parametrize("max_size", [None, 0, 1, 3, 5, 1000])
@pytest.mark.parametrize("min_count", [1, 2, 3, 50])
@pytest.mark.parametrize("seed", [0, 1])
def test_select_vocab_matches_sorted_reference(seed, min_count, max_size):
    rng = np.random.default_rng(seed)
    # Many ties: counts drawn from a small range.
    counter = Counter({w: int(c) for w, c in zip(WORDS, rng.integers(1, 5, size=len(WORDS)))})
    table = pa.table({"word": list(counter), "count": pa.array(list(counter.values()),
                                                                pa.int64())})
    vocab = select_vocab(table, min_count=min_count, max_size=max_size)
    ref = ref_vocab(counter, min_count, max_size)
    assert vocab.schema == VOCAB_SCHEMA
    assert list(zip(vocab["word"].to_pylist(), vocab["count"].to_pylist())) == ref
    assert vocab["id"].to_pylist() == list(range(len(ref)))


def test_select_vocab_ties_in_code_point_order():
    words = ["𝔘", "Ａ", "é", "z", "a", "Z", "東京", "ß"]
    table = pa.table({"word": words, "count": [2] * len(words)})
    vocab = select_vocab(table, min_count=1)
    assert vocab["word"].to_pylist() == ["Z", "a", "z", "ß", "é", "東京", "Ａ", "𝔘"]


def test_select_vocab_on_merged_counts_from_text():
    lines = ["b a b c\n", "", "c b é", "a"]
    vocab = select_vocab(merge_counts(count_words(lines[:2]), count_words(lines[2:])),
                         min_count=2, max_size=None)
    assert vocab.schema == VOCAB_SCHEMA
    assert vocab.to_pylist() == [{"word": "b", "id": 0, "count": 3},
                                 {"word": "a", "id": 1, "count": 2},
                                 {"word": "c", "id": 2, "count": 2}]


def test_select_vocab_empty():
    vocab = select_vocab(count_words([]), min_count=1, max_size=10)
    assert vocab.schema == VOCAB_SCHEMA and vocab.num_rows == 0


# --------------------------------------------------------------------------- encode_lines


@pytest.mark.parametrize("vocab_kind", ["array", "column"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_encode_lines_matches_dict_lookup(seed, vocab_kind):
    rng = np.random.default_rng(seed)
    lines = random_lines(rng, int(rng.integers(1, 50)))
    counter = Counter(t for line in lines for t in line.split())
    vocab = select_vocab(count_words(lines), min_count=2, max_size=6)
    if vocab_kind == "array":
        words = pa.array([w for w, _ in ref_vocab(counter, 2, 6)], pa.string())
    else:  # as the pipeline passes it
        words = vocab["word"].combine_chunks()
    index = {w: i for i, w in enumerate(words.to_pylist())}
    ids, offsets = encode_lines(lines, words)
    ref = ref_tokens(lines)
    assert ids.dtype == np.int32 and offsets.dtype == np.int64
    assert ids.tolist() == [index.get(t, -1) for toks in ref for t in toks]
    assert offsets.tolist() == [0, *np.cumsum([len(t) for t in ref]).tolist()]
    if any(t not in index for toks in ref for t in toks):
        assert (ids == -1).any()


@pytest.mark.parametrize("lines, vocab, ids, offsets", [
    ([], ["a"], [], [0]),
    (["", ""], ["a"], [], [0, 0, 0]),
    (["a b\n", "", "東京 a café"], [], [-1, -1, -1, -1, -1], [0, 2, 2, 5]),
    (["a b\n", "", "東京 a café", "naïve\n"], ["東京", "a", "naïve"],
     [1, -1, 0, 1, -1, 2], [0, 2, 2, 5, 6]),
])
def test_encode_lines_cases(lines, vocab, ids, offsets):
    got_ids, got_offsets = encode_lines(lines, pa.array(vocab, pa.string()))
    assert got_ids.dtype == np.int32 and got_offsets.dtype == np.int64
    assert got_ids.tolist() == ids
    assert got_offsets.tolist() == offsets
