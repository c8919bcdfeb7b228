"""A stamp-level simulator of real/bogus training triplets (science, reference, difference).

Each sample is a small sky canvas (``CANVAS`` pixels square) observed twice: a reference (a
deep coadd of ``n_ref`` frames, better seeing on average) and a new epoch, each with its own
elliptical Moffat PSF (Moffat 1969, A&A 3, 455; FWHM = 2 alpha sqrt(2^(1/beta) - 1)), sky,
Poisson and read noise, and background stars drawn from Euclidean number counts
(dN/dF ~ F^-5/2). The difference image is made the way a pipeline makes it: ZOGY's proper
difference (Zackay, Ofek & Gal-Yam 2016, ApJ 830, 27, eq. 13)

    D_hat = (F_r P_r_hat N_hat - F_n P_n_hat R_hat) / sqrt(s_n^2 F_r^2 |P_r_hat|^2 + s_r^2 F_n^2 |P_n_hat|^2)

computed in the canvas with the PSFs and flux ratio *as the pipeline measured them* (a few per
cent off for ordinary samples, badly off for the bad-subtraction artifacts), so residuals come
from the same mechanisms as in survey data. D has unit white-noise variance; the central
63 x 63 pixels of N, R and D are the triplet.

Classes (``KINDS``):

- ``real``: a point source in the new image only, over an injected SNR in D of 3-100 (weighted
  toward 5-15), on empty sky, on a galaxy (exponential disk convolved with each epoch's PSF;
  the transient offset from its centre), or on a star (a variable or a nuclear transient);
- ``cosmic_ray``: charge deposited in the new image only (single pixels and short tracks),
  not convolved by the PSF, so sharper than any star;
- ``bad_subtraction``: a bright star under the candidate and a PSF model off by 8-25 % in
  width and/or in ellipticity, or a flux ratio off by a few per cent: ring and cloverleaf
  residuals;
- ``dipole``: a star under the candidate and a reference misregistered by 0.25-1 pixel: a
  positive and a negative lobe;
- ``hot_pixel``: a single hot pixel, or a column segment with a charge offset, in the new
  image only;
- ``noise``: nothing there; a pure-noise fluctuation whose matched-filter SNR in D at the
  centre is set to 5 + Exp(0.2) (the excess of a Gaussian above a 5 sigma threshold) by a
  constrained realisation of the two images' noise (Hoffman & Ribak 1991, ApJ 380, L5): the
  fluctuation is shared between N and R in proportion to their noise, as a real one would be.

Everything is vectorized over the samples of a chunk (no loop per stamp); chunks bound memory.
Units: electrons (gain 1) and pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft

__all__ = [
    "BOGUS_KINDS",
    "CANVAS",
    "DEFAULT_BOGUS_MIX",
    "KINDS",
    "STAMP",
    "TripletSet",
    "moffat_alpha",
    "moffat_image",
    "simulate_triplets",
    "zogy_difference",
]

FloatArray = npt.NDArray[np.float64]

#: Side of the stamps (ZTF's alert cutouts are 63 x 63).
STAMP = 63
#: Side of the simulated canvas; the stamp is its centre. The margin keeps the periodic FFT's
#: wrap-around and the stars' wings outside the stamp.
CANVAS = 96
_OFF = (CANVAS - STAMP) // 2  # first canvas row/column of the stamp
_C = _OFF + STAMP // 2  # canvas pixel of the stamp's centre (the candidate)

KINDS: tuple[str, ...] = (
    "real",
    "cosmic_ray",
    "bad_subtraction",
    "dipole",
    "hot_pixel",
    "noise",
)
BOGUS_KINDS: tuple[str, ...] = KINDS[1:]
#: Default share of each artifact among the bogus samples.
DEFAULT_BOGUS_MIX: dict[str, float] = {
    "cosmic_ray": 0.2,
    "bad_subtraction": 0.25,
    "dipole": 0.2,
    "hot_pixel": 0.15,
    "noise": 0.2,
}
_MAX_STARS = 6  # background stars per canvas (Poisson mean below), rendered as an (n, K) block
_MEAN_STARS = 2.5


@dataclass(frozen=True)
class TripletSet:
    """Simulated triplets and their truth.

    ``triplets`` (n, 3, 63, 63) float32: science (new), reference, difference (ZOGY D, unit
    noise). ``label`` 1 = real, 0 = bogus; ``kind`` one of :data:`KINDS`; ``snr`` the injected
    SNR in D of a real (NaN for bogus); ``scorr`` the matched-filter SNR in D at the centre
    (what a 5 sigma detection threshold is applied to); ``host`` for reals: "none", "galaxy",
    "star".
    """

    triplets: npt.NDArray[np.float32]
    label: npt.NDArray[np.int8]
    kind: npt.NDArray[np.str_]
    snr: FloatArray
    scorr: FloatArray
    host: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.label.size)


def moffat_alpha(fwhm: npt.ArrayLike, beta: npt.ArrayLike) -> FloatArray:
    """Moffat core width alpha from the FWHM: FWHM = 2 alpha sqrt(2^(1/beta) - 1)."""
    b = np.asarray(beta, dtype=np.float64)
    return np.asarray(fwhm, dtype=np.float64) / (2.0 * np.sqrt(2.0 ** (1.0 / b) - 1.0))


def moffat_image(
    dx: np.ndarray,
    dy: np.ndarray,
    fwhm: np.ndarray,
    beta: np.ndarray,
    ellipticity: np.ndarray,
    theta: np.ndarray,
) -> np.ndarray:
    """An elliptical Moffat profile of unit integral at offsets (dx, dy) from its centre.

    I = (beta - 1) / (pi a_x a_y) (1 + (u/a_x)^2 + (v/a_y)^2)^-beta with (u, v) the offsets
    rotated by ``theta`` and a_x = alpha / sqrt(1 - e), a_y = alpha sqrt(1 - e) (e = 1 - b/a,
    the geometric-mean width keeps the FWHM). All arguments broadcast.
    """
    alpha = moffat_alpha(fwhm, beta)
    q = np.sqrt(1.0 - ellipticity)
    ax, ay = alpha / q, alpha * q
    c, s = np.cos(theta), np.sin(theta)
    u = (c * dx + s * dy) / ax
    v = (-s * dx + c * dy) / ay
    return (beta - 1.0) / (np.pi * ax * ay) * (1.0 + u * u + v * v) ** (-beta)


def _psf_at_origin(
    fwhm: FloatArray, beta: FloatArray, e: FloatArray, theta: FloatArray
) -> FloatArray:
    """(n, CANVAS, CANVAS) PSF images centred on pixel (0, 0) with periodic wrap, sum 1: the
    form the FFT convolution wants."""
    k = np.fft.fftfreq(CANVAS, 1.0 / CANVAS)  # 0, 1, ..., -1: signed offsets of each pixel
    dy, dx = np.meshgrid(k, k, indexing="ij")
    p = moffat_image(
        dx[None], dy[None], fwhm[:, None, None], beta[:, None, None], e[:, None, None],
        theta[:, None, None],
    )  # fmt: skip
    return p / p.sum(axis=(1, 2), keepdims=True)


def zogy_difference(
    new: np.ndarray,
    ref: np.ndarray,
    psf_new: np.ndarray,
    psf_ref: np.ndarray,
    sigma_new: np.ndarray,
    sigma_ref: np.ndarray,
    flux_new: np.ndarray | float = 1.0,
    flux_ref: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """ZOGY's proper difference image D and its PSF P_D for a stack of canvases.

    Zackay, Ofek & Gal-Yam (2016), eqs. 13-14 (14: P_D_hat = F_r F_n P_r_hat P_n_hat /
    (F_D denominator), F_D = F_r F_n / sqrt(s_n^2 F_r^2 + s_r^2 F_n^2)). ``new``, ``ref``
    (n, H, W) background-subtracted images; ``psf_*`` (n, H, W) centred on pixel (0, 0);
    ``sigma_*`` (n,) background noise per pixel; ``flux_*`` the flux-scale (zero-point) factors.
    Returns D (unit white-noise variance) and P_D (sum 1), both (n, H, W).
    """
    shape = new.shape[-2:]
    sn = np.asarray(sigma_new, dtype=np.float64).reshape(-1, 1, 1)
    sr = np.asarray(sigma_ref, dtype=np.float64).reshape(-1, 1, 1)
    fn = np.asarray(flux_new, dtype=np.float64).reshape(-1, 1, 1)
    fr = np.asarray(flux_ref, dtype=np.float64).reshape(-1, 1, 1)
    pn = sfft.rfft2(psf_new)
    pr = sfft.rfft2(psf_ref)
    den = np.sqrt(sn**2 * fr**2 * np.abs(pr) ** 2 + sr**2 * fn**2 * np.abs(pn) ** 2)
    den = np.maximum(den, 1e-300)
    d_hat = (fr * pr * sfft.rfft2(new) - fn * pn * sfft.rfft2(ref)) / den
    f_d = fr * fn / np.sqrt(sn**2 * fr**2 + sr**2 * fn**2)
    pd_hat = fr * fn * pr * pn / (f_d * den)
    return sfft.irfft2(d_hat, s=shape), sfft.irfft2(pd_hat, s=shape)


def _mix(bogus_mix: Mapping[str, float] | None) -> dict[str, float]:
    mix = dict(DEFAULT_BOGUS_MIX if bogus_mix is None else bogus_mix)
    unknown = sorted(set(mix) - set(BOGUS_KINDS))
    if unknown:
        raise ValueError(f"bogus_mix: unknown kind(s) {unknown}; choose among {BOGUS_KINDS}")
    bad = [k for k, v in mix.items() if not (np.isfinite(v) and v >= 0)]
    if bad or sum(mix.values()) <= 0:
        raise ValueError(f"bogus_mix: shares must be >= 0 with a positive sum, got {mix}")
    total = sum(mix.values())
    return {k: mix.get(k, 0.0) / total for k in BOGUS_KINDS}


def _draw_snr(rng: np.random.Generator, n: int) -> FloatArray:
    """Injected SNR of reals: 60 % uniform in 5-15, 40 % log-uniform in 3-100."""
    core = rng.uniform(5.0, 15.0, n)
    wide = np.exp(rng.uniform(np.log(3.0), np.log(100.0), n))
    return np.where(rng.random(n) < 0.6, core, wide)


def _chunk(rng: np.random.Generator, kinds: npt.NDArray[np.str_]) -> dict[str, np.ndarray]:
    """Simulate one chunk of samples of the given kinds (vectorized over the chunk)."""
    n = kinds.size
    is_ = {k: kinds == k for k in KINDS}
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float64)

    # --- observing conditions per epoch ------------------------------------------------
    fwhm_n = rng.uniform(1.8, 4.2, n)
    fwhm_r = rng.uniform(1.6, 3.2, n)
    beta_n, beta_r = rng.uniform(2.5, 4.5, n), rng.uniform(2.5, 4.5, n)
    e_n, e_r = rng.uniform(0.0, 0.15, n), rng.uniform(0.0, 0.1, n)
    th_n, th_r = rng.uniform(0, np.pi, n), rng.uniform(0, np.pi, n)
    sky = rng.uniform(150.0, 1500.0, n)  # e- per pixel per frame
    read_noise = rng.uniform(5.0, 12.0, n)
    n_ref = rng.integers(12, 41, n).astype(np.float64)  # frames in the reference coadd
    var_n_bg = sky + read_noise**2
    var_r_bg = (sky + read_noise**2) / n_ref
    sig_n = np.sqrt(var_n_bg)

    # --- static scene: background stars (Euclidean counts), seen by both epochs -------------
    n_stars = np.minimum(rng.poisson(_MEAN_STARS, n), _MAX_STARS)
    present = np.arange(_MAX_STARS)[None, :] < n_stars[:, None]
    f_min = 5.0 * sig_n * 2.0 * fwhm_n  # about SNR 5 in the new image
    flux_stars = f_min[:, None] * rng.random((n, _MAX_STARS)) ** (-1.0 / 1.5)
    flux_stars = np.minimum(flux_stars, 3e6) * present
    xs = rng.uniform(2.0, CANVAS - 3.0, (n, _MAX_STARS))
    ys = rng.uniform(2.0, CANVAS - 3.0, (n, _MAX_STARS))
    # keep random stars off the candidate itself (hosts are placed on purpose below)
    near = np.hypot(xs - _C, ys - _C) < 3.0 * fwhm_n[:, None]
    xs = np.where(near, (xs + CANVAS / 2) % (CANVAS - 5) + 2, xs)

    # registration error of the reference onto the new image: small for all, large for dipoles
    shift = rng.normal(0.0, 0.03, (n, 2))
    dip_len = rng.uniform(0.25, 1.0, n)
    dip_ang = rng.uniform(0, 2 * np.pi, n)
    shift[is_["dipole"]] = np.stack([dip_len * np.cos(dip_ang), dip_len * np.sin(dip_ang)], axis=1)[
        is_["dipole"]
    ]

    # --- central object: host star / galaxy, transient -------------------------------------
    host = np.full(n, "none", dtype="<U6")
    u = rng.random(n)
    host[is_["real"] & (u < 0.3)] = "galaxy"
    host[is_["real"] & (u >= 0.3) & (u < 0.45)] = "star"
    star_under = is_["bad_subtraction"] | is_["dipole"] | (host == "star")
    # flux of the star under the candidate, as SNR in the new image (bright for bad subtractions)
    star_snr = np.where(
        is_["bad_subtraction"],
        np.exp(rng.uniform(np.log(150.0), np.log(3000.0), n)),
        np.where(
            is_["dipole"],
            np.exp(rng.uniform(np.log(40.0), np.log(1500.0), n)),
            np.exp(rng.uniform(np.log(10.0), np.log(300.0), n)),
        ),
    )
    true_psf_n = _psf_at_origin(fwhm_n, beta_n, e_n, th_n)
    true_psf_r = _psf_at_origin(fwhm_r, beta_r, e_r, th_r)
    # SNR of a background-limited point source of flux f: f sqrt(sum P^2) / sigma
    star_flux = np.where(
        star_under, star_snr * sig_n / np.sqrt((true_psf_n**2).sum(axis=(1, 2))), 0.0
    )
    cx = _C + rng.uniform(-0.5, 0.5, n)
    cy = _C + rng.uniform(-0.5, 0.5, n)

    star_i, star_k = np.nonzero(present)  # only the stars that exist are rendered
    central = np.flatnonzero(star_flux > 0)

    def render(
        fwhm: FloatArray, beta: FloatArray, e: FloatArray, th: FloatArray, dxy: FloatArray
    ) -> FloatArray:
        """Stars + central star of one epoch, shifted by dxy (n, 2)."""
        img = np.zeros((n, CANVAS, CANVAS))
        i = star_i
        sx = (xs[i, star_k] + dxy[i, 0])[:, None, None]
        sy = (ys[i, star_k] + dxy[i, 1])[:, None, None]
        p = moffat_image(
            xx[None] - sx, yy[None] - sy, fwhm[i, None, None], beta[i, None, None],
            e[i, None, None], th[i, None, None],
        )  # fmt: skip
        np.add.at(img, i, flux_stars[i, star_k, None, None] * p)
        j = central
        img[j] += star_flux[j, None, None] * moffat_image(
            xx[None] - (cx[j] + dxy[j, 0])[:, None, None],
            yy[None] - (cy[j] + dxy[j, 1])[:, None, None],
            fwhm[j, None, None], beta[j, None, None], e[j, None, None], th[j, None, None],
        )  # fmt: skip
        return img

    scene_n = render(fwhm_n, beta_n, e_n, th_n, np.zeros((n, 2)))
    scene_r = render(fwhm_r, beta_r, e_r, th_r, shift)

    # galaxies: exponential disks, convolved with each epoch's PSF in Fourier space
    is_gal = host == "galaxy"
    if is_gal.any():
        g = np.flatnonzero(is_gal)
        h = rng.uniform(1.0, 5.0, g.size)  # scale length, pixels
        q = rng.uniform(0.4, 1.0, g.size)
        pa = rng.uniform(0, np.pi, g.size)
        off = rng.uniform(0.0, 2.5, g.size) * h
        ang = rng.uniform(0, 2 * np.pi, g.size)
        gx = (cx[g] - off * np.cos(ang))[:, None, None]
        gy = (cy[g] - off * np.sin(ang))[:, None, None]
        c, s = np.cos(pa)[:, None, None], np.sin(pa)[:, None, None]
        du, dv = xx[None] - gx, yy[None] - gy
        r = np.hypot((c * du + s * dv), (-s * du + c * dv) / q[:, None, None])
        disk = np.exp(-r / h[:, None, None])
        disk /= disk.sum(axis=(1, 2), keepdims=True)
        gal_flux = np.exp(rng.uniform(np.log(20.0), np.log(800.0), g.size)) * sig_n[g] * h
        disk *= gal_flux[:, None, None]
        d_hat = sfft.rfft2(disk)
        scene_n[g] += sfft.irfft2(d_hat * sfft.rfft2(true_psf_n[g]), s=(CANVAS, CANVAS))
        # the reference sees the same galaxy through its PSF and its registration shift
        k_y = np.fft.fftfreq(CANVAS)[:, None]
        k_x = np.fft.rfftfreq(CANVAS)[None, :]
        phase = np.exp(
            -2j * np.pi * (k_x * shift[g, 0, None, None] + k_y * shift[g, 1, None, None])
        )
        scene_r[g] += sfft.irfft2(d_hat * sfft.rfft2(true_psf_r[g]) * phase, s=(CANVAS, CANVAS))

    # --- the pipeline's PSF and flux-ratio estimates (imperfect) ------------------------
    err_w = rng.normal(0.0, 0.02, n)
    err_e = rng.normal(0.0, 0.01, n)
    err_f = rng.normal(0.0, 0.005, n)
    bs = is_["bad_subtraction"]
    mode = rng.integers(0, 3, n)  # 0 width, 1 ellipticity, 2 flux ratio (+ a little width)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    err_w = np.where(bs & (mode == 0), sign * rng.uniform(0.08, 0.25, n), err_w)
    err_w = np.where(bs & (mode == 2), sign * rng.uniform(0.0, 0.05, n), err_w)
    err_e = np.where(bs & (mode == 1), rng.uniform(0.08, 0.2, n), err_e)
    err_f = np.where(bs & (mode == 2), sign * rng.uniform(0.02, 0.06, n), err_f)
    est_psf_n = _psf_at_origin(
        fwhm_n * (1 + err_w), beta_n, np.clip(e_n + err_e, 0, 0.6),
        th_n + np.where(bs & (mode == 1), rng.uniform(0.5, 1.5, n), 0.0),
    )  # fmt: skip
    est_psf_r = true_psf_r

    # --- the transient (new image only) ---------------------------------------------------
    # SNR of unit flux in D (background-limited; ZOGY paper eq. 17 with Parseval):
    # SNR^2 = sum_k |F_n F_r P_n P_r|^2 / (s_n^2 F_r^2 |P_r|^2 + s_r^2 F_n^2 |P_n|^2) / N_pix
    pn_hat = np.abs(sfft.fft2(true_psf_n)) ** 2
    pr_hat = np.abs(sfft.fft2(true_psf_r)) ** 2
    snr_per_flux = np.sqrt(
        (
            pn_hat * pr_hat / (var_n_bg[:, None, None] * pr_hat + var_r_bg[:, None, None] * pn_hat)
        ).sum(axis=(1, 2))
        / CANVAS**2
    )
    snr = np.where(is_["real"], _draw_snr(rng, n), np.nan)
    t_flux = np.where(is_["real"], snr / snr_per_flux, 0.0)
    # on a host star the transient sits on the star's centre; otherwise at the candidate pixel
    tx = np.where(host == "star", cx, _C + rng.uniform(-0.5, 0.5, n))
    ty = np.where(host == "star", cy, _C + rng.uniform(-0.5, 0.5, n))
    r = np.flatnonzero(is_["real"])
    scene_n[r] += t_flux[r, None, None] * moffat_image(
        xx[None] - tx[r, None, None], yy[None] - ty[r, None, None], fwhm_n[r, None, None],
        beta_n[r, None, None], e_n[r, None, None], th_n[r, None, None],
    )  # fmt: skip

    # --- noise ---------------------------------------------------------------------------
    model_n = scene_n + sky[:, None, None]
    new = rng.poisson(np.maximum(model_n, 0.0)).astype(np.float64)
    new += rng.normal(0.0, 1.0, new.shape) * read_noise[:, None, None]
    model_r = scene_r + sky[:, None, None]
    ref_var = (np.maximum(model_r, 0.0) + read_noise[:, None, None] ** 2) / n_ref[:, None, None]
    ref = model_r + rng.normal(0.0, 1.0, model_r.shape) * np.sqrt(ref_var)

    # --- sharp artifacts in the new image only ----------------------------------------------
    cr = np.flatnonzero(is_["cosmic_ray"])
    if cr.size:
        _add_cosmic_rays(rng, new, cr, sig_n[cr])
    hp = np.flatnonzero(is_["hot_pixel"])
    if hp.size:
        column = rng.random(hp.size) < 0.35
        amp = np.exp(rng.uniform(np.log(15.0), np.log(400.0), hp.size)) * sig_n[hp]
        px = _C + rng.integers(-1, 2, hp.size)
        py = _C + rng.integers(-1, 2, hp.size)
        pt = hp[~column]
        new[pt, py[~column], px[~column]] += amp[~column]
        # column segments: a charge offset of 1.5-8 sigma per pixel along part of a column
        hc = hp[column]
        lo = rng.integers(0, _C - 8, hc.size)
        hi = rng.integers(_C + 8, CANVAS, hc.size)
        rows = np.arange(CANVAS)[None, :]
        seg = (rows >= lo[:, None]) & (rows < hi[:, None])
        level = rng.uniform(1.5, 8.0, hc.size) * sig_n[hc]
        new[hc, :, px[column]] += seg * level[:, None]

    # --- difference image as the pipeline makes it --------------------------------------
    sig_r = np.sqrt(var_r_bg)
    bg_n, bg_r = sky[:, None, None], sky[:, None, None]  # a good background model
    fn = 1.0 + err_f
    d, p_d = zogy_difference(new - bg_n, ref - bg_r, est_psf_n, est_psf_r, sig_n, sig_r, fn, 1.0)
    scorr = _centre_scorr(d, p_d)

    # pure-noise fluctuations: constrained realisation of the noise of N and R so that the
    # matched-filter SNR at the centre is nu (Hoffman & Ribak 1991)
    nz = np.flatnonzero(is_["noise"])
    if nz.size:
        nu = 5.0 + rng.exponential(0.2, nz.size)
        # the fluctuation peaks anywhere within the centre pixel, like a real source
        at = rng.uniform(-0.5, 0.5, (nz.size, 2))
        dn, dr, w_at = _constrained_bumps(
            est_psf_n[nz], est_psf_r[nz], p_d[nz], sig_n[nz], sig_r[nz], fn[nz], at
        )
        s_at = (d[nz] * w_at).sum(axis=(1, 2))  # the filter's SNR at that point now
        excess = (nu - s_at)[:, None, None]
        new[nz] += excess * dn
        ref[nz] += excess * dr
        d[nz], p_d[nz] = zogy_difference(
            new[nz] - bg_n[nz], ref[nz] - bg_r[nz], est_psf_n[nz], est_psf_r[nz],
            sig_n[nz], sig_r[nz], fn[nz], 1.0,
        )  # fmt: skip
        scorr[nz] = _centre_scorr(d[nz], p_d[nz])

    crop = np.s_[:, _OFF : _OFF + STAMP, _OFF : _OFF + STAMP]
    triplets = np.stack([new[crop], ref[crop], d[crop]], axis=1).astype(np.float32)
    return {"triplets": triplets, "snr": snr, "scorr": scorr, "host": host}


def _centre_scorr(d: FloatArray, p_d: FloatArray) -> FloatArray:
    """Matched-filter SNR of D at the candidate pixel: S = sum D P_D(x - c) / ||P_D||
    (unit-variance D; the point-source detection statistic of ZOGY eq. 17, without the
    source-noise and astrometric terms of Scorr)."""
    p = np.roll(p_d, (_C, _C), axis=(1, 2))  # P_D centred on the candidate pixel
    return np.asarray((d * p).sum(axis=(1, 2)) / np.sqrt((p * p).sum(axis=(1, 2))))


def _constrained_bumps(
    psf_n: FloatArray,
    psf_r: FloatArray,
    p_d: FloatArray,
    sig_n: FloatArray,
    sig_r: FloatArray,
    fn: FloatArray,
    at: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Images (dn, dr) such that adding t*dn to N and t*dr to R raises the matched-filter SNR
    at the centre + ``at`` (n, 2: sub-pixel x, y offsets) by t, and which are the conditional means of N's and R's noise given
    that SNR: Cov(noise, S) / Var(S) with S = L_n . n + L_r . r (Var(S) = 1 for white noise
    of variance s_n^2, s_r^2), i.e. dn = s_n^2 L_n, dr = s_r^2 L_r; and the unit-norm filter
    w placed at that point (S = sum w D)."""
    sn = sig_n[:, None, None]
    sr = sig_r[:, None, None]
    f = fn[:, None, None]
    pn, pr = sfft.rfft2(psf_n), sfft.rfft2(psf_r)
    den = np.sqrt(sn**2 * np.abs(pr) ** 2 + sr**2 * f**2 * np.abs(pn) ** 2)
    w = np.roll(p_d, (_C, _C), axis=(1, 2))
    w = w / np.sqrt((w * w).sum(axis=(1, 2), keepdims=True))
    k_y = np.fft.fftfreq(CANVAS)[None, :, None]
    k_x = np.fft.rfftfreq(CANVAS)[None, None, :]
    shift = np.exp(-2j * np.pi * (k_x * at[:, 0, None, None] + k_y * at[:, 1, None, None]))
    w_hat = sfft.rfft2(w) * shift  # the filter centred at the sub-pixel peak
    # S = sum_x w(x) D(x); D = irfft(K_n N_hat - K_r R_hat) => L = irfft(conj(K) W_hat)
    k_n = pr / den
    k_r = f * pn / den
    l_n = sfft.irfft2(np.conj(k_n) * w_hat, s=w.shape[1:])
    l_r = -sfft.irfft2(np.conj(k_r) * w_hat, s=w.shape[1:])
    w_at = sfft.irfft2(w_hat, s=w.shape[1:])
    return sn**2 * l_n, sr**2 * l_r, w_at


