"""Resources: scenarios, defended assets (and a scenario's DA set), tracks, samples, model params,
weapons, CSV upload of tracks and CSV export of scores. Lists page with ``limit`` / ``cursor``."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from argus.api.deps import Admin, Operator, SessionDep, Viewer
from argus.api.routes.tewa import MAX_ID, scenario_or_404
from argus.db.models import (
    DefendedAsset,
    Scenario,
    ScenarioAsset,
    ThreatScore,
    Track,
    TrackSample,
    Weapon,
)
from argus.tewa import service
from argus.tewa.ingest import parse_track_text

router = APIRouter(tags=["resources"])

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
ScenarioPath = Annotated[int, Path(ge=1, le=MAX_ID, description="scenario id")]
AssetPath = Annotated[int, Path(ge=1, le=MAX_ID, description="defended asset id")]
Cursor = Annotated[
    str | None, Query(description="opaque cursor from the previous page's next_cursor")
]


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())["after"])
    except Exception:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="cursor: not a cursor this API issued"
        ) from None


def _encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _page(
    session: Session, stmt: Any, id_col: Any, limit: int, cursor: str | None, to_json: Any
) -> dict[str, Any]:
    after = _decode_cursor(cursor)
    rows = list(session.scalars(stmt.where(id_col > after).order_by(id_col).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [to_json(r) for r in rows],
        "next_cursor": _encode_cursor(rows[-1].id) if more else None,
    }


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


# ---- scenarios ----


class ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    notes: str | None = None
    active: bool = True
    replay: bool = False


class ScenarioPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    notes: str | None = None
    active: bool | None = None
    replay: bool | None = None


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


@router.get("/api/scenarios", summary="List scenarios")
def list_scenarios(
    session: SessionDep, _: Viewer, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return _page(session, select(Scenario), Scenario.id, limit, cursor, scenario_json)


@router.post(
    "/api/scenarios",
    status_code=201,
    summary="Create a scenario (default model params come with it)",
)
def create_scenario(session: SessionDep, _: Operator, body: ScenarioIn) -> dict[str, Any]:
    _check_times(body.start_time, body.end_time)
    if session.scalar(select(Scenario.id).where(Scenario.name == body.name)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"name: scenario {body.name!r} exists")
    sc = Scenario(**body.model_dump())
    session.add(sc)
    session.flush()
    return scenario_json(sc)


@router.get("/api/scenarios/{scenario_id}", summary="One scenario")
def get_scenario(session: SessionDep, _: Viewer, scenario_id: ScenarioPath) -> dict[str, Any]:
    return scenario_json(scenario_or_404(session, scenario_id))


@router.patch("/api/scenarios/{scenario_id}", summary="Change a scenario")
def patch_scenario(
    session: SessionDep, _: Operator, scenario_id: ScenarioPath, body: ScenarioPatch
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    changes = body.model_dump(exclude_unset=True)
    _check_times(changes.get("start_time", sc.start_time), changes.get("end_time", sc.end_time))
    for k, v in changes.items():
        setattr(sc, k, v)
    try:
        session.flush()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="name: another scenario has this name"
        ) from None
    return scenario_json(sc)


@router.delete(
    "/api/scenarios/{scenario_id}",
    status_code=204,
    summary="Delete a scenario and everything in it (admin)",
)
def delete_scenario(session: SessionDep, _: Admin, scenario_id: ScenarioPath) -> None:
    session.delete(scenario_or_404(session, scenario_id))


# ---- defended assets ----


class AssetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(ge=0)
    value: float = Field(default=1.0, ge=0)
    weapon_range_km: float | None = Field(default=None, gt=0)


class AssetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, ge=0)
    value: float | None = Field(default=None, ge=0)
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
    da = session.get(DefendedAsset, da_id)
    if da is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"da_id: no defended asset {da_id}")
    return da


@router.get("/api/assets", summary="List defended assets")
def list_assets(
    session: SessionDep, _: Viewer, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return _page(session, select(DefendedAsset), DefendedAsset.id, limit, cursor, asset_json)


@router.post("/api/assets", status_code=201, summary="Create a defended asset")
def create_asset(session: SessionDep, _: Operator, body: AssetIn) -> dict[str, Any]:
    if session.scalar(select(DefendedAsset.id).where(DefendedAsset.name == body.name)) is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"name: defended asset {body.name!r} exists"
        )
    da = DefendedAsset(**body.model_dump())
    session.add(da)
    session.flush()
    return asset_json(da)


@router.patch("/api/assets/{da_id}", summary="Change a defended asset")
def patch_asset(
    session: SessionDep, _: Operator, da_id: AssetPath, body: AssetPatch
) -> dict[str, Any]:
    da = _asset_or_404(session, da_id)
    for k, v in body.model_dump(exclude_unset=True).items():
        setattr(da, k, v)
    try:
        session.flush()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="name: another asset has this name"
        ) from None
    return asset_json(da)


@router.delete("/api/assets/{da_id}", status_code=204, summary="Delete a defended asset (admin)")
def delete_asset(session: SessionDep, _: Admin, da_id: AssetPath) -> None:
    session.delete(_asset_or_404(session, da_id))


class AssetSet(BaseModel):
    da_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]]


@router.get("/api/scenarios/{scenario_id}/assets", summary="The scenario's defended assets")
def scenario_assets(
    session: SessionDep, _: Viewer, scenario_id: ScenarioPath
) -> list[dict[str, Any]]:
    return [
        asset_json(a)
        for a in service.scenario_assets(session, scenario_or_404(session, scenario_id))
    ]


@router.put("/api/scenarios/{scenario_id}/assets", summary="Set the scenario's defended assets")
def set_scenario_assets(
    session: SessionDep, _: Operator, scenario_id: ScenarioPath, body: AssetSet
) -> list[dict[str, Any]]:
    sc = scenario_or_404(session, scenario_id)
    missing = [i for i in body.da_ids if session.get(DefendedAsset, i) is None]
    if missing:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"da_ids: unknown assets {missing}"
        )
    for link in session.scalars(select(ScenarioAsset).where(ScenarioAsset.scenario_id == sc.id)):
        session.delete(link)
    session.flush()
    for i in sorted(set(body.da_ids)):
        session.add(ScenarioAsset(scenario_id=sc.id, da_id=i))
    session.flush()
    return [asset_json(a) for a in service.scenario_assets(session, sc)]


# ---- tracks and samples ----


def track_json(t: Track) -> dict[str, Any]:
    return {
        "id": t.id,
        "track_id": t.track_id,
        "lat": t.lat,
        "lon": t.lon,
        "alt_m": t.alt_m,
        "speed_mps": t.speed_mps,
        "heading_deg": t.heading_deg,
        "iff": t.iff,
        "threat_class": t.threat_class,
        "quality": t.quality,
        "updated_at": _iso(t.updated_at),
    }


@router.get(
    "/api/scenarios/{scenario_id}/tracks", summary="The scenario's tracks with their latest state"
)
def list_tracks(
    session: SessionDep,
    _: Viewer,
    scenario_id: ScenarioPath,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    return _page(
        session,
        select(Track).where(Track.scenario_id == sc.id),
        Track.id,
        limit,
        cursor,
        track_json,
    )


class TrackPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iff: Literal["hostile", "unknown", "friendly"] | None = None
    threat_class: str | None = Field(default=None, min_length=1, max_length=40)
    quality: float | None = Field(default=None, ge=0, le=1)


@router.patch(
    "/api/scenarios/{scenario_id}/tracks/{track_id}",
    summary="Set a track's IFF, threat class or quality",
)
def patch_track(
    session: SessionDep, _: Operator, scenario_id: ScenarioPath, track_id: str, body: TrackPatch
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    t = service.set_track_identity(session, sc, track_id, **body.model_dump(exclude_unset=True))
    return track_json(t)


@router.get(
    "/api/scenarios/{scenario_id}/tracks/{track_id}/samples",
    summary="A track's samples in a time window",
)
def list_samples(
    session: SessionDep,
    _: Viewer,
    scenario_id: ScenarioPath,
    track_id: str,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    limit: Limit = 500,
    cursor: Cursor = None,
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    t = session.scalar(select(Track).where(Track.scenario_id == sc.id, Track.track_id == track_id))
    if t is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"track_id: no track {track_id!r} in scenario {sc.id}"
        )
    stmt = select(TrackSample).where(TrackSample.track_id == t.id)
    if start is not None:
        stmt = stmt.where(TrackSample.t >= start)
    if end is not None:
        stmt = stmt.where(TrackSample.t <= end)

    def js(s: TrackSample) -> dict[str, Any]:
        return {
            "t": _iso(s.t),
            "lat": s.lat,
            "lon": s.lon,
            "alt_m": s.alt_m,
            "speed_mps": s.speed_mps,
            "heading_deg": s.heading_deg,
        }

    return _page(session, stmt, TrackSample.id, limit, cursor, js)


@router.post(
    "/api/scenarios/{scenario_id}/tracks/upload",
    summary="Upload a track CSV (same validation and error report as the CLI)",
    responses={
        413: {"description": "file larger than ARGUS_UPLOAD_MAX_BYTES"},
        422: {"description": "rejected rows, each with line, column, value and reason"},
    },
)
async def upload_tracks(
    request: Request,
    session: SessionDep,
    _: Operator,
    scenario_id: ScenarioPath,
    file: Annotated[
        UploadFile,
        File(description="CSV with track_id, lat, lon, alt_m, speed_mps, heading_deg, timestamp"),
    ],
    partial: Annotated[bool, Form(description="keep the good rows, report the bad")] = False,
) -> dict[str, Any]:
    limit = request.app.state.settings.upload_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, detail=f"file: larger than {limit} bytes"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"file: not UTF-8 text (byte {exc.start})"
        ) from None
    fmt: Literal["csv", "jsonl"] = (
        "jsonl" if (file.filename or "").lower().endswith((".jsonl", ".ndjson")) else "csv"
    )
    parsed = parse_track_text(text, fmt)  # TrackFileError (header problems) becomes problem+json
    sc = scenario_or_404(session, scenario_id)
    report = service.import_tracks(session, parsed, sc.name, partial=partial, create_scenario=False)
    return report.as_dict()


@router.get(
    "/api/scenarios/{scenario_id}/scores.csv",
    summary="Export stored threat scores as CSV",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}
    },
)
def export_scores(
    session: SessionDep,
    _: Viewer,
    scenario_id: ScenarioPath,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
) -> StreamingResponse:
    sc = scenario_or_404(session, scenario_id)
    stmt = (
        select(
            ThreatScore.computed_at,
            Track.track_id,
            DefendedAsset.name,
            *(getattr(ThreatScore, f) for f in service.SCORE_FIELDS),
        )
        .join(Track, Track.id == ThreatScore.track_id)
        .join(DefendedAsset, DefendedAsset.id == ThreatScore.da_id)
        .where(ThreatScore.scenario_id == sc.id)
        .order_by(ThreatScore.computed_at, Track.track_id, DefendedAsset.name)
    )
    if start is not None:
        stmt = stmt.where(ThreatScore.computed_at >= start)
    if end is not None:
        stmt = stmt.where(ThreatScore.computed_at <= end)
    rows = session.execute(stmt).all()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["computed_at", "track_id", "da_name", *service.SCORE_FIELDS])
    for r in rows:
        w.writerow([_iso(r[0]), *("" if v is None else v for v in r[1:])])
    name = f"scores-{sc.name}.csv".replace(" ", "_")
    return StreamingResponse(
        iter([buf.getvalue()]),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- params ----


class ParamsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    w_cpa: float | None = Field(default=None, ge=0, le=1)
    w_tcpa: float | None = Field(default=None, ge=0, le=1)
    w_tdb: float | None = Field(default=None, ge=0, le=1)
    w_twrp: float | None = Field(default=None, ge=0, le=1)
    cpa_scale_km: float | None = Field(default=None, gt=0)
    tcpa_scale_s: float | None = Field(default=None, gt=0)
    tdb_scale_km: float | None = Field(default=None, gt=0)
    twrp_scale_s: float | None = Field(default=None, gt=0)
    clamp_0_1: bool | None = None
    weapon_range_km: float | None = Field(default=None, gt=0)
    cpa_logistic: dict[str, float] | None = None
    tcpa_logistic: dict[str, float] | None = None
    tdb_logistic: dict[str, float] | None = None
    twrp_logistic: dict[str, float] | None = None
    use_track_quality: bool | None = None


class PresetIn(BaseModel):
    preset: str


@router.get("/api/scenarios/{scenario_id}/params", summary="The scenario's model params")
def get_params(session: SessionDep, _: Viewer, scenario_id: ScenarioPath) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    return {
        "scenario_id": sc.id,
        "doctrine": sc.doctrine,
        **service.params_as_dict(service.get_model_params(session, sc)),
    }


@router.put("/api/scenarios/{scenario_id}/params", summary="Change model params (admin)")
def put_params(
    session: SessionDep, _: Admin, scenario_id: ScenarioPath, body: ParamsIn
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    row = service.set_params(session, sc, **body.model_dump(exclude_unset=True))
    return {"scenario_id": sc.id, "doctrine": sc.doctrine, **service.params_as_dict(row)}


@router.post(
    "/api/scenarios/{scenario_id}/params/preset", summary="Apply a doctrine preset (admin)"
)
def put_preset(
    session: SessionDep, _: Admin, scenario_id: ScenarioPath, body: PresetIn
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    row = service.apply_preset(session, sc, body.preset)
    return {"scenario_id": sc.id, "doctrine": sc.doctrine, **service.params_as_dict(row)}


# ---- weapons ----


class WeaponIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_sign: str = Field(min_length=1, max_length=100)
    weapon_type: str = Field(min_length=1, max_length=60)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    rounds: int = Field(ge=0)
    min_range_km: float = Field(default=0.0, ge=0)
    max_range_km: float = Field(gt=0)
    max_target_speed_mps: float = Field(default=1500.0, gt=0)
    fire_channels: int = Field(default=1, ge=1)
    interceptor_speed_mps: float = Field(default=1000.0, gt=0)
    max_salvo: int = Field(default=2, ge=1, description="most rounds at one target per engagement")


def weapon_json(w: Weapon) -> dict[str, Any]:
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


@router.get("/api/scenarios/{scenario_id}/weapons", summary="The scenario's fire units")
def list_weapons(session: SessionDep, _: Viewer, scenario_id: ScenarioPath) -> list[dict[str, Any]]:
    return [
        weapon_json(w) for w in service.list_weapons(session, scenario_or_404(session, scenario_id))
    ]


@router.post(
    "/api/scenarios/{scenario_id}/weapons",
    status_code=201,
    summary="Add or replace a fire unit (by call sign)",
)
def add_weapon(
    session: SessionDep, _: Operator, scenario_id: ScenarioPath, body: WeaponIn
) -> dict[str, Any]:
    sc = scenario_or_404(session, scenario_id)
    return weapon_json(service.add_weapon(session, sc, **body.model_dump()))


@router.get(
    "/api/scenarios/{scenario_id}/picture",
    summary="Every track's state at a time, with a short trail (for maps)",
)
def picture(
    session: SessionDep, _: Viewer, scenario_id: ScenarioPath, at: AwareDatetime | None = None
) -> dict[str, Any]:
    """``at`` defaults to now — for a replay scenario, the point of the loop the periodic job is at."""
    from argus.jobs.tasks import scenario_time

    sc = scenario_or_404(session, scenario_id)
    when = at or scenario_time(sc, dt.datetime.now(dt.UTC))
    return {
        "scenario_id": sc.id,
        "at": _iso(when),
        "tracks": service.track_picture(session, sc, when),
    }
