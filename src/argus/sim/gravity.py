"""Gravitation in ECEF: uniform (flat) field, point mass, or point mass + J2 (vectorized).

These are *gravitational* accelerations (mass attraction only). The centrifugal and Coriolis
terms of the rotating ECEF frame are added by the integrator (:mod:`argus.sim.ballistic`), so
the sum is the familiar "gravity" of geodesy plus the Coriolis term.

Point mass + J2 (e.g. Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed.,
§8.6.1; Zarchan, *Tactical and Strategic Missile Guidance*, strategic-targets chapters use the
point-mass term):

    a = -GM r/|r|³ [ (1 + 1.5 J2 (a/r)² (1 - 5 z²/r²)) (x, y)
                     (1 + 1.5 J2 (a/r)² (3 - 5 z²/r²)) z ]

with the potential ``U = -GM/r [1 - J2 (a/r)² (3 z²/r² - 1)/2]`` (``a = -∇U``), used by the
energy-conservation tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from argus.geo import G0, WGS84_A, WGS84_GM, WGS84_J2, enu_axes_rad

FloatArray = npt.NDArray[np.float64]
GravityKind = Literal["flat", "point_mass", "j2"]


@dataclass(frozen=True)
class Gravity:
    """A gravitation model.

    ``kind`` is ``"j2"`` (default), ``"point_mass"`` or ``"flat"``; a flat field is a constant
    vector ``flat_vector_mps2`` (ECEF), built with :meth:`flat` for tests against closed forms.
    """

    kind: GravityKind = "j2"
    flat_vector_mps2: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.kind not in ("flat", "point_mass", "j2"):
            raise ValueError(
                f"gravity kind: expected 'flat', 'point_mass' or 'j2', got {self.kind!r}"
            )

    @classmethod
    def flat(cls, lat_deg: float, lon_deg: float, g_mps2: float = G0) -> Gravity:
        """Uniform field of magnitude ``g_mps2`` along the local down at (lat, lon)."""
        _, _, up = enu_axes_rad(np.radians(lat_deg), np.radians(lon_deg))
        vec = -g_mps2 * up
        return cls("flat", (float(vec[0]), float(vec[1]), float(vec[2])))

    def acceleration(self, pos_ecef_m: FloatArray) -> FloatArray:
        """Gravitational acceleration (..., 3) in m/s² at ECEF positions (..., 3)."""
        if self.kind == "flat":
            return np.broadcast_to(np.asarray(self.flat_vector_mps2), pos_ecef_m.shape).copy()
        return gravitation_ecef(pos_ecef_m, j2=self.kind == "j2")

    def potential(self, pos_ecef_m: FloatArray) -> FloatArray:
        """Potential energy per unit mass (J/kg), with ``acceleration = -grad potential``."""
        if self.kind == "flat":
            return -np.sum(pos_ecef_m * np.asarray(self.flat_vector_mps2), axis=-1)
        return gravitational_potential(pos_ecef_m, j2=self.kind == "j2")


def gravitation_ecef(pos_ecef_m: FloatArray, *, j2: bool = True) -> FloatArray:
    """Point-mass (+ J2) gravitational acceleration (m/s²) at ECEF positions (..., 3)."""
    r2 = np.sum(pos_ecef_m * pos_ecef_m, axis=-1)
    r = np.sqrt(r2)
    k = -WGS84_GM / (r2 * r)
    if not j2:
        return pos_ecef_m * k[..., None]
    z2_r2 = pos_ecef_m[..., 2] ** 2 / r2
    c = 1.5 * WGS84_J2 * WGS84_A * WGS84_A / r2
    fxy = k * (1.0 + c * (1.0 - 5.0 * z2_r2))
    fz = k * (1.0 + c * (3.0 - 5.0 * z2_r2))
    out = np.empty_like(pos_ecef_m)
    out[..., 0] = pos_ecef_m[..., 0] * fxy
    out[..., 1] = pos_ecef_m[..., 1] * fxy
    out[..., 2] = pos_ecef_m[..., 2] * fz
    return out


def gravitational_potential(pos_ecef_m: FloatArray, *, j2: bool = True) -> FloatArray:
    """Gravitational potential (J/kg, negative) at ECEF positions (..., 3)."""
    r2 = np.sum(pos_ecef_m * pos_ecef_m, axis=-1)
    r = np.sqrt(r2)
    u = -WGS84_GM / r
    if not j2:
        return u
    z2_r2 = pos_ecef_m[..., 2] ** 2 / r2
    return u * (1.0 - 0.5 * WGS84_J2 * WGS84_A * WGS84_A / r2 * (3.0 * z2_r2 - 1.0))


def gravity_magnitude_mps2(alt_m: npt.ArrayLike) -> FloatArray:
    """Point-mass gravity g0·(Re/(Re+h))² at heights (m) — for quick estimates only."""
    h = np.asarray(alt_m, dtype=float)
    return G0 * (WGS84_A / (WGS84_A + h)) ** 2
