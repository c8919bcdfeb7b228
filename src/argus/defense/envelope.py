"""Engagement envelopes: where and when a launcher's interceptor can meet a target (engine layer).

A *planning approximation*, written by hand (closed forms no library offers): the target is
assumed to fly at constant velocity from its current tracked state, the interceptor in a
straight line from the launcher at the speed profile of the flight model
(:func:`argus.defense.interceptor.speed_profile_mps`: a linear boost ramp, then
``max_speed_mps``). The flight model's guided path is close to that line when the launch is
aimed at the predicted intercept point (PIP) and gravity is compensated; it departs from it for
manoeuvring targets and track errors, which the envelope ignores.

Intercept condition, launcher ``L``, target ``p + v t``, ``d = p - L``: ``|d + v t| = D(t)`` with
``D`` the fly-out distance. For a constant speed ``s`` (:func:`predict_intercept`) and, after
the boost, for the profile ``D(t) = s t - c`` (``c`` the boost offset), squaring gives the
quadratic ``(v·v - s²) t² + 2 (d·v + s c) t + (d·d - c²) = 0``; the earliest root with
``s t - c >= 0`` is the intercept. An intercept inside the boost (``D(t_b) >= |d + v t_b|``)
is found by bisection of ``D(t) - |d + v t|`` on ``[0, t_b]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from argus.defense.interceptor import (
    InterceptorType,
    boost_offset_m,
    fly_out_distance_m,
)
from argus.geo import geodetic_altitude_m

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_BISECTION_STEPS = 60


def _earliest_root(
    d: FloatArray, v: FloatArray, speed: FloatArray, offset: FloatArray
) -> FloatArray:
    """Earliest ``t >= offset/speed`` (and > 0) with ``|d + v t| = speed t - offset``; inf if none.

    ``d, v`` are (..., 3); ``speed, offset`` broadcast against (...)."""
    a = np.einsum("...i,...i->...", v, v) - speed * speed
    b = 2.0 * (np.einsum("...i,...i->...", d, v) + speed * offset)
    q = np.einsum("...i,...i->...", d, d) - offset * offset
    t_min = np.maximum(offset / np.where(speed > 0, speed, 1.0), 0.0)
    disc = b * b - 4.0 * a * q
    sq = np.sqrt(np.maximum(disc, 0.0))
    linear = np.abs(a) <= 1e-12 * np.maximum(speed * speed, 1.0)
    safe_a = np.where(linear, 1.0, a)
    r1 = (-b - sq) / (2.0 * safe_a)
    r2 = (-b + sq) / (2.0 * safe_a)
    lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
    ok_lo = (disc >= 0) & (lo >= t_min) & (lo > 0)
    ok_hi = (disc >= 0) & (hi >= t_min) & (hi > 0)
    t = np.where(ok_lo, lo, np.where(ok_hi, hi, np.inf))
    safe_b = np.where(b != 0, b, 1.0)
    t_lin = np.where((b != 0) & (-q / safe_b >= t_min) & (-q / safe_b > 0), -q / safe_b, np.inf)
    return np.asarray(np.where(linear, t_lin, t), dtype=np.float64)


def predict_intercept(
    launcher_pos: npt.ArrayLike,
    target_pos: npt.ArrayLike,
    target_vel: npt.ArrayLike,
    speed: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Constant-velocity intercept of T targets by a constant-speed interceptor from B launchers.

    ``launcher_pos`` (B,3), ``target_pos``/``target_vel`` (T,3), ``speed`` scalar or (B,).
    Returns the time to intercept (B,T) (inf when the interceptor cannot catch the target) and
    the predicted intercept point ``p + v t`` (B,T,3) (NaN when none).
    """
    lp = np.asarray(launcher_pos, dtype=np.float64).reshape(-1, 3)
    tp = np.asarray(target_pos, dtype=np.float64).reshape(-1, 3)
    tv = np.asarray(target_vel, dtype=np.float64).reshape(-1, 3)
    s = np.broadcast_to(np.asarray(speed, dtype=np.float64), (lp.shape[0],))[:, None]
    if np.any(~(s > 0)):
        raise ValueError("speed: must be > 0")
    d = tp[None, :, :] - lp[:, None, :]
    v = np.broadcast_to(tv[None, :, :], d.shape)
    t = _earliest_root(d, v, s, np.zeros_like(s))
    return t, _pip(tp, tv, t)


def _pip(tp: FloatArray, tv: FloatArray, t: FloatArray) -> FloatArray:
    finite = np.isfinite(t)
    pip = tp + tv * np.where(finite, t, 0.0)[..., None]
    return np.asarray(np.where(finite[..., None], pip, np.nan), dtype=np.float64)


