"""Configuration: YAML files merged in order, validated into frozen models.

Resolution order (later wins): ``conf/default.yaml`` → each ``-c FILE`` →
each ``--set dotted.key=value`` (the value is parsed as YAML) → command-line
flags such as ``--out``. Every default lives in ``conf/default.yaml``; the
models below only say what is allowed, so a setting cannot hide in code.

Longer than 400 lines because it holds one validated model per section of
``conf/default.yaml`` beside the loader and its error messages, which name the keys of
all of them.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from .errors import ConfigError

# the ways `wsi assign` labels an occurrence (senses.method; assign/evaluate --method)
SENSE_METHODS = ("cluster", "inventory", "atoms")

__all__ = ["Config", "load_config", "DEFAULT_CONFIG", "CONF_DIR", "parse_set"]

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
DEFAULT_CONFIG = CONF_DIR / "default.yaml"

Format = Literal["lines", "paragraphs", "wikidump", "senseval"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RunConfig(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
    out: str = Field(min_length=1)
    scheduler: str = Field(pattern=r"^(auto|threads|processes|sync|local:[1-9][0-9]*|tcp://.+)$")
    workers: Optional[int] = Field(ge=1)
    process_min_bytes: int = Field(ge=0)
    split_every: int = Field(ge=2)
    report: bool
    incremental: bool
    storage_options: dict[str, dict[str, Any]]
    lock_lease_seconds: float = Field(gt=0)

    @field_validator("storage_options")
    @classmethod
    def _protocols(cls, v):
        for protocol in v:
            if not protocol.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"{protocol!r} is not an fsspec protocol name (s3, gcs, abfs, ...)")
        return v


class PathItem(_Section):
    path: str = Field(min_length=1)
    format: Optional[Format] = None


class CorpusConfig(_Section):
    paths: list[Union[str, PathItem]] = Field(min_length=1)
    format: Format
    lowercase: bool
    encoding: str
    blocksize: int = Field(ge=4096)
    shard_bytes: int = Field(ge=4096)
    max_document_chars: int = Field(ge=16)

    @field_validator("paths", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, (str, dict)) else v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v):
        import codecs
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown text encoding {v!r}") from None
        return v

    def items(self):
        """``[(path, format), ...]`` with the section's default format filled in."""
        return [(p, self.format) if isinstance(p, str) else (p.path, p.format or self.format)
                for p in self.paths]


class VocabConfig(_Section):
    min_count: int = Field(ge=1)
    max_size: Optional[int] = Field(ge=1)


class CoocConfig(_Section):
    window: int = Field(ge=1)
    join_documents: int = Field(ge=1)
    block_nnz: int = Field(ge=1)


Method = Literal["word2vec", "fasttext", "glove", "ppmi_svd", "pretrained", "combined"]
VectorFormat = Literal["word2vec", "word2vec_binary", "glove", "fasttext"]


class EmbedConfig(_Section):
    method: Method
    vector_size: int = Field(ge=1, le=10000)
    window: int = Field(ge=1)
    min_count: Optional[int] = Field(ge=1)
    epochs: int = Field(ge=1)
    seed: int = Field(ge=0)
    workers: Optional[int] = Field(ge=1)
    sg: Literal[0, 1]
    hs: Literal[0, 1]
    negative: int = Field(ge=0)
    ns_exponent: float
    sample: float = Field(ge=0)
    alpha: float = Field(gt=0)
    min_alpha: float = Field(ge=0)
    shrink_windows: bool
    min_n: int = Field(ge=1)
    max_n: int = Field(ge=1)
    bucket: int = Field(ge=1)
    x_max: float = Field(gt=0)
    weighting_exponent: float = Field(gt=0)
    learning_rate: float = Field(gt=0)
    cds: float = Field(gt=0, le=1)
    shift: float = Field(ge=1)
    eig: float = Field(ge=0)
    add_context: bool
    normalize_parts: bool
    ppmi_input: Literal["count", "weighted"]
    oversample: int = Field(ge=0)
    power_iterations: int = Field(ge=0)
    path: Optional[str]
    format: VectorFormat
    components: list[dict]

    @model_validator(mode="after")
    def _check_components(self):
        if self.method != "combined":
            return self
        if not self.components:
            raise ValueError("embed.method=combined needs embed.components "
                             "(a list of {weight: ..., method: ..., other embed settings})")
        for i, comp in enumerate(self.components):
            self.component(i)
        return self

    def component(self, i):
        """Settings of component ``i`` of a combined method: (weight, EmbedConfig)."""
        comp = dict(self.components[i])
        weight = comp.pop("weight", None)
        where = f"embed.components[{i}]"
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            raise ValueError(f"{where}.weight: a number > 0 is required (got {weight!r})")
        if comp.get("method") in (None, "combined") or "components" in comp:
            raise ValueError(f"{where}.method: one of word2vec, fasttext, glove, ppmi_svd, "
                             f"pretrained is required (got {comp.get('method')!r})")
        base = self.model_dump()
        base.update(components=[])
        unknown = sorted(set(comp) - set(base))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}")
        try:
            return float(weight), EmbedConfig.model_validate({**base, **comp})
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{where}.{key}: {err['msg']} (got {err.get('input')!r})") \
                from None


