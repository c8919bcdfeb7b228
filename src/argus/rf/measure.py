"""Spectral measurements of one complex IQ capture: PSD, noise floor, SNR, offsets, bandwidth, bursts.

Conventions (all powers in full-scale units: ``|x| = 1`` is 0 dBFS):

- **PSD** — Welch's averaged modified periodogram (P. D. Welch, "The use of fast Fourier
  transform for the estimation of power spectra", *IEEE Trans. Audio Electroacoust.* 15(2), 1967)
  of the complex samples, two-sided, ``fftshift``-ed so frequencies run from ``-fs/2`` to
  ``fs/2``: Hann window, 50 % overlap, no detrending, averaging in *linear* power, density scaling
  ``P(f) = mean_k |FFT(w · x_k)|² / (fs · Σw²)`` (FS²/Hz), identical to
  ``scipy.signal.welch(..., return_onesided=False, scaling="density", detrend=False)``
  (``tests/rf/test_measure.py`` checks it). Written here with strided views and one batched FFT
  in complex64 because scipy's generic path runs at ~3 M samples/s on this machine and the
  target is 20 M/s. The resolution bandwidth is the window's equivalent noise bandwidth
  ``ENBW = fs · Σw² / (Σw)²`` (F. J. Harris, "On the use of windows for harmonic analysis with
  the DFT", *Proc. IEEE* 66(1), 1978).
- **Noise floor** ``N0`` (``noise_floor_dbfs``: dBFS **per Hz**) — from the signal-free bins. In a
  noise-only bin ``P/N0`` follows ``χ²_ν/ν`` with the equivalent degrees of freedom of the Welch
  average ``ν = 2K / (1 + 2 Σ_l (1 - l/K) ρ(l)²)``, ``ρ(l)`` the window's overlap correlation
  (Welch 1967, eq. 20; Harris 1978). A lower quantile of all bins (q = 0.25, robust to signals
  filling up to ~70 % of the band) divided by ``χ²_ν``'s quantile ``/ν`` gives a first ``N0``;
  bins above the false-alarm threshold ``N0 · χ²_ν⁻¹(1 - p_fa)/ν`` (and their neighbours) are
  the signal; the median of the other bins, divided by ``χ²_ν``'s median ``/ν``, is ``N0``.
- **Signal power** ``P_s = Σ_signal bins (P - N0) · Δf`` (``signal_power_dbfs``, dBFS, total);
  **SNR** ``snr_db = P_s / (N0 · fs)``: signal over the noise in the whole sampled band (the SNR
  of ``s + n`` with ``n`` of variance ``N0 · fs``; defined for a tone as for a wideband signal);
  the in-band SNR ``P_s / (N0 · max(OBW, ENBW))`` is in ``psd_summary["snr_in_band_db"]``.
- **Occupied bandwidth** (99 % power, ITU-R SM.328 / SM.443 "β/2 = 0.5 %" method): the width
  between the frequencies below which 0.5 % and 99.5 % of ``P_s`` lie, linearly interpolated.
- **Frequency offsets** — the capture is mixed to the PSD's coarse centre and decimated by
  block sums (one matrix-vector product; a boxcar low-pass whose band is ≥ 10 × the occupied
  bandwidth), then
  - ``frequency_offset_hz`` (centroid): the power-weighted mean instantaneous frequency, as the
    phase of the decimated signal's lag-1 autocorrelation (the pulse-pair / Kay estimator:
    S. Kay, "A fast and accurate single frequency estimator", *IEEE Trans. ASSP* 37(12), 1989;
    white noise adds no bias at lag 1), iterated twice so the boxcar's droop is centred;
  - ``peak_offset_hz``: the maximum of the decimated capture's periodogram, located on an 8×
    zero-padded FFT with parabolic interpolation (the maximum-likelihood single-tone estimator
    of D. Rife and R. Boorstyn, *IEEE Trans. IT* 20(5), 1974).
  A wideband signal (boxcar band < 10 × OBW at D = 1) is not decimated: centroid from the raw
  capture's lag-1 phase, peak from the Welch PSD (log-parabolic interpolation).
- **Bursts** (``duty_cycle``): block powers of the decimated signal (≈ 1,000 blocks) against the
  noise's ``Gamma`` quantile at ``p_fa``; the duty cycle is the fraction of blocks on.

When no bin exceeds the threshold there is no signal: ``snr_db = -inf``, offsets ``nan``,
bandwidth and duty cycle 0, ``psd_summary["detected"] = False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage, signal, stats

FloatArray = npt.NDArray[np.float64]

DEFAULT_NFFT = 1024
SUMMARY_BINS = 64
NOISE_QUANTILE = 0.25
DEFAULT_PFA = 1e-4
#: Envelope std/mean below which a signal counts as constant-envelope (FM, carriers).
CONSTANT_ENVELOPE_CV = 0.35
#: Segments per batched FFT: bounds the memory of a long capture (about 32 MB per batch).
_SEGMENTS_PER_BATCH = 4096


@dataclass(frozen=True)
class Psd:
    """A Welch PSD: ``f_hz`` ascending (``fftshift``-ed), ``psd`` in FS²/Hz."""

    f_hz: FloatArray
    psd: FloatArray
    enbw_hz: float
    segments: int
    dof: float  # equivalent chi-square degrees of freedom of each bin

    @property
    def bin_hz(self) -> float:
        return float(self.f_hz[1] - self.f_hz[0]) if self.f_hz.size > 1 else 0.0


@dataclass(frozen=True)
class Measurement:
    """What :func:`measure_iq` reports (module docstring: definitions and units).

    ``noise_floor_dbfs`` is per Hz; ``signal_power_dbfs`` the total; ``snr_db`` signal over the
    noise of the whole sampled band. ``psd_summary`` is JSON-serializable and small:
    ``f_hz``/``psd_dbfs_hz`` (64 bands, linear-power means), ``rbw_hz``, ``nfft``,
    ``segments``, ``snr_in_band_db``, ``bursts``, ``detected``.
    """

    snr_db: float
    signal_power_dbfs: float
    noise_floor_dbfs: float
    frequency_offset_hz: float
    peak_offset_hz: float
    occupied_bandwidth_hz: float
    duty_cycle: float
    psd_summary: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "snr_db": self.snr_db,
            "signal_power_dbfs": self.signal_power_dbfs,
            "noise_floor_dbfs": self.noise_floor_dbfs,
            "frequency_offset_hz": self.frequency_offset_hz,
            "peak_offset_hz": self.peak_offset_hz,
            "occupied_bandwidth_hz": self.occupied_bandwidth_hz,
            "duty_cycle": self.duty_cycle,
            "psd_summary": self.psd_summary,
        }


def _db(x: float) -> float:
    return 10.0 * math.log10(x) if x > 0 else float("-inf")


def _check_iq(iq: np.ndarray, sample_rate_hz: float) -> npt.NDArray[np.complex64]:
    arr = np.asarray(iq)
    if arr.ndim != 1 or not np.iscomplexobj(arr):
        raise ValueError(f"iq: a 1-D complex array is required, got shape {arr.shape} {arr.dtype}")
    if arr.size < 16:
        raise ValueError(f"iq: at least 16 samples are required, got {arr.size}")
    if not (math.isfinite(sample_rate_hz) and sample_rate_hz > 0):
        raise ValueError(f"sample_rate_hz: must be > 0, got {sample_rate_hz}")
    out = arr.astype(np.complex64, copy=False)
    if not np.isfinite(out.view(np.float32)).all():
        raise ValueError("iq: holds NaN or infinite samples")
    return out


def welch_dof(window: FloatArray, hop: int, segments: int) -> float:
    """Equivalent χ² degrees of freedom of a Welch average (Welch 1967, eq. 20)."""
    n = window.size
    w2 = float(np.dot(window, window))
    var = 1.0
    for lag in range(1, segments):
        shift = lag * hop
        if shift >= n:
            break
        rho = float(np.dot(window[shift:], window[: n - shift])) / w2
        var += 2.0 * (1.0 - lag / segments) * rho * rho
    return 2.0 * segments / var


def welch_psd(iq: np.ndarray, sample_rate_hz: float, *, nfft: int = DEFAULT_NFFT) -> Psd:
    """Two-sided, ``fftshift``-ed Welch PSD (Hann, 50 % overlap, density scaling, linear mean)."""
    x = _check_iq(iq, sample_rate_hz)
    n = int(min(nfft, x.size))
    hop = n // 2
    window = signal.get_window("hann", n).astype(np.float64)
    w32 = window.astype(np.float32)
    segs = sliding_window_view(x, n)[::hop]
    k = segs.shape[0]
    acc = np.zeros(n, dtype=np.float64)
    for a in range(0, k, _SEGMENTS_PER_BATCH):
        spec = sfft.fft(segs[a : a + _SEGMENTS_PER_BATCH] * w32, axis=-1, overwrite_x=True)
        re, im = spec.real, spec.imag
        acc += np.einsum("ij,ij->j", re, re, dtype=np.float64)
        acc += np.einsum("ij,ij->j", im, im, dtype=np.float64)
    psd = np.fft.fftshift(acc / (k * sample_rate_hz * float(np.dot(window, window))))
    f = np.fft.fftshift(np.fft.fftfreq(n, 1.0 / sample_rate_hz))
    enbw = sample_rate_hz * float(np.dot(window, window)) / float(window.sum()) ** 2
    return Psd(f, psd, enbw, k, welch_dof(window, hop, k))


def noise_floor(psd: Psd, *, p_fa: float = DEFAULT_PFA) -> tuple[float, npt.NDArray[np.bool_]]:
    """``(N0 in FS²/Hz, signal-bin mask)`` from the PSD's signal-free bins (module docstring)."""
    p, nu = psd.psd, psd.dof
    first = float(np.quantile(p, NOISE_QUANTILE)) / (stats.chi2.ppf(NOISE_QUANTILE, nu) / nu)
    threshold = stats.chi2.ppf(1.0 - p_fa, nu) / nu
    mask = p > first * threshold
    # A bin's neighbours share its leakage; gaps of one or two bins inside a band are the band.
    mask = ndimage.binary_closing(mask, structure=np.ones(3, bool), iterations=1) | mask
    free = ~ndimage.binary_dilation(mask, structure=np.ones(3, bool), iterations=2)
    if free.sum() < 8:
        free = ~mask
    if free.sum() < 8:
        raise ValueError(
            "iq: signal in nearly every PSD bin; the noise floor needs signal-free bins "
            "(capture a wider band or pass a larger nfft)"
        )
    n0 = float(np.median(p[free])) / (stats.chi2.ppf(0.5, nu) / nu)
    mask = p > n0 * threshold
    mask = ndimage.binary_closing(mask, structure=np.ones(3, bool), iterations=1) | mask
    mask = ndimage.binary_dilation(mask, structure=np.ones(3, bool), iterations=1)
    return n0, mask


