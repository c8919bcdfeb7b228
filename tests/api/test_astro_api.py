"""The astronomy API (issue 12) on SQLite and PostgreSQL: uploads and ingest, listings and
paging, stamps, cone search, light curve, curation, alerts, models."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from argus.api.app import create_app
from argus.astro import service
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from tests.api._support import assert_problem, make_settings
from tests.astro._support import fits_image, stored_run, write_fits


@pytest.fixture
def var(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def api(seeded_db_url: str, var: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(seeded_db_url, var_dir=var, upload_max_bytes=200_000))) as c:  # fmt: skip
        yield c


def _seed(url: str, var: Path) -> dict[str, Any]:
    """Two nights at one position: a stored difference run, scored candidates, one alert."""
    store = ObjectStore(str(var / "objects"))
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            st = stored_run(
                s, store, ra=[150.0, 150.0 + 3 / 3600, 150.01], dec=[2.2, 2.2, 2.2],
                snr=[12.0, 8.0, 30.0],
            )  # fmt: skip
            m = service.register_model(
                s, name="rb", model_type="real_bogus", blob=b"m", metrics={"accuracy": 0.97}
            )
            run = service.record_model_run(s, m, st.candidates, [0.85, 0.3, 0.99])
            alerts = service.raise_alerts(s)
            return {
                "run": str(st.run.id),
                "observation": str(st.new.id),
                "candidates": [str(c.id) for c in st.candidates],
                "detections": {
                    str(d.candidate_id): str(d.id) for d in service.detections_of_run(s, run)
                },
                "alerts": [str(a.id) for a in alerts],
            }
    finally:
        engine.dispose()


def test_upload_maps_the_header_and_stores_the_file(api: TestClient, auth: Any, var: Path) -> None:
    data = fits_image(obsid="UP-1", ra=210.5, dec=-45.25, exptime=60.0, airmass=1.4)
    r = api.post(
        "/api/astro/observations/upload",
        files={"file": ("../../etc/up1.fits", data)},
        data={"survey": "Uploads"},
        headers=auth["operator"],
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stored"] == 1 and body["errors"] == []
    oid = body["observation_ids"][0]
    o = api.get(f"/api/astro/observations/{oid}", headers=auth["viewer"]).json()
    assert o["observation_id"] == "UP-1" and o["exposure_time"] == 60.0 and o["airmass"] == 1.4
    assert o["ra"] == pytest.approx(210.5) and o["dec"] == pytest.approx(-45.25)
    assert o["status"] == "ingested" and o["fits_size_bytes"] == len(data)
    store = ObjectStore(str(var / "objects"))
    assert store.get_bytes(f"astro/observations/{oid}.fits") == data  # committed and stored
    surveys = api.get("/api/astro/surveys", headers=auth["viewer"]).json()
    assert [s["name"] for s in surveys] == ["Uploads"]
    # the same observation again: 422 naming the field and the file (its name, not the path)
    r = api.post("/api/astro/observations/upload", files={"file": ("again.fits", data)}, data={"survey": "Uploads"}, headers=auth["operator"])  # fmt: skip
    body = assert_problem(r, 422)
    assert body["detail"].startswith("observation_id: FITS batch rejected, nothing stored: again.fits")  # fmt: skip
    r = api.post("/api/astro/observations/upload", files={"file": ("noexp.fits", fits_image(obsid="UP-2", exptime=None))}, headers=auth["operator"])  # fmt: skip
    assert "EXPTIME" in assert_problem(r, 422)["detail"]
    page = api.get("/api/astro/observations", headers=auth["viewer"]).json()
    assert len(page["items"]) == 1  # nothing of the rejected uploads was stored


def test_upload_is_bounded_and_authorized(api: TestClient, auth: Any) -> None:
    big = fits_image(shape=(300, 300))  # 360 kB > the 200 kB limit of this app
    r = api.post("/api/astro/observations/upload", files={"file": ("big.fits", big)}, headers=auth["operator"])  # fmt: skip
    assert_problem(r, 413)
    r = api.post("/api/astro/observations/upload", files={"file": ("a.fits", fits_image())}, headers=auth["viewer"])  # fmt: skip
    assert_problem(r, 403)
    r = api.post("/api/astro/observations/upload", files={"file": ("a.fits", fits_image())})
    assert_problem(r, 401)
    r = api.post("/api/astro/observations/upload", content=b"x", headers={**auth["operator"], "content-type": "text/plain"})  # fmt: skip
    assert_problem(r, 415)


def test_folder_ingest_stays_under_incoming(api: TestClient, auth: Any, var: Path) -> None:
    night = var / "astro-incoming" / "n1"
    night.mkdir(parents=True)
    write_fits(night / "a.fits", obsid="F-1")
    write_fits(night / "b.fits", obsid="F-2", exptime=None)
    for bad in ("../n1", "/etc", "n1/../../x", "missing"):
        r = api.post("/api/astro/observations/ingest", json={"folder": bad}, headers=auth["operator"])  # fmt: skip
        assert assert_problem(r, 422)["detail"].startswith("folder:"), bad
    r = api.post("/api/astro/observations/ingest", json={"folder": "n1"}, headers=auth["operator"])
    assert assert_problem(r, 422)["detail"].startswith("EXPTIME: FITS batch rejected")
    r = api.post("/api/astro/observations/ingest", json={"folder": "n1", "partial": True}, headers=auth["operator"])  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["stored"] == 1
    assert r.json()["errors"] == [{"file": str(night / "b.fits"), "field": "EXPTIME", "reason": "missing (looked for EXPTIME, EXPOSURE, ITIME, EXP_TIME)"}]  # fmt: skip


def test_surveys(api: TestClient, auth: Any) -> None:
    r = api.post("/api/astro/surveys", json={"name": "ZTF", "base_url": "https://ztf"}, headers=auth["operator"])  # fmt: skip
    assert r.status_code == 201 and r.json()["name"] == "ZTF"
    sid = r.json()["id"]
    assert api.get(f"/api/astro/surveys/{sid}", headers=auth["viewer"]).json()["base_url"] == "https://ztf"  # fmt: skip
    r = api.post("/api/astro/surveys", json={"name": "ZTF"}, headers=auth["operator"])
    assert assert_problem(r, 422)["detail"].startswith("name:")
    assert_problem(api.get("/api/astro/surveys/00000000-0000-4000-8000-000000000000", headers=auth["viewer"]), 404)  # fmt: skip
    assert_problem(api.get("/api/astro/surveys/not-a-uuid", headers=auth["viewer"]), 422)


def test_candidates_queries_curation_and_alerts(
    api: TestClient, auth: Any, seeded_db_url: str, var: Path
) -> None:
    ids = _seed(seeded_db_url, var)
    v, op = auth["viewer"], auth["operator"]
    # candidates by status, paged
    r = api.get("/api/astro/candidates?status=scored&limit=2", headers=v).json()
    assert len(r["items"]) == 2 and r["next_cursor"]
    r2 = api.get(f"/api/astro/candidates?status=scored&limit=2&cursor={r['next_cursor']}", headers=v).json()  # fmt: skip
    assert len(r2["items"]) == 1 and r2["next_cursor"] is None
    assert {c["id"] for c in r["items"] + r2["items"]} == set(ids["candidates"])
    assert api.get("/api/astro/candidates?status=pending", headers=v).json()["items"] == []
    bad = base64.urlsafe_b64encode(b"junk").decode()
    assert_problem(api.get(f"/api/astro/candidates?cursor={bad}", headers=v), 422)
    c0 = api.get(f"/api/astro/candidates/{ids['candidates'][0]}", headers=v).json()
    assert (c0["rb_score"], c0["snr"], c0["status"]) == (0.85, 12.0, "scored")
    # stamps from the stored products
    r = api.get(f"/api/astro/candidates/{ids['candidates'][0]}/stamps.png?size=31", headers=v)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (750, 280)
    # difference runs and their products
    runs = api.get("/api/astro/difference-runs", headers=v).json()["items"]
    assert [x["id"] for x in runs] == [ids["run"]]
    assert set(runs[0]["products"]) == {"D", "Scorr", "new", "ref"}
    # cone search and light curve
    cone = api.get("/api/astro/cone?ra=150&dec=2.2&radius_arcsec=5", headers=v).json()
    # 3 arcsec of RA at Dec 2.2 is 3 cos(2.2 deg) arcsec on the sky
    seps = [m["separation_arcsec"] for m in cone["matches"]]
    assert seps == pytest.approx([0.0, 3 * math.cos(math.radians(2.2))], abs=1e-6)
    cone = api.get("/api/astro/cone?ra=150&dec=2.2&radius_arcsec=5&target=detections", headers=v).json()  # fmt: skip
    assert [m["detection"]["confidence_score"] for m in cone["matches"]] == [0.85, 0.3]
    assert_problem(api.get("/api/astro/cone?ra=360&dec=0&radius_arcsec=5", headers=v), 422)
    lc = api.get("/api/astro/lightcurve?ra=150&dec=2.2", headers=v).json()
    assert [p["flux"] for p in lc["points"]] == [500.0]
    # the queue, highest score first; a validation moves a detection out of it
    q = api.get("/api/astro/validation-queue", headers=v).json()["items"]
    assert [x["detection"]["confidence_score"] for x in q] == [0.99, 0.85, 0.3]
    det = ids["detections"][ids["candidates"][0]]
    r = api.post("/api/astro/validations", json={"detection_id": det, "decision": "real", "confidence_level": "high", "tags": ["sn"]}, headers=op)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["validator_id"] == "operator" and r.json()["is_valid"] is True
    assert api.get(f"/api/astro/candidates/{ids['candidates'][0]}", headers=v).json()["status"] == "validated"  # fmt: skip
    q = api.get("/api/astro/validation-queue", headers=v).json()["items"]
    assert [x["detection"]["confidence_score"] for x in q] == [0.99, 0.3]
    assert len(api.get(f"/api/astro/validations?detection_id={det}", headers=v).json()) == 1
    r = api.post("/api/astro/validations", json={"detection_id": det, "decision": "label"}, headers=op)  # fmt: skip
    assert assert_problem(r, 422)["detail"].startswith("label:")
    r = api.post("/api/astro/validations", json={"detection_id": ids["run"], "decision": "real"}, headers=op)  # fmt: skip
    assert_problem(r, 404)
    assert_problem(api.post("/api/astro/validations", json={"detection_id": det, "decision": "real"}, headers=v), 403)  # fmt: skip
    # alerts: the two novel, confident, bright candidates; none delivered yet
    alerts = api.get("/api/astro/alerts", headers=v).json()
    assert sorted(a["priority"] for a in alerts) == ["critical", "medium"]
    assert {a["id"] for a in alerts} == set(ids["alerts"])
    d = api.get(f"/api/astro/alerts/{ids['alerts'][0]}/deliveries", headers=v).json()
    assert d == {"alert_id": ids["alerts"][0], "status": "pending", "delivery_attempts": 0, "attempts": []}  # fmt: skip
    assert api.get("/api/astro/alerts?status=delivered", headers=v).json() == []
    # the model registry
    models = api.get("/api/astro/models", headers=v).json()
    assert [(m["name"], m["version"], m["is_active"], m["accuracy"]) for m in models] == [("rb", "1", True, 0.97)]  # fmt: skip


def test_jobs_listing(api: TestClient, auth: Any, seeded_db_url: str) -> None:
    engine = make_engine(seeded_db_url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            job = service.create_job(s, "difference", entity_type="observation", entity_id="x")
            service.start_job(s, job)
            service.fail_job(s, job, RuntimeError("no stars"), retry=False)
            jid = str(job.id)
    finally:
        engine.dispose()
    jobs = api.get("/api/astro/jobs?status=failed", headers=auth["viewer"]).json()
    assert [j["id"] for j in jobs] == [jid]
    j = api.get(f"/api/astro/jobs/{jid}", headers=auth["viewer"]).json()
    assert j["error_message"] == "RuntimeError: no stars" and j["status"] == "failed"
    assert api.get("/api/astro/jobs?status=running", headers=auth["viewer"]).json() == []


def test_json_writes_are_authorized_before_the_body_is_read(api: TestClient, auth: Any) -> None:
    huge = b'{"name": "' + b"x" * 100_000 + b'"}'
    json_ct = {"content-type": "application/json"}
    for path in ("/api/astro/surveys", "/api/astro/validations", "/api/astro/observations/ingest"):
        assert "not authenticated" in assert_problem(api.post(path, content=huge, headers=json_ct), 401)["detail"]  # fmt: skip
        assert_problem(api.post(path, content=huge, headers={**json_ct, **auth["viewer"]}), 403)
        body = assert_problem(api.post(path, content=huge, headers={**json_ct, **auth["operator"]}), 413)  # fmt: skip
        assert body["detail"] == "body: at most 16384 bytes"
        body = assert_problem(api.post(path, content=b'{"oops": ', headers={**json_ct, **auth["operator"]}), 422)  # fmt: skip
        assert "JSON" in body["detail"]
    r = api.post("/api/astro/surveys", json={"name": ""}, headers=auth["operator"])
    assert assert_problem(r, 422)["errors"][0]["field"] == "name"
    r = api.post("/api/astro/validations", json={"detection_id": "x", "decision": "real"}, headers=auth["operator"])  # fmt: skip
    assert assert_problem(r, 422)["errors"][0]["field"] == "detection_id"


# ---- raising and delivering alerts, SystemConfig, cutouts ---------------------------------------


def _seed_scored(url: str, var: Path) -> dict[str, Any]:
    """A stored run of three candidates scored by a model, no alert raised yet: SNR 12, 8, 30
    and real/bogus 0.85, 0.3, 0.99, all in one observation (so all novel)."""
    store = ObjectStore(str(var / "objects"))
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            st = stored_run(
                s, store, ra=[150.0, 150.0 + 3 / 3600, 150.01], dec=[2.2, 2.2, 2.2],
                snr=[12.0, 8.0, 30.0],
            )  # fmt: skip
            m = service.register_model(s, name="rb", model_type="real_bogus", blob=b"m", metrics={})
            service.record_model_run(s, m, st.candidates, [0.85, 0.3, 0.99])
            return {"run": str(st.run.id), "candidates": [str(c.id) for c in st.candidates]}
    finally:
        engine.dispose()


class _Webhook:
    """A real HTTP endpoint on the loopback answering ``status`` and keeping what it got."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.status = 200
        self.received: list[tuple[dict[str, Any], str | None]] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hook.received.append((json.loads(body), self.headers.get("Idempotency-Key")))
                self.send_response(hook.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    hook = _Webhook()
    yield hook
    hook.close()


def test_raise_alerts_by_run_and_by_candidates(
    api: TestClient, auth: Any, seeded_db_url: str, var: Path
) -> None:
    ids = _seed_scored(seeded_db_url, var)
    op, v = auth["operator"], auth["viewer"]
    assert api.get("/api/astro/alerts", headers=v).json() == []
    # a stricter SNR for this call: only candidate 2 (SNR 30)
    strict = {"difference_run_id": ids["run"], "rules": {"min_snr": 15}}
    r = api.post("/api/astro/alerts/raise", json=strict, headers=op)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["detections_considered"] == 3 and body["raised"] == 1
    assert body["rules"]["min_snr"] == 15 and body["rules"]["min_confidence"] == 0.8
    # 0.99 and SNR 30 is critical (>= 0.97 and >= 20)
    (a2,) = body["alerts"]
    assert (a2["alert_metadata"]["candidate_id"], a2["priority"], a2["status"]) == (ids["candidates"][2], "critical", "pending")  # fmt: skip
    # the default rules (confidence >= 0.8, SNR >= 7) on the whole run: candidate 0 as well
    # (0.85 < 0.9: medium), not 1 (score 0.3) and not 2 again
    r = api.post("/api/astro/alerts/raise", json={"difference_run_id": ids["run"]}, headers=op)
    body = r.json()
    assert (body["detections_considered"], body["raised"]) == (3, 1)
    assert [(a["alert_metadata"]["candidate_id"], a["priority"]) for a in body["alerts"]] == [(ids["candidates"][0], "medium")]  # fmt: skip
    r = api.post("/api/astro/alerts/raise", json={"difference_run_id": ids["run"]}, headers=op)
    assert (r.json()["detections_considered"], r.json()["raised"]) == (3, 0)  # nothing twice
    # candidate 1 by id, with looser rules: still none (the model called it an artifact)
    one = {"candidate_ids": [ids["candidates"][1]], "rules": {"min_confidence": 0.2, "min_snr": 5}}
    r = api.post("/api/astro/alerts/raise", json=one, headers=op)
    assert r.status_code == 200, r.text
    assert (r.json()["detections_considered"], r.json()["raised"]) == (1, 0)
    assert r.json()["rules"]["min_confidence"] == 0.2
    assert len(api.get("/api/astro/alerts", headers=v).json()) == 2
    # the stored rules are the default of a call
    admin = auth["admin"]
    r = api.put("/api/astro/config/astro.alerts.rules", json={"value": {"min_snr": 40}}, headers=admin)  # fmt: skip
    assert r.status_code == 200, r.text
    r = api.post("/api/astro/alerts/raise", json={"difference_run_id": ids["run"]}, headers=op)
    assert r.json()["rules"]["min_snr"] == 40 and r.json()["raised"] == 0
    # errors name the field
    r = api.post("/api/astro/alerts/raise", json={}, headers=op)
    assert assert_problem(r, 422)["detail"].startswith("difference_run_id:")
    missing = "00000000-0000-4000-8000-00000000dead"
    r = api.post("/api/astro/alerts/raise", json={"candidate_ids": [ids["candidates"][0], missing]}, headers=op)  # fmt: skip
    assert assert_problem(r, 404)["detail"] == f"candidate_ids: no candidate {missing}"
    r = api.post("/api/astro/alerts/raise", json={"difference_run_id": missing}, headers=op)
    assert assert_problem(r, 404)["detail"].startswith("difference_run_id:")
    r = api.post("/api/astro/alerts/raise", json={"difference_run_id": ids["run"], "rules": {"min_confidence": 2}}, headers=op)  # fmt: skip
    assert assert_problem(r, 422)["errors"][0]["field"] == "rules.min_confidence"
    assert_problem(api.post("/api/astro/alerts/raise", json={"difference_run_id": ids["run"]}, headers=v), 403)  # fmt: skip
    assert len(api.get("/api/astro/alerts", headers=v).json()) == 2  # nothing more stored


def test_deliver_and_redeliver_an_alert(
    api: TestClient, auth: Any, seeded_db_url: str, var: Path, webhook: _Webhook
) -> None:
    ids = _seed(seeded_db_url, var)
    op, admin = auth["operator"], auth["admin"]
    alert = ids["alerts"][0]
    fast = {"max_attempts": 2, "backoff_s": 0, "timeout_s": 5}
    # no webhook configured: a clear 422, nothing sent
    r = api.post(f"/api/astro/alerts/{alert}/deliver", json=fast, headers=op)
    assert "astro.alerts.webhook_url" in assert_problem(r, 422)["detail"]
    r = api.put("/api/astro/config/astro.alerts.webhook_url", json={"value": webhook.url, "description": "test hook"}, headers=admin)  # fmt: skip
    assert r.status_code == 200, r.text
    # the endpoint is down (503): both attempts kept, the alert failed
    webhook.status = 503
    r = api.post(f"/api/astro/alerts/{alert}/deliver", json=fast, headers=op)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["alert"]["status"] == "failed" and body["alert"]["delivery_attempts"] == 2
    assert [(a["attempt"], a["status_code"]) for a in body["attempts"]] == [(1, 503), (2, 503)]
    assert body["alert"]["error_message"].startswith("HTTP 503")
    # it is back: a failed alert is sent again, its earlier attempts kept
    webhook.status = 204
    r = api.post(f"/api/astro/alerts/{alert}/deliver", headers=op)  # no body: the defaults
    assert r.status_code == 200, r.text
    assert r.json()["alert"]["status"] == "delivered" and r.json()["alert"]["delivery_attempts"] == 3  # fmt: skip
    d = api.get(f"/api/astro/alerts/{alert}/deliveries", headers=auth["viewer"]).json()
    assert d["status"] == "delivered"
    assert [a["status_code"] for a in d["attempts"]] == [503, 503, 204]
    assert {a["url"] for a in d["attempts"]} == {webhook.url}
    assert len(webhook.received) == 3
    assert {(p["alert_id"], key) for p, key in webhook.received} == {(alert, alert)}
    # delivered: refused unless forced
    r = api.post(f"/api/astro/alerts/{alert}/deliver", json=fast, headers=op)
    assert "already delivered" in assert_problem(r, 409)["detail"]
    r = api.post(f"/api/astro/alerts/{alert}/deliver", json={**fast, "force": True}, headers=op)
    assert r.json()["alert"]["status"] == "delivered" and r.json()["alert"]["delivery_attempts"] == 4  # fmt: skip
    assert len(webhook.received) == 4
    # the other alert was never sent
    other = api.get(f"/api/astro/alerts/{ids['alerts'][1]}/deliveries", headers=op).json()
    assert (other["status"], other["attempts"]) == ("pending", [])
    r = api.post(f"/api/astro/alerts/{alert}/deliver", json={"max_attempts": 11}, headers=op)
    assert assert_problem(r, 422)["errors"][0]["field"] == "max_attempts"
    # 10 attempts of 5 s and backoffs of 0.5 s doubling (255.5 s of sleep): too long to wait for
    r = api.post(f"/api/astro/alerts/{alert}/deliver", json={"max_attempts": 10}, headers=op)
    assert "could take 305.5 s, more than 120 s" in assert_problem(r, 422)["detail"]
    assert_problem(api.post(f"/api/astro/alerts/{alert}/deliver", headers=auth["viewer"]), 403)
    r = api.post("/api/astro/alerts/00000000-0000-4000-8000-00000000dead/deliver", headers=op)
    assert_problem(r, 404)


def test_system_config_is_checked_and_admin_only(api: TestClient, auth: Any) -> None:
    admin, op = auth["admin"], auth["operator"]
    assert api.get("/api/astro/config", headers=admin).json() == []
    key = "/api/astro/config/astro.alerts.webhook_url"
    assert_problem(api.get(key, headers=admin), 404)
    for bad, reason in (
        ("ftp://example.org/x", "is not an http(s) URL with a host"),
        ("http://", "is not an http(s) URL with a host"),
        (42, "must be a string"),
    ):
        body = assert_problem(api.put(key, json={"value": bad}, headers=admin), 422)
        assert body["detail"].startswith("value:") and reason in body["detail"], body["detail"]
    rules = "/api/astro/config/astro.alerts.rules"
    for bad, start in (
        ({"min_snr": "high"}, "value.min_snr: 'high' is not a number"),
        ({"alert_known_sources": 1}, "value.alert_known_sources: 1 is not true or false"),
        ({"min_confidence": 1.5}, "value.min_confidence: 1.5 is not in [0, 1]"),
        ({"loudness": 3}, "value.loudness: not an alert rule"),
        ([1, 2], "value: the alert rules must be an object"),
    ):
        body = assert_problem(api.put(rules, json={"value": bad}, headers=admin), 422)
        assert body["detail"].startswith(start), body["detail"]
    body = assert_problem(api.put("/api/astro/config/Bad Key", json={"value": 1}, headers=admin), 422)  # fmt: skip
    assert body["detail"].startswith("key:")
    assert api.get("/api/astro/config", headers=admin).json() == []  # nothing stored
    # good values
    r = api.put(key, json={"value": "https://hooks.example.org/argus", "description": "ops"}, headers=admin)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["key"], r.json()["value"], r.json()["is_active"]) == ("astro.alerts.webhook_url", "https://hooks.example.org/argus", True)  # fmt: skip
    r = api.put(rules, json={"value": {"min_snr": 9, "alert_known_sources": True}}, headers=admin)
    assert r.status_code == 200 and r.json()["value"] == {"min_snr": 9, "alert_known_sources": True}  # fmt: skip
    r = api.put(key, json={"value": "https://hooks.example.org/v2", "is_active": False}, headers=admin)  # fmt: skip
    got = api.get(key, headers=admin).json()
    assert (got["value"], got["is_active"], got["description"]) == ("https://hooks.example.org/v2", False, "ops")  # fmt: skip
    assert [c["key"] for c in api.get("/api/astro/config", headers=admin).json()] == ["astro.alerts.rules", "astro.alerts.webhook_url"]  # fmt: skip
    r = api.put("/api/astro/config/site.note", json={"value": {"any": ["json", 1]}}, headers=admin)
    assert r.status_code == 200
    # operators and viewers neither read nor write
    for role in ("operator", "viewer"):
        assert_problem(api.get("/api/astro/config", headers=auth[role]), 403)
        assert_problem(api.get(key, headers=auth[role]), 403)
        assert_problem(api.put(key, json={"value": "https://evil.example"}, headers=auth[role]), 403)  # fmt: skip
    assert api.get(key, headers=admin).json()["value"] == "https://hooks.example.org/v2"
    del op


