"""``sites_seeing`` answers the same on PostgreSQL (PostGIS ``ST_DWithin`` on the ``geog`` columns)
and SQLite (Vincenty in numpy): the same mask for random points, points 50 m and 1 m either side
of the 900 km boundary of RAD_VBG along many bearings, and hand-checked near and far points."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy.orm import Session

from argus import geo
from argus.db.session import make_engine, make_sessionmaker
from argus.defense.service.catalog import DEMO_RADARS, RADAR_TYPES
from argus.defense.service.coverage import sites_seeing
from tests.defense._support import seed_defense

SITE = DEMO_RADARS[0]
MAX_RANGE_M = float(RADAR_TYPES[0]["max_range_m"])
LAT0, LON0 = float(SITE["lat"]), float(SITE["lon"])
FloatArray = npt.NDArray[np.float64]


def point_at(bearing_deg: FloatArray, distance_m: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The points at this WGS-84 (Vincenty) distance and initial bearing from RAD_VBG: a
    great-circle step, its length corrected until the ellipsoidal distance matches (< 1 mm)."""
    r = geo.MEAN_EARTH_RADIUS_M
    phi1, lam1, th = np.radians(LAT0), np.radians(LON0), np.radians(bearing_deg)
    delta = np.asarray(distance_m, dtype=float) / r
    for _ in range(8):
        phi2 = np.arcsin(np.sin(phi1) * np.cos(delta) + np.cos(phi1) * np.sin(delta) * np.cos(th))
        lam2 = lam1 + np.arctan2(
            np.sin(th) * np.sin(delta) * np.cos(phi1), np.cos(delta) - np.sin(phi1) * np.sin(phi2)
        )
        lat, lon = np.degrees(phi2), (np.degrees(lam2) + 180.0) % 360.0 - 180.0
        d = geo.geodesic_inverse(LAT0, LON0, lat, lon)[0]
        delta = delta * np.asarray(distance_m) / d
    assert np.all(np.abs(d - distance_m) < 1e-3)
    return lat, lon


@pytest.fixture
def session_and_sid(db_url: str) -> Iterator[tuple[Session, int]]:
    sid = seed_defense(db_url, users=False)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as s:
        yield s, sid
    engine.dispose()


def _points() -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Random points around the site, and points at the boundary ± 50 m and ± 1 m."""
    rng = np.random.default_rng(11)
    n = 200
    lat_r = LAT0 + rng.uniform(-12.0, 12.0, n)
    lon_r = LON0 + rng.uniform(-15.0, 15.0, n)
    bearings = np.repeat(np.arange(0.0, 360.0, 15.0), 4)
    offsets = np.tile([-50.0, 50.0, -1.0, 1.0], 24)
    lat_b, lon_b = point_at(bearings, MAX_RANGE_M + offsets)
    lat = np.concatenate([lat_r, lat_b])
    lon = np.concatenate([lon_r, lon_b])
    want = geo.geodesic_inverse(LAT0, LON0, lat, lon)[0] <= MAX_RANGE_M  # by hand: Vincenty
    return lat, lon, want


def test_sites_seeing_matches_a_hand_check_on_both_backends(
    session_and_sid: tuple[Session, int],
) -> None:
    s, sid = session_and_sid
    lat, lon, want = _points()
    names, mask = sites_seeing(s, sid, lat, lon)
    assert names == ["RAD_VBG"] and mask.shape == (lat.size, 1)
    np.testing.assert_array_equal(mask[:, 0], want)
    assert 0 < want.sum() < want.size  # both sides of the boundary are exercised
    # the boundary points, explicitly: inside at -50 m and -1 m, outside at +50 m and +1 m
    boundary = mask[200:, 0].reshape(24, 4)
    assert boundary.tolist() == [[True, False, True, False]] * 24

    # hand-checked: 10 km north-east is seen, 1,000 km south-west is not
    (lat_n, lat_f), (lon_n, lon_f) = point_at(np.array([45.0, 225.0]), np.array([10e3, 1000e3]))
    _, m = sites_seeing(s, sid, [lat_n, lat_f], [lon_n, lon_f])
    assert m[:, 0].tolist() == [True, False]
    # no points, no scenario sites
    assert sites_seeing(s, sid, [], [])[1].shape == (0, 1)
    names, m = sites_seeing(s, sid + 999, [LAT0], [LON0])
    assert names == [] and m.shape == (1, 0)


def test_postgis_and_numpy_agree_on_the_same_points(pg_url: str, sqlite_url: str) -> None:
    lat, lon, _ = _points()
    masks = []
    for url in (pg_url, sqlite_url):
        sid = seed_defense(url, users=False)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as s:
            assert s.get_bind().dialect.name == ("postgresql" if url is pg_url else "sqlite")
            masks.append(sites_seeing(s, sid, lat, lon)[1])
        engine.dispose()
    np.testing.assert_array_equal(masks[0], masks[1])
