"""Synthetic corpora from the random-walk discourse model, with planted polysemy.

The model (Arora et al. 2016, "A latent variable model approach to PMI-based
word embeddings"; Arora et al. 2018, "Linear algebraic structure of word
senses"): a discourse vector c_t on the unit sphere drifts slowly, and token t
is word w with probability

    p(w | c_t) = exp(<c_t, v_w>) / Z(c_t),    Z(c) = sum_w exp(<c, v_w>).

Word vectors (``SynthModel.vectors``, shape (V, d)). Word ids are frequency
ranks (w0 is meant to be the most frequent word). Each vector is a norm times
a direction:

- norm: the model gives log p(w) ≈ ||v_w||² / (2d) − log Z (c uniform on the
  sphere, <c, v> ≈ N(0, ||v||²/d), Z concentrated). A Zipf law p(rank r) ∝
  r^(−s) (s = ``zipf``) therefore asks for
  ||v_r||² = 2 d s (1 + log(V / r)), r = id + 1; the "1 +" keeps the rarest
  word's vector away from zero (norm √(2ds)). This is the model's idealised
  law: the realised marginal frequencies follow it only roughly (Z is not
  exactly constant for a few thousand words), and ``zipf_slope`` measures
  them.
- direction: with ``topics`` = K > 0, K planted discourse atoms A_k (unit
  vectors, orthonormal when K <= d) and every word one atom chosen uniformly:
  direction ∝ A_k + η g, g ~ N(0, I/d) (so ||g|| ≈ 1), η = ``topic_spread``;
  cos(v_w, A_k) ≈ 1/√(1+η²). With K = 0 the direction is isotropic (g alone),
  the plain 2016 model, which has no atoms for a dictionary to find.

Discourse: every document restarts with c uniform on the sphere. c is held
fixed for a block of ``block_length`` = L tokens (so one softmax serves L
tokens), then moves once, c ← normalize(c + σ √L g), g ~ N(0, I/d): the
spread of L per-token steps of size σ = ``drift``. Consecutive blocks then
have E cos ≈ 1/√(1 + σ² L). L is an approximation knob: L = 1 is the exact
per-token walk.

Documents are ``doc_length`` tokens; the last one is cut so that the corpus
has exactly ``n_tokens`` tokens.

Polysemy: ``n_polysemous`` groups of ``senses`` distinct words (from distinct
topics when K > 0, ids in [V//100, ⌈V/2⌉), each word in at most one group) are
merged: the corpus is sampled with the original words, then every occurrence
of a group's word is written as the group's pseudo-word, named by joining its
words with "-" in id order ("w12-w873"; the tokeniser keeps inner hyphens, so
it stays one token). Its true components are the group's vectors; its merge
weights are the components' relative counts in the generated corpus
(``merge_weights``). The choice of groups uses its own random stream, so the
unmerged corpus does not depend on ``n_polysemous`` or ``senses``.

Sampling: per block, logits C Vᵀ for a batch of blocks (float32 matrix
product), exp after subtracting the row maximum, then a two-level inverse
CDF with one uniform per token: the vocabulary is cut into about √V groups,
a token first picks a group from the cumulative group sums (float32 group
sums, accumulated in float64), then a word inside it from that group's
cumulative sums (float64). This is exact sampling from the softmax up to
float32 rounding (of the logits, the exponentials and the group sums: relative
errors ~1e-7), at O(V d + V) per block and O(√V) per token. About 2 µs per
token on one core for V = 10⁴, d = 100, L = 20 (~0.5 M tokens/s).

Randomness: the corpus is a sequence of *units* of ``unit_docs`` documents,
unit u drawing everything it needs (its documents' starting points, walk
steps and uniforms, the full document length even for the corpus's last,
cut document) from ``default_rng([seed, 1, u])``. The floating-point work is
also laid on a grid fixed by the parameters alone: units are sampled in
*batches* of ``units_per_batch`` units (batch b holds units b·n ... b·n + n − 1,
the corpus's last batch fewer), and a batch's blocks in sub-batches of a fixed
row count, the last one zero-padded, so that every matrix product (whose
float32 result for a row can depend on the block's shape and the row's place in
it, with BLAS) sees the same rows in the same places whatever the chunking.
Chunks are cut from the batches' output. So the corpus does not depend on the
chunk size, and a shorter corpus is a prefix of a longer one with the same
parameters.

Longer than 400 lines because it is one generative model: parameters, the model's
random draws, the batched sampler and the streaming generator share its state.
"""
from __future__ import annotations

