"""Cruise missiles, aircraft and drones flying waypoints, vectorized over vehicles.

Each vehicle is a point mass over the WGS-84 ellipsoid with state (φ, λ, h, ψ, V, ḣ): geodetic
latitude/longitude/height, heading (0 = north, clockwise), true speed and vertical speed. The
kinematics are the exact navigation equations on the ellipsoid::

    φ̇ = V_h cos ψ / (M + h)      λ̇ = V_h sin ψ / ((N + h) cos φ)      V_h = sqrt(V² - ḣ²)

with M, N the meridian and prime-vertical radii of curvature. Guidance (evaluated at every
Runge-Kutta stage, so the accelerations are continuous between events):

- heading: ψ̇ = clip(K_ψ·Δψ, ±ω_max(V)) towards the active waypoint, where
  ω_max = min(max_turn_rate, g0·sqrt(n_max² - 1)/V) is the level coordinated-turn limit at the
  airframe's maximum load factor n_max;
- speed: V̇ = clip(K_V·(V_cmd - V), ±max_accel);
- height: a linear glide path along each leg (the commanded height goes from the previous
  waypoint's to the active waypoint's with the remaining distance), tracked with a limited
  climb rate and a limited vertical acceleration;
- manoeuvres: during a scheduled coordinated turn at load factor n the heading rate is
  ψ̇ = ±g0·sqrt(n² - 1)/V_h, i.e. a turn radius R = V²/(g0·sqrt(n² - 1)) (level turn; e.g.
  Stevens & Lewis, *Aircraft Control and Simulation*, §2.6).

Waypoints are flown by (switched to the next one inside one turn radius); the last waypoint is
flown over, after which the vehicle ends its flight (``"end"``: a missile or drone reaching its
target), starts the route again at the second waypoint (``"loop"``: a patrol) or circles at half
its maximum turn rate (``"hold"``). The ECEF velocity is ``V_n·n̂ + V_e·ê + ḣ·û`` and the
acceleration its exact time derivative, including the rotation of the local frame; both are
recorded at every step (RK4, 1 s by default) into a :class:`~argus.trajectory.TrajectorySet`.

Range: :meth:`AirRoute.validate` refuses a route longer than the type can fly
(:attr:`~argus.sim.catalogue.AirBreathingThreat.max_route_km`: the catalogued range, twice the
combat radius for an aircraft) with a ``ValueError`` naming the type, the route length and the
range; see :meth:`AirRoute.length_m` for how a route is measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from argus.geo import G0, geodetic_to_ecef_rad, great_circle_bearing_distance, radii_of_curvature
from argus.sim.catalogue import AirBreathingThreat
from argus.trajectory import TrajectorySet, knots_to_trajectories

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FinalBehaviour = Literal["end", "loop", "hold"]

#: Heading, speed, height and vertical-speed loop gains (1/s).
K_HEADING = 0.5
K_SPEED = 0.2
K_HEIGHT = 0.08
K_VSPEED = 1.0


@dataclass(frozen=True)
class Waypoint:
    """A route point; ``speed_mps`` None flies the leg at the type's cruise speed."""

    lat_deg: float
    lon_deg: float
    alt_m: float
    speed_mps: float | None = None


@dataclass(frozen=True)
class Manoeuvre:
    """A level coordinated turn at ``load_factor_g`` from ``start_time_s`` for ``duration_s``."""

    start_time_s: float
    duration_s: float
    load_factor_g: float
    direction: Literal["left", "right"] = "right"

    @property
    def turn_rate_sign(self) -> float:
        return 1.0 if self.direction == "right" else -1.0


