"""Scenarios: a TOML file of threats, radars and jammers → truth trajectories and detections.

Format (all times in seconds from the scenario start; see ``examples/raid.toml``)::

    [scenario]
    name = "Raid"
    duration_s = 900.0
    seed = 7                       # detections are reproducible for a seed
    truth_sample_s = 1.0           # default rate of TruthSet.samples()
    epoch = 2025-06-01T00:00:00Z   # optional, wall-clock time of t = 0 (must be UTC)
    catalogue = "my.toml"          # optional, relative to the scenario file

    [[ballistic]]                  # one per launch
    id = 101                       # optional truth id (default: 1, 2, ... in file order)
    type = "scud-b"                # a catalogue key of kind "ballistic"
    launch_lat_deg = ...  launch_lon_deg = ...  launch_alt_m = 0.0
    target_lat_deg = ...  target_lon_deg = ...  target_alt_m = 0.0
    launch_time_s = 0.0
    trajectory = "minimum_energy"  # or "lofted", "depressed"

    [[airbreather]]
    id = 201
    type = "shahed-136"            # a catalogue key of kind cruise_missile / aircraft / drone
    start_time_s = 0.0
    waypoints = [[lat, lon, alt_m], [lat, lon, alt_m, speed_mps], ...]
    on_final = "end"               # or "loop", "hold" (then end_time_s is required)
    end_time_s = 600.0
    manoeuvres = [{ start_time_s = 60.0, duration_s = 30.0, load_factor_g = 4.0, direction = "left" }]

    [[radar]]                      # any RadarSite field; id, lat_deg, lon_deg required
    id = 1
    lat_deg = ...  lon_deg = ...

    [[jammer]]                     # any NoiseJammer field; id, power_w, gain_db, bandwidth_hz
    id = 1                         # and lat_deg/lon_deg or carrier_id
    carrier_id = 201

Errors name the table, the row and the field (``raid.toml: ballistic[2].type: unknown threat
type 'scud-x' ...``).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from argus.sensors.jammer import NoiseJammer
from argus.sensors.radar import Detections, JammerStrobes, Targets, observe_all
from argus.sensors.site import RadarSite
from argus.sim.airbreathing import AirRoute, Manoeuvre, Waypoint, fly_airbreathing
from argus.sim.ballistic import BallisticFlight, LaunchSolution, TrajectoryShape, launch_ballistic
from argus.sim.catalogue import (
    AirBreathingThreat,
    BallisticThreat,
    Catalogue,
    load_catalogue,
)
from argus.trajectory import TrajectorySet

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the table, row and field."""


@dataclass(frozen=True)
class BallisticLaunch:
    """One ballistic launch of a scenario."""

    truth_id: int
    threat: BallisticThreat
    launch_lat_deg: float
    launch_lon_deg: float
    target_lat_deg: float
    target_lon_deg: float
    launch_alt_m: float = 0.0
    target_alt_m: float = 0.0
    launch_time_s: float = 0.0
    trajectory: TrajectoryShape = "minimum_energy"


@dataclass(frozen=True)
class AirVehicle:
    """One air-breathing vehicle of a scenario."""

    truth_id: int
    route: AirRoute


@dataclass(frozen=True)
class Scenario:
    """A parsed, validated scenario."""

    name: str
    duration_s: float
    seed: int
    truth_sample_s: float
    epoch: dt.datetime | None
    ballistic: tuple[BallisticLaunch, ...]
    airbreathers: tuple[AirVehicle, ...]
    radars: tuple[RadarSite, ...]
    jammers: tuple[NoiseJammer, ...]
    catalogue: Catalogue
    source: str = "<memory>"


@dataclass(frozen=True)
class TruthSamples:
    """Truth sampled on a time grid, as a struct of arrays over (time, object) rows alive then."""

    time_s: FloatArray
    truth_id: IntArray
    pos_ecef_m: FloatArray
    vel_ecef_mps: FloatArray
    acc_ecef_mps2: FloatArray


