"""The measurement time series: partitions, inserts, hourly aggregates, retention, reads.

PostgreSQL (without TimescaleDB): ``rf_measurement`` is partitioned by RANGE (time), one
partition per UTC day, ``rf_measurement_pYYYYMMDD`` covering ``[day, day + 1)``. Partitions are
created ahead by :func:`ensure_partitions` (the maintenance job makes today and the next
``PARTITIONS_AHEAD_DAYS`` days; an insert makes any day it needs first, under an advisory lock).
There is no default partition: a row for a day without a partition cannot be lost in one.
With TimescaleDB installed the table is a hypertable and chunks replace the partitions.
SQLite: one plain indexed table.

The DDL of a partition is built from ``datetime.date`` values only (the name and the bounds are
formatted from the date's fields), never from text a caller gave.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, event, func, insert, or_, select, text
from sqlalchemy.orm import Session

from argus.db.models.rf import (
    RfAcquisition,
    RfHourlyPending,
    RfMeasurement,
    RfMeasurementHourly,
)
from argus.db.objectstore import ObjectStore
from argus.rf.service.errors import InvalidInput

#: Days of partitions the maintenance job keeps ready after today.
PARTITIONS_AHEAD_DAYS = 7
PARTITION_PREFIX = "rf_measurement_p"
_PARTITION_NAME = re.compile(r"^rf_measurement_p(\d{4})(\d{2})(\d{2})$")
#: Advisory lock key serializing partition DDL (any constant; "rfpart" in ASCII).
_PARTITION_LOCK = 0x7266706172
_REFRESH_LOCK = 0x7266686F75
MEASUREMENT_FIELDS = (
    "frequency_hz",
    "snr_db",
    "signal_power_dbfs",
    "noise_floor_dbfs",
    "frequency_offset_hz",
    "occupied_bandwidth_hz",
)


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def timescale_enabled(session: Session) -> bool:
    """True when ``rf_measurement`` is a TimescaleDB hypertable (the extension is installed and
    migration 0015 made the table one)."""
    if not _is_pg(session):
        return False
    row = session.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first()
    return row is not None


def partitioned(session: Session) -> bool:
    """True when ``rf_measurement`` is a natively partitioned PostgreSQL table."""
    if not _is_pg(session):
        return False
    row = session.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = 'rf_measurement' AND c.relnamespace = current_schema()::regnamespace"
        )
    ).first()
    return row is not None


def partition_name(day: dt.date) -> str:
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise TypeError(f"a date, got {type(day).__name__}")
    return f"{PARTITION_PREFIX}{day.year:04d}{day.month:02d}{day.day:02d}"


def list_partitions(session: Session) -> list[tuple[str, dt.date]]:
    """The partitions of ``rf_measurement`` (name, day), by day; empty off native partitioning."""
    if not partitioned(session):
        return []
    names = session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'rf_measurement'"
        )
    ).all()
    out = []
    for name in names:
        m = _PARTITION_NAME.match(name)
        if m:
            out.append((name, dt.date(int(m[1]), int(m[2]), int(m[3]))))
    return sorted(out, key=lambda p: p[1])


def ensure_partitions(session: Session, first: dt.date, last: dt.date) -> list[str]:
    """Create the daily partitions of ``[first, last]`` that do not exist; their names.

    A no-op (empty list) on SQLite and on a TimescaleDB hypertable. Serialized by a
    transaction-level advisory lock, so concurrent writers do not race on the DDL.
    """
    if last < first:
        raise InvalidInput(f"last: {last} is before first {first}")
    if (last - first).days > 3660:
        raise InvalidInput("last: at most ten years of partitions at once")
    if not partitioned(session):
        return []
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PARTITION_LOCK})
    have = {day for _, day in list_partitions(session)}
    created = []
    day = first
    while day <= last:
        if day not in have:
            nxt = day + dt.timedelta(days=1)
            name = partition_name(day)
            # DDL takes no bound parameters: the name and bounds come from date fields only.
            session.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF rf_measurement FOR VALUES FROM "
                    f"('{day.isoformat()} 00:00:00+00') TO ('{nxt.isoformat()} 00:00:00+00')"
                )
            )
            created.append(name)
        day += dt.timedelta(days=1)
    return created


def ensure_partitions_ahead(
    session: Session, *, days: int = PARTITIONS_AHEAD_DAYS, now: dt.datetime | None = None
) -> list[str]:
    """Today's partition and the next ``days`` (the maintenance job)."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()
    return ensure_partitions(session, today, today + dt.timedelta(days=days))


