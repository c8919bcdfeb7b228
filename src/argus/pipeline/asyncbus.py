"""The pipeline's event bus: one async interface, an in-process and a NATS JetStream implementation.

:class:`EventBus` publishes typed events (:mod:`argus.pipeline.events`) on their subjects and
delivers them to *durable* subscribers: every durable name subscribed to a subject gets each
event published on it after the durable was first subscribed; subscribers sharing a durable
name share its events (each event to one of them). Delivery is **at least once**: a handler
that returns acknowledges the event; one that raises gets it again, up to ``max_deliver``
deliveries in all, after which the event is dropped and reported to ``on_error``. Handlers
must therefore be idempotent by ``event_id`` (:class:`Idempotent` does that for a handler).
Bytes that do not decode as an event of their subject are never given to the handler: the
:class:`~argus.pipeline.events.DecodeError` goes to ``on_error`` (default: logged as an error)
and the message is dropped, since redelivering it cannot help.

- :class:`InProcessBus` (the default): asyncio, one queue per (subject, durable) kept while the
  bus lives, events encoded and decoded on the way like on the wire.
- :class:`NatsBus` (``nats://`` URL): one JetStream stream (``stream``) on ``<prefix>.>``; a
  durable pull consumer per (subject, durable) with explicit acks, ``ack_wait`` and
  ``max_deliver``; it survives the process, so a durable resubscribing after a restart gets
  what was published meanwhile. Publishes carry ``Nats-Msg-Id = event_id`` so the stream's
  duplicate window drops a retried publish.

This module does not replace :class:`argus.pipeline.bus.MemoryBus` (the API's WebSocket fan-out
of job events); the pipeline stages do not use this bus yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from argus.logs import get_logger
from argus.pipeline.events import EVENTS, DecodeError, Event, decode, encode

__all__ = [
    "DEFAULT_MAX_DELIVER",
    "EventBus",
    "Handler",
    "HandlerFailed",
    "Idempotent",
    "InProcessBus",
    "NatsBus",
    "Subscription",
    "make_bus",
]

log = get_logger("argus.pipeline")

#: A handler acknowledges its event by returning. It may instead return an ``asyncio.Future``:
#: the event is then acknowledged when that future is done (negatively, so redelivered, if it
#: fails), while delivery goes on with the next events. A stage that keeps state across events
#: (the command centre buffering a cycle's plots) acknowledges them only once the cycle is
#: processed and its state saved, so a crash in between gets them back on restart: NATS
#: redelivers them after ``ack_wait``; the in-process bus gives them to the durable's next
#: subscriber when the subscription is stopped first.
#: Unacknowledged events a NATS consumer may hold (deferred acknowledgements, see Handler).
DEFERRED_ACK_PENDING = 50_000

Handler = Callable[[Event], Awaitable[object]]
ErrorHandler = Callable[[Exception], None]

#: Deliveries of one event to one durable, the first included, before it is given up.
DEFAULT_MAX_DELIVER = 5


class HandlerFailed(RuntimeError):
    """A handler raised on every one of the ``max_deliver`` deliveries of an event."""

    def __init__(self, subject: str, durable: str, event: Event, deliveries: int) -> None:
        self.subject, self.durable, self.event, self.deliveries = (
            subject,
            durable,
            event,
            deliveries,
        )
        super().__init__(
            f"handler of durable {durable!r} on {subject!r} failed {deliveries} times on event "
            f"{event.event_id}; dropped"
        )


def _log_error(exc: Exception) -> None:
    log.error("bus_delivery_error", error=f"{type(exc).__name__}: {exc}")


def _report(on_error: ErrorHandler, exc: Exception) -> None:
    """Give ``exc`` to ``on_error``; an ``on_error`` that raises is logged, never kills delivery."""
    try:
        on_error(exc)
    except Exception as inner:
        log.error("bus_on_error_failed", error=f"{type(inner).__name__}: {inner}", cause=str(exc))


def _check_subject(subject: str) -> None:
    if subject not in EVENTS:
        raise ValueError(f"unknown subject {subject!r} (known: {', '.join(sorted(EVENTS))})")


class Subscription(Protocol):
    async def stop(self) -> None:
        """Stop delivering to this handler; the durable keeps its undelivered events."""


class EventBus(Protocol):
    async def publish(self, event: Event) -> None:
        """Publish ``event`` on ``event.subject``; returns once the bus has accepted it."""

    async def publish_raw(self, subject: str, data: bytes) -> None:
        """Publish bytes as they are (bridges and tests); subscribers decode them."""

    async def subscribe(
        self,
        subject: str,
        durable: str,
        handler: Handler,
        *,
        on_error: ErrorHandler | None = None,
    ) -> Subscription:
        """Deliver the events of ``subject`` to ``handler`` under the durable name ``durable``."""

    async def close(self) -> None:
        """Stop every subscription and release the bus."""


class Idempotent:
    """A handler wrapper that skips an ``event_id`` it has already handled successfully.

    Remembers the last ``capacity`` ids (least recently seen forgotten first). An id is
    remembered only once the wrapped handler returned, so a handler that raised is retried.
    One instance per logical handler; concurrent deliveries of one id are not serialised.
    """

    def __init__(self, handler: Handler, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.handler = handler
        self.capacity = capacity
        self._seen: OrderedDict[UUID, None] = OrderedDict()
        self.skipped = 0

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._seen

    async def __call__(self, event: Event) -> object:
        if event.event_id in self._seen:
            self._seen.move_to_end(event.event_id)
            self.skipped += 1
            return None
        res = await self.handler(event)  # a deferred acknowledgement (Handler) passes through
        self._seen[event.event_id] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return res


# --------------------------------------------------------------------------- in process


@dataclass
class _Message:
    data: bytes
    deliveries: int = 0


@dataclass(eq=False)
class _Durable:
    subject: str
    name: str
    pending: deque[_Message] = field(default_factory=deque)
    ready: asyncio.Condition = field(default_factory=asyncio.Condition)


@dataclass(eq=False)
class _InProcessSubscription:
    bus: InProcessBus
    durable: _Durable
    handler: Handler
    on_error: ErrorHandler
    task: asyncio.Task[None] | None = None
    #: Delivered, waiting for their deferred acknowledgement (Handler), in delivery order.
    _unacked: dict[int, _Message] = field(default_factory=dict)
    _requeues: set[asyncio.Future[None]] = field(default_factory=set)

    async def _run(self) -> None:
        d = self.durable
        while True:
            async with d.ready:
                await d.ready.wait_for(lambda: bool(d.pending))
                msg = d.pending.popleft()
            try:
                await self._deliver(msg)
            except asyncio.CancelledError:
                # Stopped mid-delivery: the event was not acknowledged, keep it.
                d.pending.appendleft(msg)
                raise

    async def _deliver(self, msg: _Message) -> None:
        d = self.durable
        msg.deliveries += 1
        try:
            event = decode(d.subject, msg.data)
        except DecodeError as exc:
            _report(self.on_error, exc)
            return
        try:
            res = await self.handler(event)
        except Exception as exc:
            await self._failed(msg, event, exc)
            return
        if isinstance(res, asyncio.Future) and not (res.done() and not res.cancelled()
                                                    and res.exception() is None):  # fmt: skip
            self._unacked[id(msg)] = msg
            res.add_done_callback(functools.partial(self._settle, msg=msg, event=event))

    def _settle(self, fut: asyncio.Future[Any], msg: _Message, event: Event) -> None:
        """A deferred acknowledgement is done: acknowledged, or (failed) delivered again."""
        if self._unacked.pop(id(msg), None) is None:
            return  # requeued by stop() already
        exc = None if fut.cancelled() else fut.exception()
        if fut.cancelled() or exc is not None:
            t = asyncio.ensure_future(
                self._failed(msg, event, exc or RuntimeError("acknowledgement cancelled"))
            )
            self._requeues.add(t)
            t.add_done_callback(self._requeues.discard)

    async def _failed(self, msg: _Message, event: Event, exc: BaseException) -> None:
        d = self.durable
        if msg.deliveries >= self.bus.max_deliver:
            _report(self.on_error, HandlerFailed(d.subject, d.name, event, msg.deliveries))
            return
        await asyncio.sleep(self.bus.redeliver_delay_s)
        async with d.ready:
            d.pending.appendleft(msg)
            d.ready.notify()
        log.debug("bus_redeliver", subject=d.subject, durable=d.name, error=repr(exc))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        # Delivered but not acknowledged yet: the durable keeps them, first in line, as a
        # NATS consumer redelivers what a stopped subscriber never acknowledged.
        unacked, self._unacked = list(self._unacked.values()), {}
        if unacked:
            d = self.durable
            async with d.ready:
                d.pending.extendleft(reversed(unacked))
                d.ready.notify()
        self.bus._subs.discard(self)


class InProcessBus:
    """The default bus: asyncio, in one process; durables live as long as the bus."""

    def __init__(
        self, *, max_deliver: int = DEFAULT_MAX_DELIVER, redeliver_delay_s: float = 0.0
    ) -> None:
        self.max_deliver = max_deliver
        self.redeliver_delay_s = redeliver_delay_s
        self._durables: dict[tuple[str, str], _Durable] = {}
        self._subs: set[_InProcessSubscription] = set()
        self._closed = False

    async def publish(self, event: Event) -> None:
        await self.publish_raw(event.subject, encode(event))

    async def publish_raw(self, subject: str, data: bytes) -> None:
        if self._closed:
            raise RuntimeError("bus is closed")
        for (subj, _), d in self._durables.items():
            if subj == subject:
                async with d.ready:
                    d.pending.append(_Message(data))
                    d.ready.notify()

    async def subscribe(
        self,
        subject: str,
        durable: str,
        handler: Handler,
        *,
        on_error: ErrorHandler | None = None,
    ) -> _InProcessSubscription:
        _check_subject(subject)
        if self._closed:
            raise RuntimeError("bus is closed")
        d = self._durables.setdefault((subject, durable), _Durable(subject, durable))
        sub = _InProcessSubscription(self, d, handler, on_error or _log_error)
        sub.task = asyncio.create_task(sub._run(), name=f"bus:{subject}:{durable}")
        self._subs.add(sub)
        return sub

    def pending(self, subject: str, durable: str) -> int:
        """Events waiting for ``durable`` on ``subject`` (not counting one in delivery)."""
        d = self._durables.get((subject, durable))
        return len(d.pending) if d else 0

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subs):
            await sub.stop()


# --------------------------------------------------------------------------- NATS JetStream


def _token(name: str) -> str:
    """A consumer-name-safe form of a subject or durable (no ``.``, ``*``, ``>``, space)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


