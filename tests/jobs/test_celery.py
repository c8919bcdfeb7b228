"""Celery on the real brokers of this machine (Redis and RabbitMQ), against PostgreSQL.

A worker runs as a separate process (``argus worker``). The kill test holds the batch's
transaction open (ARGUS_TEST_BATCH_DELAY_S), kills the worker with SIGKILL mid-batch, checks
that nothing of the batch is stored, starts a fresh worker and checks that the redelivered
task completes the batch exactly once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from argus.config import Settings
from argus.db.models import Job, ThreatScore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.jobs.celery_app import make_celery
from argus.tewa import service
from tests.conftest import IN_CI

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}

pytestmark = [pytest.mark.slow, pytest.mark.pg]


def _reachable(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def broker_url(request: pytest.FixtureRequest) -> str:
    url = BROKERS[request.param]
    if not _reachable(url):
        msg = f"{request.param} broker at {url} unreachable"
        if IN_CI:
            pytest.fail(msg + "; CI=true makes this a failure", pytrace=False)
        pytest.skip(msg)
    return url


def _env(db_url: str, broker: str, queue: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
    env.update(
        ARGUS_DATABASE_URL=db_url,
        ARGUS_BROKER_URL=broker,
        ARGUS_CELERY_QUEUE=queue,
        ARGUS_CELERY_VISIBILITY_TIMEOUT_S="3",
        ARGUS_COMPUTE_INTERVAL_S="0",
        ARGUS_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argus = str(Path(sys.executable).with_name("argus"))
    return subprocess.Popen(
        [argus, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


@pytest.fixture
def seeded(pg_url: str) -> tuple[str, int]:
    engine = make_engine(pg_url)
    with session_scope(make_sessionmaker(engine)) as s:
        service.seed_demo(s)
        sid = service.get_scenario(s, "Demo-Scenario").id
    engine.dispose()
    return pg_url, sid


def _job(url: str, job_id: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return c.execute(
                sa.select(Job.status, Job.attempts, Job.result).where(Job.id == job_id)
            ).one_or_none()
    finally:
        engine.dispose()


def _scores(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(ThreatScore)).scalar_one())
    finally:
        engine.dispose()


def _wait(pred: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what}; worker log:\n{log.read_text()[-3000:]}"
    )


@pytest.fixture
def queue() -> Iterator[str]:
    yield f"argus-test-{uuid.uuid4().hex[:8]}"


def _send(db_url: str, broker: str, queue: str, sid: int, stamp: str, job_id: str) -> None:
    app = make_celery(
        Settings(database_url=db_url, broker_url=broker, celery_queue=queue, compute_interval_s=0)
    )
    app.send_task("argus.compute_scenario", args=[sid, stamp, job_id], queue=queue)


def _new_job(db_url: str, sid: int) -> str:
    engine = make_engine(db_url)
    with session_scope(make_sessionmaker(engine)) as s:
        job, _ = service.new_job(s, "compute_scenario", scenario_id=sid, params={})
        job_id = job.id
    engine.dispose()
    return job_id


def test_worker_computes_a_batch(
    seeded: tuple[str, int], broker_url: str, queue: str, tmp_path: Path
) -> None:
    db_url, sid = seeded
    log = tmp_path / "worker.log"
    worker = _start_worker(_env(db_url, broker_url, queue), log)
    try:
        job_id = _new_job(db_url, sid)
        _send(db_url, broker_url, queue, sid, dt.datetime.now(dt.UTC).isoformat(), job_id)
        _wait(
            lambda: (_job(db_url, job_id) or ("",))[0] == "succeeded", 60, "the job to succeed", log
        )
        status, attempts, result = _job(db_url, job_id)
        assert (status, attempts, result["written"]) == ("succeeded", 1, 6)
        assert _scores(db_url) == 6
    finally:
        _kill(worker, signal.SIGTERM)


def test_worker_killed_mid_batch_leaves_nothing_and_the_retry_completes(
    seeded: tuple[str, int], broker_url: str, queue: str, tmp_path: Path
) -> None:
    db_url, sid = seeded
    log = tmp_path / "worker.log"
    slow = _start_worker(_env(db_url, broker_url, queue, ARGUS_TEST_BATCH_DELAY_S="30"), log)
    job_id = _new_job(db_url, sid)
    stamp = dt.datetime.now(dt.UTC).isoformat()
    try:
        _send(db_url, broker_url, queue, sid, stamp, job_id)
        _wait(lambda: (_job(db_url, job_id) or ("",))[0] == "running", 60, "the job to start", log)
        time.sleep(1.0)  # inside the open transaction now
        _kill(slow)  # SIGKILL to the worker and its pool process
    finally:
        if slow.poll() is None:
            _kill(slow)
    assert _scores(db_url) == 0, "a killed batch must leave nothing behind"
    fresh = _start_worker(_env(db_url, broker_url, queue), log)
    try:
        _wait(
            lambda: (_job(db_url, job_id) or ("",))[0] == "succeeded",
            90,
            "the redelivered task",
            log,
        )
        status, attempts, result = _job(db_url, job_id)
        assert status == "succeeded" and attempts == 2 and result["written"] == 6
        assert _scores(db_url) == 6
        # The same task delivered once more (a duplicate) writes nothing twice.
        _send(db_url, broker_url, queue, sid, stamp, job_id)
        _wait(lambda: (_job(db_url, job_id) or (None, 0))[1] == 3, 60, "the duplicate to run", log)
        assert _scores(db_url) == 6
    finally:
        _kill(fresh, signal.SIGTERM)


def test_api_with_a_broker_enqueues_and_the_worker_completes(
    seeded: tuple[str, int], broker_url: str, queue: str, tmp_path: Path
) -> None:
    """The scale-out column end to end: API on PostgreSQL + broker answers 202, a worker runs it."""
    from fastapi.testclient import TestClient

    from argus.accounts import service as accounts
    from argus.api.app import create_app

    db_url, sid = seeded
    engine = make_engine(db_url)
    with session_scope(make_sessionmaker(engine)) as s:
        accounts.create_user(s, "op", "operator-pass", "operator")
    engine.dispose()
    secret = "celery-api-secret-0123456789abcdefghijkl"
    settings = Settings(
        database_url=db_url,
        broker_url=broker_url,
        celery_queue=queue,
        jwt_secret=secret,
        compute_interval_s=0,
    )
    log = tmp_path / "worker.log"
    worker = _start_worker(_env(db_url, broker_url, queue), log)
    try:
        with TestClient(create_app(settings)) as client:
            ready = client.get("/ready").json()
            assert ready["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok"}
            token = client.post(
                "/api/auth/login", data={"username": "op", "password": "operator-pass"}
            ).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            r = client.post(
                "/api/tewa/compute_now/",
                json={"scenario_id": sid, "idempotency_key": "once"},
                headers=headers,
            )
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]
            assert r.json()["status_url"] == f"/api/jobs/{job_id}"
            _wait(
                lambda: (
                    client.get(f"/api/jobs/{job_id}", headers=headers).json()["status"]
                    == "succeeded"
                ),
                60,
                "the worker to finish the API's job",
                log,
            )
            body = client.get(f"/api/jobs/{job_id}", headers=headers).json()
            assert body["result"]["written"] == 6 and body["attempts"] == 1
            again = client.post(
                "/api/tewa/compute_now/",
                json={"scenario_id": sid, "idempotency_key": "once"},
                headers=headers,
            )
            assert (
                again.status_code == 200
                and again.json()["job_id"] == job_id
                and again.json()["repeated"]
            )
        assert _scores(db_url) == 6
    finally:
        _kill(worker, signal.SIGTERM)
