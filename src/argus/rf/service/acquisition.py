"""Acquisitions: every receiver at once, SigMF into the object store, measurements into the
time series, a localization when enough receivers heard the emitter — and no orphans.

Write order (docs/rf-service.md, "No orphans"):

1. the ``rf_acquisition`` row is committed ``pending`` with the object keys it *will* use;
2. it turns ``running``; each receiver's capture is written to the store (data, then meta) and
   the row's ``progress`` advances, one small transaction per receiver;
3. one transaction stores the measurements, the sizes and sha512 of every object, the
   localization, and marks the row ``complete``.

A crash anywhere leaves either objects that a ``pending``/``running`` row names (the sweeper
fails the row once it is stale and removes its objects) or objects no row names (removed after
the grace period). An error that Python sees marks the row ``failed`` and removes its objects at
once; a retry (Celery) runs the same acquisition id again and overwrites the same keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from argus.db.models.rf import ACQUISITION_SOURCES, RfAcquisition, RfLocalization
from argus.db.objectstore import ObjectStore
from argus.db.session import session_scope
from argus.logs import get_logger
from argus.rf.service.errors import CaptureError, InvalidInput, NotFoundError
from argus.rf.service.receivers import ReceiverInfo, info, receivers_by_ids
from argus.rf.service.sources import AcquisitionSource, source_kind
from argus.rf.service.storage import capture_keys, insert_measurements

log = get_logger("argus.rf")

#: Longest capture an acquisition may ask for (s): 10 s at 2.4 MS/s is 192 MB of cf32 per receiver.
MAX_DURATION_S = 10.0
MAX_FREQUENCY_HZ = 300e9
MAX_RECEIVERS = 64
#: Share of the progress bar the captures fill; the last transaction fills the rest.
CAPTURE_SHARE = 0.9
#: Object key prefix of the RF captures (``rf/YYYY/MM/DD/<acquisition id>/r<receiver id>.…``).
KEY_PREFIX = "rf"

Progress = Callable[[float, str], None]


def object_keys(acquisition_id: str, created: dt.datetime, receiver_id: int) -> tuple[str, str]:
    """(meta key, data key) of one receiver's capture."""
    day = created.astimezone(dt.UTC)
    base = f"{KEY_PREFIX}/{day:%Y/%m/%d}/{acquisition_id}/r{int(receiver_id)}"
    return f"{base}.sigmf-meta", f"{base}.sigmf-data"


def _check_uuid(acquisition_id: str) -> str:
    try:
        return str(uuid.UUID(str(acquisition_id)))
    except ValueError:
        raise InvalidInput(f"acquisition_id: not a UUID: {acquisition_id!r}") from None


def start_acquisition(
    session: Session,
    frequency_hz: float,
    duration_s: float,
    receiver_ids: list[int],
    *,
    source: str,
    params: dict[str, Any] | None = None,
    created_by: str | None = None,
    acquisition_id: str | None = None,
    now: dt.datetime | None = None,
) -> RfAcquisition:
    """Record a ``pending`` acquisition with the object keys of each receiver's capture.

    Every problem is listed at once, each naming its field (and receiver).
    """
    errors: list[str] = []
    if not isinstance(frequency_hz, int | float) or not 0 < frequency_hz <= MAX_FREQUENCY_HZ:
        errors.append(f"frequency_hz: in (0, {MAX_FREQUENCY_HZ:g}], got {frequency_hz!r}")
    if not isinstance(duration_s, int | float) or not 0 < duration_s <= MAX_DURATION_S:
        errors.append(f"duration_s: in (0, {MAX_DURATION_S:g}] s, got {duration_s!r}")
    if source not in ACQUISITION_SOURCES:
        errors.append(f"source: one of {', '.join(ACQUISITION_SOURCES)}, got {source!r}")
    if len(receiver_ids) > MAX_RECEIVERS:
        errors.append(f"receiver_ids: at most {MAX_RECEIVERS} receivers")
    if errors:
        raise InvalidInput("; ".join(errors))
    receivers = receivers_by_ids(session, list(receiver_ids))
    for r in receivers:
        lo, hi = r.min_frequency_hz, r.max_frequency_hz
        if (lo is not None and frequency_hz < lo) or (hi is not None and frequency_hz > hi):
            errors.append(
                f"receiver_ids: receiver {r.id} ({r.name}) tunes {lo or 0:.0f}..{hi or math.inf:.0f}"
                f" Hz, not {frequency_hz:.0f} Hz"
            )
        if source == "network" and r.kind != "network":
            errors.append(
                f"receiver_ids: receiver {r.id} ({r.name}) is a {r.kind} receiver; the network "
                "source streams from network receivers (ws://) only"
            )
        if source == "sigmf" and r.kind != "sigmf" and not (params or {}).get("folder"):
            errors.append(f"receiver_ids: receiver {r.id} ({r.name}) has no SigMF folder")
    if source == "simulated" and not isinstance((params or {}).get("emitter"), dict):
        errors.append("params.emitter: a simulated acquisition needs its emitter")
    if errors:
        raise InvalidInput("; ".join(errors))
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    acq_id = _check_uuid(acquisition_id) if acquisition_id else str(uuid.uuid4())
    if session.get(RfAcquisition, acq_id) is not None:
        raise InvalidInput(f"acquisition_id: {acq_id} exists already")
    captures: dict[str, Any] = {}
    for r in receivers:
        meta_key, data_key = object_keys(acq_id, created, r.id)
        captures[str(r.id)] = {
            "receiver": r.name,
            "meta_key": meta_key,
            "data_key": data_key,
            "stored": False,
        }
    acq = RfAcquisition(
        id=acq_id,
        frequency_hz=float(frequency_hz),
        duration_s=float(duration_s),
        receiver_ids=[r.id for r in receivers],
        source=source,
        status="pending",
        progress=0.0,
        captures=captures,
        params=params,
        simulated=source == "simulated",
        created_by=created_by,
        created_at=created,
        updated_at=created,
    )
    session.add(acq)
    session.flush()
    return acq


