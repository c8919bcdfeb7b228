"""Track-sample ingest throughput: the bulk path against a row-by-row ORM loop, per backend.

What is measured, on SQLite (a fresh migrated file under a temp dir) and PostgreSQL (a fresh
migrated database ``argus_bench_<random>``, dropped at the end):

1. ``argus.db.bulk.insert_track_samples`` of all rows into an empty ``track_sample`` table,
   one transaction, commit included;
2. the same call again: an idempotent re-import where every row conflicts and none is inserted;
3. the reference: ``session.add(TrackSample(...))`` per row, ``flush()`` every 1,000 rows, one
   commit, on the first ``--orm-rows`` rows only (20,000 by default; it is too slow for all);
4. ``argus.tewa.service.import_tracks`` end to end from a CSV file of all rows (read, parse,
   validate, create the tracks, write the samples, refresh each track's latest state, commit),
   into an empty ``track_sample`` table (new tracks of another scenario);
5. PostgreSQL only: ``COPY`` into a temp table with the hand-written numpy binary encoder of
   ``bulk.pg_binary_copy_buffer`` against psycopg's ``Copy.write_row`` per tuple (the claim in
   the docstring of ``argus.db.bulk``).

Every rate is rows per second of wall time; ``x ORM`` is that rate over the ORM loop's rate on
the same backend, measured in the same run. The data are synthetic and seeded: ``--rows`` split
over up to 1,000 tracks sampled at 1 s, in time order (all tracks at t, then t + 1 s, as a
recorded feed arrives), with valid ranges (lat in [-90, 90], lon in [-180, 180), speed >= 0,
heading in [0, 360)).

Run: ``python benchmarks/bench_ingest.py [--rows N] [--skip-pg] [--pg-url URL]``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.orm import Session

from _common import cli
from _common import report as fmt
from _common.db import pg_database, sqlite_database
from _common.tracks import EPOCH as _EPOCH
from _common.tracks import FLOAT_COLUMNS, BenchData
from _common.tracks import random_walk_feed as generate
from argus.db import bulk, migrate
from argus.db.models import Scenario, Track, TrackSample
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.logs import configure_logging
from argus.tewa.ingest import write_csv
from argus.tewa.service import import_tracks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_ingest import reference_parse_track_file

DEFAULT_ROWS = 1_000_000
DEFAULT_ORM_ROWS = 20_000
ORM_FLUSH_EVERY = 1_000
#: Targets for the bulk path (rows/s), from the issue.
TARGETS = {"sqlite": 100_000, "postgresql": 200_000}
#: Target for import_tracks end to end (rows/s), issue 9 item 7.
IMPORT_TARGETS = {"sqlite": 500_000, "postgresql": 500_000}

console = fmt.console(width=140)


# ---- measurements ----


@dataclass
class Result:
    backend: str
    path: str
    rows: int
    seconds: float
    is_bulk: bool = False
    is_orm: bool = False
    is_import: bool = False
    is_reference: bool = False

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class BackendRun:
    backend: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, path: str, rows: int, seconds: float, **kw: Any) -> Result:
        r = Result(self.backend, path, rows, seconds, **kw)
        self.results.append(r)
        return r

    def one(self, pred: Callable[[Result], bool]) -> Result | None:
        return next((r for r in self.results if pred(r)), None)


def _create_tracks(session: Session, scenario_name: str, data: BenchData) -> npt.NDArray[np.int64]:
    """Scenario + one Track row per track (state = its first sample); returns the track PKs."""
    scenario = Scenario(name=scenario_name)
    session.add(scenario)
    session.flush()
    first = np.full(len(data.track_names), -1, dtype=np.int64)
    idx = np.arange(len(data.track_index))
    first[data.track_index[::-1]] = idx[::-1]  # earliest row of each track wins
    s = data.samples
    session.execute(
        sa.insert(Track),
        [
            {
                "scenario_id": scenario.id,
                "track_id": name,
                **{c: float(getattr(s, c)[first[k]]) for c in FLOAT_COLUMNS},
            }
            for k, name in enumerate(data.track_names)
        ],
    )
    rows = session.execute(
        sa.select(Track.track_id, Track.id).where(Track.scenario_id == scenario.id)
    ).all()
    pk: dict[str, int] = {name: track_pk for name, track_pk in rows}
    return np.array([pk[name] for name in data.track_names], dtype=np.int64)


def _empty_sample_table(engine: sa.Engine) -> None:
    """Make ``track_sample`` empty again, storage included, so each step starts alike."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE track_sample")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE track_sample")
            # Start each timed load with no checkpoint pending: one landing mid-load adds full
            # page images to the WAL and was the largest run-to-run spread (190k-255k rows/s).
            conn.exec_driver_sql("CHECKPOINT")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM track_sample")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _count_samples(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM track_sample")).scalar_one())


