"""The soft-kill effect (``DefenseLoop._soft_kill`` / ``_soft_kills_due``) on the example defense
scenario's real flights: the jammer is pointed at a track and affects the nearest true object
within the gate; a cruise missile is defeated with p = 0.3 and a drone with p = 0.6 (the
defaults), a ballistic missile and a crewed aircraft never; a defeated threat leaves the sky
``soft_kill_delay_s`` later as ``aborted``; the draw is a function of run and track ids only."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from argus import geo
from argus.pipeline.controller import DefenseLoop
from argus.pipeline.stages import TrackPicture
from argus.pipeline.world import World
from argus.scenario.defense import load_defense_scenario

EXAMPLE = Path(__file__).resolve().parents[2] / "src/argus/scenario/examples/defense.toml"
EPOCH = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
T = 120.0  # every air-breather and both SCUD-Cs are flying


def _loop(run_tag: str = "run-a") -> DefenseLoop:
    world = World(EPOCH)
    world.add_scenario(load_defense_scenario(EXAMPLE).scenario, prefix="AIR-")
    loop = DefenseLoop.__new__(DefenseLoop)  # only the EW pieces: no radar, tracker or model
    loop.world = world
    loop.cfg = SimpleNamespace(  # type: ignore[assignment]
        run_tag=run_tag,
        soft_kill_p=(("cruise_missile", 0.3), ("drone", 0.6)),
        soft_kill_delay_s=5.0,
        soft_kill_gate_m=3000.0,
    )
    loop.soft_kill_due = []
    return loop


def _picture(lat: list[float], lon: list[float], alt: list[float]) -> TrackPicture:
    n = len(lat)
    z = np.zeros(n)
    return TrackPicture(
        EPOCH, [f"T{i}" for i in range(n)], np.asarray(lat), np.asarray(lon), np.asarray(alt),
        np.zeros((n, 3)), z, np.zeros(n, np.int64), ["x"] * n, z, z, np.zeros(n, np.int8), z,
    )  # fmt: skip


def _on(loop: DefenseLoop, threat_class: str, offset_m: float = 0.0) -> TrackPicture:
    """A track on the first flying object of that class (``offset_m`` north of it)."""
    idx, pos, _ = loop.world.truth_at(T)
    k = next(
        j for j, i in enumerate(idx) if loop.world.flights[int(i)].threat_class == threat_class
    )
    lat, lon, alt = geo.ecef_to_geodetic(pos[k, 0], pos[k, 1], pos[k, 2])
    return _picture([float(lat) + offset_m / 111_000.0], [float(lon)], [float(alt)])


def _rate(loop: DefenseLoop, threat_class: str, n: int = 600) -> float:
    pic = _on(loop, threat_class)
    hits = 0
    for i in range(n):
        ok, _ = loop._soft_kill(f"track-{i}", pic, 0, T)
        hits += ok
    return hits / n


@pytest.mark.parametrize(("threat_class", "p"), [("cruise_missile", 0.3), ("drone", 0.6)])
def test_a_seeker_threat_is_defeated_with_its_class_probability(
    threat_class: str, p: float
) -> None:
    loop = _loop()
    n = 600
    rate = _rate(loop, threat_class, n)
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n), rate  # binomial, 4 sigma
    assert len(loop.soft_kill_due) == round(rate * n)
    assert {fid for _, fid, _ in loop.soft_kill_due} == {loop.soft_kill_due[0][1]}  # one object


@pytest.mark.parametrize(
    ("threat_class", "why"),
    [("ballistic_missile", "flies inertially, no seeker to jam"), ("aircraft", "not a soft-kill")],
)
def test_no_effect_on_a_threat_without_a_seeker(threat_class: str, why: str) -> None:
    loop = _loop()
    assert _rate(loop, threat_class, 200) == 0.0 and loop.soft_kill_due == []
    ok, detail = loop._soft_kill("T0", _on(loop, threat_class), 0, T)
    assert not ok and why in detail and threat_class in detail


def test_the_jammer_affects_only_an_object_inside_the_gate() -> None:
    loop = _loop()
    ok, detail = loop._soft_kill("T0", _on(loop, "drone", offset_m=10_000.0), 0, T)
    assert not ok and "no object within 3000 m" in detail
    near = [loop._soft_kill(f"t{i}", _on(loop, "drone", offset_m=2_000.0), 0, T)[0]
            for i in range(100)]  # fmt: skip
    assert any(near)  # 2 km off still finds the drone


def test_the_draw_depends_on_run_and_track_only() -> None:
    a, b, other = _loop("run-a"), _loop("run-a"), _loop("run-b")
    pa, pb, po = _on(a, "drone"), _on(b, "drone"), _on(other, "drone")
    ra = [a._soft_kill(f"t{i}", pa, 0, T)[0] for i in range(200)]
    rb = [b._soft_kill(f"t{i}", pb, 0, T)[0] for i in range(200)]
    ro = [other._soft_kill(f"t{i}", po, 0, T)[0] for i in range(200)]
    assert ra == rb and ra != ro


def test_a_defeated_threat_leaves_the_sky_after_the_delay() -> None:
    loop = _loop()
    pic = _on(loop, "drone")
    i = 0
    while not loop._soft_kill(f"t{i}", pic, 0, T)[0]:
        i += 1
    ((at, fid, track),) = loop.soft_kill_due
    assert at == T + 5.0 and track == f"t{i}"
    k = loop.world._by_id[fid]
    assert loop._soft_kills_due(T + 4.5) == [] and loop.world.flight(fid).state == "flying"
    ended = loop._soft_kills_due(T + 5.0)
    assert [f.flight_id for f in ended] == [fid] and loop.soft_kill_due == []
    f = loop.world.flight(fid)
    assert (f.state, f.killed_s) == ("aborted", T + 5.0)
    assert k in loop.world.truth_at(T + 4.9)[0] and k not in loop.world.truth_at(T + 5.1)[0]
    assert loop._soft_kills_due(T + 10.0) == []  # once
