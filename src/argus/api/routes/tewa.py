"""TEWA endpoints at the guide's paths: compute_at, compute_now, ranking, score_breakdown,
score_history, assign; and the jobs they start."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from argus.api.deps import Operator, SessionDep, Viewer
from argus.api.errors import problem_responses
from argus.api.ranking_cache import accepts_gzip
from argus.api.routes._common import MAX_ID, scenario_or_404
from argus.api.schemas_tewa import (
    AssignmentOut,
    ComputeAtOut,
    JobOut,
    JobStarted,
    PresetOut,
    RankingOut,
    ScoreBreakdownOut,
    ScoreHistoryOut,
)
from argus.jobs import tasks
from argus.tewa import service
from argus.tewa.service import Job, Scenario
from argus.timefmt import iso_z

router = APIRouter(tags=["tewa"])

_NO_SCENARIO = "no scenario with that id"
_NO_PAIR = "no scenario with that id, no such track in it, or no such defended asset"


class ComputeAtRequest(BaseModel):
    scenario_id: int = Field(ge=1, le=MAX_ID)
    when: AwareDatetime = Field(description="ISO 8601 with a zone, e.g. 2025-06-01T06:03:00Z")
    da_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, description="defended assets (default: the scenario's set)"
    )
    weapon_range_km: float | None = Field(default=None, gt=0, description="override for this call")
    method: Literal["linear", "latest"] = "linear"
    persist: bool = Field(
        default=False,
        description="store the scores as a what-if (threat_score_what_if, read back with "
        "what_if=true); never the live board, which only live computations feed",
    )


class ComputeNowRequest(BaseModel):
    scenario_id: int = Field(ge=1, le=MAX_ID)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class AssignRequest(BaseModel):
    scenario_id: int = Field(ge=1, le=MAX_ID)
    at: AwareDatetime | None = Field(default=None, description="default: now")
    solver: Literal["auto", "exact", "heuristic", "greedy"] = "auto"
    hysteresis: float = Field(default=0.05, ge=0, le=1)
    persist: bool = False


@router.post(
    "/api/tewa/compute_at/",
    summary="Threat scores of every (track, DA) pair at a time",
    # documented, not validated again: the body holds one object per (track, DA) pair
    response_model=None,
    responses={
        200: {"model": ComputeAtOut, "description": "the scores (stored as what-ifs with persist)"},
        **problem_responses(
            {
                404: _NO_SCENARIO,
                422: "invalid body, or a da_ids entry not in the scenario's defended assets",
            }
        ),
    },
)
def compute_at(
    request: Request, session: SessionDep, _: Operator, body: ComputeAtRequest
) -> dict[str, Any]:
    sc = scenario_or_404(session, body.scenario_id)
    res = service.compute_at(
        session,
        sc,
        body.when,
        da_ids=body.da_ids,
        method=body.method,
        weapon_range_km=body.weapon_range_km,
        persist=body.persist,
        live=False,
    )
    if body.persist:
        session.commit()  # a what-if: not published to the live board's subscribers
    return res.as_json()


@router.post(
    "/api/tewa/compute_now/",
    summary="Compute a scenario now (202 + job when a broker is configured)",
    response_model=None,
    responses={
        200: {"model": JobStarted, "description": "computed in the request: the finished job"},
        202: {"model": JobStarted, "description": "queued on the broker; poll GET /api/jobs/{id}"},
        **problem_responses(
            {
                404: _NO_SCENARIO,
                500: "the computation failed (the job is recorded as failed)",
            }
        ),
    },
)
def compute_now(
    request: Request, session: SessionDep, user: Operator, body: ComputeNowRequest
) -> Any:
    sc = scenario_or_404(session, body.scenario_id)
    now = dt.datetime.now(dt.UTC)
    job, created = service.new_job(
        session,
        "compute_scenario",
        scenario_id=sc.id,
        params={"computed_at": now.isoformat()},
        idempotency_key=body.idempotency_key,
        caller=user.username,
    )
    if not created:
        return _job_response(job, repeated=True)
    session.commit()
    settings = request.app.state.settings
    if settings.broker_url:
        celery = request.app.state.celery
        celery.send_task("argus.compute_scenario", args=[sc.id, now.isoformat(), job.id])
        return JSONResponse(
            _job_body(job) | {"repeated": False}, status_code=status.HTTP_202_ACCEPTED
        )
    try:
        tasks.compute_scenario(settings.database_url, sc.id, now.isoformat(), job.id)
    except Exception as exc:
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR, detail=f"computation failed: {exc}"
        ) from None
    session.expire_all()
    refreshed = service.get_job(session, job.id)
    assert refreshed is not None
    return _job_response(refreshed)


def _job_body(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "kind": job.kind,
        "scenario_id": job.scenario_id,
        "status": job.status,
        "attempts": job.attempts,
        "result": job.result,
        "error": job.error,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "status_url": f"/api/jobs/{job.id}",
    }


def _job_response(job: Job, repeated: bool = False) -> Any:
    body = _job_body(job) | {"repeated": repeated}
    code = status.HTTP_200_OK if job.status in ("succeeded", "failed") else status.HTTP_202_ACCEPTED
    return JSONResponse(body, status_code=code)


@router.get(
    "/api/jobs/{job_id}",
    summary="A job's state and result",
    # the body as built (timestamps as stored), not re-serialized through the model
    response_model=None,
    responses={
        200: {"model": JobOut, "description": "the job"},
        **problem_responses({404: "no job with that id"}),
    },
)
def get_job(
    session: SessionDep,
    _: Viewer,
    job_id: Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")],
) -> dict[str, Any]:
    job = service.get_job(session, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"job_id: no job {job_id}")
    return _job_body(job)


@router.get(
    "/api/tewa/ranking/",
    summary="Latest-per-track threat ranking, per DA or global",
    response_class=JSONResponse,
    responses={
        200: {
            "model": RankingOut,
            "description": "The ranking; header X-Argus-Cache says whether it was computed "
            "for this request (miss) or served as rendered for the same scenario revision (hit)",
        },
        **problem_responses({404: _NO_SCENARIO}),
    },
)
async def ranking(
    request: Request,
    _: Viewer,
    scenario_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    da_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    top_n: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    at: Annotated[
        AwareDatetime | None, Query(description="latest scores at or before this time")
    ] = None,
    what_if: Annotated[
        bool,
        Query(
            description="rank the stored what-ifs (compute_at with persist) instead of the "
            "live scores; without at: each pair's most recently evaluated what-if"
        ),
    ] = False,
) -> Response:
    state = request.app.state
    # The hot path is one read of the scenario's revision, awaited on the event loop; a worker
    # thread and a session are used only when the body has to be rendered. Every score written
    # or deleted since, by any process, has moved the revision, so a cached body is never older
    # than what this request saw.
    rev = await service.scenario_revision_async(state.reader, scenario_id)
    if rev is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"scenario_id: no scenario {scenario_id}"
        )
    when = at.astimezone(dt.UTC) if at else None

    def render() -> dict[str, Any] | bytes:
        with state.sessionmaker() as session:
            sc = scenario_or_404(session, scenario_id)
            if not what_if and session.get_bind().dialect.name == "postgresql":
                # The global board "now": the body the batch's writer rendered for exactly
                # this revision, when it did (one small read, no re-rank after a batch).
                snap = (
                    service.ranking_snapshot_body(session, sc.id, rev)
                    if when is None and da_id is None and top_n is None
                    else None
                )
                # Else the database ranks and writes the JSON: this process only receives
                # it, so its event loop keeps serving cached bodies meanwhile (GIL free).
                results = (
                    snap
                    if snap is not None
                    else service.ranking_json_postgres(
                        session, sc, at=when, da_id=da_id, top_n=top_n
                    )
                )
                head = {"scenario_id": sc.id, "da_id": da_id, "at": iso_z(when) if when else None}
                return b"".join(
                    (
                        json.dumps(head)[:-1].encode(),
                        b', "what_if": false, "results": ',
                        results,
                        b"}",
                    )
                )
            ranked = service.rank(session, sc, at=when, da_id=da_id, top_n=top_n, what_if=what_if)
            return {
                "scenario_id": sc.id,
                "da_id": da_id,
                "at": iso_z(when) if when else None,
                "what_if": what_if,
                "results": [r.as_json() for r in ranked],
            }

    if what_if:  # what-ifs do not move the scenario's revision: rendered for each request
        body_json = await run_in_threadpool(render)
        return JSONResponse(body_json, headers={"X-Argus-Cache": "bypass"})
    key = (scenario_id, rev, da_id, top_n, when)
    cache = state.ranking_cache
    body, hit = cache.peek(key), True
    if body is None:
        body, hit = await run_in_threadpool(cache.get_or_render, key, render)
    headers = {"X-Argus-Cache": "hit" if hit else "miss", "Vary": "Accept-Encoding"}
    if accepts_gzip(request.headers.get("accept-encoding")):
        gz = cache.gzipped(key)  # compressed once per revision, when rendered
        if gz is not None:
            headers["Content-Encoding"] = "gzip"
            return Response(gz, media_type="application/json", headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _track_and_da(session: Session, sc: Scenario, track_id: str, da_id: int) -> None:
    """404 naming the field when the scenario has no such track or no such DA exists."""
    if service.find_track_pk(session, sc, track_id) is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"track_id: no track {track_id!r} in scenario {sc.name!r}",
        )
    if not service.defended_asset_exists(session, da_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"da_id: no defended asset {da_id}")


@router.get(
    "/api/tewa/score_breakdown/",
    summary="The latest score of a (track, DA) with its parts",
    response_model=ScoreBreakdownOut,
    responses=problem_responses({404: f"{_NO_PAIR}, or no score stored for the pair"}),
)
def score_breakdown(
    session: SessionDep,
    _: Viewer,
    scenario_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    track_id: Annotated[str, Query(min_length=1)],
    da_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    what_if: Annotated[
        bool, Query(description="the most recently evaluated stored what-if instead")
    ] = False,
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    _track_and_da(session, sc, track_id, da_id)
    # The score the board shows: the most recently evaluated live one (not the newest
    # described time: a replay scenario's "now" goes back after each loop).
    latest = service.latest_score(session, sc, track_id, da_id, what_if=what_if)
    if latest is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no {'what-if ' if what_if else ''}score stored for track {track_id!r} "
            f"and DA {da_id}",
        )
    params = service.params_as_dict(service.get_model_params(session, sc))
    # The weights stored with the score; rows from before revision 0005 fall back to today's.
    weights = latest.pop("weights") or {k: params[f"w_{k}"] for k in ("cpa", "tcpa", "tdb", "twrp")}
    return {
        "scenario_id": sc.id,
        "track_id": track_id,
        "da_id": da_id,
        **latest,
        "weights": weights,
        "contributions": {k: (latest[f"n_{k}"] or 0.0) * w for k, w in weights.items()},
        "params": params,
    }


@router.get(
    "/api/tewa/score_history/",
    summary="Stored scores of a (track, DA) over a time window",
    # documented, not validated again: a long window holds many rows
    response_model=None,
    responses={
        200: {"model": ScoreHistoryOut, "description": "the stored scores"},
        **problem_responses({404: _NO_PAIR}),
    },
)
def score_history(
    session: SessionDep,
    _: Viewer,
    scenario_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    track_id: Annotated[str, Query(min_length=1)],
    da_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    what_if: Annotated[
        bool, Query(description="the stored what-ifs instead of the live scores")
    ] = False,
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    _track_and_da(session, sc, track_id, da_id)
    return {
        "scenario_id": sc.id,
        "track_id": track_id,
        "da_id": da_id,
        "what_if": what_if,
        "results": service.score_history(
            session, sc, track_id, da_id, start=start, end=end, what_if=what_if
        ),
    }


@router.post(
    "/api/tewa/assign/",
    summary="Weapon assignment plan at a time",
    response_model=AssignmentOut,
    responses=problem_responses({404: _NO_SCENARIO}),
)
def assign(session: SessionDep, _: Operator, body: AssignRequest) -> dict[str, Any]:
    sc = scenario_or_404(session, body.scenario_id)
    # Default time: now — for a replay scenario, the point of the loop the live picture shows.
    when = body.at or service.scenario_time(sc, dt.datetime.now(dt.UTC))
    res = service.plan_assignment(
        session,
        sc,
        when,
        solver=body.solver,
        hysteresis=body.hysteresis,
        persist=body.persist,
    )
    return res.as_json()


@router.get(
    "/api/tewa/presets/",
    summary="Doctrine presets (weights and scales)",
    response_model=dict[str, PresetOut],
    response_model_exclude_unset=True,  # a preset lists only the params it sets
)
def list_presets(_: Viewer) -> dict[str, Any]:
    from argus.tewa.presets import DOCTRINE_PRESETS

    return {name: dict(values) for name, values in DOCTRINE_PRESETS.items()}
