"""TEWA service: the one door between the TEWA engines and storage.

Functions take an open SQLAlchemy ``Session`` and never commit: the caller owns the
transaction (``argus.db.session.session_scope``), so an import is all-or-nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session

from argus.db import bulk
from argus.db.models import (
    Assignment,
    DefendedAsset,
    KillProbability,
    ModelParams,
    Scenario,
    ScenarioAsset,
    ThreatScore,
    ThreatScoreLatest,
    Track,
    TrackSample,
    Weapon,
)
from argus.db.models.tewa import ThreatScoreWhatIf
from argus.logs import get_logger
from argus.tewa import assignment as assignment_engine
from argus.tewa import demo, kinematics, presets, scoring
from argus.tewa import quality as quality_engine
from argus.tewa import state as state_engine
from argus.tewa.ingest import (
    FileFormat,
    ParseResult,
    ProgressCallback,
    RowError,
    TrackFileError,
    TrackSamples,
    datetime_to_us,
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
    weapons_added: int = 0


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
    scenario.replay = True  # the periodic job loops the recorded demo as if live
    report = import_tracks(session, demo_tracks_path(), demo.DEMO_SCENARIO)
    for tid, iff, cls in demo.DEMO_IDENTITIES:
        track = session.scalar(
            select(Track).where(Track.scenario_id == scenario.id, Track.track_id == tid)
        )
        if track is not None and track.iff == "unknown" and track.threat_class == "unknown":
            track.iff, track.threat_class = iff, cls
    weapons_added = 0
    existing = {w.call_sign for w in list_weapons(session, scenario)}
    for b in demo.DEMO_BATTERIES:
        if b["call_sign"] not in existing:
            add_weapon(session, scenario, **b)  # type: ignore[arg-type]
            weapons_added += 1
    for wt, tc, pk in demo.DEMO_KILL_PROBABILITIES:
        known = session.scalar(
            select(KillProbability.id).where(
                KillProbability.weapon_type == wt, KillProbability.threat_class == tc
            )
        )
        if known is None:
            set_kill_probability(session, wt, tc, pk)
    session.flush()
    return SeedReport(
        scenario_created=created,
        assets_attached=attached,
        samples_inserted=report.inserted,
        weapons_added=weapons_added,
    )


# ---- threat evaluation ----


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


class ValidationError(ValueError):
    """Bad input to a service call; the message names the field."""


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _flat_json(obj: Any) -> dict[str, Any]:
    """A flat dataclass as JSON values: infinities as null, datetimes as ISO 8601 with Z.

    Field by field: ``dataclasses.asdict`` deep-copies and cost ~60 us a row (68 ms for a
    1,000-track board on PostgreSQL), more than the ranking query itself.
    """
    d: dict[str, Any] = {}
    for k in _field_names(type(obj)):
        v = getattr(obj, k)
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif isinstance(v, dt.datetime):
            v = v.isoformat().replace("+00:00", "Z")
        d[k] = v
    return d


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
            "when": self.when.isoformat().replace("+00:00", "Z"),
            "method": self.method,
            "results": [p.as_json() for p in self.pairs],
            "stale": self.stale,
            "not_started": self.not_started,
            "persisted": self.persisted,
            "what_if": self.what_if,
            "evaluated_at": _iso(self.evaluated_at),
        }


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _or_inf(x: float | None) -> float:
    return math.inf if x is None else float(x)


def scenario_assets(
    session: Session, scenario: Scenario, da_ids: list[int] | None = None
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
            raise ValidationError(
                f"da_ids: {missing} not in scenario {scenario.name!r}'s defended assets (it has {sorted(known)})"
            )
        assets = [known[i] for i in sorted(set(da_ids))]
    return assets


def engine_params(session: Session, scenario: Scenario) -> scoring.ThreatModelParams:
    """The scenario's stored model params as the engine's parameter object."""
    return scoring.coerce_params(get_model_params(session, scenario))


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


def _track_quality(
    session: Session, tracks: Sequence[Any], when: dt.datetime
) -> npt.NDArray[np.float64]:
    """Quality factor of each track at ``when`` (argus.tewa.quality).

    A quality stored on the track row (set by an operator or a feed: ``PATCH /api/tracks/…``)
    wins. Otherwise it comes from what the samples tell: the age at ``when`` (``when`` minus the
    track's first sample) and the ``pos_sigma_m`` of its last sample at or before ``when``. An
    input that is not known does not discount: a sample without ``pos_sigma_m`` has no position
    factor, a track without samples no age factor.
    """
    n = len(tracks)
    pks = [t[0] for t in tracks]
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
    stored = np.array([np.nan if t[7] is None else t[7] for t in tracks], dtype=np.float64)
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
        raise ValidationError("when: must carry a time zone (e.g. 2025-06-01T06:03:00Z)")
    if method not in ("linear", "latest"):
        raise ValidationError(f"method: must be 'linear' or 'latest', got {method!r}")
    if weapon_range_km is not None and not (math.isfinite(weapon_range_km) and weapon_range_km > 0):
        raise ValidationError(
            f"weapon_range_km: must be a finite number > 0, got {weapon_range_km}"
        )
    if live and not persist:
        raise ValidationError("live: a live computation is always stored (persist=True)")
    when = when.astimezone(dt.UTC)
    assets = scenario_assets(session, scenario, da_ids)
    params = engine_params(session, scenario)
    tracks = session.execute(
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
        tracks[k][1] for k in np.flatnonzero(status == state_engine.TrackStatus.STALE).tolist()
    ]
    result.not_started = [
        tracks[k][1]
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
    pk = np.array([t[0] for t in tracks], dtype=np.int64)
    names = np.array([t[1] for t in tracks], dtype=object)
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
    return result


def _usable(status: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
    return np.asarray(
        (status == state_engine.TrackStatus.NO_SAMPLES)
        | (status == state_engine.TrackStatus.OK)
        | (status == state_engine.TrackStatus.EXTRAPOLATED)
    )


def _track_states(
    session: Session,
    tracks: Sequence[Any],
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

    ``tracks`` rows are (id, track_id, lat, lon, alt_m, speed_mps, heading_deg, …); a track with
    no samples keeps its row's state (status NO_SAMPLES).
    """
    pks = [t[0] for t in tracks]
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
            n_tracks=len(tracks),
        )
        status = states.status.copy()
        lat, lon = states.lat_deg.copy(), states.lon_deg.copy()
        speed, heading = states.speed_mps.copy(), states.heading_deg.copy()
    else:
        status = np.full(len(tracks), state_engine.TrackStatus.NO_SAMPLES, dtype=np.int8)
        lat = np.full(len(tracks), np.nan)
        lon, speed, heading = lat.copy(), lat.copy(), lat.copy()
    own = status == state_engine.TrackStatus.NO_SAMPLES
    if own.any():
        row_state = np.array([[t[2], t[3], t[5], t[6]] for t in tracks], dtype=np.float64)
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
    trail_s: float = 120.0,
    max_trail_points: int = 60,
) -> list[dict[str, Any]]:
    """Every track of the scenario at ``when``: state, status, IFF and a short trail (for maps)."""
    tracks = session.execute(
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
    if not tracks:
        return []
    status, lat, lon, speed, heading = _track_states(
        session, tracks, when, "linear", state_engine.DEFAULT_MAX_EXTRAPOLATION_S
    )
    trails: dict[int, list[tuple[float, float]]] = {}
    start = when - dt.timedelta(seconds=trail_s)
    for chunk in _in_chunks([t[0] for t in tracks]):
        for tid, la, lo in session.execute(
            select(TrackSample.track_id, TrackSample.lat, TrackSample.lon)
            .where(TrackSample.track_id.in_(chunk), TrackSample.t >= start, TrackSample.t <= when)
            .order_by(TrackSample.track_id, TrackSample.t)
        ):
            trails.setdefault(tid, []).append((la, lo))
    out = []
    for k, t in enumerate(tracks):
        ok = bool(_usable(status[k : k + 1])[0])
        trail = trails.get(t[0], [])[-max_trail_points:]
        out.append(
            {
                "track_id": t[1],
                "status": _STATUS_NAMES[int(status[k])],
                "iff": t[7],
                "threat_class": t[8],
                "lat": float(lat[k]) if ok else None,
                "lon": float(lon[k]) if ok else None,
                "speed_mps": float(speed[k]) if ok else None,
                "heading_deg": float(heading[k]) if ok else None,
                "trail": [[a, b] for a, b in trail]
                + ([[float(lat[k]), float(lon[k])]] if ok else []),
            }
        )
    return out


def params_use_quality(session: Session, scenario: Scenario) -> bool:
    return bool(get_model_params(session, scenario).use_track_quality)


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


# ---- ranking and history ----


@dataclass
class RankedThreat:
    rank: int
    track_id: str
    da_id: int
    da_name: str
    score: float
    cpa_km: float
    tcpa_s: float
    tdb_km: float
    twrp_s: float
    n_cpa: float | None
    n_tcpa: float | None
    n_tdb: float | None
    n_twrp: float | None
    #: The time the score describes.
    computed_at: dt.datetime
    #: When it was computed (wall-clock UTC).
    evaluated_at: dt.datetime
    #: True when the row is a stored what-if (threat_score_what_if), never the live board.
    what_if: bool = False

    def as_json(self) -> dict[str, Any]:
        return _flat_json(self)


def latest_scores(
    session: Session,
    scenario: Scenario,
    at: dt.datetime | None = None,
    da_id: int | None = None,
    *,
    best_per_track: bool = False,
    what_if: bool = False,
) -> list[Any]:
    """For each (track, DA) of the scenario, its latest score row at or before ``at``.

    Live (``what_if`` False): without ``at``, the most recently evaluated live row of each
    pair (threat_score_latest, kept by triggers): the live board follows the scenario's own
    "now", which for a replay scenario goes back to the start after every loop. With ``at``:
    the row describing the newest time <= ``at`` (the most recently evaluated of equals).
    ``what_if``: the same two rules over the stored what-ifs (threat_score_what_if).

    With ``best_per_track`` the database also keeps only each track's best pair (highest score,
    then the smaller TCPA with unknown or negative TCPA last, then the smaller DA id), so a
    global ranking fetches one row per track instead of one per (track, DA). Both steps are
    window functions (``row_number() OVER (PARTITION BY …)``), the same SQL on PostgreSQL and
    SQLite (>= 3.25); on PostgreSQL the first reads the unique (scenario_id, track_id, da_id,
    computed_at) index in order, where the former ``GROUP BY`` + join probed it once per pair.
    """
    ts: Any = ThreatScoreWhatIf if what_if else ThreatScore
    conds = [ts.scenario_id == scenario.id]
    if at is not None:
        conds.append(ts.computed_at <= at)
    if da_id is not None:
        conds.append(ts.da_id == da_id)
    cols = [
        ts.track_id,
        ts.da_id,
        ts.score,
        ts.cpa_km,
        ts.tcpa_s,
        ts.tdb_km,
        ts.twrp_s,
        ts.n_cpa,
        ts.n_tcpa,
        ts.n_tdb,
        ts.n_twrp,
        ts.computed_at,
        ts.evaluated_at,
    ]
    rows: Any
    if at is None and not what_if:
        # "Now": the newest row of each pair is kept by triggers in threat_score_latest
        # (migration 0010), one row per pair whatever the stored history.
        lt = ThreatScoreLatest
        lconds = [lt.scenario_id == scenario.id]
        if da_id is not None:
            lconds.append(lt.da_id == da_id)
        rows = (
            select(*cols)
            .select_from(lt)
            .join(ts, ts.id == lt.score_id)
            .where(*lconds)
            .subquery("pairs")
        )
    else:
        order = (
            (ts.evaluated_at.desc(), ts.id.desc())
            if at is None
            else (ts.computed_at.desc(), ts.evaluated_at.desc(), ts.id.desc())
        )
        newest = func.row_number().over(partition_by=(ts.track_id, ts.da_id), order_by=order)
        latest = select(*cols, newest.label("rn")).where(*conds).subquery("latest")
        rows = select(latest).where(latest.c.rn == 1).subquery("pairs")
    if best_per_track:
        not_urgent = or_(rows.c.tcpa_s.is_(None), rows.c.tcpa_s < 0)
        no_urgency = case((not_urgent, 1), else_=0)
        # Unknown and negative TCPA are equally "no urgency" (ties go to the smaller DA id):
        # ordering those by the raw tcpa_s would rank a NULL against a -10 differently on
        # SQLite (NULLs first) and PostgreSQL (NULLs last), and unlike rank()'s own sort.
        urgent_tcpa = case((not_urgent, None), else_=rows.c.tcpa_s)
        best = func.row_number().over(
            partition_by=rows.c.track_id,
            order_by=(rows.c.score.desc(), no_urgency, urgent_tcpa, rows.c.da_id),
        )
        ranked = select(rows, best.label("bn")).subquery("ranked")
        rows = select(ranked).where(ranked.c.bn == 1).subquery("best")
    q = (
        select(
            Track.track_id,
            rows.c.da_id,
            DefendedAsset.name,
            *(rows.c[c.key] for c in cols[2:]),
        )
        .select_from(rows)
        .join(Track, Track.id == rows.c.track_id)
        .join(DefendedAsset, DefendedAsset.id == rows.c.da_id)
    )
    # Core execution: plain tuples, without the ORM's per-row loading machinery.
    return list(session.connection().execute(q).all())


def rank(
    session: Session,
    scenario: Scenario,
    *,
    at: dt.datetime | None = None,
    da_id: int | None = None,
    top_n: int | None = None,
    what_if: bool = False,
) -> list[RankedThreat]:
    """Latest-per-track ranking at ``at`` (default: now), per DA or global; ``what_if``:
    over the stored what-ifs instead of the live scores (see :func:`latest_scores`).

    Per DA: one row per track, by score descending, ties broken by smaller tcpa_s (unknown
    last) then track_id. Global: each track once, with its highest score over the DAs and
    that DA (a tie between DAs goes to the smaller tcpa_s, then the smaller DA id).
    """
    if top_n is not None and top_n < 1:
        raise ValidationError(f"top_n: must be >= 1, got {top_n}")
    if da_id is not None and session.get(ScenarioAsset, (scenario.id, da_id)) is None:
        # An empty board would read as "no threats to this DA". A DA outside the set is an
        # error unless the scenario stored scores for it (detached later: its history stays).
        scored = session.scalar(
            select(ThreatScore.id)
            .where(ThreatScore.scenario_id == scenario.id, ThreatScore.da_id == da_id)
            .limit(1)
        )
        if scored is None:
            have = session.scalars(
                select(ScenarioAsset.da_id)
                .where(ScenarioAsset.scenario_id == scenario.id)
                .order_by(ScenarioAsset.da_id)
            ).all()
            raise NotFoundError(
                f"da_id: defended asset {da_id} is not in scenario {scenario.name!r} "
                f"(it has {list(have)}) and no score was stored for it"
            )
    rows = latest_scores(
        session, scenario, at, da_id, best_per_track=da_id is None, what_if=what_if
    )
    if not rows:
        return []
    track = np.array([r[0] for r in rows], dtype=object)
    score = np.array([r[3] for r in rows], dtype=np.float64)
    tcpa = np.array([_or_inf(r[5]) for r in rows], dtype=np.float64)
    tcpa = np.where(tcpa < 0, np.inf, tcpa)  # a closest point behind the track is no urgency
    da = np.array([r[1] for r in rows], dtype=np.int64)
    # Sort keys, last is primary: score desc, tcpa asc, track_id asc, da asc.
    order = np.lexsort((da, track.astype(str), tcpa, -score))
    if da_id is None:
        _, first = np.unique(track[order].astype(str), return_index=True)
        order = order[np.sort(first)]
    if top_n is not None:
        order = order[:top_n]
    out = []
    for rank_k, i in enumerate(order.tolist(), start=1):
        r = rows[i]
        out.append(
            RankedThreat(
                rank=rank_k,
                track_id=r[0],
                da_id=r[1],
                da_name=r[2],
                score=r[3],
                cpa_km=_or_inf(r[4]),
                tcpa_s=_or_inf(r[5]),
                tdb_km=_or_inf(r[6]),
                twrp_s=_or_inf(r[7]),
                n_cpa=r[8],
                n_tcpa=r[9],
                n_tdb=r[10],
                n_twrp=r[11],
                computed_at=r[12],
                evaluated_at=r[13],
                what_if=what_if,
            )
        )
    return out


def _score_row_json(r: Any, what_if: bool) -> dict[str, Any]:
    return {
        "computed_at": _iso(r.computed_at),
        "evaluated_at": _iso(r.evaluated_at),
        "what_if": what_if,
        "score": r.score,
        "cpa_km": r.cpa_km,
        "tcpa_s": r.tcpa_s,
        "tdb_km": r.tdb_km,
        "twrp_s": r.twrp_s,
        "n_cpa": r.n_cpa,
        "n_tcpa": r.n_tcpa,
        "n_tdb": r.n_tdb,
        "n_twrp": r.n_twrp,
        "weights": None
        if r.w_cpa is None
        else {"cpa": r.w_cpa, "tcpa": r.w_tcpa, "tdb": r.w_tdb, "twrp": r.w_twrp},
        "quality": r.quality,
    }


def _track_pk(session: Session, scenario: Scenario, track_id: str) -> int:
    pk = session.scalar(
        select(Track.id).where(Track.scenario_id == scenario.id, Track.track_id == track_id)
    )
    if pk is None:
        raise NotFoundError(f"no track {track_id!r} in scenario {scenario.name!r}")
    return int(pk)


def score_history(
    session: Session,
    scenario: Scenario,
    track_id: str,
    da_id: int,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    what_if: bool = False,
) -> list[dict[str, Any]]:
    """Every stored score of one (track, DA) pair describing a time in [start, end], by
    described time then evaluation (for plots); live scores, or with ``what_if`` the stored
    what-ifs."""
    pk = _track_pk(session, scenario, track_id)
    ts: Any = ThreatScoreWhatIf if what_if else ThreatScore
    q = select(ts).where(ts.scenario_id == scenario.id, ts.track_id == pk, ts.da_id == da_id)
    if start is not None:
        q = q.where(ts.computed_at >= start)
    if end is not None:
        q = q.where(ts.computed_at <= end)
    rows = session.scalars(q.order_by(ts.computed_at, ts.evaluated_at, ts.id))
    return [_score_row_json(r, what_if) for r in rows]


def latest_score(
    session: Session, scenario: Scenario, track_id: str, da_id: int, *, what_if: bool = False
) -> dict[str, Any] | None:
    """The score of one (track, DA) the board shows: the most recently evaluated live one (the
    entry of threat_score_latest), or with ``what_if`` the most recently evaluated what-if;
    None when none is stored."""
    pk = _track_pk(session, scenario, track_id)
    r: Any
    if what_if:
        w = ThreatScoreWhatIf
        r = session.scalar(
            select(w)
            .where(w.scenario_id == scenario.id, w.track_id == pk, w.da_id == da_id)
            .order_by(w.evaluated_at.desc(), w.id.desc())
            .limit(1)
        )
    else:
        lt = ThreatScoreLatest
        r = session.scalar(
            select(ThreatScore)
            .join(lt, lt.score_id == ThreatScore.id)
            .where(lt.scenario_id == scenario.id, lt.track_id == pk, lt.da_id == da_id)
        )
    return None if r is None else _score_row_json(r, what_if)


# ---- model params ----

PARAM_FIELDS = (
    "w_cpa",
    "w_tcpa",
    "w_tdb",
    "w_twrp",
    "cpa_scale_km",
    "tcpa_scale_s",
    "tdb_scale_km",
    "twrp_scale_s",
    "clamp_0_1",
    "weapon_range_km",
    "cpa_logistic",
    "tcpa_logistic",
    "tdb_logistic",
    "twrp_logistic",
    "use_track_quality",
)


#: ``scenario.doctrine`` once the params match no preset (a weight or scale changed by hand).
CUSTOM_DOCTRINE = "custom"


def params_as_dict(p: ModelParams) -> dict[str, Any]:
    return {name: getattr(p, name) for name in PARAM_FIELDS}


def matching_preset(params: Any, prefer: str | None = None) -> str | None:
    """The doctrine preset whose weights, scales, clamp, weapon range and ramps all equal ``params``.

    ``use_track_quality`` is not part of a preset and is ignored. ``prefer`` (the scenario's
    current doctrine) is tried first; None when no preset matches.
    """
    current = scoring.coerce_params(params).as_dict()
    names = [n for n in presets.PRESET_NAMES if n == prefer]
    names += [n for n in presets.PRESET_NAMES if n != prefer]
    for name in names:
        if scoring.params_from_preset(name).as_dict() == current:
            return name
    return None


def set_params(session: Session, scenario: Scenario, **changes: Any) -> ModelParams:
    """Change some model params; the whole result is validated (the message names the field).

    ``scenario.doctrine`` follows the result: the matching preset's name, or ``"custom"`` once
    the params differ from every preset (see :func:`matching_preset`).
    """
    unknown = set(changes) - set(PARAM_FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown parameter(s): {', '.join(sorted(unknown))}; known: {', '.join(PARAM_FIELDS)}"
        )
    row = get_model_params(session, scenario)
    merged = {**params_as_dict(row), **changes}
    engine_fields = {k: v for k, v in merged.items() if k != "use_track_quality"}
    try:
        checked = scoring.coerce_params(engine_fields)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    for name in PARAM_FIELDS:
        if name == "use_track_quality":
            row.use_track_quality = bool(merged[name])
        elif name.endswith("_logistic"):
            ramp = getattr(checked, name)
            setattr(
                row,
                name,
                None if ramp is None else {"midpoint": ramp.midpoint, "width": ramp.width},
            )
        else:
            setattr(row, name, getattr(checked, name))
    # Keep the doctrine name truthful: a preset's name while the params still equal it, else
    # "custom" (setting the values back to a preset's restores its name).
    scenario.doctrine = matching_preset(checked, prefer=scenario.doctrine) or CUSTOM_DOCTRINE
    session.flush()
    return row


def apply_preset(session: Session, scenario: Scenario, preset: str) -> ModelParams:
    """Set the scenario's params to a doctrine preset (argus.tewa.presets) and remember its name."""
    if preset not in presets.DOCTRINE_PRESETS:
        raise ValidationError(
            f"preset: unknown {preset!r}; known: {', '.join(presets.DOCTRINE_PRESETS)}"
        )
    p = scoring.params_from_preset(preset)
    row = set_params(
        session, scenario, **{k: v for k, v in p.as_dict().items() if k in PARAM_FIELDS}
    )
    scenario.doctrine = preset
    session.flush()
    return row


# ---- weapons and assignment ----


def add_weapon(
    session: Session,
    scenario: Scenario,
    *,
    call_sign: str,
    weapon_type: str,
    lat: float,
    lon: float,
    rounds: int,
    max_range_km: float,
    min_range_km: float = 0.0,
    max_target_speed_mps: float = 1500.0,
    fire_channels: int = 1,
    interceptor_speed_mps: float = 1000.0,
    max_salvo: int = 2,
) -> Weapon:
    """Add (or replace, by call sign) a fire unit of the scenario; the database checks the ranges."""
    checks = [
        ("lat", -90 <= lat <= 90, "in [-90, 90]"),
        ("lon", -180 <= lon <= 180, "in [-180, 180]"),
        ("rounds", rounds >= 0, ">= 0"),
        ("min_range_km", min_range_km >= 0, ">= 0"),
        ("max_range_km", max_range_km > min_range_km, "> min_range_km"),
        ("max_target_speed_mps", max_target_speed_mps > 0, "> 0"),
        ("fire_channels", fire_channels >= 1, ">= 1"),
        ("interceptor_speed_mps", interceptor_speed_mps > 0, "> 0"),
        ("max_salvo", max_salvo >= 1, ">= 1"),
    ]
    for name, ok, rule in checks:
        if not ok:
            raise ValidationError(f"{name}: must be {rule}")
    w = session.scalar(
        select(Weapon).where(Weapon.scenario_id == scenario.id, Weapon.call_sign == call_sign)
    )
    if w is None:
        w = Weapon(scenario_id=scenario.id, call_sign=call_sign)
        session.add(w)
    w.weapon_type, w.lat, w.lon, w.rounds = weapon_type, lat, lon, rounds
    w.min_range_km, w.max_range_km = min_range_km, max_range_km
    w.max_target_speed_mps, w.fire_channels, w.interceptor_speed_mps = (
        max_target_speed_mps,
        fire_channels,
        interceptor_speed_mps,
    )
    w.max_salvo = max_salvo
    session.flush()
    return w


def list_weapons(session: Session, scenario: Scenario) -> list[Weapon]:
    return list(
        session.scalars(
            select(Weapon).where(Weapon.scenario_id == scenario.id).order_by(Weapon.call_sign)
        )
    )


def set_kill_probability(session: Session, weapon_type: str, threat_class: str, pk: float) -> None:
    if not 0 <= pk <= 1:
        raise ValidationError(f"pk: must be in [0, 1], got {pk}")
    row = session.scalar(
        select(KillProbability).where(
            KillProbability.weapon_type == weapon_type, KillProbability.threat_class == threat_class
        )
    )
    if row is None:
        session.add(KillProbability(weapon_type=weapon_type, threat_class=threat_class, pk=pk))
    else:
        row.pk = pk
    session.flush()


def kill_probability_matrix(
    session: Session, weapon_types: list[str], threat_classes: list[str]
) -> npt.NDArray[np.float64]:
    """pk[type, class], resolved (type, class) → (type, '*') → ('*', class) → ('*', '*') → 0.7."""
    table = {
        (r.weapon_type, r.threat_class): r.pk for r in session.scalars(select(KillProbability))
    }
    out = np.empty((len(weapon_types), len(threat_classes)))
    for i, wt in enumerate(weapon_types):
        for j, tc in enumerate(threat_classes):
            for key in ((wt, tc), (wt, "*"), ("*", tc), ("*", "*")):
                if key in table:
                    out[i, j] = table[key]
                    break
            else:
                out[i, j] = 0.7
    return out


@dataclass
class AssignmentLine:
    weapon: str
    weapon_type: str
    target: str
    rounds: int
    kill_probability: float
    expected_value_saved: float
    target_value: float
    threat_score: float
    da_name: str
    intercept_time_s: float | None


@dataclass
class AssignmentResult:
    scenario: str
    at: dt.datetime
    lines: list[AssignmentLine]
    objective: float
    upper_bound: float | None
    gap: float | None
    solver: str
    status: str
    proven_optimal: bool
    kept_previous: bool
    runtime_s: float
    unassigned_hostile: list[str]
    not_engageable: list[str]
    persisted: int = 0

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat().replace("+00:00", "Z")
        for k in ("upper_bound", "gap"):
            if d[k] is not None and not math.isfinite(d[k]):
                d[k] = None
        return d


def plan_assignment(
    session: Session,
    scenario: Scenario,
    at: dt.datetime,
    *,
    solver: str = "auto",
    hysteresis: float = 0.05,
    time_limit_s: float = 2.0,
    persist: bool = False,
) -> AssignmentResult:
    """Weapon-target assignment at ``at``: who fires how many rounds at which hostile track.

    Targets are the scenario's tracks alive at ``at``, valued V = max over DAs of
    (threat score × asset value); only hostile tracks may be engaged; kill probabilities come
    from the weapon type × threat class table, zeroed outside each battery's envelope at the
    time of intercept. The previous stored plan is kept unless the new one is better by more
    than ``hysteresis`` (no flip-flopping between cycles).
    """
    if solver not in ("auto", "exact", "heuristic", "greedy"):
        raise ValidationError(f"solver: must be auto, exact, heuristic or greedy, got {solver!r}")
    at = at.astimezone(dt.UTC)
    weapons = list_weapons(session, scenario)
    comp = compute_at(session, scenario, at)
    empty = AssignmentResult(
        scenario.name,
        at,
        [],
        0.0,
        None,
        None,
        solver,
        "no_weapons" if not weapons else "no_targets",
        True,
        False,
        0.0,
        [],
        [],
    )
    if not weapons or not comp.pairs:
        return empty
    values_by_da = {a.id: a.value for a in scenario_assets(session, scenario)}
    # Per track: its best (score × asset value) and state.
    best: dict[str, tuple[float, float, str, PairScore]] = {}
    for p in comp.pairs:
        v = p.score * values_by_da.get(p.da_id, 1.0)
        if p.track_id not in best or v > best[p.track_id][0]:
            best[p.track_id] = (v, p.score, p.da_name, p)
    names = sorted(best)
    tracks = {
        t.track_id: t
        for t in session.scalars(
            select(Track).where(Track.scenario_id == scenario.id, Track.track_id.in_(names))
        )
    }
    values = np.array([best[n][0] for n in names])
    st = [best[n][3] for n in names]
    hostile = np.array([tracks[n].iff == "hostile" for n in names])
    friendly = np.array([tracks[n].iff == "friendly" for n in names])
    wtypes = sorted({w.weapon_type for w in weapons})
    tclasses = sorted({tracks[n].threat_class for n in names})
    geom = assignment_engine.engagement_geometry(
        [w.lat for w in weapons],
        [w.lon for w in weapons],
        [w.min_range_km for w in weapons],
        [w.max_range_km for w in weapons],
        [w.interceptor_speed_mps for w in weapons],
        [w.max_target_speed_mps for w in weapons],
        [p.lat for p in st],
        [p.lon for p in st],
        [p.speed_mps for p in st],
        [p.heading_deg for p in st],
        weapon_type=[wtypes.index(w.weapon_type) for w in weapons],
        threat_class=[tclasses.index(tracks[n].threat_class) for n in names],
        pk_table=kill_probability_matrix(session, wtypes, tclasses),
    )
    problem = assignment_engine.make_problem(
        values,
        geom.kill_prob,
        rounds=[w.rounds for w in weapons],
        channels=[w.fire_channels for w in weapons],
        feasible=geom.feasible,
        hostile=hostile,
        friendly=friendly,
        max_salvo=[w.max_salvo for w in weapons],
    )
    chosen = solver
    if solver == "auto":
        chosen = "exact" if problem.n_weapons * problem.n_targets <= 400 else "heuristic"
    if chosen == "exact":
        plan = assignment_engine.solve_exact(problem, time_limit_s=max(time_limit_s, 1.0))
    elif chosen == "heuristic":
        plan = assignment_engine.solve_heuristic(problem, time_limit_s=time_limit_s)
    else:
        plan = assignment_engine.solve_greedy(problem)
    prev = _previous_assignment(
        session, scenario, at, [w.id for w in weapons], [tracks[n].id for n in names]
    )
    plan = assignment_engine.stabilize(problem, prev, plan, hysteresis=hysteresis)
    lines = []
    for i, j in zip(*np.nonzero(plan.x), strict=True):
        n = names[int(j)]
        t_hit = float(geom.intercept_time_s[i, j])
        lines.append(
            AssignmentLine(
                weapon=weapons[int(i)].call_sign,
                weapon_type=weapons[int(i)].weapon_type,
                target=n,
                rounds=int(plan.x[i, j]),
                kill_probability=float(plan.kill_probability[j]),
                expected_value_saved=float(plan.expected_value_saved[j]),
                target_value=float(values[j]),
                threat_score=float(best[n][1]),
                da_name=best[n][2],
                intercept_time_s=t_hit if math.isfinite(t_hit) else None,
            )
        )
    lines.sort(key=lambda ln: (-ln.expected_value_saved, ln.target, ln.weapon))
    engaged = set(np.flatnonzero(plan.engaged).tolist())
    result = AssignmentResult(
        scenario=scenario.name,
        at=at,
        lines=lines,
        objective=float(plan.objective),
        upper_bound=float(plan.upper_bound),
        gap=float(plan.gap),
        solver=plan.solver,
        status=plan.status,
        proven_optimal=bool(plan.proven_optimal),
        kept_previous=bool(plan.kept_previous),
        runtime_s=float(plan.runtime_s),
        unassigned_hostile=[n for k, n in enumerate(names) if hostile[k] and k not in engaged],
        not_engageable=[n for k, n in enumerate(names) if not hostile[k] or friendly[k]],
    )
    if persist and lines:
        rows = []
        wid = {w.call_sign: w.id for w in weapons}
        for ln in lines:
            rows.append(
                {
                    "scenario_id": scenario.id,
                    "weapon_id": wid[ln.weapon],
                    "track_id": tracks[ln.target].id,
                    "rounds": ln.rounds,
                    "kill_probability": ln.kill_probability,
                    "expected_value": ln.expected_value_saved,
                    "computed_at": at,
                }
            )
        existing = session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.scenario_id == scenario.id, Assignment.computed_at == at)
        )
        if not existing:
            session.execute(insert(Assignment), rows)
            result.persisted = len(rows)
    return result


