"""Gravitation: J2 field, potential, flat gravity."""

from __future__ import annotations

import numpy as np
import pytest

from argus.geo import WGS84_A, WGS84_B, WGS84_OMEGA
from argus.sim.gravity import Gravity, gravitation_ecef, gravitational_potential
from tests._geo import ecef


def test_normal_gravity_at_equator_and_pole() -> None:
    # WGS-84 normal gravity (Somigliana): 9.7803253 m/s² at the equator, 9.8321849 at the pole.
    # Point mass + J2 + centrifugal reproduces both to ~1e-5 (J4 and beyond are left out).
    eq = np.array([[WGS84_A, 0.0, 0.0]])
    pole = np.array([[0.0, 0.0, WGS84_B]])
    g_eq = -gravitation_ecef(eq)[0, 0] - WGS84_OMEGA**2 * WGS84_A
    g_pole = -gravitation_ecef(pole)[0, 2]
    assert g_eq == pytest.approx(9.7803253, rel=2e-5)
    assert g_pole == pytest.approx(9.8321849, rel=2e-5)
    # Without J2 the equatorial value is off by ~1.6e-3 relative: the J2 term matters.
    assert -gravitation_ecef(eq, j2=False)[0, 0] - WGS84_OMEGA**2 * WGS84_A == pytest.approx(
        9.7643, rel=1e-4
    )


def test_acceleration_is_minus_gradient_of_potential() -> None:
    rng = np.random.default_rng(4)
    p = ecef(rng.uniform(-80, 80, 20), rng.uniform(-180, 180, 20), rng.uniform(0, 1e6, 20))
    for kind in ("j2", "point_mass"):
        g = Gravity(kind)
        h = 0.5
        num = np.stack(
            [-(g.potential(p + h * e) - g.potential(p - h * e)) / (2 * h) for e in np.eye(3)],
            axis=-1,
        )
        np.testing.assert_allclose(g.acceleration(p), num, atol=1e-7)


def test_flat_gravity_points_down_at_its_origin() -> None:
    g = Gravity.flat(45.0, 10.0, 9.8)
    p = ecef(45.0, 10.0, 0.0)[None]
    up = p[0] / np.linalg.norm(p[0])
    acc = g.acceleration(np.vstack([p, 2 * p]))
    np.testing.assert_allclose(np.linalg.norm(acc, axis=1), 9.8)
    np.testing.assert_allclose(acc[0], acc[1])
    assert acc[0] @ up < -9.79  # geodetic down is within 0.2° of the radial direction


def test_potential_sign_and_bad_kind() -> None:
    assert gravitational_potential(np.array([[WGS84_A, 0, 0]]))[0] < 0
    with pytest.raises(ValueError, match="gravity kind"):
        Gravity("moon")  # type: ignore[arg-type]
