"""Track management: the track table, M-of-N initiation and deletion rules.

Every track has a stable integer id (never reused within a tracker), a status
(:class:`TrackStatus`: tentative → confirmed → deleted, or tentative → deleted) and a hit history
kept as a bit mask (bit 0 = the latest scan). All rules are evaluated on whole arrays.

- :class:`MofNInitiator` (Blackman & Popoli 1999, §3.3; Bar-Shalom, Li & Kirubarajan 2001): a
  measurement that no track claims starts a *tentative* track (position from the measurement,
  the other components from a zero-mean prior); the tentative track is confirmed once it has
  ``M`` hits within its first ``N`` scans (the birth scan counts as a hit), and is dropped as soon
  as that can no longer happen.
- :class:`MissedScansDeleter`: a confirmed track is deleted after ``max_misses`` consecutive scans
  without a measurement.
- :class:`CovarianceDeleter`: deleted when the trace of its position covariance exceeds a bound
  (the estimate has become meaningless).
- :class:`AnyDeleter`: deletes when any of its deleters does.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from argus.tracking.protocols import Deleter
from argus.tracking.states import States

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "AnyDeleter",
    "CovarianceDeleter",
    "Deleter",
    "MissedScansDeleter",
    "MofNInitiator",
    "TrackStatus",
    "TrackTable",
]


class TrackStatus(enum.IntEnum):
    TENTATIVE = 0
    CONFIRMED = 1
    DELETED = 2


@dataclass
class TrackTable:
    """The live tracks, one row each, all at time ``time``."""

    states: States
    track_id: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    hits: npt.NDArray[np.int64]
    """Hit history bit mask; bit 0 is the latest scan."""
    age: npt.NDArray[np.int64]
    """Scans since birth, the birth scan included."""
    n_hits: npt.NDArray[np.int64]
    consecutive_misses: npt.NDArray[np.int64]
    time: float = float("nan")
    next_id: int = 1

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def keep(self, mask: BoolArray) -> None:
        """Drop every row where ``mask`` is False."""
        self.states = self.states.take(mask)
        self.track_id = self.track_id[mask]
        self.status = self.status[mask]
        self.hits = self.hits[mask]
        self.age = self.age[mask]
        self.n_hits = self.n_hits[mask]
        self.consecutive_misses = self.consecutive_misses[mask]

    def record_scan(self, hit: BoolArray, looked: BoolArray | None = None) -> None:
        """Advance the tracks the scan looked at by one scan, with a hit where ``hit`` is True.

        ``looked`` (default: all) marks the tracks inside the sensor's coverage during the scan;
        for the others the scan did not happen: no hit, no miss, no age (a rotating radar whose
        beam was elsewhere has not missed them). A hit counts as looked at.
        """
        seen = np.ones_like(hit) if looked is None else (looked | hit)
        h = hit.astype(np.int64)
        self.hits = np.where(seen, ((self.hits << 1) | h) & ((1 << 62) - 1), self.hits)
        self.age = self.age + seen
        self.n_hits = self.n_hits + h
        self.consecutive_misses = np.where(
            hit, 0, np.where(seen, self.consecutive_misses + 1, self.consecutive_misses)
        )

    def append(self, states: States) -> None:
        """Add new tentative tracks (one hit, age 1) with fresh ids."""
        k = len(states)
        if k == 0:
            return
        self.states = self.states.concat([states])
        ids = np.arange(self.next_id, self.next_id + k, dtype=np.int64)
        self.next_id += k
        self.track_id = np.concatenate((self.track_id, ids))
        self.status = np.concatenate(
            (self.status, np.full(k, TrackStatus.TENTATIVE, dtype=np.int8))
        )
        self.hits = np.concatenate((self.hits, np.ones(k, dtype=np.int64)))
        self.age = np.concatenate((self.age, np.ones(k, dtype=np.int64)))
        self.n_hits = np.concatenate((self.n_hits, np.ones(k, dtype=np.int64)))
        self.consecutive_misses = np.concatenate(
            (self.consecutive_misses, np.zeros(k, dtype=np.int64))
        )

    @classmethod
    def empty(cls, states: States) -> TrackTable:
        return cls(
            states=states,
            track_id=np.zeros(0, dtype=np.int64),
            status=np.zeros(0, dtype=np.int8),
            hits=np.zeros(0, dtype=np.int64),
            age=np.zeros(0, dtype=np.int64),
            n_hits=np.zeros(0, dtype=np.int64),
            consecutive_misses=np.zeros(0, dtype=np.int64),
        )


@dataclass(frozen=True)
class MofNInitiator:
    """Start tentative tracks from free measurements; confirm with M hits in the first N scans.

    Properties: ``m``, ``n`` (``1 <= m <= n <= 62``), ``unmeasured_sigma`` (prior standard
    deviation of every state component after the position, e.g. the velocity in m/s; one value
    for all or one per component), ``min_position_sigma`` (floor on the position prior, m).
    """

    m: int = 2
    n: int = 3
    unmeasured_sigma: float | Sequence[float] = 100.0
    min_position_sigma: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.m <= self.n <= 62:
            raise ValueError(f"need 1 <= m <= n <= 62, got m={self.m}, n={self.n}")

    def prior(
        self, position: FloatArray, position_covar: FloatArray, ndim_state: int
    ) -> tuple[FloatArray, FloatArray]:
        """Prior means (j, n) and covariances (j, n, n) of tracks started at ``position``."""
        j, d = position.shape
        mean = np.zeros((j, ndim_state))
        mean[:, :d] = position
        covar = np.zeros((j, ndim_state, ndim_state))
        covar[:, :d, :d] = position_covar
        if self.min_position_sigma > 0:
            idx = np.arange(d)
            covar[:, idx, idx] = np.maximum(covar[:, idx, idx], self.min_position_sigma**2)
        sig = np.broadcast_to(
            np.asarray(self.unmeasured_sigma, dtype=np.float64), (ndim_state - d,)
        )
        rest = np.arange(d, ndim_state)
        covar[:, rest, rest] = sig**2
        return mean, covar

    def confirm(self, table: TrackTable) -> BoolArray:
        """Tentative tracks that reached ``m`` hits within their first ``n`` scans."""
        tentative = table.status == TrackStatus.TENTATIVE
        return tentative & (table.age <= self.n) & (table.n_hits >= self.m)

    def reject(self, table: TrackTable) -> BoolArray:
        """Tentative tracks that can no longer reach ``m`` hits within ``n`` scans."""
        tentative = table.status == TrackStatus.TENTATIVE
        remaining = self.n - table.age
        return tentative & (table.n_hits + remaining < self.m)


@dataclass(frozen=True)
class MissedScansDeleter:
    """Delete confirmed tracks after ``max_misses`` consecutive missed scans."""

    max_misses: int = 3

    def delete(self, table: TrackTable) -> BoolArray:
        return (table.status == TrackStatus.CONFIRMED) & (
            table.consecutive_misses >= self.max_misses
        )


@dataclass(frozen=True)
class CovarianceDeleter:
    """Delete tracks whose position covariance trace exceeds ``max_position_trace`` (m²).

    Properties: ``max_position_trace``, ``ndim_pos`` (position components at the start of the
    state).
    """

    max_position_trace: float = 1e8
    ndim_pos: int = 3

    def delete(self, table: TrackTable) -> BoolArray:
        d = self.ndim_pos
        trace = np.einsum("kii->k", table.states.covar[:, :d, :d])
        return np.asarray(trace > self.max_position_trace, dtype=np.bool_)


@dataclass(frozen=True)
class AnyDeleter:
    """Delete a track when any of ``deleters`` says so."""

    deleters: tuple[Deleter, ...] = field(default_factory=tuple)

    def delete(self, table: TrackTable) -> BoolArray:
        out = np.zeros(len(table), dtype=np.bool_)
        for d in self.deleters:
            out |= d.delete(table)
        return out
