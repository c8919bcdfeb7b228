"""State of every track at a time ``when`` from its time-stamped samples, vectorized.

Samples are columns (track index, ``t_us`` microseconds since the Unix epoch, ``lat_deg``,
``lon_deg``, ``alt_m``, ``speed_mps``, ``heading_deg``) in any order. For each track:

- ``when`` before its first sample: the track does not exist yet (``NOT_STARTED``).
- ``when`` within its samples:

  - ``"linear"`` interpolates between the two bracketing samples: horizontal position along
    the straight ECEF chord between the two sample points at height 0 (identical to
    interpolating in a local ENU plane, an affine map of ECEF), projected back to the
    ellipsoid; altitude and speed linearly; heading along the shorter arc (359° → 1° passes
    through 0°);
  - ``"latest"`` takes the last sample at or before ``when`` unchanged (zero-order hold).

  Either way the status is ``OK``.
- ``when`` after its last sample: both methods dead-reckon from the last sample (constant
  speed and heading, constant altitude) for at most ``max_extrapolation_s`` (``EXTRAPOLATED``);
  beyond that the track is ``STALE`` and its state is NaN, so it drops out of scoring.
- A track index with no samples at all is ``NO_SAMPLES``.

Locating ``when`` among each track's samples is one ``np.searchsorted`` over composite
``(track, time)`` keys for all tracks at once; :class:`TrackSampleSet` sorts and indexes the
samples once so repeated queries (a time sweep) cost ``O(N log S)`` each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from argus import geo

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Int64Array = npt.NDArray[np.int64]

__all__ = [
    "DEFAULT_MAX_EXTRAPOLATION_S",
    "InterpolationMethod",
    "TrackSampleSet",
    "TrackStates",
    "TrackStatus",
    "to_epoch_us",
    "track_states_at",
]

#: Longest dead-reckoning after a track's last sample before it is declared stale.
DEFAULT_MAX_EXTRAPOLATION_S: Final = 30.0

InterpolationMethod = Literal["linear", "latest"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class TrackStatus(IntEnum):
    """Per-track outcome of a state query (stored as ``int8`` in :class:`TrackStates`)."""

    OK = 0
    EXTRAPOLATED = 1
    STALE = 2
    NOT_STARTED = 3
    NO_SAMPLES = 4


def to_epoch_us(when: dt.datetime) -> int:
    """Microseconds since the Unix epoch of a timezone-aware datetime (naive is rejected)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"when must be timezone-aware (UTC), got naive {when.isoformat()}")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class TrackStates:
    """State of each of N tracks at one time; invalid tracks (stale, not started) hold NaN.

    ``age_s`` is the time since the sample the state was derived from (the last sample at or
    before ``when``): 0 on a sample, positive between samples or when extrapolating, NaN
    for tracks that have not started.
    """

    when_us: int
    lat_deg: FloatArray
    lon_deg: FloatArray
    alt_m: FloatArray
    speed_mps: FloatArray
    heading_deg: FloatArray
    status: npt.NDArray[np.int8]
    age_s: FloatArray

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        """Tracks usable for scoring: ``OK`` or ``EXTRAPOLATED``."""
        return (self.status == TrackStatus.OK) | (self.status == TrackStatus.EXTRAPOLATED)

    def __len__(self) -> int:
        return int(self.status.shape[0])


def _column(name: str, values: npt.ArrayLike, n: int, dtype: type) -> npt.NDArray[np.generic]:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array of {n} values, got shape {arr.shape}")
    if dtype is np.int64:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{name} must hold integers (microseconds since the epoch), got {arr.dtype}"
            )
        return arr.astype(np.int64, copy=False)
    out = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} row {row} is not finite ({out[row]}); {int(bad.sum())} bad row(s) in total"
        )
    return out


