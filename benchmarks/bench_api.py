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
import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import json
import math
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from argus.accounts import service as accounts
from argus.db import migrate
from argus.db.models import Scenario
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.logs import configure_logging
from argus.tewa import service
from argus.tewa.ingest import TrackSamples

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_RATE = 500.0
TARGET_P99_S = 0.050
USERNAME, PASSWORD = "bench", "bench-password"
START = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
SENT_TIMEOUT_S = 120.0  # a request once sent is awaited this long at most
BATCH_SPACING_S = 5  # stored batches, like the periodic job's default interval
CENTRE_LAT, CENTRE_LON = 30.0, 75.0
EARTH_RADIUS_M = 6_371_008.8
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1

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


def make_samples(n_tracks: int, n_samples: int, rng: np.random.Generator) -> TrackSamples:
    """Straight-line tracks 60-400 km from the centre, most heading roughly inbound, at 1 s."""
    rng_km = rng.uniform(60.0, 400.0, n_tracks)
    bearing = rng.uniform(0.0, 360.0, n_tracks)
    inbound = np.mod(bearing + 180.0 + rng.normal(0.0, 40.0, n_tracks), 360.0)
    outbound = rng.random(n_tracks) < 0.2
    heading = np.where(outbound, rng.uniform(0.0, 360.0, n_tracks), inbound)
    heading = np.mod(heading, 360.0)
    heading[heading >= 360.0] = 0.0
    speed = rng.uniform(80.0, 600.0, n_tracks)
    alt = rng.uniform(50.0, 12_000.0, n_tracks)
    b = np.radians(bearing)
    north0, east0 = rng_km * 1e3 * np.cos(b), rng_km * 1e3 * np.sin(b)
    t = np.arange(n_samples, dtype=np.float64)
    h = np.radians(heading)
    north = north0[:, None] + (speed * np.cos(h))[:, None] * t[None, :]
    east = east0[:, None] + (speed * np.sin(h))[:, None] * t[None, :]
    lat = CENTRE_LAT + np.degrees(north / EARTH_RADIUS_M)
    lon = CENTRE_LON + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    start_us = int(START.timestamp()) * 1_000_000
    n = n_tracks * n_samples
    names = np.array([f"BENCH-{k:04d}" for k in range(n_tracks)], dtype=object)
    return TrackSamples(
        track_id=np.repeat(names, n_samples),
        t_us=(start_us + np.tile(np.arange(n_samples, dtype=np.int64), n_tracks) * 1_000_000),
        lat=lat.ravel(),
        lon=lon.ravel(),
        alt_m=np.repeat(alt, n_samples),
        speed_mps=np.repeat(speed, n_samples),
        heading_deg=np.repeat(heading, n_samples),
        line=np.arange(2, n + 2, dtype=np.int64),
    )


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
            sc, _ = service.get_or_create_scenario(s, "bench-api", "bench_api.py load test")
            da_ids = []
            for k in range(args.assets):
                da = service.upsert_defended_asset(
                    s,
                    f"BENCH-DA-{k:02d}",
                    CENTRE_LAT + float(rng.uniform(-1.0, 1.0)),
                    CENTRE_LON + float(rng.uniform(-1.0, 1.0)),
                    float(rng.uniform(5.0, 30.0)),
                )
                service.attach_asset(s, sc, da)
                da_ids.append(da.id)
            service.import_samples(s, sc, make_samples(args.tracks, args.samples, rng))
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


