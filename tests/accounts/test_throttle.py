"""LoginThrottle and HashLimiter on their own (a fake clock: exact Retry-After figures)."""

from __future__ import annotations

import threading

import pytest

from argus.accounts.throttle import MAX_KEYS, HashingBusy, HashLimiter, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_window_slides_and_retry_after_is_the_oldest_failure_leaving() -> None:
    clock = Clock()
    t = LoginThrottle(per_username=3, per_address=100, window_s=60, clock=clock)
    for dt_s in (0, 10, 20):
        clock.t = 1000 + dt_s
        assert t.check("ada", "1.2.3.4") is None
        t.failed("ada", "1.2.3.4")
    clock.t = 1030
    assert t.check("ada", "1.2.3.4") == ("username", pytest.approx(30.0))
    clock.t = 1060  # the first failure left the window: one more attempt allowed
    assert t.check("ada", "1.2.3.4") is None
    t.failed("ada", "1.2.3.4")
    assert t.check("ada", "1.2.3.4") == ("username", pytest.approx(10.0))  # 1010 + 60 - 1060
    assert t.check("bob", "1.2.3.4") is None


def test_address_limit_spans_usernames_and_survives_a_success() -> None:
    clock = Clock()
    t = LoginThrottle(per_username=100, per_address=2, window_s=60, clock=clock)
    t.failed("a", "9.9.9.9")
    t.succeeded("a")
    t.failed("b", "9.9.9.9")
    assert t.check("c", "9.9.9.9") == ("address", pytest.approx(60.0))
    assert t.check("c", "8.8.8.8") is None


def test_keys_are_bounded() -> None:
    t = LoginThrottle(per_username=5, per_address=10**9, window_s=60, clock=Clock())
    for k in range(MAX_KEYS + 10):
        t.failed(f"user-{k}", "1.1.1.1")
    assert len(t._users.failures) == MAX_KEYS
    t.failed("x" * 10_000, "1.1.1.1")
    assert max(len(k) for k in t._users.failures) == 200


def test_hash_limiter_admits_slots_then_refuses_after_the_wait() -> None:
    limiter = HashLimiter(slots=2, wait_s=0.05)
    inside = threading.Barrier(3)
    release = threading.Event()

    def hold() -> None:
        with limiter.slot():
            inside.wait()
            release.wait()

    workers = [threading.Thread(target=hold) for _ in range(2)]
    for w in workers:
        w.start()
    inside.wait()
    with pytest.raises(HashingBusy, match="2 at once"), limiter.slot():
        pass
    release.set()
    for w in workers:
        w.join()
    with limiter.slot():  # free again
        pass
