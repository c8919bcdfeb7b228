"""Electronic warfare: jamming detection from strobes, frequency-agility ECCM (vectorized).

Detection. A noise jammer raises a radar's noise floor by ``10 log10(1 + J/N)`` dB while its main
lobe crosses the jammer (the strobes of :func:`argus.sensors.radar.observe`). A radar is
*jammed* in a cycle when any strobe's floor rise reaches ``rise_threshold_db`` (default 3 dB:
the interference equals the thermal noise); the strobe azimuths are the bearings to cue on.

ECCM. Frequency agility over ``agility_bandwidth_hz`` forces a barrage jammer of bandwidth
``B_j`` to spread over the agile band to keep covering the radar, which lowers its noise density
in the radar's instantaneous band by ``min(1, B_j / B_a)`` (Schleher, *Electronic Warfare in the
Information Age*, 1999, §4.5; Adamy, *EW 101*, ch. 9): :func:`agility_jammer_scale` is that
factor, applied to the jammer power seen by the protected radar, so part of the SNR returns
(a 100 MHz barrage against a 500 MHz agile radar loses 7 dB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def floor_rise_db(jnr_db: npt.ArrayLike) -> FloatArray:
    """Noise-floor rise (dB) of a jammer-to-noise ratio ``jnr_db``: 10·log10(1 + J/N)."""
    return np.asarray(10.0 * np.log10(1.0 + 10.0 ** (np.asarray(jnr_db, float) / 10.0)))


@dataclass(frozen=True)
class JammingStatus:
    """Per radar (arrays (R,) in the order of ``radar_ids``)."""

    radar_ids: npt.NDArray[np.int64]
    jammed: npt.NDArray[np.bool_]
    floor_rise_db: FloatArray  # the largest rise of the cycle (0 when no strobe)
    n_strobes: npt.NDArray[np.int64]
    bearing_deg: FloatArray  # azimuth of the strongest strobe (NaN when none)


def jamming_status(
    radar_ids: npt.ArrayLike,
    strobe_radar_id: npt.ArrayLike,
    strobe_azimuth_rad: npt.ArrayLike,
    strobe_jnr_db: npt.ArrayLike,
    rise_threshold_db: float = 3.0,
) -> JammingStatus:
    """Which radars are jammed this cycle, how much and from where (no loop over strobes)."""
    ids = np.asarray(radar_ids, dtype=np.int64)
    sr = np.asarray(strobe_radar_id, dtype=np.int64)
    rise = floor_rise_db(strobe_jnr_db) if sr.size else np.zeros(0)
    az = np.asarray(strobe_azimuth_rad, dtype=np.float64)
    r = ids.size
    col = np.searchsorted(np.sort(ids), sr) if sr.size else np.zeros(0, np.int64)
    order = np.argsort(ids)
    known = (col < r) & (np.sort(ids)[np.minimum(col, r - 1)] == sr) if r else col < 0
    idx = order[np.minimum(col, max(r - 1, 0))][known] if r else col[known]
    best = np.zeros(r)
    np.maximum.at(best, idx, rise[known])
    count = np.bincount(idx, minlength=r).astype(np.int64)
    bearing = np.full(r, np.nan)
    if idx.size:
        # strongest strobe per radar: sort by (radar, rise) and take the last of each radar
        k = np.lexsort((rise[known], idx))
        last = np.r_[idx[k][1:] != idx[k][:-1], True]
        bearing[idx[k][last]] = np.degrees(az[known][k][last]) % 360.0
    return JammingStatus(ids, best >= rise_threshold_db, best, count, bearing)


def agility_jammer_scale(
    jammer_bandwidth_hz: npt.ArrayLike, agility_bandwidth_hz: npt.ArrayLike
) -> FloatArray:
    """Factor on the jammer power a frequency-agile radar sees: ``min(1, B_j / B_a)``."""
    bj = np.asarray(jammer_bandwidth_hz, dtype=np.float64)
    ba = np.asarray(agility_bandwidth_hz, dtype=np.float64)
    if np.any(bj <= 0) or np.any(ba <= 0):
        raise ValueError("bandwidths must be > 0")
    return np.minimum(1.0, bj / ba)