import collections
import contextlib
import math
from dataclasses import asdict, dataclass

import numpy as np

from . import _checks

__all__ = ["SynthParams", "SynthModel", "Chunk", "build_model", "generate", "word_name",
           "merge_weights", "zipf_slope", "zipf_frequencies", "block_step"]

_SUB_BATCH_FLOATS = 1 << 21    # most logits per sampling sub-batch (8 MB of float32)
_UNIT_TOKENS = 4096            # least tokens per random-stream unit
_BATCH_TOKENS = 1 << 16        # least tokens per sampling batch (bounds temporaries)
_U_MAX = 1.0 - 1e-12           # uniforms are clipped below 1 (see _sample)


def _one_blas_thread():
    """Single-threaded BLAS for the sampler's matrix products: they are small and many, and
    threads only contend with the rest of the work (and with other processes)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def word_name(i):
    """Token of word id ``i``: ``w<i>``."""
    return f"w{int(i)}"


@dataclass(frozen=True)
class SynthParams:
    """Parameters of a synthetic corpus (see the module docstring).

    ``n_tokens`` tokens in documents of ``doc_length``; ``vocab_size`` words
    with ``dim``-dimensional vectors; norms from the Zipf exponent ``zipf``;
    ``topics`` planted discourse atoms with spread ``topic_spread``;
    discourse drift ``drift`` per token, held for ``block_length`` tokens;
    ``n_polysemous`` pseudo-words of ``senses`` words each; ``seed``.
    """

    n_tokens: int
    vocab_size: int = 10000
    dim: int = 100
    doc_length: int = 200
    drift: float = 0.05
    block_length: int = 20
    n_polysemous: int = 0
    senses: int = 2
    topics: int = 50
    topic_spread: float = 0.5
    zipf: float = 1.0
    seed: int = 0

    def check(self):
        """These parameters, validated (ValueError naming the parameter)."""
        _checks.integer(self.n_tokens, "n_tokens", lo=1)
        _checks.integer(self.vocab_size, "vocab_size", lo=2)
        _checks.integer(self.dim, "dim", lo=2)
        _checks.integer(self.doc_length, "doc_length", lo=1)
        _checks.real(self.drift, "drift", lo=0.0, lo_open=False)
        _checks.integer(self.block_length, "block_length", lo=1)
        _checks.integer(self.n_polysemous, "n_polysemous", lo=0)
        _checks.integer(self.senses, "senses", lo=2)
        _checks.integer(self.topics, "topics", lo=0)
        _checks.real(self.topic_spread, "topic_spread", lo=0.0, lo_open=False)
        _checks.real(self.zipf, "zipf", lo=0.0, lo_open=True)
        _checks.integer(self.seed, "seed", lo=0)
        if self.n_polysemous:
            if 0 < self.topics < self.senses:
                raise ValueError(f"senses={self.senses} exceeds topics={self.topics}: a "
                                 "pseudo-word's words come from distinct topics")
            lo, hi = _band(self.vocab_size)
            need = self.n_polysemous * self.senses
            if need > hi - lo:
                raise ValueError(f"n_polysemous * senses = {need} exceeds the {hi - lo} words "
                                 f"eligible for merging (ids {lo}..{hi - 1} of vocab_size="
                                 f"{self.vocab_size}); use a larger vocabulary or fewer "
                                 "pseudo-words")
        return self

    def as_dict(self):
        return asdict(self)


def _band(vocab_size):
    """Ids [lo, hi) eligible for pseudo-words: not the top 1%, the more frequent half."""
    return vocab_size // 100, -(-vocab_size // 2)


def zipf_frequencies(vocab_size, zipf):
    """The idealised marginal law p(id) ∝ (id + 1)^(−zipf) the norms are set from."""
    p = np.arange(1, vocab_size + 1, dtype=np.float64) ** -float(zipf)
    return p / p.sum()


def block_step(drift, block_length):
    """σ √L: the size of the discourse move between consecutive blocks."""
    return float(drift) * math.sqrt(block_length)


@dataclass
class Chunk:
    """A run of whole documents of the corpus.

    ids : int32 array of the *original* word ids (``SynthModel.merge`` gives
        the written tokens' ids).
    offsets : int64 array, n_docs + 1 offsets of the documents into ``ids``.
    first_doc : index of the chunk's first document in the corpus.
    discourse : (n_docs, n_blocks, d) float64 discourse vectors, block by
        block (only with ``return_discourse``; the last document's blocks past
        its cut are included).
    """

    ids: np.ndarray
    offsets: np.ndarray
    first_doc: int
    discourse: np.ndarray | None = None

    @property
    def n_docs(self):
        return len(self.offsets) - 1


class SynthModel:
    """The ground truth of a synthetic corpus: vectors, topics, pseudo-word groups.

    Attributes
    ----------
    params : SynthParams
    vectors : (V, d) float64 true word vectors
    norms : (V,) their norms
    atoms : (K, d) planted discourse atoms (K = 0: none)
    topic : (V,) int64 each word's atom (-1 without topics)
    groups : list of int64 arrays, the words merged into each pseudo-word (ascending)
    group_of : (V,) int64 group of each word, -1 for ordinary words
    block_length : int, L (at most doc_length)
    """

    def __init__(self, params):
        p = self.params = params.check()
        V, d, K = p.vocab_size, p.dim, p.topics
        rng = np.random.default_rng([p.seed, 0])
        if K:
            if K <= d:
                q, _ = np.linalg.qr(rng.standard_normal((d, K)))
                atoms = q.T.copy()
            else:
                atoms = rng.standard_normal((K, d))
                atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
            topic = rng.integers(K, size=V)
            direction = atoms[topic] + p.topic_spread * rng.standard_normal((V, d)) / math.sqrt(d)
        else:
            atoms = np.zeros((0, d))
            topic = np.full(V, -1, dtype=np.int64)
            direction = rng.standard_normal((V, d))
        rank = np.arange(1, V + 1, dtype=np.float64)
        self.norms = np.sqrt(2.0 * d * p.zipf * (1.0 + np.log(V / rank)))
        self.vectors = direction / np.linalg.norm(direction, axis=1, keepdims=True) \
            * self.norms[:, None]
        self.atoms = atoms
        self.topic = np.asarray(topic, dtype=np.int64)
        self.block_length = min(p.block_length, p.doc_length)
        self.groups = self._choose_groups()
        self.group_of = np.full(V, -1, dtype=np.int64)
        for g, words in enumerate(self.groups):
            self.group_of[words] = g
        self._remap = np.arange(V, dtype=np.int32)
        for g, words in enumerate(self.groups):
            self._remap[words] = V + g
        # sampling layout: S words per group, G groups, zero-padded to G*S columns
        self._S = max(1, int(round(math.sqrt(V))))
        self._G = -(-V // self._S)
        self._vt = np.ascontiguousarray(self.vectors.T, dtype=np.float32)
        # documents per random-stream unit
        self.unit_docs = max(1, -(-_UNIT_TOKENS // p.doc_length))
        self.n_docs = -(-p.n_tokens // p.doc_length)
        self.n_units = -(-self.n_docs // self.unit_docs)
        self.blocks_per_doc = -(-p.doc_length // self.block_length)
        # the sampling grid (module docstring): units per batch, and the rows of every
        # sub-batch: the batch's blocks in equal parts of at most _SUB_BATCH_FLOATS logits
        unit_tokens = self.unit_docs * p.doc_length
        self.units_per_batch = max(1, _BATCH_TOKENS // unit_tokens)
        batch_rows = self.units_per_batch * self.unit_docs * self.blocks_per_doc
        parts = -(-batch_rows // max(1, _SUB_BATCH_FLOATS // (self._G * self._S)))
        self._rows = -(-batch_rows // parts)

    def _choose_groups(self):
        p = self.params
        if not p.n_polysemous:
            return []
        rng = np.random.default_rng([p.seed, 2])
        lo, hi = _band(p.vocab_size)
        pool = collections.deque(rng.permutation(np.arange(lo, hi)).tolist())
        groups = []
        for _ in range(p.n_polysemous):
            # the first `senses` words of the shuffled pool with distinct topics; words
            # skipped for a topic clash go back to the front, in order
            chosen, topics, skipped = [], set(), []
            while len(chosen) < p.senses and pool:
                w = pool.popleft()
                t = int(self.topic[w])
                if t < 0 or t not in topics:
                    chosen.append(w)
                    topics.add(t)
                else:
                    skipped.append(w)
            pool.extendleft(reversed(skipped))
            if len(chosen) < p.senses:
                raise ValueError(f"cannot form {p.n_polysemous} pseudo-words of {p.senses} "
                                 f"words from distinct topics (topics={p.topics}); use "
                                 "a larger vocabulary or more topics")
            groups.append(np.array(sorted(chosen), dtype=np.int64))
        return groups

    # -- names and merging ----------------------------------------------
    @property
    def n_output(self):
        """Distinct token ids of the written corpus: V words + the pseudo-words."""
        return self.params.vocab_size + len(self.groups)

    def pseudo_names(self):
        return ["-".join(word_name(w) for w in g) for g in self.groups]

    def names(self):
        """Token of each output id: ``w<id>`` for words, then the pseudo-words."""
        return [word_name(i) for i in range(self.params.vocab_size)] + self.pseudo_names()

    def merge(self, ids):
        """Original word ids → written token ids (group words → V + group)."""
        return self._remap[np.asarray(ids)]

    # -- the model's probabilities ---------------------------------------
    def probabilities(self, c):
        """Exact p(w | c) (float64) for discourse vectors ``c`` of shape (d,) or (n, d)."""
        c = np.asarray(c, dtype=np.float64)
        x = c @ self.vectors.T
        x = np.exp(x - x.max(axis=-1, keepdims=True))
        return x / x.sum(axis=-1, keepdims=True)

    # -- sampling ---------------------------------------------------------
    def _walk(self, z):
        """Discourse vectors (n_docs, nb, d) from standard normals z of the same shape."""
        d = self.params.dim
        step = block_step(self.params.drift, self.block_length) / math.sqrt(d)
        c = np.empty_like(z)
        cur = z[:, 0] / np.linalg.norm(z[:, 0], axis=1, keepdims=True)
        c[:, 0] = cur
        for k in range(1, z.shape[1]):
            cur = cur + step * z[:, k]
            cur /= np.linalg.norm(cur, axis=1, keepdims=True)
            c[:, k] = cur
        return c

    def _sample(self, c, u):
        """Word ids (B, L) int32 for discourse vectors c (B, d) and uniforms u (B, L).

        The rows are taken in sub-batches of ``self._rows`` from the first, the last
        zero-padded to that count: a row's ids depend on its place in that grid (through
        BLAS), so callers give whole batches of the sampling grid.
        """
        B, L = u.shape
        V, S, G, R = self.params.vocab_size, self._S, self._G, self._rows
        out = np.empty((B, L), dtype=np.int32)
        x = np.zeros((R, G * S), dtype=np.float32)  # padding columns stay 0
        xv = x[:, :V]
        c32 = np.zeros((-(-B // R) * R, self.params.dim), dtype=np.float32)  # padding rows 0
        c32[:B] = c
        ones = np.ones(S, dtype=np.float32)
        for a in range(0, B, R):
            b = min(B, a + R)
            n = b - a
            # every product, maximum and exponential on all R rows: the same shapes for
            # every sub-batch, whatever n
            np.matmul(c32[a:a + R], self._vt, out=xv)
            xv -= xv.max(axis=1, keepdims=True)
            np.exp(xv, out=xv)
            # group sums: float32 products with ones (BLAS; relative error ~1e-7, only
            # the choice of group uses them), accumulated over groups in float64
            gsum = (x.reshape(R * G, S) @ ones).reshape(R, G)[:n].astype(np.float64)
            gcum = np.cumsum(gsum, axis=1)
            target = np.minimum(u[a:b], _U_MAX) * gcum[:, -1:]           # (n, L)
            g = (gcum[:, None, :] <= target[:, :, None]).sum(axis=2)      # (n, L)
            g = np.minimum(g, G - 1)
            rows = np.arange(n)[:, None]
            before = np.where(g > 0, gcum[rows, np.maximum(g - 1, 0)], 0.0)
            frac = np.clip((target - before) / gsum[rows, g], 0.0, _U_MAX)
            w = x.reshape(R, G, S)[rows, g]                               # (n, L, S)
            cum = np.cumsum(w, axis=2, dtype=np.float64)
            r = frac * cum[:, :, -1]
            j = (cum <= r[:, :, None]).sum(axis=2)
            out[a:b] = g * S + np.minimum(j, S - 1)
        return out

    def _unit(self, u):
        """(z, uniforms) of random-stream unit ``u``: its documents' full draws."""
        p = self.params
        rng = np.random.default_rng([p.seed, 1, u])
        nb, L = self.blocks_per_doc, self.block_length
        z = rng.standard_normal((self.unit_docs, nb, p.dim))
        uni = rng.random((self.unit_docs, nb, L))
        return z, uni

    def _docs(self, first_unit, n_units, return_discourse):
        """ids, per-document lengths and (optionally) discourse of whole units."""
        p = self.params
        nb, L, D = self.blocks_per_doc, self.block_length, p.doc_length
        draws = [self._unit(u) for u in range(first_unit, first_unit + n_units)]
        z = np.concatenate([d[0] for d in draws])
        uni = np.concatenate([d[1] for d in draws])
        first_doc = first_unit * self.unit_docs
        n_docs = min(len(z), self.n_docs - first_doc)
        z, uni = z[:n_docs], uni[:n_docs]
        c = self._walk(z)
        with _one_blas_thread():
            ids = self._sample(c.reshape(-1, p.dim), uni.reshape(-1, L))
        ids = ids.reshape(n_docs, nb * L)
        lengths = np.full(n_docs, D, dtype=np.int64)
        last = p.n_tokens - (self.n_docs - 1) * D
        if first_doc + n_docs == self.n_docs:
            lengths[-1] = last
        flat = ids[:, :D].reshape(-1)[:int(lengths.sum())]
        return flat, lengths, (c if return_discourse else None)


