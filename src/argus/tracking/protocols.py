"""The parts of the multi-target tracker, as structural :class:`typing.Protocol` s.

:class:`~argus.tracking.tracker.MultiTargetTracker` is assembled from parts (as Stone Soup's
trackers are from its base classes): any object with the methods below can be plugged in, a
built-in class or one of your own; nothing needs to be subclassed. Every part works on *all*
tracks (or all candidate pairs) of one scan at once, as numpy arrays: a part is called a fixed
number of times per scan, never once per track or per pair, so a part of your own should stay
vectorized too (no per-row Python loop).

Shapes: ``k`` tracks, ``n`` state components (position first, e.g. ``[x, y, vx, vy]`` in m and
m/s, ENU), ``j`` detections of ``m`` components (e.g. ``[x, y]`` m, or ``[range m, az rad,
el rad]``), ``q`` candidate (track, detection) pairs; times in seconds.

=========================  =====================================  ==============================
protocol                   methods                                built-in parts
=========================  =====================================  ==============================
:class:`Predictor`         ``ndim_state``, ``initial_states``,    ``KalmanPredictor``,
                           ``predict``                            ``ExtendedKalmanPredictor``,
                                                                  ``IMMPredictor``
:class:`Updater`           ``predict_measurement``,               ``KalmanUpdater``,
                           ``innovations``, ``update``            ``ExtendedKalmanUpdater``,
                                                                  ``IMMUpdater``
:class:`Gate`              ``threshold``, ``candidates``          ``ChiSquareGate``
:class:`Associator`        ``associate`` (hard assignment)        ``GNNAssociator``
:class:`SoftAssociator`    ``weights`` (probabilistic)            ``JPDAAssociator``
:class:`Initiator`         ``prior``, ``confirm``, ``reject``     ``MofNInitiator``
:class:`Deleter`           ``delete``                             ``MissedScansDeleter``,
                                                                  ``CovarianceDeleter``,
                                                                  ``AnyDeleter``
=========================  =====================================  ==============================

All are :func:`typing.runtime_checkable`; :func:`check_part` (called by the tracker at
construction) names the methods a part lacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from argus.tracking.states import States

if TYPE_CHECKING:
    from argus.tracking.association import GNNAssociator, JPDAAssociator
    from argus.tracking.filters import (
        ExtendedKalmanPredictor,
        IMMMeasurementPrediction,
        IMMPredictor,
        IMMUpdater,
        KalmanPredictor,
        KalmanUpdater,
        MeasurementPrediction,
        PairInnovations,
    )
    from argus.tracking.gating import ChiSquareGate
    from argus.tracking.management import (
        AnyDeleter,
        CovarianceDeleter,
        MissedScansDeleter,
        MofNInitiator,
        TrackTable,
    )
    from argus.tracking.models import MeasurementModel
    from argus.tracking.states import GaussianStates, IMMStates

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

S = TypeVar("S", bound=States)
"""The state container a predictor/updater pair works on (``GaussianStates``, ``IMMStates``)."""
MP = TypeVar("MP")
"""What an updater's :meth:`Updater.predict_measurement` returns and its other methods read."""

__all__ = [
    "PART_PROTOCOLS",
    "Associator",
    "Deleter",
    "Gate",
    "Initiator",
    "Predictor",
    "SoftAssociator",
    "Updater",
    "check_part",
    "missing_members",
]


@runtime_checkable
class Predictor(Protocol[S]):
    """Motion model + filter prediction: moves every track's state to the scan time.

    The states ``S`` are a batched container (:class:`~argus.tracking.states.States`: ``len``,
    ``take``, ``put``, ``concat``, moment-matched ``mean`` (k, n) and ``covar`` (k, n, n)); the
    predictor and the updater must agree on it (``GaussianStates`` for the Kalman family,
    ``IMMStates`` for the IMM).
    """

    @property
    def ndim_state(self) -> int:
        """``n``, the number of state components (position first)."""
        ...

    def initial_states(self, mean: FloatArray, covar: FloatArray) -> S:
        """States of new tracks from Gaussian priors: ``mean`` (k, n), ``covar`` (k, n, n)."""
        ...

    def predict(self, states: S, dt: float) -> S:
        """Every state ``dt > 0`` seconds ahead (all tracks share one time); ``k`` rows in,
        ``k`` rows out, same order. ``k`` may be 0."""
        ...


@runtime_checkable
class Updater(Protocol[S, MP]):
    """Filter update: measurement prediction, pair innovations and the updated states.

    ``MP`` is the updater's own measurement prediction (e.g.
    :class:`~argus.tracking.filters.MeasurementPrediction`: ``z_pred`` (k, m), ``h`` (k, m, n),
    ``hpht`` (k, m, m), ``pht`` (k, n, m)); the tracker only passes it back.
    """

    def predict_measurement(self, states: S, model: MeasurementModel) -> MP:
        """The predicted measurement of every one of the ``k`` tracks under ``model``."""
        ...

    def innovations(
        self,
        states: S,
        mp: MP,
        model: MeasurementModel,
        track: IndexArray,
        meas: IndexArray,
        z: FloatArray,
        r: FloatArray,
    ) -> PairInnovations:
        """Innovations of the ``q`` pairs ``(track[i], meas[i])``.

        ``track`` (q,) indexes ``states``, ``meas`` (q,) indexes ``z`` (j, m) and ``r``
        (j, m, m). Returns :class:`~argus.tracking.filters.PairInnovations` with ``nu`` (q, m),
        ``s`` (q, m, m), ``d2`` (q,) (squared Mahalanobis distance, dimensionless) and
        ``log_likelihood`` (q,); the gate's threshold is applied to ``d2``.
        """
        ...

    def update(self, states: S, mp: MP, model: MeasurementModel, pairs: PairInnovations) -> S:
        """Updated states, one row per pair: track ``pairs.track[i]`` with ``pairs.meas[i]``."""
        ...


