"""Every route of the OpenAPI document (each method) and the WebSocket, checked against an explicit
table of the minimal role it needs: anonymous callers get 401, under-privileged ones 403 (both
problem+json), and the minimal role gets the route's success status — which also proves the
refused calls changed nothing (a refused DELETE would make the admin's DELETE a 404, a refused
POST would make the operator's POST a 409).

A route in the OpenAPI document but not in ``EXPECTED`` fails the walk, so a new route cannot
slip in unclassified.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from argus.accounts import tokens
from argus.api.app import create_app
from argus.db.models import Job, MissileFlight, MissileType, Scenario
from argus.defense.service.catalog import find_demo_scenario
from argus.defense.service.runtime import DefenseRuntime
from argus.tewa import service
from tests.api._support import (
    JWT_SECRET,
    OTHER_SECRET,
    PASSWORDS,
    PROBLEM_JSON,
    ROLES,
    assert_problem,
    bearer,
    copy_template,
    login,
    make_settings,
    open_session,
)
from tests.astro._support import WALK, WALK_INCOMING, fits_image, seed_walk
from tests.defense._support import seed_defense

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
RANK = {"public": -1, "viewer": 0, "operator": 1, "admin": 2}

#: (method, path) → the minimal role. "WS" is the WebSocket.
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/health"): "public",
    ("GET", "/ready"): "public",
    ("GET", "/metrics"): "public",
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/refresh"): "public",
    ("GET", "/api/auth/me"): "viewer",
    ("GET", "/api/users"): "admin",
    ("POST", "/api/users"): "admin",
    ("PATCH", "/api/users/{username}"): "admin",
    ("POST", "/api/tewa/compute_at/"): "operator",
    ("POST", "/api/tewa/compute_now/"): "operator",
    ("GET", "/api/jobs/{job_id}"): "viewer",
    ("GET", "/api/tewa/ranking/"): "viewer",
    ("GET", "/api/tewa/score_breakdown/"): "viewer",
    ("GET", "/api/tewa/score_history/"): "viewer",
    ("POST", "/api/tewa/assign/"): "operator",
    ("GET", "/api/tewa/presets/"): "viewer",
    ("GET", "/api/scenarios"): "viewer",
    ("POST", "/api/scenarios"): "operator",
    ("GET", "/api/scenarios/{scenario_id}"): "viewer",
    ("PATCH", "/api/scenarios/{scenario_id}"): "operator",
    ("DELETE", "/api/scenarios/{scenario_id}"): "admin",
    ("GET", "/api/assets"): "viewer",
    ("POST", "/api/assets"): "operator",
    ("PATCH", "/api/assets/{da_id}"): "operator",
    ("DELETE", "/api/assets/{da_id}"): "admin",
    ("GET", "/api/scenarios/{scenario_id}/assets"): "viewer",
    ("PUT", "/api/scenarios/{scenario_id}/assets"): "operator",
    ("GET", "/api/scenarios/{scenario_id}/tracks"): "viewer",
    ("PATCH", "/api/scenarios/{scenario_id}/tracks/{track_id}"): "operator",
    ("GET", "/api/scenarios/{scenario_id}/tracks/{track_id}/samples"): "viewer",
    ("POST", "/api/scenarios/{scenario_id}/tracks/upload"): "operator",
    ("GET", "/api/scenarios/{scenario_id}/scores.csv"): "viewer",
    ("GET", "/api/scenarios/{scenario_id}/params"): "viewer",
    ("PUT", "/api/scenarios/{scenario_id}/params"): "admin",
    ("POST", "/api/scenarios/{scenario_id}/params/preset"): "admin",
    ("GET", "/api/scenarios/{scenario_id}/weapons"): "viewer",
    ("POST", "/api/scenarios/{scenario_id}/weapons"): "operator",
    ("GET", "/api/scenarios/{scenario_id}/picture"): "viewer",
    ("POST", "/api/sim/launch"): "operator",
    ("POST", "/api/sim/scenario"): "operator",
    ("GET", "/api/sim/flights"): "viewer",
    ("GET", "/api/sim/flights/{flight_id}"): "viewer",
    ("GET", "/api/radar/status"): "viewer",
    ("GET", "/api/radar/targets"): "viewer",
    ("GET", "/api/radar/tracks"): "viewer",
    ("GET", "/api/radar/scan"): "viewer",
    ("GET", "/api/radar/signal-quality"): "viewer",
    ("GET", "/api/threats/active"): "viewer",
    ("GET", "/api/threats/critical"): "viewer",
    ("GET", "/api/threats/summary"): "viewer",
    ("GET", "/api/threats/history"): "viewer",
    ("GET", "/api/threats/ew-status"): "viewer",
    ("GET", "/api/metrics/{area}"): "viewer",
    ("GET", "/api/controller/status"): "viewer",
    ("POST", "/api/controller/restart"): "admin",
    ("WS", "/ws/threats"): "viewer",
    ("WS", "/ws/radar-stream"): "viewer",
    # astro (issue 12)
    ("GET", "/api/astro/surveys"): "viewer",
    ("POST", "/api/astro/surveys"): "operator",
    ("GET", "/api/astro/surveys/{survey_id}"): "viewer",
    ("GET", "/api/astro/observations"): "viewer",
    ("GET", "/api/astro/observations/{observation_id}"): "viewer",
    ("POST", "/api/astro/observations/upload"): "operator",
    ("POST", "/api/astro/observations/ingest"): "operator",
    ("GET", "/api/astro/jobs"): "viewer",
    ("GET", "/api/astro/jobs/{job_id}"): "viewer",
    ("GET", "/api/astro/difference-runs"): "viewer",
    ("GET", "/api/astro/difference-runs/{run_id}"): "viewer",
    ("GET", "/api/astro/candidates"): "viewer",
    ("GET", "/api/astro/candidates/{candidate_id}"): "viewer",
    ("GET", "/api/astro/candidates/{candidate_id}/stamps.png"): "viewer",
    ("GET", "/api/astro/candidates/{candidate_id}/cutouts/{kind}.png"): "viewer",
    ("GET", "/api/astro/cone"): "viewer",
    ("GET", "/api/astro/lightcurve"): "viewer",
    ("POST", "/api/astro/validations"): "operator",
    ("GET", "/api/astro/validations"): "viewer",
    ("GET", "/api/astro/validation-queue"): "viewer",
    ("GET", "/api/astro/alerts"): "viewer",
    ("GET", "/api/astro/alerts/{alert_id}/deliveries"): "viewer",
    ("POST", "/api/astro/alerts/raise"): "operator",
    ("POST", "/api/astro/alerts/{alert_id}/deliver"): "operator",
    ("GET", "/api/astro/models"): "viewer",
    ("GET", "/api/astro/config"): "admin",
    ("GET", "/api/astro/config/{key}"): "admin",
    ("PUT", "/api/astro/config/{key}"): "admin",
    # rf (issue 13)
    ("GET", "/api/rf/receivers"): "viewer",
    ("POST", "/api/rf/receivers"): "operator",
    ("GET", "/api/rf/receivers/{receiver_id}"): "viewer",
    ("PATCH", "/api/rf/receivers/{receiver_id}"): "operator",
    ("DELETE", "/api/rf/receivers/{receiver_id}"): "admin",
    ("POST", "/api/rf/receivers/{receiver_id}/check"): "operator",
    ("POST", "/api/rf/acquisitions"): "operator",
    ("GET", "/api/rf/acquisitions"): "viewer",
    ("GET", "/api/rf/acquisitions/{acquisition_id}"): "viewer",
    ("GET", "/api/rf/acquisitions/{acquisition_id}/sigmf/{receiver_id}"): "viewer",
    ("GET", "/api/rf/measurements"): "viewer",
    ("GET", "/api/rf/localizations"): "viewer",
    ("GET", "/api/rf/localizations/{localization_id}"): "viewer",
}

#: Routes left out of the OpenAPI document on purpose (the console's page is public).
HIDDEN: dict[tuple[str, str], str] = {("GET", "/"): "public"}

PUBLIC = {"/health", "/ready", "/metrics", "/api/auth/login", "/api/auth/refresh"}
#: Reads for admins only: the users, and the SystemConfig entries (the webhook URL may carry a
#: secret).
ADMIN_READS = {"/api/users", "/api/astro/config", "/api/astro/config/{key}"}
ADMIN_MUTATIONS = {
    ("POST", "/api/users"),
    ("PATCH", "/api/users/{username}"),
    ("PUT", "/api/scenarios/{scenario_id}/params"),
    ("POST", "/api/scenarios/{scenario_id}/params/preset"),
    ("DELETE", "/api/scenarios/{scenario_id}"),
    ("DELETE", "/api/assets/{da_id}"),
    ("POST", "/api/controller/restart"),
    ("DELETE", "/api/rf/receivers/{receiver_id}"),
    ("PUT", "/api/astro/config/{key}"),
}

JOB_ID = "00000000-0000-4000-8000-000000000001"
RF_ACQUISITION_ID = "00000000-0000-4000-8000-0000000000a1"
FLIGHT_ID = "walk-flight-1"
#: The walk's alert webhook: a closed port on the loopback (delivery fails at once, offline).
WALK_WEBHOOK = "http://127.0.0.1:9/walk-webhook"
#: Routes answered by the defense runtime: the walk attaches one (not started) to the app.
DEFENSE_PREFIXES = (
    "/api/sim/",
    "/api/radar/",
    "/api/threats/",
    "/api/metrics/",
    "/api/controller/",
)
LAUNCH_QUERY = "lat=31.2&lon=-121.6&targetLat=34.05&targetLon=-118.25&missileType=SCUD-C"
UPLOAD_CSV = (
    "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp\n"
    "U1,26.5,71.0,5000,200,90,2025-06-01T06:00:00Z\n"
    "U1,26.5,71.02,5000,200,90,2025-06-01T06:00:10Z\n"
)


@dataclass(frozen=True)
class Call:
    """A request that the minimal role's call answers with ``ok``."""

    url: str
    ok: int = 200
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    json_from_refresh_token: bool = field(default=False)
    content: bytes | None = None


