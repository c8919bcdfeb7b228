"""TEWA service: the one door between the TEWA engines and storage.

Functions take an open SQLAlchemy ``Session`` and never commit: the caller owns the
transaction (``argus.db.session.session_scope``), so an import is all-or-nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from argus.db import bulk
from argus.db.models import DefendedAsset, ModelParams, Scenario, ScenarioAsset, Track, TrackSample
from argus.logs import get_logger
from argus.tewa import demo
from argus.tewa.ingest import (
    FileFormat,
    ParseResult,
    ProgressCallback,
    RowError,
    TrackFileError,
    TrackSamples,
    parse_track_file,
)

log = get_logger("argus.tewa.service")

_IN_CHUNK = 900  # stays under SQLite's bound-parameter limit


class NotFoundError(LookupError):
    """A named object (scenario, asset, track) does not exist."""


@dataclass
class ImportReport:
    """What an import did. ``errors`` lists rejected rows (only non-empty with ``partial``)."""

    scenario: str
    scenario_created: bool
    rows_read: int
    rows_valid: int
    inserted: int
    already_present: int
    tracks_created: int
    tracks_updated: int
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return len({e.line for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows_rejected"] = self.rows_rejected
        d["errors"] = [asdict(e) for e in self.errors]
        return d


# ---- scenarios and assets ----


def get_scenario(session: Session, name: str) -> Scenario:
    sc = session.scalar(select(Scenario).where(Scenario.name == name))
    if sc is None:
        known = session.scalars(select(Scenario.name).order_by(Scenario.name).limit(20)).all()
        hint = f"; known scenarios: {', '.join(known)}" if known else "; there are no scenarios yet"
        raise NotFoundError(f"no scenario named {name!r}{hint}")
    return sc


def get_or_create_scenario(
    session: Session, name: str, notes: str | None = None
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


def get_model_params(session: Session, scenario: Scenario) -> ModelParams:
    params = session.scalar(select(ModelParams).where(ModelParams.scenario_id == scenario.id))
    if params is None:  # only possible if someone deleted the row by hand
        session.execute(insert(ModelParams).values(scenario_id=scenario.id))
        params = session.scalar(select(ModelParams).where(ModelParams.scenario_id == scenario.id))
    assert params is not None
    return params


def upsert_defended_asset(
    session: Session, name: str, lat: float, lon: float, radius_km: float
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


# ---- track import ----


def _in_chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


def _latest_index_per_track(
    inverse: npt.NDArray[np.intp], t_us: npt.NDArray[np.int64], n_tracks: int
) -> npt.NDArray[np.intp]:
    """Row index of the latest sample of each track (vectorized: sort by (track, t), take the last)."""
    order = np.lexsort((t_us, inverse))
    last = np.empty(n_tracks, dtype=np.intp)
    last[inverse[order]] = order  # later (larger t) rows overwrite earlier ones
    return last


def import_samples(
    session: Session,
    scenario: Scenario,
    samples: TrackSamples,
    progress: ProgressCallback | None = None,
) -> tuple[int, int, int]:
    """Write validated samples; returns (inserted, tracks_created, tracks_updated).

    Idempotent on (track, t): samples already stored are skipped. Each touched track's row is
    set to its latest stored sample afterwards.
    """
    n = len(samples)
    if n == 0:
        return 0, 0, 0
    names, inverse = np.unique(samples.track_id.astype(str), return_inverse=True)
    name_list = names.tolist()

    existing: dict[str, int] = {}
    for chunk in _in_chunks(name_list):
        rows = session.execute(
            select(Track.track_id, Track.id).where(
                Track.scenario_id == scenario.id, Track.track_id.in_(chunk)
            )
        ).all()
        existing.update({r[0]: r[1] for r in rows})

    last = _latest_index_per_track(inverse, samples.t_us, len(name_list))
    missing = [k for k, name in enumerate(name_list) if name not in existing]
    if missing:
        session.execute(
            insert(Track),
            [
                {
                    "scenario_id": scenario.id,
                    "track_id": name_list[k],
                    "lat": float(samples.lat[last[k]]),
                    "lon": float(samples.lon[last[k]]),
                    "alt_m": float(samples.alt_m[last[k]]),
                    "speed_mps": float(samples.speed_mps[last[k]]),
                    "heading_deg": float(samples.heading_deg[last[k]]),
                }
                for k in missing
            ],
        )
        for chunk in _in_chunks([name_list[k] for k in missing]):
            rows = session.execute(
                select(Track.track_id, Track.id).where(
                    Track.scenario_id == scenario.id, Track.track_id.in_(chunk)
                )
            ).all()
            existing.update({r[0]: r[1] for r in rows})

    pk_of_name = np.array([existing[name] for name in name_list], dtype=np.int64)
    track_pk = pk_of_name[inverse]

    done = 0

    def _chunk(k: int) -> None:
        nonlocal done
        done += k
        if progress:
            progress("written", done, n)

    inserted = bulk.insert_track_samples(
        session.connection(),
        track_pk,
        samples.t_us,
        {
            "lat": samples.lat,
            "lon": samples.lon,
            "alt_m": samples.alt_m,
            "speed_mps": samples.speed_mps,
            "heading_deg": samples.heading_deg,
        },
        on_chunk=_chunk,
    )
    updated = _refresh_latest_state(session, pk_of_name.tolist()) if inserted else 0
    session.expire_all()
    return inserted, len(missing), updated


def _refresh_latest_state(session: Session, track_pks: list[int]) -> int:
    """Set each track row to its latest stored sample (the database decides what 'latest' is)."""
    updates: list[dict[str, Any]] = []
    for chunk in _in_chunks(track_pks):
        mt = (
            select(TrackSample.track_id.label("tid"), func.max(TrackSample.t).label("mt"))
            .where(TrackSample.track_id.in_(chunk))
            .group_by(TrackSample.track_id)
            .subquery()
        )
        rows = session.execute(
            select(
                TrackSample.track_id,
                TrackSample.lat,
                TrackSample.lon,
                TrackSample.alt_m,
                TrackSample.speed_mps,
                TrackSample.heading_deg,
            ).join(mt, (TrackSample.track_id == mt.c.tid) & (TrackSample.t == mt.c.mt))
        ).all()
        updates.extend(
            {
                "b_id": r[0],
                "lat": r[1],
                "lon": r[2],
                "alt_m": r[3],
                "speed_mps": r[4],
                "heading_deg": r[5],
            }
            for r in rows
        )
    if updates:
        session.connection().execute(
            update(Track.__table__)  # type: ignore[arg-type]
            .where(Track.__table__.c.id == bindparam("b_id"))
            .values(
                lat=bindparam("lat"),
                lon=bindparam("lon"),
                alt_m=bindparam("alt_m"),
                speed_mps=bindparam("speed_mps"),
                heading_deg=bindparam("heading_deg"),
                updated_at=dt.datetime.now(dt.UTC),
            ),
            updates,
        )
    return len(updates)


def import_tracks(
    session: Session,
    source: str | Path | ParseResult,
    scenario_name: str,
    *,
    partial: bool = False,
    create_scenario: bool = True,
    fmt: FileFormat | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Validate a track file and write its samples in the caller's transaction.

    Without ``partial`` a file with any bad row raises ``TrackFileError`` listing every bad row,
    and nothing is written. With ``partial`` the good rows are written and the bad ones reported.
    """
    parsed = (
        source
        if isinstance(source, ParseResult)
        else parse_track_file(source, fmt, progress=progress)
    )
    if parsed.errors and not partial:
        n_bad = len(parsed.bad_lines)
        raise TrackFileError(
            f"{n_bad} of {parsed.rows_read} rows rejected ({len(parsed.errors)} problems); nothing "
            "was imported. Fix the rows listed, or use --partial to import the good rows only.",
            parsed.errors,
        )
    if create_scenario:
        scenario, created = get_or_create_scenario(session, scenario_name)
    else:
        scenario, created = get_scenario(session, scenario_name), False
    inserted, tracks_created, tracks_updated = import_samples(
        session, scenario, parsed.samples, progress
    )
    report = ImportReport(
        scenario=scenario_name,
        scenario_created=created,
        rows_read=parsed.rows_read,
        rows_valid=len(parsed.samples),
        inserted=inserted,
        already_present=len(parsed.samples) - inserted,
        tracks_created=tracks_created,
        tracks_updated=tracks_updated,
        errors=parsed.errors,
        ignored_columns=parsed.ignored_columns,
    )
    log.info(
        "tracks_imported",
        scenario=scenario_name,
        rows_read=report.rows_read,
        inserted=inserted,
        already_present=report.already_present,
        rejected=report.rows_rejected,
    )
    return report


