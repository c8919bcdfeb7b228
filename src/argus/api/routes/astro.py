"""Astronomy (issue 12): surveys, observations (list, get, FITS upload, folder ingest), jobs,
difference runs, candidates (by status, one, its stamps as PNG, each cutout as PNG), cone
search, light curve, validation events and queue, alerts (raised by the rules, delivered to the
webhook) and their deliveries, models, SystemConfig entries.

Reads need a viewer, writes an operator; the SystemConfig entries (the webhook URL may carry a
secret) are read and written by an admin only; each write answers 2xx only after its transaction
committed (``SessionDep``, or ``session_scope`` in the upload's worker thread). The upload is
authorized before its body is read, and read within ARGUS_UPLOAD_MAX_BYTES.
"""

from __future__ import annotations

import base64
import enum
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi import Path as Path_
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from argus.api.deps import Admin, Operator, SessionDep, Viewer
from argus.api.errors import problem_doc
from argus.api.schemas_astro import (
    AlertDeliverIn,
    AlertDeliverOut,
    AlertOut,
    AlertRaiseIn,
    AlertRaiseOut,
    AlertStatusName,
    CandidateOut,
    CandidatePage,
    CandidateStatusName,
    ConeOut,
    DeliveriesOut,
    DifferenceRunOut,
    DifferenceRunPage,
    IngestFolderIn,
    IngestOut,
    JobStatusName,
    LightCurveOut,
    ModelOut,
    ObservationOut,
    ObservationPage,
    ObservationStatusName,
    PriorityName,
    ProcessingJobOut,
    QueueOut,
    SurveyIn,
    SurveyOut,
    SystemConfigIn,
    SystemConfigOut,
    ValidationIn,
    ValidationOut,
)
from argus.api.uploads import read_bounded_body, read_upload
from argus.astro import service
from argus.db.objectstore import ObjectStore
from argus.db.session import session_scope

router = APIRouter(tags=["astro"])

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="opaque cursor from the previous page's next_cursor"),
]
Ra = Annotated[float, Query(ge=0, lt=360, description="right ascension, degrees (ICRS)")]
Dec = Annotated[float, Query(ge=-90, le=90, description="declination, degrees (ICRS)")]
#: Folder under <var_dir> that POST /api/astro/observations/ingest reads from.
INCOMING = "astro-incoming"

#: Largest JSON body of an astro write; checked after the caller is authorized, as it streams.
MAX_JSON_BYTES = 16_384


def bounded_json(
    model: type[BaseModel], *, optional: bool = False
) -> Callable[[Request], Awaitable[Any]]:
    """A dependency reading the JSON body as ``model``, at most MAX_JSON_BYTES, after the
    dependencies declared before it (the caller's role): an anonymous or oversized body is
    refused without being read (FastAPI reads a declared body parameter before any dependency).
    ``optional``: an empty body is ``model()`` (all defaults).
    """

    async def read(request: Request) -> Any:
        raw = await read_bounded_body(request, MAX_JSON_BYTES)
        if optional and not raw.strip():
            return model()
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
            ) from None

    return read


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def store_of(request: Request) -> ObjectStore:
    """The app's object store (ARGUS_OBJECT_STORE or <var_dir>/objects), made on first use."""
    store: ObjectStore | None = getattr(request.app.state, "astro_store", None)
    if store is None:
        store = ObjectStore.from_settings(request.app.state.settings)
        request.app.state.astro_store = store
    return store


