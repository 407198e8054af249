"""The fixed dev/test split of similarity sets (tasks.evaluation.pair_half) and the
per-half correlations similarity_scores reports, against hashlib and scipy directly."""
import hashlib

import numpy as np
import pytest
from scipy import stats

from tasks.evaluation import pair_half, read_pairs, similarity_scores


def test_half_is_the_parity_of_the_md5_first_byte_of_the_pair_text():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)] + ["café", "naïve", "tiger"]
    for _ in range(500):
        a, b = rng.choice(words, 2)
        first = hashlib.md5(f"{a} {b}".encode("utf-8")).digest()[0]
        assert pair_half(a, b) == ("dev" if first % 2 == 0 else "test")


def test_rw_splits_as_the_induction_research_did():
    from pathlib import Path
    rw = Path(__file__).resolve().parents[3] / "shared" / "data" / "similarity" / \
        "EN-RW-STANFORD.txt"
    if not rw.exists():
        pytest.skip(f"{rw} missing")
    with open(rw, "rb") as f:
        halves = [pair_half(a, b) for a, b, _ in read_pairs(f)]
    assert (halves.count("dev"), halves.count("test")) == (992, 1042)


def test_split_does_not_depend_on_order_or_file_and_is_about_half():
    pairs = [(f"a{i}", f"b{i}", float(i)) for i in range(4000)]
    halves = [pair_half(a, b) for a, b, _ in pairs]
    shuffled = list(reversed(pairs))
    assert [pair_half(a, b) for a, b, _ in shuffled] == halves[::-1]
    n_dev = halves.count("dev")
    # Binomial(4000, 1/2): 5 standard deviations is about +-158
    assert abs(n_dev - 2000) < 160


def test_similarity_scores_per_half_match_scipy_on_the_subset():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(60)]
    vectors = rng.standard_normal((60, 8))
    index = {w: i for i, w in enumerate(words)}
    lines = [f"{words[i]} {words[j]} {rng.random() * 10:.4f}"
             for i, j in rng.integers(0, 60, size=(300, 2)) if i != j]
    lines.append("w1 unknown 3.0")
    pairs = read_pairs(lines)
    r = similarity_scores(pairs, vectors, index)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for half in ("dev", "test"):
        sel = [(a, b, s) for a, b, s in pairs if pair_half(a, b) == half]
        used = [(a, b, s) for a, b, s in sel if a in index and b in index]
        cos = [float(unit[index[a]] @ unit[index[b]]) for a, b, _ in used]
        gold = [s for _, _, s in used]
        assert r[f"pairs_total_{half}"] == len(sel)
        assert r[f"pairs_used_{half}"] == len(used)
        assert r[f"spearman_{half}"] == pytest.approx(stats.spearmanr(cos, gold)[0], abs=1e-9)
        assert r[f"pearson_{half}"] == pytest.approx(stats.pearsonr(cos, gold)[0], abs=1e-9)
    assert r["pairs_total_dev"] + r["pairs_total_test"] == r["pairs_total"]
