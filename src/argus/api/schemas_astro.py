"""Pydantic models of the astronomy routes (``argus.api.routes.astro``): request bodies and the
2xx answers, so the OpenAPI document describes every body. Sky positions are degrees (ICRS),
times ISO 8601 UTC, ids UUIDs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CandidateStatusName = Literal["pending", "scored", "validated", "rejected", "archived"]
ObservationStatusName = Literal[
    "ingested", "preprocessing", "preprocessed", "differencing", "differenced", "failed", "archived"
]
JobStatusName = Literal["pending", "running", "completed", "failed", "cancelled"]
AlertStatusName = Literal["pending", "sent", "delivered", "failed", "cancelled"]
PriorityName = Literal["low", "medium", "high", "critical"]
QualityName = Literal["poor", "fair", "good", "excellent"]


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=4000)
    base_url: str | None = Field(default=None, max_length=500)
    api_endpoint: str | None = Field(default=None, max_length=500)
    is_active: bool = True


class SurveyOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    base_url: str | None
    api_endpoint: str | None
    is_active: bool
    created_at: dt.datetime | None


class ObservationOut(BaseModel):
    id: uuid.UUID
    survey_id: uuid.UUID
    observation_id: str
    ra: float
    dec: float
    healpix: int
    observation_time: dt.datetime
    filter_band: str | None
    exposure_time: float
    pixel_scale: float | None
    airmass: float | None
    seeing: float | None
    image_width: int | None
    image_height: int | None
    status: ObservationStatusName
    fits_url: str | None
    fits_sha512: str | None
    fits_size_bytes: int | None


class ObservationPage(BaseModel):
    items: list[ObservationOut]
    next_cursor: str | None


class FileError(BaseModel):
    file: str
    field: str
    reason: str


class IngestOut(BaseModel):
    stored: int
    observation_ids: list[uuid.UUID]
    errors: list[FileError] = Field(description="files skipped (partial import only)")


class IngestFolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str = Field(
        min_length=1,
        max_length=500,
        description="a folder under <ARGUS_VAR_DIR>/astro-incoming (relative path)",
    )
    survey: str | None = Field(default=None, min_length=1, max_length=100)
    partial: bool = Field(default=False, description="store the good files, report the bad")


class ProcessingJobOut(BaseModel):
    id: uuid.UUID
    job_type: str
    entity_type: str | None
    entity_id: str | None
    status: JobStatusName
    priority: int
    workflow_id: str | None
    retry_count: int
    max_retries: int
    scheduled_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    duration_seconds: float | None
    result: dict[str, Any] | None
    error_message: str | None


class DifferenceRunOut(BaseModel):
    id: uuid.UUID
    observation_id: uuid.UUID
    reference_observation_id: uuid.UUID | None
    algorithm: Literal["zogy", "alard_lupton"]
    status: Literal["pending", "running", "completed", "failed"]
    parameters: dict[str, Any]
    difference_image_path: str | None
    significance_map_path: str | None
    products: dict[str, Any]
    noise_level: float | None
    detection_threshold: float
    candidates_found: int
    flux_ratio: float | None
    processing_time_seconds: float | None
    created_at: dt.datetime | None


class DifferenceRunPage(BaseModel):
    items: list[DifferenceRunOut]
    next_cursor: str | None


class CandidateOut(BaseModel):
    id: uuid.UUID
    difference_run_id: uuid.UUID
    observation_id: uuid.UUID
    ra: float
    dec: float
    healpix: int
    pixel_x: float
    pixel_y: float
    flux: float
    flux_error: float | None
    significance: float | None
    snr: float | None
    fwhm: float | None
    ellipticity: float | None
    position_angle: float | None
    sign: int
    flags: int
    is_saturated: bool
    is_blended: bool
    is_edge: bool
    rb_score: float | None
    status: CandidateStatusName


class CandidatePage(BaseModel):
    items: list[CandidateOut]
    next_cursor: str | None


class DetectionOut(BaseModel):
    id: uuid.UUID
    model_run_id: uuid.UUID
    observation_id: uuid.UUID
    candidate_id: uuid.UUID | None
    ra: float
    dec: float
    pixel_x: float
    pixel_y: float
    confidence_score: float
    detection_type: Literal["supernova", "variable", "transient", "unknown", "artifact"]
    model_version: str | None
    status: Literal["pending", "validating", "validated", "rejected", "confirmed", "archived"]
    is_validated: bool
    validation_confidence: float | None
    human_label: str | None


class ConeMatchOut(BaseModel):
    separation_arcsec: float
    candidate: CandidateOut | None = None
    detection: DetectionOut | None = None


class ConeOut(BaseModel):
    ra: float
    dec: float
    radius_arcsec: float
    target: Literal["candidates", "detections"]
    matches: list[ConeMatchOut]


class LightCurvePointOut(BaseModel):
    observation_id: uuid.UUID
    candidate_id: uuid.UUID
    observation_time: dt.datetime
    mjd: float
    filter_band: str | None
    flux: float
    flux_error: float | None
    mag: float | None = Field(description="instrumental -2.5 log10(flux); null for flux <= 0")
    mag_error: float | None
    snr: float | None
    sign: int
    separation_arcsec: float


class LightCurveOut(BaseModel):
    ra: float
    dec: float
    radius_arcsec: float
    points: list[LightCurvePointOut]


class ValidationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    detection_id: uuid.UUID
    decision: Literal["real", "bogus", "label"]
    label: str | None = Field(default=None, min_length=1, max_length=60)
    confidence_level: Literal["low", "medium", "high", "expert"] = "medium"
    notes: str | None = Field(default=None, max_length=4000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    image_quality: QualityName | None = None
    detection_quality: QualityName | None = None


class ValidationOut(BaseModel):
    id: uuid.UUID
    detection_id: uuid.UUID
    validator_id: str
    is_valid: bool | None
    label: str | None
    confidence_level: Literal["low", "medium", "high", "expert"]
    notes: str | None
    tags: list[str]
    image_quality: QualityName | None
    detection_quality: QualityName | None
    created_at: dt.datetime | None


class QueueItemOut(BaseModel):
    detection: DetectionOut
    candidate: CandidateOut | None


class QueueOut(BaseModel):
    items: list[QueueItemOut]


class AlertOut(BaseModel):
    id: uuid.UUID
    detection_id: uuid.UUID
    alert_type: str
    priority: PriorityName
    title: str
    message: str
    alert_metadata: dict[str, Any]
    status: AlertStatusName
    sent_at: dt.datetime | None
    delivery_attempts: int
    error_message: str | None
    created_at: dt.datetime | None


class DeliveryAttemptOut(BaseModel):
    at: str
    url: str
    attempt: int | None = None
    status_code: int | None
    error: str | None = None
    elapsed_ms: float | None = None


class DeliveriesOut(BaseModel):
    alert_id: uuid.UUID
    status: AlertStatusName
    delivery_attempts: int
    attempts: list[DeliveryAttemptOut]


class ModelOut(BaseModel):
    id: uuid.UUID
    name: str
    version: str
    model_type: str
    is_active: bool
    precision: float | None
    recall: float | None
    f1_score: float | None
    accuracy: float | None
    training_metrics: dict[str, Any] | None
    training_dataset: str | None
    deployment_date: dt.datetime | None
    sha512: str | None
    created_at: dt.datetime | None


class AlertRulesIn(BaseModel):
    """Overrides of the alert rules for one call (the others: SystemConfig
    ``astro.alerts.rules``, else the defaults of ``argus.astro.service.AlertRules``)."""

    model_config = ConfigDict(extra="forbid")
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    min_snr: float | None = Field(default=None, ge=0, le=1e6)
    novelty_radius_arcsec: float | None = Field(default=None, gt=0, le=3600)
    alert_known_sources: bool | None = None
    high_confidence: float | None = Field(default=None, ge=0, le=1)
    critical_confidence: float | None = Field(default=None, ge=0, le=1)
    critical_snr: float | None = Field(default=None, ge=0, le=1e6)


class AlertRaiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    difference_run_id: uuid.UUID | None = Field(
        default=None, description="judge every candidate of this difference run"
    )
    candidate_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=1000, description="and/or these candidates"
    )
    rules: AlertRulesIn | None = None


class AlertRaiseOut(BaseModel):
    detections_considered: int = Field(description="latest detections of the candidates")
    raised: int
    alerts: list[AlertOut] = Field(description="the new alerts (none twice per detection)")
    rules: dict[str, Any] = Field(description="the rules applied")


#: Longest a delivery may take (every attempt timing out, every backoff slept).
MAX_DELIVERY_S = 120


class AlertDeliverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_s: float = Field(default=0.5, ge=0, le=10, description="first retry delay")
    timeout_s: float = Field(default=5.0, gt=0, le=30, description="per attempt")
    force: bool = Field(default=False, description="send again an alert already delivered")

    @model_validator(mode="after")
    def _bounded(self) -> AlertDeliverIn:
        worst = self.max_attempts * self.timeout_s + self.backoff_s * (
            2 ** (self.max_attempts - 1) - 1
        )
        if worst > MAX_DELIVERY_S:
            raise ValueError(
                f"max_attempts, backoff_s, timeout_s: the attempts could take {worst:g} s, "
                f"more than {MAX_DELIVERY_S} s (the answer waits for the last one)"
            )
        return self


class AlertDeliverOut(BaseModel):
    alert: AlertOut
    attempts: list[DeliveryAttemptOut]


class SystemConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = Field(description="any JSON value; the keys the service reads are checked")
    description: str | None = Field(default=None, max_length=4000)
    is_active: bool = True


class SystemConfigOut(BaseModel):
    key: str
    value: Any
    description: str | None
    is_active: bool
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
