"""Defense schema: the seed's type tables, radar sites, missile flights, intercept orders, the
pipeline's event log and the registry of trained models.

Batteries are the TEWA ``weapon`` rows (``weapon.battery_type_id`` links a row to its
interceptor type), so the TEWA endpoints, the assignment solver and the pipeline share one
inventory of rounds. On PostgreSQL ``radar_site`` and ``weapon`` also carry a PostGIS
``geog`` column generated from lat/lon with a GiST index (migration 0013), which the coverage
query (``ST_DWithin``) uses; SQLite computes the same answer in numpy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from argus.db.base import Base, TimestampMixin, UTCDateTime

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")

FLIGHT_STATES = ("flying", "intercepted", "impacted", "aborted")
ORDER_STATES = ("ordered", "launched", "killed", "missed", "aborted")
THREAT_CLASSES = ("ballistic_missile", "cruise_missile", "aircraft", "drone", "clutter")


def _lat_lon_checks(lat: str = "lat", lon: str = "lon") -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(f"{lat} >= -90 AND {lat} <= 90", name=f"{lat}_range"),
        CheckConstraint(f"{lon} >= -180 AND {lon} <= 180", name=f"{lon}_range"),
    )


class MissileType(TimestampMixin, Base):
    """A threat type the simulator can launch (seed 002's ``missile_type``)."""

    __tablename__ = "missile_type"
    __table_args__ = (
        CheckConstraint("speed_mps > 0", name="speed_positive"),
        CheckConstraint("blast_radius_m >= 0", name="blast_radius_nonneg"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The name the API takes as ``missileType`` (e.g. ``SCUD-C``).
    name: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    #: Key of the flight model in the threat catalogue (``argus.sim.catalogue``).
    catalogue_key: Mapped[str] = mapped_column(String(60), nullable=False)
    threat_class: Mapped[str] = mapped_column(
        String(40), nullable=False, server_default=text("'ballistic_missile'")
    )
    #: Typical re-entry speed, for display and the TEWA speed gate.
    speed_mps: Mapped[float] = mapped_column(Float, nullable=False)
    blast_radius_m: Mapped[float] = mapped_column(Float, nullable=False)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)


class BatteryType(TimestampMixin, Base):
    """An interceptor type a battery fires (seed 002's ``battery_type``)."""

    __tablename__ = "battery_type"
    __table_args__ = (
        CheckConstraint("max_range_m > 0", name="max_range_positive"),
        CheckConstraint("max_speed_mps > 0", name="max_speed_positive"),
        CheckConstraint("lethal_radius_m > 0", name="lethal_radius_positive"),
        CheckConstraint("max_g > 0", name="max_g_positive"),
        CheckConstraint("pk >= 0 AND pk <= 1", name="pk_range"),
        CheckConstraint("boost_time_s >= 0", name="boost_time_nonneg"),
        CheckConstraint("max_flight_time_s > 0", name="max_flight_time_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    max_range_m: Mapped[float] = mapped_column(Float, nullable=False)
    max_speed_mps: Mapped[float] = mapped_column(Float, nullable=False)
    lethal_radius_m: Mapped[float] = mapped_column(Float, nullable=False)
    max_g: Mapped[float] = mapped_column(Float, nullable=False)
    pk: Mapped[float] = mapped_column(Float, nullable=False)
    boost_time_s: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("6"))
    max_flight_time_s: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text("120")
    )
    #: Further engine parameters of ``argus.defense.interceptor.InterceptorType`` (seeker, ...).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class RadarType(TimestampMixin, Base):
    """A radar model (seed 002's ``radar_type``): range, sweep rate and its engine parameters."""

    __tablename__ = "radar_type"
    __table_args__ = (
        CheckConstraint("max_range_m > 0", name="max_range_positive"),
        CheckConstraint("sweep_rate_deg_s > 0", name="sweep_rate_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    max_range_m: Mapped[float] = mapped_column(Float, nullable=False)
    sweep_rate_deg_s: Mapped[float] = mapped_column(Float, nullable=False)
    #: Every other ``argus.sensors.RadarSite`` field (power, gain, frequency, noise, sector, ...).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class RadarSiteRow(TimestampMixin, Base):
    """A radar of a scenario at a place (``geog`` on PostgreSQL, generated from lat/lon)."""

    __tablename__ = "radar_site"
    __table_args__ = (
        UniqueConstraint("scenario_id", "name"),
        *_lat_lon_checks(),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    radar_type_id: Mapped[int] = mapped_column(
        ForeignKey("radar_type.id", ondelete="RESTRICT"), nullable=False
    )
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    alt_m: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    #: Per-site overrides of the type's parameters (e.g. a sector's centre azimuth).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class MissileFlight(TimestampMixin, Base):
    """One launched threat (``POST /api/sim/launch``) and how its flight ended."""

    __tablename__ = "missile_flight"
    __table_args__ = (
        CheckConstraint(
            "state IN ('flying', 'intercepted', 'impacted', 'aborted')", name="state_values"
        ),
        *_lat_lon_checks("launch_lat", "launch_lon"),
        *_lat_lon_checks("target_lat", "target_lon"),
        Index("ix_missile_flight_scenario_state", "scenario_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The id on the bus (``missile.launched.flight_id``): a UUID, unique.
    flight_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False
    )
    missile_type_id: Mapped[int] = mapped_column(
        ForeignKey("missile_type.id", ondelete="RESTRICT"), nullable=False
    )
    launch_lat: Mapped[float] = mapped_column(Float, nullable=False)
    launch_lon: Mapped[float] = mapped_column(Float, nullable=False)
    target_lat: Mapped[float] = mapped_column(Float, nullable=False)
    target_lon: Mapped[float] = mapped_column(Float, nullable=False)
    trajectory: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'minimum_energy'")
    )
    launched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    #: Predicted impact time (from the flight model at launch).
    impact_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'flying'"))
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: How the flight ended, e.g. {"by": "interceptor", "interceptor_id": ..., "miss_m": ...}.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class InterceptOrder(TimestampMixin, Base):
    """One round ordered from a battery at a track; the round left ``weapon.rounds`` in the
    same transaction (a conditional ``UPDATE … SET rounds = rounds - 1 WHERE rounds >= 1``, see
    ``argus.defense.service.store.DbOrderBook``)."""

    __tablename__ = "intercept_order"
    __table_args__ = (
        CheckConstraint(
            "state IN ('ordered', 'launched', 'killed', 'missed', 'aborted')", name="state_values"
        ),
        CheckConstraint("pk >= 0 AND pk <= 1", name="pk_range"),
        CheckConstraint("shot >= 1", name="shot_positive"),
        #: One order per (track, shot): a redelivered or replayed decision cannot fire twice.
        UniqueConstraint("scenario_id", "track_id", "shot"),
        Index("ix_intercept_order_weapon", "weapon_id"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    #: The ``command.intercept`` event's id: the key the battery launches by.
    order_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False
    )
    weapon_id: Mapped[int] = mapped_column(
        ForeignKey("weapon.id", ondelete="CASCADE"), nullable=False
    )
    track_id: Mapped[str] = mapped_column(String(100), nullable=False)
    #: 1 for the first round at the track, 2 for the next (shoot-look-shoot), ...
    shot: Mapped[int] = mapped_column(Integer, nullable=False)
    pk: Mapped[float] = mapped_column(Float, nullable=False)
    ordered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'ordered'"))
    interceptor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    miss_distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)


class PipelineEvent(Base):
    """Every event that crossed the bus, once (``event_id`` is the key; redeliveries are no-ops)."""

    __tablename__ = "pipeline_event"
    __table_args__ = (
        Index("ix_pipeline_event_subject_time", "subject", "time"),
        Index("ix_pipeline_event_flight", "flight_id"),
        Index("ix_pipeline_event_track", "track_id"),
    )

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject: Mapped[str] = mapped_column(String(60), nullable=False)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    causation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    flight_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    track_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class StageCheckpoint(Base):
    """A bus stage's state after the last cycle it finished, so a restarted process resumes
    there (the command centre's tracker, classifier windows, engagements: migration 0017).

    ``state`` is written and read only by Argus's own stage code (``pickle`` of the stage's
    Python state; never from an API input). One row per (run, stage).
    """

    __tablename__ = "stage_checkpoint"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(60), primary_key=True)
    cycle: Mapped[int] = mapped_column(BigInteger, nullable=False)
    state: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)


class MlModel(TimestampMixin, Base):
    """A trained model (the track classifier, ...) with its metrics; the newest of a kind is used."""

    __tablename__ = "ml_model"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    #: The serialized model (``argus.defense.classify.TrainedClassifier.to_bytes``).
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    #: Accuracy, confusion matrix, class order, training-set size and seed.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