def get_acquisition(session: Session, acquisition_id: str) -> RfAcquisition:
    acq = session.get(RfAcquisition, _check_uuid(acquisition_id))
    if acq is None:
        raise NotFoundError(f"acquisition_id: no acquisition {acquisition_id}")
    return acq


def list_acquisitions(
    session: Session, *, status: str | None = None, limit: int = 100
) -> list[RfAcquisition]:
    """The newest acquisitions first."""
    q = select(RfAcquisition).order_by(RfAcquisition.created_at.desc(), RfAcquisition.id)
    if status is not None:
        q = q.where(RfAcquisition.status == status)
    return list(session.scalars(q.limit(limit)))


def acquisition_json(a: RfAcquisition) -> dict[str, Any]:
    return {
        "id": a.id,
        "frequency_hz": a.frequency_hz,
        "duration_s": a.duration_s,
        "receiver_ids": list(a.receiver_ids),
        "source": a.source,
        "status": a.status,
        "progress": a.progress,
        "created_at": a.created_at,
        "started_at": a.started_at,
        "finished_at": a.finished_at,
        "error": a.error,
        "attempts": a.attempts,
        "simulated": a.simulated,
        "truth": a.truth,
        "captures": {
            rid: {k: c.get(k) for k in ("receiver", "stored", "size_bytes", "sha512", "meta_key",
                                         "data_key", "meta_size_bytes", "meta_sha512")}
            for rid, c in (a.captures or {}).items()
        },
    }  # fmt: skip


def capture_object(
    session: Session, acquisition_id: str, receiver_id: int
) -> tuple[RfAcquisition, dict[str, Any]]:
    """The acquisition and one receiver's stored capture (NotFoundError unless complete)."""
    acq = get_acquisition(session, acquisition_id)
    cap = (acq.captures or {}).get(str(receiver_id))
    if cap is None:
        raise NotFoundError(f"receiver_id: receiver {receiver_id} is not in {acq.id}")
    if acq.status != "complete" or not cap.get("stored"):
        raise NotFoundError(f"acquisition_id: {acq.id} is {acq.status}; no stored capture yet")
    return acq, cap


# ---- running ---------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Dataclasses, numpy arrays and scalars, datetimes, tuples: as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        if np.iscomplexobj(value):
            return None  # IQ belongs in the store, not in JSON
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@dataclass
class _Capture:
    receiver: ReceiverInfo
    recording: Any
    measurement: Any
    meta: Any  # StoredObject
    data: Any


@dataclass
class AcquisitionResult:
    id: str
    status: str
    receivers: list[str]
    measurements: int
    localization_id: int | None = None
    localization_error: str | None = None
    object_keys: list[str] = field(default_factory=list)