#: One well-formed request per route (the same request is sent by every caller).
CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/health"): Call("/health"),
    ("GET", "/ready"): Call("/ready"),
    ("GET", "/metrics"): Call("/metrics"),
    ("POST", "/api/auth/login"): Call(
        "/api/auth/login", data={"username": "viewer", "password": PASSWORDS["viewer"]}
    ),
    ("POST", "/api/auth/refresh"): Call("/api/auth/refresh", json_from_refresh_token=True),
    ("GET", "/api/auth/me"): Call("/api/auth/me"),
    ("GET", "/api/users"): Call("/api/users"),
    ("POST", "/api/users"): Call(
        "/api/users", 201, json={"username": "newbie", "password": "newbie-pass-1"}
    ),
    ("PATCH", "/api/users/{username}"): Call("/api/users/viewer", json={"role": "operator"}),
    ("POST", "/api/tewa/compute_at/"): Call(
        "/api/tewa/compute_at/", json={"scenario_id": 1, "when": "2025-06-01T06:03:00Z"}
    ),
    ("POST", "/api/tewa/compute_now/"): Call("/api/tewa/compute_now/", json={"scenario_id": 1}),
    ("GET", "/api/jobs/{job_id}"): Call(f"/api/jobs/{JOB_ID}"),
    ("GET", "/api/tewa/ranking/"): Call("/api/tewa/ranking/?scenario_id=1"),
    ("GET", "/api/tewa/score_breakdown/"): Call(
        "/api/tewa/score_breakdown/?scenario_id=1&track_id=T1&da_id=1"
    ),
    ("GET", "/api/tewa/score_history/"): Call(
        "/api/tewa/score_history/?scenario_id=1&track_id=T1&da_id=1"
    ),
    ("POST", "/api/tewa/assign/"): Call(
        "/api/tewa/assign/", json={"scenario_id": 1, "at": "2025-06-01T06:04:00Z"}
    ),
    ("GET", "/api/tewa/presets/"): Call("/api/tewa/presets/"),
    ("GET", "/api/scenarios"): Call("/api/scenarios"),
    ("POST", "/api/scenarios"): Call("/api/scenarios", 201, json={"name": "Another"}),
    ("GET", "/api/scenarios/{scenario_id}"): Call("/api/scenarios/1"),
    ("PATCH", "/api/scenarios/{scenario_id}"): Call("/api/scenarios/1", json={"notes": "n"}),
    ("DELETE", "/api/scenarios/{scenario_id}"): Call("/api/scenarios/1", 204),
    ("GET", "/api/assets"): Call("/api/assets"),
    ("POST", "/api/assets"): Call(
        "/api/assets",
        201,
        json={"name": "DA-Charlie", "lat": 26.0, "lon": 71.0, "radius_km": 10.0},
    ),
    ("PATCH", "/api/assets/{da_id}"): Call("/api/assets/1", json={"radius_km": 20.0}),
    ("DELETE", "/api/assets/{da_id}"): Call("/api/assets/1", 204),
    ("GET", "/api/scenarios/{scenario_id}/assets"): Call("/api/scenarios/1/assets"),
    ("PUT", "/api/scenarios/{scenario_id}/assets"): Call(
        "/api/scenarios/1/assets", json={"da_ids": [1]}
    ),
    ("GET", "/api/scenarios/{scenario_id}/tracks"): Call("/api/scenarios/1/tracks"),
    ("PATCH", "/api/scenarios/{scenario_id}/tracks/{track_id}"): Call(
        "/api/scenarios/1/tracks/T3", json={"iff": "hostile"}
    ),
    ("GET", "/api/scenarios/{scenario_id}/tracks/{track_id}/samples"): Call(
        "/api/scenarios/1/tracks/T1/samples"
    ),
    ("POST", "/api/scenarios/{scenario_id}/tracks/upload"): Call(
        "/api/scenarios/1/tracks/upload", files={"file": ("u.csv", UPLOAD_CSV.encode())}
    ),
    ("GET", "/api/scenarios/{scenario_id}/scores.csv"): Call("/api/scenarios/1/scores.csv"),
    ("GET", "/api/scenarios/{scenario_id}/params"): Call("/api/scenarios/1/params"),
    ("PUT", "/api/scenarios/{scenario_id}/params"): Call(
        "/api/scenarios/1/params", json={"cpa_scale_km": 12.0}
    ),
    ("POST", "/api/scenarios/{scenario_id}/params/preset"): Call(
        "/api/scenarios/1/params/preset", json={"preset": "point-defense"}
    ),
    ("GET", "/api/scenarios/{scenario_id}/weapons"): Call("/api/scenarios/1/weapons"),
    ("POST", "/api/scenarios/{scenario_id}/weapons"): Call(
        "/api/scenarios/1/weapons",
        201,
        json={
            "call_sign": "Charlie-SAM",
            "weapon_type": "SAM-SR",
            "lat": 26.5,
            "lon": 72.0,
            "rounds": 4,
            "max_range_km": 20.0,
        },
    ),
    ("GET", "/api/scenarios/{scenario_id}/picture"): Call(
        "/api/scenarios/1/picture?at=2025-06-01T06:02:00Z"
    ),
    ("POST", "/api/sim/launch"): Call(f"/api/sim/launch?{LAUNCH_QUERY}", 201),
    ("POST", "/api/sim/scenario"): Call(
        "/api/sim/scenario",
        201,
        content=(
            Path(__file__).resolve().parents[2] / "src/argus/scenario/examples/defense.toml"
        ).read_bytes(),
    ),
    ("GET", "/api/sim/flights"): Call("/api/sim/flights"),
    ("GET", "/api/sim/flights/{flight_id}"): Call(f"/api/sim/flights/{FLIGHT_ID}"),
    ("GET", "/api/radar/status"): Call("/api/radar/status"),
    ("GET", "/api/radar/targets"): Call("/api/radar/targets"),
    ("GET", "/api/radar/tracks"): Call("/api/radar/tracks"),
    ("GET", "/api/radar/scan"): Call("/api/radar/scan"),
    ("GET", "/api/radar/signal-quality"): Call("/api/radar/signal-quality"),
    ("GET", "/api/threats/active"): Call("/api/threats/active"),
    ("GET", "/api/threats/critical"): Call("/api/threats/critical"),
    ("GET", "/api/threats/summary"): Call("/api/threats/summary"),
    ("GET", "/api/threats/history"): Call("/api/threats/history"),
    ("GET", "/api/threats/ew-status"): Call("/api/threats/ew-status"),
    ("GET", "/api/metrics/{area}"): Call("/api/metrics/pipeline"),
    ("GET", "/api/controller/status"): Call("/api/controller/status"),
    ("POST", "/api/controller/restart"): Call("/api/controller/restart"),
    # astro (issue 12): the rows seeded by tests.astro._support.seed_walk
    ("GET", "/api/astro/surveys"): Call("/api/astro/surveys"),
    ("POST", "/api/astro/surveys"): Call("/api/astro/surveys", 201, json={"name": "WalkNew"}),
    ("GET", "/api/astro/surveys/{survey_id}"): Call(f"/api/astro/surveys/{WALK['survey']}"),
    ("GET", "/api/astro/observations"): Call("/api/astro/observations"),
    ("GET", "/api/astro/observations/{observation_id}"): Call(
        f"/api/astro/observations/{WALK['observation']}"
    ),
    ("POST", "/api/astro/observations/upload"): Call(
        "/api/astro/observations/upload",
        201,
        files={"file": ("walk.fits", fits_image(obsid="WALK-UPLOAD", survey="WalkSurvey"))},
    ),
    ("POST", "/api/astro/observations/ingest"): Call(
        "/api/astro/observations/ingest", 201, json={"folder": WALK_INCOMING}
    ),
    ("GET", "/api/astro/jobs"): Call("/api/astro/jobs"),
    ("GET", "/api/astro/jobs/{job_id}"): Call(f"/api/astro/jobs/{WALK['job']}"),
    ("GET", "/api/astro/difference-runs"): Call("/api/astro/difference-runs"),
    ("GET", "/api/astro/difference-runs/{run_id}"): Call(
        f"/api/astro/difference-runs/{WALK['run']}"
    ),
    ("GET", "/api/astro/candidates"): Call("/api/astro/candidates?status=pending"),
    ("GET", "/api/astro/candidates/{candidate_id}"): Call(
        f"/api/astro/candidates/{WALK['candidate']}"
    ),
    ("GET", "/api/astro/candidates/{candidate_id}/stamps.png"): Call(
        f"/api/astro/candidates/{WALK['candidate']}/stamps.png"
    ),
    ("GET", "/api/astro/candidates/{candidate_id}/cutouts/{kind}.png"): Call(
        f"/api/astro/candidates/{WALK['candidate']}/cutouts/difference.png"
    ),
    ("GET", "/api/astro/cone"): Call("/api/astro/cone?ra=150&dec=2.2&radius_arcsec=5"),
    ("GET", "/api/astro/lightcurve"): Call("/api/astro/lightcurve?ra=150&dec=2.2"),
    ("POST", "/api/astro/validations"): Call(
        "/api/astro/validations",
        201,
        json={"detection_id": str(WALK["detection"]), "decision": "real"},
    ),
    ("GET", "/api/astro/validations"): Call("/api/astro/validations"),
    ("GET", "/api/astro/validation-queue"): Call("/api/astro/validation-queue"),
    ("GET", "/api/astro/alerts"): Call("/api/astro/alerts"),
    ("GET", "/api/astro/alerts/{alert_id}/deliveries"): Call(
        f"/api/astro/alerts/{WALK['alert']}/deliveries"
    ),
    ("POST", "/api/astro/alerts/raise"): Call(
        "/api/astro/alerts/raise", json={"difference_run_id": str(WALK["run"])}
    ),
    # the walk's webhook is WALK_WEBHOOK (nothing listens): one attempt, answered "failed"
    ("POST", "/api/astro/alerts/{alert_id}/deliver"): Call(
        f"/api/astro/alerts/{WALK['alert']}/deliver",
        json={"max_attempts": 1, "backoff_s": 0, "timeout_s": 2},
    ),
    ("GET", "/api/astro/models"): Call("/api/astro/models"),
    ("GET", "/api/astro/config"): Call("/api/astro/config"),
    ("GET", "/api/astro/config/{key}"): Call("/api/astro/config/astro.alerts.webhook_url"),
    ("PUT", "/api/astro/config/{key}"): Call(
        "/api/astro/config/astro.alerts.rules", json={"value": {"min_snr": 6.0}}
    ),
    # rf (issue 13): receiver 1, acquisition RF_ACQUISITION_ID and localization 1 (walk_template)
    ("GET", "/api/rf/receivers"): Call("/api/rf/receivers"),
    ("POST", "/api/rf/receivers"): Call(
        "/api/rf/receivers",
        201,
        json={"name": "walk-rx", "url": "ws://127.0.0.1:9", "lat_deg": 45.0, "lon_deg": 7.0},
    ),
    ("GET", "/api/rf/receivers/{receiver_id}"): Call("/api/rf/receivers/1"),
    ("PATCH", "/api/rf/receivers/{receiver_id}"): Call("/api/rf/receivers/1", json={"alt_m": 5.0}),
    ("DELETE", "/api/rf/receivers/{receiver_id}"): Call("/api/rf/receivers/1", 204),
    ("POST", "/api/rf/receivers/{receiver_id}/check"): Call("/api/rf/receivers/1/check"),
    ("POST", "/api/rf/acquisitions"): Call(
        "/api/rf/acquisitions",
        202,
        json={"frequency_hz": 145.5e6, "duration_s": 0.01, "receiver_ids": [1]},
    ),
    ("GET", "/api/rf/acquisitions"): Call("/api/rf/acquisitions"),
    ("GET", "/api/rf/acquisitions/{acquisition_id}"): Call(
        f"/api/rf/acquisitions/{RF_ACQUISITION_ID}"
    ),
    ("GET", "/api/rf/acquisitions/{acquisition_id}/sigmf/{receiver_id}"): Call(
        f"/api/rf/acquisitions/{RF_ACQUISITION_ID}/sigmf/1"
    ),
    ("GET", "/api/rf/measurements"): Call("/api/rf/measurements?aggregation=hourly"),
    ("GET", "/api/rf/localizations"): Call("/api/rf/localizations"),
    ("GET", "/api/rf/localizations/{localization_id}"): Call("/api/rf/localizations/1"),
}


