"""Benchmark of the atoms stage (approximate K-SVD) against the public ``ksvd`` package and
scikit-learn's MiniBatchDictionaryLearning, on word2vec skip-gram vectors of the shared corpus.

Usage::

    .venv/bin/python benchmarks/bench_atoms.py [--data DIR] [--out DIR] [--vectors PATH]
        [--repeat N] [--json FILE] [--full-reference] [--refresh-reference]
        [--budget SECONDS]

Same data for every method: X = the 20,000 most frequent words' vectors, unit-normalised
rows, float64 (20,000 x 300), coded with 2000 atoms at sparsity 5 for 10 iterations.

1. Setup (not timed): one ``wsi run --stages embed`` on the six shared corpora
   (abc_news, brown, inaugural, movie_reviews, state_union, webtext from
   ``../shared/data/corpora``) with ``cooc.window=10``, ``embed.method=word2vec``,
   ``embed.sg=1``, ``embed.vector_size=300``, ``embed.window=5``, ``embed.epochs=5``
   and ``embed.workers=1`` (one gensim thread makes the vectors, hence X and its
   fingerprint, reproducible, so that cached reference figures can be reused), into a
   temporary directory or ``--out DIR`` (kept, and reused when its stages are cached).
   X is made by ``tasks.atoms.dictionary_words`` with ``atoms.max_words=20000``
   (the other atoms settings from conf/default.yaml), exactly as the stage makes it.
   ``--vectors PATH`` (an ``embeddings.parquet`` or a run directory holding one) skips
   the training; the atoms-stage rows then need the run directory's ``manifest.json``
   (the stage runs in a scratch copy made of symbolic links, so that directory is not
   written to), else they are skipped.
2. Ours, in this process, after a warm-up fit on a small random problem (numba loads or
   compiles its kernels there, not in a timed fit): ``tasks.ksvd.KSVD(n_atoms=2000,
   sparsity=5, max_iter=10, tol=0, random_state=0)`` (tol=0: exactly 10 iterations),
   wall time of ``fit``, median of ``--repeat`` fits (default 3):

   - in-process coder, default BLAS threads;
   - ``DaskCoder`` (the atoms stage's coder) over a ``pipeline.runner.Runner("threads")``
     with 1 and with 2 workers, BLAS limited to one thread (``threadpoolctl``) around
     both fits so that "1 worker" is one core; ``atoms.block_rows`` from
     conf/default.yaml (DaskCoder cuts equal blocks, at least n / block_rows of them,
     in a multiple of the workers). The same pair with block_rows set for 8 blocks is
     shown as a diagnostic.
3. The atoms stage: ``wsi run --stages atoms --force`` on the setup run directory with
   ``atoms.max_words=20000 atoms.n_atoms=2000 atoms.sparsity=5 atoms.iterations=10
   atoms.tol=0`` and ``run.workers`` 1 and 2, ``OPENBLAS_NUM_THREADS=1`` for both;
   ``stages.atoms.seconds`` and ``counters.relative_error`` from ``manifest.json``
   (every upstream stage must be cached); median of ``--repeat`` runs.
4. Reference ``ksvd`` (PyPI ``ksvd`` 0.0.3, ``ApproximateKSVD(n_components=2000,
   transform_n_nonzero_coefs=5)``; numpy's global RNG seeded 0, from which it draws its
   initial atoms): by default ONE iteration is timed (``max_iter=1``: initialisation +
   one iteration) and the 10-iteration time is extrapolated (init + 10 x the rest);
   ``--full-reference`` times all 10 iterations once. Its error uses its
   ``components_`` and its ``transform(X)`` codes (cross-checked with our OMP).
   Results are cached in ``benchmarks/reference/ksvd.json`` per fingerprint of X
   (sha256 of ``X.tobytes()``, 12 hex) and reused; ``--refresh-reference`` re-measures.
   Without a measured 10-iteration figure the issue's quoted one (1,531 s at error
   0.238, on the issue's gensim vectors) is compared as well, labelled quoted.
   If the package is not installed the reference is skipped (cached figures are still
   used); install it with ``.venv/bin/pip install ksvd==0.0.3``.
5. Reference MiniBatchDictionaryLearning (scikit-learn; ``n_components=2000,
   batch_size=256, fit_algorithm="lars", transform_algorithm="omp",
   transform_n_nonzero_coefs=5, random_state=0``; with ``fit_algorithm="lars"``
   scikit-learn codes each fit batch by LARS with n_features / 10 = 30 non-zeros and
   ignores ``alpha``): at equal time, i.e. ``partial_fit`` on successive 256-row batches
   of X shuffled with seed 0 until the budget (``--budget``, default the median time of
   our in-process fit) is used up; a step may overrun, the actual time is reported.
   Its error: OMP k=5 codes of X over its ``components_`` computed with our
   ``tasks.ksvd.sparse_code`` (the same OMP as scikit-learn's, much faster), checked on
   a 2,000-row subset against scikit-learn's own ``transform``. Per-step time and the
   extrapolated time of 10 epochs (10 x 79 steps) are reported. Cached in
   ``benchmarks/reference/minibatch.json`` per fingerprint of X and budget (reused when
   a cached budget is within 20% of this one).

"rel. error" is the same figure for every method: ||X - Gamma D||_F / ||X||_F with Gamma the
OMP (k=5) codes of X over the method's final atoms D. For ours, "fit error_" is also shown:
KSVD's ``error_[-1]`` (the training codes after the last dictionary update; this is what the
atoms stage reports as ``relative_error``).

Targets (from the issue; reported as met/MISSED, never asserted): >= 10x faster than
``ksvd`` at equal or lower relative error; lower error than MiniBatchDictionaryLearning at
equal time; >= 1.7x speed-up from 1 to 2 Dask workers. The machine may be shared: the CPU
used by other processes during every timed item is printed (in cores). Exits 0 with a
reason when the shared data are absent.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/corpora"
FILES = ("abc_news", "brown", "inaugural", "movie_reviews", "state_union", "webtext")
REFERENCE_DIR = ROOT / "benchmarks/reference"
KSVD_CACHE = REFERENCE_DIR / "ksvd.json"
MINIBATCH_CACHE = REFERENCE_DIR / "minibatch.json"
RUN_NAME = "bench-atoms"

N_WORDS = 20000
N_ATOMS = 2000
SPARSITY = 5
ITERATIONS = 10
BATCH = 256
CHECK_ROWS = 2000
BUDGET_TOLERANCE = 0.2  # a cached MiniBatchDictionaryLearning run is reused within +-20%
KSVD_VERSION = "0.0.3"

EMBED_SETS = ["cooc.window=10", "embed.method=word2vec", "embed.sg=1",
              "embed.vector_size=300", "embed.window=5", "embed.epochs=5",
              "embed.workers=1"]
ATOMS_SETS = [f"atoms.max_words={N_WORDS}", f"atoms.n_atoms={N_ATOMS}",
              f"atoms.sparsity={SPARSITY}", f"atoms.iterations={ITERATIONS}", "atoms.tol=0"]
UPSTREAM = ("corpus", "vocab", "cooc", "embed")

# Quoted from the issue, NOT measured here (the gensim skip-gram vectors).
QUOTED_KSVD = {"seconds": 1531.0, "error": 0.238}
QUOTED_MINIBATCH = {"step_seconds": "5-14", "ten_epochs": "about 2 h",
                    "transform_20k_seconds": 58.0}
TARGETS = {"vs_ksvd": 10.0, "speedup_1_to_2": 1.7}

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench_cooc import OtherLoad, _wsi_command, code_hash, run_timed, table  # noqa: E402  (same folder)


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------

def run_wsi(cmd, env=None):
    """Run a ``wsi`` command; (wall seconds, other load in cores, stderr)."""
    return run_timed(cmd, env)


def setup_run(parent, paths):
    """``wsi run --stages embed`` into ``parent/RUN_NAME`` (cached stages are reused)."""
    cmd = [*_wsi_command(), "run", "--out", str(parent), "--name", RUN_NAME, "--stages",
           "embed", "--quiet", "--set",
           f"corpus.paths={json.dumps([str(p) for p in paths])}",
           *[a for s in EMBED_SETS for a in ("--set", s)]]
    wall, other, _ = run_wsi(cmd)
    run_dir = Path(parent) / RUN_NAME
    manifest = json.loads((run_dir / "manifest.json").read_text())
    st = manifest["stages"]
    return run_dir, {"wall": wall, "other_load": other,
                     "status": {s: st[s]["status"] for s in UPSTREAM if s in st},
                     "embed_seconds": st["embed"].get("seconds"),
                     "tokens": st["corpus"]["counters"]["tokens"],
                     "vocabulary": st["vocab"]["counters"]["words"],
                     "embed_words": st["embed"]["counters"]["words"]}


def atoms_settings():
    """The atoms settings the stage uses (conf/default.yaml) with max_words = N_WORDS."""
    from pipeline.config import load_config
    a = load_config().atoms
    return types.SimpleNamespace(min_count=a.min_count, max_words=N_WORDS,
                                 normalize=a.normalize, block_rows=int(a.block_rows))


def load_x(embeddings, settings):
    """X exactly as the atoms stage codes it, and its fingerprint."""
    from tasks.atoms import dictionary_words
    from pipeline.artifacts.tables import read_vectors as read_embeddings
    emb, vectors = read_embeddings(str(embeddings))
    _, x = dictionary_words(emb["count"].to_numpy(), vectors, min_count=settings.min_count,
                            max_words=settings.max_words, normalize=settings.normalize)
    return x, hashlib.sha256(x.tobytes()).hexdigest()[:12]


def recoded_error(x, dictionary):
    """||X - Gamma D|| / ||X|| with Gamma = OMP (k = SPARSITY) codes of X over D."""
    from tasks.ksvd import relative_error, sparse_code
    idx, coef = sparse_code(x, dictionary, SPARSITY)
    return relative_error(x, idx, coef, dictionary)


# ----------------------------------------------------------------------------------------
# Ours
# ----------------------------------------------------------------------------------------

def warm_up():
    """Small fits (in-process and DaskCoder) so numba's kernels are loaded before timing."""
    import numpy as np

    from pipeline.runner import Runner
    from pipeline.coding import DaskCoder
    from tasks.ksvd import KSVD
    x = np.random.default_rng(0).standard_normal((600, 300))
    KSVD(n_atoms=60, sparsity=SPARSITY, max_iter=2, tol=0).fit(x)
    with Runner("threads", workers=2, quiet=True) as runner:
        KSVD(n_atoms=60, sparsity=SPARSITY, max_iter=2, tol=0,
             coder=DaskCoder(runner, 256)).fit(x)
    recoded_error(x, x[:60] / np.linalg.norm(x[:60], axis=1, keepdims=True))


