"""WGS-84 geodesy helpers, vectorized over numpy arrays (foundation layer: imports nothing of Argus).

Conventions: angles in degrees at the edges (``lat_deg``, ``lon_deg``, ``heading_deg``), metres
and seconds inside. Heading 0° is north, increasing clockwise (90° = east). Local tangent planes
are East-North-Up (ENU) frames anchored at a geodetic origin.

Everything here is closed-form numpy: the same call handles one point or a million, and the
``*_outer`` variants evaluate all points × all origins at once (shape ``(N, M)``) through a
``(N, 3) @ (3, M)`` matrix product, because ENU coordinates are an affine map of ECEF.

References
----------
- NIMA TR8350.2, *Department of Defense World Geodetic System 1984* (3rd ed., 2000): the
  ellipsoid constants.
- J. Farrell, *Aided Navigation* (2008), §2.3: ECEF ↔ ENU rotation.
- B. R. Bowring, "Transformation from spatial to geographical coordinates", *Survey Review*
  23(181), 1976: the ECEF → geodetic iteration used by :func:`ecef_to_geodetic`.

The results agree with ``pymap3d`` (``geodetic2enu``, ``enu2geodetic``, ``ecef2geodetic``) to
well below a micrometre; ``tests/test_geo.py`` checks it, including near the antimeridian and
the poles, where ENU (built from ECEF) has no wrap-around or singularity.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

#: WGS-84 semi-major axis (m).
WGS84_A: Final = 6378137.0
#: WGS-84 flattening.
WGS84_F: Final = 1.0 / 298.257223563
#: WGS-84 semi-minor axis (m).
WGS84_B: Final = WGS84_A * (1.0 - WGS84_F)
#: First eccentricity squared.
WGS84_E2: Final = WGS84_F * (2.0 - WGS84_F)
#: Second eccentricity squared.
WGS84_EP2: Final = WGS84_E2 / (1.0 - WGS84_E2)


def _f64(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------- angle helpers


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


# ---------------------------------------------------------------- ECEF <-> geodetic


def geodetic_to_ecef(
    lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike = 0.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Earth-centred Earth-fixed ``(x, y, z)`` in metres of WGS-84 geodetic coordinates."""
    lat = np.deg2rad(_f64(lat_deg))
    lon = np.deg2rad(_f64(lon_deg))
    h = _f64(alt_m)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    return x, y, z


