"""The stage graph: every stage in dependency order."""
from __future__ import annotations

from .errors import UsageError
from .stages import (atoms, context, cooc, corpus, embed, evaluate, induce, occurrences,
                     senses, vocab)

__all__ = ["STAGES", "get", "closure"]

STAGES = {s.name: s for s in (corpus.STAGE, vocab.STAGE, cooc.STAGE, embed.STAGE,
                                evaluate.STAGE, context.STAGE, induce.STAGE, atoms.STAGE,
                                senses.STAGE, occurrences.STAGE)}


def get(name):
    try:
        return STAGES[name]
    except KeyError:
        raise UsageError(f"unknown stage {name!r}; stages are: {', '.join(STAGES)}") from None


def closure(names):
    """The named stages and everything upstream of them, in run order."""
    wanted = set()

    def visit(n):
        if n not in wanted:
            wanted.add(n)
            for up in get(n).needs:
                visit(up)

    for n in names:
        visit(n)
    return [n for n in STAGES if n in wanted]


def describe():
    """Text for ``wsi stages``."""
    lines = []
    for s in STAGES.values():
        needs = ", ".join(s.needs) or "-"
        lines.append(f"{s.name:<12} needs: {needs:<14} output: {s.output:<16} {s.summary}")
        lines.append(f"{'':<12} settings: {', '.join(s.params)}")
    return "\n".join(lines)
