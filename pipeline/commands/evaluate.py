"""``wsi evaluate``: re-score a run's vectors, or run one of the sense evaluations.

    wsi evaluate RUN_DIR [-c CONF] [--set ...]        # the evaluate stage again
    wsi evaluate semeval2013|lineup|planted|senseval2 ...   # see EVALUATIONS

Each sense evaluation writes its own file in the run directory
(:mod:`pipeline.evaluations`).
"""
from __future__ import annotations

import argparse
import os
import sys

from ..config import SENSE_METHODS
from ..errors import UsageError
from . import add_run_argument

HELP = "evaluate an existing run's vectors (writes metrics.json); also: wsi evaluate " \
    "semeval2013|lineup|planted|senseval2 ..."


def add_arguments(e):
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("-c", "--config", action="append", default=[], metavar="CONF.yaml",
                   help="configuration applied over the run's own (e.g. other similarity sets)")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets")
    e.add_argument("--quiet", action="store_true")


def main(args):
    """Rerun the evaluate stage of an existing run, with its saved configuration."""
    import json
    from pathlib import PurePosixPath

    from ..config import load_config
    from ..run import run_pipeline
    from ..runs import artifact_url, open_run
    from ..stages.evaluate import format_table
    run, manifest = open_run(args.run_dir, ["embeddings"])
    path = PurePosixPath(run.root)
    out = run.url[: -len(path.name)].rstrip("/") or "."
    cfg = load_config(args.config, args.sets, base=manifest["config"],
                      overrides={"run": {"out": out, "name": path.name}})
    m = run_pipeline(cfg, stages=["evaluate"], force=True, quiet=args.quiet,
                     argv=["wsi", *sys.argv[1:]], log=lambda msg: None if args.quiet else
                     print(msg, file=sys.stderr) if not msg.startswith("set ") else None)
    import fsspec
    with fsspec.open(artifact_url(run, "metrics"), "r") as f:
        print(format_table(json.load(f)))
    if cfg.run.report:
        from . import refresh_report
        refresh_report(run.url, lambda msg: print(msg, file=sys.stderr))
    return 0 if m else 1


# -- the sense evaluations --------------------------------------------------------

def _semeval(args):
    from ..evaluations.semeval import (DEFAULT_DATA, _finite, evaluate_semeval, format_table,
                                       save_semeval)
    """``wsi evaluate semeval2013 --run RUN_DIR [--data DIR] [--key-out FILE] [--no-graded]``."""
    result = evaluate_semeval(args.run, getattr(args, "data", None) or DEFAULT_DATA,
                              key_out=getattr(args, "key_out", None),
                              gold=getattr(args, "gold", None) or "all",
                              graded=bool(getattr(args, "graded", True)),
                              use_lemma=bool(getattr(args, "use_lemma", True)),
                              unassigned=getattr(args, "unassigned", None) or "first",
                              max_senses=getattr(args, "max_senses", None),
                              method=getattr(args, "method", None))
    print(format_table(result))
    where = save_semeval(args.run, _finite(result))
    if getattr(args, "key_out", None):
        print(f"system key written to {args.key_out}", file=sys.stderr)
    print(f"scores written to {where}", file=sys.stderr)
    return 0


def _semeval_args(p):
    """Add ``wsi evaluate semeval2013``'s arguments to the parser ``p``."""
    from ..evaluations.semeval import DEFAULT_DATA
    add_run_argument(p)
    p.add_argument("--data", default=None, metavar="DIR",
                   help=f"the task's folder (default: {DEFAULT_DATA})")
    p.add_argument("--key-out", default=None, metavar="FILE", dest="key_out",
                   help="also write the system key (lemma instance_id label/weight ...)")
    p.add_argument("--graded", action=argparse.BooleanOptionalAction, default=True,
                   help="graded labels: every sense atom with a positive score, weighted by "
                        "it (default); --no-graded: the best atom only")
    p.add_argument("--gold", default="all", metavar="NAME",
                   help="gold key keys/gold/NAME.key (default: all) or a .key path")
    p.add_argument("--use-lemma", action=argparse.BooleanOptionalAction, default=True,
                   dest="use_lemma",
                   help="use the lemma's senses for every form (default); --no-use-lemma: "
                        "the marked form's, the lemma's when the form has none")
    p.add_argument("--max-senses", type=int, default=None, metavar="N", dest="max_senses",
                   help="consider a word's N strongest atoms (default: the run's "
                        "senses.assign_max; 0 = all)")
    p.add_argument("--unassigned", choices=("first", "omit"), default="first",
                   help="instances without a context vector: the word's first sense "
                        "(default) or left out")
    p.add_argument("--method", choices=SENSE_METHODS, default=None,
                   help="cluster: each lemma's instances clustered together; inventory: "
                        "the nearest sense of the run's sense inventory; atoms: the atoms "
                        "rule (default: the run's senses.method)")
    return p


