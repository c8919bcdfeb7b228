"""Antenna power pattern: Gaussian main lobe with a flat sidelobe floor (vectorized).

``g(Δaz, Δel) = max(exp(-4 ln 2 · [(Δaz·cos el / θ_az)² + (Δel / θ_el)²]), SLL)``

relative to the peak gain, with θ the half-power (-3 dB) beamwidths, so g = 1/2 at half a
beamwidth off boresight. The Gaussian main lobe is the usual analytic stand-in for a
sin(x)/x pattern near boresight (Skolnik, *Radar Handbook*, 3rd ed., ch. 9; Barton,
*Radar Equations for Modern Radar*, 2013, §3.3); the constant floor models average sidelobes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_FOUR_LN2 = 4.0 * math.log(2.0)


def wrap_pi(angle_rad: npt.ArrayLike) -> FloatArray:
    """Angle folded into [-π, π)."""
    return (np.asarray(angle_rad, dtype=float) + math.pi) % (2.0 * math.pi) - math.pi


def gaussian_pattern(
    d_az_rad: npt.ArrayLike,
    d_el_rad: npt.ArrayLike,
    elevation_rad: npt.ArrayLike,
    beamwidth_az_rad: float,
    beamwidth_el_rad: float,
    sidelobe_level_db: float,
) -> FloatArray:
    """Relative power gain (linear, peak 1) at angular offsets from boresight."""
    daz = wrap_pi(d_az_rad) * np.cos(np.asarray(elevation_rad, dtype=float))
    u = (daz / beamwidth_az_rad) ** 2 + (np.asarray(d_el_rad, dtype=float) / beamwidth_el_rad) ** 2
    return np.maximum(np.exp(-_FOUR_LN2 * u), 10.0 ** (sidelobe_level_db / 10.0))


def off_boresight_pattern(
    offset_rad: npt.ArrayLike, beamwidth_rad: float, sidelobe_level_db: float
) -> FloatArray:
    """Relative power gain of a circular Gaussian beam at a total off-boresight angle."""
    u = (np.asarray(offset_rad, dtype=float) / beamwidth_rad) ** 2
    return np.maximum(np.exp(-_FOUR_LN2 * u), 10.0 ** (sidelobe_level_db / 10.0))
