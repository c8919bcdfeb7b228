"""Data association on the gated, sparse track × measurement problem.

Both associators take the gated candidate pairs (:class:`~argus.tracking.filters.PairInnovations`)
and split the bipartite track/measurement graph into connected components
(:func:`scipy.sparse.csgraph.connected_components`): components are independent problems. Those
with a single track or a single measurement (the vast majority in practice) are solved for all
components at once with sorting and grouped reductions; only components with several tracks *and*
several measurements are solved one by one.

- :class:`GNNAssociator`: global nearest neighbour, the assignment that minimizes the summed
  cost (``d²``, ``d`` or ``-log N(ν; 0, S)``) with an optional cost for leaving a track
  unassigned, solved with :func:`scipy.optimize.linear_sum_assignment` on
  ``[C | diag(c_miss)]`` (Blackman & Popoli 1999, §6.5).
- :class:`JPDAAssociator`: joint probabilistic data association (Fortmann, Bar-Shalom & Scheffe
  1983; Bar-Shalom, Li & Kirubarajan 2001). Marginal association
  probabilities ``β_ij`` by exact enumeration of the feasible joint events for small clusters,
  Fitzgerald's (1990) approximation for large ones; the track is updated with the Gaussian mixture
  ``β_i0 N(x⁻, P⁻) + Σ_j β_ij N(x_ij, P_ij)`` reduced to its first two moments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from argus.tracking.filters import PairInnovations
from argus.tracking.states import GaussianStates

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
GNNCost = Literal["mahalanobis2", "mahalanobis", "neg_log_likelihood"]

__all__ = [
    "Components",
    "GNNAssociator",
    "JPDAAssociator",
    "gnn_assign",
    "jpda_weights",
    "mixture_reduce",
    "pair_components",
]


@dataclass(frozen=True)
class Components:
    """Connected components of the gated bipartite graph, seen from the pairs."""

    label: IndexArray
    """Component of each pair (q,)."""
    n_tracks: IndexArray
    """Number of distinct tracks in each component (n_components,)."""
    n_meas: IndexArray
    """Number of distinct measurements in each component."""


def pair_components(track: IndexArray, meas: IndexArray, n_tracks: int, n_meas: int) -> Components:
    """Label every pair with its connected component (tracks and measurements are the nodes)."""
    q = len(track)
    if q == 0:
        empty = np.zeros(0, dtype=np.intp)
        return Components(empty, empty.copy(), empty.copy())
    track_count = np.bincount(track, minlength=n_tracks)
    meas_count = np.bincount(meas, minlength=n_meas)
    if track_count.max() <= 1 and meas_count.max() <= 1:  # every pair is its own component
        ones = np.ones(q, dtype=np.intp)
        return Components(np.arange(q, dtype=np.intp), ones, ones.copy())
    n = n_tracks + n_meas
    order = np.argsort(track, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1 : n_tracks + 1] = np.cumsum(track_count)
    indptr[n_tracks + 1 :] = q
    graph = csr_matrix(
        (np.ones(q, dtype=np.int8), (meas[order] + n_tracks).astype(np.int64), indptr),
        shape=(n, n),
    )
    n_labels, labels = connected_components(graph, directed=True, connection="weak")
    # renumber to the components that have pairs (presence masks, no sorting)
    present = np.zeros(n_labels, dtype=np.bool_)
    present[labels[track]] = True
    relabel = np.cumsum(present) - 1
    n_used = int(present.sum())
    pair_label = relabel[labels[track]]
    nt = np.bincount(relabel[labels[np.flatnonzero(track_count)]], minlength=n_used)
    nm = np.bincount(relabel[labels[np.flatnonzero(meas_count) + n_tracks]], minlength=n_used)
    return Components(pair_label.astype(np.intp), nt.astype(np.intp), nm.astype(np.intp))


def _group_slices(label: IndexArray) -> tuple[IndexArray, IndexArray, IndexArray]:
    """Order pairs by label; start/stop of each label's run in that order."""
    order = np.argsort(label, kind="stable")
    sorted_label = label[order]
    bounds = np.flatnonzero(np.diff(sorted_label)) + 1
    starts = np.concatenate(([0], bounds)).astype(np.intp)
    stops = np.concatenate((bounds, [len(label)])).astype(np.intp)
    return order.astype(np.intp), starts, stops