@contextlib.contextmanager
def database(args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    if args.sqlite:
        yield f"sqlite:///{tmp}/bench_api.db"
        return
    name = f"argus_bench_api_{secrets.token_hex(6)}"
    admin = make_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield sa.make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


# ---- CPU accounting (/proc) ----


def _proc_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (comm, ppid, CPU seconds) for every process we can read."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        out[int(entry.name)] = (comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK_TCK)
    return out


def _cpu_of(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def _system_busy_s() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def _postmaster_pid() -> int | None:
    procs = _proc_stats()
    for pid, (comm, ppid, _) in procs.items():
        if comm.startswith("postgres") and not procs.get(ppid, ("",))[0].startswith("postgres"):
            return pid
    return None


class PgSampler(threading.Thread):
    """CPU time of the PostgreSQL processes serving one database, while it runs.

    Every 0.1 s it lists the postmaster's children, keeps those whose title names the
    database (``postgres: 15/main: user DB host(port) state``) and reads their CPU time
    from /proc. Other databases on the same server (other users of the machine) are left
    out; a backend that exits loses at most its last 0.1 s.
    """

    def __init__(self, dbname: str) -> None:
        super().__init__(daemon=True)
        self.dbname = dbname
        self.postmaster = _postmaster_pid()
        self.ours: dict[int, bool] = {}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self._sample(initial=True)

    def _sample(self, initial: bool = False) -> None:
        if self.postmaster is None:
            return
        pm = self.postmaster
        try:
            with open(f"/proc/{pm}/task/{pm}/children", encoding="ascii") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            return
        for pid in kids:
            ours = self.ours.get(pid)
            if ours is None:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        title = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                ours = self.ours[pid] = f" {self.dbname} " in f" {title} "
            if ours:
                cpu = _cpu_of(pid)
                if cpu is not None:
                    self.first.setdefault(pid, cpu if initial else 0.0)
                    self.last[pid] = cpu

    def run(self) -> None:
        while not self.done.wait(0.1):
            self._sample()

    def total(self) -> float:
        self.done.set()
        self.join()
        self._sample()
        return sum(self.last[p] - self.first[p] for p in self.last)


@dataclass
class CpuSnap:
    wall: float
    server: float
    client: float
    system: float


def cpu_snapshot(server_pid: int | None) -> CpuSnap:
    server = 0.0
    if server_pid is not None:
        procs = _proc_stats()
        tree, frontier = {server_pid}, [server_pid]
        children: dict[int, list[int]] = {}
        for pid, (_, ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        while frontier:
            for c in children.get(frontier.pop(), []):
                if c not in tree:
                    tree.add(c)
                    frontier.append(c)
        server = sum(procs[p][2] for p in tree if p in procs)
    return CpuSnap(time.perf_counter(), server, time.process_time(), _system_busy_s())


@dataclass
class CpuDelta:
    wall: float
    server: float
    postgres: float
    client: float
    system: float

    @property
    def other(self) -> float:
        pg = self.postgres if math.isfinite(self.postgres) else 0.0  # SQLite: in the server
        return max(self.system - self.server - pg - self.client, 0.0)


def cpu_delta(a: CpuSnap, b: CpuSnap, postgres: float) -> CpuDelta:
    return CpuDelta(
        b.wall - a.wall, b.server - a.server, postgres, b.client - a.client, b.system - a.system
    )


# ---- the server ----


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argus_command() -> list[str]:
    exe = Path(sys.executable).with_name("argus")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "argus.cli.main"]


@dataclass
class Server:
    base_url: str
    pid: int
    workers: int
    log: Path


@contextlib.contextmanager
def run_server(url: str, workers: int, jwt_secret: str, tmp: Path) -> Iterator[Server]:
    port = _free_port()
    log = tmp / f"server-{workers}w.log"
    env = os.environ | {
        "ARGUS_JWT_SECRET": jwt_secret,
        "ARGUS_COMPUTE_INTERVAL_S": "0",
        "ARGUS_VAR_DIR": str(tmp / "var"),
    }
    env.pop("ARGUS_BROKER_URL", None)
    cmd = [
        *_argus_command(),
        "--database-url",
        url,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-scheduler",
        "--workers",
        str(workers),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"argus serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"argus serve not healthy after 90 s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.2)
        yield Server(base, proc.pid, workers, log)
    finally:
        if proc.poll() is None:
            os.killpg(
                proc.pid, signal.SIGTERM
            )  # the session started above: the server and its workers
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_quiet(pid: int, max_other_s: float) -> float:
    """Wait until the server uses < 10% of a core over 0.5 s (its work is done), then up to
    ``max_other_s`` more for the rest of the machine to use < 25% of it (other users)."""
    t0 = time.perf_counter()
    prev = cpu_snapshot(pid)
    server_idle_at = None
    while True:
        time.sleep(0.5)
        cur = cpu_snapshot(pid)
        server = cur.server - prev.server
        rest = cur.system - prev.system - server - (cur.client - prev.client)
        now = time.perf_counter()
        if server < 0.05 and server_idle_at is None:
            server_idle_at = now
        if server_idle_at is not None and (
            rest < 0.25 * NCPU * 0.5 or now - server_idle_at > max_other_s
        ):
            break
        if now - t0 > 120 + max_other_s:
            break
        prev = cur
    return time.perf_counter() - t0


# ---- load generation ----


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: Callable[[int], dict[str, Any]] | None = None  # request number -> JSON body
    auth: bool = True


@dataclass
class Run:
    endpoint: str
    mode: str  # serial / closed / open
    workers: int
    target: float | None  # req/s (open) or None
    clients: int | None  # closed loop concurrency
    latencies: np.ndarray  # seconds per request, inf for a failed one
    errors: Counter[str]
    elapsed: float
    lag: np.ndarray | None = None  # open loop: task start - scheduled time
    cpu: CpuDelta | None = None
    sent: int = 0
    batches: int = 0  # score batches stored by the BatchWriter during the run

    @property
    def ok(self) -> int:
        return int(np.isfinite(self.latencies).sum())

    @property
    def achieved(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def pct(self, q: float) -> float:
        if self.latencies.size == 0:
            return math.nan
        return float(np.percentile(self.latencies, q, method="inverted_cdf"))


class HttpxClient:
    """The load generator's HTTP client: httpx.AsyncClient with a keep-alive pool."""

    def __init__(self, base: str, token: str | None, connections: int) -> None:
        self.client = httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=httpx.Timeout(None),  # the caller bounds the wait
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def status(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any | None
    ) -> int:
        r = await self.client.request(method, path, params=params, json=body)
        return r.status_code

    async def aclose(self) -> None:
        await self.client.aclose()


class ServerClosedError(ConnectionError):
    """A kept-alive connection closed by the server before it answered: send again on a new one."""


#: ``--gzip``: the raw client asks for gzip and decompresses (set by ``main``).
RAW_GZIP = False


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (``--client raw``).

    It reads the status line, the headers and the body (Content-Length or chunked) and
    nothing more: a fraction of httpx's CPU per request, which matters when the load
    generator shares two cores with the server.
    """

    def __init__(self, base: str, token: str | None, connections: int) -> None:
        u = httpx.URL(base)
        self.host, self.port = u.host, u.port or 80
        self.head = f"Host: {u.host}:{self.port}\r\nUser-Agent: bench_api\r\nAccept: */*\r\n"
        if RAW_GZIP:
            self.head += "Accept-Encoding: gzip\r\n"
        if token:
            self.head += f"Authorization: Bearer {token}\r\n"
        # Kept-alive connections, reused oldest first: requests rotate over every open
        # connection, as many consoles each polling on their own connection would. (Newest
        # first sent a light open-loop load down one or two connections, hence to one uvicorn
        # worker, whatever --workers said.)
        self.idle: collections.deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            collections.deque()
        )
        self.all: list[asyncio.StreamWriter] = []

    async def warm(self, n: int) -> None:
        """Open ``n`` connections before a run, so the server's workers accept them all first."""
        for _ in range(n - len(self.idle)):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.all.append(writer)
            self.idle.append((reader, writer))

    async def status(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any | None
    ) -> int:
        target = f"{path}?{urlencode(params)}" if params else path
        payload = b"" if body is None else json.dumps(body).encode()
        extra = (
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            if body is not None
            else ""
        )
        request = f"{method} {target} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + payload
        while self.idle:  # a kept-alive connection the server may have closed meanwhile
            reader, writer = self.idle.popleft()
            try:
                return await self._exchange(reader, writer, request)
            except ServerClosedError:
                continue
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.all.append(writer)
        return await self._exchange(reader, writer, request)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> int:
        try:
            writer.write(request)
            try:
                line = await reader.readline()
            except ConnectionError:
                line = b""
            if not line:  # closed before answering: uvicorn drops idle keep-alives after 5 s
                raise ServerClosedError("closed before answering")
            code = int(line.split()[1])
            length, chunked, close, gz = 0, False, False, False
            while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = h.partition(b":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value
                elif name == b"connection":
                    close = value == b"close"
                elif name == b"content-encoding":
                    gz = value == b"gzip"
            if chunked:
                while size := int((await reader.readline()).split(b";")[0], 16):
                    await reader.readexactly(size + 2)
                await reader.readline()  # the blank line after the last chunk (no trailers)
            else:
                data = await reader.readexactly(length)
                if gz:  # what a client that asked for gzip does with the body
                    zlib.decompress(data, 31)
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer))
        return code

    async def aclose(self) -> None:
        for w in self.all:
            w.close()


Client = HttpxClient | RawClient


#: Connections the open loop opens before it starts (raw client), spread over the workers.
WARM_CONNECTIONS = 16


def make_client(kind: str, base: str, token: str | None, connections: int) -> Client:
    return (RawClient if kind == "raw" else HttpxClient)(base, token, connections)


async def _send(client: Client, ep: Endpoint, i: int) -> str | None:
    """One request, awaited to the end (never abandoned: the server would go on computing it).

    Returns None on a 2xx answer, else what went wrong.
    """
    try:
        async with asyncio.timeout(SENT_TIMEOUT_S):
            code = await client.status(
                ep.method, ep.path, ep.params, ep.body(i) if ep.body is not None else None
            )
    except TimeoutError:
        return f"no answer in {SENT_TIMEOUT_S:.0f} s"
    except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        return type(exc).__name__
    return None if 200 <= code < 300 else f"HTTP {code}"


async def open_loop(
    base: str,
    token: str,
    ep: Endpoint,
    rate: float,
    duration: float,
    timeout: float,
    max_in_flight: int,
    kind: str,
) -> tuple[np.ndarray, Counter[str], float, np.ndarray, int]:
    """Request i is due at t0 + i / rate, whatever happened to the others.

    Its latency runs from that scheduled time to the end of the answer. At most
    ``max_in_flight`` requests are outstanding; one that has not found a free slot
    ``timeout`` s after its scheduled time is dropped unsent and counted as failed.
    """
    n = max(1, round(rate * duration))
    lat = np.full(n, np.inf)
    lag = np.zeros(n)
    errors: Counter[str] = Counter()
    sem = asyncio.Semaphore(max_in_flight)
    last_done = [0.0]

    async def one(client: Client, i: int, scheduled: float) -> None:
        lag[i] = _clock() - scheduled
        try:
            async with asyncio.timeout(scheduled + timeout - _clock()):
                await sem.acquire()
        except TimeoutError:
            errors[f"dropped (no slot in {timeout:g} s)"] += 1
            return
        try:
            err = await _send(client, ep, i)
        finally:
            sem.release()
        if err is None:
            done = _clock()
            lat[i] = done - scheduled
            last_done[0] = max(last_done[0], done)
        else:
            errors[err] += 1

    client = make_client(kind, base, token if ep.auth else None, max_in_flight)
    try:
        if isinstance(client, RawClient):
            await client.warm(min(WARM_CONNECTIONS, max_in_flight))
        tasks = []
        t0 = _clock() + 0.05
        for i in range(n):
            at = t0 + i / rate
            delay = at - _clock()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, i, at)))
        await asyncio.gather(*tasks)
    finally:
        await client.aclose()
    elapsed = max(last_done[0] - t0, duration) if last_done[0] else duration
    return lat, errors, elapsed, lag, n


