"""The real-time pipeline: cycle time per stage and detection-to-broadcast latency at 50, 200,
1,000 and 5,000 targets on one core, against the seed's per-target loop; and the interceptors'
miss distances (bench_intercept).

The world: N air targets (200-300 m/s, 3-12 km altitude, straight and level) spread over the
demo radar's sector (RAD_VBG, AN/TPY-2 class, 120° swept every 2 s) 100-700 km out. The
controller runs the whole cycle (radar scan, plots as events, detection threshold, the GNN
tracker, the trained classifier, TEWA scores and levels against the demo's two cities, weapon
assignment, EW, interceptors, one tracking.updated per track, and a broadcast that serializes
the radar frame to JSON). Measured after the tracks are confirmed (cycles 20-60).

Reference in the same run: the seed's loop (``backend/app/services``-style, written here from
its description): for each target a Python radar check and noise draw, for each detection a
Python nearest-track search over every track, an alpha-beta update per track. Its cost grows
as N·M (1,000 targets: ~80 ms a cycle; 5,000: ~2 s, four times the cycle budget).

Usage::

    python benchmarks/bench_pipeline.py [--sizes 50,200,1000,5000] [--cycles 40] [--no-reference]

Target: 1,000 targets inside the 0.5 s cycle with p99 detection-to-broadcast < 100 ms.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: before numpy / sklearn load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import datetime as dt
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cli, report
from argus import geo
from argus.defense.classify import features, train
from argus.defense.interceptor import SM6_CLASS
from argus.defense.service.catalog import (
    DEMO_ASSETS,
    DEMO_BATTERIES,
    demo_radar_site,
)
from argus.defense.service.models import WindowClassifier
from argus.pipeline.controller import CycleReport, DefenseLoop
from argus.pipeline.stages import (
    Asset,
    Battery,
    DefenseConfig,
    MemoryOrderBook,
    Site,
)
from argus.pipeline.world import World
from argus.scenario.training import simulate_training_tracks
from argus.sensors.site import RadarSite
from argus.trajectory import TrajectorySet

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def demo_radar() -> RadarSite:
    return demo_radar_site()


def config(radar: RadarSite) -> DefenseConfig:
    bats = tuple(
        Battery(b["call_sign"], k + 1, b["lat"], b["lon"], b["alt_m"], SM6_CLASS)
        for k, b in enumerate(DEMO_BATTERIES)
    )
    assets = tuple(Asset(a["name"], a["lat"], a["lon"], a["radius_km"]) for a in DEMO_ASSETS)
    return DefenseConfig(1, "bench", (Site("RAD_VBG", radar),), bats, assets)


def targets(n: int, radar: RadarSite, seed: int, duration_s: float = 120.0) -> TrajectorySet:
    """N straight-and-level air targets over the radar's sector (two knots each, ECEF)."""
    rng = np.random.default_rng(seed)
    az = np.radians(radar.azimuth_center_deg + rng.uniform(-55, 55, n))
    rng_m = rng.uniform(100e3, 700e3, n)
    alt = rng.uniform(3e3, 12e3, n)
    lat, lon, _ = geo.enu_to_geodetic(rng_m * np.sin(az), rng_m * np.cos(az), np.zeros(n),
                                      radar.lat_deg, radar.lon_deg)  # fmt: skip
    p0 = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1)
    heading = rng.uniform(0, 2 * np.pi, n)
    speed = rng.uniform(200, 300, n)
    e, nn, _u = geo.enu_axes(lat, lon)
    v = (speed * np.sin(heading))[:, None] * e + (speed * np.cos(heading))[:, None] * nn
    t = np.stack([np.zeros(n), np.full(n, duration_s)], axis=1)
    pos = np.stack([p0, p0 + v * duration_s], axis=1)
    vel = np.stack([v, v], axis=1)
    return TrajectorySet(t, pos, vel, np.zeros_like(pos), np.full(n, 2, dtype=np.int64))


def broadcast_sink(report_: CycleReport) -> None:
    p = report_.picture
    frame = {
        "type": "radar_frame", "cycle": report_.cycle,
        "tracks": [
            {"track_id": t, "lat": round(float(la), 5), "lon": round(float(lo), 5),
             "alt_m": round(float(al)), "class": c, "level": int(lv)}
            for t, la, lo, al, c, lv in zip(p.track_id, p.lat_deg.tolist(), p.lon_deg.tolist(),
                                             p.alt_m.tolist(), p.label, p.level.tolist(),
                                             strict=True)
        ],
    }  # fmt: skip
    json.dumps(frame)


def run_pipeline(n: int, cycles: int, classifier: WindowClassifier, seed: int) -> dict[str, Any]:
    radar = demo_radar()
    world = World(EPOCH)
    world.add_trajectories(targets(n, radar, seed), "aircraft")
    loop = DefenseLoop(config(radar), world, classifier,
                       MemoryOrderBook({b["call_sign"]: b["rounds"] for b in DEMO_BATTERIES}),
                       sinks=[broadcast_sink], truth_interval_s=0.0)  # fmt: skip
    for _ in range(20):  # tracks confirmed
        loop.step()
    loop.freeze_heap()
    reps = [loop.step() for _ in range(cycles)]
    dur = np.array([r.duration_s for r in reps])
    lat = np.array([r.detection_to_broadcast_s for r in reps])
    out = {"n": n, "tracks": float(np.mean([r.n_tracks for r in reps])),
           "plots": float(np.mean([r.n_detections for r in reps])),
           "cycle_p50": float(np.median(dur)), "cycle_p99": float(np.percentile(dur, 99)),
           "lat_p50": float(np.median(lat)), "lat_p99": float(np.percentile(lat, 99))}  # fmt: skip
    for k in reps[0].stage_s:
        out["stage_" + k] = float(np.mean([r.stage_s[k] for r in reps]))
    worst = max(reps, key=lambda r: r.duration_s)
    out["worst"] = ", ".join(
        f"{k} {1e3 * v:.0f}" for k, v in sorted(worst.stage_s.items(), key=lambda kv: -kv[1])[:3]
    )  # type: ignore[assignment]
    return out


