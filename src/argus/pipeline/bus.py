"""In-process publish/subscribe: the embedded default of the event bus.

Subscribers get an ``asyncio.Queue`` each; ``publish`` is safe to call from any thread (a job
running in a worker thread publishes, the API's event loop delivers). A subscriber whose queue
is full is dropped, so one slow consumer never slows the others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


@dataclass(eq=False)
class Subscription:
    topic: str
    queue: asyncio.Queue[Event]
    loop: asyncio.AbstractEventLoop
    dropped: bool = False
    on_drop: Callable[[], None] | None = None


@dataclass
class MemoryBus:
    max_queue: int = 100
    _subs: list[Subscription] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, topic: str, loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        sub = Subscription(topic, asyncio.Queue(self.max_queue), loop or asyncio.get_running_loop())
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, topic: str, event: Event) -> int:
        """Deliver to every subscriber of ``topic``; returns how many received it."""
        with self._lock:
            targets = [s for s in self._subs if s.topic == topic and not s.dropped]
        for sub in targets:
            sub.loop.call_soon_threadsafe(self._deliver, sub, event)
        return len(targets)

    def _deliver(self, sub: Subscription, event: Event) -> None:
        try:
            sub.queue.put_nowait(event)
        except asyncio.QueueFull:
            sub.dropped = True
            self.unsubscribe(sub)
            if sub.on_drop:
                sub.on_drop()

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)


#: The process-wide in-process bus.
memory_bus = MemoryBus()
