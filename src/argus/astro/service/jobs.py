"""ProcessingJob records: one per pipeline step (ingest, preprocess, difference, extract, score,
alert, deliver, pipeline), with status, retries, timings and errors.

``job_step`` runs a step inside a savepoint: when the step raises, its own writes are rolled
back while the job row (outside the savepoint) records the failure, so the caller can commit
the record of what went wrong. ``run_job`` does the same for a step given as a function and
tries it again up to ``max_retries`` times: every attempt is counted in ``retry_count`` and
listed (error, duration) in ``error_details["attempts"]``; the job ends completed, or failed
with the last error once the retries are spent. The pipeline and the Celery tasks
(``argus.jobs.tasks``) run their steps through it, so a step behaves the same in-process and
on a worker.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, as_uuid, audit, jsonable, now
from argus.astro.service.errors import InvalidInput, NotFoundError
from argus.db.models.astro import JobStatus, ProcessingJob
from argus.logs import get_logger

log = get_logger("argus.astro")
T = TypeVar("T")

JOB_TYPES = (
    "ingest",
    "preprocess",
    "difference",
    "extract",
    "score",
    "alert",
    "deliver",
    "pipeline",
)


def create_job(
    session: Session,
    job_type: str,
    *,
    entity_type: str | None = None,
    entity_id: Any = None,
    priority: int = 0,
    workflow_id: str | None = None,
    task_id: str | None = None,
    max_retries: int = 3,
    parameters: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> ProcessingJob:
    """A pending job, scheduled now."""
    if job_type not in JOB_TYPES:
        raise InvalidInput(f"job_type: {job_type!r} is not one of {', '.join(JOB_TYPES)}")
    if max_retries < 0:
        raise InvalidInput("max_retries: must be >= 0")
    job = ProcessingJob(
        job_type=job_type,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        priority=priority,
        workflow_id=workflow_id,
        task_id=task_id,
        max_retries=max_retries,
        parameters=jsonable(parameters) if parameters is not None else None,
        status=JobStatus.PENDING,
        scheduled_at=now(),
        retry_count=0,
        created_at=now(),
    )
    session.add(job)
    session.flush()
    audit(session, actor, "processing_job", job.id, "create", new={"job_type": job_type})
    return job


def start_job(session: Session, job: ProcessingJob) -> ProcessingJob:
    """Mark the job running (a retry of a failed or pending job starts it again)."""
    if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        raise InvalidInput(f"status: job {job.id} is {job.status}; it cannot start again")
    job.status = JobStatus.RUNNING
    job.started_at = now()
    job.completed_at = None
    job.duration_seconds = None
    session.flush()
    return job


def finish_job(
    session: Session, job: ProcessingJob, *, result: dict[str, Any] | None = None
) -> ProcessingJob:
    job.status = JobStatus.COMPLETED
    job.completed_at = now()
    if job.started_at is not None:
        job.duration_seconds = max(0.0, (job.completed_at - job.started_at).total_seconds())
    if result is not None:
        job.result = jsonable(result)
    job.error_message = None
    session.flush()
    return job


def fail_job(
    session: Session,
    job: ProcessingJob,
    error: BaseException | str,
    *,
    retry: bool = True,
) -> ProcessingJob:
    """Record a failure. With ``retry`` and retries left, the job goes back to pending with
    ``retry_count`` + 1; otherwise it is failed for good."""
    job.completed_at = now()
    if job.started_at is not None:
        job.duration_seconds = max(0.0, (job.completed_at - job.started_at).total_seconds())
    if isinstance(error, BaseException):
        job.error_message = f"{type(error).__name__}: {error}"[:4000]
        job.error_details = {
            "type": type(error).__name__,
            "traceback": traceback.format_exception(error)[-5:],
            "attempt": job.retry_count + 1,
        }
    else:
        job.error_message = str(error)[:4000]
        job.error_details = {"attempt": job.retry_count + 1}
    if retry and job.retry_count < job.max_retries:
        job.retry_count += 1
        job.status = JobStatus.PENDING
        job.scheduled_at = now()
    else:
        job.status = JobStatus.FAILED
    session.flush()
    return job


def cancel_job(
    session: Session, job: ProcessingJob, *, actor: Actor | None = None
) -> ProcessingJob:
    if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        raise InvalidInput(f"status: job {job.id} is already {job.status}")
    job.status = JobStatus.CANCELLED
    job.completed_at = now()
    session.flush()
    audit(session, actor, "processing_job", job.id, "cancel")
    return job


@contextmanager
def job_step(
    session: Session,
    job_type: str,
    *,
    entity_type: str | None = None,
    entity_id: Any = None,
    workflow_id: str | None = None,
    parameters: dict[str, Any] | None = None,
    max_retries: int = 0,
    reraise: bool = True,
) -> Iterator[ProcessingJob]:
    """Run a step as a job: created, started, then completed — or failed, with the step's own
    writes rolled back (a savepoint) and the error kept on the job. ``job.result`` may be set by
    the step before it returns."""
    job = create_job(
        session,
        job_type,
        entity_type=entity_type,
        entity_id=entity_id,
        workflow_id=workflow_id,
        parameters=parameters,
        max_retries=max_retries,
    )
    start_job(session, job)
    t0 = time.perf_counter()
    nested = session.begin_nested()
    try:
        yield job
        nested.commit()
    except BaseException as exc:
        if nested.is_active:
            nested.rollback()
        fail_job(session, job, exc, retry=False)
        if reraise:
            raise
        return
    finish_job(session, job, result=job.result)
    job.duration_seconds = time.perf_counter() - t0
    session.flush()


def run_job(
    session: Session,
    job_type: str,
    step: Callable[[ProcessingJob], T],
    *,
    entity_type: str | None = None,
    entity_id: Any = None,
    workflow_id: str | None = None,
    parameters: dict[str, Any] | None = None,
    max_retries: int = 0,
    task_id: str | None = None,
    job: ProcessingJob | None = None,
) -> T:
    """Run ``step(job)`` as a job (a new one, or ``job`` if given, e.g. one a Celery task was
    sent for), each attempt in its own savepoint, retried up to ``max_retries`` times; returns
    what the step returned, or raises the last error with the job recorded as failed."""
    if job is None:
        job = create_job(
            session, job_type, entity_type=entity_type, entity_id=entity_id,
            workflow_id=workflow_id, parameters=parameters, max_retries=max_retries,
            task_id=task_id,
        )  # fmt: skip
    elif task_id is not None:
        job.task_id = task_id
    attempts: list[dict[str, Any]] = list((job.error_details or {}).get("attempts", []))
    while True:
        start_job(session, job)
        t0 = time.perf_counter()
        nested = session.begin_nested()
        try:
            value = step(job)
            nested.commit()
        except Exception as exc:
            if nested.is_active:
                nested.rollback()
            attempts.append(
                {
                    "attempt": job.retry_count + 1,
                    "error": f"{type(exc).__name__}: {exc}"[:1000],
                    "duration_seconds": time.perf_counter() - t0,
                }
            )
            fail_job(session, job, exc, retry=True)
            job.error_details = {**(job.error_details or {}), "attempts": attempts}
            session.flush()
            if job.status == JobStatus.FAILED:
                raise
            log.warning(
                "job_retry",
                stage=job.job_type,
                job_id=str(job.id),
                attempt=job.retry_count,
                max_retries=job.max_retries,
                error=attempts[-1]["error"][:300],
            )
            continue
        except BaseException as exc:
            if nested.is_active:
                nested.rollback()
            fail_job(session, job, exc, retry=False)
            raise
        finish_job(session, job, result=job.result)
        job.duration_seconds = time.perf_counter() - t0
        if attempts:
            job.error_details = {"attempts": attempts}
        session.flush()
        return value


def get_job(session: Session, job_id: uuid.UUID | str) -> ProcessingJob:
    job = session.get(ProcessingJob, as_uuid(job_id, "job_id"))
    if job is None:
        raise NotFoundError(f"job_id: no processing job {job_id}")
    return job


def list_jobs(
    session: Session,
    *,
    status: JobStatus | None = None,
    job_type: str | None = None,
    workflow_id: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[ProcessingJob]:
    """Jobs, newest first."""
    q = (
        select(ProcessingJob)
        .order_by(ProcessingJob.created_at.desc(), ProcessingJob.id)
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        q = q.where(ProcessingJob.status == status)
    if job_type is not None:
        q = q.where(ProcessingJob.job_type == job_type)
    if workflow_id is not None:
        q = q.where(ProcessingJob.workflow_id == workflow_id)
    if entity_id is not None:
        q = q.where(ProcessingJob.entity_id == entity_id)
    return list(session.scalars(q))
