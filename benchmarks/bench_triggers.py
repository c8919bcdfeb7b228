"""Cost of the scores_rev triggers (migration 0008) on SQLite, where they are row-level.

Inserts batches of tracks x DAs threat scores into a temporary migrated SQLite file, alternating
with the ``threat_score_rev_ins`` trigger in place and dropped, and prints the medians. The
reference measured in the same run is the same insert without the trigger.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

import sqlalchemy as sa

from _common import cli, db
from _common import report as fmt
from argus.db import migrate
from argus.db.models import DefendedAsset, Scenario, ThreatScore, Track
from argus.db.session import make_engine

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
TRIGGER = (
    "CREATE TRIGGER threat_score_rev_ins AFTER INSERT ON threat_score BEGIN "
    "UPDATE scenario SET scores_rev = scores_rev + 1 WHERE id = NEW.scenario_id; END"
)


def main(argv: list[str] | None = None) -> int:
    ap = cli.parser(__doc__)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--assets", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=4, help="interleaved (with, without) runs")
    args = ap.parse_args(argv)
    sc_t, tr_t, da_t, ts_t = (m.__table__ for m in (Scenario, Track, DefendedAsset, ThreatScore))
    times: dict[str, list[float]] = {"with trigger": [], "without (reference)": []}
    with db.sqlite_database("argus_bench_trig_", "t.db") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with engine.begin() as c:
            sid = c.execute(sa.insert(sc_t).values(name="s").returning(sc_t.c.id)).scalar_one()
            for i in range(args.tracks):
                c.execute(
                    sa.insert(tr_t).values(
                        scenario_id=sid,
                        track_id=f"T{i}",
                        lat=0,
                        lon=0,
                        alt_m=0,
                        speed_mps=1,
                        heading_deg=0,
                    )
                )
            for i in range(args.assets):
                c.execute(sa.insert(da_t).values(name=f"D{i}", lat=0, lon=0, radius_km=1))
            tids = c.execute(sa.select(tr_t.c.id)).scalars().all()
            dids = c.execute(sa.select(da_t.c.id)).scalars().all()
        for k in range(2 * args.pairs):
            with_trigger = k % 2 == 0
            rows = [
                {
                    "scenario_id": sid,
                    "track_id": t,
                    "da_id": a,
                    "score": 0.5,
                    "computed_at": T0 + dt.timedelta(seconds=k),
                }
                for t in tids
                for a in dids
            ]
            with engine.begin() as c:
                if not with_trigger:
                    c.exec_driver_sql("DROP TRIGGER threat_score_rev_ins")
                t0 = time.perf_counter()
                c.execute(sa.insert(ts_t), rows)
                elapsed = time.perf_counter() - t0
                if not with_trigger:
                    c.exec_driver_sql(TRIGGER)
            times["with trigger" if with_trigger else "without (reference)"].append(elapsed)
        engine.dispose()
    n = len(tids) * len(dids)
    table = fmt.rich_table(
        f"SQLite: insert of {n:,} threat scores, {args.pairs} runs each",
        ("path", "median ms", "runs ms", "us per row"),
    )
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        table.add_row(
            k,
            f"{med[k] * 1e3:.0f}",
            ", ".join(f"{x * 1e3:.0f}" for x in v),
            f"{med[k] / n * 1e6:.1f}",
        )
    fmt.console().print(table)
    extra = (med["with trigger"] - med["without (reference)"]) / n * 1e6
    ratio = med["with trigger"] / med["without (reference)"]
    print(
        fmt.summary(
            "triggers",
            [
                f"sqlite scores_rev trigger adds {extra:.1f} us per score row "
                f"({fmt.times(ratio, 2)} the insert)"
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
