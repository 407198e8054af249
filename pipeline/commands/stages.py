"""``wsi stages``: the stage graph (artifacts read -> written), settings and files."""
from __future__ import annotations

HELP = "print the stage graph"


def add_arguments(p):
    pass


def main(args):
    from .. import registry
    print(registry.describe())
    return 0