def actor_of(request: Request, username: str) -> service.Actor:
    return service.Actor(
        user_id=username,
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _cursor(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(base64.urlsafe_b64decode(value.encode()).decode())
    except Exception:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="cursor: not a cursor this API issued"
        ) from None


def _page(
    rows_after: Callable[[uuid.UUID | None, int], Sequence[Any]],
    limit: int,
    cursor: str | None,
    to_json: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    rows = list(rows_after(_cursor(cursor), limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = base64.urlsafe_b64encode(str(rows[-1].id).encode()).decode() if more else None
    return {"items": [to_json(r) for r in rows], "next_cursor": nxt}


def _cols(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    out = {}
    for n in names:
        v = getattr(obj, n)
        out[n] = v.value if isinstance(v, enum.Enum) else v
    return out


def survey_json(s: Any) -> dict[str, Any]:
    return _cols(s, SurveyOut.model_fields)


def observation_json(o: Any) -> dict[str, Any]:
    return _cols(o, ObservationOut.model_fields)


def job_json(j: Any) -> dict[str, Any]:
    return _cols(j, ProcessingJobOut.model_fields)


def run_json(r: Any) -> dict[str, Any]:
    return _cols(r, DifferenceRunOut.model_fields)


def candidate_json(c: Any) -> dict[str, Any]:
    return _cols(c, CandidateOut.model_fields)


def detection_json(d: Any) -> dict[str, Any]:
    from argus.api.schemas_astro import DetectionOut

    return _cols(d, DetectionOut.model_fields)


def validation_json(e: Any) -> dict[str, Any]:
    return _cols(e, ValidationOut.model_fields)


def alert_json(a: Any) -> dict[str, Any]:
    return _cols(a, AlertOut.model_fields)


def model_json(m: Any) -> dict[str, Any]:
    return _cols(m, ModelOut.model_fields)


def config_json(c: Any) -> dict[str, Any]:
    return _cols(c, SystemConfigOut.model_fields)


# ---- surveys ----------------------------------------------------------------------------------


@router.get("/api/astro/surveys", summary="The surveys", response_model=list[SurveyOut])
def list_surveys(session: SessionDep, _: Viewer) -> list[dict[str, Any]]:
    return [survey_json(s) for s in service.list_surveys(session)]


@router.post(
    "/api/astro/surveys",
    summary="Register a survey",
    status_code=status.HTTP_201_CREATED,
    response_model=SurveyOut,
    openapi_extra=json_body_doc(SurveyIn),
)
def create_survey(
    session: SessionDep,
    user: Operator,
    request: Request,
    body: Annotated[SurveyIn, Depends(bounded_json(SurveyIn))],
) -> dict[str, Any]:
    s = service.create_survey(
        session, body.name, description=body.description, base_url=body.base_url,
        api_endpoint=body.api_endpoint, is_active=body.is_active,
        actor=actor_of(request, user.username),
    )  # fmt: skip
    return survey_json(s)


@router.get("/api/astro/surveys/{survey_id}", summary="One survey", response_model=SurveyOut)
def get_survey(session: SessionDep, _: Viewer, survey_id: uuid.UUID) -> dict[str, Any]:
    return survey_json(service.get_survey(session, survey_id))


# ---- observations -----------------------------------------------------------------------------


@router.get(
    "/api/astro/observations", summary="Observations, paged by id", response_model=ObservationPage
)
def list_observations(
    session: SessionDep,
    _: Viewer,
    survey_id: uuid.UUID | None = None,
    status_: Annotated[ObservationStatusName | None, Query(alias="status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    st = None if status_ is None else service.ObservationStatus(status_)
    return _page(
        lambda after, n: service.list_observations(
            session, survey_id=survey_id, status=st, after=after, limit=n
        ),
        limit,
        cursor,
        observation_json,
    )


@router.get(
    "/api/astro/observations/{observation_id}",
    summary="One observation",
    response_model=ObservationOut,
)
def get_observation(session: SessionDep, _: Viewer, observation_id: uuid.UUID) -> dict[str, Any]:
    return observation_json(service.get_observation(session, observation_id))


_UPLOAD_FORM_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "one FITS file"},
        "survey": {
            "type": "string",
            "description": "survey name (default: the SURVEY or TELESCOP keyword)",
        },
    },
}


def _ingest_upload(
    factory: sessionmaker[Session],
    store: ObjectStore,
    name: str,
    data: bytes,
    survey: str | None,
    actor: service.Actor,
) -> dict[str, Any]:
    with session_scope(factory) as session:
        report = service.ingest_fits(session, store, [(name, data)], survey=survey, actor=actor)
        out = report.as_dict()
    return out


def _rejected(exc: service.RejectedBatch) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc))


@router.post(
    "/api/astro/observations/upload",
    summary="Upload one FITS file: header keywords mapped to an observation, file kept in the "
    "object store",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _UPLOAD_FORM_SCHEMA}},
        }
    },
    responses={
        413: problem_doc("file larger than ARGUS_UPLOAD_MAX_BYTES (refused as it streams in)"),
        415: problem_doc("the body is not multipart/form-data"),
        422: problem_doc("the file is rejected: the detail names the file and the keyword"),
    },
)
async def upload_observation(request: Request, user: Operator) -> dict[str, Any]:
    """Authorized before any byte of the body is read; read within ARGUS_UPLOAD_MAX_BYTES;
    parsed, stored and committed in a worker thread."""
    form = await read_upload(
        request, file_field="file", max_file_bytes=request.app.state.settings.upload_max_bytes
    )
    survey = (form.fields.get("survey") or "").strip() or None
    if survey is not None and len(survey) > 100:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="survey: longer than 100 characters"
        )
    name = PurePosixPath((form.filename or "upload.fits").replace("\\", "/")).name[:200]
    assert form.data is not None
    try:
        return await run_in_threadpool(
            _ingest_upload,
            request.app.state.sessionmaker,
            store_of(request),
            name or "upload.fits",
            form.data,
            survey,
            actor_of(request, user.username),
        )
    except service.RejectedBatch as exc:
        raise _rejected(exc) from None