def occupied_bandwidth(
    f_hz: FloatArray, excess: FloatArray, fraction: float = 0.99
) -> tuple[float, float]:
    """``(f_lo, f_hi)`` holding ``fraction`` of the power in ``excess`` (β/2 on each side)."""
    e = np.clip(excess, 0.0, None)
    c = np.cumsum(e)
    total = c[-1]
    if total <= 0:
        return float("nan"), float("nan")
    # Bin k covers [f_k - df/2, f_k + df/2]; interpolate the cumulative power on the edges.
    df = f_hz[1] - f_hz[0]
    edges = np.concatenate(([f_hz[0] - df / 2], f_hz + df / 2))
    cum = np.concatenate(([0.0], c)) / total
    tail = (1.0 - fraction) / 2.0
    lo, hi = np.interp([tail, 1.0 - tail], cum, edges)
    return float(lo), float(hi)


def _decimate_at(x: npt.NDArray[np.complex64], f0_norm: float, block: int) -> npt.NDArray[Any]:
    """Mix by ``-f0`` (cycles/sample) and sum blocks of ``block`` samples: ``y[b]`` at rate fs/block.

    ``y[b] = e^{-j2πf0·b·D} Σ_d x[bD+d] e^{-j2πf0·d}``: one ``(B, D) @ (D,)`` product, so the
    complex mixer is never built at full length.
    """
    b = x.size // block
    inner = np.exp(-2j * np.pi * f0_norm * np.arange(block)).astype(np.complex64)
    y = x[: b * block].reshape(b, block) @ inner
    outer = np.exp(-2j * np.pi * f0_norm * block * np.arange(b))
    return (y * outer) / block


