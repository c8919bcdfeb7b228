"""The same raid with every stage a subscriber on NATS JetStream and PostgreSQL/PostGIS as the
database: radar, command centre, battery, interceptor and the recorder talk only through the
bus (one process here; ``argus stage …`` runs each in its own). The radar runs in lockstep
(each cycle flown before the next), so the run is as fast as the slowest stage."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from argus.db.models import PipelineEvent, Scenario
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.defense.service.catalog import DEMO_ASSETS, DEMO_RAID
from argus.defense.service.stages import build_stage
from argus.defense.service.store import record_launch
from argus.pipeline import events as ev
from argus.pipeline.asyncbus import NatsBus
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
        events = [ev.decode(p.subject, __import__("json").dumps(p.payload)) for p in rows]
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
