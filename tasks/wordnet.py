"""A small reader of the WordNet 3.0 database files (the "wndb" format, wndb(5)).

Only what the police-lineup test (:mod:`tasks.lineup`) needs: a lemma's
synsets in WordNet's sense order, each synset's lemmas, gloss (definition
and examples), pointers (hypernyms ``@``/``@i``, similar-to ``&``...), and
the base forms of an inflected word (WordNet's "morphy": exception lists,
then suffix rules).

Format, as read here (one synset or lemma per line, fields separated by one
space; lines starting with two spaces are the license header):

- ``index.POS``: ``lemma pos synset_cnt p_cnt [ptr_symbol]... sense_cnt
  tagsense_cnt synset_offset...``; the offsets are in sense order (most
  frequent sense first) and are byte offsets of the synset's line in
  ``data.POS``.
- ``data.POS``: ``synset_offset lex_filenum ss_type w_cnt (word lex_id)...
  p_cnt (ptr_symbol synset_offset pos source/target)... [frames] | gloss``;
  ``w_cnt`` is two hexadecimal digits, ``p_cnt`` three decimal digits;
  adjectives may carry a syntactic marker ``(a)``, ``(p)`` or ``(ip)`` after
  the word; ``ss_type`` ``s`` is an adjective satellite (stored in
  ``data.adj``, pointed at with pos ``s``).
- ``POS.exc``: ``inflected_form base_form...``.

Files are read lazily: an index when a part of speech is first looked up
(about 0.5 s for the nouns), a data file as one byte string whose synset
lines are parsed on demand at their offsets.

    wn = WordNet("/path/to/wordnet")
    [s.definition for s in wn.synsets("bank", "n")]
    wn.synset(9213565, "n").hypernyms          # ((9437454, 'n'),)
    wn.morphy("banks")                         # ['bank']
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WordNet", "Synset", "POS", "split_gloss"]

POS = ("n", "v", "a", "r")  # WordNet's order of the parts of speech
_FILE = {"n": "noun", "v": "verb", "a": "adj", "r": "adv", "s": "adj"}
HYPERNYM_POINTERS = ("@", "@i")

# morphy's detachment rules (suffix, replacement) per part of speech, tried in order
_RULES = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
          ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
          ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}


@dataclass(frozen=True)
class Synset:
    """One synset of ``data.POS``.

    Attributes
    ----------
    offset : int
        Byte offset of its line in the data file (WordNet's synset id
        within a part of speech).
    pos : str
        ``n``, ``v``, ``a`` or ``r`` (satellite adjectives report ``a``;
        ``ss_type`` keeps ``s``).
    ss_type : str
        The raw synset type (``n v a s r``).
    lemmas : tuple of str
        Its words in file order, underscores turned into spaces, adjective
        markers removed, case as in WordNet (e.g. ``"depository financial
        institution"``).
    definition : str
        The gloss without its examples.
    examples : tuple of str
        The quoted example sentences of the gloss (without quotes).
    pointers : tuple of (symbol, offset, pos)
        Every pointer (lexical and semantic), ``pos`` as in the file
        (``s`` for satellites).
    """

    offset: int
    pos: str
    ss_type: str
    lemmas: tuple
    definition: str
    examples: tuple
    pointers: tuple

    @property
    def key(self):
        """A unique id: 8-digit offset and part of speech, e.g. ``09213565-n``."""
        return f"{self.offset:08d}-{self.pos}"

    @property
    def hypernyms(self):
        """(offset, pos) of its hypernyms: pointers ``@`` and instance hypernyms ``@i``."""
        return self.related(*HYPERNYM_POINTERS)

    def related(self, *symbols):
        """(offset, pos) targets of the pointers with one of ``symbols``, in file order,
        without repeats (pos ``s`` reported as ``a``)."""
        out = []
        for sym, off, pos in self.pointers:
            t = (off, "a" if pos == "s" else pos)
            if sym in symbols and t not in out:
                out.append(t)
        return tuple(out)


def split_gloss(gloss):
    """(definition, examples) of a gloss: examples are the double-quoted parts that
    follow the definition after ``;`` (a few glosses use ``:``); quotes inside
    the definition (``as in "carrot and stick"``) stay in it."""
    gloss = gloss.strip()
    cut = len(gloss)
    # the first quote that opens the gloss or follows ";" (or ":") starts the examples
    for i, ch in enumerate(gloss):
        if ch == '"' and (i == 0 or gloss[:i].rstrip().endswith((";", ":"))):
            cut = i
            break
    definition = gloss[:cut].strip().rstrip(";").strip()
    examples, rest = [], gloss[cut:]
    while True:
        a = rest.find('"')
        if a < 0:
            break
        b = rest.find('"', a + 1)
        if b < 0:
            tail = rest[a + 1:].strip()
            if tail:
                examples.append(tail)
            break
        examples.append(rest[a + 1:b].strip())
        rest = rest[b + 1:]
    return definition, tuple(e for e in examples if e)


def _strip_marker(word):
    if word.endswith(")") and "(" in word:  # galore(ip), elect(p), ...
        return word[:word.rindex("(")]
    return word


def parse_data_line(line):
    """A :class:`Synset` from one line of ``data.POS`` (str, without newline)."""
    body, _, gloss = line.partition(" | ")
    f = body.split()
    offset, ss_type = int(f[0]), f[2]
    n_words = int(f[3], 16)
    lemmas = tuple(_strip_marker(f[4 + 2 * i]).replace("_", " ") for i in range(n_words))
    i = 4 + 2 * n_words
    n_ptr = int(f[i])
    pointers = tuple((f[i + 1 + 4 * j], int(f[i + 2 + 4 * j]), f[i + 3 + 4 * j])
                     for j in range(n_ptr))
    definition, examples = split_gloss(gloss)
    return Synset(offset, "a" if ss_type == "s" else ss_type, ss_type, lemmas, definition,
                  examples, pointers)


FILES = tuple(f"{kind}.{name}" for name in ("noun", "verb", "adj", "adv")
              for kind in ("index", "data"))  # the files a WordNet database must have


class WordNet:
    """A WordNet database (``index.*``, ``data.*``, ``*.exc``), parsed lazily.

    Parameters
    ----------
    read : callable(file name) -> bytes or None
        The content of one of the database's files, None when it is absent
        (the caller does the I/O; :func:`pipeline.readers.open_wordnet` reads
        a directory).
    """

    def __init__(self, read):
        self._read = read
        self._index = {}
        self._data = {}
        self._exc = {}
        self._cache = {}

    # -- lazy loading -------------------------------------------------------
    def index(self, pos):
        """{lemma: tuple of synset offsets in sense order} of one part of speech."""
        pos = self._pos(pos)
        if pos not in self._index:
            table = {}
            for raw in (self._read(f"index.{_FILE[pos]}") or b"").splitlines(keepends=True):
                if raw.startswith(b"  "):  # license header
                    continue
                parts = raw.split()
                if len(parts) < 6:
                    continue
                n_synsets, n_ptr = int(parts[2]), int(parts[3])
                offs = parts[6 + n_ptr:6 + n_ptr + n_synsets]
                table[parts[0].decode("utf-8")] = tuple(int(o) for o in offs)
            self._index[pos] = table
        return self._index[pos]

    def _data_bytes(self, pos):
        name = _FILE[pos]
        if name not in self._data:
            self._data[name] = self._read(f"data.{name}") or b""
        return self._data[name]

    def exceptions(self, pos):
        """{inflected form: tuple of base forms} of ``POS.exc`` (empty when absent)."""
        pos = self._pos(pos)
        if pos not in self._exc:
            table = {}
            data = self._read(f"{_FILE[pos]}.exc")
            if data is not None:
                for line in data.decode("utf-8").splitlines():
                    parts = line.split()
                    if len(parts) >= 2:
                        table.setdefault(parts[0], ())
                        table[parts[0]] += tuple(parts[1:])
            self._exc[pos] = table
        return self._exc[pos]

    @staticmethod
    def _pos(pos):
        if pos == "s":
            return "a"
        if pos not in POS:
            raise ValueError(f"pos must be one of n, v, a, s, r; got {pos!r}")
        return pos

    # -- look-ups -----------------------------------------------------------
    def synset(self, offset, pos):
        """The synset at byte ``offset`` of ``data.POS`` (``pos`` n, v, a, s or r)."""
        pos = self._pos(pos)
        key = (int(offset), pos)
        s = self._cache.get(key)
        if s is None:
            data = self._data_bytes(pos)
            end = data.find(b"\n", key[0])
            line = data[key[0]:end if end >= 0 else len(data)].decode("utf-8").rstrip()
            if not line[:8].isdigit() or int(line[:8]) != key[0]:
                raise KeyError(f"no synset at offset {offset} of data.{_FILE[pos]}")
            s = parse_data_line(line)
            self._cache[key] = s
        return s

    def synsets(self, lemma, pos=None):
        """The synsets of ``lemma`` in WordNet's sense order (most frequent first).

        ``lemma`` is matched case-insensitively, spaces as underscores; with
        ``pos`` None, the nouns, then verbs, adjectives and adverbs.
        """
        key = lemma.strip().lower().replace(" ", "_")
        out = []
        for p in (POS if pos is None else (self._pos(pos),)):
            out.extend(self.synset(o, p) for o in self.index(p).get(key, ()))
        return out

    def lemmas(self, pos=None):
        """The lemmas of the index files (underscores for spaces), sorted, without repeats."""
        names = set()
        for p in (POS if pos is None else (self._pos(pos),)):
            names.update(self.index(p))
        return sorted(names)

    def morphy(self, form, pos=None):
        """Base forms of ``form`` that are WordNet lemmas (the form itself if it is one).

        WordNet's morphy: the exception list of the part of speech, the form
        itself, then the suffix rules (``banks`` → ``bank``, ``geese`` →
        ``goose``, ``running`` → ``run`` via verb.exc). Bases in first-found
        order, without repeats.
        """
        form = form.strip().lower().replace(" ", "_")
        out = []
        for p in (POS if pos is None else (self._pos(pos),)):
            index = self.index(p)
            cands = list(self.exceptions(p).get(form, ())) + [form]
            for suffix, repl in _RULES[p]:
                if form.endswith(suffix) and len(form) > len(suffix):
                    cands.append(form[:len(form) - len(suffix)] + repl)
            for c in cands:
                if c in index and c not in out:
                    out.append(c)
        return out
