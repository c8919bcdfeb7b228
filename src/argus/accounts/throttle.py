"""Login throttling and a bound on concurrent password hashing.

Both are in-process: one API process keeps its own counts and its own hashing slots. Several
API processes behind a load balancer each allow the configured number of failures, so the
effective limit is N times higher; the scale-out choice is to keep the failure windows in Redis
(one sorted set per key, ``ZADD``/``ZREMRANGEBYSCORE``/``ZCARD``), not implemented here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Most distinct usernames / addresses remembered at once (the oldest are forgotten first), so a
#: flood of made-up names cannot grow the tables without bound.
MAX_KEYS = 100_000
#: A key longer than this is cut (the login form does not bound the username's length).
MAX_KEY_LENGTH = 200


class _Window:
    """Failure times per key within the last ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.failures: dict[str, deque[float]] = {}

    def _prune(self, key: str, now: float) -> deque[float] | None:
        q = self.failures.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self.failures[key]
            return None
        return q

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        q = self._prune(key, now)
        if q is None or len(q) < self.limit:
            return None
        return max(q[-self.limit] + self.window_s - now, 0.001)

    def add(self, key: str, now: float) -> None:
        q = self._prune(key, now)
        if q is None:
            if len(self.failures) >= MAX_KEYS:
                self.failures.pop(next(iter(self.failures)))  # the oldest inserted key
            q = self.failures[key] = deque()
        q.append(now)
        while len(q) > self.limit:  # only the newest `limit` failures matter
            q.popleft()

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class LoginThrottle:
    """After ``per_username`` failed logins for one username, or ``per_address`` from one client
    address, within ``window_s`` seconds, further attempts are refused until the oldest of
    those failures leaves the window. A successful login clears its username's failures (not
    its address's: one address guessing many accounts stays throttled)."""

    def __init__(
        self,
        per_username: int,
        per_address: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = _Window(per_username, window_s)
        self._addresses = _Window(per_address, window_s)
        self._clock = clock
        self._lock = threading.Lock()

    @staticmethod
    def _key(value: str) -> str:
        return value[:MAX_KEY_LENGTH]

    def check(self, username: str, address: str) -> tuple[str, float] | None:
        """("username" or "address", seconds to wait) when the attempt is throttled, else None."""
        now = self._clock()
        with self._lock:
            wait = self._users.retry_after(self._key(username), now)
            if wait is not None:
                return "username", wait
            wait = self._addresses.retry_after(self._key(address), now)
            if wait is not None:
                return "address", wait
        return None

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            self._users.add(self._key(username), now)
            self._addresses.add(self._key(address), now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._users.clear(self._key(username))


class HashingBusy(Exception):
    """No password-hashing slot became free within the wait."""


class HashLimiter:
    """At most ``slots`` argon2 hashes or verifies at once (each costs ~64 MiB and a core for
    a fraction of a second); a caller waits at most ``wait_s`` for a slot, then
    :class:`HashingBusy`."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._semaphore.acquire(timeout=self.wait_s):
            raise HashingBusy(f"password hashing busy ({self.slots} at once): retry in a moment")
        try:
            yield
        finally:
            self._semaphore.release()
