"""Bodies of the defense routes (``argus.api.routes.defense``): the simulator, radar, threats,
metrics and controller endpoints of seeds 002 and 004."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["none", "low", "medium", "high", "critical"]


class LaunchIn(BaseModel):
    """A launch (the seed's query parameters, also accepted as this JSON body)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    lat: float = Field(ge=-90, le=90, description="launch latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="launch longitude, degrees")
    targetLat: float = Field(ge=-90, le=90)
    targetLon: float = Field(ge=-180, le=180)
    missileType: str = Field(default="SCUD-C", min_length=1, max_length=60)
    trajectory: Literal["minimum_energy", "lofted", "depressed"] = "minimum_energy"


class FlightOut(BaseModel):
    id: int
    flight_id: str
    scenario_id: int
    missile_type: str
    lat: float
    lon: float
    target_lat: float
    target_lon: float
    trajectory: str
    launched_at: str
    impact_at: str | None
    state: Literal["flying", "intercepted", "impacted", "aborted"]
    ended_at: str | None
    outcome: dict[str, Any] | None


class FlightEventOut(BaseModel):
    event_id: str
    subject: str
    time: str
    payload: dict[str, Any]


class FlightDetailOut(FlightOut):
    events: list[FlightEventOut]


class SiteOut(BaseModel):
    name: str
    lat: float
    lon: float
    max_range_m: float
    azimuth_center_deg: float
    azimuth_width_deg: float
    scan_period_s: float
    eccm: bool
    jammed: bool
    noise_floor_rise_db: float


class RadarStatusOut(BaseModel):
    running: bool
    time: str
    cycle: int
    sites: list[SiteOut]


class TruthOut(BaseModel):
    flight_id: str
    lat: float
    lon: float
    alt_m: float


class TargetsOut(BaseModel):
    time: str
    targets: list[TruthOut]


class TrackOut(BaseModel):
    track_id: str
    lat: float
    lon: float
    alt_m: float
    speed_mps: float
    #: The classifier's label (``unknown`` below the confidence floor).
    classification: str = Field(alias="class")
    confidence: float
    level: Level
    score: float
    time_to_impact_s: float | None

    model_config = ConfigDict(populate_by_name=True)


class TracksOut(BaseModel):
    time: str
    tracks: list[TrackOut]


class PlotOut(BaseModel):
    site: str
    time: str
    range_m: float
    azimuth_deg: float
    elevation_deg: float
    snr_db: float


class ScanOut(BaseModel):
    time: str
    cycle: int
    n_detections: int
    detections: list[PlotOut]


class SignalQualityOut(BaseModel):
    time: str
    sites: list[SiteOut]
    mean_snr_db: float | None
    detection_threshold_db: float


class ThreatsOut(BaseModel):
    time: str
    threats: list[TrackOut]


class ThreatSummaryOut(BaseModel):
    time: str
    by_level: dict[str, int]
    n_tracks: int
    engagements: int
    kills: int
    rounds: dict[str, int]


class LevelChangeOut(BaseModel):
    time: str
    track_id: str
    previous_level: Level
    level: Level
    score: float


class ThreatHistoryOut(BaseModel):
    changes: list[LevelChangeOut]


class EwResponseOut(BaseModel):
    time: str
    sensor_id: str
    response: str
    track_id: str | None
    detail: str | None
    effective: bool | None = Field(
        default=None, description="soft_kill: whether it defeated the threat; else null"
    )


class EwStatusOut(BaseModel):
    time: str
    sites: list[SiteOut]
    responses: list[EwResponseOut]


class MetricsOut(BaseModel):
    area: str
    time: str
    values: dict[str, float | None]


class PlayedScenarioOut(BaseModel):
    """A defense scenario file now playing: the stored scenario and the new run."""

    scenario_id: int
    name: str
    run_id: str
    radars: int
    batteries: int
    assets: int
    ballistic: int = Field(description="scripted ballistic launches (at their launch_time_s)")
    airbreathers: int
    jammers: int
    replaced: bool = Field(description="an existing scenario of that name was replaced")


class ControllerStatusOut(BaseModel):
    running: bool
    run_id: str
    scenario_id: int
    cycle: int
    sim_time: str
    scan_interval_s: float
    last_cycle_s: float | None
    p99_cycle_s: float | None
    stage_s: dict[str, float]
    n_tracks: int
    n_interceptors: int
    flights: int
    errors: list[str]
