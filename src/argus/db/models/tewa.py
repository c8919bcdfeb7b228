"""TEWA schema: defended assets, scenarios, tracks and their samples, model params, threat scores.

Every rule below is a database constraint (CHECK / UNIQUE / FOREIGN KEY), so it holds for
whatever writes the database, not only for this Python code. The default ``model_params`` row
of a new scenario is inserted by a database trigger (see the first migration), which makes the
"zero scores on a fresh scenario" failure impossible.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from argus.db.base import Base, TimestampMixin, UTCDateTime
from argus.defaults import DEFAULT_MODEL_PARAMS

# 64-bit ids for the tables that grow without bound; SQLite needs INTEGER for its rowid alias.
_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


def _lat_lon_checks() -> tuple[CheckConstraint, CheckConstraint]:
    # A constraint object belongs to one table: make fresh ones for each.
    return (
        CheckConstraint("lat >= -90 AND lat <= 90", name="lat_range"),
        CheckConstraint("lon >= -180 AND lon <= 180", name="lon_range"),
    )


class ScenarioAsset(Base):
    """The defended assets a scenario evaluates threats against (the DA selection per scenario)."""

    __tablename__ = "scenario_asset"

    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), primary_key=True
    )
    da_id: Mapped[int] = mapped_column(
        ForeignKey("defended_asset.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DefendedAsset(TimestampMixin, Base):
    __tablename__ = "defended_asset"
    __table_args__ = (
        CheckConstraint("radius_km >= 0", name="radius_km_nonneg"),
        CheckConstraint("value >= 0", name="value_nonneg"),
        CheckConstraint(
            "weapon_range_km IS NULL OR weapon_range_km > 0", name="weapon_range_positive"
        ),
        *_lat_lon_checks(),
        Index("ix_defended_asset_lat_lon", "lat", "lon"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    radius_km: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    #: Relative worth of the asset: a target's value in weapon assignment is threat score × value.
    value: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("1.0"))
    #: Per-asset weapon release range; NULL = the scenario's model_params.weapon_range_km.
    weapon_range_km: Mapped[float | None] = mapped_column(Float, nullable=True)

    scenarios: Mapped[list[Scenario]] = relationship(
        secondary="scenario_asset", back_populates="assets", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"DefendedAsset(id={self.id!r}, name={self.name!r})"


class Scenario(TimestampMixin, Base):
    __tablename__ = "scenario"
    __table_args__ = (
        CheckConstraint(
            "start_time IS NULL OR end_time IS NULL OR end_time >= start_time", name="time_order"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Name of the doctrine preset last applied to the scenario's model params (argus.tewa.presets).
    doctrine: Mapped[str] = mapped_column(
        String(40), nullable=False, server_default=text("'default'")
    )
    #: Active scenarios are recomputed by the periodic job.
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    #: Replay: the periodic job evaluates the scenario at start + ((now - start) mod (end - start)),
    #: so recorded data (the demo) loops as if live; scores are stamped with the real time.
    replay: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    #: Bumped by the database (triggers of migration 0008) whenever the scenario's ranking can
    #: change: scores written or deleted, a track or defended asset renamed. Never set by Argus.
    scores_rev: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("0"), default=None
    )

    tracks: Mapped[list[Track]] = relationship(
        back_populates="scenario", cascade="all, delete-orphan", passive_deletes=True
    )
    params: Mapped[ModelParams | None] = relationship(
        back_populates="scenario", uselist=False, viewonly=True
    )
    assets: Mapped[list[DefendedAsset]] = relationship(
        secondary="scenario_asset", back_populates="scenarios", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"Scenario(id={self.id!r}, name={self.name!r})"


class Track(TimestampMixin, Base):
    """A track's identity within a scenario and its latest known state."""

    __tablename__ = "track"
    __table_args__ = (
        UniqueConstraint("scenario_id", "track_id"),
        CheckConstraint("speed_mps >= 0", name="speed_nonneg"),
        CheckConstraint("heading_deg >= 0 AND heading_deg < 360", name="heading_range"),
        CheckConstraint("iff IN ('hostile', 'unknown', 'friendly')", name="iff_values"),
        CheckConstraint("quality IS NULL OR (quality >= 0 AND quality <= 1)", name="quality_range"),
        *_lat_lon_checks(),
        Index("ix_track_lat_lon", "lat", "lon"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False
    )
    track_id: Mapped[str] = mapped_column(String(100), nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    alt_m: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    speed_mps: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    heading_deg: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    #: Identification friend or foe; only hostile tracks are ever assigned a weapon.
    iff: Mapped[str] = mapped_column(String(10), nullable=False, server_default=text("'unknown'"))
    #: Threat class for kill-probability lookup (e.g. aircraft, cruise_missile, ballistic, drone).
    threat_class: Mapped[str] = mapped_column(
        String(40), nullable=False, server_default=text("'unknown'")
    )
    #: Track quality in [0, 1] from the tracker (age / covariance); NULL = not provided.
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)

    scenario: Mapped[Scenario] = relationship(back_populates="tracks")
    samples: Mapped[list[TrackSample]] = relationship(
        back_populates="track",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TrackSample.t",
    )

    def __repr__(self) -> str:
        return f"Track(id={self.id!r}, track_id={self.track_id!r})"


class TrackSample(Base):
    """One observed state of a track at time ``t``."""

    __tablename__ = "track_sample"
    __table_args__ = (
        UniqueConstraint("track_id", "t"),
        CheckConstraint("speed_mps >= 0", name="speed_nonneg"),
        CheckConstraint("heading_deg >= 0 AND heading_deg < 360", name="heading_range"),
        *_lat_lon_checks(),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    track_id: Mapped[int] = mapped_column(
        ForeignKey("track.id", ondelete="CASCADE"), nullable=False
    )
    t: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    alt_m: Mapped[float] = mapped_column(Float, nullable=False)
    speed_mps: Mapped[float] = mapped_column(Float, nullable=False)
    heading_deg: Mapped[float] = mapped_column(Float, nullable=False)
    #: The source's radial RMS position error at this sample (m; NULL when not given): an input
    #: of the track-quality factor (argus.tewa.quality), with the track's age.
    pos_sigma_m: Mapped[float | None] = mapped_column(Float, nullable=True)

    track: Mapped[Track] = relationship(back_populates="samples")


def _d(name: str) -> str:
    return repr(DEFAULT_MODEL_PARAMS[name])


class ModelParams(TimestampMixin, Base):
    """Weights and normalization scales of the threat score, one row per scenario.

    The server defaults equal ``argus.tewa.params.DEFAULT_MODEL_PARAMS`` (a test checks it).
    """

    __tablename__ = "model_params"
    __table_args__ = (
        *(
            CheckConstraint(f"{w} >= 0 AND {w} <= 1", name=f"{w}_range")
            for w in ("w_cpa", "w_tcpa", "w_tdb", "w_twrp")
        ),
        *(
            CheckConstraint(f"{s} > 0", name=f"{s}_positive")
            for s in ("cpa_scale_km", "tcpa_scale_s", "tdb_scale_km", "twrp_scale_s")
        ),
        CheckConstraint("weapon_range_km > 0", name="weapon_range_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    w_cpa: Mapped[float] = mapped_column(Float, nullable=False, server_default=text(_d("w_cpa")))
    w_tcpa: Mapped[float] = mapped_column(Float, nullable=False, server_default=text(_d("w_tcpa")))
    w_tdb: Mapped[float] = mapped_column(Float, nullable=False, server_default=text(_d("w_tdb")))
    w_twrp: Mapped[float] = mapped_column(Float, nullable=False, server_default=text(_d("w_twrp")))
    cpa_scale_km: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text(_d("cpa_scale_km"))
    )
    tcpa_scale_s: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text(_d("tcpa_scale_s"))
    )
    tdb_scale_km: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text(_d("tdb_scale_km"))
    )
    twrp_scale_s: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text(_d("twrp_scale_s"))
    )
    clamp_0_1: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        server_default=text("true" if DEFAULT_MODEL_PARAMS["clamp_0_1"] else "false"),
    )
    weapon_range_km: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text(_d("weapon_range_km"))
    )

    #: Optional logistic normalization per component: {"midpoint": x0, "width": s}; NULL = 1/(1+x/scale).
    cpa_logistic: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    tcpa_logistic: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    tdb_logistic: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    twrp_logistic: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    #: Multiply each score by the track's quality factor when the tracker provides one.
    use_track_quality: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )

    scenario: Mapped[Scenario] = relationship(back_populates="params")


