"""Track import: validated samples into track_sample, each track row set to its latest sample."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from argus.db import bulk
from argus.db.models import Scenario, Track, TrackSample
from argus.tewa.ingest import (
    FileFormat,
    ParseResult,
    ProgressCallback,
    RowError,
    TrackFileError,
    TrackSamples,
    parse_track_file,
)
from argus.tewa.service._common import _in_chunks
from argus.tewa.service.scenarios import get_or_create_scenario, get_scenario, log


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
    *,
    progress: ProgressCallback | None = None,
) -> tuple[int, int, int]:
    """Write validated samples; returns (inserted, tracks_created, tracks_updated).

    Idempotent on (track, t): samples already stored are skipped. Each touched track's row is
    set to its latest stored sample afterwards.
    """
    n = len(samples)
    if n == 0:
        return 0, 0, 0
    # Distinct names and each row's index into them, sorted by name (as np.unique gives them),
    # through pyarrow's hash table: np.unique sorts a million Python strings instead.
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(pa.array(samples.track_id, type=pa.string()))
    first_seen = encoded.dictionary.to_pylist()
    by_name = np.argsort(np.array(first_seen, dtype=object), kind="stable")
    rank = np.empty(by_name.size, dtype=np.intp)
    rank[by_name] = np.arange(by_name.size)
    inverse = rank[np.asarray(encoded.indices.to_numpy(), dtype=np.intp)]
    name_list = [first_seen[k] for k in by_name.tolist()]

    existing: dict[str, int] = {}
    for chunk in _in_chunks(name_list):
        rows = session.execute(
            select(Track.track_id, Track.id).where(
                Track.scenario_id == scenario.id, Track.track_id.in_(chunk)
            )
        ).all()
        existing.update({track_id: pk for track_id, pk in rows})

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
            existing.update({track_id: pk for track_id, pk in rows})

    pk_of_name = np.array([existing[name] for name in name_list], dtype=np.int64)
    track_pk = pk_of_name[inverse]

    done = 0

    def _chunk(k: int) -> None:
        nonlocal done
        done += k
        if progress:
            progress("written", done, n)

    columns = {
        "lat": samples.lat,
        "lon": samples.lon,
        "alt_m": samples.alt_m,
        "speed_mps": samples.speed_mps,
        "heading_deg": samples.heading_deg,
    }
    if samples.pos_sigma_m is not None:
        columns["pos_sigma_m"] = samples.pos_sigma_m
    inserted = bulk.insert_track_samples(
        session.connection(), track_pk, samples.t_us, columns, on_chunk=_chunk
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
                "b_id": track_pk,
                "lat": lat,
                "lon": lon,
                "alt_m": alt_m,
                "speed_mps": speed_mps,
                "heading_deg": heading_deg,
            }
            for track_pk, lat, lon, alt_m, speed_mps, heading_deg in rows
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
        session, scenario, parsed.samples, progress=progress
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
