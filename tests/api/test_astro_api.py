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
