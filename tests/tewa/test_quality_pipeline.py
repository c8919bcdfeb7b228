"""The track-quality factor fed from the data: ``pos_sigma_m`` in track files, stored per sample
(NULL where not given), turned with the track's age into the factor at ``when``, and stored with
every score (``threat_score.quality``) so the score stays explainable."""

from __future__ import annotations

import datetime as dt

import pymap3d
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from argus.db.models import ThreatScore, TrackSample
from argus.tewa import service
from argus.tewa.ingest import parse_track_text

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
HEADER = "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp,pos_sigma_m"


def _iso(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


# ---- parsing ----


def test_pos_sigma_column_is_optional_and_validated() -> None:
    ok = parse_track_text(
        f"{HEADER}\nA,1,2,0,10,90,{_iso(0)},120.5\nA,1,2,0,10,90,{_iso(1)},\n", "csv"
    )
    assert ok.ok and ok.ignored_columns == []
    assert ok.samples.pos_sigma_m is not None
    assert (
        ok.samples.pos_sigma_m[0] == 120.5
        and ok.samples.pos_sigma_m[1] != ok.samples.pos_sigma_m[1]
    )
    without = parse_track_text(HEADER.rsplit(",", 1)[0] + f"\nA,1,2,0,10,90,{_iso(0)}\n", "csv")
    assert without.ok and without.samples.pos_sigma_m is None
    bad = parse_track_text(
        f"{HEADER}\nA,1,2,0,10,90,{_iso(0)},-1\nA,1,2,0,10,90,{_iso(1)},abc\n"
        f"A,1,2,0,10,90,{_iso(2)},inf\nA,1,2,0,10,90,{_iso(3)},7\n",
        "csv",
    )
    assert [(e.line, e.column, e.reason) for e in bad.errors] == [
        (2, "pos_sigma_m", "must be >= 0"),
        (3, "pos_sigma_m", "not a number"),
        (4, "pos_sigma_m", "not a finite number"),
    ]
    assert len(bad.samples) == 1 and bad.samples.pos_sigma_m is not None
    assert bad.samples.pos_sigma_m.tolist() == [7.0]
    # JSON lines: a row may leave it out; a row that gives it later does not shift the others
    jl = parse_track_text(
        "\n".join(
            [
                f'{{"track_id":"A","lat":1,"lon":2,"alt_m":0,"speed_mps":1,"heading_deg":0,"timestamp":"{_iso(0)}"}}',
                f'{{"track_id":"A","lat":1,"lon":2,"alt_m":0,"speed_mps":1,"heading_deg":0,"timestamp":"{_iso(1)}","pos_sigma_m":40}}',
                f'{{"track_id":"A","lat":1,"lon":2,"alt_m":0,"speed_mps":1,"heading_deg":0,"timestamp":"{_iso(2)}"}}',
            ]
        ),
        "jsonl",
    )
    assert jl.ok and jl.samples.pos_sigma_m is not None
    sig = jl.samples.pos_sigma_m.tolist()
    assert sig[1] == 40.0 and sig[0] != sig[0] and sig[2] != sig[2]


# ---- stored, then used ----


def _scenario(session: Session) -> service.Scenario:
    sc, _ = service.get_or_create_scenario(session, "Q")
    service.attach_asset(
        session, sc, service.upsert_defended_asset(session, "DA", lat=30.0, lon=70.0, radius_km=5.0)
    )
    return sc


def _csv_rows(track: str, sigmas: list[str]) -> list[str]:
    """One sample per second, 30 km south of the DA flying north at 200 m/s."""
    rows = []
    for k, sig in enumerate(sigmas):
        lat, lon, _ = pymap3d.enu2geodetic(0.0, -30_000.0 + 200.0 * k, 0.0, 30.0, 70.0, 0.0)
        rows.append(f"{track},{lat:.9f},{lon:.9f},0,200,0,{_iso(k)},{sig}")
    return rows


def test_quality_from_age_and_sigma_at_when_is_stored_with_the_score(session: Session) -> None:
    sc = _scenario(session)
    # "noisy": sigma 500 m at every sample; "bare": no sigma given (only its age counts);
    # both first seen at T0, 11 samples (t = 0 … 10 s).
    text = "\n".join([HEADER, *_csv_rows("noisy", ["500"] * 11), *_csv_rows("bare", [""] * 11)])
    report = service.import_tracks(session, parse_track_text(text, "csv"), "Q")
    assert report.inserted == 22
    stored = (
        session.execute(
            sa.select(TrackSample.pos_sigma_m).order_by(TrackSample.track_id, TrackSample.t)
        )
        .scalars()
        .all()
    )
    assert stored.count(500.0) == 11 and stored.count(None) == 11  # NaN is stored as NULL

    when = T0 + dt.timedelta(seconds=10)
    plain = {p.track_id: p for p in service.compute_at(session, sc, when).pairs}
    assert all(p.quality is None for p in plain.values())  # switched off
    service.set_params(session, sc, use_track_quality=True)
    on = {
        p.track_id: p for p in service.compute_at(session, sc, when, persist=True, live=True).pairs
    }
    # age 10 s: q_age = 10 / (10 + 10) = 1/2; sigma 500 m: q_pos = 1 / (1 + 500/500) = 1/2
    assert on["noisy"].quality == pytest.approx(0.25, abs=1e-12)
    assert on["bare"].quality == pytest.approx(0.5, abs=1e-12)
    for tid, q in (("noisy", 0.25), ("bare", 0.5)):
        assert on[tid].score == pytest.approx(q * plain[tid].score, abs=1e-12)
    # older tracks are trusted more: at t = 30 s (dead-reckoned 20 s past the last sample)
    later = T0 + dt.timedelta(seconds=30)
    q30 = {p.track_id: p.quality for p in service.compute_at(session, sc, later).pairs}
    assert q30["bare"] == pytest.approx(30 / 40) and q30["noisy"] == pytest.approx(30 / 40 / 2)
    # an operator's quality on the track row wins over the computed one
    service.set_track_identity(session, sc, "bare", quality=0.9)
    again = {p.track_id: p.quality for p in service.compute_at(session, sc, when).pairs}
    assert again["bare"] == 0.9 and again["noisy"] == pytest.approx(0.25)

    # the stored row explains the stored score: score = q · clip(Σ w·n)
    rows = session.scalars(sa.select(ThreatScore)).all()
    assert sorted(r.quality or -1.0 for r in rows) == pytest.approx([0.25, 0.5])
    for r in rows:
        assert r.w_cpa is not None and r.w_tcpa is not None
        assert r.w_tdb is not None and r.w_twrp is not None
        parts = (
            r.w_cpa * (r.n_cpa or 0)
            + r.w_tcpa * (r.n_tcpa or 0)
            + r.w_tdb * (r.n_tdb or 0)
            + r.w_twrp * (r.n_twrp or 0)
        )
        assert r.quality is not None
        assert r.score == pytest.approx(r.quality * min(max(parts, 0.0), 1.0), abs=1e-12)
    hist = service.score_history(session, sc, "noisy", rows[0].da_id)
    assert [h["quality"] for h in hist] == [pytest.approx(0.25)]
