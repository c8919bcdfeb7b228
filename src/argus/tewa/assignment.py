"""Static weapon–target assignment (WTA): exact, greedy and anytime solvers, bounds, gating.

Problem
-------
Weapons ``i`` hold ``n_i`` rounds and ``c_i`` fire channels (the most distinct targets they can
engage at once); targets ``j`` have value ``V_j``; a round of weapon ``i`` kills target ``j``
with probability ``p_ij`` independently of every other round, and only where the engagement
envelope and the rules of engagement allow (``allowed_ij``). A salvo cap ``s_ij`` (optional)
limits the rounds one weapon fires at one target in this cycle — shoot-shoot-look doctrine
keeps the rest for later cycles instead of spending every round on the best target. Choose
integer rounds ``x_ij``::

    maximize   Σ_j V_j (1 - Π_i (1 - p_ij)^x_ij)        (expected value destroyed)
    subject to Σ_j x_ij <= n_i,   0 <= x_ij <= s_ij integer,   x_ij = 0 where not allowed,
               |{j : x_ij > 0}| <= c_i.

This is the static WTA of A. S. Manne ("A target-assignment problem", *Operations Research*
6(3), 1958), generalized to multi-round weapons and fire channels; it is NP-hard (Lloyd &
Witsenhausen 1986). The upper bound, the greedy start and the neighbourhood search follow
R. K. Ahuja, A. Kumar, K. C. Jha and J. B. Orlin, "Exact and heuristic algorithms for the
weapon-target assignment problem", *Operations Research* 55(6):1136–1146, 2007; the exact
method is an outer approximation (below). See ``docs/tewa-engine.md``.

Solvers (all return an :class:`AssignmentPlan`)
-----------------------------------------------
- :func:`solve_exact` — outer approximation with HiGHS (``scipy.optimize.milp``). The target's
  log-survival ``L_j = Σ_i x_ij log(1-p_ij)`` is linear in ``x`` and ``1 - exp(L)`` is concave,
  so its tangents over-estimate it; the MILP maximizes ``Σ θ_j`` with
  ``θ_j <= V_j (1 - e^{L_k} (1 + L_j - L_k))`` for a growing set of tangent points ``L_k``.
  Each MILP optimum is an upper bound; its ``x`` evaluated exactly is a feasible solution.
  Tangents are added at the solution's ``L_j`` until both meet (Duran & Grossmann 1986,
  outer approximation). Since ``L_j`` takes finitely many values the loop is finite, and at
  a tangent point the model is exact, so the final answer is proven optimal (to the MILP
  gap tolerance) — or, at the time limit, reported with its bound and gap.
- :func:`solve_greedy` — maximum marginal return (MMR; den Broeder, Ellison & Emerling
  1959): repeatedly fire the round with the largest ``V_j s_j p_ij`` (``s_j`` the target's
  current survival); each step is one ``argmax`` over all pairs.
- :func:`solve_heuristic` — MMR, then best-improvement local search over four
  neighbourhoods (add a round, move a round, swap two weapons' targets, retarget all of a
  weapon's rounds on one target to another), then a
  ruin-and-recreate large-neighbourhood search until a time or iteration budget; reports the
  gap to :func:`upper_bound`.
- :func:`solve_brute_force` — exhaustive enumeration for tiny instances (tests).

:func:`upper_bound` is the slot relaxation behind Ahuja et al.'s minimum-cost-flow lower
bound (stated there for the survival-minimizing form): order the rounds on a target best
first; the ``m``-th adds at most ``V_j p_ij (1-p_ij)^(m-1)``, so an assignment of rounds to
``(target, slot)`` places — a transportation problem, solved exactly with
``scipy.optimize.linear_sum_assignment`` — bounds the optimum from above. With binding salvo
caps a weapon may take at most ``s_ij`` places on target ``j``; that side constraint makes it a
network flow, solved by column generation over HiGHS LPs with a Lagrangian certificate
(:func:`_capped_slot_bound`).

Helpers: :func:`engagement_geometry` builds ``p_ij`` and the envelope from battery and track
geometry and a kill-probability table; :func:`roe_mask` gates targets by hostility;
:func:`stabilize` keeps the previous cycle's plan unless the new one is better by more than a
hysteresis fraction.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, linprog, milp
from scipy.sparse import coo_matrix, csr_matrix, vstack

from argus import geo

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "AssignmentPlan",
    "EngagementGeometry",
    "WTAProblem",
    "engagement_geometry",
    "evaluate",
    "make_problem",
    "objective_value",
    "roe_mask",
    "solve_brute_force",
    "solve_exact",
    "solve_greedy",
    "solve_heuristic",
    "stabilize",
    "upper_bound",
    "violations",
]

#: Kill probabilities are capped here inside the solvers' survival arithmetic (log(1-p) must
#: be finite); reported objectives always use the exact ``p``.
_Q_FLOOR: Final = 1e-12
_NEG: Final = -np.inf


# ====================================================================== problem


def _no_salvo_cap() -> IntArray:
    return np.zeros((0, 0), dtype=np.int64)


@dataclass(frozen=True)
class WTAProblem:
    """A static WTA instance (build it with :func:`make_problem`, which validates).

    ``allowed`` combines the engagement envelope, the rules of engagement, ``p > 0``,
    ``V > 0`` and a salvo cap > 0: nothing outside it is ever assigned. ``max_salvo`` (W, T)
    is the effective salvo cap ``min(s_ij, n_i)`` (``n_i`` where uncapped; also the default
    when the dataclass is built directly without it).
    """

    values: FloatArray  # (T,)
    kill_prob: FloatArray  # (W, T)
    rounds: IntArray  # (W,)
    channels: IntArray  # (W,)
    feasible: BoolArray  # (W, T) engagement envelope
    engageable: BoolArray  # (T,) rules of engagement
    allowed: BoolArray = field(repr=False)  # (W, T)
    max_salvo: IntArray = field(default_factory=_no_salvo_cap, repr=False)  # (W, T)

    def __post_init__(self) -> None:
        shape = self.kill_prob.shape
        if self.max_salvo.shape == shape:
            return
        if self.max_salvo.size == 0 and self.max_salvo.ndim == 2:  # not given: uncapped
            uncapped = np.broadcast_to(self.rounds[:, None], shape).astype(np.int64)
            object.__setattr__(self, "max_salvo", uncapped)
            return
        raise ValueError(f"max_salvo must have shape {shape}, got {self.max_salvo.shape}")

    @property
    def n_weapons(self) -> int:
        return int(self.kill_prob.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.kill_prob.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_weapons, self.n_targets


def roe_mask(
    n_targets: int, hostile: npt.ArrayLike | None = None, friendly: npt.ArrayLike | None = None
) -> BoolArray:
    """Targets the rules of engagement allow: hostile and not friendly (defaults: all hostile)."""
    ok = np.ones(n_targets, dtype=bool)
    if hostile is not None:
        ok &= np.broadcast_to(np.asarray(hostile, dtype=bool), (n_targets,))
    if friendly is not None:
        ok &= ~np.broadcast_to(np.asarray(friendly, dtype=bool), (n_targets,))
    return ok


def make_problem(
    values: npt.ArrayLike,
    kill_prob: npt.ArrayLike,
    rounds: npt.ArrayLike = 1,
    channels: npt.ArrayLike | None = None,
    feasible: npt.ArrayLike | None = None,
    hostile: npt.ArrayLike | None = None,
    friendly: npt.ArrayLike | None = None,
    max_salvo: npt.ArrayLike | None = None,
) -> WTAProblem:
    """Validated :class:`WTAProblem`.

    ``values`` (T,) >= 0; ``kill_prob`` (W, T) in [0, 1]; ``rounds`` and ``channels`` scalar or
    (W,) non-negative integers (``channels=None``: unlimited); ``feasible`` (W, T) envelope
    mask (default all); ``hostile`` / ``friendly`` (T,) for :func:`roe_mask`.

    ``max_salvo``: the most rounds one weapon may fire at one target this cycle
    (shoot-shoot-look doctrine), ``x_ij <= max_salvo_ij``; a non-negative integer scalar, a
    (W,) array per weapon (also when W == T) or a (W, T) array; ``None`` (default): no cap
    beyond ``rounds``. A cap of 0 forbids the pair.
    """
    v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    p = np.asarray(kill_prob, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D (targets), got shape {v.shape}")
    if p.ndim != 2 or p.shape[1] != v.shape[0]:
        raise ValueError(f"kill_prob must have shape (weapons, {v.shape[0]}), got {p.shape}")
    w, t = p.shape
    if not np.all(np.isfinite(v) & (v >= 0)):
        j = int(np.flatnonzero(~(np.isfinite(v) & (v >= 0)))[0])
        raise ValueError(f"values[{j}] must be finite and >= 0, got {v[j]}")
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"kill_prob[{i}, {j}] must be in [0, 1], got {p[i, j]}")

    def counts(name: str, x: npt.ArrayLike) -> IntArray:
        a = np.broadcast_to(np.asarray(x), (w,))
        if not (np.issubdtype(a.dtype, np.integer) or np.all(np.mod(a, 1) == 0)):
            raise ValueError(f"{name} must be integers, got {a}")
        ai = a.astype(np.int64)
        if np.any(ai < 0):
            raise ValueError(f"{name}[{int(np.flatnonzero(ai < 0)[0])}] must be >= 0")
        return ai.copy()

    n = counts("rounds", rounds)
    c = (
        np.full(w, t, dtype=np.int64)
        if channels is None
        else np.minimum(counts("channels", channels), t)
    )
    f = (
        np.ones((w, t), dtype=bool)
        if feasible is None
        else np.broadcast_to(np.asarray(feasible, dtype=bool), (w, t)).copy()
    )
    salvo = np.broadcast_to(n[:, None], (w, t)).copy()
    if max_salvo is not None:
        salvo = np.minimum(_salvo_caps(max_salvo, w, t), salvo)
    eng = roe_mask(t, hostile, friendly)
    allowed = f & eng[None, :] & (p > 0) & (v > 0)[None, :] & (c > 0)[:, None] & (salvo > 0)
    return WTAProblem(
        values=v.copy(),
        kill_prob=p.copy(),
        rounds=n,
        channels=c,
        feasible=f,
        engageable=eng,
        allowed=allowed,
        max_salvo=salvo,
    )


def _salvo_caps(max_salvo: npt.ArrayLike, w: int, t: int) -> IntArray:
    """``max_salvo`` (scalar, (W,) per weapon or (W, T)) validated and broadcast to (W, T)."""
    a = np.asarray(max_salvo)
    if a.ndim > 2 or (a.ndim == 1 and a.shape != (w,)) or (a.ndim == 2 and a.shape != (w, t)):
        raise ValueError(
            f"max_salvo must be a scalar, ({w},) per weapon or ({w}, {t}), got shape {a.shape}"
        )
    if a.dtype == np.bool_ or not (
        np.issubdtype(a.dtype, np.integer)
        or (
            np.issubdtype(a.dtype, np.floating)
            and bool(np.all(np.where(np.isfinite(a), a, 0.5) % 1 == 0))
        )
    ):
        raise ValueError(f"max_salvo must be non-negative integers, got {a}")
    ai = a.astype(np.int64)
    if np.any(ai < 0):
        idx = ", ".join(str(int(k)) for k in np.argwhere(ai < 0)[0])
        where = f"[{idx}]" if idx else ""
        raise ValueError(f"max_salvo{where} must be >= 0, got {a[tuple(np.argwhere(ai < 0)[0])]}")
    if ai.ndim == 1:
        ai = ai[:, None]
    return np.broadcast_to(ai, (w, t)).copy()


def _salvo_binds(problem: WTAProblem) -> bool:
    """Whether a salvo cap is below a weapon's rounds on some allowed pair."""
    return bool(np.any(problem.allowed & (problem.max_salvo < problem.rounds[:, None])))


