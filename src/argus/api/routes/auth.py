"""/api/auth: OAuth2 password login → JWT access + refresh, refresh, me; /api/users for admins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from argus.accounts import service as accounts
from argus.accounts import tokens
from argus.api.deps import Admin, CurrentUser, SessionDep

router = APIRouter(tags=["auth"])

Role = Literal["viewer", "operator", "admin"]


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


def _pair(request: Request, username: str, role: str) -> TokenPair:
    try:
        access = tokens.issue(_secret(request), username, role, "access")
        refresh = tokens.issue(_secret(request), username, role, "refresh")
    except tokens.MissingSecretError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(tokens.ACCESS_TTL.total_seconds()),
        role=role,
    )


@router.post("/api/auth/login", response_model=TokenPair, summary="Log in (OAuth2 password flow)")
def login(
    request: Request, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenPair:
    user = accounts.authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return _pair(request, user.username, user.role)


@router.post(
    "/api/auth/refresh", response_model=TokenPair, summary="Trade a refresh token for a new pair"
)
def refresh(request: Request, session: SessionDep, body: RefreshRequest) -> TokenPair:
    try:
        claims = tokens.decode(_secret(request), body.refresh_token, "refresh")
    except tokens.MissingSecretError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    except tokens.TokenError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"refresh_token: {exc}",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    user = accounts.get_user(session, claims.username)
    if user is None or not user.active:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="user unknown or deactivated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return _pair(request, user.username, user.role)  # the role as it is now, not as it was


@router.get("/api/auth/me", response_model=UserOut, summary="The user behind the token")
async def me(user: CurrentUser) -> UserOut:  # no I/O of its own: runs on the event loop
    return UserOut(**user.__dict__)


@router.get("/api/users", response_model=list[UserOut], summary="List users (admin)")
def list_users(session: SessionDep, _: Admin) -> list[UserOut]:
    return [UserOut(**u.__dict__) for u in accounts.list_users(session)]


@router.post("/api/users", response_model=UserOut, status_code=201, summary="Create a user (admin)")
def create_user(session: SessionDep, _: Admin, body: UserCreate) -> UserOut:
    try:
        u = accounts.create_user(session, body.username, body.password, body.role)
    except accounts.AccountError as exc:
        code = (
            status.HTTP_409_CONFLICT
            if "taken" in str(exc)
            else status.HTTP_422_UNPROCESSABLE_CONTENT
        )
        raise HTTPException(code, detail=str(exc)) from None
    return UserOut(**u.__dict__)


@router.patch(
    "/api/users/{username}",
    response_model=UserOut,
    summary="Change role, password or active (admin)",
)
def update_user(session: SessionDep, admin: Admin, username: str, body: UserUpdate) -> UserOut:
    if username == admin.username and (body.role not in (None, "admin") or body.active is False):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="an admin cannot demote or deactivate themselves"
        )
    try:
        u = accounts.update_user(
            session, username, role=body.role, password=body.password, active=body.active
        )
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except accounts.AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    return UserOut(**u.__dict__)
