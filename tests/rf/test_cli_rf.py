"""``argus rf``: simulate → measure → localize through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from argus.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rf")
    res = runner.invoke(
        app,
        [
            "rf",
            "simulate",
            "--out",
            str(out),
            "--receivers",
            "5",
            "--kind",
            "wideband",
            "--snr-db",
            "20",
            "--seed",
            "7",
            "--duration-ms",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_simulate_writes_pairs_and_truth(network: Path) -> None:
    assert sorted(p.name for p in network.glob("*.sigmf-meta")) == [
        f"rx{i}.sigmf-meta" for i in range(1, 6)
    ]
    truth = json.loads((network / "truth.json").read_text())
    assert max(truth["snr_db"]) == pytest.approx(20.0)
    assert len(truth["clock_error_s"]) == 5


def test_measure_json(network: Path) -> None:
    truth = json.loads((network / "truth.json").read_text())
    res = runner.invoke(app, ["rf", "measure", str(network / "rx1.sigmf-meta"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["snr_db"] == pytest.approx(truth["snr_db"][0], abs=0.5)
    assert out["occupied_bandwidth_hz"] == pytest.approx(198e3, rel=0.03)
    assert out["noise_floor_dbfs"] == pytest.approx(-40.0 - 63.01, abs=0.3)


def test_localize_json_against_truth(network: Path) -> None:
    files = sorted(str(p) for p in network.glob("*.sigmf-meta"))
    res = runner.invoke(
        app,
        [
            "rf",
            "localize",
            *files,
            "--alt-m",
            "10",
            "--clock-sigma-ns",
            "50",
            "--truth",
            str(network / "truth.json"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["method"] in ("tdoa", "fused")
    assert out["truth"]["error_m"] < 4 * out["crlb_m"]
    assert set(out["ellipse95"]) == {"semi_major_m", "semi_minor_m", "orientation_deg"}
    assert len(out["per_receiver"]) == 5
    assert len(out["cov_enu_m2"]) == 2


def test_localize_table(network: Path) -> None:
    files = sorted(str(p) for p in network.glob("*.sigmf-meta"))
    res = runner.invoke(app, ["rf", "localize", *files, "--alt-m", "10"])
    assert res.exit_code == 0, res.output
    assert "95 % ellipse" in res.stdout and "receivers" in res.stdout


def test_corrupt_file_is_rejected_with_the_field(network: Path, tmp_path: Path) -> None:
    for ext in ("sigmf-meta", "sigmf-data"):
        (tmp_path / f"bad.{ext}").write_bytes((network / f"rx2.{ext}").read_bytes())
    data = tmp_path / "bad.sigmf-data"
    raw = bytearray(data.read_bytes())
    raw[0] ^= 0xFF
    data.write_bytes(bytes(raw))
    res = runner.invoke(app, ["rf", "measure", str(tmp_path / "bad.sigmf-meta")])
    assert res.exit_code == 2
    assert "core:sha512" in res.output


def test_help_teaches() -> None:
    res = runner.invoke(app, ["rf", "--help"])
    assert res.exit_code == 0
    for word in ("measure", "localize", "simulate", "SigMF"):
        assert word in res.output
