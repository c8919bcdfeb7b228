"""Alard & Lupton (1998, ApJ 503, 325) kernel-fitting subtraction, the alternative to ZOGY.

The sharper image ``X`` is convolved with a kernel ``K = sum_k a_k B_k`` to match the broader
image ``Y`` (plus a constant background difference ``b``), the coefficients fitted by weighted
linear least squares on stamps around bright isolated stars. The basis (Alard & Lupton 1998,
section 2; Alard 2000, A&AS 144, 363) is Gaussians of three widths times polynomials in the
kernel coordinates, ``B = exp(-(u^2 + v^2) / (2 s_g^2)) u^i v^j`` with ``i + j <= d_g`` and
degrees (6, 4, 2) for the widths (0.5, 1, 2) x the matching width
``sqrt(sigma_Y^2 - sigma_X^2)``. The kernel is constant over the frame (no spatial variation
terms: the simulated and packaged frames do not need them).

The difference is put in ZOGY's form so the same extraction applies: ``D = (Y - K (x) X - b) /
sigma_D`` oriented so that a brightening in the new image is positive and scaled to new-image
flux, ``F_D = 1 / sigma_D``, ``psf_D`` the PSF of ``Y``, ``S = F_D D (x) psf_D`` (correlation)
and ``V(S) = F_D^2 (V_D / sigma_D^2) (x) psf_D^2``. The noise of ``K (x) X`` is correlated,
which this variance neglects (one reason ZOGY is the default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from argus.astro.psf import PSFModel

__all__ = ["ALResult", "alard_lupton", "gaussian_basis"]


@dataclass(frozen=True)
class ALResult:
    """The Alard-Lupton products in the same form as :class:`argus.astro.zogy.ZogyResult`."""

    D: np.ndarray
    S: np.ndarray
    Scorr: np.ndarray
    V_S: np.ndarray
    psf_D: np.ndarray
    F_D: float
    F_S: float
    kernel: np.ndarray
    kernel_sum: float


def gaussian_basis(
    half: int, sigma_match: float, degrees: tuple[int, ...] = (6, 4, 2)
) -> np.ndarray:
    """The Alard-Lupton basis on a (2 half + 1)^2 grid: shape (n_basis, h, w); Gaussian widths
    ``(0.5, 1, 2) * sigma_match`` (as many as ``degrees``) times monomials ``u^i v^j``."""
    off = np.arange(-half, half + 1, dtype=float)
    u = off[None, :]
    v = off[:, None]
    widths = (0.5, 1.0, 2.0)[: len(degrees)]
    out = []
    for w, deg in zip(widths, degrees, strict=True):
        s = max(w * sigma_match, 0.5)
        g = np.exp(-(u**2 + v**2) / (2 * s**2))
        for i in range(deg + 1):
            for j in range(deg + 1 - i):
                b = g * (u / half) ** i * (v / half) ** j
                out.append(b / np.abs(b).sum())
    return np.asarray(out)


def alard_lupton(
    N: np.ndarray,
    R: np.ndarray,
    psf_n: PSFModel,
    psf_r: PSFModel,
    *,
    sigma_n: float,
    sigma_r: float,
    var_n: np.ndarray,
    var_r: np.ndarray,
    bad: np.ndarray,
) -> ALResult:
    """Alard-Lupton subtraction of the aligned, background-subtracted ``R`` from ``N``.

    The kernel is fitted on stamps around the new image's PSF stars (or, when the new image
    is the sharper one, the reference's); raises ValueError with fewer than 3 such stars."""
    convolve_ref = psf_r.fwhm_px <= psf_n.fwhm_px
    X, Y = (R, N) if convolve_ref else (N, R)
    psf_x, psf_y = (psf_r, psf_n) if convolve_ref else (psf_n, psf_r)
    var_x, var_y = (var_r, var_n) if convolve_ref else (var_n, var_r)
    stars = psf_y.stars or psf_x.stars
    if not stars or len(stars["x"]) < 3:
        raise ValueError(
            "alard-lupton: needs at least 3 PSF stars to fit the kernel; use algorithm 'zogy'"
        )
    s_x = psf_x.fwhm_px / 2.3548
    s_y = psf_y.fwhm_px / 2.3548
    sigma_match = float(np.sqrt(max(s_y**2 - s_x**2, 0.25)))
    hk = int(np.clip(np.ceil(2.5 * psf_y.fwhm_px), 4, 20))
    basis = gaussian_basis(hk, sigma_match)
    nb = basis.shape[0]
    hs = int(np.ceil(2.0 * psf_y.fwhm_px)) + 2  # fitted stamp half-size
    ny, nx = N.shape
    xs = np.rint(stars["x"]).astype(int)
    ys = np.rint(stars["y"]).astype(int)
    m = hs + hk
    keep = (xs > m) & (xs < nx - m - 1) & (ys > m) & (ys < ny - m - 1)
    rows_a, rows_b, rows_w = [], [], []
    for x0, y0 in zip(xs[keep], ys[keep], strict=True):  # <= ~30 stars x nb small convolutions
        big = X[y0 - m : y0 + m + 1, x0 - m : x0 + m + 1]
        cols = [fftconvolve(big, b[::-1, ::-1], mode="valid") for b in basis]
        target = Y[y0 - hs : y0 + hs + 1, x0 - hs : x0 + hs + 1]
        w = 1.0 / np.sqrt(var_y[y0 - hs : y0 + hs + 1, x0 - hs : x0 + hs + 1])
        ok = ~bad[y0 - hs : y0 + hs + 1, x0 - hs : x0 + hs + 1]
        A = np.column_stack([np.asarray(cols).reshape(nb, -1).T, np.ones(target.size)])
        rows_a.append(A[ok.ravel()])
        rows_b.append(target[ok])
        rows_w.append(w[ok])
    if len(rows_a) < 3:
        raise ValueError("alard-lupton: fewer than 3 PSF stars away from the edges")
    A = np.vstack(rows_a)
    b = np.concatenate(rows_b)
    w = np.concatenate(rows_w)
    coef, *_ = np.linalg.lstsq(A * w[:, None], b * w, rcond=None)
    kernel = np.tensordot(coef[:nb], basis, axes=1)
    bg = float(coef[nb])
    ksum = float(kernel.sum())
    conv = fftconvolve(X, kernel[::-1, ::-1], mode="same")
    diff = Y - conv - bg
    var_d = var_y + fftconvolve(var_x, (kernel**2)[::-1, ::-1], mode="same")
    if not convolve_ref:
        diff = -diff / ksum  # Y is the reference: flip sign and scale to new-image flux
        var_d = var_d / ksum**2
    sigma_d = float(np.sqrt(np.median(var_d[~bad])))
    F_D = 1.0 / sigma_d
    D = (diff * F_D).astype(np.float32)
    psf_D = psf_y.stamp
    S = (F_D * fftconvolve(D, psf_D[::-1, ::-1], mode="same")).astype(np.float32)
    V_S = (F_D**2 * fftconvolve(var_d * F_D**2, psf_D**2, mode="same")).astype(np.float32)
    V_S = np.maximum(V_S, 1e-12)
    F_S = float(F_D**2 * np.sum(psf_D**2))
    Scorr = (S / np.sqrt(V_S)).astype(np.float32)
    return ALResult(
        D=D,
        S=S,
        Scorr=Scorr,
        V_S=V_S,
        psf_D=psf_D,
        F_D=F_D,
        F_S=F_S,
        kernel=kernel,
        kernel_sum=ksum,
    )
