"""Threat flight engine: what flies (pure numpy/scipy/pymap3d, no db/api imports).

- :mod:`argus.sim.catalogue` — threat types from ``catalogue.toml`` (data, not code);
- :mod:`argus.sim.atmosphere` — US Standard Atmosphere 1976;
- :mod:`argus.sim.gravity` — flat, point-mass and J2 gravitation in ECEF;
- :mod:`argus.sim.ballistic` — boost / free flight / re-entry in rotating ECEF, vectorized RK4,
  shooting method (minimum-energy, lofted, depressed), impact prediction;
- :mod:`argus.sim.airbreathing` — cruise missiles, aircraft and drones on waypoints with bounded
  turn rate and coordinated-turn manoeuvres;
- :mod:`argus.sim.trajectory` — truth knots and quintic Hermite sampling at any rate;
- :mod:`argus.sim.scenario` — TOML scenarios → truth + radar detections
  (imports :mod:`argus.sensors`; import it explicitly);
- :mod:`argus.sim.plot` — matplotlib figure of a scenario (tracks and OSPA hooks).

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
from argus.sim.trajectory import TrajectorySet

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
