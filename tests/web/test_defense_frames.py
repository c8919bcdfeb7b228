"""The radar_frame messages of a whole raid hold what the console's Defense tab draws.

The browser test (test_defense_view.py) cannot wait minutes for an interception; this one flies
the demo raid in process (as tests/defense/test_pipeline_e2e.py does) and checks every frame the
runtime hands its WebSocket listeners: the fields defense.js reads, JSON-clean, tracks with a
level and class, interceptors in flight, and each detonation with the point where it happened.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tests.defense.test_pipeline_e2e import run_raid

FRAME_KEYS = {"type", "time", "cycle", "radars", "batteries", "assets", "truth", "tracks",
              "interceptors", "engagements", "ew", "stage_ms", "n_detections"}  # fmt: skip
TRACK_KEYS = {"track_id", "lat", "lon", "alt_m", "speed_mps", "class", "confidence", "level",
              "score", "time_to_impact_s"}  # fmt: skip
LEVELS = {"none", "low", "medium", "high", "critical"}


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat, dlon = math.radians(b[0] - a[0]), math.radians(b[1] - a[1])
    h = (
        math.sin(dlat / 2) ** 2
        + math.cos(math.radians(a[0])) * math.cos(math.radians(b[0])) * math.sin(dlon / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@pytest.mark.slow
def test_a_raid_s_frames_carry_what_the_defense_tab_draws(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames: list[dict[str, Any]] = []
    import argus.defense.service.runtime as runtime

    original = runtime.DefenseRuntime.__init__

    def init(self: Any, *a: Any, **k: Any) -> None:
        original(self, *a, **k)
        self.cycle_listeners.append(lambda f: frames.append(json.loads(json.dumps(f))))

    monkeypatch.setattr(runtime.DefenseRuntime, "__init__", init)
    run_raid(sqlite_url)
    monkeypatch.undo()

    assert len(frames) > 100
    for f in frames:
        assert set(f) >= FRAME_KEYS and f["type"] == "radar_frame"
        assert f["time"].endswith("Z")
        for t in f["tracks"]:
            assert set(t) >= TRACK_KEYS and t["level"] in LEVELS
        r = f["radars"][0]
        assert r["max_range_m"] > 0 and 0 < r["azimuth_width_deg"] <= 360
    assert any(f["truth"] for f in frames)
    assert any(t["level"] in ("high", "critical") for f in frames for t in f["tracks"])
    assert any(f["interceptors"] for f in frames)
    assert set(frames[-1]["stage_ms"]) >= {"radar_scan", "tracking", "classification"}

    # Every detonation names where it happened, near the interceptor's last drawn position.
    last_seen: dict[str, tuple[float, float]] = {}
    detonations = 0
    for f in frames:
        for e in f["engagements"]:
            if e["subject"] == "interceptor.detonation":
                detonations += 1
                assert isinstance(e["kill"], bool) and e["miss_distance_m"] >= 0
                point = (e["lat_deg"], e["lon_deg"])
                assert _km(point, last_seen[e["interceptor_id"]]) < 20.0
        for i in f["interceptors"]:
            last_seen[i["interceptor_id"]] = (i["lat"], i["lon"])
    assert detonations > 0
    assert any(e.get("kill") for f in frames for e in f["engagements"])