@dataclass(eq=False)
class _NatsSubscription:
    bus: NatsBus
    subject: str
    durable: str
    psub: Any
    handler: Handler
    on_error: ErrorHandler
    task: asyncio.Task[None] | None = None
    _deferred: set[asyncio.Future[None]] = field(default_factory=set)

    async def _run(self) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        while True:
            try:
                msgs = await self.psub.fetch(batch=self.bus.fetch_batch, timeout=1.0)
            except (TimeoutError, NatsTimeout):
                continue
            except Exception as exc:  # connection trouble: nats-py reconnects, or is closed
                if self.bus.nc.is_closed:
                    return
                log.warning("bus_fetch_failed", subject=self.subject, error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                await self._deliver(msg)

    async def _deliver(self, msg: Any) -> None:
        try:
            event = decode(self.subject, msg.data)
        except DecodeError as exc:
            await msg.term()
            _report(self.on_error, exc)
            return
        try:
            res = await self.handler(event)
        except Exception as exc:
            deliveries = msg.metadata.num_delivered
            if deliveries >= self.bus.max_deliver:
                await msg.term()
                _report(self.on_error, HandlerFailed(self.subject, self.durable, event, deliveries))
            else:
                await msg.nak(delay=self.bus.redeliver_delay_s or None)
                log.debug(
                    "bus_redeliver", subject=self.subject, durable=self.durable, error=repr(exc)
                )
            return
        if isinstance(res, asyncio.Future):  # acknowledged when the handler's work is done
            task = asyncio.ensure_future(self._ack_when_done(res, msg))
            self._deferred.add(task)
            task.add_done_callback(self._deferred.discard)
            return
        await msg.ack()

    async def _ack_when_done(self, fut: asyncio.Future[Any], msg: Any) -> None:
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            return  # stopping: unacknowledged, so redelivered to the next subscriber
        except Exception as exc:
            log.debug("bus_redeliver", subject=self.subject, durable=self.durable, error=repr(exc))
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.bus.redeliver_delay_s or None)
            return
        with contextlib.suppress(Exception):  # a closed connection: redelivered after ack_wait
            await msg.ack()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        for t in list(self._deferred):
            t.cancel()
        with contextlib.suppress(Exception):
            await self.psub.unsubscribe()
        self.bus._subs.discard(self)