def _documented_routes() -> set[tuple[str, str]]:
    app = create_app(make_settings("sqlite:///:memory:"))
    return {
        (method.upper(), path)
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if method in HTTP_METHODS
    }


DOCUMENTED = _documented_routes()


def _walk_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, descending into included routers (FastAPI keeps them nested)."""
    for r in routes:
        original = getattr(r, "original_router", None)
        if original is not None:
            assert not r.include_context.prefix, "routers are included without a prefix"
            yield from _walk_routes(original.routes)
        else:
            yield r


# ---- the table itself ----


def policy(method: str, path: str) -> str:
    """The issue's policy, written independently of the table."""
    if path in PUBLIC:
        return "public"
    if method == "WS":
        return "viewer"
    if method == "GET":
        return "admin" if path in ADMIN_READS else "viewer"
    return "admin" if (method, path) in ADMIN_MUTATIONS else "operator"


def test_every_documented_route_is_in_the_table() -> None:
    http_table = {k for k in EXPECTED if k[0] != "WS"}
    assert DOCUMENTED - http_table == set(), "routes in the OpenAPI document with no expectation"
    assert http_table - DOCUMENTED == set(), "expectations for routes that no longer exist"
    assert set(CALLS) == http_table


def test_routes_outside_the_openapi_document_are_known() -> None:
    app = create_app(make_settings("sqlite:///:memory:"))
    websockets, hidden = set(), set()
    for r in _walk_routes(app.routes):
        if isinstance(r, APIWebSocketRoute):
            websockets.add(("WS", r.path))
        elif isinstance(r, APIRoute) and not r.include_in_schema:
            hidden |= {(m, r.path) for m in r.methods}
    assert websockets == {k for k in EXPECTED if k[0] == "WS"}
    assert hidden == set(HIDDEN)