def _parabolic_peak(values: FloatArray, k: int) -> float:
    """Sub-bin offset (bins) of the vertex of the parabola through ``values[k-1:k+2]``."""
    n = values.size
    a, b, c = values[(k - 1) % n], values[k], values[(k + 1) % n]
    den = a - 2.0 * b + c
    return float(0.5 * (a - c) / den) if den < 0 else 0.0


def _padded_peak(y: npt.NDArray[Any]) -> float:
    """Frequency (cycles/sample of ``y``) of the periodogram's maximum, i.e. the single-tone
    maximum-likelihood estimate (Rife & Boorstyn 1974): an 8× zero-padded FFT samples the DTFT
    finely enough that a parabola through the three magnitudes at its maximum is within 1 % of
    a padded bin (``fs / (8 N)``) of the continuous maximum."""
    m = y.size
    # 8× padding keeps the parabola's bias under 1 % of a padded bin; on long captures 2×
    # suffices (its bias, a few % of fs/(2N), is far below a hertz) and saves the big FFT.
    pad = sfft.next_fast_len((8 if m <= 2**15 else 2) * m)
    mag = np.abs(sfft.fft(y, n=pad))
    k = int(np.argmax(mag))
    f = (k + _parabolic_peak(mag.astype(np.float64), k)) / pad
    return f - 1.0 if f >= 0.5 else f


