"""Simulated reference/new image pairs with known truth, for testing difference imaging.

The model (all in electrons inside, ADU in the returned images, ``GAIN`` e-/ADU in the headers):

* PSF: an elliptical Moffat (Moffat 1969, A&A 3, 455), ``I(r) = F (beta-1)/(pi a1 a2)
  (1 + u^2/a1^2 + v^2/a2^2)^-beta`` with ``(u, v)`` the offsets rotated by the position angle;
  its total flux is exactly ``F``. Each epoch has its own seeing (FWHM), ``beta`` and a mild
  ellipticity. FWHM along an axis is ``2 a sqrt(2^(1/beta) - 1)``.
* Sky: a level plus a linear gradient across the frame; Poisson noise on sky + sources, Gaussian
  read noise, then conversion to ADU and clipping at the saturation level (``SATURATE``).
* Astrometry: a TAN WCS for each epoch; the reference is pointed a sub-pixel (plus a few pixels)
  away from the new image, and may be rotated slightly, so the pair needs real registration.
* Stars: positions uniform, fluxes from a power law ``dN/dF ~ F^-alpha`` (alpha = 1.8, flatter than
  the Euclidean 2.5 as counts are at bright magnitudes), the brightest saturated. The reference is a deeper stack (its exposure is
  ``ref_depth`` times the new image's), so the flux ratio between epochs is not 1.
* Transients (new image only) with a target optimal SNR drawn over 3-50 (most between 4 and 11, so
  completeness bins near the threshold have statistics); variable stars whose flux changes
  between epochs; cosmic rays (short sharp tracks) and hot pixels in the new image.

``snr`` in the truth table is the optimal (PSF-weighted, matched-filter) SNR of the source's flux
change in the new image alone given the local sky + read noise: ``|F| sqrt(sum P^2) / sigma_pix``
(the SNR a PSF fit reaches in the background-limited case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits  # type: ignore[import-untyped]
from astropy.wcs import WCS  # type: ignore[import-untyped]

__all__ = [
    "TRUTH_COLUMNS",
    "SimulatedPair",
    "moffat_alpha",
    "moffat_image",
    "moffat_sum_sq",
    "simulate_noise_pair",
    "simulate_pair",
    "tan_header",
]

TRUTH_COLUMNS = ("ra", "dec", "x", "y", "flux", "snr", "kind")


@dataclass(frozen=True)
class SimulatedPair:
    """A reference and a new image (ADU), their headers (TAN WCS, GAIN, SATURATE, SEEING,
    RDNOISE, EXPTIME) and the truth table (``TRUTH_COLUMNS``; x, y 0-based in the new image;
    flux in new-image ADU; kind among transient, variable, cosmic_ray, hot_pixel, star)."""

    ref: np.ndarray
    new: np.ndarray
    ref_header: fits.Header
    new_header: fits.Header
    truth: dict[str, np.ndarray]

    def truth_of(self, kind: str) -> dict[str, np.ndarray]:
        """The truth rows of one ``kind``."""
        sel = self.truth["kind"] == kind
        return {k: v[sel] for k, v in self.truth.items()}


def moffat_alpha(fwhm_px: float, beta: float) -> float:
    """Moffat scale ``alpha`` from the FWHM: ``FWHM = 2 alpha sqrt(2^(1/beta) - 1)``."""
    return fwhm_px / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def _axes(fwhm_px: float, beta: float, ellipticity: float) -> tuple[float, float]:
    """Major and minor Moffat scales for a geometric-mean FWHM and ``e = 1 - b/a``."""
    alpha = moffat_alpha(fwhm_px, beta)
    q = 1.0 - ellipticity
    return alpha / np.sqrt(q), alpha * np.sqrt(q)


def moffat_image(
    dx: np.ndarray,
    dy: np.ndarray,
    *,
    fwhm_px: float,
    beta: float,
    ellipticity: float = 0.0,
    pa_deg: float = 0.0,
) -> np.ndarray:
    """The unit-flux elliptical Moffat evaluated at offsets ``(dx, dy)`` (pixels, broadcast).

    ``fwhm_px`` is the geometric mean of the major- and minor-axis FWHM, ``ellipticity`` is
    ``1 - b/a`` and ``pa_deg`` the major axis angle from +x towards +y."""
    a1, a2 = _axes(fwhm_px, beta, ellipticity)
    th = np.deg2rad(pa_deg)
    c, s = np.cos(th), np.sin(th)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    r2 = (u / a1) ** 2 + (v / a2) ** 2
    return (beta - 1.0) / (np.pi * a1 * a2) * (1.0 + r2) ** (-beta)


def moffat_sum_sq(fwhm_px: float, beta: float, ellipticity: float = 0.0) -> float:
    """``sum P^2`` of the unit-flux Moffat on the pixel grid (its continuous integral
    ``(beta-1)^2 / (pi a1 a2 (2 beta - 1))``), which sets the optimal PSF-fit SNR."""
    a1, a2 = _axes(fwhm_px, beta, ellipticity)
    return float((beta - 1.0) ** 2 / (np.pi * a1 * a2 * (2.0 * beta - 1.0)))


def tan_header(
    shape: tuple[int, int],
    *,
    ra_deg: float,
    dec_deg: float,
    pixel_scale_arcsec: float,
    rotation_deg: float = 0.0,
    crpix_offset: tuple[float, float] = (0.0, 0.0),
) -> fits.Header:
    """A FITS header with a TAN WCS (CD matrix) centred near the middle of ``shape`` (ny, nx):
    the reference point (ra, dec) sits at 1-based pixel ``center + crpix_offset``."""
    ny, nx = shape
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra_deg, dec_deg]
    w.wcs.crpix = [nx / 2.0 + 0.5 + crpix_offset[0], ny / 2.0 + 0.5 + crpix_offset[1]]
    scale = pixel_scale_arcsec / 3600.0
    th = np.deg2rad(rotation_deg)
    # East left (RA decreases with x), north up, rotated by rotation_deg.
    w.wcs.cd = scale * np.array([[-np.cos(th), np.sin(th)], [np.sin(th), np.cos(th)]])
    w.wcs.radesys = "ICRS"
    w.wcs.equinox = 2000.0
    hdr = w.to_header()
    hdr["NAXIS"] = 2
    hdr["NAXIS1"] = nx
    hdr["NAXIS2"] = ny
    return hdr


def _stamp_add(
    image: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    half: int,
    psf: dict[str, float],
) -> None:
    """Add Moffat sources (flux in e-) into ``image`` on (2 half + 1)^2 stamps, vectorized over
    the sources (one ``np.add.at``); pixels off the frame are dropped."""
    if x.size == 0:
        return
    ny, nx = image.shape
    off = np.arange(-half, half + 1)
    ix = np.rint(x).astype(np.int64)
    iy = np.rint(y).astype(np.int64)
    gx = ix[:, None, None] + off[None, None, :]
    gy = iy[:, None, None] + off[None, :, None]
    vals = flux[:, None, None] * moffat_image(gx - x[:, None, None], gy - y[:, None, None], **psf)
    gx, gy = np.broadcast_arrays(gx, gy)
    ok = (gx >= 0) & (gx < nx) & (gy >= 0) & (gy < ny)
    np.add.at(image, (gy[ok], gx[ok]), vals[ok])


def _render(
    shape: tuple[int, int],
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    psf: dict[str, float],
) -> np.ndarray:
    """Sources rendered with stamps sized by brightness (wings kept for bright stars)."""
    img = np.zeros(shape)
    fwhm = psf["fwhm_px"]
    bright = flux > 2e5
    _stamp_add(img, x[~bright], y[~bright], flux[~bright], int(np.ceil(6 * fwhm)), psf)
    _stamp_add(img, x[bright], y[bright], flux[bright], int(np.ceil(30 * fwhm)), psf)
    return img


def _sky(shape: tuple[int, int], level: float, gradient: tuple[float, float]) -> np.ndarray:
    """Sky (e-/pixel): ``level (1 + gx (x/nx - 1/2) + gy (y/ny - 1/2))``."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    return level * (1.0 + gradient[0] * (xx / nx - 0.5) + gradient[1] * (yy / ny - 0.5))


