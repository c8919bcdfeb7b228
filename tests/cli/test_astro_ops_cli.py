"""argus astro pipeline|train and argus demo astro on the embedded default (SQLite, local folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from argus.astro.fitsio import write_image
from argus.astro.simulate import simulate_pair
from argus.cli.main import app
from argus.config import get_settings
from argus.db import migrate


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("ARGUS_DATABASE_URL", url)
    monkeypatch.setenv("ARGUS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ARGUS_OBJECT_STORE", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_pipeline_needs_a_model_then_runs_to_alerts(env: Path) -> None:
    folder = env / "night"
    folder.mkdir()
    pair = simulate_pair(512, seed=5)
    write_image(folder / "ref.fits", pair.ref, pair.ref_header)
    write_image(folder / "new.fits", pair.new, pair.new_header)
    runner = CliRunner()
    res = runner.invoke(app, ["astro", "pipeline", str(folder)])
    assert res.exit_code == 2 and "no SURVEY or TELESCOP keyword" in " ".join(res.output.split())
    res = runner.invoke(app, ["astro", "pipeline", str(folder), "--survey", "SIM"])
    assert res.exit_code == 2, res.output
    assert "argus astro train" in " ".join(res.output.split())
    res = runner.invoke(app, ["astro", "train", "--n", "600", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "registered real_bogus model" in res.output
    res = runner.invoke(app, ["astro", "pipeline", str(folder), "--survey", "SIM"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "workflow" in out  # exit 0: no observation failed (errors exit 1)
    res = runner.invoke(app, ["astro", "pipeline", str(env / "missing")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_demo_astro_prints_the_console_url(env: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "astro", "--size", "512", "--seed", "2"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "transients injected" in out and "console: http://127.0.0.1:8000/" in out
    assert (env / "var" / "astro-demo" / "seed2" / "new.fits").exists()
