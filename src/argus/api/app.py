"""FastAPI application factory: ``create_app()`` builds the API from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from argus import __version__
from argus.api.errors import install_error_handlers, problem
from argus.config import Settings, get_settings
from argus.db import migrate
from argus.db.session import make_engine, make_sessionmaker


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    engine = make_engine(s.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="Argus",
        version=__version__,
        description="Sensors to decisions: threat evaluation, weapon assignment, tracking and more.",
    )
    app.state.settings = s
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    install_error_handlers(app)

    @app.get("/health", tags=["ops"], summary="The process is up")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get(
        "/ready",
        tags=["ops"],
        summary="Database reachable and migrations current",
        response_model=None,
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
        if all(v == "ok" for v in checks.values()):
            return {"status": "ready", "checks": checks}
        return problem(
            503,
            "Not Ready",
            "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"),
            checks=checks,
        )

    return app
