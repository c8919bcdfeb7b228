"""Defense pipeline routes: the simulator (seed 002) and the real-time picture (seed 004).

``POST /api/sim/launch`` takes the seed's query parameters (``lat, lon, targetLat, targetLon,
missileType``) or the same fields as a JSON body. Every read needs a viewer token, a launch an
operator, a controller restart an admin. Without a running pipeline (``argus serve --pipeline``
or ``ARGUS_PIPELINE=true``; ``argus demo defense`` does both) the live endpoints answer 503
naming how to start it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from argus.accounts.service import role_at_least
from argus.api.deps import Admin, Operator, SessionDep, Viewer
from argus.api.routes._common import _problem
from argus.api.schemas_defense import (
    ControllerStatusOut,
    EwStatusOut,
    FlightDetailOut,
    FlightOut,
    LaunchIn,
    MetricsOut,
    PlayedScenarioOut,
    RadarStatusOut,
    ScanOut,
    SignalQualityOut,
    TargetsOut,
    ThreatHistoryOut,
    ThreatsOut,
    ThreatSummaryOut,
    TracksOut,
)
from argus.api.uploads import read_bounded_body
from argus.defense.service import runtime as defense
from argus.tewa.service.errors import InvalidInput, NotFoundError

router = APIRouter(tags=["defense"])

NOT_RUNNING: dict[int | str, dict[str, Any]] = {
    503: _problem("the defense pipeline is not running in this process")
}


def runtime_or_503(request: Request) -> defense.DefenseRuntime:
    rt = getattr(request.app.state, "defense", None)
    if rt is None:
        reason = getattr(request.app.state, "defense_error", None)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="defense pipeline not running: start it with `argus serve --pipeline` "
            "(ARGUS_PIPELINE=true) or `argus demo defense`" + (f" ({reason})" if reason else ""),
        )
    return rt


def _views(request: Request) -> defense.RuntimeViews:
    return defense.RuntimeViews(runtime_or_503(request))


# ---- simulator


async def _launch_on_bus(launcher: Any, data: LaunchIn, username: str) -> dict[str, Any]:
    """The stages run elsewhere (``argus stage …``): commit the flight, then publish it; a
    failed publish removes the row again (503), so a launch is both or neither."""
    event, out = await run_in_threadpool(
        launcher.plan_and_record, data.lat, data.lon, data.targetLat, data.targetLon,
        data.missileType, trajectory=data.trajectory, created_by=username,
    )  # fmt: skip
    try:
        await launcher.bus.publish(event)
    except Exception as exc:
        await run_in_threadpool(launcher.forget, event.flight_id)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"event bus: the launch could not be published ({exc}); nothing was stored",
        ) from None
    return out


@router.post(
    "/api/sim/launch",
    summary="Launch a threat in the running scenario",
    status_code=status.HTTP_201_CREATED,
    response_model=FlightOut,
    responses={
        422: _problem("a field is invalid or the target is out of the type's reach"),
        **NOT_RUNNING,
    },
)
async def launch(
    request: Request,
    user: Operator,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    targetLat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    targetLon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    missileType: Annotated[str | None, Query(min_length=1, max_length=60)] = None,
) -> dict[str, Any]:
    query = {k: v for k, v in {"lat": lat, "lon": lon, "targetLat": targetLat,
             "targetLon": targetLon, "missileType": missileType}.items() if v is not None}  # fmt: skip
    body: dict[str, Any] = {}
    raw = await read_bounded_body(request, 4096)
    if raw:
        try:
            import json

            body = json.loads(raw)
        except ValueError:
            raise HTTPException(422, detail="body: not JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(422, detail="body: expected a JSON object")
    try:
        data = LaunchIn.model_validate({**body, **query})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{loc}: {err['msg']}") from None  # problem+json naming the field
    launcher = getattr(request.app.state, "bus_launcher", None)
    if getattr(request.app.state, "defense", None) is None and launcher is not None:
        return await _launch_on_bus(launcher, data, user.username)
    rt = runtime_or_503(request)
    # InvalidInput (unknown missileType, target out of reach) → 422 whose `errors` names the field
    return await run_in_threadpool(
        rt.launch, data.lat, data.lon, data.targetLat, data.targetLon, data.missileType,
        trajectory=data.trajectory, created_by=user.username,
    )  # fmt: skip


@router.get(
    "/api/sim/flights", summary="Launched flights, newest first", response_model=list[FlightOut]
)
def flights(
    session: SessionDep,
    _: Viewer,
    scenario_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return defense.list_flights(session, scenario_id, limit)


@router.get(
    "/api/sim/flights/{flight_id}",
    summary="One flight: state, events and outcome",
    response_model=FlightDetailOut,
    responses={404: _problem("no such flight")},
)
def flight(
    session: SessionDep,
    _: Viewer,
    flight_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")],
) -> dict[str, Any]:
    try:
        return defense.get_flight(session, flight_id)
    except NotFoundError as exc:
        raise HTTPException(404, detail=str(exc)) from None


# ---- radar


@router.get("/api/radar/status", response_model=RadarStatusOut, responses=NOT_RUNNING)
def radar_status(request: Request, _: Viewer) -> dict[str, Any]:
    return _views(request).radar_status()


@router.get(
    "/api/radar/targets",
    summary="Simulation truth",
    response_model=TargetsOut,
    responses=NOT_RUNNING,
)
def radar_targets(request: Request, _: Viewer) -> dict[str, Any]:
    f = _views(request).frame
    return {"time": f["time"], "targets": f["truth"]}


@router.get("/api/radar/tracks", response_model=TracksOut, responses=NOT_RUNNING)
def radar_tracks(request: Request, _: Viewer) -> dict[str, Any]:
    v = _views(request)
    return {"time": v.frame["time"], "tracks": v.tracks()}


@router.get(
    "/api/radar/scan",
    summary="The last cycle's plots",
    response_model=ScanOut,
    responses=NOT_RUNNING,
)
def radar_scan(
    request: Request, _: Viewer, limit: Annotated[int, Query(ge=1, le=5000)] = 500
) -> dict[str, Any]:
    return _views(request).scan(limit)


@router.get("/api/radar/signal-quality", response_model=SignalQualityOut, responses=NOT_RUNNING)
def radar_signal_quality(request: Request, _: Viewer) -> dict[str, Any]:
    return _views(request).signal_quality()


# ---- threats


@router.get("/api/threats/active", response_model=ThreatsOut, responses=NOT_RUNNING)
def threats_active(request: Request, _: Viewer) -> dict[str, Any]:
    v = _views(request)
    return {"time": v.frame["time"], "threats": v.tracks(min_level=1)}


@router.get("/api/threats/critical", response_model=ThreatsOut, responses=NOT_RUNNING)
def threats_critical(request: Request, _: Viewer) -> dict[str, Any]:
    v = _views(request)
    return {"time": v.frame["time"], "threats": v.tracks(only="critical")}


@router.get("/api/threats/summary", response_model=ThreatSummaryOut, responses=NOT_RUNNING)
def threats_summary(request: Request, session: SessionDep, _: Viewer) -> dict[str, Any]:
    return _views(request).summary(session)


@router.get("/api/threats/history", response_model=ThreatHistoryOut, responses=NOT_RUNNING)
def threats_history(
    request: Request,
    session: SessionDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> dict[str, Any]:
    return {"changes": _views(request).history(session, limit)}


@router.get("/api/threats/ew-status", response_model=EwStatusOut, responses=NOT_RUNNING)
def threats_ew(request: Request, session: SessionDep, _: Viewer) -> dict[str, Any]:
    return _views(request).ew_status(session)


# ---- metrics and controller

MetricArea = Literal["radar", "detection", "tracking", "threats", "ew", "pipeline", "system"]


@router.get("/api/metrics/{area}", response_model=MetricsOut, responses=NOT_RUNNING)
def metrics(request: Request, _: Viewer, area: MetricArea) -> dict[str, Any]:
    return _views(request).metrics(area)


#: Largest defense scenario file ``POST /api/sim/scenario`` reads (the example is ~4 KB).
MAX_SCENARIO_BYTES = 256 * 1024


@router.post(
    "/api/sim/scenario",
    summary="Play a defense scenario file in the running pipeline",
    status_code=status.HTTP_201_CREATED,
    response_model=PlayedScenarioOut,
    responses={
        409: _problem("a scenario of that name exists and replace=true was not asked for"),
        413: _problem(f"the file is larger than {MAX_SCENARIO_BYTES} bytes"),
        422: _problem("the file is not a valid defense scenario (the message names the field)"),
        **NOT_RUNNING,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/toml": {"schema": {"type": "string"}}},
            "description": "a defense scenario TOML (src/argus/scenario/examples/defense.toml)",
        }
    },
)
async def play_scenario(
    request: Request,
    user: Operator,
    replace: Annotated[
        bool, Query(description="replace a scenario of the same name (admins only)")
    ] = False,
) -> dict[str, Any]:
    """The file's radars, batteries and assets become a scenario and the pipeline restarts on a
    new run of it, playing its raid (ballistic launches at their ``launch_time_s`` after now).
    An operator may play a new scenario; replacing an existing one deletes its rows and needs an
    admin."""
    from argus.defense.service.play import ScenarioExists, parse_scenario_text
    from argus.defense.service.play import play_scenario as play

    rt = runtime_or_503(request)
    if replace and not role_at_least(user.role, "admin"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"replace: needs role admin or higher; {user.username} is {user.role}",
        )
    raw = await read_bounded_body(request, MAX_SCENARIO_BYTES, what="scenario file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"scenario file: not UTF-8 text (byte {exc.start})") from None
    ds = parse_scenario_text(text)
    try:
        played = await run_in_threadpool(
            play, request.app.state.sessionmaker, rt, ds, replace=replace
        )
    except ScenarioExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except (LookupError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(f"scenario: cannot run it: {exc}") from None
    return played.as_json()


@router.get("/api/controller/status", response_model=ControllerStatusOut, responses=NOT_RUNNING)
def controller_status(request: Request, _: Viewer) -> dict[str, Any]:
    return runtime_or_503(request).status()


@router.post("/api/controller/restart", response_model=ControllerStatusOut, responses=NOT_RUNNING)
async def controller_restart(request: Request, _: Admin) -> dict[str, Any]:
    rt = runtime_or_503(request)
    await run_in_threadpool(rt.stop)
    rt.start()
    return rt.status()


__all__ = ["router", "runtime_or_503"]
