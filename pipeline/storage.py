"""The run directory on any fsspec file system: atomic outputs, JSON files, a lock.

Stage outputs are written under a fresh attempt prefix and published by the
manifest, the one small file written last (see :class:`RunDir`), so a reader (or
a run killed half-way) never sees a partial output, on a local disk, NFS or an
object store alike. The previous output is replaced only at that moment.

Longer than 400 lines because :class:`RunDir` is one protocol: the attempt prefixes,
publication through the manifest, the stable links, garbage collection and the lease
lock all rest on the same layout and must change together.
"""
from __future__ import annotations

import importlib.resources
import io
import json
import os
import socket
import threading
import time
import uuid

import fsspec
import numpy as np
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from .errors import InputError, LockError, StorageError, UsageError

__all__ = ["RunDir", "join", "output_url", "put_whole", "to_url"]


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


def put_whole(fs, path, data, local):
    """Write one whole file that readers see complete or not at all: one PUT on an
    object store, a temporary file and ``os.replace`` on a local disk (the temporary
    file removed if that fails)."""
    if not local:
        fs.pipe_file(path, data)
        fs.invalidate_cache(path)
        return
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


class RunDir:
    """A run directory ``<out>/<name>``, local path or fsspec URL.

    Commit protocol (no rename of a directory anywhere, so it holds on object
    stores): a stage writes its outputs under a fresh attempt prefix
    ``_attempts/<stage>-<time>-<random>/``; they are published by writing
    ``manifest.json`` (one PUT on an object store, a temporary file and
    ``os.replace`` on a local disk), whose ``outputs`` map names each output's
    published location. :meth:`path` resolves a name through that map, so
    readers only ever see published outputs. Attempts the map does not name
    (a killed or failed stage's, a replaced output's) are garbage, deleted by
    the next writer under the lock and never read. On a local disk (and NFS)
    ``<run>/<name>`` is also a symbolic link to the published output, swapped
    atomically, for other tools (pandas, DuckDB, shell).
    """

    LOCK = ".lock"
    ATTEMPTS = "_attempts"
    MANIFEST = "manifest.json"

    def __init__(self, url, lease_seconds=600):
        self.url = url
        try:
            # No cached directory listings: other processes (the workers) write here.
            self.fs, self.root = url_to_fs(url, use_listings_cache=False)
        except (ValueError, ImportError) as e:
            raise UsageError(f"run.out {url!r}: unsupported location ({e})") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self.lease_seconds = lease_seconds
        self._lock_owned = False
        self._lock_token = None
        self._heartbeat = None
        self.renew_on_enter = True  # False: the owner calls start_heartbeat() itself
        self._outputs = None  # published name -> path relative to the root; None: not loaded
        self._managed = False  # the writer sets the outputs; a reader follows the manifest
        self._version = None

    # -- paths -----------------------------------------------------------
    @property
    def outputs(self):
        """{published name: its location relative to the run directory} (``manifest.json``'s
        ``outputs``; empty for a run directory written before attempts existed, whose
        outputs sit at their names)."""
        if self._managed:
            return self._outputs
        # A reader: follow the manifest as other runs publish (a cheap stat decides).
        version = self._manifest_version()
        if self._outputs is None or version != self._version:
            try:
                manifest = self.read_json(self.MANIFEST)
            except (ValueError, UnicodeDecodeError, OSError):
                manifest = None
            found = manifest.get("outputs") if isinstance(manifest, dict) else None
            self._outputs = ({k: v for k, v in found.items() if _inside(v)}
                             if isinstance(found, dict) else {})
            self._version = version
        return self._outputs

    def _manifest_version(self):
        path = join(self.root, self.MANIFEST)
        try:
            if self.local:
                st = os.stat(path)
                return (st.st_ino, st.st_mtime_ns, st.st_size)
            info = self.fs.info(path)
            return tuple(str(info.get(k)) for k in ("ETag", "etag", "mtime", "LastModified",
                                                    "size", "generation", "created"))
        except (OSError, ValueError):
            return None

    def set_outputs(self, outputs):
        """Take the published outputs from the writer (the lock holder), which keeps
        them from now on instead of reading the manifest."""
        self._managed = True
        self._outputs = {k: v for k, v in dict(outputs).items() if _inside(v)}

    def path(self, *parts):
        """File-system path of a name inside the run directory (a published output's
        current location); a name leading out of it (``..``) is refused."""
        for part in parts:
            if not _inside(part):
                raise UsageError(f"{part!r}: names in a run directory must stay inside it "
                                 f"({self.url})")
        rel = "/".join(str(p).strip("/") for p in parts)
        head, sep, rest = rel.partition("/")
        where = self.outputs.get(head) if head not in (self.MANIFEST, self.LOCK) else None
        if where:
            rel = where + sep + rest
        return join(self.root, rel)

    def url_of(self, *parts):
        return to_url(self.fs, self.path(*parts))

    def exists(self, *parts):
        return self.fs.exists(self.path(*parts))

    # -- set-up ----------------------------------------------------------
    def prepare(self):
        """Create the directory and prove it can be written, before any work."""
        probe = join(self.root, f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}")
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
        """Take the run's lock or raise :class:`LockError` naming its holder.

        The lock is a lease: ``.lock`` names its holder and when it last renewed
        it; a thread renews it every third of ``lease_seconds``. It is taken over
        when its holder is a dead process on this host, or when its lease has
        expired (a holder on another host that died).
        """
        lock = join(self.root, self.LOCK)
        self._lock_token = uuid.uuid4().hex
        for _attempt in range(3):
            try:
                self._create_exclusive(lock, self._lock_info())
            except FileExistsError:
                holder = self._read_lock(lock)
                if holder and self._is_stale(holder):
                    try:
                        self.fs.rm(lock)
                    except FileNotFoundError:
                        pass
                    continue
                who = (f"pid {holder.get('pid')} on {holder.get('host')} since "
                       f"{holder.get('started')}") if holder else "another run"
                raise LockError(f"run directory {self.url} is in use by {who}; if that run "
                                f"is dead, delete {to_url(self.fs, lock)}") from None
            if not self.local:
                # Where the store cannot create only-if-absent (see _create_exclusive),
                # two takers may both believe they won: the last writer's token stays.
                time.sleep(0.05)
                if (self._read_lock(lock) or {}).get("token") != self._lock_token:
                    continue
            self._lock_owned = True
            if self.renew_on_enter:
                self.start_heartbeat()
            return
        raise LockError(f"could not take the lock {to_url(self.fs, lock)}")

    def _lock_info(self):
        now = time.time()
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "token": self._lock_token,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "renewed": now, "lease_seconds": self.lease_seconds}).encode()

    def start_heartbeat(self):
        """Renew the lease from a thread until :meth:`release`. ``wsi run`` starts it
        once its scheduler has forked its worker pool (forking is only safe while a
        process has one thread)."""
        if self._heartbeat is not None or not self._lock_owned:
            return
        stop = threading.Event()
        lock = join(self.root, self.LOCK)

        def renew():
            while not stop.wait(max(1.0, self.lease_seconds / 3)):
                try:
                    holder = self._read_lock(lock) or {}
                    if holder.get("token") != self._lock_token:
                        return  # taken over: check_lock() refuses the next publication
                    self._put(lock, self._lock_info())
                except Exception:  # a transient storage error: retry at the next beat
                    pass

        t = threading.Thread(target=renew, name="wsi-lock-lease", daemon=True)
        t.start()
        self._heartbeat = (stop, t)

    def check_lock(self):
        """Raise :class:`LockError` when another run took this run's lock over (its
        lease expired): the caller must not publish."""
        if not self._lock_owned:
            return
        holder = self._read_lock(join(self.root, self.LOCK))
        if not holder or holder.get("token") != self._lock_token:
            raise LockError(f"run directory {self.url}: this run's lock was taken over "
                            f"(lease expired?); its last stage is not published")

    def release(self):
        if self._heartbeat is not None:
            stop, t = self._heartbeat
            stop.set()
            t.join()
            self._heartbeat = None
        if self._lock_owned:
            lock = join(self.root, self.LOCK)
            if (self._read_lock(lock) or {}).get("token") in (self._lock_token, None):
                try:
                    self.fs.rm(lock)
                except FileNotFoundError:
                    pass
            self._lock_owned = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def _create_exclusive(self, path, data):
        """Create ``path`` only if absent (FileExistsError otherwise): ``O_EXCL`` on a
        local disk or NFS; a conditional PUT (``If-None-Match: *``) on S3; elsewhere
        fsspec's check-then-write, which a concurrent writer can race."""
        if self.local:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return
        self.fs.invalidate_cache(path)
        try:
            self.fs.pipe_file(path, data, mode="create")
        except TypeError:  # a file system without the mode: check, then write
            if self.fs.exists(path):
                raise FileExistsError(path) from None
            self.fs.pipe_file(path, data)

    def _read_lock(self, path):
        try:
            self.fs.invalidate_cache(path)
            with self.fs.open(path, "rb") as f:
                return json.loads(f.read().decode() or "{}")
        except (OSError, ValueError):
            return None

    @staticmethod
    def _is_stale(holder):
        """A lock left by a dead process on this host, or whose lease has expired."""
        try:
            renewed, lease = float(holder["renewed"]), float(holder["lease_seconds"])
            if time.time() > renewed + lease:
                return True
        except (KeyError, TypeError, ValueError):
            pass  # a lock without a lease never expires
        if holder.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(holder.get("pid")), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, TypeError, ValueError):
            return False
        return False

    # -- attempts and publication ------------------------------------------
    def attempt_dir(self, stage):
        """A fresh attempt prefix ``_attempts/<stage>-<time>-<random>`` (full path)."""
        name = f"{stage}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        path = join(self.root, self.ATTEMPTS, name)
        self.fs.makedirs(path, exist_ok=True)
        return path

    def relative(self, path):
        """``path`` (inside the run directory) relative to its root."""
        root = self.root.rstrip("/") + "/"
        if not path.startswith(root):
            raise ValueError(f"{path} is not inside {self.root}")
        return path[len(root):]

    def publish(self, outputs):
        """Point each name of ``outputs`` ({name: full path}) at its new location, in
        memory; the caller then writes the manifest (the publication itself) and calls
        :meth:`after_publish`. Returns the locations they replace."""
        replaced = {n: self.outputs.get(n) for n in outputs}
        self._outputs = {**self.outputs, **{n: self.relative(p) for n, p in outputs.items()}}
        return replaced

    def after_publish(self, names, replaced=None):
        """Once the manifest is written: on a local disk point ``<run>/<name>`` at the
        published output (an atomic symlink swap); delete what the names replaced."""
        for name in names:
            if self.local:
                self._link(name)
            elif replaced is not None and replaced.get(name) is None:
                # an output of a run directory written before attempts existed
                legacy = join(self.root, name)
                if self.fs.exists(legacy):
                    self.fs.rm(legacy, recursive=True)
        self.collect_garbage()

    def _link(self, name):
        target = self.outputs[name]
        final = join(self.root, name)
        link = join(self.root, f".{name}.{uuid.uuid4().hex[:8]}.link")
        rel = os.path.relpath(join(self.root, target), os.path.dirname(final))
        try:
            os.symlink(rel, link)
            try:
                os.replace(link, final)
            except IsADirectoryError:
                # ``<run>/<name>`` is an output directory of the layout without attempts
                self.fs.rm(final, recursive=True)
                os.replace(link, final)
        except OSError:  # no symbolic links here: the manifest still names the output
            if os.path.lexists(link):
                os.unlink(link)

    def collect_garbage(self, keep=()):
        """Delete attempts the published outputs do not use (a killed or failed stage's,
        replaced outputs), dangling links to them, and the temporary folder of earlier
        versions. Only the lock holder calls this."""
        live = {"/".join(v.split("/")[:2]) for v in self.outputs.values()
                if v.startswith(self.ATTEMPTS + "/")}
        live |= {self.relative(k) for k in keep}
        base = join(self.root, self.ATTEMPTS)
        try:
            entries = self.fs.ls(base, detail=False, refresh=True) \
                if not self.local else [join(base, n) for n in os.listdir(base)]
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        for entry in entries:
            if self.relative(entry.rstrip("/")) not in live:
                self.discard(entry)
        if self.local:
            for name in os.listdir(self.root):
                path = join(self.root, name)
                if os.path.islink(path) and name not in self.outputs and \
                        os.readlink(path).startswith(self.ATTEMPTS + "/"):
                    os.unlink(path)
                elif name.endswith(".link") and name.startswith("."):
                    os.unlink(path)
        self.discard(join(self.root, ".tmp"))

    # -- temporary folders (wsi synth) ----------------------------------
    def tmp_dir(self, stage):
        path = join(self.root, ".tmp", f"{stage}-{uuid.uuid4().hex[:12]}")
        self.fs.makedirs(path, exist_ok=True)
        return path

    def commit(self, tmp_path, name):
        """Move a complete output from ``tmp_path`` to ``<run>/<name>``, replacing any
        old one (``wsi synth``'s files; the stages publish attempts instead). Atomic on
        a local disk; on an object store the files are copied one by one, so the
        caller writes its own marker last (``synth.json``)."""
        final = join(self.root, name)
        try:
            if self.local:
                old = None
                if os.path.lexists(final):
                    old = join(self.root, ".tmp", f"old-{name}-{uuid.uuid4().hex[:8]}")
                    os.replace(final, old)
                os.replace(tmp_path, final)
                if old:
                    self.fs.rm(old, recursive=True)
                return
            if self.fs.exists(final):
                self.fs.rm(final, recursive=True)
            if self.fs.isdir(tmp_path):
                for src in self.fs.find(tmp_path):
                    self.fs.copy(src, final + src[len(tmp_path.rstrip("/")):])
            else:
                self.fs.copy(tmp_path, final)
            self.fs.rm(tmp_path, recursive=True)
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
        self.discard(join(self.root, ".tmp"))

    # -- single files ------------------------------------------------------
    def _put(self, path, data):
        """Write one whole file: one PUT on an object store (atomic there), a
        temporary file and ``os.replace`` on a local disk."""
        put_whole(self.fs, path, data, self.local)

    def write_bytes(self, name, data):
        """Write a file of the run directory atomically; the manifest only while this
        run still holds the lock."""
        if name == self.MANIFEST:
            self.check_lock()
        path = self.path(name)
        try:
            folder = name.rpartition("/")[0]
            if folder and self.local:  # e.g. evaluations/NAME.json
                os.makedirs(self.path(folder), exist_ok=True)
            self._put(os.path.realpath(path) if self.local else path, data)
        except OSError as e:
            raise StorageError(f"cannot write {self.url_of(name)}: {e.strerror or e}") from None

    def write_json(self, name, obj):
        """Write a JSON file atomically (one PUT, or temporary file then rename)."""
        self.write_bytes(name, json.dumps(obj, indent=2, sort_keys=False, default=str).encode())

    def read_json(self, name):
        """The parsed JSON file, or None when absent. Raises ValueError when unreadable."""
        path = self.path(name)
        try:
            if not self.local:
                self.fs.invalidate_cache(path)
            with self.fs.open(path, "rb") as f:
                return json.loads(f.read().decode("utf-8"))
        except FileNotFoundError:
            return None


