"""The stamp-level training-set simulator: closed forms of its pieces and the physics each
class is meant to show."""

from __future__ import annotations

import numpy as np
import pytest

from argus.astro.rbsim import (
    BOGUS_KINDS,
    CANVAS,
    STAMP,
    moffat_alpha,
    moffat_image,
    simulate_triplets,
    zogy_difference,
)


@pytest.fixture(scope="module")
def sample():  # type: ignore[no-untyped-def]
    return simulate_triplets(600, seed=21)


def _z(stamps: np.ndarray) -> np.ndarray:
    med = np.median(stamps, axis=(-2, -1), keepdims=True)
    mad = 1.4826 * np.median(np.abs(stamps - med), axis=(-2, -1), keepdims=True)
    return (stamps - med) / mad


def test_moffat_fwhm_and_unit_integral() -> None:
    fwhm, beta = 3.0, 3.0
    half = moffat_image(np.array(fwhm / 2), np.array(0.0), fwhm, beta, 0.0, 0.0)
    peak = moffat_image(np.array(0.0), np.array(0.0), fwhm, beta, 0.0, 0.0)
    assert half / peak == pytest.approx(0.5, rel=1e-12)
    assert peak == pytest.approx((beta - 1) / (np.pi * moffat_alpha(fwhm, beta) ** 2))
    g = np.arange(-200, 200.01, 0.25)
    yy, xx = np.meshgrid(g, g, indexing="ij")
    total = moffat_image(xx, yy, fwhm, 4.5, 0.3, 0.7).sum() * 0.25**2
    assert total == pytest.approx(1.0, abs=2e-3)  # the wings beyond 200 px hold the rest


def test_zogy_difference_of_noise_is_white_with_unit_variance() -> None:
    rng = np.random.default_rng(3)
    n = 8
    k = np.fft.fftfreq(CANVAS, 1.0 / CANVAS)
    dy, dx = np.meshgrid(k, k, indexing="ij")
    pn = moffat_image(dx, dy, 3.5, 3.0, 0.1, 0.3)
    pr = moffat_image(dx, dy, 2.0, 2.5, 0.0, 0.0)
    pn, pr = pn / pn.sum(), pr / pr.sum()
    sn, sr = 30.0, 6.0
    new = rng.normal(0, sn, (n, CANVAS, CANVAS))
    ref = rng.normal(0, sr, (n, CANVAS, CANVAS))
    d, p_d = zogy_difference(
        new, ref, np.broadcast_to(pn, new.shape), np.broadcast_to(pr, new.shape),
        np.full(n, sn), np.full(n, sr),
    )  # fmt: skip
    assert d.std() == pytest.approx(1.0, abs=0.01)
    assert p_d.sum(axis=(1, 2)) == pytest.approx(np.ones(n), abs=1e-9)
    # white: the autocorrelation one pixel away is ~0
    lag1 = (d[:, :, 1:] * d[:, :, :-1]).mean()
    assert abs(lag1) < 0.02


def test_zogy_difference_of_identical_images_is_zero() -> None:
    rng = np.random.default_rng(4)
    img = rng.normal(size=(2, CANVAS, CANVAS))
    psf = np.zeros((2, CANVAS, CANVAS))
    psf[:, 0, 0] = 0.5
    psf[:, 0, 1] = psf[:, 0, -1] = 0.25
    d, _ = zogy_difference(img, img, psf, psf, np.ones(2), np.ones(2))
    assert np.abs(d).max() < 1e-9


def test_counts_labels_and_reproducibility(sample) -> None:  # type: ignore[no-untyped-def]
    assert sample.triplets.shape == (600, 3, STAMP, STAMP)
    assert sample.triplets.dtype == np.float32
    assert int(sample.label.sum()) == 300 and (sample.label == (sample.kind == "real")).all()
    counts = {k: int((sample.kind == k).sum()) for k in BOGUS_KINDS}
    assert counts == {
        "cosmic_ray": 60,
        "bad_subtraction": 75,
        "dipole": 60,
        "hot_pixel": 45,
        "noise": 60,
    }
    again = simulate_triplets(20, seed=5)
    np.testing.assert_array_equal(again.triplets, simulate_triplets(20, seed=5).triplets)
    assert not np.array_equal(again.triplets, simulate_triplets(20, seed=6).triplets)