def test_table_follows_the_policy() -> None:
    assert {k: policy(*k) for k in EXPECTED} == EXPECTED


# ---- the walk ----


@pytest.fixture(scope="module")
def rf_objects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The walk's object store (``ARGUS_VAR_DIR``), holding the seeded RF capture."""
    var = tmp_path_factory.mktemp("rf-var")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARGUS_VAR_DIR", str(var))
        mp.delenv("ARGUS_OBJECT_STORE", raising=False)
        yield var / "objects"


def _seed_rf(s: Any, objects: Path) -> None:
    """Receiver 1, a complete acquisition with its objects, localization 1."""
    from types import SimpleNamespace

    from argus.db.objectstore import ObjectStore
    from argus.rf import service as rf

    store = ObjectStore(str(objects))
    r = rf.add_receiver(
        s, name="walk-kiwi", kind="network", url="ws://127.0.0.1:9", lat_deg=45.0, lon_deg=7.0,
        sample_rate_hz=1e6,
    )  # fmt: skip
    acq = rf.start_acquisition(
        s, 145.5e6, 0.01, [r.id], source="network", acquisition_id=RF_ACQUISITION_ID
    )
    caps = {}
    for rid, cap in acq.captures.items():
        store.put_bytes(cap["meta_key"], b"{}")
        data = store.put_bytes(cap["data_key"], b"\0" * 16)
        caps[rid] = {**cap, "stored": True, "size_bytes": 16, "sha512": data.sha512}
    acq.captures, acq.status, acq.progress = caps, "complete", 1.0
    loc = SimpleNamespace(
        lat_deg=45.01, lon_deg=7.01, alt_m=0.0, method="rss", cov_enu_m2=[[4.0, 0.0], [0.0, 9.0]],
        ellipse95=(7.3, 4.9, 90.0), gdop=1.5, crlb_m=3.0, residuals=[0.1], receivers_used=["walk-kiwi"],
        per_receiver={},
    )  # fmt: skip
    rf.store_localization(s, acq.id, loc, time=dt.datetime(2026, 12, 7, tzinfo=dt.UTC))
    s.flush()