def _lineup_args(p):
    """Add the ``wsi evaluate lineup`` arguments to the argparse (sub-)parser ``p``."""
    add_run_argument(p)
    p.add_argument("--wordnet", default=None, metavar="DIR",
                   help="WordNet 3.0 database directory (default: "
                        "<project>/../shared/data/wordnet)")
    p.add_argument("--words", type=int, default=200, metavar="N",
                   help="target words of the test (default 200)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default 0)")
    p.add_argument("--m", type=int, default=20, metavar="M",
                   help="candidate senses per word (default 20)")
    p.add_argument("--k", type=int, default=4, metavar="K",
                   help="senses answered per word (default 4)")
    return p


def _lineup(args):
    from ..evaluations.lineup import default_wordnet_dir, evaluate_lineup, format_lineup
    """``wsi evaluate lineup --run RUN_DIR [--wordnet DIR] [--words N] [--seed S]``."""
    wordnet = getattr(args, "wordnet", None) or default_wordnet_dir()
    n_words, seed = getattr(args, "words", 200), getattr(args, "seed", 0)
    m, k = getattr(args, "m", 20), getattr(args, "k", 4)
    for name, value, lo in (("--words", n_words, 1), ("--seed", seed, 0), ("--m", m, 3),
                            ("--k", k, 1)):
        if value < lo:
            raise UsageError(f"wsi evaluate lineup: {name} must be >= {lo}, got {value}")
    if not os.path.isdir(wordnet):
        raise UsageError(f"WordNet directory {wordnet} not found (give --wordnet DIR)")
    result = evaluate_lineup(getattr(args, "run", "outputs/default"), wordnet,
                             n_words=n_words, m=m, k=k, seed=seed)
    print(format_lineup(result))
    return 0


def _planted_args(p):
    """Add ``wsi evaluate planted``'s arguments to the (sub-)parser ``p``."""
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a finished run directory "
                   "(up to the senses stage) on a wsi synth corpus")
    p.add_argument("--truth", required=True, metavar="DIR",
                   help="the wsi synth output directory (or its truth/ folder)")
    p.add_argument("--seed", type=int, default=0, help="seed of the map's held-out split")
    return p




def _planted(args):
    from ..evaluations import save_result
    from ..evaluations.planted import evaluate_planted, format_planted
    from ..runs import open_run
    """``wsi evaluate planted --run RUN_DIR --truth DIR``: scores → evaluations/planted.json."""
    m = evaluate_planted(args.run, args.truth, seed=getattr(args, "seed", 0))
    run, _ = open_run(args.run)
    where = save_result(run, "planted", lambda _old: m)
    print(format_planted(m))
    if m["coded"] == 0:
        print("warning: the run coded none of the pseudo-words (are they in its vocabulary "
              "and do they have vectors?)", file=sys.stderr)
    print(f"written to {where}", file=sys.stderr)
    return 0


def _senseval2_args(p):
    """Add ``wsi evaluate senseval2``'s arguments to the (sub-)parser ``p``."""
    from ..evaluations.senseval2 import DEFAULT_DATA
    add_run_argument(p)
    p.add_argument("--data", default=None, metavar="DIR",
                   help=f"folder of hard/interest/line/serve.pos (default: {DEFAULT_DATA})")
    p.add_argument("--method", choices=SENSE_METHODS, default=None,
                   help="labelling method (default: the run's senses.method)")
    p.add_argument("--set", action="append", default=[], metavar="senses.KEY=VALUE",
                   dest="sets", help="override one of the run's senses settings")
    return p


def _senseval2(args):
    """``wsi evaluate senseval2 --run RUN_DIR [--data DIR]`` → evaluations/senseval2.json."""
    from ..evaluations import save_result
    from ..evaluations.senseval2 import DEFAULT_DATA, evaluate_senseval2, format_senseval2
    from ..runs import open_run
    run_dir = getattr(args, "run", "outputs/default")
    result = evaluate_senseval2(run_dir, getattr(args, "data", None) or DEFAULT_DATA,
                                method=getattr(args, "method", None),
                                sets=getattr(args, "sets", None) or (),
                                log=lambda msg: print(msg, file=sys.stderr))
    run, _ = open_run(run_dir)
    where = save_result(run, "senseval2", lambda _old: result)
    print(format_senseval2(result))
    print(f"written to {where}", file=sys.stderr)
    return 0


# name: (add its arguments, run it, help)
EVALUATIONS = {
    "semeval2013": (_semeval_args, _semeval,
                    "SemEval-2013 Task 13 word sense induction: Fuzzy B-Cubed and Fuzzy NMI"),
    "lineup": (_lineup_args, _lineup,
               "police-lineup test of the senses against WordNet (Arora et al. 2018)"),
    "planted": (_planted_args, _planted,
                "recovery of a `wsi synth` corpus's planted sense components"),
    "senseval2": (_senseval2_args, _senseval2,
                  "senseval2_ls development set: V-measure, ARI, paired F with a k-means "
                  "baseline"),
}


def evaluation_parser(name, parser_class=argparse.ArgumentParser):
    """The parser of ``wsi evaluate NAME``."""
    add, _main, text = EVALUATIONS[name]
    p = parser_class(prog=f"wsi evaluate {name}", description=text)
    add(p)
    return p


def run_evaluation(name, args):
    return EVALUATIONS[name][1](args)
