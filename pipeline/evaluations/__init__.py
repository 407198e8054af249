"""Evaluations of a finished run's senses: SemEval-2013 Task 13 (:mod:`.semeval`), the
police lineup (:mod:`.lineup`), planted senses (:mod:`.planted`) and the senseval2_ls
development set (:mod:`.senseval2`).

Each writes its own declared artifact (``evaluations/<name>.json``, see
:mod:`pipeline.artifacts`), never another stage's output.
"""
from __future__ import annotations


from .. import artifacts
from ..storage import update_json

__all__ = ["save_result", "load_results", "EVALUATION_ARTIFACTS"]

# evaluation name -> catalog name of the file it writes
EVALUATION_ARTIFACTS = {"semeval2013": "semeval_metrics", "lineup": "lineup_metrics",
                        "planted": "planted_metrics", "senseval2": "senseval2_metrics"}


def save_result(run, evaluation, update):
    """Write evaluation ``evaluation``'s file as ``update(old content or {})``; its URL."""
    return update_json(run, artifacts.path_of(EVALUATION_ARTIFACTS[evaluation]), update)


def load_results(run):
    """{evaluation name: its saved result} for the evaluations a run has."""
    out = {}
    for name, artifact in EVALUATION_ARTIFACTS.items():
        try:
            data = run.read_json(artifacts.path_of(artifact))
        except (ValueError, UnicodeDecodeError):
            data = None
        if data is not None:
            out[name] = data
    return out
