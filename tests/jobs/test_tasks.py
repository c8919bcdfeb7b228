"""The task functions themselves (no broker): idempotent per (scenario, computed_at)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from argus.db.models import Job, Scenario, ThreatScore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.jobs import tasks
from argus.tewa import service


def _seed(url: str) -> int:
    engine = make_engine(url)
    with session_scope(make_sessionmaker(engine)) as s:
        service.seed_demo(s)
        sc = service.get_scenario(s, "Demo-Scenario")
        sid = sc.id
    engine.dispose()
    return sid


def _count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as c:
        n = int(c.execute(sa.select(sa.func.count()).select_from(ThreatScore)).scalar_one())
    engine.dispose()
    return n


def test_tick_time_floors_to_the_interval() -> None:
    t = dt.datetime(2025, 1, 1, 12, 0, 7, 900_000, tzinfo=dt.UTC)
    assert tasks.tick_time(t, 5) == dt.datetime(2025, 1, 1, 12, 0, 5, tzinfo=dt.UTC)
    assert tasks.tick_time(t, 0.5) == dt.datetime(2025, 1, 1, 12, 0, 7, 500_000, tzinfo=dt.UTC)


def test_replay_scenario_time_loops() -> None:
    start = dt.datetime(2025, 6, 1, 6, 0, tzinfo=dt.UTC)
    sc = Scenario(
        name="r", start_time=start, end_time=start + dt.timedelta(seconds=300), replay=True
    )
    now = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.UTC)
    offset = (now - start).total_seconds() % 300
    assert service.scenario_time(sc, now) == start + dt.timedelta(seconds=offset)
    sc.replay = False
    assert service.scenario_time(sc, now) == now


def test_periodic_task_twice_in_one_tick_writes_once(sqlite_url: str) -> None:
    _seed(sqlite_url)
    now = "2026-11-24T06:00:03+00:00"
    first = tasks.periodic_compute_threats(sqlite_url, 5.0, now)
    second = tasks.periodic_compute_threats(
        sqlite_url, 5.0, "2026-11-24T06:00:04.9+00:00"
    )  # same 5 s tick
    assert [r["written"] for r in first] == [6] and [r["written"] for r in second] == [0]
    assert _count(sqlite_url) == 6
    third = tasks.periodic_compute_threats(
        sqlite_url, 5.0, "2026-11-24T06:00:05+00:00"
    )  # next tick
    assert [r["written"] for r in third] == [6] and _count(sqlite_url) == 12


def test_redelivered_periodic_task_reuses_its_recorded_tick(sqlite_url: str) -> None:
    _seed(sqlite_url)
    tasks.periodic_compute_threats(sqlite_url, 5.0, "2026-11-24T06:00:01+00:00", job_id="task-1")
    # The same message delivered again much later: same tick, nothing new.
    again = tasks.periodic_compute_threats(
        sqlite_url, 5.0, "2026-11-24T06:07:00+00:00", job_id="task-1"
    )
    assert [r["written"] for r in again] == [0]
    assert _count(sqlite_url) == 6
    engine = make_engine(sqlite_url)
    with engine.connect() as c:
        job = c.execute(sa.select(Job.status, Job.attempts).where(Job.id == "task-1")).one()
    engine.dispose()
    assert tuple(job) == ("succeeded", 2)


def test_inactive_scenarios_are_skipped(sqlite_url: str) -> None:
    sid = _seed(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as c:
        c.execute(sa.update(Scenario).where(Scenario.id == sid).values(active=False))
    engine.dispose()
    assert tasks.periodic_compute_threats(sqlite_url, 5.0, "2026-11-24T06:00:00+00:00") == []


def test_compute_scenario_records_a_failed_job(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        job, created = service.new_job(
            s, "compute_scenario", scenario_id=None, params={}, idempotency_key="key-1"
        )
        job_id = job.id
        again, created_again = service.new_job(
            s, "compute_scenario", scenario_id=None, params={}, idempotency_key="key-1"
        )
    assert created and not created_again and again.id == job_id
    try:
        tasks.compute_scenario(sqlite_url, 999, "2026-11-24T06:00:00+00:00", job_id)
    except service.NotFoundError:
        pass
    else:
        raise AssertionError("expected NotFoundError")
    with factory() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status == "failed" and "999" in (job.error or "")
    engine.dispose()
