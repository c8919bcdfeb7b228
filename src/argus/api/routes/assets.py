"""Defended assets: list (paged with ``limit`` / ``cursor``), create, change, delete; and a
scenario's DA set (read, replace)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from argus.api.deps import Admin, Operator, SessionDep, Viewer
from argus.api.routes._common import (
    MAX_ID,
    NAME_TAKEN,
    AssetPath,
    Cursor,
    Limit,
    ScenarioPath,
    _flush_or_409,
    _page,
    _problem,
    scenario_or_404,
)
from argus.api.schemas_resources import AssetOut, AssetPage, not_null
from argus.tewa import service
from argus.tewa.service import DefendedAsset

router = APIRouter(tags=["resources"])


class AssetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(ge=0)
    value: float = Field(default=1.0, ge=0)
    weapon_range_km: float | None = Field(default=None, gt=0)


class AssetPatch(BaseModel):
    """Only the fields sent change; ``weapon_range_km`` may be set to null (the scenario's
    params then apply), the others may not (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")
    name: str = not_null(min_length=1, max_length=200)
    lat: float = not_null(ge=-90, le=90)
    lon: float = not_null(ge=-180, le=180)
    radius_km: float = not_null(ge=0)
    value: float = not_null(ge=0)
    weapon_range_km: float | None = Field(default=None, gt=0)


def asset_json(a: DefendedAsset) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "lat": a.lat,
        "lon": a.lon,
        "radius_km": a.radius_km,
        "value": a.value,
        "weapon_range_km": a.weapon_range_km,
    }


def _asset_or_404(session: Session, da_id: int) -> DefendedAsset:
    da = service.find_asset(session, da_id)
    if da is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"da_id: no defended asset {da_id}")
    return da


@router.get("/api/assets", summary="List defended assets", response_model=AssetPage)
def list_assets(
    session: SessionDep, _: Viewer, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return _page(
        lambda after, n: service.list_assets(session, after=after, limit=n),
        limit,
        cursor,
        asset_json,
    )


@router.post(
    "/api/assets",
    status_code=201,
    summary="Create a defended asset",
    response_model=AssetOut,
    responses=NAME_TAKEN,
)
def create_asset(session: SessionDep, _: Operator, body: AssetIn) -> dict[str, Any]:
    taken = f"name: defended asset {body.name!r} exists"
    if service.asset_id_by_name(session, body.name) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=taken)
    da = service.create_asset(session, **body.model_dump())
    _flush_or_409(session, taken)
    return asset_json(da)


@router.patch(
    "/api/assets/{da_id}",
    summary="Change a defended asset",
    response_model=AssetOut,
    responses=NAME_TAKEN,
)
def patch_asset(
    session: SessionDep, _: Operator, da_id: AssetPath, body: AssetPatch
) -> dict[str, Any]:
    da = _asset_or_404(session, da_id)
    service.update_asset(session, da, **body.model_dump(exclude_unset=True))
    _flush_or_409(session, "name: another asset has this name")
    return asset_json(da)


@router.delete("/api/assets/{da_id}", status_code=204, summary="Delete a defended asset (admin)")
def delete_asset(session: SessionDep, _: Admin, da_id: AssetPath) -> None:
    service.delete_asset(session, _asset_or_404(session, da_id))


class AssetSet(BaseModel):
    da_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]]


@router.get(
    "/api/scenarios/{scenario_id}/assets",
    summary="The scenario's defended assets",
    response_model=list[AssetOut],
)
def scenario_assets(
    session: SessionDep, _: Viewer, scenario_id: ScenarioPath
) -> list[dict[str, Any]]:
    return [
        asset_json(a)
        for a in service.scenario_assets(session, scenario_or_404(session, scenario_id))
    ]


@router.put(
    "/api/scenarios/{scenario_id}/assets",
    summary="Set the scenario's defended assets",
    response_model=list[AssetOut],
    responses={409: _problem("a concurrent request changed the set at the same time")},
)
def set_scenario_assets(
    session: SessionDep, _: Operator, scenario_id: ScenarioPath, body: AssetSet
) -> list[dict[str, Any]]:
    sc = scenario_or_404(session, scenario_id)
    missing = [i for i in body.da_ids if not service.defended_asset_exists(session, i)]
    if missing:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"da_ids: unknown assets {missing}"
        )
    service.set_scenario_assets(session, sc, da_ids=body.da_ids)
    _flush_or_409(session, "da_ids: the set was changed by a concurrent request; try again")
    return [asset_json(a) for a in service.scenario_assets(session, sc)]
