"""Preprocessing of survey images before differencing: calibration, cosmic rays, background,
registration of the reference onto the new image.

Everything takes numpy arrays (ADU) and astropy headers and returns arrays; nothing here touches
the database. The steps, each one function:

* :func:`calibrate` — bias, dark and flat correction (the CCD equation without the gain)::

      calibrated = (raw - bias - dark * t / t_dark) / (flat / median(flat))

  with master frames from :func:`master_bias`, :func:`master_dark` and :func:`master_flat`
  (median combines, as ``ccdproc.combine(method="median")``; written with numpy since ccdproc
  is not a dependency).
* :func:`mask_cosmic_rays` — L.A.Cosmic (van Dokkum 2001, PASP 113, 1420): Laplacian edge
  detection on a 2x subsampled image, ``sigclip`` on the noise-normalized Laplacian, ``objlim``
  against the fine-structure image so that PSF-shaped sources are kept; the C implementation of
  ``astroscrappy`` (McCully et al. 2018). Masked pixels are replaced by the local mean of the
  unmasked ones (astroscrappy's ``meanmask``).
* :func:`estimate_background` — SExtractor's background (Bertin & Arnouts 1996) through ``sep``:
  a sigma-clipped mode ``2.5 median - 1.5 mean`` per box, median-filtered, bicubic-spline
  interpolated; the rms map likewise.
* :func:`register_reference` — stars of both images (``sep.extract`` + windowed centroids),
  the reference stars mapped through both WCSs onto the new image's pixels, matched (a vote on
  the offset first, so a WCS off by up to ``max_offset_px`` still matches), an affine correction
  of the reference WCS fitted by least squares with 3-sigma clipping, and the reference
  resampled onto the new grid with ``reproject.reproject_interp``. The registration quality is
  the RMS of the matched stars' residuals in new-image pixels: ``sqrt(mean(|x_pred - x_new|^2))``.

:func:`preprocess_image` chains calibration, cosmic rays and background for one image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sep
from astropy.io import fits  # type: ignore[import-untyped]
from astropy.wcs import WCS  # type: ignore[import-untyped]
from scipy.spatial import cKDTree

__all__ = [
    "Background",
    "CalibrationFrames",
    "CosmicRays",
    "PreprocessError",
    "PreprocessedImage",
    "Registration",
    "StarCatalog",
    "calibrate",
    "combine_frames",
    "estimate_background",
    "find_stars",
    "mask_cosmic_rays",
    "master_bias",
    "master_dark",
    "master_flat",
    "preprocess_image",
    "register_reference",
    "with_wcs",
]

#: WCS keywords replaced when a corrected WCS is written into a header.
_WCS_KEYS = (
    "WCSAXES", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2",
    "CDELT1", "CDELT2", "CD1_1", "CD1_2", "CD2_1", "CD2_2", "PC1_1", "PC1_2", "PC2_1", "PC2_2",
    "LONPOLE", "LATPOLE", "MJDREF", "RADESYS", "EQUINOX",
)  # fmt: skip


class PreprocessError(ValueError):
    """Bad input to a preprocessing step (the message names the argument and the reason)."""


def _image(name: str, data: Any) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise PreprocessError(f"{name}: a 2-D image is needed, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise PreprocessError(f"{name}: numeric pixels needed, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64)


def _same_shape(name: str, arr: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if arr is None:
        return None
    a = _image(name, arr)
    if a.shape != shape:
        raise PreprocessError(f"{name}: shape {a.shape} differs from the image's {shape}")
    return a


# ---- calibration --------------------------------------------------------------------------


def combine_frames(frames: Sequence[Any] | np.ndarray, *, name: str = "frames") -> np.ndarray:
    """Median of a stack of same-shape frames (pixel by pixel, NaN ignored)."""
    stack = (
        np.asarray([_image(f"{name}[{i}]", f) for i, f in enumerate(frames)])
        if len(frames)
        else np.zeros((0, 0, 0))
    )
    if stack.ndim != 3 or stack.shape[0] == 0:
        raise PreprocessError(f"{name}: at least one 2-D frame is needed")
    return np.asarray(np.nanmedian(stack, axis=0))


def master_bias(frames: Sequence[Any] | np.ndarray) -> np.ndarray:
    """The master bias: the median of the bias frames (ADU)."""
    return combine_frames(frames, name="bias")


def master_dark(
    frames: Sequence[Any] | np.ndarray, *, bias: np.ndarray | None = None
) -> np.ndarray:
    """The master dark (ADU accumulated over the darks' exposure time): the median of the
    bias-subtracted dark frames. Scale it by ``t / t_dark`` when calibrating."""
    stack = combine_frames(frames, name="dark")
    return stack - bias if bias is not None else stack


def master_flat(
    frames: Sequence[Any] | np.ndarray,
    *,
    bias: np.ndarray | None = None,
    dark: np.ndarray | None = None,
    dark_exptime_s: float | None = None,
    exptimes_s: Sequence[float] | None = None,
) -> np.ndarray:
    """The normalized master flat (median 1): each flat bias- and dark-corrected, divided by its
    own median, then the median of those."""
    imgs = [_image(f"flat[{i}]", f) for i, f in enumerate(frames)]
    if not imgs:
        raise PreprocessError("flat: at least one flat frame is needed")
    out = []
    for i, f in enumerate(imgs):
        g = f - bias if bias is not None else f
        if dark is not None:
            if exptimes_s is None or dark_exptime_s is None:
                raise PreprocessError(
                    "flat: dark correction needs the flats' and the dark's EXPTIME"
                )
            g = g - dark * (float(exptimes_s[i]) / float(dark_exptime_s))
        med = float(np.nanmedian(g))
        if not med > 0:
            raise PreprocessError(f"flat[{i}]: median {med:.3g} is not positive")
        out.append(g / med)
    flat = np.nanmedian(np.asarray(out), axis=0)
    return np.asarray(flat / np.nanmedian(flat))


@dataclass(frozen=True)
class CalibrationFrames:
    """Master frames (ADU): ``bias``, ``dark`` (accumulated over ``dark_exptime_s``) and
    ``flat`` (any normalization; divided by its median when applied). Any may be None."""

    bias: np.ndarray | None = None
    dark: np.ndarray | None = None
    dark_exptime_s: float | None = None
    flat: np.ndarray | None = None

    @property
    def empty(self) -> bool:
        return self.bias is None and self.dark is None and self.flat is None

    def describe(self) -> dict[str, Any]:
        return {
            "bias": self.bias is not None,
            "dark": self.dark is not None,
            "dark_exptime_s": self.dark_exptime_s,
            "flat": self.flat is not None,
        }


def calibrate(
    raw: Any,
    *,
    bias: np.ndarray | None = None,
    dark: np.ndarray | None = None,
    dark_exptime_s: float | None = None,
    exptime_s: float | None = None,
    flat: np.ndarray | None = None,
) -> np.ndarray:
    """``(raw - bias - dark * t / t_dark) / (flat / median(flat))``; pixels where the flat is
    not positive or not finite come out NaN. Each frame is optional."""
    img = _image("raw", raw)
    b = _same_shape("bias", bias, img.shape)
    d = _same_shape("dark", dark, img.shape)
    f = _same_shape("flat", flat, img.shape)
    out = img.copy()
    if b is not None:
        out -= b
    if d is not None:
        if exptime_s is None or dark_exptime_s is None or not dark_exptime_s > 0:
            raise PreprocessError(
                "dark_exptime_s: scaling the dark needs the image's and the dark's exposure times"
            )
        out -= d * (float(exptime_s) / float(dark_exptime_s))
    if f is not None:
        good = np.isfinite(f) & (f > 0)
        if not good.any():
            raise PreprocessError("flat: no positive finite pixel")
        norm = f / float(np.median(f[good]))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(good, out / np.where(good, norm, 1.0), np.nan)
    return out


# ---- cosmic rays --------------------------------------------------------------------------


@dataclass(frozen=True)
class CosmicRays:
    """``mask`` (True on a cosmic-ray pixel) and ``cleaned`` (the image with those pixels
    replaced, same units as the input)."""

    mask: np.ndarray
    cleaned: np.ndarray

    @property
    def n_pixels(self) -> int:
        return int(self.mask.sum())


def mask_cosmic_rays(
    image: Any,
    *,
    gain: float = 1.0,
    read_noise_e: float = 6.5,
    saturate: float | None = None,
    bad: np.ndarray | None = None,
    sigclip: float = 4.5,
    sigfrac: float = 0.3,
    objlim: float = 5.0,
    niter: int = 4,
) -> CosmicRays:
    """L.A.Cosmic (van Dokkum 2001) through ``astroscrappy.detect_cosmics``: the image in ADU
    (with its sky), ``gain`` in e-/ADU, ``read_noise_e`` in electrons; ``bad`` pixels (and NaN)
    are excluded. Returns the mask and the cleaned image in ADU."""
    import astroscrappy

    img = _image("image", image)
    if not (gain > 0 and read_noise_e >= 0):
        raise PreprocessError("gain: must be > 0 (e-/ADU) and read noise >= 0")
    inmask = ~np.isfinite(img)
    if bad is not None:
        inmask |= np.asarray(bad, bool)
    work = np.where(inmask, np.nanmedian(img), img).astype(np.float32)
    mask, cleaned = astroscrappy.detect_cosmics(
        work,
        inmask=inmask,
        sigclip=sigclip,
        sigfrac=sigfrac,
        objlim=objlim,
        gain=float(gain),
        readnoise=float(read_noise_e),
        satlevel=float(saturate) if saturate is not None else float(np.finfo(np.float32).max),
        niter=niter,
        sepmed=True,
        cleantype="meanmask",
        fsmode="median",
    )
    mask = np.asarray(mask, bool) & ~inmask
    out = np.where(mask, np.asarray(cleaned, np.float64), img)
    return CosmicRays(mask=mask, cleaned=out)


# ---- background ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Background:
    """The sep (SExtractor) background and rms maps, and their global values (ADU)."""

    level: np.ndarray
    rms: np.ndarray
    global_level: float
    global_rms: float


def estimate_background(
    image: Any, *, mask: np.ndarray | None = None, box: int = 64, filter_size: int = 3
) -> Background:
    """The SExtractor background (``sep.Background``, boxes of ``box`` pixels, a
    ``filter_size`` median filter); masked and NaN pixels do not count."""
    img = _image("image", image)
    bad = ~np.isfinite(img)
    if mask is not None:
        bad |= np.asarray(mask, bool)
    work = np.ascontiguousarray(np.where(bad, 0.0, img), dtype=np.float32)
    bkg = sep.Background(work, mask=bad, bw=box, bh=box, fw=filter_size, fh=filter_size)
    return Background(
        level=np.asarray(bkg.back(), np.float64),
        rms=np.asarray(bkg.rms(), np.float64),
        global_level=float(bkg.globalback),
        global_rms=float(bkg.globalrms),
    )


# ---- one image ----------------------------------------------------------------------------


def _header_number(header: Any, keys: tuple[str, ...]) -> float | None:
    for k in keys:
        if header is not None and k in header:
            try:
                v = float(header[k])
            except (TypeError, ValueError):
                continue
            if np.isfinite(v):
                return v
    return None


@dataclass(frozen=True)
class PreprocessedImage:
    """The calibrated, cosmic-ray-cleaned image (ADU, sky kept: the difference engine fits its
    own background over its masks, and SATURATE / GAIN keep their meaning), its header, the
    cosmic-ray mask, the background, and what was done (``meta``)."""

    data: np.ndarray
    header: fits.Header
    cosmic_ray_mask: np.ndarray
    background: Background
    calibration_applied: bool
    meta: dict[str, Any] = field(default_factory=dict)


def preprocess_image(
    raw: Any,
    header: Any,
    *,
    frames: CalibrationFrames | None = None,
    cosmic_rays: bool = True,
    sigclip: float = 4.5,
    objlim: float = 5.0,
) -> PreprocessedImage:
    """Calibrate (when ``frames`` has any), mask cosmic rays (GAIN, RDNOISE, SATURATE from the
    header; defaults 1 e-/ADU and 6.5 e-), estimate the background."""
    img = _image("raw", raw)
    hdr = fits.Header(header) if header is not None else fits.Header()
    applied = frames is not None and not frames.empty
    if frames is not None and not frames.empty:
        exptime = _header_number(hdr, ("EXPTIME", "EXPOSURE", "ITIME"))
        img = calibrate(
            img,
            bias=frames.bias,
            dark=frames.dark,
            dark_exptime_s=frames.dark_exptime_s,
            exptime_s=exptime,
            flat=frames.flat,
        )
        hdr["CALIB"] = ("bias/dark/flat" if frames.flat is not None else "bias/dark", "argus")
    header_gain = _header_number(hdr, ("GAIN", "EGAIN", "CCDGAIN"))
    gain = header_gain if header_gain is not None and header_gain > 0 else 1.0
    read_noise = _header_number(hdr, ("RDNOISE", "READNOIS", "RON"))
    saturate = _header_number(hdr, ("SATURATE", "SATLEVEL", "MAXLIN"))
    meta: dict[str, Any] = {
        "calibration": frames.describe() if frames is not None else None,
        # where L.A.Cosmic's noise model came from (a default is said, never silent)
        "noise_model": {
            "gain_e_per_adu": gain,
            "gain_source": "header" if gain == header_gain else "default (no GAIN keyword)",
            "read_noise_e": read_noise if read_noise is not None else 6.5,
            "read_noise_source": "header" if read_noise is not None else "default (no RDNOISE)",
            "saturate_adu": saturate,
        },
    }
    if cosmic_rays:
        cr = mask_cosmic_rays(
            img,
            gain=gain,
            read_noise_e=read_noise if read_noise is not None else 6.5,
            saturate=saturate,
            sigclip=sigclip,
            objlim=objlim,
        )
        mask, data = cr.mask, cr.cleaned
    else:
        mask, data = np.zeros(img.shape, bool), img
    meta["cosmic_ray_pixels"] = int(mask.sum())
    bkg = estimate_background(data, mask=mask)
    meta["background_adu"] = bkg.global_level
    meta["background_rms_adu"] = bkg.global_rms
    hdr["NCOSMIC"] = (int(mask.sum()), "cosmic-ray pixels replaced (L.A.Cosmic)")
    hdr["SKYLEVEL"] = (bkg.global_level, "sep global background [ADU]")
    hdr["SKYRMS"] = (bkg.global_rms, "sep global background rms [ADU]")
    return PreprocessedImage(
        data=data,
        header=hdr,
        cosmic_ray_mask=mask,
        background=bkg,
        calibration_applied=applied,
        meta=meta,
    )


# ---- registration -------------------------------------------------------------------------


@dataclass(frozen=True)
class StarCatalog:
    """Unsaturated, unflagged stars: windowed centroids (0-based pixels) and fluxes."""

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray

    def __len__(self) -> int:
        return int(self.x.size)


def find_stars(
    image: Any,
    *,
    mask: np.ndarray | None = None,
    saturate: float | None = None,
    threshold: float = 10.0,
    max_stars: int = 600,
) -> StarCatalog:
    """Stars above ``threshold`` x the background rms (``sep.extract``), none flagged or near
    saturation or a masked pixel, centroided with ``sep.winpos``; the ``max_stars`` brightest."""
    img = _image("image", image)
    bad = ~np.isfinite(img)
    if mask is not None:
        bad |= np.asarray(mask, bool)
    if saturate is not None:
        bad |= img >= 0.9 * saturate
    bkg = estimate_background(img, mask=bad)
    sub = np.ascontiguousarray(np.where(bad, 0.0, img - bkg.level), dtype=np.float32)
    empty = StarCatalog(np.zeros(0), np.zeros(0), np.zeros(0))
    try:
        objs = sep.extract(sub, threshold, err=bkg.global_rms, mask=bad, minarea=5)
    except Exception:  # sep raises on pathological inputs (too many objects, empty)
        return empty
    if len(objs) == 0:
        return empty
    ny, nx = img.shape
    xi = np.clip(np.rint(objs["x"]).astype(int), 0, nx - 1)
    yi = np.clip(np.rint(objs["y"]).astype(int), 0, ny - 1)
    from scipy.ndimage import binary_dilation

    near_bad = binary_dilation(bad, iterations=3) if bad.any() else bad
    keep = (
        (objs["flag"] == 0)
        & ~near_bad[yi, xi]
        & (objs["x"] > 5)
        & (objs["x"] < nx - 6)
        & (objs["y"] > 5)
        & (objs["y"] < ny - 6)
        & (objs["b"] > 0.5)  # not a single hot pixel
    )
    objs = objs[keep]
    if len(objs) == 0:
        return empty
    objs = objs[np.argsort(-objs["flux"])[:max_stars]]
    fwhm = 2.0 * np.sqrt(np.log(2.0) * (objs["a"] ** 2 + objs["b"] ** 2))
    sig = np.full(len(objs), max(0.5, float(np.median(fwhm)) / 2.3548))
    wx, wy, wflag = sep.winpos(sub, objs["x"], objs["y"], sig)
    ok = (wflag == 0) & (np.hypot(wx - objs["x"], wy - objs["y"]) < 1.5)
    return StarCatalog(np.asarray(wx[ok]), np.asarray(wy[ok]), np.asarray(objs["flux"][ok]))


def _celestial(header: Any, name: str) -> WCS:
    try:
        w = WCS(header).celestial
    except Exception as exc:
        raise PreprocessError(f"{name}: unreadable WCS ({exc})") from None
    if not w.has_celestial:
        raise PreprocessError(f"{name}: no celestial WCS (CTYPE/CRVAL/CRPIX/CD) to align with")
    return w


def _vote_offset(
    px: np.ndarray, py: np.ndarray, nx_: np.ndarray, ny_: np.ndarray, max_offset: float
) -> tuple[float, float]:
    """The offset (new - predicted) most pairs of the brightest stars agree on: a 2-D histogram
    of all pairwise differences with 1-px bins, refined by the mean inside the peak bin."""
    a, b = min(px.size, 150), min(nx_.size, 150)
    dx = (nx_[:b][None, :] - px[:a][:, None]).ravel()
    dy = (ny_[:b][None, :] - py[:a][:, None]).ravel()
    sel = (np.abs(dx) <= max_offset) & (np.abs(dy) <= max_offset)
    dx, dy = dx[sel], dy[sel]
    if dx.size == 0:
        return 0.0, 0.0
    edges = np.arange(-max_offset - 0.5, max_offset + 1.0, 1.0)
    h, ex, ey = np.histogram2d(dx, dy, bins=[edges, edges])
    i, j = np.unravel_index(int(np.argmax(h)), h.shape)
    inside = (np.abs(dx - (ex[i] + 0.5)) <= 1.0) & (np.abs(dy - (ey[j] + 0.5)) <= 1.0)
    return float(np.mean(dx[inside])), float(np.mean(dy[inside]))


def with_wcs(header: Any, wcs: WCS) -> fits.Header:
    """``header`` with its celestial WCS keywords replaced by ``wcs``'s."""
    out = fits.Header(header) if header is not None else fits.Header()
    for k in _WCS_KEYS:
        out.remove(k, ignore_missing=True, remove_all=True)
    out.update(wcs.to_header(relax=True))
    return out


def _corrected_wcs(w: WCS, m: np.ndarray, t: np.ndarray) -> WCS:
    """``w'`` with ``w'(p) = w(M p + t)`` (0-based pixels), for a WCS without distortion:
    CD' = CD M (PC' = PC M), CRPIX' = 1 - M^-1 (t + 1 - CRPIX)."""
    out = w.deepcopy()
    if out.wcs.has_cd():
        out.wcs.cd = np.asarray(out.wcs.cd) @ m
    else:
        out.wcs.pc = np.asarray(out.wcs.get_pc()) @ m
    out.wcs.crpix = 1.0 - np.linalg.solve(m, t + 1.0 - np.asarray(out.wcs.crpix))
    out.wcs.set()
    return out


@dataclass(frozen=True)
class Registration:
    """The reference registered onto the new image.

    ``ref_header`` is the reference's header with its WCS corrected by the fit (unchanged when
    ``refined`` is False); ``aligned`` the reference resampled onto the new grid (NaN where it
    has no coverage; None unless asked for). ``matrix`` and ``offset`` are the fitted correction
    in reference pixels (``p_true = matrix @ p + offset``), ``shift_px`` and ``rotation_deg``
    its translation at the reference's centre and its rotation. ``rms_px`` is the registration
    quality (RMS of the matched residuals after the fit, new-image pixels), ``rms_wcs_px`` the
    same with the header WCS alone."""

    ref_header: fits.Header
    aligned: np.ndarray | None
    footprint: np.ndarray | None
    matrix: np.ndarray
    offset: np.ndarray
    shift_px: tuple[float, float]
    rotation_deg: float
    scale: float
    rms_px: float | None
    rms_wcs_px: float | None
    n_stars_new: int
    n_stars_ref: int
    n_matched: int
    refined: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "refined": self.refined,
            "reason": self.reason,
            "rms_px": self.rms_px,
            "rms_wcs_px": self.rms_wcs_px,
            "n_matched": self.n_matched,
            "n_stars_new": self.n_stars_new,
            "n_stars_ref": self.n_stars_ref,
            "matrix": self.matrix.tolist(),
            "offset": self.offset.tolist(),
            "shift_px": list(self.shift_px),
            "rotation_deg": self.rotation_deg,
            "scale": self.scale,
        }


