"""The simulated world of a defense run: every flight's truth, who is alive, who was killed.

Flights are flown once, when they start (a ballistic launch through
:func:`argus.sim.ballistic.launch_ballistic`, an air-breather through
:func:`argus.sim.airbreathing.fly_airbreathing`), and kept as knots (:class:`TrajectorySet`):
the radars observe them and the interceptors home on them at any time without re-integration.
Times inside the world are seconds since the run's ``epoch``; events carry UTC datetimes.

A flight is deterministic in its launch parameters, so every stage that subscribes to
``missile.launched`` (radar, interceptor) rebuilds the same truth in its own process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from argus.scenario.runner import Scenario, fly_scenario
from argus.scenario.training import KIND_TO_CLASS
from argus.sensors.radar import Detections, Targets
from argus.sim.ballistic import TrajectoryShape, UnreachableTargetError, launch_ballistic
from argus.sim.catalogue import Catalogue, load_catalogue
from argus.trajectory import TrajectorySet

FloatArray = npt.NDArray[np.float64]

#: The classifier's class of each catalogue kind (the training data's map).
KIND_CLASS = KIND_TO_CLASS


class LaunchError(ValueError):
    """A launch that cannot be flown (unknown type, target out of reach); names the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass
class Flight:
    flight_id: str
    truth_id: int
    catalogue_key: str
    threat_class: str
    start_s: float
    end_s: float
    #: Predicted impact point (ballistic) or last waypoint (air-breather), geodetic degrees.
    target_lat_deg: float
    target_lon_deg: float
    killed_s: float = np.inf
    state: str = "flying"


@dataclass(frozen=True)
class LaunchRequest:
    flight_id: str
    catalogue_key: str
    lat_deg: float
    lon_deg: float
    target_lat_deg: float
    target_lon_deg: float
    at: dt.datetime
    alt_m: float = 0.0
    shape: str = "minimum_energy"


@dataclass
class PlannedFlight:
    """A flight flown but not yet in a world (:meth:`World.plan_ballistic`)."""

    flight: Flight
    trajectories: TrajectorySet
    rcs_m2: float
    rcs_after_m2: float
    switch_s: float
    swerling: int


