"""The picture: every track's state at a time, with a short trail (for maps)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime

from argus.api.deps import SessionDep, Viewer
from argus.api.routes._common import ScenarioPath, _iso, scenario_or_404
from argus.api.schemas_resources import PictureOut
from argus.tewa import service

router = APIRouter(tags=["resources"])


@router.get(
    "/api/scenarios/{scenario_id}/picture",
    summary="Every track's state at a time, with a short trail (for maps)",
    response_model=PictureOut,
)
def picture(
    session: SessionDep, _: Viewer, scenario_id: ScenarioPath, at: AwareDatetime | None = None
) -> dict[str, Any]:
    """``at`` defaults to now — for a replay scenario, the point of the loop the periodic job is at."""
    sc = scenario_or_404(session, scenario_id)
    when = at or service.scenario_time(sc, dt.datetime.now(dt.UTC))
    return {
        "scenario_id": sc.id,
        "at": _iso(when),
        "tracks": service.track_picture(session, sc, when),
    }
