"""User-defined tracker parts, plugged in through the protocols of argus.tracking.protocols."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest

from argus.tracking.association import GNNAssociator, JPDAAssociator
from argus.tracking.filters import (
    ExtendedKalmanPredictor,
    ExtendedKalmanUpdater,
    IMMPredictor,
    IMMUpdater,
    KalmanPredictor,
    KalmanUpdater,
    PairInnovations,
)
from argus.tracking.gating import ChiSquareGate
from argus.tracking.management import (
    AnyDeleter,
    CovarianceDeleter,
    MissedScansDeleter,
    MofNInitiator,
)
from argus.tracking.models import ConstantVelocity, LinearPosition
from argus.tracking.protocols import (
    Associator,
    Deleter,
    Gate,
    Initiator,
    Predictor,
    SoftAssociator,
    Updater,
)
from argus.tracking.states import GaussianStates
from argus.tracking.tracker import MultiTargetTracker, Scan

R = 4.0  # measurement variance per axis, m² (σ = 2 m)
Q = 10.0  # constant-position random walk, m²/s per axis


@dataclass
class ConstantPositionPredictor:
    """A user-written predictor: the target stays put, ``P⁻ = P + q dt I`` (random walk)."""

    ndim: int = 2
    q: float = Q
    calls: list[float] = field(default_factory=list)

    @property
    def ndim_state(self) -> int:
        return self.ndim

    def initial_states(
        self, mean: npt.NDArray[np.float64], covar: npt.NDArray[np.float64]
    ) -> GaussianStates:
        return GaussianStates(mean, covar)

    def predict(self, states: GaussianStates, dt: float) -> GaussianStates:
        self.calls.append(dt)
        return GaussianStates(states.mean.copy(), states.covar + self.q * dt * np.eye(self.ndim))


@dataclass(frozen=True)
class GreedyNearestNeighbour:
    """A user-written associator: greedy nearest neighbour on the Euclidean innovation ``|ν|``
    (m), pairs farther than ``max_distance`` m never assigned.

    Vectorized by rounds: each round accepts every pair that is the nearest of both its track
    and its detection (what a sequential greedy pass would take), then drops their tracks and
    detections; the loop is over rounds, not pairs.
    """

    max_distance: float

    def associate(self, pairs: PairInnovations, n_tracks: int, n_meas: int) -> npt.NDArray[np.intp]:
        dist = np.sqrt(np.einsum("qi,qi->q", pairs.nu, pairs.nu))
        alive = dist <= self.max_distance
        chosen = np.zeros(len(pairs), dtype=np.bool_)
        while alive.any():
            d = np.where(alive, dist, np.inf)
            best_t = np.full(n_tracks, np.inf)
            best_m = np.full(n_meas, np.inf)
            np.minimum.at(best_t, pairs.track, d)
            np.minimum.at(best_m, pairs.meas, d)
            take = alive & (d == best_t[pairs.track]) & (d == best_m[pairs.meas])
            chosen |= take
            done_t = np.zeros(n_tracks, dtype=np.bool_)
            done_m = np.zeros(n_meas, dtype=np.bool_)
            done_t[pairs.track[take]] = True
            done_m[pairs.meas[take]] = True
            alive &= ~(done_t[pairs.track] | done_m[pairs.meas])
        return np.flatnonzero(chosen).astype(np.intp)


def _tracker(predictor: Predictor[GaussianStates], associator: Associator) -> MultiTargetTracker:
    return MultiTargetTracker(
        predictor=predictor,
        updater=KalmanUpdater(),
        gate=ChiSquareGate(0.9997),
        associator=associator,
        initiator=MofNInitiator(m=1, n=1),  # confirmed at birth: the confirmed-track associator
        deleter=MissedScansDeleter(3),
    )


MODEL = LinearPosition(2, 2)


def _crossing_scans() -> list[Scan]:
    """Two tracks born at x = 0 and x = 10 m, then detections at x = 7 and 15 m (1 s later):
    the detection at 7 m is nearest to the track at 10 m."""
    return [
        Scan(0.0, np.array([[0.0, 0.0], [10.0, 0.0]]), R * np.eye(2), MODEL),
        Scan(1.0, np.array([[7.0, 0.0], [15.0, 0.0]]), R * np.eye(2), MODEL),
    ]


def test_user_predictor_gives_its_closed_form() -> None:
    """One target, detections at t = 0, 1, 3 s: the constant-position Kalman filter per axis is
    ``P⁻ = P + q dt``, ``K = P⁻ / (P⁻ + r)``, ``x += K (z - x)``, ``P = (1 - K) P⁻``."""
    pred = ConstantPositionPredictor()
    trk = _tracker(pred, GNNAssociator())
    times = [0.0, 1.0, 3.0]
    zs = [np.array([1.0, -2.0]), np.array([3.0, 0.0]), np.array([2.0, 1.0])]
    est = trk.run(
        [Scan(t, z[None, :], R * np.eye(2), MODEL) for t, z in zip(times, zs, strict=True)]
    )

    x, p = zs[0].copy(), R  # born at the first detection with P = R
    for k in (1, 2):
        p_pred = p + Q * (times[k] - times[k - 1])
        gain = p_pred / (p_pred + R)
        x = x + gain * (zs[k] - x)
        p = (1.0 - gain) * p_pred
    assert pred.calls == [1.0, 2.0]
    assert est[-1].track_id.tolist() == [1]
    np.testing.assert_allclose(est[-1].mean[0], x, rtol=1e-12)
    np.testing.assert_allclose(est[-1].covar[0], p * np.eye(2), rtol=1e-12)
    # by hand: P⁻ = 14, K = 7/9, x = 1 + 14/9 ...; then P⁻ = 28/9 + 20, K = 208/244
    np.testing.assert_allclose(p, (1 - 208 / 244) * 208 / 9, rtol=1e-12)

    # the built-in constant-velocity predictor on the same detections gives another answer
    cv = MultiTargetTracker(
        predictor=KalmanPredictor(ConstantVelocity(2, 1.0)),
        updater=KalmanUpdater(),
        initiator=MofNInitiator(m=1, n=1),
    )
    cv_est = cv.run(
        [
            Scan(t, z[None, :], R * np.eye(2), LinearPosition(4, 2))
            for t, z in zip(times, zs, strict=True)
        ]
    )
    assert np.abs(cv_est[-1].mean[0, :2] - x).max() > 0.1


def test_user_associator_changes_the_assignment_as_predicted() -> None:
    """Predicted tracks at x = 0 and 10 m (constant position, ``P⁻ = R + Q = 14`` m²), detections
    at 7 and 15 m; all four pairs are inside the chi-square gate (``S = 18``, largest
    ``d² = 225/18 = 12.5 < 16.2``). ``K = 14/18 = 7/9``.

    - built-in GNN (least summed ``d²``): 0 m ← 7 m, 10 m ← 15 m: ``x = 49/9`` and ``10 + 35/9``;
    - greedy nearest neighbour, 10 m limit: 10 m ← 7 m (3 m, the nearest pair) first; the 0 m
      track's only detection left is 15 m away, so it coasts at 0 with ``P = 14``, and the 15 m
      detection starts track 3.
    """
    k = 7.0 / 9.0
    gnn = _tracker(ConstantPositionPredictor(), GNNAssociator()).run(_crossing_scans())[-1]
    assert gnn.track_id.tolist() == [1, 2]
    np.testing.assert_allclose(gnn.mean[:, 0], [k * 7.0, 10.0 + k * 5.0], rtol=1e-12)
    np.testing.assert_allclose(gnn.mean[:, 1], 0.0, atol=1e-12)

    greedy = _tracker(ConstantPositionPredictor(), GreedyNearestNeighbour(10.0)).run(
        _crossing_scans()
    )[-1]
    assert greedy.track_id.tolist() == [1, 2, 3]
    np.testing.assert_allclose(greedy.mean[:, 0], [0.0, 10.0 - k * 3.0, 15.0], rtol=1e-12)
    np.testing.assert_allclose(greedy.covar[0], (R + Q) * np.eye(2), rtol=1e-12)  # coasted
    np.testing.assert_allclose(greedy.covar[1], (1 - k) * (R + Q) * np.eye(2), rtol=1e-12)
    np.testing.assert_allclose(greedy.covar[2], R * np.eye(2), rtol=1e-12)  # newborn

    # with no distance limit the greedy pass takes 0 m ← 15 m as well: still not GNN's answer
    loose = _tracker(ConstantPositionPredictor(), GreedyNearestNeighbour(1e9)).run(
        _crossing_scans()
    )[-1]
    np.testing.assert_allclose(loose.mean[:, 0], [k * 15.0, 10.0 - k * 3.0], rtol=1e-12)


def test_builtin_parts_are_instances_of_the_protocols() -> None:
    cv = ConstantVelocity(2, 1.0)
    imm = IMMPredictor((KalmanPredictor(cv), KalmanPredictor(cv)), np.full((2, 2), 0.5))
    for part in (KalmanPredictor(cv), ExtendedKalmanPredictor(cv), imm):
        assert isinstance(part, Predictor)
    for up in (KalmanUpdater(), ExtendedKalmanUpdater(), IMMUpdater()):
        assert isinstance(up, Updater)
    assert isinstance(ChiSquareGate(), Gate)
    assert isinstance(GNNAssociator(), Associator)
    assert isinstance(JPDAAssociator(), SoftAssociator)
    assert not isinstance(JPDAAssociator(), Associator)
    assert isinstance(MofNInitiator(), Initiator)
    for d in (MissedScansDeleter(), CovarianceDeleter(), AnyDeleter()):
        assert isinstance(d, Deleter)
    assert isinstance(ConstantPositionPredictor(), Predictor)
    assert isinstance(GreedyNearestNeighbour(1.0), Associator)


class _PredictOnly:
    def predict(self, states: GaussianStates, dt: float) -> GaussianStates:
        return states


class _NoUpdate:
    def predict_measurement(self) -> None: ...

    def innovations(self) -> None: ...


def test_a_part_missing_a_method_is_rejected_at_construction() -> None:
    with pytest.raises(
        TypeError,
        match=r"predictor _PredictOnly does not satisfy Predictor \(missing ndim_state, initial_states\)",
    ):
        MultiTargetTracker(predictor=_PredictOnly(), updater=KalmanUpdater())  # type: ignore[arg-type]
    pred = ConstantPositionPredictor()
    with pytest.raises(
        TypeError, match=r"updater _NoUpdate does not satisfy Updater \(missing update\)"
    ):
        MultiTargetTracker(predictor=pred, updater=_NoUpdate())  # type: ignore[arg-type]
    with pytest.raises(
        TypeError,
        match=r"associator object does not satisfy Associator \(missing associate\) "
        r"nor SoftAssociator \(missing weights\)",
    ):
        MultiTargetTracker(predictor=pred, updater=KalmanUpdater(), associator=object())  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"deleter GNNAssociator does not satisfy Deleter \(missing delete\)"
    ):
        MultiTargetTracker(predictor=pred, updater=KalmanUpdater(), deleter=GNNAssociator())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"initiator .* \(missing prior, confirm, reject\)"):
        MultiTargetTracker(predictor=pred, updater=KalmanUpdater(), initiator=MissedScansDeleter())  # type: ignore[arg-type]
