"""The Dask worker plugin handing ``run.storage_options`` to a cluster's workers
(a module of its own: importing ``distributed`` costs time a local run need not pay)."""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["FsspecConfig"]


class FsspecConfig(WorkerPlugin):
    """Gives every worker, also those joining later, ``run.storage_options``
    ({protocol: fsspec keyword arguments}) as fsspec's defaults."""

    def __init__(self, options):
        self.options = {p: dict(o) for p, o in options.items()}

    def setup(self, worker=None):
        import fsspec.config
        for protocol, opts in self.options.items():
            fsspec.config.conf[protocol] = {**fsspec.config.conf.get(protocol, {}), **opts}
