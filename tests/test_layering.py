"""Layering: the interfaces (API, CLI, jobs) call the service; they never query the database.

Every module under ``argus/api/``, ``argus/cli/`` and ``argus/jobs/`` is parsed with ``ast``
(nothing is imported) and may neither import the ORM models (``argus.db.models``) nor build a
statement (``sqlalchemy`` ``select``/``insert``/``update``/``delete``) nor read through a session
(``session.get``/``execute``/``scalar``/``scalars``). Queries belong in
``argus.tewa.service`` (or ``argus.accounts.service``). Still allowed: the session and engine
types (``sqlalchemy.orm.Session``, ``sqlalchemy.Engine``, for ``api/deps.py``), the session
factory (``argus.db.session``), the migrations (``argus.db.migrate``, used by ``argus db …``
and the API's readiness check) and ``sqlalchemy.exc``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "argus"

#: The packages that are interfaces.
INTERFACES = ("api", "cli", "jobs")

#: Modules that still query the database themselves, relative to src/argus. Shrink it; never
#: grow it. Each entry must still break the rule (a test below says when one can go).
ALLOWLIST: set[str] = set()

FORBIDDEN_MODULES = ("argus.db.models",)
QUERY_BUILDERS = frozenset({"select", "insert", "update", "delete"})
SQLALCHEMY_MODULES = ("sqlalchemy", "sqlalchemy.sql", "sqlalchemy.sql.expression")
#: Session methods that read through the ORM (a model reached through the service facade,
#: ``service.Scenario``, would otherwise slip past the import rule). ``commit``, ``rollback``,
#: ``flush`` and ``expire_all`` stay allowed: the interfaces own the transaction.
SESSION_QUERIES = frozenset({"get", "execute", "scalar", "scalars"})


def _is_session_name(name: str) -> bool:
    return name == "session" or name.endswith("_session")


def _is_forbidden_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)


def violations(source: str, filename: str = "<string>") -> list[str]:
    """What in ``source`` breaks the rule, one line each (empty when nothing does)."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    sa_aliases: set[str] = set()  # local names bound to the sqlalchemy module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _is_forbidden_module(a.name):
                    found.append(f"{filename}:{node.lineno}: import {a.name}")
                if a.name in SQLALCHEMY_MODULES:
                    sa_aliases.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mod = node.module
            for a in node.names:
                full = f"{mod}.{a.name}"
                if (
                    _is_forbidden_module(mod)
                    or _is_forbidden_module(full)
                    or (mod in SQLALCHEMY_MODULES and a.name in QUERY_BUILDERS)
                ):
                    found.append(f"{filename}:{node.lineno}: from {mod} import {a.name}")
    for node in ast.walk(tree):
        # sa.select(...), sqlalchemy.insert(...)
        if (
            isinstance(node, ast.Attribute)
            and node.attr in QUERY_BUILDERS
            and isinstance(node.value, ast.Name)
            and node.value.id in sa_aliases
        ):
            found.append(f"{filename}:{node.lineno}: {node.value.id}.{node.attr}")
        # session.get(Model, id), session.execute(stmt), ...
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_QUERIES
            and isinstance(node.func.value, ast.Name)
            and _is_session_name(node.func.value.id)
        ):
            found.append(f"{filename}:{node.lineno}: {node.func.value.id}.{node.func.attr}(...)")
    return found


def _interface_modules() -> list[Path]:
    return sorted(p for pkg in INTERFACES for p in (SRC / pkg).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def test_interfaces_do_not_query_the_database() -> None:
    found: list[str] = []
    for path in _interface_modules():
        if _rel(path) in ALLOWLIST:
            continue
        found += violations(path.read_text(encoding="utf-8"), _rel(path))
    assert not found, (
        "interface modules must call argus.tewa.service (or argus.accounts.service) instead of "
        "importing the models or building queries:\n" + "\n".join(found)
    )


def test_allowlist_entries_still_need_it() -> None:
    # A loop, not a parametrization: the allowlist is empty, and should stay so.
    for entry in sorted(ALLOWLIST):
        path = SRC / entry
        assert path.exists(), f"{entry} is gone: remove it from ALLOWLIST"
        assert violations(path.read_text(encoding="utf-8"), entry), (
            f"{entry} no longer queries the database: remove it from ALLOWLIST"
        )


def test_the_interface_packages_are_found() -> None:
    rel = {_rel(p) for p in _interface_modules()}
    assert {"api/ws.py", "api/routes/tewa.py", "api/deps.py", "jobs/tasks.py"} <= rel


@pytest.mark.parametrize(
    "line",
    [
        "from argus.db.models import Track",
        "from argus.db.models.tewa import ThreatScoreWhatIf",
        "from argus.db import models",
        "import argus.db.models",
        "import argus.db.models as m",
        "from sqlalchemy import select",
        "from sqlalchemy import delete as sa_delete",
        "from sqlalchemy.sql import update",
        "import sqlalchemy as sa\nq = sa.select(1)",
        "import sqlalchemy\nq = sqlalchemy.insert(t)",
        "def f():\n    from argus.db.models import Job\n    return Job",
        "sc = session.get(service.Scenario, 1)",
        "rows = session.execute(stmt)",
        "n = session.scalar(q)",
        "xs = list(db_session.scalars(q))",
    ],
)
def test_the_checker_catches(line: str) -> None:
    assert violations(line)


@pytest.mark.parametrize(
    "line",
    [
        "from sqlalchemy.orm import Session, sessionmaker",
        "from sqlalchemy import Engine, text",
        "from sqlalchemy.exc import IntegrityError",
        "from argus.db import migrate",
        "from argus.db.session import make_engine, session_scope",
        "from argus.tewa import service",
        "from argus.tewa.service import Scenario",
        "session.commit()\nsession.rollback()\nsession.flush()\nsession.expire_all()",
        "value = params.get('x')",
    ],
)
def test_the_checker_allows(line: str) -> None:
    assert not violations(line)


def test_a_route_importing_a_model_fails_the_rule() -> None:
    route = SRC / "api" / "routes" / "tewa.py"
    source = route.read_text(encoding="utf-8") + "\nfrom argus.db.models import Track\n"
    assert violations(source, "api/routes/tewa.py")