class _ScoreColumns:
    """The columns of a stored threat score, live (:class:`ThreatScore`) or what-if
    (:class:`ThreatScoreWhatIf`)."""

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False
    )
    track_id: Mapped[int] = mapped_column(
        ForeignKey("track.id", ondelete="CASCADE"), nullable=False
    )
    da_id: Mapped[int] = mapped_column(
        ForeignKey("defended_asset.id", ondelete="CASCADE"), nullable=False
    )
    cpa_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    tcpa_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    tdb_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    twrp_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    #: The time the score describes: the scenario time the tracks were evaluated at (for a
    #: replay scenario, a point of its loop; for a what-if, the time asked for).
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    #: When the score was computed (wall-clock UTC; the periodic tick or the compute_now stamp
    #: for live scores). The live board follows the most recently evaluated live score.
    evaluated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=lambda: dt.datetime.now(dt.UTC)
    )
    #: The normalized terms n(x) in [0, 1] the score was built from (so it can be explained later).
    n_cpa: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_tcpa: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_tdb: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_twrp: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The weights in force when the score was computed (NULL for rows older than revision 0005).
    w_cpa: Mapped[float | None] = mapped_column(Float, nullable=True)
    w_tcpa: Mapped[float | None] = mapped_column(Float, nullable=True)
    w_tdb: Mapped[float | None] = mapped_column(Float, nullable=True)
    w_twrp: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The track-quality factor the score was multiplied by (NULL: quality not used).
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)


