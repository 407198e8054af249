"""What a stage is: its inputs, the settings it reads, its one output, and how it is built."""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Stage", "StageContext", "source_key"]


def source_key(*modules):
    """Hash of the named modules' source code (hex)."""
    h = hashlib.sha256()
    for mod in modules:
        h.update(inspect.getsource(importlib.import_module(mod)).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Attributes
    ----------
    name : str
    summary : str
        One line for ``wsi stages``.
    needs : tuple of str
        Upstream stages whose outputs this one reads.
    params : tuple of str
        Dotted config keys that change the output; nothing else does.
    output : str
        File or directory name in the run directory.
    build : callable(StageContext) -> dict
        Writes the output to ``ctx.out`` and returns counters for the manifest.
    code : tuple of str
        Modules whose source is part of the fingerprint (a code change reruns the stage).
    inputs : callable(Config) -> object or None
        Describes external inputs (paths, sizes, mtimes) for the fingerprint.
    also : tuple of str
        Further files the stage writes next to ``output`` (interop copies);
        they are moved into place with it.
    """

    name: str
    summary: str
    needs: tuple
    params: tuple
    output: str
    build: Callable
    code: tuple = ()
    inputs: Callable | None = None
    also: tuple = ()

    def fingerprint(self, cfg, upstream, external=None):
        """Hash of code, settings, upstream fingerprints and external inputs."""
        h = hashlib.sha256(source_key(self.build.__module__, *self.code).encode())
        doc = {"params": {k: cfg.section(k) for k in self.params},
               "upstream": upstream, "inputs": external}
        h.update(json.dumps(doc, sort_keys=True, default=str).encode())
        return h.hexdigest()[:32]


@dataclass
class StageContext:
    """Everything a stage's ``build`` needs.

    Attributes
    ----------
    cfg : Config
    run : RunDir
    out : str
        File-system path (in ``run.fs``) where the output must be written.
    runner : Runner
    upstream : dict
        Manifest records of the stages this one needs (their counters, etc.).
    external : object
        What ``Stage.inputs`` returned.
    previous : dict or None
        This stage's manifest record from an earlier run whose outputs are
        still intact, when ``run.incremental`` is on and the stage was not
        forced: a stage may update those outputs instead of starting over.
    """

    cfg: object
    run: object
    out: str
    runner: object
    upstream: dict = field(default_factory=dict)
    external: object = None
    log: Callable = print
    previous: dict | None = None

    def also_path(self, name):
        """Where to write one of the stage's further outputs (``Stage.also``)."""
        return self.out.rsplit("/", 1)[0] + "/" + name

    def input_path(self, name):
        """Path of an upstream output in the run directory."""
        return self.run.path(name)

    def url(self, path):
        from .storage import to_url
        return to_url(self.run.fs, path)
