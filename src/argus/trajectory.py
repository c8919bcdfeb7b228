"""Truth trajectories: knots (t, position, velocity, acceleration) and quintic Hermite sampling.

Every flight engine (ballistic, air-breathing) returns a :class:`TrajectorySet`: for each of N
objects the integrator's knots in ECEF. Between two knots the state is the quintic Hermite
polynomial matching position, velocity and acceleration at both ends, so positions are C², the
velocity is its exact derivative, and sampling at any rate costs no re-integration. The
interpolation error of a quintic Hermite is O(h⁶·|d⁶r/dt⁶|) (de Boor, *A Practical Guide to
Splines*, ch. II), far below a metre at the integrators' step sizes.

Knots may repeat a time (a phase change such as burnout: same position and velocity, a different
acceleration on each side); sampling at that time returns the later knot's acceleration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def quintic_hermite(
    p0: FloatArray,
    v0: FloatArray,
    a0: FloatArray,
    p1: FloatArray,
    v1: FloatArray,
    a1: FloatArray,
    h: FloatArray,
    s: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Position, velocity, acceleration at fraction ``s`` ∈ [0, 1] of segments of length ``h``.

    ``p*, v*, a*`` are (..., 3); ``h`` and ``s`` are (...). Returns arrays of shape (..., 3).
    """
    hh = h[..., None]
    ss = s[..., None]
    dp = p1 - p0
    hv0, hv1 = hh * v0, hh * v1
    h2a0, h2a1 = hh * hh * a0, hh * hh * a1
    c2 = 0.5 * h2a0
    c3 = 10.0 * dp - 6.0 * hv0 - 4.0 * hv1 - 1.5 * h2a0 + 0.5 * h2a1
    c4 = -15.0 * dp + 8.0 * hv0 + 7.0 * hv1 + 1.5 * h2a0 - h2a1
    c5 = 6.0 * dp - 3.0 * hv0 - 3.0 * hv1 - 0.5 * h2a0 + 0.5 * h2a1
    pos = p0 + ss * (hv0 + ss * (c2 + ss * (c3 + ss * (c4 + ss * c5))))
    dpos = hv0 + ss * (2.0 * c2 + ss * (3.0 * c3 + ss * (4.0 * c4 + ss * 5.0 * c5)))
    ddpos = 2.0 * c2 + ss * (6.0 * c3 + ss * (12.0 * c4 + ss * 20.0 * c5))
    safe_h = np.where(hh > 0.0, hh, 1.0)
    vel = np.where(hh > 0.0, dpos / safe_h, v0)
    acc = np.where(hh > 0.0, ddpos / (safe_h * safe_h), a0)
    return pos, vel, acc