def fit_ours(x, coder=None):
    from tasks.ksvd import KSVD
    model = KSVD(n_atoms=N_ATOMS, sparsity=SPARSITY, max_iter=ITERATIONS, tol=0,
                 random_state=0, coder=coder)
    meter = OtherLoad()
    t = time.perf_counter()
    model.fit(x)
    seconds = time.perf_counter() - t
    return model, {"seconds": seconds, "other_load": meter.cores()}


def fit_dask(x, workers, block_rows):
    """Fit with the stage's DaskCoder on a thread Runner, BLAS limited to one thread."""
    from threadpoolctl import threadpool_limits

    from pipeline.runner import Runner
    from pipeline.coding import DaskCoder
    with threadpool_limits(1):
        with Runner("threads", workers=workers, quiet=True) as runner:
            return fit_ours(x, coder=DaskCoder(runner, block_rows))


def repeated(fn, repeat, label, log):
    """``repeat`` fits; (first model, {median seconds, every run}, histories all equal)."""
    first, runs, same = None, [], True
    for i in range(repeat):
        model, r = fn()
        log(f"{label} fit {i + 1}/{repeat}: {r['seconds']:.2f}s, error_ {model.error_[-1]:.4f} "
            f"(other load {r['other_load']:.2f} cores)")
        if first is None:
            first = model
        else:
            same &= list(model.error_) == list(first.error_)
        runs.append(r)
    med = statistics.median(r["seconds"] for r in runs)
    return first, {"seconds": med, "runs": runs, "identical_repeats": same,
                   "error_history": [float(e) for e in first.error_],
                   "fit_error": float(first.error_[-1])}