@pytest.fixture(scope="module")
def walk_template(
    seeded_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, rf_objects: Path
) -> Path:
    """The seeded database plus one stored batch of scores and one job (for the GET routes)."""
    url = copy_template(seeded_sqlite_template, tmp_path_factory.mktemp("walk"))
    with open_session(url) as s:
        sc = s.get(Scenario, 1)
        assert sc is not None
        res = service.compute_at(
            s, sc, dt.datetime(2025, 6, 1, 6, 2, tzinfo=dt.UTC), persist=True, live=True
        )
        assert res.persisted == 6
        s.add(Job(id=JOB_ID, kind="compute_scenario", scenario_id=1, status="succeeded"))
        s.commit()
    defense_sid = seed_defense(url, users=False)  # the defense demo next to TEWA's
    with open_session(url) as s:
        scud = s.scalars(sa.select(MissileType).where(MissileType.name == "SCUD-C")).one()
        # into the template's var folder, which walk_url copies next to each test's database
        _seed_rf(s, Path(sa.make_url(url).database or "").parent / "var" / "objects")
        s.add(
            MissileFlight(
                flight_id=FLIGHT_ID, scenario_id=defense_sid, missile_type_id=scud.id,
                launch_lat=31.2, launch_lon=-121.6, target_lat=34.05, target_lon=-118.25,
                trajectory="minimum_energy", launched_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC),
            )
        )  # fmt: skip
        s.commit()
    path = Path(sa.make_url(url).database or "")
    seed_walk(url, path.parent / "var")  # astro rows and their objects
    with open_session(url) as s:
        from argus.astro import service as astro

        astro.set_config(s, astro.WEBHOOK_URL, WALK_WEBHOOK)
        s.commit()
    return path