def _write_capture(
    store: ObjectStore, receiver: ReceiverInfo, rec: Any, meta_key: str, data_key: str
) -> tuple[Any, Any]:
    """The recording as SigMF in the store (data first, then meta with the data's sha512)."""
    from argus.rf.sigmf_io import write_sigmf  # type: ignore[import-not-found, unused-ignore]

    iq = np.ascontiguousarray(np.asarray(rec.iq, dtype="<c8"))
    digest = hashlib.sha512(iq.tobytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="argus-rf-") as tmp:
        meta_path, data_path = write_sigmf(
            Path(tmp) / f"r{receiver.id}",
            rec,
            extra_global={"argus:receiver_id": receiver.id},
        )
        data = store.put_file(data_key, data_path)
        if data.sha512 != digest:
            raise CaptureError(
                f"receiver {receiver.name}: the SigMF data written ({data.sha512[:16]}…) is not "
                f"the capture's cf32_le samples ({digest[:16]}…)"
            )
        meta = store.put_file(meta_key, meta_path)
    return meta, data


def _truth_position(truth: Any) -> tuple[float, float] | None:
    t = jsonable(truth)
    for candidate in (t, (t or {}).get("emitter") if isinstance(t, dict) else None):
        if isinstance(candidate, dict) and {"lat_deg", "lon_deg"} <= set(candidate):
            return float(candidate["lat_deg"]), float(candidate["lon_deg"])
    return None


def store_localization(
    session: Session,
    acquisition_id: str | None,
    loc: Any,
    *,
    time: dt.datetime,
    truth: Any = None,
) -> RfLocalization:
    """Store an ``argus.rf.locate.Localization`` (and its error against the truth, if any)."""
    a_m, b_m, orient = (float(v) for v in loc.ellipse95)
    error_m = None
    pos = _truth_position(truth)
    if pos is not None:
        from argus.geo.geodesics import geodesic_inverse

        dist, _ = geodesic_inverse(pos[0], pos[1], float(loc.lat_deg), float(loc.lon_deg))
        error_m = float(dist)
    row = RfLocalization(
        acquisition_id=acquisition_id,
        time=time,
        lat_deg=float(loc.lat_deg),
        lon_deg=float(loc.lon_deg),
        alt_m=float(loc.alt_m),
        method=str(loc.method),
        cov_enu_m2=jsonable(np.asarray(loc.cov_enu_m2, dtype=float)),
        ellipse_a_m=a_m,
        ellipse_b_m=b_m,
        ellipse_orient_deg=orient,
        gdop=None if loc.gdop is None else jsonable(float(loc.gdop)),
        crlb_m=None if loc.crlb_m is None else jsonable(float(loc.crlb_m)),
        residuals=jsonable(np.asarray(loc.residuals, dtype=float).ravel()),
        receivers_used=[str(r) for r in loc.receivers_used],
        per_receiver=jsonable(loc.per_receiver),
        truth=jsonable(truth),
        error_m=error_m,
    )
    session.add(row)
    session.flush()
    return row


def _set(factory: sessionmaker[Session], acquisition_id: str, **values: Any) -> None:
    with session_scope(factory) as s:
        acq = get_acquisition(s, acquisition_id)
        for k, v in values.items():
            setattr(acq, k, v)
        acq.updated_at = dt.datetime.now(dt.UTC)


def _fail(
    factory: sessionmaker[Session], store: ObjectStore, acquisition_id: str, error: str
) -> None:
    """Mark the row failed (it then names no live object), then remove its objects."""
    keys: list[str] = []
    try:
        with session_scope(factory) as s:
            acq = get_acquisition(s, acquisition_id)
            keys = capture_keys(acq.captures)
            acq.status = "failed"
            acq.error = error[:4000]
            acq.finished_at = dt.datetime.now(dt.UTC)
            acq.updated_at = acq.finished_at
            acq.captures = {rid: {**c, "stored": False} for rid, c in (acq.captures or {}).items()}
    except Exception as exc:  # the sweeper will see the row stuck and fail it
        log.error("rf_acquisition_fail_not_recorded", acquisition=acquisition_id, error=str(exc))
        return
    try:
        store.delete_many(keys)
    except Exception as exc:  # objects named by a failed row only: the sweeper removes them
        log.error("rf_acquisition_objects_not_removed", acquisition=acquisition_id, error=str(exc))


