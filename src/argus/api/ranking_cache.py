"""Rendered rankings, cached per scenario revision.

A ranking only changes when the scenario's scores, or the names of its tracks or defended
assets, change, and the database counts every such change in ``scenario.scores_rev``
(migration 0008, bumped by triggers in the writing transaction, whoever writes). The ranking
endpoint reads the revision (one autocommit read, which is also its 404 check) and serves the
JSON body rendered for (scenario, revision, query) if it has it; the WebSocket pushes the
snapshot rendered for (scenario, revision) the same way, so a hundred consoles cost one
rendering per batch. A request never gets a ranking older than the revision it read; several
API processes each keep their own cache and all see a change at their next request.

Hand-written (an ordered dict under a lock and a single-flight table, ~60 lines): the value is validated by the database
revision, not by time, so a TTL cache library would add nothing; ``functools.lru_cache`` cannot
take the session the miss path needs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable

from argus import metrics

#: (scenario id, scores_rev, da_id, top_n, at) for the endpoint; ("ws", scenario id, scores_rev)
#: for the WebSocket snapshot.
Key = tuple[int | str | dt.datetime | None, ...]


def _dumps(value: object) -> bytes:
    if isinstance(value, bytes):  # rendered as JSON already (by the database)
        return value
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


#: Bodies at least this long are also kept gzip-compressed (once, when rendered).
GZIP_MIN_BYTES = 2048


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``gzip`` or ``*`` with q > 0)."""
    for part in (accept_encoding or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


class _Flight:
    """One rendering in progress; the requests that missed on the same key wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.body: bytes | None = None


class RankingCache:
    """Least-recently-used JSON bodies keyed by scenario revision and query (see ``Key``)."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Key, bytes] = OrderedDict()
        self._gzipped: dict[Key, bytes] = {}
        self._flights: dict[Key, _Flight] = {}
        self._lock = threading.Lock()

    def peek(self, key: Key) -> bytes | None:
        """The cached body for ``key`` (counted as a hit), or None; never blocks on a rendering,
        so the endpoint can call it on the event loop and go to a thread only on a miss."""
        if self.max_entries <= 0:
            return None
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                metrics.RANKING_CACHE.labels("hit").inc()
        return body

    def get_or_render(self, key: Key, render: Callable[[], object]) -> tuple[bytes, bool]:
        """The body for ``key`` and whether it came from the cache; ``render`` on a miss.

        Single flight: when a batch lands, every request in flight misses at once; one of them
        renders the new ranking and the others wait for its body instead of all computing the
        same thing (40 handler threads x 50 ms of CPU each was a 2 s stall on 2 cores).
        """
        if self.max_entries <= 0:
            metrics.RANKING_CACHE.labels("miss").inc()
            return _dumps(render()), False
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                metrics.RANKING_CACHE.labels("hit").inc()
                return body, True
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        assert flight is not None
        if not leader:
            flight.done.wait()
            if flight.body is not None:
                metrics.RANKING_CACHE.labels("hit").inc()
                return flight.body, True
            # The leader failed: start over, so this request renders (or waits) itself and gets
            # its own error or body.
            return self.get_or_render(key, render)
        metrics.RANKING_CACHE.labels("miss").inc()
        try:
            body = _dumps(render())
            flight.body = body
            with self._lock:
                self._items[key] = body
                self._items.move_to_end(key)
                while len(self._items) > self.max_entries:
                    old, _ = self._items.popitem(last=False)
                    self._gzipped.pop(old, None)
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
        # Compressed once, in this rendering thread, after the waiters have their body (a
        # 1,000-row board: 334 kB → about a fifth, a few ms once per revision); until then a
        # request gets the plain body, so no request waits for, or repeats, the compression.
        if len(body) >= GZIP_MIN_BYTES:
            gz = gzip.compress(body, compresslevel=6, mtime=0)
            with self._lock:
                if key in self._items:
                    self._gzipped[key] = gz
        return body, False

    def gzipped(self, key: Key) -> bytes | None:
        """The gzip form of the cached body for ``key``, if it is cached and long enough."""
        with self._lock:
            return self._gzipped.get(key)

    def __len__(self) -> int:
        return len(self._items)
