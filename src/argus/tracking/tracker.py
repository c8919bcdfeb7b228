"""The multi-target tracker, assembled from its parts, and a runner over arrays of detections.

:class:`MultiTargetTracker` is configured, not written (as in Stone Soup): a predictor, an
updater, a gate, an associator for confirmed tracks, one for tentative tracks, an initiator and a
deleter. Each call to :meth:`MultiTargetTracker.step` processes one :class:`Scan` (the detections
of one sensor at one time):

1. predict every track to the scan time (all tracks share one time);
2. confirmed tracks: gate (KD-tree + chi-square) and associate against all detections, update;
3. tentative tracks: the same against the detections still free (so tentative tracks never steal
   detections from confirmed ones);
4. record hits and misses; free detections start new tentative tracks;
5. confirm (M of N), reject hopeless tentative tracks, delete by the deleter's rules.

Every part is a structural protocol (:mod:`argus.tracking.protocols`): the built-in classes are
one choice, any object with the protocol's methods is another; the tracker checks the parts at
construction and names what a part lacks.

Multi-radar fusion is sequential: scans from several sites are processed in time order, each with
its own measurement model (e.g. :class:`~argus.tracking.models.RangeAzEl` at that site); see
:func:`track_detections`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from argus.tracking.association import GNNAssociator, mixture_reduce
from argus.tracking.filters import (
    ExtendedKalmanUpdater,
    IMMPredictor,
    IMMUpdater,
    KalmanPredictor,
    PairInnovations,
)
from argus.tracking.gating import ChiSquareGate
from argus.tracking.management import (
    AnyDeleter,
    CovarianceDeleter,
    MissedScansDeleter,
    MofNInitiator,
    TrackStatus,
    TrackTable,
)
from argus.tracking.models import (
    ConstantVelocity,
    LinearPosition,
    MeasurementModel,
    NoiseKind,
    RangeAzEl,
    unbiased_converted_measurement,
)
from argus.tracking.protocols import (
    Associator,
    Deleter,
    Gate,
    Initiator,
    Predictor,
    SoftAssociator,
    Updater,
    check_part,
)
from argus.tracking.states import GaussianStates

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
MeasurementKind = Literal["rae", "position", "converted"]

__all__ = [
    "MultiTargetTracker",
    "Scan",
    "TrackEstimates",
    "TrackHistory",
    "make_cv_tracker",
    "scans_from_arrays",
    "track_detections",
]


@dataclass(frozen=True)
class Scan:
    """The detections of one sensor at one time.

    ``z`` (j, m) measurements, ``covar`` (j, m, m) or (m, m) their covariances, ``model`` the
    measurement model that produced them (it carries the site for radar models), ``time`` in
    seconds on the tracker's clock, ``sensor_id`` for bookkeeping. ``coverage`` (optional) maps
    the tracks' predicted state means (n, ndim_state) at ``time`` to a boolean mask of the
    tracks the sensor could have detected in this scan (beam passed them, within range); a
    track outside it neither misses nor ages (:meth:`TrackTable.record_scan`). Without it, every
    track is looked at, so a scan with no detection near a track counts as its miss.
    """

    time: float
    z: FloatArray
    covar: FloatArray
    model: MeasurementModel
    sensor_id: int = 0
    coverage: Callable[[FloatArray], npt.NDArray[np.bool_]] | None = None

    def covariances(self) -> FloatArray:
        z = np.asarray(self.z, dtype=np.float64).reshape(-1, self.model.ndim_meas)
        r = np.asarray(self.covar, dtype=np.float64)
        if r.ndim == 2:
            r = np.broadcast_to(r, (len(z), *r.shape))
        if r.shape != (len(z), self.model.ndim_meas, self.model.ndim_meas):
            raise ValueError(
                f"scan covar must be ({len(z)}, {self.model.ndim_meas}, {self.model.ndim_meas}) "
                f"or ({self.model.ndim_meas}, {self.model.ndim_meas}), got {r.shape}"
            )
        return r


@dataclass(frozen=True)
class TrackEstimates:
    """Tracks after one scan: ids, status, moment-matched means and covariances."""

    time: float
    track_id: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    mean: FloatArray
    covar: FloatArray

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


@dataclass(frozen=True)
class TrackHistory:
    """Track estimates of many scans, flattened: one row per (scan, track)."""

    time: FloatArray
    scan_index: npt.NDArray[np.int64]
    track_id: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    mean: FloatArray
    covar: FloatArray

    @classmethod
    def from_estimates(cls, estimates: Sequence[TrackEstimates], ndim_state: int) -> TrackHistory:
        if not estimates:
            return cls(
                np.zeros(0),
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.int8),
                np.zeros((0, ndim_state)),
                np.zeros((0, ndim_state, ndim_state)),
            )
        counts = [len(e) for e in estimates]
        return cls(
            np.repeat([e.time for e in estimates], counts).astype(np.float64),
            np.repeat(np.arange(len(estimates)), counts).astype(np.int64),
            np.concatenate([e.track_id for e in estimates]),
            np.concatenate([e.status for e in estimates]),
            np.concatenate([e.mean for e in estimates]),
            np.concatenate([e.covar for e in estimates]),
        )


AnyAssociator = Associator | SoftAssociator
"""A hard (:class:`~argus.tracking.protocols.Associator`) or soft
(:class:`~argus.tracking.protocols.SoftAssociator`) associator."""


@dataclass
class MultiTargetTracker:
    """A multi-target tracker assembled from swappable parts.

    Properties: ``predictor``, ``updater``, ``gate``, ``associator`` (confirmed tracks; GNN or
    JPDA), ``tentative_associator`` (tentative tracks; GNN by default), ``initiator``,
    ``deleter``, ``report_tentative`` (include tentative tracks in the estimates).

    Each part may be any object satisfying its protocol (:mod:`argus.tracking.protocols`):
    :class:`~argus.tracking.protocols.Predictor`, :class:`~argus.tracking.protocols.Updater`,
    :class:`~argus.tracking.protocols.Gate`, :class:`~argus.tracking.protocols.Associator` or
    :class:`~argus.tracking.protocols.SoftAssociator` (an associator with ``associate`` makes
    hard assignments; one with only ``weights`` updates with the weighted mixture, as JPDA),
    :class:`~argus.tracking.protocols.Initiator` and :class:`~argus.tracking.protocols.Deleter`.
    A part lacking a method raises :class:`TypeError` here, naming it. The predictor and
    updater must work on the same state container (checked for the built-in IMM pair).
    """

    predictor: Predictor[Any]
    updater: Updater[Any, Any]
    gate: Gate = field(default_factory=ChiSquareGate)
    associator: AnyAssociator = field(default_factory=GNNAssociator)
    initiator: Initiator = field(default_factory=MofNInitiator)
    deleter: Deleter = field(default_factory=lambda: MissedScansDeleter(3))
    tentative_associator: AnyAssociator = field(default_factory=GNNAssociator)
    report_tentative: bool = False
    table: TrackTable = field(init=False)

    def __post_init__(self) -> None:
        check_part("predictor", self.predictor, Predictor)
        check_part("updater", self.updater, Updater)
        check_part("gate", self.gate, Gate)
        soft = [
            check_part(role, part, Associator, SoftAssociator) is SoftAssociator
            for role, part in (
                ("associator", self.associator),
                ("tentative_associator", self.tentative_associator),
            )
        ]
        check_part("initiator", self.initiator, Initiator)
        check_part("deleter", self.deleter, Deleter)
        imm = isinstance(self.predictor, IMMPredictor)
        if imm != isinstance(self.updater, IMMUpdater):
            raise TypeError("an IMMPredictor needs an IMMUpdater and vice versa")
        if imm and any(soft):
            raise TypeError("JPDA with an IMM (IMM-JPDA) is not supported; use GNN")
        self.reset()

    def reset(self) -> None:
        """Forget every track (ids restart at 1)."""
        n = self.predictor.ndim_state
        empty = self.predictor.initial_states(np.zeros((0, n)), np.zeros((0, n, n)))
        self.table = TrackTable.empty(empty)

    @property
    def ndim_state(self) -> int:
        return self.predictor.ndim_state

    # ---- one scan ----

    def step(self, scan: Scan) -> TrackEstimates:
        """Process one scan; return the (confirmed) track estimates at ``scan.time``."""
        table = self.table
        model = scan.model
        if model.ndim_state != self.ndim_state:
            raise ValueError(
                f"scan model reads {model.ndim_state} state components, "
                f"tracker has {self.ndim_state}"
            )
        z = np.asarray(scan.z, dtype=np.float64).reshape(-1, model.ndim_meas)
        r = scan.covariances()
        t = float(scan.time)
        if len(table) and not np.isnan(table.time):
            dt = t - table.time
            if dt < 0:
                raise ValueError(
                    f"scan time {t} is before the tracks' time {table.time}; "
                    "scans must be processed in time order"
                )
            if dt > 0:  # simultaneous scans of two sites: no prediction (nor IMM mixing)
                table.states = self.predictor.predict(table.states, dt)
        table.time = t

        j = len(z)
        used = np.zeros(j, dtype=np.bool_)
        hit = np.zeros(len(table), dtype=np.bool_)
        confirmed = table.status == TrackStatus.CONFIRMED
        for mask, associator in (
            (confirmed, self.associator),
            (~confirmed, self.tentative_associator),
        ):
            idx = np.flatnonzero(mask)
            free = np.flatnonzero(~used)
            if len(idx) == 0 or len(free) == 0:
                continue
            self._associate_update(idx, free, z, r, model, associator, hit, used)

        looked = None
        if scan.coverage is not None and len(table):
            looked = np.asarray(scan.coverage(table.states.mean), dtype=np.bool_).reshape(-1)
            if looked.shape != hit.shape:
                raise ValueError(
                    f"scan coverage returned {looked.shape[0]} flags for {hit.shape[0]} tracks"
                )
        table.record_scan(hit, looked)
        free = np.flatnonzero(~used)
        if len(free):
            pos, pos_cov = model.to_position(z[free], r[free])
            mean, covar = self.initiator.prior(pos, pos_cov, self.ndim_state)
            table.append(self.predictor.initial_states(mean, covar))
        table.status[self.initiator.confirm(table)] = TrackStatus.CONFIRMED
        drop = self.initiator.reject(table) | self.deleter.delete(table)
        if drop.any():
            table.keep(~drop)
        return self.estimates()

    def _associate_update(
        self,
        idx: IndexArray,
        free: IndexArray,
        z: FloatArray,
        r: FloatArray,
        model: MeasurementModel,
        associator: AnyAssociator,
        hit: npt.NDArray[np.bool_],
        used: npt.NDArray[np.bool_],
    ) -> None:
        table = self.table
        # the predictor/updater pair works on one state container (for the built-in parts:
        # Gaussian or IMM, checked in __post_init__); states, measurement prediction and
        # updater below always belong to the same family
        states = table.states
        updater = self.updater
        sub = states.take(idx)
        mp = updater.predict_measurement(sub, model)
        cand_t, cand_m = self.gate.candidates(sub.mean, sub.covar, model, z[free], r[free])
        pairs: PairInnovations = updater.innovations(sub, mp, model, cand_t, free[cand_m], z, r)
        pairs = pairs.take(pairs.d2 <= self.gate.threshold(model.ndim_meas))
        if len(pairs) == 0:
            return
        if isinstance(associator, Associator):  # hard: one detection per track at most
            chosen = pairs.take(associator.associate(pairs, len(idx), len(z)))
            upd = updater.update(sub, mp, model, chosen)
            states.put(idx[chosen.track], upd)
            hit[idx[chosen.track]] = True
            used[chosen.meas] = True
            return
        else:  # a SoftAssociator (checked at construction): the weighted mixture
            if not isinstance(sub, GaussianStates):
                raise TypeError(
                    f"{type(associator).__name__} (soft association) needs GaussianStates, "
                    f"the predictor gives {type(sub).__name__}"
                )
            beta, beta0 = associator.weights(pairs, len(idx), len(z))
            upd = updater.update(sub, mp, model, pairs)
            reduced = mixture_reduce(sub, upd, pairs.track, beta, beta0)
            states.put(idx, reduced)
            hit[idx[np.unique(pairs.track)]] = True
            used[pairs.meas] = True

    def estimates(self) -> TrackEstimates:
        """Current estimates of confirmed (and, if asked, tentative) tracks."""
        table = self.table
        mask = (
            np.ones(len(table), dtype=np.bool_)
            if self.report_tentative
            else table.status == TrackStatus.CONFIRMED
        )
        states = table.states.take(mask)
        return TrackEstimates(
            table.time,
            table.track_id[mask].copy(),
            table.status[mask].copy(),
            states.mean.copy(),
            states.covar.copy(),
        )

    def run(self, scans: Iterable[Scan]) -> list[TrackEstimates]:
        """Process scans in order; the estimates after each."""
        return [self.step(scan) for scan in scans]


# ---- convenience ----


def make_cv_tracker(
    ndim: int = 3,
    noise_intensity: float = 1.0,
    noise: NoiseKind = "discrete",
    *,
    associator: AnyAssociator | None = None,
    gate_probability: float = 0.9997,
    m: int = 2,
    n: int = 3,
    velocity_sigma: float = 100.0,
    max_misses: int = 3,
    max_position_trace: float | None = None,
) -> MultiTargetTracker:
    """A constant-velocity GNN (or JPDA) tracker with EKF updates and M-of-N initiation."""
    deleters: list[Deleter] = [MissedScansDeleter(max_misses)]
    if max_position_trace is not None:
        deleters.append(CovarianceDeleter(max_position_trace, ndim))
    return MultiTargetTracker(
        predictor=KalmanPredictor(ConstantVelocity(ndim, noise_intensity, noise)),
        updater=ExtendedKalmanUpdater(),
        gate=ChiSquareGate(gate_probability),
        associator=associator or GNNAssociator(),
        initiator=MofNInitiator(m, n, velocity_sigma),
        deleter=AnyDeleter(tuple(deleters)),
    )


def scans_from_arrays(
    time: FloatArray,
    z: FloatArray,
    covar: FloatArray,
    site_enu: FloatArray | None = None,
    *,
    kind: MeasurementKind = "rae",
    ndim_state: int = 6,
) -> list[Scan]:
    """Group flat detection arrays into time-ordered scans, one per (time, site).

    ``time`` (N,) seconds; ``z`` (N, 3) either ``[range_m, az_rad, el_rad]`` seen from
    ``site_enu`` (N, 3) (``kind="rae"``: EKF updates; ``kind="converted"``: unbiased converted
    measurements and linear updates) or ENU positions in the common frame (``kind="position"``,
    ``site_enu`` unused); ``covar`` (N, 3, 3) or (3, 3).
    """
    time = np.asarray(time, dtype=np.float64).reshape(-1)
    z = np.asarray(z, dtype=np.float64)
    count = len(time)
    if z.shape[0] != count:
        raise ValueError(f"z has {z.shape[0]} rows, time has {count}")
    cov = np.asarray(covar, dtype=np.float64)
    if cov.ndim == 2:
        cov = np.broadcast_to(cov, (count, *cov.shape))
    if cov.shape[0] != count:
        raise ValueError(f"covar has {cov.shape[0]} rows, time has {count}")
    if kind in ("rae", "converted"):
        if site_enu is None:
            raise ValueError(f"kind={kind!r} needs site_enu (the radar position of each row)")
        site = np.broadcast_to(np.asarray(site_enu, dtype=np.float64), (count, 3))
    elif kind == "position":
        site = np.zeros((count, 3))
    else:
        raise ValueError(f"kind must be 'rae', 'position' or 'converted', got {kind!r}")
    if not np.isfinite(time).all():
        bad = int(np.flatnonzero(~np.isfinite(time))[0])
        raise ValueError(f"time[{bad}] is not finite")
    _, site_idx = np.unique(site, axis=0, return_inverse=True)
    site_idx = site_idx.reshape(-1)
    order = np.lexsort((site_idx, time))
    keys = np.stack([time[order], site_idx[order].astype(np.float64)], axis=1)
    bounds = np.flatnonzero((np.diff(keys, axis=0) != 0).any(axis=1)) + 1
    scans: list[Scan] = []
    for rows in np.split(order, bounds):
        if len(rows) == 0:
            continue
        t = float(time[rows[0]])
        s = site[rows[0]]
        sid = int(site_idx[rows[0]])
        if kind == "rae":
            model: MeasurementModel = RangeAzEl(ndim_state, (float(s[0]), float(s[1]), float(s[2])))
            scans.append(Scan(t, z[rows], cov[rows], model, sid))
        elif kind == "converted":
            pos, pcov = unbiased_converted_measurement(z[rows], cov[rows])
            scans.append(Scan(t, pos + s, pcov, LinearPosition(ndim_state, 3), sid))
        else:
            scans.append(Scan(t, z[rows], cov[rows], LinearPosition(ndim_state, z.shape[1]), sid))
    return scans


def track_detections(
    time: FloatArray,
    z: FloatArray,
    covar: FloatArray,
    site_enu: FloatArray | None = None,
    *,
    kind: MeasurementKind = "rae",
    tracker: MultiTargetTracker | None = None,
) -> TrackHistory:
    """Track detections given as flat arrays, from one or several sites, in time order.

    See :func:`scans_from_arrays` for the inputs. ``tracker`` defaults to
    :func:`make_cv_tracker` in 3-D. Returns the estimates after every scan, flattened.
    """
    trk = tracker if tracker is not None else make_cv_tracker(3)
    scans = scans_from_arrays(time, z, covar, site_enu, kind=kind, ndim_state=trk.ndim_state)
    return TrackHistory.from_estimates(trk.run(scans), trk.ndim_state)
