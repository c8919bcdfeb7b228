"""Track-quality factor in [0, 1] from a track's age and position covariance (pure numpy).

The threat score can be discounted by a per-track quality ``q`` (``score = q · clip(...)``, see
:mod:`argus.tewa.scoring`, switched on per scenario by ``use_track_quality``). This module turns
what a tracker knows about a track into that ``q``::

    q_age = age_s / (age_s + age_half_s)             0 at birth, 1/2 at age_half_s, → 1
    sigma = sqrt(trace of the position covariance)    radial RMS position error, m
    q_pos = 1 / (1 + sigma / sigma_half_m)           1 for an exact position, 1/2 at sigma_half_m, → 0
    q     = floor + (1 - floor) · q_age · q_pos

Both factors use the same hyperbolic shape as the score's normalization ``1 / (1 + x/scale)``,
so a "half" parameter is the age or the error at which that factor halves the score. ``q`` is
non-decreasing in the age, non-increasing in the position error, and lies in ``[floor, 1]``.
``age_s = +inf`` gives ``q_age = 1``; ``sigma = +inf`` gives ``q_pos = 0``. A factor whose input
is not given is 1 (only the other one discounts). Defaults: ``age_half_s = 10 s`` (a track
confirmed after a few 1–5 s scans is already worth most of its score, one a minute old ≈ 0.86),
``sigma_half_m = 500 m`` (a settled radar track with ~100 m errors keeps ≈ 0.83, a coasting track
whose error has grown to 5 km ≈ 0.09) and ``floor = 0``. They are starting points, not
calibrated values.

:func:`quality_from_history` applies it to a tracker's output
(:class:`argus.tracking.tracker.TrackHistory`): the tracks confirmed at one scan, their age
since they first appear in the history and the position block of their covariance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "DEFAULT_AGE_HALF_S",
    "DEFAULT_SIGMA_HALF_M",
    "HistoryQuality",
    "quality_from_history",
    "quality_from_track",
]

DEFAULT_AGE_HALF_S: Final = 10.0
DEFAULT_SIGMA_HALF_M: Final = 500.0
#: ``argus.tracking.management.TrackStatus.CONFIRMED`` (kept here so the engine does not import
#: the tracker; a test checks the two agree).
CONFIRMED: Final = 1


def _nonneg(name: str, x: npt.ArrayLike) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    bad = ~(a >= 0)  # NaN and negative values
    if bad.any():
        idx = np.unravel_index(int(np.flatnonzero(bad)[0]), a.shape) if a.ndim else ()
        raise ValueError(f"{name} must be >= 0 (or +inf); element {idx} is {a[idx]}")
    return a


def _positive(name: str, v: float) -> float:
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    return float(v)


def quality_from_track(
    age_s: npt.ArrayLike | None = None,
    pos_sigma_m: npt.ArrayLike | None = None,
    *,
    pos_cov_trace_m2: npt.ArrayLike | None = None,
    age_half_s: float = DEFAULT_AGE_HALF_S,
    sigma_half_m: float = DEFAULT_SIGMA_HALF_M,
    floor: float = 0.0,
) -> FloatArray:
    """Quality ``q`` in ``[floor, 1]`` of each track (arrays broadcast; see the module formula).

    ``age_s``: time since the track was started (s). ``pos_sigma_m``: radial RMS position error
    (m), or give ``pos_cov_trace_m2``, the trace of the position covariance (m², ``sigma`` is its
    square root) — not both. Inputs must be >= 0 or +inf; a NaN or negative one raises
    ``ValueError`` naming the argument.
    """
    if pos_sigma_m is not None and pos_cov_trace_m2 is not None:
        raise ValueError("give pos_sigma_m or pos_cov_trace_m2, not both")
    h_age = _positive("age_half_s", age_half_s)
    h_sig = _positive("sigma_half_m", sigma_half_m)
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be in [0, 1], got {floor!r}")
    q: FloatArray = np.asarray(1.0)
    if age_s is not None:
        age = _nonneg("age_s", age_s)
        # 1 - h/(age + h) == age/(age + h), and exactly 1 at age = +inf (no inf/inf).
        q = 1.0 - h_age / (age + h_age)
    if pos_cov_trace_m2 is not None:
        pos_sigma_m = np.sqrt(_nonneg("pos_cov_trace_m2", pos_cov_trace_m2))
    if pos_sigma_m is not None:
        sigma = _nonneg("pos_sigma_m", pos_sigma_m)
        q = q * (1.0 / (1.0 + sigma / h_sig))
    out = np.asarray(floor + (1.0 - floor) * q, dtype=np.float64)
    return np.clip(out, 0.0, 1.0)


class _History(Protocol):
    """What :func:`quality_from_history` reads (``argus.tracking.tracker.TrackHistory``)."""

    time: FloatArray
    track_id: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    covar: FloatArray


@dataclass(frozen=True)
class HistoryQuality:
    """Quality of the tracks confirmed at ``time``, sorted by track id."""

    time: float
    track_id: npt.NDArray[np.int64]
    age_s: FloatArray
    pos_sigma_m: FloatArray
    quality: FloatArray

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.track_id.tolist(), self.quality.tolist(), strict=True))


def quality_from_history(
    history: _History,
    *,
    at_time: float | None = None,
    ndim_pos: int = 3,
    age_half_s: float = DEFAULT_AGE_HALF_S,
    sigma_half_m: float = DEFAULT_SIGMA_HALF_M,
    floor: float = 0.0,
) -> HistoryQuality:
    """:func:`quality_from_track` for the tracks a tracker has confirmed at one scan.

    The scan is the last one at or before ``at_time`` (default: the history's last). A track's
    age is that scan's time minus the time of its first row in ``history``; the tracker reports
    tentative tracks only with ``report_tentative``, so by default the age counts from
    confirmation (a lower bound of the time since the first detection). ``sigma`` is the square
    root of the trace of the first ``ndim_pos`` × ``ndim_pos`` block of the covariance (the state
    starts with the position). Vectorized over all rows of the history.
    """
    time = np.asarray(history.time, dtype=np.float64)
    empty = HistoryQuality(
        float("nan"), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0)
    )
    if time.size == 0:
        return empty
    t = float(time.max()) if at_time is None else float(at_time)
    seen = time <= t
    if not seen.any():
        return empty
    t_scan = float(time[seen].max())
    ids = np.asarray(history.track_id, dtype=np.int64)
    # First appearance of every track id (over the rows up to the scan).
    order = np.lexsort((time[seen], ids[seen]))
    sid, first_idx = np.unique(ids[seen][order], return_index=True)
    born = time[seen][order][first_idx]
    now = np.flatnonzero((time == t_scan) & (np.asarray(history.status) == CONFIRMED))
    now = now[np.argsort(ids[now], kind="stable")]
    track = ids[now]
    age = t_scan - born[np.searchsorted(sid, track)]
    cov = np.asarray(history.covar, dtype=np.float64)[now, :ndim_pos, :ndim_pos]
    sigma = np.sqrt(np.maximum(np.einsum("kii->k", cov), 0.0))
    q = quality_from_track(
        age, sigma, age_half_s=age_half_s, sigma_half_m=sigma_half_m, floor=floor
    )
    return HistoryQuality(t_scan, track, age, sigma, np.broadcast_to(q, track.shape).copy())
