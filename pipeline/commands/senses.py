"""``wsi senses WORD...``: words' senses as tables: their sense atoms (coefficients,
nearest words) and, when the run has an inventory, their corpus senses (share, naming
words, example contexts)."""
from __future__ import annotations
from . import add_run_argument

HELP = ("print words' senses: atoms (coefficients, nearest words) and corpus senses "
        "(share, naming words, examples)")


def add_arguments(w):
    w.add_argument("words", nargs="+", metavar="WORD")
    add_run_argument(w)


def main(args):
    """``wsi senses WORD [WORD ...] [--run RUN_DIR]``."""
    from ..sense_model import SenseModel, format_senses
    model = SenseModel(args.run)
    print("\n\n".join(format_senses(w, model.senses(w), model.inventory_senses(w))
                      for w in args.words))
    return 0
