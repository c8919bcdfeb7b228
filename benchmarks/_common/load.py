"""Load generation over HTTP: endpoints, two clients (httpx, a minimal raw HTTP/1.1 one), the
serial / closed-loop / open-loop drivers, one run's statistics, and the tables that print them.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import numpy as np
from rich.table import Table

from .cpu import NCPU, CpuDelta, PgSampler, cpu_delta, cpu_snapshot
from .report import ms, rate
from .server import wait_quiet

SENT_TIMEOUT_S = 120.0  # a request once sent is awaited this long at most


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


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (``--client raw``).

    It reads the status line, the headers and the body (Content-Length or chunked) and
    nothing more: a fraction of httpx's CPU per request, which matters when the load
    generator shares two cores with the server.
    """

    def __init__(self, base: str, token: str | None, connections: int, gzip: bool = False) -> None:
        u = httpx.URL(base)
        self.host, self.port = u.host, u.port or 80
        self.head = f"Host: {u.host}:{self.port}\r\nUser-Agent: bench_api\r\nAccept: */*\r\n"
        if gzip:  # ask for gzip and decompress every compressed body, as a browser would
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


def make_client(
    kind: str, base: str, token: str | None, connections: int, gzip: bool = False
) -> Client:
    """``kind`` "raw" (with ``gzip``: asks for gzip) or "httpx" (always asks for gzip)."""
    if kind == "raw":
        return RawClient(base, token, connections, gzip)
    return HttpxClient(base, token, connections)


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
    gzip: bool = False,
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
        lag[i] = clock() - scheduled
        try:
            async with asyncio.timeout(scheduled + timeout - clock()):
                await sem.acquire()
        except TimeoutError:
            errors[f"dropped (no slot in {timeout:g} s)"] += 1
            return
        try:
            err = await _send(client, ep, i)
        finally:
            sem.release()
        if err is None:
            done = clock()
            lat[i] = done - scheduled
            last_done[0] = max(last_done[0], done)
        else:
            errors[err] += 1

    client = make_client(kind, base, token if ep.auth else None, max_in_flight, gzip)
    try:
        if isinstance(client, RawClient):
            await client.warm(min(WARM_CONNECTIONS, max_in_flight))
        tasks = []
        t0 = clock() + 0.05
        for i in range(n):
            at = t0 + i / rate
            delay = at - clock()
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
    gzip: bool = False,
) -> tuple[np.ndarray, Counter[str], float, int]:
    """``clients`` clients, each sending its next request when the previous one is answered."""
    lats: list[float] = []
    errors: Counter[str] = Counter()
    counter = [0]

    async def worker(client: Client, stop: float) -> None:
        while clock() < stop or counter[0] < min_requests:
            i = counter[0]
            counter[0] += 1
            t = clock()
            err = await _send(client, ep, i)
            if err is None:
                lats.append(clock() - t)
            else:
                errors[err] += 1
                lats.append(math.inf)

    client = make_client(kind, base, token if ep.auth else None, clients, gzip)
    try:
        t0 = clock()
        await asyncio.gather(*(worker(client, t0 + duration) for _ in range(clients)))
        elapsed = clock() - t0
    finally:
        await client.aclose()
    return np.array(lats), errors, elapsed, counter[0]


def clock() -> float:
    """The load generator's clock. Not ``loop.time()``: uvloop's is libuv's millisecond clock,
    cached once per loop iteration, which rounded every latency to a whole millisecond."""
    return time.perf_counter()


def runner() -> asyncio.Runner:
    try:
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.Runner()


def errors_text(run: Run) -> str:
    n = sum(run.errors.values())
    if not n:
        return "0"
    detail = ", ".join(f"{v} {k}" for k, v in run.errors.most_common(2))
    return f"{n} ({100 * n / max(len(run.latencies), 1):.0f}%: {detail})"


def mode_text(run: Run) -> str:
    if run.mode == "open":
        return "open loop"
    return "serial (1 client)" if run.mode == "serial" else f"closed, {run.clients} clients"


def describe(run: Run) -> str:
    return (
        f"{run.endpoint:<14} {mode_text(run):<18} target {rate(run.target):>5}  "
        f"achieved {rate(run.achieved):>5} req/s  p50 {ms(run.pct(50))}  p99 {ms(run.pct(99))} ms  "
        f"errors {errors_text(run)}" + (f"  batches {run.batches}" if run.batches else "")
    )


# ---- one server under test ----


class Background(Protocol):
    """Work started alongside a run (e.g. a writer storing batches, as production would)."""

    written: int

    def start(self) -> None: ...

    def join(self) -> None: ...


@dataclass
class Settings:
    """Durations and limits of the three modes (``bench_api.py``'s options of the same names)."""

    serial_duration: float
    closed_duration: float
    duration: float  # open loop
    timeout: float  # open loop: an unsent request is dropped this long after its scheduled time
    max_in_flight: int
    max_wait: float  # before each run: s to wait for other processes to quieten
    client: str = "httpx"  # "httpx" or "raw"
    gzip: bool = False


