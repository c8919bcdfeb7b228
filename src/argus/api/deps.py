"""FastAPI dependencies: a database session per request, the current user, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from argus import metrics
from argus.accounts import service as accounts
from argus.accounts import tokens
from argus.accounts.service import UserInfo
from argus.accounts.throttle import HashingBusy, HashLimiter, LoginThrottle
from argus.config import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


#: Seconds a client is asked to wait (``Retry-After``) after the database was too busy to commit.
BUSY_RETRY_AFTER_S = 1


def _database_error(exc: DBAPIError) -> HTTPException:
    """The answer for a write the database refused: 409 for a constraint, 503 when it was busy."""
    if isinstance(exc, IntegrityError):
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "constraint"
        return HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the change conflicts with the stored state and was not saved ({reason})",
        )
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"database busy or unavailable, nothing was saved ({reason}): retry",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
    )


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent.

    Used with ``scope="function"`` (``SessionDep``): FastAPI then runs the code after ``yield``
    when the handler returns, before the response starts, so a commit that fails (SQLite's
    "database is locked", a constraint checked at commit, a lost connection) becomes an error
    answer instead of following a 2xx that was already sent. With the default request scope
    the commit ran after the response, and a DELETE (whose SQL is flushed at commit) answered
    204 for a row it never deleted.

    A constraint violation (at commit, or flushed by the handler and not caught there) answers
    409; an operational error (lock timeout, deadlock, connection) 503 with ``Retry-After``.
    Either way the transaction is rolled back: nothing of the request is stored.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        try:
            yield session
        except (IntegrityError, OperationalError) as exc:  # raised by the handler's own flush
            session.rollback()
            raise _database_error(exc) from exc
        except BaseException:
            session.rollback()
            raise
        try:
            session.commit()
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            raise _database_error(exc) from exc
        except BaseException:
            session.rollback()
            raise
    finally:
        session.close()


#: The request's session; committed when the handler returns, before the response is sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def claims_from_token(settings: Settings, token: str | None) -> tokens.TokenClaims:
    if not token:
        raise _unauthorized(
            "not authenticated: send 'Authorization: Bearer <access token>' (POST /api/auth/login)"
        )
    secret = settings.jwt_secret
    try:
        return tokens.decode(secret.get_secret_value() if secret else None, token, "access")
    except tokens.MissingSecretError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    except tokens.TokenError as exc:
        raise _unauthorized(str(exc)) from None


def user_from_token(settings: Settings, read_engine: Engine, token: str | None) -> UserInfo:
    """The active user behind an access token (synchronous form, for worker threads)."""
    claims = claims_from_token(settings, token)
    return current_holder(accounts.lookup_user(read_engine, claims.username), claims)


def current_holder(user: UserInfo | None, claims: tokens.TokenClaims) -> UserInfo:
    """``user`` if it is active and the token was issued under its current token version (a
    password, role or activation change since then revokes the token), else 401."""
    if user is None or not user.active:
        raise _unauthorized("user unknown or deactivated")
    if claims.version != user.token_version:
        raise _unauthorized(
            "token revoked: the password, role or status of this user changed since it was "
            "issued; log in again"
        )
    return user


def login_guards(request: Request) -> tuple[LoginThrottle, HashLimiter]:
    """This API process's login throttle and password-hashing limiter (made on first use)."""
    state = request.app.state
    guards: tuple[LoginThrottle, HashLimiter] | None = getattr(state, "login_guards", None)
    if guards is None:
        s: Settings = state.settings
        guards = (
            LoginThrottle(
                s.login_max_failures_per_username,
                s.login_max_failures_per_address,
                s.login_failure_window_s,
            ),
            HashLimiter(s.password_hash_concurrency, s.password_hash_wait_s),
        )
        state.login_guards = guards
    return guards


@contextmanager
def hashing_slot(request: Request) -> Iterator[None]:
    """Run a password hash or verify in one of the process's bounded slots; 503 when none is
    free within ``ARGUS_PASSWORD_HASH_WAIT_S``."""
    try:
        with login_guards(request)[1].slot():
            yield
    except HashingBusy as exc:
        metrics.PASSWORD_HASHING_BUSY.inc()
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=str(exc),
            headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
        ) from None


async def current_user(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> UserInfo:
    """The active user behind the bearer token, checked against the database on every request.

    Not cached: a deactivated user or a changed role takes effect on the next request, and a
    token issued before a password, role or activation change is refused (token version). The token
    is checked on the event loop and the lookup awaited there too (``AsyncReader``), so an
    authenticated request costs no worker-thread hand-off.
    """
    claims = claims_from_token(request.app.state.settings, token)
    row = await request.app.state.reader.first(accounts.USER_BY_NAME, {"username": claims.username})
    return current_holder(accounts.user_info(row), claims)


CurrentUser = Annotated[UserInfo, Depends(current_user)]


def require(role: str) -> Callable[[UserInfo], Awaitable[UserInfo]]:
    """Dependency factory: the current user, if their role is at least ``role`` (else 403)."""

    # async: no I/O here, so FastAPI runs it on the event loop instead of a worker thread
    async def check(user: CurrentUser) -> UserInfo:
        if not accounts.role_at_least(user.role, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"needs role {role} or higher; {user.username} is {user.role}",
            )
        return user

    check.argus_role = role  # type: ignore[attr-defined]  # read by route_requirements
    return check


def route_requirements(route: object) -> tuple[bool, str | None]:
    """(needs an authenticated user, minimal role or None) of a route, from its dependencies."""
    needs_user, role = False, None
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        d = stack.pop()
        if d.call is current_user:
            needs_user = True
        r = getattr(d.call, "argus_role", None)
        if r is not None and (role is None or accounts.role_at_least(r, role)):
            role = r
        stack.extend(d.dependencies)
    return needs_user, role


async def authorize_before_validation(request: Request) -> None:
    """Authenticate and authorize a request whose body or query failed validation, so an
    anonymous caller gets 401 and an under-privileged one 403 before any 422: FastAPI parses
    the body before it runs the dependencies, and a 422 would tell a stranger about the route's
    input. Raises the 401/403 HTTPException; returns when the caller may see the 422."""
    needs_user, role = route_requirements(request.scope.get("route"))
    if not needs_user:
        return
    token = await oauth2_scheme(request)
    user = await current_user(request, token)
    if role is not None:
        await require(role)(user)


Viewer = Annotated[UserInfo, Depends(require("viewer"))]
Operator = Annotated[UserInfo, Depends(require("operator"))]
Admin = Annotated[UserInfo, Depends(require("admin"))]
