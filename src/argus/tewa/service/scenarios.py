"""Scenarios, defended assets and the scenario's DA set; the scenario's replay clock."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from argus.db.models import DefendedAsset, Scenario, ScenarioAsset, Track, TrackSample
from argus.db.session import read_first
from argus.logs import get_logger
from argus.tewa.service.errors import InvalidInput, NotFoundError

if TYPE_CHECKING:
    from argus.db.reader import AsyncReader

log = get_logger("argus.tewa.service")


def get_scenario(session: Session, name: str) -> Scenario:
    sc = session.scalar(select(Scenario).where(Scenario.name == name))
    if sc is None:
        known = session.scalars(select(Scenario.name).order_by(Scenario.name).limit(20)).all()
        hint = f"; known scenarios: {', '.join(known)}" if known else "; there are no scenarios yet"
        raise NotFoundError(f"no scenario named {name!r}{hint}")
    return sc


def get_or_create_scenario(
    session: Session, name: str, *, notes: str | None = None
) -> tuple[Scenario, bool]:
    """The scenario called ``name``, created if missing (its model params come from the database)."""
    sc = session.scalar(select(Scenario).where(Scenario.name == name))
    if sc is not None:
        return sc, False
    sc = Scenario(name=name, notes=notes)
    session.add(sc)
    session.flush()
    log.info("scenario_created", scenario=name, scenario_id=sc.id)
    return sc, True


def upsert_defended_asset(
    session: Session, name: str, *, lat: float, lon: float, radius_km: float
) -> DefendedAsset:
    da = session.scalar(select(DefendedAsset).where(DefendedAsset.name == name))
    if da is None:
        da = DefendedAsset(name=name, lat=lat, lon=lon, radius_km=radius_km)
        session.add(da)
    else:
        da.lat, da.lon, da.radius_km = lat, lon, radius_km
    session.flush()
    return da


def attach_asset(session: Session, scenario: Scenario, da: DefendedAsset) -> bool:
    """Add ``da`` to the scenario's DA set; False when it was already there."""
    exists = session.get(ScenarioAsset, (scenario.id, da.id))
    if exists is not None:
        return False
    session.add(ScenarioAsset(scenario_id=scenario.id, da_id=da.id))
    session.flush()
    return True


def scenario_assets(
    session: Session, scenario: Scenario, *, da_ids: list[int] | None = None
) -> list[DefendedAsset]:
    """The scenario's DA set (or the requested subset of it), ordered by id."""
    q = (
        select(DefendedAsset)
        .join(ScenarioAsset, ScenarioAsset.da_id == DefendedAsset.id)
        .where(ScenarioAsset.scenario_id == scenario.id)
        .order_by(DefendedAsset.id)
    )
    assets = list(session.scalars(q))
    if da_ids is not None:
        known = {a.id: a for a in assets}
        missing = [i for i in da_ids if i not in known]
        if missing:
            raise InvalidInput(
                f"da_ids: {missing} not in scenario {scenario.name!r}'s defended assets (it has {sorted(known)})"
            )
        assets = [known[i] for i in sorted(set(da_ids))]
    return assets


def find_scenario(session: Session, scenario_id: int) -> Scenario | None:
    """The scenario with id ``scenario_id``, or None."""
    return session.get(Scenario, scenario_id)


def scenario_time(scenario: Scenario, now: dt.datetime) -> dt.datetime:
    """The time a scenario is evaluated at when the wall clock reads ``now``.

    Replay scenarios loop over [start_time, end_time]; others use ``now``.
    """
    if (
        scenario.replay
        and scenario.start_time
        and scenario.end_time
        and scenario.end_time > scenario.start_time
    ):
        span = (scenario.end_time - scenario.start_time).total_seconds()
        offset = (now - scenario.start_time).total_seconds() % span
        return scenario.start_time + dt.timedelta(seconds=offset)
    return now


#: One scenario's ``scores_rev`` (bumped by triggers whenever its scores change), a module
#: constant: :class:`argus.db.reader.AsyncReader` compiles a statement once, keyed by identity.
SCENARIO_REVISION = select(Scenario.scores_rev).where(Scenario.id == bindparam("sid"))


def scenario_revision(engine: Engine, scenario_id: int) -> int | None:
    """The scenario's ``scores_rev`` in one autocommit read (no session); None if no scenario."""
    row = read_first(engine, SCENARIO_REVISION, {"sid": scenario_id})
    return None if row is None else int(row.scores_rev)


async def scenario_revision_async(reader: AsyncReader, scenario_id: int) -> int | None:
    """:func:`scenario_revision` awaited on the event loop through the API's reader."""
    row = await reader.first(SCENARIO_REVISION, {"sid": scenario_id})
    return None if row is None else int(row.scores_rev)


