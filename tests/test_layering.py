"""The house's floors: laom_core imports only downward (or sideways on one floor) and has
no import circle. Every import counts, also those inside functions; imports under
``if TYPE_CHECKING:`` do not (they never run). docs/architecture.md draws these floors."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "laom_core"

# The one list of floors, bottom first. A module belongs to the longest prefix that names it.
FLOORS: list[tuple[str, ...]] = [
    # 0 basics: errors, where things live, configs, the registries, the run folder, metric rules
    ("laom_core", "laom_core.errors", "laom_core.workspace", "laom_core.config", "laom_core.methods",
     "laom_core.metrics", "laom_core.rundir", "laom_core.torch_io", "laom_core.system"),
    # 1 the world and the models: environments, datasets, networks, figures
    ("laom_core.envs", "laom_core.data", "laom_core.models", "laom_core.viz"),
    # 2 work that produces things: collection, experts, training stages (and their probes)
    ("laom_core.collect", "laom_core.experts", "laom_core.training"),
    # 3 runs: the store, the launcher and scheduler, sweeps, background jobs
    ("laom_core.runs", "laom_core.jobs"),
    # 4 analysis over finished runs
    ("laom_core.analysis",),
    # 5 studies: plans that queue runs and report on them
    ("laom_core.studies",),
    # 6 the command line
    ("laom_core.commands", "laom_core.cli", "laom_core.__main__"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def floor_of(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def _resolve(name: str) -> str | None:
    """The laom_core module an import of ``name`` loads (a name inside a module: that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    return skipped


def imports_of(source: str) -> set[str]:
    """The laom_core modules a module's source imports (anywhere in it)."""
    tree = ast.parse(source)
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {r for a in node.names if a.name.startswith("laom_core") and (r := _resolve(a.name))}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("laom_core"):
            found |= {r for a in node.names if (r := _resolve(f"{node.module}.{a.name}"))}
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: imports_of(path.read_text(encoding="utf-8")) - {name} for name, path in MODULES.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_floor() -> None:
    assert [m for m in MODULES if floor_of(m) is None] == []


def test_no_import_circle() -> None:
    assert circles(import_graph()) == []


def test_no_upward_import() -> None:
    upward = [f"{m} (floor {floor_of(m)}) imports {d} (floor {floor_of(d)})"
              for m, deps in sorted(import_graph().items()) for d in sorted(deps)
              if floor_of(d) > floor_of(m)]
    assert upward == []


def test_the_checks_can_fail() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert imports_of("from laom_core.rundir import RunDir\ndef f():\n    import laom_core.runs.store\n") == \
        {"laom_core.rundir", "laom_core.runs.store"}
    assert imports_of("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from laom_core.runs import store\n") \
        == set()
    assert floor_of("laom_core.training.common") < floor_of("laom_core.runs.store") < floor_of("laom_core.studies.demo")


def test_laom_core_never_imports_pages() -> None:
    """Pages sit on top of every floor: they may import laom_core, never the other way round."""
    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("pages", "app") for a in node.names):
                offenders.append(name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("pages", "app"):
                offenders.append(name)
    assert offenders == []
