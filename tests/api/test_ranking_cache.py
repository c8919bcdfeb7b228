"""The ranking endpoint serves a rendered ranking again until the scenario's revision moves.

Writes made outside the API process (here: plain sessions on the same database, as a Celery
worker or the CLI would) must show at the next request, never a cached body from before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from argus.api.app import create_app
from argus.db.models import DefendedAsset, Scenario
from argus.tewa import service
from tests.api._support import make_settings, open_session

SID = 1
URL = f"/api/tewa/ranking/?scenario_id={SID}"
T1 = dt.datetime(2025, 6, 1, 6, 2, tzinfo=dt.UTC)


def _compute_elsewhere(url: str, when: dt.datetime) -> None:
    with open_session(url) as s:
        sc = s.get(Scenario, SID)
        assert sc is not None
        assert service.compute_at(s, sc, when, persist=True, live=True).persisted > 0
        s.commit()


def _what_if_elsewhere(url: str, when: dt.datetime) -> None:
    with open_session(url) as s:
        sc = s.get(Scenario, SID)
        assert sc is not None
        assert service.compute_at(s, sc, when, persist=True).persisted > 0
        s.commit()


def _get(client: TestClient, headers: dict[str, str], url: str = URL) -> tuple[str, Any]:
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["X-Argus-Cache"], r.json()


def test_cached_until_any_writer_changes_the_scenario(
    seeded_db_url: str, auth: dict[str, dict[str, str]]
) -> None:
    viewer = auth["viewer"]
    with TestClient(create_app(make_settings(seeded_db_url))) as client:
        assert _get(client, viewer) == ("miss", _get(client, viewer)[1])
        _compute_elsewhere(seeded_db_url, T1)
        state, first = _get(client, viewer)
        assert state == "miss" and {x["computed_at"] for x in first["results"]} == {
            "2025-06-01T06:02:00Z"
        }
        state, again = _get(client, viewer)
        assert (state, again) == ("hit", first)
        # A stored what-if is not on the live board: the revision stays, the body is served again.
        _what_if_elsewhere(seeded_db_url, T1 + dt.timedelta(seconds=120))
        assert _get(client, viewer) == ("hit", first)
        # Each query has its own entry: per DA, top_n, at.
        assert _get(client, viewer, URL + "&da_id=1")[0] == "miss"
        assert _get(client, viewer, URL + "&da_id=1")[0] == "hit"
        assert _get(client, viewer, URL + "&top_n=1")[1]["results"] == first["results"][:1]

        _compute_elsewhere(seeded_db_url, T1 + dt.timedelta(seconds=60))
        state, later = _get(client, viewer)
        assert state == "miss"
        assert {x["computed_at"] for x in later["results"]} == {"2025-06-01T06:03:00Z"}
        state, per_da = _get(client, viewer, URL + "&da_id=1")
        assert state == "miss" and {x["computed_at"] for x in per_da["results"]} == {
            "2025-06-01T06:03:00Z"
        }

        # A defended asset renamed by plain SQL shows at once.
        da = later["results"][0]["da_id"]
        with open_session(seeded_db_url) as s:
            s.execute(update(DefendedAsset).where(DefendedAsset.id == da).values(name="RENAMED"))
            s.commit()
        state, renamed = _get(client, viewer)
        assert state == "miss"
        assert {x["da_name"] for x in renamed["results"] if x["da_id"] == da} == {"RENAMED"}


def test_the_same_instant_in_another_offset_answers_alike(
    seeded_sqlite_url: str, auth: dict[str, dict[str, str]]
) -> None:
    _compute_elsewhere(seeded_sqlite_url, T1)
    with TestClient(create_app(make_settings(seeded_sqlite_url))) as client:
        q = {"scenario_id": SID, "at": "2025-06-01T06:02:30Z"}
        a = client.get("/api/tewa/ranking/", params=q, headers=auth["viewer"])
        q["at"] = "2025-06-01T08:02:30+02:00"
        b = client.get("/api/tewa/ranking/", params=q, headers=auth["viewer"])
    assert b.headers["X-Argus-Cache"] == "hit"
    assert a.json() == b.json() and a.json()["at"] == "2025-06-01T06:02:30Z"


def test_cache_off_computes_every_time(
    seeded_sqlite_url: str, auth: dict[str, dict[str, str]]
) -> None:
    _compute_elsewhere(seeded_sqlite_url, T1)
    settings = make_settings(seeded_sqlite_url, ranking_cache_entries=0)
    with TestClient(create_app(settings)) as client:
        states = [_get(client, auth["viewer"])[0] for _ in range(3)]
    assert states == ["miss"] * 3


def test_concurrent_misses_render_once() -> None:
    import threading
    import time

    from argus.api.ranking_cache import RankingCache

    cache = RankingCache(4)
    calls = []
    gate = threading.Barrier(8)

    def render() -> dict[str, Any]:
        calls.append(1)
        time.sleep(0.3)  # long enough for every other thread to arrive and wait
        return {"n": len(calls)}

    out: list[tuple[bytes, bool]] = []

    def worker() -> None:
        gate.wait()
        out.append(cache.get_or_render((1, 7, None, None, None), render))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert {body for body, _ in out} == {b'{"n":1}'}
    assert sorted(hit for _, hit in out) == [False] + [True] * 7
    # A new revision is a new key: rendered again.
    assert cache.get_or_render((1, 8, None, None, None), render) == (b'{"n":2}', False)


def test_a_failed_render_is_not_cached_and_waiters_render_themselves() -> None:
    import threading
    import time

    import pytest

    from argus.api.ranking_cache import RankingCache

    cache = RankingCache(4)
    first = threading.Event()
    calls = []

    def render() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            first.set()
            time.sleep(0.2)
            raise RuntimeError("database went away")
        return {"ok": True}

    result: list[tuple[bytes, bool]] = []
    waiter = threading.Thread(
        target=lambda: (
            first.wait(),
            result.append(cache.get_or_render((1, 1, None, None, None), render)),
        )
    )
    with pytest.raises(RuntimeError, match="went away"):
        waiter.start()
        cache.get_or_render((1, 1, None, None, None), render)
    waiter.join()
    assert result == [(b'{"ok":true}', False)] and len(calls) == 2
    assert cache.get_or_render((1, 1, None, None, None), render) == (b'{"ok":true}', True)


# ---- gzip ----


def test_accept_encoding_parsing() -> None:
    from argus.api.ranking_cache import accepts_gzip

    yes = ["gzip", "GZIP", "br, gzip;q=0.5", "deflate, *", "gzip; q=1.0", "identity, gzip"]
    no = [None, "", "identity", "br", "gzip;q=0", "gzip; q=0.0", "*;q=0", "gzip;q=bad", "xgzip"]
    assert [accepts_gzip(h) for h in yes] == [True] * len(yes)
    assert [accepts_gzip(h) for h in no] == [False] * len(no)


def test_gzip_body_is_compressed_once_per_revision_and_decodes_to_the_same_json(
    seeded_db_url: str, auth: dict[str, dict[str, str]], monkeypatch: Any
) -> None:
    import gzip

    from argus.api import ranking_cache

    monkeypatch.setattr(ranking_cache, "GZIP_MIN_BYTES", 600)  # the demo's board is small
    calls: list[int] = []
    real = gzip.compress

    def counting(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        calls.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(ranking_cache.gzip, "compress", counting)
    _compute_elsewhere(seeded_db_url, T1)
    viewer = auth["viewer"]
    with TestClient(create_app(make_settings(seeded_db_url))) as client:
        plain = client.get(URL, headers={**viewer, "Accept-Encoding": "identity"})
        assert (
            "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
        )
        assert len(plain.content) > 600 and calls == [len(plain.content)]  # compressed at render
        for _ in range(3):  # hits: the same compressed bytes, no new compression
            r = client.get(URL, headers={**viewer, "Accept-Encoding": "gzip, deflate"})
            assert r.headers["content-encoding"] == "gzip" and r.headers["x-argus-cache"] == "hit"
            assert r.content == plain.content  # httpx decoded it: the very same JSON bytes
            assert int(r.headers["content-length"]) < len(plain.content)
        assert len(calls) == 1
        # a body under the threshold is sent as it is, even to a gzip client
        small = client.get(URL + "&top_n=1", headers={**viewer, "Accept-Encoding": "gzip"})
        assert "content-encoding" not in small.headers and len(small.content) < 600
