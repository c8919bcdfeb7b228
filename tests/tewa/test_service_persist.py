"""Service: how a batch is written, the track-quality factor, the doctrine name after edits."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pymap3d
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from argus.db.models import Track
from argus.db.session import make_sessionmaker, session_scope
from argus.tewa import service
from argus.tewa.quality import quality_from_track

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
# A track 30 km south of a 5 km DA flying north at 200 m/s, default params (see
# test_service_assign): cpa 0, tcpa 150 s, tdb 25 km, twrp 50 s.
S_OWN = 0.35 + 0.25 / 1.5 + 0.25 / 2 + 0.15 / (1 + 50 / 180)


@pytest.mark.parametrize("live", [True, False], ids=["live", "what-if"])
def test_batch_is_one_transaction_and_one_statement(engine: sa.Engine, live: bool) -> None:
    n_tracks, n_das = 50, 50  # 2,500 pairs
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        sc, _ = service.get_or_create_scenario(s, "Bulk")
        for k in range(n_das):
            da = service.upsert_defended_asset(
                s, f"D{k:02d}", lat=10 + 0.5 * k, lon=20.0, radius_km=5.0
            )
            service.attach_asset(s, sc, da)
        s.add_all(
            Track(
                scenario_id=sc.id,
                track_id=f"T{k:02d}",
                lat=10 + 0.3 * k,
                lon=19.5,
                speed_mps=200.0,
                heading_deg=45.0,
            )
            for k in range(n_tracks)
        )

    inserts: list[tuple[Any, int, bool]] = []
    tx: list[str] = []

    def on_execute(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO THREAT_SCORE"):
            assert conn.in_transaction()
            inserts.append((conn.connection.dbapi_connection, len(params), many))

    listeners = [
        ("before_cursor_execute", on_execute),
        ("begin", lambda conn: tx.append("begin")),
        ("commit", lambda conn: tx.append("commit")),
        ("rollback", lambda conn: tx.append("rollback")),
    ]
    for name, fn in listeners:
        sa.event.listen(engine, name, fn)
    try:
        with session_scope(factory) as s:
            sc = service.get_scenario(s, "Bulk")
            res = service.compute_at(s, sc, T0, persist=True, live=live)
    finally:
        for name, fn in listeners:
            sa.event.remove(engine, name, fn)

    n = n_tracks * n_das
    assert res.persisted == n == len(res.pairs)
    if engine.dialect.name == "postgresql":
        # one INSERT … SELECT FROM unnest(12 arrays) + 7 batch-wide scalars, whatever the size
        assert [(p, many) for _, p, many in inserts] == [(19, False)]
    else:
        # one prepared INSERT, run by the driver's executemany over all 2,500 rows
        assert [(p, many) for _, p, many in inserts] == [(2500, True)]
    assert len({id(c) for c, _, _ in inserts}) == 1  # one connection …
    assert tx == ["begin", "commit"]  # … one transaction
    with engine.connect() as conn:  # the batch went to its own table only
        counts = [
            conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("threat_score", "threat_score_what_if")
        ]
    assert counts == ([n, 0] if live else [0, n])


def _scenario_with_tracks(session: Session) -> service.Scenario:
    sc, _ = service.get_or_create_scenario(session, "Q")
    service.attach_asset(
        session, sc, service.upsert_defended_asset(session, "DA", lat=30.0, lon=70.0, radius_km=5.0)
    )
    lat, lon, _ = pymap3d.enu2geodetic(0.0, -30_000.0, 0.0, 30.0, 70.0, 0.0)
    for tid in ("noisy", "plain"):  # the same state; only the quality differs
        session.add(
            Track(
                scenario_id=sc.id,
                track_id=tid,
                lat=float(lat),
                lon=float(lon),
                speed_mps=200.0,
                heading_deg=0.0,
            )
        )
    session.flush()
    return sc


def test_compute_at_scales_scores_by_track_quality(session: Session) -> None:
    sc = _scenario_with_tracks(session)
    # Quality from the tracker's age and position error: 10 s old, sigma 500 m → 0.5 · 0.5.
    q = float(quality_from_track(10.0, 500.0))
    assert q == pytest.approx(0.25)
    service.set_track_identity(session, sc, "noisy", quality=q)

    off = {p.track_id: p for p in service.compute_at(session, sc, T0).pairs}
    assert off["noisy"].score == pytest.approx(S_OWN, abs=1e-5)  # switched off: ignored
    assert off["plain"].score == pytest.approx(S_OWN, abs=1e-5)

    service.set_params(session, sc, use_track_quality=True)
    on = {p.track_id: p for p in service.compute_at(session, sc, T0, persist=True, live=True).pairs}
    assert on["noisy"].score == pytest.approx(0.25 * S_OWN, abs=1e-5)
    assert on["plain"].score == pytest.approx(S_OWN, abs=1e-5)  # no quality (NULL) → 1
    for f in ("n_cpa", "n_tcpa", "n_tdb", "n_twrp", "cpa_km", "tcpa_s"):
        assert getattr(on["noisy"], f) == getattr(off["noisy"], f)  # only the score is scaled
    ranked = service.rank(session, sc, at=T0)
    assert [(r.track_id, round(r.score, 5)) for r in ranked] == [
        ("plain", round(S_OWN, 5)),
        ("noisy", round(0.25 * S_OWN, 5)),
    ]
    with pytest.raises(service.InvalidInput, match="quality"):
        service.set_track_identity(session, sc, "noisy", quality=1.5)


def test_doctrine_follows_the_params(session: Session) -> None:
    sc = _scenario_with_tracks(session)
    assert sc.doctrine == "default"
    service.set_params(session, sc, w_cpa=0.5)
    assert sc.doctrine == service.CUSTOM_DOCTRINE == "custom"
    service.set_params(session, sc, w_cpa=0.35)  # the default preset's value again
    assert sc.doctrine == "default"
    service.set_params(session, sc, use_track_quality=True)  # not part of any preset
    assert sc.doctrine == "default"
    service.apply_preset(session, sc, "ballistic")
    assert sc.doctrine == "ballistic"
    service.set_params(session, sc, tdb_logistic={"midpoint": 100, "width": 10})
    assert sc.doctrine == "custom"
    service.set_params(session, sc, tdb_logistic=None)
    assert sc.doctrine == "ballistic"
    with pytest.raises(service.InvalidInput):
        service.set_params(session, sc, w_cpa=2.0)
    assert sc.doctrine == "ballistic"  # a rejected change changes nothing
    # matching_preset: preferred name first, else any preset that matches, else None.
    row = service.get_model_params(session, sc)
    assert service.matching_preset(row) == "ballistic"
    assert service.matching_preset({"w_cpa": 0.35}) == "default"
    assert service.matching_preset({"w_cpa": 0.36}) is None
    session.expire_all()
    stored = session.scalar(
        sa.select(service.Scenario.doctrine).where(service.Scenario.id == sc.id)
    )
    assert stored == "ballistic"


def test_pair_objects_are_built_in_field_order() -> None:
    """ComputeResult.pairs builds PairScore positionally from the columns: the field order is
    part of that contract."""
    assert [f.name for f in dataclasses.fields(service.PairScore)] == [
        "track_pk",
        "track_id",
        "da_id",
        "da_name",
        *service.SCORE_FIELDS,
        "status",
        "lat",
        "lon",
        "speed_mps",
        "heading_deg",
        "computed_at",
        "quality",
    ]
