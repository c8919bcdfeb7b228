"""Angles and headings in degrees (heading 0° = north, increasing clockwise; 90° = east)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def _f64(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------- wrapping


def wrap_deg_360(angle_deg: ArrayLike) -> FloatArray:
    """Angle folded into ``[0, 360)`` (headings, azimuths)."""
    a = np.mod(_f64(angle_deg), 360.0)
    # np.mod(-1e-20, 360) == 360.0 in floating point: fold that back to 0.
    return np.where(a >= 360.0, 0.0, a)


def wrap_deg_180(angle_deg: ArrayLike) -> FloatArray:
    """Angle folded into ``[-180, 180)`` (longitudes, signed heading differences)."""
    a = np.mod(_f64(angle_deg) + 180.0, 360.0)
    a = np.where(a >= 360.0, 0.0, a)
    return a - 180.0


def heading_difference_deg(from_deg: ArrayLike, to_deg: ArrayLike) -> FloatArray:
    """Signed turn from ``from_deg`` to ``to_deg`` along the shorter arc, in ``[-180, 180)``.

    >>> float(heading_difference_deg(350.0, 10.0))
    20.0
    """
    return wrap_deg_180(_f64(to_deg) - _f64(from_deg))


def interpolate_heading_deg(
    h0_deg: ArrayLike, h1_deg: ArrayLike, fraction: ArrayLike
) -> FloatArray:
    """Heading a ``fraction`` (0..1) of the way from ``h0`` to ``h1`` along the shorter arc.

    359° → 1° passes through 0°, not 180°. A difference of exactly 180° turns clockwise
    (ambiguous by nature).
    """
    h0 = _f64(h0_deg)
    return wrap_deg_360(h0 + _f64(fraction) * heading_difference_deg(h0, h1_deg))


def velocity_from_speed_heading(
    speed_mps: ArrayLike, heading_deg: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """``(v_east, v_north)`` in m/s: ``speed · (sin h, cos h)`` (0° = north, clockwise)."""
    h = np.deg2rad(_f64(heading_deg))
    s = _f64(speed_mps)
    return s * np.sin(h), s * np.cos(h)


def speed_heading_from_velocity(
    v_east_mps: ArrayLike, v_north_mps: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """``(speed_mps, heading_deg)`` from ENU velocity components; heading in ``[0, 360)``.

    A zero velocity has heading 0 by convention.
    """
    ve, vn = _f64(v_east_mps), _f64(v_north_mps)
    return np.hypot(ve, vn), wrap_deg_360(np.rad2deg(np.arctan2(ve, vn)))