@dataclass
class World:
    epoch: dt.datetime
    catalogue: Catalogue = field(default_factory=load_catalogue)
    flights: list[Flight] = field(default_factory=list)
    _parts: list[TrajectorySet] = field(default_factory=list)
    _rcs: list[float] = field(default_factory=list)
    _rcs_after: list[float] = field(default_factory=list)
    _switch: list[float] = field(default_factory=list)
    _swerling: list[int] = field(default_factory=list)
    _targets: Targets | None = None
    _by_id: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epoch.tzinfo is None:
            raise ValueError("world epoch: give a timezone-aware (UTC) datetime")

    # ---- time
    def seconds(self, when: dt.datetime) -> float:
        return (when - self.epoch).total_seconds()

    def when(self, t_s: float) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=float(t_s))

    # ---- flights
    def __contains__(self, flight_id: object) -> bool:
        return flight_id in self._by_id

    def flight(self, flight_id: str) -> Flight:
        return self.flights[self._by_id[flight_id]]

    def launch_ballistic(
        self,
        flight_id: str,
        catalogue_key: str,
        lat_deg: float,
        lon_deg: float,
        target_lat_deg: float,
        target_lon_deg: float,
        *,
        at: dt.datetime,
        alt_m: float = 0.0,
        shape: TrajectoryShape = "minimum_energy",
    ) -> Flight:
        """Fly a ballistic launch (idempotent by ``flight_id``)."""
        if flight_id in self._by_id:
            return self.flight(flight_id)
        return self.add_planned(
            self.plan_ballistic(
                flight_id, catalogue_key, lat_deg, lon_deg, target_lat_deg, target_lon_deg,
                at=at, alt_m=alt_m, shape=shape,
            )
        )  # fmt: skip

    def plan_ballistic(
        self,
        flight_id: str,
        catalogue_key: str,
        lat_deg: float,
        lon_deg: float,
        target_lat_deg: float,
        target_lon_deg: float,
        *,
        at: dt.datetime,
        alt_m: float = 0.0,
        shape: TrajectoryShape = "minimum_energy",
    ) -> PlannedFlight:
        """Solve and fly a launch without touching the world (the slow part: a caller may do it
        outside its lock, then :meth:`add_planned`)."""
        try:
            threat = self.catalogue.ballistic(catalogue_key)
        except (KeyError, ValueError) as exc:
            raise LaunchError("missileType", str(exc).strip("'\"")) from None
        t0 = self.seconds(at)
        try:
            sol, fl = launch_ballistic(
                threat,
                [lat_deg],
                [lon_deg],
                [target_lat_deg],
                [target_lon_deg],
                launch_alt_m=alt_m,
                launch_time_s=t0,
                shape=shape,
            )
        except UnreachableTargetError as exc:
            raise LaunchError("targetLat/targetLon", str(exc)) from None
        assert fl.trajectories is not None
        flight = Flight(
            flight_id,
            0,
            catalogue_key,
            "ballistic_missile",
            t0,
            float(fl.trajectories.end_s[0]),
            float(fl.impact_lat_deg[0]) if fl.impacted[0] else target_lat_deg,
            float(fl.impact_lon_deg[0]) if fl.impacted[0] else target_lon_deg,
        )
        return PlannedFlight(
            flight, fl.trajectories, threat.rcs_m2, threat.reentry_rcs_m2,
            t0 + float(sol.cutoff_s[0]), threat.swerling,
        )  # fmt: skip

    def plan_ballistic_many(
        self, requests: list[LaunchRequest]
    ) -> list[PlannedFlight | LaunchError]:
        """:meth:`plan_ballistic` for many launches in one vectorized solve per (type, shape):
        ~1 s for one launch, ~2.5 s for forty. An unreachable target fails its own request
        only (the rest are solved again without it)."""
        out: list[PlannedFlight | LaunchError | None] = [None] * len(requests)
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.catalogue_key, r.shape), []).append(i)
        for (key, shape), rows in groups.items():  # per (type, shape) group, not per launch
            try:
                threat = self.catalogue.ballistic(key)
            except (KeyError, ValueError) as exc:
                for i in rows:
                    out[i] = LaunchError("missileType", str(exc).strip("'\""))
                continue
            todo = list(rows)
            while todo:
                rq = [requests[i] for i in todo]
                t0 = np.array([self.seconds(r.at) for r in rq])
                try:
                    sol, fl = launch_ballistic(
                        threat, [r.lat_deg for r in rq], [r.lon_deg for r in rq],
                        [r.target_lat_deg for r in rq], [r.target_lon_deg for r in rq],
                        launch_alt_m=[r.alt_m for r in rq], launch_time_s=t0,
                        shape=shape,  # type: ignore[arg-type]
                    )  # fmt: skip
                except UnreachableTargetError as exc:
                    bad = {todo[int(k)] for k in np.atleast_1d(exc.rows)}
                    for i in bad:
                        out[i] = LaunchError("targetLat/targetLon", str(exc))
                    todo = [i for i in todo if i not in bad]
                    continue
                assert fl.trajectories is not None
                for k, i in enumerate(todo):
                    r = requests[i]
                    out[i] = PlannedFlight(
                        Flight(
                            r.flight_id, 0, key, "ballistic_missile", float(t0[k]),
                            float(fl.trajectories.end_s[k]),
                            float(fl.impact_lat_deg[k]) if fl.impacted[k] else r.target_lat_deg,
                            float(fl.impact_lon_deg[k]) if fl.impacted[k] else r.target_lon_deg,
                        ),
                        fl.trajectories.subset([k]), threat.rcs_m2, threat.reentry_rcs_m2,
                        float(t0[k] + sol.cutoff_s[k]), threat.swerling,
                    )  # fmt: skip
                todo = []
        return [o for o in out if o is not None]

    def add_planned(self, plan: PlannedFlight) -> Flight:
        if plan.flight.flight_id in self._by_id:
            return self.flight(plan.flight.flight_id)
        plan.flight.truth_id = self._next_truth_id()
        self._add(
            plan.trajectories, plan.flight, rcs=plan.rcs_m2, rcs_after=plan.rcs_after_m2,
            switch=plan.switch_s, swerling=plan.swerling,
        )  # fmt: skip
        return plan.flight

    def add_scenario(self, scenario: Scenario, prefix: str = "S") -> list[Flight]:
        """Every threat of a scenario file (its times are seconds after the world's epoch)."""
        truth, targets, _, flights = fly_scenario(scenario)
        impact: dict[int, tuple[float, float]] = {}
        b_ids = [b.truth_id for b in scenario.ballistic]
        k = 0
        for fl in flights:
            for i in range(fl.impact_lat_deg.size):
                impact[b_ids[k]] = (float(fl.impact_lat_deg[i]), float(fl.impact_lon_deg[i]))
                k += 1
        air_final = {
            a.truth_id: (a.route.waypoints[-1].lat_deg, a.route.waypoints[-1].lon_deg)
            for a in scenario.airbreathers
        }
        added = []
        tr = truth.trajectories
        for i in range(truth.size):
            tid = int(truth.truth_id[i])
            fid = f"{prefix}{tid}"
            if fid in self._by_id:
                continue
            tlat, tlon = impact.get(tid, air_final.get(tid, (np.nan, np.nan)))
            self._add(
                tr.subset([i]),
                Flight(
                    fid,
                    self._next_truth_id(),
                    truth.threat_keys[i],
                    KIND_CLASS.get(truth.kinds[i], truth.kinds[i]),
                    float(tr.start_s[i]),
                    float(tr.end_s[i]),
                    tlat,
                    tlon,
                ),
                rcs=float(targets.rcs_m2[i]),
                rcs_after=float(targets.rcs_after_m2[i] if targets.rcs_after_m2 is not None else 0)
                or float(targets.rcs_m2[i]),
                switch=float(
                    targets.rcs_switch_time_s[i] if targets.rcs_switch_time_s is not None else 0
                )
                or np.inf,
                swerling=int(targets.swerling[i]),
            )
            added.append(self.flights[-1])
        return added

    def add_trajectories(
        self,
        traj: TrajectorySet,
        threat_class: str,
        *,
        rcs_m2: float = 5.0,
        swerling: int = 1,
        prefix: str = "X",
    ) -> list[Flight]:
        """Objects given as trajectories (benchmarks, recorded tracks): one flight each."""
        added = []
        for i in range(traj.size):  # one bookkeeping row per object; the knots stay arrays
            fid = f"{prefix}{len(self.flights) + 1}"
            self._add(
                traj.subset([i]),
                Flight(fid, self._next_truth_id(), threat_class, threat_class,
                       float(traj.start_s[i]), float(traj.end_s[i]), np.nan, np.nan),
                rcs=rcs_m2, rcs_after=rcs_m2, switch=np.inf, swerling=swerling,
            )  # fmt: skip
            added.append(self.flights[-1])
        return added

    def _next_truth_id(self) -> int:
        return len(self.flights) + 1

    def _add(
        self,
        traj: TrajectorySet,
        flight: Flight,
        *,
        rcs: float,
        rcs_after: float,
        switch: float,
        swerling: int,
    ) -> None:
        self._by_id[flight.flight_id] = len(self.flights)
        self.flights.append(flight)
        self._parts.append(traj)
        self._rcs.append(rcs)
        self._rcs_after.append(rcs_after)
        self._switch.append(switch)
        self._swerling.append(swerling)
        self._targets = None

    def kill(self, flight_id: str, t_s: float, state: str = "intercepted") -> Flight | None:
        """Mark a flight destroyed at ``t_s``; None when it was already over."""
        f = self.flight(flight_id)
        if f.state != "flying":
            return None
        f.killed_s = min(f.killed_s, t_s)
        f.state = state
        return f

    def impacts(self, t_s: float) -> list[Flight]:
        """Flights that reached their end by ``t_s`` and are not yet marked (now marked)."""
        ended = [f for f in self.flights if f.state == "flying" and f.end_s <= t_s]
        for f in ended:
            f.state = "impacted" if f.threat_class == "ballistic_missile" else "ended"
        return ended

    # ---- what sensors and interceptors see
    @property
    def targets(self) -> Targets:
        if self._targets is None:
            self._targets = Targets(
                trajectories=TrajectorySet.concatenate(self._parts)
                if self._parts
                else TrajectorySet.empty(),
                truth_id=np.arange(1, len(self.flights) + 1, dtype=np.int64),
                rcs_m2=np.asarray(self._rcs, dtype=float),
                swerling=np.asarray(self._swerling, dtype=np.int64),
                rcs_switch_time_s=np.asarray(self._switch, dtype=float),
                rcs_after_m2=np.asarray(self._rcs_after, dtype=float),
            )
        return self._targets

    def killed_s(self) -> FloatArray:
        """(N,) kill time of every flight (inf when alive), in truth-id order."""
        return np.asarray([f.killed_s for f in self.flights], dtype=float)

    def drop_dead(self, det: Detections) -> Detections:
        """Detections minus those of flights already killed at the detection's time."""
        if not len(det) or not self.flights:
            return det
        killed = self.killed_s()
        tid = det.truth_id
        real = tid > 0
        dead = np.zeros(len(det), dtype=bool)
        dead[real] = det.time_s[real] >= killed[tid[real] - 1]
        return det.select(np.flatnonzero(~dead))

    def truth_at(self, t_s: float) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        """Indices (into :attr:`flights`) alive at ``t_s`` and their ECEF position, velocity."""
        n = len(self.flights)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 3))
        tr = self.targets.trajectories
        idx = np.arange(n)
        pos, vel, _, ok = tr.state_at(idx, np.full(n, t_s))
        alive = ok & (self.killed_s() > t_s)
        return idx[alive], pos[alive], vel[alive]

    def flight_ids(self, index: Sequence[int] | npt.NDArray[np.int64]) -> list[str]:
        return [self.flights[int(i)].flight_id for i in index]