async def closed_loop(
    base: str,
    token: str,
    ep: Endpoint,
    clients: int,
    duration: float,
    kind: str,
    min_requests: int = 0,
) -> tuple[np.ndarray, Counter[str], float, int]:
    """``clients`` clients, each sending its next request when the previous one is answered."""
    lats: list[float] = []
    errors: Counter[str] = Counter()
    counter = [0]

    async def worker(client: Client, stop: float) -> None:
        while _clock() < stop or counter[0] < min_requests:
            i = counter[0]
            counter[0] += 1
            t = _clock()
            err = await _send(client, ep, i)
            if err is None:
                lats.append(_clock() - t)
            else:
                errors[err] += 1
                lats.append(math.inf)

    client = make_client(kind, base, token if ep.auth else None, clients)
    try:
        t0 = _clock()
        await asyncio.gather(*(worker(client, t0 + duration) for _ in range(clients)))
        elapsed = _clock() - t0
    finally:
        await client.aclose()
    return np.array(lats), errors, elapsed, counter[0]


def _clock() -> float:
    """The load generator's clock. Not ``loop.time()``: uvloop's is libuv's millisecond clock,
    cached once per loop iteration, which rounded every latency to a whole millisecond."""
    return time.perf_counter()


def _runner() -> asyncio.Runner:
    try:
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.Runner()


