"""Threat flight engine: what flies (pure numpy/scipy on argus.geo, no db/api imports).

- :mod:`argus.sim.catalogue` — threat types from ``catalogue.toml`` (data, not code);
- :mod:`argus.sim.atmosphere` — US Standard Atmosphere 1976;
- :mod:`argus.sim.gravity` — flat, point-mass and J2 gravitation in ECEF;
- :mod:`argus.sim.ballistic` — boost / free flight / re-entry in rotating ECEF, vectorized RK4,
  shooting method (minimum-energy, lofted, depressed), impact prediction;
- :mod:`argus.sim.airbreathing` — cruise missiles, aircraft and drones on waypoints with bounded
  turn rate and coordinated-turn manoeuvres;

The Earth (WGS-84 constants, frames, geodesics) is :mod:`argus.geo`; the trajectories it
produces are :class:`argus.trajectory.TrajectorySet`. Scenarios (threats + radars + tracking)
are orchestrated above this engine, in :mod:`argus.scenario`.

Equations and sources: ``docs/sim-sensors.md``.
"""

from argus.sim.airbreathing import (
    AirFlight,
    AirRoute,
    Manoeuvre,
    Waypoint,
    fly_airbreathing,
    turn_radius_m,
)
from argus.sim.atmosphere import AtmosphereState, atmosphere
from argus.sim.ballistic import (
    BallisticFlight,
    FlightOptions,
    LaunchSolution,
    MaxRange,
    ShootingError,
    UnreachableTargetError,
    coast_to_impact,
    fly_ballistic,
    launch_ballistic,
    max_range,
    solve_launch,
)
from argus.sim.catalogue import (
    AirBreathingThreat,
    BallisticThreat,
    Catalogue,
    CatalogueError,
    DragTable,
    load_catalogue,
)
from argus.sim.gravity import Gravity
from argus.trajectory import TrajectorySet

__all__ = [
    "AirBreathingThreat",
    "AirFlight",
    "AirRoute",
    "AtmosphereState",
    "BallisticFlight",
    "BallisticThreat",
    "Catalogue",
    "CatalogueError",
    "DragTable",
    "FlightOptions",
    "Gravity",
    "LaunchSolution",
    "Manoeuvre",
    "MaxRange",
    "ShootingError",
    "TrajectorySet",
    "UnreachableTargetError",
    "Waypoint",
    "atmosphere",
    "coast_to_impact",
    "fly_airbreathing",
    "fly_ballistic",
    "launch_ballistic",
    "load_catalogue",
    "max_range",
    "solve_launch",
    "turn_radius_m",
]
