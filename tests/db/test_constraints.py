"""Every constraint of the TEWA schema is enforced by the database itself.

Each case first inserts a valid baseline, then one row that breaks exactly one rule through
SQLAlchemy Core (no ORM validation in the way), and expects the database to refuse it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from argus.db.models import (
    Assignment,
    DefendedAsset,
    KillProbability,
    ModelParams,
    Scenario,
    ThreatScore,
    Track,
    TrackSample,
    Weapon,
)
from argus.db.session import make_engine
from argus.defaults import DEFAULT_MODEL_PARAMS

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)

DA = DefendedAsset.__table__
SC = Scenario.__table__
TR = Track.__table__
TS = TrackSample.__table__
MP = ModelParams.__table__
SCORE = ThreatScore.__table__
WP = Weapon.__table__
KP = KillProbability.__table__
ASG = Assignment.__table__


def _baseline(conn: sa.Connection) -> dict[str, int]:
    sc = conn.execute(sa.insert(SC).values(name="base").returning(SC.c.id)).scalar_one()
    da = conn.execute(
        sa.insert(DA).values(name="da", lat=10.0, lon=20.0, radius_km=5.0).returning(DA.c.id)
    ).scalar_one()
    tr = conn.execute(
        sa.insert(TR)
        .values(
            scenario_id=sc, track_id="T1", lat=1.0, lon=2.0, alt_m=0, speed_mps=100, heading_deg=90
        )
        .returning(TR.c.id)
    ).scalar_one()
    conn.execute(
        sa.insert(TS).values(track_id=tr, t=T0, lat=1, lon=2, alt_m=0, speed_mps=1, heading_deg=0)
    )
    conn.execute(
        sa.insert(SCORE).values(
            scenario_id=sc,
            track_id=tr,
            da_id=da,
            cpa_km=1,
            tcpa_s=1,
            tdb_km=1,
            twrp_s=None,
            score=0.5,
            computed_at=T0,
        )
    )
    wp = conn.execute(
        sa.insert(WP)
        .values(
            scenario_id=sc,
            call_sign="B1",
            weapon_type="SAM-M",
            lat=1,
            lon=2,
            rounds=4,
            min_range_km=3,
            max_range_km=40,
            max_target_speed_mps=1500,
            fire_channels=2,
        )
        .returning(WP.c.id)
    ).scalar_one()
    return {"sc": sc, "da": da, "tr": tr, "wp": wp}


def _weapon(**kw: Any) -> Callable[[sa.Connection, dict[str, int]], Any]:
    def f(c: sa.Connection, ids: dict[str, int]) -> Any:
        row = {
            "scenario_id": ids["sc"],
            "call_sign": "B2",
            "weapon_type": "SAM-M",
            "lat": 0.0,
            "lon": 0.0,
            "rounds": 2,
            "min_range_km": 1.0,
            "max_range_km": 20.0,
            "max_target_speed_mps": 900.0,
            "fire_channels": 1,
            **kw,
        }
        return c.execute(sa.insert(WP).values(**row))

    return f


def _assignment(**kw: Any) -> Callable[[sa.Connection, dict[str, int]], Any]:
    def f(c: sa.Connection, ids: dict[str, int]) -> Any:
        row = {
            "scenario_id": ids["sc"],
            "weapon_id": ids["wp"],
            "track_id": ids["tr"],
            "rounds": 1,
            "kill_probability": 0.7,
            "expected_value": 1.0,
            "computed_at": T0,
            **kw,
        }
        return c.execute(sa.insert(ASG).values(**row))

    return f


def _da(**kw: Any) -> Callable[[sa.Connection, dict[str, int]], Any]:
    row = {"name": "other", "lat": 0.0, "lon": 0.0, "radius_km": 1.0, **kw}
    return lambda c, ids: c.execute(sa.insert(DA).values(**row))


def _track(**kw: Any) -> Callable[[sa.Connection, dict[str, int]], Any]:
    def f(c: sa.Connection, ids: dict[str, int]) -> Any:
        row = {
            "scenario_id": ids["sc"],
            "track_id": "T2",
            "lat": 0.0,
            "lon": 0.0,
            "alt_m": 0.0,
            "speed_mps": 10.0,
            "heading_deg": 10.0,
            **kw,
        }
        return c.execute(sa.insert(TR).values(**row))

    return f


def _sample(**kw: Any) -> Callable[[sa.Connection, dict[str, int]], Any]:
    def f(c: sa.Connection, ids: dict[str, int]) -> Any:
        row = {
            "track_id": ids["tr"],
            "t": T0 + dt.timedelta(seconds=1),
            "lat": 0.0,
            "lon": 0.0,
            "alt_m": 0.0,
            "speed_mps": 10.0,
            "heading_deg": 10.0,
            **kw,
        }
        return c.execute(sa.insert(TS).values(**row))

    return f


def _params(**kw: Any) -> Callable[[sa.Connection, dict[str, int]], Any]:
    # Update the scenario's own (trigger-made) row: the CHECKs apply to updates too.
    return lambda c, ids: c.execute(sa.update(MP).where(MP.c.scenario_id == ids["sc"]).values(**kw))


def _score(**kw: Any) -> Callable[[sa.Connection, dict[str, int]], Any]:
    def f(c: sa.Connection, ids: dict[str, int]) -> Any:
        row = {
            "scenario_id": ids["sc"],
            "track_id": ids["tr"],
            "da_id": ids["da"],
            "score": 0.1,
            "computed_at": T0 + dt.timedelta(seconds=5),
            **kw,
        }
        return c.execute(sa.insert(SCORE).values(**row))

    return f


VIOLATIONS: dict[str, Callable[[sa.Connection, dict[str, int]], Any]] = {
    "da unique name": _da(name="da"),
    "da radius < 0": _da(radius_km=-0.001),
    "da lat > 90": _da(lat=90.0001),
    "da lat < -90": _da(lat=-90.5),
    "da lon > 180": _da(lon=180.01),
    "da lon < -180": _da(lon=-181.0),
    "scenario unique name": lambda c, ids: c.execute(sa.insert(SC).values(name="base")),
    "scenario end before start": lambda c, ids: c.execute(
        sa.insert(SC).values(name="s2", start_time=T0, end_time=T0 - dt.timedelta(seconds=1))
    ),
    "track unique (scenario, track_id)": _track(track_id="T1"),
    "track speed < 0": _track(speed_mps=-1.0),
    "track heading = 360": _track(heading_deg=360.0),
    "track heading < 0": _track(heading_deg=-0.5),
    "track lat > 90": _track(lat=91.0),
    "track unknown scenario": _track(scenario_id=999_999),
    "sample unique (track, t)": _sample(t=T0),
    "sample unknown track": _sample(track_id=999_999),
    "sample heading = 360": _sample(heading_deg=360.0),
    "sample speed < 0": _sample(speed_mps=-3.0),
    "params second row for a scenario": lambda c, ids: c.execute(
        sa.insert(MP).values(scenario_id=ids["sc"])
    ),
    "params w_cpa > 1": _params(w_cpa=1.01),
    "params w_tcpa < 0": _params(w_tcpa=-0.1),
    "params w_tdb > 1": _params(w_tdb=2.0),
    "params w_twrp < 0": _params(w_twrp=-1.0),
    "params cpa_scale_km = 0": _params(cpa_scale_km=0.0),
    "params tcpa_scale_s < 0": _params(tcpa_scale_s=-5.0),
    "params tdb_scale_km = 0": _params(tdb_scale_km=0.0),
    "params twrp_scale_s = 0": _params(twrp_scale_s=0.0),
    "params weapon_range_km = 0": _params(weapon_range_km=0.0),
    "score unique (scenario, track, da, computed_at)": _score(computed_at=T0),
    "score unknown da": _score(da_id=999_999),
    "da value < 0": _da(value=-1.0),
    "da weapon range = 0": _da(weapon_range_km=0.0),
    "track iff not a known value": _track(iff="enemy"),
    "track quality > 1": _track(quality=1.5),
    "weapon unique call sign per scenario": _weapon(call_sign="B1"),
    "weapon rounds < 0": _weapon(rounds=-1),
    "weapon min range < 0": _weapon(min_range_km=-1.0),
    "weapon max range <= min range": _weapon(min_range_km=20.0, max_range_km=20.0),
    "weapon max target speed = 0": _weapon(max_target_speed_mps=0.0),
    "weapon no fire channel": _weapon(fire_channels=0),
    "kill probability > 1": lambda c, ids: c.execute(
        sa.insert(KP).values(weapon_type="X", threat_class="Y", pk=1.2)
    ),
    "kill probability unique (type, class)": lambda c, ids: c.execute(
        sa.insert(KP).values(weapon_type="*", threat_class="*", pk=0.5)
    ),
    "assignment zero rounds": _assignment(rounds=0),
    "assignment unknown weapon": _assignment(weapon_id=999_999),
}


@pytest.mark.parametrize("case", list(VIOLATIONS), ids=list(VIOLATIONS))
def test_database_refuses(engine: sa.Engine, case: str) -> None:
    with engine.begin() as conn:
        ids = _baseline(conn)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        VIOLATIONS[case](conn, ids)


def test_valid_rows_are_accepted(engine: sa.Engine) -> None:
    """The baseline passes, and boundary values that are allowed are accepted (so the checks are not too strict)."""
    with engine.begin() as conn:
        ids = _baseline(conn)
        _da(name="edge", lat=90.0, lon=-180.0, radius_km=0.0)(conn, ids)
        _track(track_id="edge", heading_deg=359.999, speed_mps=0.0, lat=-90.0, lon=180.0)(conn, ids)
        _params(w_cpa=1.0, w_tcpa=0.0, cpa_scale_km=1e-9)(conn, ids)
        conn.execute(sa.insert(SC).values(name="same-time", start_time=T0, end_time=T0))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(DA)).scalar_one() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(TR)).scalar_one() == 2


def test_new_scenario_gets_default_params_from_the_database(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        sc = conn.execute(sa.insert(SC).values(name="fresh").returning(SC.c.id)).scalar_one()
    with engine.connect() as conn:
        row = conn.execute(sa.select(MP).where(MP.c.scenario_id == sc)).mappings().one()
    for key, value in DEFAULT_MODEL_PARAMS.items():
        assert row[key] == value, key
    assert sum(row[w] for w in ("w_cpa", "w_tcpa", "w_tdb", "w_twrp")) > 0  # never the all-zero bug


def test_deleting_a_scenario_cascades(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _baseline(conn)
    with engine.begin() as conn:
        conn.execute(sa.delete(SC).where(SC.c.id == ids["sc"]))
    with engine.connect() as conn:
        for table in (TR, TS, MP, SCORE):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0, (
                table.name
            )
        assert conn.execute(sa.select(sa.func.count()).select_from(DA)).scalar_one() == 1


def test_timestamps_are_set_by_the_database_and_utc(engine: sa.Engine) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
    with engine.begin() as conn:
        _baseline(conn)
    with engine.connect() as conn:
        created, updated = conn.execute(sa.select(SC.c.created_at, SC.c.updated_at)).one()
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    for value in (created, updated):
        assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)
        assert before <= value <= after


def test_naive_datetimes_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(sa.insert(SC).values(name="naive", start_time=dt.datetime(2025, 1, 1)))


def test_timezone_offsets_are_stored_as_utc(engine: sa.Engine) -> None:
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    with engine.begin() as conn:
        conn.execute(
            sa.insert(SC).values(name="ist", start_time=dt.datetime(2025, 1, 1, 17, 30, tzinfo=ist))
        )
    with engine.connect() as conn:
        value = conn.execute(sa.select(SC.c.start_time).where(SC.c.name == "ist")).scalar_one()
    assert value == dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert value.utcoffset() == dt.timedelta(0)


def test_wildcard_kill_probability_is_seeded(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(KP.c.weapon_type, KP.c.threat_class, KP.c.pk)).all()
    assert [tuple(r) for r in rows] == [("*", "*", 0.7)]


# --- track_sample -> track: a foreign key on SQLite, statement-level triggers on PostgreSQL ---


def _sample_rows(track: int, n: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "track_id": track,
            "t": T0 + dt.timedelta(seconds=start + i),
            "lat": 1.0,
            "lon": 2.0,
            "alt_m": 0.0,
            "speed_mps": 1.0,
            "heading_deg": 0.0,
        }
        for i in range(n)
    ]


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_batch_with_one_orphan_sample_is_refused_whole(engine: sa.Engine) -> None:
    """1,000 good samples and one of an unknown track in one statement: none is stored."""
    with engine.begin() as conn:
        ids = _baseline(conn)
    rows = _sample_rows(ids["tr"], 1000) + _sample_rows(987_654, 1)
    with pytest.raises(IntegrityError) as err, engine.begin() as conn:
        conn.execute(sa.insert(TS), rows)
    if engine.dialect.name == "postgresql":  # the trigger names the missing key like a foreign key
        assert "fk_track_sample_track_id_track" in str(err.value)
        assert "(track_id)=(987654)" in str(err.value)
    with engine.connect() as conn:
        assert _count(conn, TS) == 1  # the baseline's sample only


def test_moving_a_sample_to_an_unknown_track_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _baseline(conn)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(sa.update(TS).values(track_id=555_555))
    with engine.connect() as conn:
        assert conn.execute(sa.select(TS.c.track_id)).scalar_one() == ids["tr"]


def test_deleting_tracks_deletes_their_samples_only(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _baseline(conn)
        other = conn.execute(
            sa.insert(TR)
            .values(
                scenario_id=ids["sc"],
                track_id="T2",
                lat=1,
                lon=2,
                alt_m=0,
                speed_mps=1,
                heading_deg=0,
            )
            .returning(TR.c.id)
        ).scalar_one()
        conn.execute(sa.insert(TS), _sample_rows(other, 7))
        conn.execute(sa.insert(TS), _sample_rows(ids["tr"], 3))
    with engine.begin() as conn:
        conn.execute(sa.delete(TR).where(TR.c.id == ids["tr"]))
    with engine.connect() as conn:
        left = conn.execute(sa.select(TS.c.track_id)).scalars().all()
    assert left == [other] * 7


@pytest.mark.pg
def test_pg_track_id_cannot_change(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            ids = _baseline(conn)
        with (
            pytest.raises(IntegrityError, match=r"track\.id cannot change"),
            engine.begin() as conn,
        ):
            conn.execute(sa.update(TR).where(TR.c.id == ids["tr"]).values(id=ids["tr"] + 1000))
    finally:
        engine.dispose()


@pytest.mark.pg
def test_pg_deleting_a_track_waits_for_an_open_sample_insert(pg_url: str) -> None:
    """Like a foreign key, the insert trigger key-share-locks the tracks it references.

    Without the lock a concurrent DELETE of the track would commit while the insert is open,
    its cascade would miss the uncommitted samples, and they would be left orphaned.
    """
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            ids = _baseline(conn)
        with engine.connect() as inserter, engine.connect() as deleter:
            tx = inserter.begin()
            inserter.execute(sa.insert(TS), _sample_rows(ids["tr"], 50))
            deleter.exec_driver_sql("SET lock_timeout = '300ms'")
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                deleter.execute(sa.delete(TR).where(TR.c.id == ids["tr"]))
            deleter.rollback()
            tx.commit()
        with engine.begin() as conn:  # now it goes through, and takes every sample with it
            conn.execute(sa.delete(TR).where(TR.c.id == ids["tr"]))
        with engine.connect() as conn:
            assert _count(conn, TS) == 0
    finally:
        engine.dispose()