class NatsBus:
    """NATS JetStream: stream ``stream`` on ``<prefix>.>``, durable pull consumers.

    A subject ``radar.detection`` travels as ``<prefix>.radar.detection``; the durable
    ``tracker`` on it is the consumer ``tracker__radar_detection`` (one consumer per
    subject and durable, created with ``deliver_policy=new`` on first subscription). Use
    :meth:`connect`; :meth:`delete_stream` removes the stream and its consumers.
    """

    def __init__(
        self,
        nc: Any,
        *,
        stream: str = "ARGUS",
        prefix: str = "argus",
        ack_wait_s: float = 30.0,
        max_deliver: int = DEFAULT_MAX_DELIVER,
        redeliver_delay_s: float = 0.0,
        fetch_batch: int = 16,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.stream = stream
        self.prefix = prefix
        self.ack_wait_s = ack_wait_s
        self.max_deliver = max_deliver
        self.redeliver_delay_s = redeliver_delay_s
        self.fetch_batch = fetch_batch
        self._subs: set[_NatsSubscription] = set()

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> NatsBus:
        """Connect to ``url`` and make sure the stream exists (created if missing)."""
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3)
        bus = cls(nc, **kwargs)
        try:
            await bus.js.stream_info(bus.stream)
        except NotFoundError:
            await bus.js.add_stream(name=bus.stream, subjects=[f"{bus.prefix}.>"])
        return bus

    def wire_subject(self, subject: str) -> str:
        return f"{self.prefix}.{subject}"

    async def publish(self, event: Event) -> None:
        await self.js.publish(
            self.wire_subject(event.subject),
            encode(event),
            stream=self.stream,
            headers={"Nats-Msg-Id": str(event.event_id)},
        )

    async def publish_raw(self, subject: str, data: bytes) -> None:
        await self.js.publish(self.wire_subject(subject), data, stream=self.stream)

    async def subscribe(
        self,
        subject: str,
        durable: str,
        handler: Handler,
        *,
        on_error: ErrorHandler | None = None,
    ) -> _NatsSubscription:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        _check_subject(subject)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            # deferred acknowledgements (Handler) keep a cycle's plots pending: room for
            # thousands of targets per cycle (the server's default is 1,000)
            max_ack_pending=DEFERRED_ACK_PENDING,
        )
        psub = await self.js.pull_subscribe(
            self.wire_subject(subject),
            durable=f"{_token(durable)}__{_token(subject)}",
            stream=self.stream,
            config=config,
        )
        sub = _NatsSubscription(self, subject, durable, psub, handler, on_error or _log_error)
        sub.task = asyncio.create_task(sub._run(), name=f"bus:{subject}:{durable}")
        self._subs.add(sub)
        return sub

    async def delete_stream(self) -> None:
        from nats.js.errors import NotFoundError

        with contextlib.suppress(NotFoundError):
            await self.js.delete_stream(self.stream)

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.stop()
        if not self.nc.is_closed:
            await self.nc.close()


