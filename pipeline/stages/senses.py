"""senses stage: every word's sparse code over the atoms → ``senses.parquet``.

Each word vector (unit-normalised like the atoms stage's, with
``atoms.normalize``) is coded with the learned dictionary by batch OMP, at
most ``atoms.sparsity`` atoms, one Dask task per block of words. With
``senses.code_all`` every vocabulary word with a vector is coded, otherwise
only the atoms stage's training words.

``senses.parquet``: one row per non-zero coefficient, ranked by |coefficient|
within the word: ``word: string, word_id: int32, rank: int8, atom_id: int32,
coefficient: float32, top_words: list<string>`` (the atom's first
``senses.top_words`` words, for reading the table alone).
``reconstruction.parquet``: ``word, relative_error`` (||x − γD|| / ||x||).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.atoms import coded_rows, dictionary_words
from tasks.senses import rank_senses

from ..artifacts.tables import read_atoms, read_vectors
from ..coding import DaskCoder
from ..errors import InputError
from ..stage import Stage
from ..storage import write_parquet


def build(ctx):
    a, s = ctx.cfg.atoms, ctx.cfg.senses
    emb, vectors = read_vectors(ctx.input_url("embeddings"))
    atoms, dictionary = read_atoms(ctx.input_url("atoms"))
    if s.code_all:
        rows, x = coded_rows(vectors, normalize=a.normalize)
    else:
        rows, x = dictionary_words(emb["count"].to_numpy(), vectors, min_count=a.min_count,
                                   max_words=a.max_words, normalize=a.normalize)
    if len(x) == 0:
        raise InputError("no word with a non-zero vector to code")
    if x.shape[1] != dictionary.shape[1]:
        raise InputError(f"atoms.parquet has {dictionary.shape[1]}-dimensional atoms but the "
                         f"vectors have {x.shape[1]} dimensions (rerun the atoms stage)")
    coder = DaskCoder(ctx.runner, a.block_rows, name="senses")
    idx, coef = coder(x, dictionary, None, a.sparsity)
    from tasks.ksvd import reconstruct  # loads scikit-learn: only when this stage runs
    residual = np.linalg.norm(x - reconstruct(idx, coef, dictionary), axis=1)
    norms = np.linalg.norm(x, axis=1)
    err = residual / norms

    word_row, rank, atom, coefficient = rank_senses(idx, coef)
    words = pa.array(emb["word"].to_pylist(), type=pa.string()).take(pa.array(rows))
    ids = emb["id"].to_numpy()[rows]
    top = pc.list_slice(atoms["top_words"].combine_chunks(), 0, s.top_words)
    table = pa.table({
        "word": words.take(pa.array(word_row)),
        "word_id": pa.array(ids[word_row], type=pa.int32()),
        "rank": pa.array(rank, type=pa.int8()),
        "atom_id": pa.array(atom, type=pa.int32()),
        "coefficient": pa.array(coefficient.astype(np.float32), type=pa.float32()),
        "top_words": top.take(pa.array(atom)),
    })
    write_parquet(ctx.output_url("senses"), table)
    write_parquet(ctx.output_url("reconstruction"),
                  pa.table({"word": words, "relative_error":
                            pa.array(err.astype(np.float32), type=pa.float32())}))
    per_word = np.bincount(word_row, minlength=len(x))
    return {"words": int(len(x)), "senses": int(len(atom)),
            "mean_senses_per_word": float(per_word.mean()),
            "words_without_sense": int((per_word == 0).sum()),
            "mean_relative_error": float(err.mean()),
            "relative_error": float(np.sqrt((residual ** 2).sum() / (norms ** 2).sum()))}


STAGE = Stage(
    name="senses",
    summary="each word's sparse code over the atoms, ranked → senses.parquet",
    reads=("embeddings", "atoms"),
    writes=("senses", "reconstruction"),
    params=("senses.code_all", "senses.top_words", "atoms.sparsity", "atoms.block_rows", "atoms.normalize",
            "atoms.min_count", "atoms.max_words"),
    build=build,
    code=("tasks._checks", "tasks.ksvd", "tasks.senses", "tasks.atoms", "pipeline.coding"),
)
