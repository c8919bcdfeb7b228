"""Ballistic missile flight: boost, free flight and re-entry in ECEF, vectorized over missiles.

Equations of motion (rotating WGS-84 ECEF frame; Zarchan, *Tactical and Strategic Missile
Guidance*, 6th ed., ch. 11-12 for the boost and the gravity turn; Vallado §3.4 for the
rotating-frame terms)::

    dr/dt = v
    dv/dt = g(r) - 2 ω×v - ω×(ω×r) + (T(h)/m) û + D/m
    dm/dt = -ṁ          while thrusting, 0 after cut-off

- ``g``: :class:`~argus.sim.gravity.Gravity` (point mass + J2 by default; flat for tests);
- ``T(h) = ṁ g0 (Isp_vac - (Isp_vac - Isp_sl) p(h)/p0)`` with p from the US Standard
  Atmosphere 1976;
- ``û``: the pitch program — local vertical of the launch point for ``vertical_rise_s``, then a
  linear turn of the thrust to the launch elevation γ0 over ``pitch_over_s`` in the vertical
  plane of the launch azimuth, then a gravity turn (thrust along the air-relative velocity,
  which is the ECEF velocity: the atmosphere co-rotates, no wind) until cut-off;
- ``D = -½ ρ(h) |v| v C_D(M) A`` with M = |v|/a(h); after cut-off a separating re-entry vehicle
  has its own mass, area and C_D(M) table.

Integration: classical fourth-order Runge-Kutta with a per-missile step (boost 0.5 s,
endo-atmospheric coast 1 s, above 100 km 5 s by default; impact points move by about a metre
when the steps are divided by five), all missiles stepped together as
arrays; steps are cut to land exactly on the phase changes (end of vertical rise, end of
pitch-over, cut-off), so every RK4 step sees smooth dynamics. Impact is the first downward
crossing of the target's ellipsoidal height, located inside the last step by bisection on the
step's quintic Hermite interpolant. The recorded knots (with both one-sided accelerations at a
phase change) form a :class:`~argus.trajectory.TrajectorySet` that can be sampled at any
rate.

Shooting (:func:`solve_launch`): the azimuth starts at the ellipsoidal (Vincenty) bearing to the
target and is corrected every iteration by the bearing error of the impact point (this absorbs
the Coriolis drift). The range is set by

- ``"minimum_energy"`` (default): the pitch program of the maximum-range trajectory for each
  burn duration, with the engine cut off early (thrust termination, as the Scud's guidance does)
  to reach shorter targets — the least burnout energy that reaches the target;
- ``"lofted"`` / ``"depressed"``: full burn, launch elevation above / below the maximum-range
  elevation.

The range equation is solved by safeguarded regula falsi (Illinois) inside a bracket found on a
coarse grid of trajectories flown as one batch; targets beyond the maximum range raise
:class:`UnreachableTargetError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from argus.geo import (
    G0,
    WGS84_OMEGA,
    ecef_to_geodetic_rad,
    enu_axes_rad,
    geodesic_inverse,
    geodetic_altitude_m,
    geodetic_to_ecef_rad,
)
from argus.sim.atmosphere import P0_PA, fast_density_pressure_sound
from argus.sim.catalogue import BallisticThreat
from argus.sim.gravity import Gravity
from argus.trajectory import TrajectorySet, knots_to_trajectories, quintic_hermite

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
TrajectoryShape = Literal["minimum_energy", "lofted", "depressed"]

_COAST = 3  # phase index after cut-off


class UnreachableTargetError(ValueError):
    """A target lies beyond the missile's maximum range (or inside its minimum range).

    ``rows`` are the offending launch indices; ``range_km`` the requested ground ranges and
    ``limit_km`` the maximum (or minimum) ranges for those rows.
    """

    def __init__(
        self, message: str, rows: IntArray, range_km: FloatArray, limit_km: FloatArray
    ) -> None:
        super().__init__(message)
        self.rows = rows
        self.range_km = range_km
        self.limit_km = limit_km


class ShootingError(RuntimeError):
    """The shooting iteration did not converge to the requested miss distance."""


@dataclass(frozen=True)
class FlightOptions:
    """Physics switches and integrator steps for ballistic flight."""

    gravity: Gravity = field(default_factory=Gravity)
    earth_rotation: bool = True
    drag: bool = True
    step_boost_s: float = 0.5
    step_endo_s: float = 1.0
    step_exo_s: float = 5.0
    exo_alt_m: float = 100_000.0
    max_flight_time_s: float = 4000.0

    @classmethod
    def vacuum_flat(cls, lat_deg: float, lon_deg: float) -> FlightOptions:
        """No drag, no Earth rotation, uniform gravity along the local down at (lat, lon)."""
        return cls(gravity=Gravity.flat(lat_deg, lon_deg), earth_rotation=False, drag=False)


# ----------------------------------------------------------------------------- vehicles


@dataclass(frozen=True)
class _Vehicles:
    """Per-missile parameters (struct of arrays, shape (n,)) and the shared drag tables."""

    mdot: FloatArray
    isp_sl: FloatArray
    isp_vac: FloatArray
    t_vert: FloatArray
    t_pitch: FloatArray
    t_burn: FloatArray
    m_launch: FloatArray
    m_reentry: FloatArray
    separates: BoolArray
    area_boost: FloatArray
    area_reentry: FloatArray
    tab_boost: IntArray
    tab_reentry: IntArray
    mach_grid: FloatArray
    cd_tables: FloatArray  # (n_tables, G)

    def take(self, idx: IntArray) -> _Vehicles:
        rows: dict[str, Any] = {f: getattr(self, f)[idx] for f in _VEHICLE_ROW_FIELDS}
        return replace(self, **rows)


_VEHICLE_ROW_FIELDS = (
    "mdot",
    "isp_sl",
    "isp_vac",
    "t_vert",
    "t_pitch",
    "t_burn",
    "m_launch",
    "m_reentry",
    "separates",
    "area_boost",
    "area_reentry",
    "tab_boost",
    "tab_reentry",
)


def _vehicles(threats: Sequence[BallisticThreat]) -> _Vehicles:
    unique: list[BallisticThreat] = []
    for t in threats:
        if t not in unique:
            unique.append(t)
    grid = np.unique(np.concatenate([np.r_[t.drag.mach, t.reentry_drag.mach] for t in unique]))
    if grid.size == 1:
        grid = np.array([grid[0], grid[0] + 1.0])
    tables = np.stack(
        [np.interp(grid, d.mach, d.cd) for t in unique for d in (t.drag, t.reentry_drag)]
    )
    which = np.array([unique.index(t) for t in threats], dtype=np.int64)

    def arr(attr: str) -> FloatArray:
        return np.array([float(getattr(t, attr)) for t in unique])[which]

    return _Vehicles(
        mdot=arr("mass_flow_kgps"),
        isp_sl=arr("isp_sl_s"),
        isp_vac=arr("isp_vac_s"),
        t_vert=arr("vertical_rise_s"),
        t_pitch=arr("pitch_over_s"),
        t_burn=arr("burn_time_s"),
        m_launch=arr("launch_mass_kg"),
        m_reentry=arr("reentry_mass_kg"),
        separates=np.array([t.separates for t in unique])[which],
        area_boost=arr("reference_area_m2"),
        area_reentry=arr("reentry_area_m2"),
        tab_boost=2 * which,
        tab_reentry=2 * which + 1,
        mach_grid=grid,
        cd_tables=tables,
    )


def _cd(veh: _Vehicles, table: IntArray, mach: FloatArray) -> FloatArray:
    g = veh.mach_grid
    i = np.minimum(np.maximum(np.searchsorted(g, mach, side="right") - 1, 0), g.size - 2)
    f = np.minimum(np.maximum((mach - g[i]) / (g[i + 1] - g[i]), 0.0), 1.0)
    return veh.cd_tables[table, i] * (1.0 - f) + veh.cd_tables[table, i + 1] * f


# ----------------------------------------------------------------------------- dynamics


@dataclass(frozen=True)
class _Guidance:
    """Launch frame and pitch program per missile (arrays (n,) and (n, 3))."""

    up: FloatArray
    north: FloatArray
    east: FloatArray
    azimuth: FloatArray
    elevation: FloatArray
    cutoff: FloatArray

    def take(self, idx: IntArray) -> _Guidance:
        return _Guidance(
            *(
                getattr(self, f)[idx]
                for f in ("up", "north", "east", "azimuth", "elevation", "cutoff")
            )
        )

    def boundaries(self, veh: _Vehicles) -> FloatArray:
        """(n, 3) phase-change times: end of vertical rise, end of pitch-over, cut-off."""
        c = self.cutoff
        return np.stack(
            [np.minimum(veh.t_vert, c), np.minimum(veh.t_vert + veh.t_pitch, c), c], axis=1
        )


def _phase(tau: FloatArray, bounds: FloatArray) -> IntArray:
    return np.sum(tau[:, None] >= bounds, axis=1).astype(np.int64)


def _acceleration(
    tau: FloatArray,
    r: FloatArray,
    v: FloatArray,
    m: FloatArray,
    phase: IntArray,
    veh: _Vehicles,
    gd: _Guidance,
    opts: FlightOptions,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(acceleration (n, 3), dm/dt (n,), altitude (n,)) for the fixed phase of the step."""
    h = geodetic_altitude_m(r)
    acc = opts.gravity.acceleration(r)
    if opts.earth_rotation:
        w = WGS84_OMEGA
        acc[:, 0] += 2.0 * w * v[:, 1] + w * w * r[:, 0]
        acc[:, 1] += -2.0 * w * v[:, 0] + w * w * r[:, 1]
    thrusting = phase < _COAST
    coasting_re = (~thrusting) & veh.separates
    any_thrust = bool(np.any(thrusting))
    need_air = opts.drag or any_thrust
    if need_air:
        rho, p_amb, sound = fast_density_pressure_sound(h)
    speed = np.sqrt(np.sum(v * v, axis=1))
    if any_thrust:
        isp = veh.isp_vac - (veh.isp_vac - veh.isp_sl) * p_amb / P0_PA
        thrust = np.where(thrusting, veh.mdot * G0 * isp, 0.0)
        frac = np.minimum(np.maximum((tau - veh.t_vert) / veh.t_pitch, 0.0), 1.0)
        gamma = 0.5 * math.pi - (0.5 * math.pi - gd.elevation) * frac
        horiz = np.cos(gd.azimuth)[:, None] * gd.north + np.sin(gd.azimuth)[:, None] * gd.east
        program = np.cos(gamma)[:, None] * horiz + np.sin(gamma)[:, None] * gd.up
        turning = (phase == 2) & (speed > 1.0)
        vhat = v / np.maximum(speed, 1e-9)[:, None]
        direction = np.where(turning[:, None], vhat, program)
        acc += (thrust / m)[:, None] * direction
    if opts.drag:
        mach = speed / sound
        table = np.where(coasting_re, veh.tab_reentry, veh.tab_boost)
        area = np.where(coasting_re, veh.area_reentry, veh.area_boost)
        k = 0.5 * rho * speed * _cd(veh, table, mach) * area / m
        acc -= k[:, None] * v
    mdot = np.where(thrusting, -veh.mdot, 0.0)
    return acc, mdot, h


