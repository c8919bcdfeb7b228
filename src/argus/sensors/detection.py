"""Single-look detection theory: square-law threshold, Swerling Pd closed forms, the statistic.

Swerling (1960); Skolnik, *Radar Handbook*, 3rd ed., ch. 2; DiFranco & Rubin, *Radar
Detection* (1968). :func:`argus.sensors.radar.observe` draws :func:`detection_statistic`
against :func:`detection_threshold`, which reproduces these closed forms.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]


def db_to_lin(x_db: npt.ArrayLike) -> FloatArray:
    """10^(x/10)."""
    return np.power(10.0, np.asarray(x_db, dtype=float) / 10.0)


def lin_to_db(x: npt.ArrayLike) -> FloatArray:
    """10·log10(x) (−inf for 0)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(x, dtype=float))


def detection_threshold(pfa: float) -> float:
    """Square-law threshold VT = -ln(Pfa) on |x|²/N for a single look."""
    return -math.log(pfa)


def pd_swerling0(snr: npt.ArrayLike, pfa: float) -> FloatArray:
    """Non-fluctuating target: Pd = Q1(sqrt(2 SNR), sqrt(2 VT)) (Marcum Q, via scipy ncx2)."""
    s = np.asarray(snr, dtype=float)
    return np.asarray(stats.ncx2.sf(2.0 * detection_threshold(pfa), 2, 2.0 * s), dtype=float)


def pd_swerling1(snr: npt.ArrayLike, pfa: float) -> FloatArray:
    """Swerling I (and II, single look): Pd = Pfa^(1/(1 + SNR))."""
    return np.power(pfa, 1.0 / (1.0 + np.asarray(snr, dtype=float)))


def pd_swerling3(snr: npt.ArrayLike, pfa: float) -> FloatArray:
    """Swerling III (and IV, single look): Pd = (1 + 2 SNR VT/(2+SNR)²) exp(-2 VT/(2+SNR))."""
    s = np.asarray(snr, dtype=float)
    vt = detection_threshold(pfa)
    return (1.0 + 2.0 * s * vt / (2.0 + s) ** 2) * np.exp(-2.0 * vt / (2.0 + s))


def probability_of_detection(snr: npt.ArrayLike, pfa: float, swerling: int = 1) -> FloatArray:
    """Single-look Pd for a Swerling case (0-4) at mean SNR (linear)."""
    if swerling == 0:
        return pd_swerling0(snr, pfa)
    if swerling in (1, 2):
        return pd_swerling1(snr, pfa)
    if swerling in (3, 4):
        return pd_swerling3(snr, pfa)
    raise ValueError(f"swerling: expected 0-4, got {swerling!r}")


def snr_for_pd_swerling1(pd: npt.ArrayLike, pfa: float) -> FloatArray:
    """Mean SNR (linear) giving ``pd`` on a Swerling I target: ln(Pfa)/ln(Pd) - 1."""
    return math.log(pfa) / np.log(np.asarray(pd, dtype=float)) - 1.0


def detection_statistic(
    snr_mean: npt.ArrayLike, swerling: npt.ArrayLike, rng: np.random.Generator
) -> FloatArray:
    """Square-law statistic |s + n|²/N of one look per element (vectorized).

    The echo power is the mean SNR for Swerling 0, exponential (χ², 2 d.o.f.) for 1/2 and
    χ² with 4 d.o.f. for 3/4; its phase is uniform; the noise is circular complex Gaussian of
    unit power.
    """
    s = np.asarray(snr_mean, dtype=float)
    sw = np.broadcast_to(np.asarray(swerling, dtype=np.int64), s.shape)
    power = np.where(
        sw == 0,
        s,
        np.where(sw >= 3, s * rng.gamma(2.0, 0.5, s.shape), s * rng.exponential(1.0, s.shape)),
    )
    amp = np.sqrt(power)
    phase = rng.uniform(0.0, 2.0 * math.pi, s.shape)
    re = amp * np.cos(phase) + rng.standard_normal(s.shape) * math.sqrt(0.5)
    im = amp * np.sin(phase) + rng.standard_normal(s.shape) * math.sqrt(0.5)
    return re * re + im * im
