"""One receiver's IQ capture with where and when it was taken: :class:`Recording`.

Time: ``start`` is the tz-aware UTC ``datetime`` of sample 0 (the capture's SigMF
``core:datetime``). A ``datetime`` holds microseconds only, and TDOA needs nanoseconds
(1 µs of timing is 300 m of range), so the sub-microsecond part lives beside it in
``start_ns_frac``: nanoseconds after ``start``, ``0 <= start_ns_frac < 1000`` (a float, so it
can hold picoseconds). The instant of sample 0 is ``start + start_ns_frac ns``;
:meth:`Recording.seconds_since` returns it relative to any epoch without losing the
nanoseconds (integer microseconds from the ``datetime`` difference, then the fraction added).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

ComplexArray = npt.NDArray[np.complex64]

#: Speed of light in vacuum (m/s), exact by definition of the metre.
SPEED_OF_LIGHT_MPS = 299_792_458.0


class RecordingError(ValueError):
    """A recording (or a file holding one) is unusable; the message names the field and why."""


@dataclass(frozen=True)
class Recording:
    """An IQ capture: complex64 baseband samples, their rate and centre, when and where.

    ``annotations`` are SigMF annotation objects (``core:sample_start``, ``core:sample_count``,
    ``core:label`` …); ``meta`` holds other global fields to carry through (e.g. the simulated
    truth's identifiers).
    """

    iq: ComplexArray
    sample_rate_hz: float
    center_frequency_hz: float
    start: dt.datetime
    lat_deg: float
    lon_deg: float
    alt_m: float
    receiver: str = ""
    annotations: tuple[dict[str, Any], ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    #: Nanoseconds after ``start`` of sample 0 (the sub-microsecond part of the capture time).
    start_ns_frac: float = 0.0

    def __post_init__(self) -> None:
        iq = self.iq
        if not isinstance(iq, np.ndarray) or iq.ndim != 1:
            raise RecordingError(f"iq: a 1-D numpy array is required, got {type(iq).__name__}")
        if iq.dtype != np.complex64:
            raise RecordingError(f"iq: dtype complex64 is required, got {iq.dtype}")
        if iq.size == 0:
            raise RecordingError("iq: the capture holds no samples")
        if not (math.isfinite(self.sample_rate_hz) and self.sample_rate_hz > 0):
            raise RecordingError(f"sample_rate_hz: must be > 0, got {self.sample_rate_hz}")
        if not math.isfinite(self.center_frequency_hz):
            raise RecordingError(f"center_frequency_hz: not finite ({self.center_frequency_hz})")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise RecordingError("start: a timezone-aware (UTC) datetime is required")
        if not (-90.0 <= self.lat_deg <= 90.0):
            raise RecordingError(f"lat_deg: must be within [-90, 90], got {self.lat_deg}")
        if not (-180.0 <= self.lon_deg <= 180.0):
            raise RecordingError(f"lon_deg: must be within [-180, 180], got {self.lon_deg}")
        if not math.isfinite(self.alt_m):
            raise RecordingError(f"alt_m: not finite ({self.alt_m})")
        if not (0.0 <= self.start_ns_frac < 1000.0):
            raise RecordingError(
                f"start_ns_frac: nanoseconds after start, 0 <= x < 1000, got {self.start_ns_frac}"
            )

    @property
    def duration_s(self) -> float:
        return self.iq.size / self.sample_rate_hz

    def seconds_since(self, epoch: dt.datetime) -> float:
        """Time of sample 0 after ``epoch`` in seconds, nanoseconds kept."""
        us = (self.start - epoch) // dt.timedelta(microseconds=1)
        return us * 1e-6 + self.start_ns_frac * 1e-9


def split_time_s(epoch: dt.datetime, offset_s: float) -> tuple[dt.datetime, float]:
    """``epoch + offset_s`` as ``(datetime to the microsecond below, nanoseconds after it)``.

    The inverse of :meth:`Recording.seconds_since`: the returned pair satisfies
    ``0 <= ns < 1000``.
    """
    total_ns = offset_s * 1e9
    us = math.floor(total_ns / 1000.0)
    ns = total_ns - us * 1000.0
    if ns >= 1000.0:  # float rounding at the boundary
        us, ns = us + 1, 0.0
    return epoch + dt.timedelta(microseconds=us), max(ns, 0.0)
