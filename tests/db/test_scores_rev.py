"""scenario.scores_rev moves exactly when a scenario's ranking can change (migration 0008)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from argus.db.models import DefendedAsset, Scenario, ThreatScore, Track

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
SC, TR, DA, TS = (m.__table__ for m in (Scenario, Track, DefendedAsset, ThreatScore))


def _rev(conn: sa.Connection, sid: int) -> int:
    return int(conn.execute(sa.select(SC.c.scores_rev).where(SC.c.id == sid)).scalar_one())


def _setup(conn: sa.Connection) -> dict[str, int]:
    ids = {}
    for name in ("A", "B"):
        ids[name] = conn.execute(sa.insert(SC).values(name=name).returning(SC.c.id)).scalar_one()
        ids["t" + name] = conn.execute(
            sa.insert(TR)
            .values(
                scenario_id=ids[name],
                track_id="T",
                lat=0,
                lon=0,
                alt_m=0,
                speed_mps=1,
                heading_deg=0,
            )
            .returning(TR.c.id)
        ).scalar_one()
    ids["da"] = conn.execute(
        sa.insert(DA).values(name="DA", lat=0, lon=0, radius_km=1).returning(DA.c.id)
    ).scalar_one()
    return ids


def _scores(ids: dict[str, int], sc: str, n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "scenario_id": ids[sc],
            "track_id": ids["t" + sc],
            "da_id": ids["da"],
            "score": 0.5,
            "computed_at": T0 + dt.timedelta(seconds=start + k),
        }
        for k in range(n)
    ]


def test_new_scenarios_start_at_zero_and_each_write_moves_only_its_scenario(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        ids = _setup(conn)
        assert (_rev(conn, ids["A"]), _rev(conn, ids["B"])) == (0, 0)
    with engine.begin() as conn:
        conn.execute(sa.insert(TS), _scores(ids, "A", 50))
    with engine.connect() as conn:
        a1, b1 = _rev(conn, ids["A"]), _rev(conn, ids["B"])
    assert a1 > 0 and b1 == 0
    # A statement that writes nothing (all rows conflict) does not move it.
    with engine.begin() as conn:
        stmt = (
            sa.dialects.postgresql.insert(TS)
            if engine.dialect.name == "postgresql"
            else sa.dialects.sqlite.insert(TS)
        )
        conn.execute(stmt.on_conflict_do_nothing(), _scores(ids, "A", 50))
        assert _rev(conn, ids["A"]) == a1
    # Updating, then deleting scores moves it; so does a cascade from deleting the track.
    steps = [
        sa.update(TS).where(TS.c.scenario_id == ids["A"]).values(score=0.7),
        sa.delete(TS).where(TS.c.computed_at == T0),
        sa.delete(TR).where(TR.c.id == ids["tA"]),
    ]
    last = a1
    for step in steps:
        with engine.begin() as conn:
            conn.execute(step)
            now = _rev(conn, ids["A"])
        assert now > last, step
        last = now
    with engine.connect() as conn:
        assert _rev(conn, ids["B"]) == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(TS)).scalar_one() == 0


def test_renames_move_it_only_when_the_name_changes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _setup(conn)
        conn.execute(sa.insert(TS), _scores(ids, "A", 3))
    with engine.connect() as conn:
        a0, b0 = _rev(conn, ids["A"]), _rev(conn, ids["B"])
    with engine.begin() as conn:  # a track of A renamed
        conn.execute(sa.update(TR).where(TR.c.id == ids["tA"]).values(track_id="T-renamed"))
    with engine.connect() as conn:
        a1 = _rev(conn, ids["A"])
        assert a1 == a0 + 1 and _rev(conn, ids["B"]) == b0
    with engine.begin() as conn:  # the DA renamed: A has scores against it, B has none
        conn.execute(sa.update(DA).where(DA.c.id == ids["da"]).values(name="DA-renamed"))
    with engine.connect() as conn:
        a2 = _rev(conn, ids["A"])
        assert a2 == a1 + 1 and _rev(conn, ids["B"]) == b0
    with engine.begin() as conn:  # same name, other columns: no change to any ranking
        conn.execute(sa.update(DA).where(DA.c.id == ids["da"]).values(name="DA-renamed", lat=1))
        conn.execute(sa.update(TR).where(TR.c.id == ids["tA"]).values(lat=1.0))
    with engine.connect() as conn:
        assert _rev(conn, ids["A"]) == a2
