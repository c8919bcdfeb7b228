"""Seeded synthetic tracks as ``argus.tewa.ingest.TrackSamples``, in valid ranges (lat in
[-90, 90], lon in [-180, 180), speed >= 0, heading in [0, 360)), named ``BENCH-0000`` …:

- ``random_walk_feed``: up to 1,000 tracks at 1 s with random-walk kinematics, rows in time order
  as a recorded feed arrives (every track at t, then t + 1 s): what ``bench_ingest`` loads;
- ``inbound_tracks``: straight-line tracks 60-400 km from a centre, most heading roughly inbound,
  at 1 s, rows track by track: what ``bench_api`` serves (its threat scores are not all zero).

The positions follow the kinematics: each step moves a track by ``speed x 1 s`` along its
heading (flat-earth steps on a sphere of ``EARTH_RADIUS_M``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from argus.tewa.ingest import TrackSamples

EARTH_RADIUS_M = 6_371_008.8
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
SEED = 20261124
MAX_TRACKS = 1_000
FLOAT_COLUMNS = ("lat", "lon", "alt_m", "speed_mps", "heading_deg")

FloatArray = npt.NDArray[np.float64]


def track_names(n: int) -> list[str]:
    return [f"BENCH-{k:04d}" for k in range(n)]


def epoch_us(t: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC."""
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def wrap_heading(deg: FloatArray) -> FloatArray:
    """Degrees into [0, 360) (``np.mod`` of a tiny negative number rounds to 360.0)."""
    out = np.mod(deg, 360.0)
    out[out >= 360.0] = 0.0
    return out


def check_ranges(samples: TrackSamples) -> None:
    """Raise ``ValueError`` unless every row is in the ranges ``argus.tewa.ingest`` accepts."""
    s = samples
    if not ((s.heading_deg >= 0).all() and (s.heading_deg < 360).all()):
        raise ValueError("heading outside [0, 360)")
    if not ((s.speed_mps >= 0).all() and (np.abs(s.lat) <= 90).all()):
        raise ValueError("negative speed or latitude outside [-90, 90]")
    if not ((s.lon >= -180).all() and (s.lon < 180).all()):
        raise ValueError("longitude outside [-180, 180)")


@dataclass(frozen=True)
class BenchData:
    samples: TrackSamples  # what the CSV holds (track names as strings)
    track_index: npt.NDArray[np.int64]  # 0-based track number of each row
    track_names: list[str]

    def columns(self, sl: slice = slice(None)) -> dict[str, FloatArray]:
        return {c: getattr(self.samples, c)[sl] for c in FLOAT_COLUMNS}


