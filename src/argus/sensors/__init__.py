"""Radar models: what radars see (pure numpy/scipy on argus.geo, no db/api imports).

- :mod:`argus.sensors.site` — :class:`RadarSite`: position, coverage, scan, noise, radar
  equation;
- :mod:`argus.sensors.detection` — square-law threshold, Swerling Pd closed forms, the
  single-look statistic;
- :mod:`argus.sensors.radar` — Poisson false alarms, noisy range/azimuth/elevation(/range-rate)
  measurements, jammer strobes, :func:`observe`;
- :mod:`argus.sensors.propagation` — 4/3-Earth line of sight and apparent elevation;
- :mod:`argus.sensors.jammer` — noise jamming (J/N, J/S, SINR) and burn-through range;
- :mod:`argus.sensors.antenna` — Gaussian main lobe + sidelobe floor pattern.

Equations and sources: ``docs/sim-sensors.md``.
"""

from argus.sensors.detection import (
    detection_statistic,
    pd_swerling0,
    pd_swerling1,
    pd_swerling3,
    probability_of_detection,
    snr_for_pd_swerling1,
)
from argus.sensors.jammer import (
    NoiseJammer,
    burn_through_range_m,
    jammer_to_noise,
    jammer_to_signal,
    sinr,
)
from argus.sensors.propagation import LineOfSight, line_of_sight, radar_horizon_range_m
from argus.sensors.radar import (
    Detections,
    JammerStrobes,
    ScanOutput,
    Targets,
    false_alarms,
    observe,
    observe_all,
)
from argus.sensors.site import RadarSite

__all__ = [
    "Detections",
    "JammerStrobes",
    "LineOfSight",
    "NoiseJammer",
    "RadarSite",
    "ScanOutput",
    "Targets",
    "burn_through_range_m",
    "detection_statistic",
    "false_alarms",
    "jammer_to_noise",
    "jammer_to_signal",
    "line_of_sight",
    "observe",
    "observe_all",
    "pd_swerling0",
    "pd_swerling1",
    "pd_swerling3",
    "probability_of_detection",
    "radar_horizon_range_m",
    "sinr",
    "snr_for_pd_swerling1",
]
