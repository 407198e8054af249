"""Reading the user's input files that are not corpora: evaluation sets and JSONL batches.

Every reader names the file (and line) at fault in its errors.
"""
from __future__ import annotations

import json

import fsspec

from .errors import InputError
from .storage import resolve_pkg

__all__ = ["evaluation_files", "read_text_lines", "similarity_sets", "read_jsonl",
           "open_wordnet"]


def _resolve(path):
    """(url or None when missing, stat or None) of an evaluation file."""
    url = resolve_pkg(path)
    try:
        fs, p = fsspec.core.url_to_fs(url)
        info = fs.info(p)
    except (FileNotFoundError, OSError, ValueError, TypeError):
        return None, None
    return url, {"size": info.get("size"), "mtime": str(info.get("mtime", ""))}


def evaluation_files(ev):
    """The evaluation data of an ``evaluate`` config section.

    Returns
    -------
    list of (kind, name, path, url or None, stat or None)
        ``kind`` is ``similarity`` or ``analogies``; ``url`` is None when the
        file is missing; ``stat`` holds its size and mtime.
    """
    out = [("similarity", s.name, s.path) for s in ev.similarity]
    if ev.analogies:
        out.append(("analogies", "analogies", ev.analogies))
    return [(kind, name, path, *_resolve(path)) for kind, name, path in out]


def read_text_lines(url):
    """The lines of a text file (local path or fsspec URL), invalid UTF-8 replaced."""
    with fsspec.open(url, "rb") as f:
        return f.read().decode("utf-8", errors="replace").splitlines()


def similarity_sets(ev):
    """[(name, path, pairs)] of the similarity sets of ``ev`` whose file exists."""
    from tasks.evaluation import read_pairs
    out = []
    for name, path in ((s.name, s.path) for s in ev.similarity):
        url, _st = _resolve(path)
        if url is not None:
            try:
                pairs = read_pairs(read_text_lines(url), lowercase=ev.lowercase, name=path)
            except ValueError as e:
                raise InputError(str(e)) from None
            out.append((name, path, pairs))
    return out


def read_jsonl(url):
    """Yield ``(line number, object or None, error or None)`` for each non-blank line.

    A line that is not valid JSON, or not a JSON object, yields its error text
    instead of failing the whole file: batches keep every good line's result.
    A file that cannot be opened is an :class:`InputError`.
    """
    try:
        f = fsspec.open(url, "rt", encoding="utf-8", errors="replace").open()
    except OSError as e:
        raise InputError(f"{url}: cannot read ({e})") from None
    with f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as e:
                yield lineno, None, f"not valid JSON ({e.msg} at column {e.colno})"
                continue
            if not isinstance(item, dict):
                yield lineno, None, f"expected a JSON object, got {type(item).__name__}"
                continue
            yield lineno, item, None


def open_wordnet(path):
    """A :class:`tasks.wordnet.WordNet` reading the database files of directory ``path``.

    Raises
    ------
    FileNotFoundError
        When the directory or one of its index/data files is missing.
    """
    import os

    from tasks.wordnet import FILES, WordNet
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"WordNet directory {path} not found")
    for name in FILES:
        if not os.path.isfile(os.path.join(path, name)):
            raise FileNotFoundError(f"WordNet directory {path} has no {name}")

    def read(name):
        try:
            with open(os.path.join(path, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
    return WordNet(read)
