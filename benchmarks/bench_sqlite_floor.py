"""The floor under SQLite import: raw ``sqlite3.executemany`` of pre-built rows, no parsing.

Issue 9 asked ``import_tracks`` for >= 500k rows/s end to end on SQLite (1 M rows). This script
measures what SQLite itself costs for the same rows, with nothing of Argus in the way: the rows are
Python tuples built before the clock starts, inserted by one prepared statement in one
transaction (WAL, synchronous=NORMAL, a 256 MiB page cache, as ``db/bulk.py`` loads). It runs
today's ``track_sample`` layout (a rowid table, ``t`` as text, a separate UNIQUE (track_id, t)
index) beside the layouts a migration could choose (``t`` as integer microseconds; a
``WITHOUT ROWID`` table clustered on (track_id, t)), so the ratio is measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_sqlite_floor.py [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

COLS = (
    "track_id INTEGER NOT NULL, t {T} NOT NULL, lat FLOAT NOT NULL, lon FLOAT NOT NULL, "
    "alt_m FLOAT NOT NULL, speed_mps FLOAT NOT NULL, heading_deg FLOAT NOT NULL, pos_sigma_m FLOAT"
)
CHECKS = (
    ", CHECK (heading_deg >= 0 AND heading_deg < 360), CHECK (lat >= -90 AND lat <= 90),"
    " CHECK (lon >= -180 AND lon <= 180), CHECK (speed_mps >= 0)"
)
LAYOUTS = {
    "today: rowid + UNIQUE(track_id, t), t text": (
        "CREATE TABLE s (id INTEGER PRIMARY KEY, "
        + COLS.format(T="DATETIME")
        + CHECKS
        + ", UNIQUE (track_id, t))",
        "text",
    ),
    "rowid + UNIQUE, t integer µs": (
        "CREATE TABLE s (id INTEGER PRIMARY KEY, "
        + COLS.format(T="INTEGER")
        + CHECKS
        + ", UNIQUE (track_id, t))",
        "int",
    ),
    "WITHOUT ROWID on (track_id, t), t text": (
        "CREATE TABLE s ("
        + COLS.format(T="DATETIME")
        + CHECKS
        + ", PRIMARY KEY (track_id, t)) WITHOUT ROWID",
        "text",
    ),
    "WITHOUT ROWID on (track_id, t), t integer µs": (
        "CREATE TABLE s ("
        + COLS.format(T="INTEGER")
        + CHECKS
        + ", PRIMARY KEY (track_id, t)) WITHOUT ROWID",
        "int",
    ),
}
INSERT = (
    "INSERT INTO s (track_id, t, lat, lon, alt_m, speed_mps, heading_deg, pos_sigma_m) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _rows(n: int, kind: str) -> list[tuple[object, ...]]:
    tracks = 100
    per = n // tracks
    track = np.repeat(np.arange(1, tracks + 1), per)
    sec = np.tile(np.arange(per), tracks)
    if kind == "int":
        t: list[object] = (1_735_689_600_000_000 + sec * 1_000_000).tolist()
    else:
        base = np.datetime64("2025-01-01T00:00:00", "us")
        stamps = np.datetime_as_string(base + sec.astype("timedelta64[s]"), unit="us")
        t = [s.replace("T", " ") for s in stamps.tolist()]
    f = [10.0] * len(track)
    return list(
        zip(
            track.tolist(),
            t,
            f,
            f,
            f,
            [200.0] * len(f),
            [90.0] * len(f),
            [None] * len(f),
            strict=True,
        )
    )


def _load(path: Path, ddl: str, rows: list[tuple[object, ...]]) -> float:
    c = sqlite3.connect(path, isolation_level=None)
    try:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("PRAGMA cache_size=-262144")
        c.execute(ddl)
        started = time.perf_counter()
        c.execute("BEGIN")
        c.executemany(INSERT, rows)
        c.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="best of N per layout")
    args = ap.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="argus-sqlite-floor-") as tmp:
        for k, (name, (ddl, kind)) in enumerate(LAYOUTS.items()):
            rows = _rows(args.rows, kind)
            best = min(_load(Path(tmp) / f"l{k}-{r}.db", ddl, rows) for r in range(args.repeat))
            results[name] = best
    n = len(_rows(args.rows, "int"))
    print("| layout | rows | s | rows/s | vs today |\n| --- | ---: | ---: | ---: | ---: |")
    today = next(iter(results.values()))
    for name, s in results.items():
        print(f"| {name} | {n:,} | {s:.2f} | {n / s:,.0f} | {today / s:.2f}x |")
    best_name = min(results, key=lambda k: results[k])
    print(
        f"sqlite floor: today's layout {n / today / 1e3:.0f}k rows/s for the insert alone; "
        f"best layout ({best_name}) {n / results[best_name] / 1e3:.0f}k rows/s"
    )


if __name__ == "__main__":
    main()
