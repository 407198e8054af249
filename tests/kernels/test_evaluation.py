"""tasks.evaluation against scipy, brute-force loops, gensim and vectors built to known answers."""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from tasks.evaluation import analogy_scores, read_analogies, read_pairs, similarity_scores

SIMILARITY = Path(__file__).resolve().parents[3] / "shared" / "data" / "similarity"
SIM_FILES = {"EN-WS-353-ALL.txt": 353, "EN-SIMLEX-999.txt": 999, "EN-MEN-TR-3k.txt": 3000,
             "EN-RW-STANFORD.txt": 2034}


def _read(reader, path, **kw):
    """A tasks/ reader applied to a file opened here (tasks/ opens no file)."""
    with open(path, "rb") as f:
        return reader(f, **kw)


def gensim_test_file(name):
    gensim = pytest.importorskip("gensim")
    path = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data", name)
    if not os.path.exists(path):
        pytest.skip(f"gensim test file {name} not installed")
    return path


def json_safe(result):
    """The result serialises as strict JSON (no NaN) and holds plain Python numbers."""
    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        return x is None or type(x) in (int, float)
    return plain(result) and json.loads(json.dumps(result, allow_nan=False)) == result


# --------------------------------------------------------------------------- read_pairs


@pytest.mark.parametrize("fname", sorted(SIM_FILES))
def test_read_pairs_shared_files(fname):
    path = SIMILARITY / fname
    if not path.exists():
        pytest.skip(f"{path} missing")
    pairs = _read(read_pairs, path)
    data_lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(pairs) == len(data_lines) == SIM_FILES[fname]
    for (w1, w2, score), line in zip(pairs, data_lines):
        f1, f2, f3 = line.split()
        assert (w1, w2, score) == (f1.lower(), f2.lower(), float(f3))
        assert "\r" not in w2  # WS-353 has CRLF line ends


def test_read_pairs_gensim_wordsim_skips_comments():
    path = gensim_test_file("wordsim353.tsv")
    pairs = _read(read_pairs, path)
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert len(pairs) == sum(1 for ln in lines if ln.strip() and not ln.startswith("#")) == 353
    if (SIMILARITY / "EN-WS-353-ALL.txt").exists():
        assert pairs == _read(read_pairs, SIMILARITY / "EN-WS-353-ALL.txt")


def test_read_pairs_lines_and_options():
    lines = ["# comment", "", "Tiger\tcat 7.35\r\n", "  Love  Sex\t6.77  ", b"caf\xc3\xa9 Tea 1e0"]
    assert read_pairs(lines) == [("tiger", "cat", 7.35), ("love", "sex", 6.77),
                                 ("café", "tea", 1.0)]
    assert read_pairs(lines, lowercase=False)[0] == ("Tiger", "cat", 7.35)
    assert read_pairs(["\ufeffa b 1"]) == [("a", "b", 1.0)]  # byte-order mark dropped


@pytest.mark.parametrize("bad, lineno", [
    (["a b 1", "a b"], 2),                      # too few fields
    (["# c", "a b 1", "", "a b c 1"], 4),       # too many fields (comments/blanks still counted)
    (["a b x"], 1),                             # score not a number
    (["a b 1", "a b nan"], 2),                  # score not finite
    (["a b inf"], 1),
    ([b"a b 1", b"\xff b 2"], 2),                # invalid UTF-8
])
def test_read_pairs_bad_lines(bad, lineno):
    with pytest.raises(ValueError, match=rf"^mydata: line {lineno}: ") as e:
        read_pairs(bad, name="mydata")
    assert "\n" not in str(e.value)


def test_read_pairs_bad_file_names_path(tmp_path):
    p = tmp_path / "sim.txt"
    p.write_text("a b 1\nc d 2\ne f\n")
    with pytest.raises(ValueError, match=r"sim\.txt: line 3: expected 'word1 word2 score'"):
        _read(read_pairs, p)
    with pytest.raises(TypeError, match="opens no file"):  # a path: the caller reads it
        read_pairs(str(p))


# --------------------------------------------------------------------------- similarity_scores


def cos(u, v):
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