# ----------------------------------------------------------------------------- integrator


@dataclass(frozen=True)
class _RawFlight:
    impacted: BoolArray
    impact_tau: FloatArray
    impact_pos: FloatArray
    impact_vel: FloatArray
    apogee_alt: FloatArray
    burnout_speed: FloatArray
    trajectory: TrajectorySet | None


def _integrate(
    veh: _Vehicles,
    gd: _Guidance,
    r0: FloatArray,
    v0: FloatArray,
    tau0: FloatArray,
    stop_alt: FloatArray,
    opts: FlightOptions,
    *,
    record: bool,
    t_offset: FloatArray | None = None,
) -> _RawFlight:
    n = r0.shape[0]
    bounds = gd.boundaries(veh)
    tau = tau0.astype(float).copy()
    r = r0.astype(float).copy()
    v = v0.astype(float).copy()
    m = np.where(
        tau >= gd.cutoff,
        np.where(veh.separates, veh.m_reentry, veh.m_launch - veh.mdot * gd.cutoff),
        veh.m_launch - veh.mdot * np.minimum(tau, gd.cutoff),
    )
    phase = _phase(tau, bounds)
    acc, _, alt = _acceleration(tau, r, v, m, phase, veh, gd, opts)
    active = np.ones(n, dtype=bool)
    impacted = np.zeros(n, dtype=bool)
    impact_tau = np.full(n, np.nan)
    impact_pos = np.full((n, 3), np.nan)
    impact_vel = np.full((n, 3), np.nan)
    apogee = alt.copy()
    burnout_speed = np.where(phase >= _COAST, np.linalg.norm(v, axis=1), np.nan)
    launch_alt = alt.copy()
    floor_alt = np.minimum(stop_alt, launch_alt) - 5000.0
    # Knot records: lists of (n,)/(n, 3) arrays, one entry per step; n_knots per missile.
    rec_t: list[FloatArray] = [tau.copy()]
    rec_r: list[FloatArray] = [r.copy()]
    rec_v: list[FloatArray] = [v.copy()]
    rec_am: list[FloatArray] = [acc.copy()]
    rec_ap: list[FloatArray] = [acc.copy()]
    n_knots = np.ones(n, dtype=np.int64)
    tau_max = tau0 + opts.max_flight_time_s

    while np.any(active):
        # Per-missile step: phase-dependent length, cut to the next phase boundary.
        h = np.where(
            phase < _COAST,
            opts.step_boost_s,
            np.where(alt > opts.exo_alt_m, opts.step_exo_s, opts.step_endo_s),
        )
        nxt = np.where(bounds > tau[:, None] + 1e-9, bounds, np.inf).min(axis=1)
        h = np.where(active, np.minimum(h, nxt - tau), 0.0)
        hv = h[:, None]
        k1r, k1v, k1m = v, acc, np.where(phase < _COAST, -veh.mdot, 0.0)
        a2, m2, _ = _acceleration(
            tau + 0.5 * h,
            r + 0.5 * hv * k1r,
            v + 0.5 * hv * k1v,
            m + 0.5 * h * k1m,
            phase,
            veh,
            gd,
            opts,
        )
        k2r = v + 0.5 * hv * k1v
        a3, m3, _ = _acceleration(
            tau + 0.5 * h,
            r + 0.5 * hv * k2r,
            v + 0.5 * hv * a2,
            m + 0.5 * h * m2,
            phase,
            veh,
            gd,
            opts,
        )
        k3r = v + 0.5 * hv * a2
        a4, m4, _ = _acceleration(
            tau + h, r + hv * k3r, v + hv * a3, m + h * m3, phase, veh, gd, opts
        )
        k4r = v + hv * a3
        r_new = r + hv / 6.0 * (k1r + 2.0 * k2r + 2.0 * k3r + k4r)
        v_new = v + hv / 6.0 * (k1v + 2.0 * a2 + 2.0 * a3 + a4)
        m_new = m + h / 6.0 * (k1m + 2.0 * m2 + 2.0 * m3 + m4)
        tau_new = tau + h
        # Land exactly on a boundary when the step was cut to it.
        snap = np.abs(tau_new - nxt) < 1e-9
        tau_new = np.where(snap, nxt, tau_new)
        acc_end, _, alt_new = _acceleration(tau_new, r_new, v_new, m_new, phase, veh, gd, opts)
        new_phase = _phase(tau_new, bounds)
        changed = active & (new_phase != phase)
        acc_after = acc_end.copy()
        if np.any(changed):
            # Cut-off of a separating missile: the re-entry vehicle flies on alone.
            sep = changed & (new_phase >= _COAST) & (phase < _COAST)
            m_new = np.where(sep & veh.separates, veh.m_reentry, m_new)
            burnout_speed = np.where(sep, np.linalg.norm(v_new, axis=1), burnout_speed)
            idx = np.flatnonzero(changed)
            a_sub, _, _ = _acceleration(
                tau_new[idx],
                r_new[idx],
                v_new[idx],
                m_new[idx],
                new_phase[idx],
                veh.take(idx),
                gd.take(idx),
                opts,
            )
            acc_after[idx] = a_sub
        # Impact: downward crossing of the stop height (or lost below the floor / timeout).
        crossed = active & (alt_new < stop_alt) & (alt >= stop_alt)
        lost = active & ~crossed & ((alt_new < floor_alt) | (tau_new > tau_max))
        if np.any(crossed):
            idx = np.flatnonzero(crossed)
            s_imp = _bisect_height(
                r[idx],
                v[idx],
                acc[idx],
                r_new[idx],
                v_new[idx],
                acc_end[idx],
                h[idx],
                stop_alt[idx],
            )
            p_i, v_i, a_i = quintic_hermite(
                r[idx], v[idx], acc[idx], r_new[idx], v_new[idx], acc_end[idx], h[idx], s_imp
            )
            impacted[idx] = True
            impact_tau[idx] = tau[idx] + s_imp * h[idx]
            impact_pos[idx] = p_i
            impact_vel[idx] = v_i
            tau_new[idx], r_new[idx], v_new[idx] = impact_tau[idx], p_i, v_i
            acc_end[idx] = a_i
            acc_after[idx] = a_i
        apogee = np.where(active, np.maximum(apogee, alt_new), apogee)
        if record:
            rec_t.append(tau_new.copy())
            rec_r.append(r_new.copy())
            rec_v.append(v_new.copy())
            rec_am.append(acc_end.copy())
            rec_ap.append(acc_after.copy())
            n_knots += active
        tau = np.where(active, tau_new, tau)
        r = np.where(active[:, None], r_new, r)
        v = np.where(active[:, None], v_new, v)
        m = np.where(active, m_new, m)
        acc = np.where(active[:, None], acc_after, acc)
        alt = np.where(active, alt_new, alt)
        phase = np.where(active, new_phase, phase)
        active &= ~(crossed | lost)

    traj = None
    if record:
        offset = np.zeros(n) if t_offset is None else t_offset
        traj = knots_to_trajectories(
            np.stack(rec_t, axis=1) + offset[:, None],
            np.stack(rec_r, axis=1),
            np.stack(rec_v, axis=1),
            np.stack(rec_am, axis=1),
            np.stack(rec_ap, axis=1),
            n_knots,
        )
    return _RawFlight(impacted, impact_tau, impact_pos, impact_vel, apogee, burnout_speed, traj)


