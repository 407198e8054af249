"""Running the pipeline: lock the run directory, skip what is up to date, record everything.

``manifest.json`` in the run directory holds the resolved configuration,
package versions, the command, and per stage: status (``complete``,
``cached``, ``failed``, ``running``), fingerprint, start and end time,
seconds, external inputs (paths, sizes, mtimes) and counters.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from importlib import metadata

from . import artifacts, registry
from .errors import StorageError, WsiError
from .runner import Runner
from .stage import StageContext
from .storage import RunDir, join, to_url

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
    with storage_options(cfg.run.storage_options):
        return _run_pipeline(cfg, selected, order, force, quiet, argv, log)


def _run_pipeline(cfg, selected, order, force, quiet, argv, log):
    run = RunDir(join(cfg.run.out, cfg.run.name), lease_seconds=cfg.run.lock_lease_seconds)
    # Inputs are resolved before anything is written, so a bad path fails first.
    externals = {n: registry.get(n).inputs(registry.get(n).scoped(cfg))
                 if registry.get(n).inputs else None for n in order}
    run.prepare()
    run.renew_on_enter = False  # the lease's thread starts after the Runner forks its pool
    with run:
        old = _load_manifest(run, log)
        outputs = old.get("outputs") if isinstance(old.get("outputs"), dict) else {}
        run.set_outputs(outputs)
        run.collect_garbage()  # what killed or failed attempts left
        manifest = {"version": 1, "run": cfg.run.name, "created": old.get("created", _now()),
                    "updated": _now(), "command": argv or sys.argv,
                    "config": redact(cfg.model_dump(mode="json")),
                    "packages": package_versions(),
                    "stages": dict(old.get("stages", {})), "outputs": dict(run.outputs)}
        fingerprints = {}
        with Runner(cfg.run.scheduler, workers=cfg.run.workers, quiet=quiet, log=log,
                    process_min_bytes=cfg.run.process_min_bytes,
                    split_every=cfg.run.split_every,
                    preload={registry.get(n).preload for n in order} - {None}) as runner:
            run.start_heartbeat()
            if runner.client is not None:
                # The workers open the same URLs: give them this process's fsspec
                # defaults (run.storage_options and FSSPEC_* variables).
                import fsspec.config
                conf = {p: dict(o) for p, o in fsspec.config.conf.items() if o}
                if conf:
                    from ._worker_plugin import FsspecConfig
                    runner.client.register_plugin(FsspecConfig(conf),
                                                  name="wsi-storage-options")
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
        run.collect_garbage()
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
    """Build one stage under a fresh attempt prefix, then publish its outputs: the
    manifest naming them is written last, in one piece (see :class:`RunDir`)."""
    started = time.time()
    manifest["stages"][stage.name] = {"status": "running", "fingerprint": fp,
                                      "started": _now()}
    run.write_json("manifest.json", manifest)
    attempt = run.attempt_dir(stage.name)
    ctx = StageContext(stage=stage, cfg=stage.scoped(cfg), run=run, workdir=attempt,
                       runner=runner, upstream={u: manifest["stages"].get(u, {})
                                                for u in registry.upstream(stage.name, cfg)},
                       external=external, log=log, previous=previous,
                       reads=stage.reads_for(cfg))
    names = tuple(artifacts.path_of(a) for a in stage.writes)
    replaced = None
    try:
        counters = stage.build(ctx)
        written = {artifacts.path_of(a): ctx.output_path(a) for a in stage.writes}
        for name, path in written.items():
            if not run.fs.exists(path):
                raise StorageError(f"{stage.name}: {name} was not written "
                                   f"({to_url(run.fs, path)})")
        replaced = run.publish(written)
        manifest["outputs"] = dict(run.outputs)
        seconds = time.time() - started
        rec = {"status": "complete", "fingerprint": fp,
               "started": manifest["stages"][stage.name]["started"], "ended": _now(),
               "seconds": round(seconds, 3), "counters": counters,
               "outputs": _output_sizes(run, stage), "attempt": run.relative(attempt)}
        if external is not None:
            rec["inputs"] = external
        manifest["stages"][stage.name] = rec
        run.write_json("manifest.json", manifest)  # the publication
    except BaseException as e:
        if replaced is not None:  # not published: the names keep their old locations
            run.set_outputs({**run.outputs, **{n: w for n, w in replaced.items() if w}})
            for n, w in replaced.items():
                if not w:
                    run.outputs.pop(n, None)
            manifest["outputs"] = dict(run.outputs)
        run.discard(attempt)
        err = str(e) if isinstance(e, WsiError) else f"{e.__class__.__name__}: {e}"
        manifest["stages"][stage.name] = {
            "status": "failed", "fingerprint": fp, "started": manifest["stages"][stage.name][
                "started"], "ended": _now(), "error": err,
            "seconds": round(time.time() - started, 3)}
        try:
            run.write_json("manifest.json", manifest)
        except WsiError:
            pass
        if isinstance(e, OSError) and not isinstance(e, WsiError):
            raise StorageError(f"{stage.name}: {e.strerror or e} "
                               f"({getattr(e, 'filename', '') or run.url})") from None
        raise
    try:
        run.after_publish(names, replaced)
    except OSError as e:  # published already; links and garbage are redone next run
        log(f"warning: {stage.name}: {e}")
    summary = ", ".join(f"{k}={v}" for k, v in counters.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool))
    log(f"{stage.name}: done in {seconds:.1f}s ({summary})")


_SECRET = ("secret", "key", "token", "password", "credential", "sas", "signature")


def redact(config):
    """The configuration for the manifest: ``run.storage_options`` values whose keys
    look like credentials are replaced by ``"***"``."""
    def walk(v):
        if isinstance(v, dict):
            return {k: ("***" if isinstance(k, str) and any(s in k.lower() for s in _SECRET)
                        and not isinstance(v[k], dict) else walk(v[k])) for k in v}
        return v
    run = dict(config.get("run", {}))
    if run.get("storage_options"):
        run["storage_options"] = walk(run["storage_options"])
    return {**config, "run": run}


@contextmanager
def storage_options(options):
    """Make ``run.storage_options`` ({protocol: fsspec keyword arguments}) fsspec's
    defaults while a run lasts: here (``fsspec.config.conf``) and in the worker
    processes it starts (``FSSPEC_<PROTOCOL>`` in the environment they inherit)."""
    import fsspec.config
    if not options:
        yield
        return
    saved_conf = {p: fsspec.config.conf.get(p) for p in options}
    saved_env = {p: os.environ.get(f"FSSPEC_{p.upper()}") for p in options}
    try:
        for p, opts in options.items():
            # "***": a credential masked in a saved manifest (wsi evaluate RUN_DIR
            # reuses its configuration): the usual sources provide it instead
            opts = {k: v for k, v in opts.items() if v != "***"}
            merged = {**(fsspec.config.conf.get(p) or {}), **opts}
            fsspec.config.conf[p] = merged
            os.environ[f"FSSPEC_{p.upper()}"] = json.dumps(merged)
        yield
    finally:
        for p in options:
            if saved_conf[p] is None:
                fsspec.config.conf.pop(p, None)
            else:
                fsspec.config.conf[p] = saved_conf[p]
            if saved_env[p] is None:
                os.environ.pop(f"FSSPEC_{p.upper()}", None)
            else:
                os.environ[f"FSSPEC_{p.upper()}"] = saved_env[p]
