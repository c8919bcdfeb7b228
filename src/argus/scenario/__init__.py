"""Scenario orchestration: threats, radars, jammers and the tracker run together.

Above the engines (:mod:`argus.sim`, :mod:`argus.sensors`, :mod:`argus.tracking`), below the
interfaces (CLI, API):

- :mod:`argus.scenario.runner` — TOML scenarios → truth trajectories + radar detections;
- :mod:`argus.scenario.track` — the detections of a scenario tracked in a common ENU frame,
  scored with OSPA, and the confirmed tracks as TEWA track rows;
- :mod:`argus.scenario.plot` — matplotlib figure of a scenario (tracks and OSPA hooks).

The modules are imported explicitly (``from argus.scenario.runner import run_scenario``); this
package imports nothing on its own, so that ``import argus.scenario`` stays cheap.
"""
