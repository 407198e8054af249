"""``wsi senses WORD...``: words' senses (atoms, coefficients, nearest words) as a table."""
from __future__ import annotations
from . import add_run_argument

HELP = "print words' senses (atoms, coefficients, nearest words)"


def add_arguments(w):
    w.add_argument("words", nargs="+", metavar="WORD")
    add_run_argument(w)


def main(args):
    """``wsi senses WORD [WORD ...] [--run RUN_DIR]``."""
    from ..sense_model import SenseModel, format_senses
    model = SenseModel(args.run)
    print("\n\n".join(format_senses(w, model.senses(w)) for w in args.words))
    return 0
