"""The run's outputs as the report reads them: each read once, by artifact name; ``None``
when absent, read errors remembered (a damaged output must not stop the report)."""
from __future__ import annotations

import json

import fsspec

from .. import artifacts
from ..artifacts.tables import read_atoms, read_vocab
from ..evaluations import load_results
from ..storage import read_parquet
from .html import failed, not_computed

__all__ = ["RunData"]


class RunData:
    """The run's outputs, each read once; ``None`` when absent, errors remembered."""

    def __init__(self, run, manifest):
        self.run, self.manifest = run, manifest
        self.errors = {}
        self._cache = {}

    def stage(self, name):
        return (self.manifest.get("stages") or {}).get(name) or {}

    def counters(self, name):
        c = self.stage(name).get("counters")
        return c if isinstance(c, dict) else {}

    def _get(self, name, reader):
        """Artifact ``name`` read by ``reader(url)``, once."""
        if name not in self._cache:
            value = None
            path = artifacts.path_of(name)
            try:
                if self.run.exists(path):
                    value = reader(self.run.url_of(path))
            except Exception as e:  # a damaged output must not stop the report
                self.errors[name] = f"{e.__class__.__name__}: {e}"
            self._cache[name] = value
        return self._cache[name]

    def vocab(self):
        return self._get("vocab", read_vocab)

    def atoms(self):
        return self._get("atoms", read_atoms)

    def metrics(self):
        """``metrics.json`` with each sense evaluation's own file under its name."""
        metrics = self._get("metrics", _read_json)
        extra = load_results(self.run)
        if metrics is None:
            return extra or None
        return {**metrics, **extra} if isinstance(metrics, dict) else metrics

    def inventory(self):
        """``sense_inventory.parquet`` without the per-word means (not shown)."""
        return self._get("sense_inventory", _read_inventory)

    def reconstruction(self):
        return self._get("reconstruction", lambda u: read_parquet(
            u, "reconstruction", columns=["relative_error"]))

    def missing(self, name, stage):
        """The note for artifact ``name`` when it is absent or unreadable."""
        path = artifacts.path_of(name)
        if name in self.errors:
            return failed(path, self.errors[name])
        return not_computed(path, stage)


INVENTORY_REQUIRED = ("word", "sense_id", "share", "centroid")
INVENTORY_OPTIONAL = ("word_id", "n_occurrences", "atom_ids", "top_words", "examples")


def _read_inventory(url):
    import pyarrow.parquet as pq
    with fsspec.open(url, "rb") as f:
        names = pq.ParquetFile(f).schema_arrow.names
    lacking = [c for c in INVENTORY_REQUIRED if c not in names]
    if lacking:
        raise ValueError(f"no column {', '.join(lacking)} (has {', '.join(names)})")
    return read_parquet(url, "sense inventory", columns=[
        *INVENTORY_REQUIRED, *(c for c in INVENTORY_OPTIONAL if c in names)])


def _read_json(url):
    with fsspec.open(url, "rb") as f:
        return json.loads(f.read().decode("utf-8"))