@pytest.fixture
def walk_url(walk_template: Path, tmp_path: Path) -> str:
    var = walk_template.parent / "var"  # the objects and incoming files next to the database
    if var.exists():
        shutil.copytree(var, tmp_path / "var")
    return copy_template(walk_template, tmp_path)


@contextmanager
def _defense_runtime(app: Any, path: str) -> Iterator[None]:
    """A defense runtime (not started) for the routes that need one; stopped afterwards (the
    admin's POST /api/controller/restart starts its thread)."""
    if not path.startswith(DEFENSE_PREFIXES):
        yield
        return
    with app.state.sessionmaker() as s:
        sid = find_demo_scenario(s)
    rt = DefenseRuntime(
        app.state.sessionmaker, sid, epoch=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    )
    app.state.defense = rt
    try:
        yield
    finally:
        rt.stop()


def _send(
    client: TestClient, method: str, call: Call, headers: dict[str, str], refresh_token: str
) -> Any:
    body = {"refresh_token": refresh_token} if call.json_from_refresh_token else call.json
    if call.content is not None:
        return client.request(method, call.url, headers=headers, content=call.content)
    return client.request(
        method, call.url, headers=headers, json=body, data=call.data, files=call.files
    )


@pytest.mark.parametrize(
    ("method", "path"),
    sorted(DOCUMENTED | {k for k in EXPECTED if k[0] != "WS"}),
    ids=lambda v: str(v),
)
def test_route_refuses_callers_below_its_role(
    walk_url: str, role_tokens: Any, method: str, path: str
) -> None:
    assert (method, path) in EXPECTED, f"{method} {path} is not classified in EXPECTED"
    minimum = EXPECTED[(method, path)]
    call = CALLS[(method, path)]
    app = create_app(make_settings(walk_url))
    with TestClient(app) as client, _defense_runtime(app, path):
        # refresh tokens are recorded per database and used once: one from this database
        refresh = client.post(
            "/api/auth/login", data={"username": "viewer", "password": PASSWORDS["viewer"]}
        ).json()["refresh_token"]
        anonymous = _send(client, method, call, {}, refresh)
        if minimum == "public":
            assert anonymous.status_code == call.ok, anonymous.text
            return
        body = assert_problem(anonymous, 401)
        assert "not authenticated" in body["detail"]
        for role in ROLES:
            if RANK[role] >= RANK[minimum]:
                break
            r = _send(client, method, call, bearer(role_tokens[role].access), refresh)
            body = assert_problem(r, 403)
            assert body["detail"] == f"needs role {minimum} or higher; {role} is {role}"
        r = _send(client, method, call, bearer(role_tokens[minimum].access), refresh)
        assert r.status_code == call.ok, r.text
        for role in ROLES:
            if RANK[role] > RANK[minimum]:
                r = _send(client, method, call, bearer(role_tokens[role].access), refresh)
                assert r.status_code not in (401, 403), (role, r.text)


