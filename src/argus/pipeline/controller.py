"""The real-time controller: one process runs every stage, cycle after cycle (seed 004's loop).

Each cycle covers ``[t, t + ARGUS_SCAN_INTERVAL_S)`` of simulated time and runs, timed:

``radar_scan``        every site observes the world (:class:`RadarStage`)
``detection``         plots below ``ARGUS_DETECTION_THRESHOLD`` dropped, converted to one frame
``tracking``          the multi-target tracker steps once per site
``classification``    the trained classifier labels every confirmed track
``threat_assessment`` TEWA scores, levels, weapon assignment → orders → launches
``ew_response``       jamming detected from the strobes, ECCM and soft-kill responses
``intercept``         every interceptor flown to the cycle's end (detonations, kills)
``broadcast``         the cycle's events handed to the sinks (event log, WebSocket) and the bus

The controller itself never sleeps inside a cycle; :meth:`DefenseLoop.run` paces cycles on the
wall clock (``realtime``) or runs them back to back (tests, benchmarks, ``--fast``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from argus import metrics
from argus.defense.envelope import engagement_envelope
from argus.defense.ew import jamming_status
from argus.logs import get_logger
from argus.pipeline import events as ev
from argus.pipeline.interceptors import InterceptorStage
from argus.pipeline.stages import (
    BatteryStage,
    Classifier,
    CommandCenter,
    DefenseConfig,
    OrderBook,
    RadarStage,
    TrackPicture,
    derived_id,
)
from argus.pipeline.world import Flight, World

log = get_logger("argus.pipeline")

STAGES = (
    "radar_scan",
    "detection",
    "tracking",
    "classification",
    "threat_assessment",
    "ew_response",
    "intercept",
    "broadcast",
)


@dataclass
class CycleReport:
    cycle: int
    t0_s: float
    t1_s: float
    duration_s: float
    stage_s: dict[str, float]
    n_detections: int
    n_tracks: int
    n_interceptors: int
    events: list[ev.Event]
    picture: TrackPicture
    ended: list[Flight]
    #: Wall time from the end of the radar scan to the end of the broadcast.
    detection_to_broadcast_s: float


Sink = Callable[[CycleReport], None]


@dataclass
class DefenseLoop:
    cfg: DefenseConfig
    world: World
    classifier: Classifier
    orders: OrderBook
    sinks: list[Sink] = field(default_factory=list)
    bus: Any = None
    #: Publish one tracking.updated per confirmed track per cycle (the console's feed).
    track_events: bool = True
    #: Publish one radar.detection per plot (the seed's subject; heavy at thousands of plots).
    plot_events: bool = True
    #: Seconds between track.truth events of every flying object (0: none).
    truth_interval_s: float = 1.0
    t_s: float = 0.0
    cycle: int = 0

    def __post_init__(self) -> None:
        self.radar = RadarStage(self.cfg, self.world)
        self.command = CommandCenter(
            self.cfg, self.world.epoch, self.classifier, self.orders, engagement_envelope
        )
        self.battery = BatteryStage(self.cfg)
        self.interceptors = InterceptorStage(self.cfg, self.world)
        self.ew_active: dict[str, bool] = {}
        self.last_jamming: Any = None
        self.soft_killed: set[str] = set()
        #: Effective soft kills not yet in effect: (effect time s, flight id, track id).
        self.soft_kill_due: list[tuple[float, str, str]] = []
        self._inbox: list[ev.Event] = []
        self._next_truth = 0.0

    @property
    def now(self) -> dt.datetime:
        return self.world.when(self.t_s)

    def launch(self, event: ev.MissileLaunched) -> Flight:
        """Fly a launch now (the world is shared by every stage of this process)."""
        flight = self.radar.launcher(self.world, event)
        self._inbox.append(event)
        assert isinstance(flight, Flight)
        return flight

    def submit(self, event: ev.Event) -> None:
        """An event from outside (API, another process) for the next cycle's log and stages."""
        self._inbox.append(event)

    def freeze_heap(self) -> None:
        """Move every object alive now out of the cyclic GC's reach (``gc.freeze``): the world's
        knots, the tracker's tables and the loaded model are long-lived, and a full collection
        walking them stalled a 1,000-target cycle for ~100 ms (bench_pipeline). Call after the
        setup and after big changes (the runtime does it at start and every 100 cycles)."""
        import gc

        gc.collect()
        gc.freeze()

    def step(self) -> CycleReport:
        wall0 = time.perf_counter()
        t0, t1 = self.t_s, self.t_s + self.cfg.scan_interval_s
        stage: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        events: list[ev.Event] = list(self._inbox)
        self._inbox.clear()

        c = time.perf_counter()
        scan = self.radar.scan(t0, t1, make_events=self.plot_events)
        stage["radar_scan"] = time.perf_counter() - c
        events += scan.events
        after_scan = time.perf_counter()

        out = self.command.process(scan.detections, t0, t1)
        for k, v in out.timing.items():
            stage[k] = stage.get(k, 0.0) + v
        picture = out.picture
        c = time.perf_counter()
        self.interceptors.update_tracks(picture)
        for e in out.events:
            events.append(e)
            for launched in self.battery.handle(e):
                events.append(launched)
                self.command.handle(launched)
                self.interceptors.add(launched)  # type: ignore[arg-type]
                self.command.in_flight.get(launched.track_id, set()).discard(  # type: ignore[attr-defined]
                    f"pending:{e.event_id}"
                )
        stage["threat_assessment"] += time.perf_counter() - c

        c = time.perf_counter()
        events += self._ew(scan.strobes, picture, t1)
        stage["ew_response"] = time.perf_counter() - c

        c = time.perf_counter()
        for det in self.interceptors.advance(t1):
            events.append(det)
            self.command.handle(det)
        ended = self._soft_kills_due(t1) + self.world.impacts(t1)
        stage["intercept"] = time.perf_counter() - c

        c = time.perf_counter()
        if self.track_events:
            events += _track_events(picture, self.cfg.run_tag)
        if self.truth_interval_s > 0 and t1 >= self._next_truth:
            events += self._truth_events(t1)
            self._next_truth = t1 + self.truth_interval_s
        duration = time.perf_counter() - wall0
        done = ev.PipelineCycleComplete(
            event_id=derived_id(self.cfg.run_tag, "cycle", self.cycle),
            time=self.world.when(t1),
            cycle=self.cycle,
            duration_s=duration,
            n_detections=len(scan.detections),
            n_tracks=len(picture),
            stage_s={k: round(v, 6) for k, v in stage.items()},
        )
        events.append(done)
        report = CycleReport(
            self.cycle, t0, t1, duration, stage, len(scan.detections), len(picture),
            self.interceptors.n_alive, events, picture, ended, 0.0,
        )  # fmt: skip
        for sink in self.sinks:
            sink(report)
        stage["broadcast"] = time.perf_counter() - c
        report.detection_to_broadcast_s = time.perf_counter() - after_scan
        report.duration_s = time.perf_counter() - wall0
        _observe(report)
        self.t_s = t1
        self.cycle += 1
        return report

    def _ew(self, strobes: Any, picture: TrackPicture, t1: float) -> list[ev.Event]:
        out: list[ev.Event] = []
        when = self.world.when(t1)
        sites = self.cfg.sites
        st = jamming_status(
            [s.radar.radar_id for s in sites], strobes.radar_id, strobes.azimuth_rad, strobes.jnr_db
        )
        self.last_jamming = st
        for s, jammed, rise, bearing in zip(
            sites,
            st.jammed.tolist(),
            st.floor_rise_db.tolist(),
            st.bearing_deg.tolist(),
            strict=True,
        ):  # per radar site (a handful)
            if jammed:
                out.append(
                    ev.EwDetection(
                        event_id=derived_id(self.cfg.run_tag, "ew", s.name, self.cycle),
                        time=when,
                        sensor_id=s.name,
                        frequency_hz=s.radar.frequency_hz,
                        bandwidth_hz=max((j.bandwidth_hz for j in self.cfg.jammers), default=0.0),
                        power_dbm=-100.0 + rise,
                        bearing_deg=None if np.isnan(bearing) else bearing % 360.0,
                        floor_rise_db=rise,
                    )
                )
                if s.radar.radar_id not in self.radar.eccm:
                    self.radar.eccm.add(s.radar.radar_id)
                    out.append(
                        ev.EwResponseTriggered(
                            event_id=derived_id(self.cfg.run_tag, "eccm", s.name),
                            time=when,
                            sensor_id=s.name,
                            response="eccm",
                            frequency_hz=s.radar.frequency_hz,
                            duration_s=0.0,
                            detail=f"frequency agility over {self.cfg.eccm_agility_bandwidth_hz / 1e6:g} MHz "
                            f"(noise floor +{rise:.1f} dB, bearing {bearing:.1f} deg)",
                        )
                    )
        crit = [
            t for t, lvl in zip(picture.track_id, picture.level.tolist(), strict=True) if lvl == 4
        ]
        for t in crit:  # newly critical tracks only (a handful)
            if t in self.soft_killed:
                continue
            self.soft_killed.add(t)
            i = picture.track_id.index(t)
            effective, detail = self._soft_kill(t, picture, i, t1)
            out.append(
                ev.EwResponseTriggered(
                    event_id=derived_id(self.cfg.run_tag, "softkill", t),
                    time=when,
                    sensor_id="EW",
                    response="soft_kill",
                    frequency_hz=1.0e10,
                    duration_s=30.0,
                    track_id=t,
                    effective=effective,
                    detail=detail,
                )
            )
        return out

    def _soft_kill(
        self, track_id: str, picture: TrackPicture, i: int, t1: float
    ) -> tuple[bool, str]:
        """Whether the soft kill on ``track_id`` works, and why (the event's detail).

        The jammer is pointed at the track: it affects the nearest true object within
        ``soft_kill_gate_m`` of the track's position. That object is defeated with its true
        class's probability (``soft_kill_p``), drawn from the run and track ids (the same run
        replays the same outcome); a defeated threat leaves its course ``soft_kill_delay_s``
        later (:meth:`_soft_kills_due`): it ends as ``aborted`` and never reaches its aim point.
        """
        from argus import geo

        idx, pos, _ = self.world.truth_at(t1)
        where = geo.geodetic_to_ecef(picture.lat_deg[i], picture.lon_deg[i], picture.alt_m[i])
        if not idx.size:
            return False, "no effect: no object near the track"
        d = np.linalg.norm(pos - np.asarray(where).reshape(1, 3), axis=1)
        k = int(np.argmin(d))
        if d[k] > self.cfg.soft_kill_gate_m:
            return (
                False,
                f"no effect: no object within {self.cfg.soft_kill_gate_m:g} m of the track",
            )
        flight = self.world.flights[int(idx[k])]
        p = dict(self.cfg.soft_kill_p).get(flight.threat_class, 0.0)
        if p <= 0.0:
            why = {"ballistic_missile": "flies inertially, no seeker to jam"}.get(
                flight.threat_class, "not a soft-kill target"
            )
            return False, f"no effect: the object ({flight.threat_class}) {why}"
        u = derived_id(self.cfg.run_tag, "softkill-draw", track_id).int / 2.0**128
        if u >= p:
            return False, f"no effect: the {flight.threat_class} kept its lock (p = {p:g})"
        self.soft_kill_due.append((t1 + self.cfg.soft_kill_delay_s, flight.flight_id, track_id))
        return True, (
            f"seeker defeated (p = {p:g}): the {flight.threat_class} leaves its course in "
            f"{self.cfg.soft_kill_delay_s:g} s"
        )

    def _soft_kills_due(self, t1: float) -> list[Flight]:
        """Threats whose soft kill takes effect by ``t1``: out of the sky, state ``aborted``
        (an interceptor that got there first wins; its target's interceptors then retarget or
        self-destruct as for any target that is gone)."""
        out = []
        keep = []
        for at, fid, _track in self.soft_kill_due:
            if at > t1:
                keep.append((at, fid, _track))
                continue
            f = self.world.kill(fid, at, state="aborted")
            if f is not None:
                out.append(f)
        self.soft_kill_due = keep
        return out

    def _truth_events(self, t1: float) -> list[ev.Event]:
        idx, pos, vel = self.world.truth_at(t1)
        if not idx.size:
            return []
        from argus import geo

        lat, lon, alt = geo.ecef_to_geodetic(pos[:, 0], pos[:, 1], pos[:, 2])
        e, n, u = geo.enu_axes(lat, lon)
        venu = np.stack([np.sum(vel * e, 1), np.sum(vel * n, 1), np.sum(vel * u, 1)], 1)
        when = self.world.when(t1)
        fids = self.world.flight_ids(idx)
        return [
            ev.TrackTruth(
                event_id=derived_id(self.cfg.run_tag, "truth", f, round(t1 * 1000)),
                time=when,
                flight_id=f,
                lat_deg=la,
                lon_deg=lo,
                alt_m=al,
                velocity_enu_mps=tuple(v),
            )
            for f, la, lo, al, v in zip(
                fids, lat.tolist(), lon.tolist(), alt.tolist(), venu.tolist(), strict=True
            )
        ]

    async def publish(self, report: CycleReport) -> None:
        if self.bus is not None:
            for e in report.events:
                await self.bus.publish(e)

    async def run(
        self,
        duration_s: float | None = None,
        *,
        realtime: bool = True,
        stop: asyncio.Event | None = None,
        on_cycle: Callable[[CycleReport], Any] | None = None,
    ) -> None:
        """Cycles until ``duration_s`` of simulated time or ``stop``; paced on the wall clock."""
        start_t = self.t_s
        start_wall = time.monotonic()
        while (duration_s is None or self.t_s - start_t < duration_s - 1e-9) and not (
            stop is not None and stop.is_set()
        ):
            report = await asyncio.to_thread(self.step)
            await self.publish(report)
            if on_cycle is not None:
                on_cycle(report)
            if realtime:
                due = start_wall + (self.t_s - start_t)
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif report.duration_s > self.cfg.scan_interval_s:
                    log.warning(
                        "pipeline_cycle_overrun", cycle=report.cycle, duration_s=report.duration_s
                    )


