"""Alerts: raised by rules on detections, delivered to a webhook with retries.

Rules (:class:`AlertRules`; stored under SystemConfig ``astro.alerts.rules`` when set):

- **confidence**: the detection's real/bogus score >= ``min_confidence``;
- **SNR**: its candidate's SNR >= ``min_snr``;
- **novelty**: no candidate of an *earlier* observation lies within ``novelty_radius_arcsec``
  (a cone search restricted to earlier observation times). A novel source raises a
  ``new_transient`` alert; a known one a ``known_source`` alert, only when
  ``alert_known_sources`` is set.

Priority: ``critical`` when novel with confidence >= ``critical_confidence`` and SNR >=
``critical_snr``; ``high`` when novel with confidence >= ``high_confidence``; ``medium`` for
other novel sources; ``low`` for known ones. One alert per (detection, alert type): running the
rules again raises nothing twice. Rejected (human: bogus) and artifact detections never alert.

Delivery POSTs the alert as JSON to the webhook. A 2xx answer marks it ``delivered``; a
connection error, timeout or other status is retried after ``backoff_s * 2**k`` seconds (k = 0,
1, …) up to ``max_attempts`` in all, then the alert is ``failed``. Every attempt is appended
to ``delivery_log`` (time, URL, status code or error, elapsed ms) and counted in
``delivery_attempts``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, as_uuid, audit, jsonable, now
from argus.astro.service.config import ALERT_RULES, WEBHOOK_URL, get_config
from argus.astro.service.errors import InvalidInput, NotFoundError
from argus.astro.service.queries import cone_search
from argus.db.models.astro import (
    Alert,
    AlertPriority,
    AlertStatus,
    Candidate,
    Detection,
    DetectionStatus,
    DetectionType,
    Observation,
)
from argus.logs import get_logger

log = get_logger("argus.astro")


@dataclass(frozen=True)
class AlertRules:
    min_confidence: float = 0.8
    min_snr: float = 7.0
    novelty_radius_arcsec: float = 2.0
    alert_known_sources: bool = False
    high_confidence: float = 0.9
    critical_confidence: float = 0.97
    critical_snr: float = 20.0

    def __post_init__(self) -> None:
        for name in ("min_confidence", "high_confidence", "critical_confidence"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise InvalidInput(f"{name}: {v} is not in [0, 1]")
        if not self.novelty_radius_arcsec > 0:
            raise InvalidInput("novelty_radius_arcsec: must be > 0")

    @classmethod
    def from_config(cls, session: Session) -> AlertRules:
        stored = get_config(session, ALERT_RULES)
        if not isinstance(stored, dict):
            return cls()
        try:
            return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__})
        except TypeError as exc:
            raise InvalidInput(f"{ALERT_RULES}: {exc}") from None

    def priority(self, confidence: float, snr: float, novel: bool) -> AlertPriority:
        if not novel:
            return AlertPriority.LOW
        if confidence >= self.critical_confidence and snr >= self.critical_snr:
            return AlertPriority.CRITICAL
        if confidence >= self.high_confidence:
            return AlertPriority.HIGH
        return AlertPriority.MEDIUM


def raise_alerts(
    session: Session,
    *,
    rules: AlertRules | None = None,
    detection_ids: Sequence[uuid.UUID] | None = None,
    actor: Actor | None = None,
) -> list[Alert]:
    """Apply the rules to detections (all not yet alerted, or ``detection_ids``); the new alerts."""
    rules = rules or AlertRules.from_config(session)
    q = (
        select(Detection, Candidate, Observation)
        .join(Candidate, Candidate.id == Detection.candidate_id)
        .join(Observation, Observation.id == Detection.observation_id)
        .where(
            Detection.confidence_score >= rules.min_confidence,
            Candidate.snr >= rules.min_snr,
            Detection.status.not_in((DetectionStatus.REJECTED, DetectionStatus.ARCHIVED)),
            Detection.detection_type != DetectionType.ARTIFACT,
        )
        .order_by(Observation.observation_time, Detection.id)
    )
    if detection_ids is not None:
        q = q.where(Detection.id.in_(list(detection_ids)))
    existing = {(d, t) for d, t in session.execute(select(Alert.detection_id, Alert.alert_type))}
    new: list[Alert] = []
    for d, c, o in session.execute(q).all():
        earlier = cone_search(
            session,
            c.ra,
            c.dec,
            rules.novelty_radius_arcsec,
            target="candidates",
            limit=1,
            before=o.observation_time,
        )
        novel = not earlier
        if not novel and not rules.alert_known_sources:
            continue
        alert_type = "new_transient" if novel else "known_source"
        if (d.id, alert_type) in existing:
            continue
        snr = float(c.snr or 0.0)
        prio = rules.priority(d.confidence_score, snr, novel)
        kind = "brightening" if c.sign > 0 else "fading"
        a = Alert(
            detection_id=d.id,
            alert_type=alert_type,
            priority=prio,
            title=f"{'New' if novel else 'Known'} {kind} source at RA {c.ra:.5f} Dec {c.dec:+.5f}",
            message=(
                f"Real/bogus {d.confidence_score:.3f}, SNR {snr:.1f}, flux {c.flux:.4g} in "
                f"observation {o.observation_id} ({o.filter_band or 'no filter'}) at "
                f"{o.observation_time.isoformat()}."
                + ("" if novel else f" Seen before within {rules.novelty_radius_arcsec} arcsec.")
            ),
            alert_metadata=jsonable(
                {
                    "ra": c.ra,
                    "dec": c.dec,
                    "snr": snr,
                    "confidence": d.confidence_score,
                    "novel": novel,
                    "sign": c.sign,
                    "candidate_id": c.id,
                    "observation_id": o.id,
                    "observation_time": o.observation_time,
                    "rules": asdict(rules),
                }
            ),
            status=AlertStatus.PENDING,
            delivery_log=[],
            created_at=now(),
        )
        session.add(a)
        existing.add((d.id, alert_type))
        new.append(a)
    session.flush()
    for a in new:
        audit(
            session,
            actor,
            "alert",
            a.id,
            "raise",
            new={"detection_id": a.detection_id, "type": a.alert_type, "priority": str(a.priority)},
        )
    return new


def detections_to_alert(
    session: Session,
    *,
    difference_run_id: uuid.UUID | None = None,
    candidate_ids: Sequence[uuid.UUID] | None = None,
) -> list[uuid.UUID]:
    """The detection to judge by the rules for each candidate of a difference run and/or of
    ``candidate_ids``: the candidate's latest detection (a candidate scored twice is judged
    once, by its newest score). ``NotFoundError`` names an unknown run or candidate."""
    from argus.db.models.astro import DifferenceRun

    if difference_run_id is None and not candidate_ids:
        raise InvalidInput("difference_run_id: give a difference run or candidate_ids")
    wanted: set[uuid.UUID] = set()
    if difference_run_id is not None:
        if session.get(DifferenceRun, difference_run_id) is None:
            raise NotFoundError(f"difference_run_id: no difference run {difference_run_id}")
        wanted |= set(
            session.scalars(
                select(Candidate.id).where(Candidate.difference_run_id == difference_run_id)
            )
        )
    if candidate_ids:
        asked = set(candidate_ids)
        found = set(session.scalars(select(Candidate.id).where(Candidate.id.in_(list(asked)))))
        missing = sorted(str(c) for c in asked - found)
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise NotFoundError(f"candidate_ids: no candidate {missing[0]}{more}")
        wanted |= asked
    if not wanted:
        return []
    rows = session.execute(
        select(Detection.id, Detection.candidate_id)
        .where(Detection.candidate_id.in_(list(wanted)))
        .order_by(Detection.created_at.desc(), Detection.id)
    )
    latest: dict[uuid.UUID, uuid.UUID] = {}
    for det_id, cand_id in rows:
        latest.setdefault(cand_id, det_id)
    return sorted(latest.values(), key=str)


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The JSON body POSTed to the webhook."""
    return jsonable(
        {
            "alert_id": alert.id,
            "detection_id": alert.detection_id,
            "alert_type": alert.alert_type,
            "priority": str(alert.priority),
            "title": alert.title,
            "message": alert.message,
            "metadata": alert.alert_metadata,
            "created_at": alert.created_at,
        }
    )


