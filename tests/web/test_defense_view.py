"""The console's Defense tab end to end, in headless Chromium (Debian's `chromium`) via Playwright.

A real server (uvicorn, in a thread) on SQLite seeded with the defense demo and a cached trained
classifier, the defense pipeline running in real time (0.5 s cycles). The operator opens the
Defense tab, launches a SCUD-C at Los Angeles through the form, and the live map must show the
vendored Natural Earth coastline, the radar wedge, both battery circles, the missile's truth
marker and the per-stage cycle times; no request may leave 127.0.0.1 (the console is offline).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn

from argus.api.app import create_app
from argus.config import Settings
from tests.api._support import PASSWORDS
from tests.defense._support import seed_defense
from tests.web.test_console import SECRET, _chromium, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def defense_server(sqlite_url: str) -> Iterator[str]:
    seed_defense(sqlite_url)
    app = create_app(
        Settings(
            database_url=sqlite_url,
            jwt_secret=SECRET,
            compute_interval_s=0,
            pipeline=True,
            scan_interval_s=0.5,
        )
    )
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
    yield base
    srv.should_exit = True
    thread.join(timeout=15)


SYNTHETIC_FRAME = """() => {
  const base = DEF.lastFrame, at = base.time;
  onFrame(Object.assign({}, base, {
    tracks: [{track_id: "X-T1", lat: 33.0, lon: -119.5, alt_m: 60000, speed_mps: 1700,
              class: "ballistic_missile", confidence: 0.97, level: "critical", score: 0.95,
              time_to_impact_s: 84.2}],
    interceptors: [{interceptor_id: "X-I1", lat: 33.5, lon: -118.9, alt_m: 30000}],
    engagements: [
      {subject: "command.intercept", time: at, track_id: "X-T1", battery_id: "BAT_LA", shot: 1},
      {subject: "interceptor.launched", time: at, track_id: "X-T1", battery_id: "BAT_LA",
       interceptor_id: "X-I1"},
      {subject: "interceptor.detonation", time: at, track_id: "X-T1", interceptor_id: "X-I1",
       miss_distance_m: 3.2, kill: true, reason: "proximity", lat_deg: 33.4, lon_deg: -119.0,
       alt_m: 40000}]}));
  const m = DEF.tracks.get("X-T1");
  return {tip: m.getTooltip().getContent(), colour: m.options.color,
          interceptors: document.querySelectorAll("#defense-map path.interceptor").length};
}"""


def _count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def test_defense_tab_live_map_and_launch(defense_server: str) -> None:
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_chromium(),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requested.append(r.url))
            page.on("websocket", lambda ws: requested.append(ws.url))
            page.goto(defense_server + "/")
            page.fill("#login-user", "operator")
            page.fill("#login-password", PASSWORDS["operator"])
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.click("button[data-tab=defense]")
            page.wait_for_selector("#def-state:has-text('live')", timeout=20000)

            # The vendored coastline (Natural Earth land, SVG paths with a real outline).
            page.wait_for_selector("#defense-map path.geo-land", state="attached", timeout=10000)
            assert _count(page, "#defense-map path.geo-land") > 0
            land_d = page.eval_on_selector_all(
                "#defense-map path.geo-land",
                "ps => ps.map(p => (p.getAttribute('d') || '').length)",
            )
            assert max(land_d) > 1000
            assert _count(page, "#defense-map path.geo-border") > 0
            # Static coverage from the first radar_frame: one radar wedge, two battery circles,
            # two defended assets.
            assert _count(page, "#defense-map path.radar-wedge") == 1
            assert _count(page, "#defense-map path.battery-range") == 2
            assert _count(page, "#defense-map path.asset") == 2
            assert _count(page, "#defense-map path.truth") == 0  # nothing flying yet

            # A SCUD-C at Los Angeles, launched through the form (the defaults are the raid's).
            page.fill("#launch-form input[name=lat]", "31.2")
            page.fill("#launch-form input[name=lon]", "-121.6")
            page.fill("#launch-form input[name=targetLat]", "34.05")
            page.fill("#launch-form input[name=targetLon]", "-118.25")
            page.select_option("#launch-form select[name=missileType]", "SCUD-C")
            page.click("#launch-submit")
            page.wait_for_selector("#launch-result.ok", timeout=15000)
            assert "SCUD-C" in page.inner_text("#launch-result")
            page.wait_for_selector("#defense-map path.truth", state="attached", timeout=15000)
            assert _count(page, "#defense-map path.truth") >= 1

            # The per-stage cycle times, and the EW panel (polled from /api/threats/ew-status).
            page.wait_for_selector("#def-stages tr.stage", timeout=10000)
            stages = page.inner_text("#def-stages")
            assert "total" in stages and _count(page, "#def-stages tr.stage") >= 3
            page.wait_for_selector("#def-ew tr.ew-site", timeout=10000)
            assert "RAD_VBG" in page.inner_text("#def-ew")

            # What a raid shows later (a critical track, an interceptor in flight, a kill) goes
            # through the same frame handler: fed here, as an interception takes minutes.
            got = page.evaluate(SYNTHETIC_FRAME)
            assert "ballistic_missile (0.97)" in got["tip"] and "critical" in got["tip"]
            assert "TTI 84 s" in got["tip"] and got["colour"] == "#ff2d8a"
            assert got["interceptors"] >= 1
            assert _count(page, "#defense-map path.det-kill") == 1
            log = page.locator("#def-engagements tr.engagement")
            assert log.count() == 3
            assert "KILL 3 m" in log.nth(0).inner_text() and "ordered" in log.nth(2).inner_text()

            # A viewer sees the picture but cannot launch (the API would answer 403).
            page.click("#logout")
            page.wait_for_selector("#login-view:not([hidden])")
            page.fill("#login-user", "viewer")
            page.fill("#login-password", PASSWORDS["viewer"])
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.click("button[data-tab=defense]")
            page.wait_for_selector("#def-state:has-text('live')", timeout=20000)
            assert page.is_disabled("#launch-submit")
            assert "operator or admin" in page.inner_text("#launch-result")
        finally:
            browser.close()

    assert requested, "the browser made no request?"
    hosts = {urlparse(u).hostname for u in requested if urlparse(u).scheme not in ("data", "blob")}
    assert hosts == {"127.0.0.1"}, f"requests left the loopback: {sorted(hosts)}"
    assert any("/static/vendor/world-atlas/land-50m.json" in u for u in requested)
    assert any(u.startswith("ws://127.0.0.1") and "/ws/radar-stream" in u for u in requested)
