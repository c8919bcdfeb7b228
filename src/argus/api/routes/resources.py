"""Resources: scenarios, defended assets (and a scenario's DA set), tracks, samples, model params,
weapons, CSV upload of tracks and CSV export of scores. Lists page with ``limit`` / ``cursor``."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from argus.api.deps import Admin, Operator, SessionDep, Viewer
from argus.api.errors import PROBLEM_JSON, Problem
from argus.api.routes.tewa import MAX_ID, scenario_or_404
from argus.api.schemas_resources import (
    AssetOut,
    AssetPage,
    ParamsOut,
    PictureOut,
    SamplePage,
    ScenarioOut,
    ScenarioPage,
    TrackOut,
    TrackPage,
    UploadReport,
    WeaponOut,
    not_null,
)
from argus.api.uploads import read_upload
from argus.db.models import (
    DefendedAsset,
    Scenario,
    ScenarioAsset,
    ThreatScore,
    Track,
    TrackSample,
    Weapon,
)
from argus.db.models.tewa import ThreatScoreWhatIf
from argus.db.session import session_scope
from argus.tewa import service
from argus.tewa.ingest import parse_track_text

router = APIRouter(tags=["resources"])


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
    }


NAME_TAKEN: dict[int | str, dict[str, Any]] = {
    409: _problem("the name is taken (also when a concurrent request took it first)")
}

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


def _flush_or_409(session: Session, detail: str) -> None:
    """Flush, turning a unique-constraint violation into a 409.

    The check before an insert cannot see a concurrent request's uncommitted row: the loser of
    such a race fails here (or at commit, which the app-wide IntegrityError handler answers)."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=detail) from None


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
    return _page(session, select(Scenario), Scenario.id, limit, cursor, scenario_json)


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
    if session.scalar(select(Scenario.id).where(Scenario.name == body.name)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=taken)
    sc = Scenario(**body.model_dump())
    session.add(sc)
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
    for k, v in changes.items():
        setattr(sc, k, v)
    _flush_or_409(session, "name: another scenario has this name")
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
    da = session.get(DefendedAsset, da_id)
    if da is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"da_id: no defended asset {da_id}")
    return da


@router.get("/api/assets", summary="List defended assets", response_model=AssetPage)
def list_assets(
    session: SessionDep, _: Viewer, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return _page(session, select(DefendedAsset), DefendedAsset.id, limit, cursor, asset_json)


@router.post(
    "/api/assets",
    status_code=201,
    summary="Create a defended asset",
    response_model=AssetOut,
    responses=NAME_TAKEN,
)
def create_asset(session: SessionDep, _: Operator, body: AssetIn) -> dict[str, Any]:
    taken = f"name: defended asset {body.name!r} exists"
    if session.scalar(select(DefendedAsset.id).where(DefendedAsset.name == body.name)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=taken)
    da = DefendedAsset(**body.model_dump())
    session.add(da)
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
    for k, v in body.model_dump(exclude_unset=True).items():
        setattr(da, k, v)
    _flush_or_409(session, "name: another asset has this name")
    return asset_json(da)


@router.delete("/api/assets/{da_id}", status_code=204, summary="Delete a defended asset (admin)")
def delete_asset(session: SessionDep, _: Admin, da_id: AssetPath) -> None:
    session.delete(_asset_or_404(session, da_id))


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
    _flush_or_409(session, "da_ids: the set was changed by a concurrent request; try again")
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
    "/api/scenarios/{scenario_id}/tracks",
    summary="The scenario's tracks with their latest state",
    response_model=TrackPage,
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
    """Only the fields sent change; none may be set to null (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")
    iff: Literal["hostile", "unknown", "friendly"] = not_null()
    threat_class: str = not_null(min_length=1, max_length=40)
    quality: float = not_null(ge=0, le=1)


@router.patch(
    "/api/scenarios/{scenario_id}/tracks/{track_id}",
    summary="Set a track's IFF, threat class or quality",
    response_model=TrackOut,
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
    response_model=SamplePage,
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


# ---- upload ----

_UPLOAD_FORM_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "CSV (or JSON Lines, by a .jsonl/.ndjson file name) with track_id, "
            "lat, lon, alt_m, speed_mps, heading_deg, timestamp",
        },
        "partial": {
            "type": "boolean",
            "default": False,
            "description": "keep the good rows, report the bad",
        },
    },
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _scenario_exists(factory: sessionmaker[Session], scenario_id: int) -> None:
    with factory() as session:
        scenario_or_404(session, scenario_id)


def _import_upload(
    factory: sessionmaker[Session], scenario_id: int, data: bytes, fmt: Any, partial: bool
) -> dict[str, Any]:
    """Decode, parse and import in one worker thread and one transaction, committed on return."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"file: not UTF-8 text (byte {exc.start})"
        ) from None
    parsed = parse_track_text(text, fmt)  # TrackFileError (header problems) becomes problem+json
    with session_scope(factory) as session:
        sc = scenario_or_404(session, scenario_id)
        report = service.import_tracks(
            session, parsed, sc.name, partial=partial, create_scenario=False
        )
    return report.as_dict()


