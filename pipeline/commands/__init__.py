"""The user's commands, one module per verb, apart from the engine.

Each module has ``HELP`` (one line), ``add_arguments(parser)`` and
``main(args)`` (``run``'s main also takes the logger). :mod:`pipeline.cli`
builds the parser from :data:`COMMANDS` and dispatches to the verb's module,
imported only when used.
"""
from __future__ import annotations

import importlib

__all__ = ["COMMANDS", "load", "refresh_report", "add_occurrence_arguments",
           "add_run_argument"]

# verb -> module in this package, in the order ``wsi --help`` lists them
COMMANDS = {
    "run": "run",
    "stages": "stages",
    "evaluate": "evaluate",
    "context": "context",
    "senses": "senses",
    "assign": "assign",
    "induce": "induce",
    "report": "report",
    "synth": "synth",
    "config": "config",
}


def load(verb):
    """The module of command ``verb``."""
    return importlib.import_module(f"{__name__}.{COMMANDS[verb]}")


def add_run_argument(p):
    """``--run RUN_DIR``, the finished run a command reads (default outputs/default)."""
    p.add_argument("--run", default="outputs/default", metavar="RUN_DIR",
                   help="run directory (default: outputs/default)")


def add_occurrence_arguments(p, input_help):
    """The ways ``wsi context`` and ``wsi assign`` take occurrences: one text, or a JSONL batch."""
    p.add_argument("--text", help="text with the target marked <<word>> (or give --word)")
    p.add_argument("--word", help="target word (its first occurrence) when none is marked")
    p.add_argument("--input", metavar="FILE.jsonl", help=input_help)
    p.add_argument("--output", metavar="FILE.parquet")


def refresh_report(run_url, log):
    """Rewrite a run's ``report.html``; a failure is logged, never fails the command."""
    from ..report import write_report
    try:
        write_report(run_url)
    except Exception as e:  # the run's outputs are complete; the report is a view of them
        log(f"warning: report.html not written ({type(e).__name__}: {e})")
