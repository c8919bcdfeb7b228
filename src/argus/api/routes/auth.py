"""/api/auth: OAuth2 password login → JWT access + refresh, refresh, me; /api/users for admins."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from argus import metrics
from argus.accounts import service as accounts
from argus.accounts import tokens
from argus.api.deps import (
    Admin,
    CurrentUser,
    SessionDep,
    current_holder,
    hashing_slot,
    login_guards,
)
from argus.api.errors import PROBLEM_JSON, Problem

router = APIRouter(tags=["auth"])

Role = Literal["viewer", "operator", "admin"]


def _problem_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
    }


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="access token lifetime in seconds")
    role: Role


class RefreshRequest(BaseModel):
    refresh_token: str


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    active: bool


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: Role = "viewer"


class UserUpdate(BaseModel):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    active: bool | None = None


def _secret(request: Request) -> str | None:
    s = request.app.state.settings.jwt_secret
    return s.get_secret_value() if s else None


def _refused(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _pair(
    request: Request, session: Session, user: accounts.UserInfo, family: str | None = None
) -> TokenPair:
    """A new access + refresh pair under the user's current token version; the refresh token is
    recorded (one use) in ``family`` (a new family on login)."""
    jti, family = tokens.new_id(), family or tokens.new_id()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        access = tokens.issue(
            _secret(request),
            user.username,
            user.role,
            "access",
            now=now,
            version=user.token_version,
        )
        refresh = tokens.issue(
            _secret(request),
            user.username,
            user.role,
            "refresh",
            now=now,
            version=user.token_version,
            jti=jti,
            family=family,
        )
    except tokens.MissingSecretError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    accounts.record_refresh_token(
        session, user, jti, family, now + tokens.REFRESH_TTL, issued_at=now
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(tokens.ACCESS_TTL.total_seconds()),
        role=user.role,
    )


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/api/auth/login",
    response_model=TokenPair,
    summary="Log in (OAuth2 password flow)",
    responses={
        401: _problem_doc("wrong username or password"),
        429: _problem_doc(
            "too many failed logins for this username or client address; wait Retry-After seconds"
        ),
        503: _problem_doc("password hashing busy (Retry-After), or no ARGUS_JWT_SECRET"),
    },
)
def login(
    request: Request, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenPair:
    throttle, _ = login_guards(request)
    address = _client_address(request)
    throttled = throttle.check(form.username, address)
    if throttled is not None:  # refused before any argon2 work
        scope, wait = throttled
        metrics.LOGINS_THROTTLED.labels(scope).inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed logins for this {scope}: retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    with hashing_slot(request):
        user = accounts.authenticate(session, form.username, form.password)
    if user is None:
        throttle.failed(form.username, address)
        raise _refused("wrong username or password")
    throttle.succeeded(form.username)
    return _pair(request, session, user)


@router.post(
    "/api/auth/refresh",
    response_model=TokenPair,
    summary="Trade a refresh token for a new pair (the old one is used up)",
    responses={
        401: _problem_doc(
            "refresh token invalid, expired, revoked or already used (a reuse revokes every "
            "token of that login)"
        ),
    },
)
def refresh(request: Request, session: SessionDep, body: RefreshRequest) -> TokenPair:
    try:
        claims = tokens.decode(_secret(request), body.refresh_token, "refresh")
    except tokens.MissingSecretError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    except tokens.TokenError as exc:
        raise _refused(f"refresh_token: {exc}") from None
    user = current_holder(accounts.get_user(session, claims.username), claims)
    if not claims.jti or not claims.family:
        raise _refused("refresh_token: not a rotating refresh token; log in again")
    try:
        accounts.use_refresh_token(session, user, claims.jti, claims.family)
    except accounts.RefreshRefused as exc:
        if exc.reused:
            session.commit()  # the family's revocation stands although the answer is an error
        raise _refused(f"refresh_token: {exc}") from None
    return _pair(request, session, user, claims.family)  # the role as it is now


@router.get("/api/auth/me", response_model=UserOut, summary="The user behind the token")
async def me(user: CurrentUser) -> UserOut:  # no I/O of its own: runs on the event loop
    return UserOut(**user.public())


@router.get("/api/users", response_model=list[UserOut], summary="List users (admin)")
def list_users(session: SessionDep, _: Admin) -> list[UserOut]:
    return [UserOut(**u.public()) for u in accounts.list_users(session)]


@router.post("/api/users", response_model=UserOut, status_code=201, summary="Create a user (admin)")
def create_user(request: Request, session: SessionDep, _: Admin, body: UserCreate) -> UserOut:
    try:
        with hashing_slot(request):
            u = accounts.create_user(session, body.username, body.password, body.role)
    except accounts.AccountError as exc:
        code = (
            status.HTTP_409_CONFLICT
            if "taken" in str(exc)
            else status.HTTP_422_UNPROCESSABLE_CONTENT
        )
        raise HTTPException(code, detail=str(exc)) from None
    return UserOut(**u.public())


@router.patch(
    "/api/users/{username}",
    response_model=UserOut,
    summary="Change role, password or active (admin)",
)
def update_user(
    request: Request, session: SessionDep, admin: Admin, username: str, body: UserUpdate
) -> UserOut:
    if username == admin.username and (body.role not in (None, "admin") or body.active is False):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="an admin cannot demote or deactivate themselves"
        )
    try:
        with hashing_slot(request) if body.password is not None else contextlib.nullcontext():
            u = accounts.update_user(
                session, username, role=body.role, password=body.password, active=body.active
            )
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except accounts.AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    return UserOut(**u.public())
