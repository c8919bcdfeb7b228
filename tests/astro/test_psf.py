"""PSF measurement: the Moffat fit recovers injected shapes; the header fallback."""

from __future__ import annotations

import numpy as np
import pytest
import sep
from astropy.io import fits

from argus.astro.psf import PSFError, extract_sources, header_fwhm_px, measure_psf, render_moffat
from argus.astro.simulate import moffat_image, tan_header


def _star_field(
    fwhm: float, beta: float, ell: float, pa: float, n: int = 40, seed: int = 0
) -> tuple[np.ndarray, float, fits.Header]:
    rng = np.random.default_rng(seed)
    size = 512
    img = np.zeros((size, size))
    gx, gy = np.meshgrid(np.arange(size), np.arange(size))
    xs = rng.uniform(30, size - 30, n)
    ys = rng.uniform(30, size - 30, n)
    for x, y, f in zip(xs, ys, rng.uniform(2e4, 2e5, n), strict=True):  # test setup only
        sl = (slice(int(y) - 25, int(y) + 26), slice(int(x) - 25, int(x) + 26))
        img[sl] += f * moffat_image(
            gx[sl] - x, gy[sl] - y, fwhm_px=fwhm, beta=beta, ellipticity=ell, pa_deg=pa
        )
    sigma = 10.0
    img += (
        rng.normal(0, sigma, img.shape) + rng.poisson(np.clip(img, 0, None)) - np.clip(img, 0, None)
    )
    hdr = tan_header((size, size), ra_deg=10.0, dec_deg=-5.0, pixel_scale_arcsec=0.8)
    return img.astype(np.float32), sigma, hdr


@pytest.mark.parametrize(
    ("fwhm", "beta", "ell", "pa"),
    [(2.6, 3.0, 0.08, 30.0), (4.0, 2.5, 0.15, 120.0), (3.2, 4.0, 0.0, 0.0)],
)
def test_moffat_fit_recovers_injected_shape(
    fwhm: float, beta: float, ell: float, pa: float
) -> None:
    img, sigma, hdr = _star_field(fwhm, beta, ell, pa)
    psf = measure_psf(img, sigma, hdr, gain=1.0)
    assert psf.source == "stars"
    assert psf.n_stars >= 10
    assert psf.fwhm_px == pytest.approx(fwhm, rel=0.02)
    assert psf.beta == pytest.approx(beta, rel=0.1)
    assert psf.ellipticity == pytest.approx(ell, abs=0.02)
    if ell > 0.05:
        dpa = (psf.pa_deg - pa + 90) % 180 - 90
        assert abs(dpa) < 5
    # The stamp: odd, normalized, out to >= 4 FWHM, peaked in the middle.
    h = psf.stamp.shape[0] // 2
    assert psf.stamp.shape[0] % 2 == 1 and psf.stamp.sum() == pytest.approx(1.0)
    assert h >= 4 * fwhm - 1
    assert np.unravel_index(psf.stamp.argmax(), psf.stamp.shape) == (h, h)


def test_fit_ignores_saturated_stars_and_cosmic_rays() -> None:
    img, sigma, hdr = _star_field(3.0, 3.0, 0.05, 45.0, seed=1)
    rng = np.random.default_rng(2)
    for _ in range(30):  # sharp cosmic-ray pixels and short tracks
        x, y = rng.integers(20, 490, 2)
        img[y, x : x + rng.integers(1, 4)] += 5000
    sat = 10000.0
    psf = measure_psf(np.minimum(img, sat), sigma, hdr, saturate=sat, gain=1.0)
    assert psf.fwhm_px == pytest.approx(3.0, rel=0.03)
    stars = psf.stars
    assert (
        np.minimum(img, sat)[np.rint(stars["y"]).astype(int), np.rint(stars["x"]).astype(int)]
        < 0.6 * sat
    ).all()


def test_header_fallback_when_too_few_stars() -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(0, 5.0, (256, 256)).astype(np.float32)
    hdr = tan_header((256, 256), ra_deg=1.0, dec_deg=1.0, pixel_scale_arcsec=0.5)
    hdr["SEEING"] = 1.5
    psf = measure_psf(img, 5.0, hdr)
    assert psf.source == "header" and psf.n_stars == 0
    assert psf.fwhm_px == pytest.approx(3.0, rel=1e-6)  # 1.5 arcsec / 0.5 arcsec per pixel
    del hdr["SEEING"]
    with pytest.raises(PSFError, match="SEEING"):
        measure_psf(img, 5.0, hdr)
    hdr["FWHM"] = -1.0
    with pytest.raises(PSFError, match="FWHM: seeing must be > 0"):
        header_fwhm_px(hdr)


def test_render_moffat_is_normalized_and_centred() -> None:
    stamp = render_moffat(3.0, 3.0, 0.1, 30.0, 12)
    assert stamp.shape == (25, 25)
    assert stamp.sum() == pytest.approx(1.0)
    assert stamp[12, 12] == stamp.max()


def test_extract_sources_finds_the_stars() -> None:
    img, sigma, _ = _star_field(3.0, 3.0, 0.0, 0.0, n=25, seed=4)
    objs = extract_sources(img, sigma)
    assert 20 <= len(objs) <= 25
    assert sep.__version__  # the extractor behind it


