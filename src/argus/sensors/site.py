"""A radar site: where it is, what it covers, how it scans, how noisy and how sensitive it is.

Its own module so that the radar model (:mod:`argus.sensors.radar`) and the jammer model
(:mod:`argus.sensors.jammer`) both depend on it without depending on each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from argus.geo import K_FOUR_THIRDS, enu_axes_rad, geodetic_to_ecef_rad
from argus.sensors.detection import detection_threshold, snr_for_pd_swerling1

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Boltzmann constant (J/K).
BOLTZMANN = 1.380649e-23
#: Speed of light (m/s).
SPEED_OF_LIGHT = 299_792_458.0
#: Standard noise reference temperature T0 (K).
T0_K = 290.0

ScanMode = Literal["rotating", "instant"]


@dataclass(frozen=True)
class RadarSite:
    """A radar: where it is, what it covers, how it scans, how noisy it is, how sensitive.

    Angles in degrees and powers in dB at this edge; everything derived is SI.
    """

    radar_id: int
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    antenna_height_m: float = 10.0
    name: str = ""
    # Coverage.
    max_range_m: float = 400_000.0
    min_range_m: float = 1_000.0
    min_elevation_deg: float = 0.0
    max_elevation_deg: float = 60.0
    azimuth_center_deg: float = 0.0
    azimuth_width_deg: float = 360.0
    # Scan.
    scan_period_s: float = 5.0
    scan_mode: ScanMode = "rotating"
    first_scan_s: float = 0.0
    # Measurement noise (1 σ).
    sigma_range_m: float = 50.0
    sigma_azimuth_deg: float = 0.2
    sigma_elevation_deg: float = 0.3
    sigma_range_rate_mps: float | None = None
    # Radar equation.
    peak_power_w: float = 1.0e6
    gain_db: float = 40.0
    frequency_hz: float = 3.0e9
    noise_figure_db: float = 4.0
    bandwidth_hz: float = 1.0e6
    losses_db: float = 6.0
    processing_gain_db: float = 15.0
    pfa: float = 1.0e-6
    beamwidth_az_deg: float = 1.5
    beamwidth_el_deg: float = 2.0
    sidelobe_level_db: float = -30.0
    refraction_k: float = K_FOUR_THIRDS
    max_range_rate_mps: float = 3000.0

    def __post_init__(self) -> None:
        where = f"radar {self.radar_id}" + (f" ({self.name})" if self.name else "")
        positive = (
            "max_range_m",
            "scan_period_s",
            "sigma_range_m",
            "sigma_azimuth_deg",
            "sigma_elevation_deg",
            "peak_power_w",
            "frequency_hz",
            "bandwidth_hz",
            "beamwidth_az_deg",
            "beamwidth_el_deg",
            "refraction_k",
            "azimuth_width_deg",
            "max_range_rate_mps",
        )
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{where}.{name}: must be a finite number > 0, got {value!r}")
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(f"{where}.lat_deg: {self.lat_deg} outside [-90, 90]")
        if not 0.0 <= self.min_range_m < self.max_range_m:
            raise ValueError(
                f"{where}.min_range_m: must lie in [0, max_range_m), got {self.min_range_m}"
            )
        if not -90.0 <= self.min_elevation_deg < self.max_elevation_deg <= 90.0:
            raise ValueError(
                f"{where}.min_elevation_deg/max_elevation_deg: need -90 <= min < max <= 90, got "
                f"{self.min_elevation_deg}, {self.max_elevation_deg}"
            )
        if self.azimuth_width_deg > 360.0:
            raise ValueError(
                f"{where}.azimuth_width_deg: must be <= 360, got {self.azimuth_width_deg}"
            )
        if not 0.0 < self.pfa < 0.1:
            raise ValueError(f"{where}.pfa: must lie in (0, 0.1), got {self.pfa}")
        if self.scan_mode not in ("rotating", "instant"):
            raise ValueError(
                f"{where}.scan_mode: expected 'rotating' or 'instant', got {self.scan_mode!r}"
            )
        if self.sigma_range_rate_mps is not None and not self.sigma_range_rate_mps > 0:
            raise ValueError(f"{where}.sigma_range_rate_mps: must be > 0 or omitted")
        if self.antenna_height_m < 0:
            raise ValueError(f"{where}.antenna_height_m: must be >= 0")

    # -- derived quantities
    @property
    def antenna_alt_m(self) -> float:
        """Height of the antenna phase centre above the ellipsoid (m)."""
        return self.alt_m + self.antenna_height_m

    @cached_property
    def antenna_ecef_m(self) -> FloatArray:
        """ECEF position (3,) of the antenna."""
        return geodetic_to_ecef_rad(
            math.radians(self.lat_deg), math.radians(self.lon_deg), self.antenna_alt_m
        )

    @cached_property
    def enu_matrix(self) -> FloatArray:
        """(3, 3) rows E, N, U: ENU = M @ (p - antenna)."""
        e, n, u = enu_axes_rad(math.radians(self.lat_deg), math.radians(self.lon_deg))
        return np.stack([e, n, u])

    @property
    def wavelength_m(self) -> float:
        """λ = c/f (m)."""
        return SPEED_OF_LIGHT / self.frequency_hz

    @property
    def gain_lin(self) -> float:
        """Peak antenna gain (linear)."""
        return float(10.0 ** (self.gain_db / 10.0))

    @property
    def processing_gain_lin(self) -> float:
        """Coherent integration / pulse-compression gain (linear)."""
        return float(10.0 ** (self.processing_gain_db / 10.0))

    @property
    def noise_power_w(self) -> float:
        """Receiver thermal noise k·T0·F·B (W)."""
        return BOLTZMANN * T0_K * 10.0 ** (self.noise_figure_db / 10.0) * self.bandwidth_hz

    @property
    def range_resolution_m(self) -> float:
        """Range cell c/(2B) (m)."""
        return SPEED_OF_LIGHT / (2.0 * self.bandwidth_hz)

    @property
    def detection_threshold(self) -> float:
        """VT = -ln(Pfa)."""
        return detection_threshold(self.pfa)

    @property
    def resolution_cells(self) -> float:
        """Range × azimuth × elevation resolution cells in the surveillance volume."""
        n_r = (self.max_range_m - self.min_range_m) / self.range_resolution_m
        n_az = self.azimuth_width_deg / self.beamwidth_az_deg
        n_el = max(1.0, (self.max_elevation_deg - self.min_elevation_deg) / self.beamwidth_el_deg)
        return n_r * n_az * n_el

    @property
    def false_alarms_per_scan(self) -> float:
        """Expected number of false alarms per scan, Pfa·N_cells."""
        return self.pfa * self.resolution_cells

    def snr(self, range_m: npt.ArrayLike, rcs_m2: npt.ArrayLike) -> FloatArray:
        """Mean single-look SNR (linear) of a target of RCS σ at range R (radar equation)."""
        r = np.asarray(range_m, dtype=float)
        num = (
            self.peak_power_w
            * self.gain_lin**2
            * self.wavelength_m**2
            * np.asarray(rcs_m2, dtype=float)
        )
        den = (4.0 * math.pi) ** 3 * r**4 * self.noise_power_w * 10.0 ** (self.losses_db / 10.0)
        return np.asarray(num * self.processing_gain_lin / den, dtype=float)

    def range_for_snr(self, snr_db: float, rcs_m2: float) -> float:
        """Range (m) at which the mean SNR on ``rcs_m2`` equals ``snr_db``."""
        return float((self.snr(1.0, rcs_m2) / 10.0 ** (snr_db / 10.0)) ** 0.25)

    def detection_range_m(self, rcs_m2: float, pd: float = 0.9, swerling: int = 1) -> float:
        """Range (m) of single-look detection probability ``pd`` (Swerling I closed form)."""
        if swerling not in (1, 2):
            raise ValueError("detection_range_m: closed form only for Swerling I/II")
        snr = float(snr_for_pd_swerling1(pd, self.pfa))
        return self.range_for_snr(10.0 * math.log10(snr), rcs_m2)

    def to_aer(self, pos_ecef_m: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Geometric range (m), azimuth (rad, [0, 2π), clockwise from north), elevation (rad)."""
        enu = (pos_ecef_m - self.antenna_ecef_m) @ self.enu_matrix.T
        horiz = np.hypot(enu[..., 0], enu[..., 1])
        rng = np.sqrt(horiz * horiz + enu[..., 2] ** 2)
        az = np.mod(np.arctan2(enu[..., 0], enu[..., 1]), 2.0 * math.pi)
        el = np.arctan2(enu[..., 2], horiz)
        return rng, az, el

    def scan_fraction(self, azimuth_rad: npt.ArrayLike) -> tuple[FloatArray, BoolArray]:
        """Fraction of the scan period at which the beam reaches an azimuth, and in-sector mask."""
        left = math.radians(self.azimuth_center_deg - 0.5 * self.azimuth_width_deg)
        width = math.radians(self.azimuth_width_deg)
        off = np.mod(np.asarray(azimuth_rad, dtype=float) - left, 2.0 * math.pi)
        inside = off <= width + 1e-12
        return np.clip(off / width, 0.0, 1.0), inside

    def scan_starts(self, t_start_s: float, t_end_s: float) -> FloatArray:
        """Start times of the scans that begin in [t_start_s, t_end_s)."""
        k0 = math.ceil((t_start_s - self.first_scan_s) / self.scan_period_s - 1e-9)
        k1 = math.ceil((t_end_s - self.first_scan_s) / self.scan_period_s - 1e-9)
        return self.first_scan_s + self.scan_period_s * np.arange(k0, max(k0, k1), dtype=float)
