"""The Earth's constants, once: the WGS-84 ellipsoid and gravity field, and the spherical models.

Two models of the Earth's shape are used in Argus, and they are different *models*, not copies
of one another:

- the WGS-84 ellipsoid (``WGS84_*``): every position, geodetic ↔ ECEF conversion, ENU frame and
  ellipsoidal geodesic (:mod:`argus.geo.frames`, :mod:`argus.geo.geodesics`);
- a sphere of radius :data:`MEAN_EARTH_RADIUS_M` where a formula is spherical by construction:
  the haversine great-circle distance and bearing that air-breathing guidance steers by
  (:func:`argus.geo.geodesics.great_circle_bearing_distance`) and the classical radar horizon
  (:func:`argus.sensors.propagation.radar_horizon_range_m`). The 4/3-Earth refraction model
  scales a radius by :data:`K_FOUR_THIRDS` (:data:`EFFECTIVE_EARTH_RADIUS_M` for the mean one).

References
----------
- NIMA TR8350.2, *Department of Defense World Geodetic System 1984*, 3rd ed. (2000): the
  ellipsoid, GM, ω and J2.
- H. Moritz, "Geodetic Reference System 1980", *Journal of Geodesy* 74 (2000): the mean radius
  R1 = (2a + b)/3.
- M. I. Skolnik, *Radar Handbook*, 3rd ed. (2008), ch. 26: the effective-Earth-radius factor 4/3.
"""

from __future__ import annotations

from typing import Final

import numpy as np

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
#: Earth rotation vector in ECEF (rad/s).
OMEGA_ECEF: Final = np.array([0.0, 0.0, WGS84_OMEGA])

#: Standard gravity (m/s², CGPM 1901): the unit of load factor and of specific impulse, and the
#: g0 of the geopotential heights of the standard atmosphere.
G0: Final = 9.80665

#: Mean Earth radius R1 = (2a + b)/3 (m, IUGG), the sphere of the spherical formulas: haversine
#: great-circle distance and bearing (air-breathing guidance) and the default radius of the
#: classical radar horizon ``sqrt(2 k R h_r) + sqrt(2 k R h_t)``.
MEAN_EARTH_RADIUS_M: Final = 6371008.8
#: Standard effective-Earth-radius factor k of the 4/3-Earth refraction model (rays straight
#: over a sphere of radius k·R).
K_FOUR_THIRDS: Final = 4.0 / 3.0
#: Effective radius k·R of the mean sphere in the 4/3-Earth model (m).
EFFECTIVE_EARTH_RADIUS_M: Final = K_FOUR_THIRDS * MEAN_EARTH_RADIUS_M