def _survival(problem: WTAProblem, x: npt.NDArray[np.integer]) -> FloatArray:
    q = 1.0 - problem.kill_prob
    return np.asarray(np.prod(np.power(q, x), axis=0), dtype=np.float64)


def objective_value(problem: WTAProblem, x: npt.ArrayLike) -> float:
    """``Σ_j V_j (1 - Π_i (1-p_ij)^x_ij)`` with the exact kill probabilities."""
    xa = np.asarray(x, dtype=np.int64)
    return float(np.dot(problem.values, 1.0 - _survival(problem, xa)))


def violations(problem: WTAProblem, x: npt.ArrayLike) -> list[str]:
    """Human-readable constraint violations of an assignment (empty when feasible)."""
    xa = np.asarray(x)
    out: list[str] = []
    if xa.shape != problem.shape:
        return [f"x has shape {xa.shape}, expected {problem.shape}"]
    if np.any(xa < 0):
        out.append("negative rounds")
    used = xa.sum(axis=1)
    for i in np.flatnonzero(used > problem.rounds):
        out.append(f"weapon {i} fires {used[i]} rounds, has {problem.rounds[i]}")
    eng = (xa > 0).sum(axis=1)
    for i in np.flatnonzero(eng > problem.channels):
        out.append(f"weapon {i} engages {eng[i]} targets, has {problem.channels[i]} channels")
    for i, j in np.argwhere((xa > 0) & ~problem.allowed):
        out.append(f"weapon {i} fires at target {j}, which is not allowed")
    for i, j in np.argwhere((xa > problem.max_salvo) & problem.allowed):
        out.append(
            f"weapon {i} fires {xa[i, j]} rounds at target {j}, salvo cap is {problem.max_salvo[i, j]}"
        )
    return out


# ====================================================================== plan


@dataclass(frozen=True)
class AssignmentPlan:
    """An assignment and what it is worth.

    ``x`` (W, T) rounds; ``kill_probability`` (T,) = 1 - survival; ``expected_value_saved``
    (T,) = ``V_j · kill_probability_j`` (sums to ``objective``); ``upper_bound`` the best
    bound known to the solver (``inf`` if none); ``gap`` = (bound - objective)/bound.
    """

    x: IntArray
    kill_probability: FloatArray
    expected_value_saved: FloatArray
    objective: float
    upper_bound: float
    gap: float
    solver: str
    runtime_s: float
    status: str
    proven_optimal: bool
    iterations: int = 0
    kept_previous: bool = False

    @property
    def rounds_used(self) -> IntArray:
        return np.asarray(self.x.sum(axis=1), dtype=np.int64)

    @property
    def engaged(self) -> BoolArray:
        """Targets receiving at least one round."""
        return np.asarray(self.x.sum(axis=0) > 0)


def _gap(objective: float, bound: float) -> float:
    if not math.isfinite(bound):
        return math.inf
    if bound <= 0:
        return 0.0
    return max(0.0, (bound - objective) / bound)


def evaluate(
    problem: WTAProblem,
    x: npt.ArrayLike,
    solver: str = "given",
    runtime_s: float = 0.0,
    bound: float = math.inf,
    status: str = "feasible",
    iterations: int = 0,
    rel_tol: float = 1e-9,
) -> AssignmentPlan:
    """:class:`AssignmentPlan` of an assignment ``x`` (raises ``ValueError`` if infeasible)."""
    xa = np.asarray(x, dtype=np.int64).copy()
    errs = violations(problem, xa)
    if errs:
        raise ValueError("infeasible assignment: " + "; ".join(errs[:5]))
    kill = 1.0 - _survival(problem, xa)
    saved = problem.values * kill
    obj = float(saved.sum())
    bound = max(bound, obj) if math.isfinite(bound) else bound
    gap = _gap(obj, bound)
    proven = gap <= rel_tol
    if proven and status == "feasible":
        status = "optimal"
    return AssignmentPlan(
        x=xa,
        kill_probability=kill,
        expected_value_saved=saved,
        objective=obj,
        upper_bound=bound,
        gap=gap,
        solver=solver,
        runtime_s=runtime_s,
        status=status,
        proven_optimal=proven,
        iterations=iterations,
    )


# ====================================================================== bounds