def measure_orm(
    engine: sa.Engine, data: BenchData, track_pk: npt.NDArray[np.int64], n: int
) -> float:
    """Row-by-row ORM: add one TrackSample per row, flush every 1,000, one commit."""
    factory = make_sessionmaker(engine)
    pks = track_pk[data.track_index[:n]].tolist()
    t_us = data.samples.t_us[:n].tolist()
    cols = [getattr(data.samples, c)[:n].tolist() for c in FLOAT_COLUMNS]
    one_us = dt.timedelta(microseconds=1)
    t0 = time.perf_counter()
    with factory() as session:
        for i in range(n):
            session.add(
                TrackSample(
                    track_id=pks[i],
                    t=_EPOCH + t_us[i] * one_us,
                    lat=cols[0][i],
                    lon=cols[1][i],
                    alt_m=cols[2][i],
                    speed_mps=cols[3][i],
                    heading_deg=cols[4][i],
                )
            )
            if (i + 1) % ORM_FLUSH_EVERY == 0:
                session.flush()
        session.commit()
    return time.perf_counter() - t0


def measure_bulk(
    engine: sa.Engine, data: BenchData, track_pk: npt.NDArray[np.int64]
) -> tuple[float, int]:
    """One ``insert_track_samples`` call of every row in one transaction, commit included."""
    pk = track_pk[data.track_index]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        inserted = bulk.insert_track_samples(conn, pk, data.samples.t_us, data.columns())
    return time.perf_counter() - t0, inserted


@dataclass
class Phases:
    """Wall-clock marks from ``import_tracks``'s progress callback."""

    marks: dict[str, float] = field(default_factory=dict)

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.marks[stage] = time.perf_counter()  # "written" keeps the last chunk's time


def measure_import_tracks(
    engine: sa.Engine, csv_path: Path, n_rows: int, n_tracks: int
) -> tuple[float, str]:
    factory = make_sessionmaker(engine)
    phases = Phases()
    t0 = time.perf_counter()
    with session_scope(factory) as session:
        report = import_tracks(session, csv_path, "bench-import", progress=phases)
        t_returned = time.perf_counter()
    t_end = time.perf_counter()
    if report.inserted != n_rows or report.tracks_created != n_tracks:
        raise RuntimeError(
            f"import_tracks wrote {report.inserted} rows / {report.tracks_created} tracks, "
            f"expected {n_rows} / {n_tracks}"
        )
    m = phases.marks
    t_parsed, t_valid, t_written = m["parsed"], m["validated"], m["written"]
    tail = (
        "INSERT…SELECT + latest-state refresh"
        if engine.dialect.name == "postgresql"
        else "latest-state refresh"
    )
    note = (
        f"import_tracks phases: read + CSV split {t_parsed - t0:.2f} s, validate {t_valid - t_parsed:.2f} s, "
        f"tracks + sample chunks {t_written - t_valid:.2f} s, {tail} {t_returned - t_written:.2f} s, "
        f"commit {t_end - t_returned:.2f} s"
    )
    return t_end - t0, note


def measure_reference_import(engine: sa.Engine, csv_path: Path, n_rows: int) -> tuple[float, float]:
    """The old per-row reader (benchmarks/reference_ingest.py), then the same write: returns
    (end-to-end seconds, parse seconds)."""
    factory = make_sessionmaker(engine)
    t0 = time.perf_counter()
    parsed = reference_parse_track_file(str(csv_path), "csv")
    t_parsed = time.perf_counter() - t0
    with session_scope(factory) as session:
        report = import_tracks(session, parsed, "bench-reference")
    t_end = time.perf_counter() - t0
    if report.inserted != n_rows:
        raise RuntimeError(f"reference import wrote {report.inserted} rows, expected {n_rows}")
    return t_end, t_parsed


