"""Settings, read only from ``ARGUS_*`` environment variables (and CLI flags that set them).

No secret has a default value here: ``jwt_secret`` is ``None`` until the environment or
``make run`` (which writes a random one under ``./var/``) provides it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@]*):(?P<pw>[^@/]*)@"
)


def mask_url(url: str | None) -> str | None:
    """Replace the password of ``scheme://user:password@host`` with ``***``."""
    if url is None:
        return None
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


class Settings(BaseSettings):
    """Effective configuration of one Argus process.

    Every field is the environment variable ``ARGUS_<FIELD>`` (upper case).
    """

    model_config = SettingsConfigDict(env_prefix="ARGUS_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./var/argus.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    bus_url: str | None = Field(
        default=None,
        description="the defense pipeline's event bus: unset = in-process; nats://host:4222 = "
        "NATS JetStream (stages in separate processes: `argus stage ...`)",
    )
    broker_url: str | None = Field(
        default=None, description="redis://… or amqp://… for Celery; unset = in-process scheduler"
    )
    object_store: str | None = Field(
        default=None,
        description="where raw IQ, FITS frames and cutouts go: unset = <var_dir>/objects (a local "
        "folder); a folder path; s3://bucket/prefix (any S3-compatible store through s3fs)",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="endpoint of a non-AWS S3-compatible store (MinIO, moto): http://host:9000; "
        "credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never from code",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="HMAC key for API tokens; required by the API auth"
    )
    var_dir: Path = Field(
        default=Path("./var"), description="folder for the embedded database, secrets and objects"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_json: bool = Field(
        default=True, description="structured JSON logs (false: human-readable console)"
    )
    compute_interval_s: float = Field(
        default=5.0, ge=0, description="periodic recompute of active scenarios (0 = off)"
    )
    celery_visibility_timeout_s: int = Field(
        default=3600,
        ge=1,
        description="Redis broker: seconds before an unacknowledged task is redelivered",
    )
    celery_queue: str = Field(
        default="argus", description="Celery queue the API sends to and workers consume"
    )
    upload_max_bytes: int = Field(
        default=20_000_000, ge=1, description="largest CSV upload the API accepts"
    )
    ranking_cache_entries: int = Field(
        default=64,
        ge=0,
        description="rendered rankings kept per API process, keyed by scenario revision (0 = off)",
    )
    login_max_failures_per_username: int = Field(
        default=5, ge=1, description="failed logins per username within the window before 429"
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="failed logins per client address within the window before 429",
    )
    login_failure_window_s: float = Field(
        default=900.0, gt=0, description="window (seconds) in which failed logins are counted"
    )
    password_hash_concurrency: int = Field(
        default=2, ge=1, description="argon2 hashes/verifies at once per API process"
    )
    password_hash_wait_s: float = Field(
        default=2.0, ge=0, description="longest wait (seconds) for a hashing slot before 503"
    )
    scan_interval_s: float = Field(
        default=0.5, gt=0, le=60, description="defense pipeline cycle (seconds of simulated time)"
    )
    detection_threshold: float = Field(
        default=12.0, description="plots below this SNR (dB) start no track"
    )
    threat_threshold_high: float = Field(default=0.6, gt=0, le=1, description="TEWA score: high")
    threat_threshold_critical: float = Field(
        default=0.8, gt=0, le=1, description="TEWA score: critical"
    )
    pipeline: bool = Field(
        default=False,
        description="run the defense pipeline's real-time controller inside `argus serve`",
    )
    rf_retention_days: int | None = Field(
        default=None,
        ge=0,
        description="RF measurements, acquisitions and their IQ objects older than this many "
        "days are dropped by the hourly maintenance job (unset: kept; `argus rf prune` by hand)",
    )
    defense_scenario_file: Path | None = Field(
        default=None,
        description="the pipeline plays this defense scenario file (its radars, batteries, "
        "assets and raid; replacing a stored scenario of the same name) instead of the demo",
    )
    gc_freeze: bool = Field(
        default=False,
        description="freeze the start-up heap out of the cyclic GC's reach once the API is up "
        "(`argus serve` turns it on: fewer, shorter full collections under load)",
    )
    host: str = Field(default="127.0.0.1", description="address `argus serve` binds")
    port: int = Field(default=8000, ge=1, le=65535, description="port `argus serve` binds")

    @model_validator(mode="after")
    def _check_object_store(self) -> Settings:
        store = self.object_store
        if store and "://" in store and store.split("://", 1)[0] not in {"file", "s3"}:
            raise ValueError(
                f"ARGUS_OBJECT_STORE: scheme {store.split('://', 1)[0]!r} is not supported "
                "(a folder path, file://…, s3://bucket/prefix)"
            )
        if store and store.startswith("s3://") and not store[5:].split("/")[0]:
            raise ValueError("ARGUS_OBJECT_STORE: s3:// needs a bucket (s3://bucket/prefix)")
        return self

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with every secret masked (for display and logs)."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "***" if value.get_secret_value() else ""
            elif name.endswith("_url") or name == "object_store":
                out[name] = mask_url(value)
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` after changing the env)."""
    return Settings()