def random_walk_feed(n_rows: int, seed: int = SEED, start: dt.datetime = START) -> BenchData:
    """``n_rows`` samples of up to 1,000 tracks at 1 s, random-walk kinematics, time-major."""
    n_tracks = min(MAX_TRACKS, n_rows)
    per_track = math.ceil(n_rows / n_tracks)
    rng = np.random.default_rng(seed)
    shape = (n_tracks, per_track)

    heading = wrap_heading(
        rng.uniform(0.0, 360.0, n_tracks)[:, None] + np.cumsum(rng.normal(0.0, 0.5, shape), axis=1)
    )
    speed = np.maximum(
        rng.uniform(60.0, 300.0, n_tracks)[:, None]
        + np.cumsum(rng.normal(0.0, 0.5, shape), axis=1),
        0.0,
    )
    alt = np.maximum(
        rng.uniform(300.0, 12_000.0, n_tracks)[:, None]
        + np.cumsum(rng.normal(0.0, 3.0, shape), axis=1),
        0.0,
    )
    h = np.radians(heading)
    # position at sample k from the motion during samples 0..k-1 (flat-earth steps of 1 s)
    d_north = np.concatenate([np.zeros((n_tracks, 1)), (speed * np.cos(h))[:, :-1]], axis=1)
    d_east = np.concatenate([np.zeros((n_tracks, 1)), (speed * np.sin(h))[:, :-1]], axis=1)
    lat = rng.uniform(-60.0, 60.0, n_tracks)[:, None] + np.degrees(
        np.cumsum(d_north, axis=1) / EARTH_RADIUS_M
    )
    lat = np.clip(lat, -89.0, 89.0)
    lon = rng.uniform(-180.0, 180.0, n_tracks)[:, None] + np.degrees(
        np.cumsum(d_east / (EARTH_RADIUS_M * np.cos(np.radians(lat))), axis=1)
    )
    lon = np.mod(lon + 180.0, 360.0) - 180.0
    lon[lon >= 180.0] = -180.0

    start_us = epoch_us(start)
    offset_s = rng.integers(0, 600, n_tracks)
    t_us = start_us + (offset_s[:, None] + np.arange(per_track)[None, :]) * 1_000_000
    track = np.broadcast_to(np.arange(n_tracks)[:, None], shape)

    order = np.lexsort((track.ravel(), t_us.ravel()))[:n_rows]  # time-major, like a live feed
    names = track_names(n_tracks)
    track_index = track.ravel()[order].astype(np.int64)
    samples = TrackSamples(
        track_id=np.array(names, dtype=object)[track_index],
        t_us=t_us.ravel()[order].astype(np.int64),
        lat=lat.ravel()[order],
        lon=lon.ravel()[order],
        alt_m=alt.ravel()[order],
        speed_mps=speed.ravel()[order],
        heading_deg=heading.ravel()[order],
        line=np.arange(2, n_rows + 2, dtype=np.int64),
    )
    if len(samples) != n_rows:
        raise AssertionError(f"{len(samples)} rows generated, not {n_rows}")
    check_ranges(samples)
    return BenchData(samples=samples, track_index=track_index, track_names=names)


def inbound_tracks(
    n_tracks: int,
    n_samples: int,
    rng: np.random.Generator,
    centre: tuple[float, float],
    start: dt.datetime,
) -> TrackSamples:
    """Straight-line tracks 60-400 km from ``centre``, most heading roughly inbound, at 1 s from
    ``start`` (whole seconds); constant speed, heading and altitude per track."""
    rng_km = rng.uniform(60.0, 400.0, n_tracks)
    bearing = rng.uniform(0.0, 360.0, n_tracks)
    inbound = np.mod(bearing + 180.0 + rng.normal(0.0, 40.0, n_tracks), 360.0)
    outbound = rng.random(n_tracks) < 0.2
    heading = wrap_heading(np.where(outbound, rng.uniform(0.0, 360.0, n_tracks), inbound))
    speed = rng.uniform(80.0, 600.0, n_tracks)
    alt = rng.uniform(50.0, 12_000.0, n_tracks)
    b = np.radians(bearing)
    north0, east0 = rng_km * 1e3 * np.cos(b), rng_km * 1e3 * np.sin(b)
    t = np.arange(n_samples, dtype=np.float64)
    h = np.radians(heading)
    north = north0[:, None] + (speed * np.cos(h))[:, None] * t[None, :]
    east = east0[:, None] + (speed * np.sin(h))[:, None] * t[None, :]
    lat = centre[0] + np.degrees(north / EARTH_RADIUS_M)
    lon = centre[1] + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    start_us = int(start.timestamp()) * 1_000_000
    n = n_tracks * n_samples
    names = np.array(track_names(n_tracks), dtype=object)
    samples = TrackSamples(
        track_id=np.repeat(names, n_samples),
        t_us=(start_us + np.tile(np.arange(n_samples, dtype=np.int64), n_tracks) * 1_000_000),
        lat=lat.ravel(),
        lon=lon.ravel(),
        alt_m=np.repeat(alt, n_samples),
        speed_mps=np.repeat(speed, n_samples),
        heading_deg=np.repeat(heading, n_samples),
        line=np.arange(2, n + 2, dtype=np.int64),
    )
    check_ranges(samples)
    return samples