@runtime_checkable
class Gate(Protocol):
    """Which (track, detection) pairs are worth an innovation, and the ``d²`` threshold."""

    def threshold(self, ndim_meas: int) -> float:
        """Largest squared Mahalanobis distance ``d²`` kept, for ``m = ndim_meas``."""
        ...

    def candidates(
        self,
        track_mean: FloatArray,
        track_covar: FloatArray,
        model: MeasurementModel,
        z: FloatArray,
        r: FloatArray,
    ) -> tuple[IndexArray, IndexArray]:
        """Candidate pairs ``(track (q,), meas (q,))`` for the exact ``d²`` test.

        ``track_mean`` (k, n), ``track_covar`` (k, n, n) of the predicted tracks; ``z`` (j, m)
        and ``r`` (j, m, m) the free detections. Must not drop a pair with ``d² ≤ threshold``
        if the gate is to be exact (a superset is fine).
        """
        ...


@runtime_checkable
class Associator(Protocol):
    """Hard association (GNN-like): each track gets at most one detection and vice versa."""

    def associate(self, pairs: PairInnovations, n_tracks: int, n_meas: int) -> IndexArray:
        """Indices into ``pairs`` (the ``q`` gated pairs) of the chosen pairs.

        ``pairs.track`` indexes ``n_tracks`` tracks, ``pairs.meas`` ``n_meas`` detections; no
        track nor detection may appear in two chosen pairs. The tracker updates each chosen
        track with its detection; the others coast on the prediction.
        """
        ...


@runtime_checkable
class SoftAssociator(Protocol):
    """Probabilistic association (JPDA-like): every gated pair updates its track, weighted.

    The track becomes the moment-matched mixture ``β_0 N(x⁻, P⁻) + Σ_j β_j N(x_j, P_j)``
    (Gaussian states only, not with an IMM).
    """

    def weights(
        self, pairs: PairInnovations, n_tracks: int, n_meas: int
    ) -> tuple[FloatArray, FloatArray]:
        """``(β (q,) per pair, β_0 (n_tracks,) per track)``: each track's weights sum to 1."""
        ...


@runtime_checkable
class Initiator(Protocol):
    """Turns unassociated detections into tentative tracks, confirms and rejects them."""

    def prior(
        self, position: FloatArray, position_covar: FloatArray, ndim_state: int
    ) -> tuple[FloatArray, FloatArray]:
        """Prior ``mean`` (j, n) and ``covar`` (j, n, n) of tracks started at the free
        detections' Cartesian ``position`` (j, d) m with covariance ``position_covar``
        (j, d, d) m²."""
        ...

    def confirm(self, table: TrackTable) -> BoolArray:
        """(k,) mask of the tentative tracks to confirm now (reads ``table.status``,
        ``age``, ``n_hits``, ``hits``...)."""
        ...

    def reject(self, table: TrackTable) -> BoolArray:
        """(k,) mask of the tentative tracks to drop now."""
        ...


@runtime_checkable
class Deleter(Protocol):
    """Decides which tracks to delete."""

    def delete(self, table: TrackTable) -> BoolArray:
        """(k,) mask of the tracks of ``table`` to delete after this scan."""
        ...


#: Members each part must have (checked by :func:`check_part`).
PART_PROTOCOLS: dict[type, tuple[str, ...]] = {
    Predictor: ("ndim_state", "initial_states", "predict"),
    Updater: ("predict_measurement", "innovations", "update"),
    Gate: ("threshold", "candidates"),
    Associator: ("associate",),
    SoftAssociator: ("weights",),
    Initiator: ("prior", "confirm", "reject"),
    Deleter: ("delete",),
}


def missing_members(part: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``part`` lacks (methods must be callable)."""
    missing = []
    for name in PART_PROTOCOLS[protocol]:
        present = hasattr(part, name)
        if not present or (name != "ndim_state" and not callable(getattr(part, name))):
            missing.append(name)
    return missing


def check_part(role: str, part: Any, *protocols: type) -> type:
    """Raise a :class:`TypeError` naming what ``part`` lacks unless it satisfies one of
    ``protocols``; return the first protocol it satisfies."""
    gaps = []
    for protocol in protocols:
        missing = missing_members(part, protocol)
        if not missing:
            return protocol
        gaps.append(f"{protocol.__name__} (missing {', '.join(missing)})")
    raise TypeError(f"{role} {type(part).__name__} does not satisfy " + " nor ".join(gaps))


if TYPE_CHECKING:  # mypy checks that the built-in parts satisfy their protocols

    def _builtin_parts_conform(
        kalman: KalmanPredictor,
        ekf: ExtendedKalmanPredictor,
        imm: IMMPredictor,
        kalman_up: KalmanUpdater,
        imm_up: IMMUpdater,
        gate: ChiSquareGate,
        gnn: GNNAssociator,
        jpda: JPDAAssociator,
        mofn: MofNInitiator,
        missed: MissedScansDeleter,
        cov: CovarianceDeleter,
        any_: AnyDeleter,
    ) -> None:
        _p: list[Predictor[GaussianStates]] = [kalman, ekf]
        _pi: Predictor[IMMStates] = imm
        _u: Updater[GaussianStates, MeasurementPrediction] = kalman_up
        _ui: Updater[IMMStates, IMMMeasurementPrediction] = imm_up
        _g: Gate = gate
        _a: Associator = gnn
        _s: SoftAssociator = jpda
        _i: Initiator = mofn
        _d: list[Deleter] = [missed, cov, any_]
