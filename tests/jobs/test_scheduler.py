"""The in-process scheduler (``argus serve`` without a broker), driven through the app's lifespan.

``create_app(settings, run_scheduler=True)`` starts ``InProcessScheduler`` when no broker is set and
``compute_interval_s > 0``; it runs ``tasks.periodic_compute_threats`` every interval in a worker
thread and stops when the lifespan ends. These tests enter the lifespan with ``TestClient`` on a
fresh copy of a seeded SQLite database and look at what lands in ``threat_score`` and /metrics.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from argus.api.app import create_app
from argus.db import migrate
from argus.db.models import Scenario, ThreatScore, ThreatScoreLatest
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.jobs import tasks
from argus.tewa import service
from argus.tewa.demo import DEMO_SCENARIO
from tests.api._support import copy_template, make_settings, metric_value

INTERVAL_S = 0.2
WAIT_S = 8.0  # upper bound for "within a few seconds"; the tests normally need < 1 s
BATCHES = "argus_threat_batches_total"
FAILURES = "argus_job_failures_total"
TASK = "periodic_compute_threats"

Batches = dict[dt.datetime, set[tuple[int, int]]]


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database holding the demo scenario (no users: not needed here)."""
    path = tmp_path_factory.mktemp("scheduler-template") / "argus.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            service.seed_demo(s)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def demo_url(demo_template: Path, tmp_path: Path) -> str:
    return copy_template(demo_template, tmp_path)


def _scheduled_app(url: str, *, run_scheduler: bool = True, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {"compute_interval_s": INTERVAL_S}
    values.update(overrides)
    return create_app(make_settings(url, **values), run_scheduler=run_scheduler)


def _batches(url: str) -> Batches:
    """Tick (evaluated_at) → the (track, DA) pairs stored by that tick, for every scenario.

    A tick's rows describe the scenario's own time (computed_at, a point of the demo's replay
    loop); the tick that wrote them is their evaluated_at."""
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                sa.select(ThreatScore.evaluated_at, ThreatScore.track_id, ThreatScore.da_id)
            ).all()
    finally:
        engine.dispose()
    out: Batches = defaultdict(set)
    for stamp, track, da in rows:
        out[stamp].add((track, da))
    return dict(out)


def _row_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return int(c.scalar(sa.select(sa.func.count()).select_from(ThreatScore)) or 0)
    finally:
        engine.dispose()


def _counter(name: str, **labels: str) -> float:
    """A sample of the process registry (what /metrics serves), read without a request."""
    return metric_value(generate_latest().decode(), name, **labels)


