"""Image subtraction as one call: registration, background, PSFs, flux ratio, registration
noise, then ZOGY (:mod:`argus.astro.zogy`) or Alard-Lupton (:mod:`argus.astro.alard_lupton`).

This module is the contract the service, the CLI and the real/bogus code use:
:class:`Subtraction` and :func:`subtract_images`. Everything comes from the two images and
their headers (no truth): the WCS aligns the reference, ``GAIN`` gives the source noise,
``SATURATE`` the saturation mask, ``SEEING``/``FWHM`` the PSF only if a frame has too few stars,
``EXPTIME`` the flux ratio only if too few stars match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sep
from astropy.io import fits  # type: ignore[import-untyped]
from astropy.stats import sigma_clipped_stats  # type: ignore[import-untyped]
from scipy.spatial import cKDTree

from argus.astro.psf import PSFModel, extract_sources, measure_psf
from argus.astro.zogy import align_reference, zogy

__all__ = [
    "MASK_NO_COVERAGE",
    "MASK_SATURATED",
    "Subtraction",
    "SubtractionError",
    "header_gain",
    "header_saturation",
    "subtract_images",
]

#: Bits of :attr:`Subtraction.mask`.
MASK_SATURATED = 1
MASK_NO_COVERAGE = 4

#: Frames larger than this (pixels) measure their PSFs, flux ratio and registration noise on
#: the stars of four windows, one centred in each quadrant, that total this many pixels
#: (:func:`_source_windows`): 25 PSF stars and a few hundred flux stars do not need a full
#: 16-Mpix extraction, which would cost more than the whole ZOGY transform.
SOURCE_SAMPLE_PIXELS = 2048 * 2048
#: Pixels extracted around each window so that its stars' neighbours (isolation) are known.
SOURCE_SAMPLE_PAD = 64
_POSITION_FIELDS = ("x", "y", "xpeak", "ypeak", "xcpeak", "ycpeak", "xmin", "xmax", "ymin", "ymax")

GAIN_KEYWORDS = ("GAIN", "EGAIN", "CCDGAIN")
SATURATION_KEYWORDS = ("SATURATE", "SATLEVEL", "SATURATN", "MAXLIN")
ALGORITHMS = ("zogy", "alard-lupton")


class SubtractionError(ValueError):
    """The images cannot be subtracted (bad shape, no WCS, nothing to fit the flux ratio)."""


@dataclass(frozen=True)
class Subtraction:
    """A difference of a new image against a reference, on the new image's pixel grid.

    ``D`` (unit-variance proper difference), ``Scorr`` (score in sigma), ``S`` (score), ``psf_D``
    (normalized stamp), ``new`` and ``ref_aligned`` (background-subtracted inputs), the fitted
    ``flux_ratio`` (reference flux per unit new-image flux, ZOGY's ``F_r`` with ``F_n = 1``),
    the new image's ``header`` and ``meta`` (algorithm, PSF and registration figures). The
    optional fields carry what photometry needs: ``mask`` (MASK_* bits), ``variance_S`` (the
    variance of ``S``, all noise terms), ``F_D_map`` (the flux zero point of ``D`` per pixel).
    """

    D: np.ndarray
    Scorr: np.ndarray
    S: np.ndarray
    psf_D: np.ndarray
    new: np.ndarray
    ref_aligned: np.ndarray
    flux_ratio: float
    header: fits.Header
    meta: dict[str, float | int | str]
    mask: np.ndarray | None = field(default=None)
    variance_S: np.ndarray | None = field(default=None)
    F_D_map: np.ndarray | None = field(default=None)


def _header_number(header: fits.Header, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if key in header:
            try:
                value = float(header[key])
            except (TypeError, ValueError):
                raise SubtractionError(f"header {key}: not a number ({header[key]!r})") from None
            if value > 0:
                return value
    return None


def header_gain(header: fits.Header) -> float | None:
    """Gain (e-/ADU) from ``GAIN``/``EGAIN``/``CCDGAIN``, None when absent."""
    return _header_number(header, GAIN_KEYWORDS)


def header_saturation(header: fits.Header) -> float | None:
    """Saturation level (ADU) from ``SATURATE``/``SATLEVEL``/..., None when absent."""
    return _header_number(header, SATURATION_KEYWORDS)


def _as_image(name: str, data: np.ndarray) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise SubtractionError(f"{name}: a 2-D image is needed, got shape {arr.shape}")
    if min(arr.shape) < 64:
        raise SubtractionError(f"{name}: at least 64 x 64 pixels, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise SubtractionError(f"{name}: numeric pixels needed, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)  # native byte order for sep


def _background(img: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """sep background and rms maps (64-px boxes, 3x3 median filter) with bad pixels masked;
    returns (background-subtracted image with bad pixels at 0, rms map, global rms)."""
    work = np.where(bad, np.float32(0.0), np.asarray(img, dtype=np.float32))
    bkg = sep.Background(work, mask=bad, bw=64, bh=64, fw=3, fh=3)
    bkg.subfrom(work)  # in place: work - bkg.back() without the background map
    work[bad] = 0.0
    return work, np.asarray(bkg.rms(), dtype=np.float32), float(bkg.globalrms)


def _dilate_cross(mask: np.ndarray, iterations: int) -> np.ndarray:
    """``scipy.ndimage.binary_dilation(mask, iterations=iterations)`` (the 3 x 3 cross,
    i.e. the pixels within city-block distance ``iterations``) for a sparse mask: the offsets
    are scattered from the set pixels instead of filtering the whole frame."""
    ys, xs = np.nonzero(mask)
    out = np.zeros(mask.shape, bool)
    ny, nx = mask.shape
    for dy in range(-iterations, iterations + 1):
        r = iterations - abs(dy)
        for dx in range(-r, r + 1):
            y, x = ys + dy, xs + dx
            ok = (y >= 0) & (y < ny) & (x >= 0) & (x < nx)
            out[y[ok], x[ok]] = True
    return out


def _variance(img: np.ndarray, rms: np.ndarray, gain: float | None) -> np.ndarray:
    """Per-pixel variance (float32): ``rms^2`` plus the sources' Poisson term
    ``max(img, 0) / gain`` when the gain is known."""
    var = np.square(rms, dtype=np.float32)
    if gain:
        src = np.clip(img, 0, None)
        src /= np.float32(gain)
        var += src
    return var


def _source_windows(
    shape: tuple[int, int], max_pixels: int | None = None
) -> list[tuple[slice, slice]]:
    """The whole frame when it has at most ``max_pixels`` (default
    :data:`SOURCE_SAMPLE_PIXELS`) pixels, else four windows (one centred in each quadrant,
    the frame's aspect ratio) of ``max_pixels`` in total."""
    if max_pixels is None:
        max_pixels = SOURCE_SAMPLE_PIXELS
    ny, nx = shape
    if ny * nx <= max_pixels:
        return [(slice(0, ny), slice(0, nx))]
    f = np.sqrt(max_pixels / (ny * nx))
    wy, wx = max(int(ny * f / 2), 1), max(int(nx * f / 2), 1)
    out = []
    for cy in (ny / 4, 3 * ny / 4):
        for cx in (nx / 4, 3 * nx / 4):
            y0, x0 = round(cy - wy / 2), round(cx - wx / 2)
            out.append((slice(y0, y0 + wy), slice(x0, x0 + wx)))
    return out


def _extract_in_windows(
    img: np.ndarray,
    rms: np.ndarray,
    windows: list[tuple[slice, slice]],
    *,
    thresh: float,
    pad: int = SOURCE_SAMPLE_PAD,
) -> np.ndarray:
    """:func:`argus.astro.psf.extract_sources` over ``windows`` (each extracted with ``pad``
    pixels around it; the sources whose centre lies in the window are kept), in frame
    coordinates."""
    ny, nx = img.shape
    if len(windows) == 1 and windows[0] == (slice(0, ny), slice(0, nx)):
        return extract_sources(img, rms, thresh=thresh)
    parts = []
    for sy, sx in windows:
        y0, y1 = max(sy.start - pad, 0), min(sy.stop + pad, ny)
        x0, x1 = max(sx.start - pad, 0), min(sx.stop + pad, nx)
        o = extract_sources(img[y0:y1, x0:x1], rms[y0:y1, x0:x1], thresh=thresh)
        for name in _POSITION_FIELDS:
            if name in (o.dtype.names or ()):
                o[name] += x0 if name.startswith("x") else y0
        inside = (o["x"] >= sx.start) & (o["x"] < sx.stop) & (o["y"] >= sy.start)
        parts.append(o[inside & (o["y"] < sy.stop)])
    return np.concatenate(parts)


def _match(a: np.ndarray, b: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour matches of catalogue ``a`` into ``b`` within ``radius`` pixels."""
    if a.size == 0 or b.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tree = cKDTree(np.column_stack([b["x"], b["y"]]))
    d, j = tree.query(np.column_stack([a["x"], a["y"]]), distance_upper_bound=radius)
    ok = np.isfinite(d)
    return np.flatnonzero(ok), j[ok]


def _moffat_encircled(r: float, psf: PSFModel) -> float:
    """Fraction of a circular Moffat's flux within radius ``r``: ``1 - (1 + r^2/a^2)^(1-beta)``."""
    a = psf.fwhm_px / (2.0 * np.sqrt(2.0 ** (1.0 / psf.beta) - 1.0))
    return float(1.0 - (1.0 + (r / a) ** 2) ** (1.0 - psf.beta))


def _flux_ratio_and_registration(
    N: np.ndarray,
    R: np.ndarray,
    rms_n: float,
    rms_r: float,
    obj_n: np.ndarray,
    obj_r: np.ndarray,
    psf_n: PSFModel,
    psf_r: PSFModel,
    sat_n: float | None,
    sat_r: float | None,
) -> dict[str, float]:
    """Flux ratio F_r/F_n and registration noise from matched, isolated, unsaturated,
    high-SNR stars (aperture fluxes at 3 FWHM corrected by each PSF's encircled energy;
    windowed centroids). Empty dict when fewer than 5 stars match."""

    def usable(o: np.ndarray, sat: float | None) -> np.ndarray:
        ok = o["flag"] == 0
        if sat is not None:
            ok &= o["peak"] < 0.6 * sat
        return o[ok]

    a = usable(obj_n, sat_n)
    b = usable(obj_r, sat_r)
    ia, ib = _match(a, b, 3.0)
    if ia.size >= 5:  # re-centre on the median offset, then match tightly
        dx0 = np.median(a["x"][ia] - b["x"][ib])
        dy0 = np.median(a["y"][ia] - b["y"][ib])
        shifted = b.copy()
        shifted["x"] += dx0
        shifted["y"] += dy0
        ia, ib = _match(a, shifted, 1.0)
    if ia.size < 5:
        return {}
    a, b = a[ia], b[ib]
    r_ap = 3.0 * max(psf_n.fwhm_px, psf_r.fwhm_px)
    ny, nx = N.shape
    inside = (
        (a["x"] > r_ap + 1)
        & (a["x"] < nx - r_ap - 2)
        & (a["y"] > r_ap + 1)
        & (a["y"] < ny - r_ap - 2)
    )
    a, b = a[inside], b[inside]
    if a.size < 5:
        return {}
    fn, en, _ = sep.sum_circle(N, a["x"], a["y"], r_ap, err=rms_n)
    fr, er, _ = sep.sum_circle(R, b["x"], b["y"], r_ap, err=rms_r)
    fn = fn / _moffat_encircled(r_ap, psf_n)
    fr = fr / _moffat_encircled(r_ap, psf_r)
    snr = np.minimum(fn / en, fr / er)
    good = (snr > 30) & (fn > 0) & (fr > 0)
    if good.sum() < 5:
        good = (snr > 10) & (fn > 0) & (fr > 0)
    if good.sum() < 5:
        return {}
    ratio = fr[good] / fn[good]
    _, med, std = sigma_clipped_stats(ratio, sigma=3.0, maxiters=5)
    # Registration: windowed centroids of the bright matched stars.
    sig_w = 0.4247 * max(psf_n.fwhm_px, psf_r.fwhm_px)
    xn, yn, _ = sep.winpos(N, a["x"][good], a["y"][good], sig_w)
    xr, yr, _ = sep.winpos(R, b["x"][good], b["y"][good], sig_w)
    dx, dy = xn - xr, yn - yr
    _, mx, sx = sigma_clipped_stats(dx, sigma=3.0, maxiters=5)
    _, my, sy = sigma_clipped_stats(dy, sigma=3.0, maxiters=5)
    return {
        "flux_ratio": float(med),
        "flux_ratio_scatter": float(std),
        "n_flux_stars": int(good.sum()),
        "sigma_x_px": float(np.hypot(mx, sx)),
        "sigma_y_px": float(np.hypot(my, sy)),
        "registration_dx_px": float(mx),
        "registration_dy_px": float(my),
        "registration_rms_px": float(np.sqrt(np.mean(dx**2 + dy**2))),
    }


def subtract_images(
    new: np.ndarray,
    new_header: fits.Header,
    ref: np.ndarray,
    ref_header: fits.Header,
    *,
    algorithm: str = "zogy",
    tile_size: int | None = None,
) -> Subtraction:
    """Subtract ``ref`` from ``new`` (ADU images with TAN or other celestial WCS headers).

    Steps: align the reference onto the new grid (WCS; :func:`argus.astro.zogy.align_reference`),
    mask saturated and uncovered pixels, subtract sep backgrounds, measure both PSFs
    (:func:`argus.astro.psf.measure_psf`), fit the flux ratio and the registration noise on
    matched stars (frames above :data:`SOURCE_SAMPLE_PIXELS`: the stars of four windows,
    ``meta["source_sample_fraction"]`` of the frame), then run ``algorithm`` ("zogy" or
    "alard-lupton"). ``tile_size`` is ZOGY's
    core tile side (None: one transform up to 3072 px a side, 2048-px tiles beyond).
    """
    if algorithm not in ALGORITHMS:
        raise SubtractionError(f"algorithm: one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    new_img = _as_image("new", new)
    ref_img = _as_image("ref", ref)
    ref_al, acf_r = align_reference(ref_img, ref_header, new_header, new_img.shape)
    sat_n = header_saturation(new_header)
    sat_r = header_saturation(ref_header)
    gain_n = header_gain(new_header)
    gain_r = header_gain(ref_header)

    no_cov = ~(np.isfinite(ref_al) & np.isfinite(new_img))
    covered = float(1.0 - no_cov.mean())
    if covered < 0.05:
        raise SubtractionError(
            f"ref: only {covered:.1%} of the new image is covered by the reference (check the WCS)"
        )
    sat = np.zeros(new_img.shape, bool)
    if sat_n is not None:
        sat |= new_img >= 0.98 * sat_n
    if sat_r is not None:
        sat |= ref_al >= 0.9 * sat_r  # NaN (no coverage) compares False, as 0 would
    # Grow the saturation mask by 2 px (bleed and interpolation edges).
    sat = _dilate_cross(sat, 2) if sat.any() else sat
    bad = no_cov | sat
    # Non-finite pixels are all in `bad`, which _background sets to 0.
    N, rms_n_map, rms_n = _background(new_img, bad)
    R, rms_r_map, rms_r = _background(ref_al, bad)
    # Bilinear resampling correlates neighbouring reference pixels: the per-pixel rms then
    # understates the low-frequency noise that the matched filter S integrates. ZOGY uses the
    # coloured spectrum of the resampled noise (zogy.bilinear_noise_acf); the inputs are
    # taken to have white noise, as ZOGY assumes (zogy.noise_acf measures it, for diagnostics).
    acf_n = None
    probe = np.flatnonzero(~bad)[::97]  # every 97th good pixel: the median background
    bkg_n = float(np.median(new_img.ravel()[probe] - N.ravel()[probe]))
    bkg_r = float(np.median(ref_al.ravel()[probe] - R.ravel()[probe]))
    sat_above_n = sat_n - bkg_n if sat_n is not None else None
    sat_above_r = sat_r - bkg_r if sat_r is not None else None

    windows = _source_windows(N.shape)
    obj_n = _extract_in_windows(N, rms_n_map, windows, thresh=15.0)
    obj_r = _extract_in_windows(R, rms_r_map, windows, thresh=15.0)
    psf_n = measure_psf(N, rms_n_map, new_header, objects=obj_n, saturate=sat_above_n, gain=gain_n)
    psf_r = measure_psf(R, rms_r_map, ref_header, objects=obj_r, saturate=sat_above_r, gain=gain_r)
    fit = _flux_ratio_and_registration(
        N, R, rms_n, rms_r, obj_n, obj_r, psf_n, psf_r, sat_above_n, sat_above_r
    )
    meta: dict[str, float | int | str] = {
        "algorithm": algorithm,
        "fwhm_new_px": psf_n.fwhm_px,
        "fwhm_ref_px": psf_r.fwhm_px,
        "beta_new": psf_n.beta,
        "beta_ref": psf_r.beta,
        "ellipticity_new": psf_n.ellipticity,
        "ellipticity_ref": psf_r.ellipticity,
        "n_psf_stars_new": psf_n.n_stars,
        "n_psf_stars_ref": psf_r.n_stars,
        "psf_source": psf_n.source
        if psf_n.source == psf_r.source
        else f"new:{psf_n.source},ref:{psf_r.source}",
        "psf_source_new": psf_n.source,
        "psf_source_ref": psf_r.source,
        "sigma_new": rms_n,
        "sigma_ref": rms_r,
        "ref_resampling_noise_factor": float(np.sqrt(acf_r.sum())),
        "coverage": covered,
        "source_sample_fraction": float(
            sum((w[0].stop - w[0].start) * (w[1].stop - w[1].start) for w in windows) / N.size
        ),
        "n_saturated_px": int(sat.sum()),
        "source_noise": "on" if gain_n and gain_r else "off: no GAIN keyword",
    }
    if fit:
        flux_ratio = fit["flux_ratio"]
        meta["flux_ratio_source"] = "stars"
        meta.update(fit)
    else:
        t_new = _header_number(new_header, ("EXPTIME", "EXPOSURE"))
        t_ref = _header_number(ref_header, ("EXPTIME", "EXPOSURE"))
        if t_new is None or t_ref is None:
            raise SubtractionError(
                "flux_ratio: fewer than 5 stars match between the images and EXPTIME is missing "
                "from a header, so the flux ratio cannot be fitted"
            )
        flux_ratio = t_ref / t_new
        meta.update(
            flux_ratio_source="exptime",
            n_flux_stars=0,
            sigma_x_px=0.0,
            sigma_y_px=0.0,
            registration_rms_px=float("nan"),
        )
    meta["flux_ratio"] = flux_ratio
    sigma_x = float(meta["sigma_x_px"])
    sigma_y = float(meta["sigma_y_px"])

    var_n = _variance(N, rms_n_map, gain_n)
    var_r = _variance(R, rms_r_map, gain_r)
    mask = sat.astype(np.uint8) * np.uint8(MASK_SATURATED)
    mask |= no_cov.astype(np.uint8) * np.uint8(MASK_NO_COVERAGE)
    if algorithm == "zogy":
        if tile_size is None and max(N.shape) > 3072:
            tile_size = 2048
        res = zogy(
            N,
            R,
            psf_n.stamp,
            psf_r.stamp,
            sigma_n=rms_n_map,
            sigma_r=rms_r_map,
            F_r=flux_ratio,
            var_n=var_n,
            var_r=var_r,
            sigma_x=sigma_x,
            sigma_y=sigma_y,
            tile_size=tile_size,
            acf_n=acf_n,
            acf_r=acf_r,
        )
        D, S, Scorr, VS, psf_D, FD = res.D, res.S, res.Scorr, res.V_S, res.psf_D, res.F_D_map
        meta["F_D"] = res.F_D
        meta["F_S"] = res.F_S
    else:
        from argus.astro.alard_lupton import alard_lupton

        al = alard_lupton(
            N, R, psf_n, psf_r, sigma_n=rms_n, sigma_r=rms_r, var_n=var_n, var_r=var_r, bad=bad
        )
        D, S, Scorr, VS, psf_D = al.D, al.S, al.Scorr, al.V_S, al.psf_D
        FD = np.full(N.shape, al.F_D, np.float32)
        meta["F_D"] = al.F_D
        meta["F_S"] = al.F_S
        meta["kernel_sum"] = al.kernel_sum
        meta["tile_size"] = 0
    meta["tile_size"] = int(tile_size or 0)
    if no_cov.any():
        for arr in (D, S, Scorr):
            arr[no_cov] = 0.0
    return Subtraction(
        D=D,
        Scorr=Scorr,
        S=S,
        psf_D=psf_D,
        new=N,
        ref_aligned=R,
        flux_ratio=float(flux_ratio),
        header=new_header.copy(),
        meta=meta,
        mask=mask,
        variance_S=VS,
        F_D_map=FD,
    )
