"""Every stage reruns for exactly the settings it (or a stage upstream of it) declares.

The walk changes every leaf setting of ``conf/default.yaml`` in turn to another
valid value and compares each stage's fingerprint: it must change when the
setting is declared by the stage or by one of the stages whose outputs it reads
(under either configuration), and must stay the same otherwise.
"""
from __future__ import annotations

import typing

import pytest

from pipeline import registry
from pipeline.config import Config, load_config
from pipeline.stage import ScopedConfig


def _leaves(model_cls, data, prefix=""):
    """(dotted key, value, annotation) of every leaf setting."""
    for name, field in model_cls.model_fields.items():
        key = f"{prefix}{name}"
        ann = field.annotation
        value = data[name]
        if isinstance(ann, type) and hasattr(ann, "model_fields") and isinstance(value, dict):
            yield from _leaves(ann, value, key + ".")
        else:
            yield key, value, ann


def _other(value, ann):
    """Another value of the same type, or None when none can be made up."""
    args = typing.get_args(ann)
    if typing.get_origin(ann) is typing.Literal:
        others = [a for a in args if a != value]
        return others[0] if others else None
    if typing.get_origin(ann) is typing.Union:  # Optional[X]
        inner = [a for a in args if a is not type(None)]
        if value is None:
            return None
        return _other(value, inner[0]) if len(inner) == 1 else None
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 0.5 if value > 0 else 0.25
    if isinstance(value, str):
        return value + "x"
    return None


def _set(data, key, value):
    node = data
    *path, last = key.split(".")
    for p in path:
        node = node[p]
    node[last] = value


def _fingerprints(cfg):
    out = {}
    for name in registry.STAGES:
        stage = registry.get(name)
        external = None
        if stage.inputs is not None and name != "corpus":
            external = stage.inputs(stage.scoped(cfg))
        ups = registry.upstream(name, cfg)
        out[name] = stage.fingerprint(cfg, {u: out[u] for u in ups}, external)
    return out


def _declared(name, cfg):
    """Settings stage ``name`` and the stages upstream of it declare under ``cfg``."""
    return {p for s in registry.closure([name], cfg) for p in registry.get(s).params}


def _covers(params, key):
    return any(key == p or key.startswith(p + ".") for p in params)


def test_a_setting_reruns_exactly_the_stages_that_declare_it():
    base = load_config()
    data = base.model_dump(mode="json")
    before = _fingerprints(base)
    walked = 0
    for key, value, ann in _leaves(Config, data):
        new = _other(value, ann)
        if new is None:
            continue
        changed = base.model_dump(mode="json")
        _set(changed, key, new)
        try:
            cfg = Config.model_validate(changed)
        except Exception:  # noqa: BLE001 - not a valid value: nothing to compare
            continue
        after = _fingerprints(cfg)
        walked += 1
        for name in registry.STAGES:
            declared = _declared(name, base) | _declared(name, cfg)
            if _covers(declared, key):
                assert after[name] != before[name], f"{key} is declared but {name} is cached"
            else:
                assert after[name] == before[name], f"{key} is not declared but reruns {name}"
    assert walked > 60  # most settings were really changed


@pytest.mark.parametrize("method,reruns", [("word2vec", False), ("fasttext", False),
                                           ("ppmi_svd", True), ("glove", True)])
def test_cooc_window_retrains_only_the_count_based_embeddings(method, reruns):
    a = load_config(sets=[f"embed.method={method}"])
    b = load_config(sets=[f"embed.method={method}", "cooc.window=2"])
    assert (_fingerprints(a)["embed"] != _fingerprints(b)["embed"]) == reruns
    # the context vectors use the window whatever the trainer
    assert _fingerprints(a)["context"] != _fingerprints(b)["context"]


def test_a_build_cannot_read_an_undeclared_setting():
    cfg = load_config()
    scoped = ScopedConfig(cfg, ("cooc.window", "atoms"))
    assert scoped.cooc.window == cfg.cooc.window
    assert scoped.atoms.n_atoms == cfg.atoms.n_atoms  # a whole section
    with pytest.raises(AttributeError, match="cooc.block_nnz is not declared"):
        scoped.cooc.block_nnz
    with pytest.raises(AttributeError, match="run is not declared"):
        scoped.run
    with pytest.raises(AttributeError):
        scoped.cooc = None


def test_every_stage_declares_only_catalogued_artifacts_and_known_settings():
    cfg = load_config()
    for stage in registry.STAGES.values():
        for key in stage.params:
            cfg.section(key)  # raises KeyError for a setting that does not exist
        assert stage.writes, stage.name
    # every artifact a stage reads is written by exactly one stage upstream of it
    producers = registry.producers()
    for stage in registry.STAGES.values():
        for a in stage.reads:
            assert producers[a] in registry.closure([stage.name])