# ---- demo ----


def demo_tracks_path() -> Path:
    """The demo fixture shipped in the package (``argus/data/demo_tracks.csv``)."""
    return Path(str(resources.files("argus") / "data" / "demo_tracks.csv"))


@dataclass
class SeedReport:
    scenario_created: bool
    assets_attached: int
    samples_inserted: int


def seed_demo(session: Session) -> SeedReport:
    """Create (or complete) the demo scenario; running it again changes nothing."""
    scenario, created = get_or_create_scenario(
        session, demo.DEMO_SCENARIO, notes="Demo: two defended assets in Rajasthan, three tracks."
    )
    attached = 0
    for a in demo.DEMO_ASSETS:
        da = session.scalar(select(DefendedAsset).where(DefendedAsset.name == a.name))
        if da is None:
            da = upsert_defended_asset(session, a.name, a.lat, a.lon, a.radius_km)
        attached += attach_asset(session, scenario, da)
    if scenario.start_time is None:
        scenario.start_time = demo.DEMO_START
        scenario.end_time = demo.DEMO_START + dt.timedelta(seconds=demo.DEMO_DURATION_S)
    report = import_tracks(session, demo_tracks_path(), demo.DEMO_SCENARIO)
    return SeedReport(
        scenario_created=created, assets_attached=attached, samples_inserted=report.inserted
    )
