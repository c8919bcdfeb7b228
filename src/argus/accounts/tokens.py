"""JWT access and refresh tokens (HS256, PyJWT), signed with ``ARGUS_JWT_SECRET``."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt

ALGORITHM = "HS256"
ACCESS_TTL = dt.timedelta(minutes=30)
REFRESH_TTL = dt.timedelta(days=7)
MIN_SECRET_LENGTH = 32

TokenKind = Literal["access", "refresh"]


class TokenError(Exception):
    """A token that is missing, malformed, expired, of the wrong kind or badly signed."""


class MissingSecretError(RuntimeError):
    """ARGUS_JWT_SECRET is not set; the API cannot issue or check tokens."""


@dataclass(frozen=True)
class TokenClaims:
    username: str
    role: str
    kind: TokenKind
    expires_at: dt.datetime
    #: The user's token version when the token was issued (``ver``; 0 for a token without it).
    version: int = 0
    jti: str = ""
    #: The refresh-token family (``fam``): one login and all its rotations ("" for access).
    family: str = ""


def _check_secret(secret: str | None) -> str:
    if not secret:
        raise MissingSecretError(
            "ARGUS_JWT_SECRET is not set: export a random value of at least 32 characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
            "or run `argus serve`, which generates one under ./var/"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise MissingSecretError(
            f"ARGUS_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters"
        )
    return secret


def issue(
    secret: str | None,
    username: str,
    role: str,
    kind: TokenKind = "access",
    ttl: dt.timedelta | None = None,
    now: dt.datetime | None = None,
    *,
    version: int = 0,
    jti: str | None = None,
    family: str | None = None,
) -> str:
    """A signed token. ``version`` is the user's token version now; ``jti`` and ``family``
    identify a refresh token in the ``refresh_token`` table (see :func:`new_id`)."""
    key = _check_secret(secret)
    issued = now or dt.datetime.now(dt.UTC)
    exp = issued + (ttl or (ACCESS_TTL if kind == "access" else REFRESH_TTL))
    claims: dict[str, Any] = {
        "sub": username,
        "role": role,
        "typ": kind,
        "iat": int(issued.timestamp()),
        "exp": int(exp.timestamp()),
        "jti": jti or new_id(),
        "ver": int(version),
    }
    if family:
        claims["fam"] = family
    return jwt.encode(claims, key, algorithm=ALGORITHM)


@functools.lru_cache(maxsize=4096)
def _verified(key: str, token: str) -> tuple[str, str, str, int, int, str, str]:
    """(sub, role, typ, exp, ver, jti, fam) of a token whose signature and form are valid, expiry not checked.

    Cached: a signed token is an immutable string, so verifying the same string twice gives the
    same answer; the cache saves the HMAC and JSON work (~0.1 ms) on every request of a client
    that reuses its access token. Expiry depends on the clock, so :func:`decode` checks it on
    every call; invalid tokens raise and are not cached. Keyed by the secret too, so a rotated
    secret never accepts a token the old one signed.
    """
    claims = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        options={"require": ["exp", "sub", "typ"], "verify_exp": False},
    )
    return (
        str(claims["sub"]),
        str(claims.get("role", "viewer")),
        str(claims.get("typ")),
        int(claims["exp"]),
        int(claims.get("ver", 0)),
        str(claims.get("jti", "")),
        str(claims.get("fam", "")),
    )


def decode(secret: str | None, token: str, expected: TokenKind = "access") -> TokenClaims:
    key = _check_secret(secret)
    try:
        sub, role, typ, exp, ver, jti, fam = _verified(key, token)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(f"invalid token ({type(exc).__name__})") from None
    if exp <= time.time():  # PyJWT's rule with no leeway: expired from the second of exp
        raise TokenError("token expired")
    if typ != expected:
        raise TokenError(f"expected a {expected} token, got a {typ} token")
    return TokenClaims(
        username=sub,
        role=role,
        kind=expected,
        expires_at=dt.datetime.fromtimestamp(exp, dt.UTC),
        version=ver,
        jti=jti,
        family=fam,
    )


def new_id() -> str:
    """A random token or family id (128 bits, hex)."""
    return secrets.token_hex(16)


def generate_secret() -> str:
    return secrets.token_urlsafe(48)