def run_acquisition(
    session_factory: sessionmaker[Session],
    acquisition_id: str,
    *,
    source: AcquisitionSource,
    store: ObjectStore,
    progress: Progress | None = None,
    localize: bool = True,
    max_workers: int = 8,
) -> AcquisitionResult:
    """Run a recorded (``pending``, or ``failed`` for a retry) acquisition to ``complete``.

    A ``complete`` one is returned as it is (a redelivered task writes nothing twice).
    """
    now = dt.datetime.now(dt.UTC)
    with session_scope(session_factory) as s:
        acq = get_acquisition(s, acquisition_id)
        if acq.status == "complete":
            return AcquisitionResult(
                acq.id, acq.status, [c["receiver"] for c in acq.captures.values()], 0
            )
        receivers = [info(r) for r in receivers_by_ids(s, list(acq.receiver_ids))]
        captures = {rid: dict(c) for rid, c in acq.captures.items()}
        frequency_hz, duration_s = acq.frequency_hz, acq.duration_s
        acq.status, acq.started_at, acq.updated_at = "running", now, now
        acq.progress, acq.error, acq.finished_at = 0.0, None, None
        acq.attempts = (acq.attempts or 0) + 1
    log.info("rf_acquisition_started", acquisition=acquisition_id, receivers=len(receivers))
    done = [0]
    lock = threading.Lock()

    def one(r: ReceiverInfo) -> _Capture:
        from argus.rf.measure import measure_iq  # type: ignore[import-not-found, unused-ignore]

        rec = source.capture(r, frequency_hz, duration_s)
        cap = captures[str(r.id)]
        meta, data = _write_capture(store, r, rec, cap["meta_key"], cap["data_key"])
        measurement = measure_iq(np.asarray(rec.iq), float(rec.sample_rate_hz))
        with lock:
            done[0] += 1
            share = CAPTURE_SHARE * done[0] / len(receivers)
            _set(session_factory, acquisition_id, progress=share)
            if progress is not None:
                progress(share, r.name)
        return _Capture(r, rec, measurement, meta, data)

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(receivers)))) as pool:
            results = list(pool.map(one, receivers))
        return _complete(session_factory, acquisition_id, results, source, localize, progress)
    except BaseException as exc:
        _fail(session_factory, store, acquisition_id, f"{type(exc).__name__}: {exc}")
        log.error("rf_acquisition_failed", acquisition=acquisition_id, error=str(exc))
        raise