@dataclass(frozen=True)
class TruthSet:
    """Every object of a scenario: ids, types, kinds and trajectories (arrays of shape (N,))."""

    truth_id: IntArray
    threat_keys: tuple[str, ...]
    kinds: tuple[str, ...]
    trajectories: TrajectorySet

    @property
    def size(self) -> int:
        return int(self.truth_id.size)

    def index_of(self, truth_id: int) -> int:
        """Row of a truth id."""
        hit = np.flatnonzero(self.truth_id == truth_id)
        if hit.size == 0:
            raise KeyError(f"unknown truth id {truth_id}")
        return int(hit[0])

    def samples(self, times_s: npt.ArrayLike) -> TruthSamples:
        """States of all objects alive at each time (rows ordered by time, then object)."""
        t = np.asarray(times_s, dtype=float).ravel()
        pos, vel, acc, ok = self.trajectories.sample(t)
        ti, oi = np.nonzero(ok.T)
        return TruthSamples(
            time_s=t[ti],
            truth_id=self.truth_id[oi],
            pos_ecef_m=pos[oi, ti],
            vel_ecef_mps=vel[oi, ti],
            acc_ecef_mps2=acc[oi, ti],
        )


@dataclass(frozen=True)
class ScenarioResult:
    """Truth, detections and jamming strobes of a scenario run."""

    scenario: Scenario
    truth: TruthSet
    targets: Targets
    detections: Detections
    strobes: JammerStrobes
    ballistic_solutions: tuple[LaunchSolution, ...]
    ballistic_flights: tuple[BallisticFlight, ...]

    def truth_samples(self, step_s: float | None = None) -> TruthSamples:
        """Truth on a regular grid over the scenario (default step: ``truth_sample_s``)."""
        step = self.scenario.truth_sample_s if step_s is None else step_s
        return self.truth.samples(np.arange(0.0, self.scenario.duration_s + 1e-9, step))


# ----------------------------------------------------------------------------- parsing


def _num(
    row: dict[str, Any], key: str, where: str, default: Any = ..., *, positive: bool = False
) -> float:
    if key not in row:
        if default is ...:
            raise ScenarioError(f"{where}.{key}: required field is missing")
        return cast(float, default)
    v = row[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
        raise ScenarioError(f"{where}.{key}: expected a number, got {v!r}")
    if positive and v <= 0:
        raise ScenarioError(f"{where}.{key}: must be > 0, got {v!r}")
    return float(v)


def _lat(row: dict[str, Any], key: str, where: str) -> float:
    v = _num(row, key, where)
    if not -90.0 <= v <= 90.0:
        raise ScenarioError(f"{where}.{key}: {v} outside [-90, 90]")
    return v


def _check_keys(row: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(row) - allowed)
    if extra:
        raise ScenarioError(f"{where}: unknown field(s) {', '.join(extra)}")


def _ids(
    rows: list[dict[str, Any]], table: str, label: str, start: int, used: set[int]
) -> list[int]:
    out = []
    nxt = start
    for i, row in enumerate(rows):
        if "id" in row:
            v = row["id"]
            if isinstance(v, bool) or not isinstance(v, int):
                raise ScenarioError(f"{label}: {table}[{i}].id: expected an integer, got {v!r}")
            if v < 0:
                raise ScenarioError(
                    f"{label}: {table}[{i}].id: must be >= 0 (−1 marks false alarms)"
                )
        else:
            while nxt in used:
                nxt += 1
            v = nxt
        if v in used:
            raise ScenarioError(f"{label}: {table}[{i}].id: duplicate id {v}")
        used.add(v)
        out.append(v)
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"scenario file not found: {p}")
    return parse_scenario(p.read_text(encoding="utf-8"), origin=str(p))


def parse_scenario(
    text: str, origin: str = "<string>", catalogue: Catalogue | None = None
) -> Scenario:
    """Validate scenario TOML text (``origin`` names the file in errors and anchors paths)."""
    label = Path(origin).name
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: not valid TOML: {exc}") from exc
    return parse_scenario_doc(doc, origin, catalogue)


