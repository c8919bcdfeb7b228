"""Interceptor miss distances: APN with the terminal seeker against four target kinds, with references.

SM6_CLASS interceptors (``argus.defense.interceptor``) launched from one battery (35° N, 20° E,
sea level) at ballistic re-entry-like targets (2.3-2.7 km/s, descending 35-50°, from 45-60 km
altitude at 55-70 km ground range, gravity as their only acceleration) and cruise-like targets
(250 m/s, 30-100 m altitude, 30-45 km out), each non-manoeuvring or weaving at 3 g
(sinusoidal, horizontal, across the velocity, period 2-4 s, random phase). The guidance sees
the tracked state: truth plus a slowly drifting error (each axis a sinusoid of random period
5-20 s and phase: position 30 m, velocity 3 m/s, acceleration 5 m/s² RMS per axis, the
acceleration taken 0.5 s late, as a tracker's estimate lags) until the seeker (15 km, 1 mrad)
acquires. References in the same run: PN on the track alone (no
seeker) and pure pursuit with the seeker.

Usage::

    python benchmarks/bench_intercept.py [--n 400] [--seed 0]

Target: median miss < 3 m against non-manoeuvring targets (APN + seeker).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from _common import cli, report
from argus.defense.interceptor import (
    SM6_CLASS,
    FloatArray,
    GuidanceLaw,
    IntArray,
    fly_engagements,
    keyed_uniform,
)
from argus.geo import G0, enu_axes_rad, geodetic_to_ecef_rad

LAT, LON = np.radians(35.0), np.radians(20.0)
LAUNCHER = geodetic_to_ecef_rad(LAT, LON, 0.0)
ENU = np.stack(enu_axes_rad(LAT, LON))  # rows: east, north, up in ECEF
#: The track error model (RMS per axis): position (m), velocity (m/s), acceleration (m/s²).
TRACK_SIGMA = (30.0, 3.0, 5.0)
#: How late the tracked acceleration is (s): the lag of a tracker's acceleration estimate.
ACC_LAG_S = 0.5
WEAVE_G = 3.0
SCENARIOS = ("ballistic", "ballistic weave 3g", "cruise", "cruise weave 3g")
#: (label, guidance law, seeker on)
GUIDANCE: tuple[tuple[str, GuidanceLaw, bool], ...] = (
    ("APN + seeker", "apn", True),
    ("PN, track only", "pn", False),
    ("pursuit + seeker", "pursuit", True),
)

Truth = Callable[[FloatArray, IntArray], tuple[FloatArray, FloatArray, FloatArray]]


def _targets(kind: str, n: int, seed: int) -> Truth:
    """Truth of n targets of one kind, as ``truth(t, ids)`` (ECEF), the state at t = 0 drawn
    from ``seed``."""
    rng = np.random.default_rng(seed)
    az = rng.uniform(-0.3, 0.3, n)  # bearing of the start point from north (rad)
    aim = rng.uniform(-3e3, 3e3, (n, 2))  # where the target is headed, near the battery (EN)
    if kind.startswith("ballistic"):
        ground = rng.uniform(55e3, 70e3, n)
        alt = rng.uniform(45e3, 60e3, n)
        speed = rng.uniform(2.3e3, 2.7e3, n)
        gamma = rng.uniform(np.radians(35), np.radians(50), n)
        acc0 = np.tile([0.0, 0.0, -G0], (n, 1))
    else:
        ground = rng.uniform(30e3, 45e3, n)
        alt = rng.uniform(30.0, 100.0, n)
        speed = np.full(n, 250.0)
        gamma = np.zeros(n)
        acc0 = np.zeros((n, 3))
    start = np.stack([ground * np.sin(az), ground * np.cos(az), alt], axis=1)
    horiz = np.concatenate([aim, np.zeros((n, 1))], axis=1) - start * [1, 1, 0]
    horiz /= np.linalg.norm(horiz, axis=1, keepdims=True)
    vel = speed[:, None] * (np.cos(gamma)[:, None] * horiz + [0, 0, 1] * -np.sin(gamma)[:, None])
    weave = WEAVE_G * G0 if "weave" in kind else 0.0
    side = np.cross(horiz, [0.0, 0.0, 1.0])  # horizontal, across the velocity
    omega = 2 * np.pi / rng.uniform(2.0, 4.0, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    p0, v0 = LAUNCHER + start @ ENU, vel @ ENU
    a0, side_e = acc0 @ ENU, side @ ENU

    def truth(t: FloatArray, ids: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        tt = t[:, None]
        w, ph = omega[ids][:, None], phase[ids][:, None]
        # weave acceleration A sin(ωt + φ) across the track, starting from no offset or drift
        off = -(weave / w**2) * (np.sin(w * tt + ph) - np.sin(ph) - w * tt * np.cos(ph))
        doff = -(weave / w) * (np.cos(w * tt + ph) - np.cos(ph))
        ddoff = weave * np.sin(w * tt + ph)
        s = side_e[ids]
        pos = p0[ids] + v0[ids] * tt + 0.5 * a0[ids] * tt**2 + off * s
        return pos, v0[ids] + a0[ids] * tt + doff * s, a0[ids] + ddoff * s

    return truth


def track_error(
    seed: int, truth: Truth
) -> Callable[..., tuple[FloatArray, FloatArray, FloatArray]]:
    """The tracked estimate: truth plus a drifting error, per engagement and axis a sinusoid of
    period U[5, 20] s and random phase, RMS ``TRACK_SIGMA`` (deterministic in (seed, id)); the
    acceleration is the truth's of ``ACC_LAG_S`` earlier (a tracker's estimate lags)."""

    def track(
        t: FloatArray, ids: IntArray, pos: FloatArray, vel: FloatArray, acc: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        acc = truth(t - ACC_LAG_S, ids)[2]
        u = keyed_uniform(seed, ids, 0, 18)
        period, phase = 5.0 + 15.0 * u[:, :9], 2 * np.pi * u[:, 9:]
        err = np.sqrt(2.0) * np.sin(2 * np.pi * t[:, None] / period + phase)
        sp, sv, sa = TRACK_SIGMA
        return pos + sp * err[:, 0:3], vel + sv * err[:, 3:6], acc + sa * err[:, 6:9]

    return track


def miss_distance_table(n: int, seed: int) -> list[dict[str, Any]]:
    """One row per (scenario, guidance): miss-distance median / p90 / p99 (m), kill rate, the
    fraction within the lethal radius, the share detonated, steps and wall time."""
    rows: list[dict[str, Any]] = []
    launch = np.tile(LAUNCHER, (n, 1))
    for k, kind in enumerate(SCENARIOS):
        truth = _targets(kind, n, seed + 1000 * k)
        for label, law, seeker in GUIDANCE:
            t0 = time.perf_counter()
            res = fly_engagements(
                [SM6_CLASS],
                np.zeros(n, dtype=np.int64),
                launch,
                0.0,
                truth,
                track=track_error(seed + 7, truth),
                law=law,
                use_seeker=seeker,
                seed=seed,
            )
            elapsed = time.perf_counter() - t0
            miss = np.where(res.detonated, res.miss_m, np.inf)  # no CPA counts as a miss
            rows.append(
                {
                    "scenario": kind,
                    "guidance": label,
                    "n": n,
                    "median_m": float(np.median(miss)),
                    "p90_m": float(np.percentile(miss, 90)),
                    "p99_m": float(np.percentile(miss, 99)),
                    "kill_rate": float(res.kill.mean()),
                    "lethal_fraction": float(np.mean(miss <= SM6_CLASS.lethal_radius_m)),
                    "detonated": float(res.detonated.mean()),
                    "steps": res.steps,
                    "seconds": elapsed,
                }
            )
    return rows


TABLE = report.PipeTable(
    [
        ("scenario", 18),
        ("guidance", 16),
        ("n", 5),
        ("median (m)", 10),
        ("p90 (m)", 9),
        ("p99 (m)", 9),
        ("CPA", 6),
        ("in lethal r", 11),
        ("kill rate", 9),
        ("steps", 5),
        ("time (s)", 8),
    ],
    left=2,
)


def _m(x: float) -> str:
    return "inf" if not np.isfinite(x) else (f"{x:.2f}" if x < 10 else f"{x:.0f}")


def _parse() -> argparse.Namespace:
    ap = cli.parser(__doc__, full_doc=True)
    ap.add_argument("--n", type=int, default=400, help="engagements per scenario")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cli.require(ap, args, at_least_one=["n"])
    return args


def main(args: argparse.Namespace) -> int:
    load0 = os.getloadavg()[0]
    print(
        f"# bench_intercept  {SM6_CLASS.name}: {SM6_CLASS.max_speed_mps:.0f} m/s, "
        f"{SM6_CLASS.max_accel_g:.0f} g, lag {SM6_CLASS.autopilot_lag_s} s, lethal radius "
        f"{SM6_CLASS.lethal_radius_m:.0f} m, pk {SM6_CLASS.pk}; seeker "
        f"{SM6_CLASS.seeker_range_m / 1e3:.0f} km, {SM6_CLASS.seeker_noise_rad * 1e3:g} mrad; "
        f"track error {TRACK_SIGMA[0]:g} m / {TRACK_SIGMA[1]:g} m/s / {TRACK_SIGMA[2]:g} m/s² RMS"
    )
    print(f"# machine: {report.machine()}")
    print()
    print(TABLE.header())
    rows = miss_distance_table(args.n, args.seed)
    for r in rows:
        print(
            TABLE.row(
                [
                    r["scenario"],
                    r["guidance"],
                    str(r["n"]),
                    _m(r["median_m"]),
                    _m(r["p90_m"]),
                    _m(r["p99_m"]),
                    f"{r['detonated']:.0%}",
                    f"{r['lethal_fraction']:.1%}",
                    f"{r['kill_rate']:.1%}",
                    str(r["steps"]),
                    f"{r['seconds']:.1f}",
                ]
            )
        )
    print()
    print(f"# {report.load_average(load0)}")
    by = {(r["scenario"], r["guidance"]): r for r in rows}
    main_label, ref_label = GUIDANCE[0][0], GUIDANCE[1][0]
    worst_plain = max(by[(s, main_label)]["median_m"] for s in ("ballistic", "cruise"))
    parts = [
        f"median miss {s} {_m(by[(s, main_label)]['median_m'])} m "
        f"(PN track-only {_m(by[(s, ref_label)]['median_m'])} m, "
        f"{by[(s, ref_label)]['median_m'] / max(by[(s, main_label)]['median_m'], 1e-9):.0f}x)"
        for s in SCENARIOS
    ]
    kill = np.mean([by[(s, main_label)]["kill_rate"] for s in SCENARIOS])
    parts.append(f"kill rate {kill:.1%} (pk {SM6_CLASS.pk})")
    parts.append(f"target (median < 3 m non-manoeuvring): {report.verdict(worst_plain < 3.0)}")
    print(report.summary("SUMMARY bench_intercept", parts, sep="; "))
    return 0


if __name__ == "__main__":
    sys.exit(main(_parse()))
