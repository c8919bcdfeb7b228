"""The network receiver over a real socket: the server streams a numpy recording, the client
gets it bit for bit; errors, health checks, and an acquisition through the network source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.rf import service
from argus.rf.netreceiver import (
    NetworkReceiverClient,
    ReceiverProtocolError,
    ReceiverServer,
    recording_producer,
)
from tests.rf._engines import tone

START = dt.datetime(2026, 12, 7, 9, 0, 0, 123456, tzinfo=dt.UTC)


def _recording(n: int = 200_000, offset_hz: float = 12_500.0, seed: int = 0):  # type: ignore[no-untyped-def]
    from argus.rf.recording import Recording

    return Recording(
        iq=tone(n=n, sample_rate_hz=1e6, offset_hz=offset_hz, seed=seed), sample_rate_hz=1e6,
        center_frequency_hz=145.5e6, start=START, lat_deg=48.1, lon_deg=11.5, alt_m=520.0,
        receiver="munich",
    )  # fmt: skip


@pytest.fixture
def server() -> Iterator[ReceiverServer]:
    srv = ReceiverServer(recording_producer(_recording()), name="munich").start()
    yield srv
    srv.stop()


def _info(url: str, rid: int = 1, name: str = "munich") -> service.ReceiverInfo:
    return service.ReceiverInfo(rid, name, "network", url, 48.1, 11.5, 520.0, 1e6, 50e-9)


def test_capture_over_a_real_socket_is_bit_exact(server: ReceiverServer) -> None:
    rec = NetworkReceiverClient(timeout_s=5).capture(_info(server.url), 145.5e6, 0.15)
    expected = _recording().iq[:150_000]
    assert rec.iq.dtype == np.complex64 and rec.iq.tobytes() == expected.tobytes()
    # 150 000 samples travel in 3 frames of at most 65 536 samples
    assert (rec.sample_rate_hz, rec.center_frequency_hz, rec.start) == (1e6, 145.5e6, START)
    assert (rec.lat_deg, rec.lon_deg, rec.alt_m, rec.receiver) == (48.1, 11.5, 520.0, "munich")
    assert server.captures_served == 1


def test_the_server_refuses_a_frequency_outside_its_band(server: ReceiverServer) -> None:
    with pytest.raises(ReceiverProtocolError, match="outside this receiver's band"):
        NetworkReceiverClient(timeout_s=5).capture(_info(server.url), 100e6, 0.01)
    with pytest.raises(ValueError, match="duration_s"):
        NetworkReceiverClient(timeout_s=5).capture(_info(server.url), 145.5e6, 60.0)


def test_an_unreachable_receiver_raises_oserror() -> None:
    with pytest.raises(OSError):
        NetworkReceiverClient(timeout_s=2).capture(_info("ws://127.0.0.1:9"), 145.5e6, 0.01)


def test_health_check_pings_the_websocket(server: ReceiverServer) -> None:
    assert service.probe(server.url, timeout_s=3) == (True, None)
    up, why = service.probe("ws://127.0.0.1:9", timeout_s=1)
    assert not up and why


def test_acquisition_through_network_receivers(sqlite_url: str, tmp_path: Path) -> None:
    servers = [
        ReceiverServer(
            recording_producer(_recording(n=20_000, offset_hz=f, seed=i)), name=n
        ).start()
        for i, (n, f) in enumerate((("a", 1e4), ("b", 2e4), ("c", 3e4)))
    ]
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    store = ObjectStore(str(tmp_path / "objects"))
    try:
        with session_scope(factory) as s:
            ids = [
                service.add_receiver(
                    s, name=srv.name, kind="network", url=srv.url, lat_deg=48.0 + i / 10,
                    lon_deg=11.0, sample_rate_hz=1e6,
                ).id
                for i, srv in enumerate(servers)
            ]  # fmt: skip
            for rid in ids:
                assert service.check_receiver(s, rid).status == "up"
        res = service.acquire_iq(
            factory, 145.5e6, 0.01, ids, source=NetworkReceiverClient(), store=store,
            localize=False,
        )  # fmt: skip
        assert res.status == "complete" and res.measurements == 3
        with session_scope(factory) as s:
            rows = service.list_measurements(s, start=START, end=START + dt.timedelta(1))
            offsets = sorted(r.frequency_offset_hz for r in rows)
            assert offsets == pytest.approx([1e4, 2e4, 3e4], abs=1e6 / 10_000)
            acq = service.get_acquisition(s, res.id)
            cap = acq.captures[str(ids[1])]
            assert (
                store.get_bytes(cap["data_key"]) == _recording(20_000, 2e4, 1).iq[:10_000].tobytes()
            )
    finally:
        for srv in servers:
            srv.stop()
        engine.dispose()