def test_401_carries_www_authenticate(client: TestClient, auth: Any) -> None:
    for r in (
        client.get("/api/auth/me"),
        client.get("/api/auth/me", headers=bearer("not-a-jwt")),
        client.post("/api/auth/login", data={"username": "admin", "password": "wrong-pass"}),
    ):
        assert_problem(r, 401)
        assert r.headers.get("www-authenticate") == "Bearer"
    r = client.delete("/api/assets", headers=auth["admin"])
    assert_problem(r, 405)
    assert "GET" in r.headers.get("allow", "")


def test_console_page_is_public(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]


# ---- the WebSocket ----


def _ws_first_message(client: TestClient, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with client.websocket_connect(url) as ws:
        if "token=" not in url:
            ws.send_json({"hello": "no token"})
        first = ws.receive_json()
        if first["type"] != "error":
            return first, {}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        return first, {"code": closed.value.code}


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_websocket_needs_a_viewer_token(client: TestClient, auth: Any, role: str) -> None:
    url = "/ws/threats?scenario_id=1"
    if role != "anonymous":
        url += "&token=" + auth[role]["Authorization"].removeprefix("Bearer ")
    first, close = _ws_first_message(client, url)
    if role == "anonymous":
        assert first["type"] == "error" and first["status"] == 401
        assert close == {"code": 4401}
    else:
        assert first["type"] == "ranking" and first["scenario_id"] == 1


# ---- tokens ----


def _expired() -> str:
    return tokens.issue(JWT_SECRET, "admin", "admin", ttl=dt.timedelta(seconds=-1))


def _other_secret() -> str:
    return tokens.issue(OTHER_SECRET, "admin", "admin")


def _unknown_user() -> str:
    return tokens.issue(JWT_SECRET, "nobody", "admin")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_expired, "token expired"),
        (_other_secret, "invalid token (InvalidSignatureError)"),
        (_unknown_user, "user unknown or deactivated"),
        (lambda: "not-a-jwt", "invalid token (DecodeError)"),
    ],
    ids=["expired", "other-secret", "unknown-user", "garbage"],
)
def test_bad_access_tokens_are_401(
    client: TestClient, make: Callable[[], str], reason: str
) -> None:
    for path in ("/api/auth/me", "/api/users"):
        body = assert_problem(client.get(path, headers=bearer(make())), 401)
        assert body["detail"] == reason


def test_refresh_token_is_not_an_access_token(client: TestClient, role_tokens: Any) -> None:
    body = assert_problem(
        client.get("/api/auth/me", headers=bearer(role_tokens["admin"].refresh)), 401
    )
    assert body["detail"] == "expected a access token, got a refresh token"
    # ... and not on the WebSocket either
    first, close = _ws_first_message(
        client, f"/ws/threats?scenario_id=1&token={role_tokens['admin'].refresh}"
    )
    assert first["status"] == 401 and close == {"code": 4401}


def test_access_token_is_not_a_refresh_token(client: TestClient, role_tokens: Any) -> None:
    r = client.post("/api/auth/refresh", json={"refresh_token": role_tokens["admin"].access})
    body = assert_problem(r, 401)
    assert body["detail"] == "refresh_token: expected a refresh token, got a access token"
    expired = tokens.issue(JWT_SECRET, "admin", "admin", "refresh", ttl=dt.timedelta(seconds=-1))
    r = client.post("/api/auth/refresh", json={"refresh_token": expired})
    assert assert_problem(r, 401)["detail"] == "refresh_token: token expired"


def test_wrong_password_is_401(client: TestClient) -> None:
    r = client.post("/api/auth/login", data={"username": "admin", "password": "wrong-password"})
    assert assert_problem(r, 401)["detail"] == "wrong username or password"
    r = client.post("/api/auth/login", data={"username": "ghost", "password": "wrong-password"})
    assert assert_problem(r, 401)["detail"] == "wrong username or password"


