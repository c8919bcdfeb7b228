"""The RF operations commands, registered on a Typer app of the test's own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from argus.cli import common
from argus.cli.rf_ops import register
from argus.config import Settings
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.rf import service
from tests.rf._support import FREQ, SITES, START, write_folder

runner = CliRunner()


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(
        common.state, "settings", Settings(database_url=sqlite_url, var_dir=tmp_path / "var")
    )
    app = typer.Typer()
    register(app)
    return app


def test_receivers_acquire_sweep_prune(cli: typer.Typer, sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    write_folder(folder, ["north", "east"])
    for name in ("north", "east"):
        lat, lon = next((la, lo) for n, la, lo in SITES if n == name)
        r = runner.invoke(cli, [
            "receivers", "add", "--name", name, "--kind", "sigmf", "--url", str(folder),
            "--lat-deg", str(lat), "--lon-deg", str(lon), "--sample-rate-hz", "1e6",
        ])  # fmt: skip
        assert r.exit_code == 0, r.output
    bad = runner.invoke(
        cli, ["receivers", "add", "--name", "x", "--lat-deg", "99", "--lon-deg", "0"]
    )
    assert bad.exit_code == 1 and "lat_deg" in bad.output
    listed = runner.invoke(cli, ["receivers", "list", "--json"])
    assert '"north"' in listed.output and '"east"' in listed.output
    checked = runner.invoke(cli, ["receivers", "check", "north"])
    assert checked.exit_code == 0 and "north: up" in checked.output
    r = runner.invoke(cli, [
        "acquire", "--frequency-hz", str(FREQ), "--duration-s", "0.002", "--source", "sigmf",
        "--receivers", "north,east",
    ])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "complete, 2 measurements" in r.output and "at least 3" in r.output
    store = ObjectStore(str(tmp_path / "var" / "objects"))
    assert len(store.list_objects("rf")) == 4
    r = runner.invoke(cli, ["sweep"])
    assert r.exit_code == 0 and "0 orphan objects removed" in r.output
    r = runner.invoke(cli, ["maintain"])
    assert r.exit_code == 0 and "2 hourly aggregates refreshed" in r.output
    # the measurements carry the recordings' own time (START's day); the acquisition is from
    # now. A cutoff before START's day keeps everything; --days 0 (midnight today, later than
    # START) drops both measurements and keeps today's acquisition with its four objects.
    engine = make_engine(sqlite_url)
    with session_scope(make_sessionmaker(engine)) as s:
        assert len(service.list_measurements(s, start=START, end=START + dt.timedelta(1))) == 2
    age_days = (dt.datetime.now(dt.UTC).date() - START.date()).days
    assert age_days >= 1  # START is a fixed day in the past
    r = runner.invoke(cli, ["prune", "--days", str(age_days + 1)])
    assert r.exit_code == 0 and "0 measurements" in r.output, r.output
    with session_scope(make_sessionmaker(engine)) as s:
        assert len(service.list_measurements(s, start=START, end=START + dt.timedelta(1))) == 2
    r = runner.invoke(cli, ["prune", "--days", "0"])
    assert r.exit_code == 0 and "2 measurements" in r.output and "0 acquisitions" in r.output, (
        r.output
    )
    with session_scope(make_sessionmaker(engine)) as s:
        assert service.list_measurements(s, start=START, end=START + dt.timedelta(1)) == []
    assert len(store.list_objects("rf")) == 4
    engine.dispose()
    r = runner.invoke(cli, ["receivers", "remove", "east"])
    assert r.exit_code == 0
    r = runner.invoke(cli, ["receivers", "remove", "east"])
    assert r.exit_code == 1 and "no receiver named 'east'" in r.output
    r = runner.invoke(cli, ["serve-receiver"])
    assert r.exit_code == 1 and "exactly one of" in r.output
