"""Intrinsic evaluation of word vectors: word similarity and word analogies.

Both follow the usual practice of the field:

- *Similarity* (WS-353, SimLex-999, MEN, RW, ...): the cosine similarity of
  each word pair is compared with the human scores by Pearson's and
  Spearman's correlation; pairs with a word outside the vocabulary are left
  out and reported as the OOV rate.
- *Analogies* (Mikolov et al.'s ``questions-words.txt``): "a is to b as c is
  to d" is answered by 3CosAdd, ``argmax_x cos(x, b - a + c)``, and by 3CosMul
  (Levy & Goldberg, 2014), ``argmax_x cos'(x, b) cos'(x, c) / (cos'(x, a) + eps)``
  with ``cos' = (cos + 1) / 2``; the question words a, b, c are never answers.
  As in gensim's ``restrict_vocab``, candidates and questions are limited to
  the first ``restrict`` rows (rows are ordered by frequency, as vocabulary
  ids are), and questions with a word outside are left out and reported as
  coverage.

- ``read_pairs(path_or_lines)`` -> list of ``(word1, word2, score)``
- ``similarity_scores(pairs, vectors, index)`` -> dict
- ``pair_half(word1, word2)`` -> ``"dev"`` or ``"test"``: a fixed split of every
  similarity set into halves (settings are chosen on the dev half only; the test
  half and the full set are reported)
- ``read_analogies(path_or_lines)`` -> list of ``(section, a, b, c, d)``
- ``analogy_scores(questions, vectors, index, restrict=30000)`` -> dict

The returned dicts hold only JSON-safe values: Python ints and floats, and
``None`` where a number is undefined (a correlation of fewer than 3 pairs, an
accuracy of no question).

Longer than 400 lines because it holds both evaluations with their readers: each
reader is small, and splitting would separate a metric from the data format it scores.
"""
from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Mapping

import numpy as np

from .linalg import unit_rows

__all__ = ["read_pairs", "similarity_scores", "pair_half", "split_pairs", "read_analogies",
           "analogy_scores"]

_MAX_SHOWN = 80  # characters of a bad line quoted in an error message


# --------------------------------------------------------------------------- reading


def _shown(line):
    line = line.rstrip("\r\n")
    return repr(line if len(line) <= _MAX_SHOWN else line[:_MAX_SHOWN] + "...")


def _numbered_lines(path_or_lines, name):
    """Yield ``(name, line_number, text)`` for a path, a file object or an iterable of lines.

    Lines are decoded as UTF-8 (a leading byte-order mark is dropped); a line
    that does not decode raises ValueError with its number.
    """
    if isinstance(path_or_lines, (str, bytes, bytearray, os.PathLike)):
        raise TypeError("give the lines (a file object or an iterable of str/bytes), not "
                        f"{type(path_or_lines).__name__}: tasks/ opens no file")
    name = name or getattr(path_or_lines, "name", None) or "<lines>"
    for n, line in enumerate(path_or_lines, start=1):
        if isinstance(line, (bytes, bytearray)):
            try:
                line = bytes(line).decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{name}: line {n}: invalid UTF-8 ({e.reason} at byte "
                                 f"{e.start})") from None
        elif not isinstance(line, str):
            raise TypeError(f"{name}: line {n}: expected str or bytes, got {type(line).__name__}")
        if n == 1:
            line = line.removeprefix("\ufeff")
        yield name, n, line


def _skipped(text):
    """Blank lines and ``#`` comments carry no data."""
    return not text or text.startswith("#")


