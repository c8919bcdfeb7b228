"""Noise jamming: jammer-to-noise and jammer-to-signal ratios, burn-through range.

Received noise-jamming power at a radar (Skolnik, *Radar Handbook*, 3rd ed., ch. 24;
Schleher, *Electronic Warfare in the Information Age*, 1999, ch. 4)::

    J = P_j G_j(θ_j) G_r(θ_r) λ² / ((4π)² R_j² L_j) · min(1, B_r / B_j)

with G_j(θ_j) the jammer antenna gain toward the radar (a Gaussian beam aimed at one radar, or
omnidirectional), G_r(θ_r) the radar's receive gain toward the jammer given where its beam
points (main lobe when it looks at the jammer, the sidelobe floor otherwise; see
:mod:`argus.sensors.antenna`) and B_j ≥ B_r barrage noise spread over the jammer bandwidth.
Noise jamming adds to the thermal noise ``N = k T0 F B_r``: the radar sees the
signal-to-interference-plus-noise ratio ``SINR = S / (N + J)``. With a CFAR detector the
threshold follows the raised noise floor, so the false-alarm rate is unchanged and the
probability of detection falls — :func:`argus.sensors.radar.observe` applies exactly that.

Burn-through: the range at which the radar regains a required SINR against a self-screening
jammer (J ∝ 1/R², S ∝ 1/R⁴), solved exactly including thermal noise (:func:`burn_through_range_m`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from argus.sensors.antenna import off_boresight_pattern
from argus.sensors.site import RadarSite

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NoiseJammer:
    """A barrage noise jammer, fixed (``lat_deg``/``lon_deg``/``alt_m``) or carried by a truth object.

    ``carrier_truth_id`` set: the jammer flies with that object (self-screening when the object
    is the target, escort otherwise). ``beamwidth_deg`` None: omnidirectional antenna of gain
    ``gain_db``; otherwise a Gaussian beam of that half-power width aimed at radar
    ``aim_radar_id`` (radars outside the beam get the ``sidelobe_level_db`` floor).
    """

    jammer_id: int
    power_w: float
    gain_db: float
    bandwidth_hz: float
    losses_db: float = 3.0
    lat_deg: float | None = None
    lon_deg: float | None = None
    alt_m: float = 0.0
    carrier_truth_id: int | None = None
    beamwidth_deg: float | None = None
    aim_radar_id: int | None = None
    sidelobe_level_db: float = -20.0
    name: str = ""

    def __post_init__(self) -> None:
        where = f"jammer {self.jammer_id}"
        if not self.power_w > 0:
            raise ValueError(f"{where}.power_w: must be > 0, got {self.power_w!r}")
        if not self.bandwidth_hz > 0:
            raise ValueError(f"{where}.bandwidth_hz: must be > 0, got {self.bandwidth_hz!r}")
        fixed = self.lat_deg is not None and self.lon_deg is not None
        if fixed == (self.carrier_truth_id is not None):
            raise ValueError(
                f"{where}: give either lat_deg/lon_deg (fixed) or carrier_truth_id (carried), not both"
            )
        if self.beamwidth_deg is not None and not self.beamwidth_deg > 0:
            raise ValueError(f"{where}.beamwidth_deg: must be > 0")
        if self.beamwidth_deg is not None and self.aim_radar_id is None:
            raise ValueError(
                f"{where}.aim_radar_id: required with a directional beam (beamwidth_deg)"
            )

    @property
    def erp_w(self) -> float:
        """Effective radiated power P_j·G_j/L_j (W)."""
        return self.power_w * 10.0 ** ((self.gain_db - self.losses_db) / 10.0)

    def gain_toward(self, radar_id: int, offset_rad: npt.ArrayLike) -> FloatArray:
        """Jammer antenna gain (linear) toward radar ``radar_id`` at an angle off its aim line."""
        peak = 10.0 ** (self.gain_db / 10.0)
        off = np.asarray(offset_rad, dtype=float)
        if self.beamwidth_deg is None:
            return np.full(off.shape, peak)
        if radar_id != self.aim_radar_id:
            return np.full(off.shape, peak * 10.0 ** (self.sidelobe_level_db / 10.0))
        return peak * off_boresight_pattern(
            off, math.radians(self.beamwidth_deg), self.sidelobe_level_db
        )


def jamming_power_w(
    radar: RadarSite,
    jammer: NoiseJammer,
    jammer_range_m: npt.ArrayLike,
    radar_gain_rel: npt.ArrayLike,
    jammer_gain_lin: npt.ArrayLike | None = None,
) -> FloatArray:
    """Jamming power (W) in the radar receiver.

    ``radar_gain_rel`` is the radar's relative receive pattern toward the jammer (1 in the main
    lobe); ``jammer_gain_lin`` the jammer's linear antenna gain toward the radar (default: its
    peak gain).
    """
    rj = np.asarray(jammer_range_m, dtype=float)
    gj = (
        10.0 ** (jammer.gain_db / 10.0)
        if jammer_gain_lin is None
        else np.asarray(jammer_gain_lin, dtype=float)
    )
    gr = radar.gain_lin * np.asarray(radar_gain_rel, dtype=float)
    lam = radar.wavelength_m
    band = min(1.0, radar.bandwidth_hz / jammer.bandwidth_hz)
    lj = 10.0 ** (jammer.losses_db / 10.0)
    return jammer.power_w * gj * gr * lam * lam * band / ((4.0 * math.pi) ** 2 * rj * rj * lj)


def jammer_to_noise(
    radar: RadarSite,
    jammer: NoiseJammer,
    jammer_range_m: npt.ArrayLike,
    radar_gain_rel: npt.ArrayLike = 1.0,
) -> FloatArray:
    """J/N (linear) for a jammer at a range, seen through the radar's relative gain."""
    return jamming_power_w(radar, jammer, jammer_range_m, radar_gain_rel) / radar.noise_power_w


