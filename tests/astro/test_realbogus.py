"""Real/bogus features and model: closed-form feature values, held-out separation a random
or constant scorer cannot reach, thresholds, blob round trip and refusal, the ROC plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.astro.rbsim import STAMP
from argus.astro.realbogus import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    HELDOUT_SEED_OFFSET,
    ModelFormatError,
    RealBogusModel,
    evaluate_scores,
    features,
    roc_plot,
    threshold_at_fpr,
    threshold_at_tpr,
    train_real_bogus,
)

C = STAMP // 2


def _gauss_stamp(amp: float, sigma: float, x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    k = np.arange(STAMP) - C
    yy, xx = np.meshgrid(k, k, indexing="ij")
    return amp * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2))


def _triplet(
    diff: np.ndarray, sci: np.ndarray | None = None, ref: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(3, STAMP, STAMP))
    out = noise.copy()
    out[2] += diff
    if sci is not None:
        out[0] += sci
    if ref is not None:
        out[1] += ref
    return out[None]


def _col(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_feature_names_unique_and_matrix_shape() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == 65
    x = features(np.concatenate([_triplet(np.zeros((STAMP, STAMP)), seed=s) for s in range(3)]))
    assert x.shape == (3, len(FEATURE_NAMES)) and np.isfinite(x).all()


def test_matched_filter_snr_of_a_known_gaussian() -> None:
    sigma = 1.6
    g = _gauss_stamp(1.0, sigma)
    # amplitude giving matched-filter SNR 25 in unit noise: A * ||g||
    amp = 25.0 / np.sqrt((g[C - 7 : C + 8, C - 7 : C + 8] ** 2).sum())
    snrs = [features(_triplet(amp * g, seed=s))[0, _col("d_mf_snr_s1.6")] for s in range(20)]
    assert np.mean(snrs) == pytest.approx(25.0, abs=0.8)  # MAD-normalised noise ~1
    assert np.std(snrs) == pytest.approx(1.0, abs=0.5)
    # the best of the Gaussian widths is the true one, and the PSF fit's chi^2 is ~1
    x = features(_triplet(amp * g, seed=1))[0]
    assert x[_col("d_best_width")] == 1.6
    assert x[_col("d_chi2_s1.6")] == pytest.approx(1.0, abs=0.25)
    assert x[_col("d_chi2_s0.6")] > 2.0


def test_dipole_ring_and_sharp_features_respond_to_their_artifact() -> None:
    g_plus = _gauss_stamp(30.0, 1.6, x0=0.5)
    g_minus = _gauss_stamp(30.0, 1.6, x0=-0.5)
    dipole = features(_triplet(g_plus - g_minus))[0]
    point = features(_triplet(_gauss_stamp(30.0, 1.6)))[0]
    assert dipole[_col("basis_grad_over_psf")] > 5 * point[_col("basis_grad_over_psf")]
    assert dipole[_col("d_trough")] < -5 and point[_col("d_trough")] > -4
    assert dipole[_col("d_peak_trough_dist")] >= 1.0
    # a ring (narrow positive core, wider negative annulus) loads the Laplacian term
    ring = _gauss_stamp(40.0, 1.2) - _gauss_stamp(40.0 * (1.2 / 2.0) ** 2, 2.0)
    r = features(_triplet(ring))[0]
    assert abs(r[_col("basis_lap_over_psf")]) > 3 * abs(point[_col("basis_lap_over_psf")])
    # a hot pixel in the science image: sharp, and a large Laplacian
    hot = np.zeros((STAMP, STAMP))
    hot[C, C] = 60.0
    h = features(_triplet(np.zeros((STAMP, STAMP)), sci=hot))[0]
    assert h[_col("sci_sharpness")] > 40 and point[_col("sci_sharpness")] < 5
    assert h[_col("sci_laplacian")] > 200


def test_nearest_reference_source_distance() -> None:
    star = _gauss_stamp(50.0, 1.5, x0=6.0, y0=8.0)
    x = features(_triplet(np.zeros((STAMP, STAMP)), ref=star))[0]
    assert x[_col("ref_nearest_dist")] == pytest.approx(10.0, abs=0.01)
    assert x[_col("ref_nearest_peak")] > 40
    empty = features(_triplet(np.zeros((STAMP, STAMP))))[0]
    assert empty[_col("ref_nearest_dist")] == STAMP


def test_nan_padded_edge_triplet_scores_finite(rb_trained: Any) -> None:
    model, _ = rb_trained
    t = _triplet(_gauss_stamp(10.0, 1.6))
    t[:, :, :, :20] = np.nan
    x = features(t)
    assert np.isfinite(x).all()
    assert x[0, _col("valid_fraction")] == pytest.approx(43 / 63)
    s = model.score(t)
    assert 0.0 <= s[0] <= 1.0


@pytest.mark.parametrize(
    ("arr", "message"),
    [
        (np.zeros((2, 2, 63, 63)), r"expected shape \(n, 3, size, size\)"),
        (np.zeros((2, 3, 10, 10)), "stamps must be odd"),
    ],
)
def test_bad_triplets_refused(arr: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        features(arr)


def test_all_nan_stamp_names_its_row() -> None:
    t = np.concatenate([_triplet(np.zeros((STAMP, STAMP)), seed=s) for s in range(3)])
    t[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2 has a stamp with no finite pixel"):
        features(t)


def test_held_out_separation_beats_random_and_constant(rb_trained: Any, rb_fresh_set: Any) -> None:
    model, metrics = rb_trained
    # the held-out split of training: a random scorer has TPR ~= FPR = 1 %, a constant one 0
    assert metrics["auc"] > 0.98
    assert metrics["tpr_at_fpr"] > 0.80
    assert metrics["fpr_at_threshold"] <= 0.01
    assert metrics["n_train"] + metrics["n_test"] == 2400
    assert set(metrics["rejection_by_kind"]) == {
        "cosmic_ray", "bad_subtraction", "dipole", "hot_pixel", "noise",
    }  # fmt: skip
    # and on candidates of another seed, at the threshold set on the held-out split
    s = model.score(rb_fresh_set.triplets)
    thr = model.threshold_at_fpr(0.01)
    real, bogus = s[rb_fresh_set.label == 1], s[rb_fresh_set.label == 0]
    assert (real >= thr).mean() > 0.80
    assert (bogus >= thr).mean() < 0.03
    # bright reals are all but certain
    bright = (rb_fresh_set.label == 1) & (rb_fresh_set.snr > 15)
    assert (s[bright] >= thr).mean() > 0.9
    rng = np.random.default_rng(0)
    rand = evaluate_scores(rb_fresh_set.label, rng.random(s.size))
    const = evaluate_scores(rb_fresh_set.label, np.full(s.size, 0.5))
    assert rand["tpr_at_fpr"] < 0.1 and const["tpr_at_fpr"] == 0.0


def test_threshold_at_fpr_is_honoured_and_monotone(rb_trained: Any) -> None:
    model, _ = rb_trained
    b = model.heldout_bogus_scores
    prev = -1.0
    for fpr in (0.2, 0.05, 0.01, 0.0):
        thr = model.threshold_at_fpr(fpr)
        assert (b >= thr).mean() <= fpr + 1e-12
        assert thr >= prev
        prev = thr
    assert model.threshold_at_fpr(1.0) == 0.0
    with pytest.raises(ValueError, match="fpr"):
        model.threshold_at_fpr(1.5)


def test_evaluate_scores_hand_computed() -> None:
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.85, 0.6, 0.5, 0.4, 0.3, 0.3, 0.2, 0.1, 0.1, 0.0])
    m = evaluate_scores(y, s, fpr=0.1, kind=["real"] * 4 + ["a"] * 5 + ["b"] * 5)
    # 10 bogus, 10 % allows one false positive: threshold just above the 2nd-highest bogus
    assert m["threshold"] == pytest.approx(0.6) and m["threshold"] > 0.6
    assert m["confusion"] == {"tp": 3, "fn": 1, "fp": 1, "tn": 9}
    assert m["tpr_at_fpr"] == 0.75 and m["fpr_at_threshold"] == 0.1
    assert m["rejection_by_kind"]["a"]["rejected"] == 0.8
    assert m["rejection_by_kind"]["b"]["rejected"] == 1.0
    # 99 % TPR keeps the lowest real (0.2): bogus >= 0.2 are 0.85, 0.6, 0.5, 0.4, 0.3, 0.3, 0.2
    assert m["fpr_at_tpr_99"] == pytest.approx(0.7)
    # AUC by counting pairs: P(real > bogus) + 0.5 P(tie)
    pairs = [(r > b) + 0.5 * (r == b) for r in s[y == 1] for b in s[y == 0]]
    assert m["auc"] == pytest.approx(np.mean(pairs))
    with pytest.raises(ValueError, match="both real"):
        evaluate_scores(np.ones(3), np.ones(3))


def test_blob_round_trip_keeps_scores(rb_trained: Any, rb_fresh_set: Any) -> None:
    model, metrics = rb_trained
    blob = model.to_bytes()
    back = RealBogusModel.from_bytes(blob)
    t = rb_fresh_set.triplets[:50]
    np.testing.assert_array_equal(back.score(t), model.score(t))
    assert back.metrics == metrics and back.threshold_at_fpr(0.01) == model.threshold_at_fpr(0.01)
    header = RealBogusModel.read_header(blob)
    assert header["feature_version"] == FEATURE_VERSION and header["features"] == list(
        FEATURE_NAMES
    )


def _with_header(blob: bytes, **changes: Any) -> bytes:
    header = RealBogusModel.read_header(blob)
    header.update(changes)
    rest = blob[blob.index(b"\n") :]
    return b"ARGUS-REAL-BOGUS " + json.dumps(header).encode() + rest


def test_blob_of_another_feature_version_refused(rb_trained: Any) -> None:
    blob = rb_trained[0].to_bytes()
    with pytest.raises(ModelFormatError, match=r"feature version 0.*argus astro train"):
        RealBogusModel.from_bytes(_with_header(blob, feature_version=0))
    with pytest.raises(ModelFormatError, match="feature list differs"):
        RealBogusModel.from_bytes(_with_header(blob, features=["d_peak"]))
    with pytest.raises(ModelFormatError, match=r"scikit-learn 0\.1\.0"):
        RealBogusModel.from_bytes(_with_header(blob, sklearn="0.1.0"))
    with pytest.raises(ModelFormatError, match="format 9"):
        RealBogusModel.from_bytes(_with_header(blob, format=9))


def test_corrupted_or_foreign_blob_refused(rb_trained: Any) -> None:
    blob = rb_trained[0].to_bytes()
    flipped = blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:]
    with pytest.raises(ModelFormatError, match="corrupted"):
        RealBogusModel.from_bytes(flipped)
    with pytest.raises(ModelFormatError, match="not an Argus real/bogus model"):
        RealBogusModel.from_bytes(b"\x80\x04 some pickle")


def test_roc_plot_writes_a_png(rb_trained: Any, rb_fresh_set: Any, tmp_path: Path) -> None:
    model, _ = rb_trained
    s = model.score(rb_fresh_set.triplets[:300])
    out = roc_plot(rb_fresh_set.label[:300], s, tmp_path / "plots" / "roc.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


# ----------------------------------------------------------------- thresholds, held-out seed


def test_threshold_at_tpr_hand_computed() -> None:
    real = np.array([0.9, 0.8, 0.7, 0.6, 0.2])
    assert threshold_at_tpr(real, 0.99) == 0.2  # ceil(4.95) = 5 reals kept
    assert threshold_at_tpr(real, 0.8) == 0.6  # 4 kept
    assert threshold_at_tpr(real, 0.61) == 0.6  # ceil(3.05) = 4
    assert threshold_at_tpr(real, 0.6) == 0.7  # exactly 3
    assert threshold_at_tpr(real, 0.0) > 0.9  # keeps none
    with pytest.raises(ValueError, match="tpr"):
        threshold_at_tpr(real, 1.5)
    with pytest.raises(ValueError, match="no held-out real"):
        threshold_at_tpr(np.zeros(0), 0.5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60),
    st.floats(0.0, 1.0),
)
def test_thresholds_are_the_tightest_that_honour_the_rate(scores: list[float], rate: float) -> None:
    s = np.asarray(scores)
    t = threshold_at_tpr(s, rate)
    assert (s >= t).mean() >= rate - 1e-9
    # any higher threshold among the scores keeps fewer than the rate
    higher = s[s > t]
    if higher.size:
        assert (s >= higher.min()).mean() < rate
    f = threshold_at_fpr(s, rate)
    assert (s >= f).mean() <= rate + 1e-9
    lower = s[s < f]
    if lower.size:
        assert (s >= lower.max()).mean() > rate


def test_training_holds_out_an_independent_seed() -> None:
    model, m = train_real_bogus(n_samples=480, seed=5, max_iter=60)
    assert m["heldout_seed"] == 5 + HELDOUT_SEED_OFFSET
    assert m["n_train"] + m["n_test"] == 480 and m["n_test"] == 120
    # the thresholds come from the kept held-out scores
    assert model.heldout_real_scores.size + model.heldout_bogus_scores.size == 120
    thr = model.threshold_at_tpr(0.9)
    assert (model.heldout_real_scores >= thr).mean() >= 0.9
    assert m["tpr_at_fpr"] > 0.3  # a model, not a coin (60 trees on 360 samples)


def test_model_without_heldout_reals_refuses_a_tpr_threshold(rb_trained: Any) -> None:
    import copy

    old = copy.copy(rb_trained[0])
    del old.heldout_real_scores  # as a model pickled before the field existed
    back = RealBogusModel.from_bytes(old.to_bytes())
    assert back.threshold_at_fpr(0.01) == rb_trained[0].threshold_at_fpr(0.01)
    with pytest.raises(ModelFormatError, match=r"no held-out real scores.*`argus astro train`"):
        back.threshold_at_tpr(0.99)
