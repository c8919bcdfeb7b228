"""WGS-84 geodesy, the one place (foundation layer: imports nothing of Argus above it).

Constants, conversions and frames used by the TEWA engine, the flight simulation, the sensors
and the tracking glue, vectorized over numpy arrays. Degrees at the edges, radians inside:
the plain conversions take degrees and return coordinate tuples, the ``*_rad`` forms of the same
conversions take radians and ``(..., 3)`` ECEF vectors for the integrators. Heading 0° is
north, increasing clockwise (90° = east).

- :mod:`argus.geo.wgs84` — the ellipsoid, GM, ω, J2, standard gravity, and the spherical
  radii (mean Earth radius, 4/3 effective radius) of the formulas that are spherical by model;
- :mod:`argus.geo.frames` — geodetic ↔ ECEF, ENU axes, offsets and velocities, radii of
  curvature, tangent-plane dead reckoning;
- :mod:`argus.geo.geodesics` — Vincenty's inverse on the ellipsoid, haversine on the sphere;
- :mod:`argus.geo.angles` — wrapping, heading differences, speed/heading ↔ ENU velocity.
"""

from argus.geo.angles import (
    heading_difference_deg,
    interpolate_heading_deg,
    speed_heading_from_velocity,
    velocity_from_speed_heading,
    wrap_deg_180,
    wrap_deg_360,
)
from argus.geo.frames import (
    dead_reckon,
    ecef_to_geodetic,
    ecef_to_geodetic_rad,
    enu_axes,
    enu_axes_rad,
    enu_offsets,
    enu_offsets_outer,
    enu_to_geodetic,
    enu_velocity_outer,
    geodetic_altitude_m,
    geodetic_to_ecef,
    geodetic_to_ecef_rad,
    ground_distance_m,
    radii_of_curvature,
)
from argus.geo.geodesics import geodesic_inverse, great_circle_bearing_distance
from argus.geo.wgs84 import (
    EFFECTIVE_EARTH_RADIUS_M,
    G0,
    K_FOUR_THIRDS,
    MEAN_EARTH_RADIUS_M,
    OMEGA_ECEF,
    WGS84_A,
    WGS84_B,
    WGS84_E2,
    WGS84_EP2,
    WGS84_F,
    WGS84_GM,
    WGS84_J2,
    WGS84_OMEGA,
)

__all__ = [
    "EFFECTIVE_EARTH_RADIUS_M",
    "G0",
    "K_FOUR_THIRDS",
    "MEAN_EARTH_RADIUS_M",
    "OMEGA_ECEF",
    "WGS84_A",
    "WGS84_B",
    "WGS84_E2",
    "WGS84_EP2",
    "WGS84_F",
    "WGS84_GM",
    "WGS84_J2",
    "WGS84_OMEGA",
    "dead_reckon",
    "ecef_to_geodetic",
    "ecef_to_geodetic_rad",
    "enu_axes",
    "enu_axes_rad",
    "enu_offsets",
    "enu_offsets_outer",
    "enu_to_geodetic",
    "enu_velocity_outer",
    "geodesic_inverse",
    "geodetic_altitude_m",
    "geodetic_to_ecef",
    "geodetic_to_ecef_rad",
    "great_circle_bearing_distance",
    "ground_distance_m",
    "heading_difference_deg",
    "interpolate_heading_deg",
    "radii_of_curvature",
    "speed_heading_from_velocity",
    "velocity_from_speed_heading",
    "wrap_deg_180",
    "wrap_deg_360",
]
