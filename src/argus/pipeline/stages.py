"""The defense pipeline's stages: radar, command centre, battery (the interceptor stage lives in
:mod:`argus.pipeline.interceptors`).

Every stage is a plain object with two doors: ``handle(event) -> [events]`` for what arrives on
the bus, and a time-driven method for its own cycle work (a radar scans ``[t0, t1)``, the command
centre fuses what arrived). The real-time controller (:mod:`argus.pipeline.controller`) calls
them in order inside one process; ``argus stage <name>`` runs one of them on the bus
(:mod:`argus.pipeline.runner`). The same code either way.

Event ids are derived (UUID5) from what caused the event — the order a battery launches by, the
scan a plot belongs to — so a stage that is restarted and handles a redelivered event again
publishes events with the *same* ids, which the bus's duplicate window and the event log's
primary key drop: at-least-once delivery, exactly-once effects.
"""

from __future__ import annotations

import datetime as dt
import math
import pickle
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from argus import geo
from argus.defense.levels import LEVELS, LevelThresholds, threat_levels
from argus.pipeline import events as ev
from argus.pipeline.world import World
from argus.scenario.track import beam_coverage, detections_to_common_enu
from argus.scenario.training import max_position_trace_m2
from argus.sensors.jammer import NoiseJammer
from argus.sensors.radar import Detections, JammerStrobes, observe
from argus.sensors.site import RadarSite
from argus.tewa.assignment import make_problem, solve_greedy
from argus.tewa.kinematics import pair_kinematics
from argus.tewa.scoring import ThreatModelParams, coerce_params, threat_scores
from argus.tracking.models import LinearPosition
from argus.tracking.tracker import MultiTargetTracker, Scan, make_cv_tracker

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_NS = uuid.UUID("6f0c2a52-4d59-4c1e-9a57-7d3c3f1e0b11")
G0 = 9.80665

#: Classes the command centre engages (aircraft are identified, never engaged automatically).
ENGAGEABLE = frozenset({"ballistic_missile", "cruise_missile", "drone"})
#: Classes that are threats at all (levels low..critical); the others are "none".
THREAT_CLASSES = frozenset({"ballistic_missile", "cruise_missile", "drone", "aircraft"})


def derived_id(*parts: object) -> uuid.UUID:
    """A UUID5 of ``parts``: the same inputs give the same event id in any process."""
    return uuid.uuid5(_NS, "/".join(str(p) for p in parts))


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Site:
    name: str
    radar: RadarSite


@dataclass(frozen=True)
class Battery:
    """A fire unit: its TEWA ``weapon`` row id, place and interceptor type."""

    call_sign: str
    weapon_id: int
    lat_deg: float
    lon_deg: float
    alt_m: float
    interceptor: Any  # argus.defense.interceptor.InterceptorType
    fire_channels: int = 2

    @property
    def ecef_m(self) -> FloatArray:
        return np.stack(geo.geodetic_to_ecef(self.lat_deg, self.lon_deg, self.alt_m), axis=-1)


@dataclass(frozen=True)
class Asset:
    name: str
    lat_deg: float
    lon_deg: float
    radius_km: float = 10.0
    value: float = 1.0


@dataclass(frozen=True)
class DefenseConfig:
    """Everything a run needs besides the world: sites, batteries, assets and the knobs."""

    scenario_id: int
    run_tag: str
    sites: tuple[Site, ...]
    batteries: tuple[Battery, ...]
    assets: tuple[Asset, ...]
    jammers: tuple[NoiseJammer, ...] = ()
    scan_interval_s: float = 0.5
    detection_threshold_db: float = 12.0
    thresholds: LevelThresholds = field(default_factory=LevelThresholds)
    params: ThreatModelParams = field(default_factory=lambda: coerce_params(None))
    seed: int = 0
    max_shots: int = 2
    min_confidence: float = 0.5
    #: Longest interceptor time of flight an order may plan for (s).
    max_engage_time_s: float = 60.0
    eccm_agility_bandwidth_hz: float = 5.0e8
    #: Probability that a soft kill (seeker / datalink / GNSS jamming, decoys) defeats a threat,
    #: by its true class. Ballistic missiles fly inertially (no seeker to jam) and crewed
    #: aircraft are not soft-kill targets here: 0. These are scenario assumptions, not data.
    soft_kill_p: tuple[tuple[str, float], ...] = (("cruise_missile", 0.3), ("drone", 0.6))
    #: Seconds from the response to its effect (the defeated threat leaves its course).
    soft_kill_delay_s: float = 5.0
    #: The jammer is pointed at the track: the object it affects is the nearest true object
    #: within this distance of the track's position (none beyond it).
    soft_kill_gate_m: float = 3000.0

    @property
    def reference_deg(self) -> tuple[float, float]:
        lat = [s.radar.lat_deg for s in self.sites] + [a.lat_deg for a in self.assets]
        lon = [s.radar.lon_deg for s in self.sites] + [a.lon_deg for a in self.assets]
        return float(np.mean(lat)), float(np.mean(lon))

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(f"unknown radar site {name!r} (known: {[s.name for s in self.sites]})")

    def battery(self, call_sign: str) -> Battery:
        for b in self.batteries:
            if b.call_sign == call_sign:
                return b
        known = [b.call_sign for b in self.batteries]
        raise KeyError(f"unknown battery {call_sign!r} (known: {known})")