def _observe(
    rng: np.random.Generator,
    signal_e: np.ndarray,
    *,
    read_noise_e: float,
    gain: float,
    saturate_adu: float,
) -> np.ndarray:
    """Poisson + read noise, in ADU, clipped at saturation (float32)."""
    counts = rng.poisson(np.clip(signal_e, 0, None)).astype(np.float64)
    counts += rng.normal(0.0, read_noise_e, signal_e.shape)
    adu = counts / gain
    return np.minimum(adu, saturate_adu).astype(np.float32)


def _cosmic_rays(
    rng: np.random.Generator, shape: tuple[int, int], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` short straight tracks (1-6 px, 1 px wide, 800-8000 e- per pixel): the image to
    add and each track's centre (x, y) and total charge."""
    ny, nx = shape
    img = np.zeros(shape)
    length = rng.integers(1, 7, n)
    ang = rng.uniform(0, np.pi, n)
    x0 = rng.uniform(10, nx - 10, n)
    y0 = rng.uniform(10, ny - 10, n)
    amp = rng.uniform(800, 8000, n)
    steps = np.arange(7)
    use = steps[None, :] < length[:, None]
    px = np.rint(x0[:, None] + steps[None, :] * np.cos(ang)[:, None]).astype(np.int64)
    py = np.rint(y0[:, None] + steps[None, :] * np.sin(ang)[:, None]).astype(np.int64)
    val = np.broadcast_to(amp[:, None], px.shape)
    np.add.at(img, (py[use], px[use]), val[use])
    cx = x0 + 0.5 * (length - 1) * np.cos(ang)
    cy = y0 + 0.5 * (length - 1) * np.sin(ang)
    return img, cx, cy, amp * length


def simulate_pair(
    size: int = 2048,
    seed: int = 0,
    *,
    n_stars: int | None = None,
    n_transients: int | None = None,
    n_variables: int | None = None,
    n_cosmic_rays: int | None = None,
    n_hot_pixels: int | None = None,
    fwhm_new_arcsec: float = 2.6,
    fwhm_ref_arcsec: float = 2.0,
    beta_new: float = 3.0,
    beta_ref: float = 3.5,
    ellipticity_new: float = 0.08,
    ellipticity_ref: float = 0.05,
    pixel_scale_arcsec: float = 1.0,
    sky_e: float = 900.0,
    read_noise_e: float = 6.0,
    gain: float = 1.6,
    saturate_adu: float = 60000.0,
    ref_depth: float = 20.0,
    rotation_deg: float = 0.02,
    snr_range: tuple[float, float] = (3.0, 50.0),
    with_sources: bool = True,
) -> SimulatedPair:
    """A simulated (reference, new) pair of ``size`` x ``size`` pixels with its truth table.

    Source counts default to densities per 4 Mpix (2048^2): 6000 stars, 400 transients, 40
    variables, 120 cosmic rays, 60 hot pixels. ``with_sources=False`` gives a pure-noise pair
    (sky, gradient, noise; same PSFs in the headers; empty truth) for false-positive rates.
    """
    if size < 128:
        raise ValueError(f"size: at least 128 pixels, got {size}")
    rng = np.random.default_rng(seed)
    shape = (size, size)
    area = size * size / 2048**2
    n_stars = round(6000 * area) if n_stars is None else n_stars
    n_transients = round(400 * area) if n_transients is None else n_transients
    n_variables = round(40 * area) if n_variables is None else n_variables
    n_cosmic_rays = round(120 * area) if n_cosmic_rays is None else n_cosmic_rays
    n_hot_pixels = round(60 * area) if n_hot_pixels is None else n_hot_pixels
    if not with_sources:
        n_stars = n_transients = n_variables = n_cosmic_rays = n_hot_pixels = 0

    ra0, dec0 = 150.0, 2.2
    new_header = tan_header(shape, ra_deg=ra0, dec_deg=dec0, pixel_scale_arcsec=pixel_scale_arcsec)
    offset = (float(rng.uniform(-3.5, 3.5)), float(rng.uniform(-3.5, 3.5)))
    ref_header = tan_header(
        shape,
        ra_deg=ra0,
        dec_deg=dec0,
        pixel_scale_arcsec=pixel_scale_arcsec,
        rotation_deg=rotation_deg,
        crpix_offset=offset,
    )
    w_new, w_ref = WCS(new_header), WCS(ref_header)
    psf_new = {
        "fwhm_px": fwhm_new_arcsec / pixel_scale_arcsec,
        "beta": beta_new,
        "ellipticity": ellipticity_new,
        "pa_deg": float(rng.uniform(0, 180)),
    }
    psf_ref = {
        "fwhm_px": fwhm_ref_arcsec / pixel_scale_arcsec,
        "beta": beta_ref,
        "ellipticity": ellipticity_ref,
        "pa_deg": float(rng.uniform(0, 180)),
    }

    # Stars: dN/dF ~ F^-1.8 between fmin and fmax (e- in the new image), inverse-CDF sampling.
    fmin, fmax, a = 300.0, 3e7, 1.8
    u = rng.uniform(size=n_stars)
    star_flux = (fmin ** (1 - a) + u * (fmax ** (1 - a) - fmin ** (1 - a))) ** (1 / (1 - a))
    margin = 4.0
    sx = rng.uniform(-margin, size - 1 + margin, n_stars)
    sy = rng.uniform(-margin, size - 1 + margin, n_stars)

    # Variables: stars of moderate flux whose new-epoch flux differs by a factor 0.4-2.5.
    cand = np.flatnonzero((star_flux > 3e3) & (star_flux < 2e5))
    n_var = min(n_variables, cand.size)
    var_idx = rng.choice(cand, n_var, replace=False) if n_var else np.zeros(0, np.int64)
    factor = np.ones(n_stars)
    if n_var:
        f = np.exp(rng.uniform(np.log(0.4), np.log(2.5), n_var))
        f = np.where(np.abs(f - 1) < 0.2, f * 1.5, f)
        factor[var_idx] = f

    # Transients: away from the edges and from bright stars (whose residuals would hide them).
    sky_map = _sky(shape, sky_e, (0.12, -0.08))
    sigma_pix_e = np.sqrt(sky_map + read_noise_e**2)
    sumsq_new = moffat_sum_sq(psf_new["fwhm_px"], beta_new, ellipticity_new)
    tx = rng.uniform(20, size - 21, n_transients * 2)
    ty = rng.uniform(20, size - 21, n_transients * 2)
    bright = star_flux > 5e5
    if bright.any() and tx.size:
        d2 = (tx[:, None] - sx[bright][None, :]) ** 2 + (ty[:, None] - sy[bright][None, :]) ** 2
        keep = (d2 > 25.0**2).all(axis=1)
        tx, ty = tx[keep], ty[keep]
    tx, ty = tx[:n_transients], ty[:n_transients]
    nt = tx.size
    lo, hi = snr_range
    core = rng.uniform(max(lo, 4.0), min(hi, 11.0), nt)
    wide = np.exp(rng.uniform(np.log(lo), np.log(hi), nt))
    t_snr = np.where(rng.uniform(size=nt) < 0.6, core, wide)
    sig_t = sigma_pix_e[np.rint(ty).astype(int), np.rint(tx).astype(int)]
    t_flux_e = t_snr * sig_t / np.sqrt(sumsq_new)

    # New image (e-).
    new_src = _render(
        shape,
        np.concatenate([sx, tx]),
        np.concatenate([sy, ty]),
        np.concatenate([star_flux * factor, t_flux_e]),
        psf_new,
    )
    cr_img, cr_x, cr_y, cr_q = _cosmic_rays(rng, shape, n_cosmic_rays)
    hx = rng.integers(5, size - 5, n_hot_pixels)
    hy = rng.integers(5, size - 5, n_hot_pixels)
    hq = rng.uniform(3000, 30000, n_hot_pixels)
    hot = np.zeros(shape)
    np.add.at(hot, (hy, hx), hq)
    new = _observe(
        rng,
        sky_map + new_src + cr_img + hot,
        read_noise_e=read_noise_e,
        gain=gain,
        saturate_adu=saturate_adu,
    )

    # Reference (e-): a deeper stack, stars at their reference-frame pixels, no transients.
    ra_s, dec_s = w_new.wcs_pix2world(sx, sy, 0)
    rx, ry = w_ref.wcs_world2pix(ra_s, dec_s, 0)
    ref_src = _render(shape, rx, ry, star_flux * ref_depth, psf_ref)
    ref_sky = _sky(shape, sky_e * ref_depth, (-0.05, 0.1))
    # A stack of ref_depth exposures: read noise adds in quadrature over them.
    ref = _observe(
        rng,
        ref_sky + ref_src,
        read_noise_e=read_noise_e * np.sqrt(ref_depth),
        gain=gain,
        saturate_adu=saturate_adu * ref_depth,
    )

    for hdr, psf, exptime, rn, sat in (
        (new_header, psf_new, 60.0, read_noise_e, saturate_adu),
        (
            ref_header,
            psf_ref,
            60.0 * ref_depth,
            read_noise_e * np.sqrt(ref_depth),
            saturate_adu * ref_depth,
        ),
    ):
        hdr["GAIN"] = (gain, "e-/ADU")
        hdr["RDNOISE"] = (float(rn), "read noise [e-]")
        hdr["SATURATE"] = (float(sat), "saturation level [ADU]")
        hdr["SEEING"] = (psf["fwhm_px"] * pixel_scale_arcsec, "PSF FWHM [arcsec]")
        hdr["EXPTIME"] = (exptime, "[s]")
        hdr["BUNIT"] = "adu"
    new_header["DATE-OBS"] = "2026-03-02T04:10:00"
    ref_header["DATE-OBS"] = "2026-01-15T03:00:00"

    # Truth (new-image pixels, new-image ADU).
    sig_var = sigma_pix_e[
        np.clip(np.rint(sy[var_idx]), 0, size - 1).astype(int),
        np.clip(np.rint(sx[var_idx]), 0, size - 1).astype(int),
    ]
    var_dflux_e = star_flux[var_idx] * (factor[var_idx] - 1.0)
    on = (sx >= 0) & (sx <= size - 1) & (sy >= 0) & (sy <= size - 1)
    xs = [tx, sx[var_idx], cr_x, hx.astype(float), sx[on]]
    ys = [ty, sy[var_idx], cr_y, hy.astype(float), sy[on]]
    flux_e = [t_flux_e, var_dflux_e, cr_q, hq, star_flux[on] * factor[on]]
    snr = [
        t_snr,
        np.abs(var_dflux_e) * np.sqrt(sumsq_new) / sig_var,
        np.full(cr_x.size, np.nan),
        np.full(hx.size, np.nan),
        np.full(int(on.sum()), np.nan),
    ]
    kinds = ["transient", "variable", "cosmic_ray", "hot_pixel", "star"]
    kind = np.concatenate(
        [np.full(len(v), k, dtype=object) for v, k in zip(xs, kinds, strict=True)]
    )
    x_all = np.concatenate(xs)
    y_all = np.concatenate(ys)
    ra, dec = w_new.wcs_pix2world(x_all, y_all, 0)
    truth = {
        "ra": np.asarray(ra, float),
        "dec": np.asarray(dec, float),
        "x": x_all,
        "y": y_all,
        "flux": np.concatenate(flux_e) / gain,
        "snr": np.concatenate(snr),
        "kind": kind.astype(str),
    }
    return SimulatedPair(
        ref=ref, new=new, ref_header=ref_header, new_header=new_header, truth=truth
    )


def simulate_noise_pair(size: int = 2048, seed: int = 0, **kwargs: float) -> SimulatedPair:
    """A pure-noise pair (no stars, transients or artifacts): for false-positive rates."""
    return simulate_pair(size, seed, with_sources=False, **kwargs)  # type: ignore[arg-type]
