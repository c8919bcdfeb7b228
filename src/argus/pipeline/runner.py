"""Stages on the bus: each stage of :mod:`argus.pipeline.stages` as a subscriber, in this
process or its own (``argus stage radar|command-center|battery|interceptor|broadcast``).

The radar stage is the clock: it scans cycle ``k`` (the window ``[k·Δ, (k+1)·Δ)`` seconds
after the run's epoch), publishes the plots, then ``pipeline.cycle_complete`` (stage
``radar``, with the plot count). The command centre processes cycle ``k`` once it holds all
of its plots and publishes its own ``cycle_complete``; the interceptor stage then flies to the
cycle's end and publishes its ``cycle_complete``. Downstream stages are driven by events, not
by their own clocks, so a run is the same whether the stages share a process or not. With
``lockstep`` the radar waits for the interceptor's ``cycle_complete`` before the next scan (tests
and benchmarks run as fast as the slowest stage, with no dropped cycle).

Every handler is idempotent by event id (:class:`argus.pipeline.asyncbus.Idempotent`) and every
output has a derived id, so a stage killed and restarted mid-raid gets its unacknowledged events
again and republishes the same ids, which JetStream's duplicate window drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from argus.logs import get_logger
from argus.pipeline import events as ev
from argus.pipeline.asyncbus import Idempotent
from argus.pipeline.interceptors import InterceptorStage
from argus.pipeline.stages import (
    BatteryStage,
    CommandCenter,
    DefenseConfig,
    RadarStage,
    derived_id,
    plots_to_detections,
)

log = get_logger("argus.pipeline")


class _Runner:
    name = "stage"

    def __init__(self, bus: Any, durable: str) -> None:
        self.bus = bus
        self.durable = durable
        self.subs: list[Any] = []
        self.handled = 0

    async def publish(self, events: Sequence[ev.Event]) -> None:
        for e in events:
            await self.bus.publish(e)

    async def subscribe(self, subjects: Sequence[str], handler: Callable[[ev.Event], Any]) -> None:
        wrapped = Idempotent(handler)
        for s in subjects:
            self.subs.append(await self.bus.subscribe(s, self.durable, wrapped))

    async def stop(self) -> None:
        for s in self.subs:
            with contextlib.suppress(Exception):
                await s.stop()
        self.subs.clear()


class RadarRunner(_Runner):
    """Scans cycle after cycle; publishes plots and the radar's ``cycle_complete``."""

    def __init__(
        self, bus: Any, stage: RadarStage, *, start_cycle: int, lockstep: bool = False,
        realtime: bool = True,
    ) -> None:  # fmt: skip
        super().__init__(bus, "radar-" + "-".join(s.name for s in stage.sites))
        self.stage = stage
        self.cycle = start_cycle
        self.lockstep = lockstep
        self.realtime = realtime
        self._done: dict[int, asyncio.Event] = {}

    async def start(self) -> None:
        await self.subscribe((*self.stage.subjects, "pipeline.cycle_complete"), self._on_event)

    async def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.PipelineCycleComplete):
            if event.stage == "interceptor":
                self._done.setdefault(event.cycle, asyncio.Event()).set()
            return
        self.stage.handle(event)
        self.handled += 1

    async def run(
        self, n_cycles: int | None = None, *, before: Callable[[int], Any] | None = None
    ) -> None:
        dt_s = self.stage.cfg.scan_interval_s
        start = time.monotonic()
        k0 = self.cycle
        while n_cycles is None or self.cycle - k0 < n_cycles:
            k = self.cycle
            if before is not None:
                await before(k)
            t0, t1 = k * dt_s, (k + 1) * dt_s
            out = self.stage.scan(t0, t1)
            await self.publish(out.events)
            await self.bus.publish(
                ev.PipelineCycleComplete(
                    event_id=derived_id(self.stage.cfg.run_tag, "radar-cycle", k),
                    time=self.stage.world.when(t1), cycle=k, duration_s=0.0,
                    n_detections=len(out.events), n_tracks=0, stage="radar", t0_s=t0, t1_s=t1,
                )
            )  # fmt: skip
            self.cycle += 1
            if self.lockstep:
                done = self._done.setdefault(k, asyncio.Event())
                await asyncio.wait_for(done.wait(), timeout=60)
            elif self.realtime:
                delay = start + (self.cycle - k0) * dt_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)


