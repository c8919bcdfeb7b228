"""The resource routes' contract: typed 2xx bodies in the OpenAPI document, explicit nulls for
NOT NULL fields refused with a 422 naming the field, and concurrent creates of one name giving
one 201 and one 409 (never a 500) on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from argus.api.app import create_app
from argus.api.routes import assets, exports, params, picture, scenarios, tracks, weapons
from tests.api._live import serve_in_thread
from tests.api._support import (
    DEMO_SCENARIO_ID,
    PROBLEM_JSON,
    assert_problem,
    error_fields,
    make_settings,
)

# ---- OpenAPI: every resource operation describes its 2xx body ----


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_resource_operation_has_a_typed_success_body() -> None:
    app = create_app(make_settings("sqlite:///:memory:"))
    doc = app.openapi()
    checked = 0
    resources = (scenarios, assets, tracks, exports, params, weapons, picture)
    for route in (r for m in resources for r in m.router.routes):
        assert isinstance(route, APIRoute)
        for method in route.methods:
            op = doc["paths"][route.path][method.lower()]
            ok = {k: v for k, v in op["responses"].items() if k.startswith("2")}
            assert ok, (method, route.path)
            for code, resp in ok.items():
                if code == "204":
                    continue
                (media, content), *_ = resp["content"].items()
                schema = _resolve(doc, content["schema"])
                if media == "text/csv":
                    assert schema == {"type": "string"}
                    continue
                if schema.get("type") == "array":
                    schema = _resolve(doc, schema["items"])
                assert schema.get("properties"), (method, route.path, schema)
                assert schema.get("additionalProperties") is not True
            assert "application/problem+json" in str(op["responses"].get("422", ""))
            checked += 1
    assert checked == 22  # every operation of the resource routers
    schemas = doc["components"]["schemas"]
    page = schemas["ScenarioPage"]["properties"]
    assert set(page) == {"items", "next_cursor"}
    assert page["items"]["items"] == {"$ref": "#/components/schemas/ScenarioOut"}
    report = schemas["UploadReport"]["properties"]
    assert {"rows_read", "inserted", "errors", "rows_rejected"} <= set(report)
    # the upload's multipart body is documented although the route reads the stream itself
    upload = doc["paths"]["/api/scenarios/{scenario_id}/tracks/upload"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"] and form["properties"]["file"]["format"] == "binary"
    # PATCH fields that cannot be null are not nullable in the schema, nor default to null
    name = schemas["ScenarioPatch"]["properties"]["name"]
    assert name["type"] == "string" and "default" not in name and "anyOf" not in name
    notes = schemas["ScenarioPatch"]["properties"]["notes"]
    assert {"type": "null"} in notes["anyOf"]


def test_bodies_keep_the_wire_names_the_console_reads(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    viewer = auth["viewer"]
    sc = client.get(f"/api/scenarios/{DEMO_SCENARIO_ID}", headers=viewer).json()
    assert set(sc) == {
        "id", "name", "start_time", "end_time", "notes", "doctrine", "active", "replay",
        "created_at", "updated_at",
    }  # fmt: skip
    assert sc["created_at"].endswith("Z")
    tracks = client.get(f"/api/scenarios/{DEMO_SCENARIO_ID}/tracks", headers=viewer).json()
    assert set(tracks) == {"items", "next_cursor"} and tracks["next_cursor"] is None
    assert {"track_id", "lat", "lon", "iff", "threat_class", "quality"} <= set(tracks["items"][0])
    pic = client.get(
        f"/api/scenarios/{DEMO_SCENARIO_ID}/picture?at=2025-06-01T06:02:00Z", headers=viewer
    ).json()
    assert pic["at"] == "2025-06-01T06:02:00Z" and pic["tracks"][0]["trail"]


# ---- PATCH with an explicit null ----

NULL_CASES = [
    (f"/api/scenarios/{DEMO_SCENARIO_ID}", "patch", "name"),
    (f"/api/scenarios/{DEMO_SCENARIO_ID}", "patch", "active"),
    (f"/api/scenarios/{DEMO_SCENARIO_ID}", "patch", "replay"),
    ("/api/assets/1", "patch", "name"),
    ("/api/assets/1", "patch", "lat"),
    ("/api/assets/1", "patch", "radius_km"),
    ("/api/assets/1", "patch", "value"),
    (f"/api/scenarios/{DEMO_SCENARIO_ID}/tracks/T1", "patch", "iff"),
    (f"/api/scenarios/{DEMO_SCENARIO_ID}/tracks/T1", "patch", "threat_class"),
    (f"/api/scenarios/{DEMO_SCENARIO_ID}/tracks/T1", "patch", "quality"),
    (f"/api/scenarios/{DEMO_SCENARIO_ID}/params", "put", "w_cpa"),
    (f"/api/scenarios/{DEMO_SCENARIO_ID}/params", "put", "clamp_0_1"),
]


@pytest.mark.parametrize(("url", "method", "name"), NULL_CASES)
def test_explicit_null_for_a_not_null_field_is_a_422_naming_it(
    client: TestClient, auth: dict[str, dict[str, str]], url: str, method: str, name: str
) -> None:
    before = client.get(url.removesuffix("/tracks/T1") if "tracks" in url else url,
                        headers=auth["viewer"]).json()  # fmt: skip
    r = client.request(method, url, json={name: None}, headers=auth["admin"])
    body = assert_problem(r, 422)
    assert error_fields(body) == {name}, body
    after = client.get(url.removesuffix("/tracks/T1") if "tracks" in url else url,
                       headers=auth["viewer"]).json()  # fmt: skip
    assert after == before  # nothing changed


def test_explicit_null_clears_a_nullable_field(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    url = f"/api/scenarios/{DEMO_SCENARIO_ID}"
    op = auth["operator"]
    assert client.patch(url, json={"notes": "n"}, headers=op).json()["notes"] == "n"
    assert client.patch(url, json={"notes": None}, headers=op).json()["notes"] is None
    r = client.patch("/api/assets/1", json={"weapon_range_km": None}, headers=op)
    assert r.status_code == 200 and r.json()["weapon_range_km"] is None
    r = client.patch("/api/assets/1", json={"radius_km": 7.5}, headers=op)  # omitted stay put
    assert r.json()["radius_km"] == 7.5 and r.json()["name"] == "DA-Alpha"


# ---- concurrent creates ----


def _race(base: str, headers: dict[str, str], path: str, bodies: list[dict[str, Any]]) -> list[Any]:
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(httpx.post, base + path, json=b, headers=headers, timeout=60)
            for b in bodies
        ]
        return [f.result() for f in futures]


@pytest.mark.parametrize(
    ("path", "table", "body"),
    [
        ("/api/scenarios", "scenario", {"name": "Raced"}),
        (
            "/api/assets",
            "defended_asset",
            {"name": "DA-Raced", "lat": 26.0, "lon": 71.0, "radius_km": 5.0},
        ),
    ],
    ids=["scenario", "asset"],
)
def test_two_concurrent_creates_of_one_name_give_201_and_409(
    seeded_db_url: str,
    auth: dict[str, dict[str, str]],
    path: str,
    table: str,
    body: dict[str, Any],
) -> None:
    """Both requests pass the name check before either inserts (a barrier holds each at its
    INSERT until the other arrives): the loser's INSERT fails on the unique index."""
    app = create_app(make_settings(seeded_db_url))
    barrier = threading.Barrier(2, timeout=20)
    insert = re.compile(rf"^\s*INSERT INTO {table}\b", re.I)
    met: list[bool] = []

    @event.listens_for(app.state.engine, "before_cursor_execute")
    def meet_at_insert(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if insert.match(statement) and len(met) < 2:
            met.append(True)
            barrier.wait()

    with serve_in_thread(app) as base:
        answers = _race(base, auth["operator"], path, [body, body])
        listed = httpx.get(
            base + path + "?limit=1000",
            headers=auth["viewer"],
        ).json()["items"]
    assert len(met) == 2, "the requests did not meet at the INSERT"
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409], [(a.status_code, a.text[:200]) for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.headers["content-type"] == PROBLEM_JSON
    assert loser.json()["detail"].startswith("name: ")
    assert sum(x["name"] == body["name"] for x in listed) == 1


def test_an_integrity_error_anywhere_is_a_409_problem(seeded_sqlite_url: str) -> None:
    """The app-wide handler: an IntegrityError no route caught (for instance one raised at
    commit) answers 409 problem+json, not 500."""
    app = create_app(make_settings(seeded_sqlite_url))
    extra = APIRouter()

    @extra.post("/test-only/conflict")
    def conflict() -> None:
        raise IntegrityError("INSERT INTO x", {}, Exception("UNIQUE constraint failed: x.name"))

    app.include_router(extra)
    with TestClient(app, raise_server_exceptions=False) as c:
        body = assert_problem(c.post("/test-only/conflict"), 409)
    assert "conflicts with the stored state" in body["detail"]