def _slot_values(problem: WTAProblem, slots: int) -> tuple[FloatArray, FloatArray]:
    """``a[m, i, j] = V_j p_ij q_ij^m`` for m < slots-1 and the per-weapon overflow value ``u_i``."""
    p = np.where(problem.allowed, problem.kill_prob, 0.0)
    q = 1.0 - p
    vp = problem.values[None, :] * p
    powers = q[None, :, :] ** np.arange(slots - 1)[:, None, None]
    a = vp[None, :, :] * powers  # (slots-1, W, T)
    overflow = vp * q ** (slots - 1)
    u = overflow.max(axis=1) if problem.n_targets else np.zeros(problem.n_weapons)
    return a, u


def upper_bound(problem: WTAProblem, slots: int = 4, method: str = "auto") -> float:
    """An upper bound on the optimal objective (the slot relaxation; see the module docstring).

    Also never more than the per-target bound ``Σ_j V_j (1 - Π_i q_ij^{min(n_i, s_ij)})``
    (every round on every target at once, up to the salvo caps). ``slots`` (>= 2) capacitated
    slots per target, the last one uncapacitated; more slots give a tighter bound. ``method``:
    ``"assignment"`` (``linear_sum_assignment`` with one row per round), ``"lp"`` (HiGHS
    transportation LP, one row per weapon) or ``"auto"`` (assignment unless there are many
    rounds). Salvo caps below a weapon's rounds (at most ``s_ij`` of weapon ``i``'s places on
    target ``j``) cannot be expressed as an assignment problem: with them ``"lp"`` solves the
    full LP (one extra row per capped pair; slow at scale) and ``"auto"`` / ``"assignment"``
    the same LP by column generation (:func:`_capped_slot_bound`; equal to it up to
    tolerances, and always a valid bound).
    """
    return _slot_relaxation(problem, slots, method)[0]


