"""``argus demo rf --no-serve`` on the embedded default (SQLite, local object store, in process):
receivers in the table, simulated acquisitions through the real service, every capture's SigMF
pair in the store, measurements and hourly aggregates, and a localization within 200 m of the
simulated emitter, printed with its method and 95 % ellipse."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from argus.cli.main import app
from argus.config import get_settings
from argus.db import migrate
from argus.db.models.rf import (
    Receiver,
    RfAcquisition,
    RfLocalization,
    RfMeasurement,
    RfMeasurementHourly,
)
from argus.geo.geodesics import geodesic_inverse
from tests.cli._support import with_session

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("ARGUS_DATABASE_URL", url)
    monkeypatch.setenv("ARGUS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ARGUS_OBJECT_STORE", raising=False)
    monkeypatch.delenv("ARGUS_BROKER_URL", raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _count(url: str, model: type) -> int:
    return int(with_session(url, lambda s: s.scalar(sa.select(sa.func.count()).select_from(model))))


def test_demo_rf_no_serve_locates_the_simulated_emitter(env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["demo", "rf", "--no-serve", "--receivers", "4", "--acquisitions", "2", "--seed", "3"]
    )
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    m = re.search(
        r"localization (\d+): lat (-?[\d.]+) lon (-?[\d.]+) method (\w+); truth lat (-?[\d.]+) "
        r"lon (-?[\d.]+); error ([\d.]+) m; 95 % ellipse ([\d.]+) x ([\d.]+) m at ([\d.]+) deg",
        out,
    )
    assert m, out
    loc_id, lat, lon, method = int(m[1]), float(m[2]), float(m[3]), m[4]
    t_lat, t_lon, error_m = float(m[5]), float(m[6]), float(m[7])
    a_m, b_m, orient = float(m[8]), float(m[9]), float(m[10])
    assert "console: http://127.0.0.1:8000/#rf (run `argus serve`)" in out
    # the printed error is the distance between the printed estimate and truth, and it is small
    dist, _ = geodesic_inverse(t_lat, t_lon, lat, lon)
    assert error_m == pytest.approx(float(dist), abs=0.2)
    assert error_m < 200.0
    assert method in ("tdoa", "fused") and a_m >= b_m > 0 and 0 <= orient < 180

    # the database holds what was printed
    assert _count(env, Receiver) == 4
    assert _count(env, RfAcquisition) == 2
    assert _count(env, RfMeasurement) == 8
    assert _count(env, RfLocalization) == 2
    assert _count(env, RfMeasurementHourly) >= 4  # every receiver's hour(s), refreshed

    def stored(s: sa.orm.Session) -> tuple[list[str], list[str], RfLocalization]:
        receivers = [r.status for r in s.scalars(sa.select(Receiver))]
        acqs = list(s.scalars(sa.select(RfAcquisition)))
        keys = [c[k] for a in acqs for c in a.captures.values() for k in ("meta_key", "data_key")]
        assert all(a.status == "complete" and a.simulated for a in acqs)
        loc = s.get(RfLocalization, loc_id)
        assert loc is not None
        s.expunge(loc)
        return receivers, keys, loc

    statuses, keys, loc = with_session(env, stored)
    assert statuses == ["up"] * 4  # health-checked
    assert len(keys) == 2 * 4 * 2
    objects = tmp_path / "var" / "objects"
    assert all((objects / k).is_file() and (objects / k).stat().st_size > 0 for k in keys)
    assert (round(loc.lat_deg, 6), round(loc.lon_deg, 6)) == (lat, lon)
    assert loc.error_m == pytest.approx(error_m, abs=0.05)
    assert (loc.truth["emitter"]["lat_deg"], loc.truth["emitter"]["lon_deg"]) == (t_lat, t_lon)
    assert round(loc.ellipse_a_m, 1) == a_m and round(loc.ellipse_b_m, 1) == b_m

    # run again: the same receivers are reused, one more acquisition is added
    res = runner.invoke(app, ["demo", "rf", "--no-serve", "--receivers", "4", "--acquisitions",
                              "1", "--seed", "3"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _count(env, Receiver) == 4
    assert _count(env, RfLocalization) == 3


def test_demo_rf_refuses_an_unknown_emitter_kind(env: str) -> None:
    res = CliRunner().invoke(app, ["demo", "rf", "--no-serve", "--kind", "radar"])
    assert res.exit_code == 2
    assert "--kind: one of cw, nfm, wideband, burst" in " ".join(res.output.split())
    assert _count(env, Receiver) == 0