# ----------------------------------------------------------------------------- radar


@dataclass
class RadarOutput:
    detections: Detections
    strobes: JammerStrobes
    events: list[ev.Event]


class RadarStage:
    """Scans the world with the configured sites (all, or one for ``argus stage radar --site``)."""

    name = "radar"
    subjects = ("missile.launched", "interceptor.detonation", "ew.response_triggered")

    def __init__(
        self,
        cfg: DefenseConfig,
        world: World,
        sites: Sequence[str] | None = None,
        launcher: Callable[[World, ev.MissileLaunched], object] | None = None,
    ) -> None:
        self.cfg = cfg
        self.world = world
        self.sites = [cfg.site(n) for n in sites] if sites else list(cfg.sites)
        self.launcher = launcher or launch_into_world
        #: Radars with frequency agility on (ECCM), by radar id.
        self.eccm: set[int] = set()

    def handle(self, event: ev.Event) -> list[ev.Event]:
        if isinstance(event, ev.MissileLaunched):
            self.launcher(self.world, event)
        elif isinstance(event, ev.InterceptorDetonation) and event.kill and event.target_flight_id:
            if event.target_flight_id in self.world:
                self.world.kill(event.target_flight_id, self.world.seconds(event.time))
        elif isinstance(event, ev.EwResponseTriggered) and event.response == "alert":
            pass
        return []

    def jammers_for(self, radar: RadarSite) -> list[NoiseJammer]:
        if radar.radar_id not in self.eccm:
            return list(self.cfg.jammers)
        out = []
        for j in self.cfg.jammers:
            scale = min(1.0, j.bandwidth_hz / self.cfg.eccm_agility_bandwidth_hz)
            out.append(_scaled_jammer(j, scale))
        return out

    def scan(self, t0: float, t1: float, *, make_events: bool = True) -> RadarOutput:
        dets: list[Detections] = []
        strobes: list[JammerStrobes] = []
        targets = self.world.targets
        for s in self.sites:
            # One generator per (run, site, window): a restarted stage draws the same noise.
            rng = np.random.default_rng([self.cfg.seed, s.radar.radar_id, round(t0 * 1000)])
            # A rotating beam's look at a target falls up to one period after its scan starts:
            # observe the scans that began up to a period before t0, keep the looks in [t0, t1).
            period = s.radar.scan_period_s
            out = observe(s.radar, targets, t0 - period, t1, rng, jammers=self.jammers_for(s.radar))
            d = out.detections
            d = d.select(np.flatnonzero(d.time_s >= t0))
            dets.append(self.world.drop_dead(d))
            st = out.strobes
            strobes.append(_select_strobes(st, st.time_s >= t0))
        det = Detections.concatenate(dets).sorted_by_time() if dets else Detections.empty()
        st = JammerStrobes.concatenate(strobes) if strobes else JammerStrobes.empty()
        events = self.plot_events(det, t0) if make_events else []
        return RadarOutput(det, st, events)

    def plot_events(self, det: Detections, t0: float) -> list[ev.Event]:
        if not len(det):
            return []
        names = {s.radar.radar_id: s for s in self.sites}
        epoch = self.world.epoch
        fids = [f.flight_id for f in self.world.flights]
        t_ms = round(t0 * 1000)
        out: list[ev.Event] = []
        az = np.degrees(det.azimuth_rad) % 360.0
        el = np.degrees(det.elevation_rad)
        sig_r = np.sqrt(det.covariance[:, 0, 0])
        sig_az = np.degrees(np.sqrt(det.covariance[:, 1, 1]))
        sig_el = np.degrees(np.sqrt(det.covariance[:, 2, 2]))
        # One event per plot (the seed's subject); built from lists, not per-row numpy reads.
        cols = zip(
            det.time_s.tolist(),
            det.radar_id.tolist(),
            det.scan_index.tolist(),
            det.truth_id.tolist(),
            det.range_m.tolist(),
            az.tolist(),
            el.tolist(),
            det.snr_db.tolist(),
            det.range_rate_mps.tolist(),
            sig_r.tolist(),
            sig_az.tolist(),
            sig_el.tolist(),
            strict=True,
        )
        for k, (t, rid, scan, tid, r, a, e, snr, rr, sr, sa, se) in enumerate(cols):
            s = names[rid]
            out.append(  # model_construct: values from the sensor model's arrays (see
                # controller._track_events); receivers validate on decode
                ev.RadarDetection.model_construct(
                    event_id=derived_id(self.cfg.run_tag, "plot", s.name, t_ms, k),
                    time=epoch + dt.timedelta(seconds=t),
                    site=s.name,
                    range_m=r,
                    azimuth_deg=min(a, 359.999999),
                    elevation_deg=e,
                    snr_db=snr,
                    radial_velocity_mps=None if math.isnan(rr) else rr,
                    site_lat_deg=s.radar.lat_deg,
                    site_lon_deg=s.radar.lon_deg,
                    site_alt_m=s.radar.antenna_alt_m,
                    sigma_range_m=sr,
                    sigma_azimuth_deg=sa,
                    sigma_elevation_deg=se,
                    scan_index=scan,
                    truth_flight_id=fids[tid - 1] if tid > 0 else None,
                )
            )
        return out