def _add_cosmic_rays(
    rng: np.random.Generator, new: FloatArray, idx: npt.NDArray[np.intp], sig: FloatArray
) -> None:
    """Deposit a cosmic ray near the centre of each canvas ``idx``: 40 % single or paired
    pixels, 60 % straight tracks of 2-10 pixels at a random angle (charge spread bilinearly
    over the pixels the track crosses); total charge 10-300 sigma per pixel of track."""
    m = idx.size
    n_steps = 24
    length = np.where(rng.random(m) < 0.4, rng.uniform(0.0, 1.2, m), rng.uniform(2.0, 10.0, m))
    ang = rng.uniform(0, np.pi, m)
    x0 = _C + rng.uniform(-0.5, 0.5, m)
    y0 = _C + rng.uniform(-0.5, 0.5, m)
    t = np.linspace(-0.5, 0.5, n_steps)[None, :]
    px = x0[:, None] + t * length[:, None] * np.cos(ang)[:, None]
    py = y0[:, None] + t * length[:, None] * np.sin(ang)[:, None]
    charge = (
        np.exp(rng.uniform(np.log(10.0), np.log(300.0), m))
        * sig
        * np.maximum(length, 1.0)
        / n_steps
    )
    # bilinear deposit of each step's charge on its four neighbouring pixels (np.add.at
    # accumulates repeated indices, which a plain fancy-index += would not)
    ix, iy = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    fx, fy = px - ix, py - iy
    rows = np.broadcast_to(idx[:, None], px.shape)
    q = charge[:, None]
    for ox, oy, wgt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(new, (rows, iy + oy, ix + ox), q * wgt)


