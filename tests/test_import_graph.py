"""The engine import graph: no cycle among packages and no edge from a lower layer to a higher one.

The graph is built statically with :mod:`ast` from every ``.py`` file under ``src/argus``:
every ``import`` and ``from … import`` anywhere in a module (module level, inside functions,
under ``if TYPE_CHECKING:``), relative imports resolved. Each module belongs to a *unit* (its
package below ``argus``, e.g. ``argus.sensors``; ``argus.tewa.service`` is a unit of its own)
and each unit to a layer:

=====  ==============  ==============================================================
layer  name            units
=====  ==============  ==============================================================
0      foundation      ``argus`` (the package root), ``argus.geo``, ``argus.trajectory``,
                       ``argus.config``, ``argus.defaults``, ``argus.logs``,
                       ``argus.metrics``, ``argus.timefmt``
1      engines         ``argus.sim``, ``argus.sensors``, ``argus.tracking``, ``argus.tewa``
                       (the engine modules: all of it but ``argus.tewa.service``),
                       ``argus.defense``
2      orchestration   ``argus.scenario`` (scenario runner, tracking glue, plot)
3      services and    ``argus.tewa.service``, ``argus.defense.service``, ``argus.api``, ``argus.db``, ``argus.cli``,
       interfaces      ``argus.jobs``, ``argus.pipeline``, ``argus.accounts``, ``argus.web``
=====  ==============  ==============================================================

Asserted for layers 0-2: a unit imports only its own layer or lower ones, the engines do not
import one another, and the units of layers 0-2 form no cycle. The services layer is only
checked as a target (nothing below imports it); its inner structure is not asserted here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

FOUNDATION, ENGINES, ORCHESTRATION, SERVICES = 0, 1, 2, 3
LAYER_NAMES = {0: "foundation", 1: "engines", 2: "orchestration", 3: "services"}
LAYERS: dict[str, int] = {
    "argus": FOUNDATION,
    "argus.geo": FOUNDATION,
    "argus.trajectory": FOUNDATION,
    "argus.config": FOUNDATION,
    "argus.defaults": FOUNDATION,
    "argus.logs": FOUNDATION,
    "argus.metrics": FOUNDATION,
    "argus.timefmt": FOUNDATION,
    "argus.sim": ENGINES,
    "argus.sensors": ENGINES,
    "argus.tracking": ENGINES,
    "argus.tewa": ENGINES,
    "argus.defense": ENGINES,
    "argus.astro": ENGINES,
    "argus.rf": ENGINES,
    "argus.scenario": ORCHESTRATION,
    "argus.tewa.service": SERVICES,
    "argus.defense.service": SERVICES,
    "argus.astro.service": SERVICES,
    "argus.rf.service": SERVICES,
    "argus.api": SERVICES,
    "argus.db": SERVICES,
    "argus.cli": SERVICES,
    "argus.jobs": SERVICES,
    "argus.pipeline": SERVICES,
    "argus.accounts": SERVICES,
    "argus.web": SERVICES,
}
#: Units split off their package (checked before the package itself).
SPLIT_UNITS = (
    "argus.tewa.service",
    "argus.defense.service",
    "argus.astro.service",
    "argus.rf.service",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / "argus").rglob("*.py"))}


def imported_modules(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every argus module ``name`` imports, at any depth of its syntax tree."""
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            for alias in node.names:  # ``from argus import geo`` imports the module argus.geo
                if f"{target}.{alias.name}" in known:
                    yield f"{target}.{alias.name}"


def unit_of(module: str) -> str | None:
    for unit in SPLIT_UNITS:
        if module == unit or module.startswith(unit + "."):
            return unit
    parts = module.split(".")
    if parts[0] != "argus":
        return None
    return "argus" if len(parts) == 1 else ".".join(parts[:2])