def test_every_candidate_passes_the_detection_threshold(sample) -> None:  # type: ignore[no-untyped-def]
    assert (sample.scorr >= 5.0).all()
    everything = simulate_triplets(300, seed=2, min_scorr=None)
    assert (everything.scorr < 5.0).any()  # without the threshold, undetectable ones remain


def test_difference_stamps_have_unit_noise(sample) -> None:  # type: ignore[no-untyped-def]
    d = sample.triplets[:, 2].astype(np.float64)
    mad = 1.4826 * np.median(np.abs(d - np.median(d, axis=(1, 2), keepdims=True)), axis=(1, 2))
    assert np.median(mad) == pytest.approx(1.0, abs=0.05)


def test_injected_snr_is_recovered_by_the_matched_filter(sample) -> None:  # type: ignore[no-untyped-def]
    real = (sample.kind == "real") & (sample.host == "none") & (sample.snr > 8) & (sample.snr < 30)
    err = sample.scorr[real] - sample.snr[real]
    assert real.sum() > 50
    assert abs(np.median(err)) < 0.6  # the sub-pixel offset costs a few tenths
    assert np.std(err) < 1.6  # ~1 (noise) plus source noise


def test_noise_fluctuations_sit_just_above_threshold(sample) -> None:  # type: ignore[no-untyped-def]
    s = sample.scorr[sample.kind == "noise"]
    assert s.min() >= 5.0 and np.median(s) < 5.6
    # the fluctuation comes mostly from the shallower new image: positive flux in the science
    z = _z(sample.triplets[sample.kind == "noise"].astype(np.float64))
    c = STAMP // 2
    assert np.median(z[:, 0, c - 1 : c + 2, c - 1 : c + 2].sum(axis=(1, 2))) > 1.0


def test_artifacts_show_their_signatures(sample) -> None:  # type: ignore[no-untyped-def]
    z = _z(sample.triplets.astype(np.float64))
    c = STAMP // 2
    core = np.s_[:, c - 4 : c + 5, c - 4 : c + 5]
    kind = sample.kind
    # dipoles and bad subtractions: a negative lobe next to the positive one in D
    for k in ("dipole", "bad_subtraction"):
        d = z[kind == k, 2][core]
        assert np.mean(d.min(axis=(1, 2)) < -4.0) > 0.6, k  # a flux-ratio error has none
    d_real = z[(kind == "real") & (sample.host == "none"), 2][core]
    assert np.mean(d_real.min(axis=(1, 2)) < -4.0) < 0.1
    # cosmic rays and hot pixels: present in the science stamp, absent from the reference
    for k in ("cosmic_ray", "hot_pixel"):
        sci = z[kind == k, 0][core].max(axis=(1, 2))
        ref = z[kind == k, 1][:, c - 1 : c + 2, c - 1 : c + 2].max(axis=(1, 2))
        assert np.median(sci) > 8.0 and np.median(ref) < 4.0, k
    # bad subtractions sit on bright stars in the reference
    ref_bs = z[kind == "bad_subtraction", 1][:, c, c]
    assert np.median(ref_bs) > 100.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n: must be >= 1"),
        ({"n": 5, "real_fraction": 1.5}, "real_fraction"),
        ({"n": 5, "bogus_mix": {"satellite": 1.0}}, "unknown kind"),
        ({"n": 5, "bogus_mix": {"noise": -1.0}}, "shares must be >= 0"),
        ({"n": 5, "min_scorr": float("nan")}, "min_scorr"),
    ],
)
def test_bad_arguments_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate_triplets(**kwargs)
