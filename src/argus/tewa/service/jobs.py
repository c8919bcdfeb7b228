"""Job records (the ``job`` table) and the scenario lookups of the periodic task.

``argus.jobs.tasks`` runs the computations; the rows it reads and writes are here, so the
task code (like the API) never builds a query.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from argus.db.models import Job, Scenario


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def active_scenario_ids(session: Session) -> list[int]:
    """Ids of the scenarios the periodic task computes, ascending."""
    return list(
        session.scalars(select(Scenario.id).where(Scenario.active.is_(True)).order_by(Scenario.id))
    )


def begin_periodic_job(session: Session, job_id: str, *, stamp: dt.datetime) -> dt.datetime:
    """Record a periodic tick's job the first time it runs (stamped ``stamp``) and return
    ``stamp``; a redelivery of the same job gets the tick recorded the first time instead
    (and its attempts counted)."""
    job = session.get(Job, job_id)
    if job is None:
        job = Job(
            id=job_id,
            kind="periodic_compute_threats",
            status="running",
            params={"computed_at": stamp.isoformat()},
            attempts=1,
        )
        session.add(job)
    else:
        stamp = dt.datetime.fromisoformat(job.params["computed_at"]) if job.params else stamp
        job.attempts += 1
    return stamp


def set_job_state(
    session: Session,
    job_id: str,
    *,
    status: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    attempts_inc: bool = False,
) -> None:
    """Move a job to ``status`` (its finish time set once succeeded or failed); a job that no
    longer exists is ignored."""
    job = session.get(Job, job_id)
    if job is None:
        return
    job.status = status
    if attempts_inc:
        job.attempts += 1
    if result is not None:
        job.result = result
    if error is not None:
        job.error = error[:2000]
    if status in ("succeeded", "failed"):
        job.finished_at = dt.datetime.now(dt.UTC)


def new_job(
    session: Session,
    kind: str,
    *,
    scenario_id: int | None,
    params: dict[str, Any],
    idempotency_key: str | None = None,
    caller: str | None = None,
) -> tuple[Job, bool]:
    """A job row (queued); with a key this caller already used for this scenario, the first
    job instead (and False). A key is scoped to (scenario, caller): the same key from another
    user or for another scenario is a new job, never someone else's result."""

    def first() -> Job | None:
        return session.scalar(
            select(Job).where(
                Job.idempotency_key == idempotency_key,
                Job.scenario_id.is_(None)
                if scenario_id is None
                else Job.scenario_id == scenario_id,
                Job.created_by.is_(None) if caller is None else Job.created_by == caller,
            )
        )

    if idempotency_key:
        existing = first()
        if existing is not None:
            return existing, False
    job = Job(
        id=str(uuid.uuid4()),
        kind=kind,
        scenario_id=scenario_id,
        created_by=caller,
        params=params,
        idempotency_key=idempotency_key,
        status="queued",
    )
    try:
        with session.begin_nested():  # a concurrent request with the same key may win the race
            session.add(job)
            session.flush()
    except IntegrityError:
        existing = first() if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    return job, True
