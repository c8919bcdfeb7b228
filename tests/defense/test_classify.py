"""The track classifier engine: features on hand-computed tracks, training, serialization."""

from __future__ import annotations

import json

import numpy as np
import pytest

from argus import geo
from argus.defense import classify as C
from argus.defense.classify import (
    CLASSES,
    FEATURE_NAMES,
    ModelFormatError,
    TrackWindow,
    TrainedClassifier,
    evaluate,
    features,
    metrics_from_labels,
    rcs_dbsm_from_snr,
    train,
)

COL = {name: j for j, name in enumerate(FEATURE_NAMES)}


def _window(t: np.ndarray, pos: np.ndarray, vel: np.ndarray, rcs: np.ndarray | None = None):
    k = t.size
    return TrackWindow(
        t[None].astype(float),
        pos[None].astype(float),
        vel[None].astype(float),
        (np.full(k, np.nan) if rcs is None else rcs)[None].astype(float),
        np.ones((1, k), dtype=bool),
    )


def _straight(lat: float = -25.0, lon: float = 135.0, alt: float = 5000.0):
    """A constant-velocity straight line in ECEF, east at 200 m/s from (lat, lon, alt)."""
    p0 = np.array(geo.geodetic_to_ecef(lat, lon, alt))
    e, n, u = geo.enu_axes(lat, lon)
    v = 200.0 * np.asarray(e)
    t = np.arange(10) * 5.0
    return t, p0 + t[:, None] * v, np.broadcast_to(v, (10, 3)).copy(), (e, n, u)


def test_constant_velocity_straight_track_has_no_acceleration_nor_turn():
    t, pos, vel, _ = _straight()
    f = features(_window(t, pos, vel))[0]
    assert f[COL["speed_mean_mps"]] == pytest.approx(200.0, abs=1e-9)
    assert f[COL["speed_max_mps"]] == pytest.approx(200.0, abs=1e-9)
    assert f[COL["speed_std_mps"]] == pytest.approx(0.0, abs=1e-9)
    assert f[COL["accel_mean_mps2"]] == 0.0
    assert f[COL["accel_max_mps2"]] == 0.0
    assert f[COL["turn_rate_max_rad_s"]] == pytest.approx(0.0, abs=1e-12)
    assert f[COL["n_valid"]] == 10
    assert f[COL["duration_s"]] == 45.0
    assert f[COL["alt_min_m"]] == pytest.approx(5000.0, abs=1e-3)
    # Level start: the vertical speed is 0 at the first sample (a straight line then rises
    # above the curved Earth: 9 km east gives a height gain of ~6 m).
    assert abs(f[COL["vertical_speed_mean_mps"]]) < 0.2
    assert np.isnan(f[COL["rcs_mean_dbsm"]])


def test_known_climb_gives_the_vertical_speed_and_flight_path_angle():
    lat, lon = 10.0, 20.0
    _e, n, u = geo.enu_axes(lat, lon)
    t = np.arange(6) * 2.0
    # Climb straight up along the local vertical at 30 m/s with 40 m/s north: the local
    # normal stays the same along the ellipsoid normal, so v·û is exactly 30 m/s.
    v = 30.0 * np.asarray(u) + 40.0 * np.asarray(n)
    p0 = np.array(geo.geodetic_to_ecef(lat, lon, 1000.0))
    pos = p0 + t[:, None] * 30.0 * np.asarray(u)  # position along the normal only
    f = features(_window(t, pos, np.broadcast_to(v, (6, 3)).copy()))[0]
    assert f[COL["vertical_speed_mean_mps"]] == pytest.approx(30.0, abs=1e-6)
    assert f[COL["ground_speed_mean_mps"]] == pytest.approx(40.0, abs=1e-6)
    assert f[COL["flight_path_angle_mean_rad"]] == pytest.approx(np.arctan2(30, 40), abs=1e-8)
    assert f[COL["alt_max_m"]] - f[COL["alt_min_m"]] == pytest.approx(300.0, abs=1e-3)
    assert f[COL["speed_mean_mps"]] == pytest.approx(50.0)