def ecef_to_geodetic(
    x: ArrayLike, y: ArrayLike, z: ArrayLike, iterations: int = 3
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """WGS-84 ``(lat_deg, lon_deg, alt_m)`` of ECEF coordinates (Bowring 1976 iteration).

    Three iterations converge to ~1e-15 rad for points within thousands of km of the surface.
    Longitude is in ``[-180, 180]``; the height formula is stable at the poles.
    """
    xa, ya, za = _f64(x), _f64(y), _f64(z)
    p = np.hypot(xa, ya)
    beta = np.arctan2(za, (1.0 - WGS84_F) * p)
    lat = beta
    for _ in range(iterations):
        sb, cb = np.sin(beta), np.cos(beta)
        lat = np.arctan2(za + WGS84_EP2 * WGS84_B * sb**3, p - WGS84_E2 * WGS84_A * cb**3)
        beta = np.arctan2((1.0 - WGS84_F) * np.sin(lat), np.cos(lat))
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    alt = p * cos_lat + (za + WGS84_E2 * n * sin_lat) * sin_lat - n
    lon = np.arctan2(ya, xa)
    return np.rad2deg(lat), np.rad2deg(lon), alt


# ---------------------------------------------------------------- ENU


def enu_axes(lat0_deg: ArrayLike, lon0_deg: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit vectors of the local East, North and Up axes in ECEF, each of shape ``(..., 3)``."""
    lat = np.deg2rad(_f64(lat0_deg))
    lon = np.deg2rad(_f64(lon0_deg))
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    east = np.stack(np.broadcast_arrays(-so, co, zero), axis=-1)
    north = np.stack(np.broadcast_arrays(-sl * co, -sl * so, cl), axis=-1)
    up = np.stack(np.broadcast_arrays(cl * co, cl * so, sl), axis=-1)
    return east, north, up


def enu_offsets(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    lat0_deg: ArrayLike,
    lon0_deg: ArrayLike,
    alt_m: ArrayLike = 0.0,
    alt0_m: ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(east, north, up)`` in metres of points relative to origins, broadcasting numpy-style.

    Same result as ``pymap3d.geodetic2enu(lat, lon, alt, lat0, lon0, alt0)``. For all points ×
    all origins pass ``lat[:, None]`` and ``lat0[None, :]``, or use :func:`enu_offsets_outer`,
    which is faster.
    """
    x, y, z = geodetic_to_ecef(lat_deg, lon_deg, alt_m)
    x0, y0, z0 = geodetic_to_ecef(lat0_deg, lon0_deg, alt0_m)
    dx, dy, dz = x - x0, y - y0, z - z0
    lat0 = np.deg2rad(_f64(lat0_deg))
    lon0 = np.deg2rad(_f64(lon0_deg))
    sl, cl = np.sin(lat0), np.cos(lat0)
    so, co = np.sin(lon0), np.cos(lon0)
    east = -so * dx + co * dy
    t = co * dx + so * dy
    north = -sl * t + cl * dz
    up = cl * t + sl * dz
    return east, north, up


def enu_offsets_outer(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    lat0_deg: ArrayLike,
    lon0_deg: ArrayLike,
    alt_m: ArrayLike = 0.0,
    alt0_m: ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ENU offsets of N points in the tangent planes of M origins: three ``(N, M)`` arrays.

    ``east[i, k]`` is point ``i`` seen from origin ``k``. Computed as ``P @ A - (P0 · A)`` with
    ``P`` the ``(N, 3)`` ECEF points and ``A`` the ``(3, M)`` axis vectors: one small matrix
    product per axis instead of a dozen ``(N, M)`` elementwise passes.
    """
    p = np.stack(
        geodetic_to_ecef(
            np.ravel(lat_deg),
            np.ravel(lon_deg),
            np.ravel(np.broadcast_to(alt_m, np.shape(lat_deg))),
        ),
        axis=-1,
    )
    p0 = np.stack(
        geodetic_to_ecef(
            np.ravel(lat0_deg),
            np.ravel(lon0_deg),
            np.ravel(np.broadcast_to(alt0_m, np.shape(lat0_deg))),
        ),
        axis=-1,
    )
    e_ax, n_ax, u_ax = enu_axes(np.ravel(lat0_deg), np.ravel(lon0_deg))
    out = []
    for ax in (e_ax, n_ax, u_ax):
        offset = np.einsum("mk,mk->m", p0, ax)
        out.append(p @ ax.T - offset[None, :])
    return out[0], out[1], out[2]


def enu_velocity_outer(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    v_east_mps: ArrayLike,
    v_north_mps: ArrayLike,
    lat0_deg: ArrayLike,
    lon0_deg: ArrayLike,
    v_up_mps: ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Velocities given in each point's own ENU frame, re-expressed in each origin's ENU frame.

    Returns three ``(N, M)`` arrays. Far from the poles and for origins within a few hundred
    km this is close to the identity; near a pole "north" at the point and "north" at the
    origin can differ by any angle, and this rotation (through ECEF) is what keeps a track
    heading over the pole pointed at it.
    """
    lat = np.ravel(lat_deg)
    e_pt, n_pt, u_pt = enu_axes(lat, np.ravel(lon_deg))
    ve = np.ravel(np.broadcast_to(v_east_mps, lat.shape))[:, None]
    vn = np.ravel(np.broadcast_to(v_north_mps, lat.shape))[:, None]
    vu = np.ravel(np.broadcast_to(v_up_mps, lat.shape))[:, None]
    v_ecef = ve * e_pt + vn * n_pt + vu * u_pt  # (N, 3)
    e_ax, n_ax, u_ax = enu_axes(np.ravel(lat0_deg), np.ravel(lon0_deg))
    return v_ecef @ e_ax.T, v_ecef @ n_ax.T, v_ecef @ u_ax.T


def enu_to_geodetic(
    east_m: ArrayLike,
    north_m: ArrayLike,
    up_m: ArrayLike,
    lat0_deg: ArrayLike,
    lon0_deg: ArrayLike,
    alt0_m: ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Geodetic ``(lat_deg, lon_deg, alt_m)`` of ENU offsets from origins (inverse of :func:`enu_offsets`)."""
    lat0 = np.deg2rad(_f64(lat0_deg))
    lon0 = np.deg2rad(_f64(lon0_deg))
    sl, cl = np.sin(lat0), np.cos(lat0)
    so, co = np.sin(lon0), np.cos(lon0)
    e, n, u = _f64(east_m), _f64(north_m), _f64(up_m)
    t = -sl * n + cl * u
    dx = -so * e + co * t
    dy = co * e + so * t
    dz = cl * n + sl * u
    x0, y0, z0 = geodetic_to_ecef(lat0_deg, lon0_deg, alt0_m)
    return ecef_to_geodetic(x0 + dx, y0 + dy, z0 + dz)


def ground_distance_m(
    lat_deg: ArrayLike, lon_deg: ArrayLike, lat0_deg: ArrayLike, lon0_deg: ArrayLike
) -> FloatArray:
    """Horizontal distance in the origin's tangent plane, ``hypot(east, north)``, heights 0.

    This is the distance the TEWA engine uses; it is within 0.01 % of the geodesic for ranges
    under ~100 km and shorter than it beyond (the tangent plane drops below the surface).
    """
    e, n, _ = enu_offsets(lat_deg, lon_deg, lat0_deg, lon0_deg)
    return np.hypot(e, n)


def dead_reckon(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    speed_mps: ArrayLike,
    heading_deg: ArrayLike,
    dt_s: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Position after moving ``speed · dt`` along ``heading`` in the start point's tangent plane.

    The displaced tangent-plane point is projected back to the ellipsoid along the normal,
    which for 10 km of travel differs from the geodesic by micrometres. Returns
    ``(lat_deg, lon_deg)``.
    """
    ve, vn = velocity_from_speed_heading(speed_mps, heading_deg)
    dt = _f64(dt_s)
    lat, lon, _ = enu_to_geodetic(ve * dt, vn * dt, 0.0, lat_deg, lon_deg, 0.0)
    return lat, lon
