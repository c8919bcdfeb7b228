"""The ``argus`` command line (Typer + Rich). Thin: parse, call a service, print."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from argus import __version__
from argus.cli import defense as defense_cli
from argus.cli import ops as ops_cli
from argus.cli import tewa as tewa_cli
from argus.cli.astro import app as astro_app
from argus.cli.common import (
    console,
    err_console,
    fail,
    session_scope_from_settings,
    settings,
    state,
)
from argus.cli.rf import app as rf_app
from argus.cli.sim import app as sim_app
from argus.config import get_settings
from argus.logs import configure_logging

app = typer.Typer(
    name="argus",
    help=(
        "Argus: from sensors to decisions.\n\n"
        "Configuration comes from ARGUS_* environment variables (see `argus config show`); "
        "--database-url overrides ARGUS_DATABASE_URL for one command.\n\n"
        "First steps: `argus db upgrade`, `argus seed-demo`, `argus serve`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
db_app = typer.Typer(
    help="Database migrations (Alembic): upgrade, downgrade, current.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
tewa_cli.register(app)
ops_cli.register(app)
defense_cli.register(app)
app.add_typer(sim_app, name="sim")
app.add_typer(astro_app, name="astro")
app.add_typer(rf_app, name="rf")


# Files bigger than this get a progress bar (about 5,000 rows of a track CSV).
PROGRESS_MIN_BYTES = 300_000


def _settings_error(exc: ValueError) -> str:
    """One line per bad setting: the environment variable and the reason."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for e in errors():
        loc = ".".join(str(x) for x in e.get("loc", ()))
        var = f"ARGUS_{loc.upper()}: " if loc else ""
        parts.append(var + str(e.get("msg", "")).removeprefix("Value error, "))
    return "; ".join(parts)