def _bisect_height(
    p0: FloatArray,
    v0: FloatArray,
    a0: FloatArray,
    p1: FloatArray,
    v1: FloatArray,
    a1: FloatArray,
    h: FloatArray,
    target_alt: FloatArray,
    iterations: int = 48,
) -> FloatArray:
    """Fraction s of each step where the interpolated height crosses ``target_alt`` downward."""
    lo = np.zeros(h.shape)
    hi = np.ones(h.shape)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        pos, _, _ = quintic_hermite(p0, v0, a0, p1, v1, a1, h, mid)
        above = ecef_to_geodetic_rad(pos)[2] >= target_alt
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- public flight


@dataclass(frozen=True)
class BallisticFlight:
    """Result of flying N ballistic missiles (arrays of shape (N,) / (N, 3)).

    ``trajectories`` holds the truth (absolute times: launch time + flight time) and can be
    sampled at any rate; ``impact_*`` is the predicted impact (first downward crossing of the
    target height), NaN with ``impacted`` False if the missile never came down.
    """

    threat_keys: tuple[str, ...]
    launch_time_s: FloatArray
    launch_ecef_m: FloatArray
    azimuth_deg: FloatArray
    elevation_deg: FloatArray
    cutoff_s: FloatArray
    impacted: BoolArray
    impact_time_s: FloatArray
    impact_ecef_m: FloatArray
    impact_velocity_ecef_mps: FloatArray
    impact_lat_deg: FloatArray
    impact_lon_deg: FloatArray
    impact_alt_m: FloatArray
    apogee_alt_m: FloatArray
    burnout_speed_mps: FloatArray
    trajectories: TrajectorySet | None

    @property
    def flight_time_s(self) -> FloatArray:
        """Launch-to-impact time (s)."""
        return self.impact_time_s - self.launch_time_s

    def ground_range_km(self) -> FloatArray:
        """Ellipsoidal distance launch → impact (km)."""
        lat, lon, _ = ecef_to_geodetic_rad(self.launch_ecef_m)
        d, _ = geodesic_inverse(
            np.degrees(lat), np.degrees(lon), self.impact_lat_deg, self.impact_lon_deg
        )
        return d / 1000.0


