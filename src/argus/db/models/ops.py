"""Operational tables: users (API auth) and jobs (background computations and their results)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from argus.db.base import Base, TimestampMixin, UTCDateTime

ROLES = ("viewer", "operator", "admin")
JOB_STATES = ("queued", "running", "succeeded", "failed")


class User(TimestampMixin, Base):
    """An API user. ``password_hash`` is an argon2id hash; the password itself is never stored."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role_values"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'viewer'"))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    #: Bumped by a password change, a role change and a (de)activation: every token carries
    #: the version it was issued under and is refused once it no longer matches.
    token_version: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )


class Job(TimestampMixin, Base):
    """A background computation (compute_now, periodic recompute, assignment) and its outcome.

    ``idempotency_key`` makes a repeated request return the first job instead of a second one;
    a key is scoped to its scenario and its caller (``created_by``): the same key from another
    user, or for another scenario, is a new job.
    """

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="status_values"
        ),
        Index("ix_job_scenario_created", "scenario_id", "created_at"),
        UniqueConstraint("scenario_id", "created_by", "idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    scenario_id: Mapped[int | None] = mapped_column(
        ForeignKey("scenario.id", ondelete="CASCADE"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(12), nullable=False, server_default=text("'queued'"))
    #: The username of the caller who started the job (NULL: the scheduler or a worker).
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RefreshToken(Base):
    """A refresh token issued to a user (by its ``jti``), for rotation with reuse detection.

    One login starts a family; each use marks the token used and issues the next one of the
    same family. Presenting a token already used revokes the whole family (``revoked_at``).
    """

    __tablename__ = "refresh_token"
    __table_args__ = (
        Index("ix_refresh_token_family", "family_id"),
        Index("ix_refresh_token_user", "user_id"),
    )

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False
    )
    family_id: Mapped[str] = mapped_column(String(64), nullable=False)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
