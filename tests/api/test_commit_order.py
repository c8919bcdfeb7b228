"""A write answers 2xx only after it committed: proved against a real ``argus serve`` process.

TestClient hides the ordering (it collects the whole response, and the dependency's exit code,
before handing the response back), so this test starts ``argus serve`` on a free port, holds
SQLite's write lock from a second connection (``BEGIN IMMEDIATE``) while a DELETE and a POST
come in, and checks what the client is told:

- while the lock is held beyond the server's busy timeout, both answers are errors (503
  problem+json with ``Retry-After``), and nothing of either request is stored;
- when the lock is released before the timeout, both answer 2xx and each write is visible to
  the very next request.

On the starting commit the DELETE answered 204 at once and only then tried (and failed) to
commit, so the scenario it "deleted" was still there.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from argus.db import migrate
from tests.api._support import DEMO_SCENARIO_ID, JWT_SECRET, PASSWORDS, seed_database

pytestmark = pytest.mark.slow

#: PRAGMA busy_timeout set on every SQLite connection by argus.db.session (milliseconds).
SERVER_BUSY_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argus_executable() -> str:
    found = Path(sys.executable).with_name("argus")
    if found.exists():
        return str(found)
    which = shutil.which("argus")
    if which is None:
        pytest.fail("the `argus` console script is not installed next to this Python")
    return which


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, database file) of a running ``argus serve`` over a migrated, seeded SQLite."""
    db = tmp_path / "argus.db"
    url = f"sqlite:///{db}"
    migrate.upgrade(url)
    seed_database(url)
    port = _free_port()
    env = {
        **os.environ,
        "ARGUS_DATABASE_URL": url,
        "ARGUS_JWT_SECRET": JWT_SECRET,
        "ARGUS_VAR_DIR": str(tmp_path / "var"),
        "ARGUS_COMPUTE_INTERVAL_S": "0",
        "ARGUS_LOG_LEVEL": "WARNING",
    }
    for name in ("ARGUS_BROKER_URL", "ARGUS_BUS_URL"):
        env.pop(name, None)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [_argus_executable(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"argus serve exited: {(tmp_path / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("argus serve did not answer /health within 60 s")
            time.sleep(0.2)
        yield base, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _hold_write_lock(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, timeout=5)
    conn.execute("BEGIN IMMEDIATE")  # the write lock: every other writer waits, then fails
    return conn


def _writes(client: httpx.Client, pool: ThreadPoolExecutor, name: str) -> list[Future[Any]]:
    return [
        pool.submit(client.delete, f"/api/scenarios/{DEMO_SCENARIO_ID}"),
        pool.submit(client.post, "/api/scenarios", json={"name": name}),
    ]


def _scenario_names(client: httpx.Client) -> set[str]:
    r = client.get("/api/scenarios", params={"limit": 100})
    assert r.status_code == 200, r.text
    return {s["name"] for s in r.json()["items"]}


def test_a_write_is_answered_only_after_its_commit(served: tuple[str, Path]) -> None:
    base, db = served
    r = httpx.post(
        f"{base}/api/auth/login", data={"username": "admin", "password": PASSWORDS["admin"]}
    )
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
        ThreadPoolExecutor(2) as pool,
    ):
        assert _scenario_names(client) == {"Demo-Scenario"}

        # 1. The lock outlasts the server's busy timeout: both writes must fail, visibly.
        lock = _hold_write_lock(db)
        try:
            held_since = time.monotonic()
            futures = _writes(client, pool, "while-locked")
            answers = [f.result(timeout=SERVER_BUSY_TIMEOUT_S + 20) for f in futures]
            answered_after = time.monotonic() - held_since
        finally:
            lock.rollback()
            lock.close()
        for a in answers:  # answered while the lock was still held, and not as a success
            assert not a.is_success, (a.request.method, a.status_code, a.text)
            assert a.status_code == 503, (a.request.method, a.status_code, a.text)
            assert a.headers["content-type"] == "application/problem+json"
            assert a.headers["retry-after"] == "1"
            assert "database busy" in a.json()["detail"]
        assert answered_after >= SERVER_BUSY_TIMEOUT_S * 0.9  # they waited for the lock first
        # nothing of either request was stored
        assert _scenario_names(client) == {"Demo-Scenario"}

        # 2. The lock is released within the busy timeout: both writes succeed, and each 2xx
        #    is visible to the next request (the commit happened before the answer).
        lock = _hold_write_lock(db)
        try:
            futures = _writes(client, pool, "after-the-lock")
            time.sleep(1.0)
            assert not any(f.done() for f in futures), "a write answered while the lock was held"
        finally:
            lock.rollback()
            lock.close()
        deleted, created = (f.result(timeout=SERVER_BUSY_TIMEOUT_S + 20) for f in futures)
        assert deleted.status_code == 204, deleted.text
        assert created.status_code == 201, created.text
        # by name: SQLite may give the new scenario the rowid the deleted one freed
        assert _scenario_names(client) == {"after-the-lock"}
        new_id = created.json()["id"]
        assert client.get(f"/api/scenarios/{new_id}").json()["name"] == "after-the-lock"