class SimilaritySet(_Section):
    name: str = Field(min_length=1)
    path: str = Field(min_length=1)


class EvaluateConfig(_Section):
    similarity: list[SimilaritySet]
    analogies: Optional[str]
    analogy_restrict: int = Field(ge=1)
    lowercase: bool


class ContextConfig(_Section):
    sif_a: float = Field(gt=0)
    remove_components: int = Field(ge=0)


class InduceConfig(_Section):
    min_count: int = Field(ge=1)
    window: int = Field(ge=1)
    ridge: float = Field(ge=0)
    weights: Literal["none", "log", "sqrt"]
    fit_intercept: bool
    rescale: bool
    holdout: float = Field(ge=0, lt=1)
    rarity_min_count: int = Field(ge=1)
    seed: int = Field(ge=0)
    targets: list[str]
    evaluation_targets: bool


class AtomsConfig(_Section):
    n_atoms: int = Field(ge=1)
    sparsity: int = Field(ge=1)
    iterations: int = Field(ge=1)
    tol: float = Field(ge=0)
    restarts: int = Field(ge=1)
    seed: int = Field(ge=0)
    min_count: int = Field(ge=1)
    max_words: Optional[int] = Field(ge=1)
    normalize: bool
    block_rows: int = Field(ge=1)
    top_words: int = Field(ge=1)
    top_words_min_count: int = Field(ge=1)


class SensesConfig(_Section):
    code_all: bool
    top_words: int = Field(ge=1)
    assign_max: int = Field(ge=0)
    method: Literal[SENSE_METHODS]
    windows: list[int] = Field(min_length=1)
    clusters: int = Field(ge=1)
    min_batch: int = Field(ge=1)
    min_excess: float
    background: int = Field(ge=0)
    n_init: int = Field(ge=1)
    fit_dims: int = Field(ge=0)
    fit_rows_per_dim: int = Field(ge=0)
    merge: float = Field(ge=-1, le=1)
    seed: int = Field(ge=0)

    @field_validator("windows")
    @classmethod
    def _positive_windows(cls, v):
        if any(w < 1 for w in v):
            raise ValueError(f"every window must be >= 1, got {v}")
        return v


class OccurrencesConfig(_Section):
    targets: list[str]


class InventoryConfig(_Section):
    min_count: int = Field(ge=1)
    max_words: Optional[int] = Field(ge=1)
    cap: int = Field(ge=2)
    max_senses: int = Field(ge=1)
    clusters: int = Field(ge=0)
    dims: int = Field(ge=1)
    min_excess: float
    tolerance: float = Field(gt=0, le=1)
    n_init: int = Field(ge=1)
    seed: int = Field(ge=0)
    atoms: int = Field(ge=1)
    top_words: int = Field(ge=1)
    examples: int = Field(ge=1)
    block_rows: int = Field(ge=1)

    @model_validator(mode="after")
    def _clusters_within_max(self):
        if self.clusters > self.max_senses:
            raise ValueError(f"clusters ({self.clusters}) must not exceed max_senses "
                             f"({self.max_senses})")
        return self


class AssignConfig(_Section):
    partition_bytes: int = Field(ge=1024)
    sample_cap: int = Field(ge=2)


