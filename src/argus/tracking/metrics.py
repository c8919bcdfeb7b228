"""Tracking performance measures.

- :func:`ospa`: optimal sub-pattern assignment distance (Schuhmacher, Vo & Vo 2008, "A consistent
  metric for performance evaluation of multi-object filters", IEEE Trans. SP 56(8)). For
  ``|X| = m <= n = |Y|``::

      d_p^(c)(X, Y) = ( (1/n) (min_π Σ_{i<=m} min(c, ‖x_i - y_π(i)‖)^p + c^p (n - m)) )^(1/p)

  (``p = ∞``: the bottleneck assignment when ``m = n``, else ``c``; 0 for two empty sets).
- :func:`gospa`: generalized OSPA (Rahmathullah, García-Fernández & Svensson 2017, "Generalized
  optimal sub-pattern assignment metric", FUSION 2017)::

      d_p^(c,α)(X, Y) = ( min_π Σ_{i<=m} min(c, ‖x_i - y_π(i)‖)^p + (c^p/α)(n - m) )^(1/p)

  with ``0 < α <= 2``; for ``α = 2`` it splits into localisation, missed and false terms
  (:func:`gospa_components`).
- :func:`rmse`, :func:`per_axis_rmse`, :func:`position_velocity_rmse`, :func:`nees` and :func:`nees_bounds` (Bar-Shalom, Li &
  Kirubarajan 2001, §5.4: the average NEES over ``N`` runs times ``N`` is ``χ²_{N n}``).
- :func:`siap_measures`: SIAP-style completeness, spuriousness and track-id changes (in the
  spirit of the Single Integrated Air Picture attributes as implemented by Stone Soup's
  ``SIAPMetrics``), with tracks assigned to truths at each time by optimal assignment under a
  distance threshold.

All assignments use :func:`scipy.optimize.linear_sum_assignment`; nothing loops over tracks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial.distance import cdist
from scipy.stats import chi2

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = [
    "GOSPAComponents",
    "SIAPResult",
    "assign_to_truth",
    "gospa",
    "gospa_components",
    "nees",
    "nees_bounds",
    "ospa",
    "per_axis_rmse",
    "position_velocity_rmse",
    "rmse",
    "siap_measures",
]


def _as_points(a: FloatArray | Sequence[Sequence[float]], name: str, d: int | None) -> FloatArray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, d if d is not None else (arr.shape[-1] if arr.ndim == 2 else 0))
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (n, d) array of positions, got shape {arr.shape}")
    return arr


def _pair(
    truth: FloatArray | Sequence[Sequence[float]],
    estimates: FloatArray | Sequence[Sequence[float]],
) -> tuple[FloatArray, FloatArray]:
    x = _as_points(truth, "truth", None)
    y = _as_points(estimates, "estimates", x.shape[1] if x.size else None)
    if x.size == 0 and y.size:
        x = x.reshape(0, y.shape[1])
    if x.size and y.size and x.shape[1] != y.shape[1]:
        raise ValueError(f"truth has {x.shape[1]} columns, estimates {y.shape[1]}")
    return x, y


def _check_cp(c: float, p: float) -> None:
    if not c > 0:
        raise ValueError(f"c must be > 0, got {c}")
    if not p >= 1:
        raise ValueError(f"p must be >= 1, got {p}")


def ospa(
    truth: FloatArray | Sequence[Sequence[float]],
    estimates: FloatArray | Sequence[Sequence[float]],
    c: float,
    p: float = 2.0,
) -> float:
    """OSPA distance between two (n, d) point sets (order ``p >= 1``, may be ``inf``; cut-off ``c``)."""
    _check_cp(c, p)
    x, y = _pair(truth, estimates)
    m, n = len(x), len(y)
    if m == 0 and n == 0:
        return 0.0
    if m == 0 or n == 0:
        return float(c)
    dist = np.minimum(cdist(x, y), c)
    if np.isinf(p):
        if m != n:
            return float(c)
        return _bottleneck(dist)
    cost = dist**p
    rows, cols = linear_sum_assignment(cost)
    total = float(cost[rows, cols].sum()) + c**p * abs(m - n)
    return float((total / max(m, n)) ** (1.0 / p))


def _bottleneck(dist: FloatArray) -> float:
    """Smallest ``t`` such that a perfect matching uses only entries ``<= t`` (square ``dist``)."""
    values = np.unique(dist)
    lo, hi = 0, len(values) - 1
    n = dist.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        graph = csr_matrix(dist <= values[mid])
        match = maximum_bipartite_matching(graph, perm_type="column")
        if (match >= 0).sum() == n:
            hi = mid
        else:
            lo = mid + 1
    return float(values[lo])


@dataclass(frozen=True)
class GOSPAComponents:
    """GOSPA (``α = 2``) and its parts, the parts in units of distance to the power ``p``.

    ``distance = (localisation + missed + false) ** (1/p)``; ``localisation`` is the summed
    ``d^p`` of assigned pairs closer than ``c``, ``missed`` / ``false`` are ``c^p / 2`` times the
    number of missed truths / false estimates.
    """

    distance: float
    localisation: float
    missed: float
    false: float
    n_missed: int
    n_false: int


def gospa_components(
    truth: FloatArray | Sequence[Sequence[float]],
    estimates: FloatArray | Sequence[Sequence[float]],
    c: float,
    p: float = 2.0,
) -> GOSPAComponents:
    """GOSPA with ``α = 2``, split into localisation, missed and false terms."""
    _check_cp(c, p)
    if np.isinf(p):
        raise ValueError("GOSPA needs a finite p")
    x, y = _pair(truth, estimates)
    m, n = len(x), len(y)
    half = c**p / 2.0
    if m == 0 or n == 0:
        total = half * (m + n)
        return GOSPAComponents(total ** (1.0 / p), 0.0, half * m, half * n, m, n)
    dist = cdist(x, y)
    cost = np.minimum(dist, c) ** p
    rows, cols = linear_sum_assignment(cost)
    close = dist[rows, cols] < c
    loc = float(cost[rows, cols][close].sum())
    n_assigned = int(close.sum())
    n_missed, n_false = m - n_assigned, n - n_assigned
    missed, false = half * n_missed, half * n_false
    return GOSPAComponents(
        (loc + missed + false) ** (1.0 / p), loc, missed, false, n_missed, n_false
    )


def gospa(
    truth: FloatArray | Sequence[Sequence[float]],
    estimates: FloatArray | Sequence[Sequence[float]],
    c: float,
    p: float = 2.0,
    alpha: float = 2.0,
) -> float:
    """GOSPA distance between two (n, d) point sets (``1 <= p < ∞``, ``c > 0``, ``0 < α <= 2``)."""
    _check_cp(c, p)
    if np.isinf(p):
        raise ValueError("GOSPA needs a finite p")
    if not 0 < alpha <= 2:
        raise ValueError(f"alpha must be in (0, 2], got {alpha}")
    x, y = _pair(truth, estimates)
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        return float((c**p / alpha * (m + n)) ** (1.0 / p))
    cost = np.minimum(cdist(x, y), c) ** p
    rows, cols = linear_sum_assignment(cost)
    total = float(cost[rows, cols].sum()) + c**p / alpha * abs(m - n)
    return float(total ** (1.0 / p))


def rmse(truth: FloatArray, estimate: FloatArray) -> float:
    """Root mean square of the Euclidean error over rows: ``√(mean_i ‖x̂_i - x_i‖²)``."""
    err = np.asarray(estimate, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(np.sum(err.reshape(len(err), -1) ** 2, axis=1))))


def position_velocity_rmse(
    truth_state: FloatArray, estimate_state: FloatArray, ndim: int
) -> tuple[float, float]:
    """Position and velocity RMSE of ``[p (ndim), v (ndim), ...]`` state rows."""
    t = np.asarray(truth_state, dtype=np.float64)
    e = np.asarray(estimate_state, dtype=np.float64)
    return (
        rmse(t[:, :ndim], e[:, :ndim]),
        rmse(t[:, ndim : 2 * ndim], e[:, ndim : 2 * ndim]),
    )


def per_axis_rmse(truth: FloatArray, estimate: FloatArray) -> FloatArray:
    """RMSE of each column: ``√(mean_i (x̂_ij - x_ij)²)``."""
    err = np.asarray(estimate, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return np.asarray(np.sqrt(np.mean(err**2, axis=0)), dtype=np.float64)


def nees(truth: FloatArray, mean: FloatArray, covar: FloatArray) -> FloatArray:
    """Normalized estimation error squared ``(x̂ - x)ᵀ P⁻¹ (x̂ - x)`` of each row."""
    err = np.asarray(mean, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    sol = np.linalg.solve(covar, err[..., None])[..., 0]
    return np.asarray(np.einsum("...i,...i->...", err, sol), dtype=np.float64)


def nees_bounds(ndim: int, n_runs: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided ``confidence`` interval of the NEES averaged over ``n_runs`` independent runs."""
    dof = ndim * n_runs
    tail = (1.0 - confidence) / 2.0
    return float(chi2.ppf(tail, dof) / n_runs), float(chi2.ppf(1.0 - tail, dof) / n_runs)


