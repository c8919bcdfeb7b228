"""``argus sim``: fly a scenario, look at it with radars, plot or export the result.

A standalone Typer sub-app (``app``) registered by the main CLI as ``argus sim``. Thin: parse,
call the engines (:mod:`argus.scenario.runner`, :mod:`argus.scenario.plot`), print.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from argus.tewa.ingest import OPTIONAL_COLUMNS, TRACK_COLUMNS

app = typer.Typer(
    name="sim",
    help="Threat flight and radar simulation: run a scenario TOML, plot truth and detections.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

ScenarioArg = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        readable=True,
        help="Scenario TOML file (see argus/scenario/examples).",
    ),
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Override the scenario's random seed.")]


def _load_scenario(path: Path) -> object:
    from argus.scenario.runner import ScenarioError, load_scenario
    from argus.sim.ballistic import ShootingError, UnreachableTargetError

    try:
        return load_scenario(path)
    except (ScenarioError, UnreachableTargetError, ShootingError, ValueError) as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _run(scenario: object, seed: int | None) -> object:
    from argus.scenario.runner import Scenario, ScenarioError, run_scenario
    from argus.sim.ballistic import ShootingError, UnreachableTargetError

    assert isinstance(scenario, Scenario)
    try:
        return run_scenario(scenario, seed=seed)
    except (ScenarioError, UnreachableTargetError, ShootingError, ValueError) as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _load(path: Path, seed: int | None) -> object:
    return _run(_load_scenario(path), seed)


def _utc_epoch(option: str | None, scenario_epoch: dt.datetime | None, path: Path) -> dt.datetime:
    """The wall-clock time of t = 0 for ``--tracks-csv``: ``--epoch`` if given, else the scenario's."""
    if option is not None:
        try:
            epoch = dt.datetime.fromisoformat(option)
        except ValueError:
            err_console.print(
                f"[red]error:[/] --epoch: {option!r} is not an ISO 8601 date-time "
                "(e.g. 2025-06-01T00:00:00Z)"
            )
            raise typer.Exit(2) from None
        if epoch.tzinfo is None or epoch.utcoffset() is None:
            err_console.print(
                f"[red]error:[/] --epoch: {option!r} has no time zone; add 'Z' for UTC"
            )
            raise typer.Exit(2)
        return epoch.astimezone(dt.UTC)
    if scenario_epoch is None:
        err_console.print(
            f"[red]error:[/] --tracks-csv needs wall-clock timestamps but {path.name} has no "
            "epoch: add `epoch = 2025-06-01T00:00:00Z` to its \\[scenario] table or pass "
            "--epoch 2025-06-01T00:00:00Z",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    return scenario_epoch.astimezone(dt.UTC)


#: Header of ``--tracks-csv``: the TEWA track-file columns, then the optional pos_sigma_m.
TRACKS_CSV_COLUMNS = (*TRACK_COLUMNS, *OPTIONAL_COLUMNS)


def _write_tracks_csv(path: Path, tracks: object, epoch: dt.datetime) -> tuple[int, int]:
    """Write the confirmed tracks as a track file for ``argus import``; returns (rows, tracks)."""
    from argus.scenario.track import ScenarioTracks, confirmed_track_rows

    assert isinstance(tracks, ScenarioTracks)
    rows = confirmed_track_rows(tracks)
    t0 = np.datetime64(epoch.replace(tzinfo=None), "us")
    stamps = np.datetime_as_string(
        t0 + np.rint(rows.time_s * 1e6).astype("timedelta64[us]"), unit="us"
    )
    heading = np.round(rows.heading_deg, 2)
    heading[heading >= 360.0] = 0.0  # 359.996 would print as 360.00, outside [0, 360)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(TRACKS_CSV_COLUMNS)
        for k in range(rows.time_s.size):
            w.writerow(
                [
                    f"TRK-{rows.track_id[k]}",
                    f"{rows.lat_deg[k]:.7f}",
                    f"{rows.lon_deg[k]:.7f}",
                    f"{rows.alt_m[k]:.1f}",
                    f"{rows.speed_mps[k]:.2f}",
                    f"{heading[k]:.2f}",
                    f"{stamps[k]}Z",
                    f"{rows.pos_sigma_m[k]:.1f}",
                ]
            )
    return int(rows.time_s.size), len(np.unique(rows.track_id))


@app.command("plot")
def plot(
    scenario: ScenarioArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="PNG file to write.")] = Path(
        "scenario.png"
    ),
    seed: SeedOpt = None,
    track: Annotated[
        bool,
        typer.Option(
            "--track/--no-track", help="Track the detections (CV + GNN) and plot tracks and OSPA."
        ),
    ] = True,
    noise: Annotated[float, typer.Option(help="Tracker's acceleration noise sigma, m/s².")] = 30.0,
    ospa_c_km: Annotated[
        float, typer.Option("--ospa-c-km", help="OSPA cut-off distance, km.")
    ] = 5.0,
) -> None:
    """Run SCENARIO, track its detections and draw truth, detections, tracks and OSPA over time."""
    from argus.scenario.plot import plot_scenario
    from argus.scenario.runner import ScenarioResult

    result = _load(scenario, seed)
    assert isinstance(result, ScenarioResult)
    sc = result.scenario
    tracks = ospa = None
    if track:
        from argus.scenario.track import track_scenario

        tracked = track_scenario(result, noise_intensity=noise, ospa_c_m=ospa_c_km * 1000.0)
        tracks, ospa = tracked.points, tracked.ospa
    path = plot_scenario(
        result.truth,
        result.detections,
        radars=sc.radars,
        tracks=tracks,
        ospa=ospa,
        out=out,
        title=f"{sc.name} — seed {sc.seed if seed is None else seed}",
        t_end_s=sc.duration_s,
    )
    d = result.detections
    console.print(
        f"wrote [bold]{path}[/]: {result.truth.size} objects, {len(d)} detections "
        f"({int(d.is_false_alarm.sum())} false alarms), {len(result.strobes)} jamming strobes"
    )
    if tracks is not None and ospa is not None:
        n_tracks = len(set(tracks.track_id.tolist()))
        mean = float(ospa.value_m.mean()) if ospa.value_m.size else float("nan")
        console.print(f"{n_tracks} confirmed tracks; mean {ospa.label}: {mean / 1000:.2f} km")


