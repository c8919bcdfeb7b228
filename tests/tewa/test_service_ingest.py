"""Track import through the service, on SQLite and PostgreSQL: idempotent and all-or-nothing."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from pymap3d.vincenty import vdist
from sqlalchemy.orm import Session

from argus.db.models import DefendedAsset, ModelParams, Scenario, ScenarioAsset, Track, TrackSample
from argus.db.session import make_sessionmaker, session_scope
from argus.tewa import service
from argus.tewa.demo import DEMO_ASSETS, demo_samples
from argus.tewa.ingest import TrackFileError, write_csv
from argus.tewa.service import ingest as service_ingest

HEADER = "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp\n"


def _write(tmp_path: Path, body: str, name: str = "tracks.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + body)
    return p


def _count(engine: sa.Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


GOOD = (
    "T1,10.0,20.0,1000,100,90,2025-01-01T00:00:00Z\n"
    "T1,10.0,20.01,1000,110,91,2025-01-01T00:00:10Z\n"
    "T2,11.0,21.0,2000,200,180,2025-01-01T00:00:00Z\n"
)


def test_import_is_idempotent(engine: sa.Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        first = service.import_tracks(s, path, "S")
    assert (
        first.inserted,
        first.already_present,
        first.tracks_created,
        first.scenario_created,
    ) == (3, 0, 2, True)
    with session_scope(factory) as s:
        again = service.import_tracks(s, path, "S")
    assert (
        again.inserted,
        again.already_present,
        again.tracks_created,
        again.scenario_created,
    ) == (0, 3, 0, False)
    assert _count(engine, TrackSample) == 3
    assert _count(engine, Track) == 2
    assert _count(engine, ModelParams) == 1


def test_track_row_holds_the_latest_stored_state(engine: sa.Engine, tmp_path: Path) -> None:
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        service.import_tracks(s, _write(tmp_path, GOOD), "S")
    # An older sample arriving later must not overwrite the latest state.
    with session_scope(factory) as s:
        service.import_tracks(
            s, _write(tmp_path, "T1,9.0,19.0,500,50,45,2024-12-31T23:59:00Z\n", "old.csv"), "S"
        )
    with Session(engine) as s:
        t1 = s.scalar(sa.select(Track).where(Track.track_id == "T1"))
        assert t1 is not None
        assert (t1.lon, t1.speed_mps, t1.heading_deg) == (20.01, 110.0, 91.0)
    with session_scope(factory) as s:
        service.import_tracks(
            s, _write(tmp_path, "T1,12.0,22.0,700,70,7,2025-01-01T00:01:00Z\n", "new.csv"), "S"
        )
    with Session(engine) as s:
        t1 = s.scalar(sa.select(Track).where(Track.track_id == "T1"))
        assert t1 is not None
        assert (t1.lat, t1.lon, t1.alt_m, t1.speed_mps, t1.heading_deg) == (
            12.0,
            22.0,
            700.0,
            70.0,
            7.0,
        )
        samples = s.scalars(
            sa.select(TrackSample.t).where(TrackSample.track_id == t1.id).order_by(TrackSample.t)
        ).all()
        assert samples[0] == dt.datetime(2024, 12, 31, 23, 59, tzinfo=dt.UTC)
        assert len(samples) == 4


def test_bad_file_is_rejected_whole_and_writes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path, GOOD + "T3,100,0,0,0,0,2025-01-01T00:00:00Z\nT3,1,0,0,0,0,2025-01-01T00:00:00\n"
    )
    factory = make_sessionmaker(engine)
    with (
        pytest.raises(TrackFileError, match="2 of 5 rows rejected") as ei,
        session_scope(factory) as s,
    ):
        service.import_tracks(s, path, "S")
    assert [(e.line, e.column) for e in ei.value.errors] == [(5, "lat"), (6, "timestamp")]
    for model in (Scenario, Track, TrackSample):
        assert _count(engine, model) == 0, model


def test_failure_during_the_write_rolls_everything_back(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: object, **_k: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service_ingest, "_refresh_latest_state", boom)
    factory = make_sessionmaker(engine)
    with pytest.raises(RuntimeError, match="disk on fire"), session_scope(factory) as s:
        service.import_tracks(s, _write(tmp_path, GOOD), "S")
    for model in (Scenario, Track, TrackSample, ModelParams):
        assert _count(engine, model) == 0, model


def test_partial_import_keeps_the_good_rows(engine: sa.Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path, GOOD + "T3,100,0,0,0,0,2025-01-01T00:00:00Z\nT4,1,1,0,0,0,2025-01-01T00:00:00Z\n"
    )
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        rep = service.import_tracks(s, path, "S", partial=True)
    assert (rep.rows_read, rep.rows_valid, rep.inserted, rep.rows_rejected) == (5, 4, 4, 1)
    assert [(e.line, e.column) for e in rep.errors] == [(5, "lat")]
    with Session(engine) as s:
        assert s.scalars(sa.select(Track.track_id).order_by(Track.track_id)).all() == [
            "T1",
            "T2",
            "T4",
        ]


def test_unknown_scenario_without_create(engine: sa.Engine, tmp_path: Path) -> None:
    factory = make_sessionmaker(engine)
    with (
        pytest.raises(service.NotFoundError, match="no scenario named 'nope'"),
        session_scope(factory) as s,
    ):
        service.import_tracks(s, _write(tmp_path, GOOD), "nope", create_scenario=False)


def test_bulk_import_of_many_rows_matches_the_source(engine: sa.Engine, tmp_path: Path) -> None:
    """20k rows over 50 tracks: every value stored exactly, in microsecond time."""
    rng = np.random.default_rng(7)
    n = 20_000
    ids = np.array([f"K{k:02d}" for k in rng.integers(0, 50, n)], dtype=object)
    t = rng.choice(10**9, size=n, replace=False).astype(np.int64) + 1_700_000_000_000_000
    from argus.tewa.ingest import TrackSamples

    s = TrackSamples(
        ids,
        t,
        rng.uniform(-90, 90, n),
        rng.uniform(-180, 180, n),
        rng.uniform(0, 1e4, n),
        rng.uniform(0, 900, n),
        rng.uniform(0, 360, n) % 360,
        np.arange(2, n + 2),
    )
    buf = io.StringIO()
    write_csv(s, buf)
    path = tmp_path / "big.csv"
    path.write_text(buf.getvalue())
    factory = make_sessionmaker(engine)
    with session_scope(factory) as sess:
        rep = service.import_tracks(sess, path, "big")
    assert rep.inserted == n
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Track.track_id, TrackSample.t, TrackSample.lat, TrackSample.heading_deg).join(
                Track, Track.id == TrackSample.track_id
            )
        ).all()
    got = {
        (
            r[0],
            int((r[1] - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1)),
        ): (r[2], r[3])
        for r in rows
    }
    want = {(ids[k], int(t[k])): (s.lat[k], s.heading_deg[k]) for k in range(n)}
    assert got == want


def test_seed_demo_is_idempotent_and_closes_on_each_asset(engine: sa.Engine) -> None:
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        first = service.seed_demo(s)
    with session_scope(factory) as s:
        second = service.seed_demo(s)
    assert (first.scenario_created, first.assets_attached, first.samples_inserted) == (True, 2, 93)
    assert (second.scenario_created, second.assets_attached, second.samples_inserted) == (
        False,
        0,
        0,
    )
    assert _count(engine, ScenarioAsset) == 2
    with Session(engine) as s:
        das = {d.name: d for d in s.scalars(sa.select(DefendedAsset))}
        assert (das["DA-Alpha"].lat, das["DA-Alpha"].lon, das["DA-Alpha"].radius_km) == (
            26.8902,
            70.8651,
            25.0,
        )
        assert (das["DA-Bravo"].lat, das["DA-Bravo"].lon, das["DA-Bravo"].radius_km) == (
            26.2389,
            73.0243,
            30.0,
        )
        # Each asset has a track whose distance shrinks over the demo, and T3 recedes from both.
        for track_id, da_name, closing in (
            ("T1", "DA-Alpha", True),
            ("T2", "DA-Bravo", True),
            ("T3", "DA-Alpha", False),
            ("T3", "DA-Bravo", False),
        ):
            pts = s.execute(
                sa.select(TrackSample.lat, TrackSample.lon)
                .join(Track)
                .where(Track.track_id == track_id)
                .order_by(TrackSample.t)
            ).all()
            da = das[da_name]
            d0, _ = vdist(pts[0][0], pts[0][1], da.lat, da.lon)
            d1, _ = vdist(pts[-1][0], pts[-1][1], da.lat, da.lon)
            assert bool(d1 < d0) is closing, (track_id, da_name, d0, d1)
        t1_end = s.execute(
            sa.select(TrackSample.lat, TrackSample.lon)
            .join(Track)
            .where(Track.track_id == "T1")
            .order_by(TrackSample.t.desc())
            .limit(1)
        ).one()
        d_end, _ = vdist(t1_end[0], t1_end[1], DEMO_ASSETS[0].lat, DEMO_ASSETS[0].lon)
        assert float(d_end) < 25_000  # T1 ends inside DA-Alpha


def test_demo_fixture_file_is_the_generator_output() -> None:
    buf = io.StringIO()
    write_csv(demo_samples(), buf)
    assert service.demo_tracks_path().read_text() == buf.getvalue()


def test_overlapping_reimport_inserts_only_the_new_samples(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A second file sharing some (track, t) with the first takes the conflict-checking path."""
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        assert service.import_tracks(s, _write(tmp_path, GOOD), "S").inserted == 3
    more = (
        "T1,10.0,20.01,1000,110,91,2025-01-01T00:00:10Z\n"  # already stored
        "T1,10.0,20.02,1000,120,92,2025-01-01T00:00:05Z\n"  # new, inside the stored span
        "T3,12.0,22.0,500,50,10,2025-01-01T00:00:00Z\n"  # new track
    )
    with session_scope(factory) as s:
        rep = service.import_tracks(s, _write(tmp_path, more, "more.csv"), "S")
    assert (rep.inserted, rep.already_present, rep.tracks_created) == (2, 1, 1)
    assert _count(engine, TrackSample) == 5
