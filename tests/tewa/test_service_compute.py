"""compute_at, persistence, ranking and params through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
import random

import numpy as np
import pymap3d
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from argus.db.models import (
    DefendedAsset,
    ModelParams,
    Scenario,
    ThreatScore,
    ThreatScoreLatest,
    ThreatScoreWhatIf,
    Track,
)
from argus.db.session import make_sessionmaker, session_scope
from argus.tewa import service
from argus.tewa.ingest import TrackSamples, datetime_to_us

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
DA_LAT, DA_LON = 30.0, 70.0


def _straight_track(
    track_id: str,
    north0_m: float,
    east0_m: float,
    speed: float,
    heading: float,
    times_s: list[float],
) -> TrackSamples:
    h = math.radians(heading)
    t = np.asarray(times_s, dtype=float)
    e = east0_m + speed * math.sin(h) * t
    n = north0_m + speed * math.cos(h) * t
    lat, lon, _ = pymap3d.enu2geodetic(e, n, np.zeros_like(t), DA_LAT, DA_LON, 0.0)
    k = t.size
    return TrackSamples(
        np.full(k, track_id, dtype=object),
        datetime_to_us(T0) + (t * 1e6).astype(np.int64),
        np.asarray(lat),
        np.asarray(lon),
        np.full(k, 1000.0),
        np.full(k, speed),
        np.full(k, heading),
        np.arange(2, k + 2),
    )


def _setup(session: Session, *tracks: TrackSamples, radius_km: float = 5.0) -> Scenario:
    sc, _ = service.get_or_create_scenario(session, "S")
    da = service.upsert_defended_asset(session, "DA", lat=DA_LAT, lon=DA_LON, radius_km=radius_km)
    service.attach_asset(session, sc, da)
    for tr in tracks:
        service.import_samples(session, sc, tr)
    return sc


def test_head_on_track_at_interpolated_time(session: Session) -> None:
    # 50 km south, flying north at 250 m/s, samples every 20 s; query between samples.
    sc = _setup(session, _straight_track("H", -50_000, 0, 250, 0, [0, 20, 40, 60]))
    res = service.compute_at(session, sc, T0 + dt.timedelta(seconds=30))
    (p,) = res.pairs
    assert p.status == "ok"
    # Position after 30 s: 42.5 km south. Head-on: CPA 0, TCPA 170 s, TDB 37.5 km.
    assert p.cpa_km == pytest.approx(0.0, abs=1e-3)
    assert p.tcpa_s == pytest.approx(170.0, abs=0.05)
    assert p.tdb_km == pytest.approx(42.5 - 5.0, abs=5e-3)
    # Weapon range (default 20 km) reached after (42.5 - 20) km / 250 m/s = 90 s.
    assert p.twrp_s == pytest.approx(90.0, abs=0.05)
    params = service.engine_params(session, sc)
    expected = (
        params.w_cpa * 1
        + params.w_tcpa / (1 + 170 / params.tcpa_scale_s)
        + params.w_tdb / (1 + 37.5 / params.tdb_scale_km)
        + params.w_twrp / (1 + 90 / params.twrp_scale_s)
    )
    assert p.score == pytest.approx(min(expected, 1.0), abs=1e-3)


def test_latest_method_holds_the_previous_sample(session: Session) -> None:
    sc = _setup(session, _straight_track("H", -50_000, 0, 250, 0, [0, 20, 40]))
    p = service.compute_at(session, sc, T0 + dt.timedelta(seconds=30), method="latest").pairs[0]
    assert p.tdb_km == pytest.approx(50 - 5 - 5.0, abs=5e-3)  # the t=20 s sample: 45 km out


def test_stale_not_started_and_extrapolated(session: Session) -> None:
    sc = _setup(
        session,
        _straight_track("early", -50_000, 0, 100, 0, [0, 10]),
        _straight_track("late", -50_000, 0, 100, 0, [100, 110]),
    )
    r = service.compute_at(session, sc, T0 + dt.timedelta(seconds=35))  # 25 s after 'early' ended
    assert [p.track_id for p in r.pairs] == ["early"] and r.pairs[0].status == "extrapolated"
    assert r.not_started == ["late"]
    assert r.pairs[0].tdb_km == pytest.approx(
        50 - 3.5 - 5, abs=5e-3
    )  # dead-reckoned 35 s at 100 m/s
    r = service.compute_at(session, sc, T0 + dt.timedelta(seconds=45))  # 35 s after: stale
    assert r.pairs == [] and r.stale == ["early"] and r.not_started == ["late"]


def test_track_without_samples_uses_its_row(session: Session) -> None:
    sc = _setup(session)
    lat, lon, _ = pymap3d.enu2geodetic(0, -30_000, 0, DA_LAT, DA_LON, 0)
    session.add(
        Track(
            scenario_id=sc.id,
            track_id="row",
            lat=float(lat),
            lon=float(lon),
            speed_mps=0,
            heading_deg=0,
        )
    )
    session.flush()
    (p,) = service.compute_at(session, sc, T0).pairs
    assert p.status == "track_row"
    assert p.tdb_km == pytest.approx(25.0, abs=1e-3)
    assert math.isinf(p.tcpa_s) and math.isinf(p.twrp_s)  # stationary: never closes
    assert p.as_json()["tcpa_s"] is None and p.as_json()["twrp_s"] is None


def test_weapon_range_override_order(session: Session) -> None:
    sc = _setup(session, _straight_track("H", -50_000, 0, 250, 0, [0, 20]))
    base = service.compute_at(session, sc, T0).pairs[0].twrp_s
    assert base == pytest.approx((50 - 20) * 4, abs=0.05)  # params: 20 km
    da = session.scalar(sa.select(DefendedAsset))
    assert da is not None
    da.weapon_range_km = 30.0
    session.flush()
    assert service.compute_at(session, sc, T0).pairs[0].twrp_s == pytest.approx(
        80.0, abs=0.05
    )  # per DA
    assert service.compute_at(session, sc, T0, weapon_range_km=40).pairs[0].twrp_s == pytest.approx(
        40.0, abs=0.05
    )


def test_persist_is_one_batch_and_idempotent(engine: sa.Engine) -> None:
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        sc = _setup(
            s,
            _straight_track("A", -50_000, 0, 250, 0, [0, 60]),
            _straight_track("B", 0, 60_000, 100, 90, [0, 60]),
        )  # B recedes: TWRP never
        when, ev = T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(hours=1)
        r1 = service.compute_at(s, sc, when, persist=True, live=True, evaluated_at=ev)
        r2 = service.compute_at(s, sc, when, persist=True, live=True, evaluated_at=ev)
        # a what-if of the same time goes to its own table, never to the live board
        w = service.compute_at(s, sc, when, persist=True, evaluated_at=ev)
    assert (r1.persisted, r2.persisted, w.persisted) == (2, 0, 2)
    assert (r1.what_if, w.what_if) == (False, True)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ThreatScore.track_id, ThreatScore.twrp_s, ThreatScore.tcpa_s)
        ).all()
        n_what_if = conn.scalar(sa.select(sa.func.count()).select_from(ThreatScoreWhatIf))
    assert len(rows) == 2 and n_what_if == 2
    with Session(engine) as s:
        sc = service.get_scenario(s, "S")
        ranked = service.rank(s, sc)
    assert [r.track_id for r in ranked] == ["A", "B"]
    assert math.isinf(ranked[1].twrp_s) and ranked[1].tcpa_s < 0  # NULL restored as +inf


def test_bad_inputs_name_the_field(session: Session) -> None:
    sc = _setup(session)
    with pytest.raises(service.InvalidInput, match=r"^when"):
        service.compute_at(session, sc, dt.datetime(2025, 1, 1))
    with pytest.raises(service.InvalidInput, match=r"^method"):
        service.compute_at(session, sc, T0, method="cubic")
    with pytest.raises(service.InvalidInput, match=r"^da_ids"):
        service.compute_at(session, sc, T0, da_ids=[12345])
    with pytest.raises(service.InvalidInput, match=r"^weapon_range_km"):
        service.compute_at(session, sc, T0, weapon_range_km=-1)


def _brute_force_rank(
    rows: list[tuple], at: dt.datetime | None, da: int | None
) -> list[tuple[str, int]]:
    """The ranking by definition. ``at`` None is the live board: each pair's most recently
    *evaluated* row (then the later insert); with ``at``: the row describing the newest time
    <= ``at``, the most recently evaluated of equals."""
    latest: dict[tuple[str, int], tuple] = {}

    def newer(r: tuple) -> tuple:  # r = (track, da, t, score, tcpa, evaluated_at, insert no.)
        return (r[5], r[6]) if at is None else (r[2], r[5], r[6])

    for r in rows:
        if (at is None or r[2] <= at) and (da is None or r[1] == da):
            key = (r[0], r[1])
            if key not in latest or newer(r) > newer(latest[key]):
                latest[key] = r

    def key(r: tuple) -> tuple:
        tc = math.inf if r[4] is None or r[4] < 0 else r[4]
        return (-r[3], tc, r[0], r[1])

    best: dict[str, tuple] = {}
    for r in sorted(latest.values(), key=key):
        if da is not None or r[0] not in best:
            best.setdefault(r[0], r) if da is None else None
    chosen = sorted(latest.values(), key=key) if da is not None else sorted(best.values(), key=key)
    return [(r[0], r[1]) for r in chosen]


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_ranking_matches_brute_force_on_random_histories(session: Session, seed: int) -> None:
    rnd = random.Random(seed)
    sc, _ = service.get_or_create_scenario(session, "R")
    das = [
        service.upsert_defended_asset(session, f"D{k}", lat=10 + k, lon=20, radius_km=5)
        for k in range(3)
    ]
    tracks = []
    for k in range(6):
        t = Track(scenario_id=sc.id, track_id=f"T{k}", lat=0, lon=0, speed_mps=1, heading_deg=0)
        session.add(t)
        tracks.append(t)
    session.flush()
    rows = []
    for tr in tracks:
        for da in das:
            for _ in range(rnd.randint(0, 5)):
                t = T0 + dt.timedelta(seconds=rnd.randint(0, 100))
                score = rnd.choice([0.2, 0.5, 0.5, 0.9, rnd.random()])  # ties on purpose
                tcpa = rnd.choice([None, -10.0, 30.0, 60.0])
                if any(r[0] == tr.track_id and r[1] == da.id and r[2] == t for r in rows):
                    continue
                # evaluated in another order than the times they describe (a replay loops),
                # with ties on purpose (broken by the later insert)
                ev = T0 + dt.timedelta(hours=1, seconds=rnd.randint(0, 20))
                rows.append((tr.track_id, da.id, t, score, tcpa, ev, len(rows)))
                session.add(
                    ThreatScore(
                        scenario_id=sc.id,
                        track_id=tr.id,
                        da_id=da.id,
                        score=score,
                        tcpa_s=tcpa,
                        computed_at=t,
                        evaluated_at=ev,
                    )
                )
                session.flush()  # ids follow the insert order
    for at_s in (0, 25, 50, 75, 100):
        at = T0 + dt.timedelta(seconds=at_s)
        for da in [None, *[d.id for d in das]]:
            got = [(r.track_id, r.da_id) for r in service.rank(session, sc, at=at, da_id=da)]
            assert got == _brute_force_rank(rows, at, da), (at_s, da)
            if da is None:
                assert len({t for t, _ in got}) == len(got)  # never several rows for one track
    top = service.rank(session, sc, at=T0 + dt.timedelta(seconds=100), top_n=2)
    assert len(top) == 2 and [r.rank for r in top] == [1, 2]

    # The live board (no ``at``) reads threat_score_latest, kept by triggers: it must agree
    # with the brute force over the whole history, also after rows (latest ones included) are
    # pruned and after a track is deleted (its scores go by cascade).
    pk = {tr.track_id: tr.id for tr in tracks}

    def check_live() -> None:
        left_das = {r[1] for r in rows}
        for da in [None, *sorted(left_das)]:
            got = [(r.track_id, r.da_id) for r in service.rank(session, sc, da_id=da)]
            assert got == _brute_force_rank(rows, None, da), ("live", da)
        n_latest = session.scalar(sa.select(sa.func.count()).select_from(ThreatScoreLatest))
        assert n_latest == len({(r[0], r[1]) for r in rows})  # one entry per pair with scores

    check_live()
    pruned = rnd.sample(rows, len(rows) // 3)
    for r in pruned:
        session.execute(
            sa.delete(ThreatScore).where(
                ThreatScore.track_id == pk[r[0]],
                ThreatScore.da_id == r[1],
                ThreatScore.computed_at == r[2],
            )
        )
    rows = [r for r in rows if r not in pruned]
    check_live()
    session.execute(sa.delete(Track).where(Track.id == pk["T0"]))
    rows = [r for r in rows if r[0] != "T0"]
    check_live()


def test_score_history_window(session: Session) -> None:
    sc = _setup(session, _straight_track("H", -50_000, 0, 250, 0, [0, 100]))
    for k in range(0, 100, 10):
        service.compute_at(session, sc, T0 + dt.timedelta(seconds=k), persist=True, live=True)
    da = session.scalar(sa.select(DefendedAsset))
    assert da is not None
    hist = service.score_history(
        session,
        sc,
        "H",
        da.id,
        start=T0 + dt.timedelta(seconds=20),
        end=T0 + dt.timedelta(seconds=50),
    )
    assert [h["computed_at"] for h in hist] == [
        f"2025-01-01T12:00:{s:02d}Z" for s in (20, 30, 40, 50)
    ]
    scores = [h["score"] for h in hist]
    assert scores == sorted(scores)  # an inbound track's score only grows


def test_params_set_validate_and_presets(session: Session) -> None:
    sc = _setup(session)
    row = service.set_params(session, sc, w_cpa=0.9, cpa_logistic={"midpoint": 5, "width": 1})
    assert row.w_cpa == 0.9 and row.cpa_logistic == {"midpoint": 5.0, "width": 1.0}
    with pytest.raises(service.InvalidInput, match="w_tdb"):
        service.set_params(session, sc, w_tdb=1.5)
    with pytest.raises(service.InvalidInput, match="unknown parameter"):
        service.set_params(session, sc, w_speed=1)
    row = service.apply_preset(session, sc, "point-defense")
    assert (row.cpa_scale_km, row.weapon_range_km, sc.doctrine) == (2.0, 8.0, "point-defense")
    assert row.cpa_logistic is None
    with pytest.raises(service.InvalidInput, match="preset"):
        service.apply_preset(session, sc, "nuclear")
    assert session.scalar(sa.select(sa.func.count()).select_from(ModelParams)) == 1


@pytest.mark.pg
@pytest.mark.parametrize("seed", [21, 22])
def test_ranking_built_by_postgresql_equals_the_python_ranking(pg_url: str, seed: int) -> None:
    """ranking_json_postgres (the API's PostgreSQL path) gives rank()'s rows, order and values:
    ties on score and TCPA, unknown/negative TCPA, infinite CPA, microsecond and whole-second
    times, and track ids whose code-point order differs from a locale's ("b" < "Z"? no: "Z" <
    "b" < "é")."""
    import json

    from argus.db.session import make_engine

    engine = make_engine(pg_url)
    rnd = random.Random(seed)
    with make_sessionmaker(engine)() as session:
        sc, _ = service.get_or_create_scenario(session, "PGJ")
        das = [
            service.upsert_defended_asset(session, f"D{k}", lat=10 + k, lon=20, radius_km=5)
            for k in range(3)
        ]
        names = ["b", "Z", "é", "a-1", "a_1", "A1", "ß", "T10", "T9"]
        tracks = [
            Track(scenario_id=sc.id, track_id=n, lat=0, lon=0, speed_mps=1, heading_deg=0)
            for n in names
        ]
        session.add_all(tracks)
        session.flush()
        for tr in tracks:
            for da in das:
                for k in range(rnd.randint(0, 3)):
                    micro = rnd.choice([0, 0, 123456, 1])
                    session.add(
                        ThreatScore(
                            scenario_id=sc.id,
                            track_id=tr.id,
                            da_id=da.id,
                            score=rnd.choice([0.25, 0.5, 0.5, 0.9, rnd.random()]),
                            cpa_km=rnd.choice([None, math.inf, 1.5, rnd.random() * 100]),
                            tcpa_s=rnd.choice([None, -10.0, 30.0, 30.0, 1e-7, 2.0]),
                            tdb_km=rnd.random(),
                            twrp_s=rnd.choice([None, 12.0]),
                            n_cpa=rnd.choice([None, 0.1]),
                            computed_at=T0 + dt.timedelta(seconds=10 * k, microseconds=micro),
                            evaluated_at=T0 + dt.timedelta(hours=1, seconds=rnd.randint(0, 9)),
                        )
                    )
                    session.flush()
        for at in (None, T0 + dt.timedelta(seconds=10)):
            for da in [None, *[d.id for d in das]]:
                for top_n in (None, 3):
                    want = [
                        r.as_json() for r in service.rank(session, sc, at=at, da_id=da, top_n=top_n)
                    ]
                    got = json.loads(
                        service.ranking_json_postgres(session, sc, at=at, da_id=da, top_n=top_n)
                    )
                    assert got == want, (at, da, top_n)
                    assert want, "the history gives every query some rows"
        empty, _ = service.get_or_create_scenario(session, "EMPTY")
        assert service.ranking_json_postgres(session, empty) == b"[]"
        with pytest.raises(service.InvalidInput, match="top_n"):
            service.ranking_json_postgres(session, sc, top_n=0)
        session.rollback()
    engine.dispose()
