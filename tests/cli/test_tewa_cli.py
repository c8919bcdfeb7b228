"""The TEWA commands' output contract: compute-threats, rank, params, weapons, assign.

Every command runs through Typer's CliRunner against a fresh migrated SQLite file. The
geometry scenario is hand-checkable: one DA "DA-N" at (30 N, 70 E), radius 5 km, default params
(weights 0.35/0.25/0.25/0.15, scales 10 km / 300 s / 25 km / 180 s, weapon range 20 km), and
three tracks with samples at t = 0, 20, 40, 60 s, all in DA-N's ENU plane:

- IN: 50 km south, flying north at 250 m/s (straight at the DA);
- OUT: 30 km east, flying east at 100 m/s (receding);
- STILL: 30 km north, speed 0.

A second DA "DA-W" sits ~480 km west, so --da has something to filter.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pymap3d
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from argus.cli import common as cli_common
from argus.cli.main import app
from argus.config import get_settings
from argus.db.session import make_engine
from argus.tewa import service
from tests.cli._support import with_session as _with_session

runner = CliRunner()
HEADER = "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp\n"
T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
DA_LAT, DA_LON = 30.0, 70.0
JSON_KEYS = {
    "track_id",
    "da_name",
    "cpa_km",
    "tcpa_s",
    "tdb_km",
    "twrp_s",
    "score",
    "n_cpa",
    "n_tcpa",
    "n_tdb",
    "n_twrp",
    "status",
}


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGUS_LOG_LEVEL", raising=False)
    # Rich reads COLUMNS when a Console is made (at import, before this fixture): set the width
    # of the CLI's consoles themselves, so tables are not wrapped to 80 columns in CI.
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(cli_common.console, "width", 200)
    get_settings.cache_clear()


def _run(url: str, *args: str) -> Result:
    return runner.invoke(app, ["--database-url", url, *args])


def _ok_json(url: str, *args: str) -> Any:
    r = _run(url, *args)
    assert r.exit_code == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def _at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _count_scores(url: str, table: str = "threat_score") -> int:
    assert table in ("threat_score", "threat_score_what_if")
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(n)


@pytest.fixture
def geo_url(sqlite_url: str, tmp_path: Path) -> str:
    """Scenario S with DA-N, DA-W and the tracks IN, OUT, STILL (imported through the CLI)."""

    def setup(s: Any) -> None:
        sc, _ = service.get_or_create_scenario(s, "S")
        for name, lat, lon in (("DA-N", DA_LAT, DA_LON), ("DA-W", DA_LAT, 65.0)):
            service.attach_asset(
                s, sc, service.upsert_defended_asset(s, name, lat=lat, lon=lon, radius_km=5.0)
            )

    _with_session(sqlite_url, setup)
    lines = []
    for tid, east0, north0, speed, heading in (
        ("IN", 0.0, -50_000.0, 250.0, 0.0),
        ("OUT", 30_000.0, 0.0, 100.0, 90.0),
        ("STILL", 0.0, 30_000.0, 0.0, 0.0),
    ):
        h = math.radians(heading)
        for t in (0, 20, 40, 60):
            e = east0 + speed * math.sin(h) * t
            n = north0 + speed * math.cos(h) * t
            lat, lon, _ = pymap3d.enu2geodetic(e, n, 0.0, DA_LAT, DA_LON, 0.0)
            lines.append(f"{tid},{float(lat)!r},{float(lon)!r},1000,{speed},{heading},{_at(t)}")
    p = tmp_path / "tracks.csv"
    p.write_text(HEADER + "\n".join(lines) + "\n")
    r = _run(sqlite_url, "import-tracks", str(p), "--scenario", "S")
    assert r.exit_code == 0, r.stdout + r.stderr
    return sqlite_url


def _n(x: float, scale: float) -> float:
    return 1.0 / (1.0 + x / scale)


def _by_track(rows: list[dict[str, Any]], da: str = "DA-N") -> dict[str, dict[str, Any]]:
    return {r["track_id"]: r for r in rows if r["da_name"] == da}


# ---- compute-threats ----


def test_compute_threats_json_contract_and_hand_computed_values(geo_url: str) -> None:
    rows = _ok_json(
        geo_url, "compute-threats", "-s", "S", "--at", _at(40), "--no-persist", "--json"
    )
    assert isinstance(rows, list) and len(rows) == 6  # 3 tracks × 2 DAs
    for r in rows:
        assert set(r) == JSON_KEYS
    d = _by_track(rows)
    # IN at t = 40 s: 40 km south, closing at 250 m/s.
    i = d["IN"]
    assert i["cpa_km"] == pytest.approx(0.0, abs=1e-3)
    assert i["tcpa_s"] == pytest.approx(40_000 / 250, abs=1e-2)  # 160 s = distance / speed
    assert i["tdb_km"] == pytest.approx(40 - 5, abs=1e-3)
    assert i["twrp_s"] == pytest.approx((40 - 20) * 1000 / 250, abs=1e-2)  # 80 s
    assert i["n_cpa"] == pytest.approx(1.0, abs=1e-4)
    assert i["n_tcpa"] == pytest.approx(300 / 460, abs=1e-5)
    assert i["n_tdb"] == pytest.approx(25 / 60, abs=1e-5)
    assert i["n_twrp"] == pytest.approx(180 / 260, abs=1e-5)
    score_in = 0.35 + 0.25 * 300 / 460 + 0.25 * 25 / 60 + 0.15 * 180 / 260  # 0.72106
    assert i["score"] == pytest.approx(score_in, abs=1e-4)
    assert i["status"] == "ok"
    # OUT: 34 km east, receding: the closest point is behind it (TCPA -340 s), never in range.
    o = d["OUT"]
    assert o["tcpa_s"] == pytest.approx(-340.0, abs=1e-2)
    assert o["cpa_km"] == pytest.approx(34.0, abs=1e-3)
    assert o["tdb_km"] == pytest.approx(29.0, abs=1e-3)
    assert o["twrp_s"] is None  # +inf -> null
    assert (o["n_tcpa"], o["n_twrp"]) == (0.0, 0.0)
    assert o["score"] == pytest.approx(0.35 * _n(34, 10) + 0.25 * _n(29, 25), abs=1e-5)
    # STILL: speed 0, 30 km out: TCPA and TWRP are +inf -> null, score stays finite.
    s = d["STILL"]
    assert s["tcpa_s"] is None and s["twrp_s"] is None
    assert s["cpa_km"] == pytest.approx(30.0, abs=1e-3)
    assert s["tdb_km"] == pytest.approx(25.0, abs=1e-3)
    assert s["score"] == pytest.approx(0.35 * 0.25 + 0.25 * 0.5, abs=1e-5)  # 0.2125
    assert _count_scores(geo_url) == 0  # --no-persist wrote nothing


def test_compute_threats_options(geo_url: str) -> None:
    args = ["compute-threats", "-s", "S", "--no-persist", "--json", "--da", "DA-N"]
    rows = _ok_json(geo_url, *args, "--at", _at(50))
    assert {r["da_name"] for r in rows} == {"DA-N"} and len(rows) == 3
    # linear at 50 s: 37.5 km out; latest holds the 40 s sample: 40 km out.
    assert _by_track(rows)["IN"]["tcpa_s"] == pytest.approx(150.0, abs=1e-2)
    latest = _by_track(_ok_json(geo_url, *args, "--at", _at(50), "--method", "latest"))
    assert latest["IN"]["tcpa_s"] == pytest.approx(160.0, abs=1e-2)
    assert latest["IN"]["tdb_km"] == pytest.approx(35.0, abs=1e-3)
    # --weapon-range-km 35: IN reaches 35 km after (40-35)/0.25 = 20 s; STILL (30 km) is inside.
    wide = _by_track(_ok_json(geo_url, *args, "--at", _at(40), "--weapon-range-km", "35"))
    assert wide["IN"]["twrp_s"] == pytest.approx(20.0, abs=1e-2)
    assert wide["STILL"]["twrp_s"] == 0.0 and wide["STILL"]["n_twrp"] == 1.0
    # Errors name the option, exit 1.
    r = _run(geo_url, *args[:-1], "DA-nope", "--at", _at(40))
    assert r.exit_code == 1 and "--da" in r.stderr and "DA-nope" in r.stderr
    r = _run(geo_url, "compute-threats", "-s", "S", "--at", _at(40), "--method", "cubic")
    assert r.exit_code == 1 and "method" in r.stderr
    r = _run(geo_url, "compute-threats", "-s", "S", "--at", "2025-01-01T12:00:40")
    assert r.exit_code == 1 and "time zone" in r.stderr
    # Table output: one row per pair, highest score first.
    r = _run(geo_url, "compute-threats", "-s", "S", "--at", _at(40), "--da", "DA-N", "--no-persist")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.index("IN") < r.stdout.index("STILL") < r.stdout.index("OUT")
    assert "∞" in r.stdout  # STILL's TCPA


def test_compute_threats_at_a_time_is_a_what_if_stored_only_with_persist_then_rank(
    geo_url: str,
) -> None:
    # --at is a what-if: nothing is stored without --persist …
    computed = _ok_json(geo_url, "compute-threats", "-s", "S", "--at", _at(40), "--json")
    assert (_count_scores(geo_url), _count_scores(geo_url, "threat_score_what_if")) == (0, 0)
    # … and with it, a what-if apart from the live board, once per evaluation
    for n in (6, 12):
        again = _ok_json(
            geo_url, "compute-threats", "-s", "S", "--at", _at(40), "--persist", "--json"
        )
        assert again == computed  # the same scores, whether stored or not
        assert _count_scores(geo_url, "threat_score_what_if") == n
    assert _count_scores(geo_url) == 0
    r = _run(geo_url, "compute-threats", "-s", "S", "--at", _at(40), "--persist")
    assert r.exit_code == 0 and "6 scores stored (what-if)" in r.stdout
    assert _ok_json(geo_url, "rank", "-s", "S", "--at", _at(40), "--json") == []  # live: none

    ranked = _ok_json(geo_url, "rank", "-s", "S", "--at", _at(40), "--what-if", "--json")
    # Global: each track once, by score: IN 0.721 > STILL 0.2125 > OUT 0.195 (not alphabetical).
    assert [(r["rank"], r["track_id"], r["da_name"]) for r in ranked] == [
        (1, "IN", "DA-N"),
        (2, "STILL", "DA-N"),
        (3, "OUT", "DA-N"),
    ]
    want = {(c["track_id"], c["da_name"]): c for c in computed}
    for r in ranked:
        c = want[(r["track_id"], r["da_name"])]
        assert r["score"] == pytest.approx(c["score"], abs=1e-12)
        assert r["tcpa_s"] == (None if c["tcpa_s"] is None else pytest.approx(c["tcpa_s"]))
        assert r["computed_at"] == "2025-01-01T12:00:40Z"
    assert ranked[1]["tcpa_s"] is None and ranked[1]["twrp_s"] is None  # NULL -> null

    top = _ok_json(geo_url, "rank", "-s", "S", "--at", _at(40), "--top", "2", "--what-if", "--json")
    assert [r["track_id"] for r in top] == ["IN", "STILL"]

    per_da = _ok_json(
        geo_url, "rank", "-s", "S", "--at", _at(40), "--da", "DA-W", "--what-if", "--json"
    )
    assert {r["da_name"] for r in per_da} == {"DA-W"} and len(per_da) == 3
    scores = [r["score"] for r in per_da]
    assert scores == sorted(scores, reverse=True)
    assert scores == sorted((c["score"] for c in computed if c["da_name"] == "DA-W"), reverse=True)

    # Before the first batch there is nothing to rank.
    assert _ok_json(geo_url, "rank", "-s", "S", "--at", _at(39), "--what-if", "--json") == []
    r = _run(geo_url, "rank", "-s", "S", "--at", _at(40), "--what-if")
    assert r.exit_code == 0 and "threat ranking" in r.stdout
    assert r.stdout.index("IN") < r.stdout.index("STILL") < r.stdout.index("OUT")
    r = _run(geo_url, "rank", "-s", "S", "--da", "DA-nope")
    assert r.exit_code == 1 and "DA-nope" in r.stderr
    r = _run(geo_url, "rank", "-s", "nope")
    assert r.exit_code == 1 and "no scenario named 'nope'" in r.stderr


# ---- params ----


def test_params_show_set_preset_and_doctrine(geo_url: str) -> None:
    p = _ok_json(geo_url, "params", "show", "-s", "S", "--json")
    assert (p["scenario"], p["doctrine"], p["w_cpa"], p["cpa_scale_km"]) == (
        "S",
        "default",
        0.35,
        10.0,
    )

    p = _ok_json(geo_url, "params", "set", "-s", "S", "w_cpa=0.5", "--json")
    assert (p["w_cpa"], p["w_tcpa"], p["doctrine"]) == (0.5, 0.25, "custom")
    assert _ok_json(geo_url, "params", "show", "-s", "S", "--json")["doctrine"] == "custom"
    # Back to the preset's exact values: its name again.
    p = _ok_json(geo_url, "params", "set", "-s", "S", "w_cpa=0.35", "--json")
    assert p["doctrine"] == "default"
    # use_track_quality is not part of a preset: the doctrine stays.
    p = _ok_json(geo_url, "params", "set", "-s", "S", "use_track_quality=true", "--json")
    assert (p["use_track_quality"], p["doctrine"]) == (True, "default")

    p = _ok_json(geo_url, "params", "preset", "-s", "S", "point-defense", "--json")
    assert (p["doctrine"], p["cpa_scale_km"], p["weapon_range_km"], p["w_tdb"]) == (
        "point-defense",
        2.0,
        8.0,
        0.10,
    )
    r = _run(geo_url, "params", "set", "-s", "S", "tcpa_scale_s=90", "cpa_logistic=5,1")
    assert r.exit_code == 0 and "doctrine: custom" in r.stdout
    p = _ok_json(geo_url, "params", "show", "-s", "S", "--json")
    assert (p["tcpa_scale_s"], p["cpa_logistic"]) == (90.0, {"midpoint": 5.0, "width": 1.0})
    assert p["doctrine"] == "custom"

    # Bad values: exit 1, the message names the field, nothing changes.
    for arg, field in (
        ("w_tdb=1.5", "w_tdb"),
        ("tdb_scale_km=0", "tdb_scale_km"),
        ("w_cpa=abc", "w_cpa"),
        ("bogus=1", "bogus"),
        ("cpa_logistic=5", "cpa_logistic"),
    ):
        r = _run(geo_url, "params", "set", "-s", "S", arg)
        assert r.exit_code != 0 and field in r.stderr, (arg, r.stderr)
    assert _ok_json(geo_url, "params", "show", "-s", "S", "--json") == p
    r = _run(geo_url, "params", "preset", "-s", "S", "nuclear")
    assert r.exit_code != 0 and "preset" in r.stderr and "nuclear" in r.stderr

    # The stored params are what the next computation uses: point-defense's 2 km CPA scale,
    # with the logistic CPA ramp 1/(1+exp((x-5)/1)) set above.
    rows = _by_track(
        _ok_json(geo_url, "compute-threats", "-s", "S", "--at", _at(40), "--no-persist", "--json")
    )
    assert rows["IN"]["n_cpa"] == pytest.approx(1 / (1 + math.exp(0 - 5)), abs=1e-6)
    assert rows["STILL"]["n_tdb"] == pytest.approx(1 / (1 + 25 / 5), abs=1e-5)  # tdb scale 5 km


# ---- weapons ----


def test_weapons_add_list_replace_and_errors(geo_url: str) -> None:
    base = ["weapons", "add", "-s", "S", "--call-sign", "W1", "--type", "SAM-X"]
    geo = ["--lat", "30.1", "--lon", "70.2", "--max-range-km", "40", "--min-range-km", "2"]
    r = _run(geo_url, *base, *geo, "--rounds", "4", "--max-salvo", "3", "--fire-channels", "2")
    assert r.exit_code == 0, r.stderr
    assert "W1 (SAM-X)" in r.stdout and "4 rounds" in r.stdout and "at most 3" in r.stdout
    (w,) = _ok_json(geo_url, "weapons", "list", "-s", "S", "--json")
    assert w == {
        "call_sign": "W1",
        "type": "SAM-X",
        "lat": 30.1,
        "lon": 70.2,
        "rounds": 4,
        "min_range_km": 2.0,
        "max_range_km": 40.0,
        "max_target_speed_mps": 1500.0,
        "fire_channels": 2,
        "max_salvo": 3,
        "interceptor_speed_mps": 1000.0,
    }
    # Same call sign: replaced, not added; defaults for what is not given (max_salvo 2).
    assert _run(geo_url, *base, *geo, "--rounds", "6").exit_code == 0
    (w,) = _ok_json(geo_url, "weapons", "list", "-s", "S", "--json")
    assert (w["rounds"], w["max_salvo"], w["fire_channels"]) == (6, 2, 1)
    r = _run(geo_url, "weapons", "list", "-s", "S")
    assert r.exit_code == 0 and "max salvo" in r.stdout and "W1" in r.stdout
    # Invalid: the message names the field.
    where = ["--lat", "30", "--lon", "70", "--rounds", "1"]
    r = _run(geo_url, *base, *where, "--max-range-km", "1", "--min-range-km", "2")
    assert r.exit_code == 1 and "max_range_km" in r.stderr
    r = _run(geo_url, *base, "--lat", "95", "--lon", "70", "--rounds", "1", "--max-range-km", "10")
    assert r.exit_code == 1 and "lat" in r.stderr
    r = _run(geo_url, *base, *geo, "--rounds", "1", "--max-salvo", "0")
    assert r.exit_code != 0
    assert len(_ok_json(geo_url, "weapons", "list", "-s", "S", "--json")) == 1


# ---- assign ----

DEMO_AT = "2025-06-01T06:04:40Z"  # T1 and T2 are inside their batteries' envelopes


def test_assign_demo_table_and_json(sqlite_url: str) -> None:
    assert _run(sqlite_url, "seed-demo").exit_code == 0
    plan = _ok_json(sqlite_url, "assign", "-s", "Demo-Scenario", "--at", DEMO_AT, "--json")
    got = {(ln["weapon"], ln["target"]): ln for ln in plan["lines"]}
    assert set(got) == {("Alpha-SAM", "T1"), ("Bravo-SAM", "T2")}
    # A salvo of max_salvo = 2 rounds each; pk from the table: SAM-MR×aircraft 0.8, SAM-SR×aircraft 0.75.
    assert got["Alpha-SAM", "T1"]["rounds"] == 2
    assert got["Alpha-SAM", "T1"]["kill_probability"] == pytest.approx(1 - 0.2**2)
    assert got["Bravo-SAM", "T2"]["kill_probability"] == pytest.approx(1 - 0.25**2)
    for ln in plan["lines"]:
        assert ln["expected_value_saved"] == pytest.approx(
            ln["kill_probability"] * ln["target_value"]
        )
    assert plan["objective"] == pytest.approx(
        sum(ln["expected_value_saved"] for ln in plan["lines"])
    )
    assert plan["not_engageable"] == ["T3"] and plan["unassigned_hostile"] == []
    assert plan["proven_optimal"] is True and plan["at"] == "2025-06-01T06:04:40Z"
    r = _run(sqlite_url, "assign", "-s", "Demo-Scenario", "--at", DEMO_AT)
    assert r.exit_code == 0, r.stderr
    for word in (
        "weapon",
        "target",
        "rounds",
        "P(kill)",
        "Alpha-SAM",
        "Bravo-SAM",
        "0.960",
        "proven optimal",
    ):
        assert word in r.stdout, word
    r = _run(sqlite_url, "assign", "-s", "Demo-Scenario", "--at", DEMO_AT, "--solver", "magic")
    assert r.exit_code == 1 and "solver" in r.stderr


def test_assign_respects_rounds_and_never_engages_friendly(sqlite_url: str) -> None:
    assert _run(sqlite_url, "seed-demo").exit_code == 0
    # Alpha-SAM down to one round (replaced by call sign); T2 declared friendly.
    r = _run(
        sqlite_url, "weapons", "add", "-s", "Demo-Scenario", "--call-sign", "Alpha-SAM",
        "--type", "SAM-MR", "--lat", "26.95", "--lon", "70.95", "--rounds", "1",
        "--min-range-km", "3", "--max-range-km", "40", "--max-target-speed-mps", "1200",
        "--fire-channels", "2",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr

    def friendly(s: Any) -> None:
        sc = service.get_scenario(s, "Demo-Scenario")
        service.set_track_identity(s, sc, "T2", iff="friendly")

    _with_session(sqlite_url, friendly)
    rounds = {
        w["call_sign"]: w["rounds"]
        for w in _ok_json(sqlite_url, "weapons", "list", "-s", "Demo-Scenario", "--json")
    }
    assert rounds == {"Alpha-SAM": 1, "Bravo-SAM": 6}
    for solver in ("exact", "heuristic", "greedy"):
        args = ["assign", "-s", "Demo-Scenario", "--at", DEMO_AT, "--solver", solver, "--json"]
        plan = _ok_json(sqlite_url, *args)
        used: dict[str, int] = {}
        for ln in plan["lines"]:
            used[ln["weapon"]] = used.get(ln["weapon"], 0) + ln["rounds"]
            assert ln["target"] != "T2"
        assert all(used[w] <= rounds[w] for w in used), (solver, used)
        assert [(ln["weapon"], ln["target"], ln["rounds"]) for ln in plan["lines"]] == [
            ("Alpha-SAM", "T1", 1)
        ]
        # One round, SAM-MR × aircraft.
        assert plan["lines"][0]["kill_probability"] == pytest.approx(0.8)
        assert plan["not_engageable"] == ["T2", "T3"]
