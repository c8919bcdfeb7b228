"""Alert rules (confidence, SNR, novelty, priority) and webhook delivery with retries against a
real HTTP server on loopback that fails its first answers."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from argus.astro import service
from argus.db.models.astro import AlertPriority, AlertStatus
from argus.db.objectstore import ObjectStore
from tests.astro._support import T0, stored_run


class Hook:
    """A webhook that answers ``fail_first`` 503s, then 200; it records every body received."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", "0"))
                hook.bodies.append(json.loads(self.rfile.read(n)))
                hook.headers.append(dict(self.headers))
                code = 503 if len(hook.bodies) <= hook.fail_first else 200
                self.send_response(code)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"busy" if code == 503 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator[Any]:
    made: list[Hook] = []

    def make(fail_first: int) -> Hook:
        h = Hook(fail_first)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "objects"))


def _scored(session: Session, store: ObjectStore) -> list[Any]:
    """Night 1: an old source A. Night 2: A again, new sources B (bright), C (faint), D (low
    score), E (very bright, very confident)."""
    a_ra, dec = 150.0, 2.2
    stored_run(session, store, ra=[a_ra], dec=[dec], obsid="N1", when=T0 + dt.timedelta(days=1))
    ras = [a_ra + 0.3 / 3600, a_ra + 0.01, a_ra + 0.02, a_ra + 0.03, a_ra + 0.04]
    st = stored_run(
        session, store, ra=ras, dec=[dec] * 5, obsid="N2", ref_obsid=None,
        when=T0 + dt.timedelta(days=2), snr=[12.0, 15.0, 5.0, 30.0, 40.0],
    )  # fmt: skip
    m = service.register_model(session, name="rb", model_type="real_bogus", blob=b"m", metrics={})
    run = service.record_model_run(session, m, st.candidates, [0.95, 0.92, 0.99, 0.5, 0.99])
    return list(service.detections_of_run(session, run))


def test_rules_confidence_snr_novelty_and_priority(session: Session, store: ObjectStore) -> None:
    dets = _scored(session, store)
    by_snr = {d.prediction_metadata["snr"]: d for d in dets}
    alerts = service.raise_alerts(session)
    # A is not novel (seen 0.3 arcsec away the night before), C fails SNR 7, D fails 0.8
    assert {a.detection_id for a in alerts} == {by_snr[15.0].id, by_snr[40.0].id}
    prio = {a.detection_id: a.priority for a in alerts}
    assert prio[by_snr[15.0].id] == AlertPriority.HIGH  # 0.92 >= 0.9
    assert prio[by_snr[40.0].id] == AlertPriority.CRITICAL  # 0.99 and SNR 40
    assert all(a.alert_type == "new_transient" and a.status == AlertStatus.PENDING for a in alerts)
    assert alerts[0].alert_metadata["novel"] is True
    assert service.raise_alerts(session) == []  # nothing twice
    # known sources alert too when asked, with low priority
    known = service.raise_alerts(session, rules=service.AlertRules(alert_known_sources=True))
    assert [(a.detection_id, a.alert_type, a.priority) for a in known] == [
        (by_snr[12.0].id, "known_source", AlertPriority.LOW)
    ]
    # a tighter novelty radius makes A new: 0.3 arcsec > 0.2
    fresh = service.raise_alerts(session, rules=service.AlertRules(novelty_radius_arcsec=0.2))
    assert [a.detection_id for a in fresh] == [by_snr[12.0].id]
    assert fresh[0].priority == AlertPriority.HIGH
    # a human "bogus" stops alerts for that detection
    service.validate_detection(session, by_snr[5.0].id, "bogus", validator="ops")
    low = service.raise_alerts(session, rules=service.AlertRules(min_snr=1.0))
    assert low == []
    # rules can live in SystemConfig
    service.set_config(session, service.ALERT_RULES, {"min_confidence": 0.4, "min_snr": 20})
    assert service.AlertRules.from_config(session).min_confidence == 0.4
    with pytest.raises(service.InvalidInput, match=r"^min_confidence:"):
        service.AlertRules(min_confidence=2.0)


def test_delivery_retries_with_backoff_until_the_hook_answers(
    session: Session, store: ObjectStore, hook_factory: Any
) -> None:
    _scored(session, store)
    alert = service.raise_alerts(session)[0]
    hook = hook_factory(fail_first=2)
    waits: list[float] = []
    service.deliver_alert(session, alert, hook.url, max_attempts=4, backoff_s=0.25, sleep=waits.append)  # fmt: skip
    assert alert.status == AlertStatus.DELIVERED and alert.delivery_attempts == 3
    assert waits == [0.25, 0.5]  # exponential backoff between the attempts
    assert [e["status_code"] for e in alert.delivery_log] == [503, 503, 200]
    assert alert.delivery_log[0]["error"].startswith("HTTP 503")
    assert "error" not in alert.delivery_log[2] and alert.error_message is None
    assert all(e["url"] == hook.url and e["elapsed_ms"] >= 0 for e in alert.delivery_log)
    assert len(hook.bodies) == 3 and hook.bodies[0]["alert_id"] == str(alert.id)
    assert hook.bodies[0]["priority"] == str(alert.priority)
    assert hook.headers[0]["Idempotency-Key"] == str(alert.id)
    # delivered: not sent again
    service.deliver_alert(session, alert, hook.url, sleep=waits.append)
    assert len(hook.bodies) == 3


def test_delivery_gives_up_and_keeps_every_attempt(
    session: Session, store: ObjectStore, hook_factory: Any
) -> None:
    _scored(session, store)
    alert = service.raise_alerts(session)[0]
    hook = hook_factory(fail_first=100)
    service.deliver_alert(session, alert, hook.url, max_attempts=3, backoff_s=0.01)
    assert alert.status == AlertStatus.FAILED and alert.delivery_attempts == 3
    assert alert.error_message is not None and alert.error_message.startswith("HTTP 503")
    assert len(alert.delivery_log) == 3 == len(hook.bodies)


def test_unreachable_hook_and_pending_delivery(
    session: Session, store: ObjectStore, hook_factory: Any
) -> None:
    _scored(session, store)
    alerts = service.raise_alerts(session)
    dead = hook_factory(fail_first=0)
    url = dead.url
    dead.close()  # nothing listens there any more
    service.deliver_alert(session, alerts[0], url, max_attempts=2, backoff_s=0.0, timeout_s=1.0)
    assert alerts[0].status == AlertStatus.FAILED
    assert alerts[0].delivery_log[0]["status_code"] is None
    assert "ConnectError" in alerts[0].delivery_log[0]["error"]
    # the pending ones go to the configured webhook, critical first
    live = hook_factory(fail_first=0)
    with pytest.raises(service.InvalidInput, match=r"^url:"):
        service.deliver_pending(session)
    service.set_config(session, service.WEBHOOK_URL, live.url)
    done = service.deliver_pending(session, backoff_s=0.0)
    assert [a.status for a in done] == [AlertStatus.DELIVERED]
    assert [b["priority"] for b in live.bodies] == [str(alerts[1].priority)]
    listed = service.list_alerts(session, status=AlertStatus.DELIVERED)
    assert [a.id for a in listed] == [alerts[1].id]
