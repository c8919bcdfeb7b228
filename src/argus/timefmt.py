"""Time formatting shared by the engines, the services, the API and the CLI (foundation)."""

from __future__ import annotations

import datetime as dt


def iso_z(t: dt.datetime) -> str:
    """``t`` in ISO 8601 with a UTC offset written ``Z`` (``2025-06-01T06:03:00Z``).

    Only the ``+00:00`` offset is rewritten; ``t`` is not converted to UTC first (callers that
    need that call ``t.astimezone(dt.UTC)``).
    """
    return t.isoformat().replace("+00:00", "Z")
