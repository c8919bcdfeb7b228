"""argus.accounts.tokens: issue/decode round trip, and the verification cache never outlives
a token's expiry, a secret rotation or a tampered signature."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from argus.accounts import tokens

SECRET = "tokens-test-secret-0123456789-abcdefghijklmnop"
OTHER = "tokens-test-other-secret-0123456789-abcdefghij"


def test_round_trip_keeps_user_role_kind_and_expiry() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    tok = tokens.issue(SECRET, "ada", "operator", "access", ttl=dt.timedelta(minutes=5), now=now)
    c = tokens.decode(SECRET, tok, "access")
    assert (c.username, c.role, c.kind) == ("ada", "operator", "access")
    assert c.expires_at == now + dt.timedelta(minutes=5)
    with pytest.raises(tokens.TokenError, match="expected a refresh token, got a access token"):
        tokens.decode(SECRET, tok, "refresh")


def test_a_cached_token_is_refused_from_its_expiry_on(monkeypatch: pytest.MonkeyPatch) -> None:
    tok = tokens.issue(SECRET, "ada", "viewer", ttl=dt.timedelta(seconds=60))
    exp = int(tokens.decode(SECRET, tok).expires_at.timestamp())
    assert tokens.decode(SECRET, tok).username == "ada"  # verified, now cached
    monkeypatch.setattr(time, "time", lambda: exp - 0.5)
    assert tokens.decode(SECRET, tok).username == "ada"
    monkeypatch.setattr(time, "time", lambda: float(exp))
    with pytest.raises(tokens.TokenError, match=r"^token expired$"):
        tokens.decode(SECRET, tok)


def test_a_cached_token_is_refused_under_another_secret() -> None:
    tok = tokens.issue(SECRET, "ada", "admin")
    assert tokens.decode(SECRET, tok).role == "admin"
    with pytest.raises(tokens.TokenError, match="InvalidSignatureError"):
        tokens.decode(OTHER, tok)


def test_a_tampered_token_is_refused_even_after_the_genuine_one_was_cached() -> None:
    tok = tokens.issue(SECRET, "ada", "viewer")
    assert tokens.decode(SECRET, tok).role == "viewer"
    head, payload, sig = tok.split(".")
    forged = tokens.issue(OTHER, "ada", "admin").split(".")[1]
    with pytest.raises(tokens.TokenError, match="invalid token"):
        tokens.decode(SECRET, f"{head}.{forged}.{sig}")
    with pytest.raises(tokens.TokenError, match="invalid token"):
        tokens.decode(SECRET, f"{head}.{payload}.{sig[:-2]}AA")
    with pytest.raises(tokens.TokenError, match="invalid token"):
        tokens.decode(SECRET, "not-a-jwt")
