"""Emitter localization from several receivers' captures: TDOA, RSS, or both fused.

**TDOA** (time difference of arrival). Each receiver ``i`` in the set has a stamped arrival
``d_i = t_0 + r_i(p) / c + ε_i + n_i`` with ``r_i`` the WGS-84 slant range from the emitter at
``p`` to the receiver, ``t_0`` the unknown emission time, ``ε_i`` its clock error
(σ = ``clock_sigma_s``) and ``n_i`` the estimation noise. The measured pair TDOAs to a
reference receiver (:mod:`argus.rf.tdoa`) give ``d_i - d_ref``; setting ``d_ref = 0`` the
unknown ``t_0`` absorbs it. This "arrival times with a common unknown offset" form is the
TDOA model with the reference's noise shared by every difference (the covariance
``Q = diag(v_i) + v_ref 11ᵀ`` of Y. T. Chan and K. C. Ho, "A simple and efficient estimator for
hyperbolic location", *IEEE Trans. SP* 42(8), 1994) without forming ``Q⁻¹``. Variances:
``v_ref = σ²_sep,ref + σ_c²`` and ``v_i = σ²_pair,i - σ²_sep,ref + σ_c²`` (the pair's Cramér–Rao
variance less the reference's separable share, so ``v_i + v_ref`` is the pair's bound plus
both clocks).

**RSS** (received signal strength): ``P_i = P_0 - 10 n log10(r_i) + X_i`` in dBm (the log-distance
model, ``n = path_loss_exponent``, ``X_i ~ N(0, shadowing_db²)``), with the unknown ``P_0``
(EIRP less the loss at 1 m) estimated alongside (N. Patwari et al., "Relative location
estimation in wireless sensor networks", *IEEE Trans. SP* 51(8), 2003). Used for tones (no
delay information) and when fewer than 3 receivers give a good TDOA. Powers are the
measured ``signal_power_dbfs`` plus the recording's ``argus:full_scale_dbm`` calibration when
every recording has one.

**Fusion.** When both apply, one least-squares problem holds both sets of residuals, each
divided by its σ: the information-weighted (maximum-likelihood under independent Gaussian
errors) combination of the two.

**Solver.** The position is 2-D at a fixed altitude (``alt_m``, default the receivers' mean
altitude: ground receivers do not observe height). A coarse grid over the network (nuisances
``t_0`` and ``P_0`` in closed form at each point) starts ``scipy.optimize.least_squares`` with a
robust ``soft_l1`` loss (``f_scale`` 3σ); a TDOA receiver whose residual exceeds 5σ is dropped
once and the fit redone.

**Covariance and bound.** The Fisher information ``F = Hᵀ H`` of the whitened model, ``H`` the
Jacobian with respect to local east/north at the estimate (plus ``t_0``, ``P_0``), gives the
Cramér–Rao bound ``CRLB = [F⁻¹]_pos`` for the geometry, the signal's spectrum (RMS bandwidth)
and SNRs through the pair variances, the clock jitter and the shadowing (D. J. Torrieri,
"Statistical theory of passive location systems", *IEEE Trans. AES* 20(2), 1984; Knapp & Carter
1976 for the delay variance). ``crlb_m = √trace(CRLB)`` with the pairs' Cramér–Rao σ's. The fit
itself weights each pair with its ``effective_sigma_s`` (the larger of the bound and the σ the
pair's own data show, :mod:`argus.rf.tdoa` item 6), and its inverse information ``C`` is the
model's covariance. ``cov_enu_m2 = C · q / χ²₂(0.95)`` with ``q`` the 95 % threshold of
:func:`region_threshold` on ``C``'s Mahalanobis distance: ``χ²₂(0.95)`` with the σ's known, or
``2 s² F(2, ν; 0.95)`` with their common scale estimated from the residuals (``s²`` the reduced
χ², ``ν`` the residual degrees of freedom), whichever is larger. So ``ellipse95``, the
``χ²₂(0.95)`` ellipse of ``cov_enu_m2`` (semi-axes ``√(χ²₂(0.95) λ)`` of its eigenvalues,
orientation of the major axis in degrees clockwise from north), is that region:
``cov_enu_m2`` is the covariance a Gaussian with the same 95 % ellipse would have, not the
estimate's variance. ``gdop`` is the horizontal dilution of precision of the receivers'
geometry for unit range errors (Torrieri 1984).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from argus.geo import ecef_to_geodetic, enu_axes, enu_to_geodetic, geodetic_to_ecef
from argus.rf.measure import Measurement, measure_iq
from argus.rf.recording import SPEED_OF_LIGHT_MPS, Recording, RecordingError
from argus.rf.tdoa import PairTdoa, tdoas_to_reference

FloatArray = npt.NDArray[np.float64]
C = SPEED_OF_LIGHT_MPS
CHI2_2_95 = float(stats.chi2.ppf(0.95, 2))
METHODS = ("auto", "tdoa", "rss", "fused")
OUTLIER_SIGMA = 5.0
ROBUST_SCALE = 3.0


class LocalizationError(ValueError):
    """Not enough usable receivers (or bad input) for the method asked; the message says why."""


@dataclass(frozen=True)
class Localization:
    """An emitter position estimate with its uncertainty (module docstring)."""

    lat_deg: float
    lon_deg: float
    alt_m: float
    method: str  # "tdoa" | "rss" | "fused"
    cov_enu_m2: FloatArray  # 2x2 east/north
    ellipse95: tuple[float, float, float]  # semi_major_m, semi_minor_m, orientation_deg
    gdop: float
    crlb_m: float
    residuals: FloatArray  # whitened (units of σ): TDOA rows, then RSS rows
    receivers_used: tuple[str, ...]
    per_receiver: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "lat_deg": self.lat_deg,
            "lon_deg": self.lon_deg,
            "alt_m": self.alt_m,
            "method": self.method,
            "cov_enu_m2": self.cov_enu_m2.tolist(),
            "ellipse95": {
                "semi_major_m": self.ellipse95[0],
                "semi_minor_m": self.ellipse95[1],
                "orientation_deg": self.ellipse95[2],
            },
            "gdop": self.gdop,
            "crlb_m": self.crlb_m,
            "residuals": [float(v) for v in self.residuals],
            "receivers_used": list(self.receivers_used),
            "per_receiver": [dict(p) for p in self.per_receiver],
        }


def error_ellipse(cov: FloatArray, chi2: float = CHI2_2_95) -> tuple[float, float, float]:
    """``(semi_major, semi_minor, orientation_deg from north, clockwise)`` of ``cov`` (2x2 E/N)."""
    vals, vecs = np.linalg.eigh(cov)
    major = vecs[:, 1]
    orient = math.degrees(math.atan2(major[0], major[1])) % 180.0
    return (
        math.sqrt(max(vals[1], 0.0) * chi2),
        math.sqrt(max(vals[0], 0.0) * chi2),
        orient,
    )


@dataclass(frozen=True)
class _Frame:
    """Local tangent frame at the receivers' centroid, at the emitter's fixed altitude."""

    lat0: float
    lon0: float
    alt_m: float

    def ecef(self, east: FloatArray, north: FloatArray) -> FloatArray:
        lat, lon, _ = enu_to_geodetic(east, north, 0.0, self.lat0, self.lon0, 0.0)
        return np.stack(geodetic_to_ecef(lat, lon, np.full_like(lat, self.alt_m)), axis=-1)

    def geodetic(self, east: float, north: float) -> tuple[float, float]:
        lat, lon, _ = enu_to_geodetic(east, north, 0.0, self.lat0, self.lon0, 0.0)
        return float(lat), float(lon)


@dataclass
class _Problem:
    frame: _Frame
    rx_ecef: FloatArray  # (M, 3)
    tdoa_idx: npt.NDArray[np.intp]  # receivers in the TDOA set
    tdoa_m: FloatArray  # c·d_i (m)
    tdoa_sigma_m: FloatArray  # c·√v_i
    rss_idx: npt.NDArray[np.intp]
    rss_dbm: FloatArray
    rss_sigma_db: FloatArray
    exponent: float

    @property
    def n_params(self) -> int:
        return 2 + (1 if self.tdoa_idx.size else 0) + (1 if self.rss_idx.size else 0)

    def nuisances(self, ranges: FloatArray) -> tuple[FloatArray | None, FloatArray | None]:
        """Closed-form ``c·t_0`` and ``P_0`` (weighted means) for ranges of shape (..., M)."""
        b = p0 = None
        if self.tdoa_idx.size:
            w = 1.0 / self.tdoa_sigma_m**2
            b = ((self.tdoa_m - ranges[..., self.tdoa_idx]) * w).sum(-1) / w.sum()
        if self.rss_idx.size:
            w = 1.0 / self.rss_sigma_db**2
            model = 10.0 * self.exponent * np.log10(ranges[..., self.rss_idx])
            p0 = ((self.rss_dbm + model) * w).sum(-1) / w.sum()
        return b, p0

    def residuals(
        self, ranges: FloatArray, b: FloatArray | None, p0: FloatArray | None
    ) -> FloatArray:
        parts = []
        if self.tdoa_idx.size:
            assert b is not None
            pred = np.asarray(b)[..., None] + ranges[..., self.tdoa_idx]
            parts.append((self.tdoa_m - pred) / self.tdoa_sigma_m)
        if self.rss_idx.size:
            assert p0 is not None
            pred = np.asarray(p0)[..., None] - 10.0 * self.exponent * np.log10(
                ranges[..., self.rss_idx]
            )
            parts.append((self.rss_dbm - pred) / self.rss_sigma_db)
        return np.concatenate(parts, axis=-1)

    def ranges(self, east: FloatArray, north: FloatArray) -> FloatArray:
        p = self.frame.ecef(np.atleast_1d(east), np.atleast_1d(north))
        return np.asarray(np.linalg.norm(p[:, None, :] - self.rx_ecef[None], axis=-1))

    def unpack(self, theta: FloatArray) -> tuple[FloatArray | None, FloatArray | None]:
        k = 2
        b = p0 = None
        if self.tdoa_idx.size:
            b = np.array([theta[k]])
            k += 1
        if self.rss_idx.size:
            p0 = np.array([theta[k]])
        return b, p0

    def fun(self, theta: FloatArray) -> FloatArray:
        r = self.ranges(theta[0:1], theta[1:2])
        b, p0 = self.unpack(theta)
        return np.asarray(self.residuals(r, b, p0)[0])

    def information(self, east: float, north: float) -> tuple[FloatArray, FloatArray]:
        """Whitened Jacobian ``H`` (rows: residuals; cols: east, north, nuisances) at the point,
        in the local ENU of the point, and the unit-error geometry matrix of the TDOA rows."""
        p = self.frame.ecef(np.array([east]), np.array([north]))[0]
        lat, lon = self.frame.geodetic(east, north)
        e_ax, n_ax, _ = enu_axes(lat, lon)
        diff = p[None, :] - self.rx_ecef
        r = np.linalg.norm(diff, axis=-1)
        u = diff / r[:, None]
        ue, un = u @ e_ax, u @ n_ax
        rows = []
        k = self.n_params
        col = 2
        geom = []
        if self.tdoa_idx.size:
            i = self.tdoa_idx
            h = np.zeros((i.size, k))
            h[:, 0], h[:, 1], h[:, col] = ue[i], un[i], 1.0
            geom.append(h[:, [0, 1, col]].copy())
            rows.append(h / self.tdoa_sigma_m[:, None])
            col += 1
        if self.rss_idx.size:
            i = self.rss_idx
            g = -10.0 * self.exponent / math.log(10.0) / r[i]
            h = np.zeros((i.size, k))
            h[:, 0], h[:, 1], h[:, col] = g * ue[i], g * un[i], 1.0
            rows.append(h / self.rss_sigma_db[:, None])
        return np.concatenate(rows), (geom[0] if geom else np.zeros((0, 3)))


def _solve(problem: _Problem, extent_m: float) -> tuple[FloatArray, FloatArray]:
    """Grid start (81 × 81, then a 41 × 41 refinement) and robust least squares."""
    best_e = best_n = 0.0
    half = extent_m
    for size in (81, 41):
        g = np.linspace(-half, half, size)
        ee, nn = np.meshgrid(best_e + g, best_n + g, indexing="xy")
        r = problem.ranges(ee.ravel(), nn.ravel())
        b, p0 = problem.nuisances(r)
        res = problem.residuals(r, b, p0)
        cost = np.sum(np.log1p(res**2 / ROBUST_SCALE**2), axis=-1)  # Cauchy-like, robust start
        k = int(np.argmin(cost))
        best_e, best_n = float(ee.ravel()[k]), float(nn.ravel()[k])
        half = 2.0 * (g[1] - g[0])
    r0 = problem.ranges(np.array([best_e]), np.array([best_n]))
    b0, p00 = problem.nuisances(r0)
    theta0 = [best_e, best_n]
    if b0 is not None:
        theta0.append(float(b0[0]))
    if p00 is not None:
        theta0.append(float(p00[0]))
    sol = optimize.least_squares(
        problem.fun,
        np.array(theta0),
        loss="soft_l1",
        f_scale=ROBUST_SCALE,
        x_scale="jac",
        method="trf",
    )
    return np.asarray(sol.x), np.asarray(sol.fun)


def position_covariance(h: FloatArray, floor: float = 1e-12) -> FloatArray:
    """East/north block of ``(HᵀH)⁻¹`` for the whitened Jacobian ``h`` (columns: east, north,
    nuisances), through the Schur complement ``J = F_pp - F_pn F_nn⁻¹ F_np`` of the nuisances.

    A direction the data do not observe (three RSS receivers fit exactly, or whose best fit has
    a singular Jacobian) has a near-zero eigenvalue of ``J``: its variance is huge, not zero as
    a pseudo-inverse would make it (which draws a needle-thin ellipse). Eigenvalues are floored
    at ``floor`` times the largest, so the variance there is large but finite.
    """
    f = h.T @ h
    j = f[:2, :2]
    if f.shape[0] > 2:
        j = j - f[:2, 2:] @ np.linalg.pinv(f[2:, 2:]) @ f[2:, :2]
    vals, vecs = np.linalg.eigh(0.5 * (j + j.T))
    top = float(np.max(vals)) if vals.size and float(np.max(vals)) > 0 else 1.0
    vals = np.maximum(vals, floor * top)
    return np.asarray((vecs / vals[None, :]) @ vecs.T, dtype=np.float64)


def region_threshold(sum_sq: float, dof: int, level: float = 0.95) -> float:
    """Threshold ``q`` on the Mahalanobis ``d²`` (under the model's covariance) of the ``level``
    confidence region of the 2-D position, from the fit's whitened sum of squares ``S`` and
    its ``ν = dof`` residual degrees of freedom.

    With the model's σ's taken as known, ``χ²₂(level)``. With their common scale estimated from
    the residuals, ``s² = S / ν``, the region is ``d² ≤ 2 s² F(2, ν; level)`` (Hotelling; the
    F region of least squares, D. M. Bates and D. G. Watts, *Nonlinear Regression Analysis and
    Its Applications*, 1988, §2.1 and §6.1): with few residual degrees of freedom the
    estimated scale is itself uncertain, which the F quantile carries (``2 F(2, ν)`` is 38.0
    at ν = 2, 11.6 at ν = 5, → ``χ²₂`` = 5.99 as ν → ∞). The union of the two (the larger
    ``q``): residuals larger than the model predicts widen the region, smaller ones never
    narrow it below the a-priori one. ``q`` is a region at least ``level`` under either model.
    """
    q = float(stats.chi2.ppf(level, 2))
    if dof > 0 and math.isfinite(sum_sq):
        q = max(q, 2.0 * sum_sq / dof * float(stats.f.ppf(level, 2, dof)))
    return q


def likelihood_region_scale(
    problem: _Problem,
    theta: FloatArray,
    cov: FloatArray,
    q: float,
    extent_m: float,
) -> float:
    """Factor ``k ≥ 1`` by which the Wald region ``d² ≤ q`` of ``cov`` about the estimate must
    grow to enclose the likelihood-ratio region ``S(p) - S_min ≤ q`` (S. S. Wilks, *Ann. Math.
    Stat.* 9(1), 1938).

    ``S`` is the whitened sum of squares profiled over the nuisances ``c·t_0`` and ``P_0``
    (exact: the model is linear in them). A TDOA fit from few receivers can have two or more
    separated solutions (hyperbolae cross twice) that the data hardly tell apart; the Wald
    ellipse at the chosen one ignores the other, the likelihood does not. ``S`` is sampled on
    the Wald ellipse's own axes out to 4 and 16 times its extent (41 × 41 each) and on the
    81 × 81 start grid over the network (a region beyond that is truncated there); the best
    node of that grid beyond 4 Wald extents is polished by least squares, and when it is a
    second solution inside the region (``S_2 - S_min ≤ q``) its own Wald ellipse at the
    remaining ``q - (S_2 - S_min)`` joins the region (a narrow TDOA region falls between the
    coarse grid's nodes).
    """
    vals, vecs = np.linalg.eigh(cov)
    axes = vecs * np.sqrt(np.maximum(vals, 1e-12))[None, :]  # columns: the 1σ axes
    pts = []
    for span in (4.0, 16.0):
        u = np.linspace(-span, span, 41) * math.sqrt(q)
        uu, vv = np.meshgrid(u, u, indexing="xy")
        pts.append(theta[:2, None] + axes @ np.stack([uu.ravel(), vv.ravel()]))
    g = np.linspace(-extent_m, extent_m, 81)
    ee, nn = np.meshgrid(g, g, indexing="xy")
    pts.append(np.stack([ee.ravel(), nn.ravel()]))
    p = np.concatenate(pts, axis=1)
    r = problem.ranges(p[0], p[1])
    b, p0 = problem.nuisances(r)
    s = np.sum(problem.residuals(r, b, p0) ** 2, axis=-1)
    r_hat = problem.ranges(theta[0:1], theta[1:2])
    s_hat = float(np.sum(problem.residuals(r_hat, *problem.nuisances(r_hat)) ** 2))
    s_min = min(s_hat, float(np.min(s)))
    d = p - theta[:2, None]
    d2 = np.sum(d * np.linalg.solve(cov, d), axis=0)
    scale = float(np.max(d2[s - s_min <= q], initial=0.0)) / q
    # a second solution: the best grid node well outside the Wald region, polished
    far = d2 > 16.0 * q
    if np.any(far):
        k = int(np.flatnonzero(far)[np.argmin(s[far])])
        rk = r[k : k + 1]
        bk, p0k = problem.nuisances(rk)
        start = [float(p[0, k]), float(p[1, k])]
        start += [float(v[0]) for v in (bk, p0k) if v is not None]
        sol = optimize.least_squares(problem.fun, np.array(start), x_scale="jac", method="trf")
        s2 = float(np.sum(sol.fun**2))
        if s2 - s_min <= q:
            h2, _ = problem.information(float(sol.x[0]), float(sol.x[1]))
            cov2 = position_covariance(h2)
            v2, e2 = np.linalg.eigh(cov2)
            ang = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
            rim = e2 * np.sqrt(np.maximum(v2, 0.0) * (q - (s2 - s_min)))[None, :]
            ring = sol.x[:2, None] + rim @ np.stack([np.cos(ang), np.sin(ang)])
            dr = ring - theta[:2, None]
            scale = max(scale, float(np.max(np.sum(dr * np.linalg.solve(cov, dr), axis=0))) / q)
    return max(1.0, scale)


def _power_dbm(recs: Sequence[Recording], meas: Sequence[Measurement]) -> FloatArray:
    cal = [r.meta.get("argus:full_scale_dbm") for r in recs]
    if not all(isinstance(c, int | float) for c in cal):
        return np.array([m.signal_power_dbfs for m in meas])
    offset = np.array(cal, dtype=np.float64)
    return np.array([m.signal_power_dbfs for m in meas]) + offset


def localize(
    recordings: Sequence[Recording],
    *,
    alt_m: float | None = None,
    clock_sigma_s: float = 50e-9,
    method: str = "auto",
    path_loss_exponent: float = 2.0,
    shadowing_db: float = 4.0,
    max_frequency_offset_hz: float = 200.0,
    measurements: Sequence[Measurement] | None = None,
) -> Localization:
    """Locate the emitter the ``recordings`` (one per receiver, same tuning) all captured.

    ``method``: ``"auto"`` (TDOA when ≥ 3 receivers time it, RSS when ≥ 3 detect it, fused when
    both), ``"tdoa"``, ``"rss"`` or ``"fused"`` (an error when the data do not support it).
    ``alt_m``: the emitter's altitude (default: the receivers' mean). ``clock_sigma_s``: each
    receiver's timing error (1σ). ``path_loss_exponent``/``shadowing_db``: the RSS model.
    """
    if method not in METHODS:
        raise LocalizationError(f"method: one of {', '.join(METHODS)}, got {method!r}")
    recs = list(recordings)
    if len(recs) < 2:
        raise LocalizationError(f"recordings: at least 2 receivers are needed, got {len(recs)}")
    names = [r.receiver or f"#{i}" for i, r in enumerate(recs)]
    if len(set(names)) != len(names):
        raise LocalizationError(f"recordings: receiver names repeat ({names})")
    for name in ("sample_rate_hz", "center_frequency_hz"):
        vals = {getattr(r, name) for r in recs}
        if len(vals) > 1:
            raise LocalizationError(f"{name}: the recordings differ ({sorted(vals)}); one tuning")
    if not clock_sigma_s >= 0:
        raise LocalizationError(f"clock_sigma_s: must be >= 0, got {clock_sigma_s}")
    meas = (
        list(measurements)
        if measurements is not None
        else [measure_iq(r.iq, r.sample_rate_hz) for r in recs]
    )
    detected = np.array([math.isfinite(m.snr_db) for m in meas])
    snr = np.array([m.snr_db for m in meas])
    lat = np.array([r.lat_deg for r in recs])
    lon = np.array([r.lon_deg for r in recs])
    alt = np.array([r.alt_m for r in recs])
    rx_ecef = np.stack(geodetic_to_ecef(lat, lon, alt), axis=-1)
    centroid = rx_ecef.mean(axis=0)
    lat0, lon0, _ = ecef_to_geodetic(*centroid)
    frame = _Frame(float(lat0), float(lon0), float(alt.mean() if alt_m is None else alt_m))
    reasons = ["" if d else "no signal detected" for d in detected]

    # ---- TDOA set
    pairs: list[PairTdoa | None] = [None] * len(recs)
    tdoa_idx: list[int] = []
    ref = -1
    if method != "rss" and detected.sum() >= 3:
        for ref in [int(i) for i in np.argsort(-np.where(detected, snr, -np.inf))[:2]]:
            pairs = tdoas_to_reference(
                recs,
                meas,
                ref,
                clock_sigma_s=clock_sigma_s,
                max_frequency_offset_hz=max_frequency_offset_hz,
            )
            good = [i for i, p in enumerate(pairs) if p is not None and p.ok]
            if len(good) >= 2:
                tdoa_idx = [ref, *good]
                break
        for i, p in enumerate(pairs):
            if p is not None and not p.ok and detected[i]:
                reasons[i] = f"tdoa: {p.reason}"
    tdoa_ok = len(tdoa_idx) >= 3
    if method != "rss" and not tdoa_ok:
        for i in range(len(recs)):
            if detected[i] and not reasons[i]:
                reasons[i] = "tdoa: fewer than 3 receivers give a good TDOA"
    rss_idx = [i for i in range(len(recs)) if detected[i]]
    rss_ok = len(rss_idx) >= 3
    use_tdoa = tdoa_ok and method in ("auto", "tdoa", "fused")
    use_rss = rss_ok and (method in ("rss", "fused") or (method == "auto"))
    if method == "auto" and not use_tdoa and not use_rss:
        raise LocalizationError(
            f"fewer than 3 receivers detect the signal ({int(detected.sum())} of {len(recs)}): "
            "neither TDOA nor RSS can fix a position"
        )
    if method in ("tdoa", "fused") and not tdoa_ok:
        raise LocalizationError(
            f"method {method}: fewer than 3 receivers give a good TDOA "
            f"({len(tdoa_idx)}; reasons: {'; '.join(f'{n}: {r}' for n, r in zip(names, reasons, strict=True) if r) or 'none'})"
        )
    if method in ("rss", "fused") and not rss_ok:
        raise LocalizationError(
            f"method {method}: fewer than 3 receivers detect the signal ({len(rss_idx)})"
        )

    def pair_var(p: PairTdoa, bound: bool) -> tuple[float, float]:
        """The pair's variance and the reference's separable share of it: the Cramér–Rao
        ones (``bound``) or the measured ones (the separable share scaled alike)."""
        if bound:
            return p.sigma_s**2, p.separable_var_b_s2
        k = (p.effective_sigma_s / p.sigma_s) ** 2 if p.sigma_s > 0 else 1.0
        return p.effective_sigma_s**2, p.separable_var_b_s2 * k

    def build(tidx: list[int], bound: bool = False) -> _Problem:
        tm = np.zeros(0)
        ts = np.zeros(0)
        if use_tdoa and tidx:
            used = [p for i, p in enumerate(pairs) if i in tidx and p is not None]
            sep_ref = min(pair_var(p, bound)[1] for p in used)
            d = [0.0]
            v = [sep_ref + clock_sigma_s**2]
            for i in tidx[1:]:
                p = pairs[i]
                assert p is not None
                d.append(p.tdoa_s)
                v.append(max(pair_var(p, bound)[0] - sep_ref, 0.0) + clock_sigma_s**2)
            tm = C * np.array(d)
            ts = C * np.sqrt(np.maximum(np.array(v), 1e-24))
        rss_dbm = _power_dbm(recs, meas)
        ridx = np.array(rss_idx if use_rss else [], dtype=np.intp)
        return _Problem(
            frame=frame,
            rx_ecef=rx_ecef,
            tdoa_idx=np.array(tidx if use_tdoa else [], dtype=np.intp),
            tdoa_m=tm,
            tdoa_sigma_m=ts,
            rss_idx=ridx,
            rss_dbm=rss_dbm[ridx] if ridx.size else np.zeros(0),
            rss_sigma_db=np.full(ridx.size, max(shadowing_db, 0.1)),
            exponent=path_loss_exponent,
        )

    enu_rx = (rx_ecef - centroid) @ np.stack(enu_axes(float(lat0), float(lon0))[:2]).T
    extent = max(3.0 * float(np.max(np.hypot(enu_rx[:, 0], enu_rx[:, 1]))), 10_000.0)
    problem = build(tdoa_idx)
    theta, res = _solve(problem, extent)
    if use_tdoa and len(tdoa_idx) > 3:  # one outlier pass over the TDOA rows
        t_res = np.abs(res[: len(tdoa_idx)])
        worst = int(np.argmax(t_res))
        if t_res[worst] > OUTLIER_SIGMA and tdoa_idx[worst] != tdoa_idx[0]:
            dropped = tdoa_idx[worst]
            reasons[dropped] = f"tdoa: outlier, residual {t_res[worst]:.1f} σ"
            tdoa_idx = [i for i in tdoa_idx if i != dropped]
            problem = build(tdoa_idx)
            theta, res = _solve(problem, extent)

    h, geom = problem.information(float(theta[0]), float(theta[1]))
    cov_model = position_covariance(h)
    h_bound, _ = build(tdoa_idx, bound=True).information(float(theta[0]), float(theta[1]))
    crlb = position_covariance(h_bound)
    dof = h.shape[0] - h.shape[1]
    q = region_threshold(float(np.sum(res**2)), dof)
    if problem.tdoa_idx.size:
        q *= likelihood_region_scale(problem, theta, cov_model, q, extent)
    cov = cov_model * (q / CHI2_2_95)
    rows_geom = geom if geom.size else _unit_geometry(problem, float(theta[0]), float(theta[1]))
    gdop = float(math.sqrt(max(np.trace(np.linalg.pinv(rows_geom.T @ rows_geom)[:2, :2]), 0.0)))
    lat_e, lon_e = frame.geodetic(float(theta[0]), float(theta[1]))
    used_tdoa = set(problem.tdoa_idx.tolist())
    used_rss = set(problem.rss_idx.tolist())
    used = tuple(names[i] for i in range(len(recs)) if i in used_tdoa or i in used_rss)
    method_out = "fused" if used_tdoa and used_rss else ("tdoa" if used_tdoa else "rss")
    power = _power_dbm(recs, meas)
    per = []
    for i in range(len(recs)):
        p = pairs[i]
        per.append(
            {
                "name": names[i],
                "snr_db": float(meas[i].snr_db),
                "power_dbfs": float(meas[i].signal_power_dbfs),
                "power_dbm": float(power[i]) if detected[i] else None,
                "frequency_offset_hz": float(meas[i].frequency_offset_hz),
                "tdoa_s": 0.0 if i == ref and used_tdoa else (p.tdoa_s if p and p.ok else None),
                "tdoa_sigma_s": (p.sigma_s if p and p.ok else None),
                "tdoa_measured_sigma_s": (p.measured_sigma_s if p and p.ok else None),
                "reference": bool(i == ref and used_tdoa),
                "used": bool(i in used_tdoa or i in used_rss),
                "used_for": [k for k, s in (("tdoa", used_tdoa), ("rss", used_rss)) if i in s],
                "reason": reasons[i],
            }
        )
    return Localization(
        lat_deg=lat_e,
        lon_deg=lon_e,
        alt_m=frame.alt_m,
        method=method_out,
        cov_enu_m2=cov,
        ellipse95=error_ellipse(cov),
        gdop=gdop,
        crlb_m=float(math.sqrt(max(np.trace(crlb), 0.0))),
        residuals=res,
        receivers_used=used,
        per_receiver=tuple(per),
    )


def _unit_geometry(problem: _Problem, east: float, north: float) -> FloatArray:
    """TDOA-style unit geometry rows ``[u·E, u·N, 1]`` for the RSS receivers (their HDOP)."""
    tmp = _Problem(
        frame=problem.frame,
        rx_ecef=problem.rx_ecef,
        tdoa_idx=problem.rss_idx,
        tdoa_m=np.zeros(problem.rss_idx.size),
        tdoa_sigma_m=np.ones(problem.rss_idx.size),
        rss_idx=np.array([], dtype=np.intp),
        rss_dbm=np.zeros(0),
        rss_sigma_db=np.zeros(0),
        exponent=problem.exponent,
    )
    return tmp.information(east, north)[1]


def tdoa_position_crlb_m(
    lat_deg: float,
    lon_deg: float,
    alt_m: float,
    receivers_lla: FloatArray,
    timing_var_s2: FloatArray,
) -> float:
    """RMS horizontal position bound (m) for TDOA at a point: receivers ``(M, 3)`` lat/lon/alt,
    per-receiver arrival variances (estimation + clock) ``v_i``; unknown emission time."""
    lat, lon, alt = receivers_lla[:, 0], receivers_lla[:, 1], receivers_lla[:, 2]
    rx = np.stack(geodetic_to_ecef(lat, lon, alt), axis=-1)
    p = np.array(geodetic_to_ecef(lat_deg, lon_deg, alt_m))
    e_ax, n_ax, _ = enu_axes(lat_deg, lon_deg)
    u = (p - rx) / np.linalg.norm(p - rx, axis=-1)[:, None]
    h = np.stack([u @ e_ax, u @ n_ax, np.ones(len(rx))], axis=-1) / (
        C * np.sqrt(timing_var_s2)[:, None]
    )
    return float(math.sqrt(np.trace(np.linalg.pinv(h.T @ h)[:2, :2])))


__all__ = [
    "Localization",
    "LocalizationError",
    "RecordingError",
    "error_ellipse",
    "likelihood_region_scale",
    "localize",
    "position_covariance",
    "region_threshold",
    "tdoa_position_crlb_m",
]
