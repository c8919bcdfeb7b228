"""User accounts: create, authenticate, list, change role or password, deactivate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from argus.accounts.passwords import hash_password, needs_rehash, verify_password
from argus.db.models import User
from argus.db.models.ops import ROLES
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


def _info(u: User) -> UserInfo:
    return UserInfo(u.id, u.username, u.role, u.active)


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
    if not user.active or not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return _info(user)


def get_user(session: Session, username: str) -> UserInfo | None:
    user = session.scalar(select(User).where(User.username == username))
    return None if user is None else _info(user)


#: One user by name, as the hot authentication path reads it (Core, no ORM session).
USER_BY_NAME = select(User.id, User.username, User.role, User.active).where(
    User.username == bindparam("username")
)


def user_info(row: Any) -> UserInfo | None:
    """A ``USER_BY_NAME`` row (or None) as ``UserInfo``."""
    return None if row is None else UserInfo(row.id, row.username, row.role, bool(row.active))


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
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user named {username!r}")
    if role is not None:
        if role not in ROLES:
            raise AccountError(f"role: must be one of {', '.join(ROLES)}")
        user.role = role
    if password is not None:
        try:
            user.password_hash = hash_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
    if active is not None:
        user.active = active
    session.flush()
    return _info(user)


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


_DUMMY_HASH = hash_password("not-a-real-password-0000")
