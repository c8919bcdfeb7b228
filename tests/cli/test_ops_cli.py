"""The operations commands: `argus users …`, and what `argus serve` prepares before it serves.

`users` commands run through Typer's CliRunner against a fresh SQLite file; the helpers
``ensure_jwt_secret`` and ``ensure_demo_operator`` are called directly with explicit settings
(a temporary var dir), as `argus serve` calls them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from argus.accounts import service as accounts
from argus.accounts.passwords import verify_password
from argus.cli import common as cli_common
from argus.cli import ops
from argus.cli.main import app
from argus.config import Settings, get_settings
from argus.db import migrate
from argus.db.models import User
from argus.db.session import make_engine
from tests.cli._support import with_session as _with_session

runner = CliRunner()
PW = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGUS_LOG_LEVEL", raising=False)
    # Rich reads COLUMNS when a Console is made (at import, before this fixture): set the width
    # of the CLI's consoles themselves, so tables are not wrapped to 80 columns in CI.
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(cli_common.console, "width", 200)
    monkeypatch.setattr(cli_common.err_console, "width", 200)
    get_settings.cache_clear()


def _run(url: str, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["--database-url", url, *args], input=input)


def _password_hash(url: str, username: str) -> str:
    return str(
        _with_session(
            url, lambda s: s.scalar(sa.select(User.password_hash).where(User.username == username))
        )
    )


def _user(url: str, username: str) -> accounts.UserInfo | None:
    info: accounts.UserInfo | None = _with_session(url, lambda s: accounts.get_user(s, username))
    return info


def _count_users(url: str) -> int:
    return int(_with_session(url, accounts.count_users))


# ---- users create / list ----


def test_users_create_with_prompted_password_hashes_it_and_sets_the_role(sqlite_url: str) -> None:
    # The prompt is hidden and asks for a confirmation: the password is typed twice.
    r = _run(
        sqlite_url,
        "users",
        "create",
        "--username",
        "alice",
        "--role",
        "admin",
        input=f"{PW}\n{PW}\n",
    )
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "user alice created with role admin" in r.stdout
    assert PW not in r.stdout  # hidden input is not echoed

    u = _user(sqlite_url, "alice")
    assert u is not None and u.role == "admin" and u.active
    h = _password_hash(sqlite_url, "alice")
    assert h.startswith("$argon2id$")
    assert verify_password(h, PW)
    assert not verify_password(h, PW + "x")
    assert _with_session(sqlite_url, lambda s: accounts.authenticate(s, "alice", PW)) is not None


def test_users_create_prompt_rejects_a_mismatched_confirmation(sqlite_url: str) -> None:
    r = _run(
        sqlite_url, "users", "create", "-u", "alice", input=f"{PW}\nsomething-else\n{PW}\n{PW}\n"
    )
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "do not match" in r.stdout
    assert verify_password(_password_hash(sqlite_url, "alice"), PW)


def test_users_create_with_password_option_is_non_interactive(sqlite_url: str) -> None:
    r = _run(sqlite_url, "users", "create", "-u", "bob", "-r", "operator", "--password", PW)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "password" not in r.stdout  # no prompt
    u = _user(sqlite_url, "bob")
    assert u is not None and u.role == "operator"
    assert verify_password(_password_hash(sqlite_url, "bob"), PW)


def test_users_create_default_role_is_viewer(sqlite_url: str) -> None:
    r = _run(sqlite_url, "users", "create", "-u", "carol", "-p", PW)
    assert r.exit_code == 0, r.stdout + r.stderr
    u = _user(sqlite_url, "carol")
    assert u is not None and u.role == "viewer"


def test_users_create_bad_role_names_the_field_and_the_roles(sqlite_url: str) -> None:
    r = _run(sqlite_url, "users", "create", "-u", "dave", "-r", "superuser", "-p", PW)
    assert r.exit_code == 1
    assert "error:" in r.stderr and "role: must be one of viewer, operator, admin" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert _user(sqlite_url, "dave") is None


def test_users_create_short_password_is_refused(sqlite_url: str) -> None:
    r = _run(sqlite_url, "users", "create", "-u", "erin", input="pw\npw\n")
    assert r.exit_code == 1
    assert "password: at least 8 characters" in r.stderr
    assert _user(sqlite_url, "erin") is None


def test_users_create_duplicate_username_is_refused(sqlite_url: str) -> None:
    assert (
        _run(sqlite_url, "users", "create", "-u", "alice", "-r", "admin", "-p", PW).exit_code == 0
    )
    h = _password_hash(sqlite_url, "alice")

    r = _run(sqlite_url, "users", "create", "-u", "alice", "-r", "viewer", "-p", PW + "-2")
    assert r.exit_code == 1
    assert "username: 'alice' is taken" in r.stderr
    assert _count_users(sqlite_url) == 1
    u = _user(sqlite_url, "alice")
    assert u is not None and u.role == "admin"
    assert _password_hash(sqlite_url, "alice") == h  # untouched


def test_users_list_shows_users_and_roles(sqlite_url: str) -> None:
    for name, role in (("zed", "viewer"), ("alice", "admin"), ("bob", "operator")):
        r = _run(sqlite_url, "users", "create", "-u", name, "-r", role, "-p", PW)
        assert r.exit_code == 0, r.stdout + r.stderr

    r = _run(sqlite_url, "users", "list")
    assert r.exit_code == 0, r.stdout + r.stderr
    rows = [
        line for line in r.stdout.splitlines() if any(n in line for n in ("zed", "alice", "bob"))
    ]
    assert [line.split()[1] for line in rows] == ["alice", "bob", "zed"]  # sorted by name
    assert [line.split()[3] for line in rows] == ["admin", "operator", "viewer"]
    assert all("yes" in line for line in rows)


# ---- users … on a database that is not migrated ----

USERS_COMMANDS = [
    pytest.param(["users", "create", "-u", "alice", "-r", "admin", "-p", PW], id="create"),
    pytest.param(["users", "create", "-u", "alice"], id="create-prompted"),
    pytest.param(["users", "list"], id="list"),
    pytest.param(["users", "set", "alice", "--role", "admin"], id="set"),
    pytest.param(["users", "set", "alice", "--password"], id="set-password"),
]


@pytest.mark.parametrize("args", USERS_COMMANDS)
def test_users_commands_on_an_unmigrated_database_exit_2_with_one_line(
    empty_sqlite_url: str, args: list[str]
) -> None:
    r = _run(empty_sqlite_url, *args)
    assert r.exit_code == 2, r.stdout + r.stderr
    assert isinstance(r.exception, SystemExit)  # a clean exit, not an OperationalError
    lines = r.stderr.strip().splitlines()
    assert lines == [
        f"error: database at {empty_sqlite_url} is not migrated (no table app_user): "
        "run `argus db upgrade` first"
    ]
    assert "password" not in r.stdout  # it fails before prompting


def test_users_command_on_a_database_behind_head_says_so(empty_sqlite_url: str) -> None:
    migrate.upgrade(empty_sqlite_url)
    migrate.downgrade(empty_sqlite_url, "-1")
    engine = make_engine(empty_sqlite_url)
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    assert current is not None and current != head

    r = _run(empty_sqlite_url, "users", "create", "-u", "alice", "-p", PW)
    assert r.exit_code == 2
    assert f"is at revision {current}, not at the newest ({head})" in r.stderr
    assert "run `argus db upgrade` first" in r.stderr

    # …and after the upgrade it advises, the same command works.
    assert _run(empty_sqlite_url, "db", "upgrade").exit_code == 0
    r = _run(empty_sqlite_url, "users", "create", "-u", "alice", "-p", PW)
    assert r.exit_code == 0, r.stdout + r.stderr


# ---- what `argus serve` prepares: ensure_jwt_secret, ensure_demo_operator ----


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def no_jwt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ARGUS_JWT_SECRET, and whatever ensure_jwt_secret puts there is undone after the test."""
    monkeypatch.setenv("ARGUS_JWT_SECRET", "placeholder")  # recorded, so teardown restores it
    monkeypatch.delenv("ARGUS_JWT_SECRET")


