"""User accounts: create, authenticate, list, change role or password, deactivate."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.orm import Session

from argus.accounts.passwords import hash_password, needs_rehash, verify_password
from argus.db.models import User
from argus.db.models.ops import ROLES, RefreshToken
from argus.db.session import read_first

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,80}$")
ROLE_RANK = {role: k for k, role in enumerate(ROLES)}  # viewer < operator < admin


class AccountError(ValueError):
    """Bad account input (the message names the field)."""


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: str
    active: bool
    #: Bumped by every password, role or activation change; tokens carry the version they
    #: were issued under (not part of the API's user representation).
    token_version: int = 0

    def public(self) -> dict[str, Any]:
        """The user as the API shows it (no token version)."""
        return {"id": self.id, "username": self.username, "role": self.role, "active": self.active}


def _info(u: User) -> UserInfo:
    return UserInfo(u.id, u.username, u.role, u.active, int(u.token_version or 0))


def role_at_least(role: str, minimum: str) -> bool:
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[minimum]


def create_user(session: Session, username: str, password: str, role: str = "viewer") -> UserInfo:
    if not _USERNAME.match(username):
        raise AccountError("username: 2-80 characters of letters, digits and _ . @ -")
    if role not in ROLES:
        raise AccountError(f"role: must be one of {', '.join(ROLES)}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"username: {username!r} is taken")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    user = User(username=username, password_hash=hashed, role=role)
    session.add(user)
    session.flush()
    return _info(user)


def authenticate(session: Session, username: str, password: str) -> UserInfo | None:
    """The user if the password matches and the account is active, else None."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same cost whether or not the user exists
        return None
    matches = verify_password(user.password_hash, password)  # verified even when inactive:
    if not user.active or not matches:  # a deactivated account costs what any other does
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return _info(user)


def get_user(session: Session, username: str) -> UserInfo | None:
    user = session.scalar(select(User).where(User.username == username))
    return None if user is None else _info(user)


#: One user by name, as the hot authentication path reads it (Core, no ORM session).
USER_BY_NAME = select(User.id, User.username, User.role, User.active, User.token_version).where(
    User.username == bindparam("username")
)


def user_info(row: Any) -> UserInfo | None:
    """A ``USER_BY_NAME`` row (or None) as ``UserInfo``."""
    if row is None:
        return None
    return UserInfo(row.id, row.username, row.role, bool(row.active), int(row.token_version))


def lookup_user(engine: Engine, username: str) -> UserInfo | None:
    """The user named ``username`` as the database has it now: one Core read, no ORM session.

    This runs behind every bearer token, so it is the cheapest form of the same question
    :func:`get_user` answers (see :func:`argus.db.session.read_first`).
    """
    return user_info(read_first(engine, USER_BY_NAME, {"username": username}))


def list_users(session: Session) -> list[UserInfo]:
    return [_info(u) for u in session.scalars(select(User).order_by(User.username))]


def update_user(
    session: Session,
    username: str,
    *,
    role: str | None = None,
    password: str | None = None,
    active: bool | None = None,
) -> UserInfo:
    """Change a user; a new password, a different role or a changed ``active`` bumps the user's
    token version, so every access and refresh token issued before stops working."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user named {username!r}")
    revoke = False
    if role is not None:
        if role not in ROLES:
            raise AccountError(f"role: must be one of {', '.join(ROLES)}")
        revoke |= role != user.role
        user.role = role
    if password is not None:
        try:
            user.password_hash = hash_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        revoke = True
    if active is not None:
        revoke |= active != user.active
        user.active = active
    if revoke:
        user.token_version = int(user.token_version or 0) + 1
    session.flush()
    return _info(user)


class RefreshRefused(Exception):
    """A refresh token that may not be used (unknown, already used, revoked); the message says
    which. ``reused`` is True when the token had been used before: its family is revoked."""

    def __init__(self, message: str, *, reused: bool = False) -> None:
        super().__init__(message)
        self.reused = reused


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def record_refresh_token(
    session: Session,
    user: UserInfo,
    jti: str,
    family: str,
    expires_at: dt.datetime,
    issued_at: dt.datetime | None = None,
) -> None:
    """Store a refresh token just issued (so it can be used once, and revoked)."""
    session.add(
        RefreshToken(
            jti=jti,
            user_id=user.id,
            family_id=family,
            issued_at=issued_at or _now(),
            expires_at=expires_at,
        )
    )
    session.flush()


def use_refresh_token(session: Session, user: UserInfo, jti: str, family: str) -> None:
    """Mark the refresh token ``jti`` used, once: a single conditional UPDATE, so two requests
    racing with the same token cannot both win. A token already used is a replay (the token
    leaked, or the client retried an old one): the whole family is revoked, and the caller must
    commit that before refusing (:class:`RefreshRefused` with ``reused``)."""
    now = _now()
    won = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == jti,
            RefreshToken.user_id == user.id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
    )
    if won.rowcount == 1:  # type: ignore[attr-defined]
        return
    row = session.get(RefreshToken, jti)
    if row is None or row.user_id != user.id or row.family_id != family:
        raise RefreshRefused("refresh token unknown: log in again")
    if row.revoked_at is not None:
        raise RefreshRefused("refresh token revoked: log in again")
    revoke_family(session, family, now)
    raise RefreshRefused(
        "refresh token already used: every token of this login is revoked; log in again",
        reused=True,
    )


def revoke_family(session: Session, family: str, now: dt.datetime | None = None) -> int:
    """Revoke every refresh token of one login; returns how many were still live."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now or _now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


_DUMMY_HASH = hash_password("not-a-real-password-0000")
