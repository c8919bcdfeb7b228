"""Curation: human validation of detections (ValidationEvent) and the review queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, audit, now
from argus.astro.service.errors import InvalidInput
from argus.astro.service.products import get_detection
from argus.db.models.astro import (
    Candidate,
    CandidateStatus,
    ConfidenceLevel,
    Detection,
    DetectionStatus,
    QualityLevel,
    ValidationEvent,
)

Decision = Literal["real", "bogus", "label"]
#: A validator's stated confidence as a number (``Detection.validation_confidence``).
CONFIDENCE_VALUE = {
    ConfidenceLevel.LOW: 0.25,
    ConfidenceLevel.MEDIUM: 0.5,
    ConfidenceLevel.HIGH: 0.75,
    ConfidenceLevel.EXPERT: 1.0,
}
#: Detections still waiting for a human.
AWAITING = (DetectionStatus.PENDING, DetectionStatus.VALIDATING)


def validate_detection(
    session: Session,
    detection_id: uuid.UUID | str,
    decision: Decision,
    *,
    validator: str,
    label: str | None = None,
    confidence_level: ConfidenceLevel | str = ConfidenceLevel.MEDIUM,
    notes: str | None = None,
    tags: Sequence[str] = (),
    image_quality: QualityLevel | str | None = None,
    detection_quality: QualityLevel | str | None = None,
    actor: Actor | None = None,
) -> ValidationEvent:
    """Record a human judgement. ``real`` / ``bogus`` validate or reject the detection and its
    candidate; ``label`` only attaches a label (it needs one) and keeps the status."""
    if decision not in ("real", "bogus", "label"):
        raise InvalidInput(f"decision: {decision!r} is not real, bogus or label")
    if decision == "label" and not (label and label.strip()):
        raise InvalidInput("label: a label decision needs a label")
    if not validator:
        raise InvalidInput("validator_id: who validates must be known")
    try:
        level = ConfidenceLevel(confidence_level)
        iq = None if image_quality is None else QualityLevel(image_quality)
        dq = None if detection_quality is None else QualityLevel(detection_quality)
    except ValueError as exc:
        raise InvalidInput(f"confidence_level: {exc}") from None
    d = get_detection(session, detection_id)
    old = {"status": str(d.status), "human_label": d.human_label}
    is_valid = {"real": True, "bogus": False, "label": None}[decision]
    event = ValidationEvent(
        detection_id=d.id,
        validator_id=validator,
        is_valid=is_valid,
        label=(label.strip()[:60] if label else None),
        confidence_level=level,
        notes=notes,
        tags=[str(t)[:60] for t in tags],
        image_quality=iq,
        detection_quality=dq,
        created_at=now(),
    )
    session.add(event)
    if is_valid is not None:
        d.is_validated = True
        d.status = DetectionStatus.VALIDATED if is_valid else DetectionStatus.REJECTED
        d.validation_confidence = CONFIDENCE_VALUE[level]
        d.human_label = event.label or decision
        if d.candidate_id is not None:
            c = session.get(Candidate, d.candidate_id)
            if c is not None:
                c.status = CandidateStatus.VALIDATED if is_valid else CandidateStatus.REJECTED
    else:
        d.human_label = event.label
    session.flush()
    audit(
        session,
        actor or Actor(user_id=validator),
        "detection",
        d.id,
        f"validate_{decision}",
        old=old,
        new={"status": str(d.status), "human_label": d.human_label, "event_id": event.id},
    )
    return event


def validation_events(
    session: Session, *, detection_id: uuid.UUID | None = None, limit: int = 100, offset: int = 0
) -> Sequence[ValidationEvent]:
    q = (
        select(ValidationEvent)
        .order_by(ValidationEvent.created_at.desc(), ValidationEvent.id)
        .limit(limit)
        .offset(offset)
    )
    if detection_id is not None:
        q = q.where(ValidationEvent.detection_id == detection_id)
    return list(session.scalars(q))


@dataclass(frozen=True)
class QueueItem:
    detection: Detection
    candidate: Candidate | None


def validation_queue(
    session: Session, *, limit: int = 50, offset: int = 0, min_score: float = 0.0
) -> list[QueueItem]:
    """Detections awaiting review (pending or validating), highest confidence first (ties by
    id), with their candidates."""
    q = (
        select(Detection, Candidate)
        .outerjoin(Candidate, Candidate.id == Detection.candidate_id)
        .where(Detection.status.in_(AWAITING), Detection.confidence_score >= min_score)
        .order_by(Detection.confidence_score.desc(), Detection.id)
        .limit(limit)
        .offset(offset)
    )
    return [QueueItem(d, c) for d, c in session.execute(q)]
