"""Interceptor flight, guidance and fuzing, vectorized over N interceptors at once (engine layer).

Written by hand because no library does it in vectorized numpy: the point-mass flight, the
(augmented) proportional-navigation law, the seeker model and the closed-form fuzing. The maths
are textbook (Zarchan, *Tactical and Strategic Missile Guidance*, 6th ed., AIAA 2012, ch. 2, 8;
Shneydor, *Missile Guidance and Pursuit*, 1998, ch. 5); see ``docs/defense.md``.

Model (3-DOF point mass, ECEF, per interceptor):

- **Frame and gravity**: ECEF metres; gravitation is the point mass ``-GM r/|r|³`` (no J2) plus
  the Coriolis and centrifugal terms of the rotating frame. Only the part of it perpendicular
  to the velocity bends the path: along the velocity the motor holds the speed profile.
- **Speed profile** (commanded, :func:`speed_profile_mps`): ``launch_speed_mps`` at launch,
  a linear ramp to ``max_speed_mps`` over ``boost_time_s``, then held there (a sustainer that
  balances drag and along-track gravity; no aerodynamic model). The speed never exceeds
  ``max_speed_mps`` and the straight fly-out distance is the closed form
  :func:`fly_out_distance_m` the envelope uses.
- **Guidance**: true proportional navigation ``a = N Vc Ω × r̂ = N Vc v⊥/|r|`` (``v⊥`` the
  relative velocity across the line of sight), plus ``N/2 a_T⊥`` for augmented PN, projected
  across the interceptor's velocity, minus the cross-velocity gravity (gravity compensation),
  clamped to ``max_accel_g`` and passed through a first-order autopilot lag. It steers at the
  *tracked* target state the caller gives, or at the seeker's measurement once the true range
  is within ``seeker_range_m`` (:func:`seeker_measure`).
- **Integration**: ``v' = |s(t+dt)| · unit(v + (a + g⊥) dt)``, ``p' = p + (v + v') dt/2``.
- **Fuzing**: the closest point of approach to the *true* target inside a step, on the
  straight-line relative motion over the step, in closed form (:func:`closest_approach`); an
  interceptor detonates at the first CPA after :data:`FUZE_ARM_TIME_S` of flight and is done.
  ``kill = miss <= lethal_radius_m and u < pk`` with ``u`` uniform.
- **Self-destruct** when the flight time reaches ``max_flight_time_s``, or when told
  (:func:`self_destruct`; :func:`retarget` points it at a new target instead).

Each interceptor has its own clock, so a batch is N independent engagements stepped together;
:func:`keyed_normal` / :func:`keyed_uniform` draw noise keyed by (seed, engagement, step), so
an engagement's result does not depend on which others share its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from argus.geo import G0, OMEGA_ECEF, WGS84_GM

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
GuidanceLaw = Literal["apn", "pn", "pursuit"]

#: Flight time (s) before the proximity fuze is armed: no detonation at a CPA before it.
FUZE_ARM_TIME_S: Final = 1.0
#: Clock tolerance (s): a flight time this close to a limit has reached it.
_TIME_TOL_S: Final = 1e-9
#: Gain (1/s) of the pure-pursuit reference law: the velocity turns toward the line of sight
#: with this rate per radian of heading error.
PURSUIT_GAIN_PER_S: Final = 5.0


@dataclass(frozen=True)
class InterceptorType:
    """One interceptor model (SI units).

    ``max_range_m`` is the envelope's kinematic limit (launcher to intercept point); the flight
    model itself is bounded by ``max_flight_time_s`` (fuel and battery), so choose them
    consistently: ``fly_out_distance_m(max_flight_time_s) >= max_range_m``.
    ``seeker_range_m = 0`` means no terminal seeker (command guidance on the track to the end);
    ``seeker_noise_rad`` is the seeker's angle noise (1σ per axis, one measurement per step).
    ``autopilot_lag_s`` is the time constant of the first-order lag between the commanded and
    the achieved lateral acceleration (0: instantaneous).
    """

    name: str
    max_range_m: float
    max_speed_mps: float
    boost_time_s: float
    max_accel_g: float
    max_flight_time_s: float
    lethal_radius_m: float
    pk: float
    nav_constant: float = 4.0
    min_intercept_alt_m: float = 0.0
    max_intercept_alt_m: float = 30_000.0
    seeker_range_m: float = 0.0
    seeker_noise_rad: float = 0.0
    launch_speed_mps: float = 50.0
    autopilot_lag_s: float = 0.0

    def __post_init__(self) -> None:
        positive = ("max_range_m", "max_speed_mps", "max_accel_g", "max_flight_time_s")
        for field in positive:
            value = getattr(self, field)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{field}: must be a finite number > 0, got {value!r}")
        non_negative = (
            "boost_time_s",
            "lethal_radius_m",
            "seeker_range_m",
            "seeker_noise_rad",
            "launch_speed_mps",
            "autopilot_lag_s",
        )
        for field in non_negative:
            value = getattr(self, field)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{field}: must be a finite number >= 0, got {value!r}")
        if not self.name:
            raise ValueError("name: must not be empty")
        if not 0.0 <= self.pk <= 1.0:
            raise ValueError(f"pk: a probability in [0, 1], got {self.pk!r}")
        if not (np.isfinite(self.nav_constant) and self.nav_constant > 0):
            raise ValueError(f"nav_constant: must be > 0 (3-5 usual), got {self.nav_constant!r}")
        if self.launch_speed_mps > self.max_speed_mps:
            raise ValueError(
                f"launch_speed_mps: {self.launch_speed_mps} exceeds max_speed_mps "
                f"{self.max_speed_mps}"
            )
        if self.launch_speed_mps <= 0 and self.boost_time_s <= 0:
            raise ValueError("boost_time_s: must be > 0 when launch_speed_mps is 0")
        if not self.min_intercept_alt_m < self.max_intercept_alt_m:
            raise ValueError(
                f"min_intercept_alt_m: {self.min_intercept_alt_m} must be below "
                f"max_intercept_alt_m {self.max_intercept_alt_m}"
            )

    @property
    def max_accel_mps2(self) -> float:
        """The lateral acceleration limit in m/s²."""
        return self.max_accel_g * G0


#: An SM-6-class area-defence interceptor, from public-domain orders of magnitude (not data of
#: any real missile): speed Mach ~3.5 at altitude (≈1,200 m/s; US Navy fact file), range
#: ~200 km (the fly-out distance at the flight-time limit), a 6 s booster, 35 g lateral,
#: a blast-fragmentation warhead of ~10 m lethal radius with Pk 0.8 inside it, an active radar
#: seeker acquiring at 15 km with 1 mrad angle noise, ceiling ~33 km, 0.2 s autopilot lag.
SM6_CLASS: Final = InterceptorType(
    name="SM6_CLASS",
    max_range_m=200_000.0,
    max_speed_mps=1_200.0,
    boost_time_s=6.0,
    max_accel_g=35.0,
    max_flight_time_s=170.0,
    lethal_radius_m=10.0,
    pk=0.8,
    nav_constant=4.0,
    min_intercept_alt_m=15.0,
    max_intercept_alt_m=33_000.0,
    seeker_range_m=15_000.0,
    seeker_noise_rad=1.0e-3,
    launch_speed_mps=50.0,
    autopilot_lag_s=0.2,
)


def speed_profile_mps(
    t_s: npt.ArrayLike,
    launch_speed_mps: npt.ArrayLike,
    max_speed_mps: npt.ArrayLike,
    boost_s: npt.ArrayLike,
) -> FloatArray:
    """Commanded speed at flight time ``t_s``: a linear ramp over the boost, then the maximum."""
    t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
    v0 = np.asarray(launch_speed_mps, dtype=np.float64)
    vm = np.asarray(max_speed_mps, dtype=np.float64)
    tb = np.asarray(boost_s, dtype=np.float64)
    frac = np.where(tb > 0, np.minimum(t / np.where(tb > 0, tb, 1.0), 1.0), 1.0)
    return np.asarray(v0 + (vm - v0) * frac, dtype=np.float64)


def boost_offset_m(itype: InterceptorType) -> float:
    """``c`` in ``fly_out_distance(t) = max_speed · t - c`` for ``t >= boost_time_s``: the
    distance lost to the boost ramp, ``(max_speed - launch_speed) · boost_time / 2``."""
    return 0.5 * (itype.max_speed_mps - itype.launch_speed_mps) * itype.boost_time_s


def fly_out_distance_m(itype: InterceptorType, t_s: npt.ArrayLike) -> FloatArray:
    """Distance flown in a straight line after ``t_s`` of flight (the integral of the profile)."""
    t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
    v0, vm, tb = itype.launch_speed_mps, itype.max_speed_mps, itype.boost_time_s
    in_boost = v0 * t + 0.5 * (vm - v0) * t * t / tb if tb > 0 else vm * t
    return np.asarray(np.where(t < tb, in_boost, vm * t - boost_offset_m(itype)), dtype=np.float64)


@dataclass(frozen=True)
class InterceptorParams:
    """The type parameters broadcast per interceptor (struct of arrays, each (N,))."""

    max_speed_mps: FloatArray
    launch_speed_mps: FloatArray
    boost_time_s: FloatArray
    max_accel_mps2: FloatArray
    max_flight_time_s: FloatArray
    lethal_radius_m: FloatArray
    pk: FloatArray
    nav_constant: FloatArray
    seeker_range_m: FloatArray
    seeker_noise_rad: FloatArray
    autopilot_lag_s: FloatArray

    @staticmethod
    def of(types: Sequence[InterceptorType], type_index: IntArray) -> InterceptorParams:
        """Gather each interceptor's parameters from its type."""

        def col(get: Callable[[InterceptorType], float]) -> FloatArray:
            return np.array([get(t) for t in types], dtype=np.float64)[type_index]

        return InterceptorParams(
            max_speed_mps=col(lambda t: t.max_speed_mps),
            launch_speed_mps=col(lambda t: t.launch_speed_mps),
            boost_time_s=col(lambda t: t.boost_time_s),
            max_accel_mps2=col(lambda t: t.max_accel_mps2),
            max_flight_time_s=col(lambda t: t.max_flight_time_s),
            lethal_radius_m=col(lambda t: t.lethal_radius_m),
            pk=col(lambda t: t.pk),
            nav_constant=col(lambda t: t.nav_constant),
            seeker_range_m=col(lambda t: t.seeker_range_m),
            seeker_noise_rad=col(lambda t: t.seeker_noise_rad),
            autopilot_lag_s=col(lambda t: t.autopilot_lag_s),
        )