def _observe(report: CycleReport) -> None:
    """The cycle's Prometheus metrics (per event kind: a handful of launches and orders)."""
    m = metrics
    m.CYCLE_SECONDS.observe(report.duration_s)
    m.CORRELATION_SECONDS.observe(report.detection_to_broadcast_s)
    for k, v in report.stage_s.items():
        m.STAGE_SECONDS.labels(k).observe(v)
    m.DETECTIONS.inc(report.n_detections)
    m.TRACKS.set(report.n_tracks)
    for e in report.events:
        if isinstance(e, ev.MissileLaunched):
            m.LAUNCHES.inc()
        elif isinstance(e, ev.CommandIntercept):
            m.INTERCEPT_ORDERS.labels(e.battery_id).inc()
        elif isinstance(e, ev.InterceptorLaunched):
            m.BATTERY_FIRES.labels(e.battery_id).inc()
        elif isinstance(e, ev.InterceptorDetonation):
            m.DETONATIONS.labels(e.reason, str(e.kill).lower()).inc()
            if e.kill:
                m.KILLS.inc()
            if e.reason == "proximity":
                m.MISS_DISTANCE.observe(e.miss_distance_m)


def _track_events(picture: TrackPicture, run_tag: str) -> list[ev.Event]:
    from argus.defense.levels import LEVELS

    if not len(picture):
        return []
    when = picture.time
    stamp = when.isoformat()
    tti = picture.time_to_impact_s
    # model_construct: the values come from the tracker's arrays (finite, in range: latitude
    # from ecef_to_geodetic, confidence clipped below), so pydantic's per-field validation is
    # skipped on this hot path (~20 µs per event); every receiver still validates on decode.
    return [
        ev.TrackingUpdated.model_construct(
            v=1,
            causation_id=None,
            event_id=derived_id(run_tag, "track", name, stamp),
            time=when,
            track_id=name,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt,
            velocity_enu_mps=tuple(v),
            position_sigma_m=sig,
            n_detections=0,
            classification=lab,
            confidence=min(1.0, max(0.0, conf)),
            threat_level=LEVELS[lvl],
            score=min(1.0, max(0.0, sc)),
            time_to_impact_s=None if not np.isfinite(t) else max(0.0, t),
        )
        for name, lat, lon, alt, v, sig, lab, conf, lvl, sc, t in zip(
            picture.track_id,
            picture.lat_deg.tolist(),
            picture.lon_deg.tolist(),
            picture.alt_m.tolist(),
            picture.vel_enu_mps.tolist(),
            picture.sigma_m.tolist(),
            picture.label,
            np.nan_to_num(picture.confidence).tolist(),
            picture.level.tolist(),
            np.nan_to_num(picture.score).tolist(),
            tti.tolist(),
            strict=True,
        )
    ]


def flights_of(events: Sequence[ev.Event]) -> set[str]:
    return {e.flight_id for e in events if isinstance(e, ev.MissileLaunched)}
