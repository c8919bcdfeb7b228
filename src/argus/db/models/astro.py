"""Astronomy schema (issue 12): the 13 models of seed 001 (AstrID), with a HEALPix sky index.

Survey → Observation → PreprocessRun → DifferenceRun → Candidate → ModelRun → Detection →
ValidationEvent / Alert, plus SystemConfig, ProcessingJob and AuditLog. Every table is named
``astro_*`` (``job``, ``ml_model`` and ``pipeline_event`` already exist for other domains).

- Primary keys are UUIDs (``sa.Uuid``: native ``uuid`` on PostgreSQL, ``CHAR(32)`` on SQLite).
- Status and type columns are Python enums stored as short strings with a CHECK constraint
  (``native_enum=False``), identical on both databases and migrated without ``CREATE TYPE``.
- Free-form metadata is JSON (JSONB on PostgreSQL).
- The sky index: ``healpix`` is the HEALPix pixel id (Górski et al. 2005) of the position at
  :data:`HEALPIX_ORDER` in the *nested* scheme, where the pixels inside one coarse pixel are a
  contiguous id range; a cone search turns the cone into a few such ranges
  (``argus.astro.service.sky``). Order 29 pixels are ~0.4 milliarcsec across, so one id is one
  position to far better than any survey's astrometry, and ids fit a signed 64-bit integer.
- The database enforces the seed's bounds: RA in [0, 360), Dec in [-90, 90], exposure time,
  airmass, seeing and pixel scale > 0, scores and confidences in [0, 1], counts >= 0.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from argus.db.base import Base, TimestampMixin, UTCDateTime

#: HEALPix order (nside = 2**order) of every ``healpix`` column, nested ordering.
HEALPIX_ORDER = 29

#: JSON everywhere, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class ObservationStatus(enum.StrEnum):
    INGESTED = "ingested"
    PREPROCESSING = "preprocessing"
    PREPROCESSED = "preprocessed"
    DIFFERENCING = "differencing"
    DIFFERENCED = "differenced"
    FAILED = "failed"
    ARCHIVED = "archived"


class RunStatus(enum.StrEnum):
    """Status of a preprocessing, differencing or model run (the seed's four states)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class DifferenceAlgorithm(enum.StrEnum):
    ZOGY = "zogy"
    ALARD_LUPTON = "alard_lupton"


class CandidateStatus(enum.StrEnum):
    PENDING = "pending"  # extracted, not scored yet
    SCORED = "scored"  # real/bogus score attached, awaiting review
    VALIDATED = "validated"  # a human said real
    REJECTED = "rejected"  # a human (or the model's cut) said bogus
    ARCHIVED = "archived"


class ModelType(enum.StrEnum):
    UNET = "unet"
    ANOMALY_DETECTOR = "anomaly_detector"
    CLASSIFIER = "classifier"
    SEGMENTATION = "segmentation"
    REAL_BOGUS = "real_bogus"


class DetectionType(enum.StrEnum):
    SUPERNOVA = "supernova"
    VARIABLE = "variable"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"
    ARTIFACT = "artifact"


class DetectionStatus(enum.StrEnum):
    PENDING = "pending"
    VALIDATING = "validating"
    VALIDATED = "validated"
    REJECTED = "rejected"
    CONFIRMED = "confirmed"
    ARCHIVED = "archived"


class ConfidenceLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    EXPERT = "expert"


class QualityLevel(enum.StrEnum):
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"
    EXCELLENT = "excellent"


class AlertPriority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """A string column holding ``cls``'s values, checked by a named CHECK constraint."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(str(m.value)) for m in cls) + 4,
        values_callable=lambda e: [str(m.value) for m in e],
        validate_strings=True,
    )


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)


def _sky_checks(ra: str = "ra", dec: str = "dec") -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(f"{ra} >= 0 AND {ra} < 360", name=f"{ra}_range"),
        CheckConstraint(f"{dec} >= -90 AND {dec} <= 90", name=f"{dec}_range"),
    )


def _unit_interval(col: str) -> CheckConstraint:
    return CheckConstraint(f"{col} >= 0 AND {col} <= 1", name=f"{col}_range")


def _nonneg(col: str) -> CheckConstraint:
    return CheckConstraint(f"{col} >= 0", name=f"{col}_nonneg")


def _positive(col: str) -> CheckConstraint:
    return CheckConstraint(f"{col} > 0", name=f"{col}_positive")


# ---- observations -------------------------------------------------------------------------


class Survey(TimestampMixin, Base):
    """A survey (a telescope programme) that observations belong to."""

    __tablename__ = "astro_survey"

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    api_endpoint: Mapped[str | None] = mapped_column(String(500), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))


class Observation(TimestampMixin, Base):
    """One exposure: where (WCS centre), when, how (filter, exposure, seeing) and its FITS file."""

    __tablename__ = "astro_observation"
    __table_args__ = (
        UniqueConstraint("survey_id", "observation_id"),
        *_sky_checks(),
        _positive("exposure_time"),
        _positive("airmass"),
        _positive("seeing"),
        _positive("pixel_scale"),
        Index("ix_astro_observation_healpix", "healpix"),
        Index("ix_astro_observation_time", "observation_time"),
        Index("ix_astro_observation_status", "status"),
    )

    id: Mapped[uuid.UUID] = _id()
    survey_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_survey.id", ondelete="RESTRICT"), nullable=False
    )
    #: The survey's own identifier of the exposure (unique within the survey).
    observation_id: Mapped[str] = mapped_column(String(200), nullable=False)
    #: WCS centre of the image, degrees (ICRS).
    ra: Mapped[float] = mapped_column(Float, nullable=False)
    dec: Mapped[float] = mapped_column(Float, nullable=False)
    healpix: Mapped[int] = mapped_column(BigInteger, nullable=False)
    observation_time: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    filter_band: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: Seconds.
    exposure_time: Mapped[float] = mapped_column(Float, nullable=False)
    #: The file's URL in the object store (``file://…`` or ``s3://…``).
    fits_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    fits_key: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    fits_sha512: Mapped[str | None] = mapped_column(String(128), nullable=True)
    fits_size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Arcseconds per pixel.
    pixel_scale: Mapped[float | None] = mapped_column(Float, nullable=True)
    airmass: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: FWHM of the seeing, arcseconds.
    seeing: Mapped[float | None] = mapped_column(Float, nullable=True)
    image_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    image_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[ObservationStatus] = mapped_column(
        _enum(ObservationStatus, "observation_status"),
        nullable=False,
        default=ObservationStatus.INGESTED,
    )
    #: The header keywords read at ingest (strings, numbers, booleans).
    header: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


# ---- preprocessing ------------------------------------------------------------------------


class PreprocessRun(TimestampMixin, Base):
    """Calibration, cosmic-ray masking, background and WCS alignment of one observation."""

    __tablename__ = "astro_preprocess_run"
    __table_args__ = (
        _nonneg("registration_quality"),
        _nonneg("processing_time_seconds"),
        _nonneg("retry_count"),
        Index("ix_astro_preprocess_run_observation", "observation_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    observation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_observation.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "preprocess_status"), nullable=False, default=RunStatus.PENDING
    )
    calibration_applied: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false"), default=False
    )
    wcs_aligned: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false"), default=False
    )
    #: RMS of the registration residuals, pixels (smaller is better).
    registration_quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    processed_fits_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    wcs_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    processing_time_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_count: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )


# ---- differencing -------------------------------------------------------------------------


class DifferenceRun(TimestampMixin, Base):
    """One subtraction of a reference from an observation, and its stored products."""

    __tablename__ = "astro_difference_run"
    __table_args__ = (
        CheckConstraint(
            "reference_observation_id IS NULL OR reference_observation_id <> observation_id",
            name="reference_differs",
        ),
        _positive("detection_threshold"),
        _nonneg("candidates_found"),
        _nonneg("noise_level"),
        _nonneg("processing_time_seconds"),
        Index("ix_astro_difference_run_observation", "observation_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    observation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_observation.id", ondelete="CASCADE"), nullable=False
    )
    reference_observation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("astro_observation.id", ondelete="SET NULL"), nullable=True
    )
    algorithm: Mapped[DifferenceAlgorithm] = mapped_column(
        _enum(DifferenceAlgorithm, "difference_algorithm"),
        nullable=False,
        default=DifferenceAlgorithm.ZOGY,
    )
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "difference_status"), nullable=False, default=RunStatus.PENDING
    )
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    #: Object-store URL of D (the difference image) and of Scorr (the significance map).
    difference_image_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    significance_map_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    #: Every stored product: name → {"key", "url", "sha512", "size_bytes"} (D, Scorr, new, ref).
    products: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    noise_level: Mapped[float | None] = mapped_column(Float, nullable=True)
    detection_threshold: Mapped[float] = mapped_column(
        Float, nullable=False, server_default=text("5"), default=5.0
    )
    candidates_found: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    flux_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    processing_time_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class Candidate(TimestampMixin, Base):
    """A source found on the significance map of a difference run."""

    __tablename__ = "astro_candidate"
    __table_args__ = (
        *_sky_checks(),
        _nonneg("flux_error"),
        _nonneg("fwhm"),
        _unit_interval("ellipticity"),
        _unit_interval("rb_score"),
        Index("ix_astro_candidate_healpix", "healpix"),
        Index("ix_astro_candidate_run", "difference_run_id"),
        Index("ix_astro_candidate_observation", "observation_id"),
        Index("ix_astro_candidate_status_score", "status", "rb_score"),
    )

    id: Mapped[uuid.UUID] = _id()
    difference_run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_difference_run.id", ondelete="CASCADE"), nullable=False
    )
    observation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_observation.id", ondelete="CASCADE"), nullable=False
    )
    ra: Mapped[float] = mapped_column(Float, nullable=False)
    dec: Mapped[float] = mapped_column(Float, nullable=False)
    healpix: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: 0-based numpy pixel coordinates in the new image.
    pixel_x: Mapped[float] = mapped_column(Float, nullable=False)
    pixel_y: Mapped[float] = mapped_column(Float, nullable=False)
    flux: Mapped[float] = mapped_column(Float, nullable=False)
    flux_error: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Peak of Scorr (in sigma).
    significance: Mapped[float | None] = mapped_column(Float, nullable=True)
    snr: Mapped[float | None] = mapped_column(Float, nullable=True)
    fwhm: Mapped[float | None] = mapped_column(Float, nullable=True)
    ellipticity: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Degrees.
    position_angle: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: +1 brightening, -1 fading.
    sign: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"), default=1)
    flags: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    is_saturated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false"), default=False
    )
    is_blended: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false"), default=False
    )
    is_edge: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false"), default=False
    )
    #: The latest real/bogus score (the detection's confidence), NULL until scored.
    rb_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[CandidateStatus] = mapped_column(
        _enum(CandidateStatus, "candidate_status"),
        nullable=False,
        default=CandidateStatus.PENDING,
    )


# ---- detection ----------------------------------------------------------------------------


class Model(TimestampMixin, Base):
    """A trained model in the registry, with its metrics and its serialized bytes.

    At most one model per ``model_type`` is active (a partial unique index on both databases).
    """

    __tablename__ = "astro_model"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        _unit_interval("precision"),
        _unit_interval("recall"),
        _unit_interval("f1_score"),
        _unit_interval("accuracy"),
        Index(
            "ix_astro_model_one_active_per_type",
            "model_type",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    version: Mapped[str] = mapped_column(String(40), nullable=False)
    model_type: Mapped[ModelType] = mapped_column(_enum(ModelType, "model_type"), nullable=False)
    architecture: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    hyperparameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    training_dataset: Mapped[str | None] = mapped_column(String(500), nullable=True)
    training_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    precision: Mapped[float | None] = mapped_column(Float, nullable=True)
    recall: Mapped[float | None] = mapped_column(Float, nullable=True)
    f1_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false"), default=False
    )
    deployment_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Where the bytes live outside the database, if anywhere (an object-store URL).
    model_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    #: The serialized model (``RealBogusModel.to_bytes``), kept in the same transaction as the row.
    blob: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sha512: Mapped[str | None] = mapped_column(String(128), nullable=True)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class ModelRun(TimestampMixin, Base):
    """One inference run of a model over an observation's candidates."""

    __tablename__ = "astro_model_run"
    __table_args__ = (
        _nonneg("inference_time_ms"),
        _nonneg("memory_usage_mb"),
        _nonneg("total_predictions"),
        CheckConstraint(
            "high_confidence_predictions >= 0 AND high_confidence_predictions <= total_predictions",
            name="high_confidence_within_total",
        ),
        Index("ix_astro_model_run_observation", "observation_id"),
        Index("ix_astro_model_run_model", "model_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_model.id", ondelete="RESTRICT"), nullable=False
    )
    observation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_observation.id", ondelete="CASCADE"), nullable=False
    )
    difference_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("astro_difference_run.id", ondelete="CASCADE"), nullable=True
    )
    input_image_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    output_mask_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    confidence_map_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    inference_time_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory_usage_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_predictions: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    high_confidence_predictions: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "model_run_status"), nullable=False, default=RunStatus.PENDING
    )
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class Detection(TimestampMixin, Base):
    """A candidate as the model judged it: confidence, type, and its human validation."""

    __tablename__ = "astro_detection"
    __table_args__ = (
        *_sky_checks(),
        _unit_interval("confidence_score"),
        _unit_interval("validation_confidence"),
        _nonneg("inference_time_ms"),
        UniqueConstraint("model_run_id", "candidate_id"),
        Index("ix_astro_detection_healpix", "healpix"),
        Index("ix_astro_detection_status_confidence", "status", "confidence_score"),
        Index("ix_astro_detection_candidate", "candidate_id"),
        Index("ix_astro_detection_observation", "observation_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    model_run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_model_run.id", ondelete="CASCADE"), nullable=False
    )
    observation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_observation.id", ondelete="CASCADE"), nullable=False
    )
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("astro_candidate.id", ondelete="CASCADE"), nullable=True
    )
    ra: Mapped[float] = mapped_column(Float, nullable=False)
    dec: Mapped[float] = mapped_column(Float, nullable=False)
    healpix: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pixel_x: Mapped[float] = mapped_column(Float, nullable=False)
    pixel_y: Mapped[float] = mapped_column(Float, nullable=False)
    confidence_score: Mapped[float] = mapped_column(Float, nullable=False)
    detection_type: Mapped[DetectionType] = mapped_column(
        _enum(DetectionType, "detection_type"), nullable=False, default=DetectionType.UNKNOWN
    )
    model_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    inference_time_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    prediction_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    status: Mapped[DetectionStatus] = mapped_column(
        _enum(DetectionStatus, "detection_status"),
        nullable=False,
        default=DetectionStatus.PENDING,
    )
    is_validated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false"), default=False
    )
    validation_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    human_label: Mapped[str | None] = mapped_column(String(60), nullable=True)


