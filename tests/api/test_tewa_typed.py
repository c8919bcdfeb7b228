"""A typed API: every operation of the OpenAPI document describes its 2xx body (and its errors as
problem+json), and the TEWA bodies the routes emit are exactly what their models describe
(``argus.api.schemas_tewa``): validated, and for the ones built from ISO 8601 "Z" timestamps,
dumped back to the same JSON (no field missing, none extra)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

from argus.api.app import create_app
from argus.api.schemas_tewa import (
    AssignmentOut,
    ComputeAtOut,
    HealthOut,
    JobOut,
    JobStarted,
    PresetOut,
    RankingOut,
    ReadyOut,
    ScoreBreakdownOut,
    ScoreHistoryOut,
)
from argus.db.models import Scenario
from argus.tewa import service
from argus.tewa.presets import DOCTRINE_PRESETS
from tests.api._support import DEMO_SCENARIO_ID, PROBLEM_JSON, make_settings, open_session

WHEN = "2025-06-01T06:03:00Z"
WHEN_DT = dt.datetime(2025, 6, 1, 6, 3, tzinfo=dt.UTC)

# ---- OpenAPI: every operation describes its 2xx body and its errors ----

#: The only 2xx bodies that are not JSON objects: a streaming CSV and Prometheus's text format.
TEXT_BODIES = {
    ("get", "/api/scenarios/{scenario_id}/scores.csv"): "text/csv",
    ("get", "/metrics"): "text/plain; version=",
}
#: File downloads: the media types each documents (SigMF as a zip, its data or its metadata).
FILE_BODIES = {
    ("get", "/api/astro/candidates/{candidate_id}/stamps.png"): ("image/png",),
    ("get", "/api/astro/candidates/{candidate_id}/cutouts/{kind}.png"): ("image/png",),
    ("get", "/api/rf/acquisitions/{acquisition_id}/sigmf/{receiver_id}"): (
        "application/zip",
        "application/octet-stream",
        "application/json",
    ),
}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _untyped(doc: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """Why ``schema`` does not describe a JSON body (None when it does)."""
    schema = _resolve(doc, schema)
    if schema.get("type") == "array":
        return _untyped(doc, schema.get("items", {}))
    if schema.get("properties"):
        extra = schema.get("additionalProperties")
        return "open object" if extra is True else None
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and extra:  # a map of typed values (e.g. presets by name)
        return _untyped(doc, extra)
    return f"untyped schema {schema}"


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, path, op) for path, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_operation_has_a_typed_success_body_and_problem_errors() -> None:
    doc = create_app(make_settings("sqlite:///:memory:")).openapi()
    untyped: list[tuple[str, str, str, str]] = []
    for method, path, op in _operations(doc):
        ok = {k: v for k, v in op["responses"].items() if k.startswith("2")}
        assert ok, (method, path)
        for code, resp in ok.items():
            if code == "204":
                assert not resp.get("content"), (method, path)
                continue
            content = resp.get("content") or {}
            if not content:
                untyped.append((method, path, code, "no content"))
                continue
            media = FILE_BODIES.get((method, path))
            if media is not None:  # a file download: exactly its documented media types
                assert sorted(content) == sorted(media), (method, path, list(content))
                continue
            text = TEXT_BODIES.get((method, path))
            if text is not None:
                if [m for m in content if not m.startswith(text)] or any(
                    c["schema"] != {"type": "string"} for c in content.values()
                ):
                    untyped.append((method, path, code, f"not only {text}…: {list(content)}"))
                continue
            assert list(content) == ["application/json"], (method, path, list(content))
            why = _untyped(doc, content["application/json"].get("schema", {}))
            if why:
                untyped.append((method, path, code, why))
        for code, resp in op["responses"].items():
            if code[0] in "45":
                assert list(resp.get("content", {})) == [PROBLEM_JSON], (method, path, code)
                schema = resp["content"][PROBLEM_JSON]["schema"]
                assert schema.get("title") == "Problem", (method, path, code)
        if path.startswith("/api/") and path != "/api/auth/login":
            assert {"401", "422"} <= set(op["responses"]), (method, path)
    assert untyped == []
    assert len(_operations(doc)) >= 39


def test_the_tewa_operations_name_their_models() -> None:
    doc = create_app(make_settings("sqlite:///:memory:")).openapi()
    expected = {
        ("post", "/api/tewa/compute_at/", "200"): "ComputeAtOut",
        ("post", "/api/tewa/compute_now/", "200"): "JobStarted",
        ("post", "/api/tewa/compute_now/", "202"): "JobStarted",
        ("get", "/api/jobs/{job_id}", "200"): "JobOut",
        ("get", "/api/tewa/ranking/", "200"): "RankingOut",
        ("get", "/api/tewa/score_breakdown/", "200"): "ScoreBreakdownOut",
        ("get", "/api/tewa/score_history/", "200"): "ScoreHistoryOut",
        ("post", "/api/tewa/assign/", "200"): "AssignmentOut",
        ("get", "/health", "200"): "HealthOut",
        ("get", "/ready", "200"): "ReadyOut",
    }
    for (method, path, code), name in expected.items():
        schema = doc["paths"][path][method]["responses"][code]["content"]["application/json"]
        assert schema["schema"] == {"$ref": f"#/components/schemas/{name}"}, (path, code)
    presets = doc["paths"]["/api/tewa/presets/"]["get"]["responses"]["200"]["content"]
    assert presets["application/json"]["schema"]["additionalProperties"] == {
        "$ref": "#/components/schemas/PresetOut"
    }
    schemas = doc["components"]["schemas"]
    # infinite components are null on the wire
    cpa = schemas["PairScoreOut"]["properties"]["twrp_s"]
    assert {"type": "null"} in cpa["anyOf"]
    assert schemas["RankedThreatOut"]["required"][:5] == [
        "rank", "track_id", "da_id", "da_name", "score",
    ]  # fmt: skip
    # a preset field is left out, never null
    assert "anyOf" not in schemas["PresetOut"]["properties"]["w_cpa"]
    # errors the TEWA routes can give are documented per route
    ranking = doc["paths"]["/api/tewa/ranking/"]["get"]["responses"]
    assert "no scenario" in ranking["404"]["description"]
    assert "503" in doc["paths"]["/ready"]["get"]["responses"]


# ---- the bodies, against their models ----


def _exact(model: type[BaseModel], body: dict[str, Any]) -> Any:
    """``body`` validates against ``model`` and dumps back to itself (same keys, same values)."""
    parsed = model.model_validate(body)
    assert parsed.model_dump(mode="json") == body
    return parsed


def _keys_of(model: type[BaseModel], body: dict[str, Any]) -> Any:
    parsed = model.model_validate(body)
    assert set(body) == set(type(parsed).model_fields)
    return parsed


def _seed_live(url: str, when: dt.datetime = WHEN_DT) -> None:
    with open_session(url) as s:
        sc = s.get(Scenario, DEMO_SCENARIO_ID)
        assert sc is not None
        service.compute_at(s, sc, when, persist=True, live=True)
        s.commit()


def _demo_sizes(client: TestClient, headers: dict[str, str]) -> tuple[list[str], list[int]]:
    tracks = client.get(f"/api/scenarios/{DEMO_SCENARIO_ID}/tracks", headers=headers).json()
    das = client.get(f"/api/scenarios/{DEMO_SCENARIO_ID}/assets", headers=headers).json()
    return [t["track_id"] for t in tracks["items"]], [a["id"] for a in das]


def test_compute_at_body_is_its_model(client: TestClient, auth: Any) -> None:
    tracks, das = _demo_sizes(client, auth["viewer"])
    assert tracks == ["T1", "T2", "T3"] and das == [1, 2]
    for persist in (False, True):
        r = client.post(
            "/api/tewa/compute_at/",
            json={"scenario_id": DEMO_SCENARIO_ID, "when": WHEN, "persist": persist},
            headers=auth["operator"],
        )
        assert r.status_code == 200, r.text
        out = _exact(ComputeAtOut, r.json())
        assert len(out.results) == len(tracks) * len(das)
        assert [(p.track_id, p.da_id) for p in out.results][:2] == [("T1", 1), ("T1", 2)]
        assert out.what_if is True and out.when == WHEN_DT
        assert out.persisted == (len(tracks) * len(das) if persist else 0)
        assert (out.evaluated_at is None) is not persist
        assert all(
            (p.computed_at == WHEN_DT) if persist else p.computed_at is None for p in out.results
        )
        # T1 never comes within weapon range of DA-Bravo: infinite twrp, null on the wire
        t1_bravo = next(p for p in out.results if (p.track_id, p.da_id) == ("T1", 2))
        assert t1_bravo.twrp_s is None and t1_bravo.n_twrp == 0.0
        assert all(0.0 <= p.score <= 1.0 and p.status == "ok" for p in out.results)


def test_compute_now_and_job_bodies_are_their_models(client: TestClient, auth: Any) -> None:
    r = client.post(
        "/api/tewa/compute_now/",
        json={"scenario_id": DEMO_SCENARIO_ID, "idempotency_key": "typed-1"},
        headers=auth["operator"],
    )
    assert r.status_code == 200, r.text
    started = _keys_of(JobStarted, r.json())
    assert started.status == "succeeded" and started.repeated is False
    assert started.result is not None and started.result["pairs"] == 6
    assert started.status_url == f"/api/jobs/{started.job_id}"

    again = client.post(
        "/api/tewa/compute_now/",
        json={"scenario_id": DEMO_SCENARIO_ID, "idempotency_key": "typed-1"},
        headers=auth["operator"],
    )
    assert _keys_of(JobStarted, again.json()).repeated is True

    r = client.get(started.status_url, headers=auth["viewer"])
    assert r.status_code == 200
    job = _keys_of(JobOut, r.json())
    assert job.job_id == started.job_id and job.kind == "compute_scenario"
    assert job.scenario_id == DEMO_SCENARIO_ID and job.attempts == 1 and job.error is None
    assert job.finished_at is not None and job.created_at is not None


class _QueuedOnly:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def send_task(self, name: str, args: list[Any]) -> None:
        self.sent.append((name, args))


def test_compute_now_queued_on_a_broker_is_a_202_of_the_same_model(
    seeded_sqlite_url: str, auth: Any
) -> None:
    app = create_app(make_settings(seeded_sqlite_url, broker_url="memory://"))
    broker = _QueuedOnly()
    with TestClient(app) as c:
        app.state.celery = broker
        r = c.post(
            "/api/tewa/compute_now/",
            json={"scenario_id": DEMO_SCENARIO_ID},
            headers=auth["operator"],
        )
        assert r.status_code == 202, r.text
        # every compute_now answer carries ``repeated`` (this one lacked it before)
        queued = _keys_of(JobStarted, r.json())
        assert queued.status == "queued" and queued.repeated is False and queued.result is None
        assert broker.sent and broker.sent[0][0] == "argus.compute_scenario"
        polled = _keys_of(JobOut, c.get(queued.status_url, headers=auth["viewer"]).json())
        assert polled.status == "queued" and polled.finished_at is None


def test_ranking_bodies_are_their_model_cached_or_not(
    client: TestClient, auth: Any, seeded_sqlite_url: str
) -> None:
    _seed_live(seeded_sqlite_url)
    url = f"/api/tewa/ranking/?scenario_id={DEMO_SCENARIO_ID}"
    first = client.get(url, headers=auth["viewer"])
    assert first.headers["x-argus-cache"] == "miss"
    second = client.get(url, headers=auth["viewer"])
    assert second.headers["x-argus-cache"] == "hit"
    assert second.content == first.content
    board = _exact(RankingOut, second.json())
    assert board.scenario_id == DEMO_SCENARIO_ID and board.da_id is None and board.at is None
    assert [x.rank for x in board.results] == [1, 2, 3]
    assert [x.track_id for x in board.results][:2] == ["T1", "T2"]
    assert all(x.computed_at == WHEN_DT and x.what_if is False for x in board.results)

    # the cached bytes, compressed or not (below GZIP_MIN_BYTES they are sent as they are)
    zipped = client.get(url, headers={**auth["viewer"], "Accept-Encoding": "gzip"})
    assert zipped.headers["x-argus-cache"] == "hit"
    assert _exact(RankingOut, zipped.json()) == board

    per_da = _exact(
        RankingOut, client.get(f"{url}&da_id=2&top_n=1&at={WHEN}", headers=auth["viewer"]).json()
    )
    assert per_da.da_id == 2 and per_da.at == WHEN_DT and len(per_da.results) == 1
    assert per_da.results[0].da_name == "DA-Bravo"

    # what-ifs (rendered per request) have the same shape
    client.post(
        "/api/tewa/compute_at/",
        json={"scenario_id": DEMO_SCENARIO_ID, "when": WHEN, "persist": True},
        headers=auth["operator"],
    )
    what_if = client.get(f"{url}&what_if=true", headers=auth["viewer"])
    assert what_if.headers["x-argus-cache"] == "bypass"
    wi = _exact(RankingOut, what_if.json())
    assert wi.what_if is True and len(wi.results) == 3
    assert all(x.what_if for x in wi.results)


def test_breakdown_and_history_bodies_are_their_models(
    client: TestClient, auth: Any, seeded_sqlite_url: str
) -> None:
    _seed_live(seeded_sqlite_url, WHEN_DT - dt.timedelta(minutes=1))
    _seed_live(seeded_sqlite_url)
    q = f"scenario_id={DEMO_SCENARIO_ID}&track_id=T1&da_id=1"
    r = client.get(f"/api/tewa/score_breakdown/?{q}", headers=auth["viewer"])
    assert r.status_code == 200, r.text
    b = _exact(ScoreBreakdownOut, r.json())
    assert (b.track_id, b.da_id, b.computed_at, b.what_if) == ("T1", 1, WHEN_DT, False)
    assert b.contributions.cpa == (b.n_cpa or 0.0) * b.weights.cpa
    assert b.params.w_cpa == b.weights.cpa and b.params.use_track_quality is False

    r = client.get(f"/api/tewa/score_history/?{q}", headers=auth["viewer"])
    assert r.status_code == 200, r.text
    h = _exact(ScoreHistoryOut, r.json())
    assert [row.computed_at for row in h.results] == [WHEN_DT - dt.timedelta(minutes=1), WHEN_DT]
    assert h.results[-1].score == b.score and h.results[-1].weights == b.weights

    # T1 never reaches DA-Bravo's weapon range: a stored null component
    r = client.get(
        f"/api/tewa/score_breakdown/?scenario_id={DEMO_SCENARIO_ID}&track_id=T1&da_id=2",
        headers=auth["viewer"],
    )
    bravo = _exact(ScoreBreakdownOut, r.json())
    assert bravo.twrp_s is None and bravo.contributions.twrp == 0.0


def test_assign_presets_and_ops_bodies_are_their_models(client: TestClient, auth: Any) -> None:
    r = client.post(
        "/api/tewa/assign/",
        json={"scenario_id": DEMO_SCENARIO_ID, "at": "2025-06-01T06:04:00Z"},
        headers=auth["operator"],
    )
    assert r.status_code == 200, r.text
    plan = _exact(AssignmentOut, r.json())
    assert plan.scenario == "Demo-Scenario" and plan.lines
    assert {ln.target for ln in plan.lines} <= {"T1", "T2"} and "T3" in plan.not_engageable
    assert all(ln.rounds >= 1 and ln.weapon in ("Alpha-SAM", "Bravo-SAM") for ln in plan.lines)

    r = client.get("/api/tewa/presets/", headers=auth["viewer"])
    body = r.json()
    presets = TypeAdapter(dict[str, PresetOut]).validate_python(body)
    assert list(presets) == list(DOCTRINE_PRESETS)
    assert {k: p.model_dump(exclude_unset=True) for k, p in presets.items()} == body
    assert presets["point-defense"].weapon_range_km == 8.0
    assert "clamp_0_1" not in body["point-defense"]  # left out, not null

    assert _exact(HealthOut, client.get("/health").json()).status == "ok"
    ready = _exact(ReadyOut, client.get("/ready").json())
    assert ready.checks == {"database": "ok", "migrations": "ok"}
