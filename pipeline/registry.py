"""The stage graph, derived from the artifacts each stage reads and writes.

``STAGES`` lists every stage once, in run order. A stage's upstream is the set
of stages that write the artifacts it reads (under the run's settings: a
stage may read an artifact only for some settings, see ``Stage.reads_if``).
"""
from __future__ import annotations

from . import artifacts
from .errors import UsageError
from .stages import (atoms, context, cooc, corpus, embed, evaluate, induce, inventory,
                     occurrences, senses, vocab)

__all__ = ["STAGES", "get", "closure", "producers", "upstream", "describe", "graph_lines"]

STAGES = {s.name: s for s in (corpus.STAGE, vocab.STAGE, cooc.STAGE, embed.STAGE,
                                evaluate.STAGE, context.STAGE, induce.STAGE, atoms.STAGE,
                                senses.STAGE, inventory.STAGE, occurrences.STAGE)}


def _producers():
    out = {}
    for s in STAGES.values():
        for a in s.writes:
            artifacts.get(a)  # every name is in the catalog
            if a in out:
                raise RuntimeError(f"artifact {a!r} is written by {out[a]} and {s.name}")
            out[a] = s.name
    for s in STAGES.values():
        for a in (*s.reads, *s.reads_if):
            if a not in out:
                raise RuntimeError(f"stage {s.name} reads {a!r}, which no stage writes")
    return out


PRODUCERS = _producers()


def producers():
    """{artifact name: name of the stage that writes it}."""
    return dict(PRODUCERS)


def get(name):
    try:
        return STAGES[name]
    except KeyError:
        raise UsageError(f"unknown stage {name!r}; stages are: {', '.join(STAGES)}") from None


def upstream(name, cfg=None):
    """Names of the stages whose outputs stage ``name`` reads (all it may read if no cfg)."""
    s = get(name)
    reads = s.reads_for(cfg) if cfg is not None else (*s.reads, *s.reads_if)
    ups = {PRODUCERS[a] for a in reads} - {name}
    return [n for n in STAGES if n in ups]


def closure(names, cfg=None):
    """The named stages and everything upstream of them, in run order."""
    wanted = set()

    def visit(n):
        if n not in wanted:
            wanted.add(n)
            for up in upstream(n, cfg):
                visit(up)

    for n in names:
        visit(n)
    return [n for n in STAGES if n in wanted]


def graph_lines():
    """The graph as lines ``stage: reads -> writes`` (conditional reads in brackets)."""
    lines = []
    for s in STAGES.values():
        reads = [*s.reads, *(f"[{a}]" for a in s.reads_if)]
        lines.append(f"{s.name:<12} {', '.join(reads) or '(input files)'}  ->  "
                     f"{', '.join(s.writes)}")
    return lines


def describe():
    """Text for ``wsi stages``: the graph, each stage's summary, settings and files."""
    lines = ["stage        reads  ->  writes   ([x]: read only under some settings)", ""]
    lines += graph_lines()
    lines.append("")
    for s in STAGES.values():
        ups = ", ".join(upstream(s.name)) or "-"
        lines.append(f"{s.name}: {s.summary}")
        lines.append(f"    after: {ups}")
        lines.append(f"    settings: {', '.join(s.params)}")
        lines.append(f"    files: {', '.join(artifacts.path_of(a) for a in s.writes)}")
    return "\n".join(lines)
