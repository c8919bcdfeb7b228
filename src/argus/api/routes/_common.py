"""Helpers shared by the resource routers: the scenario lookup, id paths, cursor paging, 409s."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from argus.api.errors import PROBLEM_JSON, Problem
from argus.tewa import service
from argus.tewa.service import Scenario
from argus.timefmt import iso_z

#: Ids are 32-bit on every table the API addresses by id (SQLite and PostgreSQL integer).
MAX_ID = 2_147_483_647


def scenario_or_404(session: Session, scenario_id: int) -> Scenario:
    sc = service.find_scenario(session, scenario_id)
    if sc is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"scenario_id: no scenario {scenario_id}"
        )
    return sc


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
    rows_after: Callable[[int, int], Sequence[Any]],
    limit: int,
    cursor: str | None,
    to_json: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """One page: ``rows_after(after, n)`` gives at most ``n`` rows with id > ``after`` by id
    (a service listing); one more than ``limit`` is asked for to know whether more follow."""
    rows = list(rows_after(_decode_cursor(cursor), limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [to_json(r) for r in rows],
        "next_cursor": _encode_cursor(rows[-1].id) if more else None,
    }


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else iso_z(t)


def _flush_or_409(session: Session, detail: str) -> None:
    """Flush, turning a unique-constraint violation into a 409.

    The check before an insert cannot see a concurrent request's uncommitted row: the loser of
    such a race fails here (or at commit, which the app-wide IntegrityError handler answers)."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=detail) from None
