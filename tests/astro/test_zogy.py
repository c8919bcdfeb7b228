"""ZOGY: closed forms (F_D, identical images, white D), injected flux, tiling, alignment,
noise autocorrelation."""

from __future__ import annotations

import numpy as np
import pytest

from argus.astro.difference import Subtraction, SubtractionError, subtract_images
from argus.astro.psf import render_moffat
from argus.astro.simulate import SimulatedPair, tan_header
from argus.astro.zogy import align_reference, noise_acf, zogy

from .conftest import source_free


def _psfs() -> tuple[np.ndarray, np.ndarray]:
    return render_moffat(3.0, 3.0, 0.05, 20.0, 12), render_moffat(2.2, 3.5, 0.0, 0.0, 9)


def test_identical_images_give_zero_difference() -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(0, 3.0, (256, 256)).astype(np.float32)
    p, _ = _psfs()
    res = zogy(img, img, p, p, sigma_n=3.0, sigma_r=3.0, F_r=1.0)
    assert np.abs(res.D).max() < 1e-4
    assert np.abs(res.Scorr).max() < 1e-4


def test_independent_noise_gives_white_unit_d_and_scorr() -> None:
    rng = np.random.default_rng(1)
    pn, pr = _psfs()
    n = rng.normal(0, 4.0, (512, 512)).astype(np.float32)
    r = rng.normal(0, 1.5, (512, 512)).astype(np.float32)
    res = zogy(n, r, pn, pr, sigma_n=4.0, sigma_r=1.5, F_r=3.0)
    assert res.D.std() == pytest.approx(1.0, abs=0.01)
    assert res.Scorr.std() == pytest.approx(1.0, abs=0.03)
    # White: neighbouring pixels of D are uncorrelated.
    corr = np.corrcoef(res.D[:, :-1].ravel(), res.D[:, 1:].ravel())[0, 1]
    assert abs(corr) < 0.01
    # Eq. 15 closed form.
    assert pytest.approx(3.0 / np.sqrt(16 * 9 + 1.5**2), rel=1e-5) == res.F_D
    assert res.psf_D.sum() == pytest.approx(1.0)


def test_injected_point_source_flux_is_recovered_within_its_error() -> None:
    rng = np.random.default_rng(2)
    pn, pr = _psfs()
    size, sig_n, sig_r, F_r = 256, 5.0, 2.0, 4.0
    pulls = []
    for k in range(30):
        n = rng.normal(0, sig_n, (size, size))
        r = rng.normal(0, sig_r, (size, size))
        flux = 400.0  # new-image units: SNR ~ 400 * sqrt(sum P^2) / 5 ~ 15
        y0, x0 = 128, 128
        n[y0 - 12 : y0 + 13, x0 - 12 : x0 + 13] += flux * pn
        res = zogy(
            n.astype(np.float32),
            r.astype(np.float32),
            pn,
            pr,
            sigma_n=sig_n,
            sigma_r=sig_r,
            F_r=F_r,
        )
        alpha = res.S[y0, x0] / res.F_S  # eqs. 41-42
        err = np.sqrt(res.V_S[y0, x0]) / res.F_S
        pulls.append((alpha - flux) / err)
        if k == 0:
            assert res.Scorr[y0, x0] == pytest.approx(flux / err, rel=0.3)
    pulls_a = np.asarray(pulls)
    assert abs(pulls_a.mean()) < 0.6  # unbiased (30 draws: mean error 0.18)
    assert 0.6 < pulls_a.std() < 1.4


def test_source_noise_term_lowers_scorr_on_bright_sources() -> None:
    rng = np.random.default_rng(3)
    pn, pr = _psfs()
    n = rng.normal(0, 5.0, (256, 256)).astype(np.float32)
    r = rng.normal(0, 2.0, (256, 256)).astype(np.float32)
    star = np.zeros(n.shape, np.float32)
    star[116:141, 116:141] = 2e5 * pn  # a bright star mis-subtracted: only in N
    n = n + star
    var_n = np.full(n.shape, 25.0, np.float32) + star  # gain 1: Poisson variance = counts
    plain = zogy(n, r, pn, pr, sigma_n=5.0, sigma_r=2.0, F_r=4.0)
    corr = zogy(
        n, r, pn, pr, sigma_n=5.0, sigma_r=2.0, F_r=4.0, var_n=var_n, sigma_x=0.1, sigma_y=0.1
    )
    assert corr.Scorr[128, 128] < 0.5 * plain.Scorr[128, 128]
    far = (slice(0, 60), slice(0, 60))
    # Far from the star only the astrometric term (sigma_x^2 |grad S|^2, ~1 %) differs.
    np.testing.assert_allclose(corr.Scorr[far], plain.Scorr[far], rtol=0.03, atol=0.01)


