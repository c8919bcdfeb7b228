"""Helpers shared by the API tests (imported by tests/api/conftest.py and the test modules)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from argus.accounts.service import create_user
from argus.config import Settings
from argus.db.models import Scenario
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.tewa import service
from argus.tewa.service import seed_demo

JWT_SECRET = "api-tests-jwt-secret-0123456789-abcdefghijklmnop"
OTHER_SECRET = "a-different-secret-0123456789-abcdefghijklmnopq"
ROLES = ("viewer", "operator", "admin")
PASSWORDS = {
    "viewer": "viewer-password-1",
    "operator": "operator-password-2",
    "admin": "admin-password-3",
}
PROBLEM_JSON = "application/problem+json"
DEMO_SCENARIO_ID = 1  # seed_demo on a fresh database: Demo-Scenario 1, DA-Alpha 1, DA-Bravo 2


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app: our secret, no broker, no bus, no periodic job.

    Explicit values beat any ``ARGUS_*`` variable of the environment the tests run in.
    """
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": JWT_SECRET,
        "broker_url": None,
        "bus_url": None,
        "compute_interval_s": 0,
        # objects (FITS uploads, products) next to the test database, never in ./var
        "var_dir": var_dir_for(database_url),
        "object_store": None,
    }
    values.update(overrides)
    return Settings(**values)


def var_dir_for(database_url: str) -> Path:
    """``<folder of the SQLite file>/var`` for a file database, else a fresh temporary folder."""
    db = make_url(database_url).database if database_url.startswith("sqlite") else None
    if db and db != ":memory:":
        return Path(db).parent / "var"
    return Path(tempfile.mkdtemp(prefix="argus-test-var-"))


def seed_database(url: str) -> None:
    """The demo scenario and one user per role (username = role), committed."""
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            seed_demo(s)
            for role in ROLES:
                create_user(s, role, PASSWORDS[role], role)
    finally:
        engine.dispose()


def copy_template(template: Path, target_dir: Path) -> str:
    """A copy of a template SQLite database in ``target_dir``; returns its URL."""
    target = target_dir / "argus.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@contextmanager
def open_session(url: str) -> Iterator[Session]:
    """A plain ORM session on a test database (the caller commits if it writes)."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            yield s
    finally:
        engine.dispose()


def seed_live(
    url: str,
    when: str | dt.datetime,
    scenario_id: int = DEMO_SCENARIO_ID,
    evaluated_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Store live scores (threat_score, the live board) describing ``when``, as compute_now and
    the periodic tick do but at a fixed time; committed. Returns the batch as the API renders a
    computation (``ComputeResult.as_json``)."""
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    with open_session(url) as s:
        sc = s.get(Scenario, scenario_id)
        assert sc is not None
        res = service.compute_at(s, sc, when, persist=True, live=True, evaluated_at=evaluated_at)
        s.commit()
        return res.as_json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    """Log in through the API (POST /api/auth/login, OAuth2 password form) → auth headers."""
    r = client.post("/api/auth/login", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem+json answer with this status; returns its body."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM_JSON, r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus text exposition (0 when absent); labels in exposition order."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    key = f"{name}{{{want}}}" if labels else name
    m = re.search(rf"^{re.escape(key)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0