def _lag1_frequency(y: npt.NDArray[Any]) -> float:
    """Phase of the lag-1 autocorrelation (cycles/sample): the mean instantaneous frequency."""
    r1 = np.vdot(y[:-1], y[1:])
    return float(np.angle(r1) / (2.0 * np.pi))


def measure_iq(
    iq: np.ndarray,
    sample_rate_hz: float,
    *,
    nfft: int = DEFAULT_NFFT,
    p_fa: float = DEFAULT_PFA,
) -> Measurement:
    """Measure one capture (module docstring: the definitions, units and sources).

    ``nfft``: Welch segment length (resolution ``ENBW = 1.5 fs/nfft`` for Hann); ``p_fa``: the
    per-bin false-alarm probability of the signal detection.
    """
    x = _check_iq(iq, sample_rate_hz)
    fs = float(sample_rate_hz)
    psd = welch_psd(x, fs, nfft=nfft)
    n0, mask = noise_floor(psd, p_fa=p_fa)
    df = psd.bin_hz
    excess = np.where(mask, psd.psd - n0, 0.0)
    p_signal = float(excess.sum() * df)
    summary = _summary(psd, n0)
    if not mask.any() or p_signal <= 0:
        summary.update(detected=False, snr_in_band_db=float("-inf"), bursts=0)
        return Measurement(
            snr_db=float("-inf"),
            signal_power_dbfs=float("-inf"),
            noise_floor_dbfs=_db(n0),
            frequency_offset_hz=float("nan"),
            peak_offset_hz=float("nan"),
            occupied_bandwidth_hz=0.0,
            duty_cycle=0.0,
            psd_summary=summary,
        )
    f_lo, f_hi = occupied_bandwidth(psd.f_hz, excess)
    obw = f_hi - f_lo
    # Decimation: the boxcar's band fs/D at least 10 × the occupied band (and ≥ 4 Welch bins).
    block = int(np.clip(fs / max(10.0 * obw, 4.0 * psd.enbw_hz), 1, 256))
    block = int(min(block, max(1, x.size // 64)))
    if block == 1:  # wideband: the lag-1 phase of the raw capture; the PSD's peak, interpolated
        y = x
        centroid = _lag1_frequency(x) * fs
        k = int(np.argmax(psd.psd))
        logp = np.log(np.maximum(psd.psd, 1e-300))
        peak = float(psd.f_hz[k] + _parabolic_peak(logp, k) * df)
    else:
        f0 = 0.5 * (f_lo + f_hi)
        for _ in range(3):  # re-centre: the boxcar's droop is symmetric about the mixing frequency
            y = _decimate_at(x, f0 / fs, block)
            f0 = f0 + _lag1_frequency(y) * fs / block
        y = _decimate_at(x, f0 / fs, block)
        env = np.abs(y)
        if float(np.std(env)) < CONSTANT_ENVELOPE_CV * float(np.mean(env)):
            # FM / carrier: the mean instantaneous frequency, end to end on the unwrapped phase
            phase = np.unwrap(np.angle(y))
            f0 = f0 + float(phase[-1] - phase[0]) / (2.0 * np.pi * (y.size - 1)) * fs / block
            y = _decimate_at(x, f0 / fs, block)
        centroid = f0
        peak = centroid + _padded_peak(y) * fs / block
        if obw <= 3.0 * psd.enbw_hz:  # a carrier, unresolved by the PSD: the ML tone frequency
            centroid = peak
    duty, bursts = _duty_cycle(y, n0 * fs / block)
    summary.update(
        detected=True,
        snr_in_band_db=_db(p_signal / (n0 * max(obw, psd.enbw_hz))),
        bursts=bursts,
        band_hz=[f_lo, f_hi],
    )
    return Measurement(
        snr_db=_db(p_signal / (n0 * fs)),
        signal_power_dbfs=_db(p_signal),
        noise_floor_dbfs=_db(n0),
        frequency_offset_hz=float(centroid),
        peak_offset_hz=float(peak),
        occupied_bandwidth_hz=float(obw),
        duty_cycle=duty,
        psd_summary=summary,
    )


def _duty_cycle(y: npt.NDArray[Any], noise_power: float, p_fa: float = 1e-3) -> tuple[float, int]:
    """Fraction of ≤ 1,000 blocks (≥ 32 samples each) of ``y`` whose mean power exceeds the noise's quantile, and the
    number of on-runs. ``noise_power``: the noise variance of one sample of ``y``."""
    per = max(32, y.size // 1000)
    nb = y.size // per
    if nb < 2:
        return 1.0, 1
    power = (np.abs(y[: nb * per]) ** 2).reshape(nb, per).mean(axis=1)
    # Mean of `per` exponential variables: Gamma(per, noise/per).
    threshold = stats.gamma.ppf(1.0 - p_fa, per, scale=noise_power / per)
    on = power > threshold
    starts = int(np.count_nonzero(on[1:] & ~on[:-1]) + (1 if on[0] else 0))
    return float(on.mean()), starts


def _summary(psd: Psd, n0: float) -> dict[str, Any]:
    n = psd.psd.size
    groups = SUMMARY_BINS if n % SUMMARY_BINS == 0 and n >= SUMMARY_BINS else 1
    if groups > 1:
        p = psd.psd.reshape(groups, -1).mean(axis=1)
        f = psd.f_hz.reshape(groups, -1).mean(axis=1)
    else:
        p, f = psd.psd, psd.f_hz
    return {
        "f_hz": [round(float(v), 3) for v in f],
        "psd_dbfs_hz": [round(_db(float(v)), 3) for v in p],
        "rbw_hz": psd.enbw_hz,
        "nfft": n,
        "segments": psd.segments,
        "noise_floor_dbfs_hz": _db(n0),
    }
