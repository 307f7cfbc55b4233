"""The package's import graph has no cycle, and the DAG files and the plugin call only mamori's public stage API.

The graph is built from the source with `ast`, so it sees what `lint-imports` (.importlinter, `make lint`) sees
and also what Python only runs later: imports at module level AND inside functions (a function-level import
that closes a circle is still a circle, it merely fails at call time instead of import time), relative imports
resolved against the importing module. An edge goes to the module an import names; the implicit import of a
parent package's `__init__` is not an edge, or every registry package (`mamori.sources` importing its sources,
which import `mamori.sources.base`) would look circular.

Nothing here imports mamori or Airflow: it reads files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = REPO / "include"


@dataclass(frozen=True)
class Edge:
    """One import statement: `importer` imports `imported` at `path:line` (inside a function when `deferred`)."""

    importer: str
    imported: str
    path: Path
    line: int
    deferred: bool


def modules_under(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Every module of `package` under `root`: dotted name -> (file, is a package's __init__)."""
    out = {}
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _import_targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """Dotted names an import statement asks for (`from p import x` asks for `p.x`, which may be a name in p)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        # `from . import x` in a package's __init__ is relative to the package itself; in a module, to its parent.
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join([*base, *([node.module] if node.module else [])])
    else:
        prefix = node.module or ""
    yield prefix
    for alias in node.names:
        yield f"{prefix}.{alias.name}"


def _nearest_module(name: str, known: dict[str, tuple[Path, bool]]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_edges(root: Path, package: str) -> list[Edge]:
    """Every import from one module of `package` to another, module-level and function-level."""
    known = modules_under(root, package)
    edges = []
    for module, (path, is_package) in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        deferred_lines = {
            inner.lineno
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
            for inner in ast.walk(fn)
            if isinstance(inner, ast.Import | ast.ImportFrom)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = {_nearest_module(t, known) for t in _import_targets(node, module, is_package)}
            for target in sorted(t for t in targets if t and t != module):
                edges.append(Edge(module, target, path, node.lineno, node.lineno in deferred_lines))
    return edges


def strongly_connected(edges: list[Edge]) -> list[list[str]]:
    """Tarjan's strongly connected components of size > 1 (each sorted), iteratively: no recursion limit."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
        graph.setdefault(e.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def describe_cycle(component: list[str], edges: list[Edge]) -> str:
    """One concrete circle through the component's first module, each step with the file and line to change."""
    inside = set(component)
    step: dict[str, dict[str, Edge]] = {}
    for e in edges:
        if e.importer in inside and e.imported in inside:
            step.setdefault(e.importer, {}).setdefault(e.imported, e)
    start = component[0]
    # breadth-first from start back to start: the shortest circle, so the message names few lines
    paths: dict[str, list[Edge]] = {start: []}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for target, edge in sorted(step.get(node, {}).items()):
                if target == start:
                    circle = [*paths[node], edge]
                    return "\n".join(
                        f"    {x.importer} -> {x.imported}  ({_shown(x.path)}:{x.line}"
                        f"{', inside a function' if x.deferred else ''})"
                        for x in circle
                    )
                if target not in paths:
                    paths[target] = [*paths[node], edge]
                    nxt.append(target)
        frontier = nxt
    return "    " + " <-> ".join(component)


def test_mamori_has_no_import_cycle():
    edges = import_edges(PACKAGE_ROOT, "mamori")
    assert len(edges) > 100, "the scan found almost no imports: is include/mamori still where it was?"
    cycles = strongly_connected(edges)
    assert not cycles, (
        "import cycles in include/mamori (a function-level import counts: it only fails later). Break each by "
        "moving the shared code down to the layer both sides may import (see .importlinter), not by deferring "
        "an import:\n"
        + "\n\n".join(
            f"  cycle of {len(c)} modules: {', '.join(c)}\n{describe_cycle(c, edges)}" for c in cycles
        )
    )


def test_the_scan_finds_a_planted_cycle_through_relative_and_function_level_imports(tmp_path):
    """The check above can fail: a circle closed by a relative import inside a function is found and named."""
    pkg = tmp_path / "demo_pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")  # package-relative: demo_pkg.sub.b
    (pkg / "a.py").write_text("from demo_pkg.sub.b import thing\n")
    (pkg / "sub" / "b.py").write_text("def thing():\n    from ..c import other\n    return other\n")
    (pkg / "c.py").write_text("def other():\n    from . import a\n    return a\n")
    (pkg / "d.py").write_text("import demo_pkg.a\n")  # imports into the circle, is not part of it
    edges = import_edges(tmp_path, "demo_pkg")
    assert ("demo_pkg.sub", "demo_pkg.sub.b") in {(e.importer, e.imported) for e in edges}
    cycles = strongly_connected(edges)
    assert cycles == [["demo_pkg.a", "demo_pkg.c", "demo_pkg.sub.b"]]
    text = describe_cycle(cycles[0], edges)
    assert "demo_pkg.sub.b -> demo_pkg.c" in text and "inside a function" in text


# What a DAG file or the plugin may import from mamori: a stage's module (the task body is one call into it), the
# DAGs' shared wiring, and the source registry the ingest DAGs are generated from. Anything else (a domain
# module's helper, a private name) means library logic is leaking into wiring: give the stage a function.
ENTRY_API = {
    "mamori.dag_defaults": "the DAGs' shared wiring (default args, start date, schedules, the alerts Asset)",
    "mamori.sources": "SOURCES, the registry one ingest DAG per source is generated from",
    "mamori.ingest": "stage: ingest task bodies",
    "mamori.detect": "stage: detection runs and dispatch task bodies",
    "mamori.health": "stage: the health DAG's task bodies (mamori.health.tasks)",
    "mamori.status": "stage: the status the plugin and the CLI show",
    "mamori.backfill": "stage",
    "mamori.search": "stage",
    "mamori.hunts": "stage",
    "mamori.lake.compact": "compact_lake's task bodies (compaction is lake maintenance, one call per task)",
    "mamori.engines.tables": "maintain_tables's task body (creates the Athena tables)",
}


def _entry_files() -> list[Path]:
    return sorted([*(REPO / "dags").glob("*.py"), *(REPO / "plugins").glob("*.py")])


@pytest.mark.parametrize("path", _entry_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_dags_and_plugins_import_only_mamori_entry_api(path):
    known = modules_under(PACKAGE_ROOT, "mamori")
    problems = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mamori":
            named = [(f"{node.module}.{a.name}", a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            named = [
                (a.name, a.name.rpartition(".")[2]) for a in node.names if a.name.split(".")[0] == "mamori"
            ]
        else:
            continue
        for full, name in named:
            module = _nearest_module(full, known) or full
            allowed = any(module == api or module.startswith(api + ".") for api in ENTRY_API)
            if not allowed or name.startswith("_"):
                problems.append(f"line {node.lineno}: {full}")
    assert not problems, (
        f"{path.relative_to(REPO)} imports mamori internals: {problems}. A DAG file or the plugin is wiring: "
        f"call a public function of a stage ({', '.join(sorted(ENTRY_API))}); if the stage lacks one, add it "
        "there (or, for a new stage module, add it to ENTRY_API in this test with the reason)."
    )