def test_tiling_matches_the_single_transform() -> None:
    rng = np.random.default_rng(4)
    pn, pr = _psfs()
    n = rng.normal(0, 5.0, (600, 600)).astype(np.float32)
    r = rng.normal(0, 2.0, (600, 600)).astype(np.float32)
    n[300:325, 280:305] += 3000 * pn
    whole = zogy(n, r, pn, pr, sigma_n=5.0, sigma_r=2.0, F_r=4.0)
    tiled = zogy(n, r, pn, pr, sigma_n=5.0, sigma_r=2.0, F_r=4.0, tile_size=200)
    inner = (slice(60, 540), slice(60, 540))  # away from the frame's own wrap-around
    np.testing.assert_allclose(tiled.D[inner], whole.D[inner], atol=2e-3)
    np.testing.assert_allclose(tiled.Scorr[inner], whole.Scorr[inner], atol=2e-3)


def test_fast_alignment_matches_reproject() -> None:
    shape = (200, 220)
    h_new = tan_header(shape, ra_deg=30.0, dec_deg=40.0, pixel_scale_arcsec=1.0)
    h_ref = tan_header(
        shape,
        ra_deg=30.0,
        dec_deg=40.0,
        pixel_scale_arcsec=1.0,
        rotation_deg=0.3,
        crpix_offset=(2.3, -1.7),
    )
    yy, xx = np.mgrid[0:200, 0:220]
    ref = (np.sin(xx / 7.0) * np.cos(yy / 9.0) * 100).astype(np.float32)
    fast, _ = align_reference(ref, h_ref, h_new, shape)
    slow, _ = align_reference(ref, h_ref, h_new, shape, method="reproject")
    both = np.isfinite(fast) & np.isfinite(slow)
    assert both.mean() > 0.95
    np.testing.assert_allclose(fast[both], slow[both], atol=1e-2)
    with pytest.raises(ValueError, match="method"):
        align_reference(ref, h_ref, h_new, shape, method="nearest")


def test_bilinear_equals_map_coordinates() -> None:
    from scipy import ndimage

    from argus.astro.zogy import _bilinear

    rng = np.random.default_rng(6)
    img = rng.normal(100.0, 30.0, (40, 50)).astype(np.float32)
    X = rng.uniform(-1.5, 50.5, (30, 70)).astype(np.float32)
    Y = rng.uniform(-1.5, 40.5, (30, 70)).astype(np.float32)
    X[0, :4] = [0.0, 49.0, -1e-3, 49.001]  # the edges: inside, inside, outside, outside
    Y[0, :4] = 20.0
    Y[1, :3] = [0.0, 39.0, 39.001]
    want = ndimage.map_coordinates(
        img, [Y, X], order=1, mode="constant", cval=np.nan, prefilter=False, output=np.float32
    )
    got = np.empty(X.shape, np.float32)
    _bilinear(img.ravel(), 40, 50, X, Y, got)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isfinite(got[0, :2]).all() and np.isnan(got[0, 2:4]).all()
    np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-6)


def test_noise_acf_white_and_bilinear_shift() -> None:
    rng = np.random.default_rng(5)
    white = rng.normal(0, 1.0, (512, 512))
    bad = np.zeros(white.shape, bool)
    acf = noise_acf(white, bad, 1.0)
    assert acf[3, 3] == 1.0 and np.abs(acf[acf < 1]).max() < 0.02
    f = 0.3  # a bilinear shift by f in x: neighbours share noise
    shifted = (1 - f) * white[:, :-1] + f * white[:, 1:]
    acf2 = noise_acf(shifted, bad[:, :-1], float(shifted.std()))
    expected = f * (1 - f) / ((1 - f) ** 2 + f**2)
    assert acf2[3, 4] == pytest.approx(expected, abs=0.02)
    assert abs(acf2[4, 3]) < 0.02


