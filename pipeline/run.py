"""Running the pipeline: lock the run directory, skip what is up to date, record everything.

``manifest.json`` in the run directory holds the resolved configuration,
package versions, the command, and per stage: status (``complete``,
``cached``, ``failed``, ``running``), fingerprint, start and end time,
seconds, external inputs (paths, sizes, mtimes) and counters.
"""
from __future__ import annotations

import platform
import sys
import time
from importlib import metadata

from . import artifacts, registry
from .errors import StorageError, WsiError
from .runner import Runner
from .stage import StageContext
from .storage import RunDir, join

__all__ = ["run_pipeline", "package_versions"]

_PACKAGES = ("wsi-dask", "dask", "distributed", "numpy", "scipy", "pyarrow", "numba",
             "gensim", "scikit-learn", "fsspec", "pydantic")


def package_versions():
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _load_manifest(run, log):
    try:
        data = run.read_json("manifest.json")
    except (ValueError, UnicodeDecodeError):
        log(f"warning: {run.url_of('manifest.json')} is unreadable; recomputing every stage")
        return {}
    if data is not None and not isinstance(data.get("stages"), dict):
        log(f"warning: {run.url_of('manifest.json')} has no stage records; recomputing")
        return {}
    return data or {}


def run_pipeline(cfg, *, stages=None, force=False, quiet=False, argv=None, log=None):
    """Run the selected stages (default: all) and whatever upstream is out of date.

    Parameters
    ----------
    cfg : Config
    stages : list of str or None
    force : bool
        Recompute the selected stages even when up to date.
    quiet : bool
        No progress bars.

    Returns
    -------
    dict : the manifest as written.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    selected = stages or list(registry.STAGES)
    order = registry.closure(selected, cfg)
    run = RunDir(join(cfg.run.out, cfg.run.name))
    # Inputs are resolved before anything is written, so a bad path fails first.
    externals = {n: registry.get(n).inputs(registry.get(n).scoped(cfg))
                 if registry.get(n).inputs else None for n in order}
    run.prepare()
    with run:
        run.clean_tmp()
        old = _load_manifest(run, log)
        manifest = {"version": 1, "run": cfg.run.name, "created": old.get("created", _now()),
                    "updated": _now(), "command": argv or sys.argv,
                    "config": cfg.model_dump(mode="json"), "packages": package_versions(),
                    "stages": dict(old.get("stages", {}))}
        fingerprints = {}
        with Runner(cfg.run.scheduler, workers=cfg.run.workers, quiet=quiet, log=log,
                    process_min_bytes=cfg.run.process_min_bytes,
                    split_every=cfg.run.split_every) as runner:
            for name in order:
                stage = registry.get(name)
                ups = registry.upstream(name, cfg)
                fp = stage.fingerprint(cfg, {u: fingerprints[u] for u in ups}, externals[name])
                fingerprints[name] = fp
                rec = manifest["stages"].get(name) or {}
                intact = rec.get("status") in ("complete", "cached") and run.exists(stage.output)
                if intact and "outputs" in rec and rec["outputs"] != _output_sizes(run, stage):
                    # Truncated, replaced or edited by hand since it was written.
                    log(f"{name}: output changed on disk since it was written, recomputing")
                    intact = False
                up_to_date = intact and rec.get("fingerprint") == fp
                if up_to_date and not (force and name in selected):
                    rec = dict(rec, status="cached", checked=_now())
                    manifest["stages"][name] = rec
                    log(f"{name}: up to date (cached)")
                    continue
                if name not in selected:
                    log(f"{name}: out of date, recomputing (needed by "
                        f"{', '.join(s for s in selected if name in registry.closure([s], cfg))})")
                previous = (rec if intact and cfg.run.incremental
                            and not (force and name in selected) else None)
                _run_stage(stage, cfg, run, runner, manifest, fp, externals[name], log,
                           previous)
        manifest["updated"] = _now()
        run.write_json("manifest.json", manifest)
        run.clean_tmp()
    return manifest


def _output_sizes(run, stage):
    """{output file name: bytes} of a stage's outputs (a directory: the sum of its files)."""
    out = {}
    for name in (artifacts.path_of(a) for a in stage.writes):
        path = run.path(name)
        try:
            if run.fs.isdir(path):
                out[name] = int(sum(run.fs.du(path, total=False).values()))
            else:
                out[name] = int(run.fs.size(path))
        except (OSError, FileNotFoundError):
            out[name] = None
    return out


def _run_stage(stage, cfg, run, runner, manifest, fp, external, log, previous=None):
    started = time.time()
    manifest["stages"][stage.name] = {"status": "running", "fingerprint": fp,
                                      "started": _now()}
    run.write_json("manifest.json", manifest)
    tmp = run.tmp_dir(stage.name)
    ctx = StageContext(stage=stage, cfg=stage.scoped(cfg), run=run, workdir=tmp, runner=runner,
                       upstream={u: manifest["stages"].get(u, {})
                                 for u in registry.upstream(stage.name, cfg)},
                       external=external, log=log, previous=previous,
                       reads=stage.reads_for(cfg))
    try:
        counters = stage.build(ctx)
        for name in stage.writes[::-1]:  # the main output last: its presence means complete
            run.commit(ctx.output_path(name), artifacts.path_of(name))
    except BaseException as e:
        run.discard(tmp)
        err = str(e) if isinstance(e, WsiError) else f"{e.__class__.__name__}: {e}"
        manifest["stages"][stage.name].update(status="failed", ended=_now(), error=err,
                                              seconds=round(time.time() - started, 3))
        try:
            run.write_json("manifest.json", manifest)
        except StorageError:
            pass
        if isinstance(e, OSError) and not isinstance(e, WsiError):
            raise StorageError(f"{stage.name}: {e.strerror or e} "
                               f"({getattr(e, 'filename', '') or run.url})") from None
        raise
    run.discard(tmp)
    seconds = time.time() - started
    rec = {"status": "complete", "fingerprint": fp, "started": manifest["stages"][stage.name][
        "started"], "ended": _now(), "seconds": round(seconds, 3), "counters": counters,
        "outputs": _output_sizes(run, stage)}
    if external is not None:
        rec["inputs"] = external
    manifest["stages"][stage.name] = rec
    run.write_json("manifest.json", manifest)
    summary = ", ".join(f"{k}={v}" for k, v in counters.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool))
    log(f"{stage.name}: done in {seconds:.1f}s ({summary})")
