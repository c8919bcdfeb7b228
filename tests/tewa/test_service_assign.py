"""Weapon assignment through the service: asset value, kill-probability table, hysteresis.

Geometry (hand-checkable): DA-A at (30 N, 70 E) and DA-B at (25 N, 70 E), radius 5 km. Track A
is 30 km south of DA-A flying north at 200 m/s, track B 30 km north of DA-B flying south at
200 m/s: each heads straight at its own DA and away from the other one. With the default params
each scores against its own DA

    cpa 0, tcpa 150 s, tdb 25 km, twrp (30 - 20) km / 200 m/s = 50 s
    s = 0.35·1 + 0.25/(1 + 150/300) + 0.25/(1 + 25/25) + 0.15/(1 + 50/180) = 0.759058

and about 0.02 against the other DA (receding, ~530 km away). One battery midway, able to
reach both, so only the target values decide. Tracks have no samples: their rows are the state.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pymap3d
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from argus.db.models import DefendedAsset, KillProbability, Scenario, Track
from argus.tewa import service

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
S_OWN = 0.35 + 0.25 / 1.5 + 0.25 / 2 + 0.15 / (1 + 50 / 180)  # 0.759058


def _da(session: Session, sc: Scenario, name: str, lat: float, value: float) -> DefendedAsset:
    da = service.upsert_defended_asset(session, name, lat=lat, lon=70.0, radius_km=5.0)
    da.value = value
    service.attach_asset(session, sc, da)
    session.flush()
    return da


def _track(
    session: Session,
    sc: Scenario,
    tid: str,
    da_lat: float,
    north_m: float,
    heading: float,
    threat_class: str = "unknown",
    iff: str = "hostile",
) -> None:
    lat, lon, _ = pymap3d.enu2geodetic(0.0, north_m, 0.0, da_lat, 70.0, 0.0)
    session.add(
        Track(
            scenario_id=sc.id,
            track_id=tid,
            lat=float(lat),
            lon=float(lon),
            speed_mps=200.0,
            heading_deg=heading,
            iff=iff,
            threat_class=threat_class,
        )
    )
    session.flush()


def _weapon(session: Session, sc: Scenario, rounds: int, **kw: object) -> None:
    args: dict[str, object] = {
        "call_sign": "W",
        "weapon_type": "SAM-X",
        "lat": 27.5,
        "lon": 70.0,
        "rounds": rounds,
        "max_range_km": 1000.0,
        "interceptor_speed_mps": 3000.0,
        "fire_channels": 2,
        "max_salvo": 1,
    }
    args.update(kw)
    service.add_weapon(session, sc, **args)  # type: ignore[arg-type]


def _two_threats(session: Session, value_a: float, value_b: float, rounds: int = 1) -> Scenario:
    sc, _ = service.get_or_create_scenario(session, "WTA")
    _da(session, sc, "DA-A", 30.0, value_a)
    _da(session, sc, "DA-B", 25.0, value_b)
    _track(session, sc, "A", 30.0, -30_000.0, 0.0)
    _track(session, sc, "B", 25.0, 30_000.0, 180.0)
    _weapon(session, sc, rounds)
    return sc


def _lines(plan: service.AssignmentResult) -> list[tuple[str, str, int]]:
    return [(ln.weapon, ln.target, ln.rounds) for ln in plan.lines]


def test_threat_scores_are_the_hand_computed_ones(session: Session) -> None:
    sc = _two_threats(session, 1.0, 1.0)
    pairs = {(p.track_id, p.da_name): p.score for p in service.compute_at(session, sc, T0).pairs}
    assert pairs["A", "DA-A"] == pytest.approx(S_OWN, abs=1e-5)
    assert pairs["B", "DA-B"] == pytest.approx(S_OWN, abs=1e-5)
    assert pairs["A", "DA-B"] < 0.03 and pairs["B", "DA-A"] < 0.03


def test_asset_value_decides_which_threat_gets_the_round(session: Session) -> None:
    # V_j = max over DAs (score × asset value): A ≈ 0.759·1, B ≈ 0.759·3 → the one round goes to B.
    sc = _two_threats(session, 1.0, 3.0)
    plan = service.plan_assignment(session, sc, T0)
    assert _lines(plan) == [("W", "B", 1)]
    (ln,) = plan.lines
    assert ln.da_name == "DA-B" and ln.kill_probability == pytest.approx(0.7)  # ('*', '*')
    assert ln.target_value == pytest.approx(3 * S_OWN, abs=1e-4)
    assert ln.expected_value_saved == pytest.approx(0.7 * 3 * S_OWN, abs=1e-4)
    assert plan.objective == pytest.approx(0.7 * 3 * S_OWN, abs=1e-4)
    assert plan.unassigned_hostile == ["A"]
    # Swap the values: the same geometry now sends the round to A.
    for da, v in (("DA-A", 3.0), ("DA-B", 1.0)):
        asset = session.scalar(sa.select(DefendedAsset).where(DefendedAsset.name == da))
        assert asset is not None
        asset.value = v
    session.flush()
    assert _lines(service.plan_assignment(session, sc, T0)) == [("W", "A", 1)]


def test_a_zero_value_asset_draws_no_interceptor(session: Session) -> None:
    sc, _ = service.get_or_create_scenario(session, "Z")
    da = _da(session, sc, "DA-A", 30.0, 0.0)
    _track(session, sc, "A", 30.0, -30_000.0, 0.0)
    _weapon(session, sc, rounds=4)
    plan = service.plan_assignment(session, sc, T0)
    assert plan.lines == [] and plan.objective == 0.0 and plan.unassigned_hostile == ["A"]
    da.value = 2.0
    session.flush()
    plan = service.plan_assignment(session, sc, T0)
    assert _lines(plan) == [("W", "A", 1)]  # max_salvo 1
    assert plan.lines[0].target_value == pytest.approx(2 * S_OWN, abs=1e-4)


def test_kill_probability_table_lookup_and_fallbacks(session: Session) -> None:
    service.set_kill_probability(session, "SAM-X", "jet", pk=0.9)
    service.set_kill_probability(session, "SAM-X", "*", pk=0.6)
    service.set_kill_probability(session, "*", "drone", pk=0.5)
    service.set_kill_probability(session, "*", "*", pk=0.65)  # replaces the migration's 0.7
    types, classes = ["SAM-X", "SAM-Y"], ["jet", "drone", "heli"]
    # (type, class) → (type, *) → (*, class) → (*, *): SAM-X×drone takes (SAM-X, *), not (*, drone).
    np.testing.assert_array_equal(
        service.kill_probability_matrix(session, types, classes),
        [[0.9, 0.6, 0.6], [0.65, 0.5, 0.65]],
    )
    session.execute(
        sa.delete(KillProbability).where(
            KillProbability.weapon_type == "*", KillProbability.threat_class == "*"
        )
    )
    session.expire_all()
    np.testing.assert_array_equal(
        service.kill_probability_matrix(session, types, classes),
        [[0.9, 0.6, 0.6], [0.7, 0.5, 0.7]],  # no ('*', '*') row: the built-in 0.7
    )
    with pytest.raises(service.InvalidInput, match="pk"):
        service.set_kill_probability(session, "SAM-X", "jet", pk=1.5)
    # Through the plan: a drone engaged by a SAM-X battery gets (SAM-X, *) = 0.6 per round.
    sc, _ = service.get_or_create_scenario(session, "PK")
    _da(session, sc, "DA-A", 30.0, 1.0)
    _track(session, sc, "A", 30.0, -30_000.0, 0.0, threat_class="drone")
    _weapon(session, sc, rounds=2, max_salvo=2)
    (ln,) = service.plan_assignment(session, sc, T0).lines
    assert (ln.rounds, ln.kill_probability) == (2, pytest.approx(1 - 0.4**2))
    service.add_weapon(  # the same battery as a SAM-Y: (*, drone) = 0.5
        session, sc, call_sign="W", weapon_type="SAM-Y", lat=27.5, lon=70.0, rounds=1,
        max_range_km=1000.0, interceptor_speed_mps=3000.0, max_salvo=1,
    )  # fmt: skip
    (ln,) = service.plan_assignment(session, sc, T0).lines
    assert (ln.rounds, ln.kill_probability) == (1, pytest.approx(0.5))


def test_persisted_plan_is_kept_when_the_gain_is_marginal(session: Session) -> None:
    sc = _two_threats(session, 1.02, 1.0)
    first = service.plan_assignment(session, sc, T0, persist=True)
    assert _lines(first) == [("W", "A", 1)] and first.persisted == 1 and not first.kept_previous
    db_b = session.scalar(sa.select(DefendedAsset).where(DefendedAsset.name == "DA-B"))
    assert db_b is not None
    db_b.value = 1.04  # B is now worth 1.04/1.02 - 1 ≈ 2 % more than A: below the 5 % hysteresis
    session.flush()
    later = T0 + dt.timedelta(seconds=10)
    kept = service.plan_assignment(session, sc, later, hysteresis=0.05)
    assert _lines(kept) == [("W", "A", 1)] and kept.kept_previous and kept.status == "kept"
    assert kept.objective == pytest.approx(0.7 * 1.02 * S_OWN, abs=1e-4)
    # Without hysteresis the optimum switches to B …
    free = service.plan_assignment(session, sc, later, hysteresis=0.0)
    assert _lines(free) == [("W", "B", 1)] and not free.kept_previous
    assert free.objective == pytest.approx(0.7 * 1.04 * S_OWN, abs=1e-4)
    # … and so it does with hysteresis once the gain is large (1.2/1.02 - 1 ≈ 18 %).
    db_b.value = 1.2
    session.flush()
    switched = service.plan_assignment(session, sc, later, hysteresis=0.05)
    assert _lines(switched) == [("W", "B", 1)] and not switched.kept_previous
    # Before the stored plan there is nothing to keep: the same marginal case picks B.
    db_b.value = 1.04
    session.flush()
    assert _lines(service.plan_assignment(session, sc, T0 - dt.timedelta(seconds=10))) == [
        ("W", "B", 1)
    ]


def test_friendly_and_unknown_tracks_are_never_assigned(session: Session) -> None:
    sc = _two_threats(session, 1.0, 3.0, rounds=4)
    service.set_track_identity(session, sc, "B", iff="friendly")
    plan = service.plan_assignment(session, sc, T0)
    assert _lines(plan) == [("W", "A", 1)] and plan.not_engageable == ["B"]
    service.set_track_identity(session, sc, "B", iff="unknown")
    service.set_track_identity(session, sc, "A", iff="unknown")
    plan = service.plan_assignment(session, sc, T0)
    assert plan.lines == [] and plan.not_engageable == ["A", "B"]
