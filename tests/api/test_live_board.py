"""The live board follows the scenario's own "now"; a look-ahead never replaces it (issue 9.3).

The demo is a replayed scenario: 06:00–06:05 of 2025-06-01, looped by the periodic tick at
``scenario_time(now)``. A tick evaluates it live; a what-if three minutes ahead (compute_at with
persist) is stored apart; the ranking, the WebSocket snapshot, threat_score_latest and scores.csv
keep showing the tick's time, and after the replay loops back to its start the board follows the
loop (an earlier described time, evaluated later), still without the look-ahead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from argus.db.models import ThreatScore, ThreatScoreLatest, ThreatScoreWhatIf
from argus.jobs import tasks
from argus.tewa import demo
from tests.api._support import DEMO_SCENARIO_ID, open_session

INTERVAL_S = 1.0
SPAN = dt.timedelta(seconds=demo.DEMO_DURATION_S)
#: A wall-clock tick whose replay offset is 60 s: it evaluates the demo at 06:01:00.
TICK_1 = demo.DEMO_START + 20_000 * SPAN + dt.timedelta(seconds=60)
LIVE_1 = demo.DEMO_START + dt.timedelta(seconds=60)
LOOK_AHEAD = LIVE_1 + dt.timedelta(minutes=3)  # 06:04:00
#: A later tick after the replay looped: offset 30 s, so it describes 06:00:30.
TICK_2 = TICK_1 + SPAN - dt.timedelta(seconds=30)
LIVE_2 = demo.DEMO_START + dt.timedelta(seconds=30)


def _z(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _tick(url: str, now: dt.datetime) -> list[dict[str, Any]]:
    return tasks.periodic_compute_threats(url, INTERVAL_S, now=now.isoformat())


def _board(client: TestClient, auth: Any, **params: Any) -> dict[str, Any]:
    r = client.get(
        "/api/tewa/ranking/",
        params={"scenario_id": DEMO_SCENARIO_ID, **params},
        headers=auth["viewer"],
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _ws_stamp(client: TestClient, auth: Any) -> tuple[str, dict[str, float]]:
    token = auth["viewer"]["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(
        f"/ws/threats?scenario_id={DEMO_SCENARIO_ID}&token={token}"
    ) as ws:
        msg = ws.receive_json()
    assert msg["type"] == "ranking"
    return msg["computed_at"], {x["track_id"]: x["score"] for x in msg["global"]}


def _latest_described(url: str) -> set[dt.datetime]:
    with open_session(url) as s:
        return set(s.scalars(sa.select(ThreatScoreLatest.computed_at)))


def _csv_times(client: TestClient, auth: Any, **params: Any) -> set[str]:
    r = client.get(
        f"/api/scenarios/{DEMO_SCENARIO_ID}/scores.csv", params=params, headers=auth["viewer"]
    )
    assert r.status_code == 200, r.text
    return {row["computed_at"] for row in csv.DictReader(io.StringIO(r.text))}


def _assert_board_shows(
    client: TestClient, auth: Any, url: str, described: dt.datetime, scores: dict[str, float]
) -> None:
    board = _board(client, auth)
    assert board["what_if"] is False
    assert {r["computed_at"] for r in board["results"]} == {_z(described)}
    assert {r["track_id"]: r["score"] for r in board["results"]} == scores
    stamp, pushed = _ws_stamp(client, auth)
    assert (stamp, pushed) == (_z(described), scores)
    assert _latest_described(url) == {described}


def test_a_look_ahead_three_minutes_ahead_never_replaces_the_live_board(
    client: TestClient, auth: Any, seeded_sqlite_url: str
) -> None:
    url = seeded_sqlite_url
    (first,) = _tick(url, TICK_1)
    assert first["computed_at"] == LIVE_1.isoformat() and first["written"] == 6
    live_1 = {r["track_id"]: r["score"] for r in _board(client, auth)["results"]}
    assert len(live_1) == 3  # the demo's three tracks, each at its best DA
    _assert_board_shows(client, auth, url, LIVE_1, live_1)

    # The operator looks three minutes ahead and keeps the result.
    r = client.post(
        "/api/tewa/compute_at/",
        json={"scenario_id": DEMO_SCENARIO_ID, "when": _z(LOOK_AHEAD), "persist": True},
        headers=auth["operator"],
    )
    assert r.status_code == 200, r.text
    ahead = r.json()
    assert ahead["what_if"] is True and ahead["persisted"] == 6
    ahead_best = {
        t: max(p["score"] for p in ahead["results"] if p["track_id"] == t)
        for t in {p["track_id"] for p in ahead["results"]}
    }
    assert ahead_best != live_1  # three minutes later the threats have moved

    # The live board, the push, the trigger-kept table and the export still show 06:01.
    _assert_board_shows(client, auth, url, LIVE_1, live_1)
    assert _csv_times(client, auth) == {_z(LIVE_1)}
    # Even asked "at or before 06:04", the live history holds only what the tick stored.
    at_ahead = _board(client, auth, at=_z(LOOK_AHEAD))
    assert {r["computed_at"] for r in at_ahead["results"]} == {_z(LIVE_1)}
    # The what-if has its own home, marked as such.
    wi = _board(client, auth, what_if="true")
    assert wi["what_if"] is True
    assert {r["computed_at"] for r in wi["results"]} == {_z(LOOK_AHEAD)}
    assert {r["track_id"]: r["score"] for r in wi["results"]} == ahead_best
    assert _csv_times(client, auth, what_if="true") == {_z(LOOK_AHEAD)}

    # The replay loops: a later tick describes 06:00:30, an earlier time evaluated later. The
    # board follows the loop, not the newest described time (06:04 what-if or 06:01 tick).
    (second,) = _tick(url, TICK_2)
    assert second["computed_at"] == LIVE_2.isoformat() and second["written"] == 6
    live_2 = {r["track_id"]: r["score"] for r in _board(client, auth)["results"]}
    assert live_2 != live_1
    _assert_board_shows(client, auth, url, LIVE_2, live_2)
    assert _csv_times(client, auth) == {_z(LIVE_1), _z(LIVE_2)}

    # A redelivered tick writes nothing and changes nothing.
    (again,) = _tick(url, TICK_2)
    assert again["written"] == 0
    _assert_board_shows(client, auth, url, LIVE_2, live_2)
    with open_session(url) as s:
        counts = [
            s.scalar(sa.select(sa.func.count()).select_from(t))
            for t in (ThreatScore, ThreatScoreWhatIf)
        ]
    assert counts == [12, 6]