def unit_graph() -> dict[str, dict[str, set[str]]]:
    """``graph[unit_a][unit_b]``: the modules of ``unit_a`` that import ``unit_b``."""
    modules = all_modules()
    known = set(modules)
    graph: dict[str, dict[str, set[str]]] = {}
    for name, path in modules.items():
        src = unit_of(name)
        assert src is not None
        for target in imported_modules(name, path, known):
            dst = unit_of(target)
            if dst is None or dst == src:
                continue
            if dst == "argus" and target != "argus":
                continue  # ``from argus import geo``: the edge is to argus.geo (yielded too)
            graph.setdefault(src, {}).setdefault(dst, set()).add(name)
    return graph


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(m) for m in all_modules()}
    assert units - set(LAYERS) == set(), "add the new package to LAYERS (and the docstring)"


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    """The walker is not blind: the CLI's lazy (function-level) imports of the scenario show."""
    graph = unit_graph()
    assert "argus.scenario" in graph["argus.cli"]
    assert {"argus.sim", "argus.sensors", "argus.tracking"} <= set(graph["argus.scenario"])


def test_no_upward_edge() -> None:
    upward = [
        f"{src} ({LAYER_NAMES[LAYERS[src]]}) imports {dst} ({LAYER_NAMES[LAYERS[dst]]}) in "
        + ", ".join(sorted(where))
        for src, targets in unit_graph().items()
        if LAYERS[src] < SERVICES
        for dst, where in targets.items()
        if LAYERS[dst] > LAYERS[src]
    ]
    assert upward == []


#: Frameworks of the storage, service and interface layers. DESIGN.md: "a domain's engine modules
#: import numpy/scipy and each other, nothing from db/api/pipeline/jobs/cli; its service is the
#: one door" — the argus half of that is ``test_no_upward_edge``, this is the third-party half.
SERVICE_FRAMEWORKS = (
    "sqlalchemy",
    "alembic",
    "geoalchemy2",
    "psycopg",
    "fastapi",
    "starlette",
    "celery",
    "nats",
    "typer",
)


def _framework_imports(max_layer: int) -> list[str]:
    modules = all_modules()
    known = set(modules)
    found = []
    for name, path in modules.items():
        unit = unit_of(name)
        if unit is None or LAYERS[unit] > max_layer:
            continue
        for target in imported_modules(name, path, known):
            root = target.split(".")[0]
            if root in SERVICE_FRAMEWORKS:
                found.append(f"{name} imports {target}")
    return found


def test_engines_and_the_foundation_import_no_service_framework() -> None:
    """Below the services (foundation, engines, orchestration) nothing imports SQLAlchemy,
    FastAPI, Celery, NATS or Typer: the TEWA engine modules (``argus.tewa`` outside its service
    package ``argus.tewa.service``) included."""
    assert _framework_imports(ORCHESTRATION) == []


def test_the_framework_check_sees_the_service_package() -> None:
    """Not blind: the TEWA service package (a service) does import SQLAlchemy."""
    assert any(
        line.startswith("argus.tewa.service.") and " imports sqlalchemy" in line
        for line in _framework_imports(SERVICES)
    )


def test_engines_do_not_import_each_other() -> None:
    sideways = [
        f"{src} imports {dst} in " + ", ".join(sorted(where))
        for src, targets in unit_graph().items()
        if LAYERS[src] == ENGINES
        for dst, where in targets.items()
        if LAYERS[dst] == ENGINES
    ]
    assert sideways == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of nodes (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_cycle_below_the_services() -> None:
    graph = {
        src: {dst for dst in targets if LAYERS[dst] < SERVICES}
        for src, targets in unit_graph().items()
        if LAYERS[src] < SERVICES
    }
    assert find_cycle(graph) is None


@pytest.mark.parametrize(
    ("graph", "cyclic"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b", "c"}, "b": {"c"}}, False),
    ],
)
def test_find_cycle_finds_cycles(graph: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(graph) is not None) is cyclic
