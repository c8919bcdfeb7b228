"""Bulk writes of column arrays, one fast path per dialect.

- PostgreSQL: binary ``COPY`` (psycopg 3) of a numpy structured array. When no row can conflict
  (no duplicate key in the input, no stored sample of a track inside that track's time span in
  the input) straight into ``track_sample``, under a savepoint; otherwise, or when a concurrent
  writer stores one of the keys after that check, into a temporary table, then one
  ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into the target, so re-imports are idempotent.
  A failure rolls back with the caller's transaction.
- SQLite: ``executemany`` of multi-row ``INSERT … VALUES (…), (…) … ON CONFLICT DO NOTHING``
  (256 rows per statement) on the raw driver connection, inside the caller's transaction.

Both take numpy arrays and run inside the SQLAlchemy connection's current transaction; neither
commits.

The PostgreSQL binary COPY encoder is written by hand: psycopg's ``Copy.write_row`` converts one
Python tuple at a time, while the fixed-width binary format lets numpy build the whole buffer in
one vectorized step (measured in benchmarks/bench_ingest.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)
#: Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01T00:00:00Z).
PG_EPOCH_OFFSET_US = 946_684_800_000_000
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_PGCOPY_TRAILER = b"\xff\xff"

SAMPLE_COLUMNS = ("track_id", "t", "lat", "lon", "alt_m", "speed_mps", "heading_deg")
_FLOAT_COLUMNS = ("lat", "lon", "alt_m", "speed_mps", "heading_deg")
#: Nullable float columns a caller may add to ``columns``; NaN in them is stored as NULL.
OPTIONAL_FLOAT_COLUMNS = ("pos_sigma_m",)

ChunkCallback = Callable[[int], None]


def pg_binary_copy_buffer(
    int8_columns: list[npt.NDArray[np.int64]],
    timestamptz_columns: list[npt.NDArray[np.int64]],
    float8_columns: list[npt.NDArray[np.float64]],
    int4_columns: list[npt.NDArray[np.int64]] | None = None,
) -> bytes:
    """Encode rows (int4…, int8…, timestamptz…, float8… in that column order) as binary COPY.

    Timestamps are int64 microseconds since the Unix epoch. No column may hold NULL.
    """
    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    kinds = (
        [("4", c) for c in (int4_columns or [])]
        + [("i", c) for c in int8_columns]
        + [("t", c) for c in timestamptz_columns]
        + [("f", c) for c in float8_columns]
    )
    width = {"4": 4, "i": 8, "t": 8, "f": 8}
    for k, (kind, _) in enumerate(kinds):
        fields.append((f"len{k}", ">i4"))
        fields.append((f"v{k}", {"4": ">i4", "f": ">f8"}.get(kind, ">i8")))
    n = len(kinds[0][1]) if kinds else 0
    rows = np.empty(n, dtype=np.dtype(fields))  # packed: no padding, exactly the wire layout
    rows["nfields"] = len(kinds)
    for k, (kind, col) in enumerate(kinds):
        rows[f"len{k}"] = width[kind]
        rows[f"v{k}"] = col - PG_EPOCH_OFFSET_US if kind == "t" else col
    return _PGCOPY_HEADER + rows.tobytes() + _PGCOPY_TRAILER


def sqlite_datetime_text(value: dt.datetime) -> str:
    """An aware datetime as SQLAlchemy's SQLite DATETIME text (naive UTC, microseconds), for
    statements sent to the driver directly."""
    return _us_to_sqlite_text(np.array([(value - _EPOCH) // _ONE_US], dtype=np.int64))[0]


def _us_to_sqlite_text(t_us: npt.NDArray[np.int64]) -> list[str]:
    """int64 µs → SQLAlchemy's SQLite DATETIME text ('YYYY-MM-DD HH:MM:SS.ffffff', naive UTC).

    pyarrow's timestamp → string cast writes exactly this form (10x numpy's datetime_as_string
    plus a character replace)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(np.asarray(t_us, dtype=np.int64), type=pa.timestamp("us")), pa.string())
    return [str(v) for v in text.to_pylist()]