def test_constant_turn_and_acceleration():
    # A horizontal circle in the local tangent plane at omega = 0.05 rad/s, speed 100 m/s:
    # the velocity turns 0.05 rad/s, |dv/dt| by finite differences = 2 V sin(ω dt / 2) / dt.
    lat, lon = 0.0, 0.0
    e, n, _ = (np.asarray(a) for a in geo.enu_axes(lat, lon))
    w, speed, dt = 0.05, 100.0, 2.0
    t = np.arange(8) * dt
    vel = speed * (np.cos(w * t)[:, None] * e + np.sin(w * t)[:, None] * n)
    p0 = np.array(geo.geodetic_to_ecef(lat, lon, 3000.0))
    pos = p0 + (speed / w) * (np.sin(w * t)[:, None] * e + (1 - np.cos(w * t))[:, None] * n)
    f = features(_window(t, pos, vel))[0]
    assert f[COL["turn_rate_mean_rad_s"]] == pytest.approx(w, rel=1e-9)
    expected = 2 * speed * np.sin(w * dt / 2) / dt
    assert f[COL["accel_mean_mps2"]] == pytest.approx(expected, rel=1e-9)
    assert f[COL["speed_std_mps"]] == pytest.approx(0.0, abs=1e-9)


def test_energy_is_flat_for_a_free_fall_sample_and_rises_with_speed():
    t, pos, vel, (_e, _, _) = _straight()
    speed_up = vel * (1.0 + 0.01 * t)[:, None]  # accelerating at 2 m/s² along track
    f = features(_window(t, pos, speed_up))[0]
    assert f[COL["energy_slope_w_per_kg"]] > 300.0  # ~ v·a = 200 × 2 .. 290 × 2
    assert f[COL["accel_mean_mps2"]] == pytest.approx(2.0, rel=1e-9)


def test_padding_nan_and_very_short_tracks():
    t, pos, vel, _ = _straight()
    w = _window(t, pos, vel, rcs=np.full(10, 5.0))
    valid = np.ones((4, 10), dtype=bool)
    valid[1, :7] = False  # 3 samples
    valid[2, :9] = False  # 1 sample
    valid[3, :] = False  # none
    t4 = np.repeat(w.t_s, 4, axis=0)
    t4[1, :7] = np.nan  # garbage in padded columns must not matter
    pos4 = np.repeat(w.pos_ecef_m, 4, axis=0)
    pos4[2, :9] = 0.0
    rcs4 = np.repeat(w.rcs_dbsm, 4, axis=0)
    rcs4[0, 3] = np.nan  # unknown RCS of one update
    win = TrackWindow(t4, pos4, np.repeat(w.vel_ecef_mps, 4, axis=0), rcs4, valid)
    with np.errstate(all="raise"):
        f = features(win)
    assert f.shape == (4, len(FEATURE_NAMES))
    assert f[0, COL["rcs_mean_dbsm"]] == 5.0 and f[0, COL["rcs_std_db"]] == 0.0
    assert f[1, COL["n_valid"]] == 3 and f[1, COL["duration_s"]] == 10.0
    assert f[1, COL["speed_mean_mps"]] == pytest.approx(200.0)
    assert f[1, COL["accel_max_mps2"]] == 0.0
    assert f[2, COL["n_valid"]] == 1 and f[2, COL["speed_last_mps"]] == pytest.approx(200.0)
    assert np.isnan(f[2, COL["accel_mean_mps2"]]) and np.isnan(f[2, COL["energy_slope_w_per_kg"]])
    assert f[3, COL["n_valid"]] == 0
    assert np.isnan(np.delete(f[3], COL["n_valid"])).all()
    assert features(TrackWindow.empty(10)).shape == (0, len(FEATURE_NAMES))