def find_track_pk(session: Session, scenario: Scenario, track_id: str) -> int | None:
    """The primary key of the scenario's track ``track_id``, or None."""
    return session.scalar(
        select(Track.id).where(Track.scenario_id == scenario.id, Track.track_id == track_id)
    )


def defended_asset_exists(session: Session, da_id: int) -> bool:
    return session.get(DefendedAsset, da_id) is not None


def asset_ids_by_name(session: Session, names: list[str]) -> dict[str, int]:
    """Name → id of the defended assets (any scenario's) among ``names``; missing names absent."""
    return {
        a.name: a.id
        for a in session.scalars(select(DefendedAsset).where(DefendedAsset.name.in_(names)))
    }


def asset_id_by_name(session: Session, name: str) -> int | None:
    return session.scalar(select(DefendedAsset.id).where(DefendedAsset.name == name))


# ---- listings (id-ordered pages: the rows with id > ``after``, at most ``limit``) ----


def _id_page(session: Session, stmt: Any, id_col: Any, *, after: int, limit: int) -> list[Any]:
    return list(session.scalars(stmt.where(id_col > after).order_by(id_col).limit(limit)))


def list_scenarios(session: Session, *, after: int = 0, limit: int = 100) -> list[Scenario]:
    """Scenarios with id > ``after``, by id, at most ``limit``."""
    return _id_page(session, select(Scenario), Scenario.id, after=after, limit=limit)


def scenario_id_by_name(session: Session, name: str) -> int | None:
    return session.scalar(select(Scenario.id).where(Scenario.name == name))


def create_scenario(session: Session, **fields: Any) -> Scenario:
    """A new scenario from ``fields`` (added, not flushed: the caller flushes and handles a
    unique-name race)."""
    sc = Scenario(**fields)
    session.add(sc)
    return sc


def update_scenario(session: Session, scenario: Scenario, **changes: Any) -> Scenario:
    """Set ``changes`` on the scenario (not flushed)."""
    for k, v in changes.items():
        setattr(scenario, k, v)
    return scenario


def delete_scenario(session: Session, scenario: Scenario) -> None:
    """Delete the scenario and everything in it."""
    session.delete(scenario)


def list_assets(session: Session, *, after: int = 0, limit: int = 100) -> list[DefendedAsset]:
    """Defended assets (every scenario's) with id > ``after``, by id, at most ``limit``."""
    return _id_page(session, select(DefendedAsset), DefendedAsset.id, after=after, limit=limit)


def find_asset(session: Session, da_id: int) -> DefendedAsset | None:
    """The defended asset with id ``da_id``, or None."""
    return session.get(DefendedAsset, da_id)


def create_asset(session: Session, **fields: Any) -> DefendedAsset:
    """A new defended asset from ``fields`` (added, not flushed)."""
    da = DefendedAsset(**fields)
    session.add(da)
    return da


def update_asset(session: Session, da: DefendedAsset, **changes: Any) -> DefendedAsset:
    """Set ``changes`` on the defended asset (not flushed)."""
    for k, v in changes.items():
        setattr(da, k, v)
    return da


def delete_asset(session: Session, da: DefendedAsset) -> None:
    session.delete(da)


def set_scenario_assets(session: Session, scenario: Scenario, *, da_ids: list[int]) -> None:
    """Replace the scenario's DA set by ``da_ids`` (which must exist; the new links are added,
    not flushed: the caller flushes and handles a concurrent change)."""
    for link in session.scalars(
        select(ScenarioAsset).where(ScenarioAsset.scenario_id == scenario.id)
    ):
        session.delete(link)
    session.flush()
    for i in sorted(set(da_ids)):
        session.add(ScenarioAsset(scenario_id=scenario.id, da_id=i))


def list_tracks(
    session: Session, scenario: Scenario, *, after: int = 0, limit: int = 100
) -> list[Track]:
    """The scenario's tracks (latest state) with id > ``after``, by id, at most ``limit``."""
    stmt = select(Track).where(Track.scenario_id == scenario.id)
    return _id_page(session, stmt, Track.id, after=after, limit=limit)


def find_track(session: Session, scenario: Scenario, track_id: str) -> Track | None:
    """The scenario's track ``track_id``, or None."""
    return session.scalar(
        select(Track).where(Track.scenario_id == scenario.id, Track.track_id == track_id)
    )


def list_samples(
    session: Session,
    track: Track,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    after: int = 0,
    limit: int = 500,
) -> list[TrackSample]:
    """The track's samples with start <= t <= end and id > ``after``, by id, at most ``limit``."""
    stmt = select(TrackSample).where(TrackSample.track_id == track.id)
    if start is not None:
        stmt = stmt.where(TrackSample.t >= start)
    if end is not None:
        stmt = stmt.where(TrackSample.t <= end)
    return _id_page(session, stmt, TrackSample.id, after=after, limit=limit)