@dataclass
class LoadTest:
    """Runs endpoints against one started server and records each run with its CPU accounting:
    before each run it waits for the machine to quieten (``wait_quiet``), samples the
    PostgreSQL backends of ``dbname`` (if any) and the server's process tree, and starts what
    ``background`` returns for the endpoint (joined when the run ends)."""

    base_url: str
    server_pid: int
    workers: int
    token: str
    settings: Settings
    runner: asyncio.Runner
    dbname: str | None = None
    background: Callable[[Endpoint], Background | None] = lambda ep: None
    log: Callable[[str], None] = print
    runs: list[Run] = field(default_factory=list)

    def record(
        self,
        ep: Endpoint,
        mode: str,
        go: Callable[[], Coroutine[Any, Any, Any]],
        target: float | None,
        clients: int | None,
    ) -> Run:
        wait_quiet(self.server_pid, self.settings.max_wait)
        sampler = PgSampler(self.dbname) if self.dbname else None
        if sampler is not None:
            sampler.start()
        bg = self.background(ep)
        if bg is not None:
            bg.start()
        a = cpu_snapshot(self.server_pid)
        # The generator is not under test: what the bench built before this run (seeded rows,
        # earlier runs' arrays) leaves the collector's reach, so a full collection here does
        # not stall the sending schedule (it showed as "gen lag").
        gc.collect()
        gc.freeze()
        try:
            res = self.runner.run(go())
        finally:
            gc.unfreeze()
        b = cpu_snapshot(self.server_pid)
        if bg is not None:
            bg.join()
        pg = sampler.total() if sampler is not None else math.nan
        lag = None
        if mode == "open":
            lat, errors, elapsed, lag, sent = res
        else:
            lat, errors, elapsed, sent = res
        run = Run(ep.name, mode, self.workers, target, clients, lat, errors, elapsed, lag)
        if mode == "open" and lag is not None:
            # one row per request, for looking at *when* the tail happened (clustered stalls
            # vs. scattered queueing): benchmarks/out/bench_api-<endpoint>-<workers>w.csv
            out = Path(__file__).resolve().parents[1] / "out"
            out.mkdir(exist_ok=True)
            name = f"bench_api-{ep.name.replace(' ', '_')}-{self.workers}w.csv"
            due = np.arange(lat.size) / float(target or 1.0)
            np.savetxt(out / name, np.column_stack([due, lat * 1e3, lag * 1e3]), delimiter=",",
                       header="scheduled_s,latency_ms,send_lag_ms", comments="", fmt="%.4f")  # fmt: skip
        run.cpu, run.sent = cpu_delta(a, b, pg), sent
        run.batches = bg.written if bg is not None else 0
        self.runs.append(run)
        self.log("  " + describe(run))
        return run

    def serial(self, ep: Endpoint, min_requests: int) -> Run:
        """One client, one request at a time, for ``serial_duration`` and ``min_requests``."""
        st = self.settings
        return self.record(
            ep,
            "serial",
            lambda: closed_loop(
                self.base_url,
                self.token,
                ep,
                1,
                st.serial_duration,
                st.client,
                min_requests,
                st.gzip,
            ),
            None,
            1,
        )

    def closed(self, ep: Endpoint, clients: int) -> Run:
        """``clients`` clients back to back for ``closed_duration``."""
        st = self.settings
        return self.record(
            ep,
            "closed",
            lambda: closed_loop(
                self.base_url,
                self.token,
                ep,
                clients,
                st.closed_duration,
                st.client,
                gzip=st.gzip,
            ),
            None,
            clients,
        )

    def open(self, ep: Endpoint, rate: float) -> Run:
        """``rate`` requests per second on a fixed schedule for ``duration``."""
        st = self.settings
        return self.record(
            ep,
            "open",
            lambda: open_loop(
                self.base_url,
                self.token,
                ep,
                rate,
                st.duration,
                st.timeout,
                st.max_in_flight,
                st.client,
                st.gzip,
            ),
            rate,
            None,
        )


# ---- tables ----


def latency_table(runs: list[Run], title: str) -> Table:
    """One row per run: rates, latency percentiles (ms), errors."""
    table = Table(title=title)
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
            mode_text(r),
            str(r.workers),
            rate(r.target),
            rate(r.achieved),
            ms(r.pct(50)),
            ms(r.pct(90)),
            ms(r.pct(99)),
            ms(float(r.latencies.max()) if r.latencies.size else math.nan),
            errors_text(r),
        )
    return table


def cpu_table(runs: list[Run]) -> Table:
    """One row per run: CPU per successful request (server, PostgreSQL) and the machine's load."""
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
            mode_text(r),
            str(r.workers),
            f"{c.server / ok * 1e3:.1f}",
            f"{c.postgres / ok * 1e3:.1f}" if math.isfinite(c.postgres) else "—",
            f"{100 * c.client / c.wall:.0f}",
            f"{100 * c.system / (c.wall * NCPU):.0f}",
            f"{100 * c.other / (c.wall * NCPU):.0f}" if math.isfinite(c.other) else "—",
            ms(float(np.percentile(r.lag, 99))) if r.lag is not None and r.lag.size else "—",
        )
    return cpu
