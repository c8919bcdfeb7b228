"""A local ENU frame at a launcher (35° N, 20° E, sea level) for the defense tests."""

from __future__ import annotations

import numpy as np

from argus.defense.interceptor import FloatArray, IntArray, TruthFn
from argus.geo import enu_axes_rad, geodetic_to_ecef_rad

LAT, LON = np.radians(35.0), np.radians(20.0)
LAUNCHER = geodetic_to_ecef_rad(LAT, LON, 0.0)
ENU = np.stack(enu_axes_rad(LAT, LON))  # rows: east, north, up (ECEF)


def enu_point(east_north_up: object) -> FloatArray:
    """ECEF of ENU offsets (..., 3) from the launcher."""
    return np.asarray(LAUNCHER + np.asarray(east_north_up, dtype=float) @ ENU, dtype=np.float64)


def enu_vector(east_north_up: object) -> FloatArray:
    """ECEF components of ENU vectors (..., 3)."""
    return np.asarray(np.asarray(east_north_up, dtype=float) @ ENU, dtype=np.float64)


def constant_velocity(p0: FloatArray, v0: FloatArray) -> TruthFn:
    """``truth(t, ids)`` of targets flying straight at constant velocity from ``p0`` at t = 0."""

    def truth(t: FloatArray, ids: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        return p0[ids] + v0[ids] * t[:, None], v0[ids].copy(), np.zeros((len(ids), 3))

    return truth