def _inside(rel):
    """Whether a relative name stays inside the run directory (no ``..``)."""
    return isinstance(rel, str) and ".." not in rel.replace("\\", "/").split("/")


def output_url(run_url, name):
    """The URL of a run's published output ``name`` (e.g. ``"cooc"``,
    ``"senses.parquet"``), resolved through its ``manifest.json``: for reading a run
    on an object store with other tools."""
    return RunDir(run_url.rstrip("/")).url_of(name)


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
    """Write an Arrow table as Parquet to a local path, fsspec URL or file object.

    Float (and list-of-float) columns, e.g. vectors, are written plain and
    uncompressed: dictionary encoding and Snappy gain nothing on them and cost
    about half the write and read time; other columns keep the defaults.
    """
    import pyarrow.parquet as pq
    names = table.schema.names
    floats = {n for n in names if _is_float_data(table.schema.field(n).type)}
    opts = {"use_dictionary": [n for n in names if n not in floats],
            "compression": {n: "none" if n in floats else "snappy" for n in names}, **kw}
    if not isinstance(url, (str, os.PathLike)):  # a writable file object
        pq.write_table(table, url, **opts)
        return
    with fsspec.open(url, "wb") as f:
        pq.write_table(table, f, **opts)


def open_url(url, mode="rb", **kw):
    """``fsspec.open`` for worker tasks."""
    return fsspec.open(url, mode, **kw)
