"""Pydantic models of the bodies that the resource routes (``argus.api.routes.scenarios``,
``assets``, ``tracks``, ``params``, ``weapons``, ``picture``) answer with, so the OpenAPI
document describes every 2xx body. The field names are the wire names the console
(``argus/web/console.js``) and the CLI's users read: do not rename them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


def not_null(**kwargs: Any) -> Any:
    """A PATCH field that may be left out but not set to ``null`` (its column is NOT NULL).

    The field's type stays non-nullable, so an explicit ``null`` is a 422 naming the field, and
    the schema does not advertise ``"default": null`` (the default only means "unchanged").
    """

    def drop_default(schema: dict[str, Any]) -> None:
        schema.pop("default", None)

    return Field(default=None, json_schema_extra=drop_default, **kwargs)


class ScenarioOut(BaseModel):
    id: int
    name: str
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    notes: str | None
    doctrine: str = Field(description="the preset the model params match, or 'custom'")
    active: bool
    replay: bool
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class AssetOut(BaseModel):
    id: int
    name: str
    lat: float
    lon: float
    radius_km: float
    value: float
    weapon_range_km: float | None


class TrackOut(BaseModel):
    id: int
    track_id: str
    lat: float
    lon: float
    alt_m: float
    speed_mps: float
    heading_deg: float
    iff: str
    threat_class: str
    quality: float | None
    updated_at: dt.datetime | None


class SampleOut(BaseModel):
    t: dt.datetime
    lat: float
    lon: float
    alt_m: float
    speed_mps: float
    heading_deg: float


class _Page(BaseModel):
    next_cursor: str | None = Field(
        description="pass as ``cursor`` for the next page; null on the last page"
    )


class ScenarioPage(_Page):
    items: list[ScenarioOut]


class AssetPage(_Page):
    items: list[AssetOut]


class TrackPage(_Page):
    items: list[TrackOut]


class SamplePage(_Page):
    items: list[SampleOut]


class Logistic(BaseModel):
    midpoint: float
    width: float


class ParamsOut(BaseModel):
    scenario_id: int
    doctrine: str
    w_cpa: float
    w_tcpa: float
    w_tdb: float
    w_twrp: float
    cpa_scale_km: float
    tcpa_scale_s: float
    tdb_scale_km: float
    twrp_scale_s: float
    clamp_0_1: bool
    weapon_range_km: float
    cpa_logistic: dict[str, float] | None
    tcpa_logistic: dict[str, float] | None
    tdb_logistic: dict[str, float] | None
    twrp_logistic: dict[str, float] | None
    use_track_quality: bool


class WeaponOut(BaseModel):
    id: int
    call_sign: str
    weapon_type: str
    lat: float
    lon: float
    rounds: int
    min_range_km: float
    max_range_km: float
    max_target_speed_mps: float
    fire_channels: int
    interceptor_speed_mps: float
    max_salvo: int


class PictureTrack(BaseModel):
    track_id: str
    status: Literal["ok", "extrapolated", "stale", "not_started", "track_row"]
    iff: str
    threat_class: str
    lat: float | None = Field(description="null when the track has no usable state at ``at``")
    lon: float | None
    speed_mps: float | None
    heading_deg: float | None
    trail: list[list[float]] = Field(description="[lat, lon] points, oldest first")


class PictureOut(BaseModel):
    scenario_id: int
    at: dt.datetime
    tracks: list[PictureTrack]


class RowErrorOut(BaseModel):
    line: int = Field(description="1-based line of the file")
    column: str
    value: str
    reason: str


class UploadReport(BaseModel):
    scenario: str
    scenario_created: bool
    rows_read: int
    rows_valid: int
    inserted: int
    already_present: int
    tracks_created: int
    tracks_updated: int
    errors: list[RowErrorOut] = Field(description="rejected rows (non-empty only with partial)")
    ignored_columns: list[str]
    rows_rejected: int
