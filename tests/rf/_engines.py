"""Test doubles of the RF engine modules while they are not on this branch.

The storage, acquisition and API tests need ``argus.rf.recording.Recording``,
``argus.rf.sigmf_io`` and ``argus.rf.measure``, which the engine work delivers (issue 13, part 1).
When those modules exist they are used as they are and nothing here is installed; until then
:func:`install` puts minimal stand-ins with the same contract into ``sys.modules`` for the tests
only (a SigMF pair written with json + numpy, a periodogram measurement). They are not used by
any code outside the tests.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Recording:
    iq: np.ndarray
    sample_rate_hz: float
    center_frequency_hz: float
    start: dt.datetime
    lat_deg: float
    lon_deg: float
    alt_m: float
    receiver: str = ""
    annotations: tuple[Any, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Measurement:
    snr_db: float
    signal_power_dbfs: float
    noise_floor_dbfs: float
    frequency_offset_hz: float
    peak_offset_hz: float
    occupied_bandwidth_hz: float
    duty_cycle: float
    psd_summary: dict[str, Any]


def write_sigmf(
    base_path: Any, rec: Any, *, extra_global: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    base = Path(base_path)
    data_path, meta_path = base.with_suffix(".sigmf-data"), base.with_suffix(".sigmf-meta")
    np.asarray(rec.iq, dtype="<c8").tofile(data_path)
    meta = {
        "global": {
            "core:datatype": "cf32_le",
            "core:sample_rate": float(rec.sample_rate_hz),
            "core:version": "1.0.0",
            "core:geolocation": {
                "type": "Point",
                "coordinates": [rec.lon_deg, rec.lat_deg, rec.alt_m],
            },
            "core:recorder": rec.receiver,
            **(extra_global or {}),
        },
        "captures": [
            {
                "core:sample_start": 0,
                "core:frequency": float(rec.center_frequency_hz),
                "core:datetime": rec.start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            }
        ],
        "annotations": [],
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta_path, data_path


def read_sigmf(meta_path: Any) -> Recording:
    meta_path = Path(meta_path)
    meta = json.loads(meta_path.read_text())
    g, cap = meta["global"], meta["captures"][0]
    iq = np.fromfile(meta_path.with_suffix(".sigmf-data"), dtype="<c8")
    lon, lat, alt = g["core:geolocation"]["coordinates"]
    return Recording(
        iq=iq.astype(np.complex64),
        sample_rate_hz=g["core:sample_rate"],
        center_frequency_hz=cap["core:frequency"],
        start=dt.datetime.fromisoformat(cap["core:datetime"].replace("Z", "+00:00")),
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        receiver=g.get("core:recorder", ""),
    )


def measure_iq(iq: np.ndarray, sample_rate_hz: float) -> Measurement:
    x = np.asarray(iq, dtype=np.complex128)
    psd = np.fft.fftshift(np.abs(np.fft.fft(x)) ** 2) / max(x.size, 1) ** 2
    freqs = np.fft.fftshift(np.fft.fftfreq(x.size, 1 / sample_rate_hz))
    noise = float(np.median(psd)) * x.size
    total = float(psd.sum())
    peak = int(np.argmax(psd))
    signal = max(total - noise, 1e-30)
    return Measurement(
        snr_db=10 * np.log10(signal / max(noise, 1e-30)),
        signal_power_dbfs=10 * np.log10(signal),
        noise_floor_dbfs=10 * np.log10(max(noise, 1e-30)),
        frequency_offset_hz=float(freqs[peak]),
        peak_offset_hz=float(freqs[peak]),
        occupied_bandwidth_hz=float(sample_rate_hz / max(x.size, 1)),
        duty_cycle=1.0,
        psd_summary={"bins": 8, "peak_bin": peak},
    )


def tone(
    *,
    n: int = 4096,
    sample_rate_hz: float = 1e6,
    offset_hz: float = 10_000.0,
    snr_db: float = 20.0,
    seed: int = 0,
) -> np.ndarray:
    """A complex tone in white noise (unit noise power), complex64."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sample_rate_hz
    amp = np.sqrt(10 ** (snr_db / 10))
    noise = (rng.normal(size=n) + 1j * rng.normal(size=n)) / np.sqrt(2)
    return (0.01 * (amp * np.exp(2j * np.pi * offset_hz * t) + noise)).astype(np.complex64)


def install() -> bool:
    """Put the stand-ins in place of missing engine modules; True if any was installed."""
    installed = False
    for name, attrs in (
        ("argus.rf.recording", {"Recording": Recording}),
        ("argus.rf.sigmf_io", {"write_sigmf": write_sigmf, "read_sigmf": read_sigmf}),
        ("argus.rf.measure", {"Measurement": Measurement, "measure_iq": measure_iq}),
    ):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            mod = types.ModuleType(name)
            mod.__dict__.update(attrs)
            sys.modules[name] = mod
            installed = True
    return installed


install()
Recording = importlib.import_module("argus.rf.recording").Recording  # type: ignore[misc]  # noqa: F811
