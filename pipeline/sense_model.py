"""A finished run's senses, for reading (``wsi senses``): a word's sense atoms and, when
the run has the inventory stage, the senses learned from its corpus occurrences.

Assigning occurrences to senses is :mod:`pipeline.assigner`'s.

    model = SenseModel("outputs/default")
    model.senses("bank")                                   # the word's sense atoms
    model.inventory_senses("bank")                         # its corpus senses, by share
"""
from __future__ import annotations

from .artifacts.tables import read_atoms, read_sense_table
from .errors import UsageError
from .runs import artifact_url, has_artifact, open_run, require
from .storage import read_parquet

INVENTORY_COLUMNS = ["word", "sense_id", "share", "n_occurrences", "atom_ids", "top_words",
                     "examples"]

__all__ = ["SenseModel", "format_senses", "sense_names"]


class SenseModel:
    """The senses of a finished run, for reading.

    Parameters
    ----------
    run_dir : str
        A run directory with ``senses.parquet`` and ``atoms.parquet`` (the senses
        stage), or ``sense_inventory.parquet`` (the inventory stage), or both; a word
        has no sense atoms in a run without the first.
    max_senses : int or None
        A word's senses are its ``max_senses`` strongest atoms (by
        |coefficient|; 0 = all of its code); None takes the run's
        ``senses.assign_max``.
    """

    def __init__(self, run_dir, *, max_senses=None):
        run, manifest = open_run(run_dir)
        has_inventory = has_artifact(run, "sense_inventory")
        if not has_inventory:
            require(run, ["senses", "atoms"])
        if max_senses is None:
            max_senses = manifest["config"].get("senses", {}).get("assign_max", 0)
        if max_senses < 0:
            raise UsageError(f"max senses must be >= 0, got {max_senses}")
        self.max_senses = int(max_senses)
        self.lowercase = bool(manifest["config"].get("corpus", {}).get("lowercase", True))
        self.table, self.atoms, self.top_words = {}, None, []
        if has_artifact(run, "senses"):
            table = read_sense_table(artifact_url(run, "senses"))
            self.table = table if not self.max_senses else {
                w: (a[:self.max_senses], c[:self.max_senses]) for w, (a, c) in table.items()}
            atoms, self.atoms = read_atoms(artifact_url(run, "atoms"))
            self.top_words = atoms["top_words"].to_pylist()
        self.inventory = None  # {word: [row dict, ...] by sense_id}; None: no inventory
        if has_inventory:
            self.inventory = {}
            rows = read_parquet(artifact_url(run, "sense_inventory"), "sense inventory",
                                columns=INVENTORY_COLUMNS).to_pylist()
            for row in sorted(rows, key=lambda r: (r["word"], r["sense_id"])):
                self.inventory.setdefault(row.pop("word"), []).append(row)

    def senses(self, word):
        """[(rank, atom_id, coefficient, top words)] of ``word`` (empty if it has none)."""
        key = self._key(word)
        if key not in self.table:
            return []
        atom, coef = self.table[key]
        return [(r + 1, int(a), float(c), self.top_words[a]) for r, (a, c) in
                enumerate(zip(atom, coef))]

    def inventory_senses(self, word):
        """The word's rows of ``sense_inventory.parquet`` by sense_id (dicts of
        :data:`INVENTORY_COLUMNS` but ``word``): [] when it has none, None when the run
        has no inventory."""
        if self.inventory is None:
            return None
        return self.inventory.get(self._key(word, self.inventory), [])

    def _key(self, word, table=None):
        table = self.table if table is None else table
        return word.lower() if self.lowercase and word.lower() in table else word


def sense_names(run_dir, word, method, sense):
    """The words naming ``sense`` of ``word`` as :mod:`pipeline.assigner` labels it
    (``method`` as in its rows): an inventory sense_id's ``top_words``, an atom's
    nearest words; [] for a batch cluster (it has no names) or no sense. Reads only
    the columns it needs (``wsi assign --text``)."""
    import pyarrow.compute as pc
    if sense is None or method not in ("atoms", "inventory"):
        return []
    run, _manifest = open_run(run_dir)
    if method == "atoms":
        top = read_parquet(artifact_url(run, "atoms"), "atoms", columns=["top_words"])
        names = top["top_words"]
        return list(names[sense].as_py() or []) if 0 <= sense < len(names) else []
    t = read_parquet(artifact_url(run, "sense_inventory"), "sense inventory",
                     columns=["word", "sense_id", "top_words"])
    hit = t.filter(pc.and_(pc.equal(t["word"], word), pc.equal(t["sense_id"], sense)))
    return list(hit["top_words"][0].as_py() or []) if len(hit) else []


def format_senses(word, rows, inventory=None):
    """``wsi senses``'s text for one word: its sense atoms (``rows`` of
    :meth:`SenseModel.senses`) and, unless ``inventory`` is None (the run has none), its
    corpus senses (:meth:`SenseModel.inventory_senses`) with share, naming words and
    example contexts."""
    if not rows:
        lines = [f"{word}: no sense atoms (not coded: not in the vocabulary or without a "
                 "vector)"]
    else:
        lines = [f"{word}: {len(rows)} sense atom(s)",
                 f"{'rank':>4} {'atom':>6} {'coef':>7}  nearest words"]
        for rank, atom, coef, top in rows:
            lines.append(f"{rank:>4} {atom:>6} {coef:>7.3f}  {', '.join(top)}")
    if inventory is None:
        return "\n".join(lines)
    if not inventory:
        lines.append(f"{word}: no corpus senses (fewer occurrences than inventory.min_count, "
                     "or not in the vocabulary)")
        return "\n".join(lines)
    n = sum(r["n_occurrences"] for r in inventory)
    lines += [f"{word}: {len(inventory)} corpus sense(s) from {n} sampled occurrences",
              f"{'sense':>5} {'share':>6} {'occurrences':>11}  naming words / examples"]
    for r in inventory:
        lines.append(f"{r['sense_id']:>5} {r['share']:>6.1%} {r['n_occurrences']:>11}  "
                     f"{', '.join(r['top_words'] or [])}")
        lines += [f"{'':>25}{e}" for e in (r["examples"] or [])]
    return "\n".join(lines)