def insert_track_samples(
    conn: Connection,
    track_pk: npt.NDArray[np.int64],
    t_us: npt.NDArray[np.int64],
    columns: dict[str, npt.NDArray[np.float64]],
    chunk_rows: int = 250_000,
    on_chunk: ChunkCallback | None = None,
) -> int:
    """Insert samples, skipping any (track_id, t) already stored; returns the number inserted.

    ``columns`` holds ``lat``, ``lon``, ``alt_m``, ``speed_mps``, ``heading_deg`` and, if the
    source gave it, ``pos_sigma_m`` (NaN where a row has none: stored as NULL).
    """
    n = int(track_pk.shape[0])
    if n == 0:
        return 0
    unknown = sorted(set(columns) - set(_FLOAT_COLUMNS) - set(OPTIONAL_FLOAT_COLUMNS))
    if unknown:
        raise ValueError(f"unknown sample column(s) {unknown}")
    floats = _FLOAT_COLUMNS + tuple(c for c in OPTIONAL_FLOAT_COLUMNS if c in columns)
    for name in floats:
        if columns[name].shape[0] != n:
            raise ValueError(f"column {name} has {columns[name].shape[0]} rows, expected {n}")
    # Write in (track, time) order: consecutive rows then land next to each other in the
    # unique (track_id, t) index instead of all over it (a feed arrives interleaved by time).
    order = np.lexsort((t_us, track_pk))
    track_pk, t_us = track_pk[order], t_us[order]
    columns = {c: np.asarray(columns[c], dtype=np.float64)[order] for c in floats}
    if conn.dialect.name == "postgresql":
        return _insert_samples_pg(conn, track_pk, t_us, columns, chunk_rows, on_chunk)
    if conn.dialect.name == "sqlite":
        return _insert_samples_sqlite(conn, track_pk, t_us, columns, chunk_rows, on_chunk)
    raise NotImplementedError(f"no bulk path for dialect {conn.dialect.name}")


