"""Weapons, the kill-probability table, weapon-target assignment and track identity."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from argus.db.models import Assignment, KillProbability, Scenario, Track, Weapon
from argus.tewa import assignment as assignment_engine
from argus.tewa.service.errors import InvalidInput, NotFoundError
from argus.tewa.service.evaluation import PairScore, compute_at
from argus.tewa.service.scenarios import scenario_assets
from argus.timefmt import iso_z


def add_weapon(
    session: Session,
    scenario: Scenario,
    *,
    call_sign: str,
    weapon_type: str,
    lat: float,
    lon: float,
    rounds: int,
    max_range_km: float,
    min_range_km: float = 0.0,
    max_target_speed_mps: float = 1500.0,
    fire_channels: int = 1,
    interceptor_speed_mps: float = 1000.0,
    max_salvo: int = 2,
) -> Weapon:
    """Add (or replace, by call sign) a fire unit of the scenario; the database checks the ranges."""
    checks = [
        ("lat", -90 <= lat <= 90, "in [-90, 90]"),
        ("lon", -180 <= lon <= 180, "in [-180, 180]"),
        ("rounds", rounds >= 0, ">= 0"),
        ("min_range_km", min_range_km >= 0, ">= 0"),
        ("max_range_km", max_range_km > min_range_km, "> min_range_km"),
        ("max_target_speed_mps", max_target_speed_mps > 0, "> 0"),
        ("fire_channels", fire_channels >= 1, ">= 1"),
        ("interceptor_speed_mps", interceptor_speed_mps > 0, "> 0"),
        ("max_salvo", max_salvo >= 1, ">= 1"),
    ]
    for name, ok, rule in checks:
        if not ok:
            raise InvalidInput(f"{name}: must be {rule}")
    w = session.scalar(
        select(Weapon).where(Weapon.scenario_id == scenario.id, Weapon.call_sign == call_sign)
    )
    if w is None:
        w = Weapon(scenario_id=scenario.id, call_sign=call_sign)
        session.add(w)
    w.weapon_type, w.lat, w.lon, w.rounds = weapon_type, lat, lon, rounds
    w.min_range_km, w.max_range_km = min_range_km, max_range_km
    w.max_target_speed_mps, w.fire_channels, w.interceptor_speed_mps = (
        max_target_speed_mps,
        fire_channels,
        interceptor_speed_mps,
    )
    w.max_salvo = max_salvo
    session.flush()
    return w


def list_weapons(session: Session, scenario: Scenario) -> list[Weapon]:
    return list(
        session.scalars(
            select(Weapon).where(Weapon.scenario_id == scenario.id).order_by(Weapon.call_sign)
        )
    )


def set_kill_probability(
    session: Session, weapon_type: str, threat_class: str, *, pk: float
) -> None:
    if not 0 <= pk <= 1:
        raise InvalidInput(f"pk: must be in [0, 1], got {pk}")
    row = session.scalar(
        select(KillProbability).where(
            KillProbability.weapon_type == weapon_type, KillProbability.threat_class == threat_class
        )
    )
    if row is None:
        session.add(KillProbability(weapon_type=weapon_type, threat_class=threat_class, pk=pk))
    else:
        row.pk = pk
    session.flush()


def kill_probability_matrix(
    session: Session, weapon_types: list[str], threat_classes: list[str]
) -> npt.NDArray[np.float64]:
    """pk[type, class], resolved (type, class) → (type, '*') → ('*', class) → ('*', '*') → 0.7."""
    table = {
        (r.weapon_type, r.threat_class): r.pk for r in session.scalars(select(KillProbability))
    }
    out = np.empty((len(weapon_types), len(threat_classes)))
    for i, wt in enumerate(weapon_types):
        for j, tc in enumerate(threat_classes):
            for key in ((wt, tc), (wt, "*"), ("*", tc), ("*", "*")):
                if key in table:
                    out[i, j] = table[key]
                    break
            else:
                out[i, j] = 0.7
    return out


@dataclass
class AssignmentLine:
    weapon: str
    weapon_type: str
    target: str
    rounds: int
    kill_probability: float
    expected_value_saved: float
    target_value: float
    threat_score: float
    da_name: str
    intercept_time_s: float | None


@dataclass
class AssignmentResult:
    scenario: str
    at: dt.datetime
    lines: list[AssignmentLine]
    objective: float
    upper_bound: float | None
    gap: float | None
    solver: str
    status: str
    proven_optimal: bool
    kept_previous: bool
    runtime_s: float
    unassigned_hostile: list[str]
    not_engageable: list[str]
    persisted: int = 0

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = iso_z(self.at)
        for k in ("upper_bound", "gap"):
            if d[k] is not None and not math.isfinite(d[k]):
                d[k] = None
        return d


def plan_assignment(
    session: Session,
    scenario: Scenario,
    at: dt.datetime,
    *,
    solver: str = "auto",
    hysteresis: float = 0.05,
    time_limit_s: float = 2.0,
    persist: bool = False,
) -> AssignmentResult:
    """Weapon-target assignment at ``at``: who fires how many rounds at which hostile track.

    Targets are the scenario's tracks alive at ``at``, valued V = max over DAs of
    (threat score × asset value); only hostile tracks may be engaged; kill probabilities come
    from the weapon type × threat class table, zeroed outside each battery's envelope at the
    time of intercept. The previous stored plan is kept unless the new one is better by more
    than ``hysteresis`` (no flip-flopping between cycles).
    """
    if solver not in ("auto", "exact", "heuristic", "greedy"):
        raise InvalidInput(f"solver: must be auto, exact, heuristic or greedy, got {solver!r}")
    at = at.astimezone(dt.UTC)
    weapons = list_weapons(session, scenario)
    comp = compute_at(session, scenario, at)
    empty = AssignmentResult(
        scenario.name,
        at,
        [],
        0.0,
        None,
        None,
        solver,
        "no_weapons" if not weapons else "no_targets",
        True,
        False,
        0.0,
        [],
        [],
    )
    if not weapons or not comp.pairs:
        return empty
    values_by_da = {a.id: a.value for a in scenario_assets(session, scenario)}
    # Per track: its best (score × asset value) and state.
    best: dict[str, tuple[float, float, str, PairScore]] = {}
    for p in comp.pairs:
        v = p.score * values_by_da.get(p.da_id, 1.0)
        if p.track_id not in best or v > best[p.track_id][0]:
            best[p.track_id] = (v, p.score, p.da_name, p)
    names = sorted(best)
    tracks = {
        t.track_id: t
        for t in session.scalars(
            select(Track).where(Track.scenario_id == scenario.id, Track.track_id.in_(names))
        )
    }
    values = np.array([best[n][0] for n in names])
    st = [best[n][3] for n in names]
    hostile = np.array([tracks[n].iff == "hostile" for n in names])
    friendly = np.array([tracks[n].iff == "friendly" for n in names])
    wtypes = sorted({w.weapon_type for w in weapons})
    tclasses = sorted({tracks[n].threat_class for n in names})
    geom = assignment_engine.engagement_geometry(
        [w.lat for w in weapons],
        [w.lon for w in weapons],
        [w.min_range_km for w in weapons],
        [w.max_range_km for w in weapons],
        [w.interceptor_speed_mps for w in weapons],
        [w.max_target_speed_mps for w in weapons],
        [p.lat for p in st],
        [p.lon for p in st],
        [p.speed_mps for p in st],
        [p.heading_deg for p in st],
        weapon_type=[wtypes.index(w.weapon_type) for w in weapons],
        threat_class=[tclasses.index(tracks[n].threat_class) for n in names],
        pk_table=kill_probability_matrix(session, wtypes, tclasses),
    )
    problem = assignment_engine.make_problem(
        values,
        geom.kill_prob,
        rounds=[w.rounds for w in weapons],
        channels=[w.fire_channels for w in weapons],
        feasible=geom.feasible,
        hostile=hostile,
        friendly=friendly,
        max_salvo=[w.max_salvo for w in weapons],
    )
    chosen = solver
    if solver == "auto":
        chosen = "exact" if problem.n_weapons * problem.n_targets <= 400 else "heuristic"
    if chosen == "exact":
        plan = assignment_engine.solve_exact(problem, time_limit_s=max(time_limit_s, 1.0))
    elif chosen == "heuristic":
        plan = assignment_engine.solve_heuristic(problem, time_limit_s=time_limit_s)
    else:
        plan = assignment_engine.solve_greedy(problem)
    prev = _previous_assignment(
        session, scenario, at, [w.id for w in weapons], [tracks[n].id for n in names]
    )
    plan = assignment_engine.stabilize(problem, prev, plan, hysteresis=hysteresis)
    lines = []
    for i, j in zip(*np.nonzero(plan.x), strict=True):
        n = names[int(j)]
        t_hit = float(geom.intercept_time_s[i, j])
        lines.append(
            AssignmentLine(
                weapon=weapons[int(i)].call_sign,
                weapon_type=weapons[int(i)].weapon_type,
                target=n,
                rounds=int(plan.x[i, j]),
                kill_probability=float(plan.kill_probability[j]),
                expected_value_saved=float(plan.expected_value_saved[j]),
                target_value=float(values[j]),
                threat_score=float(best[n][1]),
                da_name=best[n][2],
                intercept_time_s=t_hit if math.isfinite(t_hit) else None,
            )
        )
    lines.sort(key=lambda ln: (-ln.expected_value_saved, ln.target, ln.weapon))
    engaged = set(np.flatnonzero(plan.engaged).tolist())
    result = AssignmentResult(
        scenario=scenario.name,
        at=at,
        lines=lines,
        objective=float(plan.objective),
        upper_bound=float(plan.upper_bound),
        gap=float(plan.gap),
        solver=plan.solver,
        status=plan.status,
        proven_optimal=bool(plan.proven_optimal),
        kept_previous=bool(plan.kept_previous),
        runtime_s=float(plan.runtime_s),
        unassigned_hostile=[n for k, n in enumerate(names) if hostile[k] and k not in engaged],
        not_engageable=[n for k, n in enumerate(names) if not hostile[k] or friendly[k]],
    )
    if persist and lines:
        rows = []
        wid = {w.call_sign: w.id for w in weapons}
        for ln in lines:
            rows.append(
                {
                    "scenario_id": scenario.id,
                    "weapon_id": wid[ln.weapon],
                    "track_id": tracks[ln.target].id,
                    "rounds": ln.rounds,
                    "kill_probability": ln.kill_probability,
                    "expected_value": ln.expected_value_saved,
                    "computed_at": at,
                }
            )
        existing = session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.scenario_id == scenario.id, Assignment.computed_at == at)
        )
        if not existing:
            session.execute(insert(Assignment), rows)
            result.persisted = len(rows)
    return result


def _previous_assignment(
    session: Session,
    scenario: Scenario,
    at: dt.datetime,
    weapon_ids: list[int],
    track_ids: list[int],
) -> npt.NDArray[np.int64] | None:
    last = session.scalar(
        select(func.max(Assignment.computed_at)).where(
            Assignment.scenario_id == scenario.id, Assignment.computed_at < at
        )
    )
    if last is None:
        return None
    x = np.zeros((len(weapon_ids), len(track_ids)), dtype=np.int64)
    wi = {w: k for k, w in enumerate(weapon_ids)}
    ti = {t: k for k, t in enumerate(track_ids)}
    for a in session.scalars(
        select(Assignment).where(
            Assignment.scenario_id == scenario.id, Assignment.computed_at == last
        )
    ):
        if a.weapon_id in wi and a.track_id in ti:
            x[wi[a.weapon_id], ti[a.track_id]] = a.rounds
    return x


def set_track_identity(
    session: Session,
    scenario: Scenario,
    track_id: str,
    *,
    iff: str | None = None,
    threat_class: str | None = None,
    quality: float | None = None,
) -> Track:
    track = session.scalar(
        select(Track).where(Track.scenario_id == scenario.id, Track.track_id == track_id)
    )
    if track is None:
        raise NotFoundError(f"no track {track_id!r} in scenario {scenario.name!r}")
    if iff is not None:
        if iff not in ("hostile", "unknown", "friendly"):
            raise InvalidInput(f"iff: must be hostile, unknown or friendly, got {iff!r}")
        track.iff = iff
    if threat_class is not None:
        track.threat_class = threat_class
    if quality is not None:
        if not 0 <= quality <= 1:
            raise InvalidInput(f"quality: must be in [0, 1], got {quality}")
        track.quality = quality
    session.flush()
    return track
