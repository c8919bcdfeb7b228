"""Line of sight over a refracting atmosphere: the effective-Earth-radius (4/3 Earth) model.

Standard-atmosphere refraction bends radar rays downward with a curvature of about a quarter of
the Earth's; replacing the Earth radius Re by an effective radius ``k·Re`` (k = 4/3) makes the
rays straight lines (Skolnik, *Radar Handbook*, 3rd ed., ch. 26; Doerry, "Earth Curvature and
Atmospheric Refraction Effects on Radar Signal Propagation", Sandia SAND2012-10690, 2013).

For a radar antenna at height h_r and a target at height h_t, separated by the ground arc d, the
geometry on a sphere of radius a_e = k·Re is rebuilt with the same heights and arc
(central angle d/a_e). The apparent elevation is the elevation of the straight ray in that
geometry, and the target is in view when the ray clears the sphere. Far from the horizon this
reduces to the classical radar horizon ``d_max = sqrt(2 a_e h_r) + sqrt(2 a_e h_t)``.

The local Earth radius is the Gaussian mean radius sqrt(M·N) at the radar's latitude, and the
ground arc comes from the true slant range and heights by the law of cosines, so the model is
consistent with the WGS-84 positions it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from argus.geo import K_FOUR_THIRDS, MEAN_EARTH_RADIUS_M, geodetic_altitude_m, radii_of_curvature

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LineOfSight:
    """Effective-Earth geometry of targets seen from one antenna (arrays of shape (Q,))."""

    visible: BoolArray
    apparent_elevation_rad: FloatArray
    ground_range_m: FloatArray
    target_alt_m: FloatArray


def local_earth_radius_m(lat_rad: npt.ArrayLike) -> FloatArray:
    """Gaussian mean radius of curvature sqrt(M·N) (m) at geodetic latitudes."""
    m, n = radii_of_curvature(lat_rad)
    return np.sqrt(m * n)


def radar_horizon_range_m(
    antenna_alt_m: npt.ArrayLike,
    target_alt_m: npt.ArrayLike,
    *,
    earth_radius_m: float = MEAN_EARTH_RADIUS_M,
    k: float = K_FOUR_THIRDS,
) -> FloatArray:
    """Classical radar horizon (ground range, m): sqrt(2 k Re h_r) + sqrt(2 k Re h_t)."""
    ae = k * earth_radius_m
    hr = np.maximum(np.asarray(antenna_alt_m, dtype=float), 0.0)
    ht = np.maximum(np.asarray(target_alt_m, dtype=float), 0.0)
    return np.sqrt(2.0 * ae * hr) + np.sqrt(2.0 * ae * ht)


def line_of_sight(
    antenna_ecef_m: FloatArray,
    antenna_lat_rad: float,
    antenna_alt_m: float,
    target_ecef_m: FloatArray,
    *,
    k: float = K_FOUR_THIRDS,
    target_alt_m: FloatArray | None = None,
) -> LineOfSight:
    """Visibility and apparent elevation of targets (Q, 3) from one antenna, 4/3-Earth model."""
    re = float(local_earth_radius_m(antenna_lat_rad))
    ht = geodetic_altitude_m(target_ecef_m) if target_alt_m is None else target_alt_m
    hr = antenna_alt_m
    slant = np.linalg.norm(target_ecef_m - antenna_ecef_m, axis=-1)
    r1 = re + hr
    r2 = re + ht
    cos_theta = np.clip((r1 * r1 + r2 * r2 - slant * slant) / (2.0 * r1 * r2), -1.0, 1.0)
    theta = np.arccos(cos_theta)
    ground = re * theta
    ae = k * re
    th_e = ground / ae
    r1e = ae + hr
    r2e = ae + ht
    dx = r2e * np.sin(th_e)
    dz = r2e * np.cos(th_e) - r1e
    el = np.arctan2(dz, dx)
    slant_e = np.hypot(dx, dz)
    # The ray clears the effective sphere unless it dips and passes its closest approach
    # to the centre (at along-ray distance r1e·sin(-el)) below radius ae.
    passes_closest = slant_e > r1e * np.sin(-el)
    blocked = (el < 0.0) & passes_closest & (r1e * np.cos(el) < ae)
    visible = ~blocked & (r2e >= ae - 1.0) & (r1e >= ae - 1.0)
    return LineOfSight(visible, el, ground, np.asarray(ht, dtype=float))