def hour_of(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def insert_measurements(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Store measurement rows (one transaction with the caller's); their hours are marked for
    the next aggregate refresh. Every bad row is listed (``rows[i].field: reason``)."""
    if not rows:
        return 0
    errors: list[str] = []
    for i, r in enumerate(rows):
        t = r.get("time")
        if not isinstance(t, dt.datetime) or t.tzinfo is None:
            errors.append(f"rows[{i}].time: a timezone-aware datetime")
        for f in ("receiver_id", "acquisition_id", *MEASUREMENT_FIELDS):
            v = r.get(f)
            if v is None:
                errors.append(f"rows[{i}].{f}: missing")
            elif f in MEASUREMENT_FIELDS and (
                not isinstance(v, int | float) or v != v or v in (float("inf"), float("-inf"))
            ):
                errors.append(f"rows[{i}].{f}: a finite number, got {v!r}")
    if errors:
        raise InvalidInput("; ".join(errors))
    days = sorted({r["time"].astimezone(dt.UTC).date() for r in rows})
    ensure_partitions(session, days[0], days[-1])
    session.execute(insert(RfMeasurement), [dict(r) for r in rows])
    mark_hours(session, {(int(r["receiver_id"]), hour_of(r["time"])) for r in rows})
    return len(rows)


def mark_hours(session: Session, pairs: Iterable[tuple[int, dt.datetime]]) -> None:
    """Record (receiver, hour) pairs for the next refresh (a pair already there stays once)."""
    values = [{"receiver_id": rid, "hour": hour} for rid, hour in sorted(set(pairs))]
    if not values:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(RfHourlyPending).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(RfHourlyPending).on_conflict_do_nothing()
    session.execute(stmt, values)


_AGGREGATES = (
    func.count().label("count"),
    func.avg(RfMeasurement.snr_db).label("snr_mean_db"),
    func.min(RfMeasurement.snr_db).label("snr_min_db"),
    func.max(RfMeasurement.snr_db).label("snr_max_db"),
    func.avg(RfMeasurement.signal_power_dbfs).label("signal_power_mean_dbfs"),
    func.avg(RfMeasurement.noise_floor_dbfs).label("noise_floor_mean_dbfs"),
    func.avg(RfMeasurement.frequency_offset_hz).label("frequency_offset_mean_hz"),
    func.avg(RfMeasurement.occupied_bandwidth_hz).label("occupied_bandwidth_mean_hz"),
)


def refresh_hourly(session: Session, *, now: dt.datetime | None = None) -> int:
    """Recompute the hourly aggregates of the (receiver, hour) pairs written to since the last
    refresh, and only those; the number of hours recomputed.

    The pending marks are removed first (PostgreSQL: a writer marking the same hour meanwhile
    waits for this transaction and marks it again afterwards, so no hour is left stale).
    """
    stamp = now or dt.datetime.now(dt.UTC)
    if _is_pg(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _REFRESH_LOCK})
    pending = session.execute(select(RfHourlyPending.receiver_id, RfHourlyPending.hour)).all()
    if not pending:
        return 0
    session.execute(delete(RfHourlyPending))
    for receiver_id, hour in pending:
        row = (
            session.execute(
                select(*_AGGREGATES).where(
                    RfMeasurement.receiver_id == receiver_id,
                    RfMeasurement.time >= hour,
                    RfMeasurement.time < hour + dt.timedelta(hours=1),
                )
            )
            .one()
            ._mapping
        )
        session.execute(
            delete(RfMeasurementHourly).where(
                RfMeasurementHourly.receiver_id == receiver_id, RfMeasurementHourly.hour == hour
            )
        )
        if row["count"]:
            session.add(
                RfMeasurementHourly(
                    receiver_id=receiver_id,
                    hour=hour,
                    refreshed_at=stamp,
                    **{k: (int(v) if k == "count" else float(v)) for k, v in row.items()},
                )
            )
    session.flush()
    return len(pending)


# ---- reads -------------------------------------------------------------------------------------


def _window(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    end = end or dt.datetime.now(dt.UTC)
    start = start or end - dt.timedelta(days=1)
    for name, t in (("start", start), ("end", end)):
        if t.tzinfo is None:
            raise InvalidInput(f"{name}: give a time zone (Z or an offset)")
    if end <= start:
        raise InvalidInput(f"end: {end.isoformat()} is not after start {start.isoformat()}")
    return start, end


def list_measurements(
    session: Session,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    receiver_id: int | None = None,
    acquisition_id: str | None = None,
    limit: int = 500,
    after: tuple[dt.datetime, int, str] | None = None,
) -> list[RfMeasurement]:
    """Raw measurements with ``start <= time < end`` by (time, receiver, acquisition), at most
    ``limit``, after the keyset ``after`` (the last row of the previous page)."""
    start, end = _window(start, end)
    q = select(RfMeasurement).where(RfMeasurement.time >= start, RfMeasurement.time < end)
    if receiver_id is not None:
        q = q.where(RfMeasurement.receiver_id == receiver_id)
    if acquisition_id is not None:
        q = q.where(RfMeasurement.acquisition_id == acquisition_id)
    if after is not None:
        t, rid, aid = after
        q = q.where(
            or_(
                RfMeasurement.time > t,
                and_(RfMeasurement.time == t, RfMeasurement.receiver_id > rid),
                and_(
                    RfMeasurement.time == t,
                    RfMeasurement.receiver_id == rid,
                    RfMeasurement.acquisition_id > aid,
                ),
            )
        )
    q = q.order_by(RfMeasurement.time, RfMeasurement.receiver_id, RfMeasurement.acquisition_id)
    return list(session.scalars(q.limit(limit)))


def list_hourly(
    session: Session,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    receiver_id: int | None = None,
    limit: int = 500,
    after: tuple[dt.datetime, int] | None = None,
) -> list[RfMeasurementHourly]:
    """Hourly aggregates with ``start <= hour < end`` by (hour, receiver)."""
    start, end = _window(start, end)
    q = select(RfMeasurementHourly).where(
        RfMeasurementHourly.hour >= hour_of(start), RfMeasurementHourly.hour < end
    )
    if receiver_id is not None:
        q = q.where(RfMeasurementHourly.receiver_id == receiver_id)
    if after is not None:
        h, rid = after
        q = q.where(
            or_(
                RfMeasurementHourly.hour > h,
                and_(RfMeasurementHourly.hour == h, RfMeasurementHourly.receiver_id > rid),
            )
        )
    q = q.order_by(RfMeasurementHourly.hour, RfMeasurementHourly.receiver_id)
    return list(session.scalars(q.limit(limit)))


def measurement_json(m: RfMeasurement) -> dict[str, Any]:
    return {
        "time": m.time,
        "receiver_id": m.receiver_id,
        "acquisition_id": m.acquisition_id,
        **{f: getattr(m, f) for f in MEASUREMENT_FIELDS},
        "psd_summary": m.psd_summary,
    }


def hourly_json(h: RfMeasurementHourly) -> dict[str, Any]:
    return {
        "hour": h.hour,
        "receiver_id": h.receiver_id,
        "count": h.count,
        "snr_mean_db": h.snr_mean_db,
        "snr_min_db": h.snr_min_db,
        "snr_max_db": h.snr_max_db,
        "signal_power_mean_dbfs": h.signal_power_mean_dbfs,
        "noise_floor_mean_dbfs": h.noise_floor_mean_dbfs,
        "frequency_offset_mean_hz": h.frequency_offset_mean_hz,
        "occupied_bandwidth_mean_hz": h.occupied_bandwidth_mean_hz,
        "refreshed_at": h.refreshed_at,
    }


# ---- retention -----------------------------------------------------------------------------------


@dataclass
class PruneReport:
    cutoff: dt.datetime
    partitions_dropped: list[str] = field(default_factory=list)
    measurements_deleted: int = 0
    acquisitions_deleted: int = 0
    #: Object keys removed from the store once the caller's transaction committed.
    object_keys: list[str] = field(default_factory=list)
    objects_deleted: int = 0


def capture_keys(captures: dict[str, Any] | None) -> list[str]:
    """Every object key an acquisition's ``captures`` names."""
    keys = []
    for cap in (captures or {}).values():
        for k in ("meta_key", "data_key"):
            if isinstance(cap, dict) and cap.get(k):
                keys.append(str(cap[k]))
    return keys


def prune(
    session: Session,
    store: ObjectStore,
    older_than_days: int,
    *,
    now: dt.datetime | None = None,
) -> PruneReport:
    """Retention: drop everything before midnight UTC of ``now - older_than_days``.

    PostgreSQL drops whole daily partitions (TimescaleDB: ``drop_chunks``); SQLite deletes the
    rows. Acquisitions started before the cutoff go with their localizations, and their IQ
    objects are removed from the store *after the caller commits* (a listener on this session):
    a rollback leaves rows and objects as they were, and a crash between the commit and the
    deletion leaves objects no row names, which the sweeper removes.
    """
    if not isinstance(older_than_days, int) or older_than_days < 0:
        raise InvalidInput(f"older_than_days: a whole number >= 0, got {older_than_days!r}")
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    cutoff_day = (stamp - dt.timedelta(days=older_than_days)).date()
    cutoff = dt.datetime(cutoff_day.year, cutoff_day.month, cutoff_day.day, tzinfo=dt.UTC)
    report = PruneReport(cutoff=cutoff)
    if partitioned(session):
        for name, day in list_partitions(session):
            if day < cutoff_day:
                lo = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
                n = session.execute(
                    select(func.count())
                    .select_from(RfMeasurement)
                    .where(RfMeasurement.time >= lo, RfMeasurement.time < lo + dt.timedelta(1))
                ).scalar()
                session.execute(text(f"DROP TABLE {partition_name(day)}"))
                report.partitions_dropped.append(name)
                report.measurements_deleted += int(n or 0)
    elif timescale_enabled(session):
        n = session.execute(
            select(func.count()).select_from(RfMeasurement).where(RfMeasurement.time < cutoff)
        ).scalar_one()
        session.execute(
            text("SELECT drop_chunks('rf_measurement', older_than => :c)"), {"c": cutoff}
        )
        report.measurements_deleted += int(n)
    # Rows the partitions did not hold (SQLite), and those of old acquisitions.
    res: Any = session.execute(delete(RfMeasurement).where(RfMeasurement.time < cutoff))
    report.measurements_deleted += int(res.rowcount or 0)
    session.execute(delete(RfMeasurementHourly).where(RfMeasurementHourly.hour < cutoff))
    session.execute(delete(RfHourlyPending).where(RfHourlyPending.hour < cutoff))
    old = session.execute(
        select(RfAcquisition.id, RfAcquisition.captures).where(RfAcquisition.created_at < cutoff)
    ).all()
    if old:
        ids = [a.id for a in old]
        # Measurements of old acquisitions that lie after the cutoff leave the aggregates too.
        hours = session.execute(
            select(RfMeasurement.receiver_id, RfMeasurement.time).where(
                RfMeasurement.acquisition_id.in_(ids)
            )
        ).all()
        mark_hours(session, {(rid, hour_of(t)) for rid, t in hours})
        res = session.execute(delete(RfAcquisition).where(RfAcquisition.id.in_(ids)))
        report.acquisitions_deleted = int(res.rowcount or 0)
        for a in old:
            report.object_keys.extend(capture_keys(a.captures))
    session.flush()
    if report.object_keys:
        keys = list(report.object_keys)

        cancelled = [False]

        def _after_commit(_: Session) -> None:
            if not cancelled[0]:
                report.objects_deleted = store.delete_many(keys)

        def _after_rollback(_: Session) -> None:
            cancelled[0] = True

        event.listen(session, "after_rollback", _after_rollback, once=True)
        event.listen(session, "after_commit", _after_commit, once=True)
    return report
