"""Operations commands: users, the Celery worker and beat, and what `argus serve` prepares."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from argus.cli.common import console, fail, session_scope_from_settings, settings

users_app = typer.Typer(
    help="API users: create, list, change role or password.", no_args_is_help=True
)

DEMO_OPERATOR = "operator"
DEMO_CREDENTIALS_FILE = "demo-operator.txt"
JWT_SECRET_FILE = "jwt-secret"
#: Exit code of a `users` command run against a database that is not at the newest migration.
NOT_MIGRATED_EXIT = 2


def require_migrated() -> None:
    """Stop with exit code 2 and one line unless the database is at the newest migration.

    Only the migration state is judged here: a database that cannot be reached fails on the
    first query as before.
    """
    from sqlalchemy import inspect

    from argus.db import migrate
    from argus.db.session import make_engine

    s = settings()
    engine = make_engine(s.database_url)
    try:
        current = migrate.current_revision(engine)
        head = migrate.head_revision()
        if current == head:
            return
        if current is None:
            missing = "no table app_user" if not inspect(engine).has_table("app_user") else None
            state = f"is not migrated ({missing or 'no Alembic revision'})"
        else:
            state = f"is at revision {current}, not at the newest ({head})"
    finally:
        engine.dispose()
    where = s.masked()["database_url"]
    raise fail(f"database at {where} {state}: run `argus db upgrade` first", code=NOT_MIGRATED_EXIT)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option("--username", "-u", help="Login name.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            "-r",
            help="viewer (read), operator (compute, upload, assign) or admin (params, users).",
        ),
    ] = "viewer",
    password: Annotated[
        str | None,
        typer.Option(
            "--password", "-p", help="At least 8 characters; prompted (hidden) when omitted."
        ),
    ] = None,
) -> None:
    """Create a user; `--role admin` makes the first administrator."""
    from argus.accounts import service as accounts

    require_migrated()
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope_from_settings() as s:
        try:
            u = accounts.create_user(s, username, password, role)
        except accounts.AccountError as exc:
            raise fail(str(exc)) from None
    console.print(f"user [bold]{u.username}[/] created with role {u.role}")


@users_app.command("list")
def users_list() -> None:
    """List users and their roles."""
    from argus.accounts import service as accounts

    require_migrated()
    with session_scope_from_settings() as s:
        users = accounts.list_users(s)
    table = Table(title="users")
    for col in ("username", "role", "active"):
        table.add_column(col)
    for u in users:
        table.add_row(u.username, u.role, "yes" if u.active else "no")
    console.print(table)


@users_app.command("set")
def users_set(
    username: Annotated[str, typer.Argument(help="The user to change.")],
    role: Annotated[str | None, typer.Option("--role", help="New role.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Prompt for a new password.")
    ] = False,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Enable or disable the account.")
    ] = None,
) -> None:
    """Change a user's role, password or active flag."""
    from argus.accounts import service as accounts

    require_migrated()
    new_pw = (
        typer.prompt("new password", hide_input=True, confirmation_prompt=True)
        if password
        else None
    )
    with session_scope_from_settings() as s:
        try:
            u = accounts.update_user(s, username, role=role, password=new_pw, active=active)
        except (LookupError, accounts.AccountError) as exc:
            raise fail(str(exc)) from None
    console.print(f"user {u.username}: role {u.role}, {'active' if u.active else 'inactive'}")


def ensure_jwt_secret() -> str | None:
    """The JWT secret in force: ARGUS_JWT_SECRET, else one generated once into ./var/jwt-secret.

    Returns a message to print when it generated or loaded the file, None when the environment
    provided it.
    """
    s = settings()
    if s.jwt_secret is not None:
        return None
    from argus.accounts.tokens import generate_secret

    path = Path(s.var_dir) / JWT_SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        secret = path.read_text().strip()
        msg = f"ARGUS_JWT_SECRET not set: using the secret generated earlier in {path}"
    else:
        secret = generate_secret()
        path.touch(mode=0o600)
        path.write_text(secret + "\n")
        msg = f"ARGUS_JWT_SECRET not set: generated a random one into {path} (mode 600); set the variable in production"
    os.environ["ARGUS_JWT_SECRET"] = secret
    return msg


def ensure_demo_operator() -> tuple[str, str] | None:
    """On a database without users: create the demo operator with a random password.

    The credentials are written to ./var/demo-operator.txt (mode 600) so `make run` can show
    them again; returns (username, password) when the file exists and they still log in.
    """
    from argus.accounts import service as accounts

    s = settings()
    path = Path(s.var_dir) / DEMO_CREDENTIALS_FILE
    with session_scope_from_settings() as session:
        if accounts.count_users(session) == 0:
            password = secrets.token_urlsafe(12)
            accounts.create_user(session, DEMO_OPERATOR, password, "operator")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(f"{DEMO_OPERATOR}\n{password}\n")
            return DEMO_OPERATOR, password
        if path.exists():
            user, password = path.read_text().split("\n")[:2]
            # Shown again only while they still log in: a changed password or a deactivated
            # operator must not be printed as if it worked.
            if accounts.authenticate(session, user, password) is not None:
                return user, password
    return None


def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on this port.")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run a Celery worker for the jobs (needs ARGUS_BROKER_URL: redis://… or amqp://…)."""
    if not settings().broker_url:
        raise fail("ARGUS_BROKER_URL is not set: a worker needs a Redis or RabbitMQ broker")
    from argus.jobs import celery_app

    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    app = celery_app.app or celery_app.make_celery()  # the module's app: register the tasks once
    _install_signal_metrics()
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel}",
            "-Q",
            settings().celery_queue,
        ]
    )


def beat(loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO") -> None:
    """Run Celery beat: sends periodic_compute_threats every ARGUS_COMPUTE_INTERVAL_S seconds."""
    if not settings().broker_url:
        raise fail("ARGUS_BROKER_URL is not set: beat needs a Redis or RabbitMQ broker")
    from argus.jobs.celery_app import make_celery

    app = make_celery()
    schedule = Path(settings().var_dir) / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.Beat(loglevel=loglevel, schedule=str(schedule)).run()


def _install_signal_metrics() -> None:
    from celery.signals import task_failure, task_retry

    from argus import metrics

    @task_retry.connect(weak=False)
    def _retry(sender: object = None, **_: object) -> None:
        metrics.JOB_RETRIES.labels(task=getattr(sender, "name", "?")).inc()

    @task_failure.connect(weak=False)
    def _failure(sender: object = None, **_: object) -> None:
        metrics.JOB_FAILURES.labels(task=getattr(sender, "name", "?")).inc()


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.command("worker")(worker)
    app.command("beat")(beat)
