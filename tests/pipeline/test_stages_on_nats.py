"""The same raid with every stage a subscriber on NATS JetStream and PostgreSQL/PostGIS as the
database: radar, command centre, battery, interceptor and the recorder talk only through the
bus (one process here; ``argus stage …`` runs each in its own). The radar runs in lockstep
(each cycle flown before the next), so the run is as fast as the slowest stage."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import select, update

from argus.db.models import PipelineEvent, Scenario, Weapon
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.defense.service.catalog import DEMO_ASSETS, DEMO_BATTERIES, DEMO_RAID
from argus.defense.service.stages import build_stage
from argus.defense.service.store import record_launch
from argus.pipeline import events as ev
from argus.pipeline.asyncbus import NatsBus, make_bus
from argus.pipeline.stages import launch_into_world
from tests.defense._support import seed_defense
from tests.defense.test_pipeline_e2e import DURATION_S, EPOCH, check_raid
from tests.pipeline.test_bus_contract import NATS_URL, require_nats

pytestmark = [pytest.mark.nats, pytest.mark.slow]

STAGES = ("broadcast", "interceptor", "battery", "command-center", "radar")


async def run_on_bus(url: str, bus: NatsBus) -> tuple[object, list[ev.Event], object]:
    sid = seed_defense(url, users=False)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        s.execute(update(Scenario).where(Scenario.id == sid).values(start_time=EPOCH))
    run = uuid.uuid4().hex[:8]
    runners = {
        n: build_stage(n, factory, sid, run, bus, lockstep=True, realtime=False, start_cycle=0)
        for n in STAGES
    }
    for r in runners.values():
        await r.start()
    radar = runners["radar"]
    cities = {a["name"]: a for a in DEMO_ASSETS}
    pending = list(DEMO_RAID)

    async def launches(k: int) -> None:
        t = k * radar.stage.cfg.scan_interval_s
        for r in list(pending):
            if t >= r["delay_s"]:
                c = cities[r["target"]]
                e = ev.MissileLaunched(
                    flight_id=str(uuid.uuid4()), missile_type="SCUD-C", catalogue_key="scud-c",
                    lat_deg=r["lat"], lon_deg=r["lon"], alt_m=0.0, target_lat_deg=c["lat"],
                    target_lon_deg=c["lon"], scenario_id=sid,
                    time=EPOCH + dt.timedelta(seconds=t),
                )  # fmt: skip
                flight = launch_into_world(radar.stage.world, e)  # the radar flies it now
                with session_scope(factory) as s:
                    record_launch(s, e, EPOCH + dt.timedelta(seconds=flight.end_s))  # type: ignore[attr-defined]
                await bus.publish(e)
                pending.remove(r)

    await radar.run(int(DURATION_S / radar.stage.cfg.scan_interval_s), before=launches)
    # let the recorder drain what is still on the bus
    rec = runners["broadcast"]
    last = -1
    while rec.handled != last:
        last = rec.handled
        await asyncio.sleep(1.5)
    for r in runners.values():
        await r.stop()
    with factory() as s:
        rows = s.scalars(select(PipelineEvent).where(PipelineEvent.run_id == run)).all()
        events = [ev.decode(p.subject, json.dumps(p.payload)) for p in rows]
    events.sort(key=lambda e: (e.time, e.subject != "interceptor.launched"))
    return radar.stage.cfg, events, factory


def test_raid_on_nats_and_postgis(pg_url: str) -> None:
    require_nats()

    async def main() -> tuple[object, list[ev.Event], object]:
        name = "T" + uuid.uuid4().hex[:10].upper()
        bus = await NatsBus.connect(NATS_URL, stream=name, prefix=name.lower(), ack_wait_s=10)
        try:
            return await run_on_bus(pg_url, bus)
        finally:
            await bus.delete_stream()
            await bus.close()

    cfg, events, factory = asyncio.run(main())
    check_raid(cfg, events, factory)


def _start_battery(env: dict[str, str], run: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "argus.cli.main", "stage", "battery", "--run", run],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # wait until it is subscribed
        if "running" in line:
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError("the battery stage did not start")


def test_killing_the_battery_process_mid_raid_loses_and_duplicates_nothing(pg_url: str) -> None:
    """``argus stage battery`` in its own process, SIGKILLed at the first order and restarted
    10 simulated seconds later: every order still gets exactly one launch (the orders published
    while it was down wait in its durable consumer), no interceptor twice, rounds exact."""
    require_nats()
    name = "K" + uuid.uuid4().hex[:10].upper()
    bus_url = f"{NATS_URL}?stream={name}&prefix={name.lower()}&ack_wait=3"
    run = uuid.uuid4().hex[:8]
    env = {**os.environ, "ARGUS_DATABASE_URL": pg_url, "ARGUS_BUS_URL": bus_url,
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    state: dict[str, object] = {"killed_at": None, "restarted": False, "orders_while_down": 0}

    async def main() -> tuple[object, list[ev.Event], object]:
        bus = await make_bus(bus_url)
        sid = seed_defense(pg_url, users=False)
        engine = make_engine(pg_url)
        factory = make_sessionmaker(engine)
        with session_scope(factory) as s:
            s.execute(update(Scenario).where(Scenario.id == sid).values(start_time=EPOCH))
        proc = await asyncio.to_thread(_start_battery, env, run)
        runners = {
            n: build_stage(n, factory, sid, run, bus, lockstep=True, realtime=False, start_cycle=0)
            for n in ("broadcast", "interceptor", "command-center", "radar")
        }
        for r in runners.values():
            await r.start()
        radar, cc = runners["radar"], runners["command-center"]
        cities = {a["name"]: a for a in DEMO_ASSETS}
        pending = list(DEMO_RAID)

        async def before(k: int) -> None:
            nonlocal proc
            t = k * radar.stage.cfg.scan_interval_s
            for r in list(pending):
                if t >= r["delay_s"]:
                    c = cities[r["target"]]
                    e = ev.MissileLaunched(
                        flight_id=str(uuid.uuid4()), missile_type="SCUD-C", catalogue_key="scud-c",
                        lat_deg=r["lat"], lon_deg=r["lon"], alt_m=0.0, target_lat_deg=c["lat"],
                        target_lon_deg=c["lon"], scenario_id=sid,
                        time=EPOCH + dt.timedelta(seconds=t),
                    )  # fmt: skip
                    fl = launch_into_world(radar.stage.world, e)
                    with session_scope(factory) as s:
                        record_launch(s, e, EPOCH + dt.timedelta(seconds=fl.end_s))  # type: ignore[attr-defined]
                    await bus.publish(e)
                    pending.remove(r)
            n_orders = sum(cc.stage.shots.values())
            if state["killed_at"] is None and n_orders:
                proc.send_signal(signal.SIGKILL)  # mid-raid, no goodbye
                await asyncio.to_thread(proc.wait)
                state["killed_at"] = (t, n_orders)
            elif state["killed_at"] is not None and not state["restarted"]:
                t_kill, n_kill = state["killed_at"]  # type: ignore[misc]
                if t - t_kill >= 10.0:
                    state["orders_while_down"] = n_orders - n_kill
                    proc = await asyncio.to_thread(_start_battery, env, run)
                    state["restarted"] = True

        try:
            await radar.run(int(DURATION_S / radar.stage.cfg.scan_interval_s), before=before)
            rec = runners["broadcast"]
            last = -1
            while rec.handled != last:
                last = rec.handled
                await asyncio.sleep(2.0)
        finally:
            for r in runners.values():
                await r.stop()
            proc.terminate()
            await asyncio.to_thread(proc.wait)
            await bus.delete_stream()  # type: ignore[union-attr]
            await bus.close()
        with factory() as s:
            rows = s.scalars(select(PipelineEvent).where(PipelineEvent.run_id == run)).all()
            events = [ev.decode(p.subject, json.dumps(p.payload)) for p in rows]
        events.sort(key=lambda e: (e.time, e.subject != "interceptor.launched"))
        return radar.stage.cfg, events, factory

    cfg, events, factory = asyncio.run(main())
    assert state["restarted"], "the battery was never killed and restarted"
    assert int(state["orders_while_down"]) >= 1, "no order was published while the battery was down"  # type: ignore[call-overload]
    orders = [e for e in events if isinstance(e, ev.CommandIntercept)]
    launched = [e for e in events if isinstance(e, ev.InterceptorLaunched)]
    assert sorted(str(e.causation_id) for e in launched) == sorted(str(o.event_id) for o in orders)
    assert len({e.interceptor_id for e in launched}) == len(launched)
    with factory() as s:  # type: ignore[attr-defined]
        rounds = dict(s.execute(select(Weapon.call_sign, Weapon.rounds)).tuples().all())
    used = {
        b["call_sign"]: sum(o.battery_id == b["call_sign"] for o in orders) for b in DEMO_BATTERIES
    }
    assert rounds == {b["call_sign"]: b["rounds"] - used[b["call_sign"]] for b in DEMO_BATTERIES}
    del cfg


def _start_stage(
    env: dict[str, str], run: str, stage: str, lines: list[str]
) -> subprocess.Popen[str]:
    """``argus stage <stage>`` in its own process; its output is collected into ``lines`` by a
    reader thread (so a chatty stage never blocks on a full pipe)."""
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "argus.cli.main", "stage", stage, "--run", run],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "running" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(90):
        proc.kill()
        raise AssertionError(f"the {stage} stage did not start: {''.join(lines)[-2000:]}")
    return proc


def test_killing_the_command_centre_mid_raid_resumes_its_tracks(pg_url: str) -> None:
    """``argus stage command-center`` in its own process, SIGKILLed once its first orders are
    placed and restarted at once: it resumes from its checkpoint (the same tracks, ids and
    engagements), gets again the plots it had not finished (acknowledged only after each
    cycle's save), and the raid ends as an uninterrupted one must: every check of the
    end-to-end raid, no order twice, rounds exact, tracks continuous across the restart."""
    require_nats()
    from argus.db.models import InterceptOrder

    name = "C" + uuid.uuid4().hex[:10].upper()
    bus_url = f"{NATS_URL}?stream={name}&prefix={name.lower()}&ack_wait=3"
    run = uuid.uuid4().hex[:8]
    env = {**os.environ, "ARGUS_DATABASE_URL": pg_url, "ARGUS_BUS_URL": bus_url,
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    state: dict[str, object] = {"killed_at": None}
    out: list[str] = []

    async def main() -> tuple[object, list[ev.Event], object]:
        bus = await make_bus(bus_url)
        sid = seed_defense(pg_url, users=False)
        engine = make_engine(pg_url)
        factory = make_sessionmaker(engine)
        with session_scope(factory) as s:
            s.execute(update(Scenario).where(Scenario.id == sid).values(start_time=EPOCH))
        proc = await asyncio.to_thread(_start_stage, env, run, "command-center", out)
        runners = {
            n: build_stage(n, factory, sid, run, bus, lockstep=True, realtime=False, start_cycle=0)
            for n in ("broadcast", "interceptor", "battery", "radar")
        }
        for r in runners.values():
            await r.start()
        radar = runners["radar"]
        cities = {a["name"]: a for a in DEMO_ASSETS}
        pending = list(DEMO_RAID)

        async def before(k: int) -> None:
            nonlocal proc
            t = k * radar.stage.cfg.scan_interval_s
            for r in list(pending):
                if t >= r["delay_s"]:
                    c = cities[r["target"]]
                    e = ev.MissileLaunched(
                        flight_id=str(uuid.uuid4()), missile_type="SCUD-C", catalogue_key="scud-c",
                        lat_deg=r["lat"], lon_deg=r["lon"], alt_m=0.0, target_lat_deg=c["lat"],
                        target_lon_deg=c["lon"], scenario_id=sid,
                        time=EPOCH + dt.timedelta(seconds=t),
                    )  # fmt: skip
                    fl = launch_into_world(radar.stage.world, e)
                    with session_scope(factory) as s:
                        record_launch(s, e, EPOCH + dt.timedelta(seconds=fl.end_s))  # type: ignore[attr-defined]
                    await bus.publish(e)
                    pending.remove(r)
            if state["killed_at"] is None:
                with factory() as s:
                    n_orders = len(s.scalars(select(InterceptOrder.id)).all())
                if n_orders:
                    # The radar has published cycle k-1; the command centre may be anywhere in
                    # it (buffering plots, processing, publishing, saving).
                    proc.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(proc.wait)
                    state["killed_at"] = (t, n_orders)
                    proc = await asyncio.to_thread(_start_stage, env, run, "command-center", out)

        try:
            await radar.run(int(DURATION_S / radar.stage.cfg.scan_interval_s), before=before)
            rec = runners["broadcast"]
            last = -1
            while rec.handled != last:
                last = rec.handled
                await asyncio.sleep(2.0)
        finally:
            for r in runners.values():
                await r.stop()
            proc.terminate()
            await asyncio.to_thread(proc.wait)
            await bus.delete_stream()  # type: ignore[union-attr]
            await bus.close()
        with factory() as s:
            rows = s.scalars(select(PipelineEvent).where(PipelineEvent.run_id == run)).all()
            events = [ev.decode(p.subject, json.dumps(p.payload)) for p in rows]
        events.sort(key=lambda e: (e.time, e.subject != "interceptor.launched"))
        return radar.stage.cfg, events, factory

    cfg, events, factory = asyncio.run(main())
    assert state["killed_at"] is not None, "the command centre was never killed"
    resumed = [ln for ln in out if "resumed after cycle" in ln]
    assert len(resumed) == 1, "".join(out)[-3000:]
    cycle = int(resumed[0].split("resumed after cycle ")[1].split()[0])
    n_tracks = int(resumed[0].split("(")[1].split()[0])
    assert n_tracks >= 1
    check_raid(cfg, events, factory)  # the raid's every end-to-end check
    orders = [e for e in events if isinstance(e, ev.CommandIntercept)]
    assert len({o.event_id for o in orders}) == len(orders)
    assert len({(o.track_id, o.battery_id, o.time) for o in orders}) == len(orders)
    # Continuity: the tracks the checkpoint held are updated again, with the same ids, in the
    # cycle right after it (a fresh tracker would restart its ids and histories).
    cc_cycles = {
        e.cycle: e.time
        for e in events
        if isinstance(e, ev.PipelineCycleComplete) and e.stage == "command-center"
    }
    assert set(range(min(cc_cycles), max(cc_cycles) + 1)) == set(cc_cycles)  # no cycle lost
    by_time: dict[dt.datetime, set[str]] = {}
    for e in events:
        if isinstance(e, ev.TrackingUpdated):
            by_time.setdefault(e.time, set()).add(e.track_id)
    before_ids = by_time.get(cc_cycles[cycle], set())
    after_ids = by_time.get(cc_cycles[cycle + 1], set())
    assert len(before_ids) >= n_tracks > 0 and before_ids & after_ids == before_ids
