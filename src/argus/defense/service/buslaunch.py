"""Launches through the API when the pipeline runs as separate stage processes on the bus.

``argus serve`` with ``ARGUS_BUS_URL=nats://…`` and no in-process pipeline: ``POST
/api/sim/launch`` validates the launch exactly as the in-process runtime does (the missile type
from the database, the flight solved once so an unreachable target is a 422 naming the field),
commits the ``missile_flight`` row, then publishes ``missile.launched`` on the bus, where the
radar and interceptor stages (``argus stage radar|interceptor``) rebuild the same flight from
the event. If the publish fails the row is removed again and the caller gets 503: a launch is
either committed and on the bus, or neither.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from argus.db.models import MissileFlight, MissileType
from argus.db.session import session_scope
from argus.defense.service.catalog import find_demo_scenario
from argus.defense.service.runtime import flight_json
from argus.defense.service.stages import run_epoch
from argus.defense.service.store import record_launch
from argus.pipeline import events as ev
from argus.pipeline.world import LaunchError, World
from argus.tewa.service.errors import InvalidInput


class BusLauncher:
    """Plan, record and publish launches for stages that run on ``bus`` (see module doc)."""

    def __init__(self, factory: sessionmaker[Session], bus: Any) -> None:
        self.factory = factory
        self.bus = bus

    def plan_and_record(
        self,
        lat: float,
        lon: float,
        target_lat: float,
        target_lon: float,
        missile_type: str,
        *,
        trajectory: str = "minimum_energy",
        created_by: str | None = None,
        when: dt.datetime | None = None,
    ) -> tuple[ev.MissileLaunched, dict[str, Any]]:
        """The event and the committed row's JSON (blocking: the flight solve is ~1 s)."""
        when = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        with self.factory() as s:
            sid = find_demo_scenario(s)
            epoch = run_epoch(s, sid)
            types = {m.name: m for m in s.scalars(select(MissileType))}
        mt = types.get(missile_type)
        if mt is None:
            known = ", ".join(sorted(types))
            raise InvalidInput(
                f"missileType: unknown missile type {missile_type!r} (known: {known})"
            )
        event = ev.MissileLaunched(
            flight_id=str(uuid.uuid4()), missile_type=mt.name, catalogue_key=mt.catalogue_key,
            lat_deg=lat, lon_deg=lon, alt_m=0.0, target_lat_deg=target_lat,
            target_lon_deg=target_lon, trajectory=trajectory, scenario_id=sid, time=when,
        )  # fmt: skip
        # The same solve the radar stage will do from the event: here only to reject what
        # cannot fly and to know the impact time.
        world = World(epoch)
        try:
            flight = world.launch_ballistic(
                event.flight_id, mt.catalogue_key, lat, lon, target_lat, target_lon,
                at=when, shape=trajectory,  # type: ignore[arg-type]
            )  # fmt: skip
        except LaunchError as exc:
            raise InvalidInput(str(exc)) from None
        with session_scope(self.factory) as s:
            row = record_launch(s, event, world.when(flight.end_s), created_by=created_by)
            out = flight_json(row, mt.name)
        return event, out

    def forget(self, flight_id: str) -> None:
        """Undo a recorded launch whose event could not be published."""
        with session_scope(self.factory) as s:
            s.execute(delete(MissileFlight).where(MissileFlight.flight_id == flight_id))