def simulate_triplets(
    n: int,
    *,
    seed: int = 0,
    real_fraction: float = 0.5,
    bogus_mix: Mapping[str, float] | None = None,
    min_scorr: float | None = 5.0,
    chunk: int = 128,
) -> TripletSet:
    """``n`` simulated candidates, a share ``real_fraction`` of them real, the bogus ones split
    by ``bogus_mix`` (default :data:`DEFAULT_BOGUS_MIX`), shuffled, reproducible from ``seed``.

    With ``min_scorr`` (default 5: a 5 sigma detection threshold) only samples whose
    matched-filter SNR at the centre reaches it are kept, as a detection pipeline would hand
    them to the classifier: a real injected at SNR 4 is kept only when noise lifts it over the
    threshold, a bad subtraction whose residual is negative at the centre is not a (positive)
    candidate. Rejected samples are redrawn until every kind has its count. ``None`` keeps all.
    """
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    if not 0.0 <= real_fraction <= 1.0:
        raise ValueError(f"real_fraction: must be in [0, 1], got {real_fraction}")
    if chunk < 1:
        raise ValueError(f"chunk: must be >= 1, got {chunk}")
    if min_scorr is not None and not np.isfinite(min_scorr):
        raise ValueError(f"min_scorr: must be finite or None, got {min_scorr}")
    mix = _mix(bogus_mix)
    rng = np.random.default_rng(seed)
    n_real = round(n * real_fraction)
    counts = np.floor(np.array([mix[k] for k in BOGUS_KINDS]) * (n - n_real)).astype(int)
    counts[np.argmax(counts)] += n - n_real - counts.sum()
    needed = np.concatenate(
        [np.full(n_real, "real")]
        + [np.full(c, k) for k, c in zip(BOGUS_KINDS, counts, strict=True)]
    ).astype("<U16")
    needed = needed[rng.permutation(n)]
    parts: list[dict[str, np.ndarray]] = []
    drawn = 0
    while needed.size:
        if drawn > 20 * n + 10 * chunk:
            left = {k: int((needed == k).sum()) for k in KINDS if (needed == k).any()}
            raise RuntimeError(
                f"simulate_triplets: after {drawn} draws still missing {left} with scorr >= "
                f"{min_scorr}; lower min_scorr or change bogus_mix"
            )
        kinds = needed[:chunk]
        part = _chunk(rng, kinds)
        drawn += kinds.size
        keep = np.ones(kinds.size, dtype=bool) if min_scorr is None else part["scorr"] >= min_scorr
        part["kind"] = kinds
        parts.append({k: v[keep] for k, v in part.items()})
        needed = np.concatenate([needed[chunk:], kinds[~keep]])
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = rng.permutation(n)
    return TripletSet(
        triplets=out["triplets"][order],
        label=(out["kind"][order] == "real").astype(np.int8),
        kind=out["kind"][order],
        snr=out["snr"][order],
        scorr=out["scorr"][order],
        host=out["host"][order],
    )
