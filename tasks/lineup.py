"""The police-lineup test of word senses (Arora et al., TACL 2018).

The test, as the paper describes it: a testbed of 200 polysemous words and
their WordNet senses (704 senses, 3.5 per word), each sense represented by
8 related words. The test taker is given one of the words and m senses: the
word's true senses plus *distractors*, senses of other words of the testbed
picked at random; it answers with k of them. Precision is the fraction of
its k answers that are true senses, recall the fraction of the true senses
it found. Reported for m = 20, k = 4: the paper's method 63% precision / 70%
recall; in the authors' account (offconvex.org blog, July 2016) native
English speakers scored 75-90% and non-native speakers roughly like the
method (:data:`PAPER`).

Building the test set (:func:`build_testset`) — where this differs from the paper
-----------------------------------------------------------------------------------
The paper's 8 words per sense were chosen by hand (students picked the most
relevant words of the WordNet and online-dictionary definitions, examples
and WordNet neighbours). Here they are collected automatically from WordNet,
in this order of priority, and the first ``size`` (8) kept:

1. synonyms: the synset's other lemmas (a multiword lemma gives its words);
2. hypernym lemmas (pointers ``@`` and ``@i``; adjectives, which have no
   hypernyms, use their similar-to ``&`` synsets instead);
3. content words of the definition, then of the gloss examples.

A word is kept when it is lowercase alphabetic, at least 3 letters, not a
stopword (:data:`STOPWORDS`, function words and gloss boilerplate), in the
vocabulary, new to the list, and not a form of the target: it never equals
the target and shares no WordNet base form with it (``banks``, ``banking``
are forms of ``bank``; morphy with the exception lists). A sense with fewer
than ``min_size`` words is dropped, as is one whose word list repeats an
earlier sense of the same word. A target is a vocabulary word, a WordNet
lemma, with at least 2 kept senses; at most ``max_senses`` (5) are kept,
taken round-robin over the parts of speech in WordNet's sense order (noun 1,
verb 1, adjective 1, noun 2, ...) so that each part of speech keeps its most
frequent senses (the paper averages 3.5 senses a word; WordNet gives up to
~70). Targets are drawn uniformly without replacement from the eligible
words (in a seeded random order, accepting words until ``n_words``).
Distractors, as in the paper, are senses of the *other* targets of the test
set, drawn uniformly; a distractor is never a synset of the target (any part
of speech, kept or not), never repeats a synset already in the lineup, and
never lists a form of the target among its words (those are skipped and
another drawn). The m candidates are shuffled. Everything is deterministic
for a seed (one ``numpy.random.default_rng(seed)``).

Scoring (:func:`rank_method`) — the paper's Algorithm 1
------------------------------------------------------
I could not retrieve the paper's text in this environment (only the
authors' blog summary: "take all discourse atoms computed for that word,
and compute a certain similarity score between each atom and each of the m
senses, where the words in the senses are represented by their word
vectors"); the rule below is the paper's Algorithm 1 as I recall it, with
the points I am unsure of made parameters:

1. U = the atoms of the word's sparse code, together with those of its
   inflectional forms found heuristically (the paper: 5 atoms for w and for
   each inflectional form; here the run's code, ``atoms.sparsity`` atoms;
   :func:`inflections` finds the forms).
2. For a sense L (its word vectors u, unit length) and an atom a::

       score(a, L) = ‖s_L^a‖ − ‖s_L^V‖ + γ ‖s_L^w‖

   where s_L^x = (<x, u>)_{u ∈ L} is the vector of inner products of the
   sense's words with x: the atom a, a background vector V (correcting for
   senses made of words close to every direction) and the word's own unit
   vector v_w. Choices: V is the mean unit word vector of the vocabulary
   (the run's common-discourse direction; ``background``), γ = 1
   (``gamma``), and the norms are root-mean-squares (‖s‖/√|L|) because
   the senses here have 5-8 words rather than the paper's exactly 8 (for
   8-word senses this only rescales every score by 1/√8). The ℓ2 norm
   makes the score blind to the sign of the atom's coefficient.
3. For each atom a ∈ U the two senses with the highest score(a, L) become
   candidates, and score(L) = max over those atoms of score(a, L).
4. The answer is the k candidates with the highest score(L). When fewer
   than k senses became candidates (a word with a single atom), the
   ranking continues with the other senses by max_a score(a, L) — the
   paper returns "t senses" and does not say what happens then. With no
   atom at all, senses are ranked by −‖s_L^V‖ + γ‖s_L^w‖.

Baseline (:func:`rank_baseline`): senses by the cosine between the word's
vector and the mean of the sense's unit word vectors (no atoms).

Precision and recall (:func:`precision_recall`, :func:`summarize`) are
computed per word and averaged over words (macro); the pooled (micro)
figures are reported too. When a word has more than k true senses its
recall cannot reach 1, as in the paper.

    items = build_testset(wordnet, vocabulary, n_words=200, m=20, seed=0)
    write_testset(items, file)
    result = score_testset(items, index, vectors, atoms_of, k=4, background=mean)

Longer than 400 lines because it is one evaluation: building the test set from
WordNet, its JSON form, and the paper's rule and baseline that score it.
"""
from __future__ import annotations

