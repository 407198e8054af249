"""Command line: ``wsi run``, ``wsi stages`` (also ``python -m pipeline``).

Errors a user can fix print one line and exit with a distinct code (see
:mod:`pipeline.errors`); set ``WSI_DEBUG=1`` to see tracebacks.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import EXIT_INTERNAL, EXIT_INTERRUPT, UsageError, WsiError

__all__ = ["main", "build_parser"]

# `wsi evaluate NAME ...`: the sense evaluations, each a module with add_parser/main_NAME.
EVALUATIONS = {
    "semeval2013": (".semeval", "add_parser", "main_semeval",
                    "SemEval-2013 Task 13 word sense induction: Fuzzy B-Cubed and Fuzzy NMI"),
    "lineup": (".lineup", "add_parser", "main_lineup",
               "police-lineup test of the senses against WordNet (Arora et al. 2018)"),
    "planted": (".synth", "add_planted_parser", "main_planted",
                "recovery of a `wsi synth` corpus's planted sense components"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, like every usage error
        raise UsageError(f"{self.prog}: {message}")


def build_parser():
    p = _Parser(prog="wsi", description="Word-sense induction on Dask (atoms of discourse).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    r = sub.add_parser("run", help="run the pipeline (stages that are up to date are skipped)")
    r.add_argument("-c", "--config", action="append", default=[], metavar="CONF.yaml",
                   help="configuration file applied over conf/default.yaml (repeatable; "
                        "a bare name means conf/NAME.yaml)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="override one setting, e.g. --set cooc.window=5 (repeatable)")
    r.add_argument("--out", help="output root (run.out)")
    r.add_argument("--name", help="run name (run.name); the run directory is OUT/NAME")
    r.add_argument("--stages", help="comma-separated stages to run (upstream stages that are "
                                    "out of date run too)")
    r.add_argument("--scheduler", help="auto | threads | processes | sync | local:N | tcp://host:port")
    r.add_argument("--force", action="store_true", help="recompute the selected stages")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--log-json", action="store_true", dest="log_json",
                   help="log one JSON object per line on stderr (time, level, stage, "
                        "message; also WSI_LOG_FORMAT=json), for schedulers")

    s = sub.add_parser("stages", help="print the stage graph")
    s.set_defaults(command="stages")

    e = sub.add_parser("evaluate", help="evaluate an existing run's vectors (writes metrics.json); "
                                        "also: wsi evaluate " + "|".join(EVALUATIONS) + " ...")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("-c", "--config", action="append", default=[], metavar="CONF.yaml",
                   help="configuration applied over the run's own (e.g. other similarity sets)")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets")
    e.add_argument("--quiet", action="store_true")

    x = sub.add_parser("context", help="SIF context vectors of target occurrences in new text")
    x.add_argument("run_dir", metavar="RUN_DIR")
    x.add_argument("--text", help="text with the target marked <<word>> (or give --word)")
    x.add_argument("--word", help="target word (its first occurrence) when none is marked")
    x.add_argument("--input", metavar="FILE.jsonl",
                   help='lines {"id": ..., "context": "text with <<word>>", "word": ...}')
    x.add_argument("--output", metavar="FILE.parquet")

    w = sub.add_parser("senses", help="print words' senses (atoms, coefficients, nearest words)")
    w.add_argument("words", nargs="+", metavar="WORD")
    w.add_argument("--run", default="outputs/default", metavar="RUN_DIR",
                   help="run directory (default: outputs/default)")

    a = sub.add_parser("assign", help="the sense of target occurrences in new text")
    a.add_argument("--run", default="outputs/default", metavar="RUN_DIR",
                   help="run directory (default: outputs/default)")
    a.add_argument("--text", help="text with the target marked <<word>> (or give --word)")
    a.add_argument("--word", help="target word (its first occurrence) when none is marked")
    a.add_argument("--input", metavar="FILE.jsonl",
                   help='lines {"id": ..., "word": ..., "context": "text with <<word>>"}')
    a.add_argument("--output", metavar="FILE.parquet")

    from . import report
    report.add_parser(sub)
    from . import synth
    synth.add_parser(sub.add_parser(
        "synth", help="generate a corpus from the random-walk discourse model, with planted "
                      "polysemous words and the ground truth"))

    c = sub.add_parser("config", help="print the resolved configuration as YAML")
    c.add_argument("-c", "--config", action="append", default=[], metavar="CONF.yaml")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets")
    return p


def _json_from_env():
    return os.environ.get("WSI_LOG_FORMAT", "").lower() == "json"


_LOG = {"json": _json_from_env()}


def _emit(message, level=None, **extra):
    """One log line on stderr: plain text, or a JSON object with ``--log-json``."""
    if not _LOG["json"]:
        print(message, file=sys.stderr)
        return
    import json
    import time
    if level is None:
        level = "warning" if message.startswith("warning") else "info"
    head = message.split(":", 1)[0]
    rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "level": level,
           "stage": head if head.isidentifier() and " " not in message[:len(head)] else None,
           "message": message, **extra}
    print(json.dumps(rec), file=sys.stderr)


def _evaluation_parser(name):
    """The parser of ``wsi evaluate NAME`` (its module is imported only when used)."""
    module, add, _main, text = EVALUATIONS[name]
    p = _Parser(prog=f"wsi evaluate {name}", description=text)
    getattr(importlib.import_module(module, __package__), add)(p)
    return p


def _overrides(args):
    run = {k: getattr(args, k) for k in ("out", "name", "scheduler")
           if getattr(args, k, None) is not None}
    return {"run": run} if run else None


def _dispatch(args):
    from . import registry
    from .config import load_config

    if args.command == "stages":
        print(registry.describe())
        return 0
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "context":
        from .contexts import main_context
        return main_context(args)
    if args.command.startswith("evaluate-"):
        name = args.command.split("-", 1)[1]
        module, _add, main_name, _text = EVALUATIONS[name]
        return getattr(importlib.import_module(module, __package__), main_name)(args)
    if args.command == "synth":
        from .synth import main_synth
        return main_synth(args)
    if args.command == "report":
        from .report import main_report
        return main_report(args)
    if args.command == "senses":
        from .assign import main_senses
        return main_senses(args)
    if args.command == "assign":
        from .assign import main_assign
        return main_assign(args)
    cfg = load_config(args.config, args.sets, _overrides(args))
    if args.command == "config":
        import yaml
        print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")
        return 0
    from .run import run_pipeline
    stages = None
    if args.stages:
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        for s in stages:
            registry.get(s)
    run_pipeline(cfg, stages=stages, force=args.force, quiet=args.quiet or _LOG["json"],
                 argv=["wsi", *sys.argv[1:]], log=_emit)
    _emit(f"run directory: {cfg.run.out.rstrip('/')}/{cfg.run.name}")
    return 0


def _evaluate(args):
    """Rerun the evaluate stage of an existing run, with its saved configuration."""
    import json
    from pathlib import PurePosixPath

    from .config import load_config
    from .run import run_pipeline
    from .stages.evaluate import format_table
    from .storage import open_run
    run, manifest = open_run(args.run_dir, [("embeddings.parquet", "embed")])
    path = PurePosixPath(run.root)
    out = run.url[: -len(path.name)].rstrip("/") or "."
    cfg = load_config(args.config, args.sets, base=manifest["config"],
                      overrides={"run": {"out": out, "name": path.name}})
    m = run_pipeline(cfg, stages=["evaluate"], force=True, quiet=args.quiet,
                     argv=["wsi", *sys.argv[1:]], log=lambda msg: None if args.quiet else
                     print(msg, file=sys.stderr) if not msg.startswith("set ") else None)
    with run.fs.open(run.path("metrics.json"), "r") as f:
        print(format_table(json.load(f)))
    return 0 if m else 1


def main(argv=None):
    _LOG["json"] = _json_from_env()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if len(argv) > 1 and argv[0] == "evaluate" and argv[1] in EVALUATIONS:
            args = _evaluation_parser(argv[1]).parse_args(argv[2:])
            args.command = f"evaluate-{argv[1]}"
        else:
            args = build_parser().parse_args(argv)
        _LOG["json"] = bool(getattr(args, "log_json", False)) or _json_from_env()
        return _dispatch(args)
    except WsiError as e:
        _emit(f"wsi: {e}", "error", exit_code=e.exit_code)
        return e.exit_code
    except KeyboardInterrupt:
        _emit("wsi: interrupted", "error", exit_code=EXIT_INTERRUPT)
        return EXIT_INTERRUPT
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except Exception as e:  # a bug: one line unless debugging
        if os.environ.get("WSI_DEBUG"):
            raise
        _emit(f"wsi: internal error: {e.__class__.__name__}: {e} "
              "(set WSI_DEBUG=1 for a traceback)", "error", exit_code=EXIT_INTERNAL)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
