from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from argus import __version__
from argus.api.app import create_app
from argus.config import Settings


def test_health_ready_and_openapi(db_url: str) -> None:
    with TestClient(create_app(Settings(database_url=db_url))) as client:
        assert client.get("/health").json() == {"status": "ok", "version": __version__}
        r = client.get("/ready")
        assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "migrations": "ok"}
        assert client.get("/openapi.json").json()["info"]["title"] == "Argus"
        assert client.get("/docs").status_code == 200


def test_ready_reports_pending_migrations_as_problem_json(empty_sqlite_url: str) -> None:
    with TestClient(create_app(Settings(database_url=empty_sqlite_url))) as client:
        r = client.get("/ready")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 503 and "migrations" in body["detail"]


@pytest.mark.parametrize("path", ["/nope", "/health/x"])
def test_unknown_route_is_problem_json(sqlite_url: str, path: str) -> None:
    with TestClient(create_app(Settings(database_url=sqlite_url))) as client:
        r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Not Found"


def test_ready_names_an_unreachable_database() -> None:
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:1/argus_none")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200  # the process is up …
        r = client.get("/ready")  # … but not ready
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["checks"]["database"].startswith("unreachable: ")
    assert "database: unreachable" in r.json()["detail"]


def test_ready_names_an_unreachable_broker(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, broker_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        r = client.get("/ready")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"] == "ok" and checks["migrations"] == "ok"
    assert checks["broker"].startswith("unreachable: ")
    assert r.json()["detail"].startswith("broker: unreachable")