def _complete(
    factory: sessionmaker[Session],
    acquisition_id: str,
    results: list[_Capture],
    source: AcquisitionSource,
    localize: bool,
    progress: Progress | None,
) -> AcquisitionResult:
    truth = getattr(source, "truth", None)
    loc, loc_error = None, None
    if localize and len(results) >= 3:
        try:
            from argus.rf.locate import localize as locate  # type: ignore[import-not-found, unused-ignore]

            loc = locate([c.recording for c in results], clock_sigma_s=max(
                c.receiver.clock_sigma_s for c in results))  # fmt: skip
        except (ImportError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            loc_error = f"localization: {exc}"
    elif localize:
        loc_error = f"localization: {len(results)} receiver(s), at least 3 are needed"
    with session_scope(factory) as s:
        acq = get_acquisition(s, acquisition_id)
        if acq.status != "running":
            raise CaptureError(f"acquisition {acquisition_id} became {acq.status} meanwhile")
        rows = []
        captures = {rid: dict(c) for rid, c in acq.captures.items()}
        for c in results:
            m = c.measurement
            rows.append(
                {
                    "time": c.recording.start.astimezone(dt.UTC),
                    "receiver_id": c.receiver.id,
                    "acquisition_id": acquisition_id,
                    "frequency_hz": float(c.recording.center_frequency_hz),
                    "snr_db": float(m.snr_db),
                    "signal_power_dbfs": float(m.signal_power_dbfs),
                    "noise_floor_dbfs": float(m.noise_floor_dbfs),
                    "frequency_offset_hz": float(m.frequency_offset_hz),
                    "occupied_bandwidth_hz": float(m.occupied_bandwidth_hz),
                    "psd_summary": jsonable(m.psd_summary),
                }
            )
            captures[str(c.receiver.id)].update(
                stored=True,
                size_bytes=c.data.size_bytes,
                sha512=c.data.sha512,
                meta_size_bytes=c.meta.size_bytes,
                meta_sha512=c.meta.sha512,
                start=c.recording.start.astimezone(dt.UTC).isoformat(),
                n_samples=len(c.recording.iq),
                sample_rate_hz=float(c.recording.sample_rate_hz),
            )
        insert_measurements(s, rows)
        loc_id = None
        if loc is not None:
            loc_id = store_localization(
                s, acquisition_id, loc, time=min(r["time"] for r in rows), truth=truth
            ).id
        finished = dt.datetime.now(dt.UTC)
        acq.captures = captures
        acq.truth = jsonable(truth) if truth is not None else None
        acq.status, acq.progress, acq.finished_at, acq.updated_at = (
            "complete", 1.0, finished, finished
        )  # fmt: skip
        acq.error = loc_error
    if progress is not None:
        progress(1.0, "complete")
    log.info("rf_acquisition_complete", acquisition=acquisition_id, measurements=len(rows))
    return AcquisitionResult(
        acquisition_id,
        "complete",
        [c.receiver.name for c in results],
        len(rows),
        loc_id,
        loc_error,
        [k for c in results for k in (c.meta.key, c.data.key)],
    )


def acquire_iq(
    session_factory: sessionmaker[Session],
    frequency_hz: float,
    duration_s: float,
    receiver_ids: list[int],
    *,
    source: AcquisitionSource,
    store: ObjectStore,
    progress: Progress | None = None,
    localize: bool = True,
    params: dict[str, Any] | None = None,
    created_by: str | None = None,
) -> AcquisitionResult:
    """Record an acquisition (committed ``pending``) and run it on every receiver concurrently."""
    with session_scope(session_factory) as s:
        acq = start_acquisition(
            s,
            frequency_hz,
            duration_s,
            receiver_ids,
            source=source_kind(source),
            params=params,
            created_by=created_by,
        )
        acq_id = acq.id
    return run_acquisition(
        session_factory, acq_id, source=source, store=store, progress=progress, localize=localize
    )


# ---- the sweeper -----------------------------------------------------------------------------


@dataclass
class SweepReport:
    orphans_deleted: list[str] = field(default_factory=list)
    orphans_kept: int = 0  # within the grace period
    failed_acquisitions: list[str] = field(default_factory=list)
    #: Complete acquisitions whose objects are gone from the store (reported, left as they are).
    missing_objects: dict[str, list[str]] = field(default_factory=dict)


def sweep(
    session: Session,
    store: ObjectStore,
    *,
    grace_s: float = 3600.0,
    stale_after_s: float = 3600.0,
    now: dt.datetime | None = None,
) -> SweepReport:
    """Reconcile the store and ``rf_acquisition``.

    - an acquisition ``pending``/``running`` not updated for ``stale_after_s`` is abandoned: it
      is marked ``failed`` (naming the objects that are missing) and its objects are removed;
    - an object under ``rf/`` that no ``pending``/``running``/``complete`` row names is an
      orphan: removed once older than ``grace_s``;
    - a ``complete`` acquisition whose objects are missing is reported.

    Objects are removed before the caller commits the rows it failed; if that commit fails, the
    rows stay stale and the next sweep fails them again.
    """
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    report = SweepReport()
    present = {o.key: o for o in store.list_objects(KEY_PREFIX)}
    live_keys: set[str] = set()
    to_delete: list[str] = []
    for acq in session.scalars(
        select(RfAcquisition).where(RfAcquisition.status.in_(("pending", "running", "complete")))
    ):
        keys = capture_keys(acq.captures)
        if acq.status == "complete":
            live_keys.update(keys)
            stored = [
                k
                for c in acq.captures.values()
                if c.get("stored")
                for k in (c["meta_key"], c["data_key"])
            ]
            missing = [k for k in stored if k not in present]
            if missing:
                report.missing_objects[acq.id] = missing
            continue
        if stamp - acq.updated_at < dt.timedelta(seconds=stale_after_s):
            live_keys.update(keys)  # in flight
            continue
        missing = [k for k in keys if k not in present]
        was = acq.status
        acq.status = "failed"
        acq.error = (
            f"abandoned: {was} since {acq.updated_at.isoformat()} (the process running "
            f"it stopped); objects missing: {', '.join(missing) or 'none'}"
        )[:4000]
        acq.finished_at = acq.updated_at = stamp
        acq.captures = {rid: {**c, "stored": False} for rid, c in acq.captures.items()}
        report.failed_acquisitions.append(acq.id)
        to_delete.extend(k for k in keys if k in present)
    session.flush()
    for key, obj in present.items():
        if key in live_keys or key in to_delete:
            continue
        age = stamp - obj.modified if obj.modified is not None else dt.timedelta.max
        if age >= dt.timedelta(seconds=grace_s):
            to_delete.append(key)
        else:
            report.orphans_kept += 1
    if to_delete:
        store.delete_many(to_delete)
    report.orphans_deleted = sorted(to_delete)
    return report
