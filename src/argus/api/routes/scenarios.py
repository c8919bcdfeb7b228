"""Scenarios: list (paged with ``limit`` / ``cursor``), create, read, change, delete."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from argus.api.deps import Admin, Operator, SessionDep, Viewer
from argus.api.routes._common import (
    NAME_TAKEN,
    Cursor,
    Limit,
    ScenarioPath,
    _flush_or_409,
    _iso,
    _page,
    scenario_or_404,
)
from argus.api.schemas_resources import ScenarioOut, ScenarioPage, not_null
from argus.tewa import service
from argus.tewa.service import Scenario

router = APIRouter(tags=["resources"])


class ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    notes: str | None = None
    active: bool = True
    replay: bool = False


class ScenarioPatch(BaseModel):
    """Only the fields sent change. ``start_time``, ``end_time`` and ``notes`` may be set to
    null (cleared); ``name``, ``active`` and ``replay`` may not (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")
    name: str = not_null(min_length=1, max_length=200)
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    notes: str | None = None
    active: bool = not_null()
    replay: bool = not_null()


def scenario_json(sc: Scenario) -> dict[str, Any]:
    return {
        "id": sc.id,
        "name": sc.name,
        "start_time": _iso(sc.start_time),
        "end_time": _iso(sc.end_time),
        "notes": sc.notes,
        "doctrine": sc.doctrine,
        "active": sc.active,
        "replay": sc.replay,
        "created_at": _iso(sc.created_at),
        "updated_at": _iso(sc.updated_at),
    }


def _check_times(start: dt.datetime | None, end: dt.datetime | None) -> None:
    if start is not None and end is not None and end < start:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="end_time: must not be before start_time"
        )


@router.get("/api/scenarios", summary="List scenarios", response_model=ScenarioPage)
def list_scenarios(
    session: SessionDep, _: Viewer, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return _page(
        lambda after, n: service.list_scenarios(session, after=after, limit=n),
        limit,
        cursor,
        scenario_json,
    )


@router.post(
    "/api/scenarios",
    status_code=201,
    summary="Create a scenario (default model params come with it)",
    response_model=ScenarioOut,
    responses=NAME_TAKEN,
)
def create_scenario(session: SessionDep, _: Operator, body: ScenarioIn) -> dict[str, Any]:
    _check_times(body.start_time, body.end_time)
    taken = f"name: scenario {body.name!r} exists"
    if service.scenario_id_by_name(session, body.name) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=taken)
    sc = service.create_scenario(session, **body.model_dump())
    _flush_or_409(session, taken)
    return scenario_json(sc)


@router.get("/api/scenarios/{scenario_id}", summary="One scenario", response_model=ScenarioOut)
def get_scenario(session: SessionDep, _: Viewer, scenario_id: ScenarioPath) -> dict[str, Any]:
    return scenario_json(scenario_or_404(session, scenario_id))


@router.patch(
    "/api/scenarios/{scenario_id}",
    summary="Change a scenario",
    response_model=ScenarioOut,
    responses=NAME_TAKEN,
)
def patch_scenario(
    session: SessionDep, _: Operator, scenario_id: ScenarioPath, body: ScenarioPatch
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    changes = body.model_dump(exclude_unset=True)
    _check_times(changes.get("start_time", sc.start_time), changes.get("end_time", sc.end_time))
    service.update_scenario(session, sc, **changes)
    _flush_or_409(session, "name: another scenario has this name")
    return scenario_json(sc)


@router.delete(
    "/api/scenarios/{scenario_id}",
    status_code=204,
    summary="Delete a scenario and everything in it (admin)",
)
def delete_scenario(session: SessionDep, _: Admin, scenario_id: ScenarioPath) -> None:
    service.delete_scenario(session, scenario_or_404(session, scenario_id))