if TYPE_CHECKING:  # mypy checks that both implementations satisfy the protocol

    def _conforms(a: InProcessBus, b: NatsBus) -> tuple[EventBus, EventBus]:
        return a, b


async def make_bus(url: str | None = None, **kwargs: Any) -> InProcessBus | NatsBus:
    """The bus for ``url``: ``None`` or ``memory://`` in process, ``nats://`` JetStream."""
    if url is None or url in ("", "memory://"):
        return InProcessBus(**kwargs)
    if url.startswith(("nats://", "tls://")):
        # Options ride on the URL's query: nats://host:4222?stream=ARGUS&prefix=argus&ack_wait=30
        from urllib.parse import parse_qs, urlsplit, urlunsplit

        parts = urlsplit(url)
        opts = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(opts) - {"stream", "prefix", "ack_wait", "max_deliver"}
        if unknown:
            raise ValueError(
                f"bus URL: unknown option(s) {sorted(unknown)} (stream, prefix, ack_wait, max_deliver)"
            )
        if "stream" in opts:
            kwargs.setdefault("stream", opts["stream"])
        if "prefix" in opts:
            kwargs.setdefault("prefix", opts["prefix"])
        if "ack_wait" in opts:
            kwargs.setdefault("ack_wait_s", float(opts["ack_wait"]))
        if "max_deliver" in opts:
            kwargs.setdefault("max_deliver", int(opts["max_deliver"]))
        return await NatsBus.connect(urlunsplit(parts._replace(query="")), **kwargs)
    raise ValueError(f"unsupported bus URL scheme: {url.split('://', 1)[0]!r} (memory, nats)")