@router.post(
    "/api/scenarios/{scenario_id}/tracks/upload",
    summary="Upload a track CSV (same validation and error report as the CLI)",
    response_model=UploadReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _UPLOAD_FORM_SCHEMA}},
        }
    },
    responses={
        413: _problem(
            "file larger than ARGUS_UPLOAD_MAX_BYTES (the body is refused as it streams in)"
        ),
        415: _problem("the body is not multipart/form-data"),
        422: _problem("rejected rows, each with line, column, value and reason"),
    },
)
async def upload_tracks(request: Request, _: Operator, scenario_id: ScenarioPath) -> dict[str, Any]:
    """The caller is authenticated and authorized, and the scenario looked up, before any byte
    of the body is read; the body is then read as it streams in, within ARGUS_UPLOAD_MAX_BYTES,
    and parsed and written in a worker thread (the event loop keeps serving other requests)."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    await run_in_threadpool(_scenario_exists, factory, scenario_id)
    form = await read_upload(
        request, file_field="file", max_file_bytes=request.app.state.settings.upload_max_bytes
    )
    raw_partial = form.fields.get("partial", "false").strip().lower()
    if raw_partial not in _TRUE | _FALSE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"partial: not a boolean ({raw_partial[:20]!r})",
        )
    fmt: Literal["csv", "jsonl"] = (
        "jsonl" if (form.filename or "").lower().endswith((".jsonl", ".ndjson")) else "csv"
    )
    assert form.data is not None  # read_upload answers 422 without a file part
    return await run_in_threadpool(
        _import_upload, factory, scenario_id, form.data, fmt, raw_partial in _TRUE
    )


# ---- export ----

#: Rows fetched from the database and written out per step of the scores.csv stream.
EXPORT_PAGE_ROWS = 2000
#: A text cell starting with one of these would run as a formula in a spreadsheet (OWASP
#: "CSV injection"): it is written with a leading single quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet evaluates: text starting with ``=``, ``+``,
    ``-``, ``@``, tab or carriage return gets a leading ``'``; numbers and None pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _attachment(filename: str) -> str:
    """A Content-Disposition that any header encoding accepts, with the UTF-8 name beside it."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


WindowFrom = Annotated[
    AwareDatetime | None,
    Query(
        alias="from",
        description="only scores computed at or after this instant (ISO 8601 with a zone)",
    ),
]
WindowTo = Annotated[
    AwareDatetime | None,
    Query(
        alias="to", description="only scores computed before this instant (ISO 8601 with a zone)"
    ),
]


@router.get(
    "/api/scenarios/{scenario_id}/scores.csv",
    summary="Export stored threat scores as CSV (streamed, in a time window)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        422: _problem("a bad window: `errors` or `detail` names the field (from, to)"),
    },
)
def export_scores(
    request: Request,
    session: SessionDep,
    _: Viewer,
    scenario_id: ScenarioPath,
    from_: WindowFrom = None,
    to: WindowTo = None,
    start: Annotated[
        AwareDatetime | None, Query(deprecated=True, description="old name of `from`")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(deprecated=True, description="old name of `to`")
    ] = None,
    what_if: Annotated[
        bool,
        Query(
            description="export the stored what-ifs (compute_at with persist) instead of the "
            "live scores"
        ),
    ] = False,
) -> StreamingResponse:
    """Rows ordered by computed_at, evaluated_at, track_id, da_name; the window is ``from`` <=
    computed_at < ``to``. ``computed_at`` is the time a score describes, ``evaluated_at`` when it
    was computed. Live scores (threat_score), or with ``what_if`` the stored what-ifs
    (threat_score_what_if, several evaluations of one described time possible). Track ids and asset names that a spreadsheet would run as formulas are written with a
    leading ``'``. The rows are read through a streaming cursor, EXPORT_PAGE_ROWS at a time."""
    for new, old, new_name, old_name in ((from_, start, "from", "start"), (to, end, "to", "end")):
        if new is not None and old is not None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"{new_name}: give {new_name} or its old name {old_name}, not both",
            )
    lo, hi = from_ or start, to or end
    if lo is not None and hi is not None and hi <= lo:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="to: must be after from")
    sc = scenario_or_404(session, scenario_id)
    ts: Any = ThreatScoreWhatIf if what_if else ThreatScore
    stmt = (
        select(
            ts.computed_at,
            ts.evaluated_at,
            Track.track_id,
            DefendedAsset.name,
            *(getattr(ts, f) for f in service.SCORE_FIELDS),
        )
        .join(Track, Track.id == ts.track_id)
        .join(DefendedAsset, DefendedAsset.id == ts.da_id)
        .where(ts.scenario_id == sc.id)
        .order_by(ts.computed_at, ts.evaluated_at, Track.track_id, DefendedAsset.name)
    )
    if lo is not None:
        stmt = stmt.where(ts.computed_at >= lo)
    if hi is not None:
        stmt = stmt.where(ts.computed_at < hi)
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return StreamingResponse(
        _score_rows(factory, stmt),
        media_type="text/csv",
        headers={"Content-Disposition": _attachment(f"scores-{sc.name}.csv".replace(" ", "_"))},
    )


def _score_rows(factory: sessionmaker[Session], stmt: Any) -> Iterator[str]:
    """The CSV, one piece per page of rows, from a session of its own (the request's session
    is gone once the handler returned): a server-side cursor on PostgreSQL, SQLite's own
    stepping cursor, never the whole result in memory."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["computed_at", "evaluated_at", "track_id", "da_name", *service.SCORE_FIELDS])
    yield buf.getvalue()
    with factory() as session:
        result = session.execute(stmt.execution_options(yield_per=EXPORT_PAGE_ROWS))
        for rows in result.partitions():
            buf.seek(0)
            buf.truncate()
            w.writerows(
                [
                    _iso(r[0]),
                    _iso(r[1]),
                    neutralize_cell(r[2]),
                    neutralize_cell(r[3]),
                    *("" if v is None else v for v in r[4:]),
                ]
                for r in rows
            )
            yield buf.getvalue()


# ---- params ----


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


# ---- weapons ----


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


@router.get(
    "/api/scenarios/{scenario_id}/picture",
    summary="Every track's state at a time, with a short trail (for maps)",
    response_model=PictureOut,
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
