"""The RF routes end to end (SQLite and PostgreSQL): receivers, an acquisition started with 202
and run in-process from SigMF recordings, its status and SigMF download, measurements raw and
hourly with paging, localizations, problem+json errors."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from argus.api.app import create_app
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.rf import service
from tests.api._support import assert_problem, make_settings
from tests.rf import _engines  # noqa: F401  # the engine modules or their stand-ins
from tests.rf._support import FREQ, SITES, START, write_folder

NAMES = ["north", "east", "south"]


@pytest.fixture
def rf_client(seeded_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(seeded_db_url, var_dir=tmp_path / "var"))) as c:
        yield c


def test_receivers_acquisition_download_measurements(
    rf_client: TestClient, auth: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    c, op, viewer = rf_client, auth["operator"], auth["viewer"]
    folder = tmp_path / "rec"
    truth = write_folder(folder, NAMES)
    ids = []
    for name in NAMES:
        lat, lon = next((la, lo) for n, la, lo in SITES if n == name)
        body = {"name": name, "kind": "sigmf", "url": str(folder), "lat_deg": lat, "lon_deg": lon,
                "sample_rate_hz": 1e6, "min_frequency_hz": 1e8, "max_frequency_hz": 2e8}  # fmt: skip
        r = c.post("/api/rf/receivers", json=body, headers=op)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    dup = c.post("/api/rf/receivers", json={**body, "lat_deg": 1.0}, headers=op)
    assert_problem(dup, 422)
    assert "name: a receiver named 'south'" in dup.json()["detail"]
    assert c.post("/api/rf/receivers", json=body, headers=viewer).status_code == 403
    r = c.post(f"/api/rf/receivers/{ids[0]}/check", headers=op)
    assert r.json()["status"] == "up" and r.json()["last_seen_at"]
    r = c.patch(f"/api/rf/receivers/{ids[0]}", json={"alt_m": 99.0}, headers=op)
    assert r.json()["alt_m"] == 99.0
    bad = c.post("/api/rf/acquisitions", json={"frequency_hz": 5e7, "duration_s": 0.004,
                 "receiver_ids": [*ids, 4242], "source": "sigmf"}, headers=op)  # fmt: skip
    assert_problem(bad, 422)
    assert "receiver_ids: no receiver 4242" in bad.json()["detail"]
    r = c.post("/api/rf/acquisitions", json={"frequency_hz": FREQ, "duration_s": 0.004,
               "receiver_ids": ids, "source": "sigmf"}, headers=op)  # fmt: skip
    assert r.status_code == 202 and r.json()["queued_on"] == "in-process"
    acq_id = r.json()["id"]
    st = c.get(r.json()["status_url"], headers=viewer).json()  # the background run has finished
    assert (st["status"], st["progress"], st["attempts"]) == ("complete", 1.0, 1), st
    assert "at least 3" not in (st["error"] or "")
    z = c.get(f"/api/rf/acquisitions/{acq_id}/sigmf/{ids[1]}", headers=viewer)
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        names = sorted(zf.namelist())
        data = zf.read(names[0])
        meta = json.loads(zf.read(names[1]))
    assert data == np.asarray(truth["east"].iq[:4000], dtype="<c8").tobytes()
    assert meta["global"]["core:sha512"] == st["captures"][str(ids[1])]["sha512"]
    d = c.get(f"/api/rf/acquisitions/{acq_id}/sigmf/{ids[1]}?part=data", headers=viewer)
    assert d.content == data
    assert_problem(c.get(f"/api/rf/acquisitions/{acq_id}/sigmf/999", headers=viewer), 404)
    window = {"start": "2026-12-07T00:00:00Z", "end": "2026-12-08T00:00:00Z"}
    p1 = c.get("/api/rf/measurements", params={**window, "limit": 2}, headers=viewer).json()
    assert len(p1["items"]) == 2 and p1["next_cursor"]
    p2 = c.get("/api/rf/measurements", params={**window, "limit": 2, "cursor": p1["next_cursor"]},
               headers=viewer).json()  # fmt: skip
    got = [m["receiver_id"] for m in p1["items"] + p2["items"]]
    assert got == ids and p2["next_cursor"] is None
    offsets = [m["frequency_offset_hz"] for m in p1["items"] + p2["items"]]
    assert offsets == pytest.approx([5e3, 1e4, 1.5e4], abs=250)
    assert_problem(c.get("/api/rf/measurements", params={"cursor": "zz"}, headers=viewer), 422)
    naive = c.get("/api/rf/measurements", params={"start": "2026-12-07T00:00:00"}, headers=viewer)
    assert_problem(naive, 422)
    engine = make_engine(str(c.app.state.settings.database_url))  # type: ignore[attr-defined]
    with session_scope(make_sessionmaker(engine)) as s:
        assert service.refresh_hourly(s) == 3
    engine.dispose()
    h = c.get("/api/rf/measurements", params={**window, "aggregation": "hourly",
              "receiver_id": ids[2]}, headers=viewer).json()  # fmt: skip
    assert [(x["count"], x["hour"][:13]) for x in h["items"]] == [(1, START.isoformat()[:13])]
    # the acquisition's localization (argus.rf.locate), listed and fetched alike
    locs = c.get("/api/rf/localizations", headers=viewer).json()
    assert locs["next_cursor"] is None and len(locs["items"]) <= 1
    for item in locs["items"]:
        got = c.get(f"/api/rf/localizations/{item['id']}", headers=viewer).json()
        assert got["id"] == item["id"] and got["method"] in ("tdoa", "rss", "fused")
    assert_problem(c.get("/api/rf/localizations/7", headers=viewer), 404)
    assert c.delete(f"/api/rf/receivers/{ids[0]}", headers=op).status_code == 403
    assert c.delete(f"/api/rf/receivers/{ids[0]}", headers=auth["admin"]).status_code == 204
    assert_problem(c.get(f"/api/rf/receivers/{ids[0]}", headers=viewer), 404)
