"""Threat catalogue: the shipped file loads; bad entries are rejected naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from argus.geo import G0
from argus.sim.catalogue import (
    AirBreathingThreat,
    BallisticThreat,
    CatalogueError,
    load_catalogue,
    parse_catalogue,
)

GOOD_BALLISTIC = """
[threats.test-srbm]
name = "test"
kind = "ballistic"
source = "made up"
nominal_range_km = 100.0
rcs_m2 = 1.0
swerling = 1
launch_mass_kg = 1000.0
burnout_mass_kg = 400.0
burn_time_s = 30.0
isp_sl_s = 220.0
isp_vac_s = 240.0
diameter_m = 0.5
cd_mach = [0.0, 1.0, 3.0]
cd = [0.3, 0.5, 0.3]
vertical_rise_s = 3.0
pitch_over_s = 8.0
max_axial_g = 10.0
"""


def test_shipped_catalogue_has_the_required_classes() -> None:
    cat = load_catalogue()
    kinds = {t.kind for t in cat.values()}
    assert {"ballistic", "cruise_missile", "aircraft", "drone"} <= kinds
    assert {"scud-b", "scud-c", "mrbm-1300", "cruise-subsonic", "fighter", "shahed-136"} <= set(cat)
    for t in cat.values():
        assert "nominal" in t.source.lower() or "approximation" in t.source.lower()
        assert t.rcs_m2 > 0 and t.swerling in (0, 1, 2, 3, 4)
    b = cat.ballistic("scud-b")
    assert b.nominal_range_km == 300.0
    # ~13 t of sea-level thrust, as published for the 9D21 engine.
    assert b.thrust_sl_n / G0 == pytest.approx(13_160, rel=0.05)
    assert b.reference_area_m2 == pytest.approx(math.pi * 0.44**2)
    mrbm = cat.ballistic("mrbm-1300")
    assert mrbm.separates and mrbm.reentry_mass_kg < mrbm.burnout_mass_kg
    f = cat.airbreathing("fighter")
    assert f.max_load_factor_g == 9.0
    # At 250 m/s the 9 g level turn (g·sqrt(80)/V = 0.351 rad/s) binds; at 150 m/s the 25 °/s limit does.
    assert float(f.max_turn_rate_rad_s(250.0)) == pytest.approx(G0 * math.sqrt(80.0) / 250.0)
    assert float(f.max_turn_rate_rad_s(150.0)) == pytest.approx(math.radians(25.0))
    drone = cat.airbreathing("shahed-136")
    assert float(drone.max_turn_rate_rad_s(45.0)) == pytest.approx(
        min(math.radians(8.0), G0 * math.sqrt(3) / 45.0)
    )


def test_drag_table_interpolates_and_clamps() -> None:
    t = parse_catalogue(GOOD_BALLISTIC).ballistic("test-srbm")
    np.testing.assert_allclose(t.drag.cd_at([0.0, 0.5, 2.0, 10.0]), [0.3, 0.4, 0.4, 0.3])
    assert not t.separates and t.reentry_drag == t.drag and t.reentry_mass_kg == 400.0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "burn_time_s = 30.0",
            "burn_time_s = -3",
            "threats.test-srbm.burn_time_s: expected a number > 0, got -3",
        ),
        (
            "burnout_mass_kg = 400.0",
            "burnout_mass_kg = 2000.0",
            "threats.test-srbm.burnout_mass_kg: must be less",
        ),
        (
            "swerling = 1",
            "swerling = 7",
            "threats.test-srbm.swerling: expected a Swerling case 0-4",
        ),
        (
            "cd = [0.3, 0.5, 0.3]",
            "cd = [0.3, 0.5]",
            "threats.test-srbm.cd: has 2 values but cd_mach has 3",
        ),
        (
            "cd_mach = [0.0, 1.0, 3.0]",
            "cd_mach = [0.0, 3.0, 1.0]",
            "threats.test-srbm.cd_mach: expected strictly",
        ),
        ('kind = "ballistic"', 'kind = "rocket"', "threats.test-srbm.kind: expected 'ballistic'"),
        ('source = "made up"', "", "threats.test-srbm.source: required field is missing"),
        (
            "max_axial_g = 10.0",
            "max_axial_g = 10.0\ncolour = 'red'",
            "threats.test-srbm: unknown field(s) colour",
        ),
        (
            "isp_vac_s = 240.0",
            "isp_vac_s = 200.0",
            "threats.test-srbm.isp_vac_s: must be >= isp_sl_s",
        ),
        (
            "pitch_over_s = 8.0",
            "pitch_over_s = 28.0",
            "threats.test-srbm.pitch_over_s: vertical rise",
        ),
        ("rcs_m2 = 1.0", 'rcs_m2 = "big"', "threats.test-srbm.rcs_m2: expected a number"),
    ],
)
def test_bad_entries_name_the_field(old: str, new: str, message: str) -> None:
    text = GOOD_BALLISTIC.replace(old, new)
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(text, origin="/tmp/cat.toml")
    assert str(info.value).startswith("cat.toml: ")
    assert message in str(info.value)


def test_separating_reentry_fields_are_checked() -> None:
    text = GOOD_BALLISTIC + "separates = true\nreentry_mass_kg = 100.0\nreentry_diameter_m = 0.3\n"
    with pytest.raises(CatalogueError, match="reentry_cd_mach: required field is missing"):
        parse_catalogue(text)
    ok = parse_catalogue(
        text + "reentry_cd_mach = [0.0, 2.0]\nreentry_cd = [0.2, 0.15]\n"
    ).ballistic("test-srbm")
    assert ok.reentry_area_m2 == pytest.approx(math.pi * 0.15**2)
    with pytest.raises(CatalogueError, match="only allowed with separates = true"):
        parse_catalogue(GOOD_BALLISTIC + "reentry_mass_kg = 100.0\n")


def test_airbreathing_ranges_are_consistent() -> None:
    entry = """
[threats.uav]
name = "u"
kind = "drone"
source = "s"
nominal_range_km = 10.0
rcs_m2 = 0.01
swerling = 1
mass_kg = 5.0
cruise_speed_mps = 80.0
min_speed_mps = 10.0
max_speed_mps = 40.0
cruise_alt_m = 100.0
min_alt_m = 0.0
max_alt_m = 500.0
max_climb_rate_mps = 2.0
max_accel_mps2 = 1.0
max_turn_rate_dps = 20.0
max_load_factor_g = 2.0
"""
    with pytest.raises(
        CatalogueError, match=r"threats.uav.cruise_speed_mps: must lie in \[min_speed_mps"
    ):
        parse_catalogue(entry)
    t = parse_catalogue(entry.replace("cruise_speed_mps = 80.0", "cruise_speed_mps = 30.0"))["uav"]
    assert isinstance(t, AirBreathingThreat) and not isinstance(t, BallisticThreat)


def test_lookup_errors() -> None:
    cat = load_catalogue()
    with pytest.raises(KeyError, match=r"unknown threat type 'scud-x'.*scud-b"):
        cat["scud-x"]
    with pytest.raises(TypeError, match="not ballistic"):
        cat.ballistic("fighter")
    with pytest.raises(CatalogueError, match="not valid TOML"):
        parse_catalogue("threats = [")
    with pytest.raises(CatalogueError, match="catalogue file not found"):
        load_catalogue("/nonexistent/catalogue.toml")