class ThreatScore(_ScoreColumns, Base):
    """One live threat score of a track against a defended asset describing ``computed_at``.

    Only live computations (compute_now, the periodic tick) write here; what-ifs go to
    :class:`ThreatScoreWhatIf`. One row per (scenario, track, DA, described time): a replay
    scenario that reaches the same point of its loop again re-evaluates the row in place
    (``evaluated_at`` moves forward), so its history stays one row per described time.

    The four raw components are kept so every score can be explained. ``NULL`` in a component
    column means +infinity (e.g. a track that never reaches weapon release range).
    """

    __tablename__ = "threat_score"
    __table_args__ = (
        UniqueConstraint("scenario_id", "track_id", "da_id", "computed_at"),
        Index("ix_threat_score_scenario_da_time", "scenario_id", "da_id", "computed_at"),
        Index("ix_threat_score_scenario_track_time", "scenario_id", "track_id", "computed_at"),
    )


class ThreatScoreWhatIf(_ScoreColumns, Base):
    """A stored what-if: scores computed for a time asked for (``compute_at`` with
    ``persist``), kept apart from the live board. No trigger reads this table: writing a
    what-if never moves the live ranking, its revision or the WebSocket."""

    __tablename__ = "threat_score_what_if"
    __table_args__ = (
        UniqueConstraint(
            "scenario_id",
            "track_id",
            "da_id",
            "computed_at",
            "evaluated_at",
            name="uq_threat_score_what_if_pair_times",
        ),
        Index("ix_threat_score_what_if_scenario_time", "scenario_id", "computed_at"),
        Index("ix_threat_score_what_if_scenario_track", "scenario_id", "track_id", "da_id"),
    )


class ThreatScoreLatest(Base):
    """The most recently evaluated live threat_score row of each (scenario, track, DA): the
    live ranking's index.

    "Most recently evaluated" (``evaluated_at``, then the row id), not "newest described
    time": a replay scenario's "now" goes back to its start after each loop, and the board
    must follow it (migration 0011). Maintained by database triggers on threat_score
    (migrations 0010, 0011), whoever writes, so the
    ranking "now" reads one row per pair instead of scanning the whole stored history. No
    foreign keys: a derived table that the triggers keep consistent (a deleted score row is
    replaced by the pair's newest remaining one, or its entry removed); readers join ``track``
    and ``defended_asset``.
    """

    __tablename__ = "threat_score_latest"

    scenario_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    da_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    evaluated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    score_id: Mapped[int] = mapped_column(_BIG_ID, nullable=False, index=True)


