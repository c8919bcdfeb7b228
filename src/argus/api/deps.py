"""FastAPI dependencies: a database session per request, the current user, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from argus.accounts import service as accounts
from argus.accounts import tokens
from argus.accounts.service import UserInfo
from argus.config import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def user_from_token(settings: Settings, session: Session, token: str | None) -> UserInfo:
    if not token:
        raise _unauthorized(
            "not authenticated: send 'Authorization: Bearer <access token>' (POST /api/auth/login)"
        )
    secret = settings.jwt_secret
    try:
        claims = tokens.decode(secret.get_secret_value() if secret else None, token, "access")
    except tokens.MissingSecretError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    except tokens.TokenError as exc:
        raise _unauthorized(str(exc)) from None
    user = accounts.get_user(session, claims.username)
    if user is None or not user.active:
        raise _unauthorized("user unknown or deactivated")
    return user


def current_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> UserInfo:
    return user_from_token(request.app.state.settings, session, token)


CurrentUser = Annotated[UserInfo, Depends(current_user)]


def require(role: str) -> Callable[[UserInfo], UserInfo]:
    """Dependency factory: the current user, if their role is at least ``role`` (else 403)."""

    def check(user: CurrentUser) -> UserInfo:
        if not accounts.role_at_least(user.role, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"needs role {role} or higher; {user.username} is {user.role}",
            )
        return user

    return check


Viewer = Annotated[UserInfo, Depends(require("viewer"))]
Operator = Annotated[UserInfo, Depends(require("operator"))]
Admin = Annotated[UserInfo, Depends(require("admin"))]
