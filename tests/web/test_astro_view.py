"""The console's Transients tab (the validation queue) end to end, in headless Chromium
(Debian's `chromium`) via Playwright.

A real server (uvicorn, in a thread) on SQLite, seeded through the real service: a simulated
512 x 512 reference and two epochs of the new image (the second a copy a day later, so every
candidate has a two-point light curve) run through ``run_pipeline`` (ingest → ZOGY →
candidates → real/bogus scoring by a trained model, cached on disk → detections → alerts). The
operator opens the Transients tab: the first candidate's three cutouts must have loaded (non-zero
natural size), its light curve must show as many points as GET /api/astro/lightcurve returns;
Real is pressed (the button) on the first and Bogus (the key B) on the second, and the API must
then hold exactly those two ValidationEvents with those labels, the queue two shorter. No
request leaves 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from argus.accounts.service import create_user
from argus.api.app import create_app
from argus.config import Settings
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from tests.api._support import PASSWORDS
from tests.web.test_console import SECRET, _chromium, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2] / "src" / "argus"
#: A small model: the test needs scores, not the issue's accuracy (tests/astro measures that).
TRAIN = {"n_samples": 1000, "seed": 101, "max_iter": 150}


def _rb_model_blob() -> bytes:
    """A real/bogus model trained once per code version and machine, cached on disk under a
    lock (as tests/defense/_support.py caches its classifier)."""
    from argus.astro.realbogus import train_real_bogus

    h = hashlib.sha256()
    for rel in ("astro/realbogus.py", "astro/rbsim.py", "astro/cutouts.py", "astro/simulate.py"):
        h.update((ROOT / rel).read_bytes())
    h.update(repr(sorted(TRAIN.items())).encode())
    cache = Path(os.environ.get("ARGUS_TEST_CACHE", tempfile.gettempdir())) / "argus-test-models"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"real-bogus-{h.hexdigest()[:16]}.bin"
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            model, _ = train_real_bogus(**TRAIN)  # type: ignore[arg-type]
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(model.to_bytes())
            tmp.replace(path)
    return path.read_bytes()


def _seed(url: str, var: Path) -> dict[str, Any]:
    from astropy.time import Time, TimeDelta

    from argus.astro import service
    from argus.astro.fitsio import write_image
    from argus.astro.simulate import simulate_pair

    pair = simulate_pair(512, seed=7)
    night = var / "night"
    night.mkdir(parents=True)
    write_image(night / "ref.fits", pair.ref, pair.ref_header)
    write_image(night / "new.fits", pair.new, pair.new_header)
    later = pair.new_header.copy()
    later["DATE-OBS"] = (Time(later["DATE-OBS"]) + TimeDelta(1.0, format="jd")).isot
    write_image(night / "new2.fits", pair.new, later)
    store = ObjectStore(str(var / "objects"))
    engine = make_engine(url)
    try:
        factory = make_sessionmaker(engine)
        with session_scope(factory) as s:
            create_user(s, "operator", PASSWORDS["operator"], "operator")
            service.register_model(
                s, name="rb-console-test", model_type="real_bogus", blob=_rb_model_blob(),
                metrics={"note": "test model"},
            )  # fmt: skip
        with session_scope(factory) as s:
            out = service.run_pipeline(s, store, night, survey="SIM")
    finally:
        engine.dispose()
    assert out["errors"] == [] and len(out["observations"]) == 2, out
    return out


@pytest.fixture
def astro_server(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    var = tmp_path / "var"
    _seed(sqlite_url, var)
    app = create_app(
        Settings(database_url=sqlite_url, jwt_secret=SECRET, compute_interval_s=0, var_dir=var)
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


READY = "#astro-current[data-state=ready]"

CUTOUTS = """() => ["science", "reference", "difference"].map((k) => {
  const img = document.querySelector(`#astro-cut-${k}`);
  return {kind: k, complete: img.complete, w: img.naturalWidth, h: img.naturalHeight,
          blob: (img.getAttribute("src") || "").startsWith("blob:")};
})"""


def _wait_for_next(page: Any, previous: str) -> None:
    page.wait_for_function(
        """(prev) => { const b = document.querySelector("#astro-current");
                       return b.dataset.state === "ready" && b.dataset.detection !== prev; }""",
        arg=previous,
        timeout=20000,
    )


def test_validation_queue_cutouts_light_curve_and_decisions(astro_server: str) -> None:
    from playwright.sync_api import sync_playwright

    base = astro_server
    token = httpx.post(
        base + "/api/auth/login",
        data={"username": "operator", "password": PASSWORDS["operator"]},
    ).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    queue_before = httpx.get(base + "/api/astro/validation-queue?limit=1000", headers=h).json()
    n_before = len(queue_before["items"])
    assert n_before >= 4, "the simulated night should leave candidates to review"
    assert httpx.get(base + "/api/astro/validations", headers=h).json() == []

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
            page.goto(base + "/")
            page.fill("#login-user", "operator")
            page.fill("#login-password", PASSWORDS["operator"])
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.click("button[data-tab=astro]")
            page.wait_for_selector(READY, timeout=30000)

            # the queue as the API gives it, highest score first
            shown = page.evaluate("() => ASTRO.items.map((it) => it.detection.id)")
            assert shown == [it["detection"]["id"] for it in queue_before["items"]][:100]
            assert page.inner_text("#astro-count") == f"{n_before} awaiting review"
            assert page.locator("#astro-list tr[data-detection]").count() == min(n_before, 100)

            # the three cutouts: real images (63 x 63 pixels drawn 3 x 3), through blob URLs
            cut = page.evaluate(CUTOUTS)
            assert [c["kind"] for c in cut] == ["science", "reference", "difference"]
            for c in cut:
                assert c["complete"] and c["blob"], c
                assert (c["w"], c["h"]) == (189, 189), c

            # the light curve: as many points drawn as the API returns (two epochs)
            first = page.evaluate("() => ASTRO.items[0]")
            cand = first["candidate"]
            lc = httpx.get(
                base + "/api/astro/lightcurve",
                params={"ra": cand["ra"], "dec": cand["dec"], "radius_arcsec": 1.5},
                headers=h,
            ).json()
            assert len(lc["points"]) == 2
            assert page.get_attribute("#astro-lightcurve", "data-points") == "2"
            assert page.evaluate("() => ASTRO.curve.length") == len(lc["points"])
            # the scores shown are the candidate's
            scores = page.inner_text("#astro-scores")
            assert f"{first['detection']['confidence_score']:.3f}" in scores
            assert f"{cand['snr']:.1f}" in scores and f"{cand['ra']:.6f}" in scores

            # Real on the first (the button), Bogus on the second (its key)
            first_id = first["detection"]["id"]
            page.click("#astro-real")
            _wait_for_next(page, first_id)
            second_id = page.get_attribute("#astro-current", "data-detection")
            assert second_id == queue_before["items"][1]["detection"]["id"]
            page.locator("body").press("b")
            _wait_for_next(page, second_id)
            third_id = page.get_attribute("#astro-current", "data-detection")
            assert third_id == queue_before["items"][2]["detection"]["id"]
            assert page.inner_text("#astro-count") == f"{n_before - 2} awaiting review"
            assert page.inner_text("#astro-error") == ""
        finally:
            browser.close()

    events = httpx.get(base + "/api/astro/validations", headers=h).json()
    got = sorted((e["detection_id"], e["is_valid"], e["validator_id"]) for e in events)
    assert got == sorted([(first_id, True, "operator"), (second_id, False, "operator")])
    queue_after = httpx.get(base + "/api/astro/validation-queue?limit=1000", headers=h).json()
    after = [it["detection"]["id"] for it in queue_after["items"]]
    assert len(after) == n_before - 2 and first_id not in after and second_id not in after
    # the candidates follow the judgement
    c1 = httpx.get(f"{base}/api/astro/candidates/{cand['id']}", headers=h).json()
    assert c1["status"] == "validated"
    # the console is offline: every request went to the test server
    local = (base, base.replace("http://", "ws://"), "blob:" + base)
    assert requested and [u for u in requested if not u.startswith(local)] == []
