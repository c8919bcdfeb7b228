"""Sensor-test helpers: static or constant-velocity targets at given azimuth/elevation/range."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pymap3d

from argus.sensors.radar import Targets
from argus.sensors.site import RadarSite
from argus.trajectory import TrajectorySet


def targets_at(
    radar: RadarSite,
    az_deg: npt.ArrayLike,
    el_deg: npt.ArrayLike,
    range_m: npt.ArrayLike,
    *,
    rcs_m2: npt.ArrayLike = 1.0,
    swerling: int = 1,
    t0: float = 0.0,
    t1: float = 1.0e4,
    velocity_ecef: np.ndarray | None = None,
) -> Targets:
    """Targets at geometric (az, el, range) from the radar antenna, static or moving."""
    az, el, rng = np.broadcast_arrays(
        np.asarray(az_deg, float), np.asarray(el_deg, float), np.asarray(range_m, float)
    )
    x, y, z = pymap3d.aer2ecef(az, el, rng, radar.lat_deg, radar.lon_deg, radar.antenna_alt_m)
    p = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    n = p.shape[0]
    v = np.zeros((n, 3)) if velocity_ecef is None else np.broadcast_to(velocity_ecef, (n, 3))
    t = np.tile([t0, t1], (n, 1))
    pos = np.stack([p + v * t0, p + v * t1], axis=1)
    vel = np.stack([v, v], axis=1)
    tr = TrajectorySet(t, pos, vel, np.zeros_like(pos), np.full(n, 2))
    return Targets(
        tr,
        np.arange(n, dtype=np.int64),
        np.broadcast_to(np.asarray(rcs_m2, float), (n,)).copy(),
        np.full(n, swerling, dtype=np.int64),
    )
