"""API latency and throughput: the ranking and compute_at endpoints over loopback HTTP.

What is measured, on a fresh PostgreSQL database ``argus_bench_api_<random>`` (dropped at the
end) or, with ``--sqlite``, a temporary SQLite file:

1. Data: one scenario with ``--assets`` defended assets (10) and ``--tracks`` tracks (1,000)
   with ``--samples`` samples each (180, one per second), imported with
   ``argus.tewa.service.import_samples``; ``--batches`` (1) batches persisted with
   ``service.compute_at(persist=True)`` so the ranking reads tracks x assets stored scores;
   then ``VACUUM ANALYZE`` (PostgreSQL), the state autovacuum reaches a minute later.
2. The in-run reference, in this process, no HTTP: ``service.rank`` (global and per DA) and
   ``service.compute_at(persist=False)``, each call in its own session as the API does it,
   and a breakdown of the global ranking (SQL in PostgreSQL via EXPLAIN ANALYZE, the raw
   driver fetch, the ORM rows, ``RankedThreat.as_json``, FastAPI's response serialization,
   the whole ASGI app in process) with alternatives measured on the same data as evidence
   for the proposals printed at the end.
3. The server: ``argus serve --no-scheduler --workers N`` as a subprocess (uvicorn), for each
   N in ``--workers`` (e.g. ``1,2``); this process is the load generator (httpx.AsyncClient
   on asyncio) and talks to it over 127.0.0.1. Per endpoint:
   - ``serial``: one client, one request at a time: the unloaded latency; its p50 over the
     in-process p50 is the HTTP overhead ratio;
   - ``closed``: ``--clients`` clients back to back as fast as they can: the max throughput;
   - ``open``: requests sent on a fixed schedule at a target rate for ``--duration`` seconds
     whatever the responses (open loop), with at most ``--max-in-flight`` outstanding; the
     latency counts from the *scheduled* send time, so time spent queueing (in the client
     waiting for a free slot, in the server) shows (no coordinated omission). A request
     that has found no free slot ``--timeout`` seconds after its scheduled time is dropped
     unsent and counted as an error; a request once sent is always awaited, so an overloaded
     run leaves no abandoned work in the server for the next run. Percentiles count errors
     as infinitely slow ("failed").
   Endpoints: ``GET /api/tewa/ranking/?scenario_id`` (global, what the console asks, one row
   per track), the same per DA (``&da_id``), ``POST /api/tewa/compute_at/`` (persist false,
   all tracks x assets), and two floors at the target rate: ``GET /health`` (no auth, no
   database: uvicorn + FastAPI + this load generator) and ``GET /api/auth/me`` (the
   token check and user lookup every authenticated request pays: what a cached ranking
   would cost).
4. CPU accounting per run from /proc: the server's processes, every PostgreSQL process, this
   load generator, and the rest of the machine, so the CPU time per request (hence the
   ceiling on 2 cores) and any foreign load are visible.

The machine's cores are shared by the server, PostgreSQL and the load generator: on a
2-core machine the figures are a lower bound of what a dedicated server does.

Run: ``python benchmarks/bench_api.py [--workers 1,2] [--rate 500] [--duration 20]
[--compute-rate 1] [--tracks 1000] [--assets 10] [--sqlite | --pg-url URL]``.

Target (issue 4): ranking p99 < 50 ms at 500 req/s on PostgreSQL, 1,000 tracks x 10 DAs.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from _common import cli, db, load
from _common import report as fmt
from _common.cpu import NCPU
from _common.load import SENT_TIMEOUT_S, Endpoint, LoadTest, Run
from _common.report import ms
from _common.server import login, run_server, server_errors, wait_quiet
from _common.timing import time_calls
from _common.tracks import inbound_tracks
from argus.accounts import service as accounts
from argus.db import migrate
from argus.db.models import Scenario
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.logs import configure_logging
from argus.tewa import service

TARGET_RATE = 500.0
TARGET_P99_S = 0.050
USERNAME, PASSWORD = "bench", "bench-password"
START = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
BATCH_SPACING_S = 5  # stored batches, like the periodic job's default interval
CENTRE_LAT, CENTRE_LON = 30.0, 75.0

console = Console(highlight=False, width=150)


# ---- data ----


@dataclass(frozen=True)
class Seeded:
    scenario_id: int
    da_ids: list[int]
    first_t: dt.datetime
    last_t: dt.datetime
    stored_scores: int
    seconds: float


def seed(url: str, args: argparse.Namespace) -> Seeded:
    t0 = time.perf_counter()
    migrate.upgrade(url)
    rng = np.random.default_rng(args.seed)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    last_t = START + dt.timedelta(seconds=args.samples - 1)
    try:
        with session_scope(factory) as s:
            accounts.create_user(s, USERNAME, PASSWORD, "operator")
            sc, _ = service.get_or_create_scenario(s, "bench-api", notes="bench_api.py load test")
            da_ids = []
            for k in range(args.assets):
                da = service.upsert_defended_asset(
                    s,
                    f"BENCH-DA-{k:02d}",
                    lat=CENTRE_LAT + float(rng.uniform(-1.0, 1.0)),
                    lon=CENTRE_LON + float(rng.uniform(-1.0, 1.0)),
                    radius_km=float(rng.uniform(5.0, 30.0)),
                )
                service.attach_asset(s, sc, da)
                da_ids.append(da.id)
            service.import_samples(
                s,
                sc,
                inbound_tracks(args.tracks, args.samples, rng, (CENTRE_LAT, CENTRE_LON), START),
            )
            scenario_id = sc.id
        stored = 0
        for k in range(args.batches):
            when = last_t - dt.timedelta(seconds=BATCH_SPACING_S * (args.batches - 1 - k))
            with session_scope(factory) as s:
                sc2 = s.get(Scenario, scenario_id)
                assert sc2 is not None
                stored += service.compute_at(s, sc2, when, persist=True, live=True).persisted
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return Seeded(scenario_id, da_ids, START, last_t, stored, time.perf_counter() - t0)


def endpoints(seeded: Seeded) -> dict[str, Endpoint]:
    sid = seeded.scenario_id
    last = seeded.last_t

    def compute_body(i: int) -> dict[str, Any]:
        when = last - dt.timedelta(seconds=i % 60)  # within the samples: every track current
        return {
            "scenario_id": sid,
            "when": when.isoformat().replace("+00:00", "Z"),
            "persist": False,
        }

    return {
        "ranking": Endpoint("ranking", "GET", "/api/tewa/ranking/", {"scenario_id": sid}),
        # What a board showing the 20 most threatening tracks asks: 7 kB instead of 334 kB.
        "ranking top 20": Endpoint(
            "ranking top 20", "GET", "/api/tewa/ranking/", {"scenario_id": sid, "top_n": 20}
        ),
        "ranking per DA": Endpoint(
            "ranking per DA",
            "GET",
            "/api/tewa/ranking/",
            {"scenario_id": sid, "da_id": seeded.da_ids[0]},
        ),
        "compute_at": Endpoint("compute_at", "POST", "/api/tewa/compute_at/", body=compute_body),
        "health": Endpoint("health", "GET", "/health", auth=False),
        "auth/me": Endpoint("auth/me", "GET", "/api/auth/me"),
    }


def check_responses(base: str, token: str, eps: dict[str, Endpoint], args: Any) -> None:
    """Warm up every endpoint and check that each answers with the full data set."""
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=h, timeout=120) as c:
        for _ in range(5):
            c.get(eps["ranking"].path, params=eps["ranking"].params).raise_for_status()
        g = c.get(eps["ranking"].path, params=eps["ranking"].params).json()["results"]
        d = c.get(eps["ranking per DA"].path, params=eps["ranking per DA"].params).json()
        body = eps["compute_at"].body
        assert body is not None
        r = c.post(eps["compute_at"].path, json=body(0))
        r.raise_for_status()
        pairs = r.json()["results"]
        c.get("/api/auth/me").raise_for_status()
    if len(g) != args.tracks or len(d["results"]) != args.tracks:
        raise RuntimeError(
            f"ranking answered {len(g)} / {len(d['results'])} rows, not {args.tracks}"
        )
    if len(pairs) != args.tracks * args.assets:
        raise RuntimeError(
            f"compute_at answered {len(pairs)} pairs, not {args.tracks * args.assets}"
        )


@dataclass
class Paired:
    """In-process ``service.rank`` and the same ranking over HTTP, called alternately."""

    endpoint: str
    workers: int
    inproc: np.ndarray
    http: np.ndarray

    @property
    def ratio(self) -> float:
        return float(np.median(self.http) / np.median(self.inproc))


def paired_overhead(
    url: str, base: str, token: str, ep: Endpoint, seeded: Seeded, workers: int, n: int
) -> Paired:
    """n pairs (in-process call, HTTP request) back to back, on an otherwise idle server, so
    both halves of the ratio see the same machine load."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    da_id = (ep.params or {}).get("da_id")

    def inproc() -> None:
        with session_scope(factory) as s:
            sc = s.get(Scenario, seeded.scenario_id)
            assert sc is not None
            service.rank(s, sc, da_id=da_id)

    a, b = np.empty(n), np.empty(n)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=SENT_TIMEOUT_S) as c:
            for k in range(-1, n):
                t0 = time.perf_counter()
                inproc()
                t1 = time.perf_counter()
                c.request(ep.method, ep.path, params=ep.params).raise_for_status()
                t2 = time.perf_counter()
                if k >= 0:
                    a[k], b[k] = t1 - t0, t2 - t1
    finally:
        engine.dispose()
    return Paired(ep.name, workers, a, b)


