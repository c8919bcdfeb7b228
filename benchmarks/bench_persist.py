"""Storing one batch of threat scores on PostgreSQL: the single ``INSERT … SELECT FROM
unnest(…)`` statement of ``argus.tewa.service.evaluation._persist_scores`` against the reference measured in
the same run, SQLAlchemy's paged multi-row ``INSERT … VALUES … RETURNING`` (what the service
did before, and still does on SQLite).

A temporary database (created and dropped), one scenario with ``--assets`` DAs and
``--tracks`` tracks; each repetition computes one batch and stores it both ways under two
different ``computed_at`` stamps, interleaved, inside one transaction each (flush included).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from _common import cli, db
from _common import report as fmt
from argus.db import migrate
from argus.db.models import ThreatScore, Track
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.logs import configure_logging
from argus.tewa import service
from argus.tewa.service import evaluation
from argus.tewa.service._common import _finite_or_none

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
#: Rows per multi-row INSERT of the reference (the page size the service used).
PAGE_ROWS = 1000


def _paged_reference(s: Any, sid: int, stamp: dt.datetime, pairs: list[Any], w: Any) -> int:
    rows = [
        {
            "scenario_id": sid,
            "track_id": p.track_pk,
            "da_id": p.da_id,
            **{k: _finite_or_none(getattr(p, k)) for k in ("cpa_km", "tcpa_s", "tdb_km", "twrp_s")},
            **{k: getattr(p, k) for k in ("n_cpa", "n_tcpa", "n_tdb", "n_twrp", "score")},
            "w_cpa": w[0],
            "w_tcpa": w[1],
            "w_tdb": w[2],
            "w_twrp": w[3],
            "quality": p.quality,
            "computed_at": stamp,
        }
        for p in pairs
    ]
    table: Any = ThreatScore.__table__
    stmt = pg_insert(table).on_conflict_do_nothing(
        index_elements=["scenario_id", "track_id", "da_id", "computed_at"]
    )
    return len(
        s.execute(
            stmt.returning(table.c.id),
            rows,
            execution_options={"insertmanyvalues_page_size": PAGE_ROWS},
        ).all()
    )


def _seed(factory: Any, name: str, tracks: int, assets: int) -> None:
    """A scenario with ``assets`` DAs and ``tracks`` tracks (no samples: their rows' state)."""
    with session_scope(factory) as s:
        sc, _ = service.get_or_create_scenario(s, name)
        for k in range(assets):
            da = service.upsert_defended_asset(
                s, f"D{k}", lat=10 + 0.1 * k, lon=20.0, radius_km=5.0
            )
            service.attach_asset(s, sc, da)
        s.add_all(
            Track(
                scenario_id=sc.id,
                track_id=f"T{k}",
                lat=9 + 0.001 * k,
                lon=19.5,
                speed_mps=200.0,
                heading_deg=45.0,
            )
            for k in range(tracks)
        )


def main(argv: list[str] | None = None) -> int:
    ap = cli.parser(__doc__)
    cli.add_database(ap)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--assets", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--history",
        type=int,
        nargs="+",
        default=[1, 10, 40],
        help="stored batches at which to time the live global ranking (threat_score_latest) "
        "against the same ranking through the window over the whole history",
    )
    args = ap.parse_args(argv)
    configure_logging("WARNING")
    console = fmt.console()
    history: list[tuple[int, float, float]] = []
    times: dict[str, list[float]] = {
        "unnest": [],
        "paged": [],
        "compute": [],
        "compute+persist": [],
    }
    n_pairs = args.tracks * args.assets
    with db.pg_database(args.pg_url, "argus_bench_persist") as url:
        migrate.upgrade(url)
        factory = make_sessionmaker(make_engine(url))
        _seed(factory, "P", args.tracks, args.assets)
        for i in range(args.repeat):
            for mode in ("unnest", "paged") if i % 2 == 0 else ("paged", "unnest"):
                with session_scope(factory) as s:
                    sc = service.get_scenario(s, "P")
                    res = service.compute_at(s, sc, T0)
                    w = service.engine_params(s, sc).weights
                    stamp = T0 + dt.timedelta(seconds=2 * i + (mode == "paged"))
                    t = time.perf_counter()
                    if mode == "unnest":
                        assert res.columns is not None
                        n = evaluation._persist_scores(
                            s, sc.id, stamp, stamp, res.columns, w, live=True
                        )
                    else:
                        n = _paged_reference(s, sc.id, stamp, res.pairs, w)
                    s.flush()
                    times[mode].append(time.perf_counter() - t)
                    if n != n_pairs:
                        raise SystemExit(f"{mode}: wrote {n} rows, expected {n_pairs}")
            # the whole service call, as the periodic job makes it (engine + persist)
            for persist in (False, True):
                with session_scope(factory) as s:
                    sc = service.get_scenario(s, "P")
                    t = time.perf_counter()
                    service.compute_at(
                        s,
                        sc,
                        T0 + dt.timedelta(hours=1, seconds=i),
                        persist=persist,
                        live=persist,
                    )
                    s.flush()
                    times["compute+persist" if persist else "compute"].append(
                        time.perf_counter() - t
                    )
        # The live ranking against stored history: a fresh scenario, batches added up to each
        # --history count; reference = the window path (rank at a time after every batch).
        _seed(factory, "H", args.tracks, args.assets)
        stored = 0
        for target in sorted(args.history):
            while stored < target:
                with session_scope(factory) as s:
                    sc = service.get_scenario(s, "H")
                    service.compute_at(
                        s, sc, T0 + dt.timedelta(seconds=5 * stored), persist=True, live=True
                    )
                stored += 1
            with factory() as s:
                s.execute(sa.text("ANALYZE threat_score"))
                s.commit()
                sc = service.get_scenario(s, "H")
                far = T0 + dt.timedelta(days=1)
                live, window = [], []
                for _ in range(5):
                    t = time.perf_counter()
                    a = service.rank(s, sc)
                    live.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    b = service.rank(s, sc, at=far)
                    window.append(time.perf_counter() - t)
                if [(r.track_id, r.da_id, r.score) for r in a] != [
                    (r.track_id, r.da_id, r.score) for r in b
                ]:
                    raise SystemExit(f"{target} batches: live and window rankings differ")
                history.append((target, statistics.median(live), statistics.median(window)))
    table = fmt.rich_table(
        f"store one batch of {n_pairs:,} scores on PostgreSQL, {args.repeat} runs",
        ("method", "statements", "median ms", "min ms", "rows/s"),
    )
    pages = -(-n_pairs // PAGE_ROWS)
    for mode, label, stmts in (
        ("unnest", "one INSERT … SELECT FROM unnest (argus)", "1"),
        ("paged", "multi-row INSERT … RETURNING (reference)", str(pages)),
    ):
        med = statistics.median(times[mode])
        table.add_row(
            label,
            stmts,
            f"{med * 1e3:.0f}",
            f"{min(times[mode]) * 1e3:.0f}",
            f"{n_pairs / med:,.0f}",
        )
    console.print(table)
    console.print(
        f"service.compute_at, {n_pairs:,} pairs, median: "
        f"{statistics.median(times['compute']) * 1e3:.0f} ms without persisting, "
        f"{statistics.median(times['compute+persist']) * 1e3:.0f} ms with"
    )
    hist = fmt.rich_table(
        "global ranking now, against the stored history (median of 5)",
        ("stored batches", "rows", "threat_score_latest ms", "window over history ms"),
        left=0,
    )
    for n_b, live_s, window_s in history:
        hist.add_row(str(n_b), f"{n_b * n_pairs:,}", f"{live_s * 1e3:.0f}", f"{window_s * 1e3:.0f}")
    console.print(hist)
    ratio = statistics.median(times["paged"]) / statistics.median(times["unnest"])
    print(
        fmt.summary(
            "persist",
            [
                f"{n_pairs:,} scores in {statistics.median(times['unnest']) * 1e3:.0f} ms as one "
                f"statement, {fmt.times(ratio)} faster than the paged reference",
                f"live ranking at {history[-1][0]} batches {history[-1][1] * 1e3:.0f} ms vs "
                f"{history[-1][2] * 1e3:.0f} ms through the history",
            ],
            sep="; ",
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
