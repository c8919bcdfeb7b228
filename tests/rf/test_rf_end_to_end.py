"""The whole RF chain with the real engines, on SQLite and PostgreSQL: receivers in the table, a
simulated network acquisition (argus.rf.simulate) through the service, SigMF objects in the
store that read back into the same samples, measurements in the time series, and the stored
localization within a few of its own Cramér-Rao bounds of the simulated emitter."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.rf import service
from argus.rf.sigmf_io import read_sigmf
from argus.rf.simulate import Emitter, random_network

START = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
CENTER = (45.07, 7.68)


@pytest.fixture
def factory(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_simulated_network_acquisition_is_located_near_the_truth(factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    specs = random_network(5, center_lat_deg=CENTER[0], center_lon_deg=CENTER[1],
                           radius_m=20_000, seed=4)  # fmt: skip
    with session_scope(factory) as s:
        ids = [
            service.add_receiver(
                s, name=r.name, kind="simulated", url=None, lat_deg=r.lat_deg,
                lon_deg=r.lon_deg, alt_m=r.alt_m, sample_rate_hz=2e6,
            ).id
            for r in specs
        ]  # fmt: skip
    with session_scope(factory) as s:
        infos = [service.info(service.get_receiver(s, i)) for i in ids]
    emitter = Emitter(lat_deg=45.10, lon_deg=7.70, kind="wideband", bandwidth_hz=200e3)
    source = service.SimulatedNetworkSource(
        emitter, infos, sample_rate_hz=2e6, start=START, seed=9, snr_db=20.0
    )
    store = ObjectStore(str(tmp_path / "objects"))
    params = {"emitter": dataclasses.asdict(emitter), "seed": 9, "snr_db": 20.0,
              "start": START.isoformat(), "sample_rate_hz": 2e6}  # fmt: skip
    res = service.acquire_iq(factory, 145.5e6, 0.01, ids, source=source, store=store, params=params)
    assert res.status == "complete" and res.measurements == 5
    with session_scope(factory) as s:
        acq = service.get_acquisition(s, res.id)
        (loc,) = service.list_localizations(s, acquisition_id=res.id)
        assert loc.method in ("tdoa", "fused") and len(loc.receivers_used) >= 4
        # the stored error is the distance to the truth, and it is a few bounds at most
        dn = (loc.lat_deg - emitter.lat_deg) * 111_132.0
        de = (loc.lon_deg - emitter.lon_deg) * 111_320.0 * math.cos(math.radians(45.1))
        assert loc.error_m == pytest.approx(math.hypot(dn, de), rel=0.01, abs=0.5)
        assert loc.crlb_m is not None and 0 < loc.crlb_m < 100
        assert loc.error_m < 5 * loc.crlb_m + 5
        # each capture reads back from the store as SigMF: the simulated samples, bit for bit
        first = acq.captures[str(ids[0])]
        (tmp_path / "rx.sigmf-meta").write_bytes(store.get_bytes(first["meta_key"]))
        (tmp_path / "rx.sigmf-data").write_bytes(store.get_bytes(first["data_key"]))
        rec = read_sigmf(tmp_path / "rx.sigmf-meta")
        sim = source.capture(infos[0], 145.5e6, 0.01)
        assert np.array_equal(rec.iq, sim.iq) and rec.sample_rate_hz == 2e6
        rows = service.list_measurements(
            s, start=START - dt.timedelta(minutes=1), end=START + dt.timedelta(minutes=1)
        )
        assert len(rows) == 5
        # the simulation scaled the EIRP so the strongest receiver sees 20 dB (measure_iq's
        # definition: signal over the noise of the sampled band)
        assert max(r.snr_db for r in rows) == pytest.approx(20.0, abs=0.5)