def test_subtraction_d_is_white_away_from_sources(
    pair_1k: SimulatedPair, sub_1k: Subtraction
) -> None:
    away = source_free(sub_1k, pair_1k)
    assert away.mean() > 0.5
    assert sub_1k.D[away].std() == pytest.approx(1.0, abs=0.05)
    m = sub_1k.meta
    assert m["algorithm"] == "zogy" and m["psf_source"] == "stars"
    assert float(m["fwhm_new_px"]) == pytest.approx(2.6, rel=0.03)
    # Measured on the aligned reference: bilinear resampling adds f(1 - f) px^2 per axis.
    assert 2.0 < float(m["fwhm_ref_px"]) < 2.3
    assert sub_1k.flux_ratio == pytest.approx(20.0, rel=0.02)  # the reference is a 20x stack
    assert 0 < float(m["registration_rms_px"]) < 0.3
    assert sub_1k.D.shape == sub_1k.new.shape == sub_1k.ref_aligned.shape == (1024, 1024)


def test_noise_pair_falls_back_to_header_and_exptime(noise_sub_1k: Subtraction) -> None:
    m = noise_sub_1k.meta
    assert m["psf_source"] == "header" and m["flux_ratio_source"] == "exptime"
    assert noise_sub_1k.flux_ratio == 20.0
    assert noise_sub_1k.D.std() == pytest.approx(1.0, abs=0.05)
    assert noise_sub_1k.Scorr.std() == pytest.approx(1.0, abs=0.05)


def test_bad_input_is_named() -> None:
    h = tan_header((128, 128), ra_deg=1.0, dec_deg=1.0, pixel_scale_arcsec=1.0)
    img = np.zeros((128, 128), np.float32)
    with pytest.raises(SubtractionError, match="algorithm"):
        subtract_images(img, h, img, h, algorithm="hotpants")
    with pytest.raises(SubtractionError, match="new: a 2-D image"):
        subtract_images(np.zeros(10), h, img, h)
    far = tan_header((128, 128), ra_deg=100.0, dec_deg=1.0, pixel_scale_arcsec=1.0)
    with pytest.raises(SubtractionError, match="covered"):
        subtract_images(img, h, img, far)


def _plain_zogy(
    N: np.ndarray,
    R: np.ndarray,
    Pn_img: np.ndarray,
    Pr_img: np.ndarray,
    sn: float,
    sr: float,
    F_r: float,
    var_n: np.ndarray,
    var_r: np.ndarray,
    sx: float,
    sy: float,
    acf_r: np.ndarray | None = None,
) -> dict[str, np.ndarray | float]:
    """ZOGY written out line by line from the paper, in float64 with full complex FFTs:
    eq. 13 (D), 14 (P_D), 15 (F_D), 17 (S), 26-29 (k_n, k_r, S = S_N - S_R), 30-31 (source
    noise V(S_N) = V_n (x) k_n^2), 30-33 (astrometric terms) and Scorr; coloured reference
    noise enters as sigma_r^2 -> sigma_r^2 psi_r(k), psi_r the transform of its ACF."""
    F_n = 1.0
    shape = N.shape
    fft2, ifft2 = np.fft.fft2, np.fft.ifft2

    def centred(stamp: np.ndarray) -> np.ndarray:  # stamp centre at pixel [0, 0]
        big = np.zeros(shape)
        h = stamp.shape[0] // 2
        big[: stamp.shape[0], : stamp.shape[1]] = stamp
        return np.roll(big, (-h, -h), axis=(0, 1))

    Pn, Pr = fft2(centred(Pn_img)), fft2(centred(Pr_img))
    psi_r = np.maximum(fft2(centred(acf_r)).real, 0.02) if acf_r is not None else 1.0
    psi_r0 = float(np.sum(acf_r)) if acf_r is not None else 1.0
    Nh, Rh = fft2(N), fft2(R)
    den = sn**2 * F_r**2 * np.abs(Pr) ** 2 + sr**2 * psi_r * F_n**2 * np.abs(Pn) ** 2
    D = ifft2((F_r * Pr * Nh - F_n * Pn * Rh) / np.sqrt(den)).real
    F_D = F_r * F_n / np.sqrt(sn**2 * F_r**2 + sr**2 * psi_r0 * F_n**2)
    PD_hat = F_r * F_n * Pr * Pn / (F_D * np.sqrt(den))
    S_eq17 = ifft2(F_D * fft2(D) * np.conj(PD_hat)).real
    kn_hat = F_r**2 * F_n * np.abs(Pr) ** 2 * np.conj(Pn) / den
    kr_hat = F_n**2 * F_r * np.abs(Pn) ** 2 * np.conj(Pr) / den
    S_N, S_R = ifft2(kn_hat * Nh).real, ifft2(kr_hat * Rh).real
    kn, kr = ifft2(kn_hat).real, ifft2(kr_hat).real
    c_r = float(np.sum(np.abs(kr_hat) ** 2 * psi_r) / np.sum(np.abs(kr_hat) ** 2))
    V_SN = ifft2(fft2(var_n) * fft2(kn**2)).real
    V_SR = c_r * ifft2(fft2(var_r) * fft2(kr**2)).real
    gny, gnx = np.gradient(S_N)
    gry, grx = np.gradient(S_R)
    V_ast = sx**2 * (gnx**2 + grx**2) + sy**2 * (gny**2 + gry**2)
    V_S = V_SN + V_SR + V_ast
    S = S_N - S_R
    PD = ifft2(PD_hat).real
    return {
        "D": D,
        "S": S,
        "S_eq17": S_eq17,
        "V_S": V_S,
        "Scorr": S / np.sqrt(V_S),
        "F_D": F_D,
        "F_S": float(F_D**2 * np.sum(PD**2)),
    }