def gnn_assign(
    track: IndexArray,
    meas: IndexArray,
    cost: FloatArray,
    n_tracks: int,
    n_meas: int,
    missed_cost: float | None = None,
) -> IndexArray:
    """Indices of the chosen pairs of the global-nearest-neighbour assignment.

    Minimizes ``Σ_assigned cost + c_miss · #unassigned tracks`` subject to each track and each
    measurement being used at most once, over the candidate pairs only. ``missed_cost=None``
    means an infinite cost: the assignment with the most pairs wins, ties broken by total cost.
    """
    q = len(track)
    if q == 0:
        return np.zeros(0, dtype=np.intp)
    finite_miss = missed_cost is not None and np.isfinite(missed_cost)
    if finite_miss:
        keep = cost < float(missed_cost)  # type: ignore[arg-type]
        idx_all = np.flatnonzero(keep)
        if len(idx_all) < q:
            sub = gnn_assign(track[keep], meas[keep], cost[keep], n_tracks, n_meas, missed_cost)
            return idx_all[sub]
    comps = pair_components(track, meas, n_tracks, n_meas)
    simple = (comps.n_tracks == 1) | (comps.n_meas == 1)
    chosen: list[IndexArray] = []

    # single-track or single-measurement components: the cheapest pair wins
    pair_simple = simple[comps.label]
    sidx = np.flatnonzero(pair_simple)
    if len(sidx):
        order = np.lexsort((cost[sidx], comps.label[sidx]))
        lab = comps.label[sidx][order]
        first = np.concatenate(([True], lab[1:] != lab[:-1]))
        chosen.append(sidx[order][first])

    # general components: dense assignment on [C | diag(miss)]
    gidx = np.flatnonzero(~pair_simple)
    if len(gidx):
        big = 2.0 * (float(np.abs(cost[gidx]).sum()) + 1.0)
        miss = float(missed_cost) if finite_miss else big  # type: ignore[arg-type]
        order, starts, stops = _group_slices(comps.label[gidx])
        ordered = gidx[order]
        for a, b in zip(starts, stops, strict=True):
            p = ordered[a:b]
            tr_u, tr_local = np.unique(track[p], return_inverse=True)
            me_u, me_local = np.unique(meas[p], return_inverse=True)
            nt, nm = len(tr_u), len(me_u)
            mat = np.full((nt, nm + nt), np.inf)
            mat[tr_local, me_local] = cost[p]
            mat[np.arange(nt), nm + np.arange(nt)] = miss
            rows, cols = linear_sum_assignment(mat)
            assigned = cols < nm
            lookup = np.full((nt, nm), -1, dtype=np.intp)
            lookup[tr_local, me_local] = p
            chosen.append(lookup[rows[assigned], cols[assigned]])
    if not chosen:
        return np.zeros(0, dtype=np.intp)
    return np.sort(np.concatenate(chosen)).astype(np.intp)


@dataclass(frozen=True)
class GNNAssociator:
    """Global nearest neighbour association.

    Properties: ``cost`` (``"mahalanobis2"`` = ``d²``, ``"mahalanobis"`` = ``d``,
    ``"neg_log_likelihood"`` = ``(d² + ln|2πS|)/2``), ``missed_cost`` (cost of leaving a track
    without a measurement; ``None`` = infinite, i.e. assign as many gated pairs as possible).
    """

    cost: GNNCost = "mahalanobis2"
    missed_cost: float | None = None

    def pair_cost(self, pairs: PairInnovations) -> FloatArray:
        if self.cost == "mahalanobis2":
            return pairs.d2
        if self.cost == "mahalanobis":
            return np.sqrt(pairs.d2)
        if self.cost == "neg_log_likelihood":
            return -pairs.log_likelihood
        raise ValueError(f"unknown GNN cost {self.cost!r}")

    def associate(self, pairs: PairInnovations, n_tracks: int, n_meas: int) -> IndexArray:
        """Indices into ``pairs`` of the assigned pairs."""
        return gnn_assign(
            pairs.track, pairs.meas, self.pair_cost(pairs), n_tracks, n_meas, self.missed_cost
        )


def jpda_weights(
    track: IndexArray,
    meas: IndexArray,
    log_g: FloatArray,
    n_tracks: int,
    n_meas: int,
    missed_weight: float,
    max_exact_events: int = 10_000,
) -> tuple[FloatArray, FloatArray]:
    """Marginal association probabilities ``β_ij`` (per pair) and ``β_i0`` (per track).

    ``log_g`` is ``log(P_D N(ν_ij; 0, S_ij) / λ)`` per pair and ``missed_weight`` is
    ``1 - P_D P_G``. A joint event assigns each track at most one measurement and each measurement
    at most one track; its weight is ``Π_{assigned} g_ij · Π_{missed} (1 - P_D P_G)``
    (Bar-Shalom, Li & Kirubarajan 2001; Fortmann et al. 1983). Clusters with at most
    ``max_exact_events`` joint events are enumerated exactly; larger ones use Fitzgerald's
    approximation ``β_ij = g_ij / (T_i + S_j - g_ij + B)`` with ``T_i = Σ_j g_ij``,
    ``S_j = Σ_i g_ij`` and ``B = 1 - P_D P_G``.
    """
    q = len(track)
    beta = np.zeros(q)
    beta0 = np.ones(n_tracks)
    if q == 0:
        return beta, beta0
    g = np.exp(np.minimum(log_g, 700.0))
    b = float(missed_weight)
    comps = pair_components(track, meas, n_tracks, n_meas)
    single = comps.n_tracks == 1
    pair_single = single[comps.label]

    # one track per cluster: PDA, closed form, all clusters at once
    sidx = np.flatnonzero(pair_single)
    if len(sidx):
        total = np.bincount(track[sidx], weights=g[sidx], minlength=n_tracks)
        denom = total + b
        beta[sidx] = g[sidx] / denom[track[sidx]]
        tr = np.unique(track[sidx])
        beta0[tr] = b / denom[tr]

    gidx = np.flatnonzero(~pair_single)
    if len(gidx):
        order, starts, stops = _group_slices(comps.label[gidx])
        ordered = gidx[order]
        for a, c in zip(starts, stops, strict=True):
            p = ordered[a:c]
            tr_u, tr_local = np.unique(track[p], return_inverse=True)
            me_u, me_local = np.unique(meas[p], return_inverse=True)
            nt, nm = len(tr_u), len(me_u)
            degree = np.bincount(tr_local, minlength=nt)
            n_events = float(np.prod(degree.astype(np.float64) + 1.0))
            if n_events <= max_exact_events:
                bp, b0 = _jpda_exact(tr_local, me_local, g[p], nt, nm, b)
            else:
                bp, b0 = _jpda_fitzgerald(tr_local, me_local, g[p], nt, nm, b)
            beta[p] = bp
            beta0[tr_u] = b0
    return beta, beta0


