"""The capacity projection of benchmarks/bench_scale.py: runs made up from a known model
(power laws for distinct pairs and vocabulary, seconds affine in tokens, memory affine in
pairs, fixed bytes per unit) must give back that model's values at 10^9 and 10^10 tokens,
computed here in closed form."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_scale  # noqa: E402

STAGES = ("corpus", "vocab", "cooc")
RATE = {"corpus": 2e-7, "vocab": 1e-7, "cooc": 1e-6}  # seconds per token on 1 worker
FIXED = {"corpus": 0.3, "vocab": 0.1, "cooc": 0.5}
SPEEDUP_2 = {"corpus": 1.6, "vocab": 2.0, "cooc": 1.8}  # measured 1 -> 2 workers
MEM = {"corpus": (200.0, 0.0), "vocab": (250.0, 1e-6), "cooc": (300.0, 2e-5)}  # MB, MB/pair
BYTES = {"corpus": 6.0, "vocab": 20.0, "cooc": 4.0}  # per token, per word, per pair


def nnz_of(t):
    return 3.0 * t ** 0.8


def vocab_of(t):
    return 40.0 * t ** 0.5


def made_up_runs(sizes=(10**6, 10**7, 10**8)):
    runs = []
    for t in sizes:
        nnz, vocab = nnz_of(t), vocab_of(t)
        for w in (1, 2):
            secs = {s: FIXED[s] + RATE[s] * t / (SPEEDUP_2[s] if w == 2 else 1.0)
                    for s in STAGES}
            peaks = {s: {"largest_mb": MEM[s][0] + MEM[s][1] * nnz, "tree_mb": 0.0,
                         "largest_is_main": True} for s in STAGES}
            runs.append({
                "size": t, "workers": w, "tokens": t, "nnz": nnz, "vocabulary": vocab,
                "seconds": secs, "stage_peaks": peaks, "cooc_bytes": BYTES["cooc"] * nnz,
                "peak_largest_mb": max(p["largest_mb"] for p in peaks.values()),
                "stage_bytes": {"corpus": BYTES["corpus"] * t, "vocab": BYTES["vocab"] * vocab,
                                "cooc": BYTES["cooc"] * nnz}})
    return runs


def test_projection_recovers_the_model_it_was_measured_from():
    model, rows = bench_scale.capacity(made_up_runs())
    assert model["nnz"]["b"] == pytest.approx(0.8)
    assert model["vocabulary"]["b"] == pytest.approx(0.5)
    assert len(rows) == 2 * 4
    for r in rows:
        t, n = r["tokens"], r["workers"]
        assert r["nnz"] == pytest.approx(nnz_of(t))
        assert r["vocabulary"] == pytest.approx(vocab_of(t))
        for s in STAGES:
            eff = 1.0 if n == 1 else SPEEDUP_2[s] / 2
            want = (FIXED[s] + RATE[s] * t / (n * eff)) / 3600
            assert r["hours"][s] == pytest.approx(want, rel=1e-6), (s, t, n)
        peak = max(m0 + m1 * nnz_of(t) for m0, m1 in MEM.values())
        assert r["peak_gb"] == pytest.approx(peak * 2**20 / 1e9, rel=1e-6)
        assert r["storage_gb"]["corpus"] == pytest.approx(BYTES["corpus"] * t / 1e9)
        assert r["storage_gb"]["vocab"] == pytest.approx(BYTES["vocab"] * vocab_of(t) / 1e9)
        assert r["storage_gb"]["cooc"] == pytest.approx(BYTES["cooc"] * nnz_of(t) / 1e9)


def test_pairs_are_capped_at_the_square_of_a_capped_vocabulary():
    # a generated corpus cannot have more words than its generator: 1000 words -> at most
    # 10^6 distinct pairs, far below the power law's 3 x (10^9)^0.8
    _model, rows = bench_scale.capacity(made_up_runs(), vocab_limit=1000)
    for r in rows:
        assert r["vocabulary"] == 1000
        assert r["nnz"] == 1000 ** 2 and r["nnz_capped"]


def test_capacity_table_renders_one_row_per_size_and_worker_count():
    _model, t = bench_scale.capacity_table(made_up_runs())
    assert [(r[0], r[1]) for r in t["rows"]] == [
        (label, n) for label in ("1e9", "1e10") for n in (1, 2, 8, 32)]
    assert any("tokens^0.800" in note for note in t["notes"])