def build_model(params):
    """The :class:`SynthModel` of validated ``params``."""
    return SynthModel(params)


def generate(model, *, chunk_tokens=1 << 20, return_discourse=False):
    """Yield the corpus as :class:`Chunk` s of about ``chunk_tokens`` tokens (whole units).

    Memory is bounded by the chunk (its ids, 4 bytes per token) plus a sampling
    batch of about 65k tokens and its temporaries: the corpus is never held
    whole. The chunk size does not change the corpus: the batches are the same
    for every chunk size (the module docstring's grid), and chunks are cut from
    their output.
    """
    chunk_tokens = _checks.integer(chunk_tokens, "chunk_tokens", lo=1)
    p = model.params
    unit_tokens = model.unit_docs * p.doc_length
    chunk_docs = max(1, chunk_tokens // unit_tokens) * model.unit_docs
    per_batch = model.units_per_batch
    held = []  # (ids, lengths, discourse) of sampled documents not yet in a chunk
    n_held = first_doc = 0
    for first in range(0, model.n_units, per_batch):
        held.append(model._docs(first, min(per_batch, model.n_units - first),
                                return_discourse))
        n_held += len(held[-1][1])
        last = first + per_batch >= model.n_units
        if n_held < chunk_docs and not last:
            continue
        ids, lengths = np.concatenate([h[0] for h in held]), np.concatenate([h[1] for h in held])
        disc = np.concatenate([h[2] for h in held]) if return_discourse else None
        held = None  # the pieces, now copied
        offsets = np.zeros(n_held + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        a = 0
        while n_held - a >= chunk_docs or (last and a < n_held):
            b = min(n_held, a + chunk_docs)
            # a part is copied: a chunk owns its arrays, no view keeps the rest alive
            whole = a == 0 and b == n_held
            yield Chunk(ids=ids if whole else ids[offsets[a]:offsets[b]].copy(),
                        offsets=offsets[a:b + 1] - offsets[a], first_doc=first_doc + a,
                        discourse=(disc if whole else disc[a:b].copy())
                        if return_discourse else None)
            a = b
        held = [(ids[offsets[a]:], lengths[a:], disc[a:] if return_discourse else None)]
        n_held -= a
        first_doc += a


def merge_weights(counts, groups):
    """Each group's merge weights: its words' relative counts (uniform if none occurred)."""
    counts = np.asarray(counts, dtype=np.float64)
    out = []
    for g in groups:
        c = counts[np.asarray(g)]
        out.append(c / c.sum() if c.sum() > 0 else np.full(len(c), 1.0 / len(c)))
    return out


def zipf_slope(counts, min_count=10):
    """Fitted exponent s of count ∝ rank^(−s) over the words seen at least ``min_count`` times
    (least squares on log count vs log rank; None with fewer than 3 such words)."""
    c = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    c = c[c >= min_count]
    if len(c) < 3:
        return None
    x = np.log(np.arange(1, len(c) + 1))
    slope = np.polyfit(x, np.log(c), 1)[0]
    return float(-slope)
