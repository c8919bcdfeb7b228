"""``POST /api/sim/launch`` when the pipeline runs as stage processes on NATS (no runtime here).

The API commits the ``missile_flight`` row and publishes ``missile.launched`` on the real
JetStream stream, where the stages pick it up; an unreachable target is a 422 that stores and
publishes nothing; a publish that fails removes the row again (503).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from argus.api.app import create_app
from argus.db import migrate
from argus.db.models import MissileFlight, Scenario
from argus.defense.service.buslaunch import BusLauncher
from argus.pipeline import events as ev
from argus.pipeline.asyncbus import InProcessBus, NatsBus
from tests.api._support import PASSWORDS, assert_problem, login, make_settings, open_session
from tests.api.test_defense_api import LAUNCH
from tests.defense._support import seed_defense
from tests.pipeline.test_bus_contract import NATS_URL, require_nats

EPOCH = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _seed(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'argus.db'}"
    migrate.upgrade(url)
    sid = seed_defense(url)
    with open_session(url) as s:
        s.execute(update(Scenario).where(Scenario.id == sid).values(start_time=EPOCH))
        s.commit()
    return url


def _last_launch(stream: str, prefix: str) -> ev.Event | None:
    async def main() -> ev.Event | None:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(NATS_URL)
        try:
            msg = await nc.jetstream().get_last_msg(stream, f"{prefix}.missile.launched")
        except NotFoundError:
            return None
        finally:
            await nc.close()
        return ev.decode("missile.launched", msg.data)

    return asyncio.run(main())


def _flights(url: str) -> list[MissileFlight]:
    with open_session(url) as s:
        return list(s.scalars(select(MissileFlight)))


@pytest.mark.nats
def test_a_launch_is_committed_then_published_on_the_bus(tmp_path: Path) -> None:
    require_nats()
    name = "L" + uuid.uuid4().hex[:10].upper()
    prefix = name.lower()
    url = _seed(tmp_path)
    settings = make_settings(url, bus_url=f"{NATS_URL}?stream={name}&prefix={prefix}")
    try:
        with TestClient(create_app(settings)) as c:
            assert getattr(c.app.state, "defense", None) is None  # type: ignore[attr-defined]
            assert c.app.state.bus_launcher is not None  # type: ignore[attr-defined]
            op = login(c, "operator", PASSWORDS["operator"])
            # Unreachable for a SCUD-C (≈ 600 km): 422 naming the field, nothing stored or sent.
            far = {**LAUNCH, "targetLat": 60.0, "targetLon": -150.0}
            body = assert_problem(c.post("/api/sim/launch", params=far, headers=op), 422)
            assert "targetLat/targetLon" in body["detail"]
            assert _flights(url) == [] and _last_launch(name, prefix) is None

            before = dt.datetime.now(dt.UTC)
            r = c.post("/api/sim/launch", params=LAUNCH, headers=op)
            assert r.status_code == 201, r.text
            out = r.json()
        rows = _flights(url)
        assert [f.flight_id for f in rows] == [out["flight_id"]]
        row = rows[0]
        assert row.created_by == "operator" and row.state == "flying"
        assert (row.launch_lat, row.launch_lon) == (LAUNCH["lat"], LAUNCH["lon"])
        # A SCUD-C over ≈ 430 km flies for some minutes: the impact is after the launch.
        assert row.impact_at is not None
        assert dt.timedelta(minutes=3) < row.impact_at - row.launched_at < dt.timedelta(minutes=10)
        assert before <= row.launched_at.replace(tzinfo=dt.UTC) <= dt.datetime.now(dt.UTC)

        e = _last_launch(name, prefix)
        assert isinstance(e, ev.MissileLaunched)
        assert e.flight_id == out["flight_id"] and e.missile_type == "SCUD-C"
        assert e.catalogue_key == "scud-c"
        assert (e.target_lat_deg, e.target_lon_deg) == (LAUNCH["targetLat"], LAUNCH["targetLon"])
        assert e.time == row.launched_at.replace(tzinfo=dt.UTC)
    finally:

        async def drop() -> None:
            bus = await NatsBus.connect(NATS_URL, stream=name, prefix=prefix)
            await bus.delete_stream()
            await bus.close()

        asyncio.run(drop())


def test_a_launch_that_cannot_be_published_is_not_kept(tmp_path: Path) -> None:
    url = _seed(tmp_path)
    with TestClient(create_app(make_settings(url))) as c:
        closed: Any = InProcessBus()
        asyncio.run(closed.close())  # publishing on it raises, as a lost NATS connection does
        c.app.state.bus_launcher = BusLauncher(c.app.state.sessionmaker, closed)  # type: ignore[attr-defined]
        op = login(c, "operator", PASSWORDS["operator"])
        body = assert_problem(c.post("/api/sim/launch", params=LAUNCH, headers=op), 503)
        assert "could not be published" in body["detail"] and "nothing was stored" in body["detail"]
    with open_session(url) as s:
        assert s.scalar(select(func.count()).select_from(MissileFlight)) == 0