def deliver_alert(
    session: Session,
    alert: Alert,
    url: str | None = None,
    *,
    max_attempts: int = 4,
    backoff_s: float = 0.5,
    timeout_s: float = 5.0,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Alert:
    """POST the alert to ``url`` (default: SystemConfig ``astro.alerts.webhook_url``) with
    retries and exponential backoff; every attempt is kept on the alert."""
    url = url or get_config(session, WEBHOOK_URL)
    if not url or not str(url).startswith(("http://", "https://")):
        raise InvalidInput(f"url: no webhook URL (set SystemConfig {WEBHOOK_URL!r} or pass one)")
    if max_attempts < 1:
        raise InvalidInput("max_attempts: must be >= 1")
    if alert.status in (AlertStatus.DELIVERED, AlertStatus.CANCELLED):
        return alert
    own = client is None
    http = client or httpx.Client(timeout=timeout_s)
    attempts = list(alert.delivery_log or [])
    body = alert_payload(alert)
    try:
        for k in range(max_attempts):
            t0 = time.perf_counter()
            entry: dict[str, Any] = {"at": now().isoformat(), "url": url, "attempt": k + 1}
            ok = False
            try:
                r = http.post(url, json=body, headers={"Idempotency-Key": str(alert.id)})
                entry["status_code"] = r.status_code
                ok = 200 <= r.status_code < 300
                if not ok:
                    entry["error"] = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                entry["status_code"] = None
                entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
            entry["elapsed_ms"] = round((time.perf_counter() - t0) * 1000, 2)
            attempts.append(entry)
            alert.delivery_attempts = (alert.delivery_attempts or 0) + 1
            alert.sent_at = now()
            if ok:
                alert.status = AlertStatus.DELIVERED
                alert.error_message = None
                break
            alert.error_message = entry["error"]
            if k + 1 < max_attempts:
                sleep(backoff_s * 2**k)
        else:
            alert.status = AlertStatus.FAILED
    finally:
        if own:
            http.close()
    alert.delivery_log = attempts
    session.flush()
    log.info(
        "alert_delivery",
        stage="deliver",
        alert_id=str(alert.id),
        status=str(alert.status),
        attempts=alert.delivery_attempts,
    )
    audit(
        session,
        None,
        "alert",
        alert.id,
        "deliver",
        new={"status": str(alert.status), "attempts": alert.delivery_attempts},
    )
    return alert


def deliver_pending(session: Session, url: str | None = None, **options: Any) -> list[Alert]:
    """Deliver every pending alert, highest priority first."""
    order = {p: i for i, p in enumerate(reversed(list(AlertPriority)))}
    pending = list(session.scalars(select(Alert).where(Alert.status == AlertStatus.PENDING)))
    pending.sort(key=lambda a: (order[a.priority], str(a.id)))
    return [deliver_alert(session, a, url, **options) for a in pending]


def get_alert(session: Session, alert_id: uuid.UUID | str) -> Alert:
    a = session.get(Alert, as_uuid(alert_id, "alert_id"))
    if a is None:
        raise NotFoundError(f"alert_id: no alert {alert_id}")
    return a


def list_alerts(
    session: Session,
    *,
    status: AlertStatus | None = None,
    priority: AlertPriority | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Alert]:
    """Alerts, newest first."""
    q = select(Alert).order_by(Alert.created_at.desc(), Alert.id).limit(limit).offset(offset)
    if status is not None:
        q = q.where(Alert.status == status)
    if priority is not None:
        q = q.where(Alert.priority == priority)
    return list(session.scalars(q))
