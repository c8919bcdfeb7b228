"""Distances and bearings between geodetic points: ellipsoidal (Vincenty) and spherical.

- :func:`geodesic_inverse`: the WGS-84 geodesic (Vincenty's inverse formula), degrees at the
  edges; the ballistic engine's ranges and bearings.
- :func:`great_circle_bearing_distance`: the haversine formula on the sphere of radius
  :data:`argus.geo.wgs84.MEAN_EARTH_RADIUS_M`, in radians; air-breathing guidance steers by it
  (a different model from the ellipsoid, chosen for its cheap closed form inside the
  integrator).

References
----------
- T. Vincenty, "Direct and inverse solutions of geodesics on the ellipsoid with application of
  nested equations", *Survey Review* 23(176), 1975.
- R. W. Sinnott, "Virtues of the haversine", *Sky and Telescope* 68(2), 1984.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from argus.geo.wgs84 import MEAN_EARTH_RADIUS_M, WGS84_A, WGS84_B, WGS84_F

FloatArray = npt.NDArray[np.float64]


def _auxiliary_sphere(
    lam: FloatArray, su1: FloatArray, cu1: FloatArray, su2: FloatArray, cu2: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Vincenty's auxiliary-sphere terms at longitude difference ``lam``.

    ``(sin λ, sin σ, cos σ, σ, sin α, cos² α, cos 2σm)``; coincident points (sin σ = 0) and
    equatorial lines (cos² α = 0) get the limits 0.
    """
    sl, cl = np.sin(lam), np.cos(lam)
    sin_sigma = np.hypot(cu2 * sl, cu1 * su2 - su1 * cu2 * cl)
    cos_sigma = su1 * su2 + cu1 * cu2 * cl
    sigma = np.arctan2(sin_sigma, cos_sigma)
    safe = sin_sigma > 0.0
    sin_alpha = np.where(safe, cu1 * cu2 * sl / np.where(safe, sin_sigma, 1.0), 0.0)
    cos2_alpha = 1.0 - sin_alpha * sin_alpha
    eq = cos2_alpha > 0.0
    cos_2sm = np.where(eq, cos_sigma - 2.0 * su1 * su2 / np.where(eq, cos2_alpha, 1.0), 0.0)
    return sl, sin_sigma, cos_sigma, sigma, sin_alpha, cos2_alpha, cos_2sm


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
        sl, sin_sigma, cos_sigma, sigma, sin_alpha, cos2_alpha, cos_2sm = _auxiliary_sphere(
            lam, su1, cu1, su2, cu2
        )
        c = f / 16.0 * cos2_alpha * (4.0 + f * (4.0 - 3.0 * cos2_alpha))
        lam_new = big_l + (1.0 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1.0 + 2.0 * cos_2sm * cos_2sm))
        )
        done = np.all(np.abs(lam_new - lam) < 1e-13)
        lam = lam_new
        if done:
            break
    sl, sin_sigma, cos_sigma, sigma, sin_alpha, cos2_alpha, cos_2sm = _auxiliary_sphere(
        lam, su1, cu1, su2, cu2
    )
    cl = np.cos(lam)
    safe = sin_sigma > 0.0
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


def great_circle_bearing_distance(
    lat1_rad: FloatArray, lon1_rad: FloatArray, lat2_rad: FloatArray, lon2_rad: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Spherical initial bearing (rad, 0 = north, clockwise) and haversine distance (m).

    On the sphere of radius :data:`~argus.geo.wgs84.MEAN_EARTH_RADIUS_M`.
    """
    dlon = lon2_rad - lon1_rad
    y = np.sin(dlon) * np.cos(lat2_rad)
    x = np.cos(lat1_rad) * np.sin(lat2_rad) - np.sin(lat1_rad) * np.cos(lat2_rad) * np.cos(dlon)
    brg = np.arctan2(y, x)
    a = (
        np.sin(0.5 * (lat2_rad - lat1_rad)) ** 2
        + np.cos(lat1_rad) * np.cos(lat2_rad) * np.sin(0.5 * dlon) ** 2
    )
    return brg, 2.0 * MEAN_EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
