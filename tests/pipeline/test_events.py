"""The event models and their JSON codec: round trips, and the errors of bad input."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from argus.pipeline import events as ev
from tests.pipeline._samples import SAMPLES

SEED_SUBJECTS = {
    "missile.launched",
    "track.truth",
    "radar.detection",
    "tracking.updated",
    "threat.level_changed",
    "command.intercept",
    "interceptor.launched",
    "interceptor.detonation",
    "ew.detection",
    "ew.response_triggered",
    "pipeline.cycle_complete",
}


def test_registry_has_one_class_per_seed_subject() -> None:
    assert set(ev.EVENTS) == SEED_SUBJECTS
    assert set(SAMPLES) == SEED_SUBJECTS
    for subject, cls in ev.EVENTS.items():
        assert cls.subject == subject


@pytest.mark.parametrize("subject", sorted(SEED_SUBJECTS))
def test_round_trip_every_subject(subject: str) -> None:
    event = SAMPLES[subject]
    cause = event.model_copy(update={"causation_id": uuid.uuid4()})
    for e in (event, cause):
        back = ev.decode(subject, ev.encode(e))
        assert type(back) is type(e)
        assert back == e


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
times = st.datetimes(
    min_value=datetime(1970, 1, 2), timezones=st.sampled_from([UTC, timezone(timedelta(hours=5))])
)


@given(
    site=st.text(min_size=1, max_size=20),
    range_m=st.floats(min_value=0, max_value=1e7),
    az=st.floats(min_value=0, max_value=359.999),
    el=st.floats(min_value=-90, max_value=90),
    snr=finite,
    vr=st.none() | finite,
    time=times,
    cause=st.none() | st.uuids(),
)
def test_radar_detection_round_trip(
    site: str,
    range_m: float,
    az: float,
    el: float,
    snr: float,
    vr: float | None,
    time: datetime,
    cause: uuid.UUID | None,
) -> None:
    e = ev.RadarDetection(
        site=site,
        range_m=range_m,
        azimuth_deg=az,
        elevation_deg=el,
        snr_db=snr,
        radial_velocity_mps=vr,
        time=time,
        causation_id=cause,
    )
    assert e.time.tzinfo is UTC and e.time == time
    assert ev.decode("radar.detection", ev.encode(e)) == e


def test_defaults() -> None:
    a = SAMPLES["pipeline.cycle_complete"]
    b = ev.PipelineCycleComplete(cycle=3, duration_s=0.05, n_detections=12, n_tracks=2)
    assert a.event_id != b.event_id and a.v == 1 and a.causation_id is None
    assert a.time.tzinfo is UTC


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ev.PipelineCycleComplete(
            cycle=0, duration_s=0, n_detections=0, n_tracks=0, time=datetime(2026, 1, 1)
        )


def test_base_event_cannot_be_encoded() -> None:
    with pytest.raises(TypeError, match="no subject"):
        ev.encode(ev.Event())


def test_subclass_of_an_event_encodes() -> None:
    class Tagged(ev.RadarDetection):
        pass

    e = Tagged(site="R", range_m=1, azimuth_deg=0, elevation_deg=0, snr_db=0)
    assert type(ev.decode("radar.detection", ev.encode(e))) is ev.RadarDetection


def _wire(subject: str) -> dict[str, object]:
    return dict(json.loads(ev.encode(SAMPLES[subject])))


def test_unknown_subject() -> None:
    with pytest.raises(ev.DecodeError, match=r"'radar\.detected'.*unknown subject") as info:
        ev.decode("radar.detected", ev.encode(SAMPLES["radar.detection"]))
    assert info.value.subject == "radar.detected" and info.value.field is None


@pytest.mark.parametrize("v", [2, 0, "1", None])
def test_unknown_version(v: object) -> None:
    raw = _wire("radar.detection") | {"v": v}
    with pytest.raises(ev.DecodeError, match=r"'radar\.detection'.*'v'.*version") as info:
        ev.decode("radar.detection", json.dumps(raw))
    assert info.value.field == "v"


def test_missing_version() -> None:
    raw = _wire("ew.detection")
    del raw["v"]
    with pytest.raises(ev.DecodeError, match="missing schema version") as info:
        ev.decode("ew.detection", json.dumps(raw))
    assert info.value.field == "v"


def test_unexpected_field() -> None:
    raw = _wire("command.intercept") | {"priority": 1}
    with pytest.raises(ev.DecodeError, match=r"'command\.intercept'.*'priority'") as info:
        ev.decode("command.intercept", json.dumps(raw))
    assert info.value.field == "priority"


def test_missing_and_invalid_fields() -> None:
    raw = _wire("radar.detection")
    del raw["snr_db"]
    with pytest.raises(ev.DecodeError, match=r"'snr_db'.*required"):
        ev.decode("radar.detection", json.dumps(raw))
    raw = _wire("radar.detection") | {"azimuth_deg": 400}
    with pytest.raises(ev.DecodeError, match=r"'azimuth_deg'.*less than 360"):
        ev.decode("radar.detection", json.dumps(raw))
    raw = _wire("track.truth") | {"velocity_enu_mps": [1, 2]}
    with pytest.raises(ev.DecodeError, match="'velocity_enu_mps"):
        ev.decode("track.truth", json.dumps(raw))


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_not_an_object(data: bytes) -> None:
    with pytest.raises(ev.DecodeError, match=r"'missile\.launched'"):
        ev.decode("missile.launched", data)


def test_events_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        SAMPLES["radar.detection"].range_m = 1.0  # type: ignore[misc]