def fly_out_intercept(
    launcher_pos: npt.ArrayLike,
    target_pos: npt.ArrayLike,
    target_vel: npt.ArrayLike,
    itype: InterceptorType,
) -> tuple[FloatArray, FloatArray]:
    """Intercept time and PIP for the flight model's speed profile, row-wise (arrays broadcast
    against each other, (..., 3)); no range, time or altitude limit applied."""
    lp = np.asarray(launcher_pos, dtype=np.float64)
    tp = np.asarray(target_pos, dtype=np.float64)
    tv = np.asarray(target_vel, dtype=np.float64)
    d = tp - lp
    d, tv = np.broadcast_arrays(d, tv)
    tp = np.broadcast_to(tp, d.shape)
    s = np.full(d.shape[:-1], itype.max_speed_mps)
    t = _earliest_root(d, tv, s, np.full_like(s, boost_offset_m(itype)))
    tb = itype.boost_time_s
    if tb > 0:
        gap_tb = fly_out_distance_m(itype, tb) - np.linalg.norm(d + tv * tb, axis=-1)
        in_boost = gap_tb >= 0
        if np.any(in_boost):
            lo = np.zeros(d.shape[:-1])
            hi = np.full(d.shape[:-1], tb)
            for _ in range(_BISECTION_STEPS):
                mid = 0.5 * (lo + hi)
                reached = fly_out_distance_m(itype, mid) >= np.linalg.norm(
                    d + tv * mid[..., None], axis=-1
                )
                hi = np.where(reached, mid, hi)
                lo = np.where(reached, lo, mid)
            t = np.where(in_boost, hi, t)
    return np.asarray(t, dtype=np.float64), _pip(tp, tv, t)


@dataclass(frozen=True)
class Envelope:
    """Per (launcher, target) pair (B,T): ``feasible``, the intercept time ``t_intercept_s``
    (inf when the interceptor never catches up), the PIP (B,T,3), its range from the launcher
    and its altitude, and why a pair is infeasible (``too_far``, ``too_long``, ``too_low``,
    ``too_high``; ``t_intercept_s`` inf is "no solution")."""

    feasible: BoolArray
    t_intercept_s: FloatArray
    pip: FloatArray
    range_m: FloatArray
    pip_alt_m: FloatArray
    too_far: BoolArray
    too_long: BoolArray
    too_low: BoolArray
    too_high: BoolArray


def engagement_envelope(
    launchers: npt.ArrayLike,
    types: InterceptorType | Sequence[InterceptorType],
    target_pos: npt.ArrayLike,
    target_vel: npt.ArrayLike,
) -> Envelope:
    """Which of B launchers (ECEF (B,3), one interceptor type each, or one for all) can engage
    which of T targets (tracked ECEF position and velocity, (T,3)): an intercept exists on the
    fly-out model, within ``max_range_m`` of the launcher, within ``max_flight_time_s``, at a
    PIP altitude in ``[min_intercept_alt_m, max_intercept_alt_m]`` (WGS-84 height)."""
    lp = np.asarray(launchers, dtype=np.float64).reshape(-1, 3)
    tp = np.asarray(target_pos, dtype=np.float64).reshape(-1, 3)
    tv = np.asarray(target_vel, dtype=np.float64).reshape(-1, 3)
    nb, nt = lp.shape[0], tp.shape[0]
    per = [types] * nb if isinstance(types, InterceptorType) else list(types)
    if len(per) != nb:
        raise ValueError(f"types: one per launcher ({nb}), got {len(per)}")
    t = np.full((nb, nt), np.inf)
    max_range = np.empty(nb)
    max_time = np.empty(nb)
    alt_lo = np.empty(nb)
    alt_hi = np.empty(nb)
    groups: dict[InterceptorType, list[int]] = {}
    for b, it in enumerate(per):
        groups.setdefault(it, []).append(b)
        max_range[b], max_time[b] = it.max_range_m, it.max_flight_time_s
        alt_lo[b], alt_hi[b] = it.min_intercept_alt_m, it.max_intercept_alt_m
    for it, rows in groups.items():  # one vectorized solve per distinct type
        t_rows, _ = fly_out_intercept(lp[rows][:, None, :], tp[None, :, :], tv[None, :, :], it)
        t[rows] = t_rows
    pip = _pip(tp[None, :, :], tv[None, :, :], t)
    rng_m = np.linalg.norm(pip - lp[:, None, :], axis=-1)
    alt = geodetic_altitude_m(np.where(np.isfinite(pip), pip, 0.0))
    alt = np.where(np.isfinite(t), alt, np.nan)
    too_far = np.isfinite(t) & (rng_m > max_range[:, None])
    too_long = np.isfinite(t) & (t > max_time[:, None])
    too_low = np.isfinite(t) & (alt < alt_lo[:, None])
    too_high = np.isfinite(t) & (alt > alt_hi[:, None])
    feasible = np.isfinite(t) & ~too_far & ~too_long & ~too_low & ~too_high
    return Envelope(
        feasible=feasible,
        t_intercept_s=t,
        pip=pip,
        range_m=rng_m,
        pip_alt_m=np.asarray(alt, dtype=np.float64),
        too_far=too_far,
        too_long=too_long,
        too_low=too_low,
        too_high=too_high,
    )
