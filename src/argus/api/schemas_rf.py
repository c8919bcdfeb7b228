"""Bodies of the RF routes (``argus.api.routes.rf``): what they take and answer."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Ids are 32-bit (as argus.api.routes._common.MAX_ID).
_MAX_ID = 2_147_483_647
#: Largest ``params`` object an acquisition takes, as JSON text (bytes).
MAX_PARAMS_BYTES = 8192

KINDS = Literal["network", "websdr", "simulated", "sigmf"]
CLOCKS = Literal["gpsdo", "gps", "ntp", "internal", "unknown"]


class ReceiverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    kind: KINDS = "network"
    url: str | None = Field(default=None, max_length=500)
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    alt_m: float = Field(default=0.0, ge=-500, le=20_000)
    min_frequency_hz: float | None = Field(default=None, ge=0, le=3e11)
    max_frequency_hz: float | None = Field(default=None, ge=0, le=3e11)
    sample_rate_hz: float = Field(default=2e6, gt=0, le=1e9)
    clock_source: CLOCKS = "unknown"
    clock_sigma_s: float = Field(default=50e-9, ge=0, le=1)


class ReceiverPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=80)
    kind: KINDS | None = None
    url: str | None = Field(default=None, max_length=500)
    lat_deg: float | None = Field(default=None, ge=-90, le=90)
    lon_deg: float | None = Field(default=None, ge=-180, le=180)
    alt_m: float | None = Field(default=None, ge=-500, le=20_000)
    min_frequency_hz: float | None = Field(default=None, ge=0, le=3e11)
    max_frequency_hz: float | None = Field(default=None, ge=0, le=3e11)
    sample_rate_hz: float | None = Field(default=None, gt=0, le=1e9)
    clock_source: CLOCKS | None = None
    clock_sigma_s: float | None = Field(default=None, ge=0, le=1)


class ReceiverOut(BaseModel):
    id: int
    name: str
    kind: str
    url: str | None
    lat_deg: float
    lon_deg: float
    alt_m: float
    min_frequency_hz: float | None
    max_frequency_hz: float | None
    sample_rate_hz: float
    clock_source: str
    clock_sigma_s: float
    status: str
    last_seen_at: dt.datetime | None
    last_error: str | None


class AcquisitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    frequency_hz: float = Field(gt=0, le=3e11)
    duration_s: float = Field(gt=0, le=10)
    receiver_ids: list[Annotated[int, Field(ge=1, le=_MAX_ID)]] = Field(min_length=1, max_length=64)
    source: Literal["network", "sigmf", "simulated"] = "network"
    params: dict[str, Any] | None = Field(
        default=None, description="source options: the simulated emitter, a SigMF folder"
    )

    @field_validator("params")
    @classmethod
    def _small(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and len(json.dumps(v)) > MAX_PARAMS_BYTES:
            raise ValueError(f"at most {MAX_PARAMS_BYTES} bytes of JSON")
        return v


class CaptureOut(BaseModel):
    receiver: str
    stored: bool
    size_bytes: int | None = None
    sha512: str | None = None
    meta_key: str | None = None
    data_key: str | None = None
    meta_size_bytes: int | None = None
    meta_sha512: str | None = None


class AcquisitionOut(BaseModel):
    id: str
    frequency_hz: float
    duration_s: float
    receiver_ids: list[int]
    source: str
    status: str
    progress: float
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None
    attempts: int
    simulated: bool
    truth: dict[str, Any] | None
    captures: dict[str, CaptureOut]


class AcquisitionStarted(BaseModel):
    id: str
    status: str
    status_url: str
    queued_on: Literal["celery", "in-process"]


class MeasurementOut(BaseModel):
    time: dt.datetime
    receiver_id: int
    acquisition_id: str
    frequency_hz: float
    snr_db: float
    signal_power_dbfs: float
    noise_floor_dbfs: float
    frequency_offset_hz: float
    occupied_bandwidth_hz: float
    psd_summary: dict[str, Any] | None


class HourlyOut(BaseModel):
    hour: dt.datetime
    receiver_id: int
    count: int
    snr_mean_db: float
    snr_min_db: float
    snr_max_db: float
    signal_power_mean_dbfs: float
    noise_floor_mean_dbfs: float
    frequency_offset_mean_hz: float
    occupied_bandwidth_mean_hz: float
    refreshed_at: dt.datetime


class MeasurementPage(BaseModel):
    aggregation: Literal["raw", "hourly"]
    items: list[dict[str, Any]] = Field(description="MeasurementOut (raw) or HourlyOut (hourly)")
    next_cursor: str | None


class Ellipse(BaseModel):
    a_m: float
    b_m: float
    orient_deg: float


class LocalizationOut(BaseModel):
    id: int
    acquisition_id: str | None
    time: dt.datetime
    lat_deg: float
    lon_deg: float
    alt_m: float
    method: str
    cov_enu_m2: list[list[float]]
    ellipse95: Ellipse
    gdop: float | None
    crlb_m: float | None
    residuals: list[float | None]
    receivers_used: list[str]
    per_receiver: Any
    truth: Any
    error_m: float | None
    truth_lat_deg: float | None = Field(
        default=None, description="the simulated emitter's latitude (simulated acquisitions)"
    )
    truth_lon_deg: float | None = Field(
        default=None, description="the simulated emitter's longitude (simulated acquisitions)"
    )


class LocalizationPage(BaseModel):
    items: list[LocalizationOut]
    next_cursor: str | None