@dataclass(frozen=True)
class AirRoute:
    """One air-breathing vehicle: its type, start time, waypoints (the first is the start point)."""

    threat: AirBreathingThreat
    waypoints: tuple[Waypoint, ...]
    start_time_s: float = 0.0
    manoeuvres: tuple[Manoeuvre, ...] = ()
    on_final: FinalBehaviour = "end"
    initial_speed_mps: float | None = None
    end_time_s: float | None = None

    def validate(self, label: str = "route") -> None:
        """Raise ValueError naming the field if the route is not flyable."""
        t = self.threat
        if len(self.waypoints) < 2:
            raise ValueError(f"{label}.waypoints: need at least 2 (start point and one more)")
        for i, w in enumerate(self.waypoints):
            if not -90.0 <= w.lat_deg <= 90.0:
                raise ValueError(f"{label}.waypoints[{i}].lat_deg: {w.lat_deg} outside [-90, 90]")
            # The start point may be on the ground and an "end" route may dive onto its target.
            lowest = (
                -500.0
                if (i == 0 or (i == len(self.waypoints) - 1 and self.on_final == "end"))
                else t.min_alt_m
            )
            if not lowest - 1e-9 <= w.alt_m <= t.max_alt_m:
                raise ValueError(
                    f"{label}.waypoints[{i}].alt_m: {w.alt_m:g} outside [{lowest:g}, {t.max_alt_m:g}] for {t.key}"
                )
            if w.speed_mps is not None and not t.min_speed_mps <= w.speed_mps <= t.max_speed_mps:
                raise ValueError(
                    f"{label}.waypoints[{i}].speed_mps: {w.speed_mps:g} outside "
                    f"[{t.min_speed_mps:g}, {t.max_speed_mps:g}] for {t.key}"
                )
        for i, m in enumerate(self.manoeuvres):
            if not 1.0 < m.load_factor_g <= t.max_load_factor_g:
                raise ValueError(
                    f"{label}.manoeuvres[{i}].load_factor_g: {m.load_factor_g:g} outside (1, {t.max_load_factor_g:g}] "
                    f"for {t.key}"
                )
            if m.duration_s <= 0:
                raise ValueError(f"{label}.manoeuvres[{i}].duration_s: must be > 0")
            if m.direction not in ("left", "right"):
                raise ValueError(f"{label}.manoeuvres[{i}].direction: expected 'left' or 'right'")
        if self.on_final not in ("end", "loop", "hold"):
            raise ValueError(
                f"{label}.on_final: expected 'end', 'loop' or 'hold', got {self.on_final!r}"
            )
        if self.on_final == "loop" and len(self.waypoints) < 3:
            raise ValueError(f"{label}.on_final: 'loop' needs at least 3 waypoints")
        if self.on_final != "end" and self.end_time_s is None:
            raise ValueError(f"{label}.end_time_s: required when on_final is {self.on_final!r}")
        length_m, basis = self._length()
        if length_m > 1000.0 * t.max_route_km:
            limit = (
                f"twice the {t.nominal_range_km:,.0f} km combat radius of {t.key} (out and back), "
                f"{t.max_route_km:,.0f} km"
                if t.kind == "aircraft"
                else f"the nominal range of {t.key}, {t.nominal_range_km:,.0f} km"
            )
            raise ValueError(
                f"{label}: route length {length_m / 1000.0:,.1f} km ({basis}) exceeds {limit}"
            )

    def length_m(self) -> float:
        """Planned length of the route (m), checked against the type's range by :meth:`validate`.

        An ``"end"`` route: the sum of its great-circle legs (what the guidance flies, less the
        corners cut by fly-by turns), or, if ``end_time_s`` stops it sooner, the flight time ×
        the highest commanded speed. A ``"loop"`` or ``"hold"`` route (a patrol flown until
        ``end_time_s``): the flight time × the highest commanded speed.
        """
        return self._length()[0]

    def _length(self) -> tuple[float, str]:
        timed = math.inf
        if self.end_time_s is not None:
            top_speed = max(
                self.threat.cruise_speed_mps if w.speed_mps is None else w.speed_mps
                for w in self.waypoints[1:]
            )
            timed = max(self.end_time_s - self.start_time_s, 0.0) * top_speed
        if self.on_final == "end":
            lat = np.radians([w.lat_deg for w in self.waypoints])
            lon = np.radians([w.lon_deg for w in self.waypoints])
            legs = float(
                np.sum(great_circle_bearing_distance(lat[:-1], lon[:-1], lat[1:], lon[1:])[1])
            )
            if legs <= timed:
                return legs, "sum of its great-circle legs"
        return timed, "flight time × highest commanded speed"