def test_similarity_matches_scipy_on_random_data():
    rng = np.random.default_rng(0)
    vec = rng.standard_normal((50, 8))
    index = {f"w{i}": i for i in range(50)}
    pairs = [(f"w{rng.integers(50)}", f"w{rng.integers(50)}", float(rng.random() * 10))
             for _ in range(200)]
    got = similarity_scores(pairs, vec, index)
    c = [1.0 if a == b else cos(vec[index[a]], vec[index[b]]) for a, b, _ in pairs]
    g = [s for _, _, s in pairs]
    assert got["pearson"] == pytest.approx(scipy.stats.pearsonr(c, g)[0], abs=1e-12)
    assert got["spearman"] == pytest.approx(scipy.stats.spearmanr(c, g)[0], abs=1e-12)
    assert (got["pairs_used"], got["pairs_total"], got["oov_rate"]) == (200, 200, 0.0)
    assert json_safe(got)


def test_similarity_self_pairs_tie():
    rng = np.random.default_rng(5)
    vec = rng.standard_normal((30, 7)) * rng.uniform(0.1, 10, size=(30, 1))
    index = {f"w{i}": i for i in range(30)}
    pairs = [(f"w{i}", f"w{i}", 10.0) for i in range(30)]
    pairs += [(f"w{i}", f"w{i + 1}", float(i)) for i in range(29)]
    pairs += [(f"w{i + 1}", f"w{i}", float(i)) for i in range(29)]  # symmetric repeats tie too
    c = [1.0] * 30 + [cos(vec[i], vec[i + 1]) for i in range(29)] * 2
    g = [p[2] for p in pairs]
    got = similarity_scores(pairs, vec, index)
    assert got["spearman"] == pytest.approx(scipy.stats.spearmanr(c, g)[0], abs=1e-12)
    assert got["pearson"] == pytest.approx(scipy.stats.pearsonr(c, g)[0], abs=1e-12)


def test_similarity_known_values():
    # 2-D vectors at known angles: cos(word_k, ref) = cos(theta_k).
    thetas = np.array([0.1, 0.5, 0.9, 1.3, 2.0, 3.0])
    vec = np.vstack([[1.0, 0.0], np.c_[np.cos(thetas), np.sin(thetas)] * np.arange(1, 7)[:, None]])
    index = {"ref": 0, **{f"w{k}": k + 1 for k in range(6)}}
    linear = [("ref", f"w{k}", 3.0 * math.cos(t) + 1.0) for k, t in enumerate(thetas)]
    got = similarity_scores(linear, vec, index)
    assert got["pearson"] == pytest.approx(1.0) and got["spearman"] == pytest.approx(1.0)
    monotone_decreasing = [("ref", f"w{k}", t ** 3) for k, t in enumerate(thetas)]
    got = similarity_scores(monotone_decreasing, vec, index)
    assert got["spearman"] == pytest.approx(-1.0)
    assert -1.0 < got["pearson"] < -0.9


def test_similarity_oov_counts():
    rng = np.random.default_rng(1)
    vec = rng.standard_normal((10, 4))
    index = {f"w{i}": i for i in range(10)}
    pairs = [("w1", "w2", 1.0), ("w1", "zz", 2.0), ("w3", "w4", 3.0), ("yy", "w5", 4.0),
             ("w6", "w7", 2.5), ("w8", "w9", 0.5), ("xx", "xx", 9.0), ("w0", "w9", 7.0)]
    got = similarity_scores(pairs, vec, index)
    assert (got["pairs_used"], got["pairs_total"]) == (5, 8)
    assert got["oov_rate"] == pytest.approx(3 / 8)
    kept = [p for p in pairs if p[0] in index and p[1] in index]
    want = similarity_scores(kept, vec, index) | {"pairs_total": 8, "oov_rate": 3 / 8}
    # the halves' totals count every pair (OOV ones too); their correlations do not
    totals = {k: got.pop(k) for k in ("pairs_total_dev", "pairs_total_test")}
    assert sum(totals.values()) == 8
    assert got == {k: v for k, v in want.items() if k not in totals}


@pytest.mark.parametrize("pairs, used, total", [
    ([], 0, 0),
    ([("a", "b", 1.0), ("a", "c", 2.0)], 2, 2),            # too few pairs to correlate
    ([("a", "q", 1.0), ("q", "b", 2.0), ("c", "a", 3.0)], 1, 3),
    ([("a", "b", 5.0), ("a", "c", 5.0), ("b", "c", 5.0)], 3, 3),  # constant gold scores
])
def test_similarity_undefined_correlations_are_none(pairs, used, total):
    vec = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    got = similarity_scores(pairs, vec, {"a": 0, "b": 1, "c": 2})
    assert got["pearson"] is None and got["spearman"] is None
    assert (got["pairs_used"], got["pairs_total"]) == (used, total)
    assert got["oov_rate"] == (None if total == 0 else (total - used) / total)
    assert json_safe(got)