def login(base: str) -> str:
    r = httpx.post(
        f"{base}/api/auth/login", data={"username": USERNAME, "password": PASSWORD}, timeout=30
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


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


def server_errors(log: Path) -> Counter[str]:
    """The server's unhandled errors (its JSON log lines), by message."""
    out: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if '"unhandled_error"' not in line:
            continue
        try:
            out[str(json.loads(line).get("error", "?"))[:160]] += 1
        except ValueError:
            out[line[:160]] += 1
    return out


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

    def __init__(self, url: str, seeded: Seeded, every: float, first_k: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self._out = ctx.Queue()
        self._proc = ctx.Process(
            target=_write_batches,
            args=(url, seeded, every, first_k, self.stop, self._out),
            daemon=True,
        )
        self.k = first_k
        self.written = 0
        self.seconds: list[float] = []

    def start(self) -> None:
        self._proc.start()

    def join(self) -> None:
        self.stop.set()
        self.k, self.seconds = self._out.get(timeout=120)
        self.written = len(self.seconds)
        self._proc.join(timeout=30)


def measure_server(
    url: str, seeded: Seeded, args: argparse.Namespace, workers: int, tmp: Path, secret: str
) -> tuple[list[Run], list[Paired], list[str]]:
    runs: list[Run] = []
    pairs: list[Paired] = []
    notes: list[str] = []
    dbname = sa.make_url(url).database if url.startswith("postgres") else None
    with run_server(url, workers, secret, tmp) as srv, _runner() as runner:
        token = login(srv.base_url)
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
                    f"  {name:<14} paired with service.rank: HTTP p50 {_ms(float(np.median(pr.http)))} ms, "
                    f"in-process p50 {_ms(float(np.median(pr.inproc)))} ms: {pr.ratio:.2f}x"
                )

        writer_k = [1]  # the next BatchWriter time offset, across runs (times stay distinct)
        batch_s: list[float] = []

        def record(
            ep: Endpoint,
            mode: str,
            go: Callable[[], Any],
            target: float | None,
            clients: int | None,
        ) -> None:
            wait_quiet(srv.pid, args.max_wait)
            sampler = PgSampler(dbname) if dbname else None
            if sampler is not None:
                sampler.start()
            writer = None
            if args.write_every > 0 and ep.name.startswith("ranking"):
                writer = BatchWriter(url, seeded, args.write_every, writer_k[0])
                writer.start()
            a = cpu_snapshot(srv.pid)
            res = runner.run(go())
            b = cpu_snapshot(srv.pid)
            if writer is not None:
                writer.stop.set()
                writer.join()
                writer_k[0] = writer.k
                batch_s.extend(writer.seconds)
            pg = sampler.total() if sampler is not None else math.nan
            lag = None
            if mode == "open":
                lat, errors, elapsed, lag, sent = res
            else:
                lat, errors, elapsed, sent = res
            run = Run(ep.name, mode, workers, target, clients, lat, errors, elapsed, lag)
            run.cpu, run.sent = cpu_delta(a, b, pg), sent
            run.batches = writer.written if writer is not None else 0
            runs.append(run)
            console.print("  " + describe(run))

        def serial(ep: Endpoint, min_requests: int) -> None:
            record(
                ep,
                "serial",
                lambda: closed_loop(
                    srv.base_url, token, ep, 1, args.serial_duration, args.client, min_requests
                ),
                None,
                1,
            )

        def closed(ep: Endpoint, clients: int) -> None:
            record(
                ep,
                "closed",
                lambda: closed_loop(
                    srv.base_url, token, ep, clients, args.closed_duration, args.client
                ),
                None,
                clients,
            )

        def open_(ep: Endpoint, rate: float) -> None:
            record(
                ep,
                "open",
                lambda: open_loop(
                    srv.base_url,
                    token,
                    ep,
                    rate,
                    args.duration,
                    args.timeout,
                    args.max_in_flight,
                    args.client,
                ),
                rate,
                None,
            )

        for name in ("ranking", "ranking top 20", "ranking per DA"):
            if name in args.endpoints:
                serial(eps[name], 20)
                closed(eps[name], args.clients)
                open_(eps[name], args.rate)
        for name in ("health", "auth/me"):
            if name in args.endpoints:
                open_(eps[name], args.rate)
        if "compute_at" in args.endpoints:
            serial(eps["compute_at"], 5)
            closed(eps["compute_at"], args.compute_clients)
            open_(eps["compute_at"], args.compute_rate)
        wait_quiet(srv.pid, 0)
    if batch_s:
        notes.append(
            f"{workers} worker{'s' if workers > 1 else ''}: {len(batch_s)} score batches stored "
            f"during the ranking runs (one per {args.write_every:g} s, {args.tracks * args.assets:,} "
            f"rows each), {np.median(batch_s) * 1e3:.0f} ms median to compute and store"
        )
    for err, k in server_errors(srv.log).most_common(5):
        notes.append(f"{workers} worker{'s' if workers > 1 else ''}: server logged {k} x {err}")
    return runs, pairs, notes


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


def time_calls(fn: Callable[[], object], n: int) -> np.ndarray:
    fn()  # warm
    out = np.empty(n)
    for k in range(n):
        t0 = time.perf_counter()
        fn()
        out[k] = time.perf_counter() - t0
    return out


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

    with _runner() as runner:
        samples = runner.run(go())
    app.state.engine.dispose()
    return Timing("the whole ASGI app in process (httpx.ASGITransport, no socket)", samples)


# ---- report ----


def _ms(x: float) -> str:
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "failed"
    return f"{x * 1e3:.1f}" if x < 0.1 else f"{x * 1e3:.0f}"


def _rate(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def _errors(run: Run) -> str:
    n = sum(run.errors.values())
    if not n:
        return "0"
    detail = ", ".join(f"{v} {k}" for k, v in run.errors.most_common(2))
    return f"{n} ({100 * n / max(len(run.latencies), 1):.0f}%: {detail})"


def _mode(run: Run) -> str:
    if run.mode == "open":
        return "open loop"
    return "serial (1 client)" if run.mode == "serial" else f"closed, {run.clients} clients"


def describe(run: Run) -> str:
    return (
        f"{run.endpoint:<14} {_mode(run):<18} target {_rate(run.target):>5}  "
        f"achieved {_rate(run.achieved):>5} req/s  p50 {_ms(run.pct(50))}  p99 {_ms(run.pct(99))} ms  "
        f"errors {_errors(run)}" + (f"  batches {run.batches}" if run.batches else "")
    )


def report(
    runs: list[Run],
    pairs: list[Paired],
    ref: Reference,
    seeded: Seeded,
    args: argparse.Namespace,
    backend: str,
) -> None:
    table = Table(
        title=(
            f"API over loopback, {backend}, {args.tracks:,} tracks x {args.assets} DAs "
            f"({seeded.stored_scores:,} stored scores), {args.client} load generator; latency in ms"
        )
    )
    for col, just in (
        ("endpoint", "left"),
        ("mode", "left"),
        ("workers", "right"),
        ("target req/s", "right"),
        ("achieved req/s", "right"),
        ("p50", "right"),
        ("p90", "right"),
        ("p99", "right"),
        ("max", "right"),
        ("errors (non-2xx, timeout)", "left"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in runs:
        table.add_row(
            r.endpoint,
            _mode(r),
            str(r.workers),
            _rate(r.target),
            _rate(r.achieved),
            _ms(r.pct(50)),
            _ms(r.pct(90)),
            _ms(r.pct(99)),
            _ms(float(r.latencies.max()) if r.latencies.size else math.nan),
            _errors(r),
        )
    console.print(table)

    cpu = Table(
        title=(
            f"CPU per successful request and machine load during each run ({NCPU} CPUs shared by "
            "server, PostgreSQL and this load generator)"
        )
    )
    for col in (
        "endpoint",
        "mode",
        "workers",
        "server ms/req",
        "postgres ms/req",
        "load gen % of a core",
        "machine busy %",
        "other processes %",
        "gen lag p99 ms",
    ):
        cpu.add_column(col, justify="left" if col in ("endpoint", "mode") else "right")
    for r in runs:
        c = r.cpu
        if c is None:
            continue
        ok = max(r.ok, 1)
        cpu.add_row(
            r.endpoint,
            _mode(r),
            str(r.workers),
            f"{c.server / ok * 1e3:.1f}",
            f"{c.postgres / ok * 1e3:.1f}" if math.isfinite(c.postgres) else "—",
            f"{100 * c.client / c.wall:.0f}",
            f"{100 * c.system / (c.wall * NCPU):.0f}",
            f"{100 * c.other / (c.wall * NCPU):.0f}" if math.isfinite(c.other) else "—",
            _ms(float(np.percentile(r.lag, 99))) if r.lag is not None and r.lag.size else "—",
        )
    console.print(cpu)

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
                _ms(float(np.median(pr.inproc))),
                _ms(float(np.median(pr.http))),
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
        bd.add_row(f"reference: {t.what}", _ms(t.p50), _ms(t.p99), t.note)
    for t in ref.breakdown:
        if t is ref.rank_global:
            continue
        bd.add_row(t.what, _ms(t.p50), _ms(t.p99), t.note)
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
            return f"p99 {_ms(run.pct(99))} ms"
        failed = 100 * (1 - run.ok / max(len(run.latencies), 1))
        return f"p99 failed ({failed:.0f}% of requests dropped or failed)"

    rk, ca = best("ranking", "open"), best("compute_at", "open")
    parts = []
    if rk is not None:
        met = rk.pct(99) < TARGET_P99_S and rk.target is not None and rk.target >= TARGET_RATE
        top = max((r.achieved for r in runs if r.endpoint == "ranking"), default=0.0)
        parts.append(
            f"ranking {p99(rk)} at {_rate(rk.target)} req/s "
            f"({rk.workers} worker{'s' if rk.workers > 1 else ''}; target < 50 ms at "
            f"{TARGET_RATE:.0f} req/s: {'met' if met else 'missed'}, max {_rate(top)} req/s)"
        )
    top20 = best("ranking top 20", "open")
    if top20 is not None:
        met = top20.pct(99) < TARGET_P99_S and (top20.target or 0) >= TARGET_RATE
        parts.append(f"top 20 {p99(top20)} ({'met' if met else 'missed'})")
    if ca is not None:
        parts.append(f"compute_at {p99(ca)} at {_rate(ca.target)} req/s")
    paired = [pr for pr in pairs if pr.endpoint == "ranking"]
    if paired:
        parts.append(f"HTTP overhead {paired[0].ratio:.1f}x the in-process query")
    return "api: " + ", ".join(parts)


# ---- main ----


def _workers(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--workers: integers separated by commas, got {text!r}"
        ) from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("--workers: at least one, each >= 1")
    return out


ENDPOINTS = ("ranking", "ranking top 20", "ranking per DA", "health", "auth/me", "compute_at")


def _endpoints(text: str) -> list[str]:
    out = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in out if x not in ENDPOINTS]
    if unknown or not out:
        raise argparse.ArgumentTypeError(
            f"--endpoints: unknown {unknown}; choose among {', '.join(ENDPOINTS)}"
        )
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    db = ap.add_mutually_exclusive_group()
    db.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help=f"PostgreSQL server (admin database) to create the bench database on (default {DEFAULT_PG_URL})",
    )
    db.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead")
    ap.add_argument("--rate", type=float, default=TARGET_RATE, help="open-loop req/s for ranking")
    ap.add_argument("--compute-rate", type=float, default=1.0, help="open-loop req/s, compute_at")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per open-loop run")
    ap.add_argument("--closed-duration", type=float, default=10.0, help="seconds per closed run")
    ap.add_argument("--serial-duration", type=float, default=5.0, help="seconds per serial run")
    ap.add_argument(
        "--workers", type=_workers, default=[1], help="uvicorn workers, e.g. 1 or 1,2 (each run)"
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
        type=_endpoints,
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
    for name in ("tracks", "assets", "samples", "batches", "ref_calls", "clients", "max_in_flight"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    for name in (
        "rate",
        "compute_rate",
        "duration",
        "closed_duration",
        "serial_duration",
        "timeout",
    ):
        if not getattr(args, name) > 0:
            ap.error(f"--{name.replace('_', '-')} must be > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    global RAW_GZIP
    args = parse(argv)
    RAW_GZIP = bool(args.gzip)
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
        with database(args, tmp) as url:
            seeded = seed(url, args)
            console.print(
                f"data: {backend}, 1 scenario, {args.assets} DAs, {args.tracks:,} tracks x "
                f"{args.samples} samples, {seeded.stored_scores:,} stored scores "
                f"({args.batches} batch{'es' if args.batches > 1 else ''}); seeded in {seeded.seconds:.1f} s"
            )
            ref = reference(url, seeded, args, secret, tmp)
            console.print(
                f"in-process reference: rank global p50 {_ms(ref.rank_global.p50)} ms, "
                f"per DA {_ms(ref.rank_da.p50)} ms, compute_at {_ms(ref.compute.p50)} ms"
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
        f"1-min load average: {load_at_start:.1f} at start, {os.getloadavg()[0]:.1f} at end "
        f"({NCPU} CPUs). Open loop: latency from the scheduled send time; a request that "
        f"could not be sent within {args.timeout:g} s of it (all {args.max_in_flight} slots "
        "busy) is dropped and counts as failed"
    )
    print(summary(runs, pairs))
    return 0  # a missed target is reported, not an error: figures vary by machine


if __name__ == "__main__":
    sys.exit(main())
