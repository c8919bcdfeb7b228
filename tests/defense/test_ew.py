from __future__ import annotations

import math

import numpy as np
import pytest

from argus.defense.ew import agility_jammer_scale, floor_rise_db, jamming_status


def test_floor_rise_closed_form() -> None:
    # J = N doubles the noise: +3.0103 dB; J/N = 10 dB: 10 log10(11)
    assert floor_rise_db(0.0) == pytest.approx(10 * math.log10(2))
    assert floor_rise_db(10.0) == pytest.approx(10 * math.log10(11))


def test_jamming_status_per_radar() -> None:
    st = jamming_status(
        radar_ids=[7, 3, 9],
        strobe_radar_id=[3, 3, 7, 42],
        strobe_azimuth_rad=[0.1, math.pi / 2, 1.0, 2.0],
        strobe_jnr_db=[-10.0, 12.0, -3.0, 30.0],  # radar 42 is not ours: ignored
    )
    assert st.jammed.tolist() == [False, True, False]
    assert st.n_strobes.tolist() == [1, 2, 0]
    assert st.floor_rise_db[1] == pytest.approx(10 * math.log10(1 + 10**1.2))
    assert st.bearing_deg[1] == pytest.approx(90.0)  # the strongest strobe's bearing
    assert np.isnan(st.bearing_deg[2])


def test_jamming_status_without_strobes() -> None:
    st = jamming_status([1, 2], [], [], [])
    assert not st.jammed.any() and st.n_strobes.tolist() == [0, 0]


def test_agility_scale() -> None:
    assert agility_jammer_scale(100e6, 500e6) == pytest.approx(0.2)  # -7 dB
    assert agility_jammer_scale(1e9, 500e6) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="bandwidths"):
        agility_jammer_scale(0.0, 1.0)
