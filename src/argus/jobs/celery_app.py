"""Celery application for the scale-out column: ``argus worker`` and ``argus beat``.

Tasks acknowledge late and are rejected when their worker dies, so a killed worker's task is
delivered again; the task functions are idempotent per (scenario, computed_at), so the retry
completes the batch without writing anything twice.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy.exc import OperationalError

from argus.config import Settings, get_settings
from argus.jobs import tasks


def make_celery(settings: Settings | None = None, interval_s: float | None = None) -> Celery:
    s = settings or get_settings()
    broker = s.broker_url
    if not broker:
        raise RuntimeError(
            "ARGUS_BROKER_URL is not set: give redis://… or amqp://… to run Celery workers"
        )
    app = Celery("argus", broker=broker)
    every = interval_s if interval_s is not None else s.compute_interval_s
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=s.celery_queue,
        task_ignore_result=True,  # results live in the job table, not in a result backend
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": s.celery_visibility_timeout_s,
            # Redis: the lock guarding the restore of unacknowledged tasks; a worker killed while
            # holding it would otherwise block every redelivery for kombu's default 300 s.
            "unacked_mutex_expire": max(5, min(300, s.celery_visibility_timeout_s)),
            # Redis: sweep for tasks past their visibility timeout every interval, not every 10th
            # interval (kombu >= 5.6 throttles the sweep 10x by default, so a task abandoned just
            # after a worker's startup sweep waited ~100 s more before it was redelivered).
            "unacked_restore_interval": max(1, min(10, s.celery_visibility_timeout_s // 2)),
            "unacked_restore_throttle": 1,
        },
        timezone="UTC",
        beat_schedule={
            **(
                {
                    "periodic-compute-threats": {
                        "task": "argus.periodic_compute_threats",
                        "schedule": every,
                    }
                }
                if every > 0
                else {}
            ),
            "rf-maintenance": {"task": "argus.rf_maintenance", "schedule": 3600.0},
        },
    )

    @app.task(
        name="argus.compute_scenario",
        bind=True,
        autoretry_for=(OperationalError, ConnectionError),
        retry_backoff=True,
        retry_backoff_max=60,
        retry_jitter=True,
        max_retries=5,
    )
    def compute_scenario(
        self: Any, scenario_id: int, computed_at: str, job_id: str | None = None
    ) -> dict[str, Any]:
        return tasks.compute_scenario(s.database_url, scenario_id, computed_at, job_id)

    @app.task(
        name="argus.periodic_compute_threats",
        bind=True,
        autoretry_for=(OperationalError, ConnectionError),
        retry_backoff=True,
        retry_backoff_max=60,
        retry_jitter=True,
        max_retries=5,
    )
    def periodic(self: Any, now: str | None = None) -> list[dict[str, Any]]:
        # The tick is recorded under the task id on first run, so redeliveries reuse it.
        return tasks.periodic_compute_threats(
            s.database_url, every or 1.0, now, job_id=self.request.id
        )

    @app.task(
        name="argus.rf_acquire",
        bind=True,
        autoretry_for=(OSError, TimeoutError, OperationalError, RuntimeError),
        retry_backoff=1,
        retry_backoff_max=60,
        retry_jitter=False,
        max_retries=5,
    )
    def rf_acquire(self: Any, acquisition_id: str) -> dict[str, Any]:
        # RuntimeError covers the RF CaptureError and the network receiver's protocol errors.
        return tasks.rf_acquire(s, acquisition_id)

    @app.task(name="argus.rf_maintenance")
    def rf_maintenance() -> dict[str, Any]:
        return tasks.rf_maintenance(s)

    # Astronomy: a step's own retries are counted on its ProcessingJob (argus.astro.service
    # run_job); Celery retries only when the database or the broker is unreachable.
    @app.task(
        name="argus.astro_pipeline",
        bind=True,
        autoretry_for=(OperationalError, ConnectionError),
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=5,
    )
    def astro_pipeline(
        self: Any,
        source: str | list[str],
        options: dict[str, Any] | None = None,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        return tasks.astro_pipeline(s, source, options, job_id, task_id=self.request.id)

    @app.task(
        name="argus.astro_preprocess",
        bind=True,
        autoretry_for=(OperationalError, ConnectionError),
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=5,
    )
    def astro_preprocess(
        self: Any,
        observation_id: str,
        reference_id: str | None = None,
        job_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return tasks.astro_preprocess(
            s, observation_id, reference_id, job_id, options, task_id=self.request.id
        )

    return app


def _lazy_app() -> Celery | None:
    try:
        return make_celery()
    except RuntimeError:
        return None


#: ``celery -A argus.jobs.celery_app worker`` finds this (None without a broker configured).
app = _lazy_app()
