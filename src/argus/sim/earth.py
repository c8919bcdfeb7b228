"""WGS-84 Earth for the flight engines: constants, fast ECEF → geodetic, local frames, geodesics.

Frame conversions at the edges go through ``pymap3d`` (``geodetic2ecef``). Inside the integrators the geodetic altitude of every missile is needed at
every Runge-Kutta stage, so :func:`ecef_to_geodetic` here is a closed-form, allocation-light
version of Bowring's method (one iteration from Bowring's starting value), accurate to well
under a millimetre for heights between -10 km and 2,000 km — checked against ``pymap3d`` in
``tests/sim/test_earth_gravity.py``. :func:`geodesic_inverse` is Vincenty's inverse
formula iterated on whole arrays (``pymap3d.vincenty.vdist`` fails on arrays containing
coincident points).

References
----------
- NIMA TR8350.2, *Department of Defense World Geodetic System 1984*, 3rd ed. (2000): the
  ellipsoid, GM, ω and J2.
- B. R. Bowring, "Transformation from spatial to geographical coordinates", *Survey Review*
  23(181), 1976.
- T. Vincenty, "Direct and inverse solutions of geodesics on the ellipsoid with application of
  nested equations", *Survey Review* 23(176), 1975.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pymap3d

FloatArray = npt.NDArray[np.float64]

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
#: Earth's gravitational parameter GM, WGS-84 (m³/s²).
WGS84_GM: Final = 3.986004418e14
#: Earth rotation rate, WGS-84 (rad/s).
WGS84_OMEGA: Final = 7.292115e-5
#: Second zonal harmonic J2 (EGM-96 / WGS-84 value, unnormalized).
WGS84_J2: Final = 1.08262668e-3
#: Standard gravity (m/s²): the unit of load factor and of specific impulse.
G0: Final = 9.80665
#: Earth rotation vector in ECEF (rad/s).
OMEGA_ECEF: Final = np.array([0.0, 0.0, WGS84_OMEGA])


def geodetic_to_ecef(
    lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, alt_m: npt.ArrayLike
) -> FloatArray:
    """ECEF position (..., 3) of geodetic points, through ``pymap3d.geodetic2ecef``."""
    x, y, z = pymap3d.geodetic2ecef(
        np.asarray(lat_deg, dtype=float),
        np.asarray(lon_deg, dtype=float),
        np.asarray(alt_m, dtype=float),
    )
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1).astype(np.float64)


def ecef_to_geodetic(pos_ecef_m: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Geodetic latitude (rad), longitude (rad) and height (m) of ECEF points (..., 3).

    Bowring (1976) with one iteration; vectorized, no Python loop.
    """
    x = pos_ecef_m[..., 0]
    y = pos_ecef_m[..., 1]
    z = pos_ecef_m[..., 2]
    p = np.hypot(x, y)
    # Parametric latitude starting value, then one Bowring update.
    beta = np.arctan2(z * WGS84_A, p * WGS84_B)
    sb, cb = np.sin(beta), np.cos(beta)
    lat = np.arctan2(z + WGS84_EP2 * WGS84_B * sb**3, p - WGS84_E2 * WGS84_A * cb**3)
    beta = np.arctan2((1.0 - WGS84_F) * np.sin(lat), np.cos(lat))
    sb, cb = np.sin(beta), np.cos(beta)
    lat = np.arctan2(z + WGS84_EP2 * WGS84_B * sb**3, p - WGS84_E2 * WGS84_A * cb**3)
    lon = np.arctan2(y, x)
    sl, cl = np.sin(lat), np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sl * sl)
    # Height from the projection onto the normal: well conditioned at all latitudes.
    h = p * cl + z * sl - WGS84_A * WGS84_A / n
    return lat, lon, h


def geodetic_altitude_m(pos_ecef_m: FloatArray) -> FloatArray:
    """Height above the WGS-84 ellipsoid (m) of ECEF points (..., 3).

    A single Bowring step (height error below 1e-8 m up to 2,000 km): the integrators call
    this at every Runge-Kutta stage.
    """
    x = pos_ecef_m[..., 0]
    y = pos_ecef_m[..., 1]
    z = pos_ecef_m[..., 2]
    p = np.hypot(x, y)
    beta = np.arctan2(z * WGS84_A, p * WGS84_B)
    sb, cb = np.sin(beta), np.cos(beta)
    lat = np.arctan2(z + WGS84_EP2 * WGS84_B * sb**3, p - WGS84_E2 * WGS84_A * cb**3)
    sl, cl = np.sin(lat), np.cos(lat)
    return p * cl + z * sl - WGS84_A * np.sqrt(1.0 - WGS84_E2 * sl * sl)