def jammer_to_signal(
    radar: RadarSite,
    jammer: NoiseJammer,
    target_range_m: npt.ArrayLike,
    rcs_m2: npt.ArrayLike,
    jammer_range_m: npt.ArrayLike | None = None,
    radar_gain_rel: npt.ArrayLike = 1.0,
) -> FloatArray:
    """J/S (linear) after signal processing, i.e. (J/N)/(S/N); self-screening when
    ``jammer_range_m`` is None (the jammer rides on the target)."""
    r = np.asarray(target_range_m, dtype=float)
    rj = r if jammer_range_m is None else np.asarray(jammer_range_m, dtype=float)
    return jammer_to_noise(radar, jammer, rj, radar_gain_rel) / radar.snr(r, rcs_m2)


def sinr(
    radar: RadarSite,
    target_range_m: npt.ArrayLike,
    rcs_m2: npt.ArrayLike,
    jammers_j_over_n: npt.ArrayLike = 0.0,
) -> FloatArray:
    """Signal-to-interference-plus-noise ratio (linear): SNR / (1 + ΣJ/N).

    Noise jamming is white noise to the receiver, so the processing gain that lifts the signal
    above thermal noise lifts it above the jamming by the same factor.
    """
    return radar.snr(target_range_m, rcs_m2) / (1.0 + np.asarray(jammers_j_over_n, dtype=float))


def burn_through_range_m(
    radar: RadarSite,
    jammer: NoiseJammer,
    rcs_m2: float,
    required_sinr_db: float,
    *,
    standoff_range_m: float | None = None,
    radar_gain_rel: float = 1.0,
) -> float:
    """Range at which the SINR on a target of ``rcs_m2`` reaches ``required_sinr_db``.

    With ``SNR = A/R⁴`` and the required SINR q:

    - self-screening (``standoff_range_m`` None): the jammer rides on the target and the radar
      looks at it, ``J/N = B/R²``; ``A/R⁴ = q(1 + B/R²)`` is a quadratic in x = 1/R²,
      x = (qB + sqrt(q²B² + 4qA)) / (2A);
    - stand-off: J/N is fixed by the jammer's range and ``radar_gain_rel`` (sidelobe jamming
      when the radar looks away from it), so ``R = (A / (q(1 + J/N)))^(1/4)``.
    """
    q = 10.0 ** (required_sinr_db / 10.0)
    a = float(radar.snr(1.0, rcs_m2))
    if standoff_range_m is None:
        b = float(jammer_to_noise(radar, jammer, 1.0, radar_gain_rel))
        x = (q * b + math.sqrt((q * b) ** 2 + 4.0 * q * a)) / (2.0 * a)
        return 1.0 / math.sqrt(x)
    jnr = float(jammer_to_noise(radar, jammer, standoff_range_m, radar_gain_rel))
    return float((a / (q * (1.0 + jnr))) ** 0.25)