def _as_threats(
    threats: BallisticThreat | Sequence[BallisticThreat], n: int
) -> list[BallisticThreat]:
    if isinstance(threats, BallisticThreat):
        return [threats] * n
    out = list(threats)
    if len(out) == 1 and n > 1:
        out = out * n
    if len(out) != n:
        raise ValueError(f"threats: expected 1 or {n} entries, got {len(out)}")
    for i, t in enumerate(out):
        if not isinstance(t, BallisticThreat):
            raise TypeError(f"threats[{i}]: expected a BallisticThreat, got {type(t).__name__}")
    return out


def _broadcast(n: int, **arrays: npt.ArrayLike) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    for name, val in arrays.items():
        a = np.asarray(val, dtype=float)
        if a.ndim > 1 or (a.ndim == 1 and a.size not in (1, n)):
            raise ValueError(f"{name}: expected a scalar or {n} values, got shape {a.shape}")
        out[name] = np.broadcast_to(a.ravel() if a.ndim else a, (n,)).astype(float)
        if not np.all(np.isfinite(out[name])):
            raise ValueError(f"{name}: values must be finite")
    return out


def _size(*arrays: npt.ArrayLike) -> int:
    return max(int(np.size(a)) for a in arrays)


def _launch_frames(
    lat_deg: FloatArray, lon_deg: FloatArray, alt_m: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    east, north, up = enu_axes_rad(lat, lon)
    return geodetic_to_ecef_rad(lat, lon, alt_m), up, north, east


def fly_ballistic(
    threats: BallisticThreat | Sequence[BallisticThreat],
    launch_lat_deg: npt.ArrayLike,
    launch_lon_deg: npt.ArrayLike,
    azimuth_deg: npt.ArrayLike,
    elevation_deg: npt.ArrayLike,
    *,
    launch_alt_m: npt.ArrayLike = 0.0,
    cutoff_s: npt.ArrayLike | None = None,
    launch_time_s: npt.ArrayLike = 0.0,
    stop_alt_m: npt.ArrayLike = 0.0,
    options: FlightOptions | None = None,
    record: bool = True,
) -> BallisticFlight:
    """Fly N missiles with given launch azimuths/elevations (and optional early cut-off).

    ``elevation_deg`` is the end elevation of the pitch program (see module docstring);
    ``cutoff_s`` defaults to the full burn time. All arguments broadcast to N.
    """
    n = _size(
        launch_lat_deg,
        launch_lon_deg,
        azimuth_deg,
        elevation_deg,
        launch_alt_m,
        launch_time_s,
        stop_alt_m,
        cutoff_s if cutoff_s is not None else 0.0,
    )
    if not isinstance(threats, BallisticThreat):
        n = max(n, len(threats))
    th = _as_threats(threats, n)
    veh = _vehicles(th)
    a = _broadcast(
        n,
        launch_lat_deg=launch_lat_deg,
        launch_lon_deg=launch_lon_deg,
        azimuth_deg=azimuth_deg,
        elevation_deg=elevation_deg,
        launch_alt_m=launch_alt_m,
        launch_time_s=launch_time_s,
        stop_alt_m=stop_alt_m,
        cutoff_s=veh.t_burn if cutoff_s is None else cutoff_s,
    )
    if np.any(a["cutoff_s"] <= 0) or np.any(a["cutoff_s"] > veh.t_burn + 1e-9):
        raise ValueError("cutoff_s: must lie in (0, burn_time_s] of each threat")
    if np.any(a["elevation_deg"] <= 0) or np.any(a["elevation_deg"] > 90):
        raise ValueError("elevation_deg: must lie in (0, 90]")
    opts = options or FlightOptions()
    r0, up, north, east = _launch_frames(
        a["launch_lat_deg"], a["launch_lon_deg"], a["launch_alt_m"]
    )
    gd = _Guidance(
        up, north, east, np.radians(a["azimuth_deg"]), np.radians(a["elevation_deg"]), a["cutoff_s"]
    )
    raw = _integrate(
        veh,
        gd,
        r0,
        np.zeros((n, 3)),
        np.zeros(n),
        a["stop_alt_m"],
        opts,
        record=record,
        t_offset=a["launch_time_s"],
    )
    return _flight_result(th, a, raw)


def _flight_result(
    th: Sequence[BallisticThreat], a: dict[str, FloatArray], raw: _RawFlight
) -> BallisticFlight:
    lat, lon, alt = ecef_to_geodetic_rad(raw.impact_pos)
    return BallisticFlight(
        threat_keys=tuple(t.key for t in th),
        launch_time_s=a["launch_time_s"],
        launch_ecef_m=geodetic_to_ecef_rad(
            np.radians(a["launch_lat_deg"]), np.radians(a["launch_lon_deg"]), a["launch_alt_m"]
        ),
        azimuth_deg=a["azimuth_deg"],
        elevation_deg=a["elevation_deg"],
        cutoff_s=a["cutoff_s"],
        impacted=raw.impacted,
        impact_time_s=a["launch_time_s"] + raw.impact_tau,
        impact_ecef_m=raw.impact_pos,
        impact_velocity_ecef_mps=raw.impact_vel,
        impact_lat_deg=np.degrees(lat),
        impact_lon_deg=np.degrees(lon),
        impact_alt_m=alt,
        apogee_alt_m=raw.apogee_alt,
        burnout_speed_mps=raw.burnout_speed,
        trajectories=raw.trajectory,
    )


def coast_to_impact(
    pos_ecef_m: npt.ArrayLike,
    vel_ecef_mps: npt.ArrayLike,
    t_s: npt.ArrayLike = 0.0,
    *,
    ballistic_coefficient_kgm2: npt.ArrayLike | None = None,
    stop_alt_m: npt.ArrayLike = 0.0,
    options: FlightOptions | None = None,
    record: bool = False,
) -> tuple[FloatArray, FloatArray, BoolArray, TrajectorySet | None]:
    """Predicted impact of N unpowered objects from their current ECEF states.

    ``ballistic_coefficient_kgm2`` is β = m/(C_D A) (constant C_D); None flies in vacuum.
    Returns (impact_time_s (N,), impact_ecef_m (N, 3), impacted (N,), trajectories or None).
    """
    r0 = np.atleast_2d(np.asarray(pos_ecef_m, dtype=float))
    v0 = np.atleast_2d(np.asarray(vel_ecef_mps, dtype=float))
    n = r0.shape[0]
    if r0.shape != (n, 3) or v0.shape != (n, 3):
        raise ValueError("pos_ecef_m and vel_ecef_mps: expected arrays of shape (N, 3)")
    opts = options or FlightOptions()
    if ballistic_coefficient_kgm2 is None:
        opts = replace(opts, drag=False)
        beta = np.ones(n)
    else:
        beta = _broadcast(n, ballistic_coefficient_kgm2=ballistic_coefficient_kgm2)[
            "ballistic_coefficient_kgm2"
        ]
        if np.any(beta <= 0):
            raise ValueError("ballistic_coefficient_kgm2: must be > 0")
    t0 = _broadcast(n, t_s=t_s)["t_s"]
    stop = _broadcast(n, stop_alt_m=stop_alt_m)["stop_alt_m"]
    # A unit-mass body with C_D = 1 and area 1/β reproduces the drag of ballistic coefficient β.
    zeros = np.zeros(n)
    veh = _Vehicles(
        mdot=zeros,
        isp_sl=np.ones(n),
        isp_vac=np.ones(n),
        t_vert=zeros,
        t_pitch=np.ones(n),
        t_burn=np.full(n, 1e-9),
        m_launch=np.ones(n),
        m_reentry=np.ones(n),
        separates=np.zeros(n, dtype=bool),
        area_boost=1.0 / beta,
        area_reentry=1.0 / beta,
        tab_boost=np.zeros(n, dtype=np.int64),
        tab_reentry=np.zeros(n, dtype=np.int64),
        mach_grid=np.array([0.0, 1.0]),
        cd_tables=np.ones((1, 2)),
    )
    lat, lon, _ = ecef_to_geodetic_rad(r0)
    east, north, up = enu_axes_rad(lat, lon)
    gd = _Guidance(up, north, east, zeros, np.full(n, 0.5 * math.pi), np.full(n, 1e-9))
    raw = _integrate(veh, gd, r0, v0, np.full(n, 1.0), stop, opts, record=record, t_offset=t0 - 1.0)
    return t0 + raw.impact_tau - 1.0, raw.impact_pos, raw.impacted, raw.trajectory


# ----------------------------------------------------------------------------- shooting


@dataclass(frozen=True)
class LaunchSolution:
    """Launch parameters that put N missiles on their targets (arrays (N,))."""

    threat_keys: tuple[str, ...]
    shape: TrajectoryShape
    azimuth_deg: FloatArray
    elevation_deg: FloatArray
    cutoff_s: FloatArray
    ground_range_km: FloatArray
    max_range_km: FloatArray
    miss_m: FloatArray
    flight_time_s: FloatArray
    iterations: int


@dataclass(frozen=True)
class MaxRange:
    """Maximum range (full burn) and its launch elevation, per missile."""

    range_km: FloatArray
    elevation_deg: FloatArray


_GRID_FULL_DEG = np.array(
    [
        8.0,
        12.0,
        16.0,
        20.0,
        25.0,
        30.0,
        35.0,
        40.0,
        45.0,
        50.0,
        55.0,
        60.0,
        65.0,
        70.0,
        75.0,
        80.0,
        85.0,
        88.0,
    ]
)
_GRID_ME_DEG = np.array([25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 65.0])
_CUTOFF_FRACTIONS = np.array([0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9])  # of the burn after pitch-over


@dataclass(frozen=True)
class _Launches:
    veh: _Vehicles
    r0: FloatArray
    up: FloatArray
    north: FloatArray
    east: FloatArray
    lat: FloatArray
    lon: FloatArray
    stop_alt: FloatArray


def _evaluate(
    L: _Launches,
    rows: IntArray,
    azimuth_rad: FloatArray,
    elevation_rad: FloatArray,
    cutoff_s: FloatArray,
    opts: FlightOptions,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    """Fly the given rows; return (range m, bearing deg, impact ecef, flight time, impacted)."""
    gd = _Guidance(L.up[rows], L.north[rows], L.east[rows], azimuth_rad, elevation_rad, cutoff_s)
    raw = _integrate(
        L.veh.take(rows),
        gd,
        L.r0[rows],
        np.zeros((rows.size, 3)),
        np.zeros(rows.size),
        L.stop_alt[rows],
        opts,
        record=False,
    )
    lat, lon, _ = ecef_to_geodetic_rad(np.where(raw.impacted[:, None], raw.impact_pos, L.r0[rows]))
    dist, bearing = geodesic_inverse(L.lat[rows], L.lon[rows], np.degrees(lat), np.degrees(lon))
    dist = np.where(raw.impacted, dist, 0.0)
    return dist, bearing, raw.impact_pos, raw.impact_tau, raw.impacted


def _parabola_peak(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per row of (m, k) samples: vertex of the parabola through the argmax and its neighbours."""
    m, k = y.shape
    j = np.clip(np.argmax(y, axis=1), 1, k - 2)
    rows = np.arange(m)
    x0, x1, x2 = x[rows, j - 1], x[rows, j], x[rows, j + 1]
    y0, y1, y2 = y[rows, j - 1], y[rows, j], y[rows, j + 1]
    d1 = (y1 - y0) / (x1 - x0)
    d2 = (y2 - y1) / (x2 - x1)
    curv = (d2 - d1) / (x2 - x0)
    ok = curv < 0
    xv = np.where(ok, 0.5 * (x0 + x1) - d1 / np.where(ok, 2.0 * curv, 1.0), x1)
    xv = np.clip(xv, x0, x2)
    yv = np.where(ok, y0 + d1 * (xv - x0) + curv * (xv - x0) * (xv - x1), y1)
    best = np.argmax(y, axis=1)
    # If the sampled maximum is better than the fitted vertex (edge of the grid), keep it.
    keep = y[rows, best] > yv
    return np.where(keep, x[rows, best], xv), np.where(keep, y[rows, best], yv)


def _max_range(
    L: _Launches,
    azimuth_rad: FloatArray,
    opts: FlightOptions,
    extra: tuple[IntArray, FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(max range m, best elevation rad, full-grid ranges (n, G), extra ranges) at full burn.

    ``extra`` = (rows, elevations, cut-offs) of more trajectories to fly in the same batch as
    the coarse grid (one integration instead of two); their ranges come back last.
    """
    n = L.r0.shape[0]
    cut = L.veh.t_burn
    g = np.radians(_GRID_FULL_DEG)
    rows = np.repeat(np.arange(n), g.size)
    els = np.tile(g, n)
    cuts = cut[rows]
    n_grid = rows.size
    if extra is not None:
        rows = np.concatenate([rows, extra[0]])
        els = np.concatenate([els, extra[1]])
        cuts = np.concatenate([cuts, extra[2]])
    dist_all, _, _, _, _ = _evaluate(L, rows, azimuth_rad[rows], els, cuts, opts)
    dist, extra_dist = dist_all[:n_grid], dist_all[n_grid:]
    grid_r = dist.reshape(n, g.size)
    e0, _ = _parabola_peak(np.tile(g, (n, 1)), grid_r)
    # Refine on a fine local grid around the coarse optimum.
    offs = np.radians(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    fine = np.clip(e0[:, None] + offs[None, :], np.radians(3.0), np.radians(89.5))
    rows5 = np.repeat(np.arange(n), offs.size)
    d5, _, _, _, _ = _evaluate(L, rows5, azimuth_rad[rows5], fine.ravel(), cut[rows5], opts)
    e_best, r_best = _parabola_peak(fine, d5.reshape(n, offs.size))
    return r_best, e_best, grid_r, extra_dist


def _launches(
    th: Sequence[BallisticThreat],
    lat: FloatArray,
    lon: FloatArray,
    alt: FloatArray,
    stop_alt: FloatArray,
) -> _Launches:
    r0, up, north, east = _launch_frames(lat, lon, alt)
    return _Launches(_vehicles(th), r0, up, north, east, lat, lon, stop_alt)


def max_range(
    threats: BallisticThreat | Sequence[BallisticThreat],
    launch_lat_deg: npt.ArrayLike,
    launch_lon_deg: npt.ArrayLike,
    azimuth_deg: npt.ArrayLike,
    *,
    launch_alt_m: npt.ArrayLike = 0.0,
    options: FlightOptions | None = None,
) -> MaxRange:
    """Maximum ground range (full burn, best launch elevation) of each missile and direction."""
    n = _size(launch_lat_deg, launch_lon_deg, azimuth_deg, launch_alt_m)
    if not isinstance(threats, BallisticThreat):
        n = max(n, len(threats))
    th = _as_threats(threats, n)
    a = _broadcast(n, lat=launch_lat_deg, lon=launch_lon_deg, az=azimuth_deg, alt=launch_alt_m)
    L = _launches(th, a["lat"], a["lon"], a["alt"], a["alt"])
    r, e, _, _ = _max_range(L, np.radians(a["az"]), options or FlightOptions())
    return MaxRange(r / 1000.0, np.degrees(e))


def _interp_rows(x: FloatArray, xp: FloatArray, fp: FloatArray) -> FloatArray:
    """Row-wise ``np.interp``: x (n,), increasing xp (n, k), fp (n, k) → (n,)."""
    k = xp.shape[1]
    j = np.clip(np.sum(xp <= x[:, None], axis=1) - 1, 0, k - 2)
    rows = np.arange(x.size)
    x0, x1 = xp[rows, j], xp[rows, j + 1]
    f = np.clip((x - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0, 1.0)
    return fp[rows, j] * (1.0 - f) + fp[rows, j + 1] * f


def _wrap_pi(x: FloatArray) -> FloatArray:
    return (x + math.pi) % (2.0 * math.pi) - math.pi


def solve_launch(
    threats: BallisticThreat | Sequence[BallisticThreat],
    launch_lat_deg: npt.ArrayLike,
    launch_lon_deg: npt.ArrayLike,
    target_lat_deg: npt.ArrayLike,
    target_lon_deg: npt.ArrayLike,
    *,
    launch_alt_m: npt.ArrayLike = 0.0,
    target_alt_m: npt.ArrayLike = 0.0,
    shape: TrajectoryShape = "minimum_energy",
    options: FlightOptions | None = None,
    tolerance_m: float = 20.0,
    max_iterations: int = 40,
) -> LaunchSolution:
    """Launch azimuth, elevation and cut-off that land each missile within ``tolerance_m``.

    Vectorized over N launches (threat types may differ). Raises
    :class:`UnreachableTargetError` (a ``ValueError``) naming the requested and maximum range
    when a target is out of reach, and :class:`ShootingError` if the iteration stalls.
    """
    if shape not in ("minimum_energy", "lofted", "depressed"):
        raise ValueError(
            f"shape: expected 'minimum_energy', 'lofted' or 'depressed', got {shape!r}"
        )
    n = _size(
        launch_lat_deg, launch_lon_deg, target_lat_deg, target_lon_deg, launch_alt_m, target_alt_m
    )
    if not isinstance(threats, BallisticThreat):
        n = max(n, len(threats))
    th = _as_threats(threats, n)
    a = _broadcast(
        n,
        launch_lat_deg=launch_lat_deg,
        launch_lon_deg=launch_lon_deg,
        target_lat_deg=target_lat_deg,
        target_lon_deg=target_lon_deg,
        launch_alt_m=launch_alt_m,
        target_alt_m=target_alt_m,
    )
    opts = options or FlightOptions()
    L = _launches(
        th, a["launch_lat_deg"], a["launch_lon_deg"], a["launch_alt_m"], a["target_alt_m"]
    )
    target = geodetic_to_ecef_rad(
        np.radians(a["target_lat_deg"]), np.radians(a["target_lon_deg"]), a["target_alt_m"]
    )
    want, bearing0 = geodesic_inverse(L.lat, L.lon, a["target_lat_deg"], a["target_lon_deg"])
    if np.any(want < 1000.0):
        rows = np.flatnonzero(want < 1000.0)
        raise UnreachableTargetError(
            f"target within 1 km of the launch point for launch(es) {rows.tolist()}",
            rows,
            want[rows] / 1e3,
            np.zeros(rows.size),
        )
    az = np.radians(bearing0)
    veh = L.veh
    # Minimum energy needs a (cut-off × elevation) table: fly it with the coarse grid.
    extra = None
    if shape == "minimum_energy":
        t_min = veh.t_vert + veh.t_pitch + 1.0
        cut_grid = t_min[:, None] + _CUTOFF_FRACTIONS[None, :] * (veh.t_burn - t_min)[:, None]
        g = np.radians(_GRID_ME_DEG)
        c_n = cut_grid.shape[1]
        extra = (
            np.repeat(np.arange(n), c_n * g.size),
            np.tile(g, n * c_n),
            np.repeat(cut_grid.ravel(), g.size),
        )
    r_max, e_opt, grid_full, extra_dist = _max_range(L, az, opts, extra)
    too_far = want > r_max
    if np.any(too_far):
        rows = np.flatnonzero(too_far)
        detail = "; ".join(
            f"launch {i} ({th[i].key}): target at {want[i] / 1e3:.1f} km, maximum range {r_max[i] / 1e3:.1f} km"
            for i in rows
        )
        raise UnreachableTargetError(
            f"target beyond maximum range: {detail}", rows, want[rows] / 1e3, r_max[rows] / 1e3
        )

    # Tabulate range against the control variable x; elevation_of(x) gives the elevation.
    if shape == "minimum_energy":
        e_c, r_c = _parabola_peak(np.tile(g, (n * c_n, 1)), extra_dist.reshape(n * c_n, g.size))
        x_tab = np.concatenate([cut_grid, veh.t_burn[:, None]], axis=1)
        e_tab = np.concatenate([e_c.reshape(n, c_n), e_opt[:, None]], axis=1)
        r_tab = np.concatenate([r_c.reshape(n, c_n), r_max[:, None]], axis=1)
        r_tab = np.maximum.accumulate(r_tab, axis=1)  # guard tiny non-monotonicity
    else:
        g_all = np.radians(_GRID_FULL_DEG)
        if shape == "lofted":
            x_tab = np.concatenate([e_opt[:, None], np.tile(g_all, (n, 1))], axis=1)
            r_tab = np.concatenate([r_max[:, None], grid_full], axis=1)
            side = x_tab > e_opt[:, None] + 1e-12
            side[:, 0] = True
            # Ranges decreasing with elevation: flip to increasing for the table search.
            x_tab = np.where(side, x_tab, np.inf)
            order = np.argsort(-x_tab, axis=1)
        else:
            x_tab = np.concatenate([np.tile(g_all, (n, 1)), e_opt[:, None]], axis=1)
            r_tab = np.concatenate([grid_full, r_max[:, None]], axis=1)
            side = x_tab < e_opt[:, None] - 1e-12
            side[:, -1] = True
            x_tab = np.where(side, x_tab, -np.inf)
            order = np.argsort(x_tab, axis=1)
        x_tab = np.take_along_axis(x_tab, order, axis=1)
        r_tab = np.take_along_axis(r_tab, order, axis=1)
        valid = np.isfinite(x_tab)
        # Drop invalid columns (kept at the front after sorting) by forward-filling them.
        first = np.argmax(valid, axis=1)
        cols = np.maximum(np.arange(x_tab.shape[1])[None, :], first[:, None])
        x_tab = np.take_along_axis(x_tab, cols, axis=1)
        r_tab = np.take_along_axis(r_tab, cols, axis=1)
        r_tab = np.maximum.accumulate(r_tab, axis=1)
        e_tab = x_tab
    too_close = want < r_tab[:, 0]
    if np.any(too_close):
        rows = np.flatnonzero(too_close)
        detail = "; ".join(
            f"launch {i} ({th[i].key}): target at {want[i] / 1e3:.1f} km, minimum range {r_tab[i, 0] / 1e3:.1f} km"
            for i in rows
        )
        raise UnreachableTargetError(
            f"target inside the minimum range of a {shape} trajectory: {detail}",
            rows,
            want[rows] / 1e3,
            r_tab[rows, 0] / 1e3,
        )
    # Start from the table: the column pair around the wanted range, linear interpolation
    # between them, and the table's slope there.
    j = np.clip(np.sum(r_tab <= want[:, None], axis=1) - 1, 0, r_tab.shape[1] - 2)
    rows_n = np.arange(n)
    x0, x1 = x_tab[rows_n, j], x_tab[rows_n, j + 1]
    r0_, r1_ = r_tab[rows_n, j], r_tab[rows_n, j + 1]
    slope0 = np.where(x1 != x0, (r1_ - r0_) / np.where(x1 != x0, x1 - x0, 1.0), 0.0)
    x = np.where(r1_ > r0_, x0 + (want - r0_) / np.where(r1_ > r0_, r1_ - r0_, 1.0) * (x1 - x0), x1)
    # Domain of the branch and the expected sign of d(range)/dx on it.
    if shape == "minimum_energy":
        dom_lo, dom_hi, sign = x_tab[:, 0], veh.t_burn, 1.0
    elif shape == "lofted":
        dom_lo, dom_hi, sign = e_opt, np.full(n, np.radians(89.5)), -1.0
    else:
        dom_lo, dom_hi, sign = np.full(n, np.radians(3.0)), e_opt, 1.0
    slope0 = np.where(
        slope0 * sign > 0, slope0, sign * 1e3
    )  # fallback: any slope of the right sign

    def elevation_of(x: FloatArray) -> FloatArray:
        return x if shape != "minimum_energy" else _interp_rows(x, x_tab, e_tab)

    def cutoff_of(x: FloatArray) -> FloatArray:
        return x if shape == "minimum_energy" else veh.t_burn

    # Secant iteration on the range error, with the azimuth corrected at every step by the
    # bearing error of the impact point (so the range function drifts slightly while the
    # azimuth converges — a stale bracket would be wrong, the secant only looks one step back).
    done = np.zeros(n, dtype=bool)
    sol_x = np.full(n, np.nan)
    sol_az = az.copy()
    miss = np.full(n, np.inf)
    tof = np.full(n, np.nan)
    x_prev = np.full(n, np.nan)
    f_prev = np.full(n, np.nan)
    it = 0
    for it in range(1, max_iterations + 1):  # noqa: B007 - reported in the solution
        todo = np.flatnonzero(~done)
        dist, bearing, imp, t_imp, _ = _evaluate(
            L, todo, az[todo], elevation_of(x)[todo], cutoff_of(x)[todo], opts
        )
        err = np.linalg.norm(imp - target[todo], axis=1)
        err = np.where(np.isfinite(err), err, np.inf)
        f = dist - want[todo]
        ok = err <= tolerance_m
        sol_x[todo[ok]] = x[todo[ok]]
        sol_az[todo[ok]] = az[todo[ok]]
        miss[todo[ok]] = err[ok]
        tof[todo[ok]] = t_imp[ok]
        done[todo[ok]] = True
        if done.all():
            break
        az[todo] -= _wrap_pi(np.radians(bearing - bearing0[todo]))
        xt = x[todo]
        dx = xt - x_prev[todo]
        secant = np.where(
            np.abs(dx) > 1e-12, (f - f_prev[todo]) / np.where(np.abs(dx) > 1e-12, dx, 1.0), 0.0
        )
        usable = np.isfinite(secant) & (secant * sign > 0)
        slope = np.where(usable, secant, slope0[todo])
        x_new = np.clip(xt - f / slope, dom_lo[todo], dom_hi[todo])
        x_prev[todo], f_prev[todo] = xt, f
        x[todo] = x_new
    if not done.all():
        rows = np.flatnonzero(~done)
        raise ShootingError(
            f"shooting did not converge to {tolerance_m:g} m within {max_iterations} iterations for launch(es) "
            f"{rows.tolist()}"
        )
    return LaunchSolution(
        threat_keys=tuple(t.key for t in th),
        shape=shape,
        azimuth_deg=np.degrees(sol_az) % 360.0,
        elevation_deg=np.degrees(elevation_of(sol_x)),
        cutoff_s=cutoff_of(sol_x),
        ground_range_km=want / 1000.0,
        max_range_km=r_max / 1000.0,
        miss_m=miss,
        flight_time_s=tof,
        iterations=it,
    )


def launch_ballistic(
    threats: BallisticThreat | Sequence[BallisticThreat],
    launch_lat_deg: npt.ArrayLike,
    launch_lon_deg: npt.ArrayLike,
    target_lat_deg: npt.ArrayLike,
    target_lon_deg: npt.ArrayLike,
    *,
    launch_alt_m: npt.ArrayLike = 0.0,
    target_alt_m: npt.ArrayLike = 0.0,
    launch_time_s: npt.ArrayLike = 0.0,
    shape: TrajectoryShape = "minimum_energy",
    options: FlightOptions | None = None,
    tolerance_m: float = 20.0,
) -> tuple[LaunchSolution, BallisticFlight]:
    """Solve the launch (:func:`solve_launch`) and fly it, recording the truth trajectories."""
    sol = solve_launch(
        threats,
        launch_lat_deg,
        launch_lon_deg,
        target_lat_deg,
        target_lon_deg,
        launch_alt_m=launch_alt_m,
        target_alt_m=target_alt_m,
        shape=shape,
        options=options,
        tolerance_m=tolerance_m,
    )
    n = sol.azimuth_deg.size
    th = _as_threats(threats, n)
    flight = fly_ballistic(
        th,
        launch_lat_deg,
        launch_lon_deg,
        sol.azimuth_deg,
        sol.elevation_deg,
        launch_alt_m=launch_alt_m,
        cutoff_s=sol.cutoff_s,
        launch_time_s=launch_time_s,
        stop_alt_m=target_alt_m,
        options=options,
    )
    return sol, flight
