"""TDOA of simulated pairs against the known stamped arrival difference."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from argus.rf.recording import RecordingError
from argus.rf.simulate import Emitter, ReceiverSpec, simulate_acquisition
from argus.rf.tdoa import pair_tdoa

START = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
FS = 2e6


def _pair(kind: str, snr_db: float, seed: int, start_b_s: float = 37.3e-6, **em: object):  # type: ignore[no-untyped-def]
    a = ReceiverSpec("a", 45.00, 7.60, clock_sigma_s=50e-9, lo_offset_hz=4.0)
    b = ReceiverSpec(
        "b", 45.12, 7.81, clock_sigma_s=50e-9, lo_offset_hz=-6.0, start_offset_s=start_b_s
    )
    recs, truth = simulate_acquisition(
        Emitter(45.05, 7.75, kind=kind, **em),
        [a, b],
        sample_rate_hz=FS,  # type: ignore[arg-type]
        center_frequency_hz=145e6,
        duration_s=0.005,
        start=START,
        seed=seed,
        snr_db=snr_db,
    )
    d = truth.stamped_arrival_s
    return recs, d[0] - d[1], truth


@pytest.mark.parametrize("seed", range(6))
def test_known_delay_within_a_twentieth_of_a_sample(seed: int) -> None:
    # start offsets with fractional-sample parts; delays and clock errors continuous
    recs, true_tdoa, _ = _pair("wideband", 30.0, seed, start_b_s=(11.0 + seed / 7) / FS)
    p = pair_tdoa(recs[0], recs[1])
    assert p.ok, p.reason
    assert abs(p.tdoa_s - true_tdoa) < 1.0 / (20 * FS)
    # a sees the signal 4 Hz low (LO +4 Hz), b 6 Hz high: a is 10 Hz below b
    assert p.frequency_difference_hz == pytest.approx(-10.0, abs=3.0)


def test_predicted_sigma_matches_the_spread() -> None:
    errs, sig = [], []
    for seed in range(30):
        recs, true_tdoa, _ = _pair("wideband", 0.0, 100 + seed)
        p = pair_tdoa(recs[0], recs[1])
        assert p.ok, p.reason
        errs.append(p.tdoa_s - true_tdoa)
        sig.append(p.sigma_s)
    ratio = float(np.std(errs) / np.mean(sig))
    assert 0.7 < ratio < 1.4
    assert abs(np.mean(errs)) < 3 * np.mean(sig) / np.sqrt(30)


def test_nfm_delay_is_unbiased() -> None:
    errs = []
    for seed in range(8):
        recs, true_tdoa, _ = _pair("nfm", 20.0, 200 + seed, start_b_s=150e-6)
        p = pair_tdoa(recs[0], recs[1])
        assert p.ok, p.reason
        errs.append((p.tdoa_s - true_tdoa) / p.sigma_s)
    # overlap normalization: without it the broad NFM peak is pulled by more than a sample
    assert abs(np.mean(errs)) < 1.5


def test_a_tone_is_rejected_with_the_reason() -> None:
    recs, _, _ = _pair("cw", 20.0, 1)
    p = pair_tdoa(recs[0], recs[1])
    assert not p.ok
    assert "tone" in p.reason


def test_noise_only_is_rejected() -> None:
    recs, _, _ = _pair("wideband", -60.0, 2)
    p = pair_tdoa(recs[0], recs[1])
    assert not p.ok


def test_different_tuning_is_refused() -> None:
    recs, _, _ = _pair("wideband", 10.0, 3)
    other = dataclasses.replace(recs[1], sample_rate_hz=1e6)
    with pytest.raises(RecordingError, match="sample_rate_hz"):
        pair_tdoa(recs[0], other)


def test_time_frequency_coupling_of_a_chirp_and_of_noise() -> None:
    import scipy.fft as sfft

    from argus.rf.tdoa import time_frequency_coupling

    n, size = 8192, 16384
    t = np.arange(n) / FS
    f = sfft.fftfreq(size, 1 / FS)
    chirp = np.exp(1j * np.pi * 2e7 * (t - t.mean()) ** 2)  # 20 MHz/s: ±82 kHz over the capture
    band = np.abs(f) < 200e3
    spec = sfft.fft(chirp, n=size)
    # a linear chirp: instantaneous frequency ∝ time, r² = 1 (capped at 0.9)
    assert time_frequency_coupling(spec, n, band, f, 0.0, 0.0) == pytest.approx(0.9)
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    r2 = time_frequency_coupling(sfft.fft(noise, n=size), n, np.ones(size, bool), f, 0.0, 0.0)
    assert r2 < 0.01


def test_measured_sigma_matches_the_spread_and_the_bound_for_a_gaussian_signal() -> None:
    # a 200 kHz Gaussian signal over 5 ms (time-bandwidth product 1000): the bound is reached,
    # so the σ measured from the pair's own score scatter must agree with the Cramér–Rao σ and
    # with the delays' actual spread (a sandwich mis-scaled by the zero-padding's bin
    # correlation, a factor √2, fails both)
    errs, measured, bound = [], [], []
    for seed in range(30):
        recs, true_tdoa, _ = _pair("wideband", 5.0, 300 + seed)
        p = pair_tdoa(recs[0], recs[1])
        assert p.ok, p.reason
        errs.append(p.tdoa_s - true_tdoa)
        measured.append(p.measured_sigma_s)
        bound.append(p.sigma_s)
        assert p.effective_sigma_s == max(p.sigma_s, p.measured_sigma_s)
    ratio = np.array(measured) / np.array(bound)
    assert 0.85 < float(np.median(ratio)) < 1.15
    spread = float(np.std(errs) / np.sqrt(np.mean(np.square(measured))))
    assert 0.65 < spread < 1.35  # 30 draws: the std's 95 % band is about ±26 %


def test_measured_delay_variance_closed_form() -> None:
    # a flat band of K bins at per-bin SNR ρ in both captures, aligned exactly: the sandwich's
    # expectation is the Cramér–Rao variance 1 / (2 Σ ω² ρ²/(2ρ+1)) (Knapp & Carter 1976),
    # within the scatter of one draw (a few %)
    from argus.rf.tdoa import measured_delay_variance

    rng = np.random.default_rng(7)
    n, fs = 20000, FS
    f = np.fft.fftfreq(n, 1 / fs)
    band = np.abs(f) < 100e3
    s = np.fft.ifft((rng.standard_normal(n) + 1j * rng.standard_normal(n)) * band)
    s *= np.sqrt(1.0 / np.mean(np.abs(s) ** 2))  # unit signal power over 10 % of the band
    noise_var = 1.0  # per sample: a per-bin SNR ρ = 1 / (0.1 · 1) = 10 in the band
    vals = []
    for _ in range(20):
        na = np.sqrt(noise_var / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
        nb = np.sqrt(noise_var / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
        vals.append(
            measured_delay_variance(s + na, s + nb, 0.0, 0.0, fs, noise_var / fs, noise_var / fs)
        )
    rho = 1.0 / (band.mean() * noise_var)
    w = 2 * np.pi * f[band]
    expected = 1.0 / (2.0 * np.sum((w - w.mean()) ** 2) * rho * rho / (2 * rho + 1))
    assert float(np.mean(vals)) == pytest.approx(expected, rel=0.1)