def _select_strobes(st: JammerStrobes, keep: npt.NDArray[np.bool_]) -> JammerStrobes:
    from dataclasses import fields as dc_fields

    return JammerStrobes(**{f.name: getattr(st, f.name)[keep] for f in dc_fields(JammerStrobes)})


def _scaled_jammer(j: NoiseJammer, scale: float) -> NoiseJammer:
    from dataclasses import replace

    return replace(j, power_w=j.power_w * scale)


def launch_into_world(world: World, event: ev.MissileLaunched) -> object:
    """Fly a ``missile.launched`` event in ``world`` (idempotent by flight id)."""
    return world.launch_ballistic(
        event.flight_id,
        event.catalogue_key or event.missile_type,
        event.lat_deg,
        event.lon_deg,
        event.target_lat_deg,
        event.target_lon_deg,
        at=event.time,
        alt_m=event.alt_m,
        shape=event.trajectory,
    )


def plots_to_detections(
    plots: Sequence[ev.RadarDetection], cfg: DefenseConfig, epoch: dt.datetime
) -> Detections:
    """The :class:`Detections` arrays of plot events (what a command centre on the bus gets)."""
    n = len(plots)
    if n == 0:
        return Detections.empty()
    ids = {s.name: s.radar for s in cfg.sites}
    rows = [
        (
            (p.time - epoch).total_seconds(),
            ids[p.site].radar_id,
            p.scan_index or 0,
            p.range_m,
            math.radians(p.azimuth_deg),
            math.radians(p.elevation_deg),
            p.snr_db,
            math.nan if p.radial_velocity_mps is None else p.radial_velocity_mps,
            p.sigma_range_m or ids[p.site].sigma_range_m,
            math.radians(p.sigma_azimuth_deg or ids[p.site].sigma_azimuth_deg),
            math.radians(p.sigma_elevation_deg or ids[p.site].sigma_elevation_deg),
        )
        for p in plots
    ]
    a = np.asarray(rows, dtype=np.float64)
    rid = a[:, 1].astype(np.int64)
    radars = {r.radar_id: r for r in ids.values()}
    lat = np.array([radars[int(i)].lat_deg for i in np.unique(rid)])
    uniq = np.unique(rid)
    pos = {
        int(i): (radars[int(i)].lat_deg, radars[int(i)].lon_deg, radars[int(i)].antenna_alt_m)
        for i in uniq
    }
    del lat
    site_lat = np.array([pos[int(i)][0] for i in uniq])[np.searchsorted(uniq, rid)]
    site_lon = np.array([pos[int(i)][1] for i in uniq])[np.searchsorted(uniq, rid)]
    site_alt = np.array([pos[int(i)][2] for i in uniq])[np.searchsorted(uniq, rid)]
    cov = np.zeros((n, 3, 3))
    cov[:, 0, 0] = a[:, 8] ** 2
    cov[:, 1, 1] = a[:, 9] ** 2
    cov[:, 2, 2] = a[:, 10] ** 2
    return Detections(
        time_s=a[:, 0],
        radar_id=rid,
        scan_index=a[:, 2].astype(np.int64),
        truth_id=np.full(n, -1, dtype=np.int64),
        range_m=a[:, 3],
        azimuth_rad=a[:, 4],
        elevation_rad=a[:, 5],
        range_rate_mps=a[:, 7],
        covariance=cov,
        range_rate_var=np.full(n, np.nan),
        snr_db=a[:, 6],
        radar_ecef_m=np.stack(geo.geodetic_to_ecef(site_lat, site_lon, site_alt), axis=-1),
        radar_lat_deg=site_lat,
        radar_lon_deg=site_lon,
        radar_alt_m=site_alt,
    )


