"""acquire_iq as a Celery task on the real Redis broker, against PostgreSQL: the first attempt
finds its network receiver down (connection refused) and fails; the task retries with backoff,
the receiver comes up, and the retry completes the same acquisition."""

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
from pathlib import Path
from typing import Any

import pytest

from argus.config import Settings
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.jobs.celery_app import make_celery
from argus.rf import service
from argus.rf.netreceiver import ReceiverServer, recording_producer
from tests.rf._engines import tone

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.redis]
BROKER = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]
WORKER = (
    "import sys; from tests.rf import _engines; from argus.jobs.celery_app import make_celery; "
    "make_celery().worker_main(['worker', '--concurrency', '1', '--pool', 'solo', "
    "'--loglevel', 'WARNING'])"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _state(factory: Any, acq_id: str) -> tuple[str, int]:
    with session_scope(factory) as s:
        a = service.get_acquisition(s, acq_id)
        return a.status, a.attempts


def test_celery_task_retries_until_the_receiver_is_up(pg_url: str, tmp_path: Path) -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        pytest.skip("redis at 127.0.0.1:6379 unreachable")
    from argus.rf.recording import Recording

    queue = f"argus-rf-test-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        rid = service.add_receiver(
            s, name="late", kind="network", url=f"ws://127.0.0.1:{port}", lat_deg=45.0,
            lon_deg=7.0, sample_rate_hz=1e6,
        ).id  # fmt: skip
        acq_id = service.start_acquisition(s, 145.5e6, 0.01, [rid], source="network").id
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
    env.update(
        ARGUS_DATABASE_URL=pg_url, ARGUS_BROKER_URL=BROKER, ARGUS_CELERY_QUEUE=queue,
        ARGUS_COMPUTE_INTERVAL_S="0", ARGUS_VAR_DIR=str(tmp_path / "var"),
        ARGUS_LOG_LEVEL="WARNING", PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    )  # fmt: skip
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    server = None
    try:
        app = make_celery(
            Settings(
                database_url=pg_url, broker_url=BROKER, celery_queue=queue, compute_interval_s=0
            )
        )
        app.send_task("argus.rf_acquire", args=[acq_id], queue=queue)
        deadline = time.monotonic() + 60
        while _state(factory, acq_id) != ("failed", 1) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _state(factory, acq_id) == ("failed", 1), (tmp_path / "worker.log").read_text()
        rec = Recording(
            iq=tone(n=20_000, sample_rate_hz=1e6), sample_rate_hz=1e6, center_frequency_hz=145.5e6,
            start=dt.datetime.now(dt.UTC), lat_deg=45.0, lon_deg=7.0, alt_m=0.0,
        )  # fmt: skip
        server = ReceiverServer(recording_producer(rec), port=port, name="late").start()
        deadline = time.monotonic() + 90
        while _state(factory, acq_id)[0] != "complete" and time.monotonic() < deadline:
            time.sleep(0.2)
        status, attempts = _state(factory, acq_id)
        assert status == "complete", (tmp_path / "worker.log").read_text()[-3000:]
        assert attempts >= 2 and server.captures_served == 1
        with session_scope(factory) as s:
            acq = service.get_acquisition(s, acq_id)
            assert acq.captures[str(rid)]["size_bytes"] == 8 * 10_000
    finally:
        if server is not None:
            server.stop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        engine.dispose()