def test_similarity_zero_vector_has_cosine_zero():
    vec = np.array([[1.0, 0.0], [0.0, 0.0], [0.6, 0.8], [-1.0, 0.2]])
    index = {"a": 0, "z": 1, "b": 2, "c": 3}
    got = similarity_scores([("a", "z", 1.0), ("a", "b", 2.0), ("a", "c", 0.0)], vec, index)
    ref = scipy.stats.pearsonr([0.0, 0.6, cos(vec[0], vec[3])], [1.0, 2.0, 0.0])[0]
    assert got["pearson"] == pytest.approx(ref)


def test_similarity_bad_inputs():
    vec = np.eye(3)
    with pytest.raises(ValueError, match="2-D"):
        similarity_scores([], np.ones(3), {})
    with pytest.raises(ValueError, match="not a row"):
        similarity_scores([("a", "b", 1.0)], vec, {"a": 0, "b": 3})
    with pytest.raises(TypeError, match="index must map"):
        similarity_scores([("a", "b", 1.0)], vec, ["a", "b"])
    with pytest.raises(ValueError, match=r"pairs\[0\]"):
        similarity_scores([("a", "b")], vec, {"a": 0, "b": 1})


# --------------------------------------------------------------------------- read_analogies


def test_read_analogies_gensim_file():
    path = gensim_test_file("questions-words.txt")
    questions = _read(read_analogies, path)
    counts, section = {}, None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
            counts[section] = 0
        elif line.strip():
            counts[section] += 1
    assert len(counts) == 14 and sum(counts.values()) == len(questions) > 19000
    got = {}
    for q in questions:
        got[q[0]] = got.get(q[0], 0) + 1
    assert got == counts and list(got) == list(counts)  # file order kept
    assert questions[0] == ("capital-common-countries", "athens", "greece", "baghdad", "iraq")
    assert _read(read_analogies, path, lowercase=False)[0][1:] == ("Athens", "Greece", "Baghdad", "Iraq")


def test_read_analogies_lines():
    lines = [": sec one", "A b c d", "", "# note", ":two", "e f g h\r\n"]
    assert read_analogies(lines) == [("sec one", "a", "b", "c", "d"), ("two", "e", "f", "g", "h")]


@pytest.mark.parametrize("bad, lineno, what", [
    (["a b c d"], 1, "before the first"),
    ([": s", "a b c d", "a b c"], 3, "expected 'a b c d'"),
    ([": s", "a b c d e"], 2, "expected 'a b c d'"),
    ([": s", "a b c d", ":  "], 3, "empty section"),
    ([b": s", b"a b \xe9 d"], 2, "invalid UTF-8"),
])
def test_read_analogies_bad_lines(bad, lineno, what):
    with pytest.raises(ValueError, match=rf"^q\.txt: line {lineno}: .*{what}"):
        read_analogies(bad, name="q.txt")


# --------------------------------------------------------------------------- analogy_scores


def planted_vectors(seed=0, n_distractors=40, d=64):
    """Words = category + gender * g + royalty * r + small own direction (all orthonormal).

    "man : woman :: king : queen" and friends then have a unique right answer by
    construction, with b - a + c = answer + small noise.
    """
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    g, r, adult, young = basis[0], basis[1], basis[2], basis[3]
    own = iter(basis[4:])
    spec = {"man": (adult, 0, 0), "woman": (adult, 1, 0), "king": (adult, 0, 1),
            "queen": (adult, 1, 1), "boy": (young, 0, 0), "girl": (young, 1, 0),
            "prince": (young, 0, 1), "princess": (young, 1, 1)}
    words, rows = [], []
    for w, (cat, gender, royal) in spec.items():
        words.append(w)
        rows.append(cat + gender * g + royal * r + 0.15 * next(own))
    for k in range(n_distractors):  # unrelated words, unit length
        words.append(f"x{k}")
        v = rng.standard_normal(d)
        rows.append(v / np.linalg.norm(v) * rng.uniform(0.5, 2.0))
    order = rng.permutation(len(words))  # rows need not follow any pattern
    words = [words[i] for i in order]
    vec = np.array(rows)[order]
    return vec, {w: i for i, w in enumerate(words)}


