"""``wsi config``: the resolved configuration, as YAML."""
from __future__ import annotations

HELP = "print the resolved configuration as YAML"


def add_arguments(c):
    c.add_argument("-c", "--config", action="append", default=[], metavar="CONF.yaml")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets")


def main(args):
    import yaml

    from ..config import load_config
    cfg = load_config(args.config, args.sets)
    print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")
    return 0