class CommandCenterRunner(_Runner):
    """Buffers plots per cycle; processes a cycle when all its plots are in, in cycle order.

    With a ``checkpoint`` (``load() -> (cycle, state) | None``, ``save(cycle, state)``; the
    database's ``stage_checkpoint`` in ``argus stage command-center``) the stage's state is
    saved after every cycle it publishes, and the events that cycle consumed (its plots and
    radar marker, and the interceptor events applied meanwhile) are acknowledged only then (a
    deferred acknowledgement, see ``argus.pipeline.asyncbus.Handler``). A process killed at any
    point and restarted loads the last saved cycle and gets every later event again: tracks
    keep their ids and histories, and what it republishes carries the same derived ids, so
    nothing is lost or doubled.
    """

    def __init__(
        self, bus: Any, stage: CommandCenter, track_events: bool = True,
        checkpoint: Any | None = None,
    ) -> None:  # fmt: skip
        super().__init__(bus, "command-center")
        self.stage = stage
        self.track_events = track_events
        self.checkpoint = checkpoint
        self.plots: dict[int, dict[Any, ev.RadarDetection]] = {}
        self.expected: dict[int, tuple[int, float, float]] = {}
        self.next: int | None = None
        #: The last cycle whose outputs are published (and saved, with a checkpoint).
        self.done_through: int | None = None
        self.restored_cycle: int | None = None
        self._acks: dict[int, asyncio.Future[None]] = {}
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        if self.checkpoint is not None:
            saved = await asyncio.to_thread(self.checkpoint.load)
            if saved is not None:
                cycle, state = saved
                self.stage.restore(state)
                self.next = self.done_through = self.restored_cycle = cycle
                self.next += 1
                log.info("command_center_restored", cycle=cycle, tracks=len(self.stage.picture))
        await self.subscribe((*self.stage.subjects, "pipeline.cycle_complete"), self._on_event)

    def _cycle_of(self, t: dt.datetime) -> int:
        return int(
            np.floor((t - self.stage.epoch).total_seconds() / self.stage.cfg.scan_interval_s + 1e-9)
        )

    def _ack_with(self, k: int) -> asyncio.Future[None] | None:
        """The future that acknowledges an event once cycle ``k`` is saved (None: at once)."""
        if self.checkpoint is None:
            return None
        fut = self._acks.get(k)
        if fut is None:
            fut = self._acks[k] = asyncio.get_running_loop().create_future()
        return fut

    def _done(self, k: int | None) -> bool:
        return self.done_through is not None and k is not None and k <= self.done_through

    async def _on_event(self, event: ev.Event) -> asyncio.Future[None] | None:
        if isinstance(event, ev.RadarDetection):
            k = self._cycle_of(event.time)
            if self._done(k):
                return None  # in the saved state already (a redelivery after a restart)
            self.plots.setdefault(k, {})[event.event_id] = event
            ack = self._ack_with(k)
        elif isinstance(event, ev.PipelineCycleComplete):
            if event.stage != "radar" or self._done(event.cycle):
                return None
            self.expected[event.cycle] = (event.n_detections, event.t0_s or 0.0, event.t1_s or 0.0)
            if self.next is None:
                self.next = event.cycle
            ack = self._ack_with(event.cycle)
        else:
            self.stage.handle(event)  # idempotent; saved with the next cycle
            nxt = self.next if self.next is not None else (self.done_through or 0) + 1
            return self._ack_with(nxt)
        async with self.lock:
            await self._drain()
        return ack

    async def _drain(self) -> None:
        from argus.pipeline.controller import _track_events

        while self.next is not None and self.next in self.expected:
            k = self.next
            n, t0, t1 = self.expected[k]
            have = list(self.plots.get(k, {}).values())
            if len(have) < n:
                return  # plots of this cycle still on their way
            det = plots_to_detections(have, self.stage.cfg, self.stage.epoch)
            out = self.stage.process(det, t0, t1)
            events = list(out.events)
            if self.track_events:
                events += _track_events(out.picture, self.stage.cfg.run_tag)
            events.append(
                ev.PipelineCycleComplete(
                    event_id=derived_id(self.stage.cfg.run_tag, "cc-cycle", k),
                    time=out.picture.time, cycle=k, duration_s=sum(out.timing.values()),
                    n_detections=n, n_tracks=len(out.picture), stage="command-center",
                    stage_s={a: round(b, 6) for a, b in out.timing.items()}, t0_s=t0, t1_s=t1,
                )
            )  # fmt: skip
            await self.publish(events)
            self.plots.pop(k, None)
            self.expected.pop(k, None)
            self.next = k + 1
            if self.checkpoint is not None:
                # Pickled here, on the loop: no event handler changes the state meanwhile.
                # Events applied while it is written wait for the next cycle's save.
                state = self.stage.snapshot()
                await asyncio.to_thread(self.checkpoint.save, k, state)
            self.done_through = k
            fut = self._acks.pop(k, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
            for j in [j for j in self._acks if j < k]:  # events tied to skipped cycles
                f = self._acks.pop(j)
                if not f.done():
                    f.set_result(None)
            self.handled += 1


class BatteryRunner(_Runner):
    def __init__(self, bus: Any, stage: BatteryStage) -> None:
        super().__init__(bus, "battery-" + "-".join(sorted(stage.batteries)))
        self.stage = stage

    async def start(self) -> None:
        await self.subscribe(self.stage.subjects, self._on_event)

    async def _on_event(self, event: ev.Event) -> None:
        await self.publish(self.stage.handle(event))
        self.handled += 1


class InterceptorRunner(_Runner):
    """Flies interceptors to each command-centre cycle's end; publishes detonations."""

    def __init__(self, bus: Any, stage: InterceptorStage) -> None:
        super().__init__(bus, "interceptor")
        self.stage = stage

    async def start(self) -> None:
        await self.subscribe((*self.stage.subjects, "pipeline.cycle_complete"), self._on_event)

    async def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.PipelineCycleComplete):
            if event.stage != "command-center":
                return
            self.stage.refresh_tracks()
            out = self.stage.advance(event.t1_s or 0.0)
            out.append(
                ev.PipelineCycleComplete(
                    event_id=derived_id(self.stage.cfg.run_tag, "icpt-cycle", event.cycle),
                    time=event.time, cycle=event.cycle, duration_s=0.0, n_detections=0,
                    n_tracks=self.stage.n_alive, stage="interceptor",
                    t0_s=event.t0_s, t1_s=event.t1_s,
                )
            )  # fmt: skip
            await self.publish(out)
        else:
            self.stage.handle(event)
        self.handled += 1


class RecorderRunner(_Runner):
    """``argus stage broadcast``: every event into the event log, outcomes onto flights and
    orders. An event is acknowledged only after its transaction committed (a crash before that
    redelivers it; the log's primary key makes the second write a no-op)."""

    SUBJECTS = tuple(ev.EVENTS)

    def __init__(
        self, bus: Any, record: Callable[[list[ev.Event]], None],
        on_event: Callable[[ev.Event], Any] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(bus, "recorder")
        self.record = record
        self.on_event = on_event

    async def start(self) -> None:
        await self.subscribe(self.SUBJECTS, self._on_event)

    async def _on_event(self, event: ev.Event) -> None:
        await asyncio.to_thread(self.record, [event])
        self.handled += 1
        if self.on_event is not None:
            self.on_event(event)


def cycle_at(cfg: DefenseConfig, epoch: dt.datetime, when: dt.datetime) -> int:
    """The cycle a wall-clock time falls in (the radar's first cycle when a stage starts)."""
    return int(np.floor((when - epoch).total_seconds() / cfg.scan_interval_s))