def _write_batches(
    url: str, seeded: Seeded, every: float, first_k: int, stop: Any, out: Any
) -> None:
    """The batch writer's process: a score batch every ``every`` s until ``stop`` is set, then
    (next k, seconds per batch) on ``out``."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    k, seconds = first_k, []
    try:
        while not stop.wait(every):
            # Half seconds: never the stamp of a seeded batch (whole multiples of 5 s).
            when = seeded.last_t - dt.timedelta(seconds=k + 0.5)
            k += 1
            t0 = time.perf_counter()
            with session_scope(factory) as s:
                sc = s.get(Scenario, seeded.scenario_id)
                assert sc is not None
                service.compute_at(s, sc, when, persist=True, live=True)
            seconds.append(time.perf_counter() - t0)
    finally:
        engine.dispose()
        out.put((k, seconds))


@dataclass
class BatchHistory:
    """Across the runs of one server: the next batch's time offset (times stay distinct) and
    the seconds each stored batch took."""

    next_k: int = 1
    seconds: list[float] = field(default_factory=list)


class BatchWriter:
    """Stores a new score batch every ``every`` s while a ranking run goes on, as the periodic
    job does in production: each batch moves the scenario's revision, so the server's ranking
    cache misses once per batch and the run includes those recomputations.

    A separate process, like the scheduler or Celery worker it stands for: as a thread of this
    process it held the GIL for seconds per batch and stalled the load generator (send lag p99
    0.7-1 s in the 2026-12-01 morning runs), which open-loop latency then counted against the
    server.

    Batches go in at distinct times within the samples (``last - k - 0.5`` s, k = 1, 2, …), so every
    track stays current; the stored history grows by tracks x DAs rows per batch.
    """

    def __init__(self, url: str, seeded: Seeded, every: float, history: BatchHistory) -> None:
        first_k = history.next_k
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self._out = ctx.Queue()
        self._proc = ctx.Process(
            target=_write_batches,
            args=(url, seeded, every, first_k, self.stop, self._out),
            daemon=True,
        )
        self.history = history
        self.written = 0

    def start(self) -> None:
        self._proc.start()

    def join(self) -> None:
        self.stop.set()
        self.history.next_k, seconds = self._out.get(timeout=120)
        self.history.seconds.extend(seconds)
        self.written = len(seconds)
        self._proc.join(timeout=30)


def measure_server(
    url: str, seeded: Seeded, args: argparse.Namespace, workers: int, tmp: Path, secret: str
) -> tuple[list[Run], list[Paired], list[str]]:
    pairs: list[Paired] = []
    notes: list[str] = []
    dbname = sa.make_url(url).database if url.startswith("postgres") else None
    settings = load.Settings(
        args.serial_duration,
        args.closed_duration,
        args.duration,
        args.timeout,
        args.max_in_flight,
        args.max_wait,
        args.client,
        bool(args.gzip),
    )
    with run_server(url, workers, secret, tmp) as srv, load.runner() as runner:
        token = login(srv.base_url, USERNAME, PASSWORD)
        eps = endpoints(seeded)
        check_responses(srv.base_url, token, eps, args)
        console.print(
            f"[bold]server[/]: argus serve --workers {workers} (pid {srv.pid}) on {srv.base_url}; "
            f"load generator: this process, {args.client} client"
            f"{' (gzip)' if args.gzip and args.client == 'raw' else ''}"
        )
        for name in ("ranking", "ranking per DA"):
            if name in args.endpoints:
                wait_quiet(srv.pid, args.max_wait)
                pr = paired_overhead(
                    url, srv.base_url, token, eps[name], seeded, workers, args.ref_calls
                )
                pairs.append(pr)
                console.print(
                    f"  {name:<14} paired with service.rank: HTTP p50 {ms(float(np.median(pr.http)))} ms, "
                    f"in-process p50 {ms(float(np.median(pr.inproc)))} ms: {pr.ratio:.2f}x"
                )

        history = BatchHistory()

        def writer(ep: Endpoint) -> BatchWriter | None:
            if args.write_every > 0 and ep.name.startswith("ranking"):
                return BatchWriter(url, seeded, args.write_every, history)
            return None

        lt = LoadTest(
            srv.base_url,
            srv.pid,
            workers,
            token,
            settings,
            runner,
            dbname,
            background=writer,
            log=console.print,
        )
        for name in ("ranking", "ranking top 20", "ranking per DA"):
            if name in args.endpoints:
                lt.serial(eps[name], 20)
                lt.closed(eps[name], args.clients)
                lt.open(eps[name], args.rate)
        for name in ("health", "auth/me"):
            if name in args.endpoints:
                lt.open(eps[name], args.rate)
        if "compute_at" in args.endpoints:
            lt.serial(eps["compute_at"], 5)
            lt.closed(eps["compute_at"], args.compute_clients)
            lt.open(eps["compute_at"], args.compute_rate)
        wait_quiet(srv.pid, 0)
    batch_s = history.seconds
    if batch_s:
        notes.append(
            f"{workers} worker{'s' if workers > 1 else ''}: {len(batch_s)} score batches stored "
            f"during the ranking runs (one per {args.write_every:g} s, {args.tracks * args.assets:,} "
            f"rows each), {np.median(batch_s) * 1e3:.0f} ms median to compute and store"
        )
    for err, k in server_errors(srv.log).most_common(5):
        notes.append(f"{workers} worker{'s' if workers > 1 else ''}: server logged {k} x {err}")
    return lt.runs, pairs, notes


# ---- in-process reference and breakdown ----


@dataclass
class Timing:
    what: str
    samples: np.ndarray  # seconds
    note: str = ""

    @property
    def p50(self) -> float:
        return float(np.median(self.samples))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.samples, 99, method="inverted_cdf"))


@dataclass
class Reference:
    rank_global: Timing
    rank_da: Timing
    compute: Timing
    breakdown: list[Timing] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _as_json_direct(r: Any) -> dict[str, Any]:
    """``RankedThreat.as_json`` / ``PairScore.as_json`` without ``dataclasses.asdict`` (which
    deep-copies every field): the same dict, built from the fields directly."""
    d = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            d[k] = None
        elif isinstance(v, dt.datetime):
            d[k] = v.isoformat().replace("+00:00", "Z")
    return d


# Proposed SQL, measured on the same data (PostgreSQL): the latest row of each (track, DA) of
# the scenario's DA set by one backward probe of the unique (scenario_id, track_id, da_id,
# computed_at) index per pair (LATERAL … ORDER BY computed_at DESC LIMIT 1), whose cost does
# not grow with the stored history as the GROUP BY over every stored row does; and the global
# ranking done in the database on top of it (each track once, its highest score): 1 row per
# track to fetch instead of 1 per pair.
LATEST_LATERAL = """
SELECT t.track_id, d.id, d.name, s.score, s.cpa_km, s.tcpa_s, s.tdb_km, s.twrp_s,
       s.n_cpa, s.n_tcpa, s.n_tdb, s.n_twrp, s.computed_at