class RankingSnapshot(Base):
    """The live global ranking's ``results`` (JSON text), rendered by the database in the
    transaction that wrote a live score batch on PostgreSQL, for the scenario revision that
    batch produced (``service.store_ranking_snapshot``).

    The ranking endpoint serves it on a cache miss instead of ranking the board itself, so the
    requests that land just after a batch wait for one small read, not for a re-rank. Valid
    only while ``scenario.scores_rev`` equals ``scores_rev`` (a rename or a deletion moves the
    revision without a new snapshot; readers then rank themselves). One row per scenario.
    """

    __tablename__ = "ranking_snapshot"

    scenario_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("scenario.id", ondelete="CASCADE"), primary_key=True
    )
    scores_rev: Mapped[int] = mapped_column(BigInteger, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)


class Weapon(TimestampMixin, Base):
    """A fire unit (battery) of a scenario."""

    __tablename__ = "weapon"
    __table_args__ = (
        UniqueConstraint("scenario_id", "call_sign"),
        CheckConstraint("rounds >= 0", name="rounds_nonneg"),
        CheckConstraint("min_range_km >= 0", name="min_range_nonneg"),
        CheckConstraint("max_range_km > min_range_km", name="range_order"),
        CheckConstraint("max_target_speed_mps > 0", name="max_speed_positive"),
        CheckConstraint("fire_channels >= 1", name="fire_channels_positive"),
        CheckConstraint("max_salvo >= 1", name="max_salvo_positive"),
        *_lat_lon_checks(),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False
    )
    call_sign: Mapped[str] = mapped_column(String(100), nullable=False)
    weapon_type: Mapped[str] = mapped_column(String(60), nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    rounds: Mapped[int] = mapped_column(Integer, nullable=False)
    min_range_km: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    max_range_km: Mapped[float] = mapped_column(Float, nullable=False)
    max_target_speed_mps: Mapped[float] = mapped_column(Float, nullable=False)
    fire_channels: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    #: Most rounds fired at one target in one engagement (shoot-shoot-look doctrine).
    max_salvo: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("2"))
    #: Interceptor average speed, for the time-of-intercept envelope check.
    interceptor_speed_mps: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text("1000.0")
    )
    #: The battery's interceptor type (``battery_type``) when it is a pipeline battery; NULL for
    #: a TEWA-only fire unit. Altitude of the launcher above the ellipsoid (m).
    battery_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("battery_type.id", ondelete="RESTRICT"), nullable=True
    )
    alt_m: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))


class KillProbability(Base):
    """Single-shot kill probability of a weapon type against a threat class.

    ``'*'`` is a wildcard: lookups try (type, class), then (type, '*'), then ('*', '*'). The
    first migration seeds ('*', '*') = 0.7, so a lookup always finds a value.
    """

    __tablename__ = "kill_probability"
    __table_args__ = (
        UniqueConstraint("weapon_type", "threat_class"),
        CheckConstraint("pk >= 0 AND pk <= 1", name="pk_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    weapon_type: Mapped[str] = mapped_column(String(60), nullable=False)
    threat_class: Mapped[str] = mapped_column(String(40), nullable=False)
    pk: Mapped[float] = mapped_column(Float, nullable=False)


class Assignment(Base):
    """One line of a weapon assignment plan: ``rounds`` of ``weapon_id`` at ``track_id``."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("scenario_id", "computed_at", "weapon_id", "track_id"),
        CheckConstraint("rounds >= 1", name="rounds_positive"),
        Index("ix_assignment_scenario_time", "scenario_id", "computed_at"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False
    )
    weapon_id: Mapped[int] = mapped_column(
        ForeignKey("weapon.id", ondelete="CASCADE"), nullable=False
    )
    track_id: Mapped[int] = mapped_column(
        ForeignKey("track.id", ondelete="CASCADE"), nullable=False
    )
    rounds: Mapped[int] = mapped_column(Integer, nullable=False)
    kill_probability: Mapped[float] = mapped_column(Float, nullable=False)
    expected_value: Mapped[float] = mapped_column(Float, nullable=False)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