@pytest.mark.parametrize("coloured", [False, True])
def test_optimized_zogy_equals_the_plain_equations(coloured: bool) -> None:
    """The tiled-kernel, single-precision, shared-transform implementation against the
    equations written out in float64 (stars, a transient, source noise, registration
    noise, and optionally a bilinear-resampling ACF on the reference)."""
    rng = np.random.default_rng(11)
    pn, pr = _psfs()
    size, sn, sr, F_r, gain = 128, 6.0, 2.5, 5.0, 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    sky_n = np.zeros((size, size))
    for x, y, f in zip([30.3, 90.7, 64.0], [40.2, 100.5, 64.0], [4e4, 1e4, 2e3], strict=True):
        r2 = ((xx - x) ** 2 + (yy - y) ** 2) / 2.0**2
        sky_n += f * np.exp(-r2 / 2) / (2 * np.pi * 4.0)
    N = sky_n + rng.normal(0, sn, sky_n.shape)
    R = F_r * sky_n + rng.normal(0, sr, sky_n.shape)
    N[20:45, 100:125] += 800 * pn  # a transient, only in N
    var_n = sn**2 + np.clip(N, 0, None) / gain
    var_r = sr**2 + np.clip(R, 0, None) / gain
    acf = np.array([[0.02, 0.1, 0.02], [0.12, 1.0, 0.12], [0.02, 0.1, 0.02]]) if coloured else None
    ref = _plain_zogy(N, R, pn, pr, sn, sr, F_r, var_n, var_r, 0.08, 0.05, acf_r=acf)
    got = zogy(
        N.astype(np.float32),
        R.astype(np.float32),
        pn,
        pr,
        sigma_n=sn,
        sigma_r=sr,
        F_r=F_r,
        var_n=var_n.astype(np.float32),
        var_r=var_r.astype(np.float32),
        sigma_x=0.08,
        sigma_y=0.05,
        acf_r=acf,
    )
    # Eq. 17 (the matched filter of D) and eqs. 26-29 (S_N - S_R) agree with each other.
    np.testing.assert_allclose(ref["S_eq17"], ref["S"], atol=1e-9 * np.abs(ref["S"]).max())
    assert pytest.approx(float(ref["F_D"]), rel=1e-6) == got.F_D
    assert pytest.approx(float(ref["F_S"]), rel=1e-4) == got.F_S
    # float32 against float64: a few 1e-7 of the peak for D and S, more where V_S divides.
    for name, tol in (("D", 1e-5), ("S", 1e-5), ("V_S", 5e-5), ("Scorr", 1e-4)):
        want = np.asarray(ref[name])
        np.testing.assert_allclose(
            getattr(got, name), want, rtol=0, atol=tol * np.abs(want).max(), err_msg=name
        )
    # The transient stands out in Scorr at the same place in both.
    assert np.unravel_index(np.argmax(got.Scorr), got.Scorr.shape) == np.unravel_index(
        np.argmax(np.asarray(ref["Scorr"])), got.Scorr.shape
    )