def _previous_assignment(
    session: Session,
    scenario: Scenario,
    at: dt.datetime,
    weapon_ids: list[int],
    track_ids: list[int],
) -> npt.NDArray[np.int64] | None:
    last = session.scalar(
        select(func.max(Assignment.computed_at)).where(
            Assignment.scenario_id == scenario.id, Assignment.computed_at < at
        )
    )
    if last is None:
        return None
    x = np.zeros((len(weapon_ids), len(track_ids)), dtype=np.int64)
    wi = {w: k for k, w in enumerate(weapon_ids)}
    ti = {t: k for k, t in enumerate(track_ids)}
    for a in session.scalars(
        select(Assignment).where(
            Assignment.scenario_id == scenario.id, Assignment.computed_at == last
        )
    ):
        if a.weapon_id in wi and a.track_id in ti:
            x[wi[a.weapon_id], ti[a.track_id]] = a.rounds
    return x


def set_track_identity(
    session: Session,
    scenario: Scenario,
    track_id: str,
    *,
    iff: str | None = None,
    threat_class: str | None = None,
    quality: float | None = None,
) -> Track:
    track = session.scalar(
        select(Track).where(Track.scenario_id == scenario.id, Track.track_id == track_id)
    )
    if track is None:
        raise NotFoundError(f"no track {track_id!r} in scenario {scenario.name!r}")
    if iff is not None:
        if iff not in ("hostile", "unknown", "friendly"):
            raise ValidationError(f"iff: must be hostile, unknown or friendly, got {iff!r}")
        track.iff = iff
    if threat_class is not None:
        track.threat_class = threat_class
    if quality is not None:
        if not 0 <= quality <= 1:
            raise ValidationError(f"quality: must be in [0, 1], got {quality}")
        track.quality = quality
    session.flush()
    return track