@dataclass(frozen=True)
class InterceptorState:
    """N interceptors in flight (struct of arrays; ECEF metres, seconds).

    ``time_s`` is each interceptor's own clock (it starts at ``launch_time_s``); ``accel_mps2``
    is the achieved airframe (lateral) acceleration of the last step; ``alive`` is false once
    an interceptor has detonated or self-destructed.
    """

    pos: FloatArray
    vel: FloatArray
    accel_mps2: FloatArray
    time_s: FloatArray
    launch_time_s: FloatArray
    type_index: IntArray
    target_id: IntArray
    alive: BoolArray
    seeker_locked: BoolArray
    params: InterceptorParams
    #: The true range was closing at the end of the last step (the fuze's memory).
    closing: BoolArray

    @property
    def size(self) -> int:
        return int(self.pos.shape[0])

    @property
    def flight_time_s(self) -> FloatArray:
        return np.asarray(self.time_s - self.launch_time_s, dtype=np.float64)


def launch(
    types: Sequence[InterceptorType],
    type_index: npt.ArrayLike,
    pos: npt.ArrayLike,
    direction: npt.ArrayLike,
    launch_time_s: npt.ArrayLike,
    target_id: npt.ArrayLike,
) -> InterceptorState:
    """N interceptors leaving ``pos`` (N,3) along ``direction`` (N,3) at their launch speed."""
    idx = np.atleast_1d(np.asarray(type_index, dtype=np.int64))
    n = idx.size
    if not types:
        raise ValueError("types: at least one interceptor type")
    if n and (idx.min() < 0 or idx.max() >= len(types)):
        raise ValueError(f"type_index: values in [0, {len(types)}), got {idx.min()}..{idx.max()}")
    p = np.asarray(pos, dtype=np.float64).reshape(n, 3)
    d = np.asarray(direction, dtype=np.float64).reshape(n, 3)
    norm = np.linalg.norm(d, axis=1)
    if np.any(~(norm > 0)):
        raise ValueError(
            f"direction: zero or non-finite rows {np.flatnonzero(~(norm > 0)).tolist()}"
        )
    params = InterceptorParams.of(types, idx)
    t0 = np.broadcast_to(np.asarray(launch_time_s, dtype=np.float64), (n,)).copy()
    return InterceptorState(
        pos=p.copy(),
        vel=d / norm[:, None] * params.launch_speed_mps[:, None],
        accel_mps2=np.zeros((n, 3)),
        time_s=t0.copy(),
        launch_time_s=t0,
        type_index=idx,
        target_id=np.broadcast_to(np.asarray(target_id, dtype=np.int64), (n,)).copy(),
        alive=np.ones(n, dtype=np.bool_),
        seeker_locked=np.zeros(n, dtype=np.bool_),
        params=params,
        closing=np.zeros(n, dtype=np.bool_),
    )