def seed_style_cycle(
    tpos: list[tuple[float, float, float]], tracks: list[list[float]], rng: random.Random,
    radar_xyz: tuple[float, float, float], max_range: float,
) -> None:  # fmt: skip
    """One cycle of the seed's loop: per target, per detection, per track, in Python."""
    dets = []
    for x, y, z in tpos:
        r = math.dist((x, y, z), radar_xyz)
        if r <= max_range and rng.random() < 0.9:
            dets.append((x + rng.gauss(0, 20), y + rng.gauss(0, 20), z + rng.gauss(0, 20)))
    used = [False] * len(tracks)
    for d in dets:
        best, bj = 5_000.0, -1
        for j, t in enumerate(tracks):
            if used[j]:
                continue
            dd = math.dist(d, (t[0], t[1], t[2]))
            if dd < best:
                best, bj = dd, j
        if bj < 0:
            tracks.append([d[0], d[1], d[2], 0.0, 0.0, 0.0])
            used.append(True)
            continue
        t = tracks[bj]
        for k in range(3):  # alpha-beta, 0.5 s
            pred = t[k] + 0.5 * t[3 + k]
            res = d[k] - pred
            t[k] = pred + 0.5 * res
            t[3 + k] += 0.2 * res / 0.5
        used[bj] = True


def run_reference(n: int, cycles: int, seed: int) -> float:
    radar = demo_radar()
    tr = targets(n, radar, seed)
    rng = random.Random(seed)
    tracks: list[list[float]] = []
    xyz = tuple(float(v) for v in radar.antenna_ecef_m)
    times = []
    for k in range(cycles):
        pos, _, _, _ = tr.sample(np.array([k * 0.5]))
        tpos = [tuple(map(float, p)) for p in pos[:, 0]]
        t0 = time.perf_counter()
        seed_style_cycle(tpos, tracks, rng, xyz, radar.max_range_m)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
    return float(np.median(times[len(times) // 2 :]))


def main() -> None:
    ap = cli.parser(__doc__)
    ap.add_argument("--sizes", default="50,200,1000,5000")
    ap.add_argument("--cycles", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-per-class", type=int, default=120)
    ap.add_argument("--no-reference", action="store_true", help="skip the seed-style loop")
    ap.add_argument("--no-intercept", action="store_true", help="skip the miss-distance part")
    args = ap.parse_args()
    con = report.console(width=160)
    t0 = time.perf_counter()
    win, y = simulate_training_tracks(args.train_per_class, 3, radar=demo_radar())
    classifier = WindowClassifier(train(features(win), y, 3, n_estimators=100))
    con.print(
        f"classifier trained on {len(y)} simulated tracks in {time.perf_counter() - t0:.0f} s"
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [run_pipeline(n, args.cycles if n <= 1000 else max(10, args.cycles // 4), classifier, args.seed)
            for n in sizes]  # fmt: skip
    table = report.rich_table(
        "Pipeline cycle on one core (ms; mean per stage, p50/p99 of the cycle)",
        ["targets", "tracks", "plots", "scan", "track", "classify", "threat", "intercept",
         "broadcast", "cycle p50", "cycle p99", "det→bcast p99", "seed loop"],
    )  # fmt: skip
    refs = {
        n: run_reference(n, 12, args.seed)
        for n in sizes
        if n <= 200 or (n == 1000 and args.reference_1000)
    }
    for r in rows:
        n = int(r["n"])
        ref = refs.get(n)
        table.add_row(
            str(n), f"{r['tracks']:.0f}", f"{r['plots']:.0f}",
            *(f"{1e3 * r['stage_' + k]:.1f}" for k in
              ("radar_scan", "tracking", "classification", "threat_assessment", "intercept", "broadcast")),
            f"{1e3 * r['cycle_p50']:.1f}", f"{1e3 * r['cycle_p99']:.1f}", f"{1e3 * r['lat_p99']:.1f}",
            "-" if ref is None else f"{1e3 * ref:.1f}",
        )  # fmt: skip
    con.print(table)
    for r in rows:
        con.print(f"  slowest cycle at {int(r['n'])} targets (ms): {r['worst']}")
    one_k = next((r for r in rows if r["n"] == 1000), None)
    if one_k is not None:
        ok = one_k["cycle_p99"] < 0.5 and one_k["lat_p99"] < 0.1
        con.print(
            f"summary: 1,000 targets: cycle p99 {1e3 * one_k['cycle_p99']:.0f} ms (budget 500), "
            f"detection-to-broadcast p99 {1e3 * one_k['lat_p99']:.0f} ms (target < 100): "
            + ("met" if ok else "NOT met")
        )
    if not args.no_intercept:
        from bench_intercept import miss_distance_table

        con.print("interceptor miss distances (bench_intercept.miss_distance_table, n = 200):")
        for row in miss_distance_table(200, args.seed):
            con.print(
                "  "
                + ", ".join(
                    f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                )
            )


if __name__ == "__main__":
    main()
