"""Sensor-test fixtures."""

from __future__ import annotations

import pytest

from argus.sensors.site import RadarSite


@pytest.fixture
def radar() -> RadarSite:
    return RadarSite(
        radar_id=7, lat_deg=32.0, lon_deg=45.0, alt_m=100.0, antenna_height_m=10.0, name="test"
    )
