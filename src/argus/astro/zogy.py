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

#: Rows of the output grid resampled at a time by :func:`align_reference`.
ALIGN_BLOCK_ROWS = 128

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
    reproject), and interpolates bilinearly (:func:`_bilinear`, in row blocks): written by
    hand only for speed; the tests compare it with reproject and with
    ``scipy.ndimage.map_coordinates``. Returns the aligned image and the noise
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
    # Row blocks: the coordinates and interpolation temporaries of a block stay in cache.
    out = np.empty(shape_out, np.float32)
    flat = np.ascontiguousarray(ref, dtype=np.float32).ravel()
    rny, rnx = ref.shape
    VCx, VCy = V @ Cx, V @ Cy
    for r0 in range(0, ny, ALIGN_BLOCK_ROWS):
        r1 = min(r0 + ALIGN_BLOCK_ROWS, ny)
        X = (VCx[r0:r1] @ U.T).astype(np.float32)
        Y = (VCy[r0:r1] @ U.T).astype(np.float32)
        _bilinear(flat, rny, rnx, X, Y, out[r0:r1])
    return out, acf


def _bilinear(
    flat: np.ndarray, rny: int, rnx: int, x: np.ndarray, y: np.ndarray, out: np.ndarray
) -> None:
    """Bilinear interpolation of the (rny, rnx) image ``flat`` (raveled, float32) at (x, y)
    into ``out``; NaN outside ``0 <= x <= rnx - 1, 0 <= y <= rny - 1``, like
    ``scipy.ndimage.map_coordinates(order=1, mode="constant", cval=nan)`` (whose result it
    equals to float32 rounding)."""
    valid = (x >= 0) & (x <= rnx - 1) & (y >= 0) & (y <= rny - 1)
    ix = np.clip(np.floor(x), 0, max(rnx - 2, 0)).astype(np.intp)
    iy = np.clip(np.floor(y), 0, max(rny - 2, 0)).astype(np.intp)
    fx = x - ix
    fy = y - iy
    idx = iy * rnx + ix
    v00 = flat[idx]
    v01 = flat[idx + 1]
    idx += rnx
    v10 = flat[idx]
    v11 = flat[idx + 1]
    v01 -= v00
    v01 *= fx
    v00 += v01  # top row
    v11 -= v10
    v11 *= fx
    v10 += v11  # bottom row
    v10 -= v00
    v10 *= fy
    np.add(v00, v10, out=out)
    out[~valid] = np.nan


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
class _PsfSpectra:
    """What depends only on the PSFs, the ACFs and the grid: computed once per tile shape."""

    Pn: np.ndarray  # rfft2 of the new PSF (complex64)
    Pr: np.ndarray
    aPn2: np.ndarray  # |Pn^|^2 (float32)
    aPr2: np.ndarray
    psi_n: np.ndarray | float  # noise power spectrum shapes (1.0: white)
    psi_r: np.ndarray | float
    psi_n0: float  # psi at zero frequency: the sum of the ACF
    psi_r0: float


@dataclass(frozen=True)
class _Kernels:
    """The Fourier-space filters of one tile shape and noise level (complex64 on the rfft2
    grid): ``dn_hat, dr_hat`` (eq. 13), ``kn_hat, kr_hat`` (eqs. 26-29), ``kn2_hat, kr2_hat``
    (the transforms of ``k_n^2, k_r^2`` times the coloured/white variance ratios ``c_n, c_r``,
    for the source-noise convolutions) and ``sum_kn2, sum_kr2`` (their sums, for a constant
    variance); ``psf_D``, ``F_D``, ``F_S`` as in :class:`ZogyResult`."""

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
    sum_kn2: float
    sum_kr2: float


