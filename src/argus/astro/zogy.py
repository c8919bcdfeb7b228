"""ZOGY image subtraction (Zackay, Ofek & Gal-Yam 2016, ApJ 830, 27; "ZOGY" below) and the
registration of the reference onto the new image's pixel grid.

With background-subtracted new image ``N`` and aligned reference ``R`` (same grid), their PSFs
``P_n, P_r`` (unit sum), flux zero points ``F_n, F_r`` and white background noise ``sigma_n,
sigma_r``, hats denoting 2-D Fourier transforms, ZOGY defines:

* eq. 13, the proper difference image, white with unit variance when no source differs:
  ``D^ = (F_r P_r^ N^ - F_n P_n^ R^) / sqrt(sigma_n^2 F_r^2 |P_r^|^2 + sigma_r^2 F_n^2 |P_n^|^2)``
* eq. 15, its flux zero point and eq. 14, its PSF:
  ``F_D = F_r F_n / sqrt(sigma_n^2 F_r^2 + sigma_r^2 F_n^2)``,
  ``P_D^ = F_r F_n P_r^ P_n^ / (F_D sqrt(sigma_n^2 F_r^2 |P_r^|^2 + sigma_r^2 F_n^2 |P_n^|^2))``
* eq. 17, the transient score (the matched filter of D): ``S^ = F_D D^ conj(P_D^)``, which splits
  as ``S = S_N - S_R`` with ``S_N = k_n (x) N``, ``S_R = k_r (x) R`` and (eqs. 26-29)
  ``k_n^ = F_r^2 F_n |P_r^|^2 conj(P_n^) / den``, ``k_r^ = F_n^2 F_r |P_n^|^2 conj(P_r^) / den``,
  ``den = sigma_n^2 F_r^2 |P_r^|^2 + sigma_r^2 F_n^2 |P_n^|^2``;
* eqs. 25-33, the corrected score ``S_corr = S / sqrt(V(S_N) + V(S_R) + V_ast(S_N) + V_ast(S_R))``
  with the source-noise terms ``V(S_N) = V(eps_n) (x) k_n^2``, ``V(S_R) = V(eps_r) (x) k_r^2``
  (``V(eps)`` the per-pixel variance image: background plus the sources' Poisson noise) and
  the astrometric terms ``V_ast(S_N) = sigma_x^2 (dS_N/dx)^2 + sigma_y^2 (dS_N/dy)^2`` (same for
  S_R), ``sigma_x, sigma_y`` the registration noise in pixels;
* eqs. 41-42, PSF photometry of a point source: ``F_S = sum(F_D^2 |P_D|^2)``, flux
  ``alpha = S / F_S`` with error ``sqrt(V(S)) / F_S``; the flux is in the units of ``F_n``
  (new-image ADU with ``F_n = 1``).

Large frames are cut into overlapping tiles (each tile is transformed with its own noise
levels; the overlap, four PSF half-widths, absorbs the FFT's wrap-around), as ZOGY section 4
suggests for spatially varying PSFs and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from astropy.io import fits  # type: ignore[import-untyped]
from astropy.wcs import WCS  # type: ignore[import-untyped]
from scipy import ndimage

__all__ = ["ZogyResult", "align_reference", "bilinear_noise_acf", "noise_acf", "zogy"]


@dataclass(frozen=True)
class ZogyResult:
    """The ZOGY products on the new image's grid: ``D``, ``S``, ``Scorr``, the total score
    variance ``V_S`` (source + astrometric terms included), ``psf_D`` (a normalized stamp),
    ``F_D`` and ``F_S`` of the first tile and ``F_D_map`` (each pixel's tile value; for
    photometry with ``F_n = 1``: flux = S / F_S)."""

    D: np.ndarray
    S: np.ndarray
    Scorr: np.ndarray
    V_S: np.ndarray
    psf_D: np.ndarray
    F_D: float
    F_S: float
    F_D_map: np.ndarray


def bilinear_noise_acf(frac_x: np.ndarray, frac_y: np.ndarray) -> np.ndarray:
    """The 3x3 noise autocorrelation (unit at zero lag) that bilinear resampling by fractional
    shifts ``frac_x, frac_y`` (samples over the frame) gives white input noise. Per axis the
    weights are ``(1 - f, f)``: covariance ``(1 - f)^2 + f^2`` at lag 0 and ``f (1 - f)`` at
    lag 1; the pixel covariances are averaged over the frame (a stationary approximation)."""
    fx = np.asarray(frac_x, float).ravel()
    fy = np.asarray(frac_y, float).ravel()
    cx = np.stack([fx * (1 - fx), (1 - fx) ** 2 + fx**2, fx * (1 - fx)])  # lags -1, 0, 1
    cy = np.stack([fy * (1 - fy), (1 - fy) ** 2 + fy**2, fy * (1 - fy)])
    cov = np.einsum("in,jn->ij", cy, cx) / fx.size  # [dy, dx]
    return np.asarray(cov / cov[1, 1])


def align_reference(
    ref: np.ndarray,
    ref_header: fits.Header,
    new_header: fits.Header,
    shape_out: tuple[int, int],
    *,
    method: str = "fast",
    step: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample the reference onto the new image's pixel grid (bilinear, like
    ``reproject.reproject_interp``); pixels without reference coverage are NaN.

    ``method="reproject"`` calls ``reproject.reproject_interp`` (which evaluates both WCSs at
    every pixel: ~2.5 s at 2k x 2k on one core). ``method="fast"`` (default) evaluates the same
    pixel -> sky -> pixel mapping on a grid every ``step`` pixels, fits it with a cubic
    polynomial in (x, y), checks the fit reproduces the grid to 1e-3 px (else falls back to
    reproject), and interpolates with ``scipy.ndimage.map_coordinates``: written by hand only
    for speed; the tests compare it with reproject. Returns the aligned image and the noise
    autocorrelation the resampling introduces (:func:`bilinear_noise_acf`)."""
    if method not in ("fast", "reproject"):
        raise ValueError(f"method: 'fast' or 'reproject', got {method!r}")
    ny, nx = shape_out
    w_new = WCS(new_header).celestial
    w_ref = WCS(ref_header).celestial
    if not (w_new.has_celestial and w_ref.has_celestial):
        raise ValueError("header: both images need a celestial WCS (CTYPE/CRVAL/CRPIX/CD) to align")
    gx = np.unique(np.r_[np.arange(0, nx, step), nx - 1]).astype(float)
    gy = np.unique(np.r_[np.arange(0, ny, step), ny - 1]).astype(float)
    xx, yy = np.meshgrid(gx, gy)
    ra, dec = w_new.all_pix2world(xx.ravel(), yy.ravel(), 0)
    rx, ry = w_ref.all_world2pix(ra, dec, 0)
    acf = bilinear_noise_acf(rx - np.floor(rx), ry - np.floor(ry))
    # Cubic polynomial in normalized coordinates.
    u = (xx.ravel() - nx / 2) / nx
    v = (yy.ravel() - ny / 2) / ny
    powers = [(i, j) for i in range(4) for j in range(4 - i)]
    A = np.column_stack([u**i * v**j for i, j in powers])
    cx_, *_ = np.linalg.lstsq(A, rx, rcond=None)
    cy_, *_ = np.linalg.lstsq(A, ry, rcond=None)
    err = max(np.abs(A @ cx_ - rx).max(), np.abs(A @ cy_ - ry).max())
    if method == "reproject" or not err < 1e-3:
        from reproject import reproject_interp

        out, _ = reproject_interp(
            (np.asarray(ref, dtype=np.float64), w_ref),
            w_new,
            shape_out=shape_out,
            order="bilinear",
        )
        return out.astype(np.float32), acf
    # X[y, x] = sum_ij c_ij u_x^i v_y^j = (V C U^T)[y, x]: one matrix product per axis.
    U = ((np.arange(nx) - nx / 2) / nx)[:, None] ** np.arange(4)[None, :]
    V = ((np.arange(ny) - ny / 2) / ny)[:, None] ** np.arange(4)[None, :]
    Cx = np.zeros((4, 4))
    Cy = np.zeros((4, 4))
    for (i, j), a, b in zip(powers, cx_, cy_, strict=True):
        Cx[j, i] = a
        Cy[j, i] = b
    X = (V @ Cx @ U.T).astype(np.float32)
    Y = (V @ Cy @ U.T).astype(np.float32)
    out = ndimage.map_coordinates(
        np.asarray(ref, dtype=np.float32),
        [Y, X],
        order=1,
        mode="constant",
        cval=np.nan,
        prefilter=False,
        output=np.float32,
    )
    # Half a pixel of slack at the borders, as reproject does.
    rny, rnx = ref.shape
    outside = (X < -0.5) | (rnx - 0.5 < X) | (Y < -0.5) | (rny - 0.5 < Y)
    out[outside] = np.nan
    return out, acf