# ----------------------------------------------------------------------------------------
# The atoms stage
# ----------------------------------------------------------------------------------------

def shadow_run(src, dst):
    """A run directory at ``dst`` whose upstream outputs are symbolic links into ``src``."""
    dst.mkdir(parents=True)
    for p in src.iterdir():
        if p.name in ("manifest.json", "atoms.parquet") or p.name.startswith("."):
            continue
        (dst / p.name).symlink_to(p.resolve(), target_is_directory=p.is_dir())
    shutil.copy2(src / "manifest.json", dst / "manifest.json")


def stage_run(run_dir, config_file, workers):
    cmd = [*_wsi_command(), "run", "-c", str(config_file), "--out", str(run_dir.parent),
           "--name", run_dir.name, "--stages", "atoms", "--force", "--quiet",
           *[a for s in [*ATOMS_SETS, f"run.workers={workers}"] for a in ("--set", s)]]
    wall, other, _ = run_wsi(cmd, env={"OPENBLAS_NUM_THREADS": "1"})
    manifest = json.loads((run_dir / "manifest.json").read_text())
    st = manifest["stages"]
    recomputed = [s for s in UPSTREAM if st.get(s, {}).get("status") != "cached"]
    if recomputed:
        raise RuntimeError(f"atoms stage run recomputed upstream stages {recomputed}: "
                           "the timed run would not be the atoms stage alone")
    if st["atoms"].get("status") != "complete":
        raise RuntimeError(f"atoms stage status {st['atoms'].get('status')!r}")
    c = st["atoms"]["counters"]
    return {"seconds": float(st["atoms"]["seconds"]), "wall": wall, "other_load": other,
            "fit_error": float(c["relative_error"]), "iterations": int(c["iterations"]),
            "words": int(c["words"]), "error_history": [float(e) for e in c["error_history"]],
            "scheduler": manifest["config"]["run"]["scheduler"],
            "workers": manifest["config"]["run"]["workers"]}


# ----------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------

def load_cache(path):
    try:
        data = json.loads(path.read_text())
        if isinstance(data.get("entries"), list):
            return data
    except (OSError, ValueError, AttributeError):
        pass
    return {"entries": []}


def save_cache(path, cache, note):
    path.parent.mkdir(parents=True, exist_ok=True)
    cache["note"] = note
    path.write_text(json.dumps(cache, indent=2) + "\n")


def machine_line():
    import psutil
    return (f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"{platform.platform()}, Python {platform.python_version()}")


def ksvd_measure(x, iterations):
    """Fit ``ksvd.ApproximateKSVD`` for ``iterations``; times and error."""
    from importlib.metadata import version

    import numpy as np
    from ksvd import ApproximateKSVD
    model = ApproximateKSVD(n_components=N_ATOMS, transform_n_nonzero_coefs=SPARSITY,
                            max_iter=iterations)
    # Its initialisation alone (random Gaussian atoms when n_components > the dimension),
    # timed to extrapolate from one iteration; the fit below redraws the same atoms.
    np.random.seed(0)
    t = time.perf_counter()
    model._initialize(x)
    init = time.perf_counter() - t
    np.random.seed(0)  # the package draws its initial atoms from numpy's global RNG
    meter = OtherLoad()
    t = time.perf_counter()
    model.fit(x)
    fit = time.perf_counter() - t
    other = meter.cores()
    d = model.components_
    t = time.perf_counter()
    gamma = model.transform(x)
    transform = time.perf_counter() - t
    error = float(np.linalg.norm(x - gamma @ d) / np.linalg.norm(x))
    norms = np.linalg.norm(d, axis=1)
    return {"iterations": iterations, "fit_seconds": fit, "init_seconds": init,
            "per_iteration_seconds": (fit - init) / iterations,
            "extrapolated_10_seconds": init + ITERATIONS * (fit - init) / iterations,
            "error": error, "error_our_omp": recoded_error(x, d),
            "transform_seconds": transform, "other_load": other,
            "atom_norms": [float(norms.min()), float(norms.max())],
            "package_version": version("ksvd")}


