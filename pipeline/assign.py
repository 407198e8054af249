"""A finished run's senses: ``wsi senses WORD`` and ``wsi assign`` (sense of an occurrence).

Assignment rule (see :mod:`tasks.senses`): the occurrence's SIF context
vector ũ (the run's weights, window and common components removed) is mapped
to v̂ = A ũ + b with the run's induction map, and each of the word's sense
atoms i (coefficient α_i) is scored cos(v̂, sign(α_i) A_i); the best wins.

    model = SenseModel("outputs/default")
    model.senses("bank")                                   # the word's sense table
    model.assign("she sat on the <<bank>> of the river")   # one occurrence
"""
from __future__ import annotations

import json

import fsspec
import numpy as np
import pyarrow as pa

from tasks.senses import score_senses

from .contexts import ContextEncoder
from .errors import InputError, UsageError
from .artifacts.tables import read_atoms, read_sense_table
from .storage import load_npy, open_run, write_parquet

__all__ = ["SenseModel", "main_senses", "main_assign"]


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
        needed = [("senses.parquet", "senses"), ("atoms.parquet", "atoms")]
        if assign:
            needed += [("induction_map.npy", "induce"), ("context_common.npy", "context")]
        run, manifest = open_run(run_dir, needed)
        if max_senses is None:
            max_senses = manifest["config"].get("senses", {}).get("assign_max", 0)
        if max_senses < 0:
            raise UsageError(f"max senses must be >= 0, got {max_senses}")
        self.max_senses = int(max_senses)
        table = read_sense_table(run.url_of("senses.parquet"))
        self.table = table if not self.max_senses else {
            w: (a[:self.max_senses], c[:self.max_senses]) for w, (a, c) in table.items()}
        atoms, self.atoms = read_atoms(run.url_of("atoms.parquet"))
        self.top_words = atoms["top_words"].to_pylist()
        self.encoder = None
        if assign:
            self.encoder = ContextEncoder(run_dir)
            self.map = load_npy(run.url_of("induction_map.npy"))
            self.intercept = (load_npy(run.url_of("induction_intercept.npy"))
                              if run.exists("induction_intercept.npy")
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


def main_senses(args):
    """``wsi senses WORD [WORD ...] [--run RUN_DIR]``."""
    model = SenseModel(args.run, assign=False)
    print("\n\n".join(format_senses(w, model.senses(w)) for w in args.words))
    return 0


def main_assign(args):
    """``wsi assign --run RUN_DIR (--text TEXT [--word W] | --input F.jsonl --output F.parquet)``."""
    model = SenseModel(args.run)
    if args.text is not None:
        print(json.dumps(model.assign(args.text, args.word)))
        return 0
    if not (args.input and args.output):
        raise UsageError("wsi assign: give --text, or --input FILE.jsonl and --output FILE")
    rows = []
    try:
        f = fsspec.open(args.input, "rt", encoding="utf-8").open()
    except OSError as e:
        raise InputError(f"{args.input}: cannot read ({e})") from None
    with f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or "context" not in item:
                    raise ValueError('expected an object with "context"')
                r = model.assign(str(item["context"]), item.get("word"))
            except (ValueError, TypeError, InputError) as e:
                raise InputError(f"{args.input}: line {lineno}: {e}") from None
            rows.append((str(item.get("id", lineno)), r))
    no_sense = sum(r["atom_id"] is None for _, r in rows)
    table = pa.table({
        "id": pa.array([i for i, _ in rows], type=pa.string()),
        "word": pa.array([r["word"] for _, r in rows], type=pa.string()),
        "atom_id": pa.array([r["atom_id"] for _, r in rows], type=pa.int32()),
        "score": pa.array([r["score"] for _, r in rows], type=pa.float32()),
        "atoms": pa.array([r["atoms"] for _, r in rows], type=pa.list_(pa.int32())),
        "scores": pa.array([r["scores"] for _, r in rows], type=pa.list_(pa.float32())),
    })
    write_parquet(args.output, table)
    print(f"{len(rows)} occurrence(s) assigned, written to {args.output}"
          + (f"; {no_sense} without a sense (word not coded or no context vector)"
             if no_sense else ""))
    return 0