def measure_copy_encoders(
    engine: sa.Engine, data: BenchData, track_pk: npt.NDArray[np.int64], n: int
) -> tuple[float, float]:
    """PostgreSQL: COPY n rows into a temp table, numpy-encoded buffer vs psycopg ``write_row``."""
    pk = track_pk[data.track_index[:n]]
    t_us = data.samples.t_us[:n]
    cols = [getattr(data.samples, c)[:n] for c in FLOAT_COLUMNS]
    names = ", ".join(bulk.SAMPLE_COLUMNS)
    create = (
        "CREATE TEMP TABLE _bench_copy (track_id bigint NOT NULL, t timestamptz NOT NULL, "
        "lat float8 NOT NULL, lon float8 NOT NULL, alt_m float8 NOT NULL, "
        "speed_mps float8 NOT NULL, heading_deg float8 NOT NULL) ON COMMIT DROP"
    )
    copy_sql = f"COPY _bench_copy ({names}) FROM STDIN (FORMAT BINARY)"

    with engine.begin() as conn:
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(create)
            t0 = time.perf_counter()
            buf = bulk.pg_binary_copy_buffer([pk], [t_us], cols)
            with cur.copy(copy_sql) as copy:
                copy.write(buf)
            t_numpy = time.perf_counter() - t0

    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(create)
            t0 = time.perf_counter()
            times = [_EPOCH + dt.timedelta(microseconds=v) for v in t_us.tolist()]
            rows = zip(pk.tolist(), times, *(c.tolist() for c in cols), strict=True)
            with cur.copy(copy_sql) as copy:
                copy.set_types(
                    ["int8", "timestamptz", "float8", "float8", "float8", "float8", "float8"]
                )
                for row in rows:
                    copy.write_row(row)
            t_write_row = time.perf_counter() - t0
    return t_numpy, t_write_row


def run_backend(
    backend: str, url: str, data: BenchData, csv_path: Path, orm_rows: int, repeat: int = 3
) -> BackendRun:
    run = BackendRun(backend)
    n = len(data.samples)
    n_tracks = len(data.track_names)
    console.print(f"[bold]{backend}[/]: migrating …")
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            track_pk = _create_tracks(session, "bench-bulk", data)

        n_orm = min(orm_rows, n)
        console.print(f"[bold]{backend}[/]: ORM loop, first {n_orm:,} rows …")
        sec = measure_orm(engine, data, track_pk, n_orm)
        if _count_samples(engine) != n_orm:
            raise RuntimeError("ORM loop did not store every row")
        run.add(f"ORM add/flush per row (first {n_orm:,} rows only)", n_orm, sec, is_orm=True)
        _empty_sample_table(engine)

        times = []
        for i in range(repeat):
            console.print(
                f"[bold]{backend}[/]: bulk insert of {n:,} rows into an empty table "
                f"({i + 1}/{repeat}) …"
            )
            if i:
                _empty_sample_table(engine)
            sec, inserted = measure_bulk(engine, data, track_pk)
            if inserted != n or _count_samples(engine) != n:
                raise RuntimeError(f"bulk inserted {inserted}, expected {n}")
            times.append(sec)
        sec = float(np.median(times))
        run.add(
            f"bulk insert_track_samples, empty table (median of {repeat})", n, sec, is_bulk=True
        )
        if repeat > 1:
            run.notes.append(
                "bulk, empty table: "
                + ", ".join(f"{n / t / 1000:.0f}k" for t in times)
                + f" rows/s in the {repeat} runs"
            )

        console.print(f"[bold]{backend}[/]: bulk re-import (every row conflicts) …")
        sec, inserted = measure_bulk(engine, data, track_pk)
        if inserted != 0 or _count_samples(engine) != n:
            raise RuntimeError(f"re-import inserted {inserted}, expected 0")
        run.add("bulk re-import, all conflicts (0 inserted)", n, sec)
        _empty_sample_table(engine)

        console.print(f"[bold]{backend}[/]: import_tracks from CSV …")
        sec, note = measure_import_tracks(engine, csv_path, n, n_tracks)
        run.add("import_tracks from CSV, end to end", n, sec, is_import=True)
        run.notes.append(note)
        _empty_sample_table(engine)

        console.print(f"[bold]{backend}[/]: old per-row reader + the same write …")
        sec_ref, parse_ref = measure_reference_import(engine, csv_path, n)
        run.add("old per-row reader + import_tracks, end to end", n, sec_ref, is_reference=True)
        run.notes.append(
            f"old per-row reader: parse + validate {parse_ref:.2f} s of {sec_ref:.2f} s"
        )
        _empty_sample_table(engine)

        if backend == "postgresql":
            n_copy = min(n, 200_000)
            console.print(f"[bold]{backend}[/]: COPY encoders, {n_copy:,} rows …")
            t_numpy, t_write_row = measure_copy_encoders(engine, data, track_pk, n_copy)
            run.add(f"COPY to temp table, numpy buffer ({n_copy:,} rows)", n_copy, t_numpy)
            run.add(f"COPY to temp table, psycopg write_row ({n_copy:,} rows)", n_copy, t_write_row)
            run.notes.append(
                f"numpy COPY encoder {t_write_row / t_numpy:.1f}x psycopg write_row "
                f"(COPY of {n_copy:,} rows into a temp table, no constraints or indexes)"
            )
    finally:
        engine.dispose()
    return run


