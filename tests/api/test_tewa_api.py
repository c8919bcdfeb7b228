"""The TEWA endpoints and the resources around them, end to end through the API.

Numbers are checked against the service called directly on the same database (one formula, one
place), and every error against its problem+json (status, the field it names).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from argus.api.app import create_app
from argus.db.models import (
    Scenario,
    ThreatScore,
    ThreatScoreLatest,
    Track,
    TrackSample,
)
from argus.db.models.tewa import ThreatScoreWhatIf
from argus.tewa import service
from argus.tewa.presets import DOCTRINE_PRESETS
from tests.api._support import (
    DEMO_SCENARIO_ID,
    assert_problem,
    error_fields,
    make_settings,
    metric_value,
    open_session,
    seed_live,
)

WHEN = "2025-06-01T06:02:00Z"
WHEN_DT = dt.datetime(2025, 6, 1, 6, 2, tzinfo=dt.UTC)
NUMBERS = (
    "cpa_km",
    "tcpa_s",
    "tdb_km",
    "twrp_s",
    "n_cpa",
    "n_tcpa",
    "n_tdb",
    "n_twrp",
    "score",
    "lat",
    "lon",
    "speed_mps",
    "heading_deg",
)
HEADER = "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp\n"
DEMO_SAMPLES = 93  # 3 tracks × 31 samples


def _iso(t: str) -> dt.datetime:
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


def compute(
    client: TestClient, headers: dict[str, str], when: str = WHEN, **extra: Any
) -> dict[str, Any]:
    r = client.post(
        "/api/tewa/compute_at/",
        json={"scenario_id": DEMO_SCENARIO_ID, "when": when, **extra},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def count(url: str, model: Any) -> int:
    with open_session(url) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# ---- compute_at ----


def test_compute_at_equals_the_service(
    db_client: TestClient, seeded_db_url: str, auth: Any
) -> None:
    body = compute(db_client, auth["operator"], persist=False)
    assert (body["scenario_id"], body["scenario"], body["when"], body["method"]) == (
        1,
        "Demo-Scenario",
        WHEN,
        "linear",
    )
    assert body["persisted"] == 0 and body["stale"] == [] and body["not_started"] == []
    got = body["results"]
    with open_session(seeded_db_url) as s:
        sc = s.get(Scenario, DEMO_SCENARIO_ID)
        assert sc is not None
        want = service.compute_at(s, sc, WHEN_DT).pairs
    assert len(got) == len(want) == 6
    assert [(g["track_id"], g["da_id"], g["da_name"]) for g in got] == [
        (w.track_id, w.da_id, w.da_name) for w in want
    ]
    infinities = 0
    for g, w in zip(got, want, strict=True):
        assert g["status"] == w.status == "ok"
        for name in NUMBERS:
            v = getattr(w, name)
            if math.isinf(v):
                infinities += 1
                assert g[name] is None, (g["track_id"], g["da_id"], name)
            else:
                assert g[name] == v, (g["track_id"], g["da_id"], name)
        assert g["computed_at"] is None  # not persisted
    assert infinities >= 1  # the demo has tracks that never reach weapon range (twrp_s = inf)


def test_compute_at_persists_a_what_if_and_leaves_the_live_board_alone(
    db_client: TestClient, seeded_db_url: str, auth: Any
) -> None:
    body = compute(db_client, auth["operator"], persist=True)
    assert body["persisted"] == 6 and body["what_if"] is True
    assert {r["computed_at"] for r in body["results"]} == {WHEN}
    first_eval = _iso(body["evaluated_at"])
    with open_session(seeded_db_url) as s:
        rows = s.execute(
            select(
                Track.track_id,
                ThreatScoreWhatIf.da_id,
                ThreatScoreWhatIf.score,
                ThreatScoreWhatIf.twrp_s,
                ThreatScoreWhatIf.evaluated_at,
            )
            .join(Track, Track.id == ThreatScoreWhatIf.track_id)
            .where(ThreatScoreWhatIf.computed_at == WHEN_DT)
        ).all()
    stored = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    assert stored == {
        (p["track_id"], p["da_id"]): (p["score"], p["twrp_s"]) for p in body["results"]
    }
    assert {r[4] for r in rows} == {first_eval}
    # the live board is untouched: no live row, no latest entry, an empty live ranking
    assert count(seeded_db_url, ThreatScore) == 0
    assert count(seeded_db_url, ThreatScoreLatest) == 0
    live = db_client.get("/api/tewa/ranking/?scenario_id=1", headers=auth["viewer"]).json()
    assert live["what_if"] is False and live["results"] == []
    # read back with the what_if flag: the stored numbers
    wi = db_client.get(
        "/api/tewa/ranking/?scenario_id=1&what_if=true", headers=auth["viewer"]
    ).json()
    assert wi["what_if"] is True
    best: dict[str, dict[str, Any]] = {}
    for p in body["results"]:
        if p["track_id"] not in best or p["score"] > best[p["track_id"]]["score"]:
            best[p["track_id"]] = p
    assert [(x["track_id"], x["da_id"], x["score"], x["computed_at"]) for x in wi["results"]] == [
        (t, best[t]["da_id"], best[t]["score"], WHEN)
        for t in sorted(best, key=lambda t: -best[t]["score"])
    ]
    # a second what-if of the same time is another evaluation: stored beside the first, the
    # same numbers, the live board still empty
    again = compute(db_client, auth["operator"], persist=True)
    assert again["persisted"] == 6 and _iso(again["evaluated_at"]) > first_eval
    assert [p["score"] for p in again["results"]] == [p["score"] for p in body["results"]]
    assert count(seeded_db_url, ThreatScoreWhatIf) == 12
    assert count(seeded_db_url, ThreatScore) == 0
    assert count(seeded_db_url, ThreatScoreLatest) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"when": "2025-06-01T06:02:00"}, "when"),
        ({"when": "yesterday"}, "when"),
        ({"method": "cubic"}, "method"),
        ({"weapon_range_km": -5}, "weapon_range_km"),
        ({"weapon_range_km": 0}, "weapon_range_km"),
        ({"da_ids": [99]}, "da_ids"),
        ({"scenario_id": 0}, "scenario_id"),
        ({"persist": "perhaps"}, "persist"),
    ],
)
def test_compute_at_rejects_bad_input_naming_the_field(
    client: TestClient, seeded_sqlite_url: str, auth: Any, change: dict[str, Any], field: str
) -> None:
    payload = {"scenario_id": DEMO_SCENARIO_ID, "when": WHEN, **change}
    r = client.post("/api/tewa/compute_at/", json=payload, headers=auth["operator"])
    body = assert_problem(r, 422)
    assert error_fields(body) == {field}
    assert body["detail"].startswith(f"{field}: ")
    assert count(seeded_sqlite_url, ThreatScore) == 0


def test_compute_at_missing_field_is_named(client: TestClient, auth: Any) -> None:
    r = client.post("/api/tewa/compute_at/", json={"scenario_id": 1}, headers=auth["operator"])
    assert error_fields(assert_problem(r, 422)) == {"when"}


def test_unknown_scenario_is_404(client: TestClient, auth: Any) -> None:
    r = client.post(
        "/api/tewa/compute_at/", json={"scenario_id": 999, "when": WHEN}, headers=auth["operator"]
    )
    assert assert_problem(r, 404)["detail"] == "scenario_id: no scenario 999"
    for path in (
        "/api/tewa/ranking/?scenario_id=999",
        "/api/scenarios/999",
        "/api/scenarios/999/params",
        "/api/scenarios/999/tracks",
        "/api/tewa/score_history/?scenario_id=999&track_id=T1&da_id=1",
    ):
        assert "999" in assert_problem(client.get(path, headers=auth["viewer"]), 404)["detail"]


# ---- ranking, breakdown, history ----


def test_ranking_global_and_per_da(client: TestClient, seeded_sqlite_url: str, auth: Any) -> None:
    pairs = seed_live(seeded_sqlite_url, WHEN)["results"]
    r = client.get("/api/tewa/ranking/?scenario_id=1", headers=auth["viewer"])
    assert r.status_code == 200
    body = r.json()
    assert body["scenario_id"] == 1 and body["da_id"] is None and body["at"] is None
    ranked = body["results"]
    # one row per track: its highest score over the DAs, with that DA
    best: dict[str, dict[str, Any]] = {}
    for p in pairs:
        if p["track_id"] not in best or p["score"] > best[p["track_id"]]["score"]:
            best[p["track_id"]] = p
    assert [x["track_id"] for x in ranked] == sorted(best, key=lambda t: -best[t]["score"])
    assert [x["rank"] for x in ranked] == [1, 2, 3]
    for x in ranked:
        b = best[x["track_id"]]
        assert (x["da_id"], x["score"], x["cpa_km"], x["twrp_s"]) == (
            b["da_id"],
            b["score"],
            b["cpa_km"],
            b["twrp_s"],
        )
        assert x["computed_at"] == WHEN
    assert [x["track_id"] for x in ranked][:2] == ["T1", "T2"]  # the two inbound tracks lead

    for da_id in (1, 2):
        r = client.get(f"/api/tewa/ranking/?scenario_id=1&da_id={da_id}", headers=auth["viewer"])
        rows = r.json()["results"]
        mine = sorted((p for p in pairs if p["da_id"] == da_id), key=lambda p: -p["score"])
        assert [(x["track_id"], x["score"]) for x in rows] == [
            (p["track_id"], p["score"]) for p in mine
        ]
        assert {x["da_id"] for x in rows} == {da_id}

    r = client.get("/api/tewa/ranking/?scenario_id=1&top_n=2", headers=auth["viewer"])
    assert [x["track_id"] for x in r.json()["results"]] == [x["track_id"] for x in ranked[:2]]

    # a DA outside the scenario's set is a 404 naming it, not an empty board
    for _ in range(2):  # the error is not cached as a body
        body = assert_problem(
            client.get("/api/tewa/ranking/?scenario_id=1&da_id=99", headers=auth["viewer"]), 404
        )
        assert "da_id: defended asset 99 is not in scenario" in body["detail"]
        assert "(it has [1, 2]) and no score was stored for it" in body["detail"]


def test_ranking_takes_the_latest_batch_at_or_before_at(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    seed_live(seeded_sqlite_url, "2025-06-01T06:02:00Z")
    later = seed_live(seeded_sqlite_url, "2025-06-01T06:03:00Z")["results"]
    now = client.get("/api/tewa/ranking/?scenario_id=1&da_id=1", headers=auth["viewer"]).json()
    assert {x["computed_at"] for x in now["results"]} == {"2025-06-01T06:03:00Z"}
    assert sorted(x["score"] for x in now["results"]) == sorted(
        p["score"] for p in later if p["da_id"] == 1
    )
    r = client.get(
        "/api/tewa/ranking/",
        params={"scenario_id": 1, "at": "2025-06-01T06:02:30Z"},
        headers=auth["viewer"],
    )
    assert {x["computed_at"] for x in r.json()["results"]} == {"2025-06-01T06:02:00Z"}
    r = client.get(
        "/api/tewa/ranking/",
        params={"scenario_id": 1, "at": "2025-06-01T06:01:00Z"},
        headers=auth["viewer"],
    )
    assert r.json()["results"] == []
    r = client.get(
        "/api/tewa/ranking/",
        params={"scenario_id": 1, "at": "2025-06-01T06:01:00"},
        headers=auth["viewer"],
    )
    assert error_fields(assert_problem(r, 422)) == {"query.at"}
    r = client.get("/api/tewa/ranking/?scenario_id=1&top_n=0", headers=auth["viewer"])
    assert error_fields(assert_problem(r, 422)) == {"query.top_n"}


def test_score_breakdown_contributions_are_weight_times_term(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    pairs = seed_live(seeded_sqlite_url, WHEN)["results"]
    params = client.get("/api/scenarios/1/params", headers=auth["viewer"]).json()
    for track_id, da_id in (("T1", 1), ("T2", 2), ("T3", 1)):
        r = client.get(
            "/api/tewa/score_breakdown/",
            params={"scenario_id": 1, "track_id": track_id, "da_id": da_id},
            headers=auth["viewer"],
        )
        assert r.status_code == 200, r.text
        b = r.json()
        p = next(x for x in pairs if x["track_id"] == track_id and x["da_id"] == da_id)
        assert (b["track_id"], b["da_id"], b["computed_at"]) == (track_id, da_id, WHEN)
        assert b["score"] == p["score"] and b["cpa_km"] == p["cpa_km"]
        assert b["weights"] == {k: params[f"w_{k}"] for k in ("cpa", "tcpa", "tdb", "twrp")}
        assert b["weights"] == {"cpa": 0.35, "tcpa": 0.25, "tdb": 0.25, "twrp": 0.15}
        for k in ("cpa", "tcpa", "tdb", "twrp"):
            assert b[f"n_{k}"] == p[f"n_{k}"]
            assert abs(b["contributions"][k] - b["weights"][k] * p[f"n_{k}"]) <= 1e-12
        # default params: weights sum to 1, clamp on, no quality factor → the parts add up
        assert abs(sum(b["contributions"].values()) - b["score"]) <= 1e-12

    # what-ifs: none stored yet; then one through the API, read back with the flag, while the
    # live breakdown still explains the live score
    def breakdown(**extra: Any) -> Any:
        return client.get(
            "/api/tewa/score_breakdown/",
            params={"scenario_id": 1, "track_id": "T2", "da_id": 2, **extra},
            headers=auth["viewer"],
        )

    r = breakdown(what_if="true")
    assert assert_problem(r, 404)["detail"] == "no what-if score stored for track 'T2' and DA 2"
    wi_pairs = compute(client, auth["operator"], "2025-06-01T06:03:00Z", persist=True)["results"]
    wp = next(x for x in wi_pairs if x["track_id"] == "T2" and x["da_id"] == 2)
    lp = next(x for x in pairs if x["track_id"] == "T2" and x["da_id"] == 2)
    assert wp["score"] != lp["score"]
    w = breakdown(what_if="true").json()
    assert (w["computed_at"], w["score"], w["what_if"]) == (
        "2025-06-01T06:03:00Z",
        wp["score"],
        True,
    )
    assert abs(sum(w["contributions"].values()) - w["score"]) <= 1e-12
    live = breakdown().json()
    assert (live["computed_at"], live["score"], live["what_if"]) == (WHEN, lp["score"], False)
    r = client.get(
        "/api/tewa/score_breakdown/?scenario_id=1&track_id=T1&da_id=99", headers=auth["viewer"]
    )
    assert assert_problem(r, 404)["detail"] == "da_id: no defended asset 99"
    r = client.get(
        "/api/tewa/score_breakdown/?scenario_id=1&track_id=T9&da_id=1", headers=auth["viewer"]
    )
    assert "T9" in assert_problem(r, 404)["detail"]


def test_score_breakdown_explains_the_stored_score_after_a_weight_change(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    seed_live(seeded_sqlite_url, WHEN)
    r = client.put("/api/scenarios/1/params", json={"w_cpa": 0.05}, headers=auth["admin"])
    assert r.status_code == 200
    b = client.get(
        "/api/tewa/score_breakdown/?scenario_id=1&track_id=T1&da_id=1", headers=auth["viewer"]
    ).json()
    assert abs(sum(b["contributions"].values()) - b["score"]) <= 1e-12


def test_score_history_window(client: TestClient, seeded_sqlite_url: str, auth: Any) -> None:
    batches = {
        t: seed_live(seeded_sqlite_url, t)["results"]
        for t in ("2025-06-01T06:01:00Z", "2025-06-01T06:02:00Z", "2025-06-01T06:03:00Z")
    }

    def history(**window: str) -> list[dict[str, Any]]:
        r = client.get(
            "/api/tewa/score_history/",
            params={"scenario_id": 1, "track_id": "T2", "da_id": 2, **window},
            headers=auth["viewer"],
        )
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()["results"]
        return rows

    every = history()
    assert [h["computed_at"] for h in every] == list(batches)
    for h in every:
        p = next(x for x in batches[h["computed_at"]] if x["track_id"] == "T2" and x["da_id"] == 2)
        assert (h["score"], h["tcpa_s"], h["n_twrp"]) == (p["score"], p["tcpa_s"], p["n_twrp"])
    assert every[0]["score"] < every[1]["score"] < every[2]["score"]  # T2 closes on DA-Bravo
    window = history(start="2025-06-01T06:01:30Z", end="2025-06-01T06:03:00Z")
    assert [h["computed_at"] for h in window] == ["2025-06-01T06:02:00Z", "2025-06-01T06:03:00Z"]
    exact = history(start="2025-06-01T06:02:00Z", end="2025-06-01T06:02:00Z")
    assert [h["computed_at"] for h in exact] == ["2025-06-01T06:02:00Z"]
    assert history(start="2025-06-01T06:03:00.000001Z") == []
    # what-ifs: their own history, each evaluation a row; the live history is unchanged
    assert history(what_if="true") == []
    wi = [compute(client, auth["operator"], "2025-06-01T06:02:00Z", persist=True) for _ in range(2)]
    p = next(
        x for x in batches["2025-06-01T06:02:00Z"] if x["track_id"] == "T2" and x["da_id"] == 2
    )
    got = history(what_if="true")
    assert [(h["computed_at"], h["evaluated_at"], h["score"], h["what_if"]) for h in got] == [
        ("2025-06-01T06:02:00Z", b["evaluated_at"], p["score"], True) for b in wi
    ]
    assert history() == every
    # an unknown track or DA is a 404 naming the field, on both pair endpoints
    for path in ("/api/tewa/score_history/", "/api/tewa/score_breakdown/"):
        for params, field in (
            ({"track_id": "NOPE", "da_id": 2}, "track_id"),
            ({"track_id": "T2", "da_id": 99}, "da_id"),
        ):
            r = client.get(path, params={"scenario_id": 1, **params}, headers=auth["viewer"])
            assert assert_problem(r, 404)["detail"].startswith(f"{field}: "), (path, r.text)


# ---- compute_now and jobs ----


def test_compute_now_is_idempotent_per_key(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    payload = {"scenario_id": 1, "idempotency_key": "operator-click-1"}
    before = dt.datetime.now(dt.UTC)
    first = client.post("/api/tewa/compute_now/", json=payload, headers=auth["operator"])
    after = dt.datetime.now(dt.UTC)
    assert first.status_code == 200, first.text
    a = first.json()
    assert a["status"] == "succeeded" and a["repeated"] is False and a["attempts"] == 1
    assert a["result"]["pairs"] == 6 and a["result"]["written"] == 6
    described = _iso(a["result"]["computed_at"])  # the replay scenario loops over its window
    assert _iso("2025-06-01T06:00:00Z") <= described <= _iso("2025-06-01T06:05:00Z")
    assert before <= _iso(a["result"]["evaluated_at"]) <= after  # evaluated by the wall clock
    # a live computation: on the live board, describing the scenario's own now
    board = client.get("/api/tewa/ranking/?scenario_id=1", headers=auth["viewer"]).json()
    assert len(board["results"]) == 3
    assert {_iso(x["computed_at"]) for x in board["results"]} == {described}
    assert a["status_url"] == f"/api/jobs/{a['job_id']}"

    second = client.post("/api/tewa/compute_now/", json=payload, headers=auth["operator"])
    assert second.status_code == 200
    b = second.json()
    assert b["job_id"] == a["job_id"] and b["repeated"] is True and b["status"] == "succeeded"
    assert b["result"] == a["result"]
    assert count(seeded_sqlite_url, ThreatScore) == 6  # not computed a second time

    job = client.get(a["status_url"], headers=auth["viewer"])
    assert job.status_code == 200
    assert {k: job.json()[k] for k in ("job_id", "status", "result", "attempts", "kind")} == {
        "job_id": a["job_id"],
        "status": "succeeded",
        "result": a["result"],
        "attempts": 1,
        "kind": "compute_scenario",
    }

    other = client.post(
        "/api/tewa/compute_now/",
        json={"scenario_id": 1, "idempotency_key": "operator-click-2"},
        headers=auth["operator"],
    ).json()
    assert other["job_id"] != a["job_id"] and other["repeated"] is False
    r = client.get("/api/jobs/no-such-job", headers=auth["viewer"])
    assert assert_problem(r, 404)["detail"] == "job_id: no job no-such-job"
    r = client.post("/api/tewa/compute_now/", json={"scenario_id": 999}, headers=auth["operator"])
    assert_problem(r, 404)


# ---- params and presets ----


def test_params_are_validated_and_presets_apply(client: TestClient, auth: Any) -> None:
    before = client.get("/api/scenarios/1/params", headers=auth["viewer"]).json()
    assert before["w_cpa"] == 0.35 and before["cpa_scale_km"] == 10.0
    for bad, field in (({"w_cpa": 1.5}, "w_cpa"), ({"cpa_scale_km": 0}, "cpa_scale_km")):
        r = client.put("/api/scenarios/1/params", json=bad, headers=auth["admin"])
        body = assert_problem(r, 422)
        assert error_fields(body) == {field} and field in body["detail"]
    r = client.put("/api/scenarios/1/params", json={"bogus": 1}, headers=auth["admin"])
    assert error_fields(assert_problem(r, 422)) == {"bogus"}
    assert client.get("/api/scenarios/1/params", headers=auth["viewer"]).json() == before

    r = client.put("/api/scenarios/1/params", json={"w_cpa": 0.5}, headers=auth["admin"])
    assert r.status_code == 200 and r.json()["w_cpa"] == 0.5 and r.json()["w_tcpa"] == 0.25

    r = client.post(
        "/api/scenarios/1/params/preset", json={"preset": "point-defense"}, headers=auth["admin"]
    )
    assert r.status_code == 200, r.text
    preset = DOCTRINE_PRESETS["point-defense"]
    after = client.get("/api/scenarios/1/params", headers=auth["viewer"]).json()
    assert after["doctrine"] == "point-defense"
    for k, v in preset.items():
        assert after[k] == v, k
    assert after["cpa_scale_km"] == 2.0 != before["cpa_scale_km"]
    # the new scale is what the next computation uses: n_cpa = 1 / (1 + cpa / 2 km)
    for p in compute(client, auth["operator"], persist=False)["results"]:
        assert abs(p["n_cpa"] - 1 / (1 + p["cpa_km"] / 2.0)) <= 1e-12
    r = client.post(
        "/api/scenarios/1/params/preset", json={"preset": "nope"}, headers=auth["admin"]
    )
    assert error_fields(assert_problem(r, 422)) == {"preset"}
    # a hand edit away from the preset makes the doctrine "custom"; editing it back restores it
    r = client.put("/api/scenarios/1/params", json={"cpa_scale_km": 3.0}, headers=auth["admin"])
    assert (r.json()["doctrine"], r.json()["cpa_scale_km"]) == ("custom", 3.0)
    r = client.put("/api/scenarios/1/params", json={"cpa_scale_km": 2.0}, headers=auth["admin"])
    assert r.json()["doctrine"] == "point-defense"


# ---- CSV upload and export ----

BAD_CSV = (
    HEADER
    + "U1,26.5,71.0,5000,200,90,2025-06-01T06:00:00Z\n"  # line 2: good
    + "U1,95.0,71.0,5000,200,90,2025-06-01T06:00:10Z\n"  # line 3: lat out of range
    + "U2,26.5,abc,5000,-5,90,2025-06-01T06:00:00Z\n"  # line 4: lon, speed
    + "U2,26.5,71.0,5000,200,90,2025-06-01T06:00:20\n"  # line 5: naive timestamp
    + "U1,26.5,71.01,5000,200,90,2025-06-01T06:00:30Z\n"  # line 6: good
)
BAD_ROWS = {
    (3, "lat"),
    (4, "lon"),
    (4, "speed_mps"),
    (5, "timestamp"),
}


def _upload(
    client: TestClient, headers: dict[str, str], text: str, partial: bool | None = None
) -> Any:
    data = {} if partial is None else {"partial": "true" if partial else "false"}
    return client.post(
        "/api/scenarios/1/tracks/upload",
        files={"file": ("tracks.csv", text.encode(), "text/csv")},
        data=data,
        headers=headers,
    )


def test_upload_good_csv_imports(client: TestClient, auth: Any, seeded_sqlite_url: str) -> None:
    good = HEADER + "".join(
        f"U1,26.5,{71.0 + k * 0.01:.2f},5000,200,90,2025-06-01T06:00:{k * 10:02d}Z\n"
        for k in range(3)
    )
    r = _upload(client, auth["operator"], good)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows_read"], report["inserted"], report["tracks_created"]) == (3, 3, 1)
    assert report["errors"] == [] and report["rows_rejected"] == 0
    tracks = client.get("/api/scenarios/1/tracks", headers=auth["viewer"]).json()["items"]
    u1 = next(t for t in tracks if t["track_id"] == "U1")
    assert (u1["lat"], u1["lon"]) == (26.5, 71.02)  # the row holds the latest sample
    samples = client.get("/api/scenarios/1/tracks/U1/samples", headers=auth["viewer"]).json()
    assert [s["t"] for s in samples["items"]] == [
        "2025-06-01T06:00:00Z",
        "2025-06-01T06:00:10Z",
        "2025-06-01T06:00:20Z",
    ]
    again = _upload(client, auth["operator"], good).json()
    assert (again["inserted"], again["already_present"]) == (0, 3)
    assert count(seeded_sqlite_url, TrackSample) == DEMO_SAMPLES + 3


def test_upload_with_bad_rows_is_rejected_whole(
    db_client: TestClient, seeded_db_url: str, auth: Any
) -> None:
    r = _upload(db_client, auth["operator"], BAD_CSV)
    body = assert_problem(r, 422)
    assert {(e["line"], e["column"]) for e in body["errors"]} == BAD_ROWS
    assert all(e["reason"] for e in body["errors"])
    assert body["detail"].startswith("3 of 5 rows rejected")
    assert count(seeded_db_url, TrackSample) == DEMO_SAMPLES
    assert count(seeded_db_url, Track) == 3

    r = _upload(db_client, auth["operator"], BAD_CSV, partial=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows_read"], report["rows_valid"], report["inserted"]) == (5, 2, 2)
    assert report["rows_rejected"] == 3
    assert {(e["line"], e["column"]) for e in report["errors"]} == BAD_ROWS
    assert count(seeded_db_url, TrackSample) == DEMO_SAMPLES + 2
    assert count(seeded_db_url, Track) == 4  # U1 only: U2 had no good row


def test_upload_header_problems_and_size_limit(seeded_sqlite_url: str, auth: Any) -> None:
    app_settings = make_settings(seeded_sqlite_url, upload_max_bytes=300)
    with TestClient(create_app(app_settings)) as client:
        small = HEADER + "U1,26.5,71.0,5000,200,90,2025-06-01T06:00:00Z\n"
        assert len(small.encode()) <= 300
        assert _upload(client, auth["operator"], small).status_code == 200
        big = small + "U1,26.5,71.0,5000,200,90,2025-06-01T06:00:10Z\n" * 6
        assert len(big.encode()) > 300
        body = assert_problem(_upload(client, auth["operator"], big), 413)
        assert body["detail"] == "file: larger than 300 bytes"
        r = _upload(client, auth["operator"], "track_id,lat\nU1,26.5\n")
        assert_problem(r, 422)
        # A declared length beyond the limit and the form's slack is refused before the body is
        # read (no handler, no spooling): the early message, not the handler's.
        huge = small + "U1,26.5,71.0,5000,200,90,2025-06-01T06:00:10Z\n" * 2000
        body = assert_problem(_upload(client, auth["operator"], huge), 413)
        assert body["detail"].startswith("request body: Content-Length ")
        assert "exceeds 65836 bytes" in body["detail"]
    assert count(seeded_sqlite_url, TrackSample) == DEMO_SAMPLES + 1


SCORES_CSV_HEADER = (
    "computed_at,evaluated_at,track_id,da_name,"
    "cpa_km,tcpa_s,tdb_km,twrp_s,n_cpa,n_tcpa,n_tdb,n_twrp,score"
)


def _stored_scores(url: str, model: Any) -> dict[tuple[str, str, str, str], tuple[Any, Any]]:
    """(computed_at, evaluated_at, track_id, da_name) → (score, twrp_s) of one score table."""

    def iso(t: dt.datetime) -> str:
        return t.isoformat().replace("+00:00", "Z")

    with open_session(url) as s:
        return {
            (iso(t), iso(e), tid, name): (score, twrp)
            for t, e, tid, name, score, twrp in s.execute(
                select(
                    model.computed_at,
                    model.evaluated_at,
                    Track.track_id,
                    service.DefendedAsset.name,
                    model.score,
                    model.twrp_s,
                )
                .join(Track, Track.id == model.track_id)
                .join(service.DefendedAsset, service.DefendedAsset.id == model.da_id)
            )
        }


def test_scores_csv_has_a_header_and_one_line_per_score(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    t0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    seed_live(seeded_sqlite_url, "2025-06-01T06:01:00Z", evaluated_at=t0)
    seed_live(seeded_sqlite_url, "2025-06-01T06:02:00Z", evaluated_at=t0 + dt.timedelta(1))
    r = client.get("/api/scenarios/1/scores.csv", headers=auth["viewer"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="scores-Demo-Scenario.csv"' in r.headers["content-disposition"]
    lines = r.text.splitlines()
    assert lines[0] == SCORES_CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(lines) - 1 == count(seeded_sqlite_url, ThreatScore) == 12
    stored = _stored_scores(seeded_sqlite_url, ThreatScore)
    for row in rows:
        key = (row["computed_at"], row["evaluated_at"], row["track_id"], row["da_name"])
        score, twrp = stored[key]
        assert float(row["score"]) == score
        assert row["twrp_s"] == ("" if twrp is None else repr(twrp))
    assert any(row["twrp_s"] == "" for row in rows)
    assert {(row["computed_at"], row["evaluated_at"]) for row in rows} == {
        ("2025-06-01T06:01:00Z", "2026-01-01T12:00:00Z"),
        ("2025-06-01T06:02:00Z", "2026-01-02T12:00:00Z"),
    }
    r = client.get(
        "/api/scenarios/1/scores.csv",
        params={"start": "2025-06-01T06:01:30Z"},
        headers=auth["viewer"],
    )
    assert len(r.text.splitlines()) == 1 + 6


def test_scores_csv_what_if_exports_the_what_ifs_and_only_them(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    seed_live(seeded_sqlite_url, "2025-06-01T06:01:00Z")
    # two what-ifs through the API: one of a time the live board has, one of another time
    first = compute(client, auth["operator"], "2025-06-01T06:01:00Z", persist=True)
    second = compute(client, auth["operator"], "2025-06-01T06:03:00Z", persist=True)
    assert first["persisted"] == second["persisted"] == 6

    def export(**params: Any) -> list[dict[str, str]]:
        r = client.get("/api/scenarios/1/scores.csv", params=params, headers=auth["viewer"])
        assert r.status_code == 200, r.text
        assert r.text.splitlines()[0] == SCORES_CSV_HEADER
        return list(csv.DictReader(io.StringIO(r.text)))

    def keys(rows: list[dict[str, str]]) -> set[tuple[str, str, str, str]]:
        return {(r["computed_at"], r["evaluated_at"], r["track_id"], r["da_name"]) for r in rows}

    live_rows, wi_rows = export(), export(what_if="true")
    assert export(what_if="false") == live_rows
    live_stored = _stored_scores(seeded_sqlite_url, ThreatScore)
    wi_stored = _stored_scores(seeded_sqlite_url, ThreatScoreWhatIf)
    assert len(live_rows) == len(live_stored) == 6 and keys(live_rows) == set(live_stored)
    assert len(wi_rows) == len(wi_stored) == 12 and keys(wi_rows) == set(wi_stored)
    assert not keys(live_rows) & keys(wi_rows)  # neither export holds a row of the other
    assert {r["computed_at"] for r in live_rows} == {"2025-06-01T06:01:00Z"}
    assert {(r["computed_at"], r["evaluated_at"]) for r in wi_rows} == {
        ("2025-06-01T06:01:00Z", first["evaluated_at"]),
        ("2025-06-01T06:03:00Z", second["evaluated_at"]),
    }
    for row in wi_rows:
        key = (row["computed_at"], row["evaluated_at"], row["track_id"], row["da_name"])
        assert float(row["score"]) == wi_stored[key][0]
        batch = first if row["computed_at"] == "2025-06-01T06:01:00Z" else second
        want = next(
            p
            for p in batch["results"]
            if p["track_id"] == row["track_id"] and p["da_name"] == row["da_name"]
        )
        assert float(row["score"]) == want["score"]
    # the what-if of the live board's own time has the live numbers (same inputs)
    live_scores = {(r["track_id"], r["da_name"]): r["score"] for r in live_rows}
    assert {
        (r["track_id"], r["da_name"]): r["score"]
        for r in wi_rows
        if r["computed_at"] == "2025-06-01T06:01:00Z"
    } == live_scores
    # the window applies to the what-ifs too
    assert keys(export(what_if="true", **{"from": "2025-06-01T06:02:00Z"})) == {
        k for k in wi_stored if k[0] == "2025-06-01T06:03:00Z"
    }
    r = client.get(
        "/api/scenarios/1/scores.csv", params={"what_if": "perhaps"}, headers=auth["viewer"]
    )
    assert error_fields(assert_problem(r, 422)) == {"query.what_if"}


# ---- paging ----


def test_scenarios_page_with_limit_and_cursor(db_client: TestClient, auth: Any) -> None:
    created = []
    for k in range(5):
        r = db_client.post("/api/scenarios", json={"name": f"Paging-{k}"}, headers=auth["operator"])
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
    seen: list[int] = []
    sizes = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = db_client.get("/api/scenarios", params=params, headers=auth["viewer"])
        assert r.status_code == 200, r.text
        page = r.json()
        sizes.append(len(page["items"]))
        seen.extend(x["id"] for x in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [2, 2, 2]  # 6 scenarios: the last full page says there is no more
    assert seen == sorted(set(seen)) and set(seen) == {DEMO_SCENARIO_ID, *created}
    r = db_client.get("/api/scenarios?limit=6", headers=auth["viewer"])
    assert len(r.json()["items"]) == 6 and r.json()["next_cursor"] is None
    for bad in ("garbage", "eyJhZnRlciI6ICJ4In0="):  # the second is {"after": "x"}
        r = db_client.get("/api/scenarios", params={"cursor": bad}, headers=auth["viewer"])
        assert assert_problem(r, 422)["detail"].startswith("cursor: ")
    r = db_client.get("/api/scenarios?limit=0", headers=auth["viewer"])
    assert error_fields(assert_problem(r, 422)) == {"query.limit"}


# ---- assignment ----


def test_assign_engages_only_hostile_tracks_within_rounds(client: TestClient, auth: Any) -> None:
    at = "2025-06-01T06:04:00Z"
    weapons = client.get("/api/scenarios/1/weapons", headers=auth["viewer"]).json()
    rounds = {w["call_sign"]: w["rounds"] for w in weapons}
    assert rounds == {"Alpha-SAM": 8, "Bravo-SAM": 6}

    def plan() -> dict[str, Any]:
        r = client.post(
            "/api/tewa/assign/", json={"scenario_id": 1, "at": at}, headers=auth["operator"]
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        used: dict[str, int] = {}
        for ln in body["lines"]:
            used[ln["weapon"]] = used.get(ln["weapon"], 0) + ln["rounds"]
            assert ln["rounds"] >= 1
        for w, n in used.items():
            assert n <= rounds[w], (w, n, rounds[w])
        return body

    first = plan()
    assert first["at"] == at
    targets = {ln["target"] for ln in first["lines"]}
    assert targets and targets <= {"T1", "T2"}
    assert "T1" in targets
    assert "T3" in first["not_engageable"]  # unknown IFF

    # fewer rounds: the plan must fit the new magazine
    alpha = next(w for w in weapons if w["call_sign"] == "Alpha-SAM")
    body = {k: v for k, v in alpha.items() if k != "id"} | {"rounds": 1}
    r = client.post("/api/scenarios/1/weapons", json=body, headers=auth["operator"])
    assert r.status_code == 201 and r.json()["rounds"] == 1
    rounds["Alpha-SAM"] = 1
    second = plan()
    assert sum(ln["rounds"] for ln in second["lines"] if ln["weapon"] == "Alpha-SAM") == 1

    # T1 declared friendly: never engaged again
    r = client.patch(
        "/api/scenarios/1/tracks/T1", json={"iff": "friendly"}, headers=auth["operator"]
    )
    assert r.status_code == 200 and r.json()["iff"] == "friendly"
    third = plan()
    assert all(ln["target"] != "T1" for ln in third["lines"])
    assert "T1" in third["not_engageable"]


# ---- observability ----


def test_metrics_count_requests_per_route_and_batches(client: TestClient, auth: Any) -> None:
    labels = {"method": "GET", "route": "/api/tewa/ranking/", "status": "200"}
    before = client.get("/metrics").text
    for _ in range(3):
        client.get("/api/tewa/ranking/?scenario_id=1", headers=auth["viewer"])
    compute(client, auth["operator"], persist=True)  # a what-if: no live batch counted
    compute(client, auth["operator"])  # not stored at all
    r = client.post("/api/tewa/compute_now/", json={"scenario_id": 1}, headers=auth["operator"])
    assert r.status_code == 200 and r.json()["result"]["written"] == 6, r.text
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = r.text
    assert "argus_http_requests_total{" in after
    name = "argus_http_requests_total"
    assert metric_value(after, name, **labels) - metric_value(before, name, **labels) == 3
    hist = "argus_http_request_duration_seconds_count"
    hl = {"method": "GET", "route": "/api/tewa/ranking/"}
    assert metric_value(after, hist, **hl) - metric_value(before, hist, **hl) == 3
    # a path parameter is labelled by its route template, not by each value
    for sid in (1, 999):
        client.get(f"/api/scenarios/{sid}", headers=auth["viewer"])
    text = client.get("/metrics").text
    route = "/api/scenarios/{scenario_id}"
    for status in ("200", "404"):
        lab = {"method": "GET", "route": route, "status": status}
        assert metric_value(text, name, **lab) - metric_value(after, name, **lab) == 1
    assert "/api/scenarios/999" not in text
    for metric, delta in (
        ("argus_threat_batches_total", 1),
        ("argus_threat_pairs_scored_total", 6),
    ):
        assert metric_value(after, metric) - metric_value(before, metric) == delta, metric


def test_ready_and_request_id(client: TestClient) -> None:
    r = client.get("/ready", headers={"x-request-id": "req-abc-123"})
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
    assert r.headers["x-request-id"] == "req-abc-123"
    r = client.get("/api/auth/me", headers={"x-request-id": "req-denied"})
    assert r.status_code == 401 and r.headers["x-request-id"] == "req-denied"
    generated = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(generated) == 3 and all(re.fullmatch(r"[0-9a-f]{16}", g) for g in generated)
