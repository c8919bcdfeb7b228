"""One contract suite for every :class:`~argus.pipeline.asyncbus.EventBus` implementation.

Each test runs against the in-process bus and against NATS JetStream (marker ``nats``; server
at ``ARGUS_TEST_NATS_URL``, default nats://127.0.0.1:4222, skipped when unreachable, a
failure under ``CI=true``). Each NATS test has its own stream and subject prefix and deletes
the stream at the end, so the suite runs in parallel (``-n``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from argus.pipeline import events as ev
from argus.pipeline.asyncbus import (
    EventBus,
    HandlerFailed,
    Idempotent,
    InProcessBus,
    NatsBus,
    make_bus,
)
from tests.conftest import IN_CI

NATS_URL = os.environ.get("ARGUS_TEST_NATS_URL", "nats://127.0.0.1:4222")
MAX_DELIVER = 3


def _nats_reason() -> str | None:
    parts = urlsplit(NATS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 2):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def require_nats() -> None:
    reason = _nats_reason()
    if reason is not None:
        msg = f"NATS at {NATS_URL} unreachable ({reason})"
        if IN_CI:
            pytest.fail(msg + "; CI=true makes this a failure", pytrace=False)
        pytest.skip(msg)


class Backend:
    """Opens buses of one implementation; every bus of one test shares its durables."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        tag = uuid.uuid4().hex[:10]
        self.stream, self.prefix = f"T_{tag}", f"t{tag}"
        self._memory: InProcessBus | None = None
        self._opened: list[Any] = []

    async def open(self) -> EventBus:
        """A bus; for NATS a new connection each call (a restarted process, same stream)."""
        if self.kind == "memory":
            if self._memory is None:
                self._memory = InProcessBus(max_deliver=MAX_DELIVER)
            return self._memory
        bus = await NatsBus.connect(
            NATS_URL,
            stream=self.stream,
            prefix=self.prefix,
            ack_wait_s=2.0,
            max_deliver=MAX_DELIVER,
        )
        self._opened.append(bus)
        return bus

    async def cleanup(self) -> None:
        if self._memory is not None:
            await self._memory.close()
        for i, bus in enumerate(self._opened):
            if i == 0:
                await bus.delete_stream()
            await bus.close()


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "nats":
        require_nats()
    return Backend(request.param)


