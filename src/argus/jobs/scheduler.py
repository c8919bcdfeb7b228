"""In-process scheduler: the embedded default of the periodic jobs, inside ``argus serve``.

It runs the same task functions as Celery beat + workers, each in a worker thread so the event
loop never blocks on the database:

- ``tasks.periodic_compute_threats`` every ``interval_s``;
- ``tasks.rf_maintenance`` (RF partitions ahead, hourly aggregates refreshed, the sweeper) once
  at start and then every ``rf_maintenance_interval_s`` (hourly, as beat's ``rf-maintenance``).

RF maintenance needs the whole settings (the object store the sweeper reconciles), not only the
database URL. Without ``settings`` the scheduler uses ``get_settings()`` when that names the same
database, and otherwise leaves RF maintenance off (logged): it never sweeps a store that belongs
to another database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from argus import metrics
from argus.jobs import tasks
from argus.logs import get_logger

log = get_logger("argus.jobs.scheduler")

#: How often RF maintenance runs in process (s): Celery beat's ``rf-maintenance`` schedule.
RF_MAINTENANCE_INTERVAL_S = 3600.0


class InProcessScheduler:
    def __init__(
        self,
        database_url: str,
        interval_s: float,
        *,
        settings: Any = None,
        rf_maintenance_interval_s: float = RF_MAINTENANCE_INTERVAL_S,
    ) -> None:
        self.database_url = database_url
        self.interval_s = interval_s
        self.settings = settings
        self.rf_maintenance_interval_s = rf_maintenance_interval_s
        self._task: asyncio.Task[None] | None = None
        self._rf_task: asyncio.Task[None] | None = None
        self.runs = 0
        self.failures = 0
        self.rf_runs = 0
        self.rf_failures = 0
        #: The last RF maintenance report (``tasks.rf_maintenance``'s dict), None before one.
        self.rf_last: dict[str, Any] | None = None

    def _rf_settings(self) -> Any:
        """The settings RF maintenance runs with, or None when they cannot be known."""
        if self.settings is not None:
            return self.settings
        from argus.config import get_settings

        s = get_settings()
        if s.database_url != self.database_url:
            log.warning(
                "rf_maintenance_off",
                reason="no settings given and ARGUS_DATABASE_URL names another database",
            )
            return None
        return s

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.interval_s > 0 and self._task is None:
            self._task = loop.create_task(self._loop())
        if self.rf_maintenance_interval_s > 0 and self._rf_task is None:
            rf_settings = self._rf_settings()
            if rf_settings is not None:
                self._rf_task = loop.create_task(self._rf_loop(rf_settings))

    async def stop(self) -> None:
        for name in ("_task", "_rf_task"):
            task = getattr(self, name)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                setattr(self, name, None)

    def _account(self, tick: asyncio.Future[Any]) -> None:
        exc = tick.exception()
        if exc is None:
            self.runs += 1
            return
        self.failures += 1  # keep scheduling; the failure is logged and counted
        metrics.JOB_FAILURES.labels(task="periodic_compute_threats").inc()
        log.error("periodic_compute_failed", error=f"{type(exc).__name__}: {exc}")

    def _account_rf(self, tick: asyncio.Future[Any]) -> None:
        exc = tick.exception()
        if exc is None:
            self.rf_runs += 1
            self.rf_last = tick.result()
            log.info("rf_maintenance_done", **(self.rf_last or {}))
            return
        self.rf_failures += 1
        metrics.JOB_FAILURES.labels(task="rf_maintenance").inc()
        log.error("rf_maintenance_failed", error=f"{type(exc).__name__}: {exc}")

    @staticmethod
    async def _run_shielded(
        tick: asyncio.Future[Any], account: Callable[[asyncio.Future[Any]], None]
    ) -> None:
        """Wait for ``tick``; on cancellation wait for its thread too (its transaction commits
        or rolls back whole), count it, and re-raise."""
        try:
            await asyncio.shield(tick)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await tick
            account(tick)
            raise
        except Exception:
            pass
        account(tick)

    async def _loop(self) -> None:
        while True:
            tick = asyncio.ensure_future(
                asyncio.to_thread(
                    tasks.periodic_compute_threats, self.database_url, self.interval_s
                )
            )
            # shielded: a shutdown during a tick waits for its thread (the batch commits or
            # rolls back whole) and counts it, instead of leaving it running unobserved
            await self._run_shielded(tick, self._account)
            await asyncio.sleep(self.interval_s)

    async def _rf_loop(self, settings: Any) -> None:
        while True:
            tick = asyncio.ensure_future(asyncio.to_thread(tasks.rf_maintenance, settings))
            await self._run_shielded(tick, self._account_rf)
            await asyncio.sleep(self.rf_maintenance_interval_s)
