"""The package's import graph has no cycles: every ``import`` in src/oneclass (module level and
inside functions, relative imports resolved) is an edge, and a strongly connected component of two
or more modules fails the test, naming them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "oneclass"


def modules(root: Path) -> dict[str, Path]:
    """``{"oneclass.run.engine": path, "oneclass.models": path/__init__.py, ...}``"""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source. A package's own
    submodules are not edges of the package: its ``__init__`` importing them is how it re-exports,
    and Python initialises a package before any of its submodules."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    root = module.split(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            # ``from a import b``: the module a.b when there is one, else a (whose name b is)
            names.update(f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names)
    edges = set()
    for name in names:
        if name.split(".")[0] != root:
            continue
        while name and name not in known:  # the longest known module that is a prefix
            name = name.rpartition(".")[0]
        if name and name != module and not (path.name == "__init__.py" and name.startswith(module + ".")):
            edges.add(name)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {m: imported(m, p, known) for m, p in known.items()}


def test_the_package_has_no_import_cycles():
    graph = package_graph(ROOT)
    assert len(graph) > 50 and graph["oneclass.run.engine"]  # the walk saw the package and its imports
    found = cycles(graph)
    assert not found, "import cycles (break them by moving the shared code down a layer): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_the_cycle_check_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.a import f\n")  # a re-export: no cycle
    (pkg / "sub" / "a.py").write_text("def f():\n    from ..b import g\n    return g\n")
    (pkg / "b.py").write_text("from .sub import a\n")
    (pkg / "c.py").write_text("import os\n")
    graph = package_graph(pkg)
    assert graph["pkg.sub.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.sub.a"} and graph["pkg.sub"] == set()
    assert cycles(graph) == [["pkg.b", "pkg.sub.a"]]
    (pkg / "sub" / "a.py").write_text("def f():\n    return 1\n")
    assert cycles(package_graph(pkg)) == []


def layers(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph collapsed onto the package's layers (``oneclass.run``, ``oneclass.tracking``,
    ``oneclass.config``, ...); the package's own ``__init__`` (its public facade) is left out."""
    def layer(module: str) -> str | None:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else None

    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if (a := layer(module)) is None:
            continue
        out.setdefault(a, set()).update(b for t in targets if (b := layer(t)) not in (None, a))
    for targets in list(out.values()):
        for b in targets:
            out.setdefault(b, set())
    return out


def test_the_layers_import_downwards_only():
    """docs/extending.md's layers (data, nets, models, vectorised, tracking, run, report, launch, and
    the modules beneath them) form no cycle: e.g. tracking never imports the job engine it serves."""
    graph = layers(package_graph(ROOT))
    assert {"oneclass.run", "oneclass.launch", "oneclass.tracking", "oneclass.models"} <= set(graph)
    assert "oneclass.run" in graph["oneclass.launch"] and "oneclass.launch" not in graph["oneclass.run"]
    found = cycles(graph)
    assert not found, "layers importing each other (move the shared code down a layer): " + "; ".join(
        " <-> ".join(c) for c in found)
