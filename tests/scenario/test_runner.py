"""Scenario files: parsing, errors naming the field, running, plotting, the CLI."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from argus.cli.sim import app
from argus.scenario.plot import OspaSeries, TrackPoints, plot_scenario
from argus.scenario.runner import (
    ScenarioError,
    ScenarioResult,
    example_path,
    load_scenario,
    parse_scenario,
    run_scenario,
)
from argus.sensors.radar import observe_all
from tests._geo import ecef

SMALL = """
[scenario]
name = "small"
duration_s = 400.0
seed = 3

[[ballistic]]
id = 11
type = "scud-b"
launch_lat_deg = 10.0
launch_lon_deg = 20.0
target_lat_deg = 11.5
target_lon_deg = 21.0
launch_time_s = 20.0

[[airbreather]]
id = 12
type = "shahed-136"
waypoints = [[11.3, 20.8, 800.0], [11.45, 20.95, 800.0], [11.5, 21.0, 0.0]]

[[radar]]
id = 1
name = "r1"
lat_deg = 11.6
lon_deg = 21.1
antenna_height_m = 20.0
min_elevation_deg = -1.0
scan_period_s = 4.0

[[jammer]]
id = 5
carrier_id = 12
power_w = 0.01
gain_db = 0.0
bandwidth_hz = 1.0e8
"""


@pytest.fixture(scope="module")
def small_result() -> ScenarioResult:
    return run_scenario(parse_scenario(SMALL, origin="small.toml"))


def test_example_scenario_parses() -> None:
    sc = load_scenario(example_path())
    assert (
        len(sc.ballistic) == 4
        and len(sc.airbreathers) == 5
        and len(sc.radars) == 2
        and len(sc.jammers) == 1
    )
    assert sc.epoch == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert {b.trajectory for b in sc.ballistic} == {"minimum_energy", "depressed"}
    assert sc.jammers[0].carrier_truth_id == 301
    assert sc.airbreathers[-1].route.manoeuvres[0].load_factor_g == 4.0


def test_small_scenario_truth_and_detections(small_result: ScenarioResult) -> None:
    res = small_result
    assert res.truth.truth_id.tolist() == [11, 12]
    assert res.truth.kinds == ("ballistic", "drone")
    flight = res.ballistic_flights[0]
    target = ecef(11.5, 21.0, 0.0)
    assert np.linalg.norm(flight.impact_ecef_m[0] - target) < 100.0
    assert res.truth.trajectories.start_s[0] == 20.0
    d = res.detections
    assert len(d) > 0 and np.all(np.diff(d.time_s) >= 0)
    assert set(np.unique(d.truth_id)) <= {-1, 11, 12}
    assert np.sum(d.truth_id == 11) > 10 and np.sum(d.truth_id == 12) > 10
    assert np.all((d.time_s >= 0) & (d.time_s <= 400.0))
    # RCS switches to the re-entry value at cut-off.
    t_cut = 20.0 + res.ballistic_solutions[0].cutoff_s[0]
    rcs = res.targets.rcs_at(np.array([0, 0]), np.array([t_cut - 1.0, t_cut + 1.0]))
    assert rcs.tolist() == [1.0, 0.5]
    samples = res.truth_samples(10.0)
    assert set(np.unique(samples.time_s)) == set(np.arange(0.0, 401.0, 10.0)) - {0.0, 10.0} | {
        0.0,
        10.0,
    }
    assert np.all(samples.truth_id[samples.time_s < 20.0] == 12)


def test_detections_are_reproducible_for_a_seed(small_result: ScenarioResult) -> None:
    res = small_result
    sc = res.scenario

    def again(seed: int) -> np.ndarray:
        out = observe_all(
            sc.radars,
            res.targets,
            0.0,
            sc.duration_s,
            np.random.default_rng(seed),
            jammers=sc.jammers,
        )
        return out.detections.range_m

    np.testing.assert_array_equal(again(sc.seed), res.detections.range_m)
    other = again(sc.seed + 1)
    assert other.size != res.detections.range_m.size or not np.array_equal(
        other, res.detections.range_m
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'type = "scud-b"',
            'type = "scud-x"',
            "small.toml: ballistic[0].type: unknown threat type 'scud-x'",
        ),
        (
            'type = "scud-b"',
            'type = "fighter"',
            "ballistic[0].type: 'fighter' is a aircraft; use [[airbreather]]",
        ),
        (
            "launch_lat_deg = 10.0",
            "launch_lat_deg = 100.0",
            "ballistic[0].launch_lat_deg: 100.0 outside [-90, 90]",
        ),
        (
            "launch_time_s = 20.0",
            "launch_time_s = 20.0\nwarhead = 1",
            "ballistic[0]: unknown field(s) warhead",
        ),
        ("id = 12", "id = 11", "airbreather[0].id: duplicate id 11"),
        (
            "[11.5, 21.0, 0.0]]",
            "[30.0, 21.0, 0.0]]",
            "small.toml: airbreather[0]: route length 2,086.0 km (sum of its great-circle legs) "
            "exceeds the nominal range of shahed-136, 2,000 km",
        ),
        (
            "[[11.3, 20.8, 800.0],",
            "[[11.3, 20.8],",
            "airbreather[0].waypoints[0]: expected [lat_deg, lon_deg, alt_m]",
        ),
        (
            "scan_period_s = 4.0",
            "scan_period_s = -4.0",
            "radar[0]: radar 1 (r1).scan_period_s: must be a finite",
        ),
        ("lat_deg = 11.6\n", "", "radar[0].lat_deg: required field is missing"),
        (
            "carrier_id = 12",
            "carrier_id = 99",
            "jammer[0].carrier_id: no ballistic or airbreather has id 99",
        ),
        ("duration_s = 400.0", "duration_s = 0.0", "scenario.duration_s: must be > 0"),
        ("seed = 3", "seed = -3", "scenario.seed: expected an integer >= 0"),
    ],
)
def test_bad_scenarios_name_the_row_and_field(old: str, new: str, message: str) -> None:
    assert old in SMALL
    with pytest.raises(ScenarioError) as info:
        parse_scenario(SMALL.replace(old, new, 1), origin="/x/small.toml")
    assert message in str(info.value)


def test_plot_writes_a_png_with_tracks_and_ospa(
    small_result: ScenarioResult, tmp_path: Path
) -> None:
    res = small_result
    s = res.truth_samples(5.0)
    tracks = TrackPoints(s.time_s, s.truth_id + 1000, s.pos_ecef_m + 50.0)
    ospa = [
        OspaSeries(np.arange(0, 400, 10.0), np.linspace(500, 50, 40), "OSPA"),
        OspaSeries(np.arange(0, 400, 10.0), np.linspace(700, 80, 40), "GOSPA"),
    ]
    out = plot_scenario(
        res.truth,
        res.detections,
        radars=res.scenario.radars,
        tracks=tracks,
        ospa=ospa,
        out=tmp_path / "fig.png",
        title="small",
    )
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_cli_plot_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    # Without the ballistic launch (its shooting solution is tested elsewhere): quick.
    start, end = SMALL.index("[[ballistic]]"), SMALL.index("[[airbreather]]")
    scen = tmp_path / "small.toml"
    scen.write_text(SMALL[:start] + SMALL[end:])
    out = tmp_path / "out.png"
    r = runner.invoke(app, ["plot", str(scen), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.is_file() and "wrote" in r.output and "false alarms" in r.output
    # the tracking half: the drone, seen every 4 s by one radar amid ~2,000 false alarms, is
    # one track (measured: 0.24 km mean OSPA; counting every 1 s bin as a scan, it was never
    # confirmed and 8 clutter tracks held the OSPA at its 5 km cut-off)
    m = re.search(r"(\d+) confirmed tracks; mean OSPA \(c = 5 km, p = 2\): ([\d.]+) km", r.output)
    assert m is not None, r.output
    assert int(m[1]) == 1 and float(m[2]) < 1.0
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace('type = "shahed-136"', 'type = "scud-x"'))
    r = runner.invoke(app, ["plot", str(bad), "-o", str(out)])
    assert r.exit_code == 2
    assert "unknown threat type 'scud-x'" in r.output
    r = runner.invoke(app, ["run", str(scen), "--detections-csv", str(tmp_path / "d.csv")])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "d.csv").read_text().splitlines()
    assert lines[0].startswith("time_s,radar_id") and len(lines) > 10
    r = runner.invoke(app, ["catalogue"])
    assert r.exit_code == 0 and "scud-b" in r.output


@pytest.mark.slow
def test_example_raid_runs() -> None:
    res = run_scenario(load_scenario(example_path()))
    d = res.detections
    seen = set(np.unique(d.truth_id[d.truth_id >= 0]).tolist())
    assert {101, 102, 103, 104, 201, 202, 203, 204} <= seen
    assert len(res.strobes) > 0
