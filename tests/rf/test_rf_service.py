"""The RF service on SQLite and PostgreSQL: receivers, an acquisition from SigMF recordings
into the object store and the time series, its progress, failures, measurement reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from argus.db.models import Receiver, RfAcquisition, RfMeasurement
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.rf import service
from tests.rf._support import FREQ, RATE, START, add_receivers, write_folder

NAMES = ["north", "east", "south"]


@pytest.fixture
def factory(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_receivers_crud_and_validation(factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        r = service.add_receiver(
            s, name="kiwi-1", kind="network", url="ws://127.0.0.1:9", lat_deg=45.0,
            lon_deg=7.0, sample_rate_hz=2e6,
        )  # fmt: skip
        rid = r.id
    with session_scope(factory) as s:
        with pytest.raises(service.InvalidInput) as err:
            service.add_receiver(
                s, name="kiwi-1", kind="network", url="http://x", lat_deg=95.0, lon_deg=7.0,
                sample_rate_hz=0,
            )  # fmt: skip
        msg = str(err.value)
        # every bad field is named (the taken name is checked after the fields)
        assert "lat_deg" in msg and "sample_rate_hz" in msg and "url" in msg
        with pytest.raises(service.InvalidInput, match="name: a receiver named 'kiwi-1'"):
            service.add_receiver(
                s, name="kiwi-1", kind="network", url="ws://h:1", lat_deg=1, lon_deg=1,
                sample_rate_hz=1e6,
            )  # fmt: skip
    with session_scope(factory) as s:
        service.update_receiver(s, rid, alt_m=120.0, clock_source="gpsdo")
    with session_scope(factory) as s:
        got = service.receiver_json(service.find_receiver(s, "kiwi-1"))
        assert (got["alt_m"], got["clock_source"], got["status"]) == (120.0, "gpsdo", "unknown")
        with pytest.raises(service.InvalidInput, match="min_frequency_hz"):
            service.update_receiver(s, rid, min_frequency_hz=2e6, max_frequency_hz=1e6)
    with session_scope(factory) as s:
        # nothing answers on port 9: the check marks it down and says why
        checked = service.check_receiver(s, rid, timeout_s=1.0)
        assert checked.status == "down" and checked.last_error and checked.last_seen_at is None
    with session_scope(factory) as s:
        service.remove_receiver(s, rid)
    with session_scope(factory) as s:
        assert service.list_receivers(s) == []
        with pytest.raises(service.NotFoundError, match="receiver_id: no receiver"):
            service.get_receiver(s, rid)


def test_acquire_from_sigmf_into_store_and_time_series(factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "recordings"
    truth = write_folder(folder, NAMES)
    store = ObjectStore(str(tmp_path / "objects"))
    with session_scope(factory) as s:
        ids = add_receivers(s, folder, NAMES)
    seen: list[tuple[float, str]] = []
    res = service.acquire_iq(
        factory, FREQ, 0.004, ids, source=service.SigmfFolderSource(), store=store,
        progress=lambda p, who: seen.append((p, who)), localize=False,
    )  # fmt: skip
    assert res.status == "complete" and res.measurements == 3
    # progress: one step per receiver up to 0.9, then 1.0
    assert sorted(p for p, _ in seen) == pytest.approx([0.3, 0.6, 0.9, 1.0])
    with session_scope(factory) as s:
        acq = service.get_acquisition(s, res.id)
        assert (acq.status, acq.progress, acq.attempts) == ("complete", 1.0, 1)
        n = round(0.004 * RATE)
        for rid, name in zip(ids, NAMES, strict=True):
            cap = acq.captures[str(rid)]
            data = store.get_bytes(cap["data_key"])
            # the stored data is the recording's first 4 ms, bit for bit, with its sha512
            expected = np.asarray(truth[name].iq[:n], dtype="<c8").tobytes()
            assert data == expected and cap["size_bytes"] == len(expected) == 8 * n
            assert cap["sha512"] == store.sha512(cap["data_key"])
            meta = json.loads(store.get_bytes(cap["meta_key"]))
            assert meta["global"]["core:sha512"] == cap["sha512"]
            assert cap["meta_sha512"] == store.sha512(cap["meta_key"])
        rows = service.list_measurements(
            s, start=START - dt.timedelta(hours=1), end=START + dt.timedelta(hours=1)
        )
        assert [r.receiver_id for r in rows] == ids  # by time: the recordings' own start times
        assert [r.time for r in rows] == [truth[n].start for n in NAMES]
        # the measured offsets are the tones' (5, 10, 15 kHz) within a bin (1 MHz / 4000)
        offsets = [r.frequency_offset_hz for r in rows]
        assert offsets == pytest.approx([5000.0, 10000.0, 15000.0], abs=RATE / n)
        assert all(r.frequency_hz == FREQ for r in rows)
        # paging: two rows, then the rest after the keyset of the second
        first = service.list_measurements(s, start=START, end=START + dt.timedelta(1), limit=2)
        last = first[-1]
        rest = service.list_measurements(
            s, start=START, end=START + dt.timedelta(1),
            after=(last.time, last.receiver_id, last.acquisition_id),
        )  # fmt: skip
        assert [r.receiver_id for r in first + rest] == ids


def test_acquisition_validation_lists_every_problem(factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        ids = add_receivers(s, tmp_path, ["north"])
        with pytest.raises(service.InvalidInput) as err:
            service.start_acquisition(s, 50e6, 20.0, [*ids, 999], source="sigmf")
        assert "duration_s" in str(err.value)
        with pytest.raises(service.InvalidInput, match="receiver_ids: no receiver 999"):
            service.start_acquisition(s, 150e6, 1.0, [*ids, 999], source="sigmf")
        with pytest.raises(service.InvalidInput, match=r"receiver 1 \(north\) tunes"):
            service.start_acquisition(s, 50e6, 1.0, ids, source="sigmf")
        with pytest.raises(service.InvalidInput, match="network receivers"):
            service.start_acquisition(s, 150e6, 1.0, ids, source="network")


def test_a_failed_capture_fails_the_row_and_leaves_no_object(factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "rec"
    write_folder(folder, ["north", "east"])  # no recording for "south"
    store = ObjectStore(str(tmp_path / "objects"))
    with session_scope(factory) as s:
        ids = add_receivers(s, folder, NAMES)
    with pytest.raises(service.CaptureError, match="south"):
        service.acquire_iq(
            factory, FREQ, 0.002, ids, source=service.SigmfFolderSource(), store=store,
            localize=False,
        )  # fmt: skip
    with session_scope(factory) as s:
        (acq,) = service.list_acquisitions(s)
        assert acq.status == "failed" and "south" in (acq.error or "")
        assert not any(c["stored"] for c in acq.captures.values())
        count = s.execute(sa.select(sa.func.count()).select_from(RfMeasurement)).scalar_one()
        assert count == 0
    assert store.list_objects("rf") == []  # the objects of the two good receivers are gone


def test_retry_of_a_failed_acquisition_completes_it(factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "rec"
    write_folder(folder, ["north"])
    store = ObjectStore(str(tmp_path / "objects"))
    with session_scope(factory) as s:
        ids = add_receivers(s, folder, ["north", "east"])
    with pytest.raises(service.CaptureError):
        service.acquire_iq(
            factory, FREQ, 0.002, ids, source=service.SigmfFolderSource(), store=store,
            localize=False,
        )  # fmt: skip
    with session_scope(factory) as s:
        acq_id = service.list_acquisitions(s)[0].id
    write_folder(folder, ["east"])  # the missing receiver comes back
    res = service.run_acquisition(
        factory, acq_id, source=service.SigmfFolderSource(), store=store, localize=False
    )
    assert res.status == "complete" and res.measurements == 2
    with session_scope(factory) as s:
        acq = service.get_acquisition(s, acq_id)
        assert (acq.status, acq.attempts, acq.error) == ("complete", 2, None)
    # running it again (a redelivered task) writes nothing twice
    again = service.run_acquisition(
        factory, acq_id, source=service.SigmfFolderSource(), store=store, localize=False
    )
    assert again.measurements == 0
    with session_scope(factory) as s:
        assert s.execute(sa.select(sa.func.count()).select_from(RfMeasurement)).scalar_one() == 2
        assert s.execute(sa.select(sa.func.count()).select_from(RfAcquisition)).scalar_one() == 1
        assert s.execute(sa.select(sa.func.count()).select_from(Receiver)).scalar_one() == 2


def test_insert_measurements_lists_every_bad_row(factory) -> None:  # type: ignore[no-untyped-def]
    good = {
        "time": START, "receiver_id": 1, "acquisition_id": "a", "frequency_hz": 1.0,
        "snr_db": 1.0, "signal_power_dbfs": -1.0, "noise_floor_dbfs": -2.0,
        "frequency_offset_hz": 0.0, "occupied_bandwidth_hz": 1.0,
    }  # fmt: skip
    with session_scope(factory) as s, pytest.raises(service.InvalidInput) as err:
        service.insert_measurements(
            s,
            [good, {**good, "snr_db": float("nan")}, {**good, "time": START.replace(tzinfo=None)}],
        )
    assert "rows[1].snr_db" in str(err.value) and "rows[2].time" in str(err.value)
    assert "rows[0]" not in str(err.value)


def test_the_maintenance_job_refreshes_and_sweeps(db_url: str, tmp_path: Path) -> None:
    from argus.config import Settings
    from argus.jobs import tasks

    settings = Settings(database_url=db_url, var_dir=tmp_path / "var")
    store = ObjectStore.from_settings(settings)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    folder = tmp_path / "rec"
    write_folder(folder, NAMES)
    with session_scope(factory) as s:
        ids = add_receivers(s, folder, NAMES)
    service.acquire_iq(
        factory, FREQ, 0.002, ids, source=service.SigmfFolderSource(), store=store, localize=False
    )
    out = tasks.rf_maintenance(settings)
    assert out["hours_refreshed"] == 3 and out["orphans_deleted"] == 0
    # today and the next 7 days, less the recordings' own day when it is one of them (the
    # insert made that partition already)
    today = dt.datetime.now(dt.UTC).date()
    ahead = {today + dt.timedelta(days=k) for k in range(8)}
    want = len(ahead - {START.date()}) if db_url.startswith("postgresql") else 0
    assert len(out["partitions_created"]) == want
    engine.dispose()
