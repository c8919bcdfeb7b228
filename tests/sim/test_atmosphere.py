"""US Standard Atmosphere 1976 against its published tables."""

from __future__ import annotations

import numpy as np
import pytest

from argus.sim.atmosphere import atmosphere, geopotential_altitude_m

# U.S. Standard Atmosphere 1976 (NOAA-S/T 76-1562), geometric altitude tables:
# altitude m, temperature K, pressure Pa, density kg/m³, speed of sound m/s.
USSA76 = [
    (0.0, 288.150, 101325.0, 1.2250, 340.294),
    (1000.0, 281.651, 89874.6, 1.1117, 336.435),
    (5000.0, 255.676, 54048.3, 0.73643, 320.545),
    (10000.0, 223.252, 26499.9, 0.41351, 299.532),
    (11000.0, 216.774, 22699.9, 0.36480, 295.154),
    (20000.0, 216.650, 5529.30, 0.088910, 295.069),
    (30000.0, 226.509, 1197.03, 0.018410, 301.709),
    (40000.0, 250.350, 287.143, 3.9957e-3, 317.189),
    (50000.0, 270.650, 79.7787, 1.0269e-3, 329.799),
    (60000.0, 247.021, 21.9587, 3.0968e-4, 315.070),
    (70000.0, 219.585, 5.22088, 8.2829e-5, 297.062),
    (80000.0, 198.639, 1.05247, 1.8458e-5, 282.538),
    (86000.0, 186.867, 0.37338, 6.958e-6, 274.096),
]


def test_matches_ussa76_tables() -> None:
    z, t, p, rho, a = (np.array(c) for c in zip(*USSA76, strict=True))
    s = atmosphere(z)
    np.testing.assert_allclose(s.temperature_k, t, rtol=2e-5)
    np.testing.assert_allclose(s.pressure_pa, p, rtol=2e-4)
    np.testing.assert_allclose(s.density_kgm3, rho, rtol=3e-4)
    np.testing.assert_allclose(s.speed_of_sound_mps, a, rtol=2e-5)


@pytest.mark.parametrize(
    ("z_m", "rho"),
    [
        (90e3, 3.416e-6),
        (100e3, 5.604e-7),
        (150e3, 2.076e-9),
        (200e3, 2.541e-10),
        (500e3, 5.215e-13),
    ],
)
def test_upper_density_is_the_tabulated_exponential(z_m: float, rho: float) -> None:
    assert float(atmosphere(z_m).density_kgm3) == pytest.approx(rho, rel=1e-9)


def test_log_linear_between_upper_table_points() -> None:
    lo, hi = atmosphere([100e3, 110e3]).density_kgm3
    mid = float(atmosphere(105e3).density_kgm3)
    assert mid == pytest.approx(np.sqrt(lo * hi), rel=1e-9)


def test_continuous_at_86_km_and_monotone_density() -> None:
    z = np.linspace(0.0, 300e3, 30001)
    rho = atmosphere(z).density_kgm3
    assert np.all(np.diff(rho) < 0)
    below, above = atmosphere([86e3 - 1e-3, 86e3 + 1e-3]).density_kgm3
    assert above == pytest.approx(below, rel=1e-4)


def test_vectorized_shapes_and_geopotential() -> None:
    z = np.array([[0.0, 1.0e4], [2.0e4, 3.0e4]])
    assert atmosphere(z).density_kgm3.shape == (2, 2)
    # H = r0 Z / (r0 + Z): 11 km geometric is 10,981.0 m geopotential.
    assert float(geopotential_altitude_m(11000.0)) == pytest.approx(10980.998, abs=0.001)
