"""The run directory on any fsspec file system: atomic outputs, JSON files, a lock.

Stage outputs are written under ``<run>/.tmp/<stage>-<token>/`` and moved into
place only once complete, so a reader (or a run killed half-way) never sees a
partial output. The previous output, if any, is replaced only at that moment.
"""
from __future__ import annotations

import importlib.resources
import io
import json
import os
import socket
import time
import uuid

import fsspec
import numpy as np
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from .errors import InputError, LockError, StorageError, UsageError

__all__ = ["RunDir", "join", "to_url"]


def join(base, *parts):
    return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])


def resolve_pkg(url):
    """``pkg://package/rel/path`` → the local path of a file shipped in an installed
    package (None when the package is missing); any other URL is returned as is."""
    if not url.startswith("pkg://"):
        return url
    package, _, rel = url[len("pkg://"):].partition("/")
    try:
        root = importlib.resources.files(package)
    except (ModuleNotFoundError, TypeError):
        return None
    return str(root.joinpath(rel))


def to_url(fs, path):
    """A URL a worker process can open with ``fsspec.open`` (plain path when local)."""
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


class RunDir:
    """A run directory ``<out>/<name>``, local path or fsspec URL."""

    LOCK = ".lock"

    def __init__(self, url):
        self.url = url
        try:
            self.fs, self.root = url_to_fs(url)
        except (ValueError, ImportError) as e:
            raise UsageError(f"run.out {url!r}: unsupported location ({e})") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self._lock_owned = False

    # -- paths -----------------------------------------------------------
    def path(self, *parts):
        """File-system path of a name inside the run directory; a name leading out
        of it (``..``) is refused."""
        for part in parts:
            if ".." in str(part).replace("\\", "/").split("/"):
                raise UsageError(f"{part!r}: names in a run directory must stay inside it "
                                 f"({self.url})")
        return join(self.root, *parts)

    def url_of(self, *parts):
        return to_url(self.fs, self.path(*parts))

    def exists(self, *parts):
        return self.fs.exists(self.path(*parts))

    # -- set-up ----------------------------------------------------------
    def prepare(self):
        """Create the directory and prove it can be written, before any work."""
        probe = self.path(f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            with self.fs.open(probe, "wb") as f:
                f.write(b"ok")
            self.fs.rm(probe)
        except (OSError, PermissionError) as e:
            raise UsageError(f"output directory {self.url} cannot be written "
                             f"({e.strerror or e.__class__.__name__})") from None

    # -- lock ------------------------------------------------------------
    def acquire(self):
        """Take the run's lock or raise :class:`LockError` naming its holder."""
        lock = self.path(self.LOCK)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        for _attempt in range(2):
            try:
                self._create_exclusive(lock, json.dumps(info).encode())
                self._lock_owned = True
                return
            except FileExistsError:
                holder = self._read_lock(lock)
                if holder and self._is_stale(holder):
                    self.fs.rm(lock)
                    continue
                who = (f"pid {holder.get('pid')} on {holder.get('host')} since "
                       f"{holder.get('started')}") if holder else "another run"
                raise LockError(f"run directory {self.url} is in use by {who}; if that run "
                                f"is dead, delete {self.url_of(self.LOCK)}") from None
        raise LockError(f"could not take the lock {self.url_of(self.LOCK)}")

    def release(self):
        if self._lock_owned:
            try:
                self.fs.rm(self.path(self.LOCK))
            except FileNotFoundError:
                pass
            self._lock_owned = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def _create_exclusive(self, path, data):
        if self.local:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return
        if self.fs.exists(path):  # object stores have no O_EXCL: best effort
            raise FileExistsError(path)
        with self.fs.open(path, "wb") as f:
            f.write(data)

    def _read_lock(self, path):
        try:
            with self.fs.open(path, "rb") as f:
                return json.loads(f.read().decode() or "{}")
        except (OSError, ValueError):
            return None

    @staticmethod
    def _is_stale(holder):
        """A lock left by a dead process on this host."""
        if holder.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(holder.get("pid")), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, TypeError, ValueError):
            return False
        return False

    # -- atomic outputs --------------------------------------------------
    def tmp_dir(self, stage):
        path = self.path(".tmp", f"{stage}-{uuid.uuid4().hex[:12]}")
        self.fs.makedirs(path, exist_ok=True)
        return path

    def commit(self, tmp_path, name):
        """Move a complete output from ``tmp_path`` to ``<run>/<name>``, replacing any old one."""
        final = self.path(name)
        try:
            if self.local:
                old = None
                if os.path.lexists(final):
                    old = self.path(".tmp", f"old-{name}-{uuid.uuid4().hex[:8]}")
                    os.replace(final, old)
                os.replace(tmp_path, final)
                if old:
                    self.fs.rm(old, recursive=True)
            else:
                if self.fs.exists(final):
                    self.fs.rm(final, recursive=True)
                self.fs.mv(tmp_path, final, recursive=True)
        except OSError as e:
            raise StorageError(f"cannot move {name} into {self.url}: "
                               f"{e.strerror or e}") from None

    def discard(self, tmp_path):
        try:
            if self.fs.exists(tmp_path):
                self.fs.rm(tmp_path, recursive=True)
        except OSError:
            pass

    def clean_tmp(self):
        """Remove temporary outputs left by runs that were killed."""
        self.discard(self.path(".tmp"))

    def write_bytes(self, name, data):
        """Write a file of the run directory atomically (temporary file, then rename)."""
        final = self.path(name)
        folder, _, base = name.rpartition("/")
        tmp = self.path(folder, f".{base}.{uuid.uuid4().hex[:8]}.tmp") if folder else \
            self.path(f".{base}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            if folder:
                self.fs.makedirs(self.path(folder), exist_ok=True)
            with self.fs.open(tmp, "wb") as f:
                f.write(data)
            if self.local:
                os.replace(tmp, final)
            else:
                self.fs.mv(tmp, final)
        except OSError as e:
            self.discard(tmp)
            raise StorageError(f"cannot write {self.url_of(name)}: {e.strerror or e}") from None

    def write_json(self, name, obj):
        """Write a JSON file atomically (temporary file, then rename)."""
        self.write_bytes(name, json.dumps(obj, indent=2, sort_keys=False, default=str).encode())

    def read_json(self, name):
        """The parsed JSON file, or None when absent. Raises ValueError when unreadable."""
        try:
            with self.fs.open(self.path(name), "rb") as f:
                return json.loads(f.read().decode("utf-8"))
        except FileNotFoundError:
            return None


def update_json(run, name, update):
    """Set the JSON object in file ``name`` of the run directory to ``update(old or {})``,
    under the run's lock (so a concurrent ``wsi run`` cannot interleave), atomically.

    Returns the file's URL.
    """
    with run:
        try:
            old = run.read_json(name)
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"{run.url_of(name)}: not valid JSON (move it away to write "
                             "new results)") from None
        old = {} if old is None else old
        if not isinstance(old, dict):
            raise InputError(f"{run.url_of(name)}: not a JSON object")
        run.write_json(name, update(old))
    return run.url_of(name)