def run(backend: Backend, scenario: Callable[[Backend], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            await asyncio.wait_for(scenario(backend), timeout=60)
        finally:
            await backend.cleanup()

    asyncio.run(main())


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def settle() -> None:
    """Long enough for a stray duplicate to show up (> nothing; < ack_wait)."""
    await asyncio.sleep(0.3)


def detection(i: int) -> ev.RadarDetection:
    return ev.RadarDetection(
        site="R1", range_m=1000.0 + i, azimuth_deg=10.0, elevation_deg=5.0, snr_db=float(i)
    )


def truth(i: int) -> ev.TrackTruth:
    return ev.TrackTruth(
        flight_id=f"F{i}", lat_deg=1.0, lon_deg=2.0, alt_m=3.0, velocity_enu_mps=(0, 0, 0)
    )


def collector() -> tuple[list[ev.Event], Callable[[ev.Event], Awaitable[None]]]:
    got: list[ev.Event] = []

    async def handler(event: ev.Event) -> None:
        got.append(event)

    return got, handler


def test_every_event_once_to_each_durable_in_order(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        await bus.publish(detection(-1))  # before any durable exists: nobody gets it
        a, ha = collector()
        c, hc = collector()
        t, ht = collector()
        await bus.subscribe("radar.detection", "a", ha)
        await bus.subscribe("radar.detection", "c", hc)
        await bus.subscribe("track.truth", "a", ht)  # same durable name, other subject
        sent_d = [detection(i) for i in range(20)]
        sent_t = [truth(i) for i in range(5)]
        for i, d in enumerate(sent_d):
            await bus.publish(d)
            if i % 4 == 0:
                await bus.publish(sent_t[i // 4])
        await until(lambda: len(a) >= 20 and len(c) >= 20 and len(t) >= 5)
        await settle()
        assert a == sent_d and c == sent_d
        assert t == sent_t
        assert all(type(e) is ev.RadarDetection for e in a)

    run(backend, scenario)


def test_subscribers_of_one_durable_share_the_work(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        got: dict[str, list[ev.Event]] = {"x": [], "y": []}
        both = asyncio.Event()

        def worker(name: str) -> Callable[[ev.Event], Awaitable[None]]:
            other = "y" if name == "x" else "x"

            async def handler(event: ev.Event) -> None:
                got[name].append(event)
                if got[other]:
                    both.set()
                # Hold this worker until the other one has had an event too (or 10 s pass):
                # a bus that shares the durable's work must hand the next events to the idle
                # subscriber, so "both took part" does not depend on timing or load.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(both.wait(), 10)

            return handler

        await bus.subscribe("tracking.updated", "tracker", worker("x"))
        await bus.subscribe("tracking.updated", "tracker", worker("y"))
        sent = [
            ev.TrackingUpdated(
                track_id=f"T{i}",
                lat_deg=0,
                lon_deg=0,
                alt_m=0,
                velocity_enu_mps=(0, 0, 0),
                position_sigma_m=1,
                n_detections=i,
            )
            for i in range(30)
        ]
        for e in sent:
            await bus.publish(e)
        await until(lambda: len(got["x"]) + len(got["y"]) >= 30)
        await settle()
        ids = Counter(e.event_id for e in got["x"] + got["y"])
        assert ids == Counter(e.event_id for e in sent)  # each event to exactly one of them
        assert got["x"] and got["y"]  # and both took part

    run(backend, scenario)


def test_failed_handler_gets_the_event_again_and_idempotent_applies_once(
    backend: Backend,
) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        effects: list[uuid.UUID] = []
        deliveries: Counter[uuid.UUID] = Counter()

        async def effect(event: ev.Event) -> None:
            effects.append(event.event_id)

        idem = Idempotent(effect)

        async def handler(event: ev.Event) -> None:
            # The side effect happens, then the handler fails before acking (a crash after the
            # write): the bus must deliver again, and the wrapper must not repeat the effect.
            deliveries[event.event_id] += 1
            await idem(event)
            if deliveries[event.event_id] == 1:
                raise RuntimeError("lost the ack")

        errors: list[Exception] = []
        await bus.subscribe("command.intercept", "wta", handler, on_error=errors.append)
        sent = [
            ev.CommandIntercept(track_id=f"T{i}", battery_id="B", interceptor_type="SAM", pk=0.5)
            for i in range(5)
        ]
        for e in sent:
            await bus.publish(e)
        await until(lambda: sum(deliveries.values()) >= 10)
        await settle()
        assert deliveries == Counter({e.event_id: 2 for e in sent})  # at least once: twice here
        assert sorted(effects) == sorted(e.event_id for e in sent)  # the effect exactly once
        assert idem.skipped == 5
        assert errors == []

    run(backend, scenario)


def test_handler_failing_every_time_is_bounded_and_reported(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        attempts: Counter[uuid.UUID] = Counter()
        ok: list[ev.Event] = []
        bad = ev.PipelineCycleComplete(cycle=1, duration_s=0, n_detections=0, n_tracks=0)
        good = ev.PipelineCycleComplete(cycle=2, duration_s=0, n_detections=0, n_tracks=0)

        async def handler(event: ev.Event) -> None:
            attempts[event.event_id] += 1
            if event.event_id == bad.event_id:
                raise ValueError("poison")
            ok.append(event)

        errors: list[Exception] = []
        await bus.subscribe("pipeline.cycle_complete", "ops", handler, on_error=errors.append)
        await bus.publish(bad)
        await bus.publish(good)
        await until(lambda: bool(errors) and bool(ok))
        await settle()
        assert attempts[bad.event_id] == MAX_DELIVER
        assert ok == [good]
        assert len(errors) == 1 and isinstance(errors[0], HandlerFailed)
        assert errors[0].event == bad and errors[0].deliveries == MAX_DELIVER

    run(backend, scenario)


def test_durable_resubscribing_gets_what_was_published_meanwhile(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        first, h1 = collector()
        sub = await bus.subscribe("ew.detection", "loc", h1)
        sent = [
            ev.EwDetection(sensor_id="E", frequency_hz=1e9 + i, bandwidth_hz=1e3, power_dbm=-50)
            for i in range(7)
        ]
        for e in sent[:3]:
            await bus.publish(e)
        await until(lambda: len(first) >= 3)
        await settle()  # the acks reach the server
        await sub.stop()
        for e in sent[3:]:
            await bus.publish(e)
        await settle()
        assert first == sent[:3]
        bus2 = await b.open()  # NATS: another connection, as after a restart
        second, h2 = collector()
        await bus2.subscribe("ew.detection", "loc", h2)
        await until(lambda: len(second) >= 4)
        await settle()
        assert second == sent[3:]

    run(backend, scenario)


def test_event_in_delivery_when_stopped_is_delivered_again(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        started = asyncio.Event()

        async def stuck(event: ev.Event) -> None:
            started.set()
            await asyncio.sleep(3600)  # never acks

        sub = await bus.subscribe("interceptor.launched", "c2", stuck)
        e = ev.InterceptorLaunched(
            interceptor_id="I", battery_id="B", track_id="T", lat_deg=0, lon_deg=0, alt_m=0
        )
        await bus.publish(e)
        await asyncio.wait_for(started.wait(), 10)
        await sub.stop()  # mid-handler: not acknowledged
        again, handler = collector()
        await bus.subscribe("interceptor.launched", "c2", handler)
        await until(lambda: len(again) >= 1)  # NATS: after ack_wait
        await settle()
        assert again == [e]

    run(backend, scenario)


def test_decode_errors_are_surfaced_not_swallowed(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        got, handler = collector()
        errors: list[Exception] = []
        await bus.subscribe("radar.detection", "trk", handler, on_error=errors.append)
        good = detection(1)
        wrong_version = ev.encode(good).replace(b'"v":1', b'"v":9')
        await bus.publish_raw("radar.detection", b"{not json")
        await bus.publish_raw("radar.detection", wrong_version)
        await bus.publish_raw("radar.detection", ev.encode(truth(1)))  # another subject's body
        await bus.publish(good)
        await until(lambda: len(errors) >= 3 and len(got) >= 1)
        await settle()
        assert got == [good]
        assert [type(e) for e in errors] == [ev.DecodeError] * 3
        assert all(isinstance(e, ev.DecodeError) and e.subject == "radar.detection" for e in errors)
        assert "'v'" in str(errors[1]) and "version" in str(errors[1])

    run(backend, scenario)


def test_on_error_that_raises_does_not_stop_delivery(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        got, handler = collector()
        seen: list[Exception] = []

        def on_error(exc: Exception) -> None:
            seen.append(exc)
            raise RuntimeError("broken error handler")

        await bus.subscribe("radar.detection", "trk", handler, on_error=on_error)
        await bus.publish_raw("radar.detection", b"junk")
        good = detection(2)
        await bus.publish(good)
        await until(lambda: len(got) >= 1)
        assert got == [good] and len(seen) == 1

    run(backend, scenario)


def test_unknown_subject_is_refused(backend: Backend) -> None:
    async def scenario(b: Backend) -> None:
        bus = await b.open()
        _, handler = collector()
        with pytest.raises(ValueError, match=r"radar\.detected"):
            await bus.subscribe("radar.detected", "x", handler)

    run(backend, scenario)


@pytest.mark.nats
def test_nats_drops_a_republished_event_id() -> None:
    """NATS only: ``Nats-Msg-Id`` makes a retried publish of one event a single message."""
    require_nats()
    backend = Backend("nats")

    async def scenario(b: Backend) -> None:
        bus = await b.open()
        got, handler = collector()
        await bus.subscribe("missile.launched", "m", handler)
        e = ev.MissileLaunched(
            flight_id="F",
            missile_type="X",
            lat_deg=0,
            lon_deg=0,
            alt_m=0,
            target_lat_deg=1,
            target_lon_deg=1,
        )
        await bus.publish(e)
        await bus.publish(e)
        await until(lambda: len(got) >= 1)
        await settle()
        assert got == [e]

    run(backend, scenario)


def test_idempotent_remembers_a_bounded_number_of_ids() -> None:
    calls: list[uuid.UUID] = []

    async def effect(event: ev.Event) -> None:
        calls.append(event.event_id)

    async def main() -> None:
        idem = Idempotent(effect, capacity=2)
        a, b_, c = detection(1), detection(2), detection(3)
        for e in (a, b_, a, c, a, b_):
            await idem(e)
        # a b (a skipped) c -> evicts b; a skipped (refreshed); b again -> handled
        assert calls == [a.event_id, b_.event_id, c.event_id, b_.event_id]
        assert idem.skipped == 2 and len(idem._seen) == 2

    asyncio.run(main())
    with pytest.raises(ValueError):
        Idempotent(effect, capacity=0)


def test_make_bus() -> None:
    async def main() -> None:
        assert isinstance(await make_bus(None), InProcessBus)
        assert isinstance(await make_bus("memory://"), InProcessBus)
        with pytest.raises(ValueError, match="'redis'"):
            await make_bus("redis://localhost")

    asyncio.run(main())


def test_a_deferred_acknowledgement_keeps_the_event_until_done(backend: Backend) -> None:
    """A handler that returns a future: delivery goes on, and each event is acknowledged only
    when its future is done. Stopped before: the next subscriber of the durable gets exactly
    the unacknowledged ones; a failed future: delivered again; a done one: never again."""

    async def scenario(b: Backend) -> None:
        bus = await b.open()
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[None]] = {}

        async def deferred(event: ev.Event) -> asyncio.Future[None]:
            assert isinstance(event, ev.EwDetection)
            f = futures[str(event.event_id)] = loop.create_future()
            return f

        sub = await bus.subscribe("ew.detection", "dfr", deferred)
        sent = [
            ev.EwDetection(sensor_id="D", frequency_hz=1e9 + i, bandwidth_hz=1e3, power_dbm=-50)
            for i in range(5)
        ]
        for e in sent:
            await bus.publish(e)
        await until(lambda: len(futures) == 5)  # all delivered though none is acknowledged
        futures[str(sent[0].event_id)].set_result(None)
        futures[str(sent[1].event_id)].set_result(None)
        futures[str(sent[2].event_id)].set_exception(RuntimeError("cycle failed"))
        await settle()
        await sub.stop()  # 3 and 4 still pending; 2 failed
        bus2 = await b.open()
        again, handler = collector()
        await bus2.subscribe("ew.detection", "dfr", handler)
        await until(lambda: len(again) >= 3)  # NATS: after ack_wait
        await settle()
        assert sorted(e.frequency_hz for e in again) == [1e9 + 2, 1e9 + 3, 1e9 + 4]

    run(backend, scenario)