FROM track t
JOIN scenario_asset sa ON sa.scenario_id = t.scenario_id
JOIN defended_asset d ON d.id = sa.da_id
CROSS JOIN LATERAL (
  SELECT * FROM threat_score ts
  WHERE ts.scenario_id = t.scenario_id AND ts.track_id = t.id AND ts.da_id = d.id
  ORDER BY ts.computed_at DESC LIMIT 1) AS s
WHERE t.scenario_id = %(sid)s
"""
GLOBAL_IN_SQL = """
WITH latest AS (
  SELECT t.id AS tid, t.track_id AS name, d.id AS did, d.name AS dname, s.*
  FROM track t
  JOIN scenario_asset sa ON sa.scenario_id = t.scenario_id
  JOIN defended_asset d ON d.id = sa.da_id
  CROSS JOIN LATERAL (
    SELECT score, cpa_km, tcpa_s, tdb_km, twrp_s, n_cpa, n_tcpa, n_tdb, n_twrp, computed_at
    FROM threat_score ts
    WHERE ts.scenario_id = t.scenario_id AND ts.track_id = t.id AND ts.da_id = d.id
    ORDER BY ts.computed_at DESC LIMIT 1) AS s
  WHERE t.scenario_id = %(sid)s),
best AS (
  SELECT DISTINCT ON (tid) * FROM latest
  ORDER BY tid, score DESC,
           CASE WHEN tcpa_s IS NULL OR tcpa_s < 0 THEN 'Infinity'::float8 ELSE tcpa_s END, did)