import json
import re

import numpy as np

from . import _checks
from .linalg import unit_rows
from .wordnet import POS

__all__ = ["PAPER", "STOPWORDS", "build_testset", "write_testset", "read_testset",
           "inflections", "rank_method", "rank_baseline", "method_scores",
           "precision_recall", "summarize", "score_testset"]

PAPER = {
    "source": "Arora et al. (2018), TACL 6, police-lineup test: 200 polysemous "
              "words, m = 20, k = 4",
    "method": {"precision": 0.63, "recall": 0.70},
    "native_speakers": "precision and recall 0.75-0.90 (authors' blog, offconvex.org 2016)",
    "non_native_speakers": "roughly the method's figures (authors' blog)",
}

STOPWORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also
although always am among amongst an and another any anybody anyone anything anyway
anywhere are around as at away be became because become becomes becoming been before
beforehand behind being below beside besides between beyond both but by can cannot
could did do does doing done down during each either else elsewhere enough etc even ever
every everyone everything everywhere except few for former formerly from further had has
have having he hence her here hereby herein hers herself him himself his how however i
ie if in indeed into is it its itself just least less many may me meanwhile might mine
more moreover most mostly much must my myself namely neither never nevertheless next no
nobody none nor not nothing now nowhere of off often on once one ones only onto or other
others otherwise our ours ourselves out over own per perhaps rather same seem seemed
seeming seems several she should since so some somebody somehow someone something
sometime sometimes somewhat somewhere still such than that the their theirs them
themselves then thence there thereafter thereby therefore therein thereupon these they
this those though through throughout thru thus to together too toward towards under
until up upon us usually very via was we well were what whatever when whence whenever
where whereas whereby wherein whereupon wherever whether which while whither who whoever
whole whom whose why will with within without would yet you your yours yourself
yourselves especially esp usually typically generally often particularly used using
make makes made cause causes caused give gives given get gets got kind sort type way
something someone somebody thing things act manner state quality
""".split())

_TOKEN = re.compile(r"[a-z]+")


# --------------------------------------------------------------------------- test set


class _Forms:
    """Whether a word is a form of a target (equal, or sharing a WordNet base form)."""

    def __init__(self, wordnet):
        self.wn = wordnet
        self._bases = {}

    def bases(self, word):
        b = self._bases.get(word)
        if b is None:
            b = frozenset(self.wn.morphy(word)) | {word}
            self._bases[word] = b
        return b

    def related(self, word, target):
        return word == target or bool(self.bases(word) & self.bases(target))


def _content(text):
    return [t for t in _TOKEN.findall(text.lower()) if len(t) >= 3 and t not in STOPWORDS]


def _lemma_words(lemmas):
    out = []
    for name in lemmas:
        out.extend(_content(name))
    return out


def sense_words(wordnet, synset, target, vocabulary, forms, *, size=8):
    """The related words of one synset of ``target`` (see the module docstring)."""
    cands = _lemma_words(synset.lemmas)
    links = synset.hypernyms if synset.pos != "a" else synset.related("&")
    for off, pos in links:
        cands.extend(_lemma_words(wordnet.synset(off, pos).lemmas))
    cands.extend(_content(synset.definition))
    for ex in synset.examples:
        cands.extend(_content(ex))
    out = []
    for w in cands:
        if w in vocabulary and w not in out and not forms.related(w, target):
            out.append(w)
            if len(out) == size:
                break
    return out


def _round_robin(wordnet, word):
    per_pos = [wordnet.synsets(word, p) for p in POS]
    out = []
    for i in range(max((len(s) for s in per_pos), default=0)):
        out.extend(s[i] for s in per_pos if i < len(s))
    return out


def target_senses(wordnet, word, vocabulary, forms, *, size=8, min_size=5, max_senses=5):
    """The kept senses of ``word`` (list of candidate dicts) and the keys of all its synsets."""
    kept, seen = [], set()
    synsets = _round_robin(wordnet, word)
    number = {}
    for s in synsets:
        number[s.pos] = number.get(s.pos, 0) + 1
        if len(kept) == max_senses:
            continue
        words = sense_words(wordnet, s, word, vocabulary, forms, size=size)
        if len(words) < min_size or frozenset(words) in seen:
            continue
        seen.add(frozenset(words))
        kept.append({"sense": f"{word}.{s.pos}.{number[s.pos]:02d}", "synset": s.key,
                     "owner": word, "definition": s.definition, "words": words})
    return kept, {s.key for s in synsets}


def build_testset(wordnet, vocabulary, *, n_words=200, m=20, seed=0, size=8, min_size=5,
                  max_senses=5, targets=None):
    """The police-lineup test set: one item per target word.

    Parameters
    ----------
    wordnet : tasks.wordnet.WordNet
    vocabulary : iterable of str
        Words that have a vector (and, for the method, a sparse code):
        targets and sense words are taken from it.
    n_words : int
        Targets wanted (fewer when fewer words are eligible).
    m : int
        Candidate senses per target (true senses + distractors).
    seed : int
        Seed of the ``numpy.random.default_rng`` that orders the targets,
        draws the distractors and shuffles the candidates.
    size, min_size : int
        Related words per sense (at most / at least).
    max_senses : int
        Kept senses per target (< m).
    targets : iterable of str or None
        Words allowed as targets (default: the vocabulary), e.g. the most
        frequent ones.

    Returns
    -------
    list of dict
        ``{"word": target, "candidates": [{"sense", "synset", "owner",
        "definition", "words"}, ...] (m, shuffled), "true": sorted indices of
        the target's senses among the candidates}``.

    Raises
    ------
    ValueError
        Bad parameters, or too few senses in the test set for m candidates.
    """
    n_words = _checks.integer(n_words, "n_words", lo=1)
    m = _checks.integer(m, "m", lo=2)
    seed = _checks.integer(seed, "seed", lo=0)
    size = _checks.integer(size, "size", lo=1)
    min_size = _checks.integer(min_size, "min_size", lo=1)
    max_senses = _checks.integer(max_senses, "max_senses", lo=2)
    if min_size > size:
        raise ValueError(f"min_size ({min_size}) must be <= size ({size})")
    if max_senses >= m:
        raise ValueError(f"max_senses ({max_senses}) must be < m ({m}): a lineup needs "
                         "distractors")
    vocab = vocabulary if isinstance(vocabulary, (set, frozenset, dict)) else set(vocabulary)
    pool = vocab if targets is None else [w for w in targets if w in vocab]
    indexes = [wordnet.index(p) for p in POS]
    eligible = sorted({w for w in pool if len(w) >= 3 and w.isalpha() and w.islower()
                       and w not in STOPWORDS
                       and sum(len(ix.get(w, ())) for ix in indexes) >= 2})
    rng = np.random.default_rng(seed)
    forms = _Forms(wordnet)
    chosen = []  # (word, kept senses, all synset keys)
    for i in rng.permutation(len(eligible)):
        word = eligible[int(i)]
        kept, keys = target_senses(wordnet, word, vocab, forms, size=size, min_size=min_size,
                                   max_senses=max_senses)
        if len(kept) >= 2:
            chosen.append((word, kept, keys))
            if len(chosen) == n_words:
                break
    senses = [(t, s) for t, (_, kept, _) in enumerate(chosen) for s in kept]
    items = []
    for t, (word, kept, keys) in enumerate(chosen):
        need = m - len(kept)
        used = {s["synset"] for s in kept}
        picked = []
        for j in rng.permutation(len(senses)):
            owner, s = senses[int(j)]
            if owner == t or s["synset"] in keys or s["synset"] in used \
                    or any(forms.related(w, word) for w in s["words"]):
                continue
            picked.append(s)
            used.add(s["synset"])
            if len(picked) == need:
                break
        if len(picked) < need:
            raise ValueError(f"only {len(picked)} distractor senses available for {word!r}, "
                             f"{need} needed for m = {m}: lower m or use more words")
        cands = kept + picked
        order = rng.permutation(len(cands))
        items.append({"word": word,
                      "candidates": [dict(cands[int(i)], words=list(cands[int(i)]["words"]))
                                     for i in order],
                      "true": sorted(int(p) for p, i in enumerate(order) if i < len(kept))})
    return items


def write_testset(items, file):
    """Write items as JSON lines (one target a line) to a text file object."""
    for item in items:
        file.write(json.dumps(item, ensure_ascii=False) + "\n")


def read_testset(lines):
    """Items written by :func:`write_testset`, from a text file object or its lines.

    Raises ValueError naming a bad line.
    """
    items = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            cands = item["candidates"]
            ok = (isinstance(item["word"], str) and isinstance(cands, list)
                  and all(isinstance(c, dict) and isinstance(c.get("words"), list)
                          for c in cands)
                  and all(isinstance(i, int) and 0 <= i < len(cands) for i in item["true"]))
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise ValueError(f"line {lineno}: not a lineup item (word, candidates, true)")
        items.append(item)
    return items


def inflections(word, vocabulary, wordnet):
    """Inflected forms of ``word`` in ``vocabulary`` (the paper's heuristic step 1).

    Candidate forms are made by the regular English suffixes (-s, -es, -ed,
    -ing, -er, -est, with final-e dropping, consonant doubling and y → i)
    and from the inverted exception lists; a candidate is kept when it is in
    the vocabulary and WordNet's morphy maps it back to ``word``.
    """
    w = word
    cands = {w + s for s in ("s", "es", "ed", "d", "ing", "er", "est", "r", "st")}
    if w.endswith("e"):
        cands |= {w[:-1] + s for s in ("ing", "ed", "er", "est")}
    if w.endswith("y"):
        cands |= {w[:-1] + s for s in ("ies", "ied", "ier", "iest")}
    if len(w) >= 3 and w[-1] not in "aeiouwxy" and w[-2] in "aeiou":
        cands |= {w + w[-1] + s for s in ("ing", "ed", "er", "est")}
    for p in POS:
        cands |= {form for form, bases in wordnet.exceptions(p).items() if w in bases}
    return sorted(c for c in cands if c != w and c in vocabulary and w in wordnet.morphy(c))


# --------------------------------------------------------------------------- scoring


def _rms(s):
    """Root-mean-square over axis 0 (‖s‖₂ / √n)."""
    return np.sqrt(np.mean(s * s, axis=0))


def method_scores(atoms, word_vector, senses, *, background=None, gamma=1.0):
    """score(a, L) of every atom and sense, and the atom-free part of the score.

    Parameters
    ----------
    atoms : ndarray of shape (n_atoms, d)
    word_vector : ndarray of shape (d,)
    senses : list of ndarray of shape (n_L, d)
        The word vectors of each candidate sense's words.
    background : ndarray of shape (d,) or None
        V of the score (None: no correction).
    gamma : float

    Returns
    -------
    scores : ndarray of shape (n_atoms, n_senses)
        rms(<a, u>) − rms(<V, u>) + γ rms(<v̂_w, u>) over the sense's unit word vectors u.
    base : ndarray of shape (n_senses,)
        − rms(<V, u>) + γ rms(<v̂_w, u>).
    """
    atoms = unit_rows(np.atleast_2d(np.asarray(atoms, dtype=np.float64)))
    v = unit_rows(np.asarray(word_vector, dtype=np.float64))
    d = v.shape[0]
    if atoms.size == 0:
        atoms = np.zeros((0, d))
    bg = np.zeros(d) if background is None else np.asarray(background, dtype=np.float64)
    scores = np.zeros((len(atoms), len(senses)))
    base = np.zeros(len(senses))
    for j, words in enumerate(senses):
        u = unit_rows(np.asarray(words, dtype=np.float64).reshape(-1, d))
        if len(u) == 0:
            scores[:, j] = base[j] = -np.inf
            continue
        base[j] = -_rms(u @ bg) + gamma * _rms(u @ v)
        scores[:, j] = _rms(u @ atoms.T) + base[j]
    return scores, base


def rank_method(atoms, word_vector, senses, *, background=None, gamma=1.0, per_atom=2):
    """Candidate senses ranked by the paper's rule (module docstring, steps 2-4).

    Returns
    -------
    order : ndarray of int
        Sense indices, best first (the answer is ``order[:k]``).
    score : ndarray of float
        score(L) of each sense (max over the atoms that made it a candidate;
        for the others, max over all atoms).
    """
    scores, base = method_scores(atoms, word_vector, senses, background=background,
                                 gamma=gamma)
    n = len(senses)
    if len(scores) == 0:
        order = np.argsort(-base, kind="stable")
        return order, base
    best = np.full(n, -np.inf)
    chosen = np.zeros(n, dtype=bool)
    for row in scores:
        top = np.argsort(-row, kind="stable")[:per_atom]
        chosen[top] = True
        best[top] = np.maximum(best[top], row[top])
    score = np.where(chosen, best, scores.max(axis=0))
    # candidates first, by score; then the other senses by their best atom
    order = np.lexsort((np.arange(n), -score, ~chosen))
    return order, score


def rank_baseline(word_vector, senses):
    """Senses ranked by cos(v_w, mean of the sense's unit word vectors); (order, cosines)."""
    v = unit_rows(np.asarray(word_vector, dtype=np.float64))
    d = v.shape[0]
    cos = np.array([float(unit_rows(unit_rows(np.asarray(s, dtype=np.float64).reshape(-1, d))
                                .mean(axis=0)) @ v) if len(s) else -np.inf for s in senses])
    return np.argsort(-cos, kind="stable"), cos


def precision_recall(ranked, true, k):
    """(precision, recall) of the top ``k`` of ``ranked`` against the set ``true``."""
    guess = list(ranked)[:k]
    true = set(int(t) for t in true)
    hits = len({int(g) for g in guess} & true)
    return (hits / len(guess) if guess else 0.0), (hits / len(true) if true else 0.0)


def summarize(rankings, truths, k):
    """Macro (mean over words) and micro (pooled) precision and recall of many words."""
    p, r, hits, guesses, trues = [], [], 0, 0, 0
    for ranked, true in zip(rankings, truths):
        pi, ri = precision_recall(ranked, true, k)
        p.append(pi)
        r.append(ri)
        guess = {int(g) for g in list(ranked)[:k]}
        hits += len(guess & {int(t) for t in true})
        guesses += len(guess)
        trues += len({int(t) for t in true})
    return {"precision": float(np.mean(p)) if p else None,
            "recall": float(np.mean(r)) if r else None,
            "micro_precision": hits / guesses if guesses else None,
            "micro_recall": hits / trues if trues else None,
            "n_words": len(p)}


def score_testset(items, index, vectors, atoms_of, *, k=4, background=None, gamma=1.0):
    """Run the method and the baseline on a test set.

    Parameters
    ----------
    items : list of dict
        From :func:`build_testset` / :func:`read_testset`.
    index : mapping word → row of ``vectors``
    vectors : ndarray of shape (V, d)
    atoms_of : mapping word → ndarray (n_atoms, d)
        The atoms U of each target (its code's atoms, with those of its
        inflectional forms); a missing target has none.
    k : int
    background, gamma : see :func:`method_scores`.

    Returns
    -------
    dict
        ``method`` and ``baseline`` summaries (:func:`summarize`), and
        ``answers``: per word, the method's and the baseline's top k
        candidate indices.
    """
    k = _checks.integer(k, "k", lo=1)
    ranks_m, ranks_b, truths, answers = [], [], [], []
    for item in items:
        word = item["word"]
        try:
            v = vectors[index[word]]
            senses = [vectors[[index[w] for w in c["words"]]] for c in item["candidates"]]
        except KeyError as e:
            raise ValueError(f"lineup item {word!r}: word {e.args[0]!r} has no vector") from None
        atoms = atoms_of.get(word)
        om, _ = rank_method(np.zeros((0, len(v))) if atoms is None else atoms, v, senses,
                            background=background, gamma=gamma)
        ob, _ = rank_baseline(v, senses)
        ranks_m.append(om)
        ranks_b.append(ob)
        truths.append(item["true"])
        answers.append({"word": word, "method": [int(i) for i in om[:k]],
                        "baseline": [int(i) for i in ob[:k]], "true": list(item["true"])})
    return {"method": summarize(ranks_m, truths, k), "baseline": summarize(ranks_b, truths, k),
            "answers": answers}