def _version(value: bool) -> None:
    if value:
        console.print(f"argus {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", envvar=None, help="Override ARGUS_DATABASE_URL for this command."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    try:
        base = get_settings()
    except ValueError as exc:  # pydantic's ValidationError: a bad or unsupported ARGUS_* value
        err_console.print(f"[red]error:[/] settings: {_settings_error(exc)}")
        raise typer.Exit(2) from None
    state.settings = (
        base.model_copy(update={"database_url": database_url}) if database_url else base
    )
    s = settings()
    # Commands print their own results; logs stay at WARNING unless ARGUS_LOG_LEVEL asks for more.
    level = s.log_level if "ARGUS_LOG_LEVEL" in os.environ else "WARNING"
    configure_logging(level, s.log_json)


# ---- config ----


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective settings, with passwords and secrets masked."""
    data = settings().masked()
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    table = Table(title="Argus settings", show_lines=False)
    table.add_column("setting")
    table.add_column("environment variable")
    table.add_column("value")
    for key, value in data.items():
        table.add_row(key, f"ARGUS_{key.upper()}", "[dim]unset[/]" if value is None else str(value))
    console.print(table)


# ---- db ----


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from argus.db import migrate

    url = settings().database_url
    try:
        migrate.upgrade(url, revision)
    except Exception as exc:
        raise fail(
            f"migration to {revision} failed on {settings().masked()['database_url']}: {exc}"
        ) from exc
    console.print(
        f"database at revision [bold]{_current(url)}[/] ({settings().masked()['database_url']})"
    )


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: -1 for one step, base for empty.")
    ] = "-1",
) -> None:
    """Revert migrations down to REVISION."""
    from argus.db import migrate

    url = settings().database_url
    migrate.downgrade(url, revision)
    console.print(f"database at revision [bold]{_current(url) or 'base'}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is the newest."""
    from argus.db import migrate

    cur = _current(settings().database_url)
    head = migrate.head_revision()
    state = "up to date" if cur == head else f"behind (newest is {head}; run `argus db upgrade`)"
    console.print(f"{cur or 'base'} — {state}")


def _current(url: str) -> str | None:
    from argus.db import migrate
    from argus.db.session import make_engine

    engine = make_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


# ---- import ----


class _Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def _print_errors(errors: list[Any], limit: int) -> None:
    table = Table(title="rejected rows", title_justify="left")
    for col in ("line", "column", "value", "reason"):
        table.add_column(col)
    for e in errors[:limit]:
        table.add_row(str(e.line), e.column, e.value[:40], e.reason)
    err_console.print(table)
    if len(errors) > limit:
        err_console.print(
            f"… and {len(errors) - limit} more problems (use --max-errors N or --json to see all)"
        )


@app.command("import-tracks")
def import_tracks(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="CSV or JSON-lines track file."
        ),
    ],
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario name (created if missing).")
    ],
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="Import the good rows and report the bad ones, instead of rejecting the file.",
        ),
    ] = False,
    fmt: Annotated[
        _Format | None,
        typer.Option("--format", help="File format; default from the extension (.csv, .jsonl)."),
    ] = None,
    create: Annotated[
        bool,
        typer.Option("--create/--no-create", help="Create the scenario when it does not exist."),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the import report as JSON.")
    ] = False,
    max_errors: Annotated[
        int, typer.Option("--max-errors", min=1, help="Rows to list in the error table.")
    ] = 50,
) -> None:
    """Import track samples (columns: track_id, lat, lon, alt_m, speed_mps, heading_deg, timestamp).

    Timestamps are ISO 8601 with a zone (2025-01-01T12:00:00Z). A file with any bad row is
    rejected whole, every bad row listed with its line, column and reason; --partial keeps the
    good rows. Importing the same file again changes nothing.
    """
    from argus.tewa import service
    from argus.tewa.ingest import TrackFileError

    show_progress = file.stat().st_size >= PROGRESS_MIN_BYTES and not as_json
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show_progress,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = {"parsed": "reading", "validated": "validating", "written": "writing"}.get(
                stage, stage
            )
            tasks[stage] = progress.add_task(label, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    try:
        with progress, session_scope_from_settings() as session:
            report = service.import_tracks(
                session,
                file,
                scenario,
                partial=partial,
                create_scenario=create,
                fmt=fmt.value if fmt else None,
                progress=on_progress,
            )
    except TrackFileError as exc:
        if as_json:
            payload = {"error": str(exc), "errors": [dataclasses.asdict(e) for e in exc.errors]}
            console.print_json(json.dumps(payload))
        else:
            if exc.errors:
                _print_errors(exc.errors, max_errors)
            err_console.print(f"[bold red]rejected:[/] {file.name}: {exc}")
        raise typer.Exit(1) from None
    except service.NotFoundError as exc:
        raise fail(str(exc)) from None

    if as_json:
        console.print_json(json.dumps(report.as_dict()))
        return
    if report.errors:
        _print_errors(report.errors, max_errors)
    console.print(
        f"[bold]{report.inserted}[/] samples imported into [bold]{report.scenario}[/]"
        f"{' (new scenario)' if report.scenario_created else ''}: "
        f"{report.rows_read} rows read, {report.already_present} already present, "
        f"{report.rows_rejected} rejected; {report.tracks_created} tracks created, "
        f"{report.tracks_updated} updated to their latest state."
    )
    if report.ignored_columns:
        console.print(f"[yellow]ignored columns:[/] {', '.join(report.ignored_columns)}")


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo: scenario Demo-Scenario, DA-Alpha (Jaisalmer), DA-Bravo (Jodhpur), tracks T1-T3.

    Idempotent: running it again adds nothing.
    """
    from argus.tewa import service

    with session_scope_from_settings() as session:
        rep = service.seed_demo(session)
    state = "created" if rep.scenario_created else "already there"
    console.print(
        f"Demo-Scenario {state}: {rep.assets_attached} assets attached, {rep.samples_inserted} samples added."
    )


# ---- serve ----


@app.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default ARGUS_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ARGUS_PORT, 8000).")] = None,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Run `db upgrade` before serving.")
    ] = False,
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run the periodic recompute in this process when no broker is configured.",
        ),
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            help="uvicorn worker processes (the scheduler then stays off: use Celery beat)."
        ),
    ] = 1,
    pipeline: Annotated[
        bool | None,
        typer.Option(
            "--pipeline/--no-pipeline",
            help="run the defense pipeline's real-time controller in this process on the "
            "'Defense demo' scenario (default ARGUS_PIPELINE; `argus demo defense` sets it up)",
        ),
    ] = None,
) -> None:
    """Serve the REST API, the WebSocket and the operator console.

    Without ARGUS_JWT_SECRET a random secret is generated once into ./var/; on a database with
    no users a demo operator is created and its credentials printed.
    """
    import uvicorn

    from argus.cli.ops import ensure_demo_operator, ensure_jwt_secret, require_migrated

    s = settings()
    if migrate_first:
        from argus.db import migrate

        migrate.upgrade(s.database_url)
    if workers > 1 and (pipeline or s.pipeline):
        raise fail("--pipeline runs in one process: use --workers 1", 2)
    require_migrated()  # exit 2 naming `argus db upgrade` instead of a traceback later
    note = ensure_jwt_secret()
    if note:
        err_console.print(f"[yellow]{note}[/]")
    creds = ensure_demo_operator()
    os.environ["ARGUS_DATABASE_URL"] = s.database_url
    get_settings.cache_clear()
    configure_logging(s.log_level, s.log_json)
    h, p = host or s.host, port or s.port
    console.print(
        f"Argus on [bold]http://{h}:{p}/[/]  (API docs: http://{h}:{p}/docs, health: http://{h}:{p}/health)"
    )
    if creds:
        console.print(
            f"demo operator: user [bold]{creds[0]}[/]  password [bold]{creds[1]}[/]  (kept in {s.var_dir}/demo-operator.txt)"
        )
    sys.stdout.flush()
    if not os.environ.get("ARGUS_GC_FREEZE"):
        os.environ["ARGUS_GC_FREEZE"] = "true"  # every worker reads it (docs/operations.md)
        get_settings.cache_clear()
    if workers > 1:
        uvicorn.run(
            "argus.api.app:create_app",
            factory=True,
            host=h,
            port=p,
            workers=workers,
            log_level="warning",
        )
        return
    from argus.api.app import create_app

    app = create_app(
        get_settings(), run_scheduler=scheduler, run_pipeline=bool(pipeline) or s.pipeline
    )
    uvicorn.run(app, host=h, port=p, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
