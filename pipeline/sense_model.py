"""A finished run's senses: a word's sense atoms, for reading (``wsi senses``).

Assigning occurrences to senses is :mod:`pipeline.assigner`'s.

    model = SenseModel("outputs/default")
    model.senses("bank")                                   # the word's sense table
"""
from __future__ import annotations

from .artifacts.tables import read_atoms, read_sense_table
from .errors import UsageError
from .runs import artifact_url, open_run

__all__ = ["SenseModel", "format_senses"]


class SenseModel:
    """The senses of a finished run, for reading.

    Parameters
    ----------
    run_dir : str
        A run directory with ``senses.parquet`` and ``atoms.parquet``.
    max_senses : int or None
        A word's senses are its ``max_senses`` strongest atoms (by
        |coefficient|; 0 = all of its code); None takes the run's
        ``senses.assign_max``.
    """

    def __init__(self, run_dir, *, max_senses=None):
        run, manifest = open_run(run_dir, ["senses", "atoms"])
        if max_senses is None:
            max_senses = manifest["config"].get("senses", {}).get("assign_max", 0)
        if max_senses < 0:
            raise UsageError(f"max senses must be >= 0, got {max_senses}")
        self.max_senses = int(max_senses)
        self.lowercase = bool(manifest["config"].get("corpus", {}).get("lowercase", True))
        table = read_sense_table(artifact_url(run, "senses"))
        self.table = table if not self.max_senses else {
            w: (a[:self.max_senses], c[:self.max_senses]) for w, (a, c) in table.items()}
        atoms, self.atoms = read_atoms(artifact_url(run, "atoms"))
        self.top_words = atoms["top_words"].to_pylist()

    def senses(self, word):
        """[(rank, atom_id, coefficient, top words)] of ``word`` (empty if it has none)."""
        key = self._key(word)
        if key not in self.table:
            return []
        atom, coef = self.table[key]
        return [(r + 1, int(a), float(c), self.top_words[a]) for r, (a, c) in
                enumerate(zip(atom, coef))]

    def _key(self, word):
        return word.lower() if self.lowercase and word.lower() in self.table else word


def format_senses(word, rows):
    if not rows:
        return f"{word}: no senses (not coded: not in the vocabulary or without a vector)"
    lines = [f"{word}: {len(rows)} sense(s)", f"{'rank':>4} {'atom':>6} {'coef':>7}  nearest words"]
    for rank, atom, coef, top in rows:
        lines.append(f"{rank:>4} {atom:>6} {coef:>7.3f}  {', '.join(top)}")
    return "\n".join(lines)