@app.command("run")
def run(
    scenario: ScenarioArg,
    seed: SeedOpt = None,
    detections_csv: Annotated[
        Path | None, typer.Option("--detections-csv", help="Write the detections to this CSV file.")
    ] = None,
    truth_csv: Annotated[
        Path | None,
        typer.Option(
            "--truth-csv", help="Write the truth, sampled at truth_sample_s, to this CSV."
        ),
    ] = None,
    tracks_csv: Annotated[
        Path | None,
        typer.Option(
            "--tracks-csv",
            help="Track the detections (as `sim plot` does) and write the confirmed tracks as a "
            "track file for `argus import` (lat/lon/alt, speed, heading, UTC timestamp, "
            "pos_sigma_m); needs the scenario's epoch or --epoch.",
        ),
    ] = None,
    noise: Annotated[
        float, typer.Option(help="Tracker's acceleration noise sigma, m/s² (--tracks-csv).")
    ] = 30.0,
    epoch: Annotated[
        str | None,
        typer.Option(
            "--epoch",
            help="Wall-clock UTC time of t = 0 for --tracks-csv (ISO 8601, e.g. "
            "2025-06-01T00:00:00Z); overrides the scenario's epoch.",
        ),
    ] = None,
) -> None:
    """Run SCENARIO and print what flew, where it landed and what the radars saw."""
    from argus.scenario.runner import Scenario, ScenarioResult

    sc = _load_scenario(scenario)
    assert isinstance(sc, Scenario)
    t0 = _utc_epoch(epoch, sc.epoch, scenario) if tracks_csv is not None else None
    result = _run(sc, seed)
    assert isinstance(result, ScenarioResult)
    table = Table(title=result.scenario.name)
    for col in ("truth id", "type", "kind", "start (s)", "end (s)", "detections"):
        table.add_column(col, justify="right" if col not in ("type", "kind") else "left")
    d = result.detections
    tr = result.truth.trajectories
    for i, tid in enumerate(result.truth.truth_id):
        table.add_row(
            str(tid),
            result.truth.threat_keys[i],
            result.truth.kinds[i],
            f"{tr.start_s[i]:.1f}",
            f"{tr.end_s[i]:.1f}",
            str(int(np.sum(d.truth_id == tid))),
        )
    console.print(table)
    for flight in result.ballistic_flights:
        for k in range(flight.impact_time_s.size):
            console.print(
                f"{flight.threat_keys[k]}: impact at {flight.impact_lat_deg[k]:.4f}°, {flight.impact_lon_deg[k]:.4f}° "
                f"t = {flight.impact_time_s[k]:.1f} s, apogee {flight.apogee_alt_m[k] / 1000:.1f} km"
            )
    console.print(
        f"{len(d)} detections, {int(d.is_false_alarm.sum())} false alarms, {len(result.strobes)} strobes"
    )
    if detections_csv is not None:
        with detections_csv.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(
                [
                    "time_s",
                    "radar_id",
                    "scan_index",
                    "truth_id",
                    "range_m",
                    "azimuth_deg",
                    "elevation_deg",
                    "range_rate_mps",
                    "snr_db",
                ]
            )
            for k in range(len(d)):
                w.writerow(
                    [
                        f"{d.time_s[k]:.4f}",
                        d.radar_id[k],
                        d.scan_index[k],
                        d.truth_id[k],
                        f"{d.range_m[k]:.2f}",
                        f"{np.degrees(d.azimuth_rad[k]):.5f}",
                        f"{np.degrees(d.elevation_rad[k]):.5f}",
                        "" if np.isnan(d.range_rate_mps[k]) else f"{d.range_rate_mps[k]:.2f}",
                        f"{d.snr_db[k]:.2f}",
                    ]
                )
        console.print(f"wrote {detections_csv}")
    if truth_csv is not None:
        s = result.truth_samples()
        with truth_csv.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["time_s", "truth_id", "x_m", "y_m", "z_m", "vx_mps", "vy_mps", "vz_mps"])
            for k in range(s.time_s.size):
                w.writerow(
                    [
                        f"{s.time_s[k]:.3f}",
                        s.truth_id[k],
                        *(f"{x:.3f}" for x in s.pos_ecef_m[k]),
                        *(f"{x:.3f}" for x in s.vel_ecef_mps[k]),
                    ]
                )
        console.print(f"wrote {truth_csv}")
    if tracks_csv is not None:
        from argus.scenario.track import track_scenario

        assert t0 is not None
        tracked = track_scenario(result, noise_intensity=noise)
        n_rows, n_tracks = _write_tracks_csv(tracks_csv, tracked, t0)
        console.print(f"wrote {tracks_csv}: {n_rows} rows, {n_tracks} tracks", soft_wrap=True)


@app.command("catalogue")
def catalogue() -> None:
    """List the threat types of the catalogue with their nominal figures."""
    from argus.sim.catalogue import BallisticThreat, load_catalogue

    cat = load_catalogue()
    table = Table(title=f"threat catalogue ({cat.path})")
    for col in ("key", "kind", "name", "range (km)", "RCS (m²)", "speed / burn"):
        table.add_column(col)
    for key, t in cat.items():
        extra = (
            f"burn {t.burn_time_s:g} s, Δv {t.ideal_delta_v_mps:.0f} m/s"
            if isinstance(t, BallisticThreat)
            else f"{t.cruise_speed_mps:g} m/s at {t.cruise_alt_m:g} m"
        )
        table.add_row(key, t.kind, t.name, f"{t.nominal_range_km:g}", f"{t.rcs_m2:g}", extra)
    console.print(table)
