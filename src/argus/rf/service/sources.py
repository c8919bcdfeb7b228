"""Where captures come from: one interface (:class:`AcquisitionSource`), three sources.

- :class:`SimulatedNetworkSource`: the simulated receiver network of ``argus.rf.simulate``
  (one emitter seen by every receiver of the acquisition; the truth is kept for scoring);
- :class:`SigmfFolderSource`: recordings on disk, ``<folder>/<receiver name>.sigmf-meta``;
- ``argus.rf.netreceiver.NetworkReceiverClient``: a receiver streaming IQ over WebSocket.

A capture returns an ``argus.rf.recording.Recording`` (typed ``Any`` here: the engine modules are
imported where they are used).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from argus.rf.service.errors import CaptureError, InvalidInput
from argus.rf.service.receivers import ReceiverInfo


@runtime_checkable
class AcquisitionSource(Protocol):
    """Something that captures ``duration_s`` of IQ at ``frequency_hz`` on one receiver.

    Called from several threads at once (one per receiver); raises :class:`CaptureError` (or
    ``OSError``) when the receiver cannot deliver.
    """

    def capture(self, receiver: ReceiverInfo, frequency_hz: float, duration_s: float) -> Any: ...


def source_kind(source: object) -> str:
    """``simulated``, ``sigmf`` or ``network`` (the ``kind`` attribute, ``network`` if none)."""
    return str(getattr(source, "kind", "network"))


def trim(recording: Any, duration_s: float) -> Any:
    """The first ``duration_s`` of a recording (all of it when shorter)."""
    n = max(1, round(duration_s * float(recording.sample_rate_hz)))
    if len(recording.iq) <= n:
        return recording
    return dataclasses.replace(recording, iq=recording.iq[:n])


def check_tuned(recording: Any, frequency_hz: float, receiver: ReceiverInfo) -> None:
    """CaptureError unless ``frequency_hz`` lies in the recording's band."""
    half = float(recording.sample_rate_hz) / 2
    if abs(float(recording.center_frequency_hz) - frequency_hz) > half:
        raise CaptureError(
            f"receiver {receiver.name}: the recording is centred on "
            f"{float(recording.center_frequency_hz):.0f} Hz (±{half:.0f} Hz), "
            f"not covering {frequency_hz:.0f} Hz"
        )


class SigmfFolderSource:
    """Plays recordings: ``<folder>/<receiver name>.sigmf-meta`` (the folder given here, else the
    receiver's ``url``). The capture is the first ``duration_s`` of the file."""

    kind = "sigmf"

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None

    def capture(self, receiver: ReceiverInfo, frequency_hz: float, duration_s: float) -> Any:
        from argus.rf.sigmf_io import read_sigmf  # type: ignore[import-not-found, unused-ignore]

        folder = self.folder or (Path(receiver.url) if receiver.url else None)
        if folder is None:
            raise CaptureError(f"receiver {receiver.name}: no SigMF folder (set its url)")
        meta = folder / f"{receiver.name}.sigmf-meta"
        if not meta.is_file():
            raise CaptureError(f"receiver {receiver.name}: {meta} does not exist")
        rec = read_sigmf(meta)
        check_tuned(rec, frequency_hz, receiver)
        return trim(rec, duration_s)


class SimulatedNetworkSource:
    """The simulated receiver network: one ``simulate_acquisition`` run for all the receivers of
    the acquisition (made on the first capture, under a lock), each capture its receiver's share.

    ``emitter`` is an ``argus.rf.simulate.Emitter``; ``truth`` is the simulation's truth once run.
    """

    kind = "simulated"

    def __init__(
        self,
        emitter: Any,
        receivers: list[ReceiverInfo],
        *,
        sample_rate_hz: float,
        start: Any,
        seed: int = 0,
        snr_db: float | None = None,
    ) -> None:
        self.emitter = emitter
        self.receivers = receivers
        self.sample_rate_hz = sample_rate_hz
        self.start = start
        self.seed = seed
        self.snr_db = snr_db
        self.truth: Any = None
        self._by_name: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def _run(self, frequency_hz: float, duration_s: float) -> dict[str, Any]:
        from argus.rf.simulate import ReceiverSpec, simulate_acquisition  # type: ignore[import-not-found, unused-ignore]

        specs = [
            ReceiverSpec(
                name=r.name,
                lat_deg=r.lat_deg,
                lon_deg=r.lon_deg,
                alt_m=r.alt_m,
                clock_sigma_s=r.clock_sigma_s,
            )
            for r in self.receivers
        ]
        recordings, truth = simulate_acquisition(
            self.emitter,
            specs,
            sample_rate_hz=self.sample_rate_hz,
            center_frequency_hz=frequency_hz,
            duration_s=duration_s,
            start=self.start,
            seed=self.seed,
            snr_db=self.snr_db,
        )
        self.truth = truth
        return {spec.name: rec for spec, rec in zip(specs, recordings, strict=True)}

    def capture(self, receiver: ReceiverInfo, frequency_hz: float, duration_s: float) -> Any:
        with self._lock:
            if self._by_name is None:
                self._by_name = self._run(frequency_hz, duration_s)
        rec = self._by_name.get(receiver.name)
        if rec is None:
            raise CaptureError(f"receiver {receiver.name}: not part of the simulated network")
        return rec


def source_for(
    kind: str, receivers: list[ReceiverInfo], params: dict[str, Any] | None = None
) -> AcquisitionSource:
    """The source an acquisition row asks for (its ``source`` and ``params``)."""
    p = dict(params or {})
    if kind == "network":
        from argus.rf.netreceiver import NetworkReceiverClient

        return NetworkReceiverClient(timeout_s=float(p.get("timeout_s", 10.0)))
    if kind == "sigmf":
        return SigmfFolderSource(p.get("folder"))
    if kind == "simulated":
        import datetime as dt

        from argus.rf.simulate import Emitter  # type: ignore[import-not-found, unused-ignore]

        emitter = p.get("emitter")
        if not isinstance(emitter, dict):
            raise InvalidInput("params.emitter: the simulated emitter's fields (lat_deg, …)")
        start = p.get("start")
        return SimulatedNetworkSource(
            Emitter(**emitter),
            receivers,
            sample_rate_hz=float(p.get("sample_rate_hz") or receivers[0].sample_rate_hz),
            start=dt.datetime.fromisoformat(start) if start else dt.datetime.now(dt.UTC),
            seed=int(p.get("seed", 0)),
            snr_db=p.get("snr_db"),
        )
    raise InvalidInput(f"source: one of simulated, sigmf, network; got {kind!r}")