def _rms(d: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(d**2, axis=1)))) if d.size else float("nan")


def register_reference(
    new: Any,
    new_header: Any,
    ref: Any,
    ref_header: Any,
    *,
    new_mask: np.ndarray | None = None,
    ref_mask: np.ndarray | None = None,
    max_offset_px: float = 20.0,
    match_radius_px: float = 1.5,
    min_matches: int = 8,
    resample: bool = True,
    order: str = "bilinear",
) -> Registration:
    """Register ``ref`` onto ``new`` (see the module docstring); ``resample=False`` skips the
    resampling (``aligned`` None). With fewer than ``min_matches`` matched stars, or a reference
    WCS with distortion terms, the header WCS is kept (``refined`` False, ``reason`` says why)."""
    new_img = _image("new", new)
    ref_img = _image("ref", ref)
    w_new = _celestial(new_header, "new_header")
    w_ref = _celestial(ref_header, "ref_header")
    sat_n = _header_number(new_header, ("SATURATE", "SATLEVEL", "MAXLIN"))
    sat_r = _header_number(ref_header, ("SATURATE", "SATLEVEL", "MAXLIN"))
    cat_n = find_stars(new_img, mask=new_mask, saturate=sat_n)
    cat_r = find_stars(ref_img, mask=ref_mask, saturate=sat_r)
    eye = np.eye(2)
    zero = np.zeros(2)

    def to_new(w: WCS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ra, dec = w.all_pix2world(x, y, 0)
        px, py = w_new.all_world2pix(ra, dec, 0)
        return np.asarray(px), np.asarray(py)

    def finish(
        w: WCS, m: np.ndarray, t: np.ndarray, rms: float | None, rms0: float | None,
        n: int, refined: bool, reason: str,
    ) -> Registration:  # fmt: skip
        aligned = footprint = None
        if resample:
            from reproject import reproject_interp

            aligned, footprint = reproject_interp(
                (ref_img, w), w_new, shape_out=new_img.shape, order=order
            )
            aligned = np.asarray(aligned)
            footprint = np.asarray(footprint)
        cy, cx = (np.asarray(ref_img.shape, float) - 1.0) / 2.0
        c = np.array([cx, cy])
        shift = m @ c + t - c
        return Registration(
            ref_header=with_wcs(ref_header, w) if refined else fits.Header(ref_header),
            aligned=aligned,
            footprint=footprint,
            matrix=m,
            offset=t,
            shift_px=(float(shift[0]), float(shift[1])),
            rotation_deg=float(np.degrees(np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1]))),
            scale=float(np.sqrt(abs(np.linalg.det(m)))),
            rms_px=rms,
            rms_wcs_px=rms0,
            n_stars_new=len(cat_n),
            n_stars_ref=len(cat_r),
            n_matched=n,
            refined=refined,
            reason=reason,
        )

    if len(cat_n) < min_matches or len(cat_r) < min_matches:
        return finish(w_ref, eye, zero, None, None, 0, False,
                      f"too few stars (new {len(cat_n)}, ref {len(cat_r)}; need {min_matches})")  # fmt: skip
    px, py = to_new(w_ref, cat_r.x, cat_r.y)
    ox, oy = _vote_offset(px, py, cat_n.x, cat_n.y, max_offset_px)
    tree = cKDTree(np.column_stack([cat_n.x, cat_n.y]))
    d, j = tree.query(np.column_stack([px + ox, py + oy]), distance_upper_bound=3.0)
    ok = np.isfinite(d)
    # The matched new stars in the reference's pixels (through the header WCSs).
    ra, dec = w_new.all_pix2world(cat_n.x, cat_n.y, 0)
    qx, qy = (np.asarray(v) for v in w_ref.all_world2pix(ra, dec, 0))
    ri = np.flatnonzero(ok)
    ni = j[ok]
    sel = np.ones(ri.size, bool)
    m, t = eye, zero
    for _ in range(5):
        if sel.sum() < min_matches:
            break
        a = np.column_stack([cat_r.x[ri[sel]], cat_r.y[ri[sel]], np.ones(int(sel.sum()))])
        bx = qx[ni[sel]]
        by = qy[ni[sel]]
        cx_, *_ = np.linalg.lstsq(a, bx, rcond=None)
        cy_, *_ = np.linalg.lstsq(a, by, rcond=None)
        m = np.array([[cx_[0], cx_[1]], [cy_[0], cy_[1]]])
        t = np.array([cx_[2], cy_[2]])
        fx = m[0, 0] * cat_r.x[ri] + m[0, 1] * cat_r.y[ri] + t[0]
        fy = m[1, 0] * cat_r.x[ri] + m[1, 1] * cat_r.y[ri] + t[1]
        res = np.hypot(fx - qx[ni], fy - qy[ni])
        sigma = max(1.4826 * float(np.median(res[sel])), 0.01)
        new_sel = res < min(match_radius_px, 3.0 * sigma + 0.05)
        if np.array_equal(new_sel, sel):
            break
        sel = new_sel
    n = int(sel.sum())
    if n < min_matches:
        return finish(w_ref, eye, zero, None, None, n, False,
                      f"{n} stars matched within {match_radius_px} px (need {min_matches})")  # fmt: skip
    rx, ry = cat_r.x[ri[sel]], cat_r.y[ri[sel]]
    nxy = np.column_stack([cat_n.x[ni[sel]], cat_n.y[ni[sel]]])
    p0x, p0y = to_new(w_ref, rx, ry)
    rms0 = _rms(np.column_stack([p0x, p0y]) - nxy)
    if w_ref.has_distortion:
        return finish(w_ref, eye, zero, rms0, rms0, n, False,
                      "the reference WCS has distortion terms: header WCS kept")  # fmt: skip
    w_fit = _corrected_wcs(w_ref, m, t)
    p1x, p1y = to_new(w_fit, rx, ry)
    rms1 = _rms(np.column_stack([p1x, p1y]) - nxy)
    return finish(w_fit, m, t, rms1, rms0, n, True, "")
