"""The HEALPix cone search returns exactly what a brute-force angular-distance filter returns,
on both databases, including at the poles and across RA = 0/360."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from argus.astro import service
from argus.astro.service.sky import coarse_order, cone_ranges, healpix_ids
from argus.db.objectstore import ObjectStore
from tests.astro._support import stored_run

#: (ra, dec, radius_arcsec): ordinary sky, both poles, the RA = 0/360 seam, tiny and wide cones.
CENTRES = [
    (150.0, 2.2, 30.0),
    (0.0005, 10.0, 20.0),
    (359.9995, -30.0, 20.0),
    (0.0, 0.0, 3600.0),
    (45.0, 89.995, 60.0),
    (300.0, -89.999, 30.0),
    (12.0, 90.0, 120.0),
    (200.0, 45.0, 1.0),
    (80.0, -60.0, 5 * 3600.0),
]


def _points_around(
    ra: float, dec: float, radius_arcsec: float, n: int, rng: np.random.Generator
) -> SkyCoord:
    """``n`` points spread over a cap of 3x the radius (about 1/9 of them inside the cone)."""
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    sep = 3 * radius_arcsec * np.sqrt(rng.uniform(0, 1, n))
    pa = rng.uniform(0, 360, n)
    return centre.directional_offset_by(pa * u.deg, sep * u.arcsec)


@pytest.fixture
def store(tmp_path: object) -> ObjectStore:
    return ObjectStore(f"{tmp_path}/objects")


def test_cone_search_equals_brute_force(session: Session, store: ObjectStore) -> None:
    rng = np.random.default_rng(20261207)
    pts = [_points_around(ra, dec, r, 60, rng) for ra, dec, r in CENTRES]
    pts.append(SkyCoord(rng.uniform(0, 360, 300) * u.deg, np.degrees(np.arcsin(rng.uniform(-1, 1, 300))) * u.deg))  # fmt: skip
    ra = np.concatenate([p.ra.wrap_at(360 * u.deg).deg for p in pts]) % 360
    dec = np.concatenate([p.dec.deg for p in pts])
    stored = stored_run(session, store, ra=ra, dec=dec)
    assert len(stored.candidates) == len(ra) == 840
    all_c = SkyCoord([c.ra for c in stored.candidates] * u.deg, [c.dec for c in stored.candidates] * u.deg)  # fmt: skip
    ids = np.array([str(c.id) for c in stored.candidates])

    inside_total = 0
    for cra, cdec, radius in CENTRES + [(float(rng.uniform(0, 360)), float(rng.uniform(-90, 90)), 7200.0) for _ in range(5)]:  # fmt: skip
        sep = SkyCoord(cra * u.deg, cdec * u.deg).separation(all_c).arcsec
        expected = set(ids[sep <= radius])
        got = service.cone_search(session, cra, cdec, radius, limit=10_000)
        assert {str(m.row.id) for m in got} == expected, (cra, cdec, radius)
        seps = [m.separation_arcsec for m in got]
        assert seps == sorted(seps)  # nearest first
        if got:
            np.testing.assert_allclose(seps, np.sort(sep[sep <= radius]), rtol=1e-6, atol=1e-6)
        inside_total += len(expected)
    # the test is not vacuous: the cones held points, on both sides of the boundary
    assert inside_total >= 60


def test_cone_search_over_detections_and_limit(session: Session, store: ObjectStore) -> None:
    stored = stored_run(session, store, ra=[10.0, 10.0 + 1 / 3600, 10.0 + 5 / 3600], dec=[0, 0, 0])
    m = service.register_model(
        session, name="rb", model_type="real_bogus", blob=b"x", metrics={"accuracy": 0.9}
    )
    service.record_model_run(session, m, stored.candidates, [0.9, 0.2, 0.7])
    got = service.cone_search(session, 10.0, 0.0, 2.0, target="detections")
    assert [round(x.separation_arcsec, 3) for x in got] == [0.0, 1.0]
    assert [x.row.confidence_score for x in got] == [0.9, 0.2]
    assert len(service.cone_search(session, 10.0, 0.0, 10.0, limit=2)) == 2


@pytest.mark.parametrize(
    ("ra", "dec", "radius", "field"),
    [(360.0, 0, 1, "ra"), (-1, 0, 1, "ra"), (0, 91, 1, "dec"), (0, 0, 0, "radius_arcsec"),
     (0, 0, 1e9, "radius_arcsec"), (float("nan"), 0, 1, "ra")],
)  # fmt: skip
def test_bad_cones_name_the_field(
    session: Session, ra: float, dec: float, radius: float, field: str
) -> None:
    with pytest.raises(service.InvalidInput, match=f"^{field}:"):
        service.cone_search(session, ra, dec, radius)


@settings(max_examples=300, deadline=None)
@given(
    ra=st.floats(0, 360, exclude_max=True),
    dec=st.floats(-90, 90),
    radius=st.floats(0.05, 36000),
    frac=st.floats(0, 1),
    pa=st.floats(0, 360),
)
def test_every_point_in_the_cone_is_in_a_range(
    ra: float, dec: float, radius: float, frac: float, pa: float
) -> None:
    """The superset property the SQL relies on (no database): a point at any separation up to
    the radius, in any direction, has an id inside one of the cone's ranges."""
    p = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(
        pa * u.deg, frac * radius * u.arcsec
    )
    hp = int(healpix_ids([p.ra.wrap_at(360 * u.deg).deg % 360], [p.dec.deg])[0])
    ranges = cone_ranges(ra, dec, radius / 3600)
    assert any(lo <= hp <= hi for lo, hi in ranges)
    assert len(ranges) <= 40  # a handful of range scans, whatever the radius


def test_coarse_order_scales_with_the_radius() -> None:
    assert coarse_order(1 / 3600) == 17  # pixels ~1.6 arcsec
    assert coarse_order(1.0) == 5
    assert coarse_order(60.0) == 0
    # found by the API fuzz: a subnormal radius overflowed the order (now the finest order)
    assert coarse_order(6.18e-317) == 29 and coarse_order(1e-12) == 29


def test_a_vanishing_radius_finds_the_exact_position(session: Session, store: ObjectStore) -> None:
    stored_run(session, store, ra=[20.0, 20.0 + 1e-6], dec=[-10.0, -10.0])
    (hit,) = service.cone_search(session, 20.0, -10.0, 1e-300)
    assert hit.row.ra == 20.0 and hit.separation_arcsec == 0.0


def test_an_overfull_cone_is_refused_not_truncated(
    session: Session, store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argus.astro.service import queries

    stored_run(session, store, ra=[30.0, 30.0001, 30.0002, 30.0003], dec=[5.0] * 4)
    monkeypatch.setattr(queries, "MAX_SCANNED_ROWS", 3)
    with pytest.raises(service.InvalidInput, match=r"^radius_arcsec: the cone of 60 arcsec"):
        service.cone_search(session, 30.0, 5.0, 60.0)
    with pytest.raises(service.InvalidInput, match=r"^radius_arcsec:"):
        service.light_curve(session, 30.0, 5.0, radius_arcsec=60.0)
    monkeypatch.setattr(queries, "MAX_SCANNED_ROWS", 4)
    assert len(service.cone_search(session, 30.0, 5.0, 60.0)) == 4
