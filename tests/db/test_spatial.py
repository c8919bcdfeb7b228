"""PostGIS geography columns follow lat/lon, and their GiST indexes exist (PostgreSQL only)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pymap3d.vincenty import vdist

from argus.db.models import DefendedAsset, Scenario, Track
from argus.db.session import make_engine

pytestmark = pytest.mark.pg


def test_geography_follows_lat_lon_on_insert_and_update(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(DefendedAsset.__table__).values(
                    name="a", lat=26.8902, lon=70.8651, radius_km=25
                )
            )
            sc = conn.execute(
                sa.insert(Scenario.__table__).values(name="s").returning(Scenario.id)
            ).scalar_one()
            conn.execute(
                sa.insert(Track.__table__).values(
                    scenario_id=sc,
                    track_id="T1",
                    lat=-33.9,
                    lon=179.99,
                    alt_m=0,
                    speed_mps=1,
                    heading_deg=0,
                )
            )
        with engine.connect() as conn:
            lat, lon = conn.execute(
                sa.text("SELECT ST_Y(geog::geometry), ST_X(geog::geometry) FROM defended_asset")
            ).one()
            assert (lat, lon) == (26.8902, 70.8651)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE defended_asset SET lat = 26.2389, lon = 73.0243"))
            conn.execute(sa.text("UPDATE track SET lon = -179.99"))
        with engine.connect() as conn:
            lat, lon = conn.execute(
                sa.text("SELECT ST_Y(geog::geometry), ST_X(geog::geometry) FROM defended_asset")
            ).one()
            assert (lat, lon) == (26.2389, 73.0243)
            tlon = conn.execute(sa.text("SELECT ST_X(geog::geometry) FROM track")).scalar_one()
            assert tlon == -179.99
            # The geog column cannot be written directly: it is generated from lat/lon.
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(sa.text("UPDATE defended_asset SET geog = ST_GeogFromText('POINT(0 0)')"))
    finally:
        engine.dispose()


def test_geodesic_distance_matches_vincenty(pg_url: str) -> None:
    """ST_Distance on the geography column is the WGS-84 geodesic (Jaisalmer-Jodhpur ≈ 226.9 km)."""
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(DefendedAsset.__table__),
                [
                    {"name": "DA-Alpha", "lat": 26.8902, "lon": 70.8651, "radius_km": 25},
                    {"name": "DA-Bravo", "lat": 26.2389, "lon": 73.0243, "radius_km": 30},
                ],
            )
        with engine.connect() as conn:
            d = conn.execute(
                sa.text(
                    "SELECT ST_Distance(a.geog, b.geog) FROM defended_asset a, defended_asset b "
                    "WHERE a.name = 'DA-Alpha' AND b.name = 'DA-Bravo'"
                )
            ).scalar_one()
            within = (
                conn.execute(
                    sa.text(
                        "SELECT name FROM defended_asset WHERE ST_DWithin(geog, "
                        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :m) ORDER BY name"
                    ),
                    {"lat": 26.9, "lon": 70.9, "m": 50_000},
                )
                .scalars()
                .all()
            )
            idx = (
                conn.execute(
                    sa.text(
                        "SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING gist (geog)%' ORDER BY 1"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    expected, _ = vdist(26.8902, 70.8651, 26.2389, 73.0243)
    assert d == pytest.approx(float(expected), abs=1.0)
    assert within == ["DA-Alpha"]
    assert idx == [
        "ix_defended_asset_geog",
        "ix_radar_site_geog",
        "ix_track_geog",
        "ix_weapon_geog",
    ]
