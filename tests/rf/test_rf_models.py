"""The RF tables hold their constraints on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from argus.db.models import Receiver, RfAcquisition, RfMeasurement, RfMeasurementHourly

T = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


def _receiver(**kw: object) -> Receiver:
    values: dict[str, object] = {"name": "r1", "kind": "network", "url": "ws://h:1",
                                 "lat_deg": 1.0, "lon_deg": 2.0, "sample_rate_hz": 1e6}  # fmt: skip
    values.update(kw)
    return Receiver(**values)


def _acq(**kw: object) -> RfAcquisition:
    values: dict[str, object] = {"id": str(uuid.uuid4()), "frequency_hz": 1e8, "duration_s": 1.0,
                                 "receiver_ids": [1], "source": "network", "captures": {}}  # fmt: skip
    values.update(kw)
    return RfAcquisition(**values)


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "radio"}, {"status": "sleeping"}, {"lat_deg": 91.0}, {"lon_deg": -181.0},
        {"sample_rate_hz": 0.0}, {"clock_sigma_s": -1.0},
        {"min_frequency_hz": 2e6, "max_frequency_hz": 1e6},
    ],
)  # fmt: skip
def test_receiver_checks(session: Session, bad: dict[str, object]) -> None:
    session.add(_receiver(**bad))
    with pytest.raises(IntegrityError):
        session.flush()


@pytest.mark.parametrize(
    "bad", [{"status": "done"}, {"progress": 1.5}, {"source": "radio"}, {"duration_s": 0.0}]
)
def test_acquisition_checks(session: Session, bad: dict[str, object]) -> None:
    session.add(_acq(**bad))
    with pytest.raises(IntegrityError):
        session.flush()


def test_defaults_and_cascades(session: Session) -> None:
    r = _receiver()
    a = _acq()
    session.add_all([r, a])
    session.flush()
    session.refresh(r)
    session.refresh(a)
    assert (r.status, r.clock_source, r.clock_sigma_s, r.alt_m) == (
        "unknown",
        "unknown",
        5e-08,
        0.0,
    )
    assert (a.status, a.progress, a.simulated, a.attempts) == ("pending", 0.0, False, 0)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(
            "CREATE TABLE rf_measurement_p20261207 PARTITION OF rf_measurement "
            "FOR VALUES FROM ('2026-12-07 00:00:00+00') TO ('2026-12-08 00:00:00+00')"
        ))  # fmt: skip
    m = {"frequency_hz": 1e8, "snr_db": 1.0, "signal_power_dbfs": -1.0, "noise_floor_dbfs": -2.0,
         "frequency_offset_hz": 0.0, "occupied_bandwidth_hz": 1.0}  # fmt: skip
    session.add(RfMeasurement(time=T, receiver_id=r.id, acquisition_id=a.id, **m))
    session.add(RfMeasurementHourly(
        receiver_id=r.id, hour=T, count=1, snr_mean_db=1, snr_min_db=1, snr_max_db=1,
        signal_power_mean_dbfs=-1, noise_floor_mean_dbfs=-2, frequency_offset_mean_hz=0,
        occupied_bandwidth_mean_hz=1, refreshed_at=T,
    ))  # fmt: skip
    session.flush()
    # one measurement per (time, receiver, acquisition)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(RfMeasurement(time=T, receiver_id=r.id, acquisition_id=a.id, **m))
        session.flush()
    session.delete(r)
    session.flush()
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(RfMeasurement)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(RfMeasurementHourly)) == 0
