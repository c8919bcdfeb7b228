"""U.S. Standard Atmosphere 1976, vectorized: temperature, pressure, density, speed of sound.

Below 86 km geometric altitude the seven-layer COESA (1976) model is evaluated exactly from its
defining constants (geopotential altitude, piecewise-linear molecular-scale temperature,
hydrostatic pressure); the kinetic temperature between 80 and 86 km carries the tabulated
molecular-weight ratio M/M0. Above 86 km density is interpolated log-linearly (piecewise
exponential) between the tabulated 1976 densities up to 1,000 km, temperature is held at its
86 km value and pressure follows the perfect-gas law; this is adequate for drag (negligible up
there) and is the "exponential above 86 km" simplification, not the full 1976 thermosphere.
Below sea level the first layer is extended down to -5 km.

References
----------
- NOAA/NASA/USAF, *U.S. Standard Atmosphere, 1976*, NOAA-S/T 76-1562, Washington D.C., 1976:
  Tables 4 (layers), 8 (M/M0 80–86 km) and the density tables above 86 km.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from argus.geo import G0

FloatArray = npt.NDArray[np.float64]

#: Universal gas constant used by the 1976 standard (J/(kmol·K)).
R_STAR: Final = 8314.32
#: Sea-level mean molecular weight (kg/kmol).
M0: Final = 28.9644
#: Specific gas constant of air (J/(kg·K)).
R_AIR: Final = R_STAR / M0
#: Ratio of specific heats.
GAMMA_AIR: Final = 1.4
#: Effective Earth radius for geopotential altitude (m).
R0_GEOPOTENTIAL: Final = 6356766.0
#: Sea-level standard values.
P0_PA: Final = 101325.0
T0_K: Final = 288.15
RHO0_KGM3: Final = P0_PA / (R_AIR * T0_K)

# Layer bases in geopotential metres and their molecular-temperature lapse rates (K/m').
_H_BASE = np.array([0.0, 11000.0, 20000.0, 32000.0, 47000.0, 51000.0, 71000.0, 84852.0])
_LAPSE = np.array([-0.0065, 0.0, 0.001, 0.0028, 0.0, -0.0028, -0.002, 0.0])


def _layer_bases() -> tuple[FloatArray, FloatArray]:
    t_base = np.empty(_H_BASE.size)
    p_base = np.empty(_H_BASE.size)
    t_base[0], p_base[0] = T0_K, P0_PA
    for i in range(1, _H_BASE.size):
        dh = _H_BASE[i] - _H_BASE[i - 1]
        lapse = _LAPSE[i - 1]
        t_base[i] = t_base[i - 1] + lapse * dh
        if lapse == 0.0:
            p_base[i] = p_base[i - 1] * np.exp(-G0 * dh / (R_AIR * t_base[i - 1]))
        else:
            p_base[i] = p_base[i - 1] * (t_base[i - 1] / t_base[i]) ** (G0 / (R_AIR * lapse))
    return t_base, p_base


_T_BASE, _P_BASE = _layer_bases()

#: Top of the layered model (geometric metres).
Z_TOP_LAYERED_M: Final = 86000.0

# Table 8 of the 1976 standard: M/M0 between 80 and 86 km geometric (0.5 km steps).
_Z_MRATIO = np.arange(80000.0, 86000.0 + 1.0, 500.0)
_MRATIO = np.array(
    [
        1.000000,
        0.999996,
        0.999989,
        0.999971,
        0.999941,
        0.999909,
        0.999870,
        0.999829,
        0.999786,
        0.999741,
        0.999694,
        0.999641,
        0.999579,
    ]
)

# Tabulated 1976 densities above 86 km (geometric km, kg/m³), interpolated log-linearly.
_Z_UPPER = 1000.0 * np.array(
    [
        86.0,
        90.0,
        95.0,
        100.0,
        110.0,
        120.0,
        130.0,
        140.0,
        150.0,
        160.0,
        180.0,
        200.0,
        250.0,
        300.0,
        400.0,
        500.0,
        600.0,
        700.0,
        800.0,
        900.0,
        1000.0,
    ]
)
_RHO_UPPER = np.array(
    [
        6.958e-06,
        3.416e-06,
        1.393e-06,
        5.604e-07,
        9.708e-08,
        2.222e-08,
        8.152e-09,
        3.831e-09,
        2.076e-09,
        1.233e-09,
        5.194e-10,
        2.541e-10,
        6.073e-11,
        1.916e-11,
        2.803e-12,
        5.215e-13,
        1.137e-13,
        3.070e-14,
        1.136e-14,
        5.759e-15,
        3.561e-15,
    ]
)
_LOG_RHO_UPPER = np.log(_RHO_UPPER)
#: Kinetic temperature at 86 km (K), held constant above it in this model.
T_86KM_K: Final = 186.8673
#: Molecular-scale temperature at 86 km (K); sets the speed of sound above 86 km.
TM_86KM_K: Final = float(_T_BASE[-1])


@dataclass(frozen=True)
class AtmosphereState:
    """Standard-atmosphere properties at the requested altitudes (arrays, SI)."""

    temperature_k: FloatArray
    pressure_pa: FloatArray
    density_kgm3: FloatArray
    speed_of_sound_mps: FloatArray


def geopotential_altitude_m(z_m: npt.ArrayLike) -> FloatArray:
    """Geopotential altitude H = r0·Z/(r0 + Z) (m') of geometric altitudes Z (m)."""
    z = np.asarray(z_m, dtype=float)
    return R0_GEOPOTENTIAL * z / (R0_GEOPOTENTIAL + z)


def _layered(z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Molecular temperature, pressure, kinetic temperature for z <= 86 km (vectorized)."""
    h = geopotential_altitude_m(z)
    idx = np.minimum(np.maximum(np.searchsorted(_H_BASE, h, side="right") - 1, 0), _H_BASE.size - 2)
    hb, lapse, tb, pb = _H_BASE[idx], _LAPSE[idx], _T_BASE[idx], _P_BASE[idx]
    dh = h - hb
    tm = tb + lapse * dh
    iso = lapse == 0.0
    safe_lapse = np.where(iso, 1.0, lapse)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_grad = pb * (tb / tm) ** (G0 / (R_AIR * safe_lapse))
    p_iso = pb * np.exp(-G0 * dh / (R_AIR * tb))
    p = np.where(iso, p_iso, p_grad)
    ratio = np.interp(z, _Z_MRATIO, _MRATIO, left=1.0, right=_MRATIO[-1])
    return tm, p, tm * ratio


def atmosphere(alt_m: npt.ArrayLike) -> AtmosphereState:
    """US Standard Atmosphere 1976 at geometric altitudes ``alt_m`` (any shape).

    >>> round(float(atmosphere(0.0).density_kgm3), 4)
    1.225
    """
    z = np.maximum(np.asarray(alt_m, dtype=float), -5000.0)
    low = np.minimum(z, Z_TOP_LAYERED_M)
    tm, p_low, t_low = _layered(low)
    rho_low = p_low / (R_AIR * tm)
    a_low = np.sqrt(GAMMA_AIR * R_AIR * tm)
    high = z > Z_TOP_LAYERED_M
    if not np.any(high):
        return AtmosphereState(t_low, p_low, rho_low, a_low)
    rho_high = np.exp(np.interp(z, _Z_UPPER, _LOG_RHO_UPPER, right=np.nan))
    # Beyond 1,000 km: continue the last exponential segment.
    slope = (_LOG_RHO_UPPER[-1] - _LOG_RHO_UPPER[-2]) / (_Z_UPPER[-1] - _Z_UPPER[-2])
    rho_high = np.where(
        z > _Z_UPPER[-1], np.exp(_LOG_RHO_UPPER[-1] + slope * (z - _Z_UPPER[-1])), rho_high
    )
    t = np.where(high, T_86KM_K, t_low)
    rho = np.where(high, rho_high, rho_low)
    p = np.where(high, rho_high * R_AIR * TM_86KM_K, p_low)
    a = np.where(high, np.sqrt(GAMMA_AIR * R_AIR * TM_86KM_K), a_low)
    return AtmosphereState(t, p, rho, a)


def density_kgm3(alt_m: npt.ArrayLike) -> FloatArray:
    """Air density (kg/m³) at geometric altitudes (m)."""
    return atmosphere(alt_m).density_kgm3


def pressure_pa(alt_m: npt.ArrayLike) -> FloatArray:
    """Static pressure (Pa) at geometric altitudes (m)."""
    return atmosphere(alt_m).pressure_pa


def speed_of_sound_mps(alt_m: npt.ArrayLike) -> FloatArray:
    """Speed of sound (m/s) at geometric altitudes (m)."""
    return atmosphere(alt_m).speed_of_sound_mps


# ----------------------------------------------------------------------------- fast lookup

_TABLE_STEP_M: Final = 25.0
_TABLE_Z0_M: Final = -5000.0
_TABLE_Z1_M: Final = 1_000_000.0


def _build_table() -> tuple[FloatArray, FloatArray, FloatArray]:
    z = np.arange(_TABLE_Z0_M, _TABLE_Z1_M + _TABLE_STEP_M, _TABLE_STEP_M)
    s = atmosphere(z)
    return np.log(s.density_kgm3), np.log(s.pressure_pa), s.speed_of_sound_mps


_TABLE: tuple[FloatArray, FloatArray, FloatArray] | None = None


def fast_density_pressure_sound(alt_m: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(density, pressure, speed of sound) from a 25 m table of :func:`atmosphere`.

    Log-linear interpolation (linear for the speed of sound) between -5 km and 1,000 km
    (clamped outside): relative error below 2e-4 within 25 m of a layer boundary (the
    temperature-gradient kinks), below 1e-6 elsewhere. Used inside the integrators, where the exact
    layered evaluation would dominate the cost of a Runge-Kutta stage.
    """
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    log_rho, log_p, sound = _TABLE
    x = (np.minimum(np.maximum(alt_m, _TABLE_Z0_M), _TABLE_Z1_M) - _TABLE_Z0_M) / _TABLE_STEP_M
    i = np.minimum(x.astype(np.int64), log_rho.size - 2)
    f = x - i
    g = 1.0 - f
    rho = np.exp(log_rho[i] * g + log_rho[i + 1] * f)
    p = np.exp(log_p[i] * g + log_p[i + 1] * f)
    a = sound[i] * g + sound[i + 1] * f
    return rho, p, a
