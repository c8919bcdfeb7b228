"""Surveillance radar: radar equation, Swerling detection, false alarms, noisy measurements.

A :class:`RadarSite` scans its coverage every ``scan_period_s``: a rotating (or sector-scanning)
beam sweeps the azimuth sector clockwise from its left edge, so a target at azimuth az is
looked at ``frac(az)·T`` after the scan starts; a staring (``"instant"``) radar looks
everywhere at the scan start. At each look :func:`observe`:

1. evaluates the truth (quintic Hermite, :class:`~argus.trajectory.TrajectorySet`) at the
   look time, converts it to range / azimuth / elevation in the antenna's ENU frame (azimuth
   0 = north, clockwise);
2. keeps targets within the instrumented range, the azimuth sector and the elevation limits,
   and above the radar horizon of the 4/3-Earth model (:mod:`argus.sensors.propagation`);
3. computes the mean SNR from the radar equation (Skolnik, *Radar Handbook*, 3rd ed., ch. 2)::

       SNR = P_t G² λ² σ G_p / ((4π)³ R⁴ k T0 F B L)

   and divides it by ``1 + ΣJ/N`` for noise jammers (:mod:`argus.sensors.jammer`);
4. draws the target's echo for its Swerling case (scan-to-scan fluctuation; cases 2 and 4 are
   treated as 1 and 3 for this single-look detector) and adds complex Gaussian receiver noise;
   the target is detected when the square-law statistic |x|²/N exceeds ``VT = -ln(Pfa)``.
   This reproduces exactly the closed forms (Swerling 1960; Skolnik ch. 2; DiFranco & Rubin,
   *Radar Detection*, 1968)::

       Swerling 0:  Pd = Q1(sqrt(2 SNR), sqrt(2 VT))              (Marcum Q)
       Swerling I:  Pd = Pfa^(1/(1 + SNR))
       Swerling III: Pd = (1 + 2 SNR VT/(2 + SNR)²) exp(-2 VT/(2 + SNR))

5. adds Gaussian measurement noise (σ_R, σ_az, σ_el, optional σ_Ṙ) and reports the covariance.

False alarms: each scan has ``Poisson(Pfa · N_cells)`` of them, with N_cells the number of
range × azimuth × elevation resolution cells (range cell c/2B, beamwidths), placed uniformly in
range, azimuth and elevation over the surveillance volume; their statistic is VT + Exp(1) (the
noise exceeding the threshold). A CFAR threshold keeps Pfa constant under jamming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from argus.geo import enu_axes_rad, geodetic_to_ecef_rad
from argus.sensors.antenna import gaussian_pattern
from argus.sensors.detection import detection_statistic, lin_to_db
from argus.sensors.jammer import NoiseJammer, jamming_power_w
from argus.sensors.propagation import line_of_sight
from argus.sensors.site import RadarSite
from argus.trajectory import TrajectorySet

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# ----------------------------------------------------------------------------- detections


@dataclass(frozen=True)
class Detections:
    """Detections as a struct of arrays (length n), in time order when built by :func:`observe`.

    ``covariance`` is the (n, 3, 3) measurement covariance of (range m, azimuth rad,
    elevation rad); ``range_rate_mps`` and ``range_rate_var`` are NaN when the radar does not
    measure range rate. ``truth_id`` is the id of the object that made the detection, −1 for a
    false alarm. ``snr_db`` is the measured statistic |x|²/N in dB. ``radar_ecef_m`` and
    ``radar_lat_deg``/``radar_lon_deg``/``radar_alt_m`` give the antenna of each detection.
    """

    time_s: FloatArray
    radar_id: IntArray
    scan_index: IntArray
    truth_id: IntArray
    range_m: FloatArray
    azimuth_rad: FloatArray
    elevation_rad: FloatArray
    range_rate_mps: FloatArray
    covariance: FloatArray
    range_rate_var: FloatArray
    snr_db: FloatArray
    radar_ecef_m: FloatArray
    radar_lat_deg: FloatArray
    radar_lon_deg: FloatArray
    radar_alt_m: FloatArray

    def __len__(self) -> int:
        return int(self.time_s.size)

    @property
    def is_false_alarm(self) -> BoolArray:
        """True where the detection is a false alarm."""
        return self.truth_id < 0

    def select(self, index: npt.ArrayLike) -> Detections:
        """The detections at ``index`` (indices or boolean mask)."""
        idx = np.asarray(index)
        return Detections(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def sorted_by_time(self) -> Detections:
        """Stable sort by time (then radar id)."""
        return self.select(np.lexsort((self.radar_id, self.time_s)))

    def position_ecef_m(self) -> FloatArray:
        """Measured positions (n, 3) in ECEF (measurement → Cartesian, no bias correction)."""
        ce = np.cos(self.elevation_rad)
        enu = np.stack(
            [
                self.range_m * ce * np.sin(self.azimuth_rad),
                self.range_m * ce * np.cos(self.azimuth_rad),
                self.range_m * np.sin(self.elevation_rad),
            ],
            axis=-1,
        )
        lat = np.radians(self.radar_lat_deg)
        lon = np.radians(self.radar_lon_deg)
        e, n, u = enu_axes_rad(lat, lon)
        return self.radar_ecef_m + enu[:, :1] * e + enu[:, 1:2] * n + enu[:, 2:3] * u

    @staticmethod
    def empty() -> Detections:
        """No detection."""
        z = np.zeros(0)
        zi = np.zeros(0, dtype=np.int64)
        return Detections(
            z, zi, zi, zi, z, z, z, z, np.zeros((0, 3, 3)), z, z, np.zeros((0, 3)), z, z, z
        )

    @staticmethod
    def concatenate(parts: Sequence[Detections]) -> Detections:
        """Join several sets (no re-sorting)."""
        if not parts:
            return Detections.empty()
        return Detections(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(Detections)
            }
        )


@dataclass(frozen=True)
class JammerStrobes:
    """Jamming strobes seen by radars (struct of arrays): the beam crossing a noise jammer.

    One per scan and jammer whose main-lobe J/N reaches 0 dB: the time the beam crosses the
    jammer, its measured azimuth/elevation (radar angle noise) and the J/N in dB — what an
    EW stage uses to cue on the jammer.
    """

    time_s: FloatArray
    radar_id: IntArray
    scan_index: IntArray
    jammer_id: IntArray
    azimuth_rad: FloatArray
    elevation_rad: FloatArray
    jnr_db: FloatArray

    def __len__(self) -> int:
        return int(self.time_s.size)

    @staticmethod
    def empty() -> JammerStrobes:
        z = np.zeros(0)
        zi = np.zeros(0, dtype=np.int64)
        return JammerStrobes(z, zi, zi, zi, z, z, z)

    @staticmethod
    def concatenate(parts: Sequence[JammerStrobes]) -> JammerStrobes:
        if not parts:
            return JammerStrobes.empty()
        return JammerStrobes(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(JammerStrobes)
            }
        )


@dataclass(frozen=True)
class Targets:
    """What radars can see: truth trajectories with ids, mean RCS and Swerling case (arrays (N,)).

    The RCS may change once per object (e.g. a separating re-entry vehicle): ``rcs_m2`` before
    ``rcs_switch_time_s`` and ``rcs_after_m2`` from then on (defaults: no change).
    """

    trajectories: TrajectorySet
    truth_id: IntArray
    rcs_m2: FloatArray
    swerling: IntArray
    rcs_switch_time_s: FloatArray | None = None
    rcs_after_m2: FloatArray | None = None

    def __post_init__(self) -> None:
        n = self.trajectories.size
        for name in ("truth_id", "rcs_m2", "swerling"):
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(
                    f"targets.{name}: expected shape ({n},), got {np.shape(getattr(self, name))}"
                )
        if np.any(np.asarray(self.rcs_m2) <= 0):
            raise ValueError("targets.rcs_m2: must be > 0")
        if not np.all(np.isin(self.swerling, (0, 1, 2, 3, 4))):
            raise ValueError("targets.swerling: cases 0-4 only")

    @property
    def size(self) -> int:
        return self.trajectories.size

    def rcs_at(self, index: IntArray, t_s: FloatArray) -> FloatArray:
        """Mean RCS (m²) of objects ``index`` at times ``t_s``."""
        base = np.asarray(self.rcs_m2, dtype=float)[index]
        if self.rcs_switch_time_s is None or self.rcs_after_m2 is None:
            return base
        late = t_s >= np.asarray(self.rcs_switch_time_s, dtype=float)[index]
        return np.where(late, np.asarray(self.rcs_after_m2, dtype=float)[index], base)


@dataclass(frozen=True)
class ScanOutput:
    """What :func:`observe` returns: detections (time order) and jamming strobes."""

    detections: Detections
    strobes: JammerStrobes


# ----------------------------------------------------------------------------- observation


def _jammer_positions(
    jammers: Sequence[NoiseJammer], targets: Targets, t_s: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Positions (J, Q, 3) of the jammers at times (Q,), and alive mask (J, Q)."""
    q = t_s.size
    pos = np.full((len(jammers), q, 3), np.nan)
    alive = np.zeros((len(jammers), q), dtype=bool)
    for j, jam in enumerate(jammers):  # a handful of jammers; each line is vectorized over Q
        if jam.lat_deg is not None and jam.lon_deg is not None:
            pos[j] = geodetic_to_ecef_rad(
                np.radians(jam.lat_deg), np.radians(jam.lon_deg), jam.alt_m
            )
            alive[j] = True
        else:
            hit = np.flatnonzero(targets.truth_id == jam.carrier_truth_id)
            if hit.size == 0:
                raise ValueError(
                    f"jammer {jam.jammer_id}: carrier_truth_id {jam.carrier_truth_id} is not a target"
                )
            p, _, _, ok = targets.trajectories.state_at(np.full(q, hit[0]), t_s)
            pos[j], alive[j] = p, ok
    return pos, alive


