"""Playing a defense scenario file in the running pipeline (``POST /api/sim/scenario``,
``ARGUS_DEFENSE_SCENARIO_FILE``, ``argus demo defense --scenario FILE``).

The file is parsed and validated whole before anything changes; then its radars, batteries and
assets are committed as a scenario (``catalog.load_scenario_file``), and the runtime switches to
a new run of that scenario with the file's raid scripted (jammers from now on, air-breathers
flown now, ballistic launches at their ``launch_time_s`` after the switch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from argus.db.models import Scenario
from argus.db.session import session_scope
from argus.defense.service.catalog import load_scenario_file
from argus.defense.service.runtime import DefenseRuntime
from argus.scenario.defense import DefenseScenario, parse_defense_scenario
from argus.scenario.runner import ScenarioError
from argus.tewa.service.errors import InvalidInput


class ScenarioExists(Exception):
    """The file's scenario name is taken and ``replace`` was not asked for (409 in the API)."""


@dataclass(frozen=True)
class PlayedScenario:
    scenario_id: int
    name: str
    run_id: str
    radars: int
    batteries: int
    assets: int
    ballistic: int
    airbreathers: int
    jammers: int
    replaced: bool

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_scenario_text(text: str, origin: str = "scenario.toml") -> DefenseScenario:
    """The file, validated; errors name the table, row and field (422 in the API)."""
    try:
        ds = parse_defense_scenario(text, origin=origin)
    except ScenarioError as exc:
        raise InvalidInput(str(exc)) from None
    if not ds.scenario.radars:
        raise InvalidInput(f"{origin}: radar: a played scenario needs at least one [[radar]]")
    return ds


def scenario_exists(session: Session, name: str) -> bool:
    return session.scalar(select(Scenario.id).where(Scenario.name == name)) is not None


def play_scenario(
    factory: sessionmaker[Session],
    runtime: DefenseRuntime,
    ds: DefenseScenario,
    *,
    replace: bool = False,
) -> PlayedScenario:
    """Commit ``ds`` as a scenario and switch ``runtime`` to a new run of it with its raid.

    A name that exists is :class:`ScenarioExists` unless ``replace``. The running run is stopped
    before its scenario may be replaced (its rows are deleted with it) and restarted unchanged
    when loading the new one fails; a new scenario that was stored but cannot run (its script
    names a missile type the catalogue lacks, say) is deleted again."""
    sc = ds.scenario
    with factory() as s:
        exists = scenario_exists(s, sc.name)
    if exists and not replace:
        raise ScenarioExists(
            f"scenario: {sc.name!r} exists already (replace=true replaces it, admins only)"
        )
    was_running = runtime.running
    runtime.stop()
    sid = None
    try:
        with session_scope(factory) as s:
            sid = load_scenario_file(s, ds, replace=replace).id
        runtime.switch_scenario(sid, sc)
    except Exception:
        if sid is not None and not exists:  # a new scenario the runtime could not run: undone
            with session_scope(factory) as s:
                s.execute(delete(Scenario).where(Scenario.id == sid))
        if was_running:
            runtime.start()
        raise
    if was_running:
        runtime.start()
    return PlayedScenario(
        scenario_id=sid, name=sc.name, run_id=runtime.run_id, radars=len(sc.radars),
        batteries=len(ds.batteries), assets=len(ds.assets), ballistic=len(sc.ballistic),
        airbreathers=len(sc.airbreathers), jammers=len(sc.jammers), replaced=exists,
    )  # fmt: skip
