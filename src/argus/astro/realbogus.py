"""Real/bogus classification of difference-image candidates from their cutout triplets.

A candidate is described by its three 63 x 63 stamps (science, reference, difference; see
:func:`argus.astro.cutouts.cutout_triplets`). :func:`features` turns N triplets into an (N, F)
matrix in one vectorized pass, and a scikit-learn ``HistGradientBoostingClassifier`` (Friedman
2001, Ann. Stat. 29, 1189; histogram binning as in LightGBM, Ke et al. 2017) maps it to a score
in [0, 1], 1 = real. This is the feature-based approach of the ZTF/PTF "RB" classifiers
(Bloom et al. 2012, PASP 124, 1175; Brink et al. 2013, MNRAS 435, 1047; Mahabal et al. 2019,
PASP 131, 038002) rather than braai's CNN on the pixels (Duev et al. 2019, MNRAS 489, 3582).

Features (:data:`FEATURE_NAMES`), all on noise-normalised stamps z = (x - median) / sigma with
sigma = 1.4826 MAD (robust to the sources in the stamp):

- difference peak and trough in the central 5 x 5 and the value at the centre;
- matched-filter SNR of D, of the science and of the reference stamp at the centre for circular
  Gaussian templates of sigma 0.6 (sharper than any PSF: cosmic rays, hot pixels), 1.0, 1.6
  and 2.4 pixels, and the reduced chi^2 of the one-amplitude PSF fit of D at each width;
- a linear fit of D's central 15 x 15 on the basis [G, dG/dx, dG/dy, Laplacian of G,
  (d2/dx2 - d2/dy2) G, d2/dxdy G] (G a Gaussian of sigma 1.6): a PSF-shaped point source needs
  only the first, a misalignment dipole the gradients (the first-order Taylor term of a shifted
  star), a PSF-width mismatch the Laplacian (a ring), an ellipticity mismatch the quadrupoles
  (a cloverleaf); the coefficients relative to G's and the chi^2 gain of the full basis;
- sharpness (centre minus the mean of its 8 neighbours) and the Laplacian at the peak of the
  science and difference stamps (L.A.Cosmic's statistic, van Dokkum 2001, PASP 113, 1420);
- flux-weighted second moments of D's positive part in the central 9 x 9: FWHM (Gaussian
  equivalent), elongation, centroid offset;
- negative-pixel metrics of D: nneg (negative pixels in 5 x 5, as in ZTF's candidate table),
  sumrat = sum / sum|.| in 5 x 5, pixels below -3 sigma in 9 x 9, trough/peak ratio and the
  distance between peak and trough;
- aperture sums (radius 2 and 4 pixels) of the three stamps and their ratios (the difference
  relative to the science and to the reference flux: how much of the light is new);
- distance to the nearest reference source (a 5 sigma local maximum of the reference) and its
  peak, distance to the nearest science source;
- row/column metrics: the significance of the mean of the central column and row of the
  science and difference stamps outside the core (bad columns, bleed trails);
- quantiles (1, 5, 50, 95, 99 %) of D in the central 15 x 15; the fraction of finite pixels.

Serialization (:meth:`RealBogusModel.to_bytes`) is a pickle behind a one-line JSON header with
the format, :data:`FEATURE_VERSION`, the feature names, the scikit-learn version and the
payload's SHA-256; :meth:`RealBogusModel.from_bytes` refuses another feature version, another
feature list, another scikit-learn major.minor or a corrupted payload (:class:`ModelFormatError`).
Unpickling runs code: load only blobs Argus wrote (its model table), never a user's upload.

Thresholds come from held-out scores: :func:`threshold_at_fpr` (the tightest whose false-positive
rate is at most the target) and :func:`threshold_at_tpr` (the tightest that keeps at least the
target share of reals). :func:`train_real_bogus` simulates its held-out set from
``seed + HELDOUT_SEED_OFFSET``, so held-out figures are of draws independent of the training set.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from argus.astro.rbsim import simulate_triplets

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "ModelFormatError",
    "RealBogusModel",
    "evaluate_scores",
    "features",
    "roc_plot",
    "threshold_at_fpr",
    "threshold_at_tpr",
    "train_real_bogus",
]

FloatArray = npt.NDArray[np.float64]

#: Bumped whenever :func:`features` changes meaning; a model of another version is refused.
FEATURE_VERSION = 1
FORMAT_VERSION = 1
_MAGIC = b"ARGUS-REAL-BOGUS"
_RETRAIN = "retrain it with `argus astro train`"
#: The injected-SNR bins of the per-bin TPR.
SNR_BINS: tuple[float, ...] = (3.0, 5.0, 6.0, 7.0, 10.0, 15.0, 30.0, 100.0)

_WIDTHS = (0.6, 1.0, 1.6, 2.4)
_W = 7  # half-size of the central window (15 x 15)
_BASIS_SIGMA = 1.6


class ModelFormatError(ValueError):
    """A real/bogus model blob that cannot be loaded (another version, or corrupted)."""


def _feature_names() -> tuple[str, ...]:
    names = ["d_peak", "d_trough", "d_centre"]
    for img in ("d", "sci", "ref"):
        names += [f"{img}_mf_snr_s{w:g}" for w in _WIDTHS]
    names += [f"d_chi2_s{w:g}" for w in _WIDTHS]
    names += ["d_best_width", "d_sharp_over_best"]
    names += ["d_mf_snr_max", "d_mf_best_shift", "sci_mf_snr_max", "ref_mf_snr_max"]
    names += [
        "basis_grad_over_psf",
        "basis_lap_over_psf",
        "basis_quad_over_psf",
        "basis_chi2",
        "basis_chi2_gain",
        "basis_psf_amp",
    ]
    names += ["sci_sharpness", "d_sharpness", "sci_laplacian", "d_laplacian"]
    names += ["d_fwhm", "d_elongation", "d_centroid_offset"]
    names += ["d_nneg", "d_sumrat", "d_n_below_3", "d_trough_over_peak", "d_peak_trough_dist"]
    names += [f"{img}_ap{r}" for img in ("d", "sci", "ref") for r in (2, 4)]
    names += ["d_over_sci_ap4", "d_over_ref_ap4", "sci_over_ref_ap4"]
    names += ["ref_nearest_dist", "ref_nearest_peak", "sci_nearest_dist"]
    names += ["sci_col_signif", "sci_row_signif", "d_col_signif", "d_row_signif"]
    names += [f"d_q{q}" for q in (1, 5, 50, 95, 99)]
    names += ["valid_fraction"]
    return tuple(names)


FEATURE_NAMES: tuple[str, ...] = _feature_names()


def _gauss(sigma: float, dx: FloatArray, dy: FloatArray) -> FloatArray:
    return np.asarray(np.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma)))


def _templates() -> dict[str, FloatArray]:
    """The fixed templates on the central (2W+1)^2 window, built once."""
    k = np.arange(-_W, _W + 1, dtype=np.float64)
    dy, dx = np.meshgrid(k, k, indexing="ij")
    out: dict[str, FloatArray] = {}
    for w in _WIDTHS:
        g = _gauss(w, dx, dy)
        out[f"g{w:g}"] = g / np.sqrt((g * g).sum())
    s2 = _BASIS_SIGMA**2
    g = _gauss(_BASIS_SIGMA, dx, dy)
    basis = np.stack(
        [
            g,
            -dx / s2 * g,
            -dy / s2 * g,
            ((dx * dx + dy * dy) / s2**2 - 2.0 / s2) * g,
            ((dx * dx - dy * dy) / s2**2) * g,
            (dx * dy / s2**2) * g,
        ]
    ).reshape(6, -1)
    # unit-norm columns; the least-squares solution is pinv(B) @ z for every stamp at once
    basis /= np.sqrt((basis * basis).sum(axis=1, keepdims=True))
    out["basis"] = basis
    out["basis_pinv"] = np.asarray(np.linalg.pinv(basis.T), dtype=np.float64)
    # matched filters centred on a half-pixel grid around the centre, widths 1.0-2.4: the
    # maximum over them is a closer estimate of the point-source SNR of a candidate that is
    # not centred on its pixel (columns: width-major, 9 shifts each)
    shifted = []
    for w in _WIDTHS[1:]:
        for sy in (-0.5, 0.0, 0.5):
            for sx in (-0.5, 0.0, 0.5):
                g = _gauss(w, dx - sx, dy - sy)
                shifted.append((g / np.sqrt((g * g).sum())).reshape(-1))
    out["shifted"] = np.stack(shifted, axis=1)  # (npix, 27)
    grid = np.array([(sx, sy) for sy in (-0.5, 0.0, 0.5) for sx in (-0.5, 0.0, 0.5)])
    out["shift_dist"] = np.tile(np.hypot(grid[:, 0], grid[:, 1]), len(_WIDTHS) - 1)
    return out


_T = _templates()


def _row_nanmedian(rows: FloatArray) -> FloatArray:
    """Median of each row ignoring NaN, vectorized: np.sort puts NaN last, so the median of a
    row with c finite values is the mean of its sorted elements (c-1)//2 and c//2 (numpy's
    nanmedian loops over rows in Python, ~100x slower here). All-NaN rows give NaN."""
    srt = np.sort(rows, axis=1)
    cnt = np.isfinite(rows).sum(axis=1)
    lo = np.maximum((cnt - 1) // 2, 0)
    hi = np.maximum(cnt // 2, 0)
    pick = (
        np.take_along_axis(srt, lo[:, None], 1)[:, 0]
        + np.take_along_axis(srt, hi[:, None], 1)[:, 0]
    )
    return np.where(cnt > 0, 0.5 * pick, np.nan)


def _robust_normalise(stamps: FloatArray) -> tuple[FloatArray, FloatArray]:
    """z = (x - median) / (1.4826 MAD) per stamp and channel, NaN -> 0; and the finite mask."""
    finite = np.isfinite(stamps)
    shape = stamps.shape
    rows = stamps.reshape(-1, shape[-2] * shape[-1])
    med = _row_nanmedian(rows)
    mad = _row_nanmedian(np.abs(rows - med[:, None])) * 1.4826
    mad = np.where(np.isfinite(mad) & (mad > 0), mad, 1.0)
    med = np.where(np.isfinite(med), med, 0.0)
    z = ((rows - med[:, None]) / mad[:, None]).reshape(shape)
    return np.where(finite, z, 0.0), finite


def _validate(triplets: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(triplets)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim != 4 or arr.shape[1] != 3 or arr.shape[2] != arr.shape[3]:
        raise ValueError(
            f"triplets: expected shape (n, 3, size, size) (science, reference, difference), "
            f"got {arr.shape}"
        )
    if arr.shape[2] < 2 * _W + 3 or arr.shape[2] % 2 == 0:
        raise ValueError(
            f"triplets: stamps must be odd and >= {2 * _W + 3} pixels, got {arr.shape[2]}"
        )
    has_pixels = np.isfinite(arr).any(axis=(2, 3))  # (n, 3)
    empty = np.flatnonzero(~np.all(has_pixels, axis=1))
    if empty.size:
        raise ValueError(f"triplets: row {int(empty[0])} has a stamp with no finite pixel")
    return arr


def features(triplets: npt.ArrayLike, chunk: int = 512) -> FloatArray:
    """The (n, len(FEATURE_NAMES)) feature matrix of ``triplets`` (n, 3, size, size), computed
    ``chunk`` triplets at a time (vectorized within a chunk; bounds the float64 work arrays)."""
    arr = _validate(triplets)
    if arr.shape[0] <= chunk:
        return _features(np.asarray(arr, dtype=np.float64))
    return np.concatenate(
        [
            _features(np.asarray(arr[a : a + chunk], dtype=np.float64))
            for a in range(0, arr.shape[0], chunk)
        ]
    )


def _features(arr: FloatArray) -> FloatArray:
    n, _, size, _ = arr.shape
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    z, finite = _robust_normalise(arr)
    zs, zr, zd = z[:, 0], z[:, 1], z[:, 2]
    c = size // 2
    win = np.s_[:, c - _W : c + _W + 1, c - _W : c + _W + 1]
    ws, wr, wd = zs[win], zr[win], zd[win]
    npix = (2 * _W + 1) ** 2
    cols: dict[str, FloatArray] = {}

    core = zd[:, c - 2 : c + 3, c - 2 : c + 3]
    cols["d_peak"] = core.max(axis=(1, 2))
    cols["d_trough"] = core.min(axis=(1, 2))
    cols["d_centre"] = zd[:, c, c]

    sum_sq = (wd * wd).sum(axis=(1, 2))
    mf = {}
    for w in _WIDTHS:
        t = _T[f"g{w:g}"]
        for name, img in (("d", wd), ("sci", ws), ("ref", wr)):
            cols[f"{name}_mf_snr_s{w:g}"] = np.tensordot(img, t, axes=([1, 2], [0, 1]))
        mf[w] = cols[f"d_mf_snr_s{w:g}"]
        # chi^2 of the best one-amplitude fit a*t (t unit-norm): sum z^2 - (t.z)^2
        cols[f"d_chi2_s{w:g}"] = (sum_sq - mf[w] ** 2) / (npix - 1)
    stack = np.stack([mf[w] for w in _WIDTHS], axis=1)
    best = np.argmax(stack, axis=1)
    cols["d_best_width"] = np.asarray(_WIDTHS)[best]
    cols["d_sharp_over_best"] = mf[_WIDTHS[0]] / np.maximum(np.abs(stack.max(axis=1)), 1e-6)
    for name, img in (("d", wd), ("sci", ws), ("ref", wr)):
        resp = img.reshape(n, -1) @ _T["shifted"]  # (n, 27)
        cols[f"{name}_mf_snr_max"] = resp.max(axis=1)
        if name == "d":
            cols["d_mf_best_shift"] = _T["shift_dist"][np.argmax(resp, axis=1)]

    coef = wd.reshape(n, -1) @ _T["basis_pinv"].T  # (n, 6) least-squares coefficients
    resid = wd.reshape(n, -1) - coef @ _T["basis"]
    chi2_full = (resid * resid).sum(axis=1) / (npix - 6)
    amp = coef[:, 0]
    denom = np.maximum(np.abs(amp), 1e-3)
    cols["basis_grad_over_psf"] = np.hypot(coef[:, 1], coef[:, 2]) / denom
    cols["basis_lap_over_psf"] = coef[:, 3] / denom
    cols["basis_quad_over_psf"] = np.hypot(coef[:, 4], coef[:, 5]) / denom
    cols["basis_chi2"] = chi2_full
    cols["basis_chi2_gain"] = cols[f"d_chi2_s{_BASIS_SIGMA:g}"] - chi2_full
    cols["basis_psf_amp"] = amp

    for name, img in (("sci", zs), ("d", zd)):
        nb = img[:, c - 1 : c + 2, c - 1 : c + 2]
        # the brightest pixel of the central 3 x 3, and its 8 neighbours
        flat = nb.reshape(n, -1)
        k = np.argmax(flat, axis=1)
        py, px = c - 1 + k // 3, c - 1 + k % 3
        rows = np.arange(n)
        centre = img[rows, py, px]
        ring = sum(
            img[rows, py + oy, px + ox]
            for oy in (-1, 0, 1)
            for ox in (-1, 0, 1)
            if (oy, ox) != (0, 0)
        )
        four = (
            img[rows, py - 1, px]
            + img[rows, py + 1, px]
            + img[rows, py, px - 1]
            + img[rows, py, px + 1]
        )
        cols[f"{name}_sharpness"] = centre - np.asarray(ring) / 8.0
        cols[f"{name}_laplacian"] = 4.0 * centre - four

    m = zd[:, c - 4 : c + 5, c - 4 : c + 5]
    wpos = np.maximum(m, 0.0)
    tot = np.maximum(wpos.sum(axis=(1, 2)), 1e-9)
    k9 = np.arange(-4, 5, dtype=np.float64)
    my = (wpos.sum(axis=2) * k9).sum(axis=1) / tot
    mx = (wpos.sum(axis=1) * k9).sum(axis=1) / tot
    dyy = k9[None, :, None] - my[:, None, None]
    dxx = k9[None, None, :] - mx[:, None, None]
    mxx = (wpos * dxx * dxx).sum(axis=(1, 2)) / tot
    myy = (wpos * dyy * dyy).sum(axis=(1, 2)) / tot
    mxy = (wpos * dxx * dyy).sum(axis=(1, 2)) / tot
    half_tr = 0.5 * (mxx + myy)
    disc = np.sqrt(np.maximum(0.25 * (mxx - myy) ** 2 + mxy**2, 0.0))
    lam1, lam2 = half_tr + disc, np.maximum(half_tr - disc, 1e-6)
    cols["d_fwhm"] = 2.0 * np.sqrt(2.0 * np.log(2.0)) * np.sqrt(np.maximum(half_tr, 0.0))
    cols["d_elongation"] = np.sqrt(lam1 / lam2)
    cols["d_centroid_offset"] = np.hypot(mx, my)

    cols["d_nneg"] = (core < 0).sum(axis=(1, 2)).astype(np.float64)
    cols["d_sumrat"] = core.sum(axis=(1, 2)) / np.maximum(np.abs(core).sum(axis=(1, 2)), 1e-9)
    cols["d_n_below_3"] = (m < -3.0).sum(axis=(1, 2)).astype(np.float64)
    peak9, trough9 = m.max(axis=(1, 2)), m.min(axis=(1, 2))
    cols["d_trough_over_peak"] = trough9 / np.maximum(np.abs(peak9), 1e-6)
    kmax = np.argmax(m.reshape(n, -1), axis=1)
    kmin = np.argmin(m.reshape(n, -1), axis=1)
    cols["d_peak_trough_dist"] = np.hypot(kmax // 9 - kmin // 9, kmax % 9 - kmin % 9).astype(
        np.float64
    )

    ky = np.arange(size)[:, None] - c
    kx = np.arange(size)[None, :] - c
    rad = np.hypot(ky, kx)
    for r in (2, 4):
        ap = (rad <= r).astype(np.float64)
        for name, img in (("d", zd), ("sci", zs), ("ref", zr)):
            # aperture sum in noise units: sum z / sqrt(npix), the aperture's SNR
            cols[f"{name}_ap{r}"] = np.tensordot(img, ap, axes=([1, 2], [0, 1])) / np.sqrt(ap.sum())
    eps = 1.0
    cols["d_over_sci_ap4"] = cols["d_ap4"] / (np.abs(cols["sci_ap4"]) + eps)
    cols["d_over_ref_ap4"] = cols["d_ap4"] / (np.abs(cols["ref_ap4"]) + eps)
    cols["sci_over_ref_ap4"] = cols["sci_ap4"] / (np.abs(cols["ref_ap4"]) + eps)

    for name, img in (("ref", zr), ("sci", zs)):
        is_max = (img == ndimage.maximum_filter(img, size=(1, 3, 3), mode="nearest")) & (img > 5.0)
        dist = np.where(is_max, rad[None], np.inf).min(axis=(1, 2))
        cols[f"{name}_nearest_dist"] = np.minimum(dist, float(size))
        if name == "ref":
            # peak of the nearest reference source (0 when none)
            flat_d = np.where(is_max, rad[None], np.inf).reshape(n, -1)
            k = np.argmin(flat_d, axis=1)
            peak = img.reshape(n, -1)[np.arange(n), k]
            cols["ref_nearest_peak"] = np.where(np.isfinite(dist), peak, 0.0)

    outside = np.abs(np.arange(size) - c) > 4
    n_out = outside.sum()
    for name, img in (("sci", zs), ("d", zd)):
        col = img[:, :, c - 1 : c + 2][:, outside, :].sum(axis=1) / np.sqrt(n_out)
        row = img[:, c - 1 : c + 2, :][:, :, outside].sum(axis=2) / np.sqrt(n_out)
        cols[f"{name}_col_signif"] = np.take_along_axis(
            col, np.argmax(np.abs(col), axis=1)[:, None], axis=1
        )[:, 0]
        cols[f"{name}_row_signif"] = np.take_along_axis(
            row, np.argmax(np.abs(row), axis=1)[:, None], axis=1
        )[:, 0]

    q = np.percentile(wd.reshape(n, -1), [1, 5, 50, 95, 99], axis=1)
    for qq, vals in zip((1, 5, 50, 95, 99), q, strict=True):
        cols[f"d_q{qq}"] = vals
    cols["valid_fraction"] = finite.mean(axis=(1, 2, 3))

    missing = set(FEATURE_NAMES) - set(cols)
    if missing:  # a programming error, not bad input
        raise RuntimeError(f"features: not computed {sorted(missing)}")
    return np.stack([np.asarray(cols[k], dtype=np.float64) for k in FEATURE_NAMES], axis=1)


# ----------------------------------------------------------------------------- the model


def _sklearn_version() -> str:
    import sklearn  # type: ignore[import-untyped]

    return str(sklearn.__version__)


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def threshold_at_fpr(bogus_scores: npt.ArrayLike, fpr: float) -> float:
    """The smallest threshold t with mean(bogus >= t) <= ``fpr`` (a candidate is real if
    score >= t), from the bogus scores of a held-out set."""
    if not 0.0 <= fpr <= 1.0:
        raise ValueError(f"fpr: must be in [0, 1], got {fpr}")
    b = np.sort(np.asarray(bogus_scores, dtype=np.float64).reshape(-1))[::-1]
    if b.size == 0:
        raise ValueError("fpr: no held-out bogus scores to set a threshold from")
    allowed = int(np.floor(fpr * b.size + 1e-9))  # false positives the rate allows
    if allowed >= b.size:
        return 0.0
    # just above the (allowed+1)-th highest bogus score (ties all fall below the threshold)
    return float(np.nextafter(b[allowed], np.inf))


def threshold_at_tpr(real_scores: npt.ArrayLike, tpr: float) -> float:
    """The largest threshold t with mean(real >= t) >= ``tpr``, from the real scores of a
    held-out set: the k-th highest real score, k = ceil(tpr n) (ties keep more)."""
    if not 0.0 <= tpr <= 1.0:
        raise ValueError(f"tpr: must be in [0, 1], got {tpr}")
    r = np.sort(np.asarray(real_scores, dtype=np.float64).reshape(-1))[::-1]
    if r.size == 0:
        raise ValueError("tpr: no held-out real scores to set a threshold from")
    k = int(np.ceil(tpr * r.size - 1e-9))
    if k == 0:
        return float(np.nextafter(r[0], np.inf))  # keep none
    return float(r[k - 1])


@dataclass
class RealBogusModel:
    """A trained real/bogus classifier: :meth:`score` maps triplets to [0, 1] (1 = real).

    ``metrics`` are the held-out figures of :func:`train_real_bogus`; ``heldout_bogus_scores``
    and ``heldout_real_scores`` the held-out scores that :meth:`threshold_at_fpr` and
    :meth:`threshold_at_tpr` read their thresholds from.
    """

    estimator: Any
    feature_names: tuple[str, ...] = FEATURE_NAMES
    feature_version: int = FEATURE_VERSION
    sklearn_version: str = field(default_factory=_sklearn_version)
    metrics: dict[str, Any] = field(default_factory=dict)
    heldout_bogus_scores: FloatArray = field(default_factory=lambda: np.zeros(0))
    heldout_real_scores: FloatArray = field(default_factory=lambda: np.zeros(0))

    @property
    def version(self) -> str:
        """A short name for alerts' ``rbversion``: feature version and training seed/size."""
        seed = self.metrics.get("seed", "?")
        n = self.metrics.get("n_train", "?")
        return f"argus-rb-hgb-f{self.feature_version}-s{seed}-n{n}"

    def score_features(self, x: npt.ArrayLike) -> FloatArray:
        """Scores of a feature matrix (n, len(feature_names))."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(self.feature_names):
            raise ValueError(
                f"x: expected (n, {len(self.feature_names)}) features, got shape {arr.shape}"
            )
        if arr.shape[0] == 0:
            return np.zeros(0)
        return np.asarray(self.estimator.predict_proba(arr)[:, 1], dtype=np.float64)

    def score(self, triplets: npt.ArrayLike) -> FloatArray:
        """Real/bogus scores in [0, 1] of triplets (n, 3, size, size)."""
        return self.score_features(features(triplets))

    def threshold_at_fpr(self, fpr: float) -> float:
        """The score threshold whose false-positive rate on the held-out bogus set is at most
        ``fpr`` (candidates with score >= threshold are kept as real)."""
        return threshold_at_fpr(self.heldout_bogus_scores, fpr)

    def threshold_at_tpr(self, tpr: float) -> float:
        """The score threshold that keeps at least ``tpr`` of the held-out reals (the review
        threshold: e.g. 0.99 loses at most 1 % of the reals like the held-out ones)."""
        real = getattr(self, "heldout_real_scores", None)  # absent from models before it
        if real is None or np.asarray(real).size == 0:
            raise ModelFormatError(
                f"real/bogus model keeps no held-out real scores to set a TPR threshold; {_RETRAIN}"
            )
        return threshold_at_tpr(real, tpr)

    def to_bytes(self) -> bytes:
        """Header line (JSON: format, feature version and names, sklearn version, sha256) +
        pickle."""
        payload = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        header = {
            "format": FORMAT_VERSION,
            "feature_version": self.feature_version,
            "features": list(self.feature_names),
            "sklearn": self.sklearn_version,
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        return _MAGIC + b" " + json.dumps(header, sort_keys=True).encode() + b"\n" + payload

    @staticmethod
    def read_header(data: bytes) -> dict[str, Any]:
        """The JSON header of :meth:`to_bytes` output (nothing is unpickled)."""
        if not isinstance(data, bytes | bytearray) or not data.startswith(_MAGIC + b" "):
            raise ModelFormatError(f"not an Argus real/bogus model (bad header); {_RETRAIN}")
        if b"\n" not in data:
            raise ModelFormatError(f"real/bogus model blob is truncated; {_RETRAIN}")
        try:
            header = json.loads(data[len(_MAGIC) + 1 : data.index(b"\n")])
        except ValueError as exc:
            raise ModelFormatError(f"real/bogus model header is not JSON; {_RETRAIN}") from exc
        if not isinstance(header, dict):
            raise ModelFormatError(f"real/bogus model header is not an object; {_RETRAIN}")
        return header

    @staticmethod
    def from_bytes(data: bytes) -> RealBogusModel:
        """Load :meth:`to_bytes` output; refuse another format or feature version, another
        feature list, another scikit-learn major.minor or a corrupted payload."""
        header = RealBogusModel.read_header(data)
        if header.get("format") != FORMAT_VERSION:
            raise ModelFormatError(
                f"real/bogus model format {header.get('format')!r}, this Argus reads format "
                f"{FORMAT_VERSION}; {_RETRAIN}"
            )
        if header.get("feature_version") != FEATURE_VERSION:
            raise ModelFormatError(
                f"real/bogus model was trained on feature version "
                f"{header.get('feature_version')!r}, this Argus computes version "
                f"{FEATURE_VERSION}; {_RETRAIN}"
            )
        if header.get("features") != list(FEATURE_NAMES):
            raise ModelFormatError(
                f"real/bogus model's feature list differs from this Argus's; {_RETRAIN}"
            )
        saved, here = str(header.get("sklearn", "?")), _sklearn_version()
        if _major_minor(saved) != _major_minor(here):
            raise ModelFormatError(
                f"real/bogus model was trained with scikit-learn {saved}, this process has "
                f"{here} (major.minor must match); {_RETRAIN}"
            )
        payload = bytes(data[data.index(b"\n") + 1 :])
        if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
            raise ModelFormatError(f"real/bogus model payload is corrupted; {_RETRAIN}")
        model = pickle.loads(payload)  # only blobs Argus wrote (module doc)
        if not isinstance(model, RealBogusModel):
            raise ModelFormatError(f"payload is a {type(model).__name__}; {_RETRAIN}")
        return model


def evaluate_scores(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    kind: npt.ArrayLike | None = None,
    snr: npt.ArrayLike | None = None,
    fpr: float = 0.01,
) -> dict[str, Any]:
    """Held-out figures of real/bogus scores: ROC AUC, the threshold at ``fpr`` (from these
    bogus scores), TPR and confusion there, the FPR at 99 % TPR (and the bogus reduction it
    gives, 1/FPR), per-artifact rejection (with ``kind``) and per-SNR-bin TPR (with ``snr``,
    the injected SNR of the reals; bins :data:`SNR_BINS`)."""
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"scores: {s.size} scores for {y.size} labels")
    if not ((y == 0) | (y == 1)).all():
        raise ValueError("y_true: labels must be 0 (bogus) or 1 (real)")
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        raise ValueError("y_true: needs both real (1) and bogus (0) samples")
    real, bogus = s[y == 1], s[y == 0]
    thr = threshold_at_fpr(bogus, fpr)
    tp, fn = int((real >= thr).sum()), int((real < thr).sum())
    fp, tn = int((bogus >= thr).sum()), int((bogus < thr).sum())
    thr99 = threshold_at_tpr(real, 0.99)
    fpr99 = float((bogus >= thr99).mean())
    out: dict[str, Any] = {
        "auc": float(roc_auc_score(y, s)),
        "fpr_target": fpr,
        "threshold": thr,
        "tpr_at_fpr": tp / (tp + fn),
        "fpr_at_threshold": fp / (fp + tn),
        "confusion": {"tp": tp, "fn": fn, "fp": fp, "tn": tn},
        "threshold_at_tpr_99": thr99,
        "fpr_at_tpr_99": fpr99,
        "bogus_reduction_at_tpr_99": (1.0 / fpr99) if fpr99 > 0 else float("inf"),
        "n_real": int(real.size),
        "n_bogus": int(bogus.size),
    }
    if kind is not None:
        k = np.asarray(kind).astype(str).reshape(-1)
        rej = {}
        for name in np.unique(k[y == 0]).tolist():
            sel = s[(k == name) & (y == 0)]
            rej[name] = {"n": int(sel.size), "rejected": float((sel < thr).mean())}
        out["rejection_by_kind"] = rej
    if snr is not None:
        v = np.asarray(snr, dtype=np.float64).reshape(-1)
        bins = []
        for lo, hi in itertools.pairwise(SNR_BINS):
            sel = (y == 1) & (v >= lo) & (v < hi)
            bins.append(
                {
                    "snr_lo": lo,
                    "snr_hi": hi,
                    "n": int(sel.sum()),
                    "tpr": float((s[sel] >= thr).mean()) if sel.any() else float("nan"),
                }
            )
        out["tpr_by_snr"] = bins
    return out


#: The held-out set of :func:`train_real_bogus` is simulated from ``seed + HELDOUT_SEED_OFFSET``:
#: another random stream than the training set's, so held-out figures are of independent draws.
HELDOUT_SEED_OFFSET = 10000


def _stratified_split(kinds: npt.NDArray[np.str_], fraction: float, seed: int) -> np.ndarray:
    """A boolean test mask holding out ``fraction`` of every kind."""
    rng = np.random.default_rng(seed + 7919)
    test = np.zeros(kinds.size, dtype=bool)
    for name in np.unique(kinds).tolist():
        idx = np.flatnonzero(kinds == name)
        pick = rng.choice(idx, size=max(1, round(fraction * idx.size)), replace=False)
        test[pick] = True
    return test


def train_real_bogus(
    *,
    n_samples: int = 20000,
    seed: int = 0,
    test_fraction: float = 0.25,
    real_fraction: float = 0.5,
    bogus_mix: Mapping[str, float] | None = None,
    min_scorr: float | None = 5.0,
    fpr: float = 0.01,
    max_iter: int = 500,
    learning_rate: float = 0.1,
    triplet_set: Any = None,
    heldout_set: Any = None,
    max_leaf_nodes: int = 31,
    l2_regularization: float = 1.0,
) -> tuple[RealBogusModel, dict[str, Any]]:
    """Fit the gradient-boosted trees on simulated candidates and measure them on held-out ones.

    By default ``n_samples`` candidates are simulated (:func:`argus.astro.rbsim.simulate_triplets`):
    a share ``1 - test_fraction`` for training from ``seed`` and ``test_fraction`` held out from
    ``seed + HELDOUT_SEED_OFFSET`` (independent draws). Ready
    :class:`~argus.astro.rbsim.TripletSet` objects may be passed instead: ``triplet_set`` and
    ``heldout_set``; with ``triplet_set`` alone, ``test_fraction`` of it is held out (stratified
    by kind). The held-out figures are :func:`evaluate_scores`'s; early stopping uses 10 % of
    the training part, never the held-out set. Returns the model (``metrics`` filled, held-out
    scores kept for its thresholds) and the metrics.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: must be in (0, 1), got {test_fraction}")
    sim = {"real_fraction": real_fraction, "bogus_mix": bogus_mix, "min_scorr": min_scorr}
    heldout_seed: int | None = None
    if triplet_set is None:
        if heldout_set is None:
            n_test = max(1, round(test_fraction * n_samples))
            heldout_seed = seed + HELDOUT_SEED_OFFSET
            heldout_set = simulate_triplets(n_test, seed=heldout_seed, **sim)  # type: ignore[arg-type]
        else:
            n_test = len(heldout_set)
        triplet_set = simulate_triplets(max(n_samples - n_test, 1), seed=seed, **sim)  # type: ignore[arg-type]
    if heldout_set is None:
        x_all = features(triplet_set.triplets)
        y_all = np.asarray(triplet_set.label, dtype=np.int64)
        kinds_all = np.asarray(triplet_set.kind).astype(str)
        if (y_all == 1).sum() < 2 or (y_all == 0).sum() < 2:
            raise ValueError("n_samples: too few to hold out both real and bogus samples")
        test = _stratified_split(kinds_all, test_fraction, seed)
        x_tr, y_tr = x_all[~test], y_all[~test]
        x_te, y_te = x_all[test], y_all[test]
        kind_te, snr_te = kinds_all[test], np.asarray(triplet_set.snr)[test]
    else:
        x_tr = features(triplet_set.triplets)
        y_tr = np.asarray(triplet_set.label, dtype=np.int64)
        x_te = features(heldout_set.triplets)
        y_te = np.asarray(heldout_set.label, dtype=np.int64)
        kind_te = np.asarray(heldout_set.kind).astype(str)
        snr_te = np.asarray(heldout_set.snr)
    for name, yy in (("training", y_tr), ("held-out", y_te)):
        if (yy == 1).sum() < 2 or (yy == 0).sum() < 2:
            raise ValueError(f"n_samples: too few real or bogus samples in the {name} set")
    est = HistGradientBoostingClassifier(
        max_iter=max_iter,
        learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes,
        l2_regularization=l2_regularization,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=30,
        random_state=seed,
    )
    est.fit(x_tr, y_tr)
    model = RealBogusModel(estimator=est)
    s_test = model.score_features(x_te)
    metrics = evaluate_scores(y_te, s_test, kind=kind_te, snr=snr_te, fpr=fpr)
    metrics.update(
        {
            "n_train": int(y_tr.size),
            "n_test": int(y_te.size),
            "seed": seed,
            "heldout_seed": heldout_seed,
            "min_scorr": min_scorr,
            "n_iter": int(est.n_iter_),
            "feature_version": FEATURE_VERSION,
            "model": "HistGradientBoostingClassifier",
        }
    )
    model.metrics = metrics
    model.heldout_bogus_scores = np.sort(s_test[y_te == 0])
    model.heldout_real_scores = np.sort(s_test[y_te == 1])
    return model, metrics


def roc_plot(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    path: str | Path,
    *,
    fpr_mark: float = 0.01,
    title: str = "Real/bogus ROC (held-out simulated triplets)",
) -> Path:
    """Write the ROC curve as a PNG (matplotlib, Agg; log false-positive axis) with the point at
    ``fpr_mark`` (default 1 %) marked and labelled with its TPR. Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    f, t, _ = roc_curve(y, s)
    m = evaluate_scores(y, s, fpr=fpr_mark)
    fig = Figure(figsize=(6.0, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    floor = 0.5 / max(int((y == 0).sum()), 1)
    ax.plot(np.maximum(f, floor), t, lw=1.5, label=f"AUC = {roc_auc_score(y, s):.4f}")
    ax.axvline(fpr_mark, color="0.6", ls=":", lw=1)
    ax.plot(
        [max(m["fpr_at_threshold"], floor)], [m["tpr_at_fpr"]], "o", color="C3",
        label=f"TPR {100 * m['tpr_at_fpr']:.1f} % at FPR {100 * m['fpr_at_threshold']:.2f} %",
    )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0.0, 1.01)
    ax.set_xlabel("false-positive rate (bogus kept)")
    ax.set_ylabel("true-positive rate (real kept)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    return out