def _mask(state: InterceptorState, which: npt.ArrayLike) -> BoolArray:
    w = np.asarray(which)
    if w.dtype == np.bool_:
        return np.asarray(np.broadcast_to(w, (state.size,)), dtype=np.bool_)
    m = np.zeros(state.size, dtype=np.bool_)
    m[w.astype(np.int64)] = True
    return m


def self_destruct(state: InterceptorState, which: npt.ArrayLike) -> InterceptorState:
    """The interceptors ``which`` (indices or a mask) destroy themselves (e.g. target died)."""
    return replace(state, alive=state.alive & ~_mask(state, which))


def retarget(
    state: InterceptorState, which: npt.ArrayLike, target_id: npt.ArrayLike
) -> InterceptorState:
    """Point the interceptors ``which`` at ``target_id``; their seeker must acquire anew.

    The caller then gives the new target's track (and truth) for those rows in :func:`step`."""
    m = _mask(state, which)
    tid = state.target_id.copy()
    tid[m] = np.asarray(target_id, dtype=np.int64)
    return replace(
        state, target_id=tid, seeker_locked=state.seeker_locked & ~m, closing=state.closing & ~m
    )


def gravity_ecef(pos: FloatArray, vel: FloatArray) -> FloatArray:
    """Apparent gravity in ECEF (N,3): point-mass gravitation, centrifugal and Coriolis terms."""
    r = np.linalg.norm(pos, axis=1, keepdims=True)
    grav = -WGS84_GM * pos / (r * r * r)
    w = np.broadcast_to(OMEGA_ECEF, pos.shape)
    centrifugal = -np.cross(w, np.cross(w, pos))
    coriolis = -2.0 * np.cross(w, vel)
    return np.asarray(grav + centrifugal + coriolis, dtype=np.float64)


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.einsum("ij,ij->i", a, b), dtype=np.float64)


