"""Chi-square gating with KD-tree pre-gating.

A measurement ``j`` falls in track ``i``'s gate when ``d²_ij = ν_ijᵀ S_ij⁻¹ ν_ij ≤ γ`` with
``γ = χ²_m⁻¹(P_G)`` (Bar-Shalom, Li & Kirubarajan 2001, §3.6; Blackman & Popoli 1999, §6.3).

Computing ``d²`` for all ``k × j`` pairs costs ``O(k j)``. Since ``d² ≤ γ`` implies
``|Δp|² ≤ γ λ_max(S) ≤ γ (tr P_pos + max_j tr R_pos,j)`` for the Cartesian position offset
``Δp``, a KD-tree of the measurements' Cartesian positions (:class:`scipy.spatial.cKDTree`)
returns, for every track, only the measurements within that radius; ``d²`` is then evaluated on
those candidate pairs only. For measurement models that are linear in position the pre-gate is
exact (it never drops a pair the full gate would keep); for range/azimuth/elevation it works on
the converted Cartesian positions and covariances, with a safety factor on the radius.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree
from scipy.stats import chi2

from argus.tracking.models import MeasurementModel

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

__all__ = ["ChiSquareGate", "chi2_gate_threshold", "kdtree_candidates"]

_K_NEAREST = 8


@functools.lru_cache(maxsize=256)
def chi2_gate_threshold(gate_probability: float, ndim_meas: int) -> float:
    """``γ`` with ``P(χ²_m ≤ γ) = gate_probability`` (cached)."""
    if not 0.0 < gate_probability < 1.0:
        raise ValueError(f"gate_probability must be in (0, 1), got {gate_probability}")
    return float(chi2.ppf(gate_probability, ndim_meas))


def kdtree_candidates(
    track_pos: FloatArray, radius: FloatArray, meas_pos: FloatArray
) -> tuple[IndexArray, IndexArray]:
    """All (track, measurement) pairs with ``|p_track - p_meas| <= radius[track]``.

    Builds one KD-tree over the measurements and queries every track's ball at once.
    Returns the pair indices sorted by track.
    """
    k, j = len(track_pos), len(meas_pos)
    if k == 0 or j == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty.copy()
    tree = cKDTree(meas_pos, balanced_tree=False, compact_nodes=False)
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (k,))
    # Fixed-k nearest-neighbour query (array in, arrays out); rows whose k-th neighbour is still
    # inside their radius may have more and are re-queried with a ball query.
    nk = min(_K_NEAREST, j)
    dist, nbr = tree.query(track_pos, k=nk, distance_upper_bound=float(radius.max()))
    dist = dist.reshape(k, nk)
    nbr = nbr.reshape(k, nk)
    inside = dist <= radius[:, None]
    full = inside[:, -1].copy() if nk < j else np.zeros(k, dtype=np.bool_)
    inside[full] = False
    rows, cols = np.nonzero(inside)
    track_parts = [rows.astype(np.intp)]
    meas_parts = [nbr[rows, cols].astype(np.intp)]
    if full.any():
        redo = np.flatnonzero(full)
        hits = tree.query_ball_point(track_pos[redo], r=radius[redo], return_sorted=False)
        counts = np.fromiter((len(h) for h in hits), dtype=np.intp, count=len(redo))
        track_parts.append(np.repeat(redo, counts))
        meas_parts.append(
            np.fromiter(itertools.chain.from_iterable(hits), dtype=np.intp, count=int(counts.sum()))
        )
    track = np.concatenate(track_parts)
    meas = np.concatenate(meas_parts)
    order = np.argsort(track, kind="stable")
    return track[order], meas[order]


@dataclass(frozen=True)
class ChiSquareGate:
    """Chi-square gate with optional KD-tree pre-gating.

    Properties: ``gate_probability`` ``P_G`` (the threshold is ``χ²_m⁻¹(P_G)``),
    ``use_kdtree`` (pre-gate with a KD-tree; ``False`` evaluates every pair, for tests and tiny
    problems), ``radius_margin`` (factor on the pre-gate radius for nonlinear models).
    """

    gate_probability: float = 0.9997
    use_kdtree: bool = True
    radius_margin: float = 1.5

    def threshold(self, ndim_meas: int) -> float:
        return chi2_gate_threshold(self.gate_probability, ndim_meas)

    def candidates(
        self,
        track_mean: FloatArray,
        track_covar: FloatArray,
        model: MeasurementModel,
        z: FloatArray,
        r: FloatArray,
    ) -> tuple[IndexArray, IndexArray]:
        """Candidate pairs for the exact test: KD-tree ball query, or every pair."""
        k, j = len(track_mean), len(z)
        if k == 0 or j == 0:
            empty = np.zeros(0, dtype=np.intp)
            return empty, empty.copy()
        if not self.use_kdtree:
            return (
                np.repeat(np.arange(k, dtype=np.intp), j),
                np.tile(np.arange(j, dtype=np.intp), k),
            )
        d = model.ndim_pos
        meas_pos, meas_cov = model.to_position(z, r)
        trace_p = np.einsum("kii->k", track_covar[:, :d, :d])
        trace_r = float(np.einsum("jii->j", meas_cov).max())
        gamma = self.threshold(model.ndim_meas)
        radius = np.sqrt(gamma * (trace_p + trace_r))
        if not model.linear:
            radius *= self.radius_margin
        return kdtree_candidates(track_mean[:, :d], radius, meas_pos)