@router.post(
    "/api/astro/observations/ingest",
    summary="Ingest a folder of FITS files under <ARGUS_VAR_DIR>/astro-incoming",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestOut,
    openapi_extra=json_body_doc(IngestFolderIn),
    responses={422: problem_doc("a bad folder, or rejected files (named with their keyword)")},
)
def ingest_folder(
    session: SessionDep,
    user: Operator,
    request: Request,
    body: Annotated[IngestFolderIn, Depends(bounded_json(IngestFolderIn))],
) -> dict[str, Any]:
    rel = PurePosixPath(body.folder)
    if rel.is_absolute() or any(p in ("..", "") for p in rel.parts) or "\\" in body.folder:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"folder: must be a relative path under {INCOMING}, without '..'",
        )
    root = Path(request.app.state.settings.var_dir) / INCOMING
    folder = root.joinpath(*rel.parts)
    if not folder.is_dir() or not folder.resolve().is_relative_to(root.resolve()):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"folder: {body.folder!r} is not a folder under {INCOMING}",
        )
    try:
        report = service.ingest_folder(
            session, store_of(request), folder, survey=body.survey, partial=body.partial,
            actor=actor_of(request, user.username),
        )  # fmt: skip
    except service.RejectedBatch as exc:
        raise _rejected(exc) from None
    return report.as_dict()


# ---- jobs and difference runs -----------------------------------------------------------------


