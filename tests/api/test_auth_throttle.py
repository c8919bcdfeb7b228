"""Login throttling (429 + Retry-After, metric), bounded password hashing, no user enumeration."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from argus.accounts import service
from argus.api.app import create_app
from argus.api.deps import login_guards
from tests.api._support import PASSWORDS, assert_problem, make_settings, metric_value


@pytest.fixture
def verifies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verify the login path runs (the hash it was checked against)."""
    calls: list[str] = []
    real = service.verify_password

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    return calls


@pytest.fixture
def strict(seeded_sqlite_url: str) -> Iterator[TestClient]:
    settings = make_settings(
        seeded_sqlite_url,
        login_max_failures_per_username=3,
        login_max_failures_per_address=5,
        login_failure_window_s=600,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/auth/login", data={"username": username, "password": password})


def test_failures_per_username_are_throttled(strict: TestClient, verifies: list[str]) -> None:
    before = metric_value(
        strict.get("/metrics").text, "argus_logins_throttled_total", scope="username"
    )
    for _ in range(3):
        assert_problem(_login(strict, "viewer", "wrong-password"), 401)
    assert len(verifies) == 3
    r = _login(strict, "viewer", PASSWORDS["viewer"])  # even the right password, for now
    body = assert_problem(r, 429)
    assert "username" in body["detail"]
    assert 590 <= int(r.headers["retry-after"]) <= 600
    assert len(verifies) == 3  # a throttled attempt costs no argon2 work
    after = metric_value(
        strict.get("/metrics").text, "argus_logins_throttled_total", scope="username"
    )
    assert after == before + 1
    # another user is not affected by this username's failures
    assert _login(strict, "operator", PASSWORDS["operator"]).status_code == 200


def test_a_success_clears_the_username_but_not_the_address(strict: TestClient) -> None:
    for _ in range(2):
        assert_problem(_login(strict, "viewer", "wrong-password"), 401)
    assert _login(strict, "viewer", PASSWORDS["viewer"]).status_code == 200
    for _ in range(2):  # the count restarted: 2 more failures do not throttle
        assert_problem(_login(strict, "viewer", "wrong-password"), 401)
    assert _login(strict, "viewer", PASSWORDS["viewer"]).status_code == 200
    # 4 failures so far from this address; the fifth, on a made-up name, reaches the limit
    assert_problem(_login(strict, "ghost-1", "wrong-password"), 401)
    r = _login(strict, "admin", PASSWORDS["admin"])
    assert "address" in assert_problem(r, 429)["detail"]
    assert int(r.headers["retry-after"]) > 0


def test_unknown_and_inactive_users_cost_one_verify_like_known_ones(
    client: TestClient, verifies: list[str]
) -> None:
    assert_problem(_login(client, "viewer", "wrong-password"), 401)
    assert_problem(_login(client, "no-such-user", "wrong-password"), 401)
    admin = {
        "Authorization": f"Bearer {_login(client, 'admin', PASSWORDS['admin']).json()['access_token']}"
    }
    assert (
        client.patch("/api/users/operator", json={"active": False}, headers=admin).status_code
        == 200
    )
    verifies.clear()
    assert_problem(_login(client, "operator", PASSWORDS["operator"]), 401)  # deactivated
    assert_problem(_login(client, "no-such-user", "wrong-password"), 401)
    assert_problem(_login(client, "viewer", "wrong-password"), 401)
    assert len(verifies) == 3  # one argon2 verify each, whoever asks
    assert verifies[1] == service._DUMMY_HASH
    assert len({h.split("$")[3] for h in verifies}) == 1  # same argon2 parameters for all


def test_hashing_slots_are_bounded(seeded_sqlite_url: str) -> None:
    settings = make_settings(
        seeded_sqlite_url, password_hash_concurrency=1, password_hash_wait_s=0.05
    )
    app = create_app(settings)
    with TestClient(app) as c:
        _, limiter = login_guards(types.SimpleNamespace(app=app))  # type: ignore[arg-type]
        with limiter.slot():  # the only slot is taken (by a hash running elsewhere)
            r = _login(c, "viewer", PASSWORDS["viewer"])
            body = assert_problem(r, 503)
            assert r.headers["retry-after"] == "1" and "hashing busy" in body["detail"]
            assert metric_value(c.get("/metrics").text, "argus_password_hashing_busy_total") >= 1
        assert _login(c, "viewer", PASSWORDS["viewer"]).status_code == 200  # slot free again
