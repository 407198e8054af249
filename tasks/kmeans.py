"""Seeded k-means for several k at once, for many small problems.

The inventory stage fits k-means for k = 2..6 with two restarts to each of about
two thousand words' samples (~1000 rows × 20 coordinates). At that size a library
fit spends most of its time in per-call checks and set-up; :func:`kmeans_runs`
runs every (k, restart) of one sample together, in a few matrix products a
step, with scikit-learn's k-means++ seeding and stopping rule.
"""
from __future__ import annotations

import numpy as np

__all__ = ["kmeans_runs"]


def kmeans_runs(z, ks, *, seed, n_init, max_iter=300, tol=1e-4):
    """Seeded k-means of the rows of ``z`` for every k in ``ks``, the best of
    ``n_init`` restarts each, all runs iterated together.

    Restart i draws one greedy k-means++ sequence of max(ks) centres (each step
    keeps the best of 2 + ⌊ln max(ks)⌋ candidates drawn with probability ∝ D²,
    as scikit-learn's ``kmeans_plusplus``); its run for k starts from the first k
    of them (a prefix of a k-means++ sequence is one). Lloyd steps then move every
    run at once, one distance product for all, until no run's centres move by more
    than ``tol`` times the mean per-column variance of ``z`` (scikit-learn's rule)
    or ``max_iter`` steps. An emptied cluster keeps its centre. Per word the
    inventory fits ten small problems (k = 2..6, two restarts, ~1000 × 20): one
    batched loop does in a few matrix products what ten library fits spend mostly
    in per-call checks.

    Returns ``[(inertia, labels (n,) int64, centres (k, d)) for k in ks]``.
    """
    z = np.asarray(z, dtype=np.float64)
    n, d = z.shape
    ks = [int(k) for k in ks]
    if not ks:
        return []
    kmax = max(ks)
    if min(ks) < 1 or kmax > n:
        raise ValueError(f"k must lie in 1..{n} (the number of rows), got {ks}")
    rng = np.random.default_rng(seed)
    zz = np.einsum("ij,ij->i", z, z)
    trials = 2 + int(np.log(kmax))
    starts = []
    for _ in range(n_init):
        pick = [int(rng.integers(n))]
        closest = np.maximum(zz - 2 * z @ z[pick[0]] + zz[pick[0]], 0)
        for _j in range(1, kmax):
            cum = np.cumsum(closest)
            cand = np.minimum(np.searchsorted(cum, rng.random(trials) * cum[-1]), n - 1)
            d2 = np.maximum(zz[None, :] - 2 * z[cand] @ z.T + zz[cand, None], 0)
            pot = np.minimum(closest[None, :], d2)
            best = int(np.argmin(pot.sum(axis=1)))
            pick.append(int(cand[best]))
            closest = pot[best]
        starts.append(z[pick])
    runs = [(k, i) for k in ks for i in range(n_init)]
    r = len(runs)
    centres = np.zeros((r, kmax, d))
    valid = np.zeros((r, kmax), dtype=bool)
    for j, (k, i) in enumerate(runs):
        centres[j, :k] = starts[i][:k]
        valid[j, :k] = True
    limit = tol * float(np.mean(np.var(z, axis=0)))
    zt = np.ascontiguousarray(z.T)
    which = np.arange(kmax)[None, :, None]

    def assign(c, ok):  # labels (runs, n) and squared distances to the nearest centre
        cc = np.where(ok, np.einsum("rkd,rkd->rk", c, c), np.inf)
        d2 = cc[..., None] - 2 * (c.reshape(-1, d) @ zt).reshape(len(c), kmax, n)
        best, lab = d2[:, 0].copy(), np.zeros((len(c), n), dtype=np.int64)
        for j in range(1, kmax):  # (a loop over k: argmin over a short axis is slow)
            closer = d2[:, j] < best
            np.copyto(best, d2[:, j], where=closer)
            lab[closer] = j
        return lab, best + zz[None, :]

    active = np.arange(r)  # runs still moving: a converged run stops costing anything
    for _ in range(max_iter):
        c, ok = centres[active], valid[active]
        lab, _dist = assign(c, ok)
        member = (lab[:, None, :] == which).astype(np.float64)  # (runs, kmax, n)
        size = member.sum(axis=2)
        moved = (member.reshape(-1, n) @ z).reshape(c.shape) / np.maximum(size, 1)[..., None]
        moved = np.where((size > 0)[..., None], moved, c)
        shift = np.einsum("rkd,rkd->r", moved - c, moved - c)
        centres[active] = moved
        active = active[shift > limit]
        if not len(active):
            break
    lab, dist = assign(centres, valid)
    inertia = np.maximum(dist, 0).sum(axis=1)
    out = []
    for k in ks:
        j = min((j for j, run in enumerate(runs) if run[0] == k), key=lambda j: inertia[j])
        out.append((float(inertia[j]), lab[j].copy(), centres[j, :k].copy()))
    return out
