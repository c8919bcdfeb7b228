"""The defense runtime: one live run of the pipeline behind the API and the console.

:class:`DefenseRuntime` loads the scenario's configuration and the trained classifier, owns the
world and the controller, launches flights (``POST /api/sim/launch``), writes every cycle to the
database (event log, flight and order outcomes, tracks into TEWA's tables) and keeps the latest
radar frame for ``/ws/radar-stream``. It runs its cycles on a background thread paced on the
wall clock; tests drive it synchronously with :meth:`DefenseRuntime.step`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from argus import geo
from argus.db.models import MissileFlight, MissileType, PipelineEvent, Weapon
from argus.db.session import session_scope
from argus.defense.levels import LEVELS, LevelThresholds
from argus.defense.service.models import WindowClassifier, load_classifier
from argus.defense.service.store import (
    DbOrderBook,
    load_config,
    new_run_tag,
    record_events,
    record_impacts,
    write_tracks,
)
from argus.logs import get_logger
from argus.pipeline import events as ev
from argus.pipeline.controller import CycleReport, DefenseLoop
from argus.pipeline.world import LaunchError, LaunchRequest, PlannedFlight, World
from argus.tewa.service.errors import InvalidInput, NotFoundError

log = get_logger("argus.defense")


@dataclass
class RuntimeOptions:
    scan_interval_s: float = 0.5
    detection_threshold_db: float = 12.0
    thresholds: LevelThresholds = field(default_factory=LevelThresholds)
    seed: int = 0
    #: Write the pipeline's tracks into track / track_sample every ``tracks_every`` cycles.
    tracks_every: int = 2
    #: Keep radar.detection and tracking.updated in the event log too (every event, by default).
    log_everything: bool = True


class DefenseRuntime:
    def __init__(
        self,
        factory: sessionmaker[Session],
        scenario_id: int,
        options: RuntimeOptions | None = None,
        *,
        epoch: dt.datetime | None = None,
        on_report: Callable[[CycleReport], None] | None = None,
    ) -> None:
        self.factory = factory
        self.options = options or RuntimeOptions()
        self.on_report = on_report
        self.lock = threading.RLock()
        self.reports: deque[CycleReport] = deque(maxlen=120)
        self.frame: dict[str, Any] = {}
        self.errors: deque[str] = deque(maxlen=20)
        self.started_at = time.time()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.cycle_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._load(scenario_id, epoch)

    def _load(self, scenario_id: int, epoch: dt.datetime | None) -> None:
        """A fresh run of ``scenario_id``: its configuration, the classifier, a new world and
        loop, a new run id (what :meth:`switch_scenario` replaces, listeners kept)."""
        factory = self.factory
        self.scenario_id = scenario_id
        self.run_id = new_run_tag()
        o = self.options
        with factory() as s:
            self.cfg = load_config(
                s, scenario_id, self.run_id,
                scan_interval_s=o.scan_interval_s,
                detection_threshold_db=o.detection_threshold_db,
                thresholds=o.thresholds, seed=o.seed,
            )  # fmt: skip
            self.classifier = WindowClassifier(load_classifier(s))
            self.missile_types = {m.name: m for m in s.scalars(select(MissileType))}
            for m in list(self.missile_types.values()):
                s.expunge(m)
        self.world = World(epoch or dt.datetime.now(dt.UTC))
        self.loop = DefenseLoop(
            self.cfg, self.world, self.classifier, DbOrderBook(factory, scenario_id),
            sinks=[self._sink],
        )  # fmt: skip
        self.batcher = LaunchBatcher(self.world)
        self.scheduled: list[tuple[float, tuple[float, float, float, float, str, str]]] = []

    def switch_scenario(self, scenario_id: int, script: Any = None) -> None:
        """Stop this run and start a new one on ``scenario_id`` (its radars, batteries and assets
        as stored), playing ``script`` (a defense scenario file's raid) when given. WebSocket
        listeners stay attached, so the console follows the new run without reconnecting.
        The new run is loaded before the old one stops: a scenario that cannot run (no radar,
        no classifier) leaves the old run untouched."""
        was_running = self._thread is not None and self._thread.is_alive()
        probe = DefenseRuntime.__new__(DefenseRuntime)
        probe.factory, probe.options = self.factory, self.options
        probe.lock = self.lock
        probe._load(scenario_id, None)  # raises LookupError / ValueError before anything stops
        if script is not None:
            probe.script(script)  # raises InvalidInput on a raid the catalogue cannot fly
        self.stop()
        with self.lock:
            for name in ("scenario_id", "run_id", "cfg", "classifier", "missile_types", "world",
                         "loop", "batcher", "scheduled"):  # fmt: skip
                setattr(self, name, getattr(probe, name))
            self.loop.sinks = [self._sink]
            self.reports.clear()
            self.frame = {}
            self.started_at = time.time()
        log.info("defense_scenario_switched", scenario_id=scenario_id, run_id=self.run_id)
        if was_running:
            self.start()

    # ---- sim control
    def launch(
        self,
        lat: float,
        lon: float,
        target_lat: float,
        target_lon: float,
        missile_type: str,
        *,
        trajectory: str = "minimum_energy",
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """Fly a launch in the running scenario; the ``missile_flight`` row is committed first."""
        mt = self.missile_types.get(missile_type)
        if mt is None:
            known = ", ".join(sorted(self.missile_types))
            raise InvalidInput(
                f"missileType: unknown missile type {missile_type!r} (known: {known})"
            )
        fid = str(uuid.uuid4())
        when = self.loop.now
        # The flight is solved outside the lock, batched with the launches that arrive within
        # the same 50 ms (one vectorized solve: ~1 s for one, ~2.5 s for forty).
        plan = self.batcher.plan(
            LaunchRequest(fid, mt.catalogue_key, lat, lon, target_lat, target_lon, when,
                          shape=trajectory)
        )  # fmt: skip
        if isinstance(plan, LaunchError):
            raise InvalidInput(str(plan))
        event = ev.MissileLaunched(
            flight_id=fid, missile_type=mt.name, catalogue_key=mt.catalogue_key,
            lat_deg=lat, lon_deg=lon, alt_m=0.0, target_lat_deg=target_lat,
            target_lon_deg=target_lon, trajectory=trajectory,
            scenario_id=self.scenario_id, time=when,
        )  # fmt: skip
        with session_scope(self.factory) as s:
            row = MissileFlight(
                flight_id=fid, scenario_id=self.scenario_id, missile_type_id=mt.id,
                launch_lat=lat, launch_lon=lon, target_lat=target_lat, target_lon=target_lon,
                trajectory=trajectory, launched_at=when,
                impact_at=self.world.when(plan.flight.end_s), created_by=created_by,
            )  # fmt: skip
            s.add(row)
            record_events(s, [event], self.run_id)
            s.flush()
            out = flight_json(row, mt.name)
        with self.lock:  # committed: now it flies (a launch a cycle late starts where it was)
            self.world.add_planned(plan)
            self.loop._inbox.append(event)  # stages of this process already flew it
        return out

    # ---- a scripted raid (a defense scenario file)
    def script(self, scenario: Any) -> None:
        """Play a scenario file's raid: its jammers from now on, its air-breathers flown now,
        its ballistic launches at their ``launch_time_s`` (seconds after this call) through
        :meth:`launch`, so each gets its ``missile_flight`` row and event."""
        import dataclasses

        by_key = {m.catalogue_key: m.name for m in self.missile_types.values()}
        for i, b in enumerate(scenario.ballistic):
            if b.threat.key not in by_key:
                raise InvalidInput(
                    f"ballistic[{i}].type: no missile_type row for catalogue key {b.threat.key!r}"
                )
        t0 = self.loop.t_s
        with self.lock:
            shifted = dataclasses.replace(
                scenario,
                ballistic=(),
                airbreathers=tuple(
                    dataclasses.replace(
                        a,
                        route=dataclasses.replace(a.route, start_time_s=a.route.start_time_s + t0),
                    )
                    for a in scenario.airbreathers
                ),
            )
            if shifted.airbreathers:
                self.world.add_scenario(shifted, prefix="AIR-")
            # the file's carrier ids are its own truth ids: point them at the world's
            jammers = []
            for j in scenario.jammers:
                if j.carrier_truth_id is not None:
                    fid = f"AIR-{j.carrier_truth_id}"
                    if fid not in self.world:
                        raise InvalidInput(
                            f"jammer {j.jammer_id}.carrier_id: {j.carrier_truth_id} is not an airbreather"
                        )
                    j = dataclasses.replace(j, carrier_truth_id=self.world.flight(fid).truth_id)
                jammers.append(j)
            self.cfg = dataclasses.replace(self.cfg, jammers=tuple(jammers))
            self.loop.cfg = self.cfg
            self.loop.radar.cfg = self.cfg
        self.scheduled.extend(
            (t0 + b.launch_time_s, (b.launch_lat_deg, b.launch_lon_deg, b.target_lat_deg,
                                    b.target_lon_deg, by_key[b.threat.key], b.trajectory))
            for b in scenario.ballistic
        )  # fmt: skip
        self.scheduled.sort(key=lambda x: x[0])

    def _launch_due(self) -> None:
        while self.scheduled and self.scheduled[0][0] <= self.loop.t_s:
            _, (lat, lon, tlat, tlon, kind, shape) = self.scheduled.pop(0)
            self.launch(lat, lon, tlat, tlon, kind, trajectory=shape, created_by="scenario")

    # ---- cycles
    def step(self) -> CycleReport:
        self._launch_due()
        with self.lock:
            return self.loop.step()

    def _sink(self, report: CycleReport) -> None:
        o = self.options
        skip = (
            frozenset() if o.log_everything else frozenset({"radar.detection", "tracking.updated"})
        )
        launched = {e.flight_id for e in report.events if isinstance(e, ev.MissileLaunched)}
        events = [
            e
            for e in report.events
            if not (isinstance(e, ev.MissileLaunched) and e.flight_id in launched)
        ]
        with session_scope(self.factory) as s:
            record_events(s, events, self.run_id, skip=skip)
            record_impacts(s, report.ended, self.world.when(report.t1_s))
            if o.tracks_every and report.cycle % o.tracks_every == 0:
                write_tracks(s, self.scenario_id, report.picture)
        self.reports.append(report)
        self.frame = self._frame(report)
        for listener in list(self.cycle_listeners):
            try:
                listener(self.frame)
            except Exception as exc:  # a listener never stops the pipeline
                self.errors.append(f"listener: {exc}")
        if self.on_report is not None:
            self.on_report(report)

    def _frame(self, r: CycleReport) -> dict[str, Any]:
        p = r.picture
        idx, pos, _ = self.world.truth_at(r.t1_s)
        tl, to, ta = geo.ecef_to_geodetic(pos[:, 0], pos[:, 1], pos[:, 2])
        iids, ipos = self.loop.interceptors.positions()
        il, io, ia = geo.ecef_to_geodetic(ipos[:, 0], ipos[:, 1], ipos[:, 2])
        speed = np.hypot(p.vel_enu_mps[:, 0], p.vel_enu_mps[:, 1]) if len(p) else np.zeros(0)
        tti = [None if not np.isfinite(x) else round(float(x), 1) for x in p.time_to_impact_s]
        return {
            "type": "radar_frame",
            "time": p.time.isoformat().replace("+00:00", "Z"),
            # cycles completed, this one included: the count /api/controller/status and
            # /api/metrics/pipeline report (the report's own index starts at 0)
            "cycle": r.cycle + 1,
            "radars": [
                {"name": s.name, "lat": s.radar.lat_deg, "lon": s.radar.lon_deg,
                 "max_range_m": s.radar.max_range_m,
                 "azimuth_center_deg": s.radar.azimuth_center_deg,
                 "azimuth_width_deg": s.radar.azimuth_width_deg,
                 "eccm": s.radar.radar_id in self.loop.radar.eccm}
                for s in self.cfg.sites
            ],
            "batteries": [
                {"call_sign": b.call_sign, "lat": b.lat_deg, "lon": b.lon_deg,
                 "max_range_m": b.interceptor.max_range_m}
                for b in self.cfg.batteries
            ],
            "assets": [{"name": a.name, "lat": a.lat_deg, "lon": a.lon_deg,
                        "radius_km": a.radius_km} for a in self.cfg.assets],
            "truth": [
                {"flight_id": f, "lat": round(float(a), 5), "lon": round(float(b), 5),
                 "alt_m": round(float(c))}
                for f, a, b, c in zip(
                    self.world.flight_ids(idx), tl.tolist(), to.tolist(), ta.tolist(), strict=True
                )
            ],
            "tracks": [
                {"track_id": t, "lat": round(float(p.lat_deg[i]), 5),
                 "lon": round(float(p.lon_deg[i]), 5), "alt_m": round(float(p.alt_m[i])),
                 "speed_mps": round(float(speed[i]), 1), "class": p.label[i],
                 "confidence": round(float(p.confidence[i]), 3),
                 "level": LEVELS[int(p.level[i])], "score": round(float(p.score[i]), 3),
                 "time_to_impact_s": tti[i]}
                for i, t in enumerate(p.track_id)
            ],
            "interceptors": [
                {"interceptor_id": i, "lat": round(float(a), 5), "lon": round(float(b), 5),
                 "alt_m": round(float(c))}
                for i, a, b, c in zip(iids, il.tolist(), io.tolist(), ia.tolist(), strict=True)
            ],
            "engagements": [
                {"subject": e.subject, "time": e.time.isoformat().replace("+00:00", "Z"),
                 **{k: v for k, v in e.model_dump(mode="json").items()
                    if k in ("track_id", "battery_id", "interceptor_id", "miss_distance_m", "kill",
                             "reason", "shot", "lat_deg", "lon_deg", "alt_m")}}
                for e in r.events
                if e.subject in ("command.intercept", "interceptor.launched", "interceptor.detonation")
            ],
            "ew": [
                {"sensor_id": e.sensor_id, "response": e.response, "detail": e.detail,
                 "track_id": e.track_id, "effective": e.effective}
                for e in r.events if isinstance(e, ev.EwResponseTriggered)
            ],
            "stage_ms": {k: round(v * 1000.0, 3) for k, v in r.stage_s.items()},
            "n_detections": r.n_detections,
        }  # fmt: skip

    # ---- background thread
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="argus-defense", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = self.cfg.scan_interval_s
        next_at = time.monotonic()
        self.loop.freeze_heap()
        while not self._stop.is_set():
            try:
                self.step()
                if self.loop.cycle % 100 == 0:
                    self.loop.freeze_heap()
            except Exception as exc:  # a failing cycle is logged, counted and the loop goes on
                log.error("pipeline_cycle_failed", error=f"{type(exc).__name__}: {exc}")
                self.errors.append(f"{type(exc).__name__}: {exc}")
                with self.lock:  # the failed window is skipped, not retried forever
                    self.loop.t_s += period
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        last = self.reports[-1] if self.reports else None
        durations = [r.duration_s for r in self.reports]
        return {
            "running": self.running,
            "run_id": self.run_id,
            "scenario_id": self.scenario_id,
            "cycle": self.loop.cycle,
            "sim_time": self.loop.now.isoformat().replace("+00:00", "Z"),
            "scan_interval_s": self.cfg.scan_interval_s,
            "last_cycle_s": None if last is None else last.duration_s,
            "p99_cycle_s": float(np.percentile(durations, 99)) if durations else None,
            "stage_s": {} if last is None else last.stage_s,
            "n_tracks": 0 if last is None else last.n_tracks,
            "n_interceptors": self.loop.interceptors.n_alive,
            "flights": len(self.world.flights),
            "errors": list(self.errors),
        }


class LaunchBatcher:
    """Collects concurrent launch requests for ``window_s`` and solves them in one call."""

    def __init__(self, world: World, window_s: float = 0.05, max_batch: int = 64) -> None:
        self.world = world
        self.window_s = window_s
        self.max_batch = max_batch
        self.cond = threading.Condition()
        self.queue: list[tuple[LaunchRequest, dict[str, Any]]] = []
        self.busy = False

    def plan(self, request: LaunchRequest) -> PlannedFlight | LaunchError:
        slot: dict[str, Any] = {}
        with self.cond:
            self.queue.append((request, slot))
            while "result" not in slot:
                if not self.busy:  # this caller solves the batch (no extra thread to manage)
                    self.busy = True
                    self.cond.release()
                    try:
                        time.sleep(self.window_s)
                    finally:
                        self.cond.acquire()
                    batch, self.queue = self.queue[: self.max_batch], self.queue[self.max_batch :]
                    self.cond.release()
                    try:
                        results: list[Any] = self.world.plan_ballistic_many([r for r, _ in batch])
                    except Exception as exc:  # every waiter of the batch gets the error
                        results = [exc] * len(batch)
                    finally:
                        self.cond.acquire()
                        self.busy = False
                    for (_, s), res in zip(batch, results, strict=True):
                        s["result"] = res
                    self.cond.notify_all()
                else:
                    self.cond.wait()
        res = slot["result"]
        if isinstance(res, Exception) and not isinstance(res, LaunchError):
            raise res
        return res


class RuntimeViews:
    """Read-only views of the live run for the REST endpoints (seed 004's lists)."""

    def __init__(self, rt: DefenseRuntime) -> None:
        self.rt = rt

    @property
    def frame(self) -> dict[str, Any]:
        return self.rt.frame or {"time": self.rt.loop.now.isoformat().replace("+00:00", "Z"),
                                 "cycle": 0, "tracks": [], "truth": [], "ew": [],
                                 "engagements": [], "n_detections": 0}  # fmt: skip

    def sites(self) -> list[dict[str, Any]]:
        st = self.rt.loop.last_jamming
        out = []
        for k, s in enumerate(self.rt.cfg.sites):
            out.append(
                {"name": s.name, "lat": s.radar.lat_deg, "lon": s.radar.lon_deg,
                 "max_range_m": s.radar.max_range_m,
                 "azimuth_center_deg": s.radar.azimuth_center_deg,
                 "azimuth_width_deg": s.radar.azimuth_width_deg,
                 "scan_period_s": s.radar.scan_period_s,
                 "eccm": s.radar.radar_id in self.rt.loop.radar.eccm,
                 "jammed": bool(st.jammed[k]) if st is not None else False,
                 "noise_floor_rise_db": float(st.floor_rise_db[k]) if st is not None else 0.0}
            )  # fmt: skip
        return out

    def radar_status(self) -> dict[str, Any]:
        f = self.frame
        return {"running": self.rt.running, "time": f["time"], "cycle": f["cycle"],
                "sites": self.sites()}  # fmt: skip

    def targets(self, session: Session, site: str | None = None) -> list[dict[str, Any]]:
        """Simulation truth; with ``site`` only the flights within that site's range (the
        PostGIS ``ST_DWithin`` query on PostgreSQL, numpy on SQLite: ``coverage.sites_seeing``)."""
        truth = self.frame["truth"]
        if site is None or not truth:
            return list(truth)
        from argus.defense.service.coverage import sites_seeing

        names, mask = sites_seeing(
            session, self.rt.scenario_id, [t["lat"] for t in truth], [t["lon"] for t in truth]
        )
        if site not in names:
            raise NotFoundError(f"site: no radar site {site!r} (known: {', '.join(names)})")
        col = names.index(site)
        return [t for t, seen in zip(truth, mask[:, col].tolist(), strict=True) if seen]

    def tracks(self, min_level: int = 0, only: str | None = None) -> list[dict[str, Any]]:
        lv = {name: k for k, name in enumerate(LEVELS)}
        out = []
        for t in self.frame["tracks"]:
            if lv[t["level"]] < min_level or (only and t["level"] != only):
                continue
            out.append(t)
        return out

    def scan(self, limit: int = 500) -> dict[str, Any]:
        r = self.rt.reports[-1] if self.rt.reports else None
        plots = [] if r is None else [e for e in r.events if isinstance(e, ev.RadarDetection)]
        return {
            "time": self.frame["time"], "cycle": self.frame["cycle"],
            "n_detections": 0 if r is None else r.n_detections,
            "detections": [
                {"site": p.site, "time": p.time.isoformat().replace("+00:00", "Z"),
                 "range_m": p.range_m, "azimuth_deg": p.azimuth_deg,
                 "elevation_deg": p.elevation_deg, "snr_db": p.snr_db}
                for p in plots[:limit]
            ],
        }  # fmt: skip

    def signal_quality(self) -> dict[str, Any]:
        snrs = [
            e.snr_db
            for r in list(self.rt.reports)[-20:]
            for e in r.events
            if isinstance(e, ev.RadarDetection)
        ]
        return {"time": self.frame["time"], "sites": self.sites(),
                "mean_snr_db": float(np.mean(snrs)) if snrs else None,
                "detection_threshold_db": self.rt.cfg.detection_threshold_db}  # fmt: skip

    def summary(self, session: Session) -> dict[str, Any]:
        from sqlalchemy import func

        from argus.db.models import InterceptOrder

        counts = dict.fromkeys(LEVELS, 0)
        for t in self.frame["tracks"]:
            counts[t["level"]] += 1
        eng = session.scalar(
            select(func.count()).select_from(InterceptOrder)
            .where(InterceptOrder.scenario_id == self.rt.scenario_id)
        ) or 0  # fmt: skip
        kills = session.scalar(
            select(func.count()).select_from(InterceptOrder)
            .where(InterceptOrder.scenario_id == self.rt.scenario_id, InterceptOrder.state == "killed")
        ) or 0  # fmt: skip
        return {"time": self.frame["time"], "by_level": counts,
                "n_tracks": len(self.frame["tracks"]), "engagements": int(eng),
                "kills": int(kills), "rounds": battery_rounds(session, self.rt.scenario_id)}  # fmt: skip

    def history(self, session: Session, limit: int = 200) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(PipelineEvent)
            .where(PipelineEvent.subject == "threat.level_changed",
                   PipelineEvent.run_id == self.rt.run_id)
            .order_by(PipelineEvent.time.desc())
            .limit(limit)
        )  # fmt: skip
        return [
            {"time": e.time.isoformat().replace("+00:00", "Z"), "track_id": e.payload["track_id"],
             "previous_level": e.payload["previous_level"], "level": e.payload["level"],
             "score": e.payload["score"]}
            for e in rows
        ]  # fmt: skip

    def ew_status(self, session: Session, limit: int = 100) -> dict[str, Any]:
        rows = session.scalars(
            select(PipelineEvent)
            .where(PipelineEvent.subject == "ew.response_triggered",
                   PipelineEvent.run_id == self.rt.run_id)
            .order_by(PipelineEvent.time.desc())
            .limit(limit)
        )  # fmt: skip
        return {
            "time": self.frame["time"], "sites": self.sites(),
            "responses": [
                {"time": e.time.isoformat().replace("+00:00", "Z"),
                 "sensor_id": e.payload["sensor_id"], "response": e.payload["response"],
                 "track_id": e.payload.get("track_id"), "detail": e.payload.get("detail"),
                 "effective": e.payload.get("effective")}
                for e in rows
            ],
        }  # fmt: skip

    def metrics(self, area: str) -> dict[str, Any]:
        reps = list(self.rt.reports)
        reps[-1] if reps else None

        def pct(xs: list[float], q: float) -> float | None:
            return float(np.percentile(xs, q)) if xs else None

        stage = lambda k: [r.stage_s.get(k, 0.0) for r in reps]  # noqa: E731
        tracks = self.frame["tracks"]
        values: dict[str, float | None]
        if area == "radar":
            values = {"sites": float(len(self.rt.cfg.sites)),
                      "radar_scan_p50_s": pct(stage("radar_scan"), 50),
                      "radar_scan_p99_s": pct(stage("radar_scan"), 99)}  # fmt: skip
        elif area == "detection":
            n = [float(r.n_detections) for r in reps]
            values = {"detections_last_cycle": n[-1] if n else None,
                      "detections_mean": float(np.mean(n)) if n else None,
                      "threshold_db": self.rt.cfg.detection_threshold_db}  # fmt: skip
        elif area == "tracking":
            values = {"tracks": float(len(tracks)),
                      "tracking_p99_s": pct(stage("tracking"), 99),
                      "classification_p99_s": pct(stage("classification"), 99)}  # fmt: skip
        elif area == "threats":
            lv = [t["level"] for t in tracks]
            values = {f"{k}": float(lv.count(k)) for k in LEVELS}
        elif area == "ew":
            st = self.rt.loop.last_jamming
            values = {"radars_jammed": float(st.jammed.sum()) if st is not None else 0.0,
                      "eccm_active": float(len(self.rt.loop.radar.eccm))}  # fmt: skip
        elif area == "pipeline":
            d = [r.duration_s for r in reps]
            lat = [r.detection_to_broadcast_s for r in reps]
            values = {"cycles": float(self.rt.loop.cycle), "cycle_p50_s": pct(d, 50),
                      "cycle_p99_s": pct(d, 99), "detection_to_broadcast_p99_s": pct(lat, 99),
                      "interceptors_in_flight": float(self.rt.loop.interceptors.n_alive)}  # fmt: skip
        else:  # system
            import os

            values = {"uptime_s": time.time() - self.rt.started_at,
                      "load_1m": os.getloadavg()[0],
                      "errors": float(len(self.rt.errors))}  # fmt: skip
        return {
            "area": area,
            "time": self.frame["time"],
            "values": values,
        }


def flight_json(row: MissileFlight, missile_type: str) -> dict[str, Any]:
    def iso(t: dt.datetime | None) -> str | None:
        return None if t is None else t.isoformat().replace("+00:00", "Z")

    return {
        "id": row.id,
        "flight_id": row.flight_id,
        "scenario_id": row.scenario_id,
        "missile_type": missile_type,
        "lat": row.launch_lat,
        "lon": row.launch_lon,
        "target_lat": row.target_lat,
        "target_lon": row.target_lon,
        "trajectory": row.trajectory,
        "launched_at": iso(row.launched_at),
        "impact_at": iso(row.impact_at),
        "state": row.state,
        "ended_at": iso(row.ended_at),
        "outcome": row.outcome,
    }


def list_flights(
    session: Session, scenario_id: int | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    q = (
        select(MissileFlight, MissileType.name)
        .join(MissileType, MissileType.id == MissileFlight.missile_type_id)
        .order_by(MissileFlight.id.desc())
        .limit(limit)
    )
    if scenario_id is not None:
        q = q.where(MissileFlight.scenario_id == scenario_id)
    return [flight_json(f, n) for f, n in session.execute(q).tuples().all()]


def get_flight(session: Session, flight_id: str) -> dict[str, Any]:
    """A flight with its events (launch, truth, plots, the detonation that ended it)."""
    row = session.execute(
        select(MissileFlight, MissileType.name)
        .join(MissileType, MissileType.id == MissileFlight.missile_type_id)
        .where(MissileFlight.flight_id == flight_id)
    ).first()
    if row is None:
        raise NotFoundError(f"flight_id: no flight {flight_id!r}")
    out = flight_json(row[0], row[1])
    evs = session.scalars(
        select(PipelineEvent)
        .where(PipelineEvent.flight_id == flight_id, PipelineEvent.subject != "track.truth")
        .where(PipelineEvent.subject != "radar.detection")
        .order_by(PipelineEvent.time)
        .limit(500)
    )
    out["events"] = [
        {"event_id": e.event_id, "subject": e.subject,
         "time": e.time.isoformat().replace("+00:00", "Z"), "payload": e.payload}
        for e in evs
    ]  # fmt: skip
    return out


def battery_rounds(session: Session, scenario_id: int) -> dict[str, int]:
    return dict(
        session.execute(
            select(Weapon.call_sign, Weapon.rounds).where(Weapon.scenario_id == scenario_id)
        )
        .tuples()
        .all()
    )
