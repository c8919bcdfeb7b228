"""What the defense pipeline keeps in the database: the run's configuration read from its
scenario, intercept orders (rounds taken in the same transaction), the event log, flight and
order outcomes, and the pipeline's tracks in the TEWA ``track`` / ``track_sample`` tables.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from argus.db.models import (
    BatteryType,
    DefendedAsset,
    InterceptOrder,
    MissileFlight,
    PipelineEvent,
    RadarSiteRow,
    RadarType,
    Scenario,
    StageCheckpoint,
    Track,
    TrackSample,
    Weapon,
)
from argus.db.models.tewa import ScenarioAsset
from argus.db.session import session_scope
from argus.defense.levels import LevelThresholds
from argus.defense.service.catalog import interceptor_type, radar_site
from argus.pipeline import events as ev
from argus.pipeline.stages import Asset, Battery, DefenseConfig, Order, Site
from argus.tewa.service.errors import InvalidInput, NotFoundError


def load_config(
    session: Session,
    scenario_id: int,
    run_tag: str,
    *,
    scan_interval_s: float = 0.5,
    detection_threshold_db: float = 12.0,
    thresholds: LevelThresholds | None = None,
    seed: int = 0,
) -> DefenseConfig:
    """The run configuration of a scenario: its radar sites, pipeline batteries and assets."""
    sc = session.get(Scenario, scenario_id)
    if sc is None:
        raise NotFoundError(f"scenario_id: no scenario {scenario_id}")
    rows = session.execute(
        select(RadarSiteRow, RadarType)
        .join(RadarType, RadarType.id == RadarSiteRow.radar_type_id)
        .where(RadarSiteRow.scenario_id == scenario_id)
        .order_by(RadarSiteRow.id)
    ).all()
    if not rows:
        raise InvalidInput(
            f"scenario {sc.name!r}: no radar_site rows (add one, or run `argus demo defense`)"
        )
    sites = tuple(Site(s.name, radar_site(s, t, k + 1)) for k, (s, t) in enumerate(rows))
    bats = session.execute(
        select(Weapon, BatteryType)
        .join(BatteryType, BatteryType.id == Weapon.battery_type_id)
        .where(Weapon.scenario_id == scenario_id)
        .order_by(Weapon.id)
    ).all()
    batteries = tuple(
        Battery(w.call_sign, w.id, w.lat, w.lon, w.alt_m, interceptor_type(t), w.fire_channels)
        for w, t in bats
    )
    assets = tuple(
        Asset(a.name, a.lat, a.lon, a.radius_km, a.value)
        for a in session.scalars(
            select(DefendedAsset)
            .join(ScenarioAsset, ScenarioAsset.da_id == DefendedAsset.id)
            .where(ScenarioAsset.scenario_id == scenario_id)
            .order_by(DefendedAsset.id)
        )
    )
    if not assets:
        raise InvalidInput(f"scenario {sc.name!r}: no defended assets to evaluate threats against")
    return DefenseConfig(
        scenario_id=scenario_id,
        run_tag=run_tag,
        sites=sites,
        batteries=batteries,
        assets=assets,
        scan_interval_s=scan_interval_s,
        detection_threshold_db=detection_threshold_db,
        thresholds=thresholds or LevelThresholds(),
        seed=seed,
    )


class DbCheckpoint:
    """A stage's saved state in ``stage_checkpoint`` (one row per run and stage, replaced at
    each save): the command centre saves after every cycle it publishes and loads at start."""

    def __init__(self, factory: sessionmaker[Session], run_id: str, stage: str) -> None:
        self.factory = factory
        self.run_id = run_id
        self.stage = stage

    def load(self) -> tuple[int, bytes] | None:
        with self.factory() as s:
            row = s.get(StageCheckpoint, (self.run_id, self.stage))
            return None if row is None else (int(row.cycle), bytes(row.state))

    def save(self, cycle: int, state: bytes) -> None:
        with session_scope(self.factory) as s:
            row = s.get(StageCheckpoint, (self.run_id, self.stage))
            now = dt.datetime.now(dt.UTC)
            if row is None:
                s.add(StageCheckpoint(run_id=self.run_id, stage=self.stage, cycle=cycle,
                                      state=state, saved_at=now))  # fmt: skip
            elif cycle >= row.cycle:  # never overwrite a later cycle (a stale process)
                row.cycle, row.state, row.saved_at = cycle, state, now


class DbOrderBook:
    """Orders and rounds in the database. :meth:`place` records the order and takes its round in
    one transaction with one conditional ``UPDATE weapon SET rounds = rounds - 1 WHERE rounds >= 1``
    (PostgreSQL locks the row and re-checks the condition on the committed row; SQLite runs it
    under its single writer lock), so two concurrent orders can never fire the last round twice.

    A read-then-write (``SELECT … FOR UPDATE``, then ``rounds -= 1``) was not enough: SQLite has
    no ``FOR UPDATE`` and pysqlite runs the ``SELECT`` before the write transaction begins, so two
    racing orders both read 1 round and both fired it (``tests/defense/test_orders_race.py``).
    """

    def __init__(self, factory: sessionmaker[Session], scenario_id: int) -> None:
        self.factory = factory
        self.scenario_id = scenario_id

    def rounds(self) -> dict[str, int]:
        with self.factory() as s:
            return dict(
                s.execute(
                    select(Weapon.call_sign, Weapon.rounds).where(
                        Weapon.scenario_id == self.scenario_id
                    )
                )
                .tuples()
                .all()
            )

    def _placed(self, order_id: str) -> bool:
        with self.factory() as s:
            return (
                s.scalar(select(InterceptOrder.id).where(InterceptOrder.order_id == order_id))
                is not None
            )

    def place(self, order: Order) -> bool:
        oid = str(order.order_id)
        try:
            with session_scope(self.factory) as s:
                if (
                    s.scalar(select(InterceptOrder.id).where(InterceptOrder.order_id == oid))
                    is not None
                ):
                    return True  # a replay of a placed order: publish it again, same id
                taken = s.execute(
                    update(Weapon)
                    .where(Weapon.id == order.battery.weapon_id, Weapon.rounds >= 1)
                    .values(rounds=Weapon.rounds - 1)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    return False  # no round left (or no such battery)
                s.add(
                    InterceptOrder(
                        order_id=oid, scenario_id=order.scenario_id,
                        weapon_id=order.battery.weapon_id, track_id=order.track_id,
                        shot=order.shot, pk=order.pk, ordered_at=order.at,
                    )
                )  # fmt: skip
                s.flush()
        except IntegrityError:
            # the (track, shot) was ordered by someone else first (the rollback gives the round
            # back), or the same order was placed concurrently: then it is a replay
            return self._placed(oid)
        return True


def _insert_ignore(session: Session, table: Any, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for lo in range(0, len(rows), 500):
        session.execute(
            ins(table).on_conflict_do_nothing(index_elements=[key]), rows[lo : lo + 500]
        )


def event_rows(events: Sequence[ev.Event], run_id: str) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        payload = e.model_dump(mode="json")
        rows.append(
            {
                "event_id": str(e.event_id),
                "subject": e.subject,
                "time": e.time,
                "causation_id": str(e.causation_id) if e.causation_id else None,
                "run_id": run_id,
                "flight_id": payload.get("flight_id")
                or payload.get("target_flight_id")
                or payload.get("truth_flight_id"),
                "track_id": payload.get("track_id"),
                "payload": payload,
            }
        )
    return rows


def record_events(
    session: Session,
    events: Sequence[ev.Event],
    run_id: str,
    *,
    skip: frozenset[str] = frozenset(),
) -> int:
    """Log ``events`` once each (a redelivered event is a no-op) and apply their outcomes to
    ``missile_flight`` and ``intercept_order``. Returns the number of events given."""
    keep = [e for e in events if e.subject not in skip]
    _insert_ignore(session, PipelineEvent.__table__, event_rows(keep, run_id), "event_id")
    for e in keep:  # outcomes: a handful per cycle (launches, detonations)
        if isinstance(e, ev.InterceptorLaunched):
            session.execute(
                update(InterceptOrder)
                .where(InterceptOrder.order_id == str(e.causation_id))
                .values(state="launched", interceptor_id=e.interceptor_id)
            )
        elif isinstance(e, ev.InterceptorDetonation):
            session.execute(
                update(InterceptOrder)
                .where(InterceptOrder.interceptor_id == e.interceptor_id)
                .values(
                    state="killed"
                    if e.kill
                    else ("aborted" if e.reason == "self_destruct" else "missed"),
                    miss_distance_m=e.miss_distance_m,
                )
            )
            if e.kill and e.target_flight_id:
                session.execute(
                    update(MissileFlight)
                    .where(
                        MissileFlight.flight_id == e.target_flight_id,
                        MissileFlight.state == "flying",
                    )
                    .values(
                        state="intercepted",
                        ended_at=e.time,
                        outcome={
                            "by": "interceptor",
                            "interceptor_id": e.interceptor_id,
                            "track_id": e.track_id,
                            "miss_distance_m": e.miss_distance_m,
                            "lat_deg": e.lat_deg,
                            "lon_deg": e.lon_deg,
                            "alt_m": e.alt_m,
                        },
                    )
                )
    return len(keep)


def record_launch(
    session: Session, event: ev.MissileLaunched, impact_at: dt.datetime | None,
    created_by: str | None = None,
) -> MissileFlight:  # fmt: skip
    """The ``missile_flight`` row of a launch (the event goes to the log with it)."""
    from argus.db.models import MissileType

    mt = session.scalars(
        select(MissileType).where(MissileType.name == event.missile_type)
    ).one_or_none()
    if mt is None:
        raise InvalidInput(f"missileType: unknown missile type {event.missile_type!r}")
    if event.scenario_id is None:
        raise InvalidInput("scenario_id: a launch belongs to a scenario")
    row = MissileFlight(
        flight_id=event.flight_id, scenario_id=event.scenario_id, missile_type_id=mt.id,
        launch_lat=event.lat_deg, launch_lon=event.lon_deg, target_lat=event.target_lat_deg,
        target_lon=event.target_lon_deg, trajectory=event.trajectory, launched_at=event.time,
        impact_at=impact_at, created_by=created_by,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def record_impacts(session: Session, flights: Sequence[Any], when: dt.datetime) -> None:
    """Flights that ended this cycle: at their aim point (``impacted``), or defeated by a soft
    kill (``aborted``, at the time it took effect)."""
    for f in flights:
        values: dict[str, Any]
        if getattr(f, "state", None) == "aborted":
            values = {"state": "aborted", "ended_at": when, "outcome": {"by": "soft_kill"}}
        else:
            values = {
                "state": "impacted",
                "ended_at": when,
                "outcome": {"by": "impact", "lat_deg": f.target_lat_deg,
                            "lon_deg": f.target_lon_deg},
            }  # fmt: skip
        session.execute(
            update(MissileFlight)
            .where(MissileFlight.flight_id == f.flight_id, MissileFlight.state == "flying")
            .values(**values)
        )


def write_tracks(session: Session, scenario_id: int, picture: Any) -> int:
    """The pipeline's confirmed tracks into ``track`` (upsert latest state) and one
    ``track_sample`` per track and cycle, so TEWA's endpoints and ranking read live data."""
    n = len(picture)
    if n == 0:
        return 0
    names = list(picture.track_id)
    have = dict(
        session.execute(
            select(Track.track_id, Track.id).where(
                Track.scenario_id == scenario_id, Track.track_id.in_(names)
            )
        )
        .tuples()
        .all()
    )
    v = picture.vel_enu_mps
    speed = np.hypot(v[:, 0], v[:, 1])
    heading = np.degrees(np.arctan2(v[:, 0], v[:, 1])) % 360.0
    heading = np.where(heading >= 360.0, 0.0, heading)
    klass = [
        {"ballistic_missile": "ballistic"}.get(lab, lab) if lab != "unknown" else "unknown"
        for lab in picture.label
    ]
    new = [
        {
            "scenario_id": scenario_id, "track_id": name, "lat": float(picture.lat_deg[i]),
            "lon": float(picture.lon_deg[i]), "alt_m": float(picture.alt_m[i]),
            "speed_mps": float(speed[i]), "heading_deg": float(heading[i]),
            "iff": "hostile" if klass[i] in ("ballistic", "cruise_missile", "drone") else "unknown",
            "threat_class": klass[i],
        }
        for i, name in enumerate(names)
        if name not in have
    ]  # fmt: skip
    if new:
        session.execute(insert(Track), new)
        have.update(
            session.execute(
                select(Track.track_id, Track.id).where(
                    Track.scenario_id == scenario_id,
                    Track.track_id.in_([r["track_id"] for r in new]),
                )
            )
            .tuples()
            .all()
        )
    # latest state: one executemany UPDATE by primary key (ORM bulk update)
    session.execute(
        update(Track),
        [
            {"id": have[name], "lat": float(picture.lat_deg[i]), "lon": float(picture.lon_deg[i]),
             "alt_m": float(picture.alt_m[i]), "speed_mps": float(speed[i]),
             "heading_deg": float(heading[i]), "threat_class": klass[i]}
            for i, name in enumerate(names)
        ],
    )  # fmt: skip
    samples = [
        {"track_id": have[name], "t": picture.time, "lat": float(picture.lat_deg[i]),
         "lon": float(picture.lon_deg[i]), "alt_m": float(picture.alt_m[i]),
         "speed_mps": float(speed[i]), "heading_deg": float(heading[i]),
         "pos_sigma_m": float(picture.sigma_m[i])}
        for i, name in enumerate(names)
    ]  # fmt: skip
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        ins(TrackSample).on_conflict_do_nothing(index_elements=["track_id", "t"]), samples
    )
    return n


def new_run_tag() -> str:
    return uuid.uuid4().hex[:8]


def count_events(session: Session, run_id: str | None = None) -> dict[str, int]:
    q = select(PipelineEvent.subject, func.count()).group_by(PipelineEvent.subject)
    if run_id is not None:
        q = q.where(PipelineEvent.run_id == run_id)
    return dict(session.execute(q).tuples().all())