PLANTED = [
    ("gender", "man", "woman", "king", "queen"), ("gender", "king", "queen", "man", "woman"),
    ("gender", "boy", "girl", "prince", "princess"), ("gender", "queen", "king", "girl", "boy"),
    ("royalty", "man", "king", "woman", "queen"), ("royalty", "girl", "princess", "boy", "prince"),
    ("age", "man", "boy", "queen", "princess"), ("age", "princess", "queen", "boy", "man"),
]


def test_analogy_planted_answers():
    vec, index = planted_vectors()
    got = analogy_scores(PLANTED, vec, index)
    assert got["add_accuracy"] == 1.0 and got["mul_accuracy"] == 1.0
    assert (got["questions_total"], got["questions_used"], got["coverage"]) == (8, 8, 1.0)
    assert list(got["by_section"]) == ["gender", "royalty", "age"]
    assert got["by_section"]["age"] == {"add_accuracy": 1.0, "mul_accuracy": 1.0, "coverage": 1.0,
                                        "questions_total": 2, "questions_used": 2}
    assert json_safe(got)


def test_analogy_excludes_question_words():
    # b - a + c is closest to c itself here (for both objectives); the answer is the next best.
    words = ["man", "woman", "king", "queen", "other"]
    vec = np.array([[1, 0, 0, .5, 0, 0], [1, .3, 0, 0, .5, 0], [1, 0, 1, 0, 0, 0],
                    [1, .3, 1, 0, 0, .6], [0, 0, 0, 0, 0, 1.]])
    index = {w: i for i, w in enumerate(words)}
    unit = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    sims = unit @ unit.T
    add_all = unit @ (unit[1] - unit[0] + unit[2])
    mul_all = (sims[1] + 1) / 2 * (sims[2] + 1) / 2 / ((sims[0] + 1) / 2 + 1e-3)
    assert add_all.argmax() == 2 and mul_all.argmax() == 2  # "king" = c, without exclusion
    got = analogy_scores([("s", "man", "woman", "king", "queen")], vec, index)
    assert got["add_accuracy"] == 1.0 and got["mul_accuracy"] == 1.0
    # "a a c c" questions: b - a + c = c, which is excluded, so they are always wrong.
    trivial = [("t", "man", "man", "king", "king"), ("t", "woman", "woman", "queen", "queen")]
    got = analogy_scores(trivial, vec, index)
    assert got["add_accuracy"] == 0.0 and got["mul_accuracy"] == 0.0
    planted, pindex = planted_vectors()
    for q in PLANTED:  # asking for b (or a) as the answer is never right either
        for wrong in (q[1], q[2], q[3]):
            got = analogy_scores([(*q[:4], wrong)], planted, pindex)
            assert got["add_accuracy"] == 0.0 and got["mul_accuracy"] == 0.0


def brute_force(vec, questions, index, restrict, eps):
    """Per-question predictions of 3CosAdd and 3CosMul, one candidate at a time (float64)."""
    unit = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    out = []
    for _, a, b, c, _ in questions:
        ia, ib, ic = index[a], index[b], index[c]
        target = unit[ib] - unit[ia] + unit[ic]
        best_add = best_mul = None
        s_add = s_mul = -np.inf
        for x in range(restrict):
            if x in (ia, ib, ic):
                continue
            add = cos(unit[x], target)
            ca, cb, cc = ((float(unit[x] @ unit[i]) + 1) / 2 for i in (ia, ib, ic))
            mul = cb * cc / (ca + eps)
            if add > s_add:
                s_add, best_add = add, x
            if mul > s_mul:
                s_mul, best_mul = mul, x
        out.append((best_add, best_mul))
    return out


def per_question(questions, vec, index, **kw):
    """Run with one section per question; returns [(add_right, mul_right or None)]."""
    tagged = [(f"q{k}", *q[1:]) for k, q in enumerate(questions)]
    got = analogy_scores(tagged, vec, index, **kw)
    return got, [(s["add_accuracy"], s["mul_accuracy"]) for s in got["by_section"].values()]


