"""The CLI contract: argus astro simulate / subtract write the files and columns promised."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from argus.astro.detect import CANDIDATE_COLUMNS
from argus.astro.fitsio import read_image
from argus.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    r = runner.invoke(app, ["astro", "simulate", "--out", str(out), "--size", "512", "--seed", "3"])
    assert r.exit_code == 0, r.output
    return out


def test_simulate_writes_images_and_truth(simulated: Path) -> None:
    new, hdr = read_image(simulated / "new.fits")
    ref, _ = read_image(simulated / "ref.fits")
    assert new.shape == ref.shape == (512, 512)
    assert hdr["CTYPE1"] == "RA---TAN" and "GAIN" in hdr
    with (simulated / "truth.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["ra", "dec", "x", "y", "flux", "snr", "kind"]
    assert {r["kind"] for r in rows} >= {"transient", "star", "cosmic_ray"}


def test_subtract_writes_difference_score_and_candidates(simulated: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        [
            "astro",
            "subtract",
            str(simulated / "new.fits"),
            str(simulated / "ref.fits"),
            "-o",
            str(out),
            "--threshold",
            "5",
        ],
    )
    assert r.exit_code == 0, r.output
    D, hdr = read_image(out / "D.fits")
    S, _ = read_image(out / "Scorr.fits")
    assert D.shape == S.shape == (512, 512)
    assert "CTYPE1" in hdr
    with (out / "candidates.csv").open() as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CANDIDATE_COLUMNS
    assert 5 < len(rows) < 300
    assert all(float(r["snr"]) >= 4.0 for r in rows)


def test_subtract_json_and_algorithm(simulated: Path, tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        [
            "astro",
            "subtract",
            str(simulated / "new.fits"),
            str(simulated / "ref.fits"),
            "-o",
            str(tmp_path),
            "--json",
            "--algorithm",
            "alard-lupton",
        ],
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert rows and set(rows[0]) == set(CANDIDATE_COLUMNS)
    assert all(isinstance(row["x"], float) and row["sign"] in (-1, 1) for row in rows)


def test_subtract_rejects_bad_files(tmp_path: Path, simulated: Path) -> None:
    bad = tmp_path / "bad.fits"
    bad.write_text("not a fits file")
    r = runner.invoke(
        app, ["astro", "subtract", str(bad), str(simulated / "ref.fits"), "-o", str(tmp_path)]
    )
    assert r.exit_code == 2
    assert "bad.fits" in r.output
    r = runner.invoke(
        app,
        [
            "astro",
            "subtract",
            str(simulated / "new.fits"),
            str(simulated / "ref.fits"),
            "-o",
            str(tmp_path),
            "--algorithm",
            "hotpants",
        ],
    )
    assert r.exit_code != 0


def test_help_teaches() -> None:
    r = runner.invoke(app, ["astro", "--help"])
    assert r.exit_code == 0 and "simulate" in r.output and "subtract" in r.output
