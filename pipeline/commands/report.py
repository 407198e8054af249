"""``wsi report RUN_DIR``: (re)write the run's report.html."""
from __future__ import annotations

HELP = ("write RUN_DIR/report.html: configuration, stage timings, metrics, plots, atoms and "
        "senses in one offline page")


def add_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR")


def main(args):
    from ..report import write_report
    print(write_report(args.run_dir))
    return 0