def test_deactivated_user_is_locked_out(db_client: TestClient, role_tokens: Any) -> None:
    """Runs on SQLite and PostgreSQL: tokens issued before the change stop working at once."""
    admin = login(db_client, "admin", PASSWORDS["admin"])
    old = role_tokens["operator"]
    assert db_client.get("/api/auth/me", headers=bearer(old.access)).status_code == 200
    r = db_client.patch("/api/users/operator", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    for path in ("/api/auth/me", "/api/scenarios"):
        r = db_client.get(path, headers=bearer(old.access))
        assert assert_problem(r, 401)["detail"] == "user unknown or deactivated"
    r = db_client.post("/api/auth/refresh", json={"refresh_token": old.refresh})
    assert assert_problem(r, 401)["detail"] == "user unknown or deactivated"
    r = db_client.post(
        "/api/auth/login", data={"username": "operator", "password": PASSWORDS["operator"]}
    )
    assert_problem(r, 401)
    first, close = _ws_first_message(db_client, f"/ws/threats?scenario_id=1&token={old.access}")
    assert first["status"] == 401 and close == {"code": 4401}
    # an admin cannot lock themselves out
    r = db_client.patch("/api/users/admin", json={"active": False}, headers=admin)
    assert_problem(r, 409)


def test_refresh_returns_a_working_pair_with_the_current_role(
    db_client: TestClient,
) -> None:
    """Runs on SQLite and PostgreSQL."""
    r = db_client.post(
        "/api/auth/login", data={"username": "viewer", "password": PASSWORDS["viewer"]}
    )
    assert r.status_code == 200
    pair = r.json()
    assert pair["role"] == "viewer" and pair["expires_in"] == 1800
    compute = {"scenario_id": 1, "when": "2025-06-01T06:03:00Z", "persist": False}
    r = db_client.post("/api/tewa/compute_at/", json=compute, headers=bearer(pair["access_token"]))
    assert_problem(r, 403)

    admin = login(db_client, "admin", PASSWORDS["admin"])
    r = db_client.patch("/api/users/viewer", json={"role": "operator"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "operator"

    # the role change revoked the tokens issued before it: log in again for the new role
    r = db_client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert assert_problem(r, 401)["detail"].startswith("token revoked")
    r = db_client.post(
        "/api/auth/login", data={"username": "viewer", "password": PASSWORDS["viewer"]}
    )
    r = db_client.post("/api/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["role"] == "operator" and new["token_type"] == "bearer"
    assert new["access_token"] != pair["access_token"]
    assert new["refresh_token"] != pair["refresh_token"]
    claims = tokens.decode(JWT_SECRET, new["access_token"], "access")
    assert (claims.username, claims.role) == ("viewer", "operator")
    me = db_client.get("/api/auth/me", headers=bearer(new["access_token"]))
    assert me.json() == {
        "id": me.json()["id"],
        "username": "viewer",
        "role": "operator",
        "active": True,
    }
    r = db_client.post("/api/tewa/compute_at/", json=compute, headers=bearer(new["access_token"]))
    assert r.status_code == 200 and len(r.json()["results"]) == 6
    # the new refresh token refreshes too
    r = db_client.post("/api/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert r.status_code == 200 and r.json()["role"] == "operator"


def test_role_is_read_from_the_database_not_the_token(client: TestClient, auth: Any) -> None:
    """A demoted operator's still-valid token no longer computes (the role claim is not trusted)."""
    compute = {"scenario_id": 1, "when": "2025-06-01T06:03:00Z", "persist": False}
    assert client.post("/api/tewa/compute_at/", json=compute, headers=auth["operator"]).is_success
    r = client.patch("/api/users/operator", json={"role": "viewer"}, headers=auth["admin"])
    assert r.status_code == 200
    r = client.post("/api/tewa/compute_at/", json=compute, headers=auth["operator"])
    assert assert_problem(r, 401)["detail"].startswith("token revoked")  # role change: new version
    fresh = login(client, "operator", PASSWORDS["operator"])
    r = client.post("/api/tewa/compute_at/", json=compute, headers=fresh)
    assert assert_problem(r, 403)["detail"] == "needs role operator or higher; operator is viewer"
    # and a forged role claim does not help: the claim says admin, the database says viewer
    forged = tokens.issue(JWT_SECRET, "viewer", "admin")
    assert_problem(client.get("/api/users", headers=bearer(forged)), 403)


def test_no_secret_configured_is_503_not_a_default_key(seeded_sqlite_url: str) -> None:
    app = create_app(make_settings(seeded_sqlite_url, jwt_secret=None))
    with TestClient(app) as c:
        r = c.post("/api/auth/login", data={"username": "admin", "password": PASSWORDS["admin"]})
        body = assert_problem(r, 503)
        assert "ARGUS_JWT_SECRET" in body["detail"]
        r = c.get("/api/auth/me", headers=bearer(tokens.issue(JWT_SECRET, "admin", "admin")))
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON


#: Routes that read a JSON body, and the role they need.
JSON_MUTATIONS = sorted(
    k for k, c in CALLS.items() if c.json is not None and k[0] in ("POST", "PUT", "PATCH")
)


@pytest.mark.parametrize(("method", "path"), JSON_MUTATIONS, ids=lambda v: str(v))
def test_bad_body_from_an_unauthorized_caller_is_401_or_403_not_422(
    walk_url: str, role_tokens: Any, method: str, path: str
) -> None:
    """FastAPI parses the body before it runs the dependencies; the caller is checked first
    anyway, so a stranger learns nothing about a route's input from its 422."""
    minimum = EXPECTED[(method, path)]
    assert minimum != "public"  # the JSON-body routes all need a role
    url = CALLS[(method, path)].url
    broken = {"content": b'{"oops": ', "headers": {"content-type": "application/json"}}
    with TestClient(create_app(make_settings(walk_url))) as client:
        r = client.request(method, url, **broken)  # type: ignore[arg-type]
        assert "not authenticated" in assert_problem(r, 401)["detail"]
        assert r.headers.get("www-authenticate") == "Bearer"
        r = client.request(
            method, url, content=broken["content"], headers={**broken["headers"], **bearer("x.y.z")}
        )
        assert_problem(r, 401)
        for role in ROLES:
            headers = {**broken["headers"], **bearer(role_tokens[role].access)}
            r = client.request(method, url, content=broken["content"], headers=headers)
            if RANK[role] < RANK[minimum]:
                assert (
                    assert_problem(r, 403)["detail"]
                    == f"needs role {minimum} or higher; {role} is {role}"
                )
            else:
                body = assert_problem(r, 422)  # allowed: now the input is the problem
                assert "JSON" in body["detail"] or "json" in body["detail"], body["detail"]