@dataclass(frozen=True)
class AirFlight:
    """Result of :func:`fly_airbreathing` (arrays of shape (N,))."""

    threat_keys: tuple[str, ...]
    start_time_s: FloatArray
    end_time_s: FloatArray
    reached_final: BoolArray
    trajectories: TrajectorySet


def turn_radius_m(speed_mps: npt.ArrayLike, load_factor_g: npt.ArrayLike) -> FloatArray:
    """Level coordinated-turn radius R = V²/(g0·sqrt(n² - 1)) (m)."""
    v = np.asarray(speed_mps, dtype=float)
    n = np.asarray(load_factor_g, dtype=float)
    return v * v / (G0 * np.sqrt(n * n - 1.0))


def turn_rate_rad_s(speed_mps: npt.ArrayLike, load_factor_g: npt.ArrayLike) -> FloatArray:
    """Level coordinated-turn rate ω = g0·sqrt(n² - 1)/V (rad/s)."""
    v = np.asarray(speed_mps, dtype=float)
    n = np.asarray(load_factor_g, dtype=float)
    return G0 * np.sqrt(n * n - 1.0) / v


def _wrap_pi(x: FloatArray) -> FloatArray:
    return (x + math.pi) % (2.0 * math.pi) - math.pi


@dataclass
class _Fleet:
    """Per-vehicle constants and padded route arrays."""

    wlat: FloatArray  # (n, W) rad
    wlon: FloatArray
    walt: FloatArray
    wspd: FloatArray
    n_wp: IntArray
    leg_len: FloatArray  # (n, W): length of the leg ending at waypoint j (0 for j = 0)
    max_rate: FloatArray  # max turn rate (rad/s)
    n_max: FloatArray
    max_acc: FloatArray
    max_climb: FloatArray
    max_vacc: FloatArray
    v_min: FloatArray
    v_max: FloatArray
    m_start: FloatArray  # (n, M) manoeuvre start times
    m_end: FloatArray
    m_sign: FloatArray
    m_load: FloatArray
    loop: BoolArray
    hold: BoolArray
    t_end: FloatArray


def _fleet(routes: Sequence[AirRoute]) -> _Fleet:
    n = len(routes)
    w = max(len(r.waypoints) for r in routes)
    mm = max(1, max(len(r.manoeuvres) for r in routes))
    wlat, wlon, walt, wspd = (np.zeros((n, w)) for _ in range(4))
    m_start = np.full((n, mm), np.inf)
    m_end = np.full((n, mm), np.inf)
    m_sign, m_load = np.zeros((n, mm)), np.ones((n, mm))
    # Assembly of the route table: a loop over routes and their points, once per call.
    for i, r in enumerate(routes):
        k = len(r.waypoints)
        wlat[i, :k] = np.radians([p.lat_deg for p in r.waypoints])
        wlon[i, :k] = np.radians([p.lon_deg for p in r.waypoints])
        walt[i, :k] = [p.alt_m for p in r.waypoints]
        wspd[i, :k] = [
            r.threat.cruise_speed_mps if p.speed_mps is None else p.speed_mps for p in r.waypoints
        ]
        wlat[i, k:], wlon[i, k:], walt[i, k:], wspd[i, k:] = (
            wlat[i, k - 1],
            wlon[i, k - 1],
            walt[i, k - 1],
            wspd[i, k - 1],
        )
        for j, m in enumerate(sorted(r.manoeuvres, key=lambda m: m.start_time_s)):
            m_start[i, j], m_end[i, j] = m.start_time_s, m.start_time_s + m.duration_s
            m_sign[i, j], m_load[i, j] = m.turn_rate_sign, m.load_factor_g
    _, legs = great_circle_bearing_distance(wlat[:, :-1], wlon[:, :-1], wlat[:, 1:], wlon[:, 1:])
    leg_len = np.concatenate([np.zeros((n, 1)), legs], axis=1)

    def arr(attr: str) -> FloatArray:
        return np.array([float(getattr(r.threat, attr)) for r in routes])

    n_max = arr("max_load_factor_g")
    return _Fleet(
        wlat=wlat,
        wlon=wlon,
        walt=walt,
        wspd=wspd,
        n_wp=np.array([len(r.waypoints) for r in routes], dtype=np.int64),
        leg_len=leg_len,
        max_rate=np.radians(arr("max_turn_rate_dps")),
        n_max=n_max,
        max_acc=arr("max_accel_mps2"),
        max_climb=arr("max_climb_rate_mps"),
        max_vacc=np.minimum(0.5 * G0, np.maximum(n_max - 1.0, 0.05) * G0),
        v_min=arr("min_speed_mps"),
        v_max=arr("max_speed_mps"),
        m_start=m_start,
        m_end=m_end,
        m_sign=m_sign,
        m_load=m_load,
        loop=np.array([r.on_final == "loop" for r in routes]),
        hold=np.array([r.on_final == "hold" for r in routes]),
        t_end=np.array([np.inf if r.end_time_s is None else r.end_time_s for r in routes]),
    )


