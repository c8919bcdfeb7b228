"""Candidates from a difference: detection on Scorr with sep, PSF photometry on D.

Detection: sep (Barbary 2016; SExtractor's thresholding and deblending, Bertin & Arnouts 1996)
on ``Scorr`` and on ``-Scorr`` with an absolute threshold in sigma and no extra filter (Scorr
is already the matched filter of D, ZOGY eq. 17); ``sign`` is +1 for a brightening, -1 for a
fading source.

Photometry (ZOGY eqs. 41-42): D holds a point source of flux ``alpha`` (new-image ADU) as
``alpha F_D P_D``, so the PSF fit at the candidate's sub-pixel position is
``alpha = sum(D P) / (F_D sum(P^2))`` with ``P`` the PSF of D shifted there (Fourier shift); its
error in the background-only case is ``1 / (F_D sqrt(sum P^2))`` and it is scaled by
``sqrt(V(S) / F_S)`` at the peak, so the sources' Poisson noise and the registration noise count.
``snr = |flux| / flux_err``.

Shape: Gaussian-weighted second moments of ``sign * D`` (weight of the PSF's own width,
de-weighted by the factor 2 that a Gaussian-weighted Gaussian implies): ``fwhm`` (geometric
mean of the axes), ``ellipticity = 1 - b/a`` and ``pa_deg`` (major axis from +x towards +y).
"""

from __future__ import annotations

import numpy as np
import sep
from astropy.wcs import WCS  # type: ignore[import-untyped]

from argus.astro.difference import MASK_NO_COVERAGE, MASK_SATURATED, Subtraction
from argus.astro.psf import sep_extract

__all__ = [
    "CANDIDATE_COLUMNS",
    "FLAG_BLENDED",
    "FLAG_EDGE",
    "FLAG_NEAR_BRIGHT",
    "FLAG_SATURATED",
    "find_candidates",
]

CANDIDATE_COLUMNS = (
    "x", "y", "ra", "dec", "flux", "flux_err", "snr", "fwhm", "ellipticity", "pa_deg", "sign",
    "flags",
)  # fmt: skip
FLAG_SATURATED, FLAG_BLENDED, FLAG_EDGE = 1, 2, 4
#: A reference-image source brighter than 50 sigma (per pixel) lies under the candidate: a
#: subtraction residual of a bright star is likely.
FLAG_NEAR_BRIGHT = 8


def _empty() -> dict[str, np.ndarray]:
    out = {c: np.zeros(0, float) for c in CANDIDATE_COLUMNS}
    out["sign"] = np.zeros(0, np.int8)
    out["flags"] = np.zeros(0, np.int32)
    return out


