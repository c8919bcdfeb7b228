"""Threat-evaluation engine throughput: vectorized pairs/s against a per-pair Python loop.

Runs, in one process and on one BLAS thread by default:

- the engine: ``pair_kinematics`` (CPA, TCPA, TDB, TWRP for all tracks × assets) followed by
  ``score_pairs`` (normalization, weights, clamp) on N tracks × M defended assets;
- its two halves separately;
- the projection alone against ``pymap3d.geodetic2enu`` broadcast over the same grid (peer
  library reference);
- the same math one pair at a time (``pair_kinematics_reference`` +
  ``threat_score_reference``) on a subset, extrapolated to the full grid, after checking that
  it agrees with the engine.

Usage::

    python benchmarks/bench_tewa.py [--tracks 10000] [--assets 100] [--repeats 5]
                                    [--loop-pairs 20000] [--threads 1]

Targets: >= 100x the loop, >= 10 M pairs/s on one core.
"""

from __future__ import annotations

import argparse
import sys

from _common import cli


def _parse() -> argparse.Namespace:
    ap = cli.parser(__doc__, full_doc=True)
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--assets", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--loop-pairs", type=int, default=20_000, help="pairs timed in the scalar loop")
    ap.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP threads (set before numpy loads)"
    )
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    cli.set_blas_threads(ARGS.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402
import pymap3d  # noqa: E402

from _common import report  # noqa: E402
from _common.timing import best_median as _time  # noqa: E402
from argus import geo  # noqa: E402
from argus.tewa.kinematics import pair_kinematics, pair_kinematics_reference  # noqa: E402
from argus.tewa.scoring import coerce_params, score_pairs, threat_score_reference  # noqa: E402

TABLE = report.PipeTable(
    [("stage", 50), ("time (s)", 10), ("pairs/s", 12), ("vs engine", 9)], left=1
)


def main(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    n, m = args.tracks, args.assets
    # A theatre ~1500 km across: tracks and assets in the same region.
    lat = rng.uniform(20.0, 35.0, n)
    lon = rng.uniform(65.0, 90.0, n)
    speed = rng.uniform(0.0, 600.0, n)
    speed[rng.random(n) < 0.02] = 0.0  # a few hovering / stationary
    heading = rng.uniform(0.0, 360.0, n)
    lat0 = rng.uniform(20.0, 35.0, m)
    lon0 = rng.uniform(65.0, 90.0, m)
    radius = rng.uniform(0.0, 20.0, m)
    wr = rng.uniform(10.0, 80.0, m)
    params = coerce_params(None)
    pairs = n * m

    def engine() -> object:
        return score_pairs(
            pair_kinematics(lat, lon, speed, heading, lat0, lon0, radius, wr), params
        )

    engine()  # warm-up (imports, page faults)
    t_eng, t_eng_med = _time(engine, args.repeats)
    kin = pair_kinematics(lat, lon, speed, heading, lat0, lon0, radius, wr)
    t_kin, _ = _time(
        lambda: pair_kinematics(lat, lon, speed, heading, lat0, lon0, radius, wr), args.repeats
    )
    t_score, _ = _time(lambda: score_pairs(kin, params), args.repeats)
    t_ours_enu, _ = _time(lambda: geo.enu_offsets_outer(lat, lon, lat0, lon0), args.repeats)
    t_pm_enu, _ = _time(
        lambda: pymap3d.geodetic2enu(
            lat[:, None], lon[:, None], 0.0, lat0[None, :], lon0[None, :], 0.0
        ),
        max(1, min(3, args.repeats)),
    )

    # Scalar loop over a subset of rows (all assets), same math one pair at a time.
    rows = max(1, min(n, args.loop_pairs // m))
    scores = score_pairs(kin, params).score
    t0 = time.perf_counter()
    worst = 0.0
    for i in range(rows):
        for j in range(m):
            c = pair_kinematics_reference(
                lat[i], lon[i], speed[i], heading[i], lat0[j], lon0[j], radius[j], wr[j]
            )
            sc = threat_score_reference(*c, params)
            worst = max(worst, abs(sc - scores[i, j]))
    t_loop_subset = time.perf_counter() - t0
    loop_pairs = rows * m
    t_loop = t_loop_subset / loop_pairs * pairs

    rate = pairs / t_eng
    ratio = t_loop / t_eng
    print(f"# bench_tewa  {n} tracks x {m} assets = {pairs:,} pairs")
    print(f"# machine: {report.machine(f'BLAS threads {args.threads}')}")
    print()
    print(TABLE.header())

    def row(name: str, t: float) -> None:
        print(TABLE.row([name, f"{t:.4f}", f"{pairs / t:,.0f}", report.times(t / t_eng, 2)]))

    row("engine: kinematics + score (best)", t_eng)
    row("engine: kinematics + score (median)", t_eng_med)
    row("  kinematics (CPA/TCPA/TDB/TWRP)", t_kin)
    row("  scoring (normalize, weigh, clamp)", t_score)
    row("  ENU projection, argus.geo (matmul)", t_ours_enu)
    row("  ENU projection, pymap3d.geodetic2enu", t_pm_enu)
    row(f"scalar loop, same math ({loop_pairs:,} pairs, extrap.)", t_loop)
    print()
    print(f"max |engine - scalar loop| over {loop_pairs:,} pairs: {worst:.2e}")
    ok = ratio >= 100 and rate >= 10e6
    print(
        f"SUMMARY bench_tewa: {rate / 1e6:.1f} M pairs/s ({pairs:,} pairs in {t_eng * 1e3:.1f} ms), "
        f"{ratio:,.0f}x the per-pair loop ({loop_pairs / t_loop_subset / 1e3:.0f} k pairs/s); "
        f"projection {t_pm_enu / t_ours_enu:.1f}x pymap3d; targets >=100x and >=10 M pairs/s: "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    assert ARGS is not None
    sys.exit(main(ARGS))