def _unit(a: FloatArray) -> FloatArray:
    n = np.linalg.norm(a, axis=1, keepdims=True)
    return np.asarray(a / np.where(n > 0, n, 1.0), dtype=np.float64)


def _across(a: FloatArray, unit_axis: FloatArray) -> FloatArray:
    """The part of ``a`` perpendicular to ``unit_axis`` (row-wise)."""
    return np.asarray(a - unit_axis * _dot(a, unit_axis)[:, None], dtype=np.float64)


def guidance_accel(
    pos: FloatArray,
    vel: FloatArray,
    target_pos: FloatArray,
    target_vel: FloatArray,
    target_acc: FloatArray | None,
    nav_constant: FloatArray,
    law: GuidanceLaw = "apn",
) -> FloatArray:
    """The guidance law's acceleration demand (N,3), before projection, compensation and limit.

    ``pn``: true proportional navigation ``N Vc Ω × r̂ = N Vc v⊥/|r|`` (Zarchan ch. 2);
    ``apn``: plus ``N a_T⊥ / 2`` (Zarchan ch. 8; equals PN when ``target_acc`` is None);
    ``pursuit``: pure pursuit, turning the velocity toward the line of sight.
    """
    r = target_pos - pos
    rng_m = np.linalg.norm(r, axis=1)
    safe = np.where(rng_m > 0, rng_m, 1.0)
    los = r / safe[:, None]
    if law == "pursuit":
        speed = np.linalg.norm(vel, axis=1)
        return np.asarray(
            PURSUIT_GAIN_PER_S * speed[:, None] * _across(los, _unit(vel)), dtype=np.float64
        )
    v = target_vel - vel
    closing = -_dot(los, v)
    a = (nav_constant * closing / safe)[:, None] * _across(v, los)
    if law == "apn" and target_acc is not None:
        a = a + 0.5 * nav_constant[:, None] * _across(target_acc, los)
    return np.asarray(a, dtype=np.float64)


