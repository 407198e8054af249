"""What a stage is: the artifacts it reads and writes, the settings it reads, how it is built.

A stage sees only what it declares. Its ``build`` gets a :class:`StageContext`
whose ``cfg`` holds only the stage's declared settings (reading any other
raises), and whose ``input_url``/``output_url`` accept only the artifacts the
stage declared. The fingerprint hashes exactly those settings, the code, and
the fingerprints of the stages that wrote the inputs, so a setting reruns the
stages that read it and no other.

Execution settings (``run.scheduler``, ``run.workers``, ``run.split_every``)
change how a stage runs, never what it writes: they are not settings of any
stage and reach the build through ``ctx.runner``.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

from . import artifacts
from .errors import UsageError

__all__ = ["Stage", "StageContext", "ScopedConfig", "source_key"]


def source_key(*modules):
    """Hash of the named modules' source code (hex)."""
    h = hashlib.sha256()
    for mod in modules:
        h.update(inspect.getsource(importlib.import_module(mod)).encode())
    return h.hexdigest()


class ScopedConfig:
    """The part of a :class:`~pipeline.config.Config` that a stage declared.

    ``params`` are dotted keys: a whole section (``"embed"``) gives the
    section's own validated object, a key (``"cooc.window"``) gives that value
    only. Any other attribute raises ``AttributeError`` naming the key, so an
    undeclared read cannot slip past the fingerprint.
    """

    def __init__(self, cfg, params, _prefix=""):
        tree = {}
        for key in params:
            head, _, rest = key.partition(".")
            tree.setdefault(head, set())
            if rest:
                tree[head].add(rest)
            else:
                tree[head] = None  # the whole section
        values = {}
        for head, sub in tree.items():
            value = getattr(cfg, head)
            values[head] = value if sub is None else ScopedConfig(value, sorted(sub),
                                                                  _prefix + head + ".")
        object.__setattr__(self, "_values", MappingProxyType(values))
        object.__setattr__(self, "_prefix", _prefix)

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"setting {object.__getattribute__(self, '_prefix')}{name} is "
                             "not declared in this stage's params")

    def __setattr__(self, name, value):
        raise AttributeError("a stage's configuration is read-only")


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Attributes
    ----------
    name : str
    summary : str
        One line for ``wsi stages``.
    reads : tuple of str
        Catalog names of the artifacts it reads (:mod:`pipeline.artifacts`).
    writes : tuple of str
        Catalog names of the artifacts it writes; the first is its main output,
        published last (its presence means the stage completed).
    params : tuple of str
        Dotted config keys that change the output; nothing else does, and the
        build sees nothing else.
    build : callable(StageContext) -> dict
        Writes the outputs and returns counters for the manifest.
    code : tuple of str
        Modules besides the build's own whose source is part of the fingerprint.
    inputs : callable(ScopedConfig) -> object or None
        Describes external inputs (paths, sizes, mtimes) for the fingerprint.
    reads_if : dict of str -> callable(ScopedConfig) -> bool
        Artifacts read only under some settings (``embed`` reads ``cooc`` only
        for the methods that train on counts).
    preload : callable or None
        Loads the numba kernels its tasks run in worker processes; the run calls
        it before forking them (:class:`pipeline.runner.Runner`), so they inherit it.
    """

    name: str
    summary: str
    reads: tuple
    writes: tuple
    params: tuple
    build: Callable
    code: tuple = ()
    inputs: Callable | None = None
    reads_if: dict = field(default_factory=dict)
    preload: Callable | None = None

    @property
    def output(self):
        """Run-directory path of the main output."""
        return artifacts.path_of(self.writes[0])

    def scoped(self, cfg):
        """The settings this stage may read."""
        return ScopedConfig(cfg, self.params)

    def reads_for(self, cfg):
        """The artifacts this stage reads under ``cfg``."""
        scoped = self.scoped(cfg)
        return tuple(self.reads) + tuple(a for a, when in self.reads_if.items() if when(scoped))

    def fingerprint(self, cfg, upstream, external=None):
        """Hash of code, declared settings, upstream fingerprints and external inputs."""
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
    stage : Stage
    cfg : ScopedConfig
        The stage's declared settings only.
    run : RunDir
    workdir : str
        File-system path (in ``run.fs``) of the stage's private work directory;
        outputs are written there and published when the build returns.
    runner : Runner
    upstream : dict
        Manifest records of the stages that wrote this one's inputs, by stage name.
    external : object
        What ``Stage.inputs`` returned.
    previous : dict or None
        This stage's manifest record from an earlier run whose outputs are
        still intact, when ``run.incremental`` is on and the stage was not
        forced: a stage may update those outputs instead of starting over.
    """

    stage: Stage
    cfg: object
    run: object
    workdir: str
    runner: object
    upstream: dict = field(default_factory=dict)
    external: object = None
    log: Callable = print
    previous: dict | None = None
    reads: tuple = ()

    def _check(self, name, declared, what):
        if name not in declared:
            raise UsageError(f"stage {self.stage.name} does not declare {what} {name!r}")
        return artifacts.path_of(name)

    # -- inputs: published artifacts of the run directory ---------------------
    def input_path(self, name):
        """File-system path (in ``run.fs``) of a declared input artifact."""
        return self.run.path(self._check(name, self.reads, "the input"))

    def input_url(self, name):
        """URL (plain path when local) of a declared input artifact."""
        return self.url(self.input_path(name))

    def previous_path(self, name):
        """Path of this stage's own artifact as an earlier run published it."""
        return self.run.path(self._check(name, self.stage.writes, "the output"))

    # -- outputs: written in the work directory, published after the build -----
    def output_path(self, name):
        """File-system path where the stage writes a declared output artifact."""
        return self.workdir + "/" + self._check(name, self.stage.writes, "the output")

    def output_url(self, name):
        """URL (plain path when local) where the stage writes a declared output."""
        return self.url(self.output_path(name))

    def url(self, path):
        from .storage import to_url
        return to_url(self.run.fs, path)
