"""Tracks: a scenario's tracks with their latest state (paged with ``limit`` / ``cursor``), a
track's identity, its samples in a time window, and the upload of a track file."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy.orm import Session, sessionmaker

from argus.api.deps import Operator, SessionDep, Viewer
from argus.api.routes._common import (
    Cursor,
    Limit,
    ScenarioPath,
    _iso,
    _page,
    _problem,
    scenario_or_404,
)
from argus.api.schemas_resources import SamplePage, TrackOut, TrackPage, UploadReport, not_null
from argus.api.uploads import read_upload
from argus.db.session import session_scope
from argus.tewa import service
from argus.tewa.ingest import parse_track_text

router = APIRouter(tags=["resources"])


def track_json(t: Any) -> dict[str, Any]:
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
        lambda after, n: service.list_tracks(session, sc, after=after, limit=n),
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
    t = service.find_track(session, sc, track_id)
    if t is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"track_id: no track {track_id!r} in scenario {sc.id}"
        )

    def js(s: Any) -> dict[str, Any]:
        return {
            "t": _iso(s.t),
            "lat": s.lat,
            "lon": s.lon,
            "alt_m": s.alt_m,
            "speed_mps": s.speed_mps,
            "heading_deg": s.heading_deg,
        }

    return _page(
        lambda after, n: service.list_samples(
            session, t, start=start, end=end, after=after, limit=n
        ),
        limit,
        cursor,
        js,
    )


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
