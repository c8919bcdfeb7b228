"""Track management (M-of-N, deletion, ids) and the assembled tracker end to end."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from argus.tracking.association import GNNAssociator, JPDAAssociator
from argus.tracking.filters import (
    ExtendedKalmanPredictor,
    ExtendedKalmanUpdater,
    IMMPredictor,
    IMMUpdater,
    KalmanPredictor,
    KalmanUpdater,
)
from argus.tracking.gating import ChiSquareGate
from argus.tracking.management import (
    AnyDeleter,
    CovarianceDeleter,
    MissedScansDeleter,
    MofNInitiator,
    TrackStatus,
)
from argus.tracking.metrics import ospa, siap_measures
from argus.tracking.models import (
    CombinedTransition,
    ConstantVelocity,
    CoordinatedTurn,
    LinearPosition,
    RandomWalk,
    enu_to_rae,
)
from argus.tracking.simulate import position_scans, simulate_cv_scenario
from argus.tracking.tracker import (
    MultiTargetTracker,
    Scan,
    make_cv_tracker,
    scans_from_arrays,
    track_detections,
)

R2 = 25.0 * np.eye(2)


def _tracker(m: int, n: int, max_misses: int = 3, **kw) -> MultiTargetTracker:  # type: ignore[no-untyped-def]
    return MultiTargetTracker(
        predictor=KalmanPredictor(ConstantVelocity(2, 0.5)),
        updater=KalmanUpdater(),
        initiator=MofNInitiator(m, n, unmeasured_sigma=30.0),
        deleter=MissedScansDeleter(max_misses),
        **kw,
    )


def _one_target_scans(pattern: str, dt: float = 1.0) -> list[Scan]:
    """A target at (10 t, 0) m; 'H' = detected, 'M' = missed."""
    model = LinearPosition(4, 2)
    scans = []
    for k, c in enumerate(pattern):
        z = np.array([[10.0 * k * dt, 0.0]]) if c == "H" else np.zeros((0, 2))
        scans.append(Scan(k * dt, z, R2, model))
    return scans


def _confirmed_at(tracker: MultiTargetTracker, pattern: str) -> list[list[int]]:
    return [e.track_id.tolist() for e in tracker.run(_one_target_scans(pattern))]


@pytest.mark.parametrize(
    ("m", "n", "pattern", "expected"),
    [
        (2, 3, "HH", [[], [1]]),
        (2, 3, "HMH", [[], [], [1]]),
        # H M M: rejected at the 3rd scan (1 hit, no scans left); the next H starts track 2
        (2, 3, "HMMHH", [[], [], [], [], [2]]),
        (3, 5, "HMHMH", [[], [], [], [], [1]]),
        (3, 5, "HMHMM", [[], [], [], [], []]),
        (1, 1, "H", [[1]]),
    ],
)
def test_m_of_n_confirmation_timing(
    m: int, n: int, pattern: str, expected: list[list[int]]
) -> None:
    assert _confirmed_at(_tracker(m, n), pattern) == expected


def test_tentative_tracks_are_reported_on_request_and_rejected_in_time() -> None:
    trk = _tracker(2, 3, report_tentative=True)
    out = trk.run(_one_target_scans("HMMM"))
    assert [e.track_id.tolist() for e in out] == [[1], [1], [], []]
    assert out[0].status.tolist() == [TrackStatus.TENTATIVE]


def test_confirmed_track_deleted_after_max_misses() -> None:
    out = _tracker(2, 3, max_misses=3).run(_one_target_scans("HHHMMMH"))
    ids = [e.track_id.tolist() for e in out]
    assert ids[:5] == [[], [1], [1], [1], [1]]
    assert ids[5] == []  # third consecutive miss
    assert ids[6] == []  # the new detection starts tentative track 2
    assert len(out[6]) == 0 and out[6].time == 6.0


def _covered_scans(pattern: str) -> list[Scan]:
    """Like ``_one_target_scans``, with 'o' = a scan whose coverage excludes every track (the
    beam was elsewhere) and no detection."""
    scans = _one_target_scans(pattern.replace("o", "M"))
    nowhere = lambda mean: np.zeros(len(mean), dtype=bool)  # noqa: E731
    return [
        Scan(s.time, s.z, s.covar, s.model, coverage=nowhere) if c == "o" else s
        for s, c in zip(scans, pattern, strict=True)
    ]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # without coverage the two empty scans are misses: rejected, then track 2 starts
        ("HMMHH", [[], [], [], [], [2]]),
        # the same scans outside the beam are no scans at all: H o o H confirms track 1
        ("HooH", [[], [], [], [1]]),
        # a confirmed track outside coverage neither misses nor is deleted …
        ("HH" + "o" * 10 + "H", [[], [1]] + [[1]] * 11),
        # … while the same empty scans inside coverage delete it at the third miss
        ("HHMMMH", [[], [1], [1], [1], [], []]),
    ],
)
def test_scans_outside_coverage_neither_miss_nor_age(pattern: str, expected: list) -> None:
    trk = _tracker(2, 3, max_misses=3)
    assert [e.track_id.tolist() for e in trk.run(_covered_scans(pattern))] == expected


def test_coverage_must_flag_every_track() -> None:
    trk = _tracker(2, 3)
    trk.run(_one_target_scans("HH"))
    bad = Scan(2.0, np.zeros((0, 2)), R2, LinearPosition(4, 2), coverage=lambda m: np.ones(3, bool))
    with pytest.raises(ValueError, match="3 flags for 1 tracks"):
        trk.step(bad)


def test_covariance_deleter() -> None:
    trk = _tracker(2, 3, max_misses=100)
    trk.deleter = AnyDeleter((MissedScansDeleter(100), CovarianceDeleter(2 * 60.0**2, 2)))
    out = trk.run(_one_target_scans("HHH" + "M" * 20))
    alive = [len(e) for e in out]
    assert alive[2] == 1 and alive[-1] == 0
    gone = alive.index(0, 3)
    # deleted at the first scan where the position variance trace exceeds the bound
    assert 3 < gone < 23


def test_track_ids_are_stable_and_never_reused() -> None:
    """Ten well-separated targets, P_D 0.9, light clutter: every truth keeps one track id for
    the whole run, and ids are never handed out twice."""
    sim = simulate_cv_scenario(
        n_initial=10,
        birth_rate=0.0,
        n_steps=60,
        dt=2.0,
        half_width=20_000.0,
        speed_sigma=30.0,
        detection_probability=0.9,
        clutter_rate=3.0,
        measurement_sigma=10.0,
        seed=7,
    )
    trk = make_cv_tracker(2, 1.0, "continuous", velocity_sigma=60.0, m=2, n=3, max_misses=4)
    est = trk.run(position_scans(sim))
    res = siap_measures(
        [s.truth_id for s in sim],
        [s.truth_pos for s in sim],
        [e.track_id for e in est],
        [e.mean[:, :2] for e in est],
        max_distance=60.0,
    )
    assert res.id_changes == 0
    assert res.completeness > 0.95
    assert res.spuriousness < 0.05
    ever = np.concatenate([e.track_id for e in est])
    assert len(np.unique(ever)) <= 12
    assert trk.table.next_id > ever.max()


def _bench_like(seed: int, n: int = 100, clutter: float = 50.0):  # type: ignore[no-untyped-def]
    return simulate_cv_scenario(
        n_initial=n,
        birth_rate=0.3,
        n_steps=25,
        dt=5.0,
        half_width=50_000.0,
        speed_sigma=50.0,
        noise_intensity=1.0,
        detection_probability=0.9,
        clutter_rate=clutter,
        measurement_sigma=20.0,
        seed=seed,
    )


def _scores(sim, est) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    o = np.mean(
        [
            ospa(s.truth_pos, e.mean[:, :2], 100.0, 1.0)
            for s, e in zip(sim[3:], est[3:], strict=True)
        ]
    )
    r = siap_measures(
        [s.truth_id for s in sim[3:]],
        [s.truth_pos for s in sim[3:]],
        [e.track_id for e in est[3:]],
        [e.mean[:, :2] for e in est[3:]],
        100.0,
    )
    return float(o), r.completeness, r.spuriousness


@pytest.mark.parametrize("associator", ["gnn", "jpda"])
def test_tracker_on_cluttered_scenario(associator: str) -> None:
    sim = _bench_like(1)
    assoc = (
        GNNAssociator()
        if associator == "gnn"
        else JPDAAssociator(0.9, clutter_density=50.0 / (100_000.0**2))
    )
    trk = make_cv_tracker(
        2, 1.0, "continuous", associator=assoc, velocity_sigma=50.0, m=3, n=4, max_misses=3
    )
    est = trk.run(position_scans(sim))
    o, completeness, spurious = _scores(sim, est)
    # OSPA (c = 100 m, p = 1) is mostly the localisation error of 20 m measurements here
    assert o < 25.0
    assert completeness > 0.98
    assert spurious < 0.01


def test_imm_tracker_follows_turning_targets() -> None:
    """Targets in 3 °/s turns, assembled IMM(CV + CT) tracker vs a CV tracker: same detections."""
    rng = np.random.default_rng(9)
    n_t, steps, dt, sig = 20, 40, 2.0, 30.0
    ct = CoordinatedTurn(2, 0.0, 0.0)
    x = np.column_stack(
        [
            rng.uniform(-3e4, 3e4, (n_t, 2)),
            rng.normal(0, 150, (n_t, 2)),
            rng.choice([-1, 1], n_t) * np.deg2rad(3.0),
        ]
    )
    model = LinearPosition(5, 2)
    scans, truth = [], []
    for k in range(steps):
        truth.append(x[:, :2].copy())
        scans.append(
            Scan(k * dt, x[:, :2] + rng.normal(0, sig, (n_t, 2)), sig**2 * np.eye(2), model)
        )
        x = ct.function(x, dt)
    cv_mode = CombinedTransition((ConstantVelocity(2, 0.5), RandomWalk(1, 1e-4)))
    imm = MultiTargetTracker(
        predictor=IMMPredictor(
            (
                ExtendedKalmanPredictor(cv_mode),
                ExtendedKalmanPredictor(CoordinatedTurn(2, 0.5, 0.01)),
            ),
            np.array([[0.95, 0.05], [0.05, 0.95]]),
        ),
        updater=IMMUpdater(ExtendedKalmanUpdater()),
        initiator=MofNInitiator(2, 3, unmeasured_sigma=[200.0, 200.0, 0.05]),
    )
    cv = MultiTargetTracker(
        predictor=KalmanPredictor(
            CombinedTransition((ConstantVelocity(2, 0.5), RandomWalk(1, 0.0)))
        ),
        updater=KalmanUpdater(),
        initiator=MofNInitiator(2, 3, unmeasured_sigma=[200.0, 200.0, 0.05]),
    )
    o_imm = np.mean(
        [
            ospa(t, e.mean[:, :2], 200.0, 1.0)
            for t, e in zip(truth[5:], imm.run(scans)[5:], strict=True)
        ]
    )
    o_cv = np.mean(
        [
            ospa(t, e.mean[:, :2], 200.0, 1.0)
            for t, e in zip(truth[5:], cv.run(scans)[5:], strict=True)
        ]
    )
    assert o_imm < 30.0
    assert o_imm < 0.5 * o_cv


def _two_radar_detections(seed: int):  # type: ignore[no-untyped-def]
    """Five CV targets seen by two radars 60 km apart, scans every 4 s offset by 2 s."""
    rng = np.random.default_rng(seed)
    sites = np.array([[-30_000.0, 0.0, 10.0], [30_000.0, 0.0, 50.0]])
    sig = np.array([25.0, 1.5e-3, 1.5e-3])
    n_t = 5
    p0 = np.column_stack([rng.uniform(-2e4, 2e4, (n_t, 2)), rng.uniform(3e3, 9e3, n_t)])
    v = np.column_stack([rng.normal(0, 150, (n_t, 2)), np.zeros(n_t)])
    rows_t, rows_z, rows_s, truth = [], [], [], {}
    for k in range(30):
        for s, offset in ((0, 0.0), (1, 2.0)):
            t = 4.0 * k + offset
            pos = p0 + v * t
            truth[t] = pos
            z = enu_to_rae(pos - sites[s]) + rng.normal(0, 1, (n_t, 3)) * sig
            rows_t.append(np.full(n_t, t))
            rows_z.append(z)
            rows_s.append(np.broadcast_to(sites[s], (n_t, 3)))
    time = np.concatenate(rows_t)
    z = np.concatenate(rows_z)
    site = np.concatenate(rows_s)
    perm = rng.permutation(len(time))  # arrays need not come sorted
    return time[perm], z[perm], site[perm], np.diag(sig**2), truth


def _history_rmse(hist, truth) -> float:  # type: ignore[no-untyped-def]
    errs = []
    for t, pos in truth.items():
        if t < 20:
            continue
        est = hist.mean[hist.time == t][:, :3]
        if len(est):
            d = np.linalg.norm(pos[:, None] - est[None], axis=-1)
            errs.append(d.min(axis=1))
    return float(np.sqrt(np.mean(np.concatenate(errs) ** 2)))


@pytest.mark.parametrize("kind", ["rae", "converted"])
def test_multi_radar_fusion_in_time_order(kind: str) -> None:
    time, z, site, r, truth = _two_radar_detections(3)
    fused = track_detections(
        time, z, r, site, kind=kind, tracker=make_cv_tracker(3, 0.5, velocity_sigma=200.0)
    )
    assert np.all(np.diff(fused.time) >= 0)
    assert set(np.unique(fused.time).tolist()) >= {t for t in truth if t >= 20}
    # five confirmed tracks at the end, stable ids
    last = fused.track_id[fused.time == fused.time.max()]
    assert len(last) == 5
    one = site[:, 0] < 0
    single = track_detections(
        time[one],
        z[one],
        r,
        site[one],
        kind=kind,
        tracker=make_cv_tracker(3, 0.5, velocity_sigma=200.0),
    )
    truth_one = {t: p for t, p in truth.items() if t % 4 == 0}
    rmse_fused = _history_rmse(fused, truth_one)
    rmse_single = _history_rmse(single, truth_one)
    assert rmse_fused < rmse_single
    assert rmse_fused < 40.0


def test_scans_from_arrays_groups_and_validates() -> None:
    time = np.array([2.0, 1.0, 1.0, 2.0])
    z = np.array([[1e4, 0.1, 0.05]] * 4)
    site = np.array([[0.0, 0, 0], [0, 0, 0], [5.0, 0, 0], [0, 0, 0]])
    scans = scans_from_arrays(time, z, np.eye(3) * 1e-4, site)
    assert [(s.time, len(s.z)) for s in scans] == [(1.0, 1), (1.0, 1), (2.0, 2)]
    pos = scans_from_arrays(time, z, np.eye(3), kind="position")
    assert [len(s.z) for s in pos] == [2, 2]
    with pytest.raises(ValueError, match="site_enu"):
        scans_from_arrays(time, z, np.eye(3))
    with pytest.raises(ValueError, match="kind"):
        scans_from_arrays(time, z, np.eye(3), kind="polar")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"time\[1\]"):
        scans_from_arrays(np.array([1.0, np.nan]), z[:2], np.eye(3), kind="position")


def test_tracker_rejects_out_of_order_scans_and_bad_models() -> None:
    trk = _tracker(2, 3)
    model = LinearPosition(4, 2)
    trk.step(Scan(5.0, np.array([[0.0, 0.0]]), R2, model))
    with pytest.raises(ValueError, match="time order"):
        trk.step(Scan(4.0, np.array([[0.0, 0.0]]), R2, model))
    with pytest.raises(ValueError, match="state components"):
        trk.step(Scan(6.0, np.array([[0.0, 0.0]]), R2, LinearPosition(6, 2)))
    with pytest.raises(TypeError, match="IMM"):
        MultiTargetTracker(
            predictor=IMMPredictor(
                (KalmanPredictor(ConstantVelocity(2)), KalmanPredictor(ConstantVelocity(2))),
                np.eye(2),
            ),
            updater=IMMUpdater(),
            associator=JPDAAssociator(),
        )


def test_tracking_engine_imports_no_upper_layer() -> None:
    code = (
        "import sys, argus.tracking.tracker, argus.tracking.metrics, argus.tracking.simulate;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('sqlalchemy','fastapi','celery')"
        " or m.startswith(('argus.db','argus.api','argus.pipeline','argus.jobs','argus.cli'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_gate_and_tracker_handle_empty_scans() -> None:
    trk = _tracker(2, 3)
    model = LinearPosition(4, 2)
    assert len(trk.step(Scan(0.0, np.zeros((0, 2)), R2, model))) == 0
    assert len(trk.step(Scan(1.0, np.zeros((0, 2)), R2, model))) == 0
    g = ChiSquareGate()
    t, m = g.candidates(
        np.zeros((0, 4)), np.zeros((0, 4, 4)), model, np.zeros((3, 2)), np.zeros((3, 2, 2))
    )
    assert t.size == m.size == 0
