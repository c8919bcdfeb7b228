"""A network receiver over WebSocket: a small server that plays a recorded or simulated signal,
and the client the acquisition service uses to capture from it.

Built on the ``websockets`` package (its threaded ``sync`` API: one thread per connection on the
server, a blocking client called from the acquisition's worker threads).

Protocol (version 1), one capture per connection::

    client → server  text    {"type": "capture", "frequency_hz": F, "duration_s": D}
    server → client  text    {"type": "header", "version": 1, "datatype": "cf32_le",
                              "sample_rate_hz", "center_frequency_hz", "start" (ISO 8601 UTC),
                              "lat_deg", "lon_deg", "alt_m", "receiver", "n_samples"}
    server → client  binary  cf32_le samples (interleaved little-endian float32 I, Q), in
                             frames of at most ``CHUNK_SAMPLES`` samples
    server → client  text    {"type": "end", "n_samples": N, "sha512": hex of all the bytes}

or ``{"type": "error", "reason": …}`` instead of the header when the receiver cannot serve the
request (frequency outside its band, duration too long). The client checks the sample count
and the sha512 and refuses a stream longer than it asked for.

This module is an engine module: numpy, ``websockets`` and the RF engines only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

PROTOCOL_VERSION = 1
CHUNK_SAMPLES = 65_536
#: The longest capture a server serves and a client asks for (s).
MAX_DURATION_S = 10.0
#: Largest frame either side accepts (a data frame is 8 bytes per sample).
MAX_FRAME_BYTES = 8 * CHUNK_SAMPLES + 1024

Producer = Callable[[float, float], Any]  # (frequency_hz, duration_s) -> Recording


class ReceiverProtocolError(RuntimeError):
    """The server answered something the protocol does not allow (the message says what)."""


def _trim(rec: Any, duration_s: float) -> Any:
    n = max(1, round(duration_s * float(rec.sample_rate_hz)))
    return rec if len(rec.iq) <= n else dataclasses.replace(rec, iq=rec.iq[:n])


def recording_producer(recording: Any) -> Producer:
    """Serve one recording (e.g. read from SigMF): the first ``duration_s`` of it, when the
    asked frequency lies in its band."""

    def produce(frequency_hz: float, duration_s: float) -> Any:
        half = float(recording.sample_rate_hz) / 2
        if abs(frequency_hz - float(recording.center_frequency_hz)) > half:
            raise ValueError(
                f"frequency_hz: {frequency_hz:.0f} Hz is outside this receiver's band "
                f"{float(recording.center_frequency_hz):.0f} ± {half:.0f} Hz"
            )
        return _trim(recording, duration_s)

    return produce


def simulated_producer(
    emitter: Any, receiver: Any, *, sample_rate_hz: float, seed: int = 0
) -> Producer:
    """Serve a fresh simulation of ``emitter`` as seen by ``receiver`` (an
    ``argus.rf.simulate.ReceiverSpec``), starting now; a new seed per capture."""
    counter = [seed]
    lock = threading.Lock()

    def produce(frequency_hz: float, duration_s: float) -> Any:
        from argus.rf.simulate import simulate_acquisition  # type: ignore[import-not-found, unused-ignore]

        with lock:
            counter[0] += 1
            s = counter[0]
        recs, _ = simulate_acquisition(
            emitter,
            [receiver],
            sample_rate_hz=sample_rate_hz,
            center_frequency_hz=frequency_hz,
            duration_s=duration_s,
            start=dt.datetime.now(dt.UTC),
            seed=s,
        )
        return recs[0]

    return produce


def _request(message: Any) -> tuple[float, float]:
    if not isinstance(message, str):
        raise ValueError("request: a JSON text frame")
    try:
        req = json.loads(message)
    except json.JSONDecodeError:
        raise ValueError("request: not JSON") from None
    if not isinstance(req, dict) or req.get("type") != "capture":
        raise ValueError('type: "capture"')
    f, d = req.get("frequency_hz"), req.get("duration_s")
    if not isinstance(f, int | float) or not f > 0 or f != f:
        raise ValueError(f"frequency_hz: a positive number, got {f!r}")
    if not isinstance(d, int | float) or not 0 < d <= MAX_DURATION_S:
        raise ValueError(f"duration_s: in (0, {MAX_DURATION_S:g}] s, got {d!r}")
    return float(f), float(d)


class ReceiverServer:
    """A WebSocket receiver on ``host:port`` (port 0: a free one, see :attr:`port`)."""

    def __init__(
        self, producer: Producer, *, host: str = "127.0.0.1", port: int = 0, name: str = ""
    ) -> None:
        from websockets.sync.server import serve

        self.producer = producer
        self.name = name
        self.captures_served = 0
        self._server = serve(self._handle, host, port, max_size=4096, compression=None)
        self.host = host
        self.port = int(self._server.socket.getsockname()[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def _handle(self, ws: Any) -> None:
        try:
            frequency_hz, duration_s = _request(ws.recv(timeout=30))
            rec = self.producer(frequency_hz, duration_s)
        except (ValueError, TimeoutError) as exc:
            ws.send(json.dumps({"type": "error", "reason": str(exc)}))
            return
        iq = np.ascontiguousarray(np.asarray(rec.iq, dtype="<c8"))
        start = rec.start.astimezone(dt.UTC)
        ws.send(
            json.dumps(
                {
                    "type": "header",
                    "version": PROTOCOL_VERSION,
                    "datatype": "cf32_le",
                    "sample_rate_hz": float(rec.sample_rate_hz),
                    "center_frequency_hz": float(rec.center_frequency_hz),
                    "start": start.isoformat(),
                    "lat_deg": float(rec.lat_deg),
                    "lon_deg": float(rec.lon_deg),
                    "alt_m": float(rec.alt_m),
                    "receiver": self.name or str(getattr(rec, "receiver", "")),
                    "n_samples": int(iq.size),
                }
            )
        )
        digest = hashlib.sha512()
        for i in range(0, iq.size, CHUNK_SAMPLES):
            block = iq[i : i + CHUNK_SAMPLES].tobytes()
            digest.update(block)
            ws.send(block)
        ws.send(
            json.dumps({"type": "end", "n_samples": int(iq.size), "sha512": digest.hexdigest()})
        )
        self.captures_served += 1

    def start(self) -> ReceiverServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"rf-receiver-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)


class NetworkReceiverClient:
    """The acquisition source of network receivers: ``capture`` connects to ``receiver.url``.

    Connection failures raise ``OSError``/``TimeoutError`` (retried by the Celery task);
    an error frame or a broken stream raises :class:`ReceiverProtocolError`.
    """

    kind = "network"

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    def capture(self, receiver: Any, frequency_hz: float, duration_s: float) -> Any:
        from websockets.sync.client import connect

        from argus.rf.recording import Recording  # type: ignore[import-not-found, unused-ignore]

        name = str(getattr(receiver, "name", ""))
        url = getattr(receiver, "url", None)
        if not url:
            raise ReceiverProtocolError(f"receiver {name}: no url")
        if not 0 < duration_s <= MAX_DURATION_S:
            raise ValueError(f"duration_s: in (0, {MAX_DURATION_S:g}] s")
        with connect(
            url, open_timeout=self.timeout_s, max_size=MAX_FRAME_BYTES, compression=None
        ) as ws:
            ws.send(
                json.dumps(
                    {"type": "capture", "frequency_hz": frequency_hz, "duration_s": duration_s}
                )
            )
            header = self._json(ws.recv(timeout=self.timeout_s), name)
            if header.get("type") == "error":
                raise ReceiverProtocolError(f"receiver {name} refused: {header.get('reason')}")
            if header.get("type") != "header" or header.get("datatype") != "cf32_le":
                raise ReceiverProtocolError(f"receiver {name}: expected a cf32_le header")
            rate = float(header["sample_rate_hz"])
            n = int(header["n_samples"])
            limit = int(duration_s * rate * 1.01) + 16
            if not 0 < n <= limit:
                raise ReceiverProtocolError(
                    f"receiver {name}: announces {n} samples, at most {limit} were asked for"
                )
            buf = bytearray()
            digest = hashlib.sha512()
            while True:
                frame = ws.recv(timeout=self.timeout_s)
                if isinstance(frame, str):
                    end = self._json(frame, name)
                    break
                if len(buf) + len(frame) > 8 * n:
                    raise ReceiverProtocolError(f"receiver {name}: more samples than announced")
                digest.update(frame)
                buf.extend(frame)
            if end.get("type") != "end" or int(end.get("n_samples", -1)) != n or len(buf) != 8 * n:
                raise ReceiverProtocolError(
                    f"receiver {name}: stream ended after {len(buf) // 8} of {n} samples"
                )
            if end.get("sha512") != digest.hexdigest():
                raise ReceiverProtocolError(f"receiver {name}: sha512 of the stream does not match")
        iq = np.frombuffer(bytes(buf), dtype="<c8").astype(np.complex64)
        return Recording(
            iq=iq,
            sample_rate_hz=rate,
            center_frequency_hz=float(header["center_frequency_hz"]),
            start=dt.datetime.fromisoformat(header["start"]).astimezone(dt.UTC),
            lat_deg=float(header["lat_deg"]),
            lon_deg=float(header["lon_deg"]),
            alt_m=float(header["alt_m"]),
            receiver=name or str(header.get("receiver", "")),
        )

    @staticmethod
    def _json(frame: Any, name: str) -> dict[str, Any]:
        try:
            value = json.loads(frame)
        except (TypeError, json.JSONDecodeError):
            raise ReceiverProtocolError(f"receiver {name}: expected a JSON text frame") from None
        if not isinstance(value, dict):
            raise ReceiverProtocolError(f"receiver {name}: expected a JSON object")
        return value
