"""RF maintenance in the in-process scheduler (``argus serve`` without a broker).

The scheduler runs ``tasks.rf_maintenance`` at start and then every
``rf_maintenance_interval_s`` (hourly by default, as Celery beat's ``rf-maintenance``). Here, on a
migrated SQLite database with a local object store: a real simulated acquisition (its
measurements mark their hours for the aggregate refresh), an abandoned acquisition two hours
old with one object written, an unnamed object two hours old and a fresh one. After the
scheduler's runs the hourly table equals the raw rows aggregated by hand, the abandoned row is
failed and its object gone, the old orphan gone, the fresh one kept, the acquisition's own
objects kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from argus.api.app import create_app
from argus.config import Settings, get_settings
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.jobs.scheduler import RF_MAINTENANCE_INTERVAL_S, InProcessScheduler
from argus.rf import service
from argus.rf.simulate import Emitter, random_network
from tests.api._support import make_settings

START = dt.datetime.now(dt.UTC).replace(minute=5, second=0, microsecond=0) - dt.timedelta(hours=1)
TWO_HOURS_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
WAIT_S = 30.0


@dataclasses.dataclass
class World:
    url: str
    settings: Settings
    store: ObjectStore
    acquisition_id: str
    acquisition_keys: list[str]
    abandoned_id: str
    abandoned_key: str
    old_orphan: str
    fresh_orphan: str


def _age(store: ObjectStore, key: str, when: dt.datetime) -> None:
    path = Path(store.root) / key
    os.utime(path, (when.timestamp(), when.timestamp()))


@pytest.fixture
def world(sqlite_url: str) -> World:
    settings = make_settings(sqlite_url)
    store = ObjectStore.from_settings(settings)
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    try:
        specs = random_network(3, center_lat_deg=45.07, center_lon_deg=7.68,
                               radius_m=15_000, seed=2)  # fmt: skip
        with session_scope(factory) as s:
            ids = [
                service.add_receiver(
                    s, name=r.name, kind="simulated", url=None, lat_deg=r.lat_deg,
                    lon_deg=r.lon_deg, alt_m=r.alt_m, sample_rate_hz=2e6,
                ).id
                for r in specs
            ]  # fmt: skip
            infos = [service.info(service.get_receiver(s, i)) for i in ids]
        emitter = Emitter(lat_deg=45.08, lon_deg=7.69)
        source = service.SimulatedNetworkSource(
            emitter, infos, sample_rate_hz=2e6, start=START, seed=1, snr_db=15.0
        )
        res = service.acquire_iq(
            factory, 145.5e6, 0.005, ids, source=source, store=store, localize=False,
            params={"emitter": dataclasses.asdict(emitter), "start": START.isoformat()},
        )  # fmt: skip
        assert res.status == "complete" and res.measurements == 3
        # a process that died after writing its first object, two hours ago
        with session_scope(factory) as s:
            abandoned = service.start_acquisition(
                s, 145.5e6, 0.005, ids, source="simulated",
                params={"emitter": dataclasses.asdict(emitter)}, now=TWO_HOURS_AGO,
            )  # fmt: skip
            abandoned_id = abandoned.id
            abandoned_key = abandoned.captures[str(ids[0])]["data_key"]
        store.put_bytes(abandoned_key, b"\0" * 64)
        _age(store, abandoned_key, TWO_HOURS_AGO)
        old_orphan, fresh_orphan = (
            "rf/2020/01/01/lost/r1.sigmf-data",
            "rf/2020/01/01/new/r1.sigmf-data",
        )
        store.put_bytes(old_orphan, b"\1" * 32)
        _age(store, old_orphan, TWO_HOURS_AGO)
        store.put_bytes(fresh_orphan, b"\2" * 32)
    finally:
        engine.dispose()
    return World(sqlite_url, settings, store, res.id, res.object_keys, abandoned_id,
                 abandoned_key, old_orphan, fresh_orphan)  # fmt: skip


def _hourly(url: str) -> dict[tuple[int, dt.datetime], tuple[int, float, float]]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return {
                (h.receiver_id, h.hour): (h.count, h.snr_mean_db, h.noise_floor_mean_dbfs)
                for h in service.list_hourly(s, limit=1000)
            }
    finally:
        engine.dispose()


def _expected_hourly(url: str) -> dict[tuple[int, dt.datetime], tuple[int, float, float]]:
    """The raw rows grouped by (receiver, UTC hour) by hand."""
    engine = make_engine(url)
    groups: dict[tuple[int, dt.datetime], list[Any]] = {}
    try:
        with make_sessionmaker(engine)() as s:
            for m in service.list_measurements(s, limit=1000):
                hour = m.time.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
                groups.setdefault((m.receiver_id, hour), []).append(m)
    finally:
        engine.dispose()
    return {
        k: (
            len(v),
            sum(m.snr_db for m in v) / len(v),
            sum(m.noise_floor_dbfs for m in v) / len(v),
        )
        for k, v in groups.items()
    }


def _status(url: str, acquisition_id: str) -> tuple[str, str | None]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            a = service.get_acquisition(s, acquisition_id)
            return a.status, a.error
    finally:
        engine.dispose()


def _assert_maintained(w: World) -> None:
    want = _expected_hourly(w.url)
    assert len(want) == 3 and {k[1] for k in want} == {START.replace(minute=0)}
    got = _hourly(w.url)
    assert got.keys() == want.keys()
    for k, (n, snr, noise) in want.items():
        assert got[k][0] == n == 1
        assert got[k][1] == pytest.approx(snr, abs=1e-9)
        assert got[k][2] == pytest.approx(noise, abs=1e-9)
    status, error = _status(w.url, w.abandoned_id)
    assert status == "failed" and error is not None and error.startswith("abandoned: pending")
    assert _status(w.url, w.acquisition_id)[0] == "complete"
    assert not w.store.exists(w.abandoned_key)
    assert not w.store.exists(w.old_orphan)
    assert w.store.exists(w.fresh_orphan)  # within the sweeper's grace period
    assert len(w.acquisition_keys) == 6 and all(w.store.exists(k) for k in w.acquisition_keys)


def _wait_until(cond: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_rf_maintenance_runs_at_start_and_every_interval(world: World) -> None:
    assert _hourly(world.url) == {}  # nothing aggregated yet: the hours are only marked
    assert _status(world.url, world.abandoned_id)[0] == "pending"
    sched = InProcessScheduler(world.url, 0, settings=world.settings, rf_maintenance_interval_s=0.3)

    async def run() -> None:
        sched.start()
        assert sched._task is None  # the compute job is off (interval 0)
        assert sched._rf_task is not None
        for _ in range(int(WAIT_S / 0.05)):
            if sched.rf_runs >= 3:
                break
            await asyncio.sleep(0.05)
        await sched.stop()

    asyncio.run(run())
    assert sched.rf_runs >= 3 and sched.rf_failures == 0
    assert sched._rf_task is None
    # the first run did the work; later ones found nothing left to do
    assert sched.rf_last is not None
    assert sched.rf_last["hours_refreshed"] == 0 and sched.rf_last["orphans_deleted"] == 0
    _assert_maintained(world)
    runs = sched.rf_runs
    time.sleep(0.8)
    assert sched.rf_runs == runs  # stopped


def test_the_app_scheduler_runs_rf_maintenance_with_the_process_settings(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``argus serve`` runs it: ``create_app(run_scheduler=True)``; the scheduler gets only
    the database URL and takes the rest from ``get_settings()`` (the same database)."""
    monkeypatch.setenv("ARGUS_DATABASE_URL", world.url)
    monkeypatch.setenv("ARGUS_VAR_DIR", str(world.settings.var_dir))
    monkeypatch.delenv("ARGUS_OBJECT_STORE", raising=False)
    get_settings.cache_clear()
    try:
        app = create_app(make_settings(world.url, compute_interval_s=60.0), run_scheduler=True)
        with TestClient(app):
            sched = app.state.scheduler
            assert sched.rf_maintenance_interval_s == RF_MAINTENANCE_INTERVAL_S == 3600.0
            assert _wait_until(lambda: sched.rf_runs + sched.rf_failures >= 1)
        assert sched.rf_runs == 1 and sched.rf_failures == 0
        assert sched.rf_last["hours_refreshed"] == 3
        assert sched.rf_last["orphans_deleted"] == 2  # the old orphan and the abandoned object
        assert sched.rf_last["acquisitions_failed"] == [world.abandoned_id]
        _assert_maintained(world)
    finally:
        get_settings.cache_clear()


