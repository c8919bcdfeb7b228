"""Server CPU per request of the API's hot paths, in process (ASGI calls, no socket, no uvicorn).

Creates a temporary migrated database (PostgreSQL by default, ``--sqlite`` for a file), seeds
the demo scenario, one stored batch and a viewer, then calls the ASGI app directly ``--calls``
times per endpoint and reports CPU and wall time per call. The reference measured in the same
run is ``/health`` (no token, no database): what the framework and middleware cost on their own,
so "endpoint − health" is what authentication, the reads and the handler add.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

from _common import cli, db
from _common import report as fmt
from _common.timing import stopwatch
from argus.accounts import tokens
from argus.accounts.service import create_user
from argus.api.app import create_app
from argus.config import Settings
from argus.db import migrate
from argus.db.models import Scenario
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.logs import configure_logging
from argus.tewa import service

ENDPOINTS = [
    ("/health", b""),
    ("/api/auth/me", b""),
    ("/api/tewa/ranking/", b"scenario_id=1&top_n=20"),
    ("/api/tewa/ranking/", b"scenario_id=1"),
]


async def _call(app: Any, token: str, path: str, query: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(scope, receive, send)
    return status[0]


async def _measure(app: Any, token: str, calls: int) -> list[tuple[str, float, float]]:
    out = []
    async with app.router.lifespan_context(app):
        for path, query in ENDPOINTS:
            for _ in range(max(50, calls // 10)):  # warm: pools open, statements prepared, cache
                status = await _call(app, token, path, query)
                if status != 200:
                    raise SystemExit(f"{path}?{query.decode()} answered {status}")
            bad = 0
            with stopwatch() as sw:
                for _ in range(calls):
                    bad += await _call(app, token, path, query) != 200
            if bad:
                raise SystemExit(f"{path}?{query.decode()}: {bad} of {calls} calls were not 200")
            wall = sw.wall / calls * 1e3
            cpu = sw.cpu / calls * 1e3
            out.append((f"{path}?{query.decode()}" if query else path, cpu, wall))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = cli.parser(__doc__)
    cli.add_database(ap, sqlite=True, exclusive=False)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args(argv)
    configure_logging("WARNING")  # the request log line is not what this measures
    console = fmt.console()
    secret = secrets.token_urlsafe(48)
    with db.database(args.pg_url, args.sqlite, "argus_bench_req") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with session_scope(make_sessionmaker(engine)) as s:
            service.seed_demo(s)
            create_user(s, "bench", secrets.token_urlsafe(16), "viewer")
            sc = s.get(Scenario, 1)
            assert sc is not None
            service.compute_at(s, sc, dt.datetime(2025, 6, 1, 6, 2, tzinfo=dt.UTC))
        engine.dispose()
        settings = Settings(
            database_url=url,
            jwt_secret=secret,
            broker_url=None,
            bus_url=None,
            compute_interval_s=0,
        )
        app = create_app(settings)
        token = tokens.issue(secret, "bench", "viewer")
        rows = asyncio.run(_measure(app, token, args.calls))
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    table = fmt.rich_table(
        f"server cost per request, in process, {backend}, {args.calls} calls each",
        ("endpoint", "CPU ms", "wall ms", "CPU − /health (ms)"),
    )
    base = rows[0][1]
    for ep, cpu, wall in rows:
        table.add_row(
            ep, f"{cpu:.2f}", f"{wall:.2f}", "reference" if ep == "/health" else f"{cpu - base:.2f}"
        )
    console.print(table)
    worst = max(cpu for ep, cpu, _ in rows if ep.startswith("/api/tewa/ranking/"))
    print(
        fmt.summary(
            "request cost",
            [
                f"/health {base:.2f} ms",
                f"auth/me {rows[1][1]:.2f} ms",
                f"cached ranking up to {worst:.2f} ms of CPU "
                f"({fmt.times(worst / base)} the framework floor)",
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
