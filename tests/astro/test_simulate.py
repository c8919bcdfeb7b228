"""The simulator: Moffat closed forms, WCS round trips, noise level, truth table."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS

from argus.astro.simulate import (
    TRUTH_COLUMNS,
    SimulatedPair,
    moffat_alpha,
    moffat_image,
    moffat_sum_sq,
    simulate_noise_pair,
    simulate_pair,
)


def test_moffat_has_unit_flux_and_its_fwhm() -> None:
    off = np.arange(-400, 401, dtype=float)
    img = moffat_image(off[None, :], off[:, None], fwhm_px=3.0, beta=3.0)
    # Tail beyond r = 400 px holds (1 + (400/a)^2)^(1-beta) of the flux: ~1e-9.
    assert img.sum() == pytest.approx(1.0, abs=2e-3)
    peak = moffat_image(np.array(0.0), np.array(0.0), fwhm_px=3.0, beta=3.0)
    half = moffat_image(np.array(1.5), np.array(0.0), fwhm_px=3.0, beta=3.0)
    assert half / peak == pytest.approx(0.5, rel=1e-12)
    assert moffat_alpha(3.0, 3.0) == pytest.approx(3.0 / (2 * np.sqrt(2 ** (1 / 3) - 1)))


def test_moffat_ellipticity_and_angle() -> None:
    # Major axis along +y (pa 90): the half-maximum is farther along y than along x.
    kw = {"fwhm_px": 4.0, "beta": 3.0, "ellipticity": 0.2, "pa_deg": 90.0}
    p0 = moffat_image(np.array(0.0), np.array(0.0), **kw)
    along_y = moffat_image(np.array(0.0), np.array(2.0), **kw)
    along_x = moffat_image(np.array(2.0), np.array(0.0), **kw)
    assert along_y > along_x
    # Axis ratio b/a = 0.8: the profile along x at distance d equals the one along y at d/0.8.
    assert moffat_image(np.array(1.6), np.array(0.0), **kw) == pytest.approx(
        moffat_image(np.array(0.0), np.array(2.0), **kw), rel=1e-9
    )
    assert p0 > along_y


def test_moffat_sum_sq_closed_form_matches_the_pixel_sum() -> None:
    off = np.arange(-200, 201, dtype=float)
    img = moffat_image(off[None, :], off[:, None], fwhm_px=2.6, beta=3.0, ellipticity=0.08)
    assert (img**2).sum() == pytest.approx(moffat_sum_sq(2.6, 3.0, 0.08), rel=0.02)


def test_truth_table_and_wcs_round_trip(pair_1k: SimulatedPair) -> None:
    t = pair_1k.truth
    assert tuple(t) == TRUTH_COLUMNS
    kinds = set(t["kind"])
    assert {"transient", "variable", "cosmic_ray", "hot_pixel", "star"} <= kinds
    w = WCS(pair_1k.new_header)
    x, y = w.wcs_world2pix(t["ra"], t["dec"], 0)
    np.testing.assert_allclose(x, t["x"], atol=1e-6)
    np.testing.assert_allclose(y, t["y"], atol=1e-6)
    assert (t["x"] >= 0).all() and (t["x"] <= 1023).all()
    tr = pair_1k.truth_of("transient")
    assert tr["snr"].min() >= 3.0 and tr["snr"].max() <= 50.0
    assert ((tr["snr"] >= 5) & (tr["snr"] < 10)).mean() > 0.4  # statistics near threshold


def test_transient_snr_is_the_optimal_psf_snr(pair_1k: SimulatedPair) -> None:
    h = pair_1k.new_header
    gain, rn = h["GAIN"], h["RDNOISE"]
    tr = pair_1k.truth_of("transient")
    x, y = np.rint(tr["x"]).astype(int), np.rint(tr["y"]).astype(int)
    # Local sky (e-) from the median of a ring of pixels far from the transient.
    sky_e = np.array(
        [
            np.median(pair_1k.new[yy - 15 : yy + 16, xx + 12 : xx + 20]) * gain
            for xx, yy in zip(x, y, strict=True)
        ]
    )
    sigma_e = np.sqrt(sky_e + rn**2)
    fwhm_px = h["SEEING"] / 1.0  # 1 arcsec pixels
    snr = tr["flux"] * gain * np.sqrt(moffat_sum_sq(fwhm_px, 3.0, 0.08)) / sigma_e
    # The median over neighbouring pixels is biased by faint stars: a few per cent.
    assert np.median(snr / tr["snr"]) == pytest.approx(1.0, abs=0.03)


def test_saturation_and_header_keywords(pair_1k: SimulatedPair) -> None:
    for img, h in ((pair_1k.new, pair_1k.new_header), (pair_1k.ref, pair_1k.ref_header)):
        assert img.max() == pytest.approx(h["SATURATE"])
        for key in ("GAIN", "RDNOISE", "SEEING", "EXPTIME", "CTYPE1", "CRVAL1"):
            assert key in h
    assert (pair_1k.new >= pair_1k.new_header["SATURATE"]).sum() > 0
    # The epochs are offset by a sub-pixel amount: the two WCSs differ.
    assert pair_1k.new_header["CRPIX1"] != pair_1k.ref_header["CRPIX1"]
    assert pair_1k.ref_header["SEEING"] < pair_1k.new_header["SEEING"]


def test_noise_pair_noise_level() -> None:
    p = simulate_noise_pair(256, seed=3)
    h = p.new_header
    assert p.truth["x"].size == 0
    centre = p.new[100:156, 100:156].astype(float)
    # Sky 900 e- at the centre (the gradient is zero there), read noise 6 e-, gain 1.6.
    assert centre.std() == pytest.approx(np.sqrt(900 + 36) / 1.6, rel=0.05)
    assert centre.mean() == pytest.approx(900 / 1.6, rel=0.01)
    assert h["GAIN"] == 1.6


def test_same_seed_same_images() -> None:
    a = simulate_pair(256, seed=11)
    b = simulate_pair(256, seed=11)
    np.testing.assert_array_equal(a.new, b.new)
    assert not np.array_equal(a.new, simulate_pair(256, seed=12).new)
    with pytest.raises(ValueError, match="size"):
        simulate_pair(64)
