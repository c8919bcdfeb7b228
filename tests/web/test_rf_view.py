"""The console's RF tab end to end, in headless Chromium (Debian's `chromium`) via Playwright.

A real server (uvicorn, in a thread) on SQLite. Five receivers are added and health-checked
through the RF service (four simulated ones come up; a network one whose port is closed goes
down), and two simulated acquisitions run through ``service.acquire_iq`` with the real engines
(simulation, SigMF into the local object store, measurements, localization). The operator opens
the RF tab: the map must show every receiver with its status, the newest localization's
estimate with its 95 % ellipse (checked against the API's semi-axes and orientation) and the
simulated truth; the side panel the API's lat/lon; the hand-drawn SVG plot one series per
receiver holding that receiver's measured values, raw and hourly. Picking the older
localization moves the estimate; a simulated acquisition started from the form completes and
adds a third; a viewer cannot start one. No request may leave 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn

from argus.accounts import service as accounts
from argus.api.app import create_app
from argus.config import Settings
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.geo.geodesics import geodesic_inverse
from argus.rf import service
from argus.rf.simulate import Emitter, random_network
from tests.web.test_console import PASSWORD, SECRET, _chromium, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CENTER = (45.07, 7.68)
FREQUENCY_HZ = 145.5e6
#: Where the simulated emitter is in each of the two seeded acquisitions.
EMITTERS = [
    Emitter(lat_deg=45.10, lon_deg=7.70, kind="wideband", bandwidth_hz=200e3),
    Emitter(lat_deg=45.05, lon_deg=7.62, kind="wideband", bandwidth_hz=200e3),
]


@dataclasses.dataclass
class Seeded:
    base: str
    receiver_ids: list[int]
    down_id: int
    acquisition_ids: list[str]


def _seed(url: str, settings: Settings) -> tuple[list[int], int, list[str]]:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    specs = random_network(5, center_lat_deg=CENTER[0], center_lon_deg=CENTER[1],
                           radius_m=20_000, seed=4)  # fmt: skip
    closed = _free_port()  # nothing listens there: the network receiver's check fails
    try:
        with session_scope(factory) as s:
            accounts.create_user(s, "op", PASSWORD, "operator")
            accounts.create_user(s, "watcher", PASSWORD, "viewer")
            ids = []
            for i, r in enumerate(specs):
                network = i == len(specs) - 1
                row = service.add_receiver(
                    s, name=r.name, kind="network" if network else "simulated",
                    url=f"ws://127.0.0.1:{closed}" if network else None,
                    lat_deg=r.lat_deg, lon_deg=r.lon_deg, alt_m=r.alt_m, sample_rate_hz=2e6,
                )  # fmt: skip
                ids.append(row.id)
        with session_scope(factory) as s:
            for rid in ids:
                service.check_receiver(s, rid, timeout_s=2.0)
            infos = [service.info(service.get_receiver(s, i)) for i in ids]
        store = ObjectStore.from_settings(settings)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        acq_ids = []
        for k, emitter in enumerate(EMITTERS):
            start = now - dt.timedelta(minutes=20 - 10 * k)
            source = service.SimulatedNetworkSource(
                emitter, infos, sample_rate_hz=2e6, start=start, seed=10 + k, snr_db=20.0
            )
            params = {"emitter": dataclasses.asdict(emitter), "seed": 10 + k, "snr_db": 20.0,
                      "start": start.isoformat(), "sample_rate_hz": 2e6}  # fmt: skip
            res = service.acquire_iq(
                factory, FREQUENCY_HZ, 0.01, ids, source=source, store=store, params=params
            )
            assert res.status == "complete" and res.localization_id is not None, res
            acq_ids.append(res.id)
        with session_scope(factory) as s:
            assert service.refresh_hourly(s) >= len(ids)
    finally:
        engine.dispose()
    return ids, ids[-1], acq_ids


@pytest.fixture
def rf_server(sqlite_url: str, tmp_path: Path) -> Iterator[Seeded]:
    settings = Settings(
        database_url=sqlite_url, jwt_secret=SECRET, compute_interval_s=0,
        var_dir=tmp_path / "var", object_store=None, broker_url=None,
    )  # fmt: skip
    ids, down, acqs = _seed(sqlite_url, settings)
    app = create_app(settings)
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield Seeded(base, ids, down, acqs)
    srv.should_exit = True
    thread.join(timeout=30)


def _count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def _api(base: str, path: str, token: str, **params: Any) -> Any:
    r = httpx.get(base + path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def _series_values(page: Any) -> dict[int, list[float]]:
    got = page.eval_on_selector_all(
        "#rf-plot g.rf-series",
        """gs => gs.map(g => [Number(g.dataset.receiverId),
             [...g.querySelectorAll('circle.rf-point')].map(c => Number(c.dataset.value))])""",
    )
    return {int(rid): values for rid, values in got}


def test_rf_tab_map_ellipse_truth_series_and_simulated_acquisition(rf_server: Seeded) -> None:
    from playwright.sync_api import sync_playwright

    base = rf_server.base
    token = httpx.post(
        base + "/api/auth/login", data={"username": "op", "password": PASSWORD}
    ).json()["access_token"]
    receivers = _api(base, "/api/rf/receivers", token)
    assert [r["id"] for r in receivers] == rf_server.receiver_ids
    assert sorted(r["status"] for r in receivers) == ["down"] + ["up"] * 4
    locs = _api(base, "/api/rf/localizations", token)["items"]
    assert [x["acquisition_id"] for x in locs] == rf_server.acquisition_ids
    # the API's truth position is the simulated emitter's
    for loc, em in zip(locs, EMITTERS, strict=True):
        assert (loc["truth_lat_deg"], loc["truth_lon_deg"]) == (em.lat_deg, em.lon_deg)
        assert loc["error_m"] < 200
    newest = locs[-1]
    raw = _api(base, "/api/rf/measurements", token, limit=1000)["items"]
    assert len(raw) == 2 * len(receivers)
    hourly = _api(base, "/api/rf/measurements", token, aggregation="hourly", limit=1000)["items"]

    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_chromium(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.on("request", lambda r: requested.append(r.url))
            page.on("websocket", lambda ws: requested.append(ws.url))
            page.goto(base + "/")
            page.fill("#login-user", "op")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.click("button[data-tab=rf]")
            page.wait_for_selector("#rf-state.live", timeout=20000)
            assert page.inner_text("#rf-state") == "5 receivers · 2 localizations"
            page.wait_for_selector("#rf-map path.rf-geo-land", state="attached", timeout=10000)

            # one marker per receiver, coloured by its checked status
            assert _count(page, "#rf-map path.rf-receiver") == len(receivers) == 5
            assert _count(page, "#rf-map path.rf-status-up") == 4
            assert _count(page, "#rf-map path.rf-status-down") == 1
            assert _count(page, f"#rf-receivers tr[data-receiver-id='{rf_server.down_id}']") == 1

            # the newest localization is selected: its estimate, ellipse and truth
            assert page.inner_text("#rf-est-id") == f"#{newest['id']}"
            assert page.inner_text("#rf-est-lat") == f"{newest['lat_deg']:.6f}"
            assert page.inner_text("#rf-est-lon") == f"{newest['lon_deg']:.6f}"
            assert page.inner_text("#rf-est-method") == newest["method"]
            assert page.inner_text("#rf-est-error") == f"{newest['error_m']:.1f}"
            assert _count(page, "#rf-map path.rf-ellipse") == 1
            assert _count(page, "#rf-map path.rf-estimate") == 1
            assert _count(page, "#rf-map path.rf-truth") == 1
            est = page.evaluate("() => RF.estimate.getLatLng()")
            assert (est["lat"], est["lng"]) == (newest["lat_deg"], newest["lon_deg"])
            truth = page.evaluate("() => RF.truth.getLatLng()")
            assert (truth["lat"], truth["lng"]) == (EMITTERS[1].lat_deg, EMITTERS[1].lon_deg)
            assert page.inner_text("#rf-truth-lat") == f"{EMITTERS[1].lat_deg:.6f}"

            # the drawn ring's extremes are the API's semi-axes, the farthest point along the
            # major axis' orientation (clockwise from north, modulo 180°)
            ring = page.evaluate("() => RF.ellipse.getLatLngs()[0].map(p => [p.lat, p.lng])")
            assert len(ring) == 96
            dist_az = [geodesic_inverse(newest["lat_deg"], newest["lon_deg"], la, lo)
                       for la, lo in ring]  # fmt: skip
            dists = [float(d) for d, _ in dist_az]
            e = newest["ellipse95"]
            assert e["a_m"] > e["b_m"] > 0
            assert max(dists) == pytest.approx(e["a_m"], rel=0.005)
            assert min(dists) == pytest.approx(e["b_m"], rel=0.01)
            far_az = float(dist_az[dists.index(max(dists))][1]) % 180.0
            diff = abs(far_az - e["orient_deg"] % 180.0)
            assert min(diff, 180.0 - diff) < 4.0  # 96 points: 3.75° apart
            d = page.get_attribute("#rf-map path.rf-ellipse", "d") or ""
            assert d.count("L") >= 90  # not simplified away at this zoom
            page.click("#rf-zoom-estimate")  # the ellipse fills the view: tens of pixels wide
            # (waited for, not slept on: Leaflet's zoom animation is slower on a loaded machine)
            box = None
            for _ in range(60):
                box = page.locator("#rf-map path.rf-ellipse").bounding_box()
                if box is not None and box["width"] > 20 and box["height"] > 20:
                    break
                page.wait_for_timeout(250)
            assert box is not None and box["width"] > 20 and box["height"] > 20

            # the time series: one series per receiver, holding that receiver's SNRs
            page.wait_for_selector("#rf-plot g.rf-series", state="attached")
            series = _series_values(page)
            assert sorted(series) == sorted(r["id"] for r in receivers)
            for rid, values in series.items():
                want = [m["snr_db"] for m in raw if m["receiver_id"] == rid]
                assert len(want) == 2 and values == pytest.approx(want, abs=1e-9)
            assert _count(page, "#rf-legend .rf-key") == 5
            page.select_option("#rf-quantity", "noise")
            page.wait_for_function(
                "v => [...document.querySelectorAll('#rf-plot circle.rf-point')]"
                ".some(c => Math.abs(Number(c.dataset.value) - v) < 1e-9)",
                arg=raw[0]["noise_floor_dbfs"],
            )
            series = _series_values(page)
            for rid, values in series.items():
                want = [m["noise_floor_dbfs"] for m in raw if m["receiver_id"] == rid]
                assert values == pytest.approx(want, abs=1e-9)
            page.select_option("#rf-aggregation", "hourly")
            page.wait_for_function(
                "() => document.querySelector('#rf-plot-info').textContent.includes('hourly')"
            )
            series = _series_values(page)
            assert len(series) == 5
            for rid, values in series.items():
                want = [h["noise_floor_mean_dbfs"] for h in hourly if h["receiver_id"] == rid]
                assert values == pytest.approx(want, abs=1e-9) and 1 <= len(want) <= 2

            # picking the older localization moves the estimate and the truth
            older = locs[0]
            page.click(f"#rf-localizations tr[data-loc-id='{older['id']}']")
            assert page.inner_text("#rf-est-lat") == f"{older['lat_deg']:.6f}"
            assert page.inner_text("#rf-est-lon") == f"{older['lon_deg']:.6f}"
            assert page.inner_text("#rf-truth-lon") == f"{EMITTERS[0].lon_deg:.6f}"
            assert _count(page, "#rf-map path.rf-ellipse") == 1

            # a simulated acquisition from the form, run in-process with its progress
            page.fill("#rf-sim-form input[name=lat]", "45.08")
            page.fill("#rf-sim-form input[name=lon]", "7.66")
            page.click("#rf-sim-submit")
            page.wait_for_selector("#rf-sim-status.ok", timeout=90000)
            assert page.get_attribute("#rf-sim-progress", "value") == "1"
            page.wait_for_selector("#rf-state:has-text('3 localizations')", timeout=20000)
            locs = _api(base, "/api/rf/localizations", token)["items"]
            assert len(locs) == 3
            third = locs[-1]
            assert (third["truth_lat_deg"], third["truth_lon_deg"]) == (45.08, 7.66)
            assert third["error_m"] < 200
            assert page.inner_text("#rf-est-id") == f"#{third['id']}"
            assert page.inner_text("#rf-est-lat") == f"{third['lat_deg']:.6f}"
            assert _count(page, "#rf-localizations tr.rf-loc") == 3

            # a viewer sees the page but cannot start an acquisition (the API would answer 403)
            page.click("#logout")
            page.wait_for_selector("#login-view:not([hidden])")
            page.fill("#login-user", "watcher")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.click("button[data-tab=rf]")
            page.wait_for_selector("#rf-state:has-text('3 localizations')", timeout=20000)
            assert page.is_disabled("#rf-sim-submit")
            assert "operator or admin" in page.inner_text("#rf-sim-status")
            assert _count(page, "#rf-map path.rf-receiver") == 5
        finally:
            browser.close()

    assert requested, "the browser made no request?"
    hosts = {urlparse(u).hostname for u in requested if urlparse(u).scheme not in ("data", "blob")}
    assert hosts == {"127.0.0.1"}, f"requests left the loopback: {sorted(hosts)}"
    assert any("/static/vendor/world-atlas/land-50m.json" in u for u in requested)
    assert any("/api/rf/measurements" in u and "aggregation=hourly" in u for u in requested)