class Config(_Section):
    run: RunConfig
    corpus: CorpusConfig
    vocab: VocabConfig
    cooc: CoocConfig
    embed: EmbedConfig
    evaluate: EvaluateConfig
    context: ContextConfig
    induce: InduceConfig
    atoms: AtomsConfig
    senses: SensesConfig
    occurrences: OccurrencesConfig
    inventory: InventoryConfig
    assign: AssignConfig

    def section(self, dotted):
        """The value at a dotted key, e.g. ``"cooc.window"``, as plain data."""
        node = self.model_dump(mode="json")
        for part in dotted.split("."):
            node = node[part]
        return node


def _merge(base, over):
    """Recursive dict merge: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got "
                          f"{type(data).__name__}")
    return data


def _known(data, model):
    """``data`` without the keys ``model`` no longer has: a run saved by an older version
    (a setting since renamed or removed) is read with today's defaults for the rest."""
    out = {}
    for k, v in data.items():
        field = model.model_fields.get(k)
        if field is None:
            continue
        ann = field.annotation
        if isinstance(v, dict) and isinstance(ann, type) and issubclass(ann, BaseModel):
            v = _known(v, ann)
        out[k] = v
    return out


def parse_set(expr):
    """``"a.b.c=value"`` → ``{"a": {"b": {"c": value}}}`` with value parsed as YAML."""
    key, sep, raw = expr.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        raise ConfigError(f"--set {expr!r}: expected dotted.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    node = value
    for part in reversed(key.split(".")):
        node = {part: node}
    return node


def _allowed_keys(model, loc):
    """Field names allowed at ``loc`` (a tuple of keys) of ``model``, or None."""
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return sorted(model.model_fields)


_HINTS = {
    "run.scheduler": ("allowed values are auto, threads, processes, sync, local:N or "
                      "tcp://host:port"),
    "run.name": "a name of letters, digits, '.', '_' or '-'",
}


def _format_error(err, data):
    loc = [p for p in err["loc"] if not (isinstance(p, str) and (
        p[:1].isupper() or p in ("str", "list[...]", "function-before[_one_or_many(), "
                                                      "list[union[str,PathItem]]]")))]
    key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = (sorted(PathItem.model_fields) if "PathItem" in err["loc"]
                   else _allowed_keys(Config, tuple(loc[:-1])))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"{key}: unknown key{hint}"
    if kind == "missing":
        return f"{key}: required setting is missing"
    msg = err["msg"]
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        if msg.startswith(key + "."):  # a model check that names the key itself
            return msg
    if key in _HINTS and kind in ("string_pattern_mismatch", "string_type", "model_type",
                                  "dict_type"):
        msg = _HINTS[key]
    elif "ctx" in err and "expected" in err["ctx"]:
        msg = f"allowed values are {err['ctx']['expected']}"
    return f"{key}: {msg} (got {err.get('input')!r})"


def load_config(files=(), sets=(), overrides=None, base=None):
    """Resolve and validate the configuration.

    Parameters
    ----------
    files : sequence of path
        YAML files applied after ``conf/default.yaml``, in order. A bare
        name such as ``small`` means ``conf/small.yaml``.
    sets : sequence of str
        ``dotted.key=value`` overrides applied after the files.
    overrides : dict or None
        Nested mapping applied last (command-line flags).
    base : dict or None
        A resolved configuration to start from instead of ``conf/default.yaml``
        (a run's saved configuration); defaults fill keys it lacks, and keys the
        configuration no longer has (an older version's) are dropped.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Naming the file, key or value at fault.
    """
    data = _read_yaml(DEFAULT_CONFIG)
    if base:
        data = _merge(data, _known(base, Config))
    for f in files:
        p = Path(f)
        if not p.exists() and not p.suffix and (CONF_DIR / f"{f}.yaml").exists():
            p = CONF_DIR / f"{f}.yaml"
        data = _merge(data, _read_yaml(p))
    for s in sets:
        data = _merge(data, parse_set(s))
    if overrides:
        data = _merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        # A union (str | {path, format}) reports one error per branch: the deepest
        # location is the branch the user meant.
        first = _format_error(max(errors, key=lambda err: len(err["loc"])), data)
        n_more = len({tuple(err["loc"][:3]) for err in errors}) - 1
        more = f" (and {n_more} more)" if n_more > 0 else ""
        raise ConfigError(first + more) from None
