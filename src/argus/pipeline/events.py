"""Typed, versioned events of the pipeline bus and their wire codec.

Every event is a frozen pydantic model with an ``event_id`` (UUID4), an optional
``causation_id`` (the ``event_id`` of the event that caused it), a ``time`` (timezone-aware,
normalised to UTC; the time the event is *about*, e.g. the measurement time of a detection)
and a schema version ``v``. The subject is a class attribute; subjects keep the seeds' names
(``missile.launched``, ``radar.detection``, ...). Units are SI unless the field name says
otherwise (``_deg`` degrees, ``_db`` decibels, ``_dbm`` dBm). Geodetic positions are WGS-84
latitude/longitude in degrees and altitude above the ellipsoid in metres; velocities are
east/north/up in metres per second.

The wire format is JSON (:func:`encode`); :func:`decode` takes the subject and the bytes and
refuses unknown subjects, unknown versions and invalid or unexpected fields with a
:class:`DecodeError` that names the subject and the field.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

__all__ = [
    "EVENTS",
    "CommandIntercept",
    "DecodeError",
    "Event",
    "EwDetection",
    "EwResponseTriggered",
    "InterceptorDetonation",
    "InterceptorLaunched",
    "MissileLaunched",
    "PipelineCycleComplete",
    "RadarDetection",
    "ThreatLevelChanged",
    "TrackTruth",
    "TrackingUpdated",
    "decode",
    "encode",
]

Lat = Field(ge=-90.0, le=90.0, description="WGS-84 latitude, degrees")
Lon = Field(ge=-180.0, le=180.0, description="WGS-84 longitude, degrees")
Vec3 = tuple[float, float, float]


def _now() -> datetime:
    return datetime.now(UTC)


class DecodeError(ValueError):
    """Bytes on a subject that are not a valid event of that subject."""

    def __init__(self, subject: str, field: str | None, reason: str) -> None:
        self.subject = subject
        self.field = field
        self.reason = reason
        where = f" field {field!r}:" if field else ""
        super().__init__(f"cannot decode event on subject {subject!r}:{where} {reason}")


class Event(BaseModel):
    """Base of every bus event (never published itself: it has no subject)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: ClassVar[str]

    v: Literal[1] = 1
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None
    time: AwareDatetime = Field(default_factory=_now)

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class MissileLaunched(Event):
    """A missile left its launcher (scenario/simulation seed)."""

    subject: ClassVar[str] = "missile.launched"
    flight_id: str = Field(min_length=1)
    missile_type: str = Field(min_length=1)
    lat_deg: float = Lat
    lon_deg: float = Lon
    alt_m: float
    target_lat_deg: float = Lat
    target_lon_deg: float = Lon
    #: The flight model's key in the threat catalogue (None: ``missile_type`` is the key).
    catalogue_key: str | None = None
    trajectory: Literal["minimum_energy", "lofted", "depressed"] = "minimum_energy"
    scenario_id: int | None = None


class TrackTruth(Event):
    """The true state of a flight at ``time`` (simulation ground truth)."""

    subject: ClassVar[str] = "track.truth"
    flight_id: str = Field(min_length=1)
    lat_deg: float = Lat
    lon_deg: float = Lon
    alt_m: float
    velocity_enu_mps: Vec3


class RadarDetection(Event):
    """One radar plot at ``time``, in the site's local spherical frame."""

    subject: ClassVar[str] = "radar.detection"
    site: str = Field(min_length=1)
    range_m: float = Field(ge=0.0)
    azimuth_deg: float = Field(ge=0.0, lt=360.0, description="clockwise from north")
    elevation_deg: float = Field(ge=-90.0, le=90.0)
    snr_db: float
    radial_velocity_mps: float | None = None
    #: The antenna's position (so a command centre anywhere can place the plot).
    site_lat_deg: float | None = Field(default=None, ge=-90.0, le=90.0)
    site_lon_deg: float | None = Field(default=None, ge=-180.0, le=180.0)
    site_alt_m: float | None = None
    #: 1-sigma measurement errors of range, azimuth and elevation.
    sigma_range_m: float | None = Field(default=None, gt=0.0)
    sigma_azimuth_deg: float | None = Field(default=None, gt=0.0)
    sigma_elevation_deg: float | None = Field(default=None, gt=0.0)
    scan_index: int | None = Field(default=None, ge=0)
    #: Simulation only: the flight that made the plot (None: a false alarm or a real radar).
    #: For scoring and audit; the tracker never reads it.
    truth_flight_id: str | None = None


ThreatLevel = Literal["none", "low", "medium", "high", "critical"]


class TrackingUpdated(Event):
    """A track's state estimate after an update."""

    subject: ClassVar[str] = "tracking.updated"
    track_id: str = Field(min_length=1)
    lat_deg: float = Lat
    lon_deg: float = Lon
    alt_m: float
    velocity_enu_mps: Vec3
    position_sigma_m: float = Field(ge=0.0, description="1-sigma position uncertainty")
    n_detections: int = Field(ge=0)
    #: The classifier's label and its confidence (None until the track is classified).
    classification: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    threat_level: ThreatLevel | None = None
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    #: Predicted time to impact on the nearest defended asset (None: not closing on one).
    time_to_impact_s: float | None = Field(default=None, ge=0.0)


class ThreatLevelChanged(Event):
    """Threat evaluation moved a track to another level."""

    subject: ClassVar[str] = "threat.level_changed"
    track_id: str = Field(min_length=1)
    previous_level: ThreatLevel
    level: ThreatLevel
    score: float = Field(ge=0.0, le=1.0)


