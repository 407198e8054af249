"""Opening a finished run directory by artifact name (for commands, evaluations, the report)."""
from __future__ import annotations

from . import artifacts, registry
from .errors import UsageError
from .storage import RunDir

__all__ = ["open_run", "require", "has_artifact", "artifact_url"]


def open_run(run_dir, needed=()):
    """A finished run directory: (RunDir, manifest dict).

    ``needed`` lists catalog names of artifacts that must be there; a missing
    one is a usage error naming the stage that writes it.
    """
    run = RunDir(str(run_dir).rstrip("/"))
    try:
        manifest = run.read_json(artifacts.path_of("manifest"))
    except (ValueError, UnicodeDecodeError):
        manifest = None
    if not manifest or "config" not in manifest:
        raise UsageError(f"{run_dir}: not a run directory (no readable manifest.json)")
    require(run, needed)
    return run, manifest


def require(run, needed):
    """A usage error naming the first artifact of ``needed`` (catalog names) that the
    run directory ``run`` lacks, and the stage that writes it."""
    producers = registry.producers()
    for name in needed:
        if not has_artifact(run, name):
            raise UsageError(f"{run.url}: has no {artifacts.path_of(name)} (run the stages "
                             f"up to {producers.get(name, name)})")


def has_artifact(run, name):
    """Whether the run directory ``run`` holds artifact ``name``."""
    return run.exists(artifacts.path_of(name))


def artifact_url(run, name):
    """URL (plain path when local) of artifact ``name`` in the run directory ``run``."""
    return run.url_of(artifacts.path_of(name))