@pytest.mark.parametrize("seed, restrict", [(0, None), (1, 150), (2, 299)])
def test_analogy_matches_brute_force(seed, restrict):
    rng = np.random.default_rng(seed)
    n, d = 300, 16
    vec = rng.standard_normal((n, d))
    words = [f"w{i}" for i in range(n)]
    index = {w: i for i, w in enumerate(words)}
    limit = n if restrict is None else restrict
    questions = []
    for _ in range(120):
        a, b, c = rng.choice(limit, size=3, replace=False)
        questions.append(("s", words[a], words[b], words[c], None))
    preds = brute_force(vec, questions, index, limit, 1e-3)
    # Ask each question for the 3CosAdd answer, the 3CosMul answer or a random word.
    asked, expect = [], []
    for k, (q, (p_add, p_mul)) in enumerate(zip(questions, preds)):
        dd = [p_add, p_mul, int(rng.integers(limit))][k % 3]
        asked.append((*q[:4], words[dd]))
        expect.append((float(dd == p_add), float(dd == p_mul)))
    assert sum(e[0] for e in expect) >= 40 and sum(e[1] for e in expect) >= 40
    for kw in ({}, {"batch_size": 7}, {"batch_size": 5, "max_bytes": 3 * limit * 4 * 11}):
        got, res = per_question(asked, vec, index, restrict=restrict, **kw)
        assert res == expect, kw
        assert got["coverage"] == 1.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # gensim's own init_sims call
def test_analogy_matches_gensim_most_similar():
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    rng = np.random.default_rng(7)
    n, d = 200, 12
    vec = rng.standard_normal((n, d)).astype(np.float32)
    words = [f"w{i}" for i in range(n)]
    kv = KeyedVectors(d)
    kv.add_vectors(words, vec)
    questions, answers = [], []
    for k in range(60):
        a, b, c = (words[i] for i in rng.choice(n, size=3, replace=False))
        add = kv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0]
        mul = kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=1)[0][0]
        questions += [(f"add{k}", a, b, c, add), (f"mul{k}", a, b, c, mul)]
        answers.append(add == mul)
    assert not all(answers)
    # gensim's 3CosMul uses eps = 1e-6.
    got = analogy_scores(questions, vec, {w: i for i, w in enumerate(words)}, restrict=None,
                         eps=1e-6)["by_section"]
    for k, same in enumerate(answers):
        assert got[f"add{k}"]["add_accuracy"] == 1.0 and got[f"mul{k}"]["mul_accuracy"] == 1.0
        assert got[f"add{k}"]["mul_accuracy"] == got[f"mul{k}"]["add_accuracy"] == float(same)


def test_analogy_gensim_evaluate_word_analogies(tmp_path):
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    vec, index = planted_vectors(seed=3, n_distractors=60)
    rng = np.random.default_rng(3)
    planted = {w for q in PLANTED for w in q[1:]}
    words = sorted(index, key=lambda w: (w not in planted, index[w]))  # planted words first
    vec = vec[[index[w] for w in words]]
    index = {w: i for i, w in enumerate(words)}
    lines = []
    for s in range(4):
        lines.append(f": s{s}")
        for _ in range(30):
            q = [words[i] for i in rng.choice(len(words), size=4, replace=False)]
            if rng.random() < 0.3:
                q = list(PLANTED[rng.integers(len(PLANTED))][1:])
            lines.append(" ".join(q))
    path = tmp_path / "q.txt"
    path.write_text("\n".join(lines) + "\n")
    kv = KeyedVectors(vec.shape[1])
    kv.add_vectors(words, vec.astype(np.float32))
    for restrict in (len(words), 40):
        _, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=restrict,
                                                 case_insensitive=False)
        got = analogy_scores(_read(read_analogies, path), vec, index, restrict=restrict)
        assert [s["section"] for s in sections[:-1]] == list(got["by_section"])
        for sec in sections[:-1]:
            mine = got["by_section"][sec["section"]]
            n_used = len(sec["correct"]) + len(sec["incorrect"])
            assert mine["questions_used"] == n_used
            if n_used:
                assert mine["add_accuracy"] == pytest.approx(len(sec["correct"]) / n_used)
        total = sections[-1]
        assert got["questions_used"] == len(total["correct"]) + len(total["incorrect"])
        assert len(total["correct"]) >= 20  # the planted questions are answered


