"""Compare every Parquet output (and .npy array) of two local run directories, bit for bit.

    python benchmarks/compare_runs.py RUN_A RUN_B     # exit 1 when any output differs

Used to check that a change meant to keep outputs unchanged (a refactoring) does: run the
same configuration before and after it (with ``embed.workers=1``, gensim's deterministic
mode) and compare. Outputs a run does not have are skipped.
"""
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

a, b = Path(sys.argv[1]), Path(sys.argv[2])
names = ["vocab.parquet", "vocab.counts.parquet", "embeddings.parquet", "context_vectors.parquet",
         "induced.parquet", "atoms.parquet", "senses.parquet", "reconstruction.parquet"]
dirs = ["cooc", "occurrences"]
npys = ["context_common.npy", "induction_map.npy", "induction_intercept.npy"]
bad = 0
for n in names:
    if not (a / n).exists():
        continue
    ta, tb = pq.read_table(a / n), pq.read_table(b / n)
    if n == "vocab.counts.parquet":  # an unordered multiset of counts (incremental state)
        ta, tb = ta.sort_by("word"), tb.sort_by("word")
    ok = ta.equals(tb)  # values and schema; metadata aside
    bad += not ok
    print(f"{n:<28} rows {ta.num_rows:>9}  {'identical' if ok else 'DIFFERENT'}")
for d in dirs:
    if not (a / d).exists():
        continue
    fa, fb = sorted((a / d).glob("part-*.parquet")), sorted((b / d).glob("part-*.parquet"))
    ok = len(fa) == len(fb) and all(pq.read_table(x).equals(pq.read_table(y)) for x, y in zip(fa, fb))
    bad += not ok
    print(f"{d + '/':<28} parts {len(fa):>8}  {'identical' if ok else 'DIFFERENT'}")
for n in npys:
    if not (a / n).exists():
        continue
    ok = np.array_equal(np.load(a / n), np.load(b / n))
    bad += not ok
    print(f"{n:<28} {'identical' if ok else 'DIFFERENT'}")
sys.exit(1 if bad else 0)