class CommandIntercept(Event):
    """Weapon assignment orders a battery to engage a track."""

    subject: ClassVar[str] = "command.intercept"
    track_id: str = Field(min_length=1)
    battery_id: str = Field(min_length=1)
    interceptor_type: str = Field(min_length=1)
    pk: float = Field(ge=0.0, le=1.0, description="estimated single-shot kill probability")
    #: 1 for the first round at the track, 2 for the next (shoot-look-shoot).
    shot: int = Field(default=1, ge=1)
    #: The scenario (run) the order belongs to.
    scenario_id: int | None = None


class InterceptorLaunched(Event):
    """An interceptor left its battery."""

    subject: ClassVar[str] = "interceptor.launched"
    interceptor_id: str = Field(min_length=1)
    battery_id: str = Field(min_length=1)
    track_id: str = Field(min_length=1)
    lat_deg: float = Lat
    lon_deg: float = Lon
    alt_m: float


class InterceptorDetonation(Event):
    """An interceptor detonated (or self-destructed) at a point."""

    subject: ClassVar[str] = "interceptor.detonation"
    interceptor_id: str = Field(min_length=1)
    track_id: str = Field(min_length=1)
    lat_deg: float = Lat
    lon_deg: float = Lon
    alt_m: float
    miss_distance_m: float = Field(ge=0.0)
    kill: bool
    #: The object the warhead was nearest (simulation truth; None: nothing within reach).
    target_flight_id: str | None = None
    #: Why it detonated: at closest approach, or a self-destruct (fuel out / target gone).
    reason: Literal["proximity", "self_destruct"] = "proximity"


class EwDetection(Event):
    """An electronic-warfare sensor heard an emitter."""

    subject: ClassVar[str] = "ew.detection"
    sensor_id: str = Field(min_length=1)
    frequency_hz: float = Field(gt=0.0)
    bandwidth_hz: float = Field(ge=0.0)
    power_dbm: float
    bearing_deg: float | None = Field(default=None, ge=0.0, lt=360.0)
    #: Noise-floor rise the jamming caused at the radar (dB), when a radar heard it.
    floor_rise_db: float | None = Field(default=None, ge=0.0)


class EwResponseTriggered(Event):
    """A response (jamming, decoy, alert) to an EW detection."""

    subject: ClassVar[str] = "ew.response_triggered"
    sensor_id: str = Field(min_length=1)
    #: ``eccm``: the radar went frequency-agile against a jammer; ``soft_kill``: a jammer or
    #: decoy against a critical threat's seeker/datalink.
    response: Literal["jam", "decoy", "alert", "eccm", "soft_kill"]
    frequency_hz: float = Field(gt=0.0)
    duration_s: float = Field(ge=0.0)
    track_id: str | None = None
    detail: str | None = None
    #: ``soft_kill``: whether it defeated the threat (None for the other responses).
    effective: bool | None = None


class PipelineCycleComplete(Event):
    """One pipeline cycle (detections in, tracks and threats out) finished."""

    subject: ClassVar[str] = "pipeline.cycle_complete"
    cycle: int = Field(ge=0)
    duration_s: float = Field(ge=0.0, description="wall time of the cycle")
    n_detections: int = Field(ge=0)
    n_tracks: int = Field(ge=0)
    #: Wall time of each stage (radar_scan, detection, classification, tracking, ...), seconds.
    stage_s: dict[str, float] = Field(default_factory=dict)
    #: Who completed the cycle: the in-process ``controller``, or on the bus the ``radar``
    #: (plots of the cycle published), ``command-center`` or ``interceptor`` stage.
    stage: Literal["controller", "radar", "command-center", "interceptor"] = "controller"
    #: Start and end of the cycle's window, seconds after the run's epoch.
    t0_s: float | None = None
    t1_s: float | None = None


#: subject -> event class, one per subject.
EVENTS: dict[str, type[Event]] = {
    cls.subject: cls
    for cls in (
        MissileLaunched,
        TrackTruth,
        RadarDetection,
        TrackingUpdated,
        ThreatLevelChanged,
        CommandIntercept,
        InterceptorLaunched,
        InterceptorDetonation,
        EwDetection,
        EwResponseTriggered,
        PipelineCycleComplete,
    )
}

#: Schema versions this build reads, per subject.
VERSIONS: dict[str, frozenset[int]] = {subject: frozenset({1}) for subject in EVENTS}


def encode(event: Event) -> bytes:
    """The JSON bytes of ``event`` (the subject travels beside it, not in it)."""
    if getattr(type(event), "subject", None) is None:
        raise TypeError(f"{type(event).__name__} has no subject; publish a subclass of Event")
    return event.model_dump_json().encode()


def decode(subject: str, data: bytes | str) -> Event:
    """The event of ``subject`` in ``data``; :class:`DecodeError` naming subject and field."""
    cls = EVENTS.get(subject)
    if cls is None:
        raise DecodeError(subject, None, f"unknown subject (known: {', '.join(sorted(EVENTS))})")
    try:
        raw: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(subject, None, f"not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise DecodeError(subject, None, f"expected a JSON object, got {type(raw).__name__}")
    if "v" not in raw:
        raise DecodeError(subject, "v", "missing schema version")
    if raw["v"] not in VERSIONS[subject]:
        known = ", ".join(str(v) for v in sorted(VERSIONS[subject]))
        raise DecodeError(subject, "v", f"unsupported schema version {raw['v']!r} (known: {known})")
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise DecodeError(subject, loc, f"{err['msg']}{more}") from None
