"""Measurements of synthetic captures against their known truth."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from argus.rf.measure import measure_iq, occupied_bandwidth, welch_psd
from argus.rf.simulate import Emitter, envelope_spectrum

from ._helpers import FS, nfm, noisy, tone

NOISE_VAR = 1e-4
N0_DBFS_HZ = 10 * np.log10(NOISE_VAR / FS)


def test_welch_equals_scipy_two_sided_shifted() -> None:
    x = noisy(tone(50_000, 1e5), 10.0, seed=1)
    ours = welch_psd(x, FS, nfft=1024)
    f, p = ss.welch(x, FS, window="hann", nperseg=1024, return_onesided=False, detrend=False)
    np.testing.assert_allclose(ours.psd, np.fft.fftshift(p), rtol=2e-5)
    np.testing.assert_allclose(ours.f_hz, np.fft.fftshift(f))
    assert ours.enbw_hz == pytest.approx(1.5 * FS / 1024, rel=1e-9)  # Hann ENBW = 1.5 bins


@pytest.mark.parametrize("snr_db", [20.0, 10.0, 0.0, -10.0])
def test_tone_snr_noise_floor_and_frequency(snr_db: float) -> None:
    f_true = 12_345.678
    m = measure_iq(noisy(tone(2**17, f_true), snr_db, seed=2), FS)
    assert m.snr_db == pytest.approx(snr_db, abs=0.5)
    assert m.noise_floor_dbfs == pytest.approx(N0_DBFS_HZ, abs=0.2)
    assert abs(m.frequency_offset_hz - f_true) < 1.0
    assert abs(m.peak_offset_hz - f_true) < 1.0
    assert m.duty_cycle == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(("snr_db", "f_true"), [(20.0, -3210.5), (10.0, 47_000.25), (0.0, 812.0)])
def test_nfm_snr_and_centroid(snr_db: float, f_true: float) -> None:
    # The truth is the mean instantaneous frequency over the whole capture; the estimator sees
    # block centres, so the modulation over the first and last half-block (~D/N of the
    # deviation, a few tenths of a Hz here) remains.
    m = measure_iq(noisy(nfm(2**18, f_true, seed=3), snr_db, seed=4), FS)
    assert m.snr_db == pytest.approx(snr_db, abs=0.5)
    assert abs(m.frequency_offset_hz - f_true) < 1.0
    # Carson's rule: 2 (Δf_peak + f_m) with the RMS deviation 2.5 kHz, peaks ~2.5× → ~20 kHz
    assert 8e3 < m.occupied_bandwidth_hz < 25e3


def test_wideband_occupied_bandwidth_matches_its_spectrum() -> None:
    n = 2**17
    em = Emitter(0.0, 0.0, kind="wideband", bandwidth_hz=200e3)
    b = np.fft.ifft(envelope_spectrum(em, n, FS, np.random.default_rng(5)))
    m = measure_iq(noisy(b, 10.0, seed=6), FS)
    # the expected spectrum: raised-cosine amplitude (roll-off 0.1), power = its square
    f = np.linspace(-FS / 2, FS / 2, 200_001)
    a = np.abs(f)
    lo, hi = 0.9 * 100e3, 1.1 * 100e3
    amp = np.where(
        a <= lo, 1.0, np.where(a < hi, 0.5 * (1 + np.cos(np.pi * (a - lo) / (hi - lo))), 0)
    )
    f_lo, f_hi = occupied_bandwidth(f, amp**2)
    assert m.occupied_bandwidth_hz == pytest.approx(f_hi - f_lo, rel=0.02)
    assert m.snr_db == pytest.approx(10.0, abs=0.3)
    assert m.psd_summary["snr_in_band_db"] == pytest.approx(
        10.0 + 10 * np.log10(FS / m.occupied_bandwidth_hz), abs=0.05
    )


def test_burst_duty_cycle() -> None:
    n = 2**17
    em = Emitter(0.0, 0.0, kind="burst", bandwidth_hz=100e3, burst_period_s=4e-3, burst_duty=0.3)
    b = np.fft.ifft(envelope_spectrum(em, n, FS, np.random.default_rng(7)))
    m = measure_iq(noisy(b, 10.0, seed=8), FS)
    assert m.duty_cycle == pytest.approx(0.3, abs=0.03)
    assert m.psd_summary["bursts"] in (16, 17)  # 65.5 ms / 4 ms


def test_noise_only_detects_nothing_and_floor_is_unbiased() -> None:
    # 4 segments: the χ² correction of the median matters (uncorrected it is ~0.3 dB low)
    floors = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        w = (rng.standard_normal(2560) + 1j * rng.standard_normal(2560)) * np.sqrt(NOISE_VAR / 2)
        m = measure_iq(w.astype(np.complex64), FS)
        floors.append(m.noise_floor_dbfs)
        assert not m.psd_summary["detected"]
        assert m.snr_db == float("-inf")
    assert np.mean(floors) == pytest.approx(N0_DBFS_HZ, abs=0.12)


def test_summary_is_small_and_json_ready() -> None:
    import json

    m = measure_iq(noisy(tone(20_000, 1e3), 10.0, seed=9), FS)
    s = m.psd_summary
    assert len(s["f_hz"]) == len(s["psd_dbfs_hz"]) == 64
    json.dumps(m.as_dict())


@pytest.mark.parametrize(
    ("iq", "word"),
    [
        (np.zeros((4, 100), np.complex64), "iq"),
        (np.zeros(100, np.float32), "iq"),
        (np.zeros(8, np.complex64), "16 samples"),
        (np.full(100, np.nan, np.complex64), "NaN"),
    ],
)
def test_bad_input_is_named(iq: np.ndarray, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        measure_iq(iq, FS)


def test_bad_sample_rate_is_named() -> None:
    with pytest.raises(ValueError, match="sample_rate_hz"):
        measure_iq(np.ones(100, np.complex64), 0.0)