def _jnr(
    radar: RadarSite,
    jammers: Sequence[NoiseJammer],
    targets: Targets,
    t_s: FloatArray,
    beam_az: FloatArray,
    beam_el: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Total J/N (Q,) for beams pointing at (az, el) at times t; also per-jammer (J, Q) J/N,
    jammer azimuth and elevation (J, Q)."""
    q = t_s.size
    nj = len(jammers)
    if nj == 0:
        z = np.zeros((0, q))
        return np.zeros(q), z, z, z
    pos, alive = _jammer_positions(jammers, targets, t_s)
    rj, azj, elj = radar.to_aer(pos)
    los = line_of_sight(
        radar.antenna_ecef_m,
        math.radians(radar.lat_deg),
        radar.antenna_alt_m,
        pos.reshape(-1, 3),
        k=radar.refraction_k,
    ).visible.reshape(nj, q)
    g_rel = gaussian_pattern(
        azj - beam_az[None, :],
        elj - beam_el[None, :],
        elj,
        math.radians(radar.beamwidth_az_deg),
        math.radians(radar.beamwidth_el_deg),
        radar.sidelobe_level_db,
    )
    per = np.zeros((nj, q))
    for j, jam in enumerate(jammers):  # per jammer, vectorized over looks
        gj = jam.gain_toward(radar.radar_id, np.zeros(q))
        jp = jamming_power_w(radar, jam, np.maximum(rj[j], 1.0), g_rel[j], gj)
        per[j] = np.where(alive[j] & los[j], jp / radar.noise_power_w, 0.0)
    return per.sum(axis=0), per, azj, elj


def _measure(
    radar: RadarSite,
    n: int,
    rng_true: FloatArray,
    az_true: FloatArray,
    el_true: FloatArray,
    rr_true: FloatArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    s_r = radar.sigma_range_m
    s_az = math.radians(radar.sigma_azimuth_deg)
    s_el = math.radians(radar.sigma_elevation_deg)
    r = np.maximum(rng_true + s_r * rng.standard_normal(n), 0.0)
    az = np.mod(az_true + s_az * rng.standard_normal(n), 2.0 * math.pi)
    el = el_true + s_el * rng.standard_normal(n)
    if radar.sigma_range_rate_mps is None:
        rr = np.full(n, np.nan)
    else:
        rr = rr_true + radar.sigma_range_rate_mps * rng.standard_normal(n)
    return r, az, el, rr


def _pack(
    radar: RadarSite,
    t: FloatArray,
    scan: IntArray,
    truth: IntArray,
    r: FloatArray,
    az: FloatArray,
    el: FloatArray,
    rr: FloatArray,
    stat: FloatArray,
) -> Detections:
    n = t.size
    cov = np.zeros((n, 3, 3))
    cov[:, 0, 0] = radar.sigma_range_m**2
    cov[:, 1, 1] = math.radians(radar.sigma_azimuth_deg) ** 2
    cov[:, 2, 2] = math.radians(radar.sigma_elevation_deg) ** 2
    rr_var = np.full(
        n, np.nan if radar.sigma_range_rate_mps is None else radar.sigma_range_rate_mps**2
    )
    return Detections(
        time_s=t,
        radar_id=np.full(n, radar.radar_id, dtype=np.int64),
        scan_index=scan.astype(np.int64),
        truth_id=truth.astype(np.int64),
        range_m=r,
        azimuth_rad=az,
        elevation_rad=el,
        range_rate_mps=rr,
        covariance=cov,
        range_rate_var=rr_var,
        snr_db=lin_to_db(stat),
        radar_ecef_m=np.broadcast_to(radar.antenna_ecef_m, (n, 3)).copy(),
        radar_lat_deg=np.full(n, radar.lat_deg),
        radar_lon_deg=np.full(n, radar.lon_deg),
        radar_alt_m=np.full(n, radar.antenna_alt_m),
    )


def false_alarms(
    radar: RadarSite,
    scan_starts_s: npt.ArrayLike,
    scan_index: npt.ArrayLike,
    rng: np.random.Generator,
) -> Detections:
    """Poisson false alarms for the given scans, uniform over range, azimuth sector and elevation.

    ``scan_starts_s`` (K,) are the scans' start times and ``scan_index`` (K,) their numbers.
    """
    scan_starts_s = np.asarray(scan_starts_s, dtype=float)
    scan_index = np.asarray(scan_index, dtype=np.int64)
    counts = rng.poisson(radar.false_alarms_per_scan, scan_starts_s.size)
    total = int(counts.sum())
    scan_of = np.repeat(np.arange(scan_starts_s.size), counts)
    r = rng.uniform(radar.min_range_m, radar.max_range_m, total)
    frac = rng.uniform(0.0, 1.0, total)
    az = np.mod(
        math.radians(radar.azimuth_center_deg - 0.5 * radar.azimuth_width_deg)
        + frac * math.radians(radar.azimuth_width_deg),
        2.0 * math.pi,
    )
    el = np.radians(rng.uniform(radar.min_elevation_deg, radar.max_elevation_deg, total))
    t = scan_starts_s[scan_of] + (
        frac * radar.scan_period_s if radar.scan_mode == "rotating" else 0.0
    )
    stat = radar.detection_threshold + rng.exponential(1.0, total)
    rr = (
        np.full(total, np.nan)
        if radar.sigma_range_rate_mps is None
        else rng.uniform(-radar.max_range_rate_mps, radar.max_range_rate_mps, total)
    )
    return _pack(radar, t, scan_index[scan_of], np.full(total, -1), r, az, el, rr, stat)


def observe(
    radar: RadarSite,
    targets: Targets,
    t_start_s: float,
    t_end_s: float,
    rng: np.random.Generator,
    *,
    jammers: Sequence[NoiseJammer] = (),
    include_false_alarms: bool = True,
    max_pairs: int = 400_000,
) -> ScanOutput:
    """All detections (and jamming strobes) of one radar for the scans starting in [t_start, t_end).

    Vectorized over targets × scans (in chunks of at most ``max_pairs`` pairs). Looks that fall
    after ``t_end_s`` are dropped.
    """
    starts = radar.scan_starts(t_start_s, t_end_s)
    k0 = round((starts[0] - radar.first_scan_s) / radar.scan_period_s) if starts.size else 0
    scan_idx = k0 + np.arange(starts.size, dtype=np.int64)
    parts: list[Detections] = []
    if include_false_alarms and starts.size:
        fa = false_alarms(radar, starts, scan_idx, rng)
        parts.append(fa.select(fa.time_s <= t_end_s))
    tr = targets.trajectories
    if tr.size and starts.size:
        overlap = (tr.start_s[:, None] <= starts[None, :] + radar.scan_period_s) & (
            tr.end_s[:, None] >= starts[None, :]
        )
        obj, sc = np.nonzero(overlap)
        for lo in range(0, obj.size, max_pairs):
            parts.append(
                _observe_pairs(
                    radar,
                    targets,
                    obj[lo : lo + max_pairs],
                    starts[sc[lo : lo + max_pairs]],
                    scan_idx[sc[lo : lo + max_pairs]],
                    t_end_s,
                    rng,
                    jammers,
                )
            )
    dets = Detections.concatenate(parts).sorted_by_time()
    strobes = _strobes(radar, targets, starts, scan_idx, t_end_s, rng, jammers)
    return ScanOutput(dets, strobes)


def _observe_pairs(
    radar: RadarSite,
    targets: Targets,
    obj: IntArray,
    t_scan: FloatArray,
    scan: IntArray,
    t_end_s: float,
    rng: np.random.Generator,
    jammers: Sequence[NoiseJammer],
) -> Detections:
    tr = targets.trajectories
    if radar.scan_mode == "rotating":
        # Look time: when the beam reaches the target's azimuth (one fixed-point refinement).
        t_probe = np.clip(t_scan, tr.start_s[obj], tr.end_s[obj])
        p, _, _, _ = tr.state_at(obj, t_probe)
        _, az, _ = radar.to_aer(p)
        frac, _ = radar.scan_fraction(az)
        t_look = t_scan + frac * radar.scan_period_s
        p, _, _, ok = tr.state_at(obj, np.clip(t_look, tr.start_s[obj], tr.end_s[obj]))
        _, az, _ = radar.to_aer(p)
        frac, _ = radar.scan_fraction(az)
        t_look = t_scan + frac * radar.scan_period_s
    else:
        t_look = t_scan.copy()
    pos, vel, _, ok = tr.state_at(obj, t_look)
    ok &= t_look <= t_end_s
    keep = np.flatnonzero(ok)
    obj, t_look, scan, pos, vel = obj[keep], t_look[keep], scan[keep], pos[keep], vel[keep]
    r, az, el = radar.to_aer(pos)
    _, in_sector = radar.scan_fraction(az)
    los = line_of_sight(
        radar.antenna_ecef_m,
        math.radians(radar.lat_deg),
        radar.antenna_alt_m,
        pos,
        k=radar.refraction_k,
    )
    app_el = np.degrees(los.apparent_elevation_rad)
    seen = (
        in_sector
        & los.visible
        & (r >= radar.min_range_m)
        & (r <= radar.max_range_m)
        & (app_el >= radar.min_elevation_deg)
        & (app_el <= radar.max_elevation_deg)
    )
    keep = np.flatnonzero(seen)
    obj, scan = obj[keep], scan[keep]
    t_look, pos, vel, r, az, el = (x[keep] for x in (t_look, pos, vel, r, az, el))
    snr = radar.snr(r, targets.rcs_at(obj, t_look))
    jnr, _, _, _ = _jnr(radar, jammers, targets, t_look, az, el)
    stat = detection_statistic(snr / (1.0 + jnr), np.asarray(targets.swerling)[obj], rng)
    det = stat > radar.detection_threshold
    keep = np.flatnonzero(det)
    obj, scan = obj[keep], scan[keep]
    t_look, pos, vel, r, az, el, stat = (x[keep] for x in (t_look, pos, vel, r, az, el, stat))
    rr = np.sum(vel * (pos - radar.antenna_ecef_m), axis=1) / np.maximum(r, 1e-9)
    mr, maz, mel, mrr = _measure(radar, keep.size, r, az, el, rr, rng)
    return _pack(radar, t_look, scan, np.asarray(targets.truth_id)[obj], mr, maz, mel, mrr, stat)


def _strobes(
    radar: RadarSite,
    targets: Targets,
    starts: FloatArray,
    scan_idx: IntArray,
    t_end_s: float,
    rng: np.random.Generator,
    jammers: Sequence[NoiseJammer],
    threshold_db: float = 0.0,
) -> JammerStrobes:
    """One strobe per scan and jammer when the beam, crossing the jammer, sees J/N ≥ threshold."""
    nj = len(jammers)
    if nj == 0 or starts.size == 0:
        return JammerStrobes.empty()
    parts: list[JammerStrobes] = []
    s_az = math.radians(radar.sigma_azimuth_deg)
    s_el = math.radians(radar.sigma_elevation_deg)
    for jam in jammers:  # a handful of jammers; each is vectorized over scans
        pos0, _ = _jammer_positions([jam], targets, starts)
        _, az0, _ = radar.to_aer(pos0[0])
        frac, _ = radar.scan_fraction(az0)
        t_cross = starts + (frac * radar.scan_period_s if radar.scan_mode == "rotating" else 0.0)
        t_cross = np.where(np.isfinite(t_cross), t_cross, starts)
        pos, alive = _jammer_positions([jam], targets, t_cross)
        p, ok = pos[0], alive[0]
        r, az, el = radar.to_aer(p)
        _, in_sector = radar.scan_fraction(az)
        los = line_of_sight(
            radar.antenna_ecef_m,
            math.radians(radar.lat_deg),
            radar.antenna_alt_m,
            np.nan_to_num(p),
            k=radar.refraction_k,
        ).visible
        gj = jam.gain_toward(radar.radar_id, np.zeros(starts.size))
        jnr = (
            jamming_power_w(radar, jam, np.maximum(np.nan_to_num(r, nan=1.0), 1.0), 1.0, gj)
            / radar.noise_power_w
        )
        keep = ok & los & in_sector & (jnr >= 10.0 ** (threshold_db / 10.0)) & (t_cross <= t_end_s)
        idx = np.flatnonzero(keep)
        n = idx.size
        parts.append(
            JammerStrobes(
                time_s=t_cross[idx],
                radar_id=np.full(n, radar.radar_id, dtype=np.int64),
                scan_index=scan_idx[idx],
                jammer_id=np.full(n, jam.jammer_id, dtype=np.int64),
                azimuth_rad=np.mod(az[idx] + s_az * rng.standard_normal(n), 2.0 * math.pi),
                elevation_rad=el[idx] + s_el * rng.standard_normal(n),
                jnr_db=lin_to_db(jnr[idx]),
            )
        )
    return JammerStrobes.concatenate(parts)


def observe_all(
    radars: Sequence[RadarSite],
    targets: Targets,
    t_start_s: float,
    t_end_s: float,
    rng: np.random.Generator,
    *,
    jammers: Sequence[NoiseJammer] = (),
    include_false_alarms: bool = True,
) -> ScanOutput:
    """:func:`observe` for several radars, merged in time order."""
    outs = [
        observe(
            r,
            targets,
            t_start_s,
            t_end_s,
            rng,
            jammers=jammers,
            include_false_alarms=include_false_alarms,
        )
        for r in radars
    ]
    dets = Detections.concatenate([o.detections for o in outs]).sorted_by_time()
    strobes = JammerStrobes.concatenate([o.strobes for o in outs])
    order = np.argsort(strobes.time_s, kind="stable")
    strobes = JammerStrobes(
        **{f.name: getattr(strobes, f.name)[order] for f in fields(JammerStrobes)}
    )
    return ScanOutput(dets, strobes)
