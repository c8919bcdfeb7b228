"""Threat evaluation: track states at a time, scores of every (track, DA) pair, their storage."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session

from argus.db import bulk
from argus.db.models import Scenario, Track, TrackSample
from argus.tewa import kinematics, scoring
from argus.tewa import quality as quality_engine
from argus.tewa import state as state_engine
from argus.tewa.ingest import datetime_to_us
from argus.tewa.service._common import Columns, _columns, _flat_json, _in_chunks, _iso
from argus.tewa.service.errors import InvalidInput
from argus.tewa.service.params import engine_params, params_use_quality
from argus.tewa.service.scenarios import scenario_assets
from argus.timefmt import iso_z

#: The raw components, normalized terms and score of every result, in output order.
SCORE_FIELDS = (
    "cpa_km",
    "tcpa_s",
    "tdb_km",
    "twrp_s",
    "n_cpa",
    "n_tcpa",
    "n_tdb",
    "n_twrp",
    "score",
)


@dataclass
class PairScore:
    """One (track, DA) result: the state used, the raw components, the normalized terms, the score.

    Infinite components (a track never reaching weapon range, a stationary track's TCPA) are
    ``math.inf`` here, ``null`` in JSON and ``NULL`` in the database.
    """

    track_pk: int
    track_id: str
    da_id: int
    da_name: str
    cpa_km: float
    tcpa_s: float
    tdb_km: float
    twrp_s: float
    n_cpa: float
    n_tcpa: float
    n_tdb: float
    n_twrp: float
    score: float
    status: str
    lat: float
    lon: float
    speed_mps: float
    heading_deg: float
    computed_at: dt.datetime | None = None
    #: The track-quality factor the score was multiplied by; None when the scenario does not
    #: use track quality.
    quality: float | None = None

    def as_json(self) -> dict[str, Any]:
        return _flat_json(self)


@dataclass
class PairColumns:
    """The pairs of one computation as parallel arrays, (track, DA) track-major: what the engine
    produced, persisted without building a Python object per pair."""

    track_pk: npt.NDArray[np.int64]
    track_id: npt.NDArray[np.object_]
    da_id: npt.NDArray[np.int64]
    da_name: npt.NDArray[np.object_]
    scores: dict[str, npt.NDArray[np.float64]]  # SCORE_FIELDS
    status: npt.NDArray[np.object_]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    speed_mps: npt.NDArray[np.float64]
    heading_deg: npt.NDArray[np.float64]
    quality: npt.NDArray[np.float64] | None

    def __len__(self) -> int:
        return int(self.track_pk.shape[0])


@dataclass
class ComputeResult:
    scenario_id: int
    scenario: str
    when: dt.datetime
    method: str
    stale: list[str]
    not_started: list[str]
    persisted: int = 0
    columns: PairColumns | None = None
    #: The time the stored rows describe (``when``; set when persisted).
    computed_at: dt.datetime | None = None
    #: When the rows were computed (wall-clock UTC; set when persisted).
    evaluated_at: dt.datetime | None = None
    #: False only for a live computation (compute_now, the periodic tick), which feeds the
    #: live board; anything else is a what-if, stored (when asked) in threat_score_what_if.
    what_if: bool = True

    @property
    def n_pairs(self) -> int:
        return 0 if self.columns is None else len(self.columns)

    @cached_property
    def pairs(self) -> list[PairScore]:
        """One :class:`PairScore` per pair, built on first use (JSON, CLI tables, assignment)."""
        c = self.columns
        if c is None:
            return []
        n = len(c)
        columns: list[list[Any]] = [
            c.track_pk.tolist(),
            c.track_id.tolist(),
            c.da_id.tolist(),
            c.da_name.tolist(),
            *(c.scores[name].tolist() for name in SCORE_FIELDS),
            c.status.tolist(),
            c.lat.tolist(),
            c.lon.tolist(),
            c.speed_mps.tolist(),
            c.heading_deg.tolist(),
            [self.computed_at] * n,
            [None] * n if c.quality is None else c.quality.tolist(),
        ]
        # positional, in PairScore's field order (a test checks the two agree)
        return [PairScore(*row) for row in zip(*columns, strict=True)]

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario_id": self.scenario_id,
            "scenario": self.scenario,
            "when": iso_z(self.when),
            "method": self.method,
            "results": [p.as_json() for p in self.pairs],
            "stale": self.stale,
            "not_started": self.not_started,
            "persisted": self.persisted,
            "what_if": self.what_if,
            "evaluated_at": _iso(self.evaluated_at),
        }


def _bracketing_samples(session: Session, track_pks: list[int], when: dt.datetime) -> list[Any]:
    """For each track: the last sample at or before ``when`` and the first after it (≤ 2 rows)."""
    rows: list[Any] = []
    cols = (
        TrackSample.track_id,
        TrackSample.t,
        TrackSample.lat,
        TrackSample.lon,
        TrackSample.alt_m,
        TrackSample.speed_mps,
        TrackSample.heading_deg,
    )
    for chunk in _in_chunks(track_pks):
        for agg, cmp in ((func.max, TrackSample.t <= when), (func.min, TrackSample.t > when)):
            edge = (
                select(TrackSample.track_id.label("tid"), agg(TrackSample.t).label("te"))
                .where(TrackSample.track_id.in_(chunk), cmp)
                .group_by(TrackSample.track_id)
                .subquery()
            )
            rows.extend(
                session.execute(
                    select(*cols).join(
                        edge, (TrackSample.track_id == edge.c.tid) & (TrackSample.t == edge.c.te)
                    )
                ).all()
            )
    return rows


def _track_quality(session: Session, tracks: Columns, when: dt.datetime) -> npt.NDArray[np.float64]:
    """Quality factor of each track at ``when`` (argus.tewa.quality).

    A quality stored on the track row (set by an operator or a feed: ``PATCH /api/tracks/…``)
    wins. Otherwise it comes from what the samples tell: the age at ``when`` (``when`` minus the
    track's first sample) and the ``pos_sigma_m`` of its last sample at or before ``when``. An
    input that is not known does not discount: a sample without ``pos_sigma_m`` has no position
    factor, a track without samples no age factor.
    """
    pks = list(tracks["id"])
    n = len(pks)
    index_of = {pk: k for k, pk in enumerate(pks)}
    first_us = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    for chunk in _in_chunks(pks):
        for tid, t0 in session.execute(
            select(TrackSample.track_id, func.min(TrackSample.t))
            .where(TrackSample.track_id.in_(chunk), TrackSample.t <= when)
            .group_by(TrackSample.track_id)
        ):
            first_us[index_of[tid]] = datetime_to_us(t0)
        last = (
            select(TrackSample.track_id.label("tid"), func.max(TrackSample.t).label("te"))
            .where(TrackSample.track_id.in_(chunk), TrackSample.t <= when)
            .group_by(TrackSample.track_id)
            .subquery()
        )
        for tid, sig in session.execute(
            select(TrackSample.track_id, TrackSample.pos_sigma_m).join(
                last, (TrackSample.track_id == last.c.tid) & (TrackSample.t == last.c.te)
            )
        ):
            if sig is not None:
                sigma[index_of[tid]] = sig
    age_s = np.where(np.isnan(first_us), np.inf, (datetime_to_us(when) - first_us) / 1e6)
    q = quality_engine.quality_from_track(
        np.maximum(age_s, 0.0), np.where(np.isnan(sigma), 0.0, sigma)
    )
    stored = np.array([np.nan if q is None else q for q in tracks["quality"]], dtype=np.float64)
    return np.where(np.isnan(stored), q, stored)


def compute_at(
    session: Session,
    scenario: Scenario,
    when: dt.datetime,
    *,
    da_ids: list[int] | None = None,
    method: str = "linear",
    weapon_range_km: float | None = None,
    persist: bool = False,
    live: bool = False,
    max_extrapolation_s: float = state_engine.DEFAULT_MAX_EXTRAPOLATION_S,
    evaluated_at: dt.datetime | None = None,
) -> ComputeResult:
    """Threat scores of every track of ``scenario`` against its DAs at ``when``.

    Each track's state at ``when`` comes from its samples (``method`` "linear" or "latest";
    dead-reckoned up to ``max_extrapolation_s`` after the last sample, else stale); a track
    without samples uses its row. Nothing is stored unless ``persist``; then all scores go in
    one statement, ``computed_at = when`` (the time they describe) and ``evaluated_at`` (when
    they were computed; default: the wall clock now):

    - ``live=True`` (compute_now, the periodic tick only: ``when`` is the scenario's own "now"):
      into ``threat_score``, which feeds the live board. A repeated (scenario, described time,
      evaluated_at) writes nothing twice; a later evaluation of a described time already stored
      (a replay scenario on its next loop) updates those rows in place.
    - otherwise a what-if: into ``threat_score_what_if``, never touching the live board.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput("when: must carry a time zone (e.g. 2025-06-01T06:03:00Z)")
    if method not in ("linear", "latest"):
        raise InvalidInput(f"method: must be 'linear' or 'latest', got {method!r}")
    if weapon_range_km is not None and not (math.isfinite(weapon_range_km) and weapon_range_km > 0):
        raise InvalidInput(f"weapon_range_km: must be a finite number > 0, got {weapon_range_km}")
    if live and not persist:
        raise InvalidInput("live: a live computation is always stored (persist=True)")
    when = when.astimezone(dt.UTC)
    assets = scenario_assets(session, scenario, da_ids=da_ids)
    params = engine_params(session, scenario)
    tracks = _columns(
        session.execute(
            select(
                Track.id,
                Track.track_id,
                Track.lat,
                Track.lon,
                Track.alt_m,
                Track.speed_mps,
                Track.heading_deg,
                Track.quality,
            )
            .where(Track.scenario_id == scenario.id)
            .order_by(Track.track_id)
        ).all()
    )
    result = ComputeResult(scenario.id, scenario.name, when, method, [], [], what_if=not live)
    if persist:
        result.computed_at = when
        result.evaluated_at = (evaluated_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    if not tracks or not assets:
        return result

    status, lat, lon, speed, heading = _track_states(
        session, tracks, when, method, max_extrapolation_s
    )
    valid = _usable(status)
    result.stale = [
        tracks["track_id"][k]
        for k in np.flatnonzero(status == state_engine.TrackStatus.STALE).tolist()
    ]
    result.not_started = [
        tracks["track_id"][k]
        for k in np.flatnonzero(status == state_engine.TrackStatus.NOT_STARTED).tolist()
    ]
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return result

    wr = kinematics.resolve_weapon_range_km(
        len(assets),
        override_km=weapon_range_km,
        per_asset_km=np.array(
            [np.nan if a.weapon_range_km is None else a.weapon_range_km for a in assets]
        ),
        params_km=params.weapon_range_km,
    )
    kin = kinematics.pair_kinematics(
        lat[idx],
        lon[idx],
        speed[idx],
        heading[idx],
        np.array([a.lat for a in assets]),
        np.array([a.lon for a in assets]),
        np.array([a.radius_km for a in assets]),
        weapon_range_km=wr,
    )
    quality = None
    if params_use_quality(session, scenario):
        quality = _track_quality(session, tracks, when)[idx]
    sc = scoring.score_pairs(kin, params, track_quality=quality)
    status_name = np.array(
        [_STATUS_NAMES.get(int(v), "") for v in range(int(status.max(initial=0)) + 1)],
        dtype=object,
    )
    n_da = len(assets)
    pk = np.array(tracks["id"], dtype=np.int64)
    names = np.array(tracks["track_id"], dtype=object)
    result.columns = PairColumns(
        track_pk=np.repeat(pk[idx], n_da),
        track_id=np.repeat(names[idx], n_da),
        da_id=np.tile(np.array([a.id for a in assets], dtype=np.int64), idx.size),
        da_name=np.tile(np.array([a.name for a in assets], dtype=object), idx.size),
        scores={
            name: np.asarray(getattr(sc, name), dtype=np.float64).reshape(-1)
            for name in SCORE_FIELDS
        },
        status=np.repeat(status_name[status[idx]], n_da),
        lat=np.repeat(lat[idx], n_da),
        lon=np.repeat(lon[idx], n_da),
        speed_mps=np.repeat(speed[idx], n_da),
        heading_deg=np.repeat(heading[idx], n_da),
        quality=None if quality is None else np.repeat(quality, n_da),
    )
    if persist:
        assert result.evaluated_at is not None
        result.persisted = _persist_scores(
            session,
            scenario.id,
            when,
            result.evaluated_at,
            result.columns,
            params.weights,
            live=live,
        )
        if live:
            # The live board's new body, rendered once here (PostgreSQL), so the readers that
            # miss their cache after this batch never re-rank (a cycle import: ranking uses
            # this module's SCORE_FIELDS).
            from argus.tewa.service.ranking import store_ranking_snapshot

            store_ranking_snapshot(session, scenario)
    return result


def _usable(status: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
    return np.asarray(
        (status == state_engine.TrackStatus.NO_SAMPLES)
        | (status == state_engine.TrackStatus.OK)
        | (status == state_engine.TrackStatus.EXTRAPOLATED)
    )


def _track_states(
    session: Session,
    tracks: Columns,
    when: dt.datetime,
    method: str,
    max_extrapolation_s: float,
) -> tuple[
    npt.NDArray[np.int8],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Status, lat, lon, speed and heading of each track row at ``when`` (vectorized engine call).

    ``tracks`` (columns of track rows) has id, track_id, lat, lon, speed_mps and heading_deg; a
    track with no samples keeps its row's state (status NO_SAMPLES).
    """
    pks = list(tracks["id"])
    n_tracks = len(pks)
    index_of = {pk: k for k, pk in enumerate(pks)}
    rows = _bracketing_samples(session, pks, when)
    if rows:
        sample_cols = list(zip(*rows, strict=True))
        f = [np.asarray(c, dtype=np.float64) for c in sample_cols[2:]]
        states = state_engine.track_states_at(
            np.array([index_of[r] for r in sample_cols[0]], dtype=np.intp),
            np.array([datetime_to_us(t) for t in sample_cols[1]], dtype=np.int64),
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            when_us=when,
            method="latest" if method == "latest" else "linear",
            max_extrapolation_s=max_extrapolation_s,
            n_tracks=n_tracks,
        )
        status = states.status.copy()
        lat, lon = states.lat_deg.copy(), states.lon_deg.copy()
        speed, heading = states.speed_mps.copy(), states.heading_deg.copy()
    else:
        status = np.full(n_tracks, state_engine.TrackStatus.NO_SAMPLES, dtype=np.int8)
        lat = np.full(n_tracks, np.nan)
        lon, speed, heading = lat.copy(), lat.copy(), lat.copy()
    own = status == state_engine.TrackStatus.NO_SAMPLES
    if own.any():
        row_state = np.array(
            [tracks["lat"], tracks["lon"], tracks["speed_mps"], tracks["heading_deg"]],
            dtype=np.float64,
        ).T
        lat[own], lon[own], speed[own], heading[own] = row_state[own].T
    return status, lat, lon, speed, heading


_STATUS_NAMES = {
    int(state_engine.TrackStatus.OK): "ok",
    int(state_engine.TrackStatus.EXTRAPOLATED): "extrapolated",
    int(state_engine.TrackStatus.STALE): "stale",
    int(state_engine.TrackStatus.NOT_STARTED): "not_started",
    int(state_engine.TrackStatus.NO_SAMPLES): "track_row",
}


def track_picture(
    session: Session,
    scenario: Scenario,
    when: dt.datetime,
    *,
    trail_s: float = 120.0,
    max_trail_points: int = 60,
) -> list[dict[str, Any]]:
    """Every track of the scenario at ``when``: state, status, IFF and a short trail (for maps)."""
    tracks = _columns(
        session.execute(
            select(
                Track.id,
                Track.track_id,
                Track.lat,
                Track.lon,
                Track.alt_m,
                Track.speed_mps,
                Track.heading_deg,
                Track.iff,
                Track.threat_class,
            )
            .where(Track.scenario_id == scenario.id)
            .order_by(Track.track_id)
        ).all()
    )
    if not tracks:
        return []
    status, lat, lon, speed, heading = _track_states(
        session, tracks, when, "linear", state_engine.DEFAULT_MAX_EXTRAPOLATION_S
    )
    trails: dict[int, list[tuple[float, float]]] = {}
    start = when - dt.timedelta(seconds=trail_s)
    for chunk in _in_chunks(list(tracks["id"])):
        for tid, la, lo in session.execute(
            select(TrackSample.track_id, TrackSample.lat, TrackSample.lon)
            .where(TrackSample.track_id.in_(chunk), TrackSample.t >= start, TrackSample.t <= when)
            .order_by(TrackSample.track_id, TrackSample.t)
        ):
            trails.setdefault(tid, []).append((la, lo))
    out = []
    per_track = zip(
        tracks["id"], tracks["track_id"], tracks["iff"], tracks["threat_class"], strict=True
    )
    for k, (pk, track_id, iff, threat_class) in enumerate(per_track):
        ok = bool(_usable(status[k : k + 1])[0])
        trail = trails.get(pk, [])[-max_trail_points:]
        out.append(
            {
                "track_id": track_id,
                "status": _STATUS_NAMES[int(status[k])],
                "iff": iff,
                "threat_class": threat_class,
                "lat": float(lat[k]) if ok else None,
                "lon": float(lon[k]) if ok else None,
                "speed_mps": float(speed[k]) if ok else None,
                "heading_deg": float(heading[k]) if ok else None,
                "trail": [[a, b] for a, b in trail]
                + ([[float(lat[k]), float(lon[k])]] if ok else []),
            }
        )
    return out


def _nullable(a: npt.NDArray[np.float64]) -> list[float | None]:
    """Floats with every non-finite value as None (NULL): +inf components are stored as NULL."""
    out = a.astype(object)
    out[~np.isfinite(a)] = None
    return list(out.tolist())


def _persist_scores(
    session: Session,
    scenario_id: int,
    stamp: dt.datetime,
    evaluated_at: dt.datetime,
    cols: PairColumns,
    weights: tuple[float, float, float, float],
    *,
    live: bool,
) -> int:
    """All rows of one batch in the caller's transaction, straight from the engine's arrays (no
    Python object per row). ``live``: into threat_score, where a row already stored for this
    described time is replaced only by a later evaluation (a replay's next loop), so a
    duplicated tick writes nothing; else into threat_score_what_if. PostgreSQL: one
    ``INSERT … SELECT FROM unnest(…)`` statement whatever the batch size. SQLite (no array
    parameters): one prepared ``INSERT`` run by the driver's executemany over all rows. The
    caller commits, so a batch is all-or-nothing. Returns the rows written.
    """
    if len(cols) == 0:
        return 0
    per_row: dict[str, list[Any]] = {
        "track_id": cols.track_pk.tolist(),
        "da_id": cols.da_id.tolist(),
        **{k: _nullable(cols.scores[k]) for k in ("cpa_km", "tcpa_s", "tdb_km", "twrp_s")},
        **{k: cols.scores[k].tolist() for k in ("n_cpa", "n_tcpa", "n_tdb", "n_twrp", "score")},
        "quality": [None] * len(cols) if cols.quality is None else cols.quality.tolist(),
    }
    batch: dict[str, Any] = {
        "scenario_id": scenario_id,
        "w_cpa": weights[0],
        "w_tcpa": weights[1],
        "w_tdb": weights[2],
        "w_twrp": weights[3],
        "computed_at": stamp,
        "evaluated_at": evaluated_at,
    }
    table = "threat_score" if live else "threat_score_what_if"
    conflict = (_LIVE_CONFLICT if live else _WHAT_IF_CONFLICT).format(table=table)
    if session.get_bind().dialect.name == "postgresql":
        result: Any = session.execute(
            sa_text(_PG_INSERT.format(table=table, conflict=conflict)), {**per_row, **batch}
        )
        return int(result.rowcount)  # one statement: its rowcount is exactly the rows written
    # SQLite: the batch-wide values repeat per row; the timestamps in the text form
    # SQLAlchemy's SQLite DATETIME stores (naive UTC), so range queries compare like with like.
    batch["computed_at"] = bulk.sqlite_datetime_text(stamp)
    batch["evaluated_at"] = bulk.sqlite_datetime_text(evaluated_at)
    names = [*per_row, *batch]
    rows = list(zip(*per_row.values(), *([v] * len(cols) for v in batch.values()), strict=True))
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "  # noqa: S608 - constant table and column names
        + conflict
    )
    # sqlite3 sums the rows each execution changed (rows skipped by ON CONFLICT and the
    # triggers' own updates are not counted), so rowcount is the rows written.
    return int(session.connection().exec_driver_sql(sql, rows).rowcount)


#: Live rows: one per (scenario, track, DA, described time); a later evaluation of the same
#: described time (a replay scenario's next loop) replaces the stored values, a duplicate of
#: one evaluation (a redelivered task) writes nothing.
_LIVE_CONFLICT = (
    "ON CONFLICT (scenario_id, track_id, da_id, computed_at) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (*SCORE_FIELDS, "quality", "w_cpa", "w_tcpa", "w_tdb", "w_twrp", "evaluated_at")
    )
    + " WHERE excluded.evaluated_at > {table}.evaluated_at"
)
_WHAT_IF_CONFLICT = (
    "ON CONFLICT (scenario_id, track_id, da_id, computed_at, evaluated_at) DO NOTHING"
)

#: A batch on PostgreSQL: each per-row column one array parameter, the batch-wide values
#: (scenario, weights, computed_at, evaluated_at) scalars, one statement (``_persist_scores``).
#: ``{table}`` and ``{conflict}`` are filled from the constants above, never from input.
_PG_INSERT = """
    INSERT INTO {table} (
        track_id, da_id, cpa_km, tcpa_s, tdb_km, twrp_s, n_cpa, n_tcpa, n_tdb, n_twrp, score,
        quality, scenario_id, w_cpa, w_tcpa, w_tdb, w_twrp, computed_at, evaluated_at)
    SELECT u.track_id, u.da_id, u.cpa_km, u.tcpa_s, u.tdb_km, u.twrp_s, u.n_cpa, u.n_tcpa,
        u.n_tdb, u.n_twrp, u.score, u.quality,
        :scenario_id, :w_cpa, :w_tcpa, :w_tdb, :w_twrp, :computed_at, :evaluated_at
    FROM unnest(
        CAST(:track_id AS bigint[]), CAST(:da_id AS bigint[]),
        CAST(:cpa_km AS float8[]), CAST(:tcpa_s AS float8[]),
        CAST(:tdb_km AS float8[]), CAST(:twrp_s AS float8[]),
        CAST(:n_cpa AS float8[]), CAST(:n_tcpa AS float8[]),
        CAST(:n_tdb AS float8[]), CAST(:n_twrp AS float8[]),
        CAST(:score AS float8[]), CAST(:quality AS float8[])
    ) AS u(track_id, da_id, cpa_km, tcpa_s, tdb_km, twrp_s, n_cpa, n_tcpa, n_tdb, n_twrp,
           score, quality)
    {conflict}
    """
