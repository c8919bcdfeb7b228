"""The demo scenario: two defended assets in Rajasthan and three tracks, as pure data.

``argus seed-demo`` stores it, and ``src/argus/data/demo_tracks.csv`` is this module's output
(a test regenerates it and compares), so tests and the demo share one fixture.

- DA-Alpha: Jaisalmer, 26.8902 N 70.8651 E, radius 25 km.
- DA-Bravo: Jodhpur, 26.2389 N 73.0243 E, radius 30 km.
- T1 flies east toward DA-Alpha, T2 south-east toward DA-Bravo (both close on their asset),
  T3 heads south-south-west, away from both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pymap3d

from argus.tewa.ingest import TrackSamples, datetime_to_us

DEMO_SCENARIO = "Demo-Scenario"
DEMO_START = dt.datetime(2025, 6, 1, 6, 0, 0, tzinfo=dt.UTC)
DEMO_DURATION_S = 300
DEMO_STEP_S = 10


@dataclass(frozen=True)
class DemoAsset:
    name: str
    lat: float
    lon: float
    radius_km: float
    place: str


@dataclass(frozen=True)
class DemoTrack:
    track_id: str
    lat: float
    lon: float
    alt_m: float
    speed_mps: float
    heading_deg: float


DEMO_ASSETS = (
    DemoAsset("DA-Alpha", 26.8902, 70.8651, 25.0, "Jaisalmer"),
    DemoAsset("DA-Bravo", 26.2389, 73.0243, 30.0, "Jodhpur"),
)

DEMO_TRACKS = (
    # ~95 km west of Jaisalmer, inbound at 250 m/s: ends ~20 km from the centre, inside the DA.
    DemoTrack("T1", 26.9000, 69.9100, 6000.0, 250.0, 90.0),
    # ~90 km north-west of Jodhpur, inbound at 220 m/s.
    DemoTrack("T2", 26.8500, 72.4000, 4500.0, 220.0, 138.0),
    # between the two, outbound to the south-south-west at 150 m/s.
    DemoTrack("T3", 26.3000, 71.9000, 3000.0, 150.0, 200.0),
)


#: (track, IFF, threat class) set by the seed: the two inbound tracks are hostile aircraft.
DEMO_IDENTITIES = (
    ("T1", "hostile", "aircraft"),
    ("T2", "hostile", "aircraft"),
    ("T3", "unknown", "unknown"),
)

#: Two batteries, one near each asset.
DEMO_BATTERIES = (
    {
        "call_sign": "Alpha-SAM",
        "weapon_type": "SAM-MR",
        "lat": 26.95,
        "lon": 70.95,
        "rounds": 8,
        "min_range_km": 3.0,
        "max_range_km": 40.0,
        "max_target_speed_mps": 1200.0,
        "fire_channels": 2,
        "interceptor_speed_mps": 1000.0,
    },
    {
        "call_sign": "Bravo-SAM",
        "weapon_type": "SAM-SR",
        "lat": 26.30,
        "lon": 73.05,
        "rounds": 6,
        "min_range_km": 1.0,
        "max_range_km": 25.0,
        "max_target_speed_mps": 800.0,
        "fire_channels": 2,
        "interceptor_speed_mps": 800.0,
    },
)

#: Single-shot kill probabilities (weapon type, threat class, pk); '*' is the wildcard.
DEMO_KILL_PROBABILITIES = (
    ("SAM-MR", "aircraft", 0.8),
    ("SAM-MR", "*", 0.7),
    ("SAM-SR", "aircraft", 0.75),
    ("SAM-SR", "drone", 0.85),
)


def demo_samples(step_s: int = DEMO_STEP_S, duration_s: int = DEMO_DURATION_S) -> TrackSamples:
    """Straight constant-speed flight in each track's local ENU plane (WGS-84), one sample per step."""
    t = np.arange(0, duration_s + step_s, step_s, dtype=np.float64)
    start_us = datetime_to_us(DEMO_START)
    ids, ts, lats, lons, alts, spd, hdg = [], [], [], [], [], [], []
    for tr in DEMO_TRACKS:
        h = np.radians(tr.heading_deg)
        east = tr.speed_mps * np.sin(h) * t
        north = tr.speed_mps * np.cos(h) * t
        lat, lon, _ = pymap3d.enu2geodetic(east, north, np.zeros_like(t), tr.lat, tr.lon, 0.0)
        ids.append(np.full(t.size, tr.track_id, dtype=object))
        ts.append(start_us + (t * 1_000_000).astype(np.int64))
        lats.append(np.round(np.asarray(lat), 6))
        lons.append(np.round(np.asarray(lon), 6))
        alts.append(np.full(t.size, tr.alt_m))
        spd.append(np.full(t.size, tr.speed_mps))
        hdg.append(np.full(t.size, tr.heading_deg))
    n = sum(a.size for a in ts)
    return TrackSamples(
        track_id=np.concatenate(ids),
        t_us=np.concatenate(ts),
        lat=np.concatenate(lats),
        lon=np.concatenate(lons),
        alt_m=np.concatenate(alts),
        speed_mps=np.concatenate(spd),
        heading_deg=np.concatenate(hdg),
        line=np.arange(2, n + 2, dtype=np.int64),
    )