def test_no_rf_maintenance_on_a_store_of_another_database(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without settings, and with ARGUS_DATABASE_URL naming another database, the scheduler does
    not sweep (the store it would find belongs to that other database)."""
    monkeypatch.setenv("ARGUS_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("ARGUS_VAR_DIR", str(world.settings.var_dir))
    get_settings.cache_clear()
    try:
        sched = InProcessScheduler(world.url, 0, rf_maintenance_interval_s=0.1)

        async def run() -> None:
            sched.start()
            await asyncio.sleep(0.5)
            await sched.stop()

        asyncio.run(run())
        assert sched.rf_runs == 0 and sched._rf_task is None
        assert world.store.exists(world.old_orphan) and world.store.exists(world.abandoned_key)
        assert _hourly(world.url) == {}
    finally:
        get_settings.cache_clear()


def test_rf_maintenance_applies_the_retention_setting(world: World) -> None:
    """ARGUS_RF_RETENTION_DAYS=3: an acquisition started ten days ago goes with its object; the
    recent one and its six objects stay. Unset, nothing is pruned."""
    from argus.jobs import tasks

    ten_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    engine = make_engine(world.url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            rx = service.list_receivers(s)[0].id
            old = service.start_acquisition(
                s, 145.5e6, 0.005, [rx], source="simulated",
                params={"emitter": dataclasses.asdict(Emitter(lat_deg=45.08, lon_deg=7.69))},
                now=ten_days_ago,
            )  # fmt: skip
            old_id, old_key = old.id, old.captures[str(rx)]["data_key"]
    finally:
        engine.dispose()
    world.store.put_bytes(old_key, b"\0" * 16)

    kept = tasks.rf_maintenance(world.settings)  # retention unset
    assert kept["retention_days"] is None and kept["acquisitions_pruned"] == 0
    assert _status(world.url, old_id)[0] == "failed"  # the sweeper's verdict, the row stays

    pruned = tasks.rf_maintenance(world.settings.model_copy(update={"rf_retention_days": 3}))
    assert pruned["retention_days"] == 3 and pruned["acquisitions_pruned"] == 1
    with pytest.raises(LookupError):
        _status(world.url, old_id)
    assert not world.store.exists(old_key)
    assert _status(world.url, world.acquisition_id)[0] == "complete"
    assert all(world.store.exists(k) for k in world.acquisition_keys)
