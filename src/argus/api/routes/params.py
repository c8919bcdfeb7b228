"""Model params: a scenario's params, changing them, applying a doctrine preset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from argus.api.deps import Admin, SessionDep, Viewer
from argus.api.routes._common import ScenarioPath, scenario_or_404
from argus.api.schemas_resources import ParamsOut, not_null
from argus.tewa import service
from argus.tewa.service import Scenario

router = APIRouter(tags=["resources"])


class ParamsIn(BaseModel):
    """Only the fields sent change. A ``*_logistic`` ramp may be set to null (a linear
    normalization instead); the other fields may not (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")
    w_cpa: float = not_null(ge=0, le=1)
    w_tcpa: float = not_null(ge=0, le=1)
    w_tdb: float = not_null(ge=0, le=1)
    w_twrp: float = not_null(ge=0, le=1)
    cpa_scale_km: float = not_null(gt=0)
    tcpa_scale_s: float = not_null(gt=0)
    tdb_scale_km: float = not_null(gt=0)
    twrp_scale_s: float = not_null(gt=0)
    clamp_0_1: bool = not_null()
    weapon_range_km: float = not_null(gt=0)
    cpa_logistic: dict[str, float] | None = None
    tcpa_logistic: dict[str, float] | None = None
    tdb_logistic: dict[str, float] | None = None
    twrp_logistic: dict[str, float] | None = None
    use_track_quality: bool = not_null()


class PresetIn(BaseModel):
    preset: str


def _params_json(sc: Scenario, row: Any) -> dict[str, Any]:
    return {"scenario_id": sc.id, "doctrine": sc.doctrine, **service.params_as_dict(row)}


@router.get(
    "/api/scenarios/{scenario_id}/params",
    summary="The scenario's model params",
    response_model=ParamsOut,
)
def get_params(session: SessionDep, _: Viewer, scenario_id: ScenarioPath) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    return _params_json(sc, service.get_model_params(session, sc))


@router.put(
    "/api/scenarios/{scenario_id}/params",
    summary="Change model params (admin)",
    response_model=ParamsOut,
)
def put_params(
    session: SessionDep, _: Admin, scenario_id: ScenarioPath, body: ParamsIn
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    row = service.set_params(session, sc, **body.model_dump(exclude_unset=True))
    return _params_json(sc, row)


@router.post(
    "/api/scenarios/{scenario_id}/params/preset",
    summary="Apply a doctrine preset (admin)",
    response_model=ParamsOut,
)
def put_preset(
    session: SessionDep, _: Admin, scenario_id: ScenarioPath, body: PresetIn
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    row = service.apply_preset(session, sc, body.preset)
    return _params_json(sc, row)
