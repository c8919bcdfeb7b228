"""scripts/provision-test-env: what `make test` does to a machine before the suite.

The script is run against a PATH of stub commands (id, apt-get, pg_isready, psql, the server
binaries), so each case is a machine state: not root and PostGIS/Chromium missing, root with
apt-get, everything present. Ports for Redis/RabbitMQ/NATS point at a listening socket of the
test (up) or a closed port (down).
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "provision-test-env"


@pytest.fixture
def listener() -> Iterator[str]:
    """host:port of a socket that accepts connections (a server that is up)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield f"127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def _closed_port() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"127.0.0.1:{port}"


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def _machine(
    tmp_path: Path,
    *,
    uid: int,
    postgis: bool,
    chromium: bool,
    apt: bool,
    servers: str,
) -> dict[str, str]:
    """A PATH of stubs and the environment for the script; apt-get calls go to apt.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    # the script's own needs from the real system
    for tool in ("bash", "seq", "sleep", "timeout", "python3", "sort", "tail", "ls", "cat", "grep"):
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True)
        if real.stdout.strip():
            os.symlink(real.stdout.strip(), bin_dir / tool)
    _stub(bin_dir, "id", f'[ "$1" = "-u" ] && echo {uid} || echo uid={uid}')
    _stub(bin_dir, "pg_isready", "exit 0")
    # psql answers the two queries the script asks; the postgis state flips once apt "installs" it
    _stub(
        bin_dir,
        "psql",
        f"""case "$*" in
  *pg_available_extensions*) if [ {int(postgis)} = 1 ] || grep -q postgis "{log}" 2>/dev/null; then echo 1; else echo 0; fi ;;
  *server_version_num*) echo 150019 ;;
  *pg_database*) echo 1 ;;
  *) exit 0 ;;
esac""",
    )
    if apt:
        _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> "{log}"')
    chromium_path = tmp_path / "chromium"
    if chromium:
        _stub(tmp_path, "chromium", "exit 0")
    for binary in ("redis-server", "rabbitmq-server", "nats-server", "start-stop-daemon"):
        _stub(bin_dir, binary, "exit 0")  # "starting" does nothing: a down server stays down
    return {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "ARGUS_TEST_PG_URL": "postgresql://postgres@127.0.0.1:1/postgres",
        "ARGUS_TEST_CHROMIUM": str(chromium_path),
        "ARGUS_TEST_REDIS_ADDR": servers,
        "ARGUS_TEST_RABBITMQ_ADDR": servers,
        "ARGUS_TEST_NATS_ADDR": servers,
    }


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )


def test_not_root_and_packages_missing_says_what_to_install_in_one_line(
    tmp_path: Path, listener: str
) -> None:
    env = _machine(tmp_path, uid=1000, postgis=False, chromium=False, apt=True, servers=listener)
    res = _run(env)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    # the PostGIS package is named for the server's major version (150019 -> 15)
    assert "postgresql-15-postgis-3 chromium" in lines[0]
    assert "apt-get install -y" in lines[0]
    assert not (tmp_path / "apt.log").exists(), "a non-root run must not call apt-get"


def test_root_with_apt_installs_what_is_missing(tmp_path: Path, listener: str) -> None:
    env = _machine(tmp_path, uid=0, postgis=False, chromium=False, apt=True, servers=listener)
    res = _run(env)
    assert res.returncode == 0, res.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0] == "apt-get update -qq"
    assert calls[1] == "apt-get install -y -qq postgresql-15-postgis-3 chromium"
    assert "ready:" in res.stdout


def test_root_without_apt_stops(tmp_path: Path, listener: str) -> None:
    env = _machine(tmp_path, uid=0, postgis=True, chromium=False, apt=False, servers=listener)
    res = _run(env)
    assert res.returncode == 2
    assert "needs chromium" in res.stderr


def test_everything_present_installs_nothing(tmp_path: Path, listener: str) -> None:
    env = _machine(tmp_path, uid=1000, postgis=True, chromium=True, apt=True, servers=listener)
    res = _run(env)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "apt.log").exists()
    assert res.stdout.strip().startswith("provision: ready")


def test_a_server_that_does_not_start_is_named(tmp_path: Path) -> None:
    env = _machine(
        tmp_path, uid=1000, postgis=True, chromium=True, apt=True, servers=_closed_port()
    )
    # a short wait: the stubs never start anything
    res = subprocess.run(
        ["bash", "-c", f'sleep() {{ :; }}; export -f sleep; bash "{SCRIPT}"'],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 2
    line = res.stderr.strip().splitlines()[-1]
    for name in ("Redis", "RabbitMQ", "NATS"):
        assert f"{name} at " in line and "does not start" in line


def test_skip_switch(tmp_path: Path) -> None:
    res = subprocess.run(
        ["bash", str(SCRIPT)],
        env={"PATH": os.environ["PATH"], "ARGUS_PROVISION": "0"},
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "skipped" in res.stdout


def test_make_test_provisions_first_and_ci_only_calls_make_test() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert test_rule.split(":", 1)[1].split()[0] == "provision"
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert commands[-1] == "exec make test"
    assert not any("apt-get" in c or "psql" in c for c in commands)
