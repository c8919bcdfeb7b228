from __future__ import annotations

import pytest

from argus.config import Settings, mask_url


def test_defaults_and_no_secret_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ARGUS_DATABASE_URL", "ARGUS_JWT_SECRET", "ARGUS_BROKER_URL", "ARGUS_BUS_URL"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.database_url == "sqlite:///./var/argus.db"
    assert s.jwt_secret is None and s.broker_url is None and s.bus_url is None


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGUS_DATABASE_URL", "postgresql+psycopg://u:pw@db/argus")
    monkeypatch.setenv("ARGUS_PORT", "9001")
    monkeypatch.setenv("ARGUS_JWT_SECRET", "s3cret-value")
    s = Settings()
    assert (s.database_url, s.port) == ("postgresql+psycopg://u:pw@db/argus", 9001)
    masked = s.masked()
    assert masked["database_url"] == "postgresql+psycopg://u:***@db/argus"
    assert masked["jwt_secret"] == "***"
    assert "s3cret-value" not in repr(masked) and "pw@" not in repr(masked)


def test_invalid_port_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGUS_PORT", "70000")
    with pytest.raises(ValueError, match="port"):
        Settings()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:hunter2@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:***@127.0.0.1:5672//"),
        ("postgresql://postgres@127.0.0.1/test", "postgresql://postgres@127.0.0.1/test"),
        ("sqlite:///./var/argus.db", "sqlite:///./var/argus.db"),
        (None, None),
    ],
)
def test_mask_url(url: str | None, masked: str | None) -> None:
    assert mask_url(url) == masked


def test_object_store_is_accepted_now_that_astro_and_rf_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARGUS_OBJECT_STORE", "s3://bucket/prefix")
    assert Settings().object_store == "s3://bucket/prefix"


def test_bad_setting_is_a_one_line_cli_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from argus.cli.main import app
    from argus.config import get_settings

    monkeypatch.setenv("ARGUS_OBJECT_STORE", "ftp://host/prefix")
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, ["config", "show"])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "ARGUS_OBJECT_STORE" in out and "'ftp'" in out
    assert "Traceback" not in res.output


def test_bus_url_is_accepted_now_that_the_pipeline_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARGUS_BUS_URL", "nats://127.0.0.1:4222")
    assert Settings().bus_url == "nats://127.0.0.1:4222"