def _psi(acf: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | float:
    """The noise power spectrum shape on the rfft2 grid of ``shape`` (the transform of the
    centred, unit-zero-lag ACF), floored at 2 %. The ACF spans a few lags, so the transform
    is the direct sum ``Re sum_{dy,dx} acf[dy, dx] exp(-2 pi i (ky dy + kx dx))``, written as
    two small matrix products (equal to ``rfft2`` of the embedded ACF)."""
    if acf is None:
        return 1.0
    a = np.asarray(acf, dtype=np.float64)
    ly = np.arange(a.shape[0]) - a.shape[0] // 2
    lx = np.arange(a.shape[1]) - a.shape[1] // 2
    ey = np.exp(-2j * np.pi * np.outer(sfft.fftfreq(shape[0]), ly))
    ex = np.exp(-2j * np.pi * np.outer(lx, sfft.rfftfreq(shape[1])))
    psi = ((ey @ a.astype(np.complex128)) @ ex).real
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


def _psf_spectra(
    shape: tuple[int, int],
    psf_n: np.ndarray,
    psf_r: np.ndarray,
    acf_n: np.ndarray | None,
    acf_r: np.ndarray | None,
) -> _PsfSpectra:
    Pn = sfft.rfft2(_embed(psf_n, shape), workers=1)
    Pr = sfft.rfft2(_embed(psf_r, shape), workers=1)
    return _PsfSpectra(
        Pn=Pn,
        Pr=Pr,
        aPn2=(Pn.real**2 + Pn.imag**2).astype(np.float32),
        aPr2=(Pr.real**2 + Pr.imag**2).astype(np.float32),
        psi_n=_psi(acf_n, shape),
        psi_r=_psi(acf_r, shape),
        psi_n0=float(np.sum(acf_n)) if acf_n is not None else 1.0,
        psi_r0=float(np.sum(acf_r)) if acf_r is not None else 1.0,
    )


def _fourier_terms(
    sp: _PsfSpectra, sigma_n: float, sigma_r: float, F_n: float, F_r: float, *, small: bool
) -> dict[str, np.ndarray | float]:
    """Eqs. 13-15 and 26-29 on the grid of ``sp``: k_n^, k_r^ and F_D, with the D filters
    (tile grid) or P_D^ (``small``, the grid the compact real-space kernels are formed on).

    With noise autocorrelations (unit at zero lag) the white ``sigma^2`` becomes the power
    spectrum ``sigma^2 psi(k)``, ``psi`` the transform of the ACF: ZOGY's derivation is per
    Fourier mode and holds for any stationary noise (ZOGY section 3). float32 / complex64
    throughout, in place where possible: the tile-sized element-wise work is the kernels'
    cost."""
    f32 = np.float32
    den = np.multiply(sp.aPr2, f32(sigma_n**2 * F_r**2))
    if np.ndim(sp.psi_n):
        den *= sp.psi_n
    tmp = np.multiply(sp.aPn2, f32(sigma_r**2 * F_n**2))
    if np.ndim(sp.psi_r):
        tmp *= sp.psi_r
    den += tmp
    np.maximum(den, f32(1e-12) * den.max(), out=den)
    F_D = F_r * F_n / np.sqrt(sigma_n**2 * sp.psi_n0 * F_r**2 + sigma_r**2 * sp.psi_r0 * F_n**2)
    out: dict[str, np.ndarray | float] = {"F_D": float(F_D)}
    # k_n^ = F_r^2 F_n |P_r^|^2 conj(P_n^) / den: a real gain times conj(P_n^).
    for name, scale, aP2_self, aP2_other, P, psi in (
        ("n", F_r**2 * F_n, sp.aPr2, sp.aPn2, sp.Pn, sp.psi_n),
        ("r", F_n**2 * F_r, sp.aPn2, sp.aPr2, sp.Pr, sp.psi_r),
    ):
        gain = np.multiply(aP2_self, f32(scale))
        gain /= den
        np.multiply(gain, gain, out=tmp)
        tmp *= aP2_other  # |k^|^2
        # Coloured / white variance of S_N and S_R: scales the source-noise convolutions.
        total = float(tmp.sum(dtype=np.float64))
        c = float(np.multiply(tmp, psi).sum(dtype=np.float64)) / total if np.ndim(psi) else 1.0
        out[f"c_{name}"] = c
        k_hat = np.conj(P)
        k_hat *= gain
        out[f"k{name}_hat"] = k_hat
    np.sqrt(den, out=den)
    inv_sq = np.divide(f32(1.0), den, out=den)
    if small:
        PD = np.multiply(sp.Pr, sp.Pn)
        PD *= inv_sq
        PD *= f32(F_r * F_n / F_D)
        out["PD_hat"] = PD
    else:
        dn = np.multiply(sp.Pr, inv_sq)
        dn *= f32(F_r)
        dr = np.multiply(sp.Pn, inv_sq)
        dr *= f32(F_n)
        out["dn_hat"], out["dr_hat"] = dn, dr
    return out


def _kernels(
    sp_big: _PsfSpectra,
    sp_small: _PsfSpectra,
    shape: tuple[int, int],
    small_shape: tuple[int, int],
    sigma_n: float,
    sigma_r: float,
    F_n: float,
    F_r: float,
    half_out: int,
) -> _Kernels:
    """The Fourier-space kernels of one tile shape and noise level. The real-space kernels
    k_n, k_r and P_D are compact (a few PSF widths), so they are formed on a small grid (8 PSF
    half-widths a side, at least 64 px) and only their squares are transformed at the tile's
    size."""
    big = _fourier_terms(sp_big, sigma_n, sigma_r, F_n, F_r, small=False)
    small = _fourier_terms(sp_small, sigma_n, sigma_r, F_n, F_r, small=True)
    kn = sfft.irfft2(small["kn_hat"], s=small_shape, workers=1)
    kr = sfft.irfft2(small["kr_hat"], s=small_shape, workers=1)
    PD = sfft.irfft2(small["PD_hat"], s=small_shape, workers=1)
    F_D = float(big["F_D"])
    F_S = float(F_D**2 * np.sum(PD**2))
    kh = small_shape[0] // 2 - 1
    kn2 = _crop_centre(kn, kh) ** 2
    kr2 = _crop_centre(kr, kh) ** 2
    c_n, c_r = float(big["c_n"]), float(big["c_r"])

    def full_sq(k2: np.ndarray, c: float) -> np.ndarray:
        return np.asarray(sfft.rfft2(_embed(c * k2, shape), workers=1), dtype=np.complex64)

    psf_D = _crop_centre(PD, half_out)
    return _Kernels(
        kn2_hat=full_sq(kn2, c_n),
        kr2_hat=full_sq(kr2, c_r),
        kn_hat=np.asarray(big["kn_hat"], dtype=np.complex64),
        kr_hat=np.asarray(big["kr_hat"], dtype=np.complex64),
        dn_hat=np.asarray(big["dn_hat"], dtype=np.complex64),
        dr_hat=np.asarray(big["dr_hat"], dtype=np.complex64),
        psf_D=psf_D / psf_D.sum(),
        F_D=F_D,
        F_S=F_S,
        c_n=c_n,
        c_r=c_r,
        sum_kn2=float(c_n * kn2.sum()),
        sum_kr2=float(c_r * kr2.sum()),
    )


def _tiles(n: int, core: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(outer start, outer stop, core start, core stop) covering [0, n)."""
    out = []
    for c0 in range(0, n, core):
        c1 = min(c0 + core, n)
        out.append((max(c0 - margin, 0), min(c1 + margin, n), c0, c1))
    return out


def _rfft(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Single-precision rfft2 on ``shape`` (zero-padded)."""
    return np.asarray(sfft.rfft2(np.asarray(a, dtype=np.float32), s=shape, workers=1))


def _rfft_into(pad: np.ndarray, tile: np.ndarray) -> np.ndarray:
    """rfft2 of ``tile`` zero-padded to ``pad.shape``, through the reused buffer ``pad``
    (whose area outside the tile must be, and stays, zero for tiles of one size)."""
    h, w = tile.shape
    pad[:h, :w] = tile
    if h < pad.shape[0] or w < pad.shape[1]:
        pad[h:, :] = 0.0
        pad[:h, w:] = 0.0
    return np.asarray(sfft.rfft2(pad, workers=1))


def _irfft(a: np.ndarray, shape: tuple[int, int], h: int, w: int, out: np.ndarray) -> np.ndarray:
    """irfft2 of a spectrum on ``shape`` into the float32 buffer ``out`` (of ``shape``),
    cropped to (h, w). numpy's transform (single precision since numpy 2.0, the same
    pocketfft) is used here because it writes into ``out``: scipy's allocates a fresh
    tile-sized array per call, whose page faults cost more than the transform on a loaded
    machine."""
    np.fft.irfftn(a, s=shape, axes=(0, 1), out=out)  # (irfft2 drops `out`: numpy 2.4)
    return out if out.shape == (h, w) else out[:h, :w]


def _add_gradient_terms(
    out: np.ndarray, a: np.ndarray, b: np.ndarray, sx2: float, sy2: float
) -> None:
    """``out += sx2 (da/dx^2 + db/dx^2) + sy2 (da/dy^2 + db/dy^2)`` with the differences of
    ``numpy.gradient`` (central inside, one-sided at the edges), in place and in float32."""
    g = np.empty_like(out)
    for img in (a, b):
        for axis, s2 in ((1, sx2), (0, sy2)):
            if s2 <= 0 or img.shape[axis] < 2:
                continue
            if axis == 1:
                np.subtract(img[:, 2:], img[:, :-2], out=g[:, 1:-1])
                g[:, 1:-1] *= 0.5
                np.subtract(img[:, 1], img[:, 0], out=g[:, 0])
                np.subtract(img[:, -1], img[:, -2], out=g[:, -1])
            else:
                np.subtract(img[2:], img[:-2], out=g[1:-1])
                g[1:-1] *= 0.5
                np.subtract(img[1], img[0], out=g[0])
                np.subtract(img[-1], img[-2], out=g[-1])
            np.square(g, out=g)
            g *= np.float32(s2)
            out += g


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

    Cost per tile: four real forward FFTs (N, R and the two variance images; none for a
    variance that is the constant background) and four inverse ones (D, S_N, S_R and the
    summed variance; S_N and S_R share one when there is no registration noise), single
    precision, transforms of the PSFs shared by tiles of the same shape.
    """
    if N.shape != R.shape:
        raise ValueError(f"N and R: shapes differ, {N.shape} vs {R.shape}")
    if not F_r > 0 or not F_n > 0:
        raise ValueError(f"F_r, F_n: flux zero points must be > 0, got {F_r}, {F_n}")
    ny, nx = N.shape
    half = max(psf_n.shape[0], psf_r.shape[0]) // 2
    margin = 4 * half
    core = tile_size if tile_size else max(ny, nx)
    tiles_y = _tiles(ny, core, margin if core < ny else 0)
    tiles_x = _tiles(nx, core, margin if core < nx else 0)
    single = len(tiles_y) == 1 and len(tiles_x) == 1
    D: np.ndarray = np.empty(N.shape, np.float32)
    S: np.ndarray = np.empty(N.shape, np.float32)
    VS: np.ndarray = np.empty(N.shape, np.float32)
    FD = np.empty(N.shape, np.float32)
    spectra: dict[tuple[int, int], tuple[_PsfSpectra, _PsfSpectra, tuple[int, int]]] = {}
    # Kernels of the last tile, reused while the shape and noise levels repeat (holding every
    # tile's kernels would keep ~100 MB per 2k tile alive).
    last: tuple[tuple[int, int, float, float], _Kernels] | None = None
    sig_n_map = np.broadcast_to(np.asarray(sigma_n, np.float32), N.shape)
    sig_r_map = np.broadcast_to(np.asarray(sigma_r, np.float32), N.shape)
    astrometric = sigma_x > 0 or sigma_y > 0
    first: tuple[np.ndarray, float, float] | None = None  # psf_D, F_D, F_S of the first tile
    kern: _Kernels | None = None
    # Reused buffers: the zero-padded input tile and two spectra.
    work: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    # Real-space results of a tile (D, S, V_S, S_R): the outputs themselves for one tile.
    outs: tuple[np.ndarray, ...] | None = None
    f32 = np.float32
    for y0, y1, cy0, cy1 in tiles_y:
        for x0, x1, cx0, cx1 in tiles_x:
            h, w = y1 - y0, x1 - x0
            sn = float(np.median(sig_n_map[y0:y1:4, x0:x1:4]))
            sr = float(np.median(sig_r_map[y0:y1:4, x0:x1:4]))
            shape = (sfft.next_fast_len(h, real=True), sfft.next_fast_len(w, real=True))
            if shape not in spectra:
                m = max(64, 8 * half)
                small_shape = (min(m, shape[0]), min(m, shape[1]))
                spectra[shape] = (
                    _psf_spectra(shape, psf_n, psf_r, acf_n, acf_r),
                    _psf_spectra(small_shape, psf_n, psf_r, acf_n, acf_r),
                    small_shape,
                )
            key = (shape[0], shape[1], round(sn, 4), round(sr, 4))
            if last is None or last[0] != key:
                sp_big, sp_small, small_shape = spectra[shape]
                last = kern = None  # free the previous tile's kernels first
                last = (key, _kernels(sp_big, sp_small, shape, small_shape, sn, sr, F_n, F_r, half))
            kern = last[1]
            if first is None:
                first = (kern.psf_D, kern.F_D, kern.F_S)

            if work is None or work[0].shape != shape:
                spec = kern.dn_hat.shape
                work = (
                    np.zeros(shape, np.float32),
                    np.empty(spec, np.complex64),
                    np.empty(spec, np.complex64),
                )
            pad, buf, buf2 = work
            if outs is None or outs[0].shape != shape:
                outs = tuple(np.empty(shape, np.float32) for _ in range(4))
            out_d, out_s, out_v, out_sr = outs
            Nh = _rfft_into(pad, N[y0:y1, x0:x1])
            Rh = _rfft_into(pad, R[y0:y1, x0:x1])
            np.multiply(kern.dn_hat, Nh, out=buf)
            buf -= np.multiply(kern.dr_hat, Rh, out=buf2)
            d = _irfft(buf, shape, h, w, out_d)
            Nh *= kern.kn_hat
            Rh *= kern.kr_hat
            if astrometric:
                s_n = _irfft(Nh, shape, h, w, out_s)
                s_r = _irfft(Rh, shape, h, w, out_sr)
            else:
                Nh -= Rh
                s = _irfft(Nh, shape, h, w, out_s)
            del Nh, Rh
            # V(S_N) + V(S_R) (eqs. 28-29): variance images convolved with k^2 (a constant
            # variance convolves to itself times sum(k^2)).
            const = 0.0
            vh: np.ndarray | None = None
            for var, k2_hat, s0, k2_sum in (
                (var_n, kern.kn2_hat, sn, kern.sum_kn2),
                (var_r, kern.kr2_hat, sr, kern.sum_kr2),
            ):
                if var is None:
                    const += s0**2 * k2_sum
                else:
                    term = _rfft_into(pad, var[y0:y1, x0:x1])
                    term *= k2_hat
                    vh = term if vh is None else np.add(vh, term, out=vh)
                    del term
            if vh is None:
                out_v.fill(const)
                v = out_v[:h, :w]
            else:
                v = _irfft(vh, shape, h, w, out_v)
                del vh
                if const:
                    v += f32(const)
            if astrometric:
                _add_gradient_terms(v, s_n, s_r, sigma_x**2, sigma_y**2)
                s = np.subtract(s_n, s_r, out=s_n)
                del s_r
            sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
            if single:
                D, S, VS = d, s, v
                FD.fill(kern.F_D)
            else:
                D[cy0:cy1, cx0:cx1] = d[sl]
                S[cy0:cy1, cx0:cx1] = s[sl]
                VS[cy0:cy1, cx0:cx1] = v[sl]
                FD[cy0:cy1, cx0:cx1] = kern.F_D
    assert first is not None
    D, S, VS = (np.ascontiguousarray(a, dtype=np.float32) for a in (D, S, VS))
    psf_D, F_D, F_S = first
    np.maximum(VS, f32(1e-12 * F_S), out=VS)
    Scorr = np.sqrt(VS)
    np.divide(S, Scorr, out=Scorr)
    return ZogyResult(D=D, S=S, Scorr=Scorr, V_S=VS, psf_D=psf_D, F_D=F_D, F_S=F_S, F_D_map=FD)
