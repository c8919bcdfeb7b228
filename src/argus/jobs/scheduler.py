"""In-process scheduler: the embedded default of the periodic jobs, inside ``argus serve``.

It runs the same task function as Celery beat + workers (``tasks.periodic_compute_threats``)
every ``interval_s`` in a worker thread, so the event loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from argus import metrics
from argus.jobs import tasks
from argus.logs import get_logger

log = get_logger("argus.jobs.scheduler")


class InProcessScheduler:
    def __init__(self, database_url: str, interval_s: float) -> None:
        self.database_url = database_url
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _account(self, tick: asyncio.Future[Any]) -> None:
        exc = tick.exception()
        if exc is None:
            self.runs += 1
            return
        self.failures += 1  # keep scheduling; the failure is logged and counted
        metrics.JOB_FAILURES.labels(task="periodic_compute_threats").inc()
        log.error("periodic_compute_failed", error=f"{type(exc).__name__}: {exc}")

    async def _loop(self) -> None:
        while True:
            tick = asyncio.ensure_future(
                asyncio.to_thread(
                    tasks.periodic_compute_threats, self.database_url, self.interval_s
                )
            )
            try:
                # shielded: a shutdown during a tick waits for its thread (the batch commits or
                # rolls back whole) and counts it, instead of leaving it running unobserved
                await asyncio.shield(tick)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await tick
                self._account(tick)
                raise
            except Exception:
                pass
            self._account(tick)
            await asyncio.sleep(self.interval_s)