# ----------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class Order:
    order_id: uuid.UUID
    scenario_id: int
    battery: Battery
    track_id: str
    shot: int
    pk: float
    at: dt.datetime


class OrderBook(Protocol):
    """Where orders are recorded and rounds counted (the database in a service)."""

    def rounds(self) -> dict[str, int]:
        """Rounds left per battery call sign."""
        ...

    def place(self, order: Order) -> bool:
        """Record the order and take its round, atomically; False when no round is left or the
        (track, shot) was already ordered (a replay)."""
        ...


@dataclass
class MemoryOrderBook:
    """An order book in memory (engine tests and benchmarks; the service uses the database)."""

    stock: dict[str, int]
    orders: dict[tuple[str, int], Order] = field(default_factory=dict)

    def rounds(self) -> dict[str, int]:
        return dict(self.stock)

    def place(self, order: Order) -> bool:
        key = (order.track_id, order.shot)
        if key in self.orders or self.stock.get(order.battery.call_sign, 0) < 1:
            return False
        self.stock[order.battery.call_sign] -= 1
        self.orders[key] = order
        return True


# ----------------------------------------------------------------------------- command centre


class Classifier(Protocol):
    def classify(self, window: Any) -> tuple[npt.NDArray[np.str_], FloatArray]: ...


@dataclass
class TrackPicture:
    """The confirmed tracks after a cycle (arrays (N,)), what broadcast and the API read."""

    time: dt.datetime
    track_id: list[str]
    lat_deg: FloatArray
    lon_deg: FloatArray
    alt_m: FloatArray
    vel_enu_mps: FloatArray
    sigma_m: FloatArray
    n_detections: IntArray
    label: list[str]
    confidence: FloatArray
    score: FloatArray
    level: npt.NDArray[np.int8]
    time_to_impact_s: FloatArray

    @staticmethod
    def empty(time: dt.datetime) -> TrackPicture:
        z = np.zeros(0)
        return TrackPicture(
            time, [], z, z, z, np.zeros((0, 3)), z, np.zeros(0, np.int64), [], z, z,
            np.zeros(0, np.int8), z,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.track_id)


