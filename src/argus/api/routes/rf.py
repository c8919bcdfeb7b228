"""RF (issue 13): receivers, acquisitions (start, status, SigMF download), measurements
(raw or hourly), localizations."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import uuid
import zipfile
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    BackgroundTasks,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from fastapi.responses import StreamingResponse

from argus.api.deps import Admin, Operator, SessionDep, Viewer
from argus.api.errors import problem_responses
from argus.api.routes._common import MAX_ID
from argus.api.schemas_rf import (
    AcquisitionIn,
    AcquisitionOut,
    AcquisitionStarted,
    LocalizationOut,
    LocalizationPage,
    MeasurementPage,
    ReceiverIn,
    ReceiverOut,
    ReceiverPatch,
)
from argus.logs import get_logger
from argus.rf import service

router = APIRouter(tags=["rf"])
log = get_logger("argus.api.rf")

ReceiverPath = Annotated[int, Path(ge=1, le=MAX_ID, description="receiver id")]
AcquisitionPath = Annotated[uuid.UUID, Path(description="acquisition id")]
LocalizationPath = Annotated[int, Path(ge=1, le=MAX_ID, description="localization id")]
PageSize = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="next_cursor of the previous page")
]
#: Largest SigMF pair a zip download assembles (bigger ones: download ?part=data).
MAX_ZIP_BYTES = 256 * 1024 * 1024


def _bad_cursor() -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, detail="cursor: not a cursor this API issued"
    )


def _encode(value: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _decode(cursor: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except Exception:
        raise _bad_cursor() from None
    if not isinstance(value, list):
        raise _bad_cursor()
    return value


# ---- receivers -------------------------------------------------------------------------------


@router.get("/api/rf/receivers", summary="The receivers", response_model=list[ReceiverOut])
def list_receivers(session: SessionDep, _: Viewer) -> list[dict[str, Any]]:
    return [service.receiver_json(r) for r in service.list_receivers(session)]


@router.post(
    "/api/rf/receivers", status_code=201, summary="Add a receiver", response_model=ReceiverOut,
    responses=problem_responses({422: "a field is invalid or the name is taken"}),
)  # fmt: skip
def add_receiver(session: SessionDep, _: Operator, body: ReceiverIn) -> dict[str, Any]:
    return service.receiver_json(service.add_receiver(session, **body.model_dump()))


@router.get("/api/rf/receivers/{receiver_id}", summary="One receiver", response_model=ReceiverOut)
def get_receiver(session: SessionDep, _: Viewer, receiver_id: ReceiverPath) -> dict[str, Any]:
    return service.receiver_json(service.get_receiver(session, receiver_id))


@router.patch(
    "/api/rf/receivers/{receiver_id}", summary="Change a receiver", response_model=ReceiverOut
)
def patch_receiver(
    session: SessionDep, _: Operator, receiver_id: ReceiverPath, body: ReceiverPatch
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    not_null = {
        k
        for k, v in changes.items()
        if v is None and k not in ("url", "min_frequency_hz", "max_frequency_hz")
    }
    if not_null:
        raise service.InvalidInput(f"{sorted(not_null)[0]}: may not be null")
    return service.receiver_json(service.update_receiver(session, receiver_id, **changes))


@router.delete(
    "/api/rf/receivers/{receiver_id}", status_code=204,
    summary="Remove a receiver (its measurements go with it)",
)  # fmt: skip
def delete_receiver(session: SessionDep, _: Admin, receiver_id: ReceiverPath) -> Response:
    service.remove_receiver(session, receiver_id)
    return Response(status_code=204)


@router.post(
    "/api/rf/receivers/{receiver_id}/check", summary="Health check: up or down, last seen",
    response_model=ReceiverOut,
)  # fmt: skip
def check_receiver(session: SessionDep, _: Operator, receiver_id: ReceiverPath) -> dict[str, Any]:
    return service.receiver_json(service.check_receiver(session, receiver_id))


# ---- acquisitions ----------------------------------------------------------------------------


def _run_in_process(settings: Any, acquisition_id: str) -> None:
    from argus.jobs import tasks

    try:
        tasks.rf_acquire(settings, acquisition_id)
    except Exception as exc:  # recorded on the row (failed); never raised into the server
        log.error("rf_acquisition_background_failed", acquisition=acquisition_id, error=str(exc))


@router.post(
    "/api/rf/acquisitions", status_code=202, summary="Start an acquisition on several receivers",
    response_model=AcquisitionStarted,
    responses=problem_responses({422: "a field is invalid; `errors` names each receiver"}),
)  # fmt: skip
def start_acquisition(
    request: Request,
    session: SessionDep,
    user: Operator,
    body: AcquisitionIn,
    background: BackgroundTasks,
) -> dict[str, Any]:
    acq = service.start_acquisition(
        session, body.frequency_hz, body.duration_s, body.receiver_ids, source=body.source,
        params=body.params, created_by=user.username,
    )  # fmt: skip
    session.commit()  # the pending row exists before any worker looks for it
    celery = request.app.state.celery
    settings = request.app.state.settings
    if celery is not None:
        celery.send_task("argus.rf_acquire", args=[acq.id], queue=settings.celery_queue)
        where = "celery"
    else:
        background.add_task(_run_in_process, settings, acq.id)
        where = "in-process"
    return {
        "id": acq.id, "status": acq.status, "status_url": f"/api/rf/acquisitions/{acq.id}",
        "queued_on": where,
    }  # fmt: skip


@router.get(
    "/api/rf/acquisitions", summary="The newest acquisitions", response_model=list[AcquisitionOut]
)
def list_acquisitions(
    session: SessionDep,
    _: Viewer,
    status_: Annotated[
        Literal["pending", "running", "complete", "failed"] | None, Query(alias="status")
    ] = None,
    limit: PageSize = 100,
) -> list[dict[str, Any]]:
    return [
        service.acquisition_json(a)
        for a in service.list_acquisitions(session, status=status_, limit=limit)
    ]


@router.get(
    "/api/rf/acquisitions/{acquisition_id}", summary="An acquisition: status and progress",
    response_model=AcquisitionOut,
)  # fmt: skip
def get_acquisition(
    session: SessionDep, _: Viewer, acquisition_id: AcquisitionPath
) -> dict[str, Any]:
    return service.acquisition_json(service.get_acquisition(session, str(acquisition_id)))


@router.get(
    "/api/rf/acquisitions/{acquisition_id}/sigmf/{receiver_id}",
    summary="One receiver's capture as SigMF: a zip of meta + data, or one of them",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "application/zip, or the .sigmf-meta (JSON) / .sigmf-data (octets)",
            "content": {"application/zip": {}, "application/octet-stream": {}, "application/json": {}},
        },
        **problem_responses({404: "no such acquisition or capture, or not complete yet"}),
    },
)  # fmt: skip
def download_sigmf(
    request: Request,
    session: SessionDep,
    _: Viewer,
    acquisition_id: AcquisitionPath,
    receiver_id: ReceiverPath,
    part: Annotated[Literal["zip", "meta", "data"], Query()] = "zip",
) -> StreamingResponse:
    from argus.db.objectstore import ObjectStore

    acq, cap = service.capture_object(session, str(acquisition_id), receiver_id)
    store = ObjectStore.from_settings(request.app.state.settings)
    base = f"{acq.id}-r{receiver_id}"
    try:
        if part == "meta":
            return StreamingResponse(
                iter([store.get_bytes(cap["meta_key"])]), media_type="application/json",
                headers={"Content-Disposition": f'attachment; filename="{base}.sigmf-meta"'},
            )  # fmt: skip
        if part == "data":
            fh = store.open(cap["data_key"])

            def chunks() -> Any:
                with fh:
                    while block := fh.read(1 << 20):
                        yield block

            return StreamingResponse(
                chunks(), media_type="application/octet-stream",
                headers={"Content-Disposition": f'attachment; filename="{base}.sigmf-data"'},
            )  # fmt: skip
        if int(cap.get("size_bytes") or 0) > MAX_ZIP_BYTES:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail=f"part: the capture is larger than {MAX_ZIP_BYTES} bytes; ask ?part=data",
            )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr(f"{base}.sigmf-meta", store.get_bytes(cap["meta_key"]))
            z.writestr(f"{base}.sigmf-data", store.get_bytes(cap["data_key"]))
    except FileNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"object missing: {exc}") from None
    return StreamingResponse(
        iter([buf.getvalue()]), media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{base}.sigmf.zip"'},
    )  # fmt: skip


# ---- measurements and localizations ---------------------------------------------------------


@router.get(
    "/api/rf/measurements", summary="The measurement time series (raw or hourly)",
    response_model=MeasurementPage,
)  # fmt: skip
def measurements(
    session: SessionDep,
    _: Viewer,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    receiver_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    aggregation: Literal["raw", "hourly"] = "raw",
    limit: PageSize = 500,
    cursor: Cursor = None,
) -> dict[str, Any]:
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.tzinfo is None:
            raise service.InvalidInput(f"{name}: give a time zone (Z or an offset)")
    after = _decode(cursor) if cursor else None
    try:
        if aggregation == "hourly":
            key = (dt.datetime.fromisoformat(after[0]), int(after[1])) if after else None
            rows = service.list_hourly(
                session, start=start, end=end, receiver_id=receiver_id, limit=limit + 1, after=key
            )
            items = [service.hourly_json(h) for h in rows[:limit]]
            last = (
                [rows[limit - 1].hour.isoformat(), rows[limit - 1].receiver_id]
                if len(rows) > limit
                else None
            )
        else:
            raw_key = (
                (dt.datetime.fromisoformat(after[0]), int(after[1]), str(after[2]))
                if after
                else None
            )
            ms = service.list_measurements(
                session,
                start=start,
                end=end,
                receiver_id=receiver_id,
                limit=limit + 1,
                after=raw_key,
            )
            items = [service.measurement_json(m) for m in ms[:limit]]
            m = ms[limit - 1] if len(ms) > limit else None
            last = [m.time.isoformat(), m.receiver_id, m.acquisition_id] if m is not None else None
    except (ValueError, IndexError, TypeError) as exc:
        if isinstance(exc, service.InvalidInput):
            raise
        raise _bad_cursor() from None
    return {
        "aggregation": aggregation,
        "items": items,
        "next_cursor": _encode(last) if last else None,
    }


def _localization(row: Any) -> dict[str, Any]:
    """The stored localization, with the simulated emitter's position (``truth_lat_deg``,
    ``truth_lon_deg``) when its acquisition was simulated, else both null."""
    from argus.rf.service.acquisition import _truth_position

    pos = _truth_position(row.truth) if row.truth is not None else None
    return {
        **service.localization_json(row),
        "truth_lat_deg": pos[0] if pos else None,
        "truth_lon_deg": pos[1] if pos else None,
    }


@router.get(
    "/api/rf/localizations", summary="Emitter localizations", response_model=LocalizationPage
)
def list_localizations(
    session: SessionDep,
    _: Viewer,
    acquisition_id: uuid.UUID | None = None,
    limit: PageSize = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    after = _decode(cursor) if cursor else [0]
    if len(after) != 1 or not isinstance(after[0], int):
        raise _bad_cursor()
    rows = service.list_localizations(
        session, acquisition_id=str(acquisition_id) if acquisition_id else None,
        after_id=after[0], limit=limit + 1,
    )  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [_localization(r) for r in rows],
        "next_cursor": _encode([rows[-1].id]) if more else None,
    }


@router.get(
    "/api/rf/localizations/{localization_id}", summary="One localization",
    response_model=LocalizationOut,
)  # fmt: skip
def get_localization(
    session: SessionDep, _: Viewer, localization_id: LocalizationPath
) -> dict[str, Any]:
    return _localization(service.get_localization(session, localization_id))