def test_analogy_restrict():
    vec, index = planted_vectors()
    # Move "queen" to the last row and leave it out: questions needing it are skipped,
    # and it is no candidate for the others.
    order = sorted(index, key=index.get)
    order.remove("queen")
    order.append("queen")
    vec = vec[[index[w] for w in order]]
    index = {w: i for i, w in enumerate(order)}
    n = len(order)
    got = analogy_scores(PLANTED[:5], vec, index, restrict=n - 1)
    assert (got["questions_used"], got["questions_total"]) == (1, 5)  # boy : girl :: prince
    assert got["coverage"] == pytest.approx(1 / 5) and got["add_accuracy"] == 1.0
    assert got["by_section"]["royalty"] == {"add_accuracy": None, "mul_accuracy": None,
                                            "coverage": 0.0, "questions_total": 1,
                                            "questions_used": 0}
    assert analogy_scores(PLANTED[:5], vec, index, restrict=n)["questions_used"] == 5
    assert analogy_scores(PLANTED[:5], vec, index, restrict=None)["add_accuracy"] == 1.0
    # Without "queen", man : woman :: king : ? takes the best of the first n - 1 rows.
    q = [("s", "man", "woman", "king", None)]
    best_add, best_mul = brute_force(vec, q, index, n - 1, 1e-3)[0]
    assert "queen" not in (order[best_add], order[best_mul])
    got = analogy_scores([(*q[0][:4], order[best_add]), (*q[0][:4], order[best_mul])], vec,
                         index, restrict=n - 1)
    assert got["add_accuracy"] >= 0.5 and got["mul_accuracy"] >= 0.5
    assert got["add_accuracy"] + got["mul_accuracy"] == (1.0 if best_add != best_mul else 2.0)


def test_analogy_no_usable_questions_and_bad_inputs():
    vec, index = planted_vectors()
    got = analogy_scores([("s", "man", "woman", "king", "nope")], vec, index)
    assert got["add_accuracy"] is None and got["mul_accuracy"] is None
    assert got["coverage"] == 0.0 and json_safe(got)
    empty = analogy_scores([], vec, index)
    assert empty["coverage"] is None and empty["by_section"] == {}
    for bad in (0, -5, 2.5, True, "10"):
        with pytest.raises(ValueError, match="restrict"):
            analogy_scores(PLANTED, vec, index, restrict=bad)
    with pytest.raises(ValueError, match=r"questions\[0\]"):
        analogy_scores([("man", "woman", "king", "queen")], vec, index)
    with pytest.raises(ValueError, match="2-D"):
        analogy_scores(PLANTED, vec[0], index)
    broken = vec.copy()
    broken[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3 holds a non-finite value"):
        analogy_scores(PLANTED, broken, index)
    with pytest.raises(ValueError, match="not a row"):
        analogy_scores(PLANTED, vec[:5], index)


def test_analogy_full_questions_file_speed():
    """All ~19.5k questions against 30k x 300 vectors: well under a minute (about 2 s here)."""
    path = gensim_test_file("questions-words.txt")
    questions = _read(read_analogies, path)
    rng = np.random.default_rng(0)
    qwords = sorted({w for q in questions for w in q[1:]})
    n = 30000
    vocab = qwords + [f"filler{i}" for i in range(n - len(qwords))]
    rows = rng.permutation(n)
    index = {w: int(r) for w, r in zip(vocab, rows)}
    vec = rng.standard_normal((n, 300)).astype(np.float32)
    t = time.perf_counter()
    got = analogy_scores(questions, vec, index, restrict=n)
    elapsed = time.perf_counter() - t
    assert got["questions_used"] == got["questions_total"] == len(questions)
    assert got["add_accuracy"] < 0.01  # random vectors know nothing
    assert elapsed < 30, elapsed


def test_format_table_prints_unscored_figures_as_dashes():
    from pipeline.stages.evaluate import format_table
    text = format_table({"similarity": {"ws": {"pairs_used": 0, "pairs_total": 3,
                                               "oov_rate": 1.0, "pearson": None,
                                               "spearman": None}},
                         "analogies": {"add_accuracy": None, "mul_accuracy": None,
                                       "coverage": 0.0, "questions_used": 0,
                                       "questions_total": 5}})
    assert "analogies: 3CosAdd -, 3CosMul -, coverage 0.0% (0/5)" in text
    assert text.splitlines()[1].split()[-2:] == ["-", "-"]


def test_split_pairs_follows_pair_half():
    import hashlib

    from tasks.evaluation import pair_half, split_pairs
    # md5("a b") = 0cc9cd4d...: first byte 0x0c = 12, even -> dev
    assert hashlib.md5(b"a b").hexdigest().startswith("0c")
    assert pair_half("a", "b") == "dev"
    pairs = [(f"w{i}", f"x{i}", float(i)) for i in range(200)]
    dev, test = split_pairs(pairs)
    assert len(dev) + len(test) == 200 and 70 < len(dev) < 130
    for w1, w2, _ in dev:
        assert hashlib.md5(f"{w1} {w2}".encode()).digest()[0] % 2 == 0
    for w1, w2, _ in test:
        assert hashlib.md5(f"{w1} {w2}".encode()).digest()[0] % 2 == 1