class _History:
    """The last ``k`` estimates of every track, in slots ``track id mod capacity`` (no per-track
    Python loop: one fancy-indexed write per cycle)."""

    def __init__(self, k: int = 16, capacity: int = 1 << 14) -> None:
        self.k, self.cap = k, capacity
        self.owner = np.full(capacity, -1, dtype=np.int64)
        self.count = np.zeros(capacity, dtype=np.int64)
        self.t = np.zeros((capacity, k))
        self.pos = np.zeros((capacity, k, 3))
        self.vel = np.zeros((capacity, k, 3))
        self.rcs = np.full((capacity, k), np.nan)

    def push(
        self, ids: IntArray, t: float, pos: FloatArray, vel: FloatArray, rcs: FloatArray
    ) -> None:
        slot = ids % self.cap
        fresh = self.owner[slot] != ids
        self.owner[slot] = ids
        self.count[slot[fresh]] = 0
        col = self.count[slot] % self.k
        self.t[slot, col] = t
        self.pos[slot, col] = pos
        self.vel[slot, col] = vel
        self.rcs[slot, col] = rcs
        self.count[slot] += 1

    def window(
        self, ids: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        slot = ids % self.cap
        c = self.count[slot]
        j = np.arange(self.k)
        # oldest first: column (c - k + j) mod k; rows with c < k are left-padded (invalid)
        col = (c[:, None] - self.k + j[None, :]) % self.k
        valid = j[None, :] >= (self.k - np.minimum(c, self.k))[:, None]
        rows = slot[:, None]
        return (
            self.t[rows, col],
            self.pos[rows, col],
            self.vel[rows, col],
            self.rcs[rows, col],
            valid,
        )


class CommandCenter:
    """Fuses plots into tracks, classifies, evaluates against the assets, assigns batteries."""

    name = "command-center"
    subjects = (
        "radar.detection",
        "interceptor.launched",
        "interceptor.detonation",
    )

    def __init__(
        self,
        cfg: DefenseConfig,
        epoch: dt.datetime,
        classifier: Classifier,
        orders: OrderBook,
        envelope: Callable[..., Any],
        tracker: MultiTargetTracker | None = None,
        window: int = 16,
    ) -> None:
        self.cfg = cfg
        self.epoch = epoch
        self.classifier = classifier
        self.orders = orders
        self.envelope = envelope
        self.lat0, self.lon0 = cfg.reference_deg
        self.tracker = tracker or make_cv_tracker(
            3,
            30.0,
            velocity_sigma=1500.0,
            m=3,
            n=4,
            gate_probability=0.99,
            max_misses=5,
            # a tentative track must survive until the slowest radar looks again (the limit the
            # classifier's training data is tracked with: argus.scenario.training)
            max_position_trace=max(max_position_trace_m2(s.radar) for s in cfg.sites),
        )
        self.model = LinearPosition(self.tracker.ndim_state, 3)
        self.history = _History(window)
        cap = self.history.cap
        self.labels = np.full(cap, "unknown", dtype="<U20")
        self.confidence = np.zeros(cap)
        self.label_owner = np.full(cap, -1, dtype=np.int64)
        self.levels: dict[str, int] = {}
        self.in_flight: dict[str, set[str]] = {}  # track -> interceptor ids
        self.shots: dict[str, int] = {}
        self.killed: set[str] = set()
        self.detonated: set[str] = set()  # interceptor ids that have ended
        self.buffer: list[ev.RadarDetection] = []
        self.picture = TrackPicture.empty(epoch)
        self._ref = _rotation(self.lat0, self.lon0)
        self._origin = np.stack(geo.geodetic_to_ecef(self.lat0, self.lon0, 0.0), axis=-1)
        self._site_c = {s.radar.radar_id: float(s.radar.snr(1.0, 1.0)) for s in cfg.sites}

    # ---- checkpoint (a restarted command-centre process resumes where it stopped)
    #: What is rebuilt from the configuration and the database, not saved.
    _NOT_STATE = frozenset(
        ("cfg", "epoch", "classifier", "orders", "envelope", "model", "lat0", "lon0", "_ref",
         "_origin", "_site_c")
    )  # fmt: skip

    def snapshot(self) -> bytes:
        """The state a cycle leaves behind (tracker, classifier windows, labels, threat levels,
        interceptors in flight, shots, kills, the picture), as bytes for ``restore``. Pickle:
        written and read only by this class, from Argus's own database (never API input)."""
        state = {k: v for k, v in self.__dict__.items() if k not in self._NOT_STATE}
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, blob: bytes) -> None:
        """Continue from a ``snapshot`` (same configuration and epoch)."""
        self.__dict__.update(pickle.loads(blob))

    # ---- bus door
    def handle(self, event: ev.Event) -> list[ev.Event]:
        """Apply one event (idempotent: a redelivered one changes nothing)."""
        if isinstance(event, ev.RadarDetection):
            self.buffer.append(event)
        elif isinstance(event, ev.InterceptorLaunched):
            if event.interceptor_id not in self.detonated:  # a late redelivery after its end
                self.in_flight.setdefault(event.track_id, set()).add(event.interceptor_id)
        elif isinstance(event, ev.InterceptorDetonation):
            self.detonated.add(event.interceptor_id)
            self.in_flight.get(event.track_id, set()).discard(event.interceptor_id)
            if event.kill:
                self.killed.add(event.track_id)
        return []

    def flush(self, t0: float, t1: float) -> list[ev.Event]:
        """Process the plots that arrived on the bus with times in ``[t0, t1)``."""
        mine = [p for p in self.buffer if (p.time - self.epoch).total_seconds() < t1]
        self.buffer = [p for p in self.buffer if (p.time - self.epoch).total_seconds() >= t1]
        return self.process(plots_to_detections(mine, self.cfg, self.epoch), t0, t1).events

    # ---- one cycle
    def process(self, det: Detections, t0: float, t1: float) -> CycleOutput:
        timing: dict[str, float] = {}
        clock = _Clock(timing)
        with clock("detection"):
            strong = det.select(np.flatnonzero(det.snr_db >= self.cfg.detection_threshold_db))
            pos, cov = (
                detections_to_common_enu(strong, self.lat0, self.lon0)
                if len(strong)
                else (np.zeros((0, 3)), np.zeros((0, 3, 3)))
            )
        with clock("tracking"):
            est = None
            for s in self.cfg.sites:
                rows = np.flatnonzero(strong.radar_id == s.radar.radar_id)
                scan = Scan(
                    0.5 * (t0 + t1) + s.radar.radar_id * 1e-6,
                    pos[rows],
                    cov[rows] if rows.size else np.zeros((0, 3, 3)),
                    self.model,
                    s.radar.radar_id,
                    coverage=beam_coverage(s.radar, t0, t1, self.lat0, self.lon0),
                )
                est = self.tracker.step(scan)
            when = self.epoch + dt.timedelta(seconds=t1)
            if est is None or len(est) == 0:
                self.picture = TrackPicture.empty(when)
                return CycleOutput(self.picture, [], timing, len(det))
            tid = est.track_id.astype(np.int64)
            p_enu = est.mean[:, :3]
            v_enu = est.mean[:, 3:6]
            ecef = p_enu @ self._ref + self._origin
            vel_ecef = v_enu @ self._ref
            rcs, updated = self._rcs_estimate(strong, pos, p_enu)
            # the classifier's window holds a track's updates (as in its training data)
            u = np.flatnonzero(updated)
            self.history.push(tid[u], 0.5 * (t0 + t1), ecef[u], vel_ecef[u], rcs[u])
        with clock("classification"):
            # only the tracks whose window changed (an update this cycle) or never labelled
            slot = tid % self.history.cap
            fresh = (self.label_owner[slot] != tid) | updated
            rows = np.flatnonzero(fresh)
            if rows.size:
                lab, cf = self.classifier.classify(self.history.window(tid[rows]))
                self.labels[slot[rows]] = lab
                self.confidence[slot[rows]] = cf
                self.label_owner[slot[rows]] = tid[rows]
            conf = self.confidence[slot]
            labels = np.where(conf >= self.cfg.min_confidence, self.labels[slot], "unknown")
        with clock("threat_assessment"):
            lat, lon, alt = geo.ecef_to_geodetic(ecef[:, 0], ecef[:, 1], ecef[:, 2])
            v_local = _local_velocity(vel_ecef, lat, lon)
            speed = np.hypot(v_local[:, 0], v_local[:, 1])
            heading = np.degrees(np.arctan2(v_local[:, 0], v_local[:, 1])) % 360.0
            score, tti = self._evaluate(lat, lon, alt, v_local, speed, heading, labels)
            is_threat = np.isin(labels, list(THREAT_CLASSES))
            level = threat_levels(score, tti, is_threat, self.cfg.thresholds)
            names = [f"{self.cfg.run_tag}-T{i}" for i in tid.tolist()]
            sigma = np.sqrt(np.trace(est.covar[:, :3, :3], axis1=1, axis2=2) / 3.0)
            self.picture = TrackPicture(
                when, names, lat, lon, alt, v_local, sigma,
                np.zeros(len(names), np.int64), [str(x) for x in labels], conf, score, level, tti,
            )  # fmt: skip
            out: list[ev.Event] = self._level_events(when)
            out += self._assign(when, ecef, vel_ecef)
        timing["ew_response"] = 0.0
        return CycleOutput(self.picture, out, timing, len(det))

    def _rcs_estimate(
        self, det: Detections, plot_enu: FloatArray, track_enu: FloatArray
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """RCS (dBsm) of each track from its nearest plot of the cycle (radar equation), and
        whether the track had a plot this cycle (within 20 km: an update)."""
        out = np.full(len(track_enu), np.nan)
        if not len(det):
            return out, np.zeros(len(track_enu), dtype=bool)
        d, j = cKDTree(plot_enu).query(track_enu, distance_upper_bound=20_000.0)
        ok = np.isfinite(d)
        c = np.array([self._site_c[int(r)] for r in np.unique(det.radar_id)])
        cj = c[np.searchsorted(np.unique(det.radar_id), det.radar_id[j[ok]])]
        # measured |x|²/N has mean SNR + 1: take the noise off (as the training data does)
        snr_lin = np.maximum(10.0 ** (det.snr_db[j[ok]] / 10.0) - 1.0, 1e-3)
        out[ok] = 10.0 * np.log10(snr_lin * det.range_m[j[ok]] ** 4 / cj)
        return out, ok

    def _evaluate(
        self,
        lat: FloatArray,
        lon: FloatArray,
        alt: FloatArray,
        v_local: FloatArray,
        speed: FloatArray,
        heading: FloatArray,
        labels: npt.NDArray[np.str_],
    ) -> tuple[FloatArray, FloatArray]:
        a = self.cfg.assets
        da_lat = np.array([x.lat_deg for x in a])
        da_lon = np.array([x.lon_deg for x in a])
        da_r = np.array([x.radius_km for x in a])
        kin = pair_kinematics(lat, lon, speed, heading, da_lat, da_lon, da_r)
        sc = threat_scores(kin.cpa_km, kin.tcpa_s, kin.tdb_km, kin.twrp_s, self.cfg.params).score
        score = np.clip(np.max(sc, axis=1), 0.0, 1.0)
        # time to impact: a falling object's drag-free fall point, or an air track's CPA time
        vz = v_local[:, 2]
        z = np.maximum(alt, 0.0)
        t_fall = np.where(vz < -1.0, (vz + np.sqrt(vz * vz + 2 * G0 * z)) / G0, np.nan)
        e = v_local[:, 0] * t_fall
        n = v_local[:, 1] * t_fall
        flat, flon, _ = geo.enu_to_geodetic(e, n, np.zeros_like(e), lat, lon)
        dist_km = (
            geo.ground_distance_m(flat[:, None], flon[:, None], da_lat[None, :], da_lon[None, :])
            / 1000.0
        )
        hit_fall = np.nanmin(
            np.where(dist_km <= da_r[None, :] + 5.0, t_fall[:, None], np.inf), axis=1
        )
        air = np.where(kin.cpa_km <= da_r[None, :] + 2.0, kin.tcpa_s, np.inf)
        hit_air = np.min(np.where(air >= 0, air, np.inf), axis=1)
        ballistic = labels == "ballistic_missile"
        tti = np.where(ballistic, hit_fall, np.minimum(hit_fall, hit_air))
        tti = np.where(np.isfinite(tti), tti, np.nan)
        return score, tti

    def _level_events(self, when: dt.datetime) -> list[ev.Event]:
        p = self.picture
        out: list[ev.Event] = []
        for name, lvl, s in zip(p.track_id, p.level.tolist(), p.score.tolist(), strict=True):
            prev = self.levels.get(name, 0)
            if lvl != prev:
                self.levels[name] = lvl
                out.append(
                    ev.ThreatLevelChanged(
                        event_id=derived_id(self.cfg.run_tag, "level", name, lvl, when.isoformat()),
                        time=when,
                        track_id=name,
                        previous_level=LEVELS[prev],
                        level=LEVELS[lvl],
                        score=float(s),
                    )
                )
        return out

    def _assign(self, when: dt.datetime, ecef: FloatArray, vel_ecef: FloatArray) -> list[ev.Event]:
        p = self.picture
        bats = self.cfg.batteries
        if not bats or not len(p):
            return []
        busy = np.array([bool(self.in_flight.get(t)) for t in p.track_id])
        killed = np.array([t in self.killed for t in p.track_id])
        shots = np.array([self.shots.get(t, 0) for t in p.track_id])
        cand = np.flatnonzero(
            (p.level >= 3)
            & np.isin(np.asarray(p.label), list(ENGAGEABLE))
            & ~busy
            & ~killed
            & (shots < self.cfg.max_shots)
        )
        if cand.size == 0:
            return []
        stock = self.orders.rounds()
        rounds = np.array([stock.get(b.call_sign, 0) for b in bats])
        if rounds.sum() == 0:
            return []
        launchers = np.stack([b.ecef_m for b in bats])
        env = self.envelope(launchers, [b.interceptor for b in bats], ecef[cand], vel_ecef[cand])
        # The envelope extrapolates the track at constant velocity: trust it only for short
        # fly-outs, and let the nearer battery win (expected Pk decays with time of flight).
        feasible = env.feasible & (env.t_intercept_s <= self.cfg.max_engage_time_s)
        t_int = np.where(feasible, env.t_intercept_s, np.inf)
        pk = np.array([b.interceptor.pk for b in bats])[:, None] * np.exp(-t_int / 120.0)
        if not pk.any():
            return []
        prob = make_problem(
            values=p.score[cand] + 1e-3,
            kill_prob=pk,
            rounds=rounds,
            channels=[b.fire_channels for b in bats],
            feasible=feasible,
            max_salvo=1,
        )
        x = solve_greedy(prob).x
        out: list[ev.Event] = []
        for j in range(cand.size):  # per engaged target (a handful), never per detection
            ws = np.flatnonzero(x[:, j] > 0)
            if ws.size == 0:
                continue
            w = int(ws[np.argmax(pk[ws, j])])  # one round per threat per cycle
            track = p.track_id[int(cand[j])]
            shot = self.shots.get(track, 0) + 1
            order = Order(
                derived_id(self.cfg.run_tag, "order", track, shot),
                self.cfg.scenario_id,
                bats[w],
                track,
                shot,
                float(pk[w, j]),
                when,
            )
            if not self.orders.place(order):
                continue
            self.shots[track] = shot
            self.in_flight.setdefault(track, set()).add(f"pending:{order.order_id}")
            out.append(
                ev.CommandIntercept(
                    event_id=order.order_id,
                    time=when,
                    track_id=track,
                    battery_id=bats[w].call_sign,
                    interceptor_type=getattr(bats[w].interceptor, "name", "interceptor"),
                    pk=order.pk,
                    shot=shot,
                    scenario_id=self.cfg.scenario_id,
                )
            )
        return out


@dataclass
class CycleOutput:
    picture: TrackPicture
    events: list[ev.Event]
    timing: dict[str, float]
    n_detections: int


class _Clock:
    def __init__(self, into: dict[str, float]) -> None:
        self.into = into

    def __call__(self, name: str) -> _Timer:
        return _Timer(self.into, name)


class _Timer:
    def __init__(self, into: dict[str, float], name: str) -> None:
        self.into, self.name = into, name

    def __enter__(self) -> None:
        import time

        self.t = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        import time

        self.into[self.name] = self.into.get(self.name, 0.0) + time.perf_counter() - self.t


def _rotation(lat_deg: float, lon_deg: float) -> FloatArray:
    e, n, u = geo.enu_axes(lat_deg, lon_deg)
    return np.stack([e, n, u], axis=-2)


def _local_velocity(vel_ecef: FloatArray, lat: FloatArray, lon: FloatArray) -> FloatArray:
    e, n, u = geo.enu_axes(lat, lon)
    return np.stack(
        [
            np.sum(vel_ecef * e, axis=-1),
            np.sum(vel_ecef * n, axis=-1),
            np.sum(vel_ecef * u, axis=-1),
        ],
        axis=-1,
    )


# ----------------------------------------------------------------------------- battery


class BatteryStage:
    """Fires on orders for its batteries: one ``interceptor.launched`` per order (idempotent)."""

    name = "battery"
    subjects = ("command.intercept",)

    def __init__(self, cfg: DefenseConfig, call_signs: Sequence[str] | None = None) -> None:
        self.cfg = cfg
        self.batteries = {
            b.call_sign: b
            for b in (cfg.batteries if not call_signs else [cfg.battery(c) for c in call_signs])
        }

    def handle(self, event: ev.Event) -> list[ev.Event]:
        if not isinstance(event, ev.CommandIntercept) or event.battery_id not in self.batteries:
            return []
        b = self.batteries[event.battery_id]
        return [
            ev.InterceptorLaunched(
                event_id=derived_id("launch", event.event_id),
                causation_id=event.event_id,
                time=event.time,
                interceptor_id=str(derived_id("interceptor", event.event_id)),
                battery_id=b.call_sign,
                track_id=event.track_id,
                lat_deg=b.lat_deg,
                lon_deg=b.lon_deg,
                alt_m=b.alt_m,
            )
        ]