def enu_basis(
    lat_rad: npt.ArrayLike, lon_rad: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit East, North and Up vectors (each (..., 3), in ECEF) at geodetic points."""
    lat = np.asarray(lat_rad, dtype=float)
    lon = np.asarray(lon_rad, dtype=float)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    east = np.stack([-so + zero, co + zero, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl + zero], axis=-1)
    up = np.stack([cl * co, cl * so, sl + zero], axis=-1)
    return east, north, up


def radii_of_curvature(lat_rad: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Meridian (M) and prime-vertical (N) radii of curvature (m) at geodetic latitudes."""
    sl = np.sin(np.asarray(lat_rad, dtype=float))
    w2 = 1.0 - WGS84_E2 * sl * sl
    n = WGS84_A / np.sqrt(w2)
    m = WGS84_A * (1.0 - WGS84_E2) / w2**1.5
    return m, n


def geodesic_inverse(
    lat1_deg: npt.ArrayLike,
    lon1_deg: npt.ArrayLike,
    lat2_deg: npt.ArrayLike,
    lon2_deg: npt.ArrayLike,
    *,
    iterations: int = 60,
) -> tuple[FloatArray, FloatArray]:
    """Ellipsoidal distance (m) and initial bearing (deg in [0, 360), 0 = north, clockwise).

    Vincenty's inverse formula (T. Vincenty, "Direct and inverse solutions of geodesics on the
    ellipsoid with application of nested equations", *Survey Review* 23(176), 1975), iterated
    a fixed number of times on whole arrays; coincident points give (0, 0). Agrees with
    ``pymap3d.vincenty.vdist`` (which is not safe on arrays with coincident points); not meant
    for nearly antipodal points, where Vincenty's iteration does not converge.
    """
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(x, dtype=float))
        for x in np.broadcast_arrays(lat1_deg, lon1_deg, lat2_deg, lon2_deg)
    )
    f = WGS84_F
    big_l = lon2 - lon1
    u1 = np.arctan((1.0 - f) * np.tan(lat1))
    u2 = np.arctan((1.0 - f) * np.tan(lat2))
    su1, cu1, su2, cu2 = np.sin(u1), np.cos(u1), np.sin(u2), np.cos(u2)
    lam = big_l.copy()
    for _ in range(iterations):
        sl, cl = np.sin(lam), np.cos(lam)
        sin_sigma = np.hypot(cu2 * sl, cu1 * su2 - su1 * cu2 * cl)
        cos_sigma = su1 * su2 + cu1 * cu2 * cl
        sigma = np.arctan2(sin_sigma, cos_sigma)
        safe = sin_sigma > 0.0
        sin_alpha = np.where(safe, cu1 * cu2 * sl / np.where(safe, sin_sigma, 1.0), 0.0)
        cos2_alpha = 1.0 - sin_alpha * sin_alpha
        eq = cos2_alpha > 0.0
        cos_2sm = np.where(eq, cos_sigma - 2.0 * su1 * su2 / np.where(eq, cos2_alpha, 1.0), 0.0)
        c = f / 16.0 * cos2_alpha * (4.0 + f * (4.0 - 3.0 * cos2_alpha))
        lam_new = big_l + (1.0 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1.0 + 2.0 * cos_2sm * cos_2sm))
        )
        done = np.all(np.abs(lam_new - lam) < 1e-13)
        lam = lam_new
        if done:
            break
    sl, cl = np.sin(lam), np.cos(lam)
    sin_sigma = np.hypot(cu2 * sl, cu1 * su2 - su1 * cu2 * cl)
    cos_sigma = su1 * su2 + cu1 * cu2 * cl
    sigma = np.arctan2(sin_sigma, cos_sigma)
    safe = sin_sigma > 0.0
    sin_alpha = np.where(safe, cu1 * cu2 * sl / np.where(safe, sin_sigma, 1.0), 0.0)
    cos2_alpha = 1.0 - sin_alpha * sin_alpha
    eq = cos2_alpha > 0.0
    cos_2sm = np.where(eq, cos_sigma - 2.0 * su1 * su2 / np.where(eq, cos2_alpha, 1.0), 0.0)
    u_sq = cos2_alpha * (WGS84_A**2 - WGS84_B**2) / WGS84_B**2
    big_a = 1.0 + u_sq / 16384.0 * (4096.0 + u_sq * (-768.0 + u_sq * (320.0 - 175.0 * u_sq)))
    big_b = u_sq / 1024.0 * (256.0 + u_sq * (-128.0 + u_sq * (74.0 - 47.0 * u_sq)))
    d_sigma = (
        big_b
        * sin_sigma
        * (
            cos_2sm
            + big_b
            / 4.0
            * (
                cos_sigma * (-1.0 + 2.0 * cos_2sm**2)
                - big_b / 6.0 * cos_2sm * (-3.0 + 4.0 * sin_sigma**2) * (-3.0 + 4.0 * cos_2sm**2)
            )
        )
    )
    dist = WGS84_B * big_a * (sigma - d_sigma)
    az = np.degrees(np.arctan2(cu2 * sl, cu1 * su2 - su1 * cu2 * cl))
    az = np.where(safe, np.mod(az, 360.0), 0.0)
    return np.asarray(dist, dtype=float), np.asarray(az, dtype=float)


def rotate_about_axis(vec: FloatArray, axis: FloatArray, angle_rad: npt.ArrayLike) -> FloatArray:
    """Rodrigues rotation of vectors (..., 3) about unit axes (..., 3) by angles (...)."""
    ang = np.asarray(angle_rad, dtype=float)[..., None]
    c, s = np.cos(ang), np.sin(ang)
    dot = np.sum(axis * vec, axis=-1, keepdims=True)
    return vec * c + np.cross(axis, vec) * s + axis * dot * (1.0 - c)