def test_window_from_rows_left_pads_and_ends_where_asked():
    track = np.array([1, 0, 1, 1, 0])
    t = np.array([2.0, 5.0, 1.0, 3.0, 4.0])
    pos = np.arange(15.0).reshape(5, 3)
    w = TrackWindow.from_rows(track, t, pos, pos, t * 10, n_tracks=3, length=3)
    np.testing.assert_array_equal(w.valid, [[False, True, True], [True] * 3, [False] * 3])
    np.testing.assert_array_equal(w.t_s[0, 1:], [4.0, 5.0])
    np.testing.assert_array_equal(w.t_s[1], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(w.rcs_dbsm[1], [10.0, 20.0, 30.0])
    w2 = TrackWindow.from_rows(track, t, pos, pos, None, 3, 3, end_row=[0, 1, 0])
    np.testing.assert_array_equal(
        w2.valid, [[False, False, True], [False, True, True], [False] * 3]
    )
    np.testing.assert_array_equal(w2.t_s[1, 1:], [1.0, 2.0])
    assert np.isnan(w2.rcs_dbsm).all()
    with pytest.raises(ValueError, match="end_row"):
        TrackWindow.from_rows(track, t, pos, pos, None, 3, 3, end_row=[0, 3, 0])


def test_rcs_from_snr_inverts_the_radar_equation():
    c_db = C.radar_constant_db(1e6, 40.0, 3e9, 4.0, 1e6, 6.0, 15.0)
    rcs, r = 0.5, 150e3
    snr_lin = 10 ** (c_db / 10) * rcs / r**4
    got = rcs_dbsm_from_snr(10 * np.log10(snr_lin), r, c_db, subtract_noise=False)
    assert got == pytest.approx(10 * np.log10(rcs), abs=1e-9)
    got = rcs_dbsm_from_snr(10 * np.log10(snr_lin + 1.0), r, c_db)  # mean of |x|²/N
    assert got == pytest.approx(10 * np.log10(rcs), abs=1e-9)
    assert np.isnan(rcs_dbsm_from_snr(np.nan, r, c_db))


def _toy_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.array(CLASSES)[rng.integers(0, 5, n)]
    x = rng.standard_normal((n, len(FEATURE_NAMES)))
    code = np.searchsorted(np.array(sorted(CLASSES)), y)  # any informative mapping
    x[:, COL["speed_mean_mps"]] += 3 * code
    x[rng.uniform(size=x.shape) < 0.05] = np.nan
    return x, y


@pytest.fixture(scope="module")
def toy_model() -> tuple[TrainedClassifier, np.ndarray, np.ndarray]:
    x, y = _toy_data(400, 0)
    return train(x, y, seed=3, n_estimators=20), *_toy_data(300, 1)


def test_train_predict_evaluate(toy_model):
    model, x, y = toy_model
    labels, conf = model.predict(x)
    assert labels.shape == conf.shape == (300,)
    assert set(labels.tolist()) <= set(CLASSES)
    assert np.all((conf >= 0.2) & (conf <= 1.0))
    m = evaluate(model, x, y)
    assert m.accuracy > 0.8  # chance is 0.2
    assert m.confusion.sum() == m.n == 300
    assert m.classes == CLASSES
    assert m.recall == pytest.approx(np.diag(m.confusion) / m.confusion.sum(axis=1))
    json.dumps(m.as_dict())


def test_metrics_from_labels_by_hand():
    m = metrics_from_labels(
        ["drone", "drone", "clutter", "aircraft"], ["drone", "clutter", "clutter", "drone"]
    )
    assert m.accuracy == 0.5
    d, c, a = CLASSES.index("drone"), CLASSES.index("clutter"), CLASSES.index("aircraft")
    assert m.recall[d] == 0.5 and m.precision[d] == 0.5 and m.precision[c] == 0.5
    assert m.recall[a] == 0.0 and np.isnan(m.recall[CLASSES.index("cruise_missile")])


def test_bytes_round_trip_predicts_identically(toy_model):
    model, x, _ = toy_model
    data = model.to_bytes()
    header = TrainedClassifier.read_header(data)
    assert header["format"] == C.FORMAT_VERSION and header["classes"] == list(CLASSES)
    back = TrainedClassifier.from_bytes(data)
    np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))
    assert back.predict(x)[0].tolist() == model.predict(x)[0].tolist()


def test_corrupted_or_foreign_bytes_are_refused(toy_model):
    model, _, _ = toy_model
    data = bytearray(model.to_bytes())
    data[-10] ^= 0xFF
    with pytest.raises(ModelFormatError, match=r"corrupted.*argus models train-classifier"):
        TrainedClassifier.from_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="argus models train-classifier"):
        TrainedClassifier.from_bytes(b"not a model")


def _with_header(data: bytes, **changes: object) -> bytes:
    header = TrainedClassifier.read_header(data)
    header.update(changes)
    payload = data[data.index(b"\n") + 1 :]
    return C._MAGIC + b" " + json.dumps(header).encode() + b"\n" + payload


def test_other_sklearn_or_format_version_is_refused(toy_model):
    model, _, _ = toy_model
    data = model.to_bytes()
    with pytest.raises(ModelFormatError, match=r"scikit-learn 0\.99\.0.*train-classifier"):
        TrainedClassifier.from_bytes(_with_header(data, sklearn="0.99.0"))
    with pytest.raises(ModelFormatError, match=r"format 99.*train-classifier"):
        TrainedClassifier.from_bytes(_with_header(data, format=99))


def test_bad_inputs_name_the_problem():
    x, y = _toy_data(50, 2)
    with pytest.raises(ValueError, match="unknown class"):
        train(x, np.where(y == "drone", "ufo", y))
    with pytest.raises(ValueError, match="X: expected shape"):
        train(x[:, :3], y)
