"""scores.csv: streamed page by page, a validated from/to window, and no cell a spreadsheet would
run as a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from argus.api.app import create_app
from argus.api.routes import exports
from tests.api._support import (
    DEMO_SCENARIO_ID,
    assert_problem,
    error_fields,
    make_settings,
    seed_live,
)

URL = f"/api/scenarios/{DEMO_SCENARIO_ID}/scores.csv"
HEADER = "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp\n"
#: Track ids that would run as formulas, and what the export must write for them.
EVIL = {
    '=HYPERLINK("http://x","y")': '\'=HYPERLINK("http://x","y")',
    "+1+2": "'+1+2",
    "-3+4": "'-3+4",
    "@SUM(A1)": "'@SUM(A1)",
}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        *EVIL.items(),
        ("\tX", "'\tX"),
        ("\rX", "'\rX"),
        ("T1", "T1"),
        ("a=b", "a=b"),
        ("", ""),
        (-3.5, -3.5),  # numbers are not text: a negative tcpa stays a number
        (None, None),
    ],
)
def test_neutralize_cell(value: Any, cell: Any) -> None:
    assert exports.neutralize_cell(value) == cell


def test_formula_track_ids_are_written_with_a_leading_quote(
    client: TestClient, seeded_sqlite_url: str, auth: dict[str, dict[str, str]]
) -> None:
    lines = [HEADER]
    for k, tid in enumerate(EVIL):
        q = '"' + tid.replace('"', '""') + '"'
        lines += [
            f"{q},26.{k + 1},71.0,5000,250,180,2025-06-01T06:00:00Z\n",
            f"{q},26.{k + 1},71.0,5000,250,180,2025-06-01T06:00:20Z\n",
        ]
    r = client.post(
        f"/api/scenarios/{DEMO_SCENARIO_ID}/tracks/upload",
        files={"file": ("evil.csv", "".join(lines).encode(), "text/csv")},
        headers=auth["operator"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["tracks_created"] == len(EVIL)
    seed_live(seeded_sqlite_url, "2025-06-01T06:00:20Z")
    r = client.get(URL, headers=auth["viewer"])
    assert r.status_code == 200
    rows = _rows(r.text)
    written = {row["track_id"] for row in rows}
    assert set(EVIL.values()) <= written
    assert not any(t.startswith(("=", "+", "-", "@")) for t in written)
    assert {"T1", "T2", "T3"} <= written  # plain ids unchanged
    # numeric cells are untouched numbers, negative ones included
    assert all(row["score"] and float(row["score"]) >= 0 for row in rows)
    assert all(row["tcpa_s"] == "" or float(row["tcpa_s"]) == float(row["tcpa_s"]) for row in rows)


def test_window_from_to_is_half_open_and_validated(
    client: TestClient, seeded_sqlite_url: str, auth: dict[str, dict[str, str]]
) -> None:
    for when in ("2025-06-01T06:01:00Z", "2025-06-01T06:02:00Z", "2025-06-01T06:03:00Z"):
        seed_live(seeded_sqlite_url, when)
    viewer = auth["viewer"]

    def times(**params: str) -> list[str]:
        r = client.get(URL, params=params, headers=viewer)
        assert r.status_code == 200, r.text
        return sorted({row["computed_at"] for row in _rows(r.text)})

    assert len(times()) == 3
    assert times(**{"from": "2025-06-01T06:02:00Z"}) == [
        "2025-06-01T06:02:00Z",
        "2025-06-01T06:03:00Z",
    ]
    assert times(**{"to": "2025-06-01T06:02:00Z"}) == ["2025-06-01T06:01:00Z"]
    assert times(**{"from": "2025-06-01T07:01:30+01:00", "to": "2025-06-01T06:03:00Z"}) == [
        "2025-06-01T06:02:00Z"
    ]
    # a zone is required, the fields are named, the window must not be empty or reversed
    r = client.get(URL, params={"from": "2025-06-01T06:02:00"}, headers=viewer)
    assert error_fields(assert_problem(r, 422)) == {"query.from"}
    r = client.get(URL, params={"to": "yesterday"}, headers=viewer)
    assert error_fields(assert_problem(r, 422)) == {"query.to"}
    r = client.get(
        URL, params={"from": "2025-06-01T06:02:00Z", "to": "2025-06-01T06:02:00Z"}, headers=viewer
    )
    assert assert_problem(r, 422)["detail"] == "to: must be after from"
    r = client.get(
        URL,
        params={"from": "2025-06-01T06:02:00Z", "start": "2025-06-01T06:02:00Z"},
        headers=viewer,
    )
    assert assert_problem(r, 422)["detail"].startswith("from: ")
    # anonymous callers learn nothing about the input
    assert_problem(client.get(URL, params={"from": "bad"}), 401)


def test_rows_are_streamed_page_by_page(
    client: TestClient, seeded_sqlite_url: str, auth: dict[str, dict[str, str]], monkeypatch: Any
) -> None:
    """Each page of EXPORT_PAGE_ROWS rows leaves as its own body message (the whole result
    is never one string in memory)."""
    seed_live(seeded_sqlite_url, "2025-06-01T06:01:00Z")
    seed_live(seeded_sqlite_url, "2025-06-01T06:02:00Z")  # 2 × 3 tracks × 2 assets = 12
    # A fresh app for the raw ASGI call: the client's app has its async reader on another loop.
    app = create_app(make_settings(seeded_sqlite_url))
    monkeypatch.setattr(exports, "EXPORT_PAGE_ROWS", 5)
    token = auth["viewer"]["Authorization"].encode()
    bodies: list[bytes] = []
    started: dict[str, Any] = {}

    async def call() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": URL,
            "raw_path": URL.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test"), (b"authorization", token)],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }

        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if requested:  # the client stays connected until the answer is complete
                await anyio.sleep_forever()
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body" and message.get("body"):
                bodies.append(message["body"])

        await app(scope, receive, send)

    anyio.run(call)
    assert started["status"] == 200
    text = b"".join(bodies).decode()
    assert len(_rows(text)) == 12
    assert bodies[0].decode().startswith("computed_at,evaluated_at,track_id,da_name,")
    assert len(bodies) == 1 + 3  # header, then pages of 5 + 5 + 2 rows
    assert [len(b.decode().splitlines()) for b in bodies[1:]] == [5, 5, 2]


def test_a_scenario_name_that_headers_cannot_carry_still_exports(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.patch(
        f"/api/scenarios/{DEMO_SCENARIO_ID}",
        json={"name": 'Ωmega "quoted"'},
        headers=auth["operator"],
    )
    assert r.status_code == 200, r.text
    r = client.get(URL, headers=auth["viewer"])
    assert r.status_code == 200
    disposition = r.headers["content-disposition"]
    assert 'filename="scores-_mega__quoted_.csv"' in disposition
    assert "filename*=UTF-8''scores-%CE%A9mega_%22quoted%22.csv" in disposition
