"""/ws/threats: the ranking of a scenario, pushed after every computation.

Authenticate with ``?token=<access token>`` or a first message ``{"token": "…"}``. The server
sends ``{"type": "ranking", …}`` at once and again whenever the scenario's scores change —
whether computed in this process (in-process bus) or by a Celery worker or the CLI (seen by
polling the scenario's ``scores_rev`` every ``POLL_S``). The snapshot is rendered once per
revision and shared by all clients. A client that falls behind (its queue overflows or a send
takes longer than ``SEND_TIMEOUT_S``) is dropped; the others are not slowed. The token is not
trusted forever: its expiry is checked at every poll and the user looked up again before every
push, so an expired token or a deactivated user gets an error and close code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect

from argus import metrics
from argus.api.deps import claims_from_token, user_from_token
from argus.jobs.tasks import THREATS_TOPIC
from argus.pipeline.bus import memory_bus
from argus.tewa import service
from argus.timefmt import iso_z

router = APIRouter()

POLL_S = 1.0
SEND_TIMEOUT_S = 2.0


def _snapshot(app: Any, scenario_id: int, last_rev: int | None) -> tuple[int | None, bytes | None]:
    """(revision, JSON body) of the scenario's rankings; body None when the revision is still
    ``last_rev`` (nothing to send) or the scenario does not exist (revision None too).

    A poll is one autocommit read of ``scenario.scores_rev``; the body is rendered once per
    revision and shared by every client of the scenario through the ranking cache.
    """
    state = app.state
    rev = service.scenario_revision(state.read_engine, scenario_id)
    if rev is None:
        return None, None
    if rev == last_rev:
        return rev, None

    def render() -> dict[str, Any]:
        with state.sessionmaker() as session:
            sc = service.find_scenario(session, scenario_id)
            if sc is None:  # deleted since the revision was read
                raise LookupError(f"scenario_id: no scenario {scenario_id}")
            # The time the board describes (that of its most recently evaluated entry).
            latest = service.board_time(session, sc)
            ranked = service.rank(session, sc)
            per_da: dict[str, list[dict[str, Any]]] = {}
            for a in service.scenario_assets(session, sc):
                per_da[str(a.id)] = [r.as_json() for r in service.rank(session, sc, da_id=a.id)]
            return {
                "type": "ranking",
                "scenario_id": scenario_id,
                "computed_at": iso_z(latest) if latest else None,
                "global": [r.as_json() for r in ranked],
                "per_da": per_da,
            }

    try:
        body, _ = state.ranking_cache.get_or_render(("ws", scenario_id, rev), render)
    except LookupError:
        return None, None
    return rev, body


def _authenticate(app: Any, token: str | None) -> None:
    user_from_token(app.state.settings, app.state.read_engine, token)


async def _accept(ws: WebSocket, token: str | None) -> str | None:
    """Accept, take the token (query, or the first message within 10 s) and check it; on a
    bad one send the error and close (4401 / 4403) and return None."""
    await ws.accept()
    if token is None:
        try:
            first = await asyncio.wait_for(ws.receive_text(), timeout=10)
            token = json.loads(first).get("token")
        except (TimeoutError, ValueError, AttributeError, WebSocketDisconnect):
            token = None
    try:
        await asyncio.to_thread(_authenticate, ws.app, token)
    except HTTPException as exc:
        await ws.send_json({"type": "error", "status": exc.status_code, "detail": exc.detail})
        await ws.close(code=4401 if exc.status_code == 401 else 4403)
        return None
    return token


@router.websocket("/ws/threats")
async def threats(
    ws: WebSocket,
    scenario_id: Annotated[int, Query(ge=1, le=2_147_483_647)],
    token: str | None = None,
) -> None:
    token = await _accept(ws, token)
    if token is None:
        return
    app = ws.app
    last, snap = await asyncio.to_thread(_snapshot, app, scenario_id, None)
    if snap is None:
        await ws.send_json(
            {"type": "error", "status": 404, "detail": f"scenario_id: no scenario {scenario_id}"}
        )
        await ws.close(code=4404)
        return
    dropped = asyncio.Event()
    sub = memory_bus.subscribe(THREATS_TOPIC)
    sub.on_drop = dropped.set
    metrics.WS_CLIENTS.inc()
    receiver = asyncio.create_task(_drain(ws))
    try:
        await asyncio.wait_for(ws.send_text(snap.decode()), SEND_TIMEOUT_S)
        while not receiver.done():
            if dropped.is_set():
                raise TimeoutError
            try:
                event = await asyncio.wait_for(sub.queue.get(), timeout=POLL_S)
                if event.get("scenario_id") != scenario_id:
                    continue
            except TimeoutError:
                pass
            # The token's expiry is checked every poll (no I/O: a cached signature check);
            # before each push the user is looked up again, so a deactivated user or an
            # expired token stops receiving (4401) instead of staying live on an old check.
            claims_from_token(app.state.settings, token)
            current, snap = await asyncio.to_thread(_snapshot, app, scenario_id, last)
            if snap is not None:
                await asyncio.to_thread(_authenticate, app, token)
                last = current
                await asyncio.wait_for(ws.send_text(snap.decode()), SEND_TIMEOUT_S)
    except TimeoutError:  # fell behind: drop this client only
        metrics.WS_DROPPED.inc()
        with contextlib.suppress(Exception):
            await ws.close(code=4408, reason="too slow: dropped")
    except HTTPException as exc:  # the token expired or the user was deactivated meanwhile
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "status": exc.status_code, "detail": exc.detail})
            await ws.close(code=4401 if exc.status_code == 401 else 4403)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
        memory_bus.unsubscribe(sub)
        metrics.WS_CLIENTS.dec()


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()


#: Seconds between heartbeats on /ws/radar-stream when no frame arrives.
HEARTBEAT_S = 5.0


@router.websocket("/ws/radar-stream")
async def radar_stream(ws: WebSocket, token: str | None = None) -> None:
    """The live defense picture (seed 004): ``radar_frame`` after every pipeline cycle,
    ``threats`` (the tracks at low level or above), ``system_status`` every 10 frames and a
    ``heartbeat`` when nothing happened for 5 s. Same auth as /ws/threats (viewer token in the
    query or as the first message); a client that cannot keep up is dropped (4408)."""
    token = await _accept(ws, token)
    if token is None:
        return
    app = ws.app
    rt = getattr(app.state, "defense", None)
    if rt is None:
        await ws.send_json(
            {"type": "error", "status": 503,
             "detail": "defense pipeline not running: `argus serve --pipeline` or `argus demo defense`"}
        )  # fmt: skip
        await ws.close(code=4503)
        return
    loop = asyncio.get_running_loop()
    frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=8)
    dropped = asyncio.Event()

    def on_frame(frame: dict[str, Any]) -> None:  # called on the pipeline's thread
        def put() -> None:
            try:
                frames.put_nowait(frame)
            except asyncio.QueueFull:
                dropped.set()

        loop.call_soon_threadsafe(put)

    rt.cycle_listeners.append(on_frame)
    metrics.WS_CLIENTS.inc()
    receiver = asyncio.create_task(_drain(ws))
    n = 0
    try:
        if rt.frame:
            await asyncio.wait_for(ws.send_json(rt.frame), SEND_TIMEOUT_S)
        while not receiver.done():
            if dropped.is_set():
                raise TimeoutError
            try:
                frame = await asyncio.wait_for(frames.get(), timeout=HEARTBEAT_S)
            except TimeoutError:
                claims_from_token(app.state.settings, token)
                await asyncio.wait_for(
                    ws.send_json(
                        {"type": "heartbeat", "time": dt.datetime.now(dt.UTC).isoformat()}
                    ),
                    SEND_TIMEOUT_S,
                )
                continue
            claims_from_token(app.state.settings, token)
            await asyncio.wait_for(ws.send_json(frame), SEND_TIMEOUT_S)
            threats_now = [t for t in frame.get("tracks", []) if t.get("level") != "none"]
            await asyncio.wait_for(
                ws.send_json(
                    {"type": "threats", "time": frame.get("time"), "threats": threats_now}
                ),
                SEND_TIMEOUT_S,
            )
            n += 1
            if n % 10 == 1:
                await asyncio.to_thread(_authenticate, app, token)
                await asyncio.wait_for(
                    ws.send_json({"type": "system_status", **rt.status()}), SEND_TIMEOUT_S
                )
    except TimeoutError:
        metrics.WS_DROPPED.inc()
        with contextlib.suppress(Exception):
            await ws.close(code=4408, reason="too slow: dropped")
    except HTTPException as exc:
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "status": exc.status_code, "detail": exc.detail})
            await ws.close(code=4401 if exc.status_code == 401 else 4403)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
        with contextlib.suppress(ValueError):
            rt.cycle_listeners.remove(on_frame)
        metrics.WS_CLIENTS.dec()