def ksvd_reference(x, fp, args, log, code):
    """Cached or measured ``ksvd`` figures for X: ({iterations: entry}, notes)."""
    cache = load_cache(KSVD_CACHE)
    have = {e["iterations"]: e for e in cache["entries"] if e.get("fingerprint") == fp}
    want = ITERATIONS if args.full_reference else 1
    notes = []
    if args.refresh_reference:
        measure = True
    elif want in have:
        measure = False
    else:  # a cached 10-iteration figure makes the 1-iteration one unnecessary
        measure = not (want == 1 and ITERATIONS in have)
    if measure and importlib.util.find_spec("ksvd") is None:
        notes.append(f"ksvd package not installed: reference not measured; install it with "
                     f"`.venv/bin/pip install ksvd=={KSVD_VERSION}`")
    elif measure:
        log(f"ksvd reference: fitting {want} iteration(s) of ApproximateKSVD "
            f"(about {60 * want} s or more), then its transform of X")
        r = ksvd_measure(x, want)
        r.update(fingerprint=fp, x_shape=list(x.shape), measured=_now(),
                 machine=machine_line(), code=code)
        log(f"ksvd reference: fit {r['fit_seconds']:.1f}s, transform {r['transform_seconds']:.1f}"
            f"s, error {r['error']:.4f} (other load {r['other_load']:.2f} cores)")
        cache["entries"] = [e for e in cache["entries"]
                            if not (e.get("fingerprint") == fp and e["iterations"] == want)]
        cache["entries"].append(r)
        save_cache(KSVD_CACHE, cache, "ksvd.ApproximateKSVD reference figures written by "
                   "benchmarks/bench_atoms.py, one entry per (fingerprint of X, iterations)")
        have[want] = dict(r, cached=False)
        notes.append(f"ksvd reference: measured now ({want} iteration(s)); saved to "
                     f"{KSVD_CACHE.relative_to(ROOT)}")
    for it, e in sorted(have.items()):
        if e.get("cached", True):
            e["cached"] = True
            notes.append(f"ksvd reference, {it} iteration(s): CACHED figures from "
                         f"{e.get('measured')} ({KSVD_CACHE.relative_to(ROOT)}, X fingerprint "
                         f"{fp}, ksvd {e.get('package_version')}, machine: {e.get('machine')})")
    return have, notes


def minibatch_measure(x, budget):
    """partial_fit on 256-row batches of shuffled X until ``budget`` seconds are used."""
    import numpy as np
    import sklearn
    from sklearn.decomposition import MiniBatchDictionaryLearning
    xs = x[np.random.default_rng(0).permutation(len(x))]
    model = MiniBatchDictionaryLearning(
        n_components=N_ATOMS, batch_size=BATCH, fit_algorithm="lars",
        transform_algorithm="omp", transform_n_nonzero_coefs=SPARSITY, random_state=0)
    n_batches = math.ceil(len(xs) / BATCH)
    steps = []
    meter = OtherLoad()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        while True:
            b = len(steps) % n_batches
            t = time.perf_counter()
            model.partial_fit(xs[b * BATCH:(b + 1) * BATCH])
            steps.append(time.perf_counter() - t)
            if time.perf_counter() - t0 >= budget:
                break
        seconds = time.perf_counter() - t0
    other = meter.cores()
    d = np.array(model.components_, dtype=np.float64, order="C")
    norms = np.linalg.norm(d, axis=1)
    t = time.perf_counter()
    error = recoded_error(x, d)
    code_seconds = time.perf_counter() - t
    unit = d / np.where(norms > 0, norms, 1)[:, None]
    # Check on a subset: scikit-learn's own OMP transform gives the same error.
    sub = xs[:CHECK_ROWS]
    t = time.perf_counter()
    gamma = model.transform(sub)
    sk_seconds = time.perf_counter() - t
    sk_error = float(np.linalg.norm(sub - gamma @ d) / np.linalg.norm(sub))
    t = time.perf_counter()
    our_error = recoded_error(sub, d)
    our_sub_seconds = time.perf_counter() - t
    rest = steps[1:] or steps
    per_step = statistics.mean(rest)
    return {"budget": budget, "steps": len(steps), "seconds": seconds,
            "step_seconds": steps, "first_step_seconds": steps[0],
            "mean_step_seconds": per_step,
            "extrapolated_10_epochs_seconds": steps[0] + (ITERATIONS * n_batches - 1) * per_step,
            "steps_per_epoch": n_batches, "other_load": other, "error": error,
            "error_unit_atoms": recoded_error(x, unit),
            "atom_norms": [float(norms.min()), float(norms.max())],
            "atoms_below_0.999": int((norms < 0.999).sum()),
            "our_code_seconds": code_seconds,
            "check": {"rows": CHECK_ROWS, "sklearn_error": sk_error, "our_error": our_error,
                      "abs_diff": abs(sk_error - our_error),
                      "sklearn_transform_seconds": sk_seconds,
                      "our_code_seconds": our_sub_seconds},
            "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}"
                                for w in caught}),
            "sklearn_version": sklearn.__version__}


def minibatch_reference(x, fp, budget, args, log, code):
    """Cached (same X, budget within 20%) or measured MiniBatchDictionaryLearning figures."""
    import sklearn
    cache = load_cache(MINIBATCH_CACHE)
    fits = [e for e in cache["entries"] if e.get("fingerprint") == fp and
            e.get("sklearn_version") == sklearn.__version__ and
            abs(e["budget"] - budget) <= BUDGET_TOLERANCE * budget]
    if fits and not args.refresh_reference:
        e = min(fits, key=lambda e: abs(e["budget"] - budget))
        return dict(e, cached=True), (
            f"MiniBatchDictionaryLearning: CACHED figures from {e.get('measured')} "
            f"({MINIBATCH_CACHE.relative_to(ROOT)}, X fingerprint {fp}, budget "
            f"{e['budget']:.2f}s vs {budget:.2f}s now, within {BUDGET_TOLERANCE:.0%}; "
            f"machine: {e.get('machine')})")
    log(f"MiniBatchDictionaryLearning: partial_fit for a budget of {budget:.2f}s, then OMP "
        f"codes of X and the {CHECK_ROWS}-row scikit-learn transform check")
    r = minibatch_measure(x, budget)
    r.update(fingerprint=fp, measured=_now(), machine=machine_line(), code=code)
    log(f"MiniBatchDictionaryLearning: {r['steps']} steps in {r['seconds']:.2f}s, error "
        f"{r['error']:.4f} (other load {r['other_load']:.2f} cores)")
    cache["entries"] = [e for e in cache["entries"]
                        if not (e.get("fingerprint") == fp and
                                abs(e["budget"] - budget) <= BUDGET_TOLERANCE * budget)]
    cache["entries"].append(r)
    save_cache(MINIBATCH_CACHE, cache, "MiniBatchDictionaryLearning reference figures written "
               "by benchmarks/bench_atoms.py, one entry per (fingerprint of X, time budget)")
    return dict(r, cached=False), (f"MiniBatchDictionaryLearning: measured now; saved to "
                                   f"{MINIBATCH_CACHE.relative_to(ROOT)}")


