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
from typing import Any

from sqlalchemy.orm import Session

from argus import metrics
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.logs import get_logger
from argus.pipeline.bus import memory_bus
from argus.tewa import service
from argus.tewa.service import Scenario

log = get_logger("argus.jobs")

THREATS_TOPIC = "threats.computed"


def tick_time(now: dt.datetime, interval_s: float) -> dt.datetime:
    """``now`` floored to the interval: every duplicate of one periodic tick shares it."""
    step = max(int(interval_s * 1_000_000), 1)
    us = int(now.timestamp() * 1_000_000)
    return dt.datetime.fromtimestamp((us - us % step) / 1_000_000, dt.UTC)


def _compute_one(session: Session, scenario: Scenario, stamp: dt.datetime) -> dict[str, Any]:
    when = service.scenario_time(scenario, stamp)
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
                sc = service.find_scenario(s, scenario_id)
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
                stamp = service.begin_periodic_job(s, job_id, stamp=stamp)
        with factory() as s:
            ids = service.active_scenario_ids(s)
        for sid in ids:
            # One scenario failing (bad data, a constraint) rolls back its own transaction
            # only: the others are still computed and stored.
            started = time.perf_counter()
            try:
                with session_scope(factory) as s:
                    sc = service.find_scenario(s, sid)
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
        service.set_job_state(
            s, job_id, status=status, result=result, error=error, attempts_inc=attempts_inc
        )


def rf_acquire(settings: Any, acquisition_id: str) -> dict[str, Any]:
    """Run one recorded RF acquisition (``argus.rf.service.run_acquisition``): the Celery task
    ``argus.rf_acquire`` and the API's in-process background run call this same function."""
    from argus.db.objectstore import ObjectStore
    from argus.rf import service as rf

    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as s:
            acq = rf.get_acquisition(s, acquisition_id)
            infos = [rf.info(rf.get_receiver(s, rid)) for rid in acq.receiver_ids]
            source = rf.source_for(acq.source, infos, acq.params)
        res = rf.run_acquisition(
            factory, acquisition_id, source=source, store=ObjectStore.from_settings(settings)
        )
        return {"id": res.id, "status": res.status, "measurements": res.measurements}
    finally:
        engine.dispose()


def rf_maintenance(settings: Any) -> dict[str, Any]:
    """The RF periodic job: partitions ahead, hourly aggregates refreshed, retention when
    ``ARGUS_RF_RETENTION_DAYS`` is set (old partitions and their IQ objects dropped), the sweeper
    (each in its own transaction). Celery beat runs it hourly as ``argus.rf_maintenance``."""
    from argus.db.objectstore import ObjectStore
    from argus.rf import service as rf

    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    try:
        with session_scope(factory) as s:
            created = rf.ensure_partitions_ahead(s)
        with session_scope(factory) as s:
            hours = rf.refresh_hourly(s)
        store = ObjectStore.from_settings(settings)
        retention = getattr(settings, "rf_retention_days", None)
        pruned = None
        if retention is not None:
            with session_scope(factory) as s:  # objects go after this commit (prune's listener)
                pruned = rf.prune(s, store, int(retention))
        with session_scope(factory) as s:
            swept = rf.sweep(s, store)
        return {
            "partitions_created": created,
            "hours_refreshed": hours,
            "retention_days": retention,
            "partitions_dropped": [] if pruned is None else pruned.partitions_dropped,
            "measurements_pruned": 0 if pruned is None else pruned.measurements_deleted,
            "acquisitions_pruned": 0 if pruned is None else pruned.acquisitions_deleted,
            "orphans_deleted": len(swept.orphans_deleted),
            "acquisitions_failed": swept.failed_acquisitions,
        }
    finally:
        engine.dispose()


# ---- astronomy (argus.astro.service): the pipeline and its preprocessing step ----