def test_constant_variance_shortcut_equals_the_convolution() -> None:
    """Without variance images the background variance convolves to sigma^2 sum(k^2) in
    closed form: the same V_S as convolving constant images, tiled or not (away from the
    frame's edges, where the FFT's zero padding lowers the convolved constant)."""
    rng = np.random.default_rng(12)
    pn, pr = _psfs()
    n = rng.normal(0, 4.0, (300, 300)).astype(np.float32)
    r = rng.normal(0, 1.5, (300, 300)).astype(np.float32)
    kw = {"sigma_n": 4.0, "sigma_r": 1.5, "F_r": 3.0, "sigma_x": 0.05, "tile_size": 160}
    short = zogy(n, r, pn, pr, **kw)  # type: ignore[arg-type]
    full = zogy(
        n,
        r,
        pn,
        pr,
        var_n=np.full(n.shape, 16.0, np.float32),
        var_r=np.full(n.shape, 2.25, np.float32),
        **kw,  # type: ignore[arg-type]
    )
    inner = (slice(60, 240), slice(60, 240))
    np.testing.assert_allclose(short.V_S[inner], full.V_S[inner], rtol=1e-4)
    np.testing.assert_allclose(short.Scorr[inner], full.Scorr[inner], rtol=1e-4, atol=1e-5)


def test_sparse_mask_dilation_equals_binary_dilation() -> None:
    from scipy.ndimage import binary_dilation

    from argus.astro.difference import _dilate_cross

    rng = np.random.default_rng(13)
    mask = rng.random((60, 80)) < 0.01
    mask[0, 0] = mask[59, 79] = mask[30, 0] = True  # corners and an edge
    for it in (1, 2, 3):
        np.testing.assert_array_equal(_dilate_cross(mask, it), binary_dilation(mask, iterations=it))


def test_source_windows_sample_a_quarter_of_large_frames() -> None:
    from argus.astro.difference import SOURCE_SAMPLE_PIXELS, _source_windows

    assert SOURCE_SAMPLE_PIXELS == 2048 * 2048
    assert _source_windows((2048, 2048)) == [(slice(0, 2048), slice(0, 2048))]
    w = _source_windows((4096, 4096))
    assert len(w) == 4
    assert sum((a.stop - a.start) * (b.stop - b.start) for a, b in w) == 2048 * 2048
    centres = sorted(((a.start + a.stop) / 2, (b.start + b.stop) / 2) for a, b in w)
    assert centres == [(1024, 1024), (1024, 3072), (3072, 1024), (3072, 3072)]


def test_windowed_extraction_equals_the_full_frame_inside_the_windows(
    sub_1k: Subtraction,
) -> None:
    from argus.astro.difference import _extract_in_windows, _source_windows
    from argus.astro.psf import extract_sources

    img = sub_1k.new
    rms = np.full(img.shape, float(sub_1k.meta["sigma_new"]), np.float32)
    windows = _source_windows(img.shape, 512 * 512)
    got = _extract_in_windows(img, rms, windows, thresh=15.0)
    full = extract_sources(img, rms, thresh=15.0)
    inside = np.zeros(full.size, bool)
    for sy, sx in windows:
        inside |= (
            (full["x"] >= sx.start)
            & (full["x"] < sx.stop)
            & (full["y"] >= sy.start)
            & (full["y"] < sy.stop)
        )
    want = full[inside]
    assert want.size > 20 and got.size == want.size
    order_g = np.lexsort((got["x"], got["y"]))
    order_w = np.lexsort((want["x"], want["y"]))
    for name in ("x", "y", "flux", "peak", "xmin", "ymax"):
        np.testing.assert_allclose(got[name][order_g], want[name][order_w], rtol=1e-6)


def test_subtraction_with_sampled_sources_keeps_psf_and_flux_ratio(
    pair_1k: SimulatedPair, sub_1k: Subtraction, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argus.astro.difference as difference

    monkeypatch.setattr(difference, "SOURCE_SAMPLE_PIXELS", 512 * 512)
    p = pair_1k
    sampled = subtract_images(p.new, p.new_header, p.ref, p.ref_header)
    m, full = sampled.meta, sub_1k.meta
    assert m["source_sample_fraction"] == 0.25 and full["source_sample_fraction"] == 1.0
    assert sampled.flux_ratio == pytest.approx(20.0, rel=0.02)
    assert float(m["fwhm_new_px"]) == pytest.approx(float(full["fwhm_new_px"]), rel=0.02)
    assert float(m["fwhm_ref_px"]) == pytest.approx(float(full["fwhm_ref_px"]), rel=0.03)
    assert int(m["n_flux_stars"]) < int(full["n_flux_stars"])
    away = source_free(sampled, p)
    assert sampled.D[away].std() == pytest.approx(1.0, abs=0.05)