def _wait_until(cond: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _assert_complete(url: str, batches: Batches) -> None:
    """Each stored batch of the demo scenario holds exactly the pairs a computation yields."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            sc = s.scalar(sa.select(Scenario).where(Scenario.name == DEMO_SCENARIO))
            assert sc is not None and sc.active
            for stamp, pairs in batches.items():
                assert stamp == tasks.tick_time(stamp, INTERVAL_S), f"{stamp} is not a tick"
                want = service.compute_at(s, sc, service.scenario_time(sc, stamp))
                assert want.columns is not None and want.n_pairs > 0
                expected = set(
                    zip(
                        want.columns.track_pk.tolist(),
                        want.columns.da_id.tolist(),
                        strict=True,
                    )
                )
                tracks = {t for t, _ in pairs}
                das = {d for _, d in pairs}
                assert len(pairs) == len(tracks) * len(das) == want.n_pairs, stamp
                assert pairs == expected, stamp
            # every stored row belongs to the demo scenario
            other = s.scalar(
                sa.select(sa.func.count())
                .select_from(ThreatScore)
                .where(ThreatScore.scenario_id != sc.id)
            )
            assert other == 0
    finally:
        engine.dispose()


def _assert_latest_consistent(url: str) -> None:
    """threat_score_latest (kept by triggers) points at stored rows: the most recently
    evaluated of each pair."""
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            newest = {
                (t, d): at
                for t, d, at in c.execute(
                    sa.select(
                        ThreatScore.track_id,
                        ThreatScore.da_id,
                        sa.func.max(ThreatScore.evaluated_at),
                    ).group_by(ThreatScore.track_id, ThreatScore.da_id)
                )
            }
            latest = c.execute(
                sa.select(
                    ThreatScoreLatest.track_id,
                    ThreatScoreLatest.da_id,
                    ThreatScoreLatest.evaluated_at,
                    ThreatScoreLatest.score_id,
                )
            ).all()
            ids = set(c.scalars(sa.select(ThreatScore.id)))
    finally:
        engine.dispose()
    assert {(t, d): at for t, d, at, _ in latest} == newest
    assert {sid for *_, sid in latest} <= ids


def test_scheduler_stores_a_complete_batch_every_tick_and_stops_with_the_lifespan(
    demo_url: str,
) -> None:
    app = _scheduled_app(demo_url)
    before = _counter(BATCHES)
    failures_before = _counter(FAILURES, task=TASK)
    assert _row_count(demo_url) == 0  # a fresh copy: nothing computed yet

    with TestClient(app) as client:
        scheduler = app.state.scheduler
        assert scheduler.interval_s == INTERVAL_S and scheduler.database_url == demo_url
        assert _wait_until(lambda: len(_batches(demo_url)) >= 2), "no two ticks stored"
        seen = len(_batches(demo_url))
        scraped = metric_value(client.get("/metrics").text, BATCHES)
        assert scraped - before >= seen  # counted after commit, so at least what we saw

    # After the lifespan: the loop is cancelled, so nothing more is written.
    assert scheduler._task is None
    stopped = _batches(demo_url)
    rows = _row_count(demo_url)
    time.sleep(3 * INTERVAL_S + 0.1)
    assert _batches(demo_url).keys() == stopped.keys()
    assert _row_count(demo_url) == rows

    assert len(stopped) >= 2
    _assert_complete(demo_url, stopped)
    _assert_latest_consistent(demo_url)
    # One scenario → one stored batch per tick, each counted once; no tick failed.
    assert _counter(BATCHES) - before == len(stopped)
    # A tick still in its worker thread at shutdown is waited for and counted: runs == batches.
    assert scheduler.runs == len(stopped)
    assert scheduler.failures == 0
    assert _counter(FAILURES, task=TASK) == failures_before


def test_lifespan_shutdown_itself_stops_the_loop(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under ``TestClient`` the portal's event loop ends right after the lifespan, which would
    cancel a loop that ``stop()`` forgot. Here the event loop keeps running after the shutdown
    (as it briefly does in uvicorn): no tick may start once the lifespan has exited."""
    starts: list[float] = []
    real_periodic = tasks.periodic_compute_threats

    def recording(database_url: str, interval_s: float) -> list[dict[str, Any]]:
        starts.append(time.monotonic())
        return real_periodic(database_url, interval_s)

    monkeypatch.setattr(tasks, "periodic_compute_threats", recording)
    app = _scheduled_app(demo_url)

    async def serve_then_linger() -> tuple[float, dt.datetime, int]:
        async with app.router.lifespan_context(app):
            for _ in range(int(WAIT_S / 0.05)):
                if len(starts) >= 2:
                    break
                await asyncio.sleep(0.05)
        ended, ended_wall = time.monotonic(), dt.datetime.now(dt.UTC)
        await asyncio.sleep(3 * INTERVAL_S + 0.1)
        return ended, ended_wall, len(starts)

    ended, ended_wall, n_starts = asyncio.run(serve_then_linger())
    assert n_starts >= 2
    assert all(t <= ended for t in starts), "a tick started after the lifespan shutdown"
    stored = _batches(demo_url)
    assert stored and all(stamp <= ended_wall for stamp in stored)
    _assert_complete(demo_url, stored)


def test_shutdown_during_a_tick_leaves_that_batch_whole_and_writes_nothing_after(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leave the lifespan while a tick holds its transaction open (the ``ARGUS_TEST_BATCH_DELAY_S``
    hook of ``tasks._compute_one``): that batch is stored whole or not at all, nothing follows."""
    monkeypatch.setenv("ARGUS_TEST_BATCH_DELAY_S", "0.4")
    in_tick = threading.Event()
    real_one = tasks._compute_one

    def signalling_one(session: Any, scenario: Scenario, stamp: dt.datetime) -> dict[str, Any]:
        in_tick.set()
        return real_one(session, scenario, stamp)

    monkeypatch.setattr(tasks, "_compute_one", signalling_one)
    app = _scheduled_app(demo_url)
    before = _counter(BATCHES)
    with TestClient(app):
        assert in_tick.wait(WAIT_S), "the first tick never started"
        scheduler = app.state.scheduler
    assert scheduler._task is None
    stopped = _batches(demo_url)
    assert len(stopped) <= 1
    _assert_complete(demo_url, stopped)
    _assert_latest_consistent(demo_url)
    assert _counter(BATCHES) - before == len(stopped)
    time.sleep(3 * INTERVAL_S + 0.1)
    assert _batches(demo_url) == stopped


@pytest.mark.parametrize("where", ["before_compute", "mid_batch"])
def test_a_failing_tick_or_scenario_is_counted_and_rolled_back_and_later_ticks_still_run(
    demo_url: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The first tick raises RuntimeError: before touching the database (the scheduler's own
    call fails), or after the batch's rows were inserted in the scenario's open transaction."""
    failed: list[dict[str, Any]] = []

    if where == "before_compute":
        real_periodic = tasks.periodic_compute_threats

        def flaky_periodic(database_url: str, interval_s: float) -> list[dict[str, Any]]:
            if not failed:
                stamp = tasks.tick_time(dt.datetime.now(dt.UTC), interval_s)
                failed.append({"computed_at": stamp, "written": 0})
                raise RuntimeError("injected failure before the tick")
            return real_periodic(database_url, interval_s)

        monkeypatch.setattr(tasks, "periodic_compute_threats", flaky_periodic)
    else:
        real_one = tasks._compute_one

        def flaky_one(session: Any, scenario: Scenario, stamp: dt.datetime) -> dict[str, Any]:
            result = real_one(session, scenario, stamp)
            if not failed:
                failed.append({"computed_at": stamp, "written": result["written"]})
                raise RuntimeError("injected failure after the rows were written")
            return result

        monkeypatch.setattr(tasks, "_compute_one", flaky_one)

    app = _scheduled_app(demo_url)
    batches_before = _counter(BATCHES)
    failures_before = _counter(FAILURES, task=TASK)

    # Before the tick, the tick itself fails (the scheduler counts it); in mid-batch, only the
    # scenario's own transaction does: the tick isolates it, counts it as "periodic_scenario"
    # and goes on (the demo has one scenario, so that tick stores nothing).
    task = TASK if where == "before_compute" else "periodic_scenario"
    tick_failures = 1 if where == "before_compute" else 0
    scenario_failures_before = _counter(FAILURES, task="periodic_scenario")
    with TestClient(app) as client:
        scheduler = app.state.scheduler
        assert _wait_until(
            lambda: (
                len(failed) == 1
                and scheduler.failures == tick_failures
                and len(_batches(demo_url)) >= 2
            )
        )
        text = client.get("/metrics").text
        failures_before_task = failures_before if task == TASK else scenario_failures_before
        assert metric_value(text, FAILURES, task=task) - failures_before_task == 1

    assert len(failed) == 1
    bad = failed[0]["computed_at"]
    if where == "mid_batch":
        assert failed[0]["written"] > 0  # the failed tick had inserted rows before raising
    stored = _batches(demo_url)
    assert bad not in stored  # rolled back: nothing of the failed tick is left
    assert len(stored) >= 2 and all(stamp > bad for stamp in stored)
    _assert_complete(demo_url, stored)
    _assert_latest_consistent(demo_url)
    assert scheduler.failures == tick_failures
    # a tick that only lost its scenario still ran (and stored nothing)
    assert scheduler.runs == len(stored) + (1 - tick_failures)
    assert _counter(FAILURES, task=TASK) - failures_before == tick_failures
    assert _counter(FAILURES, task="periodic_scenario") - scenario_failures_before == (
        1 - tick_failures
    )
    assert _counter(BATCHES) - batches_before == len(stored)  # the failed tick is not counted


@pytest.mark.parametrize(
    ("run_scheduler", "overrides"),
    [
        pytest.param(True, {"compute_interval_s": 0}, id="interval-0"),
        pytest.param(True, {"broker_url": "redis://127.0.0.1:1/0"}, id="broker-configured"),
        pytest.param(False, {}, id="not-requested"),
    ],
)
def test_no_scheduler_runs_when_off_or_a_broker_is_configured(
    demo_url: str, run_scheduler: bool, overrides: dict[str, Any]
) -> None:
    app = _scheduled_app(demo_url, run_scheduler=run_scheduler, **overrides)
    before = _counter(BATCHES)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        time.sleep(4 * INTERVAL_S)
        assert not hasattr(app.state, "scheduler")
        assert _row_count(demo_url) == 0
    assert _row_count(demo_url) == 0
    assert _counter(BATCHES) == before