def _driver_connection(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _insert_samples_pg(
    conn: Connection,
    track_pk: npt.NDArray[np.int64],
    t_us: npt.NDArray[np.int64],
    columns: dict[str, npt.NDArray[np.float64]],
    chunk_rows: int,
    on_chunk: ChunkCallback | None,
) -> int:
    from psycopg.errors import UniqueViolation  # the postgres extra, only needed here

    raw = _driver_connection(conn)
    floats = tuple(columns)  # _FLOAT_COLUMNS, then the optional ones given
    optional = floats[len(_FLOAT_COLUMNS) :]
    cols = ", ".join(("track_id", "t", *floats))
    # The binary COPY encoder writes no NULL: a NaN in an optional column goes through the
    # temporary table, where NULLIF turns it into NULL.
    has_nan = any(bool(np.isnan(columns[c]).any()) for c in optional)
    n = int(track_pk.shape[0])
    reported = 0  # rows passed to on_chunk by an abandoned direct COPY, not to report twice

    def _report(k: int) -> None:
        nonlocal reported
        skip = min(k, reported)
        reported -= skip
        if on_chunk and k > skip:
            on_chunk(k - skip)

    with raw.cursor() as cur:
        if not has_nan and _no_overlap_pg(cur, track_pk, t_us):
            # Fast path: nothing stored for these tracks in their time spans and no duplicate
            # key in the input, so the rows can be copied straight into the table. A writer in
            # another transaction may still store one of these keys before the COPY: then the
            # savepoint takes the COPY back and the ON CONFLICT path below runs instead.
            cur.execute("SAVEPOINT argus_sample_copy")
            try:
                for start in range(0, n, chunk_rows):
                    sl = slice(start, min(start + chunk_rows, n))
                    buf = pg_binary_copy_buffer(
                        [],
                        [t_us[sl].astype(np.int64)],
                        [columns[c][sl] for c in floats],
                        int4_columns=[track_pk[sl].astype(np.int64)],
                    )
                    with cur.copy(f"COPY track_sample ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.write(buf)
                    reported += sl.stop - sl.start
                    if on_chunk:
                        on_chunk(sl.stop - sl.start)
            except UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT argus_sample_copy")
            else:
                cur.execute("RELEASE SAVEPOINT argus_sample_copy")
                return n
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _argus_sample_load ("
            "track_id bigint NOT NULL, t timestamptz NOT NULL, lat float8 NOT NULL, "
            "lon float8 NOT NULL, alt_m float8 NOT NULL, speed_mps float8 NOT NULL, "
            "heading_deg float8 NOT NULL, pos_sigma_m float8) ON COMMIT DROP"
        )
        cur.execute("TRUNCATE _argus_sample_load")
        for start in range(0, n, chunk_rows):
            sl = slice(start, min(start + chunk_rows, n))
            buf = pg_binary_copy_buffer(
                [track_pk[sl].astype(np.int64)],
                [t_us[sl].astype(np.int64)],
                [columns[c][sl] for c in floats],
            )
            with cur.copy(f"COPY _argus_sample_load ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(buf)
            _report(sl.stop - sl.start)
        select_cols = ", ".join(
            ("track_id", "t", *_FLOAT_COLUMNS, *(f"NULLIF({c}, 'NaN'::float8)" for c in optional))
        )
        cur.execute(
            f"INSERT INTO track_sample ({cols}) SELECT {select_cols} FROM _argus_sample_load "  # noqa: S608 - constant names
            "ORDER BY track_id, t ON CONFLICT (track_id, t) DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute("TRUNCATE _argus_sample_load")
    return int(inserted)


def _no_overlap_pg(cur: Any, track_pk: npt.NDArray[np.int64], t_us: npt.NDArray[np.int64]) -> bool:
    """True when the (track, t)-sorted input has no duplicate key and no stored sample of a
    track falls inside that track's [first t, last t] of the input (then no conflict is
    possible, short of a concurrent writer). Per-track spans, so appending to tracks whose
    earlier samples are stored still takes the fast path."""
    same_track = track_pk[1:] == track_pk[:-1]
    if np.any(same_track & (t_us[1:] == t_us[:-1])):
        return False
    first = np.flatnonzero(np.r_[True, ~same_track])
    last = np.r_[first[1:], track_pk.size] - 1
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
        "AS b(track_id, t0, t1) JOIN track_sample s ON s.track_id = b.track_id "
        "AND s.t BETWEEN b.t0 AND b.t1)",
        (
            track_pk[first].tolist(),
            [_us_to_datetime(v) for v in t_us[first].tolist()],
            [_us_to_datetime(v) for v in t_us[last].tolist()],
        ),
    )
    return not bool(cur.fetchone()[0])


def _us_to_datetime(t_us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=t_us)


#: Rows per SQLite INSERT statement: one statement of many VALUES tuples costs far less per row
#: than one execution per row (8 columns x 256 rows stays under SQLite's 32,766 parameters).
SQLITE_ROWS_PER_STATEMENT = 256
#: Page cache for the import connection while it writes (KiB, as SQLite's negative cache_size):
#: the unique (track_id, t) index of a large load stays in memory instead of spilling.
SQLITE_IMPORT_CACHE_KIB = 262_144


def _insert_samples_sqlite(
    conn: Connection,
    track_pk: npt.NDArray[np.int64],
    t_us: npt.NDArray[np.int64],
    columns: dict[str, npt.NDArray[np.float64]],
    chunk_rows: int,
    on_chunk: ChunkCallback | None,
) -> int:
    """``INSERT … VALUES (…), (…), … ON CONFLICT DO NOTHING`` with SQLITE_ROWS_PER_STATEMENT
    rows per statement, the parameters laid out by numpy in one object array per chunk."""
    raw = _driver_connection(conn)
    floats = tuple(columns)
    names = ("track_id", "t", *floats)
    width = len(names)

    def sql(rows: int) -> str:
        one = "(" + ", ".join("?" * width) + ")"
        return (
            f"INSERT INTO track_sample ({', '.join(names)}) VALUES {', '.join([one] * rows)} "  # noqa: S608 - constant names
            "ON CONFLICT (track_id, t) DO NOTHING"
        )

    k = SQLITE_ROWS_PER_STATEMENT
    many = sql(k)
    inserted = 0
    n = int(track_pk.shape[0])
    cur = raw.cursor()
    cache = cur.execute("PRAGMA cache_size").fetchone()[0]
    cur.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    try:
        for start in range(0, n, chunk_rows):
            sl = slice(start, min(start + chunk_rows, n))
            m = sl.stop - sl.start
            params = np.empty((m, width), dtype=object)
            params[:, 0] = track_pk[sl].tolist()
            params[:, 1] = _us_to_sqlite_text(t_us[sl])
            for j, c in enumerate(floats, start=2):
                a = columns[c][sl]
                if c in _FLOAT_COLUMNS:
                    params[:, j] = a.tolist()
                else:
                    col = a.astype(object)
                    col[np.isnan(a)] = None  # NaN → NULL
                    params[:, j] = col
            full = m - m % k
            if full:
                cur.executemany(many, params[:full].reshape(-1, k * width).tolist())
                inserted += max(cur.rowcount, 0)
            if full < m:
                cur.execute(sql(m - full), params[full:].ravel().tolist())
                inserted += max(cur.rowcount, 0)
            if on_chunk:
                on_chunk(m)
    finally:
        cur.execute(f"PRAGMA cache_size = {int(cache)}")
        cur.close()
    return inserted