@dataclass(frozen=True)
class TrajectorySet:
    """Knots of N trajectories in ECEF (struct of padded arrays).

    Attributes
    ----------
    t_s : (N, K) knot times, non-decreasing along each row; entries past ``n_knots[i]`` repeat
        the last knot.
    pos_ecef_m, vel_ecef_mps, acc_ecef_mps2 : (N, K, 3) knot states (acceleration is the
        kinematic d²r/dt² in the rotating ECEF frame).
    n_knots : (N,) number of real knots per trajectory (>= 1).
    """

    t_s: FloatArray
    pos_ecef_m: FloatArray
    vel_ecef_mps: FloatArray
    acc_ecef_mps2: FloatArray
    n_knots: IntArray

    def __post_init__(self) -> None:
        n, k = self.t_s.shape
        for name in ("pos_ecef_m", "vel_ecef_mps", "acc_ecef_mps2"):
            if getattr(self, name).shape != (n, k, 3):
                raise ValueError(
                    f"{name}: expected shape {(n, k, 3)}, got {getattr(self, name).shape}"
                )
        if self.n_knots.shape != (n,):
            raise ValueError(f"n_knots: expected shape {(n,)}, got {self.n_knots.shape}")
        if n and (np.any(self.n_knots < 1) or np.any(self.n_knots > k)):
            raise ValueError("n_knots: every trajectory needs between 1 and K knots")

    @property
    def size(self) -> int:
        """Number of trajectories N."""
        return int(self.t_s.shape[0])

    @property
    def start_s(self) -> FloatArray:
        """(N,) time of the first knot."""
        return self.t_s[:, 0]

    @property
    def end_s(self) -> FloatArray:
        """(N,) time of the last knot."""
        return self.t_s[np.arange(self.size), self.n_knots - 1]

    def state_at(
        self, index: npt.ArrayLike, t_s: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
        """States of trajectories ``index`` (Q,) at times ``t_s`` (Q,) — pairs, not outer.

        Returns position, velocity, acceleration (Q, 3) and ``valid`` (Q,), False (with NaN
        states) where the time lies outside the trajectory's span.
        """
        idx = np.asarray(index, dtype=np.int64).ravel()
        t = np.broadcast_to(np.asarray(t_s, dtype=float).ravel(), idx.shape)
        q = idx.size
        if q == 0:
            empty = np.zeros((0, 3))
            return empty, empty.copy(), empty.copy(), np.zeros(0, dtype=bool)
        k = self.t_s.shape[1]
        start = self.start_s[idx]
        end = self.end_s[idx]
        valid = (t >= start) & (t <= end)
        # Segment search in every row at once: offset each row so the flattened times increase.
        span = float(np.nanmax(self.t_s) - np.nanmin(self.t_s)) + 1.0
        base = float(np.nanmin(self.t_s))
        offset = np.arange(self.size, dtype=float) * span
        flat = ((self.t_s - base) + offset[:, None]).ravel()
        key = np.clip(t, start, end) - base + offset[idx]
        j = np.searchsorted(flat, key, side="right") - 1 - idx * k
        nk = self.n_knots[idx]
        j = np.clip(j, 0, np.maximum(nk - 2, 0))
        j1 = np.minimum(j + 1, nk - 1)
        t0 = self.t_s[idx, j]
        h = self.t_s[idx, j1] - t0
        s = np.where(h > 0.0, (np.clip(t, start, end) - t0) / np.where(h > 0.0, h, 1.0), 0.0)
        pos, vel, acc = quintic_hermite(
            self.pos_ecef_m[idx, j],
            self.vel_ecef_mps[idx, j],
            self.acc_ecef_mps2[idx, j],
            self.pos_ecef_m[idx, j1],
            self.vel_ecef_mps[idx, j1],
            self.acc_ecef_mps2[idx, j1],
            h,
            s,
        )
        bad = ~valid[:, None]
        return (
            np.where(bad, np.nan, pos),
            np.where(bad, np.nan, vel),
            np.where(bad, np.nan, acc),
            valid,
        )

    def sample(self, t_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
        """All trajectories at common times ``t_s`` (M,): arrays (N, M, 3) and ``valid`` (N, M)."""
        t = np.asarray(t_s, dtype=float).ravel()
        n, m = self.size, t.size
        idx = np.repeat(np.arange(n), m)
        pos, vel, acc, valid = self.state_at(idx, np.tile(t, n))
        return (
            pos.reshape(n, m, 3),
            vel.reshape(n, m, 3),
            acc.reshape(n, m, 3),
            valid.reshape(n, m),
        )

    def subset(self, index: npt.ArrayLike) -> TrajectorySet:
        """The trajectories ``index`` (trimmed to their longest knot count)."""
        idx = np.asarray(index, dtype=np.int64).ravel()
        nk = self.n_knots[idx]
        kmax = int(nk.max()) if idx.size else 1
        return TrajectorySet(
            self.t_s[idx, :kmax],
            self.pos_ecef_m[idx, :kmax],
            self.vel_ecef_mps[idx, :kmax],
            self.acc_ecef_mps2[idx, :kmax],
            nk.copy(),
        )

    @staticmethod
    def concatenate(parts: Sequence[TrajectorySet]) -> TrajectorySet:
        """Stack several sets into one (rows padded by repeating each row's last knot)."""
        parts = [p for p in parts if p.size]
        if not parts:
            return TrajectorySet.empty()
        kmax = max(p.t_s.shape[1] for p in parts)
        return TrajectorySet(
            np.concatenate([pad_knots(p.t_s, p.n_knots, kmax) for p in parts]),
            np.concatenate([pad_knots(p.pos_ecef_m, p.n_knots, kmax) for p in parts]),
            np.concatenate([pad_knots(p.vel_ecef_mps, p.n_knots, kmax) for p in parts]),
            np.concatenate([pad_knots(p.acc_ecef_mps2, p.n_knots, kmax) for p in parts]),
            np.concatenate([p.n_knots for p in parts]),
        )

    @staticmethod
    def empty() -> TrajectorySet:
        """A set with no trajectory."""
        return TrajectorySet(
            np.zeros((0, 1)),
            np.zeros((0, 1, 3)),
            np.zeros((0, 1, 3)),
            np.zeros((0, 1, 3)),
            np.zeros(0, dtype=np.int64),
        )

    @staticmethod
    def from_ragged(
        t_s: Sequence[FloatArray],
        pos: Sequence[FloatArray],
        vel: Sequence[FloatArray],
        acc: Sequence[FloatArray],
    ) -> TrajectorySet:
        """Build from per-object arrays (K_i,) and (K_i, 3)."""
        nk = np.array([len(t) for t in t_s], dtype=np.int64)
        kmax = int(nk.max()) if nk.size else 1
        n = len(t_s)
        tt = np.zeros((n, kmax))
        pp, vv, aa = (np.zeros((n, kmax, 3)) for _ in range(3))
        for i in range(n):  # assembly of a handful of rows, not a hot path
            k = int(nk[i])
            tt[i, :k], pp[i, :k], vv[i, :k], aa[i, :k] = t_s[i], pos[i], vel[i], acc[i]
        return TrajectorySet(
            pad_knots(tt, nk, kmax),
            pad_knots(pp, nk, kmax),
            pad_knots(vv, nk, kmax),
            pad_knots(aa, nk, kmax),
            nk,
        )


def pad_knots(arr: FloatArray, n_knots: IntArray, kmax: int) -> FloatArray:
    """(N, K, ...) knot arrays → (N, kmax, ...) rows padded (or re-padded) to ``kmax`` columns by repeating each row's last real knot."""
    n = arr.shape[0]
    cols = np.minimum(np.arange(kmax)[None, :], (n_knots - 1)[:, None])
    if arr.shape[1] < kmax:
        extra = np.repeat(arr[:, -1:], kmax - arr.shape[1], axis=1)
        arr = np.concatenate([arr, extra], axis=1)
    return np.asarray(arr[np.arange(n)[:, None], cols])


def knots_to_trajectories(
    t: FloatArray,
    r: FloatArray,
    v: FloatArray,
    a_minus: FloatArray,
    a_plus: FloatArray,
    n_knots: IntArray,
) -> TrajectorySet:
    """Knots with one-sided accelerations → a :class:`TrajectorySet`.

    ``t`` (N, K), ``r``/``v``/``a_minus``/``a_plus`` (N, K, 3): the acceleration just before and
    just after each knot. Knots where they differ (a phase change) are written twice, first
    with ``a_minus`` then with ``a_plus``; only the first ``n_knots[i]`` knots of row i are real.
    """
    n, k = t.shape
    real = np.arange(k)[None, :] < n_knots[:, None]
    dup = real & np.any(a_minus != a_plus, axis=2)
    reps = np.where(real, 1 + dup, 0)
    flat_reps = reps.ravel()
    tt = np.repeat(t.ravel(), flat_reps)
    rr = np.repeat(r.reshape(-1, 3), flat_reps, axis=0)
    vv = np.repeat(v.reshape(-1, 3), flat_reps, axis=0)
    aa = np.repeat(a_plus.reshape(-1, 3), flat_reps, axis=0)
    # The first copy of a duplicated knot carries the acceleration before the phase change.
    first = np.cumsum(flat_reps) - flat_reps
    dup_flat = dup.ravel()
    aa[first[dup_flat]] = a_minus.reshape(-1, 3)[dup_flat]
    counts = reps.sum(axis=1)
    kmax = int(counts.max())
    row = np.repeat(np.arange(n), counts)
    col = np.arange(row.size) - np.repeat(np.cumsum(counts) - counts, counts)
    out_t = np.zeros((n, kmax))
    out_r, out_v, out_a = (np.zeros((n, kmax, 3)) for _ in range(3))
    out_t[row, col], out_r[row, col], out_v[row, col], out_a[row, col] = tt, rr, vv, aa
    return TrajectorySet(
        pad_knots(out_t, counts, kmax),
        pad_knots(out_r, counts, kmax),
        pad_knots(out_v, counts, kmax),
        pad_knots(out_a, counts, kmax),
        counts.astype(np.int64),
    )
