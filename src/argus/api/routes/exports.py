"""Exports: a scenario's stored threat scores as CSV, streamed page by page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy.orm import Session, sessionmaker

from argus.api.deps import SessionDep, Viewer
from argus.api.routes._common import ScenarioPath, _iso, _problem, scenario_or_404
from argus.tewa import service

router = APIRouter(tags=["resources"])

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
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return StreamingResponse(
        _score_rows(factory, sc.id, what_if=what_if, start=lo, end=hi, page=EXPORT_PAGE_ROWS),
        media_type="text/csv",
        headers={"Content-Disposition": _attachment(f"scores-{sc.name}.csv".replace(" ", "_"))},
    )


def _score_rows(
    factory: sessionmaker[Session],
    scenario_id: int,
    *,
    what_if: bool,
    start: dt.datetime | None,
    end: dt.datetime | None,
    page: int,
) -> Iterator[str]:
    """The CSV, one piece per page of rows, from a session of its own (the request's session
    is gone once the handler returned): a server-side cursor on PostgreSQL, SQLite's own
    stepping cursor, never the whole result in memory."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["computed_at", "evaluated_at", "track_id", "da_name", *service.SCORE_FIELDS])
    yield buf.getvalue()
    with factory() as session:
        sc = service.find_scenario(session, scenario_id)
        if sc is None:  # deleted since the request looked it up: no rows, as before
            return
        for rows in service.iter_score_rows(
            session, sc, what_if=what_if, start=start, end=end, page=page
        ):
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
