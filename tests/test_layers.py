"""The import graph: layers only import downwards, no cycles, no stage imports another,
``tasks/`` imports no pipeline code and does no file I/O, and modules stay short.

Imports are read from the source (every ``import``, including those inside
functions), not from ``sys.modules``, so a lazy import cannot hide an arrow.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own layer or a lower one.
LAYERS = [
    ["pipeline.errors"],
    ["pipeline.config", "pipeline.storage"],
    ["pipeline.artifacts", "pipeline.readers"],
    ["pipeline.stage", "pipeline.runner", "pipeline.coding", "pipeline._worker_plugin"],
    ["pipeline.stages"],
    ["pipeline.registry"],
    ["pipeline.run", "pipeline.runs"],
    ["pipeline.assigner", "pipeline.batches", "pipeline.batch_encoding"],
    ["pipeline.encoder", "pipeline.sense_model", "pipeline.inducer",
     "pipeline.evaluations", "pipeline.report"],
    ["pipeline.commands"],
    ["pipeline.cli", "pipeline.__main__", "pipeline"],
]
MAX_LINES = 400


def _modules(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(name, path, known=None):
    """Absolute names of the project modules ``name`` imports."""
    known = KNOWN
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            for a in node.names:  # ``from pkg import module`` imports the module
                out.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod)
    known = KNOWN
    return {m for m in out if m in known and m != name}


KNOWN = {name for pkg in ("pipeline", "tasks") for name, _p in _modules(pkg)}


def _layer(module):
    best = None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (i, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def _graph():
    return {name: _imports(name, path)
            for pkg in ("pipeline", "tasks") for name, path in _modules(pkg)}


def test_pipeline_imports_only_downwards_and_stages_not_each_other():
    graph = _graph()
    for name, deps in graph.items():
        if not name.startswith("pipeline"):
            continue
        for dep in deps:
            if dep.startswith("tasks"):
                continue
            assert _layer(dep) <= _layer(name), f"{name} imports the higher {dep}"
            if name.startswith("pipeline.stages.") and dep.startswith("pipeline.stages."):
                raise AssertionError(f"stage {name} imports stage {dep}")


def test_no_import_cycle():
    graph = _graph()
    # package __init__ modules are containers of their submodules: follow real modules only
    state = {}

    def visit(n, stack):
        state[n] = 1
        for d in graph.get(n, ()):
            if state.get(d) == 1:
                raise AssertionError(" -> ".join(stack + [n, d]))
            if d not in state:
                visit(d, stack + [n])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [])


def test_tasks_are_plain_kernels():
    for name, path in _modules("tasks"):
        deps = _imports(name, path)
        assert not [d for d in deps if d.startswith("pipeline")], name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", f"{name} opens a file"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert not (node.value.id == "os" and node.attr == "environ"), \
                    f"{name} changes the environment"
                assert not (node.value.id == "fsspec"), f"{name} does file I/O"
            if isinstance(node, ast.Name) and node.id in ("main", "argparse"):
                raise AssertionError(f"{name} has a command line")


def test_stage_fingerprints_cover_every_kernel_the_stage_runs():
    """A stage's fingerprint hashes its own module and ``code``; every ``tasks`` module
    it reaches through imports must be there, or a kernel change leaves its output
    stale (the inventory once missed ``tasks.assign``, whose contexts it uses)."""
    import importlib
    graph = _graph()
    for name, _path in _modules("pipeline"):
        if not name.startswith("pipeline.stages.") or name == "pipeline.stages":
            continue
        stage = getattr(importlib.import_module(name), "STAGE", None)
        if stage is None:
            continue
        reached, todo = set(), [name]
        while todo:
            for dep in graph[todo.pop()]:
                if dep.startswith("tasks") and dep not in reached:
                    reached.add(dep)
                    todo.append(dep)
        reached.discard("tasks")
        missing = sorted(reached - set(stage.code))
        assert not missing, f"{name}: code= misses {missing}"


def test_modules_are_short_or_say_why():
    for pkg in ("pipeline", "tasks"):
        for name, path in _modules(pkg):
            text = path.read_text(encoding="utf-8")
            n = len(text.splitlines())
            doc = ast.get_docstring(ast.parse(text)) or ""
            assert n <= MAX_LINES or "Longer than" in doc, \
                f"{name} has {n} lines and its docstring does not say why"


# Libraries that only some stages or commands use, each 0.1-0.7 s to load: a run of
# the counting stages (the scheduled, most frequent kind) must not load them.
HEAVY = ("sklearn", "matplotlib", "scipy.stats", "dask.array", "gensim")


def test_counting_run_loads_no_library_it_does_not_use(tmp_path):
    import subprocess
    import sys

    from conftest import base_args
    corpus = tmp_path / "c.txt"
    corpus.write_text("the bank of the river\nthe bank lends money\n" * 50, encoding="utf-8")
    args = [str(a) for a in base_args(tmp_path, [corpus], "--set", "run.report=false",
                                      name="r", scheduler="sync")]
    script = (f"import sys\nfrom pipeline.cli import main\ncode = main({args!r})\n"
              f"print(code, [m for m in {HEAVY!r} if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr[-2000:]
    assert (tmp_path / "r" / "cooc").exists()