def read_pairs(path_or_lines, *, lowercase=True, name=None):
    """Read a word-similarity data set.

    Parameters
    ----------
    path_or_lines : file object or iterable of str/bytes
        One pair per line, ``word1 word2 score``, separated by whitespace or
        tabs (as in WS-353, SimLex-999, MEN, RW). Blank lines and lines
        starting with ``#`` are skipped; line endings may be ``\\n`` or ``\\r\\n``.
    lowercase : bool, default True
        Lowercase the words (the corpus pipeline lowercases tokens by default).
    name : str, optional
        Name used in error messages; defaults to the path or the file's name.

    Returns
    -------
    pairs : list of (str, str, float)
        In file order; repeated pairs are kept.

    Raises
    ------
    ValueError
        A line without exactly three fields, a score that is not a finite
        number, or undecodable UTF-8; the message names the file and line.
    """
    pairs = []
    for src, n, line in _numbered_lines(path_or_lines, name):
        text = line.strip()
        if _skipped(text):
            continue
        fields = text.split()
        if len(fields) != 3:
            raise ValueError(f"{src}: line {n}: expected 'word1 word2 score', got {_shown(line)}")
        w1, w2, score = fields
        try:
            value = float(score)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"{src}: line {n}: score {score!r} is not a finite number")
        if lowercase:
            w1, w2 = w1.lower(), w2.lower()
        pairs.append((w1, w2, value))
    return pairs


def read_analogies(path_or_lines, *, lowercase=True, name=None):
    """Read analogy questions in the ``questions-words.txt`` format.

    Parameters
    ----------
    path_or_lines : file object or iterable of str/bytes
        Section headers ``: name`` followed by questions ``a b c d`` ("a is
        to b as c is to d"). Blank lines and lines starting with ``#`` are
        skipped.
    lowercase : bool, default True
        Lowercase the words (the section names are kept as written).
    name : str, optional
        Name used in error messages; defaults to the path or the file's name.

    Returns
    -------
    questions : list of (section, a, b, c, d), all str
        In file order.

    Raises
    ------
    ValueError
        A question before the first header, an empty header, a question
        without exactly four words or undecodable UTF-8; the message names the
        file and line.
    """
    questions = []
    section = None
    for src, n, line in _numbered_lines(path_or_lines, name):
        text = line.strip()
        if _skipped(text):
            continue
        if text.startswith(":"):
            section = text[1:].strip()
            if not section:
                raise ValueError(f"{src}: line {n}: empty section name")
            continue
        if section is None:
            raise ValueError(f"{src}: line {n}: question before the first ': section' header")
        words = text.split()
        if len(words) != 4:
            raise ValueError(f"{src}: line {n}: expected 'a b c d', got {_shown(line)}")
        if lowercase:
            words = [w.lower() for w in words]
        questions.append((section, *words))
    return questions


# --------------------------------------------------------------------------- helpers


def _check_vectors(vectors):
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-D (V, d), got shape {vectors.shape}")
    if not (np.issubdtype(vectors.dtype, np.floating) or np.issubdtype(vectors.dtype, np.integer)):
        raise ValueError(f"vectors must be numeric, got dtype {vectors.dtype}")
    return vectors


def _rows(words, index, n_rows):
    """Rows of ``words`` in ``index`` (-1 when absent); rows must lie in [0, n_rows)."""
    if not isinstance(index, Mapping):
        raise TypeError(f"index must map word -> row, got {type(index).__name__}")
    out = np.empty(len(words), dtype=np.int64)
    for k, w in enumerate(words):
        r = index.get(w)
        if r is None:
            out[k] = -1
            continue
        if not isinstance(r, (int, np.integer)) or isinstance(r, bool) or not 0 <= r < n_rows:
            raise ValueError(f"index[{w!r}] = {r!r} is not a row of vectors (0 <= row < {n_rows})")
        out[k] = r
    return out


def _unit_rows(vectors, dtype):
    """Rows scaled to unit length; all-zero rows stay zero (cosine 0 with everything)."""
    w = np.asarray(vectors, dtype=dtype)
    finite = np.isfinite(w).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"vectors row {bad} holds a non-finite value")
    return unit_rows(w)


