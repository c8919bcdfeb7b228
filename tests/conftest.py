"""Shared fixtures: databases that tests create and drop themselves.

- ``sqlite_url``: a fresh migrated SQLite file per test.
- ``pg_url``: a fresh migrated PostgreSQL database per test (marker ``pg``), on the server at
  ``ARGUS_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres). With
  ``CI=true`` an unreachable server fails the test instead of skipping it.
- ``db_url``: parametrized over both, so a test written once runs on each backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from argus.db import migrate
from argus.db.session import make_engine, make_sessionmaker

PG_ADMIN_URL = os.environ.get("ARGUS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> str | None:
    """None when the server answers, else the reason."""
    try:
        engine = make_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_REASON: list[str | None] = []


def require_pg() -> None:
    if not _PG_REASON:
        _PG_REASON.append(_pg_available())
    reason = _PG_REASON[0]
    if reason is not None:
        msg = f"PostgreSQL at {PG_ADMIN_URL} unreachable ({reason})"
        if IN_CI:
            pytest.fail(msg + "; CI=true makes this a failure", pytrace=False)
        pytest.skip(msg)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests parametrized with the "pg" backend carry the pg marker, so `-m "not pg"` works.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgresql":
            item.add_marker(pytest.mark.pg)


def _create_pg_database() -> tuple[str, sa.Engine]:
    require_pg()
    name = f"argus_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return url, admin


def _drop_pg_database(url: str, admin: sa.Engine) -> None:
    name = sa.make_url(url).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/argus.db"


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    url, admin = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(url, admin)


@pytest.fixture
def sqlite_url(empty_sqlite_url: str) -> str:
    migrate.upgrade(empty_sqlite_url)
    return empty_sqlite_url


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    """A migrated database, made once per test process, that ``pg_url`` clones (fast)."""
    url, admin = _create_pg_database()
    migrate.upgrade(url)
    try:
        yield str(sa.make_url(url).database)
    finally:
        _drop_pg_database(url, admin)


@pytest.fixture
def pg_url(_pg_template: str) -> Iterator[str]:
    """A fresh migrated PostgreSQL database (a copy of the session's template)."""
    require_pg()
    name = f"argus_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _drop_pg_database(url, admin)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each backend."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """A fresh empty (unmigrated) database on each backend."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("empty_sqlite_url"))
    return str(request.getfixturevalue("empty_pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    factory = make_sessionmaker(engine)
    with factory() as s:
        yield s
        s.rollback()


# ---- S3: moto's standalone server on loopback (one per test process), a bucket per test ----

_MOTO: list[tuple[str, object]] = []


def _start_moto_server() -> str:
    """Start ``moto_server`` (moto's standalone S3-compatible server) on a free port."""
    import shutil
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = shutil.which("moto_server") or str(
        __import__("pathlib").Path(sys.executable).with_name("moto_server")
    )
    if not os.path.exists(exe):
        msg = "moto_server not found (pip install 'moto[server]', in the test extras)"
        if IN_CI:
            pytest.fail(msg + "; CI=true makes this a failure", pytrace=False)
        pytest.skip(msg)
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/moto-api/", timeout=1)
            _MOTO.append((url, proc))
            return url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(f"moto_server did not answer on {url} within 30 s", pytrace=False)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The endpoint URL of a real S3-compatible server (moto standalone) for this test process.

    Credentials are the dummy ones moto accepts, set in the environment for this process only.
    """
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    url = _MOTO[0][0] if _MOTO else _start_moto_server()
    yield url
    for _, proc in _MOTO:
        proc.terminate()  # type: ignore[attr-defined]
    _MOTO.clear()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[str]:
    """A fresh bucket on the S3 server, removed with its objects afterwards: its name."""
    import s3fs

    name = f"argus-test-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True)
    fs.mkdir(name)
    try:
        yield name
    finally:
        fs.rm(name, recursive=True)