def assign_to_truth(
    truth_pos: FloatArray, track_pos: FloatArray, max_distance: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Optimal one-to-one assignment of tracks to truths, pairs farther than ``max_distance``
    dropped. Returns (truth index, track index) of the kept pairs."""
    if len(truth_pos) == 0 or len(track_pos) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty.copy()
    dist = cdist(truth_pos, track_pos)
    cost = np.where(dist <= max_distance, dist, max_distance * 1e6 + dist)
    rows, cols = linear_sum_assignment(cost)
    ok = dist[rows, cols] <= max_distance
    return rows[ok].astype(np.intp), cols[ok].astype(np.intp)


@dataclass(frozen=True)
class SIAPResult:
    """SIAP-style measures over a run.

    ``completeness``: assigned truth-instants / truth-instants; ``spuriousness``: unassigned
    track-instants / track-instants; ``id_changes``: times a truth's assigned track id differs from
    the one it had when last assigned; ``id_changes_per_truth``: that divided by the number of
    truths ever assigned.
    """

    completeness: float
    spuriousness: float
    id_changes: int
    id_changes_per_truth: float
    n_truth_instants: int
    n_track_instants: int


def siap_measures(
    truth_ids: Sequence[IntArray],
    truth_pos: Sequence[FloatArray],
    track_ids: Sequence[IntArray],
    track_pos: Sequence[FloatArray],
    max_distance: float,
) -> SIAPResult:
    """Completeness, spuriousness and id changes over a sequence of scans (one list entry each)."""
    if not (len(truth_ids) == len(truth_pos) == len(track_ids) == len(track_pos)):
        raise ValueError("truth_ids, truth_pos, track_ids and track_pos need one entry per scan")
    n_truth = n_track = n_assigned = 0
    scan_col, truth_col, track_col = [], [], []
    for k, (tid, tpos, kid, kpos) in enumerate(
        zip(truth_ids, truth_pos, track_ids, track_pos, strict=True)
    ):
        ti, ki = assign_to_truth(np.asarray(tpos), np.asarray(kpos), max_distance)
        n_truth += len(tid)
        n_track += len(kid)
        n_assigned += len(ti)
        scan_col.append(np.full(len(ti), k))
        truth_col.append(np.asarray(tid)[ti])
        track_col.append(np.asarray(kid)[ki])
    if scan_col:
        scans = np.concatenate(scan_col)
        truths = np.concatenate(truth_col)
        tracks = np.concatenate(track_col)
    else:
        scans = truths = tracks = np.zeros(0, dtype=np.int64)
    order = np.lexsort((scans, truths))
    truths, tracks = truths[order], tracks[order]
    same_truth = truths[1:] == truths[:-1]
    changes = int(np.sum(same_truth & (tracks[1:] != tracks[:-1])))
    n_truths_seen = len(np.unique(truths))
    return SIAPResult(
        completeness=n_assigned / n_truth if n_truth else 1.0,
        spuriousness=(n_track - n_assigned) / n_track if n_track else 0.0,
        id_changes=changes,
        id_changes_per_truth=changes / n_truths_seen if n_truths_seen else 0.0,
        n_truth_instants=n_truth,
        n_track_instants=n_track,
    )
