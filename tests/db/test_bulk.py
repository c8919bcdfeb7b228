"""argus.db.bulk.insert_track_samples: both paths of each dialect, the optional pos_sigma_m
column (NaN stored as NULL), idempotent re-imports, and refusal of unknown columns."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from argus.db import bulk
from argus.db.models import Track, TrackSample
from argus.tewa import service

T0_US = 1_735_732_800_000_000  # 2025-01-01T12:00:00Z


def _tracks(session: Session, n: int) -> np.ndarray:
    sc, _ = service.get_or_create_scenario(session, "B")
    rows = [
        Track(scenario_id=sc.id, track_id=f"T{k}", lat=0, lon=0, speed_mps=1, heading_deg=0)
        for k in range(n)
    ]
    session.add_all(rows)
    session.flush()
    return np.array([r.id for r in rows], dtype=np.int64)


def _columns(n: int, sigma: np.ndarray | None) -> dict[str, np.ndarray]:
    cols = {
        "lat": np.linspace(-10, 10, n),
        "lon": np.linspace(20, 30, n),
        "alt_m": np.full(n, 1000.0),
        "speed_mps": np.full(n, 250.0),
        "heading_deg": np.linspace(0, 359, n),
    }
    if sigma is not None:
        cols["pos_sigma_m"] = sigma
    return cols


def _stored(session: Session) -> list[tuple[int, float, float | None]]:
    return [
        (int(r[0]), float(r[1]), r[2])
        for r in session.execute(
            sa.select(TrackSample.track_id, TrackSample.lat, TrackSample.pos_sigma_m).order_by(
                TrackSample.track_id, TrackSample.t
            )
        )
    ]


def test_pos_sigma_with_and_without_nulls_and_reimport(session: Session) -> None:
    pks = _tracks(session, 3)
    n = 12
    pk = np.repeat(pks, 4)
    t = T0_US + np.tile(np.arange(4) * 1_000_000, 3)
    # all given (on PostgreSQL: the direct COPY path) for the first two tracks …
    sig = np.arange(n, dtype=np.float64) * 10.0
    conn = session.connection()
    assert (
        bulk.insert_track_samples(
            conn, pk[:8], t[:8], {k: v[:8] for k, v in _columns(n, sig).items()}
        )
        == 8
    )
    # … some missing (the temporary-table path, NaN → NULL) for the third
    sig2 = sig.copy()
    sig2[[9, 11]] = np.nan
    assert (
        bulk.insert_track_samples(
            conn, pk[8:], t[8:], {k: v[8:] for k, v in _columns(n, sig2).items()}
        )
        == 4
    )
    got = _stored(session)
    assert [g[2] for g in got] == [
        0.0,
        10.0,
        20.0,
        30.0,
        40.0,
        50.0,
        60.0,
        70.0,
        80.0,
        None,
        100.0,
        None,
    ]
    assert [g[1] for g in got] == pytest.approx(np.linspace(-10, 10, n).tolist())
    # a re-import of everything (conflicts) inserts nothing and changes nothing
    assert bulk.insert_track_samples(conn, pk, t, _columns(n, sig2)) == 0
    assert _stored(session) == got
    # without the column: NULL
    pks2 = _tracks_more(session)
    assert bulk.insert_track_samples(conn, pks2, np.array([T0_US]), _columns(1, None)) == 1
    assert _stored(session)[-1][2] is None
    with pytest.raises(ValueError, match="unknown sample column"):
        bulk.insert_track_samples(
            conn, pks2, np.array([T0_US + 1]), {**_columns(1, None), "snr_db": np.zeros(1)}
        )


def _tracks_more(session: Session) -> np.ndarray:
    sc = service.get_scenario(session, "B")
    tr = Track(scenario_id=sc.id, track_id="T9", lat=0, lon=0, speed_mps=1, heading_deg=0)
    session.add(tr)
    session.flush()
    return np.array([tr.id], dtype=np.int64)
