"""/ws/threats: authentication, the first ranking, live updates; and the in-process bus that
drops a subscriber which falls behind without slowing the others."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from argus.accounts import tokens
from argus.api import ws as ws_module
from argus.db.models import Scenario
from argus.jobs.tasks import THREATS_TOPIC
from argus.pipeline.bus import MemoryBus, memory_bus
from argus.tewa import service
from tests.api._support import (
    JWT_SECRET,
    OTHER_SECRET,
    metric_value,
    open_session,
    seed_live,
)

WHEN = "2025-06-01T06:02:00Z"


def _token(auth: Any, role: str) -> str:
    return str(auth[role]["Authorization"].removeprefix("Bearer "))


def _what_if(client: TestClient, auth: Any, when: str) -> dict[str, Any]:
    """compute_at with persist through the API: a stored what-if, never the live board."""
    r = client.post(
        "/api/tewa/compute_at/",
        json={"scenario_id": 1, "when": when, "persist": True},
        headers=auth["operator"],
    )
    assert r.status_code == 200 and r.json()["persisted"] == 6, r.text
    assert r.json()["what_if"] is True
    body: dict[str, Any] = r.json()
    return body


def _compute_now(client: TestClient, auth: Any) -> dict[str, Any]:
    """compute_now through the API: a live computation at the scenario's own now."""
    r = client.post("/api/tewa/compute_now/", json={"scenario_id": 1}, headers=auth["operator"])
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    result: dict[str, Any] = r.json()["result"]
    assert result["written"] == 6
    return result


def _iso(t: str) -> dt.datetime:
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


def _assert_matches_rest(client: TestClient, auth: Any, msg: dict[str, Any]) -> None:
    """The pushed ranking is the REST ranking: global and for each of the scenario's DAs."""
    rest = client.get("/api/tewa/ranking/?scenario_id=1", headers=auth["viewer"]).json()
    assert msg["global"] == rest["results"]
    assert set(msg["per_da"]) == {"1", "2"}
    for da_id, rows in msg["per_da"].items():
        r = client.get(f"/api/tewa/ranking/?scenario_id=1&da_id={da_id}", headers=auth["viewer"])
        assert rows == r.json()["results"]


