"""``wsi run``: run the pipeline (stages that are up to date are skipped)."""
from __future__ import annotations

import sys

HELP = "run the pipeline (stages that are up to date are skipped)"


def add_arguments(r):
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


def _overrides(args):
    run = {k: getattr(args, k) for k in ("out", "name", "scheduler")
           if getattr(args, k, None) is not None}
    return {"run": run} if run else None


def main(args, log):
    from .. import registry
    from ..config import load_config
    from ..run import run_pipeline
    cfg = load_config(args.config, args.sets, _overrides(args))
    stages = None
    if args.stages:
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        for s in stages:
            registry.get(s)
    run_pipeline(cfg, stages=stages, force=args.force, quiet=args.quiet or log.json,
                 argv=["wsi", *sys.argv[1:]], log=log)
    url = f"{cfg.run.out.rstrip('/')}/{cfg.run.name}"
    if cfg.run.report:
        from . import refresh_report
        refresh_report(url, log)
    log(f"run directory: {url}")
    return 0