# ---- curation -----------------------------------------------------------------------------


class ValidationEvent(Base):
    """One human judgement of a detection (real, bogus, or a label)."""

    __tablename__ = "astro_validation_event"
    __table_args__ = (Index("ix_astro_validation_event_detection", "detection_id", "created_at"),)

    id: Mapped[uuid.UUID] = _id()
    detection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_detection.id", ondelete="CASCADE"), nullable=False
    )
    #: The username of the validator.
    validator_id: Mapped[str] = mapped_column(String(80), nullable=False)
    #: True: real, False: bogus, NULL: a label only.
    is_valid: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    label: Mapped[str | None] = mapped_column(String(60), nullable=True)
    confidence_level: Mapped[ConfidenceLevel] = mapped_column(
        _enum(ConfidenceLevel, "confidence_level"),
        nullable=False,
        default=ConfidenceLevel.MEDIUM,
    )
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    image_quality: Mapped[QualityLevel | None] = mapped_column(
        _enum(QualityLevel, "image_quality"), nullable=True
    )
    detection_quality: Mapped[QualityLevel | None] = mapped_column(
        _enum(QualityLevel, "detection_quality"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), nullable=False
    )


class Alert(TimestampMixin, Base):
    """A notification raised by a rule for a detection, and its delivery.

    ``delivery_log`` keeps every attempt: ``{"at", "url", "status_code", "error", "elapsed_ms"}``.
    One alert per detection and rule (``alert_type``): re-running the rules raises no duplicate.
    """

    __tablename__ = "astro_alert"
    __table_args__ = (
        UniqueConstraint("detection_id", "alert_type"),
        _nonneg("delivery_attempts"),
        Index("ix_astro_alert_status_priority", "status", "priority"),
    )

    id: Mapped[uuid.UUID] = _id()
    detection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("astro_detection.id", ondelete="CASCADE"), nullable=False
    )
    alert_type: Mapped[str] = mapped_column(String(40), nullable=False)
    priority: Mapped[AlertPriority] = mapped_column(
        _enum(AlertPriority, "alert_priority"), nullable=False, default=AlertPriority.MEDIUM
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    alert_metadata: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[AlertStatus] = mapped_column(
        _enum(AlertStatus, "alert_status"), nullable=False, default=AlertStatus.PENDING
    )
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivery_attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    delivery_log: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONType, nullable=False, default=list
    )
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)


