"""The simulated network: link budget, delays, clocks and the truth it records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from argus.rf.measure import measure_iq
from argus.rf.recording import SPEED_OF_LIGHT_MPS
from argus.rf.simulate import (
    KT0_DBM_HZ,
    Emitter,
    PathLoss,
    ReceiverSpec,
    random_network,
    simulate_acquisition,
    slant_range_m,
)

START = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def _network() -> list[ReceiverSpec]:
    return random_network(4, center_lat_deg=45.0, center_lon_deg=7.6, radius_m=20e3, seed=3)


def test_thermal_noise_and_free_space_loss_closed_forms() -> None:
    assert pytest.approx(-173.98, abs=0.01) == KT0_DBM_HZ
    # FSPL at 1 km, 145 MHz: 20 log10(4π d f / c) = 75.67 dB
    assert PathLoss().loss_db(np.array([1000.0]), 145e6)[0] == pytest.approx(75.67, abs=0.01)
    # log-distance n = 3: 30 dB per decade beyond d0
    pl = PathLoss(exponent=3.0, reference_distance_m=100.0)
    diff = pl.loss_db(np.array([1e4]), 1e8)[0] - pl.loss_db(np.array([1e3]), 1e8)[0]
    assert diff == pytest.approx(30.0)


def test_truth_delays_powers_and_snr() -> None:
    rx = _network()
    em = Emitter(45.01, 7.62, eirp_dbm=40.0, kind="wideband")
    recs, truth = simulate_acquisition(
        em,
        rx,
        sample_rate_hz=2e6,
        center_frequency_hz=145e6,
        duration_s=0.01,
        start=START,
        seed=1,
        snr_db=15.0,
    )
    d = slant_range_m(em.lat_deg, em.lon_deg, em.alt_m, rx)
    np.testing.assert_allclose(truth.propagation_delay_s, d / SPEED_OF_LIGHT_MPS)
    assert truth.snr_db.max() == pytest.approx(15.0)
    # SNR differences are the path-loss differences (free space, no shadowing)
    np.testing.assert_allclose(truth.snr_db - truth.snr_db[0], -20 * np.log10(d / d[0]), atol=1e-9)
    for rec, snr in zip(recs, truth.snr_db, strict=True):
        assert measure_iq(rec.iq, rec.sample_rate_hz).snr_db == pytest.approx(snr, abs=0.5)
        assert rec.meta["argus:full_scale_dbm"] == pytest.approx(
            KT0_DBM_HZ + 10 * math.log10(2e6) + 6.0 + 40.0
        )


def test_integer_start_offset_is_an_exact_shift() -> None:
    a = ReceiverSpec("a", 45.0, 7.6, clock_sigma_s=0.0)
    b = dataclasses.replace(a, name="b", start_offset_s=3 / 2e6)
    recs, _ = simulate_acquisition(
        Emitter(45.1, 7.7, kind="wideband"),
        [a, b],
        sample_rate_hz=2e6,
        center_frequency_hz=145e6,
        duration_s=0.002,
        start=START,
        seed=2,
        snr_db=120.0,
    )
    # b starts three samples later: b[k] = a[k + 3] (noise 120 dB down)
    np.testing.assert_allclose(
        recs[1].iq[:-3], recs[0].iq[3:], atol=1e-5 * np.abs(recs[0].iq).max()
    )
    assert recs[1].seconds_since(recs[0].start) == pytest.approx(1.5e-6, abs=1e-15)


def test_clock_errors_are_drawn_with_their_sigma_and_reproducible() -> None:
    rx = [ReceiverSpec(f"r{i}", 45.0 + 0.01 * i, 7.6, clock_sigma_s=1e-6) for i in range(200)]
    kw = dict(sample_rate_hz=1e5, center_frequency_hz=1e8, duration_s=0.001, start=START, seed=4)
    _, t1 = simulate_acquisition(Emitter(45.0, 7.7, kind="cw"), rx, **kw)  # type: ignore[arg-type]
    _, t2 = simulate_acquisition(Emitter(45.0, 7.7, kind="cw"), rx, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(t1.clock_error_s, t2.clock_error_s)
    assert np.std(t1.clock_error_s) == pytest.approx(1e-6, rel=0.15)


def test_lo_offset_shows_as_a_frequency_offset() -> None:
    rx = [ReceiverSpec("a", 45.0, 7.6, lo_offset_hz=37.0)]
    recs, _ = simulate_acquisition(
        Emitter(45.1, 7.7, kind="cw", frequency_offset_hz=1000.0),
        rx,
        sample_rate_hz=2e6,
        center_frequency_hz=145e6,
        duration_s=0.05,
        start=START,
        seed=5,
        snr_db=20.0,
    )
    assert measure_iq(recs[0].iq, 2e6).frequency_offset_hz == pytest.approx(963.0, abs=0.5)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": "am"}, "kind"),
        ({"kind": "burst", "burst_duty": 0.0}, "burst_duty"),
        ({"kind": "wideband", "bandwidth_hz": 0.0}, "bandwidth_hz"),
    ],
)
def test_bad_emitter_is_named(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Emitter(45.0, 7.0, **kw)  # type: ignore[arg-type]


def test_bad_acquisition_input_is_named() -> None:
    with pytest.raises(ValueError, match="receivers"):
        simulate_acquisition(
            Emitter(45, 7),
            [],
            sample_rate_hz=1e6,
            center_frequency_hz=1e8,
            duration_s=1e-3,
            start=START,
            seed=1,
        )
    with pytest.raises(ValueError, match="duration_s"):
        simulate_acquisition(
            Emitter(45, 7),
            _network(),
            sample_rate_hz=1e6,
            center_frequency_hz=1e8,
            duration_s=1e-6,
            start=START,
            seed=1,
        )
