"""argus.sensors is a pure engine: importing every module of it pulls in no upper layer."""

from __future__ import annotations

from tests.sim.test_imports import import_check


def test_sensors_engine_imports_no_upper_layer() -> None:
    walked, bad = import_check("argus.sensors")
    assert bad == []
    assert {
        "argus.sensors.radar",
        "argus.sensors.jammer",
        "argus.sensors.propagation",
        "argus.sensors.antenna",
    } <= set(walked)
