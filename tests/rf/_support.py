"""Shared helpers of the RF service tests: receivers with SigMF folders of numpy tones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from argus.rf import service
from tests.rf._engines import tone

START = dt.datetime(2026, 12, 7, 10, 15, 0, tzinfo=dt.UTC)
SITES = [
    ("north", 48.90, 2.35),
    ("east", 48.85, 2.45),
    ("south", 48.80, 2.35),
    ("west", 48.85, 2.25),
]
FREQ = 145.5e6
RATE = 1e6


def write_folder(folder: Path, names: list[str], *, start: dt.datetime = START) -> dict[str, Any]:
    """One SigMF recording per receiver name (a tone at a known offset and SNR each)."""
    from argus.rf.recording import Recording
    from argus.rf.sigmf_io import write_sigmf

    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i, name in enumerate(names):
        lat, lon = next((la, lo) for n, la, lo in SITES if n == name)
        iq = tone(
            n=8192, sample_rate_hz=RATE, offset_hz=5_000.0 * (i + 1), snr_db=10 + 5 * i, seed=i
        )
        rec = Recording(
            iq=iq,
            sample_rate_hz=RATE,
            center_frequency_hz=FREQ,
            start=start + dt.timedelta(microseconds=37 * i),
            lat_deg=lat,
            lon_deg=lon,
            alt_m=35.0,
            receiver=name,
        )
        write_sigmf(folder / name, rec)
        truth[name] = rec
    return truth


def add_receivers(session: Session, folder: Path, names: list[str]) -> list[int]:
    ids = []
    for name in names:
        lat, lon = next((la, lo) for n, la, lo in SITES if n == name)
        r = service.add_receiver(
            session,
            name=name,
            kind="sigmf",
            url=str(folder),
            lat_deg=lat,
            lon_deg=lon,
            alt_m=35.0,
            sample_rate_hz=RATE,
            min_frequency_hz=100e6,
            max_frequency_hz=200e6,
            clock_source="gpsdo",
            clock_sigma_s=50e-9,
        )
        ids.append(r.id)
    return ids
