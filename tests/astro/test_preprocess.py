"""The preprocessing engine (argus.astro.preprocess) on images with injected truth: calibration
recovers the flat-fielded sky from synthetic bias/dark/flat frames to within the noise,
L.A.Cosmic masks injected cosmic rays, the registration recovers a known WCS error."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import binary_dilation

from argus.astro.preprocess import (
    CalibrationFrames,
    PreprocessError,
    calibrate,
    estimate_background,
    mask_cosmic_rays,
    master_bias,
    master_dark,
    master_flat,
    preprocess_image,
    register_reference,
    with_wcs,
)
from argus.astro.simulate import SimulatedPair, simulate_pair

SHAPE = (256, 300)


def _frames(seed: int = 3) -> dict[str, object]:
    """A true scene, a bias pattern, a dark current, a flat (vignetting x pixel response) and
    the noisy raw frames a camera would give (read noise 5 ADU on each frame)."""
    rng = np.random.default_rng(seed)
    ny, nx = SHAPE
    yy, xx = np.mgrid[0:ny, 0:nx]
    bias = 400.0 + 3.0 * np.sin(xx / 17.0) + 0.01 * yy
    dark_rate = 0.05 + 0.02 * rng.random(SHAPE)  # ADU / s
    flat = (1.0 - 0.15 * (((xx - nx / 2) / nx) ** 2 + ((yy - ny / 2) / ny) ** 2)) * (
        1.0 + 0.02 * rng.standard_normal(SHAPE)
    )
    scene = 1000.0 + 0.5 * xx  # the flat-fielded sky (ADU)
    rn = 5.0
    t_sci, t_dark = 120.0, 300.0
    biases = [bias + rng.normal(0, rn, SHAPE) for _ in range(15)]
    darks = [bias + dark_rate * t_dark + rng.normal(0, rn, SHAPE) for _ in range(15)]
    flats = [
        bias + dark_rate * 10.0 + lvl * flat + rng.normal(0, np.sqrt(lvl), SHAPE)
        for lvl in (2e4, 2.5e4, 3e4, 2.2e4, 2.8e4, 2.4e4, 2.6e4, 2.1e4, 2.9e4)
    ]
    raw = bias + dark_rate * t_sci + scene * flat + rng.normal(0, rn, SHAPE)
    return {
        "bias": bias, "dark_rate": dark_rate, "flat": flat, "scene": scene, "rn": rn,
        "t_sci": t_sci, "t_dark": t_dark, "biases": biases, "darks": darks, "flats": flats,
        "raw": raw,
    }  # fmt: skip


def test_calibration_recovers_the_flat_fielded_scene_within_the_noise() -> None:
    f = _frames()
    b = master_bias(f["biases"])  # type: ignore[arg-type]
    # the master bias is the bias to the read noise / sqrt(15) (x the median's 1.25)
    assert np.std(b - f["bias"]) == pytest.approx(5.0 * 1.2533 / np.sqrt(15), rel=0.1)
    d = master_dark(f["darks"], bias=b)  # type: ignore[arg-type]
    fl = master_flat(f["flats"], bias=b, dark=d, dark_exptime_s=300.0, exptimes_s=[10.0] * 9)  # type: ignore[arg-type]
    assert np.median(fl) == pytest.approx(1.0, abs=1e-12)
    out = calibrate(
        f["raw"],
        bias=b,
        dark=d,
        dark_exptime_s=300.0,
        exptime_s=120.0,
        flat=fl,  # type: ignore[arg-type]
    )
    # the true flat up to its normalization
    flat_true = f["flat"] / np.median(f["flat"])  # type: ignore[operator]
    scene = f["scene"] * np.median(f["flat"])  # type: ignore[operator]
    resid = out - scene
    # expected noise: the raw frame's read noise, the master bias's and the scaled master
    # dark's (a median of 15 frames: 1.2533 x 5 / sqrt(15) each), and the master flat's
    # relative error (a median of 9 normalized flats of ~2.5e4 ADU) times the scene
    lvls = np.array([2e4, 2.5e4, 3e4, 2.2e4, 2.8e4, 2.4e4, 2.6e4, 2.1e4, 2.9e4])
    s_m = 1.2533 * 5.0 / np.sqrt(15)
    s_flat = 1.2533 * np.sqrt(np.mean(1 / lvls)) / 3.0
    var = 5.0**2 + s_m**2 + (120 / 300) ** 2 * 2 * s_m**2
    sigma = np.sqrt(var / flat_true**2 + (scene * s_flat) ** 2)
    z = resid / sigma
    assert abs(float(np.mean(z))) < 0.05  # no bias left: mean residual << 1 sigma
    assert float(np.std(z)) == pytest.approx(1.0, abs=0.1)  # within the noise, not above it
    # without the flat the vignetting and pixel response are still there: the test can fail
    raw_only = calibrate(f["raw"], bias=b, dark=d, dark_exptime_s=300.0, exptime_s=120.0)  # type: ignore[arg-type]
    assert np.std((raw_only - scene) / sigma) > 3


def test_calibration_closed_form_and_bad_flat_pixels() -> None:
    raw = np.full((4, 5), 1100.0)
    bias = np.full((4, 5), 100.0)
    dark = np.full((4, 5), 50.0)  # over 100 s
    flat = np.full((4, 5), 2.0)
    flat[0, 0] = 0.0
    flat[1, 1] = 4.0
    out = calibrate(raw, bias=bias, dark=dark, dark_exptime_s=100.0, exptime_s=40.0, flat=flat)
    # (1100 - 100 - 50 * 40/100) / (flat / 2)
    assert out[2, 2] == pytest.approx(980.0)
    assert out[1, 1] == pytest.approx(490.0)
    assert np.isnan(out[0, 0])
    with pytest.raises(PreprocessError, match="dark_exptime_s"):
        calibrate(raw, dark=dark)
    with pytest.raises(PreprocessError, match="bias: shape"):
        calibrate(raw, bias=np.zeros((3, 3)))


@settings(max_examples=25, deadline=None)
@given(
    level=st.floats(10, 1e4),
    gain=st.floats(0.5, 3.0),
    t=st.floats(1, 600),
)
def test_calibration_inverts_the_ccd_model(level: float, gain: float, t: float) -> None:
    """raw = bias + dark t/t_dark + scene x flat, noiseless: calibrate gives the scene back
    (times the flat's median) for any scene level, flat gain and exposure time."""
    rng = np.random.default_rng(0)
    bias = 300 + rng.random((8, 9))
    dark = 20 * rng.random((8, 9))
    flat = gain * (0.8 + 0.4 * rng.random((8, 9)))
    scene = level * (1 + rng.random((8, 9)))
    raw = bias + dark * t / 100.0 + scene * flat
    out = calibrate(raw, bias=bias, dark=dark, dark_exptime_s=100.0, exptime_s=t, flat=flat)
    np.testing.assert_allclose(out, scene * np.median(flat), rtol=1e-9)


@pytest.fixture(scope="module")
def cr_image() -> tuple[SimulatedPair, np.ndarray, np.ndarray, np.ndarray]:
    """A simulated new image without the simulator's cosmic rays or hot pixels, and 80 tracks
    (1-6 px, 500-5000 ADU a pixel) injected with their pixels known."""
    p = simulate_pair(1024, seed=11, n_cosmic_rays=0, n_hot_pixels=0)
    rng = np.random.default_rng(5)
    n = 80
    img = p.new.astype(np.float64).copy()
    label = np.zeros(img.shape, int)
    length = rng.integers(1, 7, n)
    ang = rng.uniform(0, np.pi, n)
    x0, y0 = rng.uniform(10, 1014, n), rng.uniform(10, 1014, n)
    amp = rng.uniform(800, 8000, n) / 1.6
    for i in range(n):
        s = np.arange(length[i])
        xs = np.rint(x0[i] + s * np.cos(ang[i])).astype(int)
        ys = np.rint(y0[i] + s * np.sin(ang[i])).astype(int)
        img[ys, xs] += amp[i]
        label[ys, xs] = i + 1
    return p, img, label, np.arange(1, n + 1)


def test_cosmic_rays_are_masked(
    cr_image: tuple[SimulatedPair, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    p, img, label, ids = cr_image
    cr = mask_cosmic_rays(img, gain=1.6, read_noise_e=6.0, saturate=60000.0)
    truth = label > 0
    assert cr.mask[truth].mean() >= 0.95  # pixel recall
    tracks = np.array([cr.mask[label == i].mean() >= 0.5 for i in ids])
    assert tracks.mean() >= 0.95  # track recall
    near = binary_dilation(truth, iterations=1)
    false = cr.mask & ~near
    assert false.sum() / false.size < 2e-4  # false mask fraction
    # the injected transients are kept (none within 1 px of its centre is masked)
    t = p.truth_of("transient")
    m = binary_dilation(false, iterations=1)
    assert not m[np.rint(t["y"]).astype(int), np.rint(t["x"]).astype(int)].any()
    # cleaned pixels are back near the sky, the rest untouched
    assert np.all(cr.cleaned[~cr.mask] == img[~cr.mask])
    assert np.median(cr.cleaned[truth] - p.new[truth]) < 5 * 19.0


def test_background_recovers_a_known_gradient() -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:512, 0:512]
    sky = 200.0 + 0.1 * xx - 0.05 * yy
    img = sky + rng.normal(0, 7.0, sky.shape)
    bkg = estimate_background(img)
    assert np.abs(bkg.level - sky)[32:-32, 32:-32].max() < 1.5
    assert bkg.global_rms == pytest.approx(7.0, rel=0.05)


@pytest.fixture(scope="module")
def pair() -> SimulatedPair:
    return simulate_pair(1024, seed=7)


def _perturbed(header: object, dx: float, dy: float, rot_deg: float) -> object:
    w = WCS(header)
    w.wcs.crpix = w.wcs.crpix + np.array([dx, dy])
    th = np.deg2rad(rot_deg)
    w.wcs.pc = w.wcs.get_pc() @ np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    return with_wcs(header, w)


def _mapping_error(new_header: object, true_header: object, fitted_header: object) -> float:
    """Largest distance (new-image pixels) over a 9 x 9 grid between where the true and the
    fitted reference WCS put a reference pixel."""
    w_new = WCS(new_header)
    xx, yy = np.meshgrid(np.linspace(0, 1023, 9), np.linspace(0, 1023, 9))
    a = np.array(w_new.all_world2pix(*WCS(true_header).all_pix2world(xx.ravel(), yy.ravel(), 0), 0))
    b = np.array(w_new.all_world2pix(*WCS(fitted_header).all_pix2world(xx.ravel(), yy.ravel(), 0), 0))  # fmt: skip
    return float(np.abs(a - b).max())


def test_registration_of_a_true_wcs_pair(pair: SimulatedPair) -> None:
    # the simulator offsets the reference by a few pixels and rotates it by 0.02 deg
    r = register_reference(pair.new, pair.new_header, pair.ref, pair.ref_header)
    assert r.refined and r.n_matched >= 50
    assert r.rms_px is not None and r.rms_px < 0.1
    assert abs(r.shift_px[0]) < 0.02 and abs(r.shift_px[1]) < 0.02 and abs(r.rotation_deg) < 2e-3
    assert r.aligned is not None and r.aligned.shape == pair.new.shape
    # the aligned reference's stars sit where the new image's stars are: the flux-weighted
    # centroid of a bright star stamp agrees to < 0.1 px
    stars = pair.truth_of("star")
    pick = (stars["flux"] > 3e3) & (stars["flux"] < 2e4)
    pick &= (stars["x"] > 20) & (stars["x"] < 1000) & (stars["y"] > 20) & (stars["y"] < 1000)
    errs = []
    yy, xx = np.mgrid[-4:5, -4:5]
    for x, y in zip(stars["x"][pick][:30], stars["y"][pick][:30], strict=True):
        xi, yi = int(np.rint(x)), int(np.rint(y))
        stamp = r.aligned[yi - 4 : yi + 5, xi - 4 : xi + 5] - np.median(r.aligned[yi - 12 : yi + 13, xi - 12 : xi + 13])  # fmt: skip
        stamp = np.clip(stamp, 0, None)
        errs.append(np.hypot((stamp * xx).sum() / stamp.sum() + xi - x, (stamp * yy).sum() / stamp.sum() + yi - y))  # fmt: skip
    assert np.median(errs) < 0.15


@pytest.mark.parametrize(("dx", "dy", "rot"), [(0.37, -0.21, 0.03), (-2.6, 4.3, -0.05)])
def test_registration_recovers_a_known_wcs_error(
    pair: SimulatedPair, dx: float, dy: float, rot: float
) -> None:
    wrong = _perturbed(pair.ref_header, dx, dy, rot)
    r = register_reference(pair.new, pair.new_header, pair.ref, wrong, resample=False)
    assert r.refined and r.aligned is None
    # the header WCS alone is off by the injected error; the fit removes it
    assert r.rms_wcs_px is not None and r.rms_wcs_px > 0.9 * np.hypot(dx, dy)
    assert r.rms_px is not None and r.rms_px < 0.1
    assert r.shift_px[0] == pytest.approx(dx, abs=0.02)
    assert r.shift_px[1] == pytest.approx(dy, abs=0.02)
    assert r.rotation_deg == pytest.approx(-rot, abs=3e-3)
    assert _mapping_error(pair.new_header, pair.ref_header, r.ref_header) < 0.03


def test_registration_without_stars_keeps_the_header_wcs_and_says_why(pair: SimulatedPair) -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(100, 5, (256, 256))
    r = register_reference(noise, pair.new_header, noise, pair.ref_header, resample=False)
    assert not r.refined and r.rms_px is None and "too few stars" in r.reason
    with pytest.raises(PreprocessError, match="new_header"):
        register_reference(noise, {}, noise, pair.ref_header)


def test_preprocess_image_with_frames(pair: SimulatedPair) -> None:
    """Bias + flat applied to a simulated frame: the result is the original to float rounding,
    cosmic rays and hot pixels are masked, and the header says what was done."""
    rng = np.random.default_rng(2)
    bias = 300.0 + rng.random(pair.new.shape)
    flat = 0.9 + 0.2 * rng.random(pair.new.shape)
    raw = pair.new * (flat / np.median(flat)) + bias
    out = preprocess_image(raw, pair.new_header, frames=CalibrationFrames(bias=bias, flat=flat))
    assert out.calibration_applied and out.header["CALIB"] == "bias/dark/flat"
    keep = ~out.cosmic_ray_mask
    np.testing.assert_allclose(out.data[keep], pair.new[keep], rtol=1e-9, atol=1e-6)
    hot = pair.truth_of("hot_pixel")
    assert out.cosmic_ray_mask[hot["y"].astype(int), hot["x"].astype(int)].mean() >= 0.95
    assert out.header["NCOSMIC"] == out.cosmic_ray_mask.sum() > 0
    assert out.background.global_level == pytest.approx(900 / 1.6, rel=0.05)


@settings(max_examples=30, deadline=None)
@given(
    dx=st.floats(-5, 5),
    dy=st.floats(-5, 5),
    rot_deg=st.floats(-0.5, 0.5),
    scale=st.floats(0.99, 1.01),
)
def test_corrected_wcs_is_the_wcs_of_the_transformed_pixels(
    dx: float, dy: float, rot_deg: float, scale: float
) -> None:
    """w'(p) = w(M p + t) for any small affine (M, t): the CD/PC and CRPIX update is exact."""
    from argus.astro.preprocess import _corrected_wcs
    from argus.astro.simulate import tan_header

    w = WCS(tan_header((512, 512), ra_deg=150.0, dec_deg=2.2, pixel_scale_arcsec=0.8))
    th = np.deg2rad(rot_deg)
    m = scale * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    t = np.array([dx, dy])
    wc = _corrected_wcs(w, m, t)
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 511, (50, 2))
    q = p @ m.T + t
    a = np.array(wc.all_pix2world(p[:, 0], p[:, 1], 0))
    b = np.array(w.all_pix2world(q[:, 0], q[:, 1], 0))
    # 1e-9 deg = 3.6 micro-arcsec, far below any pixel
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
