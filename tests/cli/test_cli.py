"""The argus command line: exit codes, messages and the import error report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from argus.cli.main import app
from argus.config import get_settings
from argus.db import migrate
from argus.db.session import make_engine

runner = CliRunner()
HEADER = "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp\n"


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGUS_LOG_LEVEL", raising=False)
    get_settings.cache_clear()


def _run(url: str, *args: str) -> object:
    return runner.invoke(app, ["--database-url", url, *args])


def test_db_upgrade_current_downgrade(empty_sqlite_url: str) -> None:
    r = _run(empty_sqlite_url, "db", "current")
    assert "behind" in r.stdout
    r = _run(empty_sqlite_url, "db", "upgrade")
    assert r.exit_code == 0, r.stdout
    assert f"revision {migrate.head_revision()}" in r.stdout
    assert "up to date" in _run(empty_sqlite_url, "db", "current").stdout
    r = _run(empty_sqlite_url, "db", "downgrade", "base")
    assert r.exit_code == 0 and "base" in r.stdout


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGUS_JWT_SECRET", "topsecret")
    monkeypatch.setenv("ARGUS_BROKER_URL", "redis://:hunter2@127.0.0.1:6379/0")
    get_settings.cache_clear()
    r = runner.invoke(app, ["config", "show", "--json"])
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["jwt_secret"] == "***" and data["broker_url"] == "redis://:***@127.0.0.1:6379/0"
    assert "topsecret" not in r.stdout and "hunter2" not in r.stdout


def test_import_rejects_bad_file_with_every_row_listed(sqlite_url: str, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(
        HEADER + "T1,1,2,3,4,5,2025-01-01T00:00:00Z\nT1,x,2,3,4,5,2025-01-01T00:00:01Z\n"
        "T1,1,2,3,4,400,2025-01-01T00:00:02Z\n"
    )
    r = _run(sqlite_url, "import-tracks", str(p), "--scenario", "S", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert [(e["line"], e["column"], e["reason"]) for e in out["errors"]] == [
        (3, "lat", "not a number"),
        (4, "heading_deg", "out of range [0, 360)"),
    ]
    assert "2 of 3 rows rejected" in out["error"]
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM track_sample")).scalar_one() == 0
    engine.dispose()
    r = _run(sqlite_url, "import-tracks", str(p), "--scenario", "S")
    assert r.exit_code == 1 and "line" in r.stderr and "rejected" in r.stderr


def test_import_partial_then_again(sqlite_url: str, tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(HEADER + "T1,1,2,3,4,5,2025-01-01T00:00:00Z\nT1,x,2,3,4,5,2025-01-01T00:00:01Z\n")
    r = _run(sqlite_url, "import-tracks", str(p), "--scenario", "S", "--partial", "--json")
    assert r.exit_code == 0, r.stdout
    rep = json.loads(r.stdout)
    assert (rep["inserted"], rep["rows_rejected"], rep["scenario_created"]) == (1, 1, True)
    r = _run(sqlite_url, "import-tracks", str(p), "--scenario", "S", "--partial", "--json")
    rep = json.loads(r.stdout)
    assert (rep["inserted"], rep["already_present"]) == (0, 1)


def test_import_unknown_scenario_without_create(sqlite_url: str, tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(HEADER + "T1,1,2,3,4,5,2025-01-01T00:00:00Z\n")
    r = _run(sqlite_url, "import-tracks", str(p), "--scenario", "nope", "--no-create")
    assert r.exit_code == 1 and "no scenario named 'nope'" in r.stderr


def test_progress_bar_on_large_files(sqlite_url: str, tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    rows = [
        f"T{k % 7},1.5,2.5,3,4,5,2025-01-01T00:{k // 60 % 60:02d}:{k % 60:02d}.{k // 3600:06d}Z"
        for k in range(8000)
    ]
    p.write_text(HEADER + "\n".join(rows) + "\n")
    r = _run(sqlite_url, "import-tracks", str(p), "--scenario", "S")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "writing" in r.stderr and "8000/8000" in r.stderr
    assert "8000 samples imported" in r.stdout


def test_seed_demo_twice(sqlite_url: str) -> None:
    r1 = _run(sqlite_url, "seed-demo")
    r2 = _run(sqlite_url, "seed-demo")
    assert r1.exit_code == 0 and "created: 2 assets attached, 93 samples added" in r1.stdout
    assert r2.exit_code == 0 and "already there: 0 assets attached, 0 samples added" in r2.stdout


def test_help_teaches() -> None:
    r = runner.invoke(app, ["import-tracks", "--help"])
    assert r.exit_code == 0
    for word in ("--partial", "--scenario", "timestamp", "ISO 8601"):
        assert word in r.stdout
