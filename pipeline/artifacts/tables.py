"""Readers and writers of the run's Parquet tables (vocabulary, vectors, atoms, senses).

Every vector table (embeddings, context vectors, induced vectors, atoms) has
a ``vector: fixed_size_list<float32>[n_dims]`` column; :func:`read_vectors`
returns it as one float32 array of shape (n_rows, n_dims).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from ..storage import read_parquet

__all__ = ["read_vocab", "vectors_table", "read_vectors", "read_sif_rows", "read_atoms",
           "read_sense_table", "read_inventory", "Inventory"]


def read_vocab(url):
    """(vocabulary table ``word, id, count``, total corpus tokens) of ``vocab.parquet``."""
    table = read_parquet(url, "vocabulary")
    meta = table.schema.metadata or {}
    return table, int(meta.get(b"total_tokens", b"0"))


def vectors_table(words, ids, counts, vectors):
    """A vector table ``word, id, count, vector`` for rows of ``vectors``.

    Parameters
    ----------
    words : sequence of str, length n_rows
    ids, counts : array-like of shape (n_rows,)
    vectors : ndarray of shape (n_rows, n_dims), stored as float32
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n_dims = vectors.shape[1]
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    return pa.table({"word": pa.array(words, type=pa.string()),
                     "id": pa.array(ids, type=pa.int32()),
                     "count": pa.array(counts, type=pa.int64()),
                     "vector": pa.FixedSizeListArray.from_arrays(flat, n_dims)})


def read_vectors(url, what="embeddings"):
    """(table without its vectors, vectors float32 of shape (n_rows, n_dims)).

    Reads any table with a fixed-size ``vector`` column (embeddings, context
    vectors, induced vectors, atoms); ``what`` names it in errors.
    """
    table = read_parquet(url, what)
    col = table["vector"].combine_chunks()
    n_dims = col.type.list_size
    vectors = col.flatten().to_numpy().reshape(-1, n_dims)
    return table.drop_columns(["vector"]), vectors


def read_sif_rows(vocab_url, embeddings_url, a):
    """(SIF-weighted word vectors a/(a + p(w)) v_w, float64, rows as in
    ``embeddings.parquet``; {word: row}) of a run: what context vectors are sums of."""
    from tasks.context import sif_weighted_vectors
    vocab, total = read_vocab(vocab_url)
    emb, vectors = read_vectors(embeddings_url)
    counts = dict(zip(vocab["word"].to_pylist(), vocab["count"].to_numpy()))
    words = emb["word"].to_pylist()
    rows, _ = sif_weighted_vectors(vectors, np.arange(len(words)),
                                   np.array([counts[w] for w in words]), total, a=float(a))
    return rows, {w: i for i, w in enumerate(words)}


def read_atoms(url):
    """(atoms table without vectors, dictionary float64 of shape (n_atoms, n_dims))."""
    table, vectors = read_vectors(url, what="atoms")
    return table, vectors.astype(np.float64)


def read_sense_table(url):
    """{word: (atom ids int array, coefficients float64 array)} by rank, from ``senses.parquet``."""
    t = read_parquet(url, "senses", columns=["word", "rank", "atom_id", "coefficient"])
    words = t["word"].to_pylist()
    atom = t["atom_id"].to_numpy()
    coef = t["coefficient"].to_numpy().astype(np.float64)
    out = {}
    start = 0
    for i in range(1, len(words) + 1):  # rows are grouped by word, ranked
        if i == len(words) or words[i] != words[start]:
            out[words[start]] = (atom[start:i], coef[start:i])
            start = i
    return out


class Inventory(Mapping):
    """{word: (mean (D,), centroids (k, D), sense ids (k,), shares (k,))} of a sense
    inventory table: float64 arrays, senses in sense_id order.

    A word's rows are converted when it is first asked for: one context needs its
    word's few rows, not the whole table (6,312 senses x 1,800 floats on the shared
    corpus, 0.3 s to convert, most of a single ``wsi assign --text``).
    """

    def __init__(self, table):
        self._table = table
        self._n_dims = table.schema.field("centroid").type.list_size
        self._rows = {}
        for i, w in enumerate(table["word"].to_pylist()):
            self._rows.setdefault(w, []).append(i)
        self._done = {}

    def __getitem__(self, word):
        return self._convert(word)[0]

    def links(self, word):
        """The atom ids naming each sense of ``word`` (``atom_ids``), in sense_id order:
        a list of int32 arrays."""
        return self._convert(word)[1]

    def _convert(self, word):
        got = self._done.get(word)
        if got is None:
            t = self._table.take(np.asarray(self._rows[word]))  # KeyError: not in it
            t = t.take(np.argsort(t["sense_id"].to_numpy(), kind="stable"))

            def matrix(column):
                return column.combine_chunks().flatten().to_numpy().reshape(
                    -1, self._n_dims).astype(np.float64)

            # every sense row repeats the word's mean: the first is converted
            got = self._done[word] = (
                (matrix(t["mean"].slice(0, 1))[0], matrix(t["centroid"]),
                 t["sense_id"].to_numpy().astype(np.int64),
                 t["share"].to_numpy().astype(np.float64)),
                [np.asarray(a or [], dtype=np.int32) for a in t["atom_ids"].to_pylist()])
        return got

    def __iter__(self):
        return iter(self._rows)

    def __len__(self):
        return len(self._rows)


def read_inventory(url):
    """The :class:`Inventory` of ``sense_inventory.parquet``."""
    return Inventory(read_parquet(url, "sense inventory",
                                  columns=["word", "sense_id", "share", "centroid", "mean",
                                           "atom_ids"]))
