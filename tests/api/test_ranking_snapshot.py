"""The live global ranking rendered by the batch's writer (``ranking_snapshot``, PostgreSQL).

A live batch stores, in its own transaction, the global board's JSON for the revision it
produced; the ranking endpoint serves it on a cache miss instead of re-ranking. The tests prove
the snapshot is the ranking (equal to ``rank()``), that the endpoint really serves it (a
tampered snapshot shows through a fresh app, and only for the query it covers), that it is
never served once the revision has moved (a rename), and that SQLite, which has none, ranks as
before.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from argus.api.app import create_app
from argus.db.models import RankingSnapshot, Scenario, Track
from argus.tewa import service
from tests.api._support import DEMO_SCENARIO_ID, make_settings, open_session, seed_live


def _want(url: str) -> list[dict[str, Any]]:
    with open_session(url) as s:
        sc = s.get(Scenario, DEMO_SCENARIO_ID)
        assert sc is not None
        return [r.as_json() for r in service.rank(s, sc)]


def _ranking(url: str, auth: dict[str, dict[str, str]], **q: Any) -> tuple[list[Any], str]:
    """The results and X-Argus-Cache of one request to a fresh app (an empty cache)."""
    with TestClient(create_app(make_settings(url))) as c:
        r = c.get("/api/tewa/ranking/", params={"scenario_id": DEMO_SCENARIO_ID, **q}, headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["results"], r.headers["X-Argus-Cache"]


def test_the_writer_stores_the_board_and_the_endpoint_serves_it(
    seeded_db_url: str, auth: dict[str, dict[str, str]]
) -> None:
    url = seeded_db_url
    pg = url.startswith("postgresql")
    seed_live(url, "2025-06-01T06:01:00Z")
    want = _want(url)
    assert len(want) == 3  # the demo's three tracks, each at its most threatened asset
    with open_session(url) as s:
        rev = s.execute(
            sa.select(Scenario.scores_rev).where(Scenario.id == DEMO_SCENARIO_ID)
        ).scalar_one()
        snap = s.get(RankingSnapshot, DEMO_SCENARIO_ID)
        if pg:
            assert snap is not None and snap.scores_rev == rev
            assert json.loads(snap.body) == want  # the same rows, order and values as rank()
            assert service.ranking_snapshot_body(s, DEMO_SCENARIO_ID, rev - 1) is None
        else:
            assert snap is None  # SQLite: the readers rank, as before
    got, cache = _ranking(url, auth["viewer"])
    assert got == want and cache == "miss"

    if not pg:
        return
    # The endpoint serves the stored body: a tampered snapshot (same revision) shows through a
    # fresh app, for the global "now" query only.
    with open_session(url) as s:
        s.execute(sa.update(RankingSnapshot).values(body=json.dumps(want[:1])))
        s.commit()
    assert _ranking(url, auth["viewer"])[0] == want[:1]
    assert _ranking(url, auth["viewer"], top_n=3)[0] == want  # not covered: ranked by the DB
    per_da = _ranking(url, auth["viewer"], da_id=want[0]["da_id"])[0]
    assert {r["da_id"] for r in per_da} == {want[0]["da_id"]} and len(per_da) == 3

    # A rename moves the revision without a batch: the snapshot is stale and never served.
    with open_session(url) as s:
        s.execute(
            sa.update(Track)
            .where(Track.scenario_id == DEMO_SCENARIO_ID, Track.track_id == want[0]["track_id"])
            .values(track_id="RENAMED")
        )
        s.commit()
    got = _ranking(url, auth["viewer"])[0]
    assert len(got) == 3 and got[0]["track_id"] == "RENAMED"
    assert [r["score"] for r in got] == [r["score"] for r in want]

    # The next batch stores a fresh snapshot for its own revision.
    seed_live(url, "2025-06-01T06:02:00Z")
    want2 = _want(url)
    with open_session(url) as s:
        rev2 = s.execute(
            sa.select(Scenario.scores_rev).where(Scenario.id == DEMO_SCENARIO_ID)
        ).scalar_one()
        snap = s.get(RankingSnapshot, DEMO_SCENARIO_ID)
        assert snap is not None and snap.scores_rev == rev2 > rev
        assert json.loads(snap.body) == want2
    assert _ranking(url, auth["viewer"])[0] == want2
    assert {r["computed_at"] for r in want2} == {"2025-06-01T06:02:00Z"}
