"""Simulated training tracks for the classifier: classes, determinism, and a trained model that
beats chance on held-out tracks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from argus.defense.classify import CLASSES, FEATURE_NAMES, evaluate, features, train
from argus.scenario import training
from argus.scenario.training import (
    DEFAULT_RADAR,
    radar_constant_of,
    simulate_training_tracks,
    simulate_training_tracks_detailed,
)
from argus.sim.catalogue import load_catalogue


def test_radar_constant_matches_the_radar_model():
    assert radar_constant_of(DEFAULT_RADAR) == pytest.approx(
        10 * math.log10(DEFAULT_RADAR.snr(1.0, 1.0)), abs=1e-9
    )


def test_the_catalogue_has_every_threat_class():
    kinds = {training.KIND_TO_CLASS[t.kind] for t in load_catalogue().values()}
    assert kinds | {"clutter"} == set(CLASSES)


N = 30


@pytest.fixture(scope="module")
def small_sets():
    train_set = simulate_training_tracks_detailed(N, seed=5, window=12)
    test_set = simulate_training_tracks_detailed(N, seed=6, window=12)
    return train_set, test_set


@pytest.mark.slow
def test_windows_have_every_class_and_plausible_kinematics(small_sets):
    tr, _ = small_sets
    assert tr.window.length == 12
    counts = {c: int(np.sum(tr.labels == c)) for c in CLASSES}
    assert counts == dict.fromkeys(CLASSES, N)
    assert tr.purity.min() >= training.MIN_PURITY
    x = features(tr.window)
    col = {n: j for j, n in enumerate(FEATURE_NAMES)}
    speed = {c: np.nanmedian(x[tr.labels == c, col["speed_mean_mps"]]) for c in CLASSES}
    assert speed["ballistic_missile"] > 500 > speed["aircraft"] > speed["drone"]
    assert speed["clutter"] < speed["cruise_missile"]
    rcs = {c: np.nanmedian(x[tr.labels == c, col["rcs_mean_dbsm"]]) for c in CLASSES}
    assert rcs["aircraft"] > rcs["cruise_missile"] > rcs["clutter"]  # 3 m², 0.1 m², < 0.03 m²
    # Early-track windows are there too (left padding).
    assert (~tr.window.valid[:, 0]).mean() > 0.1


@pytest.mark.slow
def test_deterministic_for_a_seed(small_sets):
    tr, _ = small_sets
    again = simulate_training_tracks(N, seed=5, window=12)
    np.testing.assert_array_equal(again[1], tr.labels)
    np.testing.assert_array_equal(again[0].t_s, tr.window.t_s)
    np.testing.assert_array_equal(again[0].pos_ecef_m, tr.window.pos_ecef_m)


@pytest.mark.slow
def test_trained_model_beats_chance_on_held_out_tracks(small_sets):
    tr, te = small_sets
    model = train(features(tr.window), tr.labels, seed=0, n_estimators=100)
    m = evaluate(model, features(te.window), te.labels)
    # Chance (and a constant model) is 20 %.
    assert m.accuracy > 0.75
    assert np.nanmin(m.recall) > 0.4


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_per_class"):
        simulate_training_tracks(0, seed=1)
    with pytest.raises(ValueError, match="window"):
        simulate_training_tracks(5, seed=1, window=1)