@dataclass(frozen=True)
class SeekerMeasurement:
    """What the terminal seeker reports: the target's position and velocity in ECEF (N,3), as
    the interceptor's navigation plus the measured relative state, and ``valid`` (N,): the true
    range is within the seeker range (rows not valid hold NaN)."""

    pos: FloatArray
    vel: FloatArray
    valid: BoolArray


def _cross_axes(r: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Two unit vectors spanning the plane perpendicular to each row of ``r``."""
    u = _unit(r)
    helper = np.where(np.abs(u[:, [2]]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = _unit(np.cross(u, helper))
    return e1, np.cross(u, e1)


def seeker_measure(
    state: InterceptorState,
    true_target_pos: FloatArray,
    true_target_vel: FloatArray,
    normal: FloatArray | None = None,
    rng: np.random.Generator | None = None,
) -> SeekerMeasurement:
    """The seeker's measurement of the true target (N,3 truth in; the caller knows it).

    Model: the line of sight is measured with angle noise σ = ``seeker_noise_rad`` (1σ per
    cross axis): the relative position gets cross-LOS errors ``σ |r| n₁, σ |r| n₂`` and the
    relative velocity ``σ |v_rel| n₃, σ |v_rel| n₄`` (the LOS-rate estimate is as noisy as the
    angle); range and range rate are exact. ``normal`` (N,4) are the standard normals
    (drawn from ``rng`` when None; zero noise when both are None). Valid where the interceptor
    is alive, has a seeker and the true range is within ``seeker_range_m``.
    """
    n = state.size
    r = np.asarray(true_target_pos, dtype=np.float64) - state.pos
    v = np.asarray(true_target_vel, dtype=np.float64) - state.vel
    rng_m = np.linalg.norm(r, axis=1)
    p = state.params
    valid = state.alive & (p.seeker_range_m > 0) & (rng_m <= p.seeker_range_m)
    if normal is None:
        normal = rng.standard_normal((n, 4)) if rng is not None else np.zeros((n, 4))
    e1, e2 = _cross_axes(r)
    sig = p.seeker_noise_rad
    dr = (sig * rng_m)[:, None] * (normal[:, [0]] * e1 + normal[:, [1]] * e2)
    dv = (sig * np.linalg.norm(v, axis=1))[:, None] * (normal[:, [2]] * e1 + normal[:, [3]] * e2)
    nan = np.where(valid[:, None], 0.0, np.nan)
    return SeekerMeasurement(
        pos=state.pos + r + dr + nan, vel=state.vel + v + dv + nan, valid=valid
    )


def closest_approach(
    rel0: FloatArray, rel1: FloatArray, closing_before: BoolArray | None = None
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """The CPA of straight-line relative motion from ``rel0`` to ``rel1`` (N,3) over one step.

    With ``d = rel1 - rel0`` and ``rel(s) = rel0 + s d``, s ∈ [0, 1], the range is smallest at
    ``s* = clip(-rel0·d / d·d, 0, 1)``. A CPA lies *inside* the step when the range rate turns
    from closing to opening: ``rel0·d < 0 <= rel1·d``. ``closing_before`` (N,) says the range
    was still closing at the end of the previous step: the relative velocity turns between
    steps, so the minimum can fall at the step boundary (then ``s* = 0``), where neither step's
    own test sees it. Returns ``(inside, s*, miss = |rel(s*)|)``.
    """
    d = rel1 - rel0
    dd = _dot(d, d)
    a0 = _dot(rel0, d)
    s = np.clip(-a0 / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    closing = a0 < 0 if closing_before is None else (a0 < 0) | closing_before
    inside = closing & (_dot(rel1, d) >= 0)
    miss = np.linalg.norm(rel0 + s[:, None] * d, axis=1)
    return inside, np.asarray(s, dtype=np.float64), np.asarray(miss, dtype=np.float64)


@dataclass(frozen=True)
class StepResult:
    """What happened during one step, per interceptor (N,): ``detonated`` at a CPA (with
    ``miss_m``, ``point`` the interceptor's position at the CPA, ``t_cpa_s``, ``kill``), or
    ``self_destructed`` at the flight-time limit. NaN where not detonated."""

    detonated: BoolArray
    self_destructed: BoolArray
    kill: BoolArray
    miss_m: FloatArray
    point: FloatArray
    t_cpa_s: FloatArray


def step(
    state: InterceptorState,
    dt: float | FloatArray,
    target_pos: FloatArray,
    target_vel: FloatArray,
    target_acc: FloatArray | None = None,
    *,
    true_target_pos: FloatArray,
    true_target_pos_next: FloatArray,
    seeker: SeekerMeasurement | None = None,
    law: GuidanceLaw = "apn",
    kill_uniform: FloatArray | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[InterceptorState, StepResult]:
    """Advance every live interceptor by ``dt`` (scalar or (N,) seconds).

    Guidance steers at the tracked target (``target_pos/vel/acc``, (N,3) each, the caller's
    estimate, not truth) or, where ``seeker`` is valid, at the seeker's measurement. Fuzing
    uses the truth: ``true_target_pos`` at the start of the step and ``true_target_pos_next``
    at its end. The kill draw is ``kill_uniform`` (N,) or ``rng.random(N)``.
    """
    n = state.size
    p = state.params
    h = np.broadcast_to(np.asarray(dt, dtype=np.float64), (n,))
    live = state.alive
    h = np.where(live, h, 0.0)
    tp = np.asarray(target_pos, dtype=np.float64)
    tv = np.asarray(target_vel, dtype=np.float64)
    ta = None if target_acc is None else np.asarray(target_acc, dtype=np.float64)
    locked = state.seeker_locked
    if seeker is not None:
        use = seeker.valid[:, None]
        tp = np.where(use, seeker.pos, tp)
        tv = np.where(use, seeker.vel, tv)
        locked = locked | seeker.valid

    vhat = _unit(state.vel)
    g = gravity_ecef(state.pos, state.vel)
    g_across = _across(g, vhat)
    demand = guidance_accel(state.pos, state.vel, tp, tv, ta, p.nav_constant, law)
    cmd = _across(demand, vhat) - g_across
    norm = np.linalg.norm(cmd, axis=1)
    cmd = cmd * np.minimum(1.0, p.max_accel_mps2 / np.where(norm > 0, norm, 1.0))[:, None]
    tau = p.autopilot_lag_s
    alpha = np.where(tau > 0, -np.expm1(-h / np.where(tau > 0, tau, 1.0)), 1.0)
    achieved = _across(state.accel_mps2 + alpha[:, None] * (cmd - state.accel_mps2), vhat)

    flight1 = state.flight_time_s + h
    speed1 = speed_profile_mps(flight1, p.launch_speed_mps, p.max_speed_mps, p.boost_time_s)
    vel1 = _unit(state.vel + (achieved + g_across) * h[:, None]) * speed1[:, None]
    vel1 = np.where(live[:, None], vel1, state.vel)
    pos1 = state.pos + 0.5 * (state.vel + vel1) * h[:, None]

    rel0 = np.asarray(true_target_pos, dtype=np.float64) - state.pos
    rel1 = np.asarray(true_target_pos_next, dtype=np.float64) - pos1
    inside, s, miss = closest_approach(rel0, rel1, state.closing & live)
    armed = flight1 >= FUZE_ARM_TIME_S
    detonated = live & armed & inside
    expired = live & ~detonated & (flight1 >= p.max_flight_time_s - _TIME_TOL_S)
    if np.any(detonated):
        if kill_uniform is None:
            if rng is None:
                raise ValueError("kill_uniform: give the kill draws or an rng")
            kill_uniform = rng.random(n)
        kill = detonated & (miss <= p.lethal_radius_m) & (np.asarray(kill_uniform) < p.pk)
    else:
        kill = np.zeros(n, dtype=np.bool_)
    nan = np.where(detonated, 0.0, np.nan)
    result = StepResult(
        detonated=detonated,
        self_destructed=expired,
        kill=np.asarray(kill, dtype=np.bool_),
        miss_m=miss + nan,
        point=state.pos + s[:, None] * (pos1 - state.pos) + nan[:, None],
        t_cpa_s=state.time_s + s * h + nan,
    )
    new = replace(
        state,
        pos=pos1,
        vel=vel1,
        accel_mps2=np.where(live[:, None], achieved, state.accel_mps2),
        time_s=state.time_s + h,
        alive=live & ~detonated & ~expired,
        seeker_locked=locked & live,
        closing=live & (_dot(rel1, rel1 - rel0) < 0),
    )
    return new, result


# --- keyed noise: reproducible per engagement, independent of the batch ---------------------

_MASK64: Final = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser (Steele, Lea & Flood, OOPSLA 2014), vectorized, wrapping."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def keyed_uniform(seed: int, key: npt.ArrayLike, counter: npt.ArrayLike, k: int) -> FloatArray:
    """Uniforms in (0, 1), shape (n, k): a hash of (seed, key[i], counter[i], column).

    numpy's generators draw one stream for a whole array, so a row's numbers would depend on
    the batch; this counter-based draw makes engagement ``key`` see the same noise at step
    ``counter`` whatever else is in the batch (the vectorized run equals a loop of single runs).
    """
    kk = np.asarray(key, dtype=np.int64).astype(np.uint64).reshape(-1, 1)
    cc = np.broadcast_to(np.asarray(counter, dtype=np.int64), kk.shape[:1]).astype(np.uint64)
    col = np.arange(k, dtype=np.uint64)[None, :]
    base = _splitmix64(np.full(1, seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64))
    z = _splitmix64(_splitmix64(_splitmix64(base ^ kk) ^ cc.reshape(-1, 1)) ^ col)
    return np.asarray(((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53, dtype=np.float64)


def keyed_normal(seed: int, key: npt.ArrayLike, counter: npt.ArrayLike, k: int) -> FloatArray:
    """Standard normals (n, k) keyed like :func:`keyed_uniform` (Box–Muller)."""
    u = keyed_uniform(seed, key, counter, 2 * k)
    return np.asarray(
        np.sqrt(-2.0 * np.log(u[:, :k])) * np.cos(2.0 * np.pi * u[:, k:]), dtype=np.float64
    )


# --- a batch of engagements ------------------------------------------------------------------

#: Truth of each engagement's target: ``truth(t_s (n,), engagement_id (n,)) -> (pos, vel, acc)``
#: each (n,3) ECEF (a :class:`argus.trajectory.TrajectorySet`'s ``state_at`` fits once the
#: validity flag is dropped).
TruthFn = Callable[[FloatArray, IntArray], tuple[FloatArray, FloatArray, FloatArray]]
#: The tracked estimate: ``track(t_s, engagement_id, true_pos, true_vel, true_acc) -> (pos, vel,
#: acc)``; the default is the truth itself.
TrackFn = Callable[
    [FloatArray, IntArray, FloatArray, FloatArray, FloatArray],
    tuple[FloatArray, FloatArray, FloatArray],
]


@dataclass(frozen=True)
class EngagementResult:
    """The outcome of each engagement (N,): ``detonated`` at a CPA (``miss_m``, ``point``,
    ``t_end_s`` the CPA time, ``kill``), or ``self_destructed`` (``t_end_s`` then) or neither
    (still flying at ``t_max_s``); ``seeker_acquired``; ``steps`` the steps taken."""

    detonated: BoolArray
    self_destructed: BoolArray
    kill: BoolArray
    miss_m: FloatArray
    point: FloatArray
    t_end_s: FloatArray
    seeker_acquired: BoolArray
    steps: int


def fly_engagements(
    types: Sequence[InterceptorType],
    type_index: npt.ArrayLike,
    launch_pos: npt.ArrayLike,
    launch_time_s: npt.ArrayLike,
    truth: TruthFn,
    *,
    track: TrackFn | None = None,
    engagement_id: npt.ArrayLike | None = None,
    law: GuidanceLaw = "apn",
    use_seeker: bool = True,
    dt_far_s: float = 0.05,
    dt_near_s: float = 0.002,
    near_tgo_s: float = 1.5,
    t_max_s: float | None = None,
    seed: int = 0,
    launch_direction: npt.ArrayLike | None = None,
) -> EngagementResult:
    """Fly N interceptors, one per engagement, each against its target until CPA or the end.

    Each interceptor is launched at ``launch_time_s`` toward the predicted intercept point of
    its *tracked* target (the envelope's fly-out solution; toward the target itself if there
    is none) unless ``launch_direction`` is given. Each step, per interceptor: ``dt_far_s``
    while the time to go (range / closing speed, on the track) exceeds ``near_tgo_s``, else
    ``dt_near_s``. Seeker noise and kill draws are :func:`keyed_normal` / :func:`keyed_uniform`
    of (``seed``, ``engagement_id``, step), so a row's result does not depend on the batch.
    The loop is over time steps only; every step is vectorized over the engagements.
    """
    from argus.defense.envelope import fly_out_intercept  # envelope imports this module

    idx = np.atleast_1d(np.asarray(type_index, dtype=np.int64))
    n = idx.size
    eid = np.arange(n) if engagement_id is None else np.asarray(engagement_id, dtype=np.int64)
    t0 = np.broadcast_to(np.asarray(launch_time_s, dtype=np.float64), (n,)).copy()
    lp = np.asarray(launch_pos, dtype=np.float64).reshape(n, 3)

    def tracked(t: FloatArray) -> tuple[FloatArray, ...]:
        tpos, tvel, tacc = truth(t, eid)
        if track is None:
            return tpos, tvel, tacc, tpos, tvel, tacc
        return (tpos, tvel, tacc, *track(t, eid, tpos, tvel, tacc))

    _, _, _, kpos, kvel, _ = tracked(t0)
    if launch_direction is None:
        direction = kpos - lp
        for k, itype in enumerate(types):
            rows = np.flatnonzero(idx == k)
            if rows.size:
                t_hit, pip = fly_out_intercept(lp[rows], kpos[rows], kvel[rows], itype)
                ok = np.isfinite(t_hit)
                direction[rows[ok]] = pip[ok] - lp[rows[ok]]
    else:
        direction = np.asarray(launch_direction, dtype=np.float64).reshape(n, 3)
    state = launch(types, idx, lp, direction, t0, eid)
    limit = state.params.max_flight_time_s
    t_stop = t0 + (limit if t_max_s is None else np.minimum(limit, t_max_s - t0))

    det = np.zeros(n, dtype=np.bool_)
    sd = np.zeros(n, dtype=np.bool_)
    kill = np.zeros(n, dtype=np.bool_)
    miss = np.full(n, np.nan)
    point = np.full((n, 3), np.nan)
    t_end = np.full(n, np.nan)
    acquired = np.zeros(n, dtype=np.bool_)
    steps = 0
    counter = np.zeros(n, dtype=np.int64)
    while np.any(state.alive):
        t = state.time_s
        tpos, tvel, _, kpos, kvel, kacc = tracked(t)
        rel = kpos - state.pos
        rng_m = np.linalg.norm(rel, axis=1)
        closing = -_dot(rel, kvel - state.vel) / np.where(rng_m > 0, rng_m, 1.0)
        tgo = np.where(closing > 0, rng_m / np.where(closing > 0, closing, 1.0), np.inf)
        dt = np.where(tgo > near_tgo_s, dt_far_s, dt_near_s)
        dt = np.minimum(dt, np.maximum(t_stop - t, 0.0))
        seeker = None
        if use_seeker:
            normal = keyed_normal(seed, eid, counter, 4)
            seeker = seeker_measure(state, tpos, tvel, normal=normal)
        tpos1, _, _ = truth(t + dt, eid)
        live = state.alive
        state, res = step(
            state,
            dt,
            kpos,
            kvel,
            kacc,
            true_target_pos=tpos,
            true_target_pos_next=tpos1,
            seeker=seeker,
            law=law,
            kill_uniform=keyed_uniform(seed + 1, eid, counter, 1)[:, 0],
        )
        counter = counter + live
        steps += 1
        acquired |= state.seeker_locked
        det |= res.detonated
        kill |= res.kill
        miss = np.where(res.detonated, res.miss_m, miss)
        point = np.where(res.detonated[:, None], res.point, point)
        t_end = np.where(res.detonated, res.t_cpa_s, t_end)
        sd |= res.self_destructed
        t_end = np.where(res.self_destructed, state.time_s, t_end)
        ran_out = state.alive & (state.time_s >= t_stop - _TIME_TOL_S)
        if np.any(ran_out):
            state = self_destruct(state, ran_out)
    return EngagementResult(
        detonated=det,
        self_destructed=sd,
        kill=kill,
        miss_m=miss,
        point=point,
        t_end_s=t_end,
        seeker_acquired=acquired,
        steps=steps,
    )
