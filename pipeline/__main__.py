import sys

from .cli import console

if __name__ == "__main__":  # not when multiprocessing re-imports this module in a worker
    sys.exit(console())
