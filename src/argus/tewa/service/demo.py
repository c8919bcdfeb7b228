"""The demo scenario: its fixture path and an idempotent seed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.db.models import DefendedAsset, KillProbability, Track
from argus.tewa import demo
from argus.tewa.service.assignment import add_weapon, list_weapons, set_kill_probability
from argus.tewa.service.ingest import import_tracks
from argus.tewa.service.scenarios import attach_asset, get_or_create_scenario, upsert_defended_asset


def demo_tracks_path() -> Path:
    """The demo fixture shipped in the package (``argus/data/demo_tracks.csv``)."""
    return Path(str(resources.files("argus") / "data" / "demo_tracks.csv"))


@dataclass
class SeedReport:
    scenario_created: bool
    assets_attached: int
    samples_inserted: int
    weapons_added: int = 0


def seed_demo(session: Session) -> SeedReport:
    """Create (or complete) the demo scenario; running it again changes nothing."""
    scenario, created = get_or_create_scenario(
        session, demo.DEMO_SCENARIO, notes="Demo: two defended assets in Rajasthan, three tracks."
    )
    attached = 0
    for a in demo.DEMO_ASSETS:
        da = session.scalar(select(DefendedAsset).where(DefendedAsset.name == a.name))
        if da is None:
            da = upsert_defended_asset(session, a.name, lat=a.lat, lon=a.lon, radius_km=a.radius_km)
        attached += attach_asset(session, scenario, da)
    if scenario.start_time is None:
        scenario.start_time = demo.DEMO_START
        scenario.end_time = demo.DEMO_START + dt.timedelta(seconds=demo.DEMO_DURATION_S)
    scenario.replay = True  # the periodic job loops the recorded demo as if live
    report = import_tracks(session, demo_tracks_path(), demo.DEMO_SCENARIO)
    for tid, iff, cls in demo.DEMO_IDENTITIES:
        track = session.scalar(
            select(Track).where(Track.scenario_id == scenario.id, Track.track_id == tid)
        )
        if track is not None and track.iff == "unknown" and track.threat_class == "unknown":
            track.iff, track.threat_class = iff, cls
    weapons_added = 0
    existing = {w.call_sign for w in list_weapons(session, scenario)}
    for b in demo.DEMO_BATTERIES:
        if b["call_sign"] not in existing:
            add_weapon(session, scenario, **b)  # type: ignore[arg-type]
            weapons_added += 1
    for wt, tc, pk in demo.DEMO_KILL_PROBABILITIES:
        known = session.scalar(
            select(KillProbability.id).where(
                KillProbability.weapon_type == wt, KillProbability.threat_class == tc
            )
        )
        if known is None:
            set_kill_probability(session, wt, tc, pk=pk)
    session.flush()
    return SeedReport(
        scenario_created=created,
        assets_attached=attached,
        samples_inserted=report.inserted,
        weapons_added=weapons_added,
    )
