"""Command line: ``wsi VERB ...`` (also ``python -m pipeline``).

The verbs and their modules are listed in :data:`pipeline.commands.COMMANDS`.
Errors a user can fix print one line and exit with a distinct code (see
:mod:`pipeline.errors`); set ``WSI_DEBUG=1`` to see tracebacks.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

from . import commands
from .errors import EXIT_INTERNAL, EXIT_INTERRUPT, UsageError, WsiError

__all__ = ["main", "console", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, like every usage error
        raise UsageError(f"{self.prog}: {message}")


def build_parser():
    p = _Parser(prog="wsi", description="Word-sense induction on Dask (atoms of discourse).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for verb in commands.COMMANDS:
        module = commands.load(verb)
        module.add_arguments(sub.add_parser(verb, help=module.HELP))
    return p


class _Log:
    """One log line on stderr: plain text, or a JSON object with ``--log-json``."""

    def __init__(self):
        self.json = os.environ.get("WSI_LOG_FORMAT", "").lower() == "json"

    def __call__(self, message, level=None, **extra):
        if not self.json:
            print(message, file=sys.stderr)
            return
        if level is None:
            level = "warning" if message.startswith("warning") else "info"
        head = message.split(":", 1)[0]
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "level": level,
               "stage": head if head.isidentifier() and " " not in message[:len(head)] else None,
               "message": message, **extra}
        print(json.dumps(rec), file=sys.stderr)


def _parse(argv):
    """(verb, parsed arguments); ``wsi evaluate NAME ...`` has a parser per evaluation."""
    from .commands.evaluate import EVALUATIONS, evaluation_parser
    if len(argv) > 1 and argv[0] == "evaluate" and argv[1] in EVALUATIONS:
        return f"evaluate:{argv[1]}", evaluation_parser(argv[1], _Parser).parse_args(argv[2:])
    args = build_parser().parse_args(argv)
    return args.command, args


def main(argv=None):
    log = _Log()
    try:
        verb, args = _parse(list(sys.argv[1:] if argv is None else argv))
        log.json = log.json or bool(getattr(args, "log_json", False))
        if verb.startswith("evaluate:"):
            from .commands.evaluate import run_evaluation
            return run_evaluation(verb.split(":", 1)[1], args)
        module = commands.load(verb)
        return module.main(args, log) if verb == "run" else module.main(args)
    except WsiError as e:
        log(f"wsi: {e}", "error", exit_code=e.exit_code)
        return e.exit_code
    except KeyboardInterrupt:
        log("wsi: interrupted", "error", exit_code=EXIT_INTERRUPT)
        return EXIT_INTERRUPT
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except Exception as e:  # a bug: one line unless debugging
        if os.environ.get("WSI_DEBUG"):
            raise
        log(f"wsi: internal error: {e.__class__.__name__}: {e} "
            "(set WSI_DEBUG=1 for a traceback)", "error", exit_code=EXIT_INTERNAL)
        return EXIT_INTERNAL


def console():
    """The ``wsi`` program (and ``python -m pipeline``): :func:`main`'s exit code.

    Before the interpreter exits, every object is taken out of the cyclic garbage
    collector's reach (``gc.freeze``): its final collections over the ~180k objects a
    run leaves took 0.2-0.3 s of a 2.5 s counting run, for memory that goes back with
    the process anyway. Files are closed by then and exit handlers still run; only
    finalizers of unreachable cycles are skipped, which Python never promises at exit.
    (Only here: a program that calls :func:`main` keeps its collector as it was.)
    """
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console())