@router.get(
    "/api/astro/jobs",
    summary="Processing jobs, newest first",
    response_model=list[ProcessingJobOut],
)
def list_jobs(
    session: SessionDep,
    _: Viewer,
    status_: Annotated[JobStatusName | None, Query(alias="status")] = None,
    job_type: Annotated[str | None, Query(max_length=40)] = None,
    workflow_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    st = None if status_ is None else service.JobStatus(status_)
    rows = service.list_jobs(
        session, status=st, job_type=job_type, workflow_id=workflow_id, limit=limit, offset=offset
    )
    return [job_json(j) for j in rows]


@router.get(
    "/api/astro/jobs/{job_id}", summary="One processing job", response_model=ProcessingJobOut
)
def get_job(session: SessionDep, _: Viewer, job_id: uuid.UUID) -> dict[str, Any]:
    return job_json(service.get_job(session, job_id))


@router.get(
    "/api/astro/difference-runs",
    summary="Difference runs, paged by id",
    response_model=DifferenceRunPage,
)
def list_difference_runs(
    session: SessionDep,
    _: Viewer,
    observation_id: uuid.UUID | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    return _page(
        lambda after, n: service.list_difference_runs(
            session, observation_id=observation_id, after=after, limit=n
        ),
        limit,
        cursor,
        run_json,
    )


@router.get(
    "/api/astro/difference-runs/{run_id}",
    summary="One difference run and its stored products",
    response_model=DifferenceRunOut,
)
def get_difference_run(session: SessionDep, _: Viewer, run_id: uuid.UUID) -> dict[str, Any]:
    return run_json(service.get_difference_run(session, run_id))


# ---- candidates -------------------------------------------------------------------------------


@router.get(
    "/api/astro/candidates",
    summary="Candidates by status (and observation, run, minimal score), paged by id",
    response_model=CandidatePage,
)
def list_candidates(
    session: SessionDep,
    _: Viewer,
    status_: Annotated[CandidateStatusName | None, Query(alias="status")] = None,
    observation_id: uuid.UUID | None = None,
    difference_run_id: uuid.UUID | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    st = None if status_ is None else service.CandidateStatus(status_)
    return _page(
        lambda after, n: service.list_candidates(
            session,
            status=st,
            observation_id=observation_id,
            difference_run_id=difference_run_id,
            min_score=min_score,
            after=after,
            limit=n,
        ),
        limit,
        cursor,
        candidate_json,
    )


@router.get(
    "/api/astro/candidates/{candidate_id}", summary="One candidate", response_model=CandidateOut
)
def get_candidate(session: SessionDep, _: Viewer, candidate_id: uuid.UUID) -> dict[str, Any]:
    return candidate_json(service.get_candidate(session, candidate_id))


@router.get(
    "/api/astro/candidates/{candidate_id}/stamps.png",
    summary="The candidate's science, reference and difference stamps (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "three zscaled stamps side by side"}},
)  # fmt: skip
def candidate_stamps(
    session: SessionDep,
    _: Viewer,
    request: Request,
    candidate_id: uuid.UUID,
    size: Annotated[int, Query(ge=8, le=255, description="stamp side, pixels")] = 63,
) -> Response:
    stamps = service.candidate_stamps(session, store_of(request), candidate_id, size=size)
    png = service.stamps_png(stamps, title=f"candidate {candidate_id}")
    return Response(png, media_type="image/png")


CutoutKind = Literal["science", "reference", "difference"]


@router.get(
    "/api/astro/candidates/{candidate_id}/cutouts/{kind}.png",
    summary="One of the candidate's cutouts (science, reference or difference) as a grey PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "the cutout, zscaled, grey; the first FITS row at the "
                                    "bottom; each pixel drawn scale x scale"}},
)  # fmt: skip
def candidate_cutout(
    session: SessionDep,
    _: Viewer,
    request: Request,
    candidate_id: uuid.UUID,
    kind: CutoutKind,
    size: Annotated[int, Query(ge=8, le=255, description="cutout side, pixels")] = 63,
    scale: Annotated[int, Query(ge=1, le=8, description="PNG pixels per image pixel")] = 4,
) -> Response:
    image = service.candidate_cutout(session, store_of(request), candidate_id, kind, size=size)
    return Response(
        service.cutout_png(image, scale=scale),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )


# ---- queries ----------------------------------------------------------------------------------


@router.get(
    "/api/astro/cone",
    summary="Cone search over candidates or detections (HEALPix index), nearest first",
    response_model=ConeOut,
)
def cone(
    session: SessionDep,
    _: Viewer,
    ra: Ra,
    dec: Dec,
    radius_arcsec: Annotated[float, Query(gt=0, le=36000, description="radius, arcsec")],
    target: Literal["candidates", "detections"] = "candidates",
    limit: Limit = 100,
) -> dict[str, Any]:
    matches = service.cone_search(session, ra, dec, radius_arcsec, target=target, limit=limit)
    key, to_json = (
        ("candidate", candidate_json) if target == "candidates" else ("detection", detection_json)
    )
    return {
        "ra": ra,
        "dec": dec,
        "radius_arcsec": radius_arcsec,
        "target": target,
        "matches": [
            {"separation_arcsec": m.separation_arcsec, key: to_json(m.row)} for m in matches
        ],
    }


@router.get(
    "/api/astro/lightcurve",
    summary="Light curve of a sky position across observations",
    response_model=LightCurveOut,
)
def lightcurve(
    session: SessionDep,
    _: Viewer,
    ra: Ra,
    dec: Dec,
    radius_arcsec: Annotated[float, Query(gt=0, le=60, description="match radius, arcsec")] = 1.5,
) -> dict[str, Any]:
    points = service.light_curve(session, ra, dec, radius_arcsec=radius_arcsec)
    return {
        "ra": ra,
        "dec": dec,
        "radius_arcsec": radius_arcsec,
        "points": [p.__dict__ for p in points],
    }


# ---- curation ---------------------------------------------------------------------------------


@router.post(
    "/api/astro/validations",
    summary="Record a human judgement of a detection: real, bogus or a label",
    status_code=status.HTTP_201_CREATED,
    response_model=ValidationOut,
    openapi_extra=json_body_doc(ValidationIn),
)
def create_validation(
    session: SessionDep,
    user: Operator,
    request: Request,
    body: Annotated[ValidationIn, Depends(bounded_json(ValidationIn))],
) -> dict[str, Any]:
    e = service.validate_detection(
        session, body.detection_id, body.decision, validator=user.username, label=body.label,
        confidence_level=body.confidence_level, notes=body.notes, tags=body.tags,
        image_quality=body.image_quality, detection_quality=body.detection_quality,
        actor=actor_of(request, user.username),
    )  # fmt: skip
    session.flush()
    session.refresh(e)
    return validation_json(e)


@router.get(
    "/api/astro/validations",
    summary="Validation events, newest first",
    response_model=list[ValidationOut],
)
def list_validations(
    session: SessionDep,
    _: Viewer,
    detection_id: uuid.UUID | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    rows = service.validation_events(session, detection_id=detection_id, limit=limit, offset=offset)
    return [validation_json(e) for e in rows]


@router.get(
    "/api/astro/validation-queue",
    summary="Detections awaiting review, highest real/bogus score first",
    response_model=QueueOut,
)
def validation_queue(
    session: SessionDep,
    _: Viewer,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    items = service.validation_queue(session, limit=limit, offset=offset, min_score=min_score)
    return {
        "items": [
            {
                "detection": detection_json(q.detection),
                "candidate": None if q.candidate is None else candidate_json(q.candidate),
            }
            for q in items
        ]
    }


# ---- alerts and models ------------------------------------------------------------------------


@router.get("/api/astro/alerts", summary="Alerts, newest first", response_model=list[AlertOut])
def list_alerts(
    session: SessionDep,
    _: Viewer,
    status_: Annotated[AlertStatusName | None, Query(alias="status")] = None,
    priority: PriorityName | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    rows = service.list_alerts(
        session,
        status=None if status_ is None else service.AlertStatus(status_),
        priority=None if priority is None else service.AlertPriority(priority),
        limit=limit,
        offset=offset,
    )
    return [alert_json(a) for a in rows]


@router.post(
    "/api/astro/alerts/raise",
    summary="Apply the alert rules (confidence, SNR, novelty) to a difference run's candidates "
    "or to given candidates; the new alerts",
    response_model=AlertRaiseOut,
    openapi_extra=json_body_doc(AlertRaiseIn),
    responses={404: problem_doc("an unknown difference run or candidate (named)"),
               422: problem_doc("neither a difference run nor candidates, or a bad rule")},
)  # fmt: skip
def raise_alerts(
    session: SessionDep,
    user: Operator,
    request: Request,
    body: Annotated[AlertRaiseIn, Depends(bounded_json(AlertRaiseIn))],
) -> dict[str, Any]:
    """Each candidate is judged by its latest detection; a detection never gets the same alert
    type twice, so calling again raises nothing new."""
    ids = service.detections_to_alert(
        session, difference_run_id=body.difference_run_id, candidate_ids=body.candidate_ids
    )
    rules = service.AlertRules.from_config(session)
    if body.rules is not None:
        rules = service.AlertRules(**{**rules.__dict__, **body.rules.model_dump(exclude_none=True)})
    new = service.raise_alerts(
        session, rules=rules, detection_ids=ids, actor=actor_of(request, user.username)
    )
    session.flush()
    for a in new:
        session.refresh(a)
    return {
        "detections_considered": len(ids),
        "raised": len(new),
        "alerts": [alert_json(a) for a in new],
        "rules": dict(rules.__dict__),
    }


@router.post(
    "/api/astro/alerts/{alert_id}/deliver",
    summary="POST the alert to the webhook (SystemConfig astro.alerts.webhook_url) with retries; "
    "every attempt is kept",
    response_model=AlertDeliverOut,
    openapi_extra={"requestBody": {"required": False, "content": {
        "application/json": {"schema": AlertDeliverIn.model_json_schema()}}}},
    responses={404: problem_doc("no such alert"),
               409: problem_doc("the alert was cancelled"),
               422: problem_doc("no webhook URL configured, or bad options")},
)  # fmt: skip
def deliver_alert(
    session: SessionDep,
    user: Operator,
    request: Request,
    alert_id: uuid.UUID,
    body: Annotated[AlertDeliverIn, Depends(bounded_json(AlertDeliverIn, optional=True))],
) -> dict[str, Any]:
    """A pending or failed alert is sent (a failed one again, its earlier attempts kept); a
    delivered one only with ``force``. The URL is the configured one only (an operator cannot
    make the server POST elsewhere). Answers when the last attempt ended: the alert is then
    ``delivered`` or ``failed``."""
    a = service.get_alert(session, alert_id)
    if a.status == service.AlertStatus.CANCELLED:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"alert_id: alert {a.id} is cancelled")
    if a.status == service.AlertStatus.DELIVERED and not body.force:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"alert_id: alert {a.id} is already delivered (send force: true to repeat)",
        )
    # Read everything before the first change: nothing is flushed (no write lock is held, on
    # SQLite) while the webhook is being called.
    url = service.get_config(session, service.WEBHOOK_URL)
    if a.status == service.AlertStatus.DELIVERED:
        a.status = service.AlertStatus.PENDING  # forced: send it again
    service.deliver_alert(
        session, a, url, max_attempts=body.max_attempts, backoff_s=body.backoff_s,
        timeout_s=body.timeout_s,
    )  # fmt: skip
    service.audit(
        session, actor_of(request, user.username), "alert", a.id, "deliver_request",
        new={"status": a.status.value, "attempts": a.delivery_attempts, "force": body.force},
    )  # fmt: skip
    session.flush()
    session.refresh(a)
    return {"alert": alert_json(a), "attempts": list(a.delivery_log or [])}


@router.get(
    "/api/astro/alerts/{alert_id}/deliveries",
    summary="Every delivery attempt of an alert (time, URL, status code or error)",
    response_model=DeliveriesOut,
)
def alert_deliveries(session: SessionDep, _: Viewer, alert_id: uuid.UUID) -> dict[str, Any]:
    a = service.get_alert(session, alert_id)
    return {
        "alert_id": a.id,
        "status": a.status.value,
        "delivery_attempts": a.delivery_attempts,
        "attempts": list(a.delivery_log or []),
    }


@router.get("/api/astro/models", summary="The model registry", response_model=list[ModelOut])
def list_models(session: SessionDep, _: Viewer) -> list[dict[str, Any]]:
    return [model_json(m) for m in service.list_models(session)]


# ---- SystemConfig -----------------------------------------------------------------------------

ConfigKeyPath = Annotated[
    str, Path_(min_length=1, max_length=200, description="e.g. astro.alerts.webhook_url")
]


@router.get(
    "/api/astro/config",
    summary="Every SystemConfig entry (admin: the webhook URL may carry a secret)",
    response_model=list[SystemConfigOut],
)
def list_config(session: SessionDep, _: Admin) -> list[dict[str, Any]]:
    return [config_json(c) for c in service.list_config(session)]


@router.get(
    "/api/astro/config/{key}",
    summary="One SystemConfig entry",
    response_model=SystemConfigOut,
    responses={404: problem_doc("no entry under that key")},
)
def get_config(session: SessionDep, _: Admin, key: ConfigKeyPath) -> dict[str, Any]:
    return config_json(service.get_config_row(session, key))


@router.put(
    "/api/astro/config/{key}",
    summary="Create or replace a SystemConfig entry (the webhook URL and alert rules are checked)",
    response_model=SystemConfigOut,
    openapi_extra=json_body_doc(SystemConfigIn),
    responses={422: problem_doc("a bad key or a value the service cannot use (the field named)")},
)
def put_config(
    session: SessionDep,
    user: Admin,
    request: Request,
    key: ConfigKeyPath,
    body: Annotated[SystemConfigIn, Depends(bounded_json(SystemConfigIn))],
) -> dict[str, Any]:
    row = service.set_config(
        session, key, body.value, description=body.description, is_active=body.is_active,
        actor=actor_of(request, user.username),
    )  # fmt: skip
    session.flush()
    session.refresh(row)
    return config_json(row)
