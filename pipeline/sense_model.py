"""A finished run's senses: reading a word's senses and assigning an occurrence to one.

Assignment rule (see :mod:`tasks.senses`): the occurrence's SIF context
vector ũ (the run's weights, window and common components removed) is mapped
to v̂ = A ũ + b with the run's induction map, and each of the word's sense
atoms i (coefficient α_i) is scored cos(v̂, sign(α_i) A_i); the best wins.

    model = SenseModel("outputs/default")
    model.senses("bank")                                   # the word's sense table
    model.assign("she sat on the <<bank>> of the river")   # one occurrence
"""
from __future__ import annotations

import numpy as np

from tasks.senses import score_senses

from . import artifacts
from .artifacts.tables import read_atoms, read_sense_table
from .encoder import ContextEncoder
from .errors import UsageError
from .runs import artifact_url, open_run
from .storage import load_npy

__all__ = ["SenseModel", "format_senses"]


class SenseModel:
    """The senses of a finished run, for reading and for assigning occurrences.

    Parameters
    ----------
    run_dir : str
        A run directory with ``senses.parquet`` and ``atoms.parquet`` (and, to
        assign, the context and induce stages' outputs).
    assign : bool
        Load what assignment needs too.
    max_senses : int or None
        A word's senses are its ``max_senses`` strongest atoms (by
        |coefficient|; 0 = all of its code); None takes the run's
        ``senses.assign_max``.
    """

    def __init__(self, run_dir, *, assign=True, max_senses=None):
        needed = ["senses", "atoms"]
        if assign:
            needed += ["induction_map", "induction_common"]
        run, manifest = open_run(run_dir, needed)
        if max_senses is None:
            max_senses = manifest["config"].get("senses", {}).get("assign_max", 0)
        if max_senses < 0:
            raise UsageError(f"max senses must be >= 0, got {max_senses}")
        self.max_senses = int(max_senses)
        table = read_sense_table(artifact_url(run, "senses"))
        self.table = table if not self.max_senses else {
            w: (a[:self.max_senses], c[:self.max_senses]) for w, (a, c) in table.items()}
        atoms, self.atoms = read_atoms(artifact_url(run, "atoms"))
        self.top_words = atoms["top_words"].to_pylist()
        self.encoder = None
        if assign:
            self.encoder = ContextEncoder(run_dir, for_map=True)
            self.map = load_npy(artifact_url(run, "induction_map"))
            self.intercept = (load_npy(artifact_url(run, "induction_intercept"))
                              if run.exists(artifacts.path_of("induction_intercept"))
                              else np.zeros(self.map.shape[0]))

    def senses(self, word):
        """[(rank, atom_id, coefficient, top words)] of ``word`` (empty if it has none)."""
        key = self._key(word)
        if key not in self.table:
            return []
        atom, coef = self.table[key]
        return [(r + 1, int(a), float(c), self.top_words[a]) for r, (a, c) in
                enumerate(zip(atom, coef))]

    def _key(self, word):
        lower = self.encoder.lowercase if self.encoder else True
        return word.lower() if lower and word.lower() in self.table else word

    def assign(self, text, word=None):
        """Sense of one occurrence: dict word, position, atom_id, score, atoms, scores.

        ``atom_id``/``score`` are None when the word has no senses or no
        context token has a vector.
        """
        occ = self.encoder.encode(text, word)
        w = occ["word"]
        atom, coef = self.table.get(w, (np.zeros(0, np.int64), np.zeros(0)))
        out = {"word": w, "position": occ["position"], "atom_id": None, "score": None,
               "atoms": [int(a) for a in atom], "scores": [None] * len(atom),
               "n_context": occ["n_context"]}
        if occ["vector_clean"] is None or len(atom) == 0:
            return out
        v = occ["vector_clean"] @ self.map.T + self.intercept
        best, score, scores = score_senses(v[None, :], self.atoms, [atom], [coef])
        if best[0] >= 0:
            out.update(atom_id=int(best[0]), score=float(score[0]),
                       scores=[float(x) for x in scores[0]])
        return out


def format_senses(word, rows):
    if not rows:
        return f"{word}: no senses (not coded: not in the vocabulary or without a vector)"
    lines = [f"{word}: {len(rows)} sense(s)", f"{'rank':>4} {'atom':>6} {'coef':>7}  nearest words"]
    for rank, atom, coef, top in rows:
        lines.append(f"{rank:>4} {atom:>6} {coef:>7.3f}  {', '.join(top)}")
    return "\n".join(lines)