def _jpda_exact(
    tr: IndexArray, me: IndexArray, g: FloatArray, nt: int, nm: int, b: float
) -> tuple[FloatArray, FloatArray]:
    """Exact marginals by enumerating every feasible joint event of one cluster."""
    weights = np.zeros((nt, nm + 1))  # column nm = missed
    weights[:, nm] = b
    weights[tr, me] = g
    options = [np.concatenate((me[tr == i], [nm])) for i in range(nt)]
    grids = np.meshgrid(*options, indexing="ij")
    events = np.stack([grid.reshape(-1) for grid in grids], axis=1)  # (E, nt)
    srt = np.sort(events, axis=1)
    clash = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] < nm)
    events = events[~clash.any(axis=1)]
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    log_p = logw[np.arange(nt)[None, :], events].sum(axis=1)
    prob = np.exp(log_p - log_p.max())
    prob /= prob.sum()
    marg = np.zeros((nt, nm + 1))
    for i in range(nt):  # over the tracks of one small cluster only
        marg[i] = np.bincount(events[:, i], weights=prob, minlength=nm + 1)
    return marg[tr, me], marg[:, nm]


def _jpda_fitzgerald(
    tr: IndexArray, me: IndexArray, g: FloatArray, nt: int, nm: int, b: float
) -> tuple[FloatArray, FloatArray]:
    """Fitzgerald's (1990) cheap JPDA marginals for one cluster."""
    t_i = np.bincount(tr, weights=g, minlength=nt)
    s_j = np.bincount(me, weights=g, minlength=nm)
    beta = g / (t_i[tr] + s_j[me] - g + b)
    beta0 = 1.0 - np.bincount(tr, weights=beta, minlength=nt)
    return beta, np.maximum(beta0, 0.0)


def mixture_reduce(
    prior: GaussianStates,
    pair_states: GaussianStates,
    pair_track: IndexArray,
    beta: FloatArray,
    beta0: FloatArray,
) -> GaussianStates:
    """Moment-match ``β_i0 N(x⁻_i, P⁻_i) + Σ_j β_ij N(x_ij, P_ij)`` for every track."""
    mean = beta0[:, None] * prior.mean
    np.add.at(mean, pair_track, beta[:, None] * pair_states.mean)
    dx0 = prior.mean - mean
    covar = beta0[:, None, None] * (prior.covar + dx0[:, :, None] * dx0[:, None, :])
    dx = pair_states.mean - mean[pair_track]
    np.add.at(
        covar,
        pair_track,
        beta[:, None, None] * (pair_states.covar + dx[:, :, None] * dx[:, None, :]),
    )
    return GaussianStates(mean, 0.5 * (covar + np.swapaxes(covar, -1, -2)))


@dataclass(frozen=True)
class JPDAAssociator:
    """Joint probabilistic data association.

    Properties: ``detection_probability`` ``P_D``, ``clutter_density`` ``λ`` (false measurements
    per unit volume of measurement space, e.g. per m² for 2-D positions), ``gate_probability``
    ``P_G`` (should equal the gate's), ``max_exact_events`` (largest cluster, in joint events,
    that is enumerated exactly).
    """

    detection_probability: float = 0.9
    clutter_density: float = 1e-9
    gate_probability: float = 0.9997
    max_exact_events: int = 10_000

    def weights(
        self, pairs: PairInnovations, n_tracks: int, n_meas: int
    ) -> tuple[FloatArray, FloatArray]:
        """``(β per pair, β_0 per track)``."""
        pd = self.detection_probability
        log_g = np.log(pd) + pairs.log_likelihood - np.log(self.clutter_density)
        return jpda_weights(
            pairs.track,
            pairs.meas,
            log_g,
            n_tracks,
            n_meas,
            1.0 - pd * self.gate_probability,
            self.max_exact_events,
        )