SELECT name, did, dname, score, cpa_km, tcpa_s, tdb_km, twrp_s, n_cpa, n_tcpa, n_tdb, n_twrp,
       computed_at
FROM best ORDER BY score DESC
"""


def _plan_lines(node: dict[str, Any], depth: int = 0) -> list[str]:
    what = node["Node Type"]
    for key in ("Index Name", "Relation Name"):
        if key in node:
            what += f" {node[key]}"
            break
    est, rows, loops = node.get("Plan Rows"), node.get("Actual Rows"), node.get("Actual Loops")
    line = f"{'  ' * depth}{what}: est {est} rows, actual {rows} x {loops} loops"
    if "Actual Total Time" in node:
        line += f", {node['Actual Total Time']:.1f} ms"
    out = [line]
    for child in node.get("Plans", []):
        out += _plan_lines(child, depth + 1)
    return out


def reference(
    url: str, seeded: Seeded, args: argparse.Namespace, secret: str, tmp: Path
) -> Reference:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    sid = seeded.scenario_id
    n = args.ref_calls

    def rank(**kw: Any) -> list[service.RankedThreat]:
        with session_scope(factory) as s:
            sc = s.get(Scenario, sid)
            assert sc is not None
            return service.rank(s, sc, **kw)

    def latest() -> list[Any]:
        with session_scope(factory) as s:
            sc = s.get(Scenario, sid)
            assert sc is not None
            return service.latest_scores(s, sc)

    def compute() -> service.ComputeResult:
        with session_scope(factory) as s:
            sc = s.get(Scenario, sid)
            assert sc is not None
            return service.compute_at(s, sc, seeded.last_t, persist=False)

    ref = Reference(
        Timing("service.rank (global)", time_calls(rank, n)),
        Timing("service.rank (per DA)", time_calls(lambda: rank(da_id=seeded.da_ids[0]), n)),
        Timing(
            "service.compute_at (persist=False)", time_calls(compute, max(3, args.ref_calls // 10))
        ),
    )
    bd = ref.breakdown

    # The SQL of latest_scores, captured as the driver receives it.
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    latest()
    sa.event.remove(engine, "before_cursor_execute", capture)
    sql, params = captured[-1]

    pg = engine.dialect.name == "postgresql"
    if pg:

        def explain(statement: str, p: Any) -> tuple[float, dict[str, Any]]:
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, p)
                doc = cur.fetchone()[0][0]
                raw.rollback()
            finally:
                raw.close()
            return float(doc["Execution Time"]) / 1e3, doc["Plan"]

        runs = [explain(sql, params) for _ in range(max(5, n // 4))]
        bd.append(
            Timing(
                "PostgreSQL executes latest_scores' SQL (EXPLAIN ANALYZE)",
                np.array([r[0] for r in runs]),
            )
        )
        ref.plan = _plan_lines(runs[-1][1])

    def raw_fetch(statement: str, p: Any) -> Callable[[], int]:
        def go() -> int:
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(statement, p)
                rows = len(cur.fetchall())
                raw.rollback()
            finally:
                raw.close()
            return rows

        return go

    bd.append(
        Timing(
            "the same SQL through the raw driver cursor (no ORM rows)",
            time_calls(raw_fetch(sql, params), n),
        )
    )
    bd.append(Timing("service.latest_scores (SQLAlchemy rows)", time_calls(latest, n)))
    bd.append(ref.rank_global)
    ranked = rank()
    body = {"scenario_id": sid, "da_id": None, "at": None, "results": []}

    def handler() -> dict[str, Any]:
        return body | {"results": [r.as_json() for r in rank()]}

    bd.append(
        Timing("service.rank + RankedThreat.as_json (the route's body)", time_calls(handler, n))
    )
    bd.append(
        Timing(
            "RankedThreat.as_json alone (field by field), 1 row per track",
            time_calls(lambda: [r.as_json() for r in ranked], n),
        )
    )
    direct = [_as_json_direct(r) for r in ranked]
    if direct != [r.as_json() for r in ranked]:
        ref.notes.append("as_json without asdict differs from as_json: not a drop-in replacement")
    bd.append(
        Timing(
            "the same dicts built directly in this script (check)",
            time_calls(lambda: [_as_json_direct(r) for r in ranked], n),
        )
    )
    from pydantic import TypeAdapter

    full = body | {"results": [r.as_json() for r in ranked]}
    ta: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
    bd.append(
        Timing(
            "FastAPI response serialization (TypeAdapter validate + dump_json)",
            time_calls(lambda: ta.dump_json(ta.validate_python(full)), n),
            f"{len(ta.dump_json(full)) / 1e3:.0f} kB",
        )
    )
    if pg:
        runs = [explain(LATEST_LATERAL, {"sid": sid}) for _ in range(max(5, n // 4))]
        bd.append(
            Timing(
                "proposal: latest per (track, DA) by LATERAL index probe (EXPLAIN ANALYZE)",
                np.array([r[0] for r in runs]),
            )
        )
        bd.append(
            Timing(
                "proposal: same, raw driver fetch",
                time_calls(raw_fetch(LATEST_LATERAL, {"sid": sid}), n),
            )
        )
        runs = [explain(GLOBAL_IN_SQL, {"sid": sid}) for _ in range(max(5, n // 4))]
        bd.append(
            Timing(
                "proposal: global ranking in SQL, 1 row per track (EXPLAIN ANALYZE)",
                np.array([r[0] for r in runs]),
            )
        )
        bd.append(
            Timing(
                "proposal: same, raw driver fetch",
                time_calls(raw_fetch(GLOBAL_IN_SQL, {"sid": sid}), n),
            )
        )
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(GLOBAL_IN_SQL, {"sid": sid})
            in_sql = {(r[0], r[1], r[3]) for r in cur.fetchall()}
            raw.rollback()
        finally:
            raw.close()
        if in_sql != {(r.track_id, r.da_id, r.score) for r in ranked}:
            ref.notes.append("the global ranking in SQL picks other (track, DA, score) than rank()")
        else:
            ref.notes.append(
                f"the global ranking in SQL returns the same {len(in_sql)} (track, DA, score) as rank()"
            )
    bd.append(asgi_in_process(url, sid, n, secret, tmp))
    result = compute()
    m = max(3, n // 10)
    bd.append(
        Timing(
            "compute_at: ComputeResult.as_json (field by field), 1 row per pair",
            time_calls(result.as_json, m),
        )
    )
    pairs_direct = [_as_json_direct(p) for p in result.pairs]
    if pairs_direct != [p.as_json() for p in result.pairs]:
        ref.notes.append("PairScore dicts without asdict differ from as_json")
    bd.append(
        Timing(
            "compute_at: the same dicts built directly in this script (check)",
            time_calls(lambda: [_as_json_direct(p) for p in result.pairs], m),
        )
    )
    cbody = result.as_json()
    bd.append(
        Timing(
            "compute_at: FastAPI response serialization",
            time_calls(lambda: ta.dump_json(ta.validate_python(cbody)), m),
            f"{len(ta.dump_json(cbody)) / 1e6:.1f} MB",
        )
    )
    engine.dispose()
    return ref


def asgi_in_process(url: str, sid: int, n: int, secret: str, tmp: Path) -> Timing:
    """The whole app (auth, middleware, route, serialization) in this process, no socket."""
    from argus.api.app import create_app
    from argus.config import Settings

    settings = Settings(
        database_url=url,
        jwt_secret=secret,
        compute_interval_s=0,
        var_dir=tmp / "var",
        broker_url=None,
    )
    app = create_app(settings)

    async def go() -> np.ndarray:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as c:
            r = await c.post("/api/auth/login", data={"username": USERNAME, "password": PASSWORD})
            r.raise_for_status()
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            out = np.empty(n)
            for k in range(-1, n):
                t0 = time.perf_counter()
                r = await c.get("/api/tewa/ranking/", params={"scenario_id": sid})
                r.raise_for_status()
                if k >= 0:
                    out[k] = time.perf_counter() - t0
            return out

    with load.runner() as runner:
        samples = runner.run(go())
    app.state.engine.dispose()
    return Timing("the whole ASGI app in process (httpx.ASGITransport, no socket)", samples)


def report(
    runs: list[Run],
    pairs: list[Paired],
    ref: Reference,
    seeded: Seeded,
    args: argparse.Namespace,
    backend: str,
) -> None:
    title = (
        f"API over loopback, {backend}, {args.tracks:,} tracks x {args.assets} DAs "
        f"({seeded.stored_scores:,} stored scores), {args.client} load generator; latency in ms"
    )
    console.print(load.latency_table(runs, title))
    console.print(load.cpu_table(runs))

    if pairs:
        pt = Table(
            title=(
                f"HTTP overhead: {args.ref_calls} pairs of (service.rank in this process, the same "
                "ranking over HTTP), back to back on an idle server; ms"
            )
        )
        for col in ("endpoint", "workers", "in-process p50", "HTTP p50", "HTTP / in-process"):
            pt.add_column(col, justify="left" if col == "endpoint" else "right")
        for pr in pairs:
            pt.add_row(
                pr.endpoint,
                str(pr.workers),
                ms(float(np.median(pr.inproc))),
                ms(float(np.median(pr.http))),
                f"{pr.ratio:.2f}",
            )
        console.print(pt)

    bd = Table(
        title=(
            f"where the time goes, in process (no HTTP): global ranking over {args.ref_calls} "
            f"calls, compute_at over {max(3, args.ref_calls // 10)}; ms"
        )
    )
    bd.add_column("step")
    for col in ("p50", "p99", ""):
        bd.add_column(col, justify="right" if col else "left")
    for t in (ref.rank_global, ref.rank_da, ref.compute):
        bd.add_row(f"reference: {t.what}", ms(t.p50), ms(t.p99), t.note)
    for t in ref.breakdown:
        if t is ref.rank_global:
            continue
        bd.add_row(t.what, ms(t.p50), ms(t.p99), t.note)
    console.print(bd)
    if ref.plan:
        console.print("plan of latest_scores' SQL (EXPLAIN ANALYZE, last run):")
        for line in ref.plan:
            console.print("  " + line)
    for note in ref.notes:
        console.print(f"note: {note}")


def summary(runs: list[Run], pairs: list[Paired]) -> str:
    def best(endpoint: str, mode: str) -> Run | None:
        cands = [r for r in runs if r.endpoint == endpoint and r.mode == mode]
        return min(cands, key=lambda r: (r.pct(99), -r.achieved), default=None)

    def p99(run: Run) -> str:
        if math.isfinite(run.pct(99)):
            return f"p99 {ms(run.pct(99))} ms"
        failed = 100 * (1 - run.ok / max(len(run.latencies), 1))
        return f"p99 failed ({failed:.0f}% of requests dropped or failed)"

    rk, ca = best("ranking", "open"), best("compute_at", "open")
    parts = []
    if rk is not None:
        met = rk.pct(99) < TARGET_P99_S and rk.target is not None and rk.target >= TARGET_RATE
        top = max((r.achieved for r in runs if r.endpoint == "ranking"), default=0.0)
        parts.append(
            f"ranking {p99(rk)} at {fmt.rate(rk.target)} req/s "
            f"({rk.workers} worker{'s' if rk.workers > 1 else ''}; target < 50 ms at "
            f"{TARGET_RATE:.0f} req/s: {'met' if met else 'missed'}, max {fmt.rate(top)} req/s)"
        )
    top20 = best("ranking top 20", "open")
    if top20 is not None:
        met = top20.pct(99) < TARGET_P99_S and (top20.target or 0) >= TARGET_RATE
        parts.append(f"top 20 {p99(top20)} ({'met' if met else 'missed'})")
    if ca is not None:
        parts.append(f"compute_at {p99(ca)} at {fmt.rate(ca.target)} req/s")
    paired = [pr for pr in pairs if pr.endpoint == "ranking"]
    if paired:
        parts.append(f"HTTP overhead {paired[0].ratio:.1f}x the in-process query")
    return fmt.summary("api", parts)


# ---- main ----


ENDPOINTS = ("ranking", "ranking top 20", "ranking per DA", "health", "auth/me", "compute_at")


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = cli.parser(__doc__)
    cli.add_database(ap, sqlite=True)
    ap.add_argument("--rate", type=float, default=TARGET_RATE, help="open-loop req/s for ranking")
    ap.add_argument("--compute-rate", type=float, default=1.0, help="open-loop req/s, compute_at")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per open-loop run")
    ap.add_argument("--closed-duration", type=float, default=10.0, help="seconds per closed run")
    ap.add_argument("--serial-duration", type=float, default=5.0, help="seconds per serial run")
    ap.add_argument(
        "--workers",
        type=cli.comma_ints("--workers"),
        default=[1],
        help="uvicorn workers, e.g. 1 or 1,2 (each run)",
    )
    ap.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="load generator's HTTP client: httpx.AsyncClient, or a minimal asyncio HTTP/1.1 one",
    )
    ap.add_argument(
        "--gzip",
        action="store_true",
        help="raw client: send 'Accept-Encoding: gzip' and gunzip each compressed body, as "
        "browsers and httpx do (httpx always does)",
    )
    ap.add_argument("--clients", type=int, default=8, help="closed-loop clients (ranking)")
    ap.add_argument(
        "--compute-clients", type=int, default=2, help="closed-loop clients (compute_at)"
    )
    ap.add_argument("--max-in-flight", type=int, default=64, help="open-loop outstanding requests")
    ap.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="open loop: s after its scheduled time an unsent request is dropped (failed)",
    )
    ap.add_argument(
        "--endpoints",
        type=cli.comma_choices("--endpoints", ENDPOINTS),
        default=list(ENDPOINTS),
        help=f"comma-separated subset of: {', '.join(ENDPOINTS)} (default all)",
    )
    ap.add_argument("--tracks", type=int, default=1_000)
    ap.add_argument("--assets", type=int, default=10)
    ap.add_argument("--samples", type=int, default=180, help="samples per track, 1 s apart")
    ap.add_argument("--batches", type=int, default=1, help="stored score batches, 5 s apart")
    ap.add_argument(
        "--write-every",
        type=float,
        default=5.0,
        help="during ranking runs, store a new score batch every S s as the periodic job does "
        "(each one invalidates the server's ranking cache); 0 = no writes (default 5)",
    )
    ap.add_argument("--ref-calls", type=int, default=40, help="in-process calls per reference")
    ap.add_argument(
        "--max-wait",
        type=float,
        default=60.0,
        help="s to wait before each run for other processes to use < 25%% of the machine",
    )
    ap.add_argument("--seed", type=int, default=20261124)
    args = ap.parse_args(argv)
    cli.require(
        ap,
        args,
        at_least_one=(
            "tracks",
            "assets",
            "samples",
            "batches",
            "ref_calls",
            "clients",
            "max_in_flight",
        ),
        positive=(
            "rate",
            "compute_rate",
            "duration",
            "closed_duration",
            "serial_duration",
            "timeout",
        ),
    )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    configure_logging("WARNING")
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    load_at_start = os.getloadavg()[0]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    console.print(
        f"machine: {NCPU} CPUs, shared by the server, PostgreSQL and this load generator; "
        f"1-min load average {load_at_start:.1f} at start; commit {commit}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    secret = secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory(prefix="argus_bench_api_") as tmp_s:
        tmp = Path(tmp_s)
        with db.database(args.pg_url, args.sqlite, "argus_bench_api") as url:
            seeded = seed(url, args)
            console.print(
                f"data: {backend}, 1 scenario, {args.assets} DAs, {args.tracks:,} tracks x "
                f"{args.samples} samples, {seeded.stored_scores:,} stored scores "
                f"({args.batches} batch{'es' if args.batches > 1 else ''}); seeded in {seeded.seconds:.1f} s"
            )
            ref = reference(url, seeded, args, secret, tmp)
            console.print(
                f"in-process reference: rank global p50 {ms(ref.rank_global.p50)} ms, "
                f"per DA {ms(ref.rank_da.p50)} ms, compute_at {ms(ref.compute.p50)} ms"
            )
            runs: list[Run] = []
            pairs: list[Paired] = []
            for w in args.workers:
                more, more_pairs, notes = measure_server(url, seeded, args, w, tmp, secret)
                runs += more
                pairs += more_pairs
                ref.notes += notes
    report(runs, pairs, ref, seeded, args, backend)
    console.print(
        f"{fmt.load_average(load_at_start)}. Open loop: latency from the scheduled send time; a request that "
        f"could not be sent within {args.timeout:g} s of it (all {args.max_in_flight} slots "
        "busy) is dropped and counts as failed"
    )
    print(summary(runs, pairs))
    return 0  # a missed target is reported, not an error: figures vary by machine


if __name__ == "__main__":
    sys.exit(main())