def test_token_in_query_gets_the_ranking_first(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    seed_live(seeded_sqlite_url, WHEN)
    with client.websocket_connect(
        f"/ws/threats?scenario_id=1&token={_token(auth, 'viewer')}"
    ) as ws:
        msg = ws.receive_json()
    assert msg["type"] == "ranking" and msg["scenario_id"] == 1
    assert msg["computed_at"] == "2025-06-01T06:02:00Z"
    assert [x["track_id"] for x in msg["global"]] == ["T1", "T2", "T3"]
    assert [x["rank"] for x in msg["global"]] == [1, 2, 3]
    _assert_matches_rest(client, auth, msg)


def test_token_in_first_message_gets_the_same_ranking(
    client: TestClient, seeded_sqlite_url: str, auth: Any
) -> None:
    seed_live(seeded_sqlite_url, WHEN)
    with client.websocket_connect(
        f"/ws/threats?scenario_id=1&token={_token(auth, 'viewer')}"
    ) as ws:
        by_query = ws.receive_json()
    with client.websocket_connect("/ws/threats?scenario_id=1") as ws:
        ws.send_json({"token": _token(auth, "viewer")})
        by_message = ws.receive_json()
    assert by_message == by_query and by_message["type"] == "ranking"
    assert len(by_message["global"]) == 3


@pytest.mark.parametrize(
    ("query", "first_message", "detail"),
    [
        ("", {"hello": "no token"}, "not authenticated"),
        ("", "not json", "not authenticated"),
        ("&token=garbage", None, "invalid token (DecodeError)"),
        ("", {"token": "garbage"}, "invalid token (DecodeError)"),
        ("&token=" + tokens.issue(OTHER_SECRET, "viewer", "viewer"), None, "invalid token"),
        (
            "&token=" + tokens.issue(JWT_SECRET, "viewer", "viewer", ttl=dt.timedelta(seconds=-1)),
            None,
            "token expired",
        ),
    ],
    ids=["no-token", "not-json", "garbage-query", "garbage-message", "other-secret", "expired"],
)
def test_missing_or_bad_token_gets_an_error_then_4401(
    client: TestClient, query: str, first_message: Any, detail: str
) -> None:
    with client.websocket_connect(f"/ws/threats?scenario_id=1{query}") as ws:
        if isinstance(first_message, dict):
            ws.send_json(first_message)
        elif first_message is not None:
            ws.send_text(first_message)
        err = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert err["type"] == "error" and err["status"] == 401
    assert err["detail"].startswith(detail)
    assert closed.value.code == 4401


def test_unknown_scenario_gets_an_error_then_4404(client: TestClient, auth: Any) -> None:
    with client.websocket_connect(
        f"/ws/threats?scenario_id=99&token={_token(auth, 'viewer')}"
    ) as ws:
        err = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert err == {"type": "error", "status": 404, "detail": "scenario_id: no scenario 99"}
    assert closed.value.code == 4404


@pytest.mark.timeout(60)
def test_a_live_computation_through_the_api_pushes_a_new_ranking_and_a_what_if_does_not(
    client: TestClient, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a 30 s poll, only the bus event can bring the update within a few seconds.
    monkeypatch.setattr(ws_module, "POLL_S", 30.0)
    published: list[dict[str, Any]] = []
    real_publish = memory_bus.publish

    def recording_publish(topic: str, message: Any) -> Any:
        if topic == THREATS_TOPIC:
            published.append(message)
        return real_publish(topic, message)

    monkeypatch.setattr(memory_bus, "publish", recording_publish)

    def ws_clients() -> float:
        return metric_value(client.get("/metrics").text, "argus_websocket_clients")

    def live_board() -> list[dict[str, Any]]:
        r = client.get("/api/tewa/ranking/?scenario_id=1", headers=auth["viewer"])
        rows: list[dict[str, Any]] = r.json()["results"]
        return rows

    clients_before = ws_clients()
    with client.websocket_connect(
        f"/ws/threats?scenario_id=1&token={_token(auth, 'viewer')}"
    ) as ws:
        first = ws.receive_json()
        assert first["computed_at"] is None and first["global"] == []  # nothing stored yet
        assert ws_clients() == clients_before + 1

        # a what-if (compute_at with persist) is stored but published to nobody, and the live
        # board stays as it was: empty
        what_if = _what_if(client, auth, WHEN)
        assert published == [] and live_board() == []

        # a live computation (compute_now) is published and pushed at once
        started = time.monotonic()
        result = _compute_now(client, auth)
        msg = ws.receive_json()
        assert time.monotonic() - started < 10
        assert [m["scenario_id"] for m in published] == [1]
        assert msg["type"] == "ranking"
        assert _iso(msg["computed_at"]) == _iso(result["computed_at"])
        assert {_iso(x["computed_at"]) for x in msg["global"]} == {_iso(result["computed_at"])}
        assert [x["track_id"] for x in msg["global"]][:2] == ["T1", "T2"]
        assert all(0 < x["score"] <= 1 for x in msg["global"])
        _assert_matches_rest(client, auth, msg)
        pushed = msg

        # another what-if, of another time: still nothing published, the board unchanged
        later = _what_if(client, auth, "2025-06-01T06:04:30Z")
        assert len(published) == 1 and live_board() == pushed["global"]
        # the what-ifs are stored, read back with the flag, with their own numbers
        wi = client.get(
            "/api/tewa/ranking/?scenario_id=1&what_if=true", headers=auth["viewer"]
        ).json()["results"]
        assert {x["computed_at"] for x in wi} == {"2025-06-01T06:04:30Z"}
        best = {
            p["track_id"]: max(
                q["score"] for q in later["results"] if q["track_id"] == p["track_id"]
            )
            for p in later["results"]
        }
        assert {x["track_id"]: x["score"] for x in wi} == best
        assert what_if["results"] and later["results"] != what_if["results"]

        # the next push is the next live computation's, not a what-if's
        result2 = _compute_now(client, auth)
        msg = ws.receive_json()
        assert len(published) == 2
        assert _iso(msg["computed_at"]) == _iso(result2["computed_at"])
        assert {x["computed_at"] for x in msg["global"]} != {"2025-06-01T06:04:30Z"}
        _assert_matches_rest(client, auth, msg)
    assert ws_clients() == clients_before


# ---- the bus ----


def test_memory_bus_drops_a_subscriber_that_stops_reading() -> None:
    async def scenario() -> None:
        bus = MemoryBus(max_queue=2)
        slow = bus.subscribe("threats")
        fast = bus.subscribe("threats")
        elsewhere = bus.subscribe("other-topic")
        drops: list[str] = []
        slow.on_drop = lambda: drops.append("slow")
        delivered_to: list[int] = []
        got: list[int] = []
        for i in range(6):
            delivered_to.append(bus.publish("threats", {"i": i}))
            await asyncio.sleep(0)  # let the loop deliver
            got.append((await asyncio.wait_for(fast.queue.get(), 1))["i"])
        assert got == [0, 1, 2, 3, 4, 5]  # the reader saw every event, in order
        # the slow one held 2, overflowed on the 3rd and was dropped once
        assert delivered_to == [2, 2, 2, 1, 1, 1]
        assert slow.dropped and drops == ["slow"]
        assert [slow.queue.get_nowait()["i"] for _ in range(slow.queue.qsize())] == [0, 1]
        assert not fast.dropped and elsewhere.queue.empty()
        assert bus.subscribers == 2  # fast and elsewhere

        # a publisher on another thread (a job) reaches the loop's subscribers too
        t = threading.Thread(target=bus.publish, args=("threats", {"i": 6}))
        t.start()
        t.join()
        assert (await asyncio.wait_for(fast.queue.get(), 1))["i"] == 6
        bus.unsubscribe(fast)
        assert bus.publish("threats", {"i": 7}) == 0

    asyncio.run(scenario())


# ---- the snapshot behind every client ----


def test_snapshot_is_rendered_once_per_revision_and_sees_writes_from_other_processes(
    app: Any, seeded_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each poll reads scenario.scores_rev; the body is rendered once per revision for every
    client, and a batch stored by another process (its own engine) is picked up by the poll."""
    renders: list[int] = []
    real_rank = service.rank

    def counting_rank(*args: Any, **kwargs: Any) -> Any:
        renders.append(1)
        return real_rank(*args, **kwargs)

    monkeypatch.setattr(service, "rank", counting_rank)
    with TestClient(app):
        rev0, body0 = ws_module._snapshot(app, 1, None)
        assert body0 is not None and rev0 is not None
        assert len(renders) == 3  # the global board and one per DA (the demo has 2)
        # A second client connecting at the same revision gets the same bytes, not a rendering.
        assert ws_module._snapshot(app, 1, None) == (rev0, body0)
        # A client that has this revision gets nothing to send.
        assert ws_module._snapshot(app, 1, rev0) == (rev0, None)
        assert len(renders) == 3
        with open_session(seeded_sqlite_url) as s:  # a writer outside the API process
            sc = s.get(Scenario, 1)
            assert sc is not None
            when = dt.datetime(2025, 6, 1, 6, 2, tzinfo=dt.UTC)
            assert service.compute_at(s, sc, when, persist=True, live=True).persisted == 6
            s.commit()
        rev1, body1 = ws_module._snapshot(app, 1, rev0)
        assert rev1 is not None and rev1 > rev0 and body1 is not None
        assert len(renders) == 6
        assert b'"computed_at":"2025-06-01T06:02:00Z"' in body1
        assert ws_module._snapshot(app, 999, None) == (None, None)


def test_the_pushed_stamp_is_the_time_of_the_latest_evaluation_after_a_replay_loop(
    app: Any, seeded_sqlite_url: str
) -> None:
    """A replay scenario's "now" goes back to its start after each loop: the stamp is the time
    the most recently evaluated entry describes (06:01 here), not the newest described time
    still on the board (06:04, the pairs of a DA the later evaluation did not cover)."""
    t0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    with TestClient(app):
        seed_live(seeded_sqlite_url, "2025-06-01T06:04:00Z", evaluated_at=t0)
        rev0, body0 = ws_module._snapshot(app, 1, None)
        assert body0 is not None and json.loads(body0)["computed_at"] == "2025-06-01T06:04:00Z"
        # the next loop, a minute later, describes an earlier time; here for DA 1 only
        with open_session(seeded_sqlite_url) as s:
            sc = s.get(Scenario, 1)
            assert sc is not None
            res = service.compute_at(
                s,
                sc,
                dt.datetime(2025, 6, 1, 6, 1, tzinfo=dt.UTC),
                da_ids=[1],
                persist=True,
                live=True,
                evaluated_at=t0 + dt.timedelta(minutes=1),
            )
            assert res.persisted == 3
            s.commit()
        rev1, body1 = ws_module._snapshot(app, 1, rev0)
        assert body1 is not None and rev1 != rev0
        msg = json.loads(body1)
        assert msg["computed_at"] == "2025-06-01T06:01:00Z"
        # the board: DA 1 from the newest evaluation, DA 2 still from the first one
        assert {x["computed_at"] for x in msg["per_da"]["1"]} == {"2025-06-01T06:01:00Z"}
        assert {x["computed_at"] for x in msg["per_da"]["2"]} == {"2025-06-01T06:04:00Z"}
        assert sorted(x["score"] for x in msg["per_da"]["1"]) == sorted(p.score for p in res.pairs)


# ---- a client that falls behind ----


class _FakeSocket:
    """What ``threats`` needs of a WebSocket. ``stall_after`` messages in, ``send_text`` never
    returns: the client stopped reading and its socket buffers are full."""

    def __init__(self, app: Any, stall_after: int | None) -> None:
        self.app = app
        self.stall_after = stall_after
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str | None] | None = None
        self.gone = asyncio.Event()

    async def accept(self) -> None:
        pass

    async def receive_text(self) -> str:
        await self.gone.wait()
        raise WebSocketDisconnect(1000)

    async def send_json(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    async def send_text(self, text: str) -> None:
        if self.stall_after is not None and len(self.sent) >= self.stall_after:
            await asyncio.Event().wait()
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


def test_a_client_that_stops_reading_is_dropped_and_the_others_are_not_slowed(
    app: Any, seeded_sqlite_url: str, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_module, "POLL_S", 0.05)
    monkeypatch.setattr(ws_module, "SEND_TIMEOUT_S", 0.5)
    token = _token(auth, "viewer")

    def store_batch() -> None:  # another process's writer: the poll must notice it
        with open_session(seeded_sqlite_url) as s:
            sc = s.get(Scenario, 1)
            assert sc is not None
            when = dt.datetime(2025, 6, 1, 6, 2, tzinfo=dt.UTC)
            assert service.compute_at(s, sc, when, persist=True, live=True).persisted == 6
            s.commit()

    async def until(cond: Any, timeout: float = 10.0) -> float:
        t0 = time.monotonic()
        while not cond():
            assert time.monotonic() - t0 < timeout, "timed out"
            await asyncio.sleep(0.01)
        return time.monotonic() - t0

    async def scenario() -> None:
        slow, fast = _FakeSocket(app, stall_after=1), _FakeSocket(app, stall_after=None)
        runs = [asyncio.create_task(ws_module.threats(w, 1, token)) for w in (slow, fast)]  # type: ignore[arg-type]
        await until(lambda: len(slow.sent) == 1 and len(fast.sent) == 1)
        assert slow.sent[0]["global"] == [] == fast.sent[0]["global"]
        await asyncio.to_thread(store_batch)
        # the reader gets the new ranking at its next poll, while the stalled send still hangs
        took = await until(lambda: len(fast.sent) == 2)
        assert took < ws_module.SEND_TIMEOUT_S and slow.closed is None
        assert fast.sent[1]["computed_at"] == "2025-06-01T06:02:00Z"
        await asyncio.wait_for(runs[0], 5)  # the stalled one is dropped after SEND_TIMEOUT_S
        assert slow.closed == (4408, "too slow: dropped") and len(slow.sent) == 1
        assert fast.closed is None and not runs[1].done()
        fast.gone.set()  # the reader disconnects normally
        await asyncio.wait_for(runs[1], 5)
        assert fast.closed is None

    with TestClient(app) as client:
        dropped = metric_value(client.get("/metrics").text, "argus_websocket_dropped_total")
        clients = metric_value(client.get("/metrics").text, "argus_websocket_clients")
        asyncio.run(scenario())
        text = client.get("/metrics").text
        assert metric_value(text, "argus_websocket_dropped_total") == dropped + 1
        assert metric_value(text, "argus_websocket_clients") == clients


# ---- the token is not trusted forever ----


def _run_client(app: Any, token: str, writer: Any, monkeypatch: pytest.MonkeyPatch) -> _FakeSocket:
    """Connect a reading client with ``token``, let ``writer`` change things after the first
    ranking, and return the socket once the server has closed it (or after 5 s)."""
    monkeypatch.setattr(ws_module, "POLL_S", 0.05)

    async def scenario() -> _FakeSocket:
        sock = _FakeSocket(app, stall_after=None)
        run = asyncio.create_task(ws_module.threats(sock, 1, token))  # type: ignore[arg-type]
        t0 = time.monotonic()
        while not sock.sent:
            assert time.monotonic() - t0 < 5
            await asyncio.sleep(0.01)
        await asyncio.to_thread(writer)
        try:
            await asyncio.wait_for(run, 5)
        except TimeoutError:
            sock.gone.set()
            await asyncio.wait_for(run, 5)
        return sock

    with TestClient(app):
        return asyncio.run(scenario())


def _store_batch(url: str) -> None:
    with open_session(url) as s:
        sc = s.get(Scenario, 1)
        assert sc is not None
        service.compute_at(
            s, sc, dt.datetime(2025, 6, 1, 6, 2, tzinfo=dt.UTC), persist=True, live=True
        )
        s.commit()


def test_a_deactivated_user_gets_no_further_push(
    app: Any, seeded_sqlite_url: str, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argus.accounts.service import update_user

    def deactivate_then_write() -> None:
        with open_session(seeded_sqlite_url) as s:
            update_user(s, "viewer", active=False)
            s.commit()
        _store_batch(seeded_sqlite_url)

    sock = _run_client(app, _token(auth, "viewer"), deactivate_then_write, monkeypatch)
    assert [m["type"] for m in sock.sent] == ["ranking", "error"]  # the new batch is not sent
    assert sock.sent[1]["status"] == 401 and "deactivated" in sock.sent[1]["detail"]
    assert sock.closed is not None and sock.closed[0] == 4401


def test_an_expired_token_is_closed_without_waiting_for_a_push(
    app: Any, seeded_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tokens.issue(JWT_SECRET, "viewer", "viewer", ttl=dt.timedelta(seconds=1))
    sock = _run_client(app, short, lambda: time.sleep(1.5), monkeypatch)  # no write at all
    assert [m["type"] for m in sock.sent] == ["ranking", "error"]
    assert sock.sent[1]["status"] == 401 and "expired" in sock.sent[1]["detail"]
    assert sock.closed is not None and sock.closed[0] == 4401


def test_a_password_change_stops_the_pushes_of_older_tokens(
    app: Any, seeded_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user stays active: only the token version tells the old token apart."""
    from argus.accounts.service import update_user

    token = tokens.issue(JWT_SECRET, "viewer", "viewer")  # token version 0, as issued at login

    def change_password_then_write() -> None:
        with open_session(seeded_sqlite_url) as s:
            update_user(s, "viewer", password="a-brand-new-password")
            s.commit()
        _store_batch(seeded_sqlite_url)

    sock = _run_client(app, token, change_password_then_write, monkeypatch)
    assert [m["type"] for m in sock.sent] == ["ranking", "error"]  # the new batch is not sent
    assert sock.sent[1]["status"] == 401 and sock.sent[1]["detail"].startswith("token revoked")
    assert sock.closed is not None and sock.closed[0] == 4401
