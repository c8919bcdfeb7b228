"""The defense routes (``argus.api.routes.defense``) and ``/ws/radar-stream`` on a live run that
the test drives itself: the app's ``app.state.defense`` is a :class:`DefenseRuntime` that is not
started, and each pipeline cycle is one ``step()``.

Launches (query parameters and JSON body, roles, problem+json naming the field), flights (list,
detail, 404), the radar / threats / metrics / controller bodies after a SCUD-C has risen into
RAD_VBG's coverage (typed: validated against ``argus.api.schemas_defense``), 503 without a
pipeline, and the WebSocket's auth and frames.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from argus.api import schemas_defense as sd
from argus.api.app import create_app
from argus.db import migrate
from argus.db.models import MissileFlight
from argus.defense.service.catalog import DEMO_ASSETS, DEMO_BATTERIES, DEMO_RAID
from argus.defense.service.runtime import DefenseRuntime
from tests.api._support import (
    assert_problem,
    copy_template,
    error_fields,
    make_settings,
    open_session,
)
from tests.defense._support import seed_defense

EPOCH = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LA = DEMO_ASSETS[0]
RAID = DEMO_RAID[0]
#: The seed's query parameters for one SCUD-C on Los Angeles (≈ 430 km).
LAUNCH = {
    "lat": RAID["lat"],
    "lon": RAID["lon"],
    "targetLat": LA["lat"],
    "targetLon": LA["lon"],
    "missileType": "SCUD-C",
}
LIVE_GETS = (
    "/api/radar/status",
    "/api/radar/targets",
    "/api/radar/tracks",
    "/api/radar/scan",
    "/api/radar/signal-quality",
    "/api/threats/active",
    "/api/threats/critical",
    "/api/threats/summary",
    "/api/threats/history",
    "/api/threats/ew-status",
    "/api/metrics/pipeline",
    "/api/controller/status",
)


@dataclass
class Live:
    url: str
    client: TestClient
    app: FastAPI
    rt: DefenseRuntime
    scenario_id: int


def _live(url: str, sid: int) -> Iterator[Live]:
    app = create_app(make_settings(url))
    with TestClient(app) as client:
        rt = DefenseRuntime(app.state.sessionmaker, sid, epoch=EPOCH)
        app.state.defense = rt
        try:
            yield Live(url, client, app, rt, sid)
        finally:
            rt.stop()


@pytest.fixture(scope="module")
def defense_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A migrated SQLite database seeded once per module (defense demo, classifier, users)."""
    path = tmp_path_factory.mktemp("defense-template") / "argus.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return path, seed_defense(url)


@pytest.fixture
def live_sqlite(defense_template: tuple[Path, int], tmp_path: Path) -> Iterator[Live]:
    yield from _live(copy_template(defense_template[0], tmp_path), defense_template[1])


@pytest.fixture
def live(db_url: str, defense_template: tuple[Path, int], tmp_path: Path) -> Iterator[Live]:
    """SQLite (a copy of the template; ``db_url``'s fresh file is left unused) and a fresh
    PostgreSQL database, seeded. Through ``db_url`` so the PostgreSQL variant is marked ``pg``."""
    if db_url.startswith("sqlite"):
        target = tmp_path / "live"
        target.mkdir()
        yield from _live(copy_template(defense_template[0], target), defense_template[1])
    else:
        yield from _live(db_url, seed_defense(db_url))


