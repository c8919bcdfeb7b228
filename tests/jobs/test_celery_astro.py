"""The astronomy pipeline on a Celery worker (a separate process) over the real Redis broker, on
SQLite and PostgreSQL: ``argus.astro_pipeline`` runs a simulated folder to candidates with every
step a ProcessingJob under the pipeline job, and ``argus.astro_preprocess`` on an observation
whose file is gone retries up to the job's ``max_retries`` and is recorded failed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from scipy.spatial import cKDTree

from argus.astro import service
from argus.astro.fitsio import write_image
from argus.astro.simulate import simulate_pair
from argus.config import Settings
from argus.db.models.astro import JobStatus, Observation, PreprocessRun, RunStatus
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.jobs.celery_app import make_celery
from tests.conftest import IN_CI

pytestmark = [pytest.mark.slow, pytest.mark.redis]
BROKER = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]
WORKER = (
    "from argus.jobs.celery_app import make_celery; "
    "make_celery().worker_main(['worker', '--concurrency', '1', '--pool', 'solo', "
    "'--loglevel', 'WARNING'])"
)


@pytest.fixture
def broker() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        msg = f"redis broker at {BROKER} unreachable"
        if IN_CI:
            pytest.fail(msg + "; CI=true makes this a failure", pytrace=False)
        pytest.skip(msg)
    return BROKER


def _wait(pred: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.3)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what}; worker log:\n{log.read_text()[-3000:]}"
    )


def _status(factory: Any, job_id: str) -> str:
    with session_scope(factory) as s:
        return str(service.get_job(s, job_id).status)


def test_astro_tasks_on_a_worker(db_url: str, broker: str, tmp_path: Path) -> None:
    queue = f"argus-astro-test-{uuid.uuid4().hex[:8]}"
    var = tmp_path / "var"
    store = ObjectStore(str(var / "objects"))
    folder = tmp_path / "night"
    folder.mkdir()
    pair = simulate_pair(512, seed=21)
    write_image(folder / "ref.fits", pair.ref, pair.ref_header)
    write_image(folder / "new.fits", pair.new, pair.new_header)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    # a stored night for the failing task: the new observation's file is then deleted
    from tests.astro._support import T0, fits_image

    with session_scope(factory) as s:
        stored = service.ingest_fits(
            s, store, [("R.fits", fits_image(obsid="R", when=T0)),
                       ("B.fits", fits_image(obsid="B", seed=1))], survey="S",
        ).stored  # fmt: skip
        ref_id, bad_id = str(stored[0].id), str(stored[1].id)
        store.delete_many([stored[1].fits_key])
        pipe_job = service.create_job(s, "pipeline", entity_type="folder", entity_id="night")
        prep_job = service.create_job(
            s, "preprocess", entity_type="observation", entity_id=bad_id, max_retries=2
        )
        pipe_id, prep_id = str(pipe_job.id), str(prep_job.id)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
    env.update(
        ARGUS_DATABASE_URL=db_url, ARGUS_BROKER_URL=broker, ARGUS_CELERY_QUEUE=queue,
        ARGUS_COMPUTE_INTERVAL_S="0", ARGUS_VAR_DIR=str(var), ARGUS_LOG_LEVEL="WARNING",
        PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    )  # fmt: skip
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER], env=env, cwd=ROOT, stdout=log.open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        app = make_celery(
            Settings(
                database_url=db_url,
                broker_url=broker,
                celery_queue=queue,
                compute_interval_s=0,
                var_dir=var,
            )
        )
        app.send_task(
            "argus.astro_pipeline",
            args=[str(folder), {"survey": "SIM", "score": False}, pipe_id],
            queue=queue,
        )
        app.send_task("argus.astro_preprocess", args=[bad_id, ref_id, prep_id], queue=queue)
        done = ("completed", "failed")
        _wait(lambda: _status(factory, pipe_id) in done, 240, "the pipeline task", log)
        _wait(lambda: _status(factory, prep_id) in done, 120, "the preprocess task", log)
        with session_scope(factory) as s:
            pj = service.get_job(s, pipe_id)
            assert pj.status == JobStatus.COMPLETED, (pj.error_message, log.read_text()[-3000:])
            assert pj.task_id and pj.result["errors"] == []
            # every step ran on the worker as its own job under the pipeline job's workflow
            steps = service.list_jobs(s, workflow_id=pipe_id)
            assert sorted(j.job_type for j in steps) == [
                "difference", "extract", "ingest", "preprocess", "preprocess",
            ]  # fmt: skip
            assert {j.status for j in steps} == {JobStatus.COMPLETED}
            assert all(j.duration_seconds is not None for j in steps)
            (entry,) = pj.result["observations"]
            run = s.scalars(
                sa.select(PreprocessRun).where(
                    PreprocessRun.observation_id == uuid.UUID(entry["observation_id"])
                )
            ).one()
            assert run.wcs_aligned and run.registration_quality < 0.1
            cands = service.list_candidates(
                s, observation_id=uuid.UUID(entry["observation_id"]), limit=5000
            )
            xy = np.array([[c.pixel_x, c.pixel_y] for c in cands])
            t = pair.truth_of("transient")
            bright = t["snr"] >= 10
            d, _ = cKDTree(xy).query(np.column_stack([t["x"], t["y"]])[bright])
            assert np.mean(d < 2.0) >= 0.9
            # the failing step: three attempts on the worker, then failed with the error
            fj = service.get_job(s, prep_id)
            assert fj.status == JobStatus.FAILED and fj.retry_count == 2 and fj.task_id
            assert "FileNotFoundError" in fj.error_message
            assert len(fj.error_details["attempts"]) == 3
            bad = s.get(Observation, uuid.UUID(bad_id))
            assert bad is not None
            (prun,) = service.preprocess_runs(s, bad)
            assert prun.status == RunStatus.FAILED and "FileNotFoundError" in prun.error_message
            # the reference had no preprocessing: the task made one first (its own job)
            ref = s.get(Observation, uuid.UUID(ref_id))
            assert ref is not None
            assert [r.status for r in service.preprocess_runs(s, ref)] == [RunStatus.COMPLETED]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        engine.dispose()