def _now():
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M")


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------

def verdict(ok):
    return "met" if ok else "MISSED"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"directory holding the corpus files (default {DEFAULT_DATA})")
    p.add_argument("--out", type=Path, default=None,
                   help=f"keep the setup run at OUT/{RUN_NAME} and reuse it when it is up to "
                        "date (default: a temporary directory, deleted afterwards)")
    p.add_argument("--vectors", type=Path, default=None,
                   help="use this embeddings.parquet (or run directory holding one) instead "
                        "of training word2vec")
    p.add_argument("--repeat", type=int, default=3,
                   help="timed fits / stage runs per configuration; the median is reported "
                        "(default 3)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--full-reference", action="store_true",
                   help="time all 10 iterations of the ksvd reference (about 10+ minutes) "
                        "instead of one, unless already cached")
    p.add_argument("--refresh-reference", action="store_true",
                   help="re-measure the references even when cached figures match")
    p.add_argument("--budget", type=float, default=None,
                   help="MiniBatchDictionaryLearning time budget in seconds (default: the "
                        "median time of our in-process fit)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if args.budget is not None and args.budget <= 0:
        p.error("--budget must be > 0")

    paths = [args.data.resolve() / f"{f}.txt" for f in FILES]
    if args.vectors is None:
        missing = [str(x) for x in paths if not x.is_file()]
        if missing:
            print(f"bench_atoms: skipped: corpus data not found ({', '.join(missing)}); "
                  f"pass --data DIR holding {', '.join(f + '.txt' for f in FILES)}, or "
                  "--vectors PATH")
            return 0
    else:
        vec = args.vectors.resolve()
        emb_path = vec / "embeddings.parquet" if vec.is_dir() else vec
        if not emb_path.is_file():
            print(f"bench_atoms: skipped: {emb_path} not found (--vectors)")
            return 0
    lacking = [m for m in ("psutil", "threadpoolctl", "sklearn")
               if importlib.util.find_spec(m) is None]
    if lacking:
        print(f"bench_atoms: skipped: {', '.join(lacking)} not installed (psutil meters the "
              "machine's load, threadpoolctl limits BLAS threads, sklearn is a reference)")
        return 0
    from threadpoolctl import threadpool_info

    t_bench = time.monotonic()

    def log(msg):
        print(f"[{time.monotonic() - t_bench:6.1f}s] {msg}", file=sys.stderr, flush=True)

    hash0 = code_hash()
    settings = atoms_settings()
    res = {"code": [hash0], "command": [sys.executable, *sys.argv], "started": _now()}
    notes = []
    scratch = tempfile.TemporaryDirectory(prefix="bench-atoms-")
    try:
        scratch_dir = Path(scratch.name)
        # -- setup (not timed) ---------------------------------------------------------
        if args.vectors is None:
            parent = args.out.resolve() if args.out else scratch_dir
            parent.mkdir(parents=True, exist_ok=True)
            log(f"setup: wsi run --stages embed (word2vec sg 300d, 5 epochs, 1 thread) into "
                f"{parent / RUN_NAME} ...")
            run_dir, setup = setup_run(parent, paths)
            emb_path = run_dir / "embeddings.parquet"
            log(f"setup: done in {setup['wall']:.0f}s ({setup['status']})")
            stage_dir = run_dir
        else:
            setup = {"vectors": str(emb_path)}
            src = emb_path.parent
            stage_dir = None
            if (src / "manifest.json").is_file():
                m = json.loads((src / "manifest.json").read_text())
                if m.get("stages", {}).get("embed", {}).get("status") in ("complete",
                                                                          "cached"):
                    stage_dir = scratch_dir / RUN_NAME
                    shadow_run(src, stage_dir)
            if stage_dir is None:
                notes.append(f"atoms stage rows skipped: {src} is not a run directory with "
                             "a complete embed stage (manifest.json)")
        res["setup"] = setup
        x, fp = load_x(emb_path, settings)
        res["x"] = {"shape": list(x.shape), "fingerprint": fp}
        log(f"X: {x.shape[0]:,} x {x.shape[1]} float64, unit rows, fingerprint {fp}")
        if len(x) < N_ATOMS:
            print(f"bench_atoms: skipped: only {len(x)} words with a vector (need "
                  f">= {N_ATOMS})")
            return 0

        # -- ours, in this process -------------------------------------------------------
        log("warm-up: small fits (numba kernels loaded/compiled, not timed)")
        warm_up()
        blas_threads = max((i.get("num_threads") or 1) for i in threadpool_info()
                           if i.get("user_api") == "blas")
        model, ours = repeated(lambda: fit_ours(x), args.repeat,
                               f"ours in-process ({blas_threads} BLAS threads)", log)
        ours["error"] = recoded_error(x, model.components_)
        ours["blas_threads"] = blas_threads
        res["ours"] = ours
        dask_runs = {}
        balanced = math.ceil(len(x) / 8)
        for key, rows in (("stage blocks", settings.block_rows), ("8 blocks", balanced)):
            for w in (1, 2):
                m, r = repeated(lambda: fit_dask(x, w, rows), args.repeat,
                                f"DaskCoder {w} worker(s), block_rows {rows}", log)
                r["error"] = recoded_error(x, m.components_)
                r["block_rows"] = rows
                r["history_vs_ours"] = max(abs(a - b) for a, b in
                                           zip(r["error_history"], ours["error_history"]))
                dask_runs[(key, w)] = r
        res["dask"] = {f"{k} {w}": v for (k, w), v in dask_runs.items()}

        # -- the atoms stage -----------------------------------------------------------
        stage = {}
        if stage_dir is not None:
            config_file = scratch_dir / "run-config.yaml"
            config_file.write_text(json.dumps(
                json.loads((stage_dir / "manifest.json").read_text())["config"]))
            for i in range(args.repeat):
                for w in (1, 2):
                    r = stage_run(stage_dir, config_file, w)
                    log(f"atoms stage, run.workers={w}, run {i + 1}/{args.repeat}: "
                        f"{r['seconds']:.2f}s, relative_error {r['fit_error']:.4f} "
                        f"(other load {r['other_load']:.2f} cores)")
                    stage.setdefault(w, []).append(r)
            from pipeline.artifacts.tables import read_atoms
            _, d32 = read_atoms(str(stage_dir / "atoms.parquet"))
            stage_error = recoded_error(x, d32)  # last run (2 workers); float32 atoms
        res["stage"] = {str(w): v for w, v in stage.items()}

        # -- references ----------------------------------------------------------------
        budget = args.budget if args.budget is not None else ours["seconds"]
        mb, note = minibatch_reference(x, fp, budget, args, log, hash0)
        notes.append(note)
        res["minibatch"] = mb
        ks, ks_notes = ksvd_reference(x, fp, args, log, hash0)
        notes.extend(ks_notes)
        res["ksvd"] = {str(k): v for k, v in ks.items()}
    finally:
        scratch.cleanup()
    hash1 = code_hash()
    res["code"].append(hash1)

    # -- report ----------------------------------------------------------------------------
    k1, k10 = ks.get(1), ks.get(ITERATIONS)
    if k10:
        ksvd_time, ksvd_time_kind = k10["fit_seconds"], "measured"
    elif k1:
        ksvd_time, ksvd_time_kind = k1["extrapolated_10_seconds"], "extrapolated"
    else:
        ksvd_time, ksvd_time_kind = QUOTED_KSVD["seconds"], "quoted"

    def vs(seconds):
        return f"{ksvd_time / seconds:.1f}x"

    def other(r):
        if "runs" in r:
            return " ".join(f"{q['other_load']:.2f}" for q in r["runs"])
        return f"{r['other_load']:.2f}"

    rows = [[f"ours, in-process coder, {blas_threads} BLAS threads", ITERATIONS,
             f"{ours['seconds']:.2f}", f"{ours['error']:.4f}", f"{ours['fit_error']:.4f}",
             vs(ours["seconds"]), other(ours)]]
    for key in ("stage blocks", "8 blocks"):
        for w in (1, 2):
            r = dask_runs[(key, w)]
            tag = "" if key == "stage blocks" else " [diagnostic]"
            rows.append([f"ours, DaskCoder, {w} worker{'s' if w > 1 else ''}, 1 BLAS thread, "
                         f"block_rows {r['block_rows']}"
                         f"{tag}", ITERATIONS, f"{r['seconds']:.2f}", f"{r['error']:.4f}",
                         f"{r['fit_error']:.4f}", vs(r["seconds"]), other(r)])
    stage_med = {}
    for w, rs in stage.items():
        stage_med[w] = statistics.median(r["seconds"] for r in rs)
        rows.append([f"atoms stage, run.workers={w}, OPENBLAS_NUM_THREADS=1",
                     rs[0]["iterations"], f"{stage_med[w]:.2f}",
                     f"{stage_error:.4f}*" if w == max(stage) else "-",
                     f"{rs[0]['fit_error']:.4f}", vs(stage_med[w]),
                     " ".join(f"{r['other_load']:.2f}" for r in rs)])
    if k1:
        rows.append([f"ksvd {k1['package_version']} ApproximateKSVD, 1 iteration"
                     f"{' (cached)' if k1['cached'] else ''}", 1,
                     f"{k1['fit_seconds']:.1f}", f"{k1['error']:.4f}", "-", "-",
                     f"{k1['other_load']:.2f}"])
        rows.append([f"ksvd {k1['package_version']}, 10 iterations EXTRAPOLATED from 1",
                     ITERATIONS, f"{k1['extrapolated_10_seconds']:.0f} (extrap.)",
                     "not measured", "-", vs(k1["extrapolated_10_seconds"]), "-"])
    if k10:
        rows.append([f"ksvd {k10['package_version']} ApproximateKSVD, 10 iterations"
                     f"{' (cached)' if k10['cached'] else ''}", ITERATIONS,
                     f"{k10['fit_seconds']:.1f}", f"{k10['error']:.4f}", "-",
                     vs(k10["fit_seconds"]), f"{k10['other_load']:.2f}"])
    rows.append(["ksvd, 10 iterations, QUOTED from the issue (its vectors)", ITERATIONS,
                 f"{QUOTED_KSVD['seconds']:.0f} (quoted)", f"{QUOTED_KSVD['error']:.3f} (q.)",
                 "-", vs(QUOTED_KSVD["seconds"]), "-"])
    rows.append([f"MiniBatchDictionaryLearning, equal time{' (cached)' if mb['cached'] else ''}",
                 f"{mb['steps']} steps", f"{mb['seconds']:.2f}", f"{mb['error']:.4f}", "-",
                 vs(mb["seconds"]), f"{mb['other_load']:.2f}"])
    rows.append(["MiniBatchDictionaryLearning, 10 epochs EXTRAPOLATED",
                 f"{10 * mb['steps_per_epoch']} steps",
                 f"{mb['extrapolated_10_epochs_seconds']:.0f} (extrap.)",
                 "not measured", "-", vs(mb["extrapolated_10_epochs_seconds"]), "-"])

    out = []
    out.append(f"bench_atoms: K-SVD dictionary, {N_WORDS:,} most frequent words, {N_ATOMS} "
               f"atoms, sparsity {SPARSITY}, {ITERATIONS} iterations; corpus = "
               f"{', '.join(f + '.txt' for f in FILES)} ({args.data})")
    out.append(f"machine: {machine_line()}; {time.strftime('%Y-%m-%d %H:%M')}")
    out.append(f"command: {' '.join(res['command'])}")
    out.append(f"code measured: sha256[:12] of pipeline/, tasks/, conf/default.yaml = {hash0}"
               + ("" if hash1 == hash0 else f" at start, {hash1} at end: the code CHANGED "
                  "while the benchmark ran; rerun"))
    if args.vectors is None:
        out.append(f"vectors: word2vec skip-gram 300d, window 5, 5 epochs, 1 gensim thread "
                   f"(reproducible), cooc.window=10 ({setup['tokens']:,} tokens, vocabulary "
                   f"{setup['vocabulary']:,}); setup (not timed) {setup['wall']:.0f}s, stages "
                   + ", ".join(f"{k} {v}" for k, v in setup["status"].items()))
    else:
        out.append(f"vectors: {emb_path} (--vectors)")
    out.append(f"X: {x.shape[0]:,} x {x.shape[1]} float64, unit rows (coded_words, "
               f"atoms.max_words={N_WORDS}, atoms.min_count={settings.min_count}); "
               f"fingerprint sha256(X.tobytes())[:12] = {fp}")
    out.append(f"timings: wall time of fit, median of {args.repeat} (ours and the atoms stage; "
               "numba kernels warmed up first); references once; 'other load' = CPU cores "
               "used by other processes meanwhile, per run")
    out.append("")
    out.append(table(rows, ["method", "iter.", "seconds", "rel. error", "fit error_",
                            "vs ksvd", "other load"]))
    out.append("")
    out.append("rel. error = ||X - Gamma D||_F / ||X||_F, Gamma = OMP (k=5) codes of X over the "
               "method's final atoms D (the same figure for every row); fit error_ = KSVD's "
               "error_[-1] (training codes after the last dictionary update; the stage's "
               "counters.relative_error).")
    out.append(f"vs ksvd = ksvd 10-iteration seconds ({ksvd_time:.0f}, {ksvd_time_kind}) / the "
               "row's seconds.")
    if stage:
        out.append("* rel. error of the atoms written by the last stage run (atoms.parquet, "
                   "float32) re-coded here.")
        same = [max(abs(a - b) for a, b in zip(rs[0]["error_history"],
                                                dask_runs[("stage blocks", 1)]["error_history"]))
                for rs in stage.values()]
        out.append(f"atoms stage: {stage[1][0]['words']:,} words coded (same X); its "
                   f"error_history vs the in-process DaskCoder fit: max |difference| "
                   f"{max(same):.1e}; scheduler {stage[1][0]['scheduler']} (threads for this "
                   "stage)")
        extra = {w: stage_med[w] - dask_runs[("stage blocks", w)]["seconds"] for w in stage}
        out.append("atoms stage seconds also include reading the embeddings, making X, the top "
                   "words of every atom and writing atoms.parquet: stage minus the in-process "
                   "DaskCoder fit = " + ", ".join(f"{extra[w]:.2f}s ({w} worker"
                                                   f"{'s' if w > 1 else ''})" for w in stage))
        res["stage_minus_fit"] = extra
    out.append("DaskCoder fits: error_ history vs the in-process fit: max |difference| "
               + ", ".join(f"{k} {w}w {r['history_vs_ours']:.1e}"
                           for (k, w), r in dask_runs.items())
               + "; BLAS limited to 1 thread with threadpoolctl.threadpool_limits(1) around "
               "both the 1- and 2-worker fits")
    if not all(r["identical_repeats"] for r in [ours, *dask_runs.values()]):
        out.append("NOTE: repeated fits of one configuration gave different error histories")

    # Per-iteration history.
    out.append("")
    out.append("ours, error_ per iteration (in-process fit; relative improvement):")
    h = ours["error_history"]
    out.append("  " + "  ".join(f"{i + 1}: {e:.4f}" + (f" ({(h[i - 1] - e) / h[i - 1]:.1%})"
                                                        if i else "")
                                for i, e in enumerate(h)))

    # References' details.
    out.append("")
    out.append("references:")
    for k in (k1, k10):
        if not k:
            continue
        out.append(f"  ksvd {k['iterations']} iteration(s): fit {k['fit_seconds']:.1f}s (init "
                   f"{k['init_seconds']:.2f}s, {k['per_iteration_seconds']:.1f}s per iteration); "
                   f"its transform(X) {k['transform_seconds']:.1f}s (not in the fit time); error "
                   f"with its transform codes {k['error']:.4f}, with our OMP "
                   f"{k['error_our_omp']:.4f}; atom norms {k['atom_norms'][0]:.6f}-"
                   f"{k['atom_norms'][1]:.6f}; initial atoms random Gaussian (numpy seed 0)")
    if k1 and not k10:
        out.append("  ksvd 10 iterations: EXTRAPOLATED = init + 10 x the measured iteration; its "
                   "10-iteration error is not measured (--full-reference measures it)")
    out.append(f"  ksvd QUOTED from the issue (not measured here, other vectors): "
               f"{QUOTED_KSVD['seconds']:,.0f} s at error {QUOTED_KSVD['error']}")
    steps = mb["step_seconds"]
    out.append(f"  MiniBatchDictionaryLearning (sklearn {mb['sklearn_version']}, fit_algorithm="
               f"'lars' = LARS with n_features/10 = 30 non-zeros per row, alpha unused): budget "
               f"{mb['budget']:.2f}s, {mb['steps']} partial_fit steps of {BATCH} rows took "
               f"{mb['seconds']:.2f}s (first step, with initialisation, {steps[0]:.2f}s; then "
               f"{mb['mean_step_seconds']:.2f}s per step); 10 epochs = "
               f"{10 * mb['steps_per_epoch']} steps EXTRAPOLATED "
               f"{mb['extrapolated_10_epochs_seconds']:.0f}s")
    c = mb["check"]
    out.append(f"  MiniBatchDictionaryLearning error {mb['error']:.4f} from OMP codes by "
               f"tasks.ksvd.sparse_code ({mb['our_code_seconds']:.2f}s for all of X); with "
               f"unit-normalised atoms {mb['error_unit_atoms']:.4f}; atom norms "
               f"{mb['atom_norms'][0]:.4f}-{mb['atom_norms'][1]:.4f} (sklearn only bounds "
               f"them by 1; {mb['atoms_below_0.999']} below 0.999)")
    out.append(f"  check on {c['rows']:,} rows: sklearn transform error {c['sklearn_error']:.8f} "
               f"vs ours {c['our_error']:.8f} (|diff| {c['abs_diff']:.1e}, "
               f"{'agree' if c['abs_diff'] <= 1e-6 else 'DISAGREE'} to 1e-6); sklearn transform "
               f"{c['sklearn_transform_seconds']:.2f}s (x10 for 20k rows ~"
               f"{10 * c['sklearn_transform_seconds']:.0f}s; issue quotes "
               f"{QUOTED_MINIBATCH['transform_20k_seconds']:.0f}s), ours "
               f"{c['our_code_seconds']:.2f}s")
    if mb["warnings"]:
        out.append(f"  MiniBatchDictionaryLearning warnings: {'; '.join(mb['warnings'])}")
    out.append(f"  MiniBatchDictionaryLearning QUOTED from the issue: "
               f"{QUOTED_MINIBATCH['step_seconds']} s per 256-row step, "
               f"{QUOTED_MINIBATCH['ten_epochs']} for 10 epochs")
    for n in notes:
        out.append(f"  {n}")

    # Targets.
    out.append("")
    out.append("targets (reported, not asserted):")
    err = ours["error"]
    sp_ = ksvd_time / ours["seconds"]
    if k10:
        out.append(f"  >= 10x faster than ksvd at equal or lower error (10 iterations each, both "
                   f"measured): {sp_:.1f}x, error {err:.4f} vs {k10['error']:.4f} -> "
                   f"{verdict(sp_ >= TARGETS['vs_ksvd'] and err <= k10['error'])}")
    elif k1:
        out.append(f"  >= 10x faster than ksvd (10 iterations EXTRAPOLATED from 1: "
                   f"{ksvd_time:.0f}s): {sp_:.1f}x -> {verdict(sp_ >= TARGETS['vs_ksvd'])}; "
                   f"error: ours after 10 iterations {err:.4f} vs ksvd after ONE iteration "
                   f"{k1['error']:.4f} (its 10-iteration error not measured) -> "
                   f"{verdict(err <= k1['error'])}")
    else:
        out.append("  >= 10x faster than ksvd: no measured ksvd figure (see notes)")
    if not k10:
        sq = QUOTED_KSVD["seconds"] / ours["seconds"]
        out.append(f"  vs the QUOTED ksvd figure (1,531 s, error 0.238, the issue's vectors and "
                   f"machine): {sq:.0f}x faster -> {verdict(sq >= TARGETS['vs_ksvd'])}; error "
                   f"{err:.4f} vs 0.238 -> {verdict(err <= QUOTED_KSVD['error'])}")
    out.append(f"  lower error than MiniBatchDictionaryLearning at equal time (ours "
               f"{ours['seconds']:.2f}s, it {mb['seconds']:.2f}s / {mb['steps']} steps): "
               f"{err:.4f} vs {mb['error']:.4f} -> {verdict(err < mb['error'])}")
    d1, d2 = dask_runs[("stage blocks", 1)], dask_runs[("stage blocks", 2)]
    sd = d1["seconds"] / d2["seconds"]
    out.append(f"  >= 1.7x speed-up 1 -> 2 workers, in-process DaskCoder (atoms.block_rows "
               f"{settings.block_rows}, blocks in multiples of the workers): "
               f"{d1['seconds']:.2f}s / {d2['seconds']:.2f}s = "
               f"{sd:.2f}x -> {verdict(sd >= TARGETS['speedup_1_to_2'])}")
    b1, b2 = dask_runs[("8 blocks", 1)], dask_runs[("8 blocks", 2)]
    out.append(f"    [diagnostic] same with 8 blocks of {balanced}: {b1['seconds']:.2f}s / "
               f"{b2['seconds']:.2f}s = {b1['seconds'] / b2['seconds']:.2f}x")
    if stage:
        ss = stage_med[1] / stage_med[2]
        out.append(f"  >= 1.7x speed-up 1 -> 2 workers, atoms stage (run.workers, "
                   f"OPENBLAS_NUM_THREADS=1): {stage_med[1]:.2f}s / {stage_med[2]:.2f}s = "
                   f"{ss:.2f}x -> {verdict(ss >= TARGETS['speedup_1_to_2'])}")
        res["speedup_stage"] = ss
    res["speedup_dask"] = sd
    loads = [q["other_load"] for r in [ours, *dask_runs.values()] for q in r["runs"]]
    loads += [r["other_load"] for rs in stage.values() for r in rs]
    loads += [e["other_load"] for e in (mb, k1, k10) if e and not e.get("cached")]
    busy = sum(v > 0.2 for v in loads)
    if busy:
        out.append(f"WARNING: other processes used > 0.2 cores during {busy} of {len(loads)} "
                   "timed items: timings on this machine are skewed; rerun on an idle machine")
    out.append(f"benchmark time {time.monotonic() - t_bench:.0f}s")
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