def _derivatives(
    y: FloatArray, wp: IntArray, man: IntArray, holding: BoolArray, F: _Fleet
) -> tuple[FloatArray, FloatArray]:
    """State derivative (n, 6) and controls (n, 3) = (ψ̇, V̇, ḧ) for fixed waypoint/manoeuvre."""
    lat, lon, h, psi, v, hd = (y[:, i] for i in range(6))
    rows = np.arange(y.shape[0])
    tlat, tlon = F.wlat[rows, wp], F.wlon[rows, wp]
    brg, dist = great_circle_bearing_distance(lat, lon, tlat, tlon)
    vh = np.sqrt(np.maximum(v * v - hd * hd, 1e-6))
    # Heading.
    rate_max = np.minimum(
        F.max_rate, G0 * np.sqrt(np.maximum(F.n_max**2 - 1.0, 0.0)) / np.maximum(vh, 1e-3)
    )
    psi_dot = np.clip(K_HEADING * _wrap_pi(brg - psi), -rate_max, rate_max)
    psi_dot = np.where(holding, 0.5 * rate_max, psi_dot)
    in_man = man >= 0
    if np.any(in_man):
        mi = np.maximum(man, 0)
        load = F.m_load[rows, mi]
        man_rate = (
            F.m_sign[rows, mi]
            * G0
            * np.sqrt(np.maximum(load * load - 1.0, 0.0))
            / np.maximum(vh, 1e-3)
        )
        psi_dot = np.where(in_man, man_rate, psi_dot)
    # Speed.
    v_cmd = np.clip(F.wspd[rows, wp], F.v_min, F.v_max)
    v_dot = np.clip(K_SPEED * (v_cmd - v), -F.max_acc, F.max_acc)
    # Height: linear glide path along the leg.
    prev = np.maximum(wp - 1, 0)
    leg = F.leg_len[rows, wp]
    frac = np.where(leg > 0, np.clip(dist / np.where(leg > 0, leg, 1.0), 0.0, 1.0), 0.0)
    h_cmd = F.walt[rows, wp] + (F.walt[rows, prev] - F.walt[rows, wp]) * frac
    h_cmd = np.where(holding, F.walt[rows, wp], h_cmd)
    hd_cmd = np.clip(K_HEIGHT * (h_cmd - h), -F.max_climb, F.max_climb)
    hd_cmd = np.clip(hd_cmd, -0.5 * v, 0.5 * v)
    hdd = np.clip(K_VSPEED * (hd_cmd - hd), -F.max_vacc, F.max_vacc)
    m_rad, n_rad = radii_of_curvature(lat)
    dy = np.stack(
        [
            vh * np.cos(psi) / (m_rad + h),
            vh * np.sin(psi) / ((n_rad + h) * np.cos(lat)),
            hd,
            psi_dot,
            v_dot,
            hdd,
        ],
        axis=1,
    )
    return dy, np.stack([psi_dot, v_dot, hdd], axis=1)