def test_moffat_jacobian_matches_finite_differences() -> None:
    from argus.astro.psf import _moffat_and_jacobian

    rng = np.random.default_rng(0)
    n, half = 3, 6
    off = np.arange(-half, half + 1, dtype=float)
    shape = (n, 2 * half + 1, 2 * half + 1)
    X0 = np.broadcast_to(off[None, None, :], shape) - rng.uniform(-0.5, 0.5, (n, 1, 1))
    Y0 = np.broadcast_to(off[None, :, None], shape) - rng.uniform(-0.5, 0.5, (n, 1, 1))
    p = np.r_[np.log(2.0), np.log(1.5), 0.4, 2.7, rng.normal(0, 0.3, 2 * n), [300, 900, 2e4]]
    _, jac = _moffat_and_jacobian(p, X0, Y0, n)
    for j in range(p.size):
        h = 1e-6 * max(1.0, abs(p[j]))
        pp, pm = p.copy(), p.copy()
        pp[j] += h
        pm[j] -= h
        num = (_moffat_and_jacobian(pp, X0, Y0, n)[0] - _moffat_and_jacobian(pm, X0, Y0, n)[0]) / (
            2 * h
        )
        ana = np.zeros(shape)
        for k in range(n):
            cols = [0, 1, 2, 3, 4 + k, 4 + n + k, 4 + 2 * n + k]
            if j in cols:
                ana[k] = jac[k, ..., cols.index(j)]
        np.testing.assert_allclose(ana, num, rtol=1e-5, atol=1e-7 * np.abs(num).max())


def test_levenberg_marquardt_reaches_the_least_squares_minimum() -> None:
    """The hand-written solver lands on the minimum scipy's bounded trust-region solver finds
    for the same residuals (finite-difference Jacobian there)."""
    from scipy.optimize import least_squares

    from argus.astro.psf import _levenberg_marquardt, _moffat_and_jacobian

    rng = np.random.default_rng(3)
    n, half = 6, 8
    off = np.arange(-half, half + 1, dtype=float)
    shape = (n, 2 * half + 1, 2 * half + 1)
    X0 = np.broadcast_to(off[None, None, :], shape) - rng.uniform(-0.5, 0.5, (n, 1, 1))
    Y0 = np.broadcast_to(off[None, :, None], shape) - rng.uniform(-0.5, 0.5, (n, 1, 1))
    truth = np.r_[np.log(1.9), np.log(1.6), 0.7, 3.2, rng.normal(0, 0.3, 2 * n), [1e4] * n]
    clean, _ = _moffat_and_jacobian(truth, X0, Y0, n)
    sigma = np.sqrt(25.0 + clean)
    cut = clean + rng.normal(0, 1.0, shape) * sigma
    weight = 1.0 / sigma
    p0 = np.r_[np.log(1.8), np.log(1.7), 0.3, 3.0, np.zeros(2 * n), cut.sum(axis=(1, 2))]
    lo = np.r_[np.log(0.2), np.log(0.2), -np.inf, 1.05, np.full(2 * n, -2.0), np.zeros(n)]
    hi = np.r_[np.log(50), np.log(50), np.inf, 15.0, np.full(2 * n, 2.0), np.full(n, np.inf)]
    p, r = _levenberg_marquardt(cut, weight, X0, Y0, p0, lo, hi)

    def resid(q: np.ndarray) -> np.ndarray:
        return np.asarray(((_moffat_and_jacobian(q, X0, Y0, n)[0] - cut) * weight).ravel())

    ref = least_squares(resid, p0, bounds=(lo, hi), x_scale="jac", xtol=1e-12, ftol=1e-12)
    assert np.sum(r**2) <= 2 * ref.cost * (1 + 1e-7)
    np.testing.assert_allclose(p[:4], ref.x[:4], atol=1e-4)
    np.testing.assert_allclose(p[4 : 4 + 2 * n], ref.x[4 : 4 + 2 * n], atol=1e-4)
    np.testing.assert_allclose(p[4 + 2 * n :], ref.x[4 + 2 * n :], rtol=1e-5)
    # And near the truth: shape within a few percent.
    assert np.exp(p[0]) == pytest.approx(1.9, rel=0.05)
    assert p[3] == pytest.approx(3.2, rel=0.1)


def test_sep_extract_retries_a_full_pixel_stack() -> None:
    """A source larger than the first-try stack (an eighth of the image) still comes out,
    the same as with a stack that fits it from the start."""
    from argus.astro import psf as psf_mod

    img = np.zeros((1200, 1200), np.float32)
    img[100:1100, 100:1100] = 50.0  # 1e6 pixels above threshold in one object
    objs = psf_mod.sep_extract(img, 5.0, err=1.0)
    assert len(objs) == 1 and objs["npix"][0] >= 1_000_000  # the first try holds 300,000
    sep.set_extract_pixstack(psf_mod.PIXSTACK_MAX)
    ref = sep.extract(img, 5.0, err=1.0)
    assert objs["flux"][0] == ref["flux"][0]


def test_sep_extract_leaves_the_process_wide_pixel_stack_at_its_maximum() -> None:
    from argus.astro import psf as psf_mod

    sep.set_extract_pixstack(300_000)
    psf_mod.sep_extract(np.zeros((64, 64), np.float32), 5.0, err=1.0)
    assert sep.get_extract_pixstack() == psf_mod.PIXSTACK_MAX
