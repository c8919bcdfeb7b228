"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from argus.api.deps import authorize_before_validation
from argus.logs import get_logger
from argus.tewa import service
from argus.tewa.ingest import TrackFileError

log = get_logger("argus.api")

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI response: a problem+json body, with ``description``."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
    }


_problem_doc = problem_doc


def problem_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: status → problem+json with the route's own description
    (overriding the generic one of :data:`COMMON_RESPONSES` for that status)."""
    return {code: problem_doc(text) for code, text in descriptions.items()}


#: Error answers every route may give, documented once for the whole OpenAPI document.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("malformed request body"),
    401: _problem_doc("not authenticated (missing, expired or invalid token)"),
    403: _problem_doc("authenticated but the role is too low"),
    404: _problem_doc("a referenced object does not exist"),
    409: _problem_doc("conflict with the stored state (e.g. a name taken)"),
    413: _problem_doc("upload larger than ARGUS_UPLOAD_MAX_BYTES"),
    422: _problem_doc("invalid input; `errors` names each field or row"),
    500: _problem_doc("unexpected error (logged with the request id)"),
    503: _problem_doc("a dependency is missing (database, broker, ARGUS_JWT_SECRET)"),
}


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            405: "Method Not Allowed",
            409: "Conflict",
            413: "Content Too Large",
            422: "Unprocessable Content",
            429: "Too Many Requests",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }.get(exc.status_code, "Error")
        response = problem(exc.status_code, title, str(exc.detail) if exc.detail else None)
        if exc.headers:  # WWW-Authenticate on 401, Allow on 405
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:  # who asks comes first: 401 / 403 before a 422 about the input
            await authorize_before_validation(request)
        except StarletteHTTPException as denied:
            return await _http(request, denied)
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "reason": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(TrackFileError)
    async def _track_file(_: Request, exc: TrackFileError) -> JSONResponse:
        errors = [
            {"line": e.line, "column": e.column, "value": e.value, "reason": e.reason}
            for e in exc.errors
        ]
        return problem(422, "Rejected file", str(exc), errors=errors)

    @app.exception_handler(service.InvalidInput)
    async def _invalid(_: Request, exc: service.InvalidInput) -> JSONResponse:
        field = str(exc).split(":", 1)[0] if ":" in str(exc) else None
        return problem(
            422, "Invalid request", str(exc), errors=[{"field": field, "reason": str(exc)}]
        )

    @app.exception_handler(service.NotFoundError)
    async def _not_found(_: Request, exc: service.NotFoundError) -> JSONResponse:
        return problem(404, "Not Found", str(exc))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique or foreign-key constraint the route's own checks could not see coming: most
        # often a concurrent request that created the same name first (check-then-insert race),
        # at flush or at commit. The transaction was rolled back; the request may be retried.
        log.info(
            "integrity_conflict",
            path=request.url.path,
            error=str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__,
        )
        return problem(
            409,
            "Conflict",
            "the change conflicts with the stored state (a unique name taken or a referenced "
            "object gone, possibly by a concurrent request); nothing was written",
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL refuses a text value holding U+0000 (SQLite stores it): the input is what
        # is wrong, whichever field or parameter carried it. The transaction was rolled back.
        if "NUL" in str(exc.orig):
            return problem(
                422,
                "Invalid request",
                "a text value contains a NUL character (U+0000), which cannot be stored",
            )
        return await _unhandled(request, exc)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled_error",
            path=request.url.path,
            error=f"{type(exc).__name__}: {exc}",
            exc_info=exc,
        )
        return problem(500, "Internal Server Error", f"{type(exc).__name__}: the error was logged")