def _correlation(name, x, y):
    """``scipy.stats``' correlation ``name`` (pearsonr, spearmanr) as a float, None when
    undefined (constant input)."""
    import scipy.stats  # 0.3 s to load: only where a correlation is computed
    fn = getattr(scipy.stats, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConstantInputWarning and friends: reported as None
        r = float(fn(x, y)[0])
    return r if math.isfinite(r) else None


def _ratio(num, den):
    return float(num) / float(den) if den else None


# --------------------------------------------------------------------------- similarity


def similarity_scores(pairs, vectors, index):
    """Correlate cosine similarities of word pairs with human scores.

    Parameters
    ----------
    pairs : sequence of (str, str, float), length n_pairs
        As returned by :func:`read_pairs`.
    vectors : array-like of shape (V, d), float
        One vector per row.
    index : Mapping[str, int]
        Word -> row of ``vectors``.

    Returns
    -------
    dict with
        pearson, spearman : float or None
            Pearson's r and Spearman's rho (``scipy.stats``) between the
            cosines and the human scores over the usable pairs; None with
            fewer than 3 usable pairs or when either side is constant.
        pairs_used : int
            Pairs whose two words are both in ``index``.
        pairs_total : int
        oov_rate : float or None
            ``(pairs_total - pairs_used) / pairs_total``; None without pairs.
        pearson_dev, spearman_dev, pairs_used_dev, pairs_total_dev, and the same
        with ``_test``
            The same figures on each half of the set (:func:`pair_half`): the dev
            half is the one settings may be chosen on.

    Notes
    -----
    A word has cosine exactly 1 with itself; a zero vector has cosine 0 with
    every word (itself included).
    """
    vectors = _check_vectors(vectors)
    pairs = list(pairs)
    for k, p in enumerate(pairs):
        if len(p) != 3:
            raise ValueError(f"pairs[{k}] must be (word1, word2, score), got {p!r}")
    n_total = len(pairs)
    r1 = _rows([p[0] for p in pairs], index, vectors.shape[0])
    r2 = _rows([p[1] for p in pairs], index, vectors.shape[0])
    used = (r1 >= 0) & (r2 >= 0)
    n_used = int(used.sum())
    out = {"pearson": None, "spearman": None, "pairs_used": n_used, "pairs_total": n_total,
           "oov_rate": _ratio(n_total - n_used, n_total)}
    if n_used < 3:
        out.update(_split_scores(pairs, np.zeros(n_used), np.zeros(n_used), used))
        return out
    gold = np.array([p[2] for p in pairs], dtype=np.float64)[used]
    rows = np.unique(np.concatenate([r1[used], r2[used]]))
    unit = _unit_rows(vectors[rows], np.float64)
    a = unit[np.searchsorted(rows, r1[used])]
    b = unit[np.searchsorted(rows, r2[used])]
    cos = np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0)
    # A word with itself (WS-353 has "tiger tiger") gets exactly 1, so such pairs tie in
    # Spearman's ranks instead of being ordered by rounding noise.
    same = (r1[used] == r2[used]) & np.any(a != 0, axis=1)
    cos[same] = 1.0
    out["pearson"] = _correlation("pearsonr", cos, gold)
    out["spearman"] = _correlation("spearmanr", cos, gold)
    out.update(_split_scores(pairs, cos, gold, used))
    return out


def pair_half(word1, word2):
    """The half of a similarity set a pair belongs to: ``"dev"`` or ``"test"``.

    A pure function of the pair's text as read (``read_pairs`` lowercases by default):
    ``"dev"`` when the first byte of the MD5 digest of ``"word1 word2"`` (UTF-8) is even,
    else ``"test"``. It never depends on the file, its order or a random state, so a pair
    stays in its half forever and every set splits into two halves of about equal size
    (RW: 992 dev, 1,042 test pairs). MD5 serves as a fixed hash here, not for security.
    """
    digest = hashlib.md5(f"{word1} {word2}".encode("utf-8"), usedforsecurity=False).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def _split_scores(pairs, cos, gold, used):
    """Pearson/Spearman and pair counts on the dev and test halves (see pair_half)."""
    half = np.array([pair_half(p[0], p[1]) == "dev" for p in pairs], dtype=bool)
    out = {}
    for name, mask in (("dev", half), ("test", ~half)):
        in_used = mask[used]
        out[f"pairs_total_{name}"] = int(mask.sum())
        out[f"pairs_used_{name}"] = int(in_used.sum())
        enough = in_used.sum() >= 3
        out[f"pearson_{name}"] = (_correlation("pearsonr", cos[in_used],
                                               gold[in_used]) if enough else None)
        out[f"spearman_{name}"] = (_correlation("spearmanr", cos[in_used],
                                                gold[in_used]) if enough else None)
    return out