# ---- report ----


_k = fmt.kilo


def report(runs: list[BackendRun], n_rows: int, load_at_start: float) -> bool:
    table = fmt.rich_table(
        f"track-sample ingest, {n_rows:,} rows",
        ("backend", "path", "rows", "seconds", "rows/s", "x ORM"),
        left=2,
    )
    for run in runs:
        orm = run.one(lambda r: r.is_orm)
        for r in run.results:
            ratio = (
                f"{r.rate / orm.rate:.1f}" if orm and not r.is_orm else ("1.0" if r.is_orm else "—")
            )
            table.add_row(
                r.backend, r.path, f"{r.rows:,}", f"{r.seconds:.2f}", f"{r.rate:,.0f}", ratio
            )
    console.print(table)
    for run in runs:
        for note in run.notes:
            console.print(f"{run.backend}: {note}")
    console.print(
        f"{fmt.load_average(load_at_start)}; other work on the machine lowers every figure"
    )

    parts: list[str] = []
    missed: list[str] = []
    for run in runs:
        b = run.one(lambda r: r.is_bulk)
        o = run.one(lambda r: r.is_orm)
        if b is None or o is None:
            continue
        label = "postgres" if run.backend == "postgresql" else run.backend
        parts.append(f"{label} bulk {_k(b.rate)} rows/s ({b.rate / o.rate:.0f}x ORM)")
        if b.rate < TARGETS[run.backend]:
            missed.append(label)
    targets = " / ".join(_k(TARGETS[r.backend]) for r in runs)
    verdict = fmt.verdict(not missed, f"missed ({', '.join(missed)})")
    print(f"ingest: {', '.join(parts)} — targets {targets} rows/s: {verdict}")
    imp: list[str] = []
    for run in runs:
        i = run.one(lambda r: r.is_import)
        ref = run.one(lambda r: r.is_reference)
        if i is None or ref is None:
            continue
        label = "postgres" if run.backend == "postgresql" else run.backend
        ok = "met" if i.rate >= IMPORT_TARGETS[run.backend] else "missed"
        imp.append(
            f"{label} {_k(i.rate)} rows/s ({i.rate / ref.rate:.1f}x the old per-row reader's "
            f"{_k(ref.rate)}; target {_k(IMPORT_TARGETS[run.backend])}: {ok})"
        )
    if imp:
        print(f"import_tracks end to end: {'; '.join(imp)}")
    return not missed


def main(argv: list[str] | None = None) -> int:
    ap = cli.parser(__doc__)
    ap.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="samples to ingest (default 1,000,000)"
    )
    ap.add_argument(
        "--orm-rows",
        type=int,
        default=DEFAULT_ORM_ROWS,
        help="rows for the ORM reference loop (default 20,000)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="bulk loads into the emptied table per backend; the median is reported (default 3)",
    )
    ap.add_argument("--skip-pg", action="store_true", help="SQLite only")
    cli.add_database(ap)
    args = ap.parse_args(argv)
    if args.rows < 1 or args.orm_rows < 1 or args.repeat < 1:
        ap.error("--rows, --orm-rows and --repeat must be positive")
    configure_logging("WARNING")

    load_at_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    data = generate(args.rows)
    t_gen = time.perf_counter() - t0
    runs: list[BackendRun] = []
    with tempfile.TemporaryDirectory(prefix="argus_bench_csv_") as tmp:
        csv_path = Path(tmp) / "tracks.csv"
        t0 = time.perf_counter()
        with csv_path.open("w", encoding="utf-8", newline="") as f:
            write_csv(data.samples, f)
        t_csv = time.perf_counter() - t0
        console.print(
            f"data: {args.rows:,} rows, {len(data.track_names):,} tracks, generated in {t_gen:.2f} s; "
            f"CSV {csv_path.stat().st_size / 1e6:.0f} MB written in {t_csv:.2f} s (not timed below)"
        )

        with sqlite_database() as url:
            runs.append(run_backend("sqlite", url, data, csv_path, args.orm_rows, args.repeat))
        if not args.skip_pg:
            with pg_database(args.pg_url) as url:
                runs.append(
                    run_backend("postgresql", url, data, csv_path, args.orm_rows, args.repeat)
                )

    report(
        runs, args.rows, load_at_start
    )  # a missed target is reported, not an error: figures vary by machine
    return 0


if __name__ == "__main__":
    sys.exit(main())
