"""Which radar sites can see which points: a PostGIS query on PostgreSQL, numpy on SQLite.

A site covers a point when the geodesic distance between them (WGS-84) is within the site's
type ``max_range_m``. PostgreSQL answers with ``ST_DWithin`` on the generated ``geog`` columns
(spheroid distances, GiST index); SQLite with the same distance in numpy
(:func:`argus.geo.geodesic_inverse`, Vincenty). ``tests/defense/test_coverage.py`` checks that
both give the same answer on random points, a metre away from every boundary.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from argus import geo
from argus.db.models import RadarSiteRow, RadarType


def sites_seeing(
    session: Session, scenario_id: int, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike
) -> tuple[list[str], npt.NDArray[np.bool_]]:
    """Site names and a (points, sites) mask: site j covers point i."""
    lat = np.atleast_1d(np.asarray(lat_deg, dtype=float))
    lon = np.atleast_1d(np.asarray(lon_deg, dtype=float))
    rows = session.execute(
        select(
            RadarSiteRow.id,
            RadarSiteRow.name,
            RadarSiteRow.lat,
            RadarSiteRow.lon,
            RadarType.max_range_m,
        )
        .join(RadarType, RadarType.id == RadarSiteRow.radar_type_id)
        .where(RadarSiteRow.scenario_id == scenario_id)
        .order_by(RadarSiteRow.id)
    ).all()
    names = [r.name for r in rows]
    mask = np.zeros((lat.size, len(rows)), dtype=bool)
    if not rows or lat.size == 0:
        return names, mask
    if session.get_bind().dialect.name == "postgresql":
        col = {r.id: k for k, r in enumerate(rows)}
        hits = session.execute(
            text(
                "SELECT p.i - 1 AS i, s.id FROM radar_site s "
                "JOIN radar_type t ON t.id = s.radar_type_id "
                "JOIN unnest(CAST(:lat AS float8[]), CAST(:lon AS float8[])) "
                "WITH ORDINALITY AS p(lat, lon, i) "
                "ON ST_DWithin(s.geog, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography, "
                "t.max_range_m) "
                "WHERE s.scenario_id = :sid"
            ),
            {"lat": lat.tolist(), "lon": lon.tolist(), "sid": scenario_id},
        ).all()
        for i, sid in hits:  # the hits themselves, not the points
            mask[int(i), col[int(sid)]] = True
        return names, mask
    slat = np.array([r.lat for r in rows])
    slon = np.array([r.lon for r in rows])
    rng = np.array([r.max_range_m for r in rows])
    d = geo.geodesic_inverse(lat[:, None], lon[:, None], slat[None, :], slon[None, :])[0]
    return names, np.asarray(d <= rng[None, :])