def _astro_job_state(factory: Any, job_id: str | None, action: str, **kw: Any) -> None:
    """Start, finish or fail the astro ProcessingJob ``job_id`` in its own transaction."""
    if not job_id:
        return
    from argus.astro import service as astro

    with session_scope(factory) as s:
        job = astro.get_job(s, job_id)
        if action == "start":
            if kw.get("task_id"):
                job.task_id = str(kw["task_id"])[:64]
            astro.start_job(s, job)
        elif action == "finish":
            astro.finish_job(s, job, result=kw.get("result"))
        else:
            astro.fail_job(s, job, kw["error"], retry=False)


def astro_pipeline(
    settings: Any,
    source: str | list[str],
    options: dict[str, Any] | None = None,
    job_id: str | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """``argus.astro.service.run_pipeline`` on a folder the worker can read (or a list of stored
    observation ids), in one transaction; each step is its own ProcessingJob under the workflow
    ``job_id`` (a ``pipeline`` job, which records the whole run's status). The Celery task
    ``argus.astro_pipeline`` and an in-process caller run this same function."""
    from argus.astro import service as astro
    from argus.db.objectstore import ObjectStore

    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    opts = dict(options or {})
    try:
        _astro_job_state(factory, job_id, "start", task_id=task_id)
        try:
            with session_scope(factory) as s:
                out = astro.run_pipeline(
                    s,
                    ObjectStore.from_settings(settings),
                    source,
                    workflow_id=job_id or None,
                    **opts,
                )
        except Exception as exc:
            _astro_job_state(factory, job_id, "fail", error=exc)
            raise
        result = {
            "workflow_id": out["workflow_id"],
            "observations": out["observations"],
            "errors": out["errors"],
        }
        _astro_job_state(factory, job_id, "finish", result=result)
        log.info(
            "astro_pipeline_done",
            stage="pipeline",
            workflow_id=out["workflow_id"],
            observations=len(out["observations"]),
            errors=len(out["errors"]),
        )
        return result
    finally:
        engine.dispose()


def astro_preprocess(
    settings: Any,
    observation_id: str,
    reference_id: str | None = None,
    job_id: str | None = None,
    options: dict[str, Any] | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """Preprocess one stored observation (``argus.astro.service.run_preprocess``) as the
    ``preprocess`` ProcessingJob ``job_id`` (retried up to its ``max_retries``), the reference's
    latest preprocessing registered onto it (the reference is preprocessed first if it has
    none). A step that fails every attempt is committed as failed (job and PreprocessRun) and
    its error raised. The Celery task ``argus.astro_preprocess`` runs this."""
    from argus.astro import service as astro
    from argus.db.objectstore import ObjectStore

    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    store = ObjectStore.from_settings(settings)
    opts = dict(options or {})
    failure: Exception | None = None
    result: dict[str, Any] = {}
    try:
        with session_scope(factory) as s:
            obs = astro.get_observation(s, observation_id)
            job = astro.get_job(s, job_id) if job_id else None
            ref = None
            if reference_id:
                ref_obs = astro.get_observation(s, reference_id)
                ref = astro.latest_preprocessed(s, store, ref_obs)
                if ref is None:
                    ref = astro.run_preprocess(
                        s, store, ref_obs, cosmic_rays=False, workflow_id=job_id
                    )
            try:
                out = astro.run_preprocess(
                    s, store, obs, reference=ref, job=job, task_id=task_id,
                    cosmic_rays=bool(opts.get("cosmic_rays", True)),
                    max_retries=int(opts.get("max_retries", 0)), workflow_id=job_id,
                )  # fmt: skip
                result = {
                    "preprocess_run_id": str(out.run.id),
                    "registration_quality": out.run.registration_quality,
                    "wcs_aligned": out.run.wcs_aligned,
                }
            except Exception as exc:  # recorded as failed: commit that, then raise
                failure = exc
        if failure is not None:
            raise failure
        return result
    finally:
        engine.dispose()
