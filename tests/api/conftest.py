"""Fixtures for the API tests: an app on a fresh seeded database, three users, login helpers.

- ``seeded_sqlite_url``: a fresh copy (per test) of a migrated SQLite database holding the demo
  scenario (``seed_demo``) and the users ``viewer`` / ``operator`` / ``admin`` (passwords in
  ``_support.PASSWORDS``). The template is built once per test process; a copy is cheap.
- ``seeded_db_url``: the same content on SQLite and on PostgreSQL (the PostgreSQL variant
  carries the ``pg`` marker, as ``db_url`` tests do). Slower: for a few tests only.
- ``client`` / ``db_client``: a ``TestClient`` (lifespan entered) on those databases.
- ``login`` (in ``_support``): POST /api/auth/login with form data → auth headers.
- ``auth``: role → auth headers, from tokens obtained once per process by logging in through the
  API. Every seeded database holds the same users and the tests share one JWT secret, so those
  tokens are valid on any of them (argon2 makes each login cost ~0.2 s).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from argus.api.app import create_app
from argus.db import migrate
from tests.api._support import (
    PASSWORDS,
    ROLES,
    bearer,
    copy_template,
    make_settings,
    seed_database,
)


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api-template") / "argus.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    seed_database(url)
    wal = Path(f"{path}-wal")  # the last connection closed checkpoints the WAL into the file
    assert not wal.exists() or wal.stat().st_size == 0
    return path


@pytest.fixture
def seeded_sqlite_url(seeded_sqlite_template: Path, tmp_path: Path) -> str:
    return copy_template(seeded_sqlite_template, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded_db_url(request: pytest.FixtureRequest, seeded_sqlite_template: Path) -> str:
    """The same seeded content on SQLite and on a fresh migrated PostgreSQL database."""
    if request.param == "sqlite":
        return copy_template(seeded_sqlite_template, request.getfixturevalue("tmp_path"))
    url = str(request.getfixturevalue("pg_url"))
    seed_database(url)
    return url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Like tests/conftest.py does for db_url: the PostgreSQL variant carries the pg marker.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("seeded_db_url") == "postgresql":
            item.add_marker(pytest.mark.pg)


@dataclass(frozen=True)
class RoleTokens:
    access: str
    refresh: str


@pytest.fixture(scope="session")
def role_tokens(
    seeded_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, RoleTokens]:
    """One real login per role (POST /api/auth/login), shared by the whole test process."""
    url = copy_template(seeded_sqlite_template, tmp_path_factory.mktemp("api-login"))
    out: dict[str, RoleTokens] = {}
    with TestClient(create_app(make_settings(url))) as c:
        for role in ROLES:
            r = c.post("/api/auth/login", data={"username": role, "password": PASSWORDS[role]})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["role"] == role and body["token_type"] == "bearer"
            out[role] = RoleTokens(body["access_token"], body["refresh_token"])
    return out


@pytest.fixture
def auth(role_tokens: dict[str, RoleTokens]) -> dict[str, dict[str, str]]:
    """role → ``{"Authorization": "Bearer <access token>"}``."""
    return {role: bearer(t.access) for role, t in role_tokens.items()}


@pytest.fixture
def app(seeded_sqlite_url: str) -> FastAPI:
    return create_app(make_settings(seeded_sqlite_url))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def db_client(seeded_db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(seeded_db_url))) as c:
        yield c