def _ecef_kinematics(y: FloatArray, dy: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECEF position, velocity and acceleration from the geodetic state and its derivative."""
    lat, lon, h, psi, v, hd = (y[:, i] for i in range(6))
    lat_d, lon_d, _, psi_d, v_d, hdd = (dy[:, i] for i in range(6))
    pos = geodetic_to_ecef_rad(lat, lon, h)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl)
    e = np.stack([-so, co, zero], axis=1)
    nn = np.stack([-sl * co, -sl * so, cl], axis=1)
    u = np.stack([cl * co, cl * so, sl], axis=1)
    e_d = lon_d[:, None] * np.stack([-co, -so, zero], axis=1)
    n_d = lat_d[:, None] * np.stack([-cl * co, -cl * so, -sl], axis=1) + lon_d[:, None] * np.stack(
        [sl * so, -sl * co, zero], axis=1
    )
    u_d = lat_d[:, None] * np.stack([-sl * co, -sl * so, cl], axis=1) + lon_d[:, None] * np.stack(
        [-cl * so, cl * co, zero], axis=1
    )
    vh = np.sqrt(np.maximum(v * v - hd * hd, 1e-6))
    vh_d = (v * v_d - hd * hdd) / vh
    vn, ve = vh * np.cos(psi), vh * np.sin(psi)
    vn_d = vh_d * np.cos(psi) - vh * np.sin(psi) * psi_d
    ve_d = vh_d * np.sin(psi) + vh * np.cos(psi) * psi_d
    vel = ve[:, None] * e + vn[:, None] * nn + hd[:, None] * u
    acc = (
        ve_d[:, None] * e
        + ve[:, None] * e_d
        + vn_d[:, None] * nn
        + vn[:, None] * n_d
        + hdd[:, None] * u
        + hd[:, None] * u_d
    )
    return pos, vel, acc


def fly_airbreathing(
    routes: Sequence[AirRoute],
    *,
    step_s: float = 1.0,
    t_end_s: float | None = None,
) -> AirFlight:
    """Fly all routes together (one RK4 step per loop iteration for every vehicle).

    Each vehicle starts at its first waypoint at ``start_time_s``, heading to the second at its
    initial speed (default: the first leg's speed), and stops at ``min(route.end_time_s,
    t_end_s)`` or when it completes an ``"end"`` route.
    """
    if not routes:
        raise ValueError("routes: need at least one route")
    for i, r in enumerate(routes):
        r.validate(f"routes[{i}]")
    if step_s <= 0:
        raise ValueError("step_s: must be > 0")
    F = _fleet(routes)
    n = len(routes)
    t = np.array([r.start_time_s for r in routes], dtype=float)
    t_stop = np.minimum(F.t_end, np.inf if t_end_s is None else t_end_s)
    if np.any(t_stop <= t):
        bad = np.flatnonzero(t_stop <= t).tolist()
        raise ValueError(f"routes {bad}: end time is not after the start time")
    psi0, _ = great_circle_bearing_distance(F.wlat[:, 0], F.wlon[:, 0], F.wlat[:, 1], F.wlon[:, 1])
    v0 = np.array(
        [
            r.initial_speed_mps if r.initial_speed_mps is not None else F.wspd[i, 1]
            for i, r in enumerate(routes)
        ]
    )
    y = np.stack([F.wlat[:, 0], F.wlon[:, 0], F.walt[:, 0], psi0, v0, np.zeros(n)], axis=1)
    wp = np.ones(n, dtype=np.int64)
    holding = np.zeros(n, dtype=bool)
    reached = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    rows = np.arange(n)

    def manoeuvre_index(tt: FloatArray) -> IntArray:
        inside = (F.m_start <= tt[:, None] + 1e-9) & (tt[:, None] + 1e-9 < F.m_end)
        return np.where(inside.any(axis=1), np.argmax(inside, axis=1), -1)

    man = manoeuvre_index(t)
    dy, _ = _derivatives(y, wp, man, holding, F)
    rec_t, rec_y, rec_dm, rec_dp = [t.copy()], [y.copy()], [dy.copy()], [dy.copy()]
    n_knots = np.ones(n, dtype=np.int64)
    events = np.concatenate([F.m_start, F.m_end, t_stop[:, None]], axis=1)
    while np.any(active):
        nxt = np.where(events > t[:, None] + 1e-9, events, np.inf).min(axis=1)
        h = np.where(active, np.minimum(step_s, nxt - t), 0.0)
        hv = h[:, None]
        k1 = dy
        k2, _ = _derivatives(y + 0.5 * hv * k1, wp, man, holding, F)
        k3, _ = _derivatives(y + 0.5 * hv * k2, wp, man, holding, F)
        k4, _ = _derivatives(y + hv * k3, wp, man, holding, F)
        y_new = y + hv / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        y_new[:, 3] = _wrap_pi(y_new[:, 3])
        t_new = t + h
        t_new = np.where(np.abs(t_new - nxt) < 1e-9, nxt, t_new)
        dy_minus, _ = _derivatives(y_new, wp, man, holding, F)
        # Waypoint logic (between steps).
        brg, dist = great_circle_bearing_distance(
            y_new[:, 0], y_new[:, 1], F.wlat[rows, wp], F.wlon[rows, wp]
        )
        vh = np.sqrt(np.maximum(y_new[:, 4] ** 2 - y_new[:, 5] ** 2, 1e-6))
        rate_max = np.minimum(F.max_rate, G0 * np.sqrt(np.maximum(F.n_max**2 - 1.0, 0.0)) / vh)
        r_turn = vh / np.maximum(rate_max, 1e-6)
        final = wp == F.n_wp - 1
        behind = np.abs(_wrap_pi(brg - y_new[:, 3])) > 0.5 * math.pi
        capture_mid = dist < np.maximum(r_turn, 2.0 * vh * step_s)
        capture_final = (dist < np.maximum(2.0 * vh * step_s, 20.0)) | (
            behind & (dist < 2.0 * r_turn)
        )
        captured = active & ~holding & np.where(final, capture_final, capture_mid)
        arrive = captured & final
        reached |= arrive
        wp_new = np.where(captured & ~final, wp + 1, wp)
        wp_new = np.where(arrive & F.loop, 1, wp_new)
        holding_new = holding | (arrive & F.hold)
        ended = (arrive & ~F.loop & ~F.hold) | (t_new >= t_stop - 1e-9)
        man_new = manoeuvre_index(t_new)
        changed = active & ((wp_new != wp) | (man_new != man) | (holding_new != holding))
        dy_plus = dy_minus
        if np.any(changed):
            dy_plus, _ = _derivatives(y_new, wp_new, man_new, holding_new, F)
        rec_t.append(t_new.copy())
        rec_y.append(y_new.copy())
        rec_dm.append(dy_minus.copy())
        rec_dp.append(np.where(changed[:, None], dy_plus, dy_minus))
        n_knots += active
        t = np.where(active, t_new, t)
        y = np.where(active[:, None], y_new, y)
        dy = np.where(active[:, None], dy_plus, dy_minus)
        wp, man, holding = (
            np.where(active, wp_new, wp),
            np.where(active, man_new, man),
            np.where(active, holding_new, holding),
        )
        active &= ~ended

    tt = np.stack(rec_t, axis=1)
    yy = np.stack(rec_y, axis=1)
    k = tt.shape[1]
    flat_y = yy.reshape(-1, 6)
    pos, vel, acc_m = _ecef_kinematics(flat_y, np.stack(rec_dm, axis=1).reshape(-1, 6))
    _, _, acc_p = _ecef_kinematics(flat_y, np.stack(rec_dp, axis=1).reshape(-1, 6))
    traj = knots_to_trajectories(
        tt,
        pos.reshape(n, k, 3),
        vel.reshape(n, k, 3),
        acc_m.reshape(n, k, 3),
        acc_p.reshape(n, k, 3),
        n_knots,
    )
    return AirFlight(
        threat_keys=tuple(r.threat.key for r in routes),
        start_time_s=np.array([r.start_time_s for r in routes], dtype=float),
        end_time_s=traj.end_s.copy(),
        reached_final=reached,
        trajectories=traj,
    )