def _shifted_psf(psf: np.ndarray, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
    """The PSF stamp shifted by sub-pixel offsets (fx, fy) per candidate (Fourier shift
    theorem), renormalized: shape (n, h, w)."""
    h, w = psf.shape
    P = np.fft.fft2(np.fft.ifftshift(psf))
    ky = np.fft.fftfreq(h)[None, :, None]
    kx = np.fft.fftfreq(w)[None, None, :]
    phase = np.exp(-2j * np.pi * (kx * fx[:, None, None] + ky * fy[:, None, None]))
    out = np.fft.fftshift(np.fft.ifft2(P[None] * phase).real, axes=(1, 2))
    return out / out.sum(axis=(1, 2), keepdims=True)


def _extract(score: np.ndarray, threshold: float, minarea: int) -> np.ndarray:
    return sep_extract(
        np.ascontiguousarray(score, dtype=np.float32),
        threshold,
        minarea=minarea,
        filter_kernel=None,
        deblend_cont=0.005,
    )


def find_candidates(
    sub: Subtraction, *, threshold: float = 5.0, minarea: int = 1
) -> dict[str, np.ndarray]:
    """Candidates above ``threshold`` sigma in ``sub.Scorr`` (both signs), as columns
    ``CANDIDATE_COLUMNS`` (x, y 0-based pixels of the new image; ra, dec in degrees from its
    WCS; flux and flux_err in new-image ADU; fwhm in pixels; flags: FLAG_* bits).

    ``minarea``: pixels above the threshold a detection needs (1: every local excursion)."""
    if not threshold > 0:
        raise ValueError(f"threshold: must be > 0 sigma, got {threshold}")
    score = np.ascontiguousarray(sub.Scorr, dtype=np.float32)
    if not np.isfinite(score).all():
        score = np.nan_to_num(score)
    pos = _extract(score, threshold, minarea)
    neg = _extract(np.negative(score), threshold, minarea)
    objs = np.concatenate([pos, neg]) if pos.size or neg.size else pos
    if objs.size == 0:
        return _empty()
    sign = np.concatenate([np.ones(pos.size, np.int8), -np.ones(neg.size, np.int8)])
    ny, nx = score.shape
    x = np.clip(objs["x"], 0, nx - 1)
    y = np.clip(objs["y"], 0, ny - 1)

    psf = sub.psf_D
    half = psf.shape[0] // 2
    ix = np.rint(x).astype(np.int64)
    iy = np.rint(y).astype(np.int64)
    off = np.arange(-half, half + 1)
    # Stamps gathered with the frame zero-padded by `half` (without copying the frame).
    gy = iy[:, None, None] + off[None, :, None]
    gx = ix[:, None, None] + off[None, None, :]
    inside = (gy >= 0) & (gy < ny) & (gx >= 0) & (gx < nx)
    gyc = np.clip(gy, 0, ny - 1)
    gxc = np.clip(gx, 0, nx - 1)
    cut = np.where(inside, sub.D[gyc, gxc], np.float32(0.0))
    P = _shifted_psf(psf, x - ix, y - iy)
    F_D = (
        sub.F_D_map[iy, ix] if sub.F_D_map is not None else np.full(x.size, float(sub.meta["F_D"]))
    )
    sum_p2 = (P**2).sum(axis=(1, 2))
    flux = (cut * P).sum(axis=(1, 2)) / (F_D * sum_p2)
    err0 = 1.0 / (F_D * np.sqrt(sum_p2))
    if sub.variance_S is not None:
        # sqrt(V(S)) / F_S with the local F_S = F_D^2 sum(P_D^2) (eq. 42): all noise terms.
        err_v = np.sqrt(sub.variance_S[iy, ix]) / (F_D**2 * np.sum(psf**2))
        flux_err = np.maximum(err_v, err0)
    else:
        flux_err = err0
    snr = np.abs(flux) / flux_err

    # Shape from Gaussian-weighted moments of sign * D.
    fwhm_d = 2.3548 * np.sqrt(max(np.sum(psf * (off[None, :] ** 2)), 0.25))
    sw = fwhm_d / 2.3548
    dxg = off[None, None, :] - (x - ix)[:, None, None]
    dyg = off[None, :, None] - (y - iy)[:, None, None]
    wgt = np.exp(-(dxg**2 + dyg**2) / (2 * sw**2)) * np.clip(cut * sign[:, None, None], 0, None)
    m0 = np.maximum(wgt.sum(axis=(1, 2)), 1e-12)
    mxx = (wgt * dxg**2).sum(axis=(1, 2)) / m0 * 2
    myy = (wgt * dyg**2).sum(axis=(1, 2)) / m0 * 2
    mxy = (wgt * dxg * dyg).sum(axis=(1, 2)) / m0 * 2
    tr = mxx + myy
    dd = np.sqrt(np.maximum((mxx - myy) ** 2 / 4 + mxy**2, 0))
    l1 = np.maximum(tr / 2 + dd, 1e-6)
    l2 = np.maximum(tr / 2 - dd, 1e-6)
    fwhm = 2.3548 * (l1 * l2) ** 0.25
    ellipticity = 1.0 - np.sqrt(l2 / l1)
    pa_deg = np.rad2deg(0.5 * np.arctan2(2 * mxy, mxx - myy)) % 180.0

    flags = np.zeros(x.size, np.int32)
    flags |= np.where((objs["flag"] & sep.OBJ_MERGED) != 0, FLAG_BLENDED, 0).astype(np.int32)
    if sub.mask is not None:
        # The mask bits under each candidate's PSF stamp (a gather, not a full-frame filter).
        mcut = np.where(inside, sub.mask[gyc, gxc], np.uint8(MASK_NO_COVERAGE))
        r = max(2, int(np.ceil(2 * fwhm_d)))
        inner = (np.abs(off)[None, :, None] <= r) & (np.abs(off)[None, None, :] <= r)
        sat_near = ((mcut & MASK_SATURATED) != 0) & inner
        flags |= np.where(sat_near.any(axis=(1, 2)), FLAG_SATURATED, 0).astype(np.int32)
        no_cov = ((mcut & MASK_NO_COVERAGE) != 0).any(axis=(1, 2))
    else:
        no_cov = np.zeros(x.size, bool)
    edge_m = half + 2
    at_edge = (x < edge_m) | (y < edge_m) | (x > nx - 1 - edge_m) | (y > ny - 1 - edge_m)
    flags |= np.where(at_edge | no_cov, FLAG_EDGE, 0).astype(np.int32)
    sig_r = float(sub.meta.get("sigma_ref", np.nan))
    if np.isfinite(sig_r):
        bright = sub.ref_aligned[iy, ix] > 50 * sig_r
        flags |= np.where(bright, FLAG_NEAR_BRIGHT, 0).astype(np.int32)

    w = WCS(sub.header).celestial
    if w.has_celestial:
        ra, dec = w.all_pix2world(x, y, 0)
        ra = np.mod(ra, 360.0)
    else:
        ra = dec = np.full(x.size, np.nan)
    order = np.argsort(-snr)
    out = {
        "x": x,
        "y": y,
        "ra": np.asarray(ra, float),
        "dec": np.asarray(dec, float),
        "flux": flux,
        "flux_err": flux_err,
        "snr": snr,
        "fwhm": fwhm,
        "ellipticity": ellipticity,
        "pa_deg": pa_deg,
        "sign": sign,
        "flags": flags,
    }
    return {k: np.asarray(v)[order] for k, v in out.items()}
