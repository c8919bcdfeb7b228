"""PSF measurement from an image's own stars: an elliptical Moffat fitted jointly on isolated,
unsaturated, bright stars, with a header-seeing fallback for frames with too few stars.

The profile (Moffat 1969, A&A 3, 455; the form used by e.g. Trujillo et al. 2001, MNRAS 328,
977): ``P(u, v) = (beta - 1)/(pi a1 a2) (1 + u^2/a1^2 + v^2/a2^2)^-beta`` with ``(u, v)`` the
pixel offsets rotated by the position angle ``theta``; it integrates to 1, so the fitted
amplitude is the star's total flux. Its power-law wings (``r^-2 beta``) are what a Gaussian
misses; the model stamp therefore extends to several FWHM. FWHM along an axis is
``2 a sqrt(2^(1/beta) - 1)``; ``fwhm_px`` is the geometric mean of the two, ``ellipticity`` is
``1 - a2/a1`` and ``pa_deg`` the major axis angle from +x towards +y.

Stars are found with sep (Barbary 2016, JOSS 1, 58; the SExtractor algorithms of Bertin &
Arnouts 1996, A&AS 117, 393); the fit is a bounded Levenberg-Marquardt least-squares fit
(analytic Jacobian, block-structured normal equations) with shared shape parameters
(a1, a2, theta, beta) and per-star centre and flux, weighted by the pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sep
from astropy.io import fits  # type: ignore[import-untyped]
from astropy.wcs import WCS  # type: ignore[import-untyped]
from astropy.wcs.utils import proj_plane_pixel_scales  # type: ignore[import-untyped]
from scipy.spatial import cKDTree

__all__ = [
    "PSFError",
    "PSFModel",
    "extract_sources",
    "header_fwhm_px",
    "measure_psf",
    "moffat_profile",
    "render_moffat",
    "sep_extract",
]

#: Default Moffat beta when the PSF comes from the header seeing (the atmosphere's
#: Kolmogorov value is ~4.765; measured ground-based PSFs sit around 2.5-4).
DEFAULT_BETA = 3.0
#: Header keywords tried, in order, for the seeing FWHM in arcsec.
SEEING_KEYWORDS = ("SEEING", "FWHM", "PSF_FWHM", "FWHMAS")


class PSFError(ValueError):
    """The PSF cannot be measured (too few stars and no seeing keyword)."""


def moffat_profile(
    dx: np.ndarray, dy: np.ndarray, a1: float, a2: float, theta: float, beta: float
) -> np.ndarray:
    """Unit-flux elliptical Moffat at offsets ``(dx, dy)``: scales ``a1, a2`` (pixels) along
    the axes rotated by ``theta`` (radians, from +x towards +y)."""
    c, s = np.cos(theta), np.sin(theta)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    r2 = (u / a1) ** 2 + (v / a2) ** 2
    return (beta - 1.0) / (np.pi * a1 * a2) * (1.0 + r2) ** (-beta)


def _fwhm_from_scale(a: float, beta: float) -> float:
    return float(2.0 * a * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def _scale_from_fwhm(fwhm: float, beta: float) -> float:
    return float(fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0)))


def render_moffat(
    fwhm_px: float, beta: float, ellipticity: float, pa_deg: float, half_size: int
) -> np.ndarray:
    """A normalized (sum 1) Moffat stamp of side ``2 half_size + 1`` centred on the middle
    pixel, evaluated at pixel centres."""
    alpha = _scale_from_fwhm(fwhm_px, beta)
    q = 1.0 - ellipticity
    off = np.arange(-half_size, half_size + 1, dtype=float)
    stamp = moffat_profile(
        off[None, :], off[:, None], alpha / np.sqrt(q), alpha * np.sqrt(q), np.deg2rad(pa_deg), beta
    )
    return stamp / stamp.sum()


@dataclass(frozen=True)
class PSFModel:
    """A measured PSF: the normalized odd-sized ``stamp`` and its Moffat parameters.

    ``source`` is ``"stars"`` (fitted on ``n_stars`` stars) or ``"header"`` (from the seeing
    keyword, because fewer than the required stars qualified); ``stars`` holds the x, y and
    flux of the stars used."""

    stamp: np.ndarray
    fwhm_px: float
    beta: float
    ellipticity: float
    pa_deg: float
    n_stars: int
    source: str
    stars: dict[str, np.ndarray] = field(default_factory=dict)


def header_fwhm_px(header: fits.Header) -> float:
    """The seeing FWHM in pixels from the header (``SEEING``/``FWHM``/... in arcsec, pixel
    scale from the WCS). Raises :class:`PSFError` naming the keywords when none is there."""
    for key in SEEING_KEYWORDS:
        if key in header:
            try:
                fwhm_arcsec = float(header[key])
            except (TypeError, ValueError):
                raise PSFError(f"header {key}: not a number ({header[key]!r})") from None
            if not fwhm_arcsec > 0:
                raise PSFError(f"header {key}: seeing must be > 0 arcsec, got {fwhm_arcsec}")
            w = WCS(header).celestial
            if not w.has_celestial:
                raise PSFError(f"header: {key} is in arcsec but the header has no celestial WCS")
            scale_arcsec = float(np.mean(proj_plane_pixel_scales(w))) * 3600.0
            return fwhm_arcsec / scale_arcsec
    raise PSFError(
        "too few isolated unsaturated stars to fit a PSF, and the header has none of the seeing "
        f"keywords {', '.join(SEEING_KEYWORDS)} (FWHM in arcsec) to fall back on"
    )


def extract_sources(
    data: np.ndarray, rms: float | np.ndarray, *, thresh: float = 10.0, minarea: int = 5
) -> np.ndarray:
    """sep sources above ``thresh`` sigma in a background-subtracted image (a structured array
    with sep's fields: x, y, a, b, theta, flux, peak, flag, npix, ...)."""
    return sep_extract(
        np.ascontiguousarray(data, dtype=np.float32),
        thresh,
        err=rms if np.ndim(rms) == 0 else np.ascontiguousarray(rms, dtype=np.float32),
        minarea=minarea,
    )


#: sep's pixel stack (active pixels above the threshold) when the first try overflows it.
PIXSTACK_MAX = 5_000_000


def sep_extract(data: np.ndarray, thresh: float, **kwargs: object) -> np.ndarray:
    """``sep.extract`` with a pixel stack sized to the image (an eighth of its pixels, at
    least 300,000): sep allocates and touches the whole stack on every call (5 M pixels is
    ~200 MB of page faults, ~0.1 s). On overflow it retries with :data:`PIXSTACK_MAX`; the
    catalogue does not depend on the stack size, only whether it fits. The process-wide
    limit is left at :data:`PIXSTACK_MAX` afterwards, as before."""
    sep.set_sub_object_limit(4096)
    sep.set_extract_pixstack(int(min(PIXSTACK_MAX, max(300_000, data.size // 8))))
    try:
        return sep.extract(data, thresh, **kwargs)
    except Exception as exc:  # sep raises a bare Exception for a full pixel buffer
        if "pixel buffer full" not in str(exc):
            raise
    finally:
        # sep's limit is process-wide: leave it where these functions always left it, for
        # other callers of sep.extract (e.g. argus.astro.preprocess).
        sep.set_extract_pixstack(PIXSTACK_MAX)
    return sep.extract(data, thresh, **kwargs)


def _select_psf_stars(
    objects: np.ndarray,
    shape: tuple[int, int],
    *,
    saturate: float | None,
    half: int,
    max_stars: int,
) -> np.ndarray:
    """Indices of isolated, unflagged, unsaturated, star-like, bright sources away from the
    edges, brightest first."""
    if objects.size == 0:
        return np.zeros(0, np.int64)
    ny, nx = shape
    x, y = objects["x"], objects["y"]
    ok = (objects["flag"] == 0) & (objects["npix"] >= 5)
    ok &= (x > half + 2) & (x < nx - half - 3) & (y > half + 2) & (y < ny - half - 3)
    if saturate is not None:
        ok &= objects["peak"] < 0.6 * saturate
    # Isolation: no other detected source within 2.5 stamp half-sizes.
    if objects.size > 1:
        tree = cKDTree(np.column_stack([x, y]))
        d, _ = tree.query(np.column_stack([x, y]), k=2)
        ok &= d[:, 1] > 2.5 * half
    # Star-like: sizes near the median of the bright candidates (rejects cosmic rays, hot
    # pixels and galaxies).
    size = np.sqrt(objects["a"] * objects["b"])
    ok &= objects["a"] < 1.6 * objects["b"]
    sharp = objects["peak"] / np.clip(objects["flux"], 1e-30, None)
    if ok.sum() >= 3:
        # Reference size and sharpness from the brightest candidates (stars outshine the
        # cosmic rays and hot pixels, which may outnumber them at faint fluxes).
        cand = np.flatnonzero(ok)
        top = cand[np.argsort(-objects["flux"][cand])][:10]
        med = np.median(size[top])
        med_sharp = np.median(sharp[top])
        ok &= (size > 0.7 * med) & (size < 1.4 * med)
        ok &= (sharp > 0.6 * med_sharp) & (sharp < 1.6 * med_sharp)
    idx = np.flatnonzero(ok)
    return idx[np.argsort(-objects["flux"][idx])][:max_stars]


def measure_psf(
    data: np.ndarray,
    rms: float | np.ndarray,
    header: fits.Header,
    *,
    objects: np.ndarray | None = None,
    saturate: float | None = None,
    gain: float | None = None,
    min_stars: int = 5,
    max_stars: int = 25,
) -> PSFModel:
    """Measure the PSF of a background-subtracted image from its own stars.

    ``rms`` is the background noise (scalar or map, same units as ``data``); ``objects`` a sep
    catalogue of the image (extracted here at 10 sigma when not given); ``saturate`` the
    saturation level above the background (stars peaking above 60 % of it are not used);
    ``gain`` (e-/unit) adds the stars' Poisson noise to the fit weights. With fewer than
    ``min_stars`` usable stars the PSF comes from the header seeing (:func:`header_fwhm_px`,
    circular, beta = 3) and ``source`` says ``"header"``.
    """
    data = np.asarray(data)  # stamps are cut and promoted to float64 in the fit
    if objects is None:
        objects = extract_sources(data, rms)
    # A first size guess from sep's moments of the brightest unflagged sources.
    good = objects[(objects["flag"] == 0) & (objects["npix"] >= 5)] if objects.size else objects
    if good.size >= min_stars:
        top = good[np.argsort(-good["flux"])][: 4 * max_stars]
        sigma = np.sqrt(top["a"] * top["b"])
        fwhm_guess = float(np.clip(2.3548 * np.median(sigma), 1.0, 25.0))
    else:
        fwhm_guess = 3.0
    half = int(np.clip(np.ceil(3.0 * fwhm_guess), 5, 25))
    idx = _select_psf_stars(objects, data.shape, saturate=saturate, half=half, max_stars=max_stars)
    if idx.size < min_stars:
        fwhm = header_fwhm_px(header)
        out_half = int(np.clip(np.ceil(4.0 * fwhm), 8, 40))
        return PSFModel(
            stamp=render_moffat(fwhm, DEFAULT_BETA, 0.0, 0.0, out_half),
            fwhm_px=fwhm,
            beta=DEFAULT_BETA,
            ellipticity=0.0,
            pa_deg=0.0,
            n_stars=int(idx.size),
            source="header",
        )
    model, chi2 = _fit_moffat(data, rms, objects[idx], half=half, fwhm_guess=fwhm_guess, gain=gain)
    # One clipping pass: drop stars the shared model fits badly (a cosmic ray or a faint
    # neighbour on the stamp), then refit.
    keep = chi2 < 3.0 * np.median(chi2)
    if (~keep).any() and keep.sum() >= min_stars:
        model, _ = _fit_moffat(
            data, rms, objects[idx[keep]], half=half, fwhm_guess=fwhm_guess, gain=gain
        )
    return model


def _moffat_and_jacobian(
    p: np.ndarray, X0: np.ndarray, Y0: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The joint model ``flux_k M(X - sx_k, Y - sy_k)`` on the stamps (n, h, w) and its
    analytic derivatives (n, h, w, 7) with respect to (log a1, log a2, theta, beta, sx_k,
    sy_k, flux_k). With ``B = 1 + u^2/a1^2 + v^2/a2^2`` and ``M = A B^-beta``,
    ``A = (beta - 1)/(pi a1 a2)``: ``dM/dB = -beta M / B``, ``du/dtheta = v``,
    ``dv/dtheta = -u``, ``dM/dlog a1 = -M + 2 beta M u^2 / (a1^2 B)`` and
    ``dM/dbeta = M (1/(beta - 1) - ln B)``."""
    la1, la2, theta, beta = p[:4]
    a1, a2 = np.exp(la1), np.exp(la2)
    sx = p[4 : 4 + n][:, None, None]
    sy = p[4 + n : 4 + 2 * n][:, None, None]
    fl = p[4 + 2 * n :][:, None, None]
    c, s = np.cos(theta), np.sin(theta)
    X = X0 - sx
    Y = Y0 - sy
    u = X * c + Y * s
    v = -X * s + Y * c
    ua = u / a1**2
    va = v / a2**2
    B = 1.0 + u * ua + v * va
    M = (beta - 1.0) / (np.pi * a1 * a2) * B ** (-beta)
    fm = fl * M
    g = 2.0 * beta * fm / B  # -2 dM/dB, times the flux
    jac = np.empty((*M.shape, 7))
    jac[..., 0] = -fm + g * u * ua
    jac[..., 1] = -fm + g * v * va
    jac[..., 2] = -g * (ua * v - va * u)
    jac[..., 3] = fm * (1.0 / (beta - 1.0) - np.log(B))
    jac[..., 4] = g * (ua * c - va * s)  # d/dsx = -d/dX
    jac[..., 5] = g * (ua * s + va * c)
    jac[..., 6] = M
    return fm, jac


def _levenberg_marquardt(
    cut: np.ndarray,
    weight: np.ndarray,
    X0: np.ndarray,
    Y0: np.ndarray,
    p0: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    max_iter: int = 60,
) -> tuple[np.ndarray, np.ndarray]:
    """Bounded (projected) Levenberg-Marquardt (Marquardt 1963, with the diagonal scaling)
    for the joint fit, using the block-arrow structure of the normal equations: each star's
    3 parameters touch only its stamp, so ``J^T J`` is assembled from per-star 7 x 7 blocks
    and one (4 + 3n)^2 system is solved per iteration. Returns the parameters and the
    weighted residuals (n, h, w)."""
    n = cut.shape[0]
    npar = p0.size
    idx = np.empty((n, 7), np.int64)
    idx[:, :4] = np.arange(4)
    idx[:, 4] = 4 + np.arange(n)
    idx[:, 5] = 4 + n + np.arange(n)
    idx[:, 6] = 4 + 2 * n + np.arange(n)
    w2 = weight[..., None]

    def resid(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fm, jac = _moffat_and_jacobian(p, X0, Y0, n)
        return (fm - cut) * weight, jac * w2

    p = np.clip(p0, lo, hi)
    r, J = resid(p)
    cost = float(np.sum(r**2))
    lam = 1e-3
    for _ in range(max_iter):
        Jk = J.reshape(n, -1, 7)
        rk = r.reshape(n, -1)
        H = np.zeros((npar, npar))
        JkT = Jk.transpose(0, 2, 1)
        np.add.at(H, (idx[:, :, None], idx[:, None, :]), JkT @ Jk)
        grad = np.zeros(npar)
        np.add.at(grad, idx, (JkT @ rk[:, :, None])[:, :, 0])
        diag = np.diag(H).copy()
        diag = np.maximum(diag, 1e-9 * max(float(diag.max()), 1e-30))
        improved = False
        for _ in range(12):
            step = np.linalg.solve(H + lam * np.diag(diag), -grad)
            p_new = np.clip(p + step, lo, hi)
            r_new, J_new = resid(p_new)
            cost_new = float(np.sum(r_new**2))
            if np.isfinite(cost_new) and cost_new < cost:
                improved = True
                break
            lam *= 10.0
        if not improved:
            break
        converged = cost - cost_new < 1e-10 * cost or np.all(
            np.abs(p_new - p) < 1e-8 * (np.abs(p) + 1e-6)
        )
        p, r, J, cost = p_new, r_new, J_new, cost_new
        lam = max(lam / 10.0, 1e-9)
        if converged:
            break
    return p, r


def _fit_moffat(
    data: np.ndarray,
    rms: float | np.ndarray,
    stars: np.ndarray,
    *,
    half: int,
    fwhm_guess: float,
    gain: float | None,
) -> tuple[PSFModel, np.ndarray]:
    """Joint least-squares Moffat fit: shared (log a1, log a2, theta, beta), per star
    (dx, dy, flux), by :func:`_levenberg_marquardt` with the analytic Jacobian
    (:func:`_moffat_and_jacobian`). Returns the model and each star's reduced chi-square."""
    n = stars.size
    off = np.arange(-half, half + 1)
    ix = np.rint(stars["x"]).astype(np.int64)
    iy = np.rint(stars["y"]).astype(np.int64)
    gy = iy[:, None, None] + off[None, :, None]
    gx = ix[:, None, None] + off[None, None, :]
    cut = np.asarray(data[gy, gx], dtype=np.float64)
    noise2 = (np.asarray(rms, dtype=np.float64)[gy, gx] if np.ndim(rms) else float(rms)) ** 2
    if gain:
        noise2 = noise2 + np.clip(cut, 0, None) / gain
    weight = 1.0 / np.sqrt(noise2)
    ox = (stars["x"] - ix)[:, None, None]
    oy = (stars["y"] - iy)[:, None, None]
    dxg = np.broadcast_to(off[None, None, :], cut.shape).astype(float)
    dyg = np.broadcast_to(off[None, :, None], cut.shape).astype(float)
    beta0 = DEFAULT_BETA
    a0 = _scale_from_fwhm(fwhm_guess, beta0)
    flux0 = np.clip((cut * (dxg**2 + dyg**2 < (2 * fwhm_guess) ** 2)).sum(axis=(1, 2)), 1e-6, None)
    p0 = np.concatenate(
        [[np.log(a0 * 1.05), np.log(a0 / 1.05), 0.3, beta0], np.zeros(2 * n), flux0]
    )
    lo = np.concatenate(
        [[np.log(0.2), np.log(0.2), -np.inf, 1.05], np.full(2 * n, -2.0), np.zeros(n)]
    )
    hi = np.concatenate(
        [[np.log(50), np.log(50), np.inf, 15.0], np.full(2 * n, 2.0), np.full(n, np.inf)]
    )
    x_fit, fun = _levenberg_marquardt(cut, weight, dxg - ox, dyg - oy, p0, lo, hi)
    la1, la2, theta, beta = x_fit[:4]
    a1, a2 = float(np.exp(la1)), float(np.exp(la2))
    if a2 > a1:
        a1, a2 = a2, a1
        theta += np.pi / 2
    fwhm = _fwhm_from_scale(np.sqrt(a1 * a2), float(beta))
    ell = 1.0 - a2 / a1
    pa = float(np.rad2deg(theta) % 180.0)
    out_half = int(np.clip(np.ceil(4.0 * fwhm), 8, 40))
    chi2 = (fun.reshape(n, -1) ** 2).mean(axis=1)
    psf = PSFModel(
        stamp=render_moffat(fwhm, float(beta), ell, pa, out_half),
        fwhm_px=fwhm,
        beta=float(beta),
        ellipticity=float(ell),
        pa_deg=pa,
        n_stars=n,
        source="stars",
        stars={
            "x": stars["x"] + x_fit[4 : 4 + n],
            "y": stars["y"] + x_fit[4 + n : 4 + 2 * n],
            "flux": x_fit[4 + 2 * n :],
        },
    )
    return psf, chi2