def test_each_cutout_as_png(api: TestClient, auth: Any, seeded_db_url: str, var: Path) -> None:
    import numpy as np

    ids = _seed_scored(seeded_db_url, var)
    mid = ids["candidates"][1]  # at pixel (35, 31): a 15 x 15 cutout lies inside the 80 x 64 image
    got = {}
    for kind in ("science", "reference", "difference"):
        r = api.get(f"/api/astro/candidates/{mid}/cutouts/{kind}.png?size=15&scale=3", headers=auth["viewer"])  # fmt: skip
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
        img = Image.open(io.BytesIO(r.content))
        assert (img.size, img.mode) == ((45, 45), "L")
        got[kind] = np.asarray(img, dtype=float)[::3, ::3]  # one value per image pixel
    # the science image is 100 + row * 80 + column: brighter up (north at the top: the PNG's
    # first row is the cutout's last) and to the right; the reference is its negative
    sci, ref = got["science"], got["reference"]
    assert sci[0].mean() > sci[-1].mean() and sci[:, -1].mean() > sci[:, 0].mean()
    assert ref[0].mean() < ref[-1].mean() and ref[:, -1].mean() < ref[:, 0].mean()
    assert got["difference"].std() > 0  # noise, not a flat grey
    r = api.get(f"/api/astro/candidates/{mid}/cutouts/noise.png", headers=auth["viewer"])
    assert assert_problem(r, 422)["errors"][0]["field"] == "path.kind"
    r = api.get(f"/api/astro/candidates/{mid}/cutouts/science.png?scale=9", headers=auth["viewer"])
    assert_problem(r, 422)
    assert_problem(api.get(f"/api/astro/candidates/{mid}/cutouts/science.png"), 401)