# ---- catalog (system tables) --------------------------------------------------------------


class SystemConfig(TimestampMixin, Base):
    """A configuration value by key (alert thresholds, webhook URL, ...)."""

    __tablename__ = "astro_system_config"

    id: Mapped[uuid.UUID] = _id()
    key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))


class ProcessingJob(TimestampMixin, Base):
    """One step of the pipeline for one entity: status, retries, timings and errors."""

    __tablename__ = "astro_processing_job"
    __table_args__ = (
        _nonneg("retry_count"),
        _nonneg("max_retries"),
        _nonneg("duration_seconds"),
        Index("ix_astro_processing_job_entity", "entity_type", "entity_id"),
        Index("ix_astro_processing_job_status", "status", "priority"),
        Index("ix_astro_processing_job_workflow", "workflow_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    #: ingest, preprocess, difference, extract, score, alert, deliver, pipeline.
    job_type: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entity_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), nullable=False, default=JobStatus.PENDING
    )
    priority: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    workflow_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retry_count: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    max_retries: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("3"), default=3
    )
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class AuditLog(Base):
    """Who changed what: one row per mutating service call."""

    __tablename__ = "astro_audit_log"
    __table_args__ = (
        Index("ix_astro_audit_log_entity", "entity_type", "entity_id"),
        Index("ix_astro_audit_log_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    entity_type: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    change_summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(400), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), nullable=False
    )