def _slot_relaxation(
    problem: WTAProblem, slots: int = 4, method: str = "auto"
) -> tuple[float, IntArray]:
    """The bound and the relaxation's rounds per pair (feasible but for fire channels)."""
    if slots < 2:
        raise ValueError(f"slots must be >= 2, got {slots}")
    w, t = problem.shape
    allowed = problem.allowed
    x_relax = np.zeros((w, t), dtype=np.int64)
    if not allowed.any():
        return 0.0, x_relax
    if method not in ("auto", "assignment", "lp"):
        raise ValueError(f"method must be 'auto', 'assignment' or 'lp', got {method!r}")
    q_all = np.where(allowed, 1.0 - problem.kill_prob, 1.0)
    per_target = float(np.dot(problem.values, 1.0 - np.prod(q_all**problem.max_salvo, axis=0)))
    a, u = _slot_values(problem, slots)
    n = problem.rounds
    weapons = np.flatnonzero(allowed.any(axis=1))
    total_rounds = int(n[weapons].sum())
    capped = _salvo_binds(problem)
    k = slots - 1
    if capped and method != "lp":
        val, x_relax = _capped_slot_bound(problem, a, k, per_target)
        return min(val, per_target), x_relax
    if method == "auto":
        method = "assignment" if total_rounds <= 1500 else "lp"
    cols_t = np.flatnonzero(allowed.any(axis=0))
    if method == "assignment":
        row_w = np.repeat(weapons, n[weapons])
        slot_vals = a[:, :, cols_t].transpose(1, 2, 0).reshape(w, -1)  # (W, T'·k)
        slot_ok = np.repeat(allowed[:, cols_t], k, axis=1)
        gain = np.where(slot_ok, slot_vals - u[:, None], _NEG)[row_w]
        gain = np.maximum(gain, -1.0)  # below the overflow value: never chosen over a dummy
        r = row_w.size
        mat = np.concatenate([gain, np.zeros((r, r))], axis=1)
        rows, cols = linear_sum_assignment(mat, maximize=True)
        val = float(u[row_w].sum() + mat[rows, cols].sum())
        in_slot = cols < slot_vals.shape[1]
        np.add.at(x_relax, (row_w[rows[in_slot]], cols_t[cols[in_slot] // k]), 1)
        # Overflow rounds go to their best overflow target.
        over_w = row_w[rows[~in_slot]]
        over_vals = np.where(
            allowed,
            problem.values[None, :] * problem.kill_prob * (1.0 - problem.kill_prob) ** k,
            _NEG,
        )
        np.add.at(x_relax, (over_w, np.argmax(over_vals[over_w], axis=1)), 1)
    elif method == "lp":
        pairs = np.argwhere(allowed)
        npairs = pairs.shape[0]
        pi, pj = pairs[:, 0], pairs[:, 1]
        overflow = problem.values[None, :] * problem.kill_prob * (1.0 - problem.kill_prob) ** k
        # Variables: w[pair, m] for m < k (capacitated slots), then o[pair] (overflow).
        coef = np.concatenate([*(a[m][pi, pj] for m in range(k)), overflow[pi, pj]])
        nvar = npairs * (k + 1)
        var_pair = np.tile(np.arange(npairs), k + 1)
        var_slot = np.repeat(np.arange(k + 1), npairs)
        a_w = coo_matrix((np.ones(nvar), (pi[var_pair], np.arange(nvar))), shape=(w, nvar))
        cap = var_slot < k
        slot_row = pj[var_pair[cap]] * k + var_slot[cap]
        a_s = coo_matrix(
            (np.ones(int(cap.sum())), (slot_row, np.flatnonzero(cap))), shape=(t * k, nvar)
        )
        blocks = [a_w, a_s]
        b_ub = [n.astype(np.float64), np.ones(t * k)]
        if capped:
            # Salvo caps: weapon i takes at most s_ij places (slots and overflow) on target j.
            cap_pair = problem.max_salvo[pi, pj]
            binding = np.flatnonzero(cap_pair < n[pi])
            nb = binding.size
            a_c = coo_matrix(
                (
                    np.ones(nb * (k + 1)),
                    (
                        np.tile(np.arange(nb), k + 1),
                        (binding[None, :] + npairs * np.arange(k + 1)[:, None]).ravel(),
                    ),
                ),
                shape=(nb, nvar),
            )
            blocks.append(a_c)
            b_ub.append(cap_pair[binding].astype(np.float64))
        res = linprog(
            -coef,
            A_ub=vstack(blocks).tocsr(),
            b_ub=np.concatenate(b_ub),
            bounds=(0, None),
            method="highs",
        )
        if res.status != 0:
            raise RuntimeError(f"bound LP failed: {res.message}")
        val = float(-res.fun)
        per_pair = np.floor(res.x.reshape(k + 1, npairs).sum(axis=0) + 1e-6).astype(np.int64)
        x_relax[pi, pj] = np.minimum(per_pair, problem.max_salvo[pi, pj])
    return min(val, per_target), x_relax


def _capped_slot_bound(
    problem: WTAProblem, a: FloatArray, k: int, cutoff: float = math.inf, max_rounds: int = 100
) -> tuple[float, IntArray]:
    """The slot relaxation with binding salvo caps, by column generation over pairs.

    Pricing the slot capacities at ``β_jm >= 0`` (Lagrangian relaxation) leaves one easy
    problem per weapon: its ``n_i`` best units, at most ``s_ij`` on target ``j``, each worth
    ``c_ij = max(max_m (a_mij - β_jm), V_j p_ij q_ij^k)``; so for every ``β >= 0``
    ``L(β) = Σ β + Σ_i (top-n_i sum of c_i)`` bounds the relaxation — and the WTA — from
    above. ``β`` comes from the duals of the relaxation LP restricted to a few candidate pairs
    (each target's best weapons, each weapon's best targets); the pairs with the largest
    positive reduced costs (a few per target and per weapon) are added until ``L(β)`` meets
    the restricted LP's value, which is then the full LP optimum. It stops early once the
    restricted LP (a lower bound on the relaxation) reaches ``cutoff`` (a bound known to be
    tighter). Returns the smallest ``L(β)`` seen (valid whatever the LP's accuracy) and the
    restricted LP's rounds per pair.
    """
    w, t = problem.shape
    allowed = problem.allowed
    n = problem.rounds
    cap = problem.max_salvo
    p = np.where(allowed, problem.kill_prob, 0.0)
    ov = problem.values[None, :] * p * (1.0 - p) ** k  # overflow value per pair
    vals = np.concatenate([a, ov[None]], axis=0)  # (k + 1, W, T): slots, then overflow
    x_relax = np.zeros((w, t), dtype=np.int64)

    def lagrangian(beta: FloatArray) -> float:
        c = np.maximum(np.max(a - beta[:, None, :], axis=0), ov)
        c = np.where(allowed, np.maximum(c, 0.0), 0.0)
        order = np.argsort(-c, axis=1, kind="stable")
        cs = np.take_along_axis(c, order, axis=1)
        ss = np.take_along_axis(cap, order, axis=1)
        before = np.cumsum(ss, axis=1) - ss
        take = np.clip(n[:, None] - before, 0, ss)
        return float(beta.sum() + (take * cs).sum())

    # Candidates: each target's k + 1 best weapons, each weapon's best targets up to its rounds.
    score = np.where(allowed, a[0], -1.0)
    sel = np.zeros((w, t), dtype=bool)
    top_w = np.argsort(-score, axis=0, kind="stable")[: k + 1]
    sel[top_w, np.arange(t)[None, :]] = True
    order = np.argsort(-score, axis=1, kind="stable")
    ss = np.take_along_axis(cap, order, axis=1)
    need = (np.cumsum(ss, axis=1) - ss) < n[:, None]
    np.put_along_axis(sel, order, need | np.take_along_axis(sel, order, axis=1), axis=1)
    sel &= allowed

    best = math.inf
    scale = max(float(problem.values.max()), 1e-300)
    for _ in range(max_rounds):
        pairs = np.argwhere(sel)
        e = pairs.shape[0]
        pi, pj = pairs[:, 0], pairs[:, 1]
        nvar = e * (k + 1)
        var_pair = np.tile(np.arange(e), k + 1)
        var_slot = np.repeat(np.arange(k + 1), e)
        coef = vals[var_slot, pi[var_pair], pj[var_pair]]
        slot_v = var_slot < k
        cols = np.arange(nvar)
        a_w = coo_matrix((np.ones(nvar), (pi[var_pair], cols)), shape=(w, nvar))
        a_s = coo_matrix(
            (
                np.ones(int(slot_v.sum())),
                (pj[var_pair[slot_v]] * k + var_slot[slot_v], cols[slot_v]),
            ),
            shape=(t * k, nvar),
        )
        a_c = coo_matrix((np.ones(nvar), (var_pair, cols)), shape=(e, nvar))
        res = linprog(
            -coef,
            A_ub=vstack([a_w, a_s, a_c]).tocsr(),
            b_ub=np.concatenate(
                [n.astype(np.float64), np.ones(t * k), cap[pi, pj].astype(np.float64)]
            ),
            bounds=(0, None),
            method="highs-ipm",  # several times faster than simplex on these degenerate LPs
        )
        if res.status != 0:
            raise RuntimeError(f"bound LP failed: {res.message}")
        lp_val = float(-res.fun)
        duals = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)
        alpha = duals[:w]
        beta = duals[w : w + t * k].reshape(t, k).T
        best = min(best, lagrangian(beta))
        per_pair = np.floor(res.x.reshape(k + 1, e).sum(axis=0) + 1e-6).astype(np.int64)
        x_relax = np.zeros((w, t), dtype=np.int64)
        x_relax[pi, pj] = np.minimum(per_pair, cap[pi, pj])
        if best <= lp_val + 1e-9 * max(lp_val, scale) or lp_val >= cutoff:
            break
        # Reduced cost of the pairs left out (their cap rows have no dual yet: γ = 0).
        rc = np.maximum(np.max(a - beta[:, None, :], axis=0), ov) - alpha[:, None]
        rc = np.where(allowed & ~sel, rc, _NEG)
        if not rc.max() > 1e-9 * scale:
            break
        new = np.zeros((w, t), dtype=bool)
        by_t = np.argsort(-rc, axis=0, kind="stable")[: k + 1]
        new[by_t, np.arange(t)[None, :]] = True
        by_w = np.argsort(-rc, axis=1, kind="stable")[:, :2]
        new[np.arange(w)[:, None], by_w] = True
        sel |= new & (rc > 1e-9 * scale)
    return best, x_relax


# ====================================================================== greedy and local search


class _Model:
    """Arrays the heuristics share (clipped survival logs, masks)."""

    def __init__(self, problem: WTAProblem) -> None:
        self.problem = problem
        self.v = problem.values
        self.allowed = problem.allowed
        self.p = np.where(self.allowed, problem.kill_prob, 0.0)
        self.q = np.maximum(1.0 - self.p, _Q_FLOOR)
        self.logq = np.log(self.q)
        self.n = problem.rounds
        self.c = problem.channels
        self.cap = problem.max_salvo  # salvo caps (n_i where uncapped)
        self.remove_factor = 1.0 / self.q - 1.0  # loss of removing a round, per unit V·s

    def survival(self, x: IntArray) -> FloatArray:
        return np.asarray(np.exp((x * self.logq).sum(axis=0)), dtype=np.float64)


def _greedy_fill(m: _Model, x: IntArray) -> IntArray:
    """MMR: add rounds by largest marginal return ``V_j s_j p_ij`` until none helps."""
    x = x.copy()
    w, t = x.shape
    if w == 0 or t == 0:
        return x
    s = m.survival(x)
    left = m.n - x.sum(axis=1)
    eng = x > 0
    n_eng = eng.sum(axis=1)
    gain = m.v[None, :] * s[None, :] * m.p
    blocked = ~m.allowed | (left <= 0)[:, None] | (~eng & (n_eng >= m.c)[:, None]) | (x >= m.cap)
    gain[blocked] = _NEG
    while True:
        k = int(np.argmax(gain))
        i, j = divmod(k, t)
        if not gain[i, j] > 0.0:
            break
        x[i, j] += 1
        left[i] -= 1
        s[j] *= m.q[i, j]
        col = m.v[j] * s[j] * m.p[:, j]
        col_blocked = (
            ~m.allowed[:, j]
            | (left <= 0)
            | (~eng[:, j] & (n_eng >= m.c))
            | (x[:, j] >= m.cap[:, j])
        )
        if not eng[i, j]:
            eng[i, j] = True
            n_eng[i] += 1
            if n_eng[i] >= m.c[i]:
                gain[i, ~eng[i]] = _NEG
        gain[:, j] = np.where(col_blocked, _NEG, col)
        if left[i] <= 0:
            gain[i, :] = _NEG
    return x


@dataclass
class _Move:
    delta: float
    kind: str
    data: tuple[int, ...]


def _best_move(m: _Model, x: IntArray) -> _Move | None:
    """Best of: add a round, move a round, swap two weapons' targets, retarget a channel.

    Every candidate's exact change of objective is evaluated at once with array
    operations: ``O(W·T)`` for add and move, ``O(P²)`` for swaps among the ``P`` engaged
    (weapon, target) pairs, ``O(P·T)`` for retargets.
    """
    w, t = x.shape
    if w == 0 or t == 0:
        return None
    log_s = (x * m.logq).sum(axis=0)
    s = np.exp(log_s)
    vs = m.v * s
    eng = x > 0
    n_eng = eng.sum(axis=1)
    can_new = n_eng < m.c
    left = m.n - x.sum(axis=1)
    rows = np.arange(w)
    room = x < m.cap  # below the salvo cap: one more round allowed
    g_all = np.where(m.allowed, vs[None, :] * m.p, _NEG)  # marginal return of one more round
    best: _Move | None = None

    # (a) add a spare round
    if (left > 0).any():
        add = np.where((left > 0)[:, None] & (eng | can_new[:, None]) & room, g_all, _NEG)
        k = int(np.argmax(add))
        if add.flat[k] > 0:
            best = _Move(float(add.flat[k]), "add", divmod(k, t))

    ui, uj = np.nonzero(eng)
    if ui.size == 0:
        return best
    xu = x[ui, uj]
    # (b) move one round of weapon i from j to j2. Destinations: the best and second-best
    # target i already engages (j2 != j) below its salvo cap, or the best new one if a
    # channel is free.
    g_eng = np.where(eng & room, g_all, _NEG)
    arg1 = np.argmax(g_eng, axis=1)
    val1 = g_eng[rows, arg1]
    g_eng[rows, arg1] = _NEG
    arg2 = np.argmax(g_eng, axis=1)
    val2 = g_eng[rows, arg2]
    g_new = np.where(eng, _NEG, g_all)
    argn = np.argmax(g_new, axis=1)
    valn = g_new[rows, argn]
    same = arg1[ui] == uj
    d_eng = np.where(same, val2[ui], val1[ui])
    a_eng = np.where(same, arg2[ui], arg1[ui])
    d_new = np.where(can_new[ui] | (xu == 1), valn[ui], _NEG)
    to_new = d_new > d_eng
    dest_val = np.where(to_new, d_new, d_eng)
    dest = np.where(to_new, argn[ui], a_eng)
    # Loss of removing one round, from log survivals (no 0·inf when a kill is near certain).
    loss = m.v[uj] * (np.exp(log_s[uj] - m.logq[ui, uj]) - s[uj])
    delta = dest_val - loss
    k = int(np.argmax(delta))
    if delta[k] > 0 and (best is None or delta[k] > best.delta):
        best = _Move(float(delta[k]), "move", (int(ui[k]), int(uj[k]), int(dest[k])))

    # (c) swap: a round of i_a at j_a <-> a round of i_b at j_b  (i_a != i_b, j_a != j_b)
    if ui.size >= 2:
        qa = m.q[ui, uj]
        cross_q = m.q[ui[None, :], uj[:, None]]  # [a, b] = q[i_b, j_a]
        term = vs[uj][:, None] * (1.0 - cross_q / qa[:, None])  # change at j_a: i_b replaces i_a
        d = term + term.T
        ok = m.allowed[ui[None, :], uj[:, None]]  # i_b may fire at j_a
        ok &= room[ui[None, :], uj[:, None]]  # ... one more round (salvo cap)
        ok &= ok.T
        ok &= (ui[:, None] != ui[None, :]) & (uj[:, None] != uj[None, :])
        # i_a moving to j_b needs a free channel unless it already engages j_b or leaves j_a.
        ch_a = eng[ui[:, None], uj[None, :]] | ((xu == 1) | can_new[ui])[:, None]
        ok &= ch_a & ch_a.T
        d = np.where(ok, d, _NEG)
        k = int(np.argmax(d))
        if d.flat[k] > 0 and (best is None or d.flat[k] > best.delta):
            a_, b_ = divmod(k, ui.size)
            best = _Move(
                float(d.flat[k]), "swap", (int(ui[a_]), int(uj[a_]), int(ui[b_]), int(uj[b_]))
            )

    # (d) retarget: all k >= 2 rounds of weapon i move from j to j2 (a fire channel changes
    # target; with channels exhausted no single-round move can do this).
    multi = xu >= 2
    if multi.any() and t >= 2:
        ri, rj, k_r = ui[multi], uj[multi], xu[multi]
        loss_r = m.v[rj] * (np.exp(log_s[rj] - k_r * m.logq[ri, rj]) - s[rj])
        gain_r = vs[None, :] * (1.0 - np.exp(k_r[:, None] * m.logq[ri]))  # (R, T)
        fits = x[ri] + k_r[:, None] <= m.cap[ri]  # salvo cap at the destination
        gain_r = np.where(m.allowed[ri] & fits, gain_r, _NEG)
        gain_r[np.arange(ri.size), rj] = _NEG
        dest_r = np.argmax(gain_r, axis=1)
        d_r = gain_r[np.arange(ri.size), dest_r] - loss_r
        k = int(np.argmax(d_r))
        if d_r[k] > 0 and (best is None or d_r[k] > best.delta):
            best = _Move(float(d_r[k]), "retarget", (int(ri[k]), int(rj[k]), int(dest_r[k])))
    return best


def _apply(x: IntArray, mv: _Move) -> None:
    if mv.kind == "add":
        i, j = mv.data
        x[i, j] += 1
    elif mv.kind == "move":
        i, j, j2 = mv.data
        x[i, j] -= 1
        x[i, j2] += 1
    elif mv.kind == "retarget":
        i, j, j2 = mv.data
        x[i, j2] += x[i, j]
        x[i, j] = 0
    else:
        i, j, i2, j2 = mv.data
        x[i, j] -= 1
        x[i, j2] += 1
        x[i2, j2] -= 1
        x[i2, j] += 1


def _local_search(
    m: _Model, x: IntArray, deadline: float, max_moves: int = 100_000
) -> tuple[IntArray, int]:
    x = x.copy()
    moves = 0
    scale = max(float(m.v.sum()), 1e-300)
    while moves < max_moves and time.perf_counter() < deadline:
        mv = _best_move(m, x)
        if mv is None or mv.delta <= 1e-12 * scale:
            break
        _apply(x, mv)
        moves += 1
    return x, moves


def _model_objective(m: _Model, x: IntArray) -> float:
    return float(np.dot(m.v, 1.0 - m.survival(x)))


def solve_greedy(problem: WTAProblem, start: npt.ArrayLike | None = None) -> AssignmentPlan:
    """Maximum-marginal-return greedy (optionally completing a feasible ``start``)."""
    t0 = time.perf_counter()
    m = _Model(problem)
    x0 = (
        np.zeros(problem.shape, dtype=np.int64)
        if start is None
        else np.asarray(start, dtype=np.int64)
    )
    x = _greedy_fill(m, x0)
    return evaluate(
        problem, x, solver="greedy-mmr", runtime_s=time.perf_counter() - t0, status="heuristic"
    )


def _lsa_refill(m: _Model, x: IntArray, chosen: IntArray, slots: int = 3) -> IntArray:
    """Re-serve the (cleared) ``chosen`` targets with spare rounds by one assignment problem.

    Rows are spare rounds, columns ``(target, slot)`` places worth ``V_j p_ij q_ij^m`` minus
    what the round could earn elsewhere (its best marginal return on other targets), so a
    round only moves here if that beats its alternative. Fire channels and salvo caps are
    enforced after by :func:`_repair` (the freed rounds are re-used by the greedy fill that
    follows).
    """
    x = x.copy()
    left = m.n - x.sum(axis=1)
    eng = x > 0
    can_new = eng.sum(axis=1) < m.c
    s = m.survival(x)
    elsewhere = m.allowed.copy()
    elsewhere[:, chosen] = False
    alt = np.where(elsewhere & (eng | can_new[:, None]), (m.v * s)[None, :] * m.p, 0.0).max(
        axis=1, initial=0.0
    )
    weapons = np.flatnonzero((left > 0) & can_new & m.allowed[:, chosen].any(axis=1))
    if weapons.size == 0:
        return x
    reps = np.minimum(left[weapons], chosen.size * slots)
    row_w = np.repeat(weapons, reps)
    p_c = m.p[:, chosen][row_w]  # (R, C)
    q_c = 1.0 - p_c
    vals = (
        m.v[chosen][None, :, None]
        * p_c[:, :, None]
        * q_c[:, :, None] ** np.arange(slots)[None, None, :]
    ).reshape(row_w.size, -1)
    ok = np.repeat(m.allowed[:, chosen][row_w], slots, axis=1)
    gain = np.maximum(np.where(ok, vals - alt[row_w][:, None], -1.0), -1.0)
    mat = np.concatenate([gain, np.zeros((row_w.size, row_w.size))], axis=1)
    rows, cols = linear_sum_assignment(mat, maximize=True)
    take = (cols < gain.shape[1]) & (mat[rows, cols] > 0)
    np.add.at(x, (row_w[rows[take]], chosen[cols[take] // slots]), 1)
    return _repair(m.problem, x)


def solve_heuristic(
    problem: WTAProblem,
    time_limit_s: float = 1.0,
    max_iterations: int | None = None,
    seed: int = 0,
    start: npt.ArrayLike | None = None,
    bound: float | None = None,
    rel_tol: float = 1e-9,
) -> AssignmentPlan:
    """Anytime heuristic: construction → local search → large-neighbourhood search, with a gap.

    Two starts are improved by the local search and the better kept: MMR (completing
    ``start`` if given) and the slot relaxation's own assignment (the solution behind
    :func:`upper_bound`, repaired for fire channels). Each LNS iteration then clears the
    rounds on a few related targets (random, weighted by value), re-serves them with an
    assignment problem over the spare rounds (or, every other iteration, greedily), runs the
    local search and keeps the result if it is better. Stops at whichever comes first:
    ``time_limit_s``, ``max_iterations`` LNS iterations, or a gap to the upper bound (the
    smaller of ``bound`` and the slot relaxation) below ``rel_tol``. With a generous time
    limit and ``max_iterations`` set, the result depends only on ``seed``.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    m = _Model(problem)
    ub, x_relax = _slot_relaxation(problem)
    if bound is not None:
        ub = min(ub, float(bound))
    x0 = (
        np.zeros(problem.shape, dtype=np.int64)
        if start is None
        else np.asarray(start, dtype=np.int64)
    )
    x, _ = _local_search(m, _greedy_fill(m, x0), deadline)
    best_obj = _model_objective(m, x)
    if start is None:
        x_b, _ = _local_search(m, _greedy_fill(m, _repair(problem, x_relax)), deadline)
        obj_b = _model_objective(m, x_b)
        if obj_b > best_obj:
            x, best_obj = x_b, obj_b
    rng = np.random.default_rng(seed)
    it = 0
    t = problem.n_targets
    while (max_iterations is None or it < max_iterations) and time.perf_counter() < deadline:
        if _gap(best_obj, ub) <= rel_tol:
            break
        engaged = np.flatnonzero(x.sum(axis=0) > 0)
        if engaged.size == 0:
            break
        it += 1
        k = int(rng.integers(2, 9))
        first = int(rng.choice(engaged))
        # Related targets: those the first target's weapons can also reach, weighted by value.
        weapons = np.flatnonzero(x[:, first] > 0)
        related = m.allowed[weapons].any(axis=0) & (np.arange(t) != first)
        pool = np.flatnonzero(related)
        if pool.size:
            wts = m.v[pool]
            pick = rng.choice(pool, size=min(k - 1, pool.size), replace=False, p=wts / wts.sum())
            chosen = np.concatenate([[first], pick]).astype(np.intp)
        else:
            chosen = np.array([first], dtype=np.intp)
        trial = x.copy()
        trial[:, chosen] = 0
        if it % 2:
            trial = _lsa_refill(m, trial, chosen)
        trial, _ = _local_search(m, _greedy_fill(m, trial), deadline)
        obj = _model_objective(m, trial)
        if obj > best_obj + 1e-12 * max(best_obj, 1.0):
            x, best_obj = trial, obj
    return evaluate(
        problem,
        x,
        solver="mmr+ls+lns",
        runtime_s=time.perf_counter() - t0,
        bound=ub,
        status="heuristic",
        iterations=it,
        rel_tol=rel_tol,
    )


# ====================================================================== exact


def solve_exact(
    problem: WTAProblem,
    time_limit_s: float = 120.0,
    mip_rel_gap: float = 1e-6,
    max_iterations: int = 200,
    verbose: bool = False,
    warm_start: bool = True,
) -> AssignmentPlan:
    """Exact solution by outer approximation with HiGHS (see the module docstring).

    Returns status ``"optimal"`` with ``proven_optimal=True`` when the best solution found is
    within ``mip_rel_gap`` (+1e-7 for HiGHS's feasibility tolerances) of the bound; otherwise
    ``"time_limit"`` (or ``"iteration_limit"``) with the best solution, the bound and the gap.
    ``iterations`` counts MILP solves. With ``warm_start`` (default) the heuristic runs first:
    its solution seeds the tangents and is the incumbent to beat, and when it already meets
    the slot bound (:func:`upper_bound`) that is the proof and no MILP is solved.
    ``warm_start=False`` solves the MILP from scratch (for benchmarking the formulation).
    """
    t0 = time.perf_counter()
    w, t = problem.shape
    pairs = np.argwhere(problem.allowed)
    if pairs.shape[0] == 0:
        return evaluate(
            problem,
            np.zeros((w, t), dtype=np.int64),
            solver="exact-oa-milp",
            bound=0.0,
            status="optimal",
        )
    m = _Model(problem)
    if warm_start:
        # Incumbent from the heuristic: a lower bound, tangent points, the fallback answer.
        inc = solve_heuristic(
            problem, time_limit_s=min(1.0, 0.05 * time_limit_s), max_iterations=50
        )
        best_x, best_obj, ub = inc.x, inc.objective, inc.upper_bound
    else:
        best_x, best_obj, ub = np.zeros((w, t), dtype=np.int64), 0.0, math.inf
    if _gap(best_obj, ub) <= mip_rel_gap:  # the heuristic already meets the bound
        return evaluate(
            problem,
            best_x,
            solver="exact-oa-milp",
            runtime_s=time.perf_counter() - t0,
            bound=ub,
            rel_tol=mip_rel_gap + 1e-7,
        )

    npair = pairs.shape[0]
    pi, pj = pairs[:, 0], pairs[:, 1]
    n = problem.rounds
    # Fire channels bind only for weapons that could engage more targets than they have channels.
    reach = np.minimum(problem.allowed.sum(axis=1), n)
    chan_w = np.flatnonzero(problem.channels < reach)
    e_pairs = np.flatnonzero(np.isin(pi, chan_w))
    ne = e_pairs.size
    targets = np.unique(pj)
    nt = targets.size
    tpos = np.full(t, -1)
    tpos[targets] = np.arange(nt)
    nvar = npair + ne + nt
    theta0 = npair + ne

    salvo = problem.max_salvo[pi, pj]  # x_ij <= min(s_ij, n_i)
    c = np.zeros(nvar)
    c[theta0:] = -1.0
    lb = np.zeros(nvar)
    ub_var = np.concatenate([salvo.astype(np.float64), np.ones(ne), problem.values[targets]])
    integrality = np.concatenate([np.ones(npair + ne), np.zeros(nt)])

    rows: list[csr_matrix] = []
    lo: list[FloatArray] = []
    hi: list[FloatArray] = []
    # Rounds per weapon.
    rows.append(csr_matrix((np.ones(npair), (pi, np.arange(npair))), shape=(w, nvar)))
    lo.append(np.full(w, -np.inf))
    hi.append(n.astype(np.float64))
    if ne:
        # x_ij - min(s_ij, n_i) e_ij <= 0 and Σ_j e_ij <= c_i.
        r = np.arange(ne)
        link = coo_matrix(
            (
                np.concatenate([np.ones(ne), -salvo[e_pairs].astype(np.float64)]),
                (np.concatenate([r, r]), np.concatenate([e_pairs, npair + r])),
            ),
            shape=(ne, nvar),
        )
        rows.append(link.tocsr())
        lo.append(np.full(ne, -np.inf))
        hi.append(np.zeros(ne))
        wi = pi[e_pairs]
        chan = coo_matrix(
            (np.ones(ne), (np.searchsorted(chan_w, wi), npair + r)), shape=(chan_w.size, nvar)
        )
        rows.append(chan.tocsr())
        lo.append(np.full(chan_w.size, -np.inf))
        hi.append(problem.channels[chan_w].astype(np.float64))

    logq = m.logq[pi, pj]
    v_t = problem.values
    by_target = np.argsort(pj, kind="stable")
    cnt_t = np.bincount(pj, minlength=t)
    start_t = np.cumsum(cnt_t) - cnt_t

    def tangent_rows(tj: IntArray, lk: FloatArray) -> tuple[csr_matrix, FloatArray]:
        """Rows ``θ_j + V_j e^{L_k} Σ_i ℓ_ij x_ij <= V_j (1 - e^{L_k}(1 - L_k))``."""
        ek = np.exp(lk)
        # The pairs of each row's target, gathered through the target-sorted pair index.
        lens = cnt_t[tj]
        rr = np.repeat(np.arange(tj.size), lens)
        within = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        pp = by_target[start_t[tj][rr] + within]
        data = v_t[tj[rr]] * ek[rr] * logq[pp]
        nrow = tj.size
        mat = coo_matrix(
            (
                np.concatenate([data, np.ones(nrow)]),
                (np.concatenate([rr, np.arange(nrow)]), np.concatenate([pp, theta0 + tpos[tj]])),
            ),
            shape=(nrow, nvar),
        ).tocsr()
        rhs = v_t[tj] * (1.0 - ek * (1.0 - lk))
        return mat, rhs

    def l_of(x: IntArray) -> FloatArray:
        return np.asarray((x * m.logq).sum(axis=0), dtype=np.float64)

    # Initial tangents: L = 0, the incumbent's L_j, and multiples of the mean log-survival.
    mean_l = np.zeros(t)
    np.add.at(mean_l, pj, logq)
    mean_l /= np.maximum(np.bincount(pj, minlength=t), 1)
    inc_l = l_of(best_x)
    tj_list = [targets]
    lk_list = [np.zeros(nt)]
    for mult in (1.0, 2.0, 3.0):
        tj_list.append(targets)
        lk_list.append(mult * mean_l[targets])
    used = inc_l[targets] < 0
    tj_list.append(targets[used])
    lk_list.append(inc_l[targets][used])
    tan_m, tan_r = tangent_rows(np.concatenate(tj_list), np.concatenate(lk_list))
    tan_mats = [tan_m]
    tan_rhs = [tan_r]

    status = "optimal"
    it = 0
    bound = math.inf
    while True:
        remaining = time_limit_s - (time.perf_counter() - t0)
        if remaining <= 0:
            status = "time_limit"
            break
        if it >= max_iterations:
            status = "iteration_limit"
            break
        it += 1
        a_mat = vstack([*rows, *tan_mats]).tocsr()
        cons = LinearConstraint(
            a_mat,
            np.concatenate([*lo, np.full(sum(r.size for r in tan_rhs), -np.inf)]),
            np.concatenate([*hi, *tan_rhs]),
        )
        res = milp(
            c,
            integrality=integrality,
            bounds=Bounds(lb, ub_var),
            constraints=cons,
            options={
                "time_limit": max(remaining, 0.01),
                "mip_rel_gap": mip_rel_gap,
                "disp": verbose,
            },
        )
        dual = getattr(res, "mip_dual_bound", None)
        if res.status == 0 and res.x is not None:
            it_bound = (
                -float(res.fun)
                if dual is None or not np.isfinite(dual)
                else max(-float(dual), -float(res.fun))
            )
        elif dual is not None and np.isfinite(dual):
            it_bound = -float(dual)
        else:
            it_bound = math.inf
        bound = min(bound, it_bound, ub)
        if res.x is None:
            status = "time_limit" if res.status == 1 else f"milp_status_{res.status}"
            break
        x = np.zeros((w, t), dtype=np.int64)
        x[pi, pj] = np.round(res.x[:npair]).astype(np.int64)
        obj = objective_value(problem, x)
        if obj > best_obj:
            best_x, best_obj = x, obj
        if res.status != 0:
            status = "time_limit"
            break
        if _gap(best_obj, bound) <= mip_rel_gap:
            break
        # Add tangents where the model over-estimates the solution's true value.
        lsol = l_of(x)
        theta = res.x[theta0:]
        true_val = v_t[targets] * (1.0 - np.exp(lsol[targets]))
        viol = theta > true_val + 1e-9 * np.maximum(
            v_t[targets], 1.0
        )  # HiGHS feasibility tol ~1e-7
        if not viol.any():
            break  # model exact at its optimum: bound == objective up to the MILP gap
        tm, tr = tangent_rows(targets[viol], lsol[targets[viol]])
        tan_mats.append(tm)
        tan_rhs.append(tr)
    plan = evaluate(
        problem,
        best_x,
        solver="exact-oa-milp",
        runtime_s=time.perf_counter() - t0,
        bound=bound,
        status=status if status != "optimal" else "feasible",
        iterations=it,
        rel_tol=mip_rel_gap + 1e-7,
    )
    return plan


# ====================================================================== brute force


def _weapon_allocations(
    rounds: int, channels: int, allowed: BoolArray, cap: IntArray | None = None
) -> IntArray:
    """Every allocation of at most ``rounds`` rounds over allowed targets using <= ``channels``
    targets and at most ``cap[j]`` rounds on target ``j``."""
    t = allowed.size
    idx = np.flatnonzero(allowed)
    out = [np.zeros(t, dtype=np.int64)]
    # Enumerate multisets of targets of size 1..rounds.
    frontier = [(np.zeros(t, dtype=np.int64), 0)]
    for _ in range(rounds):
        nxt = []
        for vec, start in frontier:
            for pos in range(start, idx.size):
                v = vec.copy()
                v[idx[pos]] += 1
                if int((v > 0).sum()) <= channels and (cap is None or v[idx[pos]] <= cap[idx[pos]]):
                    nxt.append((v, pos))
                    out.append(v)
        frontier = nxt
    return np.array(out, dtype=np.int64)


def solve_brute_force(problem: WTAProblem, max_combinations: int = 2_000_000) -> AssignmentPlan:
    """Exhaustive search (tiny instances only; raises ``ValueError`` above ``max_combinations``)."""
    t0 = time.perf_counter()
    w, t = problem.shape
    if w == 0 or t == 0:
        return evaluate(
            problem,
            np.zeros((w, t), dtype=np.int64),
            solver="brute-force",
            bound=0.0,
            status="optimal",
        )
    allocs = [
        _weapon_allocations(
            int(problem.rounds[i]),
            int(problem.channels[i]),
            problem.allowed[i],
            problem.max_salvo[i],
        )
        for i in range(w)
    ]
    total = math.prod(a.shape[0] for a in allocs)
    if total > max_combinations:
        raise ValueError(f"{total} combinations exceed max_combinations={max_combinations}")
    q = 1.0 - problem.kill_prob
    surv = np.ones((1, t))
    choice = np.zeros((1, 0), dtype=np.int64)
    for i, a in enumerate(allocs):
        s_i = q[i][None, :] ** a  # (K_i, T) survival factor of each allocation
        surv = (surv[:, None, :] * s_i[None, :, :]).reshape(-1, t)
        choice = np.concatenate(
            [
                np.repeat(choice, a.shape[0], axis=0),
                np.tile(np.arange(a.shape[0]), choice.shape[0])[:, None],
            ],
            axis=1,
        )
    vals = (problem.values[None, :] * (1.0 - surv)).sum(axis=1)
    best = int(np.argmax(vals))
    x = np.zeros((w, t), dtype=np.int64)
    for i, a in enumerate(allocs):
        x[i] = a[choice[best, i]]
    return evaluate(
        problem,
        x,
        solver="brute-force",
        runtime_s=time.perf_counter() - t0,
        bound=float(vals[best]),
        status="optimal",
        iterations=total,
    )


# ====================================================================== stability


def _repair(problem: WTAProblem, x: npt.ArrayLike) -> IntArray:
    """Make an old assignment feasible for the current problem by removing rounds only.

    Rounds on pairs no longer allowed and beyond a salvo cap go first, then the least valuable
    engagements beyond the fire channels, then surplus rounds.
    """
    xa = np.asarray(x, dtype=np.int64)
    if xa.shape != problem.shape:
        raise ValueError(f"previous assignment has shape {xa.shape}, problem is {problem.shape}")
    xa = np.where(problem.allowed, np.clip(xa, 0, problem.max_salvo), 0)
    m = _Model(problem)
    for i in range(problem.n_weapons):
        # Drop the least valuable engagements beyond the channels, then surplus rounds.
        while (xa[i] > 0).sum() > problem.channels[i] or xa[i].sum() > problem.rounds[i]:
            s = m.survival(xa)
            engaged = np.flatnonzero(xa[i] > 0)
            if (xa[i] > 0).sum() > problem.channels[i]:
                worth = (
                    m.v[engaged]
                    * (1.0 - m.q[i, engaged] ** xa[i, engaged])
                    * s[engaged]
                    / m.q[i, engaged] ** xa[i, engaged]
                )
                xa[i, engaged[int(np.argmin(worth))]] = 0
            else:
                loss = m.v[engaged] * s[engaged] * m.remove_factor[i, engaged]
                xa[i, engaged[int(np.argmin(loss))]] -= 1
    return xa


def stabilize(
    problem: WTAProblem,
    previous_x: npt.ArrayLike | None,
    candidate: AssignmentPlan,
    hysteresis: float = 0.05,
) -> AssignmentPlan:
    """Keep last cycle's assignment unless ``candidate`` beats it by more than ``hysteresis``.

    The previous assignment is first repaired for the current problem (rounds on targets that
    are no longer allowed, beyond current rounds or channels are removed) and completed
    greedily with spare rounds. ``candidate`` wins only if
    ``candidate.objective > kept.objective · (1 + hysteresis)``; otherwise the kept plan is
    returned with ``kept_previous=True`` (and the candidate's bound).
    """
    if hysteresis < 0:
        raise ValueError(f"hysteresis must be >= 0, got {hysteresis}")
    if previous_x is None:
        return candidate
    t0 = time.perf_counter()
    kept_x = _greedy_fill(_Model(problem), _repair(problem, previous_x))
    kept = evaluate(
        problem,
        kept_x,
        solver=f"kept({candidate.solver})",
        bound=candidate.upper_bound,
        status="kept",
    )
    if candidate.objective > kept.objective * (1.0 + hysteresis):
        return candidate
    return AssignmentPlan(
        x=kept.x,
        kill_probability=kept.kill_probability,
        expected_value_saved=kept.expected_value_saved,
        objective=kept.objective,
        upper_bound=kept.upper_bound,
        gap=kept.gap,
        solver=kept.solver,
        runtime_s=candidate.runtime_s + (time.perf_counter() - t0),
        status="kept",
        proven_optimal=kept.proven_optimal,
        iterations=candidate.iterations,
        kept_previous=True,
    )


# ====================================================================== geometry


@dataclass(frozen=True)
class EngagementGeometry:
    """Per weapon × target: kill probability (0 where infeasible), envelope mask, intercept.

    ``intercept_time_s`` is ``inf`` and ``intercept_range_km`` NaN where no intercept exists.
    """

    kill_prob: FloatArray
    feasible: BoolArray
    intercept_time_s: FloatArray
    intercept_range_km: FloatArray


def engagement_geometry(
    battery_lat_deg: npt.ArrayLike,
    battery_lon_deg: npt.ArrayLike,
    min_range_km: npt.ArrayLike,
    max_range_km: npt.ArrayLike,
    interceptor_speed_mps: npt.ArrayLike,
    max_target_speed_mps: npt.ArrayLike,
    target_lat_deg: npt.ArrayLike,
    target_lon_deg: npt.ArrayLike,
    target_speed_mps: npt.ArrayLike,
    target_heading_deg: npt.ArrayLike,
    weapon_type: npt.ArrayLike | None = None,
    threat_class: npt.ArrayLike | None = None,
    pk_table: npt.ArrayLike | None = None,
    default_pk: float = 0.7,
    max_time_of_flight_s: npt.ArrayLike | None = None,
) -> EngagementGeometry:
    """Kill probabilities and envelope from geometry (W batteries × T targets).

    Each target flies straight at constant velocity in the battery's ENU plane (heights 0,
    velocity rotated as in :mod:`argus.tewa.kinematics`); the interceptor leaves the battery
    at ``interceptor_speed_mps`` on the straight collision course, i.e. the smallest
    ``t > 0`` with ``|p0 + v t| = u t``: ``(|v|² - u²) t² + 2 (p0·v) t + |p0|² = 0``, solved
    as ``t = |p0|² / (-(p0·v) + √D)``. The pair is feasible when that intercept exists, its
    range lies in ``[min_range_km, max_range_km]``, the target is no faster than
    ``max_target_speed_mps`` and ``t <= max_time_of_flight_s`` (if given).

    ``pk_table[weapon_type, threat_class]`` gives the single-shot kill probability; NaN
    entries, negative (unknown) types or classes, and a missing table use ``default_pk``.
    """
    tlat = np.atleast_1d(np.asarray(target_lat_deg, dtype=np.float64))
    blat = np.atleast_1d(np.asarray(battery_lat_deg, dtype=np.float64))
    w, t = blat.size, tlat.size

    def per(x: npt.ArrayLike | None, k: int, name: str, fill: float = np.nan) -> FloatArray:
        if x is None:
            return np.full(k, fill)
        try:
            return np.broadcast_to(np.asarray(x, dtype=np.float64), (k,)).copy()
        except ValueError:
            raise ValueError(f"{name} must be a scalar or have {k} values") from None

    blon = per(battery_lon_deg, w, "battery_lon_deg")
    rmin = per(min_range_km, w, "min_range_km")
    rmax = per(max_range_km, w, "max_range_km")
    u = per(interceptor_speed_mps, w, "interceptor_speed_mps")
    vmax = per(max_target_speed_mps, w, "max_target_speed_mps")
    tof = per(max_time_of_flight_s, w, "max_time_of_flight_s", np.inf)
    tlon = per(target_lon_deg, t, "target_lon_deg")
    tspeed = per(target_speed_mps, t, "target_speed_mps")
    thead = per(target_heading_deg, t, "target_heading_deg")

    pe, pn, _ = geo.enu_offsets_outer(tlat, tlon, blat, blon)  # (T, W)
    ve_t, vn_t = geo.velocity_from_speed_heading(tspeed, thead)
    ve, vn, _ = geo.enu_velocity_outer(tlat, tlon, ve_t, vn_t, blat, blon)
    pe, pn, ve, vn = pe.T, pn.T, ve.T, vn.T  # (W, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = ve * ve + vn * vn - (u * u)[:, None]
        b = pe * ve + pn * vn
        c = pe * pe + pn * pn
        disc = b * b - a * c
        exists = (disc >= 0) & ((a < 0) | (b < 0))
        t_hit = np.where(exists, c / (-b + np.sqrt(np.maximum(disc, 0.0))), np.inf)
        t_hit = np.where(c == 0, 0.0, t_hit)
        exists |= c == 0
        hit_range_km = np.where(
            exists,
            np.hypot(pe + ve * np.where(exists, t_hit, 0.0), pn + vn * np.where(exists, t_hit, 0.0))
            / 1000.0,
            np.nan,
        )
    feasible = (
        exists
        & (hit_range_km >= rmin[:, None])
        & (hit_range_km <= rmax[:, None])
        & (tspeed[None, :] <= vmax[:, None])
        & (t_hit <= tof[:, None])
    )
    pk = np.full((w, t), float(default_pk))
    if pk_table is not None and weapon_type is not None and threat_class is not None:
        table = np.atleast_2d(np.asarray(pk_table, dtype=np.float64))
        wt = np.broadcast_to(np.asarray(weapon_type, dtype=np.int64), (w,))
        tc = np.broadcast_to(np.asarray(threat_class, dtype=np.int64), (t,))
        known = ((wt >= 0) & (wt < table.shape[0]))[:, None] & ((tc >= 0) & (tc < table.shape[1]))[
            None, :
        ]
        vals = table[
            np.clip(wt, 0, table.shape[0] - 1)[:, None], np.clip(tc, 0, table.shape[1] - 1)[None, :]
        ]
        pk = np.where(known & np.isfinite(vals), vals, pk)
    if np.any((pk < 0) | (pk > 1)):
        raise ValueError("kill probabilities must be in [0, 1]")
    return EngagementGeometry(
        kill_prob=np.where(feasible, pk, 0.0),
        feasible=feasible,
        intercept_time_s=np.where(exists, t_hit, np.inf),
        intercept_range_km=hit_range_km,
    )
