"""The command centre stopped mid-raid and replaced by a new one resumes from its checkpoint
(in-process bus, SQLite): the events it had been given but not acknowledged (deferred until each
cycle is saved) go to its successor, which continues the same tracks. The NATS variant, with a
SIGKILLed ``argus stage command-center`` process, is in ``test_stages_on_nats.py``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from argus.db import migrate
from argus.db.models import InterceptOrder, PipelineEvent, Scenario, StageCheckpoint
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.defense.service.catalog import DEMO_ASSETS, DEMO_RAID
from argus.defense.service.stages import build_stage
from argus.defense.service.store import record_launch
from argus.pipeline import events as ev
from argus.pipeline.asyncbus import InProcessBus
from argus.pipeline.stages import launch_into_world
from tests.defense._support import seed_defense
from tests.defense.test_pipeline_e2e import DURATION_S, EPOCH, check_raid

pytestmark = pytest.mark.slow


def test_a_replaced_command_centre_resumes_its_tracks(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    sid = seed_defense(sqlite_url, users=False)
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        s.execute(update(Scenario).where(Scenario.id == sid).values(start_time=EPOCH))
    run = uuid.uuid4().hex[:8]
    info: dict[str, Any] = {}

    async def main() -> tuple[Any, list[ev.Event]]:
        bus = InProcessBus()

        def stage(name: str) -> Any:
            return build_stage(
                name, factory, sid, run, bus, lockstep=True, realtime=False, start_cycle=0
            )

        runners = {n: stage(n) for n in ("broadcast", "interceptor", "battery", "command-center")}
        runners["radar"] = stage("radar")
        for r in runners.values():
            await r.start()
        radar = runners["radar"]
        cities = {a["name"]: a for a in DEMO_ASSETS}
        pending = list(DEMO_RAID)

        async def before(k: int) -> None:
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
            if "replaced_at" not in info:
                with factory() as s:
                    placed = len(s.scalars(select(InterceptOrder.id)).all())
                if placed:
                    old = runners["command-center"]
                    info["old_tracks"] = set(old.stage.picture.track_id)
                    await old.stop()  # its unacknowledged events go back to the durable
                    new = stage("command-center")
                    await new.start()
                    runners["command-center"] = new
                    info["replaced_at"] = k
                    info["restored_cycle"] = new.restored_cycle
                    info["restored_tracks"] = set(new.stage.picture.track_id)

        try:
            await radar.run(int(DURATION_S / radar.stage.cfg.scan_interval_s), before=before)
            rec = runners["broadcast"]
            last = -1
            while rec.handled != last:
                last = rec.handled
                await asyncio.sleep(0.5)
        finally:
            for r in runners.values():
                await r.stop()
            await bus.close()
        with factory() as s:
            rows = s.scalars(select(PipelineEvent).where(PipelineEvent.run_id == run)).all()
            out = [ev.decode(p.subject, json.dumps(p.payload)) for p in rows]
        out.sort(key=lambda e: (e.time, e.subject != "interceptor.launched"))
        return radar.stage.cfg, out

    cfg, events = asyncio.run(main())
    assert "replaced_at" in info, "no order was ever placed: the command centre was not replaced"
    # It resumed from the last cycle it saved, with the tracks it had then.
    assert info["restored_cycle"] is not None and info["restored_cycle"] >= info["replaced_at"] - 2
    assert info["restored_tracks"] and info["restored_tracks"] <= info["old_tracks"]
    check_raid(cfg, events, factory)
    cc_cycles = sorted(
        e.cycle
        for e in events
        if isinstance(e, ev.PipelineCycleComplete) and e.stage == "command-center"
    )
    assert cc_cycles == list(range(cc_cycles[0], cc_cycles[-1] + 1))  # none lost, none twice
    orders = [e for e in events if isinstance(e, ev.CommandIntercept)]
    assert len({(o.track_id, o.battery_id, o.time) for o in orders}) == len(orders)
    with factory() as s:
        cp = s.get(StageCheckpoint, (run, "command-center"))
        assert cp is not None and cp.cycle == cc_cycles[-1]
    engine.dispose()