def parse_scenario_doc(
    doc: dict[str, Any], origin: str = "<string>", catalogue: Catalogue | None = None
) -> Scenario:
    """:func:`parse_scenario` of an already parsed TOML document (extensions such as the defense
    scenario's ``[[battery]]`` and ``[[asset]]`` tables take theirs out first)."""
    label = Path(origin).name
    _check_keys(doc, {"scenario", "ballistic", "airbreather", "radar", "jammer"}, label)
    head = doc.get("scenario", {})
    if not isinstance(head, dict):
        raise ScenarioError(f"{label}: [scenario] must be a table")
    where = f"{label}: scenario"
    _check_keys(head, {"name", "duration_s", "seed", "truth_sample_s", "epoch", "catalogue"}, where)
    if catalogue is None:
        cat_path = head.get("catalogue")
        if cat_path is not None:
            cp = Path(cat_path)
            if not cp.is_absolute():
                cp = Path(origin).parent / cp
            catalogue = load_catalogue(cp)
        else:
            catalogue = load_catalogue()
    epoch = head.get("epoch")
    if epoch is not None and (
        not isinstance(epoch, dt.datetime)
        or epoch.tzinfo is None
        or epoch.utcoffset() != dt.timedelta(0)
    ):
        raise ScenarioError(
            f"{where}.epoch: expected a UTC date-time such as 2025-06-01T00:00:00Z, got {epoch!r}"
        )
    seed = head.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"{where}.seed: expected an integer >= 0, got {seed!r}")
    duration = _num(head, "duration_s", where, positive=True)
    used: set[int] = set()
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in ("ballistic", "airbreather", "radar", "jammer"):
        rows = doc.get(name, [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ScenarioError(f"{label}: {name}: expected an array of tables ([[{name}]])")
        tables[name] = rows
    b_ids = _ids(tables["ballistic"], "ballistic", label, 1, used)
    a_ids = _ids(tables["airbreather"], "airbreather", label, 1, used)
    ballistic = tuple(
        _ballistic(row, f"{label}: ballistic[{i}]", b_ids[i], catalogue)
        for i, row in enumerate(tables["ballistic"])
    )
    air = tuple(
        _airbreather(row, f"{label}: airbreather[{i}]", a_ids[i], catalogue)
        for i, row in enumerate(tables["airbreather"])
    )
    r_ids = _ids(tables["radar"], "radar", label, 1, set())
    radars = tuple(
        _radar(row, f"{label}: radar[{i}]", r_ids[i]) for i, row in enumerate(tables["radar"])
    )
    j_ids = _ids(tables["jammer"], "jammer", label, 1, set())
    jammers = tuple(
        _jammer(row, f"{label}: jammer[{i}]", j_ids[i], used)
        for i, row in enumerate(tables["jammer"])
    )
    return Scenario(
        name=str(head.get("name", Path(origin).stem)),
        duration_s=duration,
        seed=int(seed),
        truth_sample_s=_num(head, "truth_sample_s", where, 1.0, positive=True),
        epoch=epoch,
        ballistic=ballistic,
        airbreathers=air,
        radars=radars,
        jammers=jammers,
        catalogue=catalogue,
        source=origin,
    )


def _threat(
    row: dict[str, Any], where: str, catalogue: Catalogue
) -> BallisticThreat | AirBreathingThreat:
    key = row.get("type")
    if not isinstance(key, str):
        raise ScenarioError(f"{where}.type: expected a catalogue key, got {key!r}")
    try:
        return catalogue[key]
    except KeyError as exc:
        raise ScenarioError(f"{where}.type: {exc.args[0]}") from None


def _ballistic(
    row: dict[str, Any], where: str, truth_id: int, catalogue: Catalogue
) -> BallisticLaunch:
    allowed = {
        "id",
        "type",
        "launch_lat_deg",
        "launch_lon_deg",
        "launch_alt_m",
        "target_lat_deg",
        "target_lon_deg",
        "target_alt_m",
        "launch_time_s",
        "trajectory",
    }
    _check_keys(row, allowed, where)
    threat = _threat(row, where, catalogue)
    if not isinstance(threat, BallisticThreat):
        raise ScenarioError(f"{where}.type: {threat.key!r} is a {threat.kind}; use [[airbreather]]")
    shape = row.get("trajectory", "minimum_energy")
    if shape not in ("minimum_energy", "lofted", "depressed"):
        raise ScenarioError(
            f"{where}.trajectory: expected minimum_energy, lofted or depressed, got {shape!r}"
        )
    return BallisticLaunch(
        truth_id=truth_id,
        threat=threat,
        launch_lat_deg=_lat(row, "launch_lat_deg", where),
        launch_lon_deg=_num(row, "launch_lon_deg", where),
        target_lat_deg=_lat(row, "target_lat_deg", where),
        target_lon_deg=_num(row, "target_lon_deg", where),
        launch_alt_m=_num(row, "launch_alt_m", where, 0.0),
        target_alt_m=_num(row, "target_alt_m", where, 0.0),
        launch_time_s=_num(row, "launch_time_s", where, 0.0),
        trajectory=cast(TrajectoryShape, shape),
    )


def _airbreather(
    row: dict[str, Any], where: str, truth_id: int, catalogue: Catalogue
) -> AirVehicle:
    allowed = {
        "id",
        "type",
        "start_time_s",
        "waypoints",
        "on_final",
        "end_time_s",
        "manoeuvres",
        "initial_speed_mps",
    }
    _check_keys(row, allowed, where)
    threat = _threat(row, where, catalogue)
    if not isinstance(threat, AirBreathingThreat):
        raise ScenarioError(f"{where}.type: {threat.key!r} is ballistic; use [[ballistic]]")
    wps_raw = row.get("waypoints")
    if not isinstance(wps_raw, list) or len(wps_raw) < 2:
        raise ScenarioError(
            f"{where}.waypoints: expected at least 2 points [lat, lon, alt_m(, speed_mps)]"
        )
    wps = []
    for j, w in enumerate(wps_raw):
        if (
            not isinstance(w, list)
            or len(w) not in (3, 4)
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in w)
        ):
            raise ScenarioError(
                f"{where}.waypoints[{j}]: expected [lat_deg, lon_deg, alt_m] or [..., speed_mps], got {w!r}"
            )
        wps.append(
            Waypoint(float(w[0]), float(w[1]), float(w[2]), float(w[3]) if len(w) == 4 else None)
        )
    mans = []
    for j, m in enumerate(row.get("manoeuvres", [])):
        mw = f"{where}.manoeuvres[{j}]"
        if not isinstance(m, dict):
            raise ScenarioError(f"{mw}: expected a table")
        _check_keys(m, {"start_time_s", "duration_s", "load_factor_g", "direction"}, mw)
        direction = m.get("direction", "right")
        if direction not in ("left", "right"):
            raise ScenarioError(f"{mw}.direction: expected 'left' or 'right', got {direction!r}")
        mans.append(
            Manoeuvre(
                _num(m, "start_time_s", mw),
                _num(m, "duration_s", mw, positive=True),
                _num(m, "load_factor_g", mw),
                cast(Literal["left", "right"], direction),
            )
        )
    on_final = row.get("on_final", "end")
    end = row.get("end_time_s")
    route = AirRoute(
        threat=threat,
        waypoints=tuple(wps),
        start_time_s=_num(row, "start_time_s", where, 0.0),
        manoeuvres=tuple(mans),
        on_final=on_final,
        initial_speed_mps=None
        if "initial_speed_mps" not in row
        else _num(row, "initial_speed_mps", where, positive=True),
        end_time_s=None if end is None else _num(row, "end_time_s", where),
    )
    try:
        route.validate(where)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    return AirVehicle(truth_id, route)


_RADAR_FIELDS = {f.name for f in fields(RadarSite)} - {"radar_id"}
_JAMMER_FIELDS = {f.name for f in fields(NoiseJammer)} - {"jammer_id", "carrier_truth_id"}


def _radar(row: dict[str, Any], where: str, radar_id: int) -> RadarSite:
    _check_keys(row, _RADAR_FIELDS | {"id"}, where)
    kwargs = {k: v for k, v in row.items() if k != "id"}
    for k in ("lat_deg", "lon_deg"):
        if k not in kwargs:
            raise ScenarioError(f"{where}.{k}: required field is missing")
    try:
        return RadarSite(radar_id=radar_id, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _jammer(row: dict[str, Any], where: str, jammer_id: int, truth_ids: set[int]) -> NoiseJammer:
    _check_keys(row, _JAMMER_FIELDS | {"id", "carrier_id"}, where)
    kwargs = {k: v for k, v in row.items() if k not in ("id", "carrier_id")}
    carrier = row.get("carrier_id")
    if carrier is not None and carrier not in truth_ids:
        raise ScenarioError(f"{where}.carrier_id: no ballistic or airbreather has id {carrier!r}")
    try:
        return NoiseJammer(jammer_id=jammer_id, carrier_truth_id=carrier, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None


# ----------------------------------------------------------------------------- running


def fly_scenario(
    scenario: Scenario,
) -> tuple[TruthSet, Targets, tuple[LaunchSolution, ...], tuple[BallisticFlight, ...]]:
    """Fly every threat of the scenario: truth trajectories and radar targets."""
    parts: list[TrajectorySet] = []
    ids: list[int] = []
    keys: list[str] = []
    kinds: list[str] = []
    rcs: list[float] = []
    rcs_after: list[float] = []
    switch: list[float] = []
    swerling: list[int] = []
    solutions: list[LaunchSolution] = []
    flights: list[BallisticFlight] = []
    for shape in ("minimum_energy", "lofted", "depressed"):
        group = [b for b in scenario.ballistic if b.trajectory == shape]
        if not group:
            continue
        sol, flight = launch_ballistic(
            [b.threat for b in group],
            [b.launch_lat_deg for b in group],
            [b.launch_lon_deg for b in group],
            [b.target_lat_deg for b in group],
            [b.target_lon_deg for b in group],
            launch_alt_m=[b.launch_alt_m for b in group],
            target_alt_m=[b.target_alt_m for b in group],
            launch_time_s=[b.launch_time_s for b in group],
            shape=shape,
        )
        assert flight.trajectories is not None
        parts.append(flight.trajectories)
        solutions.append(sol)
        flights.append(flight)
        for b, cut in zip(group, sol.cutoff_s, strict=True):
            ids.append(b.truth_id)
            keys.append(b.threat.key)
            kinds.append("ballistic")
            rcs.append(b.threat.rcs_m2)
            rcs_after.append(b.threat.reentry_rcs_m2)
            switch.append(b.launch_time_s + float(cut))
            swerling.append(b.threat.swerling)
    if scenario.airbreathers:
        air = fly_airbreathing(
            [a.route for a in scenario.airbreathers], t_end_s=scenario.duration_s
        )
        parts.append(air.trajectories)
        for a in scenario.airbreathers:
            ids.append(a.truth_id)
            keys.append(a.route.threat.key)
            kinds.append(a.route.threat.kind)
            rcs.append(a.route.threat.rcs_m2)
            rcs_after.append(a.route.threat.rcs_m2)
            switch.append(np.inf)
            swerling.append(a.route.threat.swerling)
    traj = TrajectorySet.concatenate(parts)
    truth = TruthSet(np.array(ids, dtype=np.int64), tuple(keys), tuple(kinds), traj)
    targets = Targets(
        trajectories=traj,
        truth_id=truth.truth_id,
        rcs_m2=np.array(rcs, dtype=float),
        swerling=np.array(swerling, dtype=np.int64),
        rcs_switch_time_s=np.array(switch, dtype=float),
        rcs_after_m2=np.array(rcs_after, dtype=float),
    )
    return truth, targets, tuple(solutions), tuple(flights)


def run_scenario(scenario: Scenario, *, seed: int | None = None) -> ScenarioResult:
    """Fly the threats and observe them with every radar over [0, duration_s]."""
    truth, targets, sols, flights = fly_scenario(scenario)
    rng = np.random.default_rng(scenario.seed if seed is None else seed)
    if scenario.radars:
        out = observe_all(
            scenario.radars, targets, 0.0, scenario.duration_s, rng, jammers=scenario.jammers
        )
        dets, strobes = out.detections, out.strobes
    else:
        dets, strobes = Detections.empty(), JammerStrobes.empty()
    return ScenarioResult(scenario, truth, targets, dets, strobes, sols, flights)


def example_path(name: str = "raid.toml") -> Path:
    """Path of a packaged example scenario."""
    from importlib import resources

    return Path(str(resources.files("argus.scenario").joinpath("examples", name)))


def radars_by_id(radars: Sequence[RadarSite]) -> dict[int, RadarSite]:
    """Index radars by id."""
    return {r.radar_id: r for r in radars}
