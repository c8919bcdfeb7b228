"""The task functions. Celery (``argus.jobs.celery_app``) and the in-process scheduler
(``argus.jobs.scheduler``) run these same functions.

Every computation is idempotent per (scenario, computed_at): scores are written with
``ON CONFLICT DO NOTHING`` in one transaction, so a retried or duplicated task writes nothing
twice, and a task killed in the middle leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from argus import metrics
from argus.db.models import Job, Scenario
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.logs import get_logger
from argus.pipeline.bus import memory_bus
from argus.tewa import service

log = get_logger("argus.jobs")

THREATS_TOPIC = "threats.computed"


def scenario_time(scenario: Scenario, now: dt.datetime) -> dt.datetime:
    """The time a scenario is evaluated at when the wall clock reads ``now``.

    Replay scenarios loop over [start_time, end_time]; others use ``now``.
    """
    if (
        scenario.replay
        and scenario.start_time
        and scenario.end_time
        and scenario.end_time > scenario.start_time
    ):
        span = (scenario.end_time - scenario.start_time).total_seconds()
        offset = (now - scenario.start_time).total_seconds() % span
        return scenario.start_time + dt.timedelta(seconds=offset)
    return now


def tick_time(now: dt.datetime, interval_s: float) -> dt.datetime:
    """``now`` floored to the interval: every duplicate of one periodic tick shares it."""
    step = max(int(interval_s * 1_000_000), 1)
    us = int(now.timestamp() * 1_000_000)
    return dt.datetime.fromtimestamp((us - us % step) / 1_000_000, dt.UTC)


def _compute_one(session: Session, scenario: Scenario, stamp: dt.datetime) -> dict[str, Any]:
    when = scenario_time(scenario, stamp)
    # A live evaluation: described time = the scenario's own now, evaluated at the tick.
    res = service.compute_at(session, scenario, when, persist=True, live=True, evaluated_at=stamp)
    slow = float(os.environ.get("ARGUS_TEST_BATCH_DELAY_S", "0") or 0)
    if slow > 0:  # test hook: hold the transaction open so a test can kill the worker mid-batch
        time.sleep(slow)
    return {
        "scenario_id": scenario.id,
        "scenario": scenario.name,
        # The time the scores describe (for a replay, the point of its loop) and when they were
        # evaluated (the tick or the compute_now stamp: wall-clock UTC).
        "computed_at": when.isoformat(),
        "evaluated_at": stamp.isoformat(),
        "pairs": res.n_pairs,
        "written": res.persisted,
        "stale": res.stale,
    }


def publish_computed(scenario_id: int, computed_at: str, pairs: int) -> None:
    """Count a stored batch and tell live subscribers (the API's WebSocket clients)."""
    metrics.BATCHES.inc()
    metrics.PAIRS.inc(pairs)
    memory_bus.publish(THREATS_TOPIC, {"scenario_id": scenario_id, "computed_at": computed_at})


def _notify(results: list[dict[str, Any]]) -> None:
    for r in results:
        publish_computed(r["scenario_id"], r["computed_at"], r["pairs"])


def compute_scenario(
    database_url: str, scenario_id: int, computed_at: str, job_id: str | None = None
) -> dict[str, Any]:
    """Compute and store one scenario's scores stamped ``computed_at`` (ISO); records the job."""
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    stamp = dt.datetime.fromisoformat(computed_at).astimezone(dt.UTC)
    started = time.perf_counter()
    try:
        if job_id:
            _job_state(factory, job_id, "running", attempts_inc=True)
        try:
            with session_scope(factory) as s:
                sc = s.get(Scenario, scenario_id)
                if sc is None:
                    raise service.NotFoundError(f"scenario {scenario_id} does not exist")
                result = _compute_one(s, sc, stamp)
        except Exception as exc:
            if job_id:
                _job_state(factory, job_id, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
        if job_id:
            _job_state(factory, job_id, "succeeded", result=result)
        _observe(time.perf_counter() - started)
        _notify([result])
        log.info("scenario_computed", **{k: v for k, v in result.items() if k != "stale"})
        return result
    finally:
        engine.dispose()


def periodic_compute_threats(
    database_url: str, interval_s: float, now: str | None = None, job_id: str | None = None
) -> list[dict[str, Any]]:
    """Recompute every active scenario, stamped with the current tick (one transaction each).

    With ``job_id`` (Celery passes its task id) the tick is recorded the first time the task
    runs and reused by any redelivery of the same message, so a duplicated or retried task
    computes the same (scenario, computed_at) and writes nothing twice.
    """
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    stamp = tick_time(
        dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC), interval_s
    )
    results: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    try:
        if job_id:
            with session_scope(factory) as s:
                job = s.get(Job, job_id)
                if job is None:
                    job = Job(
                        id=job_id,
                        kind="periodic_compute_threats",
                        status="running",
                        params={"computed_at": stamp.isoformat()},
                        attempts=1,
                    )
                    s.add(job)
                else:
                    stamp = (
                        dt.datetime.fromisoformat(job.params["computed_at"])
                        if job.params
                        else stamp
                    )
                    job.attempts += 1
        with factory() as s:
            ids = list(
                s.scalars(
                    select(Scenario.id).where(Scenario.active.is_(True)).order_by(Scenario.id)
                )
            )
        for sid in ids:
            # One scenario failing (bad data, a constraint) rolls back its own transaction
            # only: the others are still computed and stored.
            started = time.perf_counter()
            try:
                with session_scope(factory) as s:
                    sc = s.get(Scenario, sid)
                    if sc is None:
                        continue
                    results.append(_compute_one(s, sc, stamp))
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:2000]
                failures.append({"scenario_id": sid, "error": error})
                metrics.JOB_FAILURES.labels(task="periodic_scenario").inc()
                log.error(
                    "periodic_scenario_failed",
                    scenario_id=sid,
                    computed_at=stamp.isoformat(),
                    error=error,
                )
                continue
            _observe(time.perf_counter() - started)
        if job_id:
            _job_state(
                factory,
                job_id,
                "succeeded",
                result={"scenarios": results, "failed": failures},
                error="; ".join(f"scenario {f['scenario_id']}: {f['error']}" for f in failures)
                or None,
            )
        _notify(results)
        return results
    finally:
        engine.dispose()


def _observe(seconds: float) -> None:
    metrics.BATCH_SECONDS.observe(seconds)


def _job_state(
    factory: Any,
    job_id: str,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    attempts_inc: bool = False,
) -> None:
    with session_scope(factory) as s:
        job = s.get(Job, job_id)
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
    scenario_id: int | None,
    params: dict[str, Any],
    idempotency_key: str | None = None,
    *,
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
