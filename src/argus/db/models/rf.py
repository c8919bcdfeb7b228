"""RF schema (issue 13): receivers, acquisitions, the measurement time series, its hourly
aggregates and the localizations.

``rf_measurement`` is a plain indexed table on SQLite. On PostgreSQL migration 0015 creates it
as a natively partitioned table (``PARTITION BY RANGE (time)``, one partition per UTC day named
``rf_measurement_pYYYYMMDD``, created ahead by ``argus.rf.service.ensure_partitions``), or as a
TimescaleDB hypertable when that extension is installed in the database. Its primary key holds
the partition key (``time``), as PostgreSQL requires of a partitioned table. The time index is a
BRIN index on PostgreSQL (rows arrive in time order) and a B-tree on SQLite. See
docs/rf-service.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from argus.db.base import Base, TimestampMixin, UTCDateTime

RECEIVER_KINDS = ("network", "websdr", "simulated", "sigmf")
RECEIVER_STATES = ("up", "down", "unknown")
CLOCK_SOURCES = ("gpsdo", "gps", "ntp", "internal", "unknown")
ACQUISITION_STATES = ("pending", "running", "complete", "failed")
ACQUISITION_SOURCES = ("simulated", "sigmf", "network")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Receiver(TimestampMixin, Base):
    """A receiver of the network (the seed's "WebSDR configuration database").

    ``clock_sigma_s`` is the 1-sigma timing error of its clock source (50 ns for a GPSDO): the
    localization weighs each receiver's time difference with it.
    """

    __tablename__ = "receiver"
    __table_args__ = (
        CheckConstraint(_in("kind", RECEIVER_KINDS), name="kind_values"),
        CheckConstraint(_in("status", RECEIVER_STATES), name="status_values"),
        CheckConstraint(_in("clock_source", CLOCK_SOURCES), name="clock_source_values"),
        CheckConstraint("lat_deg >= -90 AND lat_deg <= 90", name="lat_range"),
        CheckConstraint("lon_deg >= -180 AND lon_deg <= 180", name="lon_range"),
        CheckConstraint("sample_rate_hz > 0", name="sample_rate_positive"),
        CheckConstraint("clock_sigma_s >= 0", name="clock_sigma_nonneg"),
        CheckConstraint(
            "min_frequency_hz IS NULL OR max_frequency_hz IS NULL "
            "OR min_frequency_hz <= max_frequency_hz",
            name="frequency_range_order",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    #: ``ws://host:port`` (network receiver), ``http(s)://…`` (WebSDR), a folder (sigmf) or NULL.
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    lat_deg: Mapped[float] = mapped_column(Float, nullable=False)
    lon_deg: Mapped[float] = mapped_column(Float, nullable=False)
    alt_m: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    min_frequency_hz: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_frequency_hz: Mapped[float | None] = mapped_column(Float, nullable=True)
    sample_rate_hz: Mapped[float] = mapped_column(Float, nullable=False)
    clock_source: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'unknown'")
    )
    clock_sigma_s: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text("5e-08")
    )
    status: Mapped[str] = mapped_column(
        String(10), nullable=False, server_default=text("'unknown'")
    )
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Why the last health check failed (NULL after a successful one).
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RfAcquisition(TimestampMixin, Base):
    """One acquisition on several receivers at once.

    ``captures`` maps each receiver id (as text) to the object keys its SigMF pair is stored
    under, written *before* the objects (status ``pending``) and completed with their sizes and
    sha512 when the row turns ``complete`` — the no-orphan order of docs/rf-service.md.
    """

    __tablename__ = "rf_acquisition"
    __table_args__ = (
        CheckConstraint(_in("status", ACQUISITION_STATES), name="status_values"),
        CheckConstraint(_in("source", ACQUISITION_SOURCES), name="source_values"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),
        CheckConstraint("frequency_hz > 0", name="frequency_positive"),
        CheckConstraint("duration_s > 0", name="duration_positive"),
        Index("ix_rf_acquisition_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    frequency_hz: Mapped[float] = mapped_column(Float, nullable=False)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False)
    receiver_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(
        String(10), nullable=False, server_default=text("'pending'")
    )
    progress: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    captures: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    #: Options of the source (the simulated emitter, a SigMF folder), as given when started.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    simulated: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    truth: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))


class RfMeasurement(Base):
    """One measurement of one receiver's capture (the time series)."""

    __tablename__ = "rf_measurement"
    __table_args__ = (
        Index("ix_rf_measurement_time", "time", postgresql_using="brin"),
        Index("ix_rf_measurement_receiver_id_time", "receiver_id", "time"),
        Index("ix_rf_measurement_acquisition_id", "acquisition_id"),
    )

    time: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    receiver_id: Mapped[int] = mapped_column(
        ForeignKey("receiver.id", ondelete="CASCADE"), primary_key=True
    )
    acquisition_id: Mapped[str] = mapped_column(
        ForeignKey("rf_acquisition.id", ondelete="CASCADE"), primary_key=True
    )
    frequency_hz: Mapped[float] = mapped_column(Float, nullable=False)
    snr_db: Mapped[float] = mapped_column(Float, nullable=False)
    signal_power_dbfs: Mapped[float] = mapped_column(Float, nullable=False)
    noise_floor_dbfs: Mapped[float] = mapped_column(Float, nullable=False)
    frequency_offset_hz: Mapped[float] = mapped_column(Float, nullable=False)
    occupied_bandwidth_hz: Mapped[float] = mapped_column(Float, nullable=False)
    psd_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RfMeasurementHourly(Base):
    """Hourly aggregates of ``rf_measurement`` per receiver, refreshed by a job."""

    __tablename__ = "rf_measurement_hourly"

    receiver_id: Mapped[int] = mapped_column(
        ForeignKey("receiver.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    snr_mean_db: Mapped[float] = mapped_column(Float, nullable=False)
    snr_min_db: Mapped[float] = mapped_column(Float, nullable=False)
    snr_max_db: Mapped[float] = mapped_column(Float, nullable=False)
    signal_power_mean_dbfs: Mapped[float] = mapped_column(Float, nullable=False)
    noise_floor_mean_dbfs: Mapped[float] = mapped_column(Float, nullable=False)
    frequency_offset_mean_hz: Mapped[float] = mapped_column(Float, nullable=False)
    occupied_bandwidth_mean_hz: Mapped[float] = mapped_column(Float, nullable=False)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)


class RfHourlyPending(Base):
    """(receiver, hour) pairs written to since the last aggregate refresh: the refresh
    recomputes exactly these hours and removes them, in one transaction."""

    __tablename__ = "rf_hourly_pending"

    receiver_id: Mapped[int] = mapped_column(
        ForeignKey("receiver.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)


class RfLocalization(Base):
    """An emitter position estimated from one acquisition (and its error when simulated)."""

    __tablename__ = "rf_localization"
    __table_args__ = (
        CheckConstraint("lat_deg >= -90 AND lat_deg <= 90", name="lat_range"),
        CheckConstraint("lon_deg >= -180 AND lon_deg <= 180", name="lon_range"),
        Index("ix_rf_localization_acquisition_id", "acquisition_id"),
        Index("ix_rf_localization_time", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    acquisition_id: Mapped[str | None] = mapped_column(
        ForeignKey("rf_acquisition.id", ondelete="CASCADE"), nullable=True
    )
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    lat_deg: Mapped[float] = mapped_column(Float, nullable=False)
    lon_deg: Mapped[float] = mapped_column(Float, nullable=False)
    alt_m: Mapped[float] = mapped_column(Float, nullable=False)
    method: Mapped[str] = mapped_column(String(20), nullable=False)
    #: 2x2 east/north covariance, m^2, as nested lists.
    cov_enu_m2: Mapped[list[list[float]]] = mapped_column(JSON, nullable=False)
    ellipse_a_m: Mapped[float] = mapped_column(Float, nullable=False)
    ellipse_b_m: Mapped[float] = mapped_column(Float, nullable=False)
    ellipse_orient_deg: Mapped[float] = mapped_column(Float, nullable=False)
    gdop: Mapped[float | None] = mapped_column(Float, nullable=True)
    crlb_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    residuals: Mapped[list[float]] = mapped_column(JSON, nullable=False)
    receivers_used: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    per_receiver: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    truth: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_m: Mapped[float | None] = mapped_column(Float, nullable=True)
