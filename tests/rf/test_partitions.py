"""The time series on PostgreSQL: daily partitions created ahead, retention dropping whole
partitions with their IQ objects, hourly aggregates equal to a brute-force GROUP BY (and the
same behaviour, without partitions, on SQLite)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from argus.db import migrate
from argus.db.base import Base
from argus.db.models import RfAcquisition, RfMeasurement, RfMeasurementHourly
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.rf import service
from tests.rf._support import add_receivers

NOW = dt.datetime(2026, 12, 7, 15, 30, tzinfo=dt.UTC)


def _acquisition(
    s: Session, store: ObjectStore, receiver_ids: list[int], created: dt.datetime
) -> str:
    """A complete acquisition created at ``created`` whose objects are in the store."""
    acq = service.start_acquisition(s, 150e6, 1.0, receiver_ids, source="sigmf", now=created)
    caps = {}
    for rid, cap in acq.captures.items():
        meta = store.put_bytes(cap["meta_key"], b"{}")
        data = store.put_bytes(cap["data_key"], b"\0" * 64)
        caps[rid] = {**cap, "stored": True, "size_bytes": data.size_bytes, "sha512": data.sha512,
                     "meta_size_bytes": meta.size_bytes, "meta_sha512": meta.sha512}  # fmt: skip
    acq.captures, acq.status, acq.progress = caps, "complete", 1.0
    s.flush()
    return acq.id


def _rows(
    receiver_ids: list[int], acq_id: str, times: list[dt.datetime], seed: int = 0
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for t in times:
        for rid in receiver_ids:
            out.append(
                {
                    "time": t, "receiver_id": rid, "acquisition_id": acq_id,
                    "frequency_hz": 150e6, "snr_db": float(rng.uniform(0, 30)),
                    "signal_power_dbfs": float(rng.uniform(-80, -20)),
                    "noise_floor_dbfs": float(rng.uniform(-110, -90)),
                    "frequency_offset_hz": float(rng.normal(0, 200)),
                    "occupied_bandwidth_hz": float(rng.uniform(1e3, 2e5)),
                }
            )  # fmt: skip
    return out


@pytest.fixture
def factory(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.mark.pg
def test_partitions_are_created_ahead_and_models_still_match(pg_url: str) -> None:
    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        assert service.partitioned(s) and not service.timescale_enabled(s)
        created = service.ensure_partitions_ahead(s, days=7, now=NOW)
    assert created == [f"rf_measurement_p202612{d:02d}" for d in range(7, 15)]
    with session_scope(factory) as s:
        assert service.ensure_partitions_ahead(s, days=7, now=NOW) == []  # idempotent
        days = [d for _, d in service.list_partitions(s)]
        assert days == [dt.date(2026, 12, d) for d in range(7, 15)]
        # each partition covers exactly its UTC day
        bound = s.execute(
            sa.text(
                "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                "WHERE c.relname = 'rf_measurement_p20261208'"
            )
        ).scalar_one()
        assert "2026-12-08 00:00:00+00" in bound and "2026-12-09 00:00:00+00" in bound
        # BRIN on time, cascaded to the partitions
        kinds = (
            s.execute(
                sa.text(
                    "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am am ON am.oid = c.relam JOIN pg_class t ON t.oid = i.indrelid "
                    "WHERE t.relname = 'rf_measurement_p20261208' AND 'time' = ALL("
                    "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = t.oid "
                    "AND a.attnum = ANY(i.indkey))"
                )
            )
            .scalars()
            .all()
        )
        assert "brin" in kinds
    with engine.connect() as conn:  # the partitions are not a difference from the models
        ctx = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": migrate.include_object("postgresql")},
        )
        assert compare_metadata(ctx, Base.metadata) == []
    engine.dispose()


@pytest.mark.pg
def test_an_insert_creates_the_partitions_of_its_days(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    store = ObjectStore(str(tmp_path / "o"))
    with session_scope(factory) as s:
        ids = add_receivers(s, tmp_path, ["north", "east"])
        acq = _acquisition(s, store, ids, NOW)
        times = [NOW - dt.timedelta(days=d) for d in (0, 1, 3)]
        assert service.insert_measurements(s, _rows(ids, acq, times)) == 6
    with session_scope(factory) as s:
        where = s.execute(
            sa.text("SELECT tableoid::regclass::text, count(*) FROM rf_measurement GROUP BY 1")
        ).all()
        assert dict(where) == {
            "rf_measurement_p20261207": 2,
            "rf_measurement_p20261206": 2,
            "rf_measurement_p20261204": 2,
        }
    engine.dispose()


def test_retention_drops_old_partitions_and_their_objects(factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = ObjectStore(str(tmp_path / "o"))
    with session_scope(factory) as s:
        ids = add_receivers(s, tmp_path, ["north", "east"])
        old = _acquisition(s, store, ids, NOW - dt.timedelta(days=40))
        recent = _acquisition(s, store, ids, NOW - dt.timedelta(days=2))
        service.insert_measurements(
            s, _rows(ids, old, [NOW - dt.timedelta(days=40, hours=h) for h in (0, 5)], seed=1)
        )
        service.insert_measurements(
            s, _rows(ids, recent, [NOW - dt.timedelta(days=2, hours=h) for h in (0, 1)], seed=2)
        )
        service.refresh_hourly(s)
    old_keys = {o.key for o in store.list_objects("rf") if old in o.key}
    assert len(old_keys) == 4
    # a rolled-back prune removes nothing
    with factory() as s:
        report = service.prune(s, store, 30, now=NOW)
        assert report.acquisitions_deleted == 1 and sorted(report.object_keys) == sorted(old_keys)
        s.rollback()
    assert {o.key for o in store.list_objects("rf")} >= old_keys
    with session_scope(factory) as s:
        report = service.prune(s, store, 30, now=NOW)
        pg = service.partitioned(s)
    assert report.cutoff == dt.datetime(2026, 11, 7, tzinfo=dt.UTC)
    assert report.measurements_deleted == 4 and report.objects_deleted == 4
    if pg:
        assert report.partitions_dropped == ["rf_measurement_p20261028"]
    left = {o.key for o in store.list_objects("rf")}
    assert left and not left & old_keys and all(recent in k for k in left)
    with session_scope(factory) as s:
        assert [a.id for a in s.scalars(sa.select(RfAcquisition))] == [recent]
        times = s.scalars(sa.select(RfMeasurement.time)).all()
        assert len(times) == 4 and min(times) >= report.cutoff
        hours = s.scalars(sa.select(RfMeasurementHourly.hour)).all()
        assert hours and min(hours) >= report.cutoff
        if pg:
            assert [n for n, _ in service.list_partitions(s)] == ["rf_measurement_p20261205"]


def _brute_force(s: Session) -> dict[tuple[int, dt.datetime], tuple[float, ...]]:
    """Every (receiver, hour) aggregate straight from the raw rows."""
    if s.get_bind().dialect.name == "postgresql":
        rows = s.execute(
            sa.text(
                "SELECT receiver_id, date_trunc('hour', time) AS hour, count(*), avg(snr_db), "
                "min(snr_db), max(snr_db), avg(signal_power_dbfs), avg(noise_floor_dbfs), "
                "avg(frequency_offset_hz), avg(occupied_bandwidth_hz) FROM rf_measurement "
                "GROUP BY 1, 2"
            )
        ).all()
        return {(r[0], r[1].astimezone(dt.UTC)): tuple(float(v) for v in r[2:]) for r in rows}
    groups: dict[tuple[int, dt.datetime], list[RfMeasurement]] = {}
    for m in s.scalars(sa.select(RfMeasurement)):
        groups.setdefault((m.receiver_id, service.storage.hour_of(m.time)), []).append(m)
    out = {}
    for key, ms in groups.items():
        snr = [m.snr_db for m in ms]
        out[key] = (
            float(len(ms)), float(np.mean(snr)), min(snr), max(snr),
            float(np.mean([m.signal_power_dbfs for m in ms])),
            float(np.mean([m.noise_floor_dbfs for m in ms])),
            float(np.mean([m.frequency_offset_hz for m in ms])),
            float(np.mean([m.occupied_bandwidth_hz for m in ms])),
        )  # fmt: skip
    return out


def _aggregates(s: Session) -> dict[tuple[int, dt.datetime], tuple[float, ...]]:
    return {
        (h.receiver_id, h.hour): (
            float(h.count),
            h.snr_mean_db,
            h.snr_min_db,
            h.snr_max_db,
            h.signal_power_mean_dbfs,
            h.noise_floor_mean_dbfs,
            h.frequency_offset_mean_hz,
            h.occupied_bandwidth_mean_hz,
        )
        for h in s.scalars(sa.select(RfMeasurementHourly))
    }


def _assert_equal(a: dict[Any, tuple[float, ...]], b: dict[Any, tuple[float, ...]]) -> None:
    assert set(a) == set(b)
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-9), k


def test_hourly_aggregates_equal_brute_force_and_refresh_incrementally(
    factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = ObjectStore(str(tmp_path / "o"))
    rng = np.random.default_rng(7)
    with session_scope(factory) as s:
        ids = add_receivers(s, tmp_path, ["north", "east", "south"])
        acq = _acquisition(s, store, ids, NOW)
        # 60 times spread over 6 hours across midnight (two daily partitions on PostgreSQL)
        base = dt.datetime(2026, 12, 6, 21, tzinfo=dt.UTC)
        times = sorted({base + dt.timedelta(seconds=int(x)) for x in rng.uniform(0, 6 * 3600, 60)})
        service.insert_measurements(s, _rows(ids, acq, times, seed=3))
    with session_scope(factory) as s:
        assert service.refresh_hourly(s, now=NOW) == 18  # 3 receivers x 6 hours
    with session_scope(factory) as s:
        _assert_equal(_aggregates(s), _brute_force(s))
        assert service.refresh_hourly(s, now=NOW) == 0  # nothing touched since
    touched = base + dt.timedelta(hours=2, minutes=30)
    with session_scope(factory) as s:
        service.insert_measurements(
            s, _rows(ids[:1], acq, [touched, touched + dt.timedelta(seconds=1)], seed=4)
        )
        stale = _aggregates(s)
    later = NOW + dt.timedelta(hours=1)
    with session_scope(factory) as s:
        assert service.refresh_hourly(s, now=later) == 1  # only (north, 23:00) recomputed
    with session_scope(factory) as s:
        fresh = _aggregates(s)
        _assert_equal(fresh, _brute_force(s))
        key = (ids[0], service.storage.hour_of(touched))
        assert fresh[key][0] == stale[key][0] + 2
        refreshed = {
            (h.receiver_id, h.hour) for h in s.scalars(sa.select(RfMeasurementHourly))
            if h.refreshed_at == later
        }  # fmt: skip
        assert refreshed == {key}
        page = service.list_hourly(s, start=base, end=base + dt.timedelta(hours=6), limit=4)
        assert [(h.hour, h.receiver_id) for h in page] == sorted((h, r) for r, h in fresh)[:4]