def _typed(model: Any, body: Any) -> Any:
    """``body`` validated against the route's response model (raises on a missing/mistyped field)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_validate(body)
    return TypeAdapter(model).validate_python(body)


def _iso(t: str) -> dt.datetime:
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


# ---- launches and flights


def test_launch_by_query_and_by_body_then_list_and_read_flights(
    live: Live, auth: dict[str, dict[str, str]]
) -> None:
    c = live.client
    r = c.post("/api/sim/launch", params=LAUNCH, headers=auth["operator"])
    assert r.status_code == 201, r.text
    a = _typed(sd.FlightOut, r.json())
    assert (a.missile_type, a.state, a.scenario_id) == ("SCUD-C", "flying", live.scenario_id)
    assert (a.lat, a.lon, a.target_lat, a.target_lon) == (
        RAID["lat"],
        RAID["lon"],
        LA["lat"],
        LA["lon"],
    )
    assert _iso(a.launched_at) == EPOCH and a.ended_at is None and a.outcome is None
    assert a.impact_at is not None
    flight_s = (_iso(a.impact_at) - EPOCH).total_seconds()
    assert 200.0 < flight_s < 600.0  # a ~430 km SCUD-C flies for minutes, not seconds or hours

    body = {
        **LAUNCH,
        "lat": DEMO_RAID[1]["lat"],
        "lon": DEMO_RAID[1]["lon"],
        "trajectory": "lofted",
    }
    r = c.post("/api/sim/launch", json=body, headers=auth["admin"])
    assert r.status_code == 201, r.text
    b = _typed(sd.FlightOut, r.json())
    assert b.trajectory == "lofted" and b.lat == DEMO_RAID[1]["lat"] and b.state == "flying"
    assert b.flight_id != a.flight_id

    with open_session(live.url) as s:
        rows = {f.flight_id: f for f in s.scalars(select(MissileFlight))}
    assert set(rows) == {a.flight_id, b.flight_id}
    assert rows[a.flight_id].state == "flying" and rows[a.flight_id].impact_at is not None
    assert rows[a.flight_id].created_by == "operator" and rows[b.flight_id].created_by == "admin"
    assert live.rt.status()["flights"] == 2  # the runtime flies both

    r = c.get("/api/sim/flights", headers=auth["viewer"])
    assert r.status_code == 200
    listed = _typed(list[sd.FlightOut], r.json())
    assert [f.flight_id for f in listed] == [b.flight_id, a.flight_id]  # newest first
    r = c.get(f"/api/sim/flights?scenario_id={live.scenario_id + 1}", headers=auth["viewer"])
    assert r.status_code == 200 and r.json() == []

    r = c.get(f"/api/sim/flights/{a.flight_id}", headers=auth["viewer"])
    assert r.status_code == 200
    detail = _typed(sd.FlightDetailOut, r.json())
    assert detail.flight_id == a.flight_id
    assert [e.subject for e in detail.events] == ["missile.launched"]
    assert detail.events[0].payload["missile_type"] == "SCUD-C"

    body_404 = assert_problem(c.get("/api/sim/flights/no-such-flight", headers=auth["viewer"]), 404)
    assert "flight_id" in body_404["detail"] and "no-such-flight" in body_404["detail"]


def test_launch_needs_an_operator_and_valid_input(
    live_sqlite: Live, auth: dict[str, dict[str, str]]
) -> None:
    c = live_sqlite.client
    assert (
        "not authenticated"
        in assert_problem(c.post("/api/sim/launch", params=LAUNCH), 401)["detail"]
    )
    r = c.post("/api/sim/launch", params=LAUNCH, headers=auth["viewer"])
    assert assert_problem(r, 403)["detail"] == "needs role operator or higher; viewer is viewer"

    op = auth["operator"]
    r = c.post("/api/sim/launch", params={**LAUNCH, "missileType": "V-2"}, headers=op)
    body = assert_problem(r, 422)
    assert error_fields(body) == {"missileType"} and "V-2" in body["detail"]
    assert "SCUD-C" in body["detail"]  # the known types are listed

    r = c.post("/api/sim/launch", params={**LAUNCH, "lat": 95.0}, headers=op)
    body = assert_problem(r, 422)
    assert error_fields(body) == {"query.lat"}
    r = c.post("/api/sim/launch", json={**LAUNCH, "lat": 95.0}, headers=op)
    body = assert_problem(r, 422)
    assert error_fields(body) == {"lat"} and body["detail"].startswith("lat: ")
    r = c.post("/api/sim/launch", json={**LAUNCH, "altitude": 3}, headers=op)
    assert error_fields(assert_problem(r, 422)) == {"altitude"}
    r = c.post("/api/sim/launch", json={"lon": 1.0}, headers=op)
    assert assert_problem(r, 422)["detail"].startswith("lat: ")
    r = c.post("/api/sim/launch", content=b"[1]", headers=op)
    assert "JSON object" in assert_problem(r, 422)["detail"]

    # 5,000 km is far beyond a SCUD-C's reach (≈ 550-600 km)
    r = c.post(
        "/api/sim/launch", params={**LAUNCH, "targetLat": 31.2, "targetLon": -68.0}, headers=op
    )
    body = assert_problem(r, 422)
    assert error_fields(body) == {"targetLat/targetLon"}, body

    # nothing was launched by any refused call
    assert c.get("/api/sim/flights", headers=auth["viewer"]).json() == []
    assert live_sqlite.rt.status()["flights"] == 0


# ---- the live picture


def _step_until_tracked(rt: DefenseRuntime, limit: int = 240) -> int:
    for _ in range(limit):
        rt.step()
        if rt.frame["tracks"]:
            return rt.loop.cycle
    raise AssertionError(f"no track after {limit} cycles")


def test_live_endpoints_after_the_missile_rises(
    live: Live, auth: dict[str, dict[str, str]]
) -> None:
    c, rt, v = live.client, live.rt, auth["viewer"]
    fid = c.post("/api/sim/launch", params=LAUNCH, headers=auth["operator"]).json()["flight_id"]

    # before any cycle: typed, empty picture at the epoch
    r = c.get("/api/radar/tracks", headers=v)
    assert r.status_code == 200 and r.json() == {"time": "2026-03-01T12:00:00Z", "tracks": []}

    first = _step_until_tracked(rt)
    # the first track appears once the missile has risen above RAD_VBG's horizon (~400 km away)
    truth = {t["flight_id"]: t for t in rt.frame["truth"]}
    assert truth[fid]["alt_m"] > 5_000.0
    assert 20 < first < 200, first  # not at launch (below the horizon), well before burnout ends
    for _ in range(10):
        rt.step()
    # the beam sweeps the target once per scan period (2 s = 4 cycles): end on a cycle with plots
    for _ in range(8):
        if rt.step().n_detections:
            break
    cycles = rt.loop.cycle
    now = EPOCH + dt.timedelta(seconds=cycles * rt.cfg.scan_interval_s)

    got: dict[str, Any] = {}
    models: dict[str, Any] = {
        "/api/radar/status": sd.RadarStatusOut,
        "/api/radar/targets": sd.TargetsOut,
        "/api/radar/tracks": sd.TracksOut,
        "/api/radar/scan": sd.ScanOut,
        "/api/radar/signal-quality": sd.SignalQualityOut,
        "/api/threats/active": sd.ThreatsOut,
        "/api/threats/critical": sd.ThreatsOut,
        "/api/threats/summary": sd.ThreatSummaryOut,
        "/api/threats/history": sd.ThreatHistoryOut,
        "/api/threats/ew-status": sd.EwStatusOut,
        "/api/controller/status": sd.ControllerStatusOut,
    }
    for path, model in models.items():
        r = c.get(path, headers=v)
        assert r.status_code == 200, (path, r.text)
        got[path] = _typed(model, r.json())

    status = got["/api/radar/status"]
    assert status.running is False and status.cycle == cycles and _iso(status.time) == now
    assert [s.name for s in status.sites] == ["RAD_VBG"] and status.sites[0].max_range_m == 900e3
    assert status.sites[0].jammed is False

    targets = got["/api/radar/targets"].targets
    assert [t.flight_id for t in targets] == [fid] and targets[0].alt_m > truth[fid]["alt_m"]

    tracks = got["/api/radar/tracks"].tracks
    assert len(tracks) == 1
    trk = tracks[0]
    assert trk.classification == "ballistic_missile" and 0.0 <= trk.confidence <= 1.0
    assert abs(trk.alt_m - targets[0].alt_m) < 3_000.0  # the track follows the truth
    assert abs(trk.lat - targets[0].lat) < 0.1 and abs(trk.lon - targets[0].lon) < 0.1
    assert 300.0 < trk.speed_mps < 3_000.0

    scan = got["/api/radar/scan"]
    assert scan.cycle == cycles and scan.n_detections == len(scan.detections) >= 1
    assert all(p.site == "RAD_VBG" and 0.0 < p.range_m <= 900e3 for p in scan.detections)
    assert all(p.snr_db >= 12.0 for p in scan.detections)  # above the detection threshold

    sq = got["/api/radar/signal-quality"]
    assert sq.detection_threshold_db == 12.0
    assert sq.mean_snr_db is not None and sq.mean_snr_db >= 12.0

    active = {t.track_id for t in got["/api/threats/active"].threats}
    critical = {t.track_id for t in got["/api/threats/critical"].threats}
    assert critical <= active <= {t.track_id for t in tracks}
    assert active == {t.track_id for t in tracks if t.level != "none"}
    assert all(t.level == "critical" for t in got["/api/threats/critical"].threats)

    summary = got["/api/threats/summary"]
    assert summary.n_tracks == 1 and sum(summary.by_level.values()) == 1
    assert summary.by_level[trk.level] == 1 and summary.kills == 0
    stock = {b["call_sign"]: b["rounds"] for b in DEMO_BATTERIES}
    assert sum(stock.values()) - sum(summary.rounds.values()) == summary.engagements
    assert set(summary.rounds) == set(stock)

    for change in got["/api/threats/history"].changes:  # this run's level changes, newest first
        assert change.track_id == trk.track_id and change.previous_level != change.level
    if trk.level != "none":
        assert got["/api/threats/history"].changes[0].level == trk.level
    ew = got["/api/threats/ew-status"]
    assert [s.name for s in ew.sites] == ["RAD_VBG"] and ew.responses == []  # nobody jams

    ctl = got["/api/controller/status"]
    assert ctl.cycle == cycles and ctl.running is False and ctl.flights == 1
    assert ctl.run_id == rt.run_id and ctl.scenario_id == live.scenario_id
    assert ctl.n_tracks == 1 and ctl.errors == [] and _iso(ctl.sim_time) == now
    assert ctl.last_cycle_s is not None and 0.0 < ctl.last_cycle_s < 5.0

    for area in ("radar", "detection", "tracking", "threats", "ew", "pipeline", "system"):
        r = c.get(f"/api/metrics/{area}", headers=v)
        assert r.status_code == 200, (area, r.text)
        m = _typed(sd.MetricsOut, r.json())
        assert m.area == area and _iso(m.time) == now
        got[area] = m.values
    assert got["pipeline"]["cycles"] == cycles
    assert got["pipeline"]["cycle_p50_s"] is not None and got["pipeline"]["cycle_p50_s"] > 0.0
    assert got["pipeline"]["interceptors_in_flight"] == rt.loop.interceptors.n_alive
    assert got["radar"]["sites"] == 1
    assert got["tracking"]["tracks"] == 1
    assert got["detection"]["detections_last_cycle"] == scan.n_detections
    assert got["detection"]["threshold_db"] == 12.0
    assert sum(v for v in got["threats"].values() if v is not None) == 1
    assert got["ew"] == {"radars_jammed": 0.0, "eccm_active": 0.0}
    assert got["system"]["errors"] == 0
    assert_problem(c.get("/api/metrics/bogus", headers=v), 422)


def test_live_endpoints_without_a_pipeline_are_503(
    live_sqlite: Live, auth: dict[str, dict[str, str]]
) -> None:
    c = live_sqlite.client
    live_sqlite.app.state.defense = None
    for path in LIVE_GETS:
        body = assert_problem(c.get(path, headers=auth["viewer"]), 503)
        assert "argus serve --pipeline" in body["detail"], (path, body)
    body = assert_problem(c.post("/api/sim/launch", params=LAUNCH, headers=auth["operator"]), 503)
    assert "argus serve --pipeline" in body["detail"]
    body = assert_problem(c.post("/api/controller/restart", headers=auth["admin"]), 503)
    assert "argus serve --pipeline" in body["detail"]
    # the stored flights do not need the pipeline
    assert c.get("/api/sim/flights", headers=auth["viewer"]).json() == []
    # still 401 / 403 first
    assert_problem(c.get("/api/radar/status"), 401)
    assert_problem(c.post("/api/controller/restart", headers=auth["operator"]), 403)


def test_controller_restart_needs_an_admin(
    live_sqlite: Live, auth: dict[str, dict[str, str]]
) -> None:
    c, rt = live_sqlite.client, live_sqlite.rt
    r = c.post("/api/controller/restart", headers=auth["operator"])
    assert assert_problem(r, 403)["detail"] == "needs role admin or higher; operator is operator"
    assert rt.running is False
    r = c.post("/api/controller/restart", headers=auth["admin"])
    assert r.status_code == 200, r.text
    assert _typed(sd.ControllerStatusOut, r.json()).running is True
    deadline = time.monotonic() + 10.0
    while rt.loop.cycle < 1 and time.monotonic() < deadline:  # the thread runs cycles
        time.sleep(0.05)
    assert rt.loop.cycle >= 1
    st = c.get("/api/controller/status", headers=auth["viewer"]).json()
    assert st["running"] is True and st["errors"] == []
    rt.stop()
    assert c.get("/api/controller/status", headers=auth["viewer"]).json()["running"] is False


# ---- /ws/radar-stream


def test_radar_stream_refuses_a_bad_token(live_sqlite: Live) -> None:
    with live_sqlite.client.websocket_connect("/ws/radar-stream?token=not-a-jwt") as ws:
        first = ws.receive_json()
        assert first["type"] == "error" and first["status"] == 401
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    # no token at all: the first message carries none
    with live_sqlite.client.websocket_connect("/ws/radar-stream") as ws:
        ws.send_json({"hello": "no token"})
        first = ws.receive_json()
        assert first["type"] == "error" and first["status"] == 401
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    assert live_sqlite.rt.cycle_listeners == []


def test_radar_stream_without_a_pipeline_says_how_to_start_it(
    live_sqlite: Live, auth: dict[str, dict[str, str]]
) -> None:
    live_sqlite.app.state.defense = None
    token = auth["viewer"]["Authorization"].removeprefix("Bearer ")
    with live_sqlite.client.websocket_connect(f"/ws/radar-stream?token={token}") as ws:
        first = ws.receive_json()
        assert first["type"] == "error" and first["status"] == 503
        assert "argus serve --pipeline" in first["detail"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4503


def test_radar_stream_sends_a_frame_and_the_threats_after_a_cycle(
    live_sqlite: Live, auth: dict[str, dict[str, str]]
) -> None:
    c, rt = live_sqlite.client, live_sqlite.rt
    fid = c.post("/api/sim/launch", params=LAUNCH, headers=auth["operator"]).json()["flight_id"]
    token = auth["viewer"]["Authorization"].removeprefix("Bearer ")
    with c.websocket_connect("/ws/radar-stream") as ws:
        ws.send_json({"token": token})  # the token as the first message
        deadline = time.monotonic() + 10.0
        while not rt.cycle_listeners and time.monotonic() < deadline:  # subscribed
            time.sleep(0.01)
        assert len(rt.cycle_listeners) == 1
        rt.step()
        frame = ws.receive_json()
        assert frame["type"] == "radar_frame" and frame["cycle"] == 1
        assert frame["time"] == "2026-03-01T12:00:00.500000Z"
        assert [t["flight_id"] for t in frame["truth"]] == [fid]
        assert frame["radars"][0]["name"] == "RAD_VBG"
        assert {b["call_sign"] for b in frame["batteries"]} == {"BAT_LA", "BAT_SD"}
        threats = ws.receive_json()
        assert threats == {"type": "threats", "time": frame["time"], "threats": []}
        status = ws.receive_json()  # every 10 frames, starting with the first
        assert status["type"] == "system_status" and status["cycle"] == 1
        rt.step()
        assert ws.receive_json()["cycle"] == 2
        assert ws.receive_json()["type"] == "threats"
    deadline = time.monotonic() + 5.0
    while rt.cycle_listeners and time.monotonic() < deadline:  # unsubscribed on close
        time.sleep(0.01)
    assert rt.cycle_listeners == []


# ---- a scenario file played in the running pipeline (POST /api/sim/scenario)

EXAMPLE = Path(__file__).resolve().parents[2] / "src/argus/scenario/examples/defense.toml"


def _scenario_text(name: str) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert 'name = "Defense raid (example)"' in text
    return text.replace('name = "Defense raid (example)"', f'name = "{name}"', 1)


def test_a_scenario_file_plays_in_the_running_pipeline(
    live: Live, auth: dict[str, dict[str, str]]
) -> None:
    c, rt = live.client, live.rt
    old_run = rt.run_id
    seen: list[dict[str, Any]] = []
    rt.cycle_listeners.append(seen.append)  # a console connected before the switch
    text = _scenario_text("Played raid")
    url = "/api/sim/scenario"
    hdr = {"content-type": "application/toml"}
    assert c.post(url, content=text, headers=hdr).status_code == 401
    assert_problem(c.post(url, content=text, headers={**hdr, **auth["viewer"]}), 403)

    r = c.post(url, content=text, headers={**hdr, **auth["operator"]})
    assert r.status_code == 201, r.text
    body = _typed(sd.PlayedScenarioOut, r.json())
    assert body.name == "Played raid" and body.scenario_id != live.scenario_id
    assert (body.radars, body.batteries, body.assets) == (1, 2, 2)
    assert (body.ballistic, body.airbreathers, body.jammers) == (2, 4, 1)
    assert body.replaced is False and body.run_id != old_run
    assert rt.scenario_id == body.scenario_id and rt.run_id == body.run_id
    assert [b.call_sign for b in rt.cfg.batteries] == ["BAT_LA", "BAT_SD"]
    assert len(rt.cfg.jammers) == 1 and rt.loop.cycle == 0
    # launch_time_s 0 and 30 after the switch; the four air-breathers fly from the start
    assert [round(t, 6) for t, _ in rt.scheduled] == [0.0, 30.0]
    status_body = c.get("/api/controller/status", headers=auth["viewer"]).json()
    assert status_body["scenario_id"] == body.scenario_id and status_body["run_id"] == body.run_id

    rt.step()
    with open_session(live.url) as s:
        flights = list(s.scalars(select(MissileFlight)))
    assert [(f.scenario_id, f.created_by) for f in flights] == [(body.scenario_id, "scenario")]
    assert flights[0].launch_lat == 31.2 and flights[0].target_lat == 34.05
    for _ in range(round(30.0 / rt.cfg.scan_interval_s)):
        rt.step()
    with open_session(live.url) as s:
        assert len(list(s.scalars(select(MissileFlight)))) == 2  # the second at 30 s
    assert seen and seen[-1]["cycle"] == rt.loop.cycle  # the listener followed the new run
    assert {b["call_sign"] for b in seen[-1]["batteries"]} == {"BAT_LA", "BAT_SD"}

    # the name is taken: 409; replacing needs an admin
    assert (
        "exists already"
        in assert_problem(c.post(url, content=text, headers={**hdr, **auth["operator"]}), 409)[
            "detail"
        ]
    )
    forbidden = assert_problem(
        c.post(url + "?replace=true", content=text, headers={**hdr, **auth["operator"]}), 403
    )
    assert "admin" in forbidden["detail"]
    r = c.post(url + "?replace=true", content=text, headers={**hdr, **auth["admin"]})
    assert r.status_code == 201, r.text
    again = _typed(sd.PlayedScenarioOut, r.json())
    assert again.replaced is True and again.run_id != body.run_id  # (SQLite may reuse the id)
    assert rt.scenario_id == again.scenario_id and rt.loop.cycle == 0


def test_a_bad_scenario_file_changes_nothing(
    live_sqlite: Live, auth: dict[str, dict[str, str]]
) -> None:
    c, rt = live_sqlite.client, live_sqlite.rt
    before = (rt.scenario_id, rt.run_id)
    hdr = {"content-type": "application/toml", **auth["operator"]}
    bad = _scenario_text("Bad raid").replace("rounds = 16", "rounds = -3", 1)
    detail = assert_problem(c.post("/api/sim/scenario", content=bad, headers=hdr), 422)["detail"]
    assert "battery[1].rounds" in detail, detail
    not_toml = assert_problem(
        c.post("/api/sim/scenario", content="[[radar]\nid = 1", headers=hdr), 422
    )["detail"]
    assert "not valid TOML" in not_toml
    no_radar = "[scenario]\nname = 'empty'\nduration_s = 10.0\n"
    assert (
        "[[radar]]"
        in assert_problem(c.post("/api/sim/scenario", content=no_radar, headers=hdr), 422)["detail"]
    )
    # valid TOML the runtime refuses only once it is stored (a jammer carried by a ballistic
    # missile): the new scenario row is deleted again
    carried = _scenario_text("Carried raid").replace("carrier_id = 21", "carrier_id = 1", 1)
    detail = assert_problem(c.post("/api/sim/scenario", content=carried, headers=hdr), 422)[
        "detail"
    ]
    assert "carrier_id" in detail and "not an airbreather" in detail, detail
    big = assert_problem(
        c.post("/api/sim/scenario", content=b"#" * (256 * 1024 + 1), headers=hdr), 413
    )
    assert "262144" in big["detail"]
    assert (rt.scenario_id, rt.run_id) == before
    with open_session(live_sqlite.url) as s:
        from argus.db.models import Scenario

        names = set(s.scalars(select(Scenario.name)))
    assert not names & {"Bad raid", "empty", "Carried raid"}


def test_the_served_pipeline_plays_the_configured_scenario_file(
    defense_template: tuple[Path, int], tmp_path: Path, auth: dict[str, dict[str, str]]
) -> None:
    url = copy_template(defense_template[0], tmp_path)
    f = tmp_path / "raid.toml"
    f.write_text(_scenario_text("Served raid"), encoding="utf-8")
    app = create_app(make_settings(url, defense_scenario_file=f), run_pipeline=True)
    with TestClient(app) as client:
        rt = app.state.defense
        assert rt is not None and rt.running
        with open_session(url) as s:
            from argus.db.models import Scenario

            sid = s.scalar(select(Scenario.id).where(Scenario.name == "Served raid"))
        assert rt.scenario_id == sid
        assert (
            client.get("/api/controller/status", headers=auth["viewer"]).json()["scenario_id"]
            == sid
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the launch at 0 s is flown by the first cycle
            with open_session(url) as s:
                if s.scalar(
                    select(MissileFlight.flight_id).where(MissileFlight.scenario_id == sid)
                ):
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("the scenario's first launch never flew")
    # a file that cannot be played: the pipeline does not start and says why
    f.write_text("[scenario]\nname = 'x'\nduration_s = 1.0\n", encoding="utf-8")
    app = create_app(make_settings(url, defense_scenario_file=f), run_pipeline=True)
    with TestClient(app) as client:
        assert app.state.defense is None
        detail = assert_problem(client.get("/api/controller/status", headers=auth["viewer"]), 503)[
            "detail"
        ]
        assert "[[radar]]" in detail and "raid.toml" in detail