class TrackSampleSet:
    """Samples sorted by ``(track, t)`` and indexed for fast :meth:`state_at` queries.

    Parameters
    ----------
    track_index
        Integer track index of each sample, in ``[0, n_tracks)``.
    t_us
        ``int64`` microseconds since the Unix epoch.
    lat_deg, lon_deg, alt_m, speed_mps, heading_deg
        Sample values (finite).
    n_tracks
        Number of tracks (default ``max(track_index) + 1``); tracks without samples get
        status ``NO_SAMPLES``.

    Two samples of one track at the same instant: the later one in input order wins.
    """

    def __init__(
        self,
        track_index: npt.ArrayLike,
        t_us: npt.ArrayLike,
        lat_deg: npt.ArrayLike,
        lon_deg: npt.ArrayLike,
        alt_m: npt.ArrayLike,
        speed_mps: npt.ArrayLike,
        heading_deg: npt.ArrayLike,
        n_tracks: int | None = None,
    ) -> None:
        tr = np.asarray(track_index)
        if tr.ndim != 1:
            raise ValueError(f"track_index must be 1-D, got shape {tr.shape}")
        if tr.size and not np.issubdtype(tr.dtype, np.integer):
            raise ValueError(f"track_index must hold integers, got {tr.dtype}")
        s = tr.shape[0]
        tr = tr.astype(np.intp, copy=False)
        t = np.asarray(_column("t_us", t_us, s, np.int64), dtype=np.int64)
        cols = {
            name: _column(name, v, s, np.float64)
            for name, v in (
                ("lat_deg", lat_deg),
                ("lon_deg", lon_deg),
                ("alt_m", alt_m),
                ("speed_mps", speed_mps),
                ("heading_deg", heading_deg),
            )
        }
        n = int(tr.max()) + 1 if (n_tracks is None and s) else int(n_tracks or 0)
        if s and (tr.min() < 0 or tr.max() >= n):
            row = int(np.flatnonzero((tr < 0) | (tr >= n))[0])
            raise ValueError(f"track_index row {row} is {tr[row]}, outside [0, {n})")
        lat = cols["lat_deg"]
        if s and np.any(np.abs(lat) > 90.0):
            row = int(np.flatnonzero(np.abs(lat) > 90.0)[0])
            raise ValueError(f"lat_deg row {row} is {lat[row]}, outside [-90, 90]")

        order = np.lexsort((t, tr))  # stable: equal (track, t) keep input order
        if not np.array_equal(order, np.arange(s)):
            tr, t = tr[order], t[order]
            cols = {k: v[order] for k, v in cols.items()}
        self.n_tracks = n
        self.track_index: IntArray = tr
        self.t_us: Int64Array = t
        self.lat_deg: FloatArray = np.asarray(cols["lat_deg"], dtype=np.float64)
        self.lon_deg: FloatArray = np.asarray(cols["lon_deg"], dtype=np.float64)
        self.alt_m: FloatArray = np.asarray(cols["alt_m"], dtype=np.float64)
        self.speed_mps: FloatArray = np.asarray(cols["speed_mps"], dtype=np.float64)
        self.heading_deg: FloatArray = geo.wrap_deg_360(cols["heading_deg"])
        counts = np.bincount(tr, minlength=n) if s else np.zeros(n, dtype=np.intp)
        self.start: IntArray = (
            np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
            if n
            else np.zeros(0, np.intp)
        )
        self.stop: IntArray = (self.start + counts).astype(np.intp)
        # Composite keys track * span + (t - t0): sorted because samples are sorted by (track, t).
        self._t0 = int(t.min()) if s else 0
        self._span = (int(t.max()) - self._t0 + 2) if s else 2
        self._keys: Int64Array | None = None
        if n * self._span < 2**62:
            self._keys = tr.astype(np.int64) * self._span + (t - self._t0)

    def __len__(self) -> int:
        return int(self.t_us.shape[0])

    def _last_at_or_before(self, when_us: int, force_fallback: bool = False) -> IntArray:
        """Global index of each track's last sample with ``t <= when`` (``start - 1`` if none)."""
        n = self.n_tracks
        if self._keys is not None and not force_fallback:
            rel = min(max(when_us - self._t0, -1), self._span - 1)
            q = np.arange(n, dtype=np.int64) * self._span + rel
            return (np.searchsorted(self._keys, q, side="right") - 1).astype(np.intp)
        # Key range too wide for int64: count each track's samples at or before `when`.
        le = np.bincount(self.track_index[self.t_us <= when_us], minlength=n)
        return (self.start + le - 1).astype(np.intp)

    def state_at(
        self,
        when_us: int,
        method: InterpolationMethod = "linear",
        max_extrapolation_s: float = DEFAULT_MAX_EXTRAPOLATION_S,
        *,
        _force_fallback: bool = False,
    ) -> TrackStates:
        """State of every track at ``when_us`` (see the module docstring for the rules)."""
        if method not in ("linear", "latest"):
            raise ValueError(f"method must be 'linear' or 'latest', got {method!r}")
        if not max_extrapolation_s >= 0:
            raise ValueError(f"max_extrapolation_s must be >= 0, got {max_extrapolation_s}")
        when_us = int(when_us)
        n = self.n_tracks
        last = self._last_at_or_before(when_us, _force_fallback)
        has_samples = self.stop > self.start
        started = has_samples & (last >= self.start)
        at_end = started & (last == self.stop - 1)
        interior = started & ~at_end

        lat = np.full(n, np.nan)
        lon = np.full(n, np.nan)
        alt = np.full(n, np.nan)
        speed = np.full(n, np.nan)
        heading = np.full(n, np.nan)
        age = np.full(n, np.nan)
        status = np.full(n, TrackStatus.NOT_STARTED, dtype=np.int8)
        status[~has_samples] = TrackStatus.NO_SAMPLES

        idx = np.flatnonzero(started)
        li = last[idx]
        age[idx] = (when_us - self.t_us[li]) / 1e6

        # Interior: interpolate (linear) or hold (latest).
        ii = np.flatnonzero(interior)
        i0 = last[ii]
        if method == "linear" and ii.size:
            i1 = i0 + 1
            frac = (when_us - self.t_us[i0]) / (self.t_us[i1] - self.t_us[i0])
            # Horizontal position on the ellipsoid (heights 0, as the kinematics use); altitude apart.
            x0, y0, z0 = geo.geodetic_to_ecef(self.lat_deg[i0], self.lon_deg[i0], 0.0)
            x1, y1, z1 = geo.geodetic_to_ecef(self.lat_deg[i1], self.lon_deg[i1], 0.0)
            la, lo, _ = geo.ecef_to_geodetic(
                x0 + frac * (x1 - x0), y0 + frac * (y1 - y0), z0 + frac * (z1 - z0)
            )
            on_sample = frac == 0.0  # keep a sample's own coordinates bit for bit
            lat[ii] = np.where(on_sample, self.lat_deg[i0], la)
            lon[ii] = np.where(on_sample, self.lon_deg[i0], lo)
            alt[ii] = self.alt_m[i0] + frac * (self.alt_m[i1] - self.alt_m[i0])
            speed[ii] = self.speed_mps[i0] + frac * (self.speed_mps[i1] - self.speed_mps[i0])
            heading[ii] = geo.interpolate_heading_deg(
                self.heading_deg[i0], self.heading_deg[i1], frac
            )
        elif ii.size:
            lat[ii], lon[ii], alt[ii] = self.lat_deg[i0], self.lon_deg[i0], self.alt_m[i0]
            speed[ii], heading[ii] = self.speed_mps[i0], self.heading_deg[i0]
        status[ii] = TrackStatus.OK

        # At or after the last sample: exact, dead-reckoned, or stale.
        ei = np.flatnonzero(at_end)
        dt_s = age[ei]
        exact = dt_s == 0.0
        fresh = (dt_s > 0.0) & (dt_s <= max_extrapolation_s)
        stale = dt_s > max_extrapolation_s
        keep = ei[exact | fresh]
        k0 = last[keep]
        la, lo = geo.dead_reckon(
            self.lat_deg[k0], self.lon_deg[k0], self.speed_mps[k0], self.heading_deg[k0], age[keep]
        )
        # dead_reckon is exact for dt = 0 up to rounding; copy samples verbatim instead.
        on_sample = age[keep] == 0.0
        lat[keep] = np.where(on_sample, self.lat_deg[k0], la)
        lon[keep] = np.where(on_sample, self.lon_deg[k0], geo.wrap_deg_180(lo))
        alt[keep], speed[keep], heading[keep] = (
            self.alt_m[k0],
            self.speed_mps[k0],
            self.heading_deg[k0],
        )
        status[ei[exact]] = TrackStatus.OK
        status[ei[fresh]] = TrackStatus.EXTRAPOLATED
        status[ei[stale]] = TrackStatus.STALE
        return TrackStates(
            when_us=when_us,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt,
            speed_mps=speed,
            heading_deg=heading,
            status=status,
            age_s=age,
        )


def track_states_at(
    track_index: npt.ArrayLike,
    t_us: npt.ArrayLike,
    lat_deg: npt.ArrayLike,
    lon_deg: npt.ArrayLike,
    alt_m: npt.ArrayLike,
    speed_mps: npt.ArrayLike,
    heading_deg: npt.ArrayLike,
    when_us: int | dt.datetime,
    method: InterpolationMethod = "linear",
    max_extrapolation_s: float = DEFAULT_MAX_EXTRAPOLATION_S,
    n_tracks: int | None = None,
) -> TrackStates:
    """One-shot :meth:`TrackSampleSet.state_at` (``when_us`` may be an aware datetime)."""
    samples = TrackSampleSet(
        track_index, t_us, lat_deg, lon_deg, alt_m, speed_mps, heading_deg, n_tracks
    )
    when = to_epoch_us(when_us) if isinstance(when_us, dt.datetime) else int(when_us)
    return samples.state_at(when, method, max_extrapolation_s)