def save_npy(url, array):
    """Write one array as ``.npy`` to a local path or fsspec URL (never a pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    with fsspec.open(url, "wb") as f:
        f.write(buf.getvalue())


def load_npy(url):
    """Read an array written by :func:`save_npy`; refuses pickled objects."""
    with fsspec.open(url, "rb") as f:
        return np.load(io.BytesIO(f.read()), allow_pickle=False)


def _is_float_data(t):
    import pyarrow as pa
    while pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        t = t.value_type
    return pa.types.is_floating(t)


def read_parquet(url, what, columns=None):
    """Read a Parquet file (local path or fsspec URL) as an Arrow table; an unreadable
    one is an :class:`InputError` naming it as ``what``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        with fsspec.open(url, "rb") as f:
            return pq.ParquetFile(f).read(columns=columns)  # read_table imports pyarrow.dataset
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{url}: unreadable {what} ({e})") from None


def write_parquet(url, table, **kw):
    """Write an Arrow table as Parquet to a local path or fsspec URL.

    Float (and list-of-float) columns, e.g. vectors, are written plain and
    uncompressed: dictionary encoding and Snappy gain nothing on them and cost
    about half the write and read time; other columns keep the defaults.
    """
    import pyarrow.parquet as pq
    names = table.schema.names
    floats = {n for n in names if _is_float_data(table.schema.field(n).type)}
    opts = {"use_dictionary": [n for n in names if n not in floats],
            "compression": {n: "none" if n in floats else "snappy" for n in names}, **kw}
    with fsspec.open(url, "wb") as f:
        pq.write_table(table, f, **opts)


def open_url(url, mode="rb", **kw):
    """``fsspec.open`` for worker tasks."""
    return fsspec.open(url, mode, **kw)
