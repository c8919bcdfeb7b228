"""FastAPI application factory: ``create_app()`` builds the API and the console from the settings."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from argus import __version__, metrics
from argus.api import ws
from argus.api.errors import COMMON_RESPONSES, install_error_handlers, problem, problem_doc
from argus.api.ranking_cache import RankingCache
from argus.api.routes import (
    assets,
    astro,
    auth,
    defense,
    exports,
    params,
    picture,
    rf,
    scenarios,
    tewa,
    tracks,
    weapons,
)
from argus.api.schemas_tewa import HealthOut, ReadyOut
from argus.api.uploads import CloseUnreadBodyMiddleware
from argus.config import Settings, get_settings
from argus.db import migrate
from argus.db.reader import AsyncReader
from argus.db.session import make_engine, make_read_engine, make_sessionmaker
from argus.logs import get_logger

log = get_logger("argus.api")


class ObserveMiddleware:
    """Request id, Prometheus counters and latency, one log line per request.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` (BaseHTTPMiddleware) pipes
    every response body through an extra task and memory stream, which cost more than the
    handler itself on a cached 360 kB ranking.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = given.decode("latin-1") or uuid.uuid4().hex[:16]
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            elapsed = time.perf_counter() - started
            metrics.REQUESTS.labels(method, path, str(status_code)).inc()
            metrics.REQUEST_SECONDS.labels(method, path).observe(elapsed)
            if path not in ("/health", "/metrics"):
                log.info(
                    "request",
                    method=method,
                    path=path,
                    status=status_code,
                    ms=round(elapsed * 1000, 1),
                )
            structlog.contextvars.unbind_contextvars("request_id")


class PrometheusText(PlainTextResponse):
    """Prometheus's text exposition format: its content type in the OpenAPI document."""

    media_type = CONTENT_TYPE_LATEST


def _web_dir() -> Path:
    return Path(str(resources.files("argus") / "web"))


def _start_pipeline(app: FastAPI, s: Settings) -> Any:
    """The defense runtime on the demo scenario; a missing model or scenario is reported on
    /api/controller/status (503 naming the fix), never replaced by a fallback."""
    from argus.defense.levels import LevelThresholds
    from argus.defense.service.catalog import find_demo_scenario
    from argus.defense.service.runtime import DefenseRuntime, RuntimeOptions

    app.state.defense = None
    script = None
    try:
        if s.defense_scenario_file is not None:
            sid, script = _load_scenario_file(app, s.defense_scenario_file)
        else:
            with app.state.sessionmaker() as session:
                sid = find_demo_scenario(session)
        rt = DefenseRuntime(
            app.state.sessionmaker,
            sid,
            RuntimeOptions(
                scan_interval_s=s.scan_interval_s,
                detection_threshold_db=s.detection_threshold,
                thresholds=LevelThresholds(
                    high_score=s.threat_threshold_high, critical_score=s.threat_threshold_critical
                ),
            ),
        )
        if script is not None:
            rt.script(script)
    except (LookupError, ValueError) as exc:
        app.state.defense_error = str(exc)
        logging.getLogger("argus.defense").error("defense pipeline not started: %s", exc)
        return None
    rt.start()
    app.state.defense = rt
    return rt


def _load_scenario_file(app: FastAPI, path: Path) -> tuple[int, Any]:
    """ARGUS_DEFENSE_SCENARIO_FILE: validated, then stored (replacing its namesake); the
    scenario id and the raid to script. Errors are ValueError/LookupError naming the file."""
    from argus.db.session import session_scope
    from argus.defense.service.catalog import load_scenario_file
    from argus.defense.service.play import parse_scenario_text

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LookupError(f"ARGUS_DEFENSE_SCENARIO_FILE: cannot read {path}: {exc}") from None
    ds = parse_scenario_text(text, origin=str(path))
    with session_scope(app.state.sessionmaker) as session:
        sid = load_scenario_file(session, ds, replace=True).id
    return sid, ds.scenario


async def _connect_launch_bus(app: FastAPI, url: str) -> Any:
    """Stages on the bus, none in this process: ``POST /api/sim/launch`` publishes
    ``missile.launched`` there (``argus.defense.service.buslaunch``). An unreachable bus is
    reported by the launch endpoint's 503, not a crash of the whole API."""
    from argus.defense.service.buslaunch import BusLauncher
    from argus.pipeline.asyncbus import make_bus

    app.state.bus_launcher = None
    try:
        bus = await make_bus(url)
    except Exception as exc:
        app.state.defense_error = f"event bus {url.split('?')[0]} unreachable: {exc}"
        logging.getLogger("argus.defense").error("launches disabled: %s", app.state.defense_error)
        return None
    app.state.bus_launcher = BusLauncher(app.state.sessionmaker, bus)
    return bus


def create_app(
    settings: Settings | None = None, *, run_scheduler: bool = False, run_pipeline: bool = False
) -> FastAPI:
    """The API. ``run_scheduler`` starts the in-process periodic job (``argus serve`` without a broker)."""
    s = settings or get_settings()
    # Sync handlers run on AnyIO's 40-thread pool and each may hold one connection: let the pool
    # grow to 40 on PostgreSQL (10 kept idle) instead of SQLAlchemy's 5 + 10, which made
    # requests queue for a connection under load. SQLite keeps its own pool.
    engine = make_engine(
        s.database_url,
        **(
            {"pool_size": 10, "max_overflow": 30, "pool_timeout": 10}
            if s.database_url.startswith("postgres")
            else {}
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = None
        if run_scheduler and not s.broker_url and s.compute_interval_s > 0:
            from argus.jobs.scheduler import InProcessScheduler

            scheduler = InProcessScheduler(s.database_url, s.compute_interval_s, settings=s)
            scheduler.start()
            app.state.scheduler = scheduler
        runtime = None
        launch_bus = None
        if run_pipeline or s.pipeline:
            runtime = _start_pipeline(app, s)
        elif s.bus_url:
            launch_bus = await _connect_launch_bus(app, s.bus_url)
        # What start-up built (modules, routes, the OpenAPI schema, SQLAlchemy metadata, the
        # pipeline's world and model) lives as long as the process: move it out of the cyclic
        # collector's reach, so a full collection walks only what requests allocate and no
        # longer stalls every request in flight (argus_gc_pause_seconds measures the pauses).
        # (``argus serve`` sets ARGUS_GC_FREEZE; a test process building many apps does not.)
        metrics.install_gc_timing()
        if s.gc_freeze:
            gc.collect()
            gc.freeze()
        yield
        if runtime is not None:
            await asyncio.to_thread(runtime.stop)
        if launch_bus is not None:
            await launch_bus.close()
        if scheduler is not None:
            await scheduler.stop()
        await app.state.reader.close()
        if app.state.read_engine.pool is not engine.pool:
            app.state.read_engine.dispose()
        engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        responses=COMMON_RESPONSES,
        title="Argus",
        version=__version__,
        description=(
            "Sensors to decisions: threat evaluation, weapon assignment, tracking and more. "
            "Log in with POST /api/auth/login (OAuth2 password flow) and send the access token as "
            "'Authorization: Bearer …'. Errors are RFC 9457 problem+json."
        ),
    )
    app.state.settings = s
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    # The read pool serves the WebSocket's revision polls (one short read each): a few
    # connections are plenty, and each one counts against PostgreSQL's max_connections.
    app.state.read_engine = make_read_engine(
        engine,
        **(
            {"pool_size": 5, "max_overflow": 5, "pool_timeout": 10}
            if s.database_url.startswith("postgres")
            else {}
        ),
    )
    app.state.reader = AsyncReader(engine, max_size=10)
    app.state.ranking_cache = RankingCache(s.ranking_cache_entries)
    app.state.celery = None
    if s.broker_url:
        from argus.jobs.celery_app import make_celery

        app.state.celery = make_celery(s)
    install_error_handlers(app)

    # An upload refused before its body was read (401/403/404/413) closes the connection rather
    # than letting the server drain the rest; the route reads the body itself, after the checks.
    app.add_middleware(CloseUnreadBodyMiddleware)
    app.add_middleware(ObserveMiddleware)

    @app.get("/health", tags=["ops"], summary="The process is up", response_model=HealthOut)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get(
        "/ready",
        tags=["ops"],
        summary="Database reachable, migrations current, broker reachable",
        response_model=None,  # answers a problem+json 503 itself when not ready
        responses={
            200: {"model": ReadyOut, "description": "every check is ok"},
            503: problem_doc("a check failed; `checks` names each one's state"),
        },
    )
    def ready() -> Any:
        checks: dict[str, str] = {}
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current = migrate.current_revision(engine)
            head = migrate.head_revision()
            checks["migrations"] = "ok" if current == head else f"at {current}, newest is {head}"
        except Exception as exc:  # readiness must answer, not raise
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if s.broker_url:
            checks["broker"] = _broker_check(app)
        if all(v == "ok" for v in checks.values()):
            return {"status": "ready", "checks": checks}
        return problem(
            503,
            "Not Ready",
            "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"),
            checks=checks,
        )

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=PrometheusText,
        responses={200: {"description": "Prometheus text exposition format"}},
    )
    def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(auth.router)
    app.include_router(tewa.router)
    # The resources, one router each, in the order their paths appear in the OpenAPI document.
    for resource in (scenarios, assets, tracks, exports, params, weapons, picture):
        app.include_router(resource.router)
    app.include_router(defense.router)
    app.include_router(astro.router)
    app.include_router(rf.router)
    app.include_router(ws.router)

    web = _web_dir()
    if (web / "index.html").exists():
        app.mount("/static", StaticFiles(directory=web), name="static")

        @app.get("/", include_in_schema=False)
        def console() -> FileResponse:
            return FileResponse(web / "index.html")

    return app


def _broker_check(app: FastAPI) -> str:
    celery = app.state.celery
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
