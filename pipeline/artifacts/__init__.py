"""The artifact catalog: every file a run directory holds, named once.

Stages declare the artifacts they read and write by catalog name
(:class:`pipeline.stage.Stage`); the registry derives the stage graph from
them, and a stage reaches its inputs and outputs only through those names
(``ctx.input_url("vocab")``, ``ctx.output_url("vocab")``). Moving an artifact
or changing its file name touches one line here.

Readers and writers of the artifacts' formats live beside the catalog:
:mod:`.tables` (Parquet tables and ``.npy`` arrays), :mod:`.corpus` (the
tokenised shards) and :mod:`.cooc` (co-occurrence parts and their raw CSR
work files).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

__all__ = ["Artifact", "CATALOG", "get", "path_of"]


@dataclass(frozen=True)
class Artifact:
    """One named output of a run directory.

    Attributes
    ----------
    name : str
        Catalog name, used by stages and commands.
    path : str
        Location inside the run directory (a file, or a directory of parts).
    schema : str
        Its format and columns, for ``wsi stages`` and the README.
    """

    name: str
    path: str
    schema: str


_ARTIFACTS = (
    Artifact("corpus", "corpus",
             "part-*.txt: one document per line, tokens joined by spaces; _index.json: each "
             "input file's shards in document order"),
    Artifact("vocab", "vocab.parquet",
             "word: string, id: int32, count: int64 (count desc, then word); metadata "
             "total_tokens"),
    Artifact("word_counts", "vocab.counts.parquet",
             "word, count of every distinct word; metadata: the shards covered"),
    Artifact("cooc", "cooc",
             "part-*.parquet: row: int32, col: int32, count: int64, weighted: float64; "
             "_state.json: the vocabulary and shards the parts sum over"),
    Artifact("embeddings", "embeddings.parquet",
             "word, id, count, vector: fixed_size_list<float32>"),
    Artifact("embeddings_kv", "embeddings.kv", "the vectors as gensim KeyedVectors"),
    Artifact("embeddings_w2v", "embeddings.w2v.txt", "the vectors as word2vec text"),
    Artifact("context_vectors", "context_vectors.parquet",
             "word, id, count, vector: each word's SIF-weighted average context vector"),
    Artifact("common_directions", "context_common.npy",
             "float64 (n_common, n_dims): the common discourse directions"),
    Artifact("induced", "induced.parquet",
             "word, count, vector, source (trained | induced)"),
    Artifact("induction_map", "induction_map.npy", "float64 (n_dims, n_dims): A of v = A u + b"),
    Artifact("induction_intercept", "induction_intercept.npy", "float64 (n_dims,): b"),
    Artifact("induction_common", "induction_common.npy",
             "float64 (n_common, n_dims): common directions removed from the map's input"),
    Artifact("induction_blocks", "induction_blocks.npy",
             "float64 (n_blocks, 3): start, end, norm of each rescaled block of an induced "
             "vector (no rows: not rescaled)"),
    Artifact("atoms", "atoms.parquet",
             "atom_id: int32, vector, usage: int64, top_words: list<string>, "
             "top_similarities: list<float32>"),
    Artifact("senses", "senses.parquet",
             "word, word_id, rank: int8, atom_id, coefficient: float32, top_words"),
    Artifact("reconstruction", "reconstruction.parquet", "word, relative_error: float32"),
    Artifact("occurrences", "occurrences",
             "part-*.parquet: document, position, word, atom_id, score, scores"),
    Artifact("sense_inventory", "sense_inventory.parquet",
             "word, word_id, sense_id: int16 (by share desc), share: float32, n_occurrences, "
             "centroid, mean: fixed_size_list<float32> (multi-scale context space), atom_ids: "
             "list<int32>, top_words: list<string>, examples: list<string>"),
    Artifact("metrics", "metrics.json", "word similarity and analogy scores"),
    # Written by commands, not stages (each evaluation its own file).
    Artifact("semeval_metrics", "evaluations/semeval2013.json",
             "SemEval-2013 Task 13 scores (wsi evaluate semeval2013)"),
    Artifact("lineup_metrics", "evaluations/lineup.json",
             "police-lineup precision and recall (wsi evaluate lineup)"),
    Artifact("lineup_testset", "lineup_testset.jsonl", "the lineup test set, one word a line"),
    Artifact("planted_metrics", "evaluations/planted.json",
             "recovery of planted senses (wsi evaluate planted)"),
    Artifact("senseval2_metrics", "evaluations/senseval2.json",
             "senseval2_ls development-set V-measure, ARI, paired F per word and mean, "
             "with the k-means baseline (wsi evaluate senseval2)"),
    Artifact("manifest", "manifest.json", "configuration, versions and per-stage records"),
    Artifact("report", "report.html", "the run's self-contained HTML report"),
)

CATALOG = {a.name: a for a in _ARTIFACTS}


def get(name):
    """The :class:`Artifact` called ``name``."""
    try:
        return CATALOG[name]
    except KeyError:
        raise UsageError(f"unknown artifact {name!r}; artifacts are: "
                         f"{', '.join(CATALOG)}") from None


def path_of(name):
    """Location of artifact ``name`` inside a run directory."""
    return get(name).path
