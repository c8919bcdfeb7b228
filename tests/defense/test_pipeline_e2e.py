"""The defense pipeline end to end on the embedded default: a SCUD-C raid on the demo's two
cities, in process, SQLite. Detections, confirmed and correctly classified tracks, orders
only inside a battery's envelope, interceptor flights, kills, rounds decremented exactly, and
every event of the run in the event log."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from argus import geo
from argus.db.models import InterceptOrder, MissileFlight, PipelineEvent, Weapon
from argus.db.session import make_engine, make_sessionmaker
from argus.defense.envelope import engagement_envelope
from argus.defense.service.catalog import DEMO_ASSETS, DEMO_BATTERIES, DEMO_RAID
from argus.defense.service.runtime import DefenseRuntime
from argus.pipeline import events as ev
from tests.defense._support import seed_defense

EPOCH = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DURATION_S = 440.0


def run_raid(url: str) -> tuple[DefenseRuntime, list[ev.Event], Any]:
    sid = seed_defense(url, users=False)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    rt = DefenseRuntime(factory, sid, epoch=EPOCH)
    cities = {a["name"]: a for a in DEMO_ASSETS}
    pending = list(DEMO_RAID)
    events: list[ev.Event] = []
    for _ in range(int(DURATION_S / rt.cfg.scan_interval_s)):
        for r in list(pending):
            if rt.loop.t_s >= r["delay_s"]:
                c = cities[r["target"]]
                rt.launch(r["lat"], r["lon"], c["lat"], c["lon"], "SCUD-C")
                pending.remove(r)
        events += rt.step().events
    return rt, events, factory


def check_raid(cfg: Any, events: list[ev.Event], factory: Any) -> None:
    by = Counter(e.subject for e in events)
    assert by["missile.launched"] == len(DEMO_RAID)
    assert by["radar.detection"] > 100

    # confirmed tracks, the engaged ones classified as ballistic missiles
    tracks = [e for e in events if isinstance(e, ev.TrackingUpdated)]
    orders = [e for e in events if isinstance(e, ev.CommandIntercept)]
    assert orders, "no intercept order"
    state = {(e.track_id, e.time): e for e in tracks}
    for o in orders:
        t = state[(o.track_id, o.time)]
        assert t.classification == "ballistic_missile"
        assert t.threat_level in ("high", "critical")
        # the order is inside the battery's envelope, recomputed from the track at order time
        b = cfg.battery(o.battery_id)
        pos = np.stack(geo.geodetic_to_ecef(t.lat_deg, t.lon_deg, t.alt_m), axis=-1)
        e_, n_, u_ = geo.enu_axes(t.lat_deg, t.lon_deg)
        v = np.asarray(t.velocity_enu_mps)
        vel = v[0] * e_ + v[1] * n_ + v[2] * u_
        env = engagement_envelope(
            b.ecef_m.reshape(1, 3), [b.interceptor], pos.reshape(1, 3), vel.reshape(1, 3)
        )
        assert env.feasible[0, 0] and env.t_intercept_s[0, 0] <= cfg.max_engage_time_s

    launched = [e for e in events if isinstance(e, ev.InterceptorLaunched)]
    dets = [e for e in events if isinstance(e, ev.InterceptorDetonation)]
    assert len(launched) == len(orders)
    assert {e.causation_id for e in launched} == {o.event_id for o in orders}
    kills = [d for d in dets if d.kill]
    assert kills, "no kill"
    assert all(d.miss_distance_m <= 10.0 for d in kills)  # inside the SM-6 class lethal radius
    # one round per threat in the air at a time: never two interceptors on one track at once
    flying: dict[str, int] = {}
    for e in events:
        if isinstance(e, ev.InterceptorLaunched):
            flying[e.track_id] = flying.get(e.track_id, 0) + 1
            assert flying[e.track_id] == 1, f"two interceptors at once on {e.track_id}"
        elif isinstance(e, ev.InterceptorDetonation):
            flying[e.track_id] -= 1

    with factory() as s:
        rows = s.scalars(select(InterceptOrder)).all()
        assert len(rows) == len(orders)
        rounds = dict(s.execute(select(Weapon.call_sign, Weapon.rounds)).tuples().all())
        used = Counter(o.battery_id for o in orders)
        for b in DEMO_BATTERIES:
            assert rounds[b["call_sign"]] == b["rounds"] - used[b["call_sign"]]
        # every event of the run is in the log, once
        logged = set(s.scalars(select(PipelineEvent.event_id)).all())
        assert {str(e.event_id) for e in events} <= logged
        flights = {f.flight_id: f for f in s.scalars(select(MissileFlight))}
        killed = {d.target_flight_id for d in kills}
        for fid in killed:
            assert flights[fid].state == "intercepted"
            assert flights[fid].outcome is not None and flights[fid].outcome["by"] == "interceptor"
        for f in flights.values():
            assert f.state in ("intercepted", "impacted")


@pytest.mark.slow
def test_raid_end_to_end_in_process_sqlite(sqlite_url: str) -> None:
    rt, events, factory = run_raid(sqlite_url)
    check_raid(rt.cfg, events, factory)
