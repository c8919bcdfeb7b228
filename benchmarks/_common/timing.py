"""Timing helpers: best and median of repeated calls, per-call samples, a wall + CPU stopwatch."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def best_median(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best, median) wall time in seconds of ``repeats`` calls (at least one)."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def time_calls(fn: Callable[[], object], n: int, warm: bool = True) -> npt.NDArray[np.float64]:
    """Wall time in seconds of each of ``n`` calls, after one untimed call when ``warm``."""
    if warm:
        fn()
    out = np.empty(n)
    for k in range(n):
        t0 = time.perf_counter()
        fn()
        out[k] = time.perf_counter() - t0
    return out


@dataclass
class Stopwatch:
    """Wall (``perf_counter``) and process CPU (``process_time``) seconds of a ``with`` block."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    sw = Stopwatch()
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        yield sw
    finally:
        sw.wall = time.perf_counter() - t0
        sw.cpu = time.process_time() - c0