def _embed(stamp: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A centred odd stamp placed in an array of ``shape`` with its centre at [0, 0]
    (wrapped), ready for the FFT."""
    out = np.zeros(shape, dtype=np.float32)
    rows = (np.arange(stamp.shape[0]) - stamp.shape[0] // 2) % shape[0]
    cols = (np.arange(stamp.shape[1]) - stamp.shape[1] // 2) % shape[1]
    out[np.ix_(rows, cols)] = stamp
    return out


def _crop_centre(img: np.ndarray, half: int) -> np.ndarray:
    """The (2 half + 1)^2 stamp around index [0, 0] of a wrapped array."""
    rows = np.arange(-half, half + 1) % img.shape[0]
    cols = np.arange(-half, half + 1) % img.shape[1]
    return np.asarray(img[np.ix_(rows, cols)])


@dataclass(frozen=True)
class _Kernels:
    Pn: np.ndarray
    Pr: np.ndarray
    kn2_hat: np.ndarray
    kr2_hat: np.ndarray
    kn_hat: np.ndarray
    kr_hat: np.ndarray
    dn_hat: np.ndarray
    dr_hat: np.ndarray
    psf_D: np.ndarray
    F_D: float
    F_S: float
    c_n: float
    c_r: float


def _psi(acf: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | float:
    """The noise power spectrum shape (transform of the unit-zero-lag ACF), floored at 2 %."""
    if acf is None:
        return 1.0
    psi = sfft.rfft2(_embed(acf, shape), workers=1).real
    return np.maximum(psi, 0.02).astype(np.float32)


def noise_acf(
    img: np.ndarray, bad: np.ndarray, sigma: float, half: int = 3, box: int = 1024
) -> np.ndarray:
    """The background noise autocorrelation (lags up to ``half``, unit at zero lag) of a
    background-subtracted image, measured in its central ``box`` with sources (|pixel| > 3
    sigma, or the PSF-smoothed image > 2 sigma, grown by 3 px) and ``bad`` pixels masked: masked correlation via FFTs,
    ``ACF = IFFT|FFT(x m)|^2 / IFFT|FFT(m)|^2``. White noise gives a unit delta; resampled
    (interpolated) images show their neighbour correlations. The masking biases the estimate
    slightly (a diagnostic, e.g. for files resampled before they were written; the subtraction
    itself uses the known resampling ACF, :func:`bilinear_noise_acf`)."""
    ny, nx = img.shape
    by, bx = min(box, ny), min(box, nx)
    y0, x0 = (ny - by) // 2, (nx - bx) // 2
    sub = img[y0 : y0 + by, x0 : x0 + bx].astype(np.float64)
    # Sources are masked where the image smoothed over ~a PSF exceeds 2 sigma of the smoothed
    # noise: faint stars, which cancel in D, would otherwise pass for correlated noise.
    smooth = ndimage.gaussian_filter(sub, 1.5)
    s_sigma = 1.4826 * np.median(np.abs(smooth - np.median(smooth)))
    mask = bad[y0 : y0 + by, x0 : x0 + bx] | (np.abs(sub) > 3 * sigma) | (smooth > 2 * s_sigma)
    mask = ndimage.binary_dilation(mask, iterations=3)
    m = (~mask).astype(np.float64)
    x = sub * m
    shape = (by + half + 1, bx + half + 1)
    a = sfft.irfft2(np.abs(sfft.rfft2(x, s=shape)) ** 2, s=shape)
    c = sfft.irfft2(np.abs(sfft.rfft2(m, s=shape)) ** 2, s=shape)
    acf = _crop_centre(a, half) / np.maximum(_crop_centre(c, half), 1.0)
    if not acf[half, half] > 0:
        raise ValueError("noise_acf: no background pixels to measure the noise on")
    acf = acf / acf[half, half]
    return 0.5 * (acf + acf[::-1, ::-1])


def _fourier_terms(
    shape: tuple[int, int],
    psf_n: np.ndarray,
    psf_r: np.ndarray,
    sigma_n: float,
    sigma_r: float,
    F_n: float,
    F_r: float,
    acf_n: np.ndarray | None = None,
    acf_r: np.ndarray | None = None,
) -> dict[str, np.ndarray | float]:
    """Eqs. 13-15 and 26-29 on a grid of ``shape``: the D filters, k_n^, k_r^, P_D^, F_D.

    With noise autocorrelations ``acf_n``/``acf_r`` (unit at zero lag) the white ``sigma^2``
    becomes the power spectrum ``sigma^2 psi(k)``, ``psi`` the transform of the ACF: ZOGY's
    derivation is per Fourier mode and holds for any stationary noise (ZOGY section 3)."""
    Pn = sfft.rfft2(_embed(psf_n, shape), workers=1)
    Pr = sfft.rfft2(_embed(psf_r, shape), workers=1)
    aPn2 = Pn.real**2 + Pn.imag**2
    aPr2 = Pr.real**2 + Pr.imag**2
    psi_n = _psi(acf_n, shape)
    psi_r = _psi(acf_r, shape)
    den = (sigma_n**2 * psi_n * F_r**2 * aPr2 + sigma_r**2 * psi_r * F_n**2 * aPn2).astype(
        np.float32
    )
    den = np.maximum(den, np.float32(1e-12) * den.max())
    sq = np.sqrt(den)
    psi_n0 = float(np.sum(acf_n)) if acf_n is not None else 1.0
    psi_r0 = float(np.sum(acf_r)) if acf_r is not None else 1.0
    F_D = F_r * F_n / np.sqrt(sigma_n**2 * psi_n0 * F_r**2 + sigma_r**2 * psi_r0 * F_n**2)
    kn_hat = F_r**2 * F_n * aPr2 * np.conj(Pn) / den
    kr_hat = F_n**2 * F_r * aPn2 * np.conj(Pr) / den
    akn2 = kn_hat.real**2 + kn_hat.imag**2
    akr2 = kr_hat.real**2 + kr_hat.imag**2
    # Colored / white variance of S_N and S_R: scales the source-noise convolutions.
    c_n = float(np.sum(akn2 * psi_n) / np.sum(akn2)) if acf_n is not None else 1.0
    c_r = float(np.sum(akr2 * psi_r) / np.sum(akr2)) if acf_r is not None else 1.0
    # float32 / complex64 throughout: the tile-sized element-wise work is the kernels' cost.
    return {
        "dn_hat": F_r * Pr / sq,
        "dr_hat": F_n * Pn / sq,
        "kn_hat": kn_hat,
        "kr_hat": kr_hat,
        "c_n": c_n,
        "c_r": c_r,
        "PD_hat": F_r * F_n * Pr * Pn / (F_D * sq),
        "F_D": float(F_D),
    }


def _kernels(
    shape: tuple[int, int],
    psf_n: np.ndarray,
    psf_r: np.ndarray,
    sigma_n: float,
    sigma_r: float,
    F_n: float,
    F_r: float,
    half_out: int,
    acf_n: np.ndarray | None = None,
    acf_r: np.ndarray | None = None,
) -> _Kernels:
    """The Fourier-space kernels of one tile shape. The real-space kernels k_n, k_r and P_D
    are compact (a few PSF widths), so they are formed on a small grid (8 PSF half-widths a
    side, at least 64 px) and only their squares are transformed at the tile's size."""
    big = _fourier_terms(shape, psf_n, psf_r, sigma_n, sigma_r, F_n, F_r, acf_n, acf_r)
    m = max(64, 8 * half_out)
    small_shape = (min(m, shape[0]), min(m, shape[1]))
    small = _fourier_terms(small_shape, psf_n, psf_r, sigma_n, sigma_r, F_n, F_r, acf_n, acf_r)
    kn = sfft.irfft2(small["kn_hat"], s=small_shape, workers=1)
    kr = sfft.irfft2(small["kr_hat"], s=small_shape, workers=1)
    PD = sfft.irfft2(small["PD_hat"], s=small_shape, workers=1)
    F_D = float(big["F_D"])
    F_S = float(F_D**2 * np.sum(PD**2))
    kh = small_shape[0] // 2 - 1

    def full_sq(k: np.ndarray) -> np.ndarray:
        return sfft.rfft2(_embed(_crop_centre(k, kh) ** 2, shape), workers=1).astype(np.complex64)

    psf_D = _crop_centre(PD, half_out)
    return _Kernels(
        Pn=np.zeros(0),
        Pr=np.zeros(0),
        kn2_hat=full_sq(kn),
        kr2_hat=full_sq(kr),
        kn_hat=np.asarray(big["kn_hat"]).astype(np.complex64),
        kr_hat=np.asarray(big["kr_hat"]).astype(np.complex64),
        dn_hat=np.asarray(big["dn_hat"]).astype(np.complex64),
        dr_hat=np.asarray(big["dr_hat"]).astype(np.complex64),
        psf_D=psf_D / psf_D.sum(),
        F_D=F_D,
        F_S=F_S,
        c_n=float(big["c_n"]),
        c_r=float(big["c_r"]),
    )


def _tiles(n: int, core: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(outer start, outer stop, core start, core stop) covering [0, n)."""
    out = []
    for c0 in range(0, n, core):
        c1 = min(c0 + core, n)
        out.append((max(c0 - margin, 0), min(c1 + margin, n), c0, c1))
    return out


def zogy(
    N: np.ndarray,
    R: np.ndarray,
    psf_n: np.ndarray,
    psf_r: np.ndarray,
    *,
    sigma_n: float | np.ndarray,
    sigma_r: float | np.ndarray,
    F_r: float,
    F_n: float = 1.0,
    var_n: np.ndarray | None = None,
    var_r: np.ndarray | None = None,
    sigma_x: float = 0.0,
    sigma_y: float = 0.0,
    tile_size: int | None = None,
    acf_n: np.ndarray | None = None,
    acf_r: np.ndarray | None = None,
) -> ZogyResult:
    """ZOGY on background-subtracted, aligned images ``N`` and ``R`` (NaN-free).

    ``sigma_n``/``sigma_r``: background rms (scalars, or maps whose tile medians are used);
    ``var_n``/``var_r``: per-pixel variance images for the source-noise terms (default: the
    background variance alone); ``sigma_x``, ``sigma_y``: registration noise (pixels);
    ``tile_size``: core tile side (None: the whole frame in one transform); ``acf_n``/``acf_r``:
    noise autocorrelations (:func:`noise_acf`; None: white noise).
    """
    if N.shape != R.shape:
        raise ValueError(f"N and R: shapes differ, {N.shape} vs {R.shape}")
    if not F_r > 0 or not F_n > 0:
        raise ValueError(f"F_r, F_n: flux zero points must be > 0, got {F_r}, {F_n}")
    ny, nx = N.shape
    half = max(psf_n.shape[0], psf_r.shape[0]) // 2
    margin = 4 * half
    core = tile_size if tile_size else max(ny, nx)
    D = np.zeros(N.shape, np.float32)
    S = np.zeros(N.shape, np.float32)
    VS = np.zeros(N.shape, np.float32)
    FD = np.zeros(N.shape, np.float32)
    cache: dict[tuple[int, int, float, float], _Kernels] = {}
    sig_n_map = np.broadcast_to(np.asarray(sigma_n, np.float32), N.shape)
    sig_r_map = np.broadcast_to(np.asarray(sigma_r, np.float32), N.shape)
    kern: _Kernels | None = None
    first: _Kernels | None = None
    for y0, y1, cy0, cy1 in _tiles(ny, core, margin if core < ny else 0):
        for x0, x1, cx0, cx1 in _tiles(nx, core, margin if core < nx else 0):
            tn = N[y0:y1, x0:x1]
            tr = R[y0:y1, x0:x1]
            sn = float(np.median(sig_n_map[y0:y1:4, x0:x1:4]))
            sr = float(np.median(sig_r_map[y0:y1:4, x0:x1:4]))
            shape = (sfft.next_fast_len(y1 - y0, real=True), sfft.next_fast_len(x1 - x0, real=True))
            key = (shape[0], shape[1], round(sn, 4), round(sr, 4))
            if key not in cache:
                cache[key] = _kernels(shape, psf_n, psf_r, sn, sr, F_n, F_r, half, acf_n, acf_r)
            kern = cache[key]
            Nh = sfft.rfft2(tn.astype(np.float32), s=shape, workers=1)
            Rh = sfft.rfft2(tr.astype(np.float32), s=shape, workers=1)
            d = sfft.irfft2(kern.dn_hat * Nh - kern.dr_hat * Rh, s=shape, workers=1)
            s_n = sfft.irfft2(kern.kn_hat * Nh, s=shape, workers=1)
            s_r = sfft.irfft2(kern.kr_hat * Rh, s=shape, workers=1)
            vn = var_n[y0:y1, x0:x1] if var_n is not None else np.full(tn.shape, sn**2, np.float32)
            vr = var_r[y0:y1, x0:x1] if var_r is not None else np.full(tr.shape, sr**2, np.float32)
            v_sn = sfft.irfft2(
                kern.kn2_hat * sfft.rfft2(vn.astype(np.float32), s=shape, workers=1),
                s=shape,
                workers=1,
            )
            v_sr = sfft.irfft2(
                kern.kr2_hat * sfft.rfft2(vr.astype(np.float32), s=shape, workers=1),
                s=shape,
                workers=1,
            )
            h, w = y1 - y0, x1 - x0
            s_n, s_r = s_n[:h, :w], s_r[:h, :w]
            v = kern.c_n * v_sn[:h, :w] + kern.c_r * v_sr[:h, :w]
            if sigma_x > 0 or sigma_y > 0:
                gny, gnx = np.gradient(s_n)
                gry, grx = np.gradient(s_r)
                v = v + sigma_x**2 * (gnx**2 + grx**2) + sigma_y**2 * (gny**2 + gry**2)
            sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
            D[cy0:cy1, cx0:cx1] = d[:h, :w][sl]
            S[cy0:cy1, cx0:cx1] = (s_n - s_r)[sl]
            VS[cy0:cy1, cx0:cx1] = v[sl]
            FD[cy0:cy1, cx0:cx1] = kern.F_D
            first = first or kern
    assert first is not None
    VS = np.maximum(VS, 1e-12 * first.F_S)
    Scorr = (S / np.sqrt(VS)).astype(np.float32)
    return ZogyResult(
        D=D, S=S, Scorr=Scorr, V_S=VS, psf_D=first.psf_D, F_D=first.F_D, F_S=first.F_S, F_D_map=FD
    )