def _use_settings(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Settings:
    s = Settings(**kw)
    monkeypatch.setattr(cli_common.state, "settings", s)
    return s


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.usefixtures("no_jwt_env")
def test_ensure_jwt_secret_generates_once_then_reuses(
    monkeypatch: pytest.MonkeyPatch, var_dir: Path
) -> None:
    _use_settings(monkeypatch, var_dir=var_dir, jwt_secret=None)
    path = var_dir / ops.JWT_SECRET_FILE

    msg = ops.ensure_jwt_secret()
    assert msg is not None and "generated" in msg and str(path) in msg
    assert path.is_file() and _mode(path) == 0o600
    secret = path.read_text().strip()
    assert len(secret) >= 32
    assert os.environ["ARGUS_JWT_SECRET"] == secret

    os.environ.pop("ARGUS_JWT_SECRET")
    msg2 = ops.ensure_jwt_secret()
    assert msg2 is not None and "generated earlier" in msg2
    assert path.read_text().strip() == secret  # not regenerated
    assert os.environ["ARGUS_JWT_SECRET"] == secret
    assert _mode(path) == 0o600


@pytest.mark.usefixtures("no_jwt_env")
def test_ensure_jwt_secret_writes_nothing_when_the_environment_has_one(
    monkeypatch: pytest.MonkeyPatch, var_dir: Path
) -> None:
    monkeypatch.setenv("ARGUS_JWT_SECRET", "s" * 48)
    monkeypatch.setenv("ARGUS_VAR_DIR", str(var_dir))
    monkeypatch.setattr(cli_common.state, "settings", None)  # read the environment
    get_settings.cache_clear()

    assert ops.ensure_jwt_secret() is None
    assert not var_dir.exists()
    assert os.environ["ARGUS_JWT_SECRET"] == "s" * 48


def _demo(monkeypatch: pytest.MonkeyPatch, url: str, var_dir: Path) -> Path:
    _use_settings(monkeypatch, database_url=url, var_dir=var_dir)
    return var_dir / ops.DEMO_CREDENTIALS_FILE


def test_ensure_demo_operator_creates_the_operator_once(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, var_dir: Path
) -> None:
    path = _demo(monkeypatch, sqlite_url, var_dir)

    creds = ops.ensure_demo_operator()
    assert creds is not None
    user, password = creds
    assert user == ops.DEMO_OPERATOR == "operator"
    assert len(password) >= 8
    u = _user(sqlite_url, "operator")
    assert u is not None and u.role == "operator" and u.active
    h = _password_hash(sqlite_url, "operator")
    assert verify_password(h, password)
    assert path.read_text() == f"operator\n{password}\n"
    assert _mode(path) == 0o600

    # Second run: nothing new, same password; the credentials are read back from the file.
    assert ops.ensure_demo_operator() == ("operator", password)
    assert _count_users(sqlite_url) == 1
    assert _password_hash(sqlite_url, "operator") == h
    assert path.read_text() == f"operator\n{password}\n"


def test_ensure_demo_operator_leaves_a_database_with_users_alone(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, var_dir: Path
) -> None:
    r = _run(sqlite_url, "users", "create", "-u", "alice", "-r", "admin", "-p", PW)
    assert r.exit_code == 0, r.stdout + r.stderr
    path = _demo(monkeypatch, sqlite_url, var_dir)

    assert ops.ensure_demo_operator() is None
    assert _count_users(sqlite_url) == 1
    assert _user(sqlite_url, "operator") is None
    assert not path.exists()


def test_ensure_demo_operator_ignores_credentials_of_a_user_that_is_gone(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, var_dir: Path
) -> None:
    # A credentials file left from an older database, which now has other users only.
    path = _demo(monkeypatch, sqlite_url, var_dir)
    var_dir.mkdir()
    path.write_text("operator\nstale-password\n")
    assert _run(sqlite_url, "users", "create", "-u", "alice", "-p", PW).exit_code == 0
    _demo(monkeypatch, sqlite_url, var_dir)  # the CLI run replaced the CLI's settings

    assert ops.ensure_demo_operator() is None
    assert _count_users(sqlite_url) == 1


def test_ensure_demo_operator_does_not_show_a_password_that_no_longer_works(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, var_dir: Path
) -> None:
    path = _demo(monkeypatch, sqlite_url, var_dir)
    creds = ops.ensure_demo_operator()
    assert creds is not None and path.exists()
    new = "a-new-password-1"
    r = _run(sqlite_url, "users", "set", "operator", "--password", input=f"{new}\n{new}\n")
    assert r.exit_code == 0, r.stdout + r.stderr
    _demo(monkeypatch, sqlite_url, var_dir)  # the CLI run replaced the CLI's settings
    assert ops.ensure_demo_operator() is None  # the file's password is stale: not printed
    assert _count_users(sqlite_url) == 1


def test_serve_on_an_unmigrated_database_exits_2_before_serving(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    r = runner.invoke(app, ["--database-url", url, "serve", "--port", "1"])
    assert r.exit_code == 2, r.output
    out = r.stdout + r.stderr
    assert "argus db upgrade" in out and "Argus on" not in out
