"""Weapons: a scenario's fire units (list, add or replace by call sign)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from argus.api.deps import Operator, SessionDep, Viewer
from argus.api.routes._common import MAX_ID, ScenarioPath, _problem, scenario_or_404
from argus.api.schemas_resources import WeaponOut
from argus.tewa import service

router = APIRouter(tags=["resources"])


class WeaponIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_sign: str = Field(min_length=1, max_length=100)
    weapon_type: str = Field(min_length=1, max_length=60)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    rounds: int = Field(ge=0, le=MAX_ID)
    min_range_km: float = Field(default=0.0, ge=0)
    max_range_km: float = Field(gt=0)
    max_target_speed_mps: float = Field(default=1500.0, gt=0)
    fire_channels: int = Field(default=1, ge=1, le=MAX_ID)
    interceptor_speed_mps: float = Field(default=1000.0, gt=0)
    max_salvo: int = Field(
        default=2, ge=1, le=MAX_ID, description="most rounds at one target per engagement"
    )


def weapon_json(w: Any) -> dict[str, Any]:
    return {
        "id": w.id,
        "call_sign": w.call_sign,
        "weapon_type": w.weapon_type,
        "lat": w.lat,
        "lon": w.lon,
        "rounds": w.rounds,
        "min_range_km": w.min_range_km,
        "max_range_km": w.max_range_km,
        "max_target_speed_mps": w.max_target_speed_mps,
        "fire_channels": w.fire_channels,
        "interceptor_speed_mps": w.interceptor_speed_mps,
        "max_salvo": w.max_salvo,
    }


@router.get(
    "/api/scenarios/{scenario_id}/weapons",
    summary="The scenario's fire units",
    response_model=list[WeaponOut],
)
def list_weapons(session: SessionDep, _: Viewer, scenario_id: ScenarioPath) -> list[dict[str, Any]]:
    return [
        weapon_json(w) for w in service.list_weapons(session, scenario_or_404(session, scenario_id))
    ]


@router.post(
    "/api/scenarios/{scenario_id}/weapons",
    status_code=201,
    summary="Add or replace a fire unit (by call sign)",
    response_model=WeaponOut,
    responses={409: _problem("a concurrent request added this call sign first")},
)
def add_weapon(
    session: SessionDep, _: Operator, scenario_id: ScenarioPath, body: WeaponIn
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    try:
        w = service.add_weapon(session, sc, **body.model_dump())
    except IntegrityError:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"call_sign: {body.call_sign!r} was added by a concurrent request; try again",
        ) from None
    return weapon_json(w)
