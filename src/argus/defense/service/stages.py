"""Build one bus stage from the database: the run's configuration, its classifier, its order
book (``argus stage …`` and the multi-process tests use this)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from argus.db.models import Scenario
from argus.db.session import session_scope
from argus.defense.envelope import engagement_envelope
from argus.defense.service.models import WindowClassifier, load_classifier
from argus.defense.service.store import (
    DbCheckpoint,
    DbOrderBook,
    load_config,
    record_events,
    record_impacts,
)
from argus.pipeline import events as ev
from argus.pipeline.interceptors import InterceptorStage
from argus.pipeline.runner import (
    BatteryRunner,
    CommandCenterRunner,
    InterceptorRunner,
    RadarRunner,
    RecorderRunner,
    cycle_at,
)
from argus.pipeline.stages import BatteryStage, CommandCenter, RadarStage
from argus.pipeline.world import World
from argus.tewa.service.errors import NotFoundError

STAGE_NAMES = ("radar", "command-center", "battery", "interceptor", "broadcast")


def run_epoch(session: Session, scenario_id: int) -> dt.datetime:
    """The run's t = 0: the scenario's start time (every process agrees on it)."""
    sc = session.get(Scenario, scenario_id)
    if sc is None:
        raise NotFoundError(f"scenario_id: no scenario {scenario_id}")
    if sc.start_time is None:
        raise ValueError(f"scenario {sc.name!r} has no start_time: the stages need a common epoch")
    return sc.start_time


def build_stage(
    name: str,
    factory: sessionmaker[Session],
    scenario_id: int,
    run_tag: str,
    bus: Any,
    *,
    sites: list[str] | None = None,
    call_signs: list[str] | None = None,
    scan_interval_s: float = 0.5,
    detection_threshold_db: float = 12.0,
    lockstep: bool = False,
    realtime: bool = True,
    start_cycle: int | None = None,
) -> Any:
    if name not in STAGE_NAMES:
        raise ValueError(f"stage: expected one of {', '.join(STAGE_NAMES)}, got {name!r}")
    with factory() as s:
        cfg = load_config(
            s, scenario_id, run_tag, scan_interval_s=scan_interval_s,
            detection_threshold_db=detection_threshold_db,
        )  # fmt: skip
        epoch = run_epoch(s, scenario_id)
        classifier = WindowClassifier(load_classifier(s)) if name == "command-center" else None
    if name == "radar":
        world = World(epoch)
        first = (
            cycle_at(cfg, epoch, dt.datetime.now(dt.UTC)) if start_cycle is None else start_cycle
        )
        return RadarRunner(
            bus, RadarStage(cfg, world, sites), start_cycle=first, lockstep=lockstep,
            realtime=realtime,
        )  # fmt: skip
    if name == "command-center":
        assert classifier is not None
        cc = CommandCenter(
            cfg, epoch, classifier, DbOrderBook(factory, scenario_id), engagement_envelope
        )
        return CommandCenterRunner(
            bus, cc, checkpoint=DbCheckpoint(factory, run_tag, "command-center")
        )
    if name == "battery":
        return BatteryRunner(bus, BatteryStage(cfg, call_signs))
    if name == "interceptor":
        return InterceptorRunner(bus, InterceptorStage(cfg, World(epoch)))
    world = World(epoch)

    def record(events: list[ev.Event]) -> None:
        with session_scope(factory) as s:
            record_events(s, events, run_tag)
            ended = []
            for e in events:
                if isinstance(e, ev.MissileLaunched) and e.flight_id not in world:
                    from argus.pipeline.stages import launch_into_world

                    launch_into_world(world, e)
                if isinstance(e, ev.PipelineCycleComplete) and e.stage == "interceptor":
                    ended += world.impacts(e.t1_s or 0.0)
                if (
                    isinstance(e, ev.InterceptorDetonation)
                    and e.kill
                    and e.target_flight_id in world
                ):
                    world.kill(e.target_flight_id or "", world.seconds(e.time))
            if ended:
                record_impacts(s, ended, events[-1].time)

    return RecorderRunner(bus, record)
