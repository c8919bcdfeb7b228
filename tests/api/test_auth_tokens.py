"""Token lifecycle: token versions revoke old tokens; refresh tokens rotate with reuse detection."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from argus.accounts import tokens
from argus.db.models.ops import RefreshToken, User
from tests.api._support import JWT_SECRET, PASSWORDS, assert_problem, bearer, open_session


def _login(client: TestClient, username: str) -> dict[str, Any]:
    r = client.post("/api/auth/login", data={"username": username, "password": PASSWORDS[username]})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _refresh(client: TestClient, token: str) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_refresh_rotates_and_a_reused_token_revokes_the_family(db_client: TestClient) -> None:
    """Runs on SQLite and PostgreSQL."""
    first = _login(db_client, "viewer")
    other_login = _login(db_client, "viewer")  # a second family, untouched by the replay
    r = _refresh(db_client, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    # the used token cannot be used again: a replay, so the whole family is revoked ...
    body = assert_problem(_refresh(db_client, first["refresh_token"]), 401)
    assert "already used" in body["detail"]
    # ... including the token the legitimate rotation produced
    body = assert_problem(_refresh(db_client, second["refresh_token"]), 401)
    assert "revoked" in body["detail"]
    # the other login's family still works
    assert _refresh(db_client, other_login["refresh_token"]).status_code == 200
    fam = tokens.decode(JWT_SECRET, first["refresh_token"], "refresh").family
    with open_session(str(db_client.app.state.settings.database_url)) as s:  # type: ignore[attr-defined]
        rows = s.scalars(select(RefreshToken).where(RefreshToken.family_id == fam)).all()
        assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)
        assert sum(r.used_at is not None for r in rows) == 1


def test_a_refresh_token_unknown_to_the_database_is_refused(client: TestClient) -> None:
    forged = tokens.issue(JWT_SECRET, "viewer", "viewer", "refresh", jti="x" * 32, family="f")
    assert "unknown" in assert_problem(_refresh(client, forged), 401)["detail"]
    legacy = tokens.issue(JWT_SECRET, "viewer", "viewer", "refresh")  # no family: pre-0012 form
    assert "rotating" in assert_problem(_refresh(client, legacy), 401)["detail"]


@pytest.mark.parametrize(
    "change",
    [{"password": "a-brand-new-password"}, {"role": "operator"}, {"active": False}],
    ids=["password", "role", "deactivation"],
)
def test_a_change_revokes_every_token_issued_before(
    db_client: TestClient, change: dict[str, Any]
) -> None:
    """Runs on SQLite and PostgreSQL: access and refresh tokens of before stop working at once."""
    admin = bearer(_login(db_client, "admin")["access_token"])
    old = _login(db_client, "viewer")
    assert db_client.get("/api/auth/me", headers=bearer(old["access_token"])).status_code == 200
    r = db_client.patch("/api/users/viewer", json=change, headers=admin)
    assert r.status_code == 200, r.text
    me = db_client.get("/api/auth/me", headers=bearer(old["access_token"]))
    assert_problem(me, 401)
    assert_problem(_refresh(db_client, old["refresh_token"]), 401)
    if change.get("active") is False:
        assert me.json()["detail"] == "user unknown or deactivated"
        r = db_client.patch("/api/users/viewer", json={"active": True}, headers=admin)
        assert r.status_code == 200
        # reactivated: the tokens of before the deactivation stay dead
        assert_problem(db_client.get("/api/auth/me", headers=bearer(old["access_token"])), 401)
    else:
        assert me.json()["detail"].startswith("token revoked")
    password = change.get("password", PASSWORDS["viewer"])
    r = db_client.post("/api/auth/login", data={"username": "viewer", "password": password})
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert db_client.get("/api/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
    assert _refresh(db_client, fresh["refresh_token"]).status_code == 200
    with open_session(str(db_client.app.state.settings.database_url)) as s:  # type: ignore[attr-defined]
        version = s.scalar(select(User.token_version).where(User.username == "viewer"))
    assert version == (2 if change.get("active") is False else 1)
    assert tokens.decode(JWT_SECRET, fresh["access_token"]).version == version


def test_a_patch_that_changes_nothing_keeps_the_tokens(client: TestClient) -> None:
    admin = bearer(_login(client, "admin")["access_token"])
    old = _login(client, "viewer")
    r = client.patch("/api/users/viewer", json={"role": "viewer", "active": True}, headers=admin)
    assert r.status_code == 200
    assert client.get("/api/auth/me", headers=bearer(old["access_token"])).status_code == 200
