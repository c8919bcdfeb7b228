"""GET and HEAD run on read sessions: autocommit on PostgreSQL, and they can never write."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from argus.api.app import create_app
from argus.db.models import DefendedAsset
from tests.api._support import make_settings

GETS = [
    "/api/scenarios",
    "/api/scenarios/1",
    "/api/assets",
    "/api/scenarios/1/assets",
    "/api/scenarios/1/tracks",
    "/api/scenarios/1/params",
    "/api/scenarios/1/weapons",
    "/api/scenarios/1/picture",
    "/api/tewa/ranking/?scenario_id=1",
    "/api/auth/me",
]


def test_every_read_answers_on_both_databases(
    seeded_db_url: str, auth: dict[str, dict[str, str]]
) -> None:
    with TestClient(create_app(make_settings(seeded_db_url))) as client:
        for path in GETS:
            r = client.get(path, headers=auth["viewer"])
            assert r.status_code == 200, (path, r.text)


@pytest.mark.pg
def test_a_read_session_refuses_to_write(pg_url: str) -> None:
    app = create_app(make_settings(pg_url))
    factory = app.state.read_sessionmaker
    with factory() as s:
        assert s.connection().connection.driver_connection.autocommit is True
        s.add(DefendedAsset(name="sneaky", lat=0, lon=0, radius_km=1))
        with pytest.raises(RuntimeError, match="GET or HEAD request tried to write"):
            s.flush()
    with app.state.sessionmaker() as s:
        assert s.query(DefendedAsset).filter_by(name="sneaky").count() == 0
    app.state.engine.dispose()