def split_pairs(pairs):
    """(dev pairs, test pairs) of a sequence of (word1, word2, score), see :func:`pair_half`."""
    dev, test = [], []
    for p in pairs:
        (dev if pair_half(p[0], p[1]) == "dev" else test).append(p)
    return dev, test


# --------------------------------------------------------------------------- analogies


def _shifted_cosines(unit, qa, qb, qc, max_bytes, min_block):
    """Yield blocks ``(start, stop, sims, ia, ib, ic)`` covering the questions in order.

    ``sims`` (n_words_in_block, R) float32 holds ``1 + cos`` of each distinct
    question word of the block with every row; ``ia, ib, ic`` give the row of
    ``sims`` of each question's a, b and c. One block holds all questions when
    the cosines of all distinct question words fit in ``max_bytes``; otherwise
    blocks (of at least ``min_block`` questions) are small enough for theirs
    to fit.
    """
    n_rows = unit.shape[0]
    n = qa.size
    words = np.unique(np.concatenate([qa, qb, qc]))
    per_word = n_rows * 4
    cached = words.size * per_word <= max_bytes
    block = n if cached else max(min_block, max_bytes // (3 * per_word))
    for s in range(0, n, block):
        e = min(s + block, n)
        if cached:
            w = words
            ia, ib, ic = (np.searchsorted(words, q) for q in (qa, qb, qc))
        else:
            w, inv = np.unique(np.concatenate([qa[s:e], qb[s:e], qc[s:e]]), return_inverse=True)
            ia, ib, ic = np.split(inv, 3)
        sims = unit[w] @ unit.T
        sims += 1
        yield s, e, sims, ia, ib, ic


def analogy_scores(questions, vectors, index, *, restrict=30000, eps=1e-3, batch_size=64,
                   max_bytes=512 * 2**20):
    """Answer analogy questions with 3CosAdd and 3CosMul.

    Parameters
    ----------
    questions : sequence of (section, a, b, c, d), length n_questions
        As returned by :func:`read_analogies`: "a is to b as c is to d".
    vectors : array-like of shape (V, d), float
        One vector per row, rows ordered by decreasing word frequency.
    index : Mapping[str, int]
        Word -> row of ``vectors``.
    restrict : int or None, default 30000
        Only the first ``restrict`` rows are candidate answers, and questions
        with a word (d included) outside them are skipped, like gensim's
        ``restrict_vocab``. None uses all rows.
    eps : float, default 1e-3
        3CosMul's guard against division by zero (Levy & Goldberg, 2014).
    batch_size : int, default 64
        Questions scored per numpy batch (small batches stay in the CPU
        caches); memory is about ``4 * batch_size * R * 4`` bytes beyond the
        cosine cache.
    max_bytes : int, default 512 MiB
        Largest size of the float32 cache of cosines (distinct question words
        x R). When all distinct question words do not fit, the questions are
        cut into blocks whose words do.

    Returns
    -------
    dict with
        add_accuracy, mul_accuracy : float or None
            Share of the used questions answered right by 3CosAdd / 3CosMul
            (None when no question is used).
        coverage : float or None
            ``questions_used / questions_total`` (None without questions).
        questions_total, questions_used : int
        by_section : dict
            Section name (in first-seen order) -> dict with the same keys
            ``add_accuracy, mul_accuracy, coverage, questions_total,
            questions_used``.

    Notes
    -----
    Rows are normalised once to unit length (float32); cosines of the
    question words with all R candidate rows come from one matrix product, so
    ``b - a + c`` scores are ``S[b] - S[a] + S[c]``. The answer is the arg max
    over candidates other than a, b and c; ties go to the lower (more frequent)
    row. A zero vector has cosine 0 with everything.
    """
    vectors = _check_vectors(vectors)
    valid_int = isinstance(restrict, (int, np.integer)) and not isinstance(restrict, bool)
    if restrict is not None and (not valid_int or restrict < 1):
        raise ValueError(f"restrict must be a positive int or None, got {restrict!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    questions = list(questions)
    for k, q in enumerate(questions):
        if len(q) != 5:
            raise ValueError(f"questions[{k}] must be (section, a, b, c, d), got {q!r}")
    n_rows = vectors.shape[0] if restrict is None else min(int(restrict), vectors.shape[0])

    sections = {}
    sec_id = np.array([sections.setdefault(q[0], len(sections)) for q in questions], dtype=np.int64)
    flat = _rows([w for q in questions for w in q[1:]], index, vectors.shape[0])
    rows = flat.reshape(len(questions), 4)
    used = np.all((rows >= 0) & (rows < n_rows), axis=1)
    qa, qb, qc, qd = (np.ascontiguousarray(rows[used, k]) for k in range(4))
    add_ok = np.zeros(qa.size, dtype=bool)
    mul_ok = np.zeros(qa.size, dtype=bool)

    if qa.size:
        unit = _unit_rows(vectors[:n_rows], np.float32)
        two_eps = np.float32(2 * eps)
        for s, e, sims, ia, ib, ic in _shifted_cosines(unit, qa, qb, qc, max_bytes, batch_size):
            for s2 in range(s, e, batch_size):
                e2 = min(s2 + batch_size, e)
                r = np.arange(e2 - s2)
                a, b, c, d = qa[s2:e2], qb[s2:e2], qc[s2:e2], qd[s2:e2]
                sa, sb, sc = (sims[i[s2 - s:e2 - s]] for i in (ia, ib, ic))
                # 3CosAdd: cos(x, b - a + c) is proportional to S[b] - S[a] + S[c]
                # (the +1 shift of the three terms adds a constant 1).
                score = np.subtract(sb, sa)
                score += sc
                score[r, a] = score[r, b] = score[r, c] = -np.inf
                add_ok[s2:e2] = score.argmax(axis=1) == d
                # 3CosMul with cos' = (cos + 1) / 2:
                #   cos'(x,b) cos'(x,c) / (cos'(x,a) + eps)
                #     = (S_b + 1)(S_c + 1) / (2 (S_a + 1 + 2 eps)),
                # and the constant factor 1/2 does not move the arg max.
                sa += two_eps
                np.multiply(sb, sc, out=score)
                score /= sa
                score[r, a] = score[r, b] = score[r, c] = -np.inf
                mul_ok[s2:e2] = score.argmax(axis=1) == d

    def summary(total, n_used, n_add, n_mul):
        return {"add_accuracy": _ratio(n_add, n_used), "mul_accuracy": _ratio(n_mul, n_used),
                "coverage": _ratio(n_used, total), "questions_total": int(total),
                "questions_used": int(n_used)}

    n_sec = len(sections)
    total_by = np.bincount(sec_id, minlength=n_sec)
    used_sec = sec_id[used]
    used_by = np.bincount(used_sec, minlength=n_sec)
    add_by = np.bincount(used_sec, weights=add_ok, minlength=n_sec).astype(np.int64)
    mul_by = np.bincount(used_sec, weights=mul_ok, minlength=n_sec).astype(np.int64)
    out = summary(len(questions), qa.size, int(add_ok.sum()), int(mul_ok.sum()))
    out["by_section"] = {name: summary(total_by[k], used_by[k], add_by[k], mul_by[k])
                         for name, k in sections.items()}
    return out
