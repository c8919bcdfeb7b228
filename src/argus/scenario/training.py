"""Simulated, labelled track windows for training the track classifier (:mod:`argus.defense.classify`).

One call flies hundreds of objects of every class at once around one long-range surveillance
radar, observes them with the real radar model (Swerling fluctuation, 4/3-Earth horizon, false
alarms, measurement noise; :func:`argus.sensors.radar.observe`), tracks the detections with the
real tracker (the coverage-aware CV/GNN tracker of :func:`argus.scenario.track.track_scenario`,
with the coasting limit of :func:`max_position_trace_m2`) and cuts windows of K track updates
from each kept track at random points of its life (:data:`WINDOWS_PER_TRACK`), so that young
tracks (two or three updates) are represented as well as long ones.

What flies (geometry random but plausible; each class's objects are drawn independently):

- ``ballistic_missile``: every ``kind = "ballistic"`` catalogue type, launched from 10-85 % of
  its nominal range towards the radar's area with a random pitch-program end elevation (20-75°:
  depressed to lofted) and cut-off (55-100 % of the burn), launch times spread so the radar sees
  boost, midcourse and re-entry (:func:`argus.sim.ballistic.fly_ballistic`: no aim point is
  solved for, which is what makes :func:`~argus.sim.ballistic.launch_ballistic` slow);
- ``cruise_missile``, ``aircraft``, ``drone``: every catalogue type of that kind on four random
  waypoints (legs of 2.5-5 min, heading changes N(0, 40°), per-waypoint speed and altitude drawn
  inside the type's limits; cruise missiles mostly low, 15-300 m), heading mostly towards the
  radar, a third of them with one or two coordinated turns up to the type's load limit
  (:func:`argus.sim.airbreathing.fly_airbreathing`);
- ``clutter``: the catalogue has no clutter entry (it lists threats), so clutter is built here:
  slow (2-25 m/s) low (10-800 m) erratic movers 3-60 km from the radar — birds, flocks, ground
  and sea clutter — with a random-walk heading and speed and an RCS of 0.001-0.03 m²
  (log-uniform); plus the tracks the tracker builds from false alarms, labelled clutter too.

A track is labelled with the class of the object that made most of the detections it was
updated with (a false alarm counts as clutter); tracks with fewer than
:data:`MIN_TRACK_UPDATES` updates in their life or a purity under :data:`MIN_PURITY` (junk
strung from several objects' detections) are dropped. The RCS of each update comes from the
associated detection's SNR and range (:func:`argus.defense.classify.rcs_dbsm_from_snr`), as the
runtime pipeline computes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from argus import geo
from argus.defense.classify import CLASSES, TrackWindow, radar_constant_db, rcs_dbsm_from_snr
from argus.scenario.runner import (
    AirVehicle,
    Scenario,
    ScenarioResult,
    TruthSet,
    fly_scenario,
)
from argus.scenario.track import _coverage_scans, _enu_to_ecef, detections_to_common_enu
from argus.sensors.radar import JammerStrobes, Targets, observe
from argus.sensors.site import RadarSite
from argus.sim.airbreathing import AirRoute, Manoeuvre, Waypoint
from argus.sim.ballistic import fly_ballistic
from argus.sim.catalogue import AirBreathingThreat, BallisticThreat, Catalogue, load_catalogue
from argus.tracking.tracker import TrackHistory, make_cv_tracker
from argus.trajectory import TrajectorySet

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Catalogue kind → classifier class.
KIND_TO_CLASS = {
    "ballistic": "ballistic_missile",
    "cruise_missile": "cruise_missile",
    "aircraft": "aircraft",
    "drone": "drone",
    "clutter": "clutter",
}

#: The long-range S-band surveillance radar of the example raid (``examples/raid.toml``).
DEFAULT_RADAR = RadarSite(
    radar_id=1,
    name="S-band surveillance",
    lat_deg=-25.20,
    lon_deg=134.80,
    alt_m=150.0,
    antenna_height_m=15.0,
    max_range_m=450_000.0,
    min_range_m=2_000.0,
    min_elevation_deg=-1.0,
    max_elevation_deg=60.0,
    scan_period_s=10.0,
    sigma_range_m=75.0,
    sigma_azimuth_deg=0.25,
    sigma_elevation_deg=0.4,
)

#: A track is kept for training if it had at least this many updates in its life ...
MIN_TRACK_UPDATES = 4
#: ... and at least this fraction of them came from its majority object.
MIN_PURITY = 0.6
#: At most this many clutter movers per round: they all fly within 60 km of the radar, and
#: with the tracker's 30 m/s² process noise a denser field swaps tracks between them.
MAX_CLUTTER_PER_ROUND = 60
#: Windows cut from each kept track, at independent random points of its life.
WINDOWS_PER_TRACK = 3
#: Simulated time of one round (s).
ROUND_DURATION_S = 900.0
#: At most this many objects of one class fly in one round (keeps the track density plausible).
MAX_PER_CLASS_PER_ROUND = 100


@dataclass(frozen=True)
class TrainingTracks:
    """What :func:`simulate_training_tracks_detailed` returns: windows, labels, and per window
    the truth object's catalogue key (``"clutter"``/``"false_alarm"`` for clutter) and the
    fraction of the track's updates that came from that object (its purity)."""

    window: TrackWindow
    labels: npt.NDArray[np.str_]
    threat_keys: npt.NDArray[np.str_]
    purity: FloatArray


def radar_constant_of(radar: RadarSite) -> float:
    """:func:`argus.defense.classify.radar_constant_db` with a :class:`RadarSite`'s numbers."""
    return radar_constant_db(
        radar.peak_power_w,
        radar.gain_db,
        radar.frequency_hz,
        radar.noise_figure_db,
        radar.bandwidth_hz,
        radar.losses_db,
        radar.processing_gain_db,
    )


def max_position_trace_m2(radar: RadarSite, velocity_sigma_mps: float = 1500.0) -> float:
    """Coasting limit of the tracker's :class:`~argus.tracking.management.CovarianceDeleter`.

    The settings of :func:`argus.scenario.track.track_scenario` (1e8 m², prior velocity σ
    1500 m/s) delete a tentative track once 3 (1500 t)² > 1e8, i.e. 3.8 s after its first
    detection: with one radar revisiting every 10 s no track would ever get its second look.
    Here the limit is the trace after two revolutions of coasting on the prior velocity, so
    a track misses at most one look before it is judged lost.
    """
    return float(3.0 * (velocity_sigma_mps * 2.0 * radar.scan_period_s) ** 2)


# ----------------------------------------------------------------------------- geometry


def _offset(
    lat_deg: FloatArray, lon_deg: FloatArray, bearing_deg: FloatArray, dist_m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Points ``dist_m`` along ``bearing_deg`` from (lat, lon) on the sphere (fine for routes)."""
    r = geo.MEAN_EARTH_RADIUS_M
    p1, l1, b = np.radians(lat_deg), np.radians(lon_deg), np.radians(bearing_deg)
    d = np.asarray(dist_m) / r
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), np.degrees(l2)


@dataclass(frozen=True)
class _Group:
    """Targets of one class group: trajectories, ids, keys, kinds and radar signature."""

    traj: TrajectorySet
    ids: IntArray
    keys: list[str]
    kinds: list[str]
    rcs_m2: FloatArray
    rcs_after_m2: FloatArray
    switch_s: FloatArray
    swerling: IntArray


def _ballistic_group(
    threats: list[BallisticThreat], n: int, radar: RadarSite, rng: np.random.Generator, id0: int
) -> _Group:
    """n missiles launched towards the radar's area with random pitch programs (end elevation
    20-75°: depressed to lofted) and cut-offs (55-100 % of the burn), from 10-85 % of their
    nominal range away: no aim point is solved for (that is the slow part of
    :func:`~argus.sim.ballistic.launch_ballistic`), they land wherever the shape takes them,
    within a few hundred km of the radar."""
    kinds = rng.integers(0, len(threats), n)
    th = [threats[int(k)] for k in kinds]
    nominal = np.array([t.nominal_range_km for t in th]) * 1e3
    dist = nominal * rng.uniform(0.1, 0.85, n)
    bearing = rng.uniform(0.0, 360.0, n)
    lat, lon = _offset(np.full(n, radar.lat_deg), np.full(n, radar.lon_deg), bearing, dist)
    azimuth = np.mod(bearing + 180.0 + rng.normal(0.0, 20.0, n), 360.0)
    burn = np.array([t.burn_time_s for t in th])
    cutoff = burn * rng.uniform(0.55, 1.0, n)
    tof_guess = 150.0 + 0.45 * dist / 1e3
    launch = rng.uniform(-0.8 * tof_guess, ROUND_DURATION_S - 120.0)
    flight = fly_ballistic(
        th, lat, lon, azimuth, rng.uniform(20.0, 75.0, n), cutoff_s=cutoff, launch_time_s=launch
    )
    assert flight.trajectories is not None
    return _Group(
        traj=flight.trajectories,
        ids=np.arange(id0, id0 + n, dtype=np.int64),
        keys=[t.key for t in th],
        kinds=["ballistic"] * n,
        rcs_m2=np.array([t.rcs_m2 for t in th]),
        rcs_after_m2=np.array([t.reentry_rcs_m2 for t in th]),
        switch_s=launch + cutoff,
        swerling=np.array([t.swerling for t in th], dtype=np.int64),
    )


def _air_vehicles(
    threats: list[AirBreathingThreat],
    n: int,
    radar: RadarSite,
    rng: np.random.Generator,
    id0: int,
) -> list[AirVehicle]:
    out = []
    for i in range(n):  # building n small route records; the flight itself is vectorized
        th = threats[int(rng.integers(0, len(threats)))]
        if th.kind == "cruise_missile":
            low = rng.uniform() < 0.75
            alt = (
                rng.uniform(max(th.min_alt_m, 15.0), 300.0)
                if low
                else rng.uniform(300, th.max_alt_m)
            )
        elif th.kind == "drone":
            alt = rng.uniform(max(th.min_alt_m, 50.0), min(th.max_alt_m, 3000.0))
        else:
            alt = float(
                np.exp(
                    rng.uniform(math.log(max(th.min_alt_m, 100.0)), math.log(th.max_alt_m * 0.85))
                )
            )
        # Start where the radar can see that height (4/3-Earth horizon), mostly inbound.
        horizon = 4120.0 * (math.sqrt(radar.antenna_alt_m) + math.sqrt(alt))
        max_r = min(
            0.95 * radar.max_range_m,
            1.2 * horizon,
            max(8.0 * th.max_speed_mps * 60.0 + 60e3, 180e3),
        )
        r0 = rng.uniform(5e3, max(max_r, 10e3))
        b0 = rng.uniform(0, 360)
        lat0, lon0 = _offset(
            np.array([radar.lat_deg]), np.array([radar.lon_deg]), np.array([b0]), np.array([r0])
        )
        heading = (b0 + 180.0 + rng.normal(0, 40.0)) if rng.uniform() < 0.7 else rng.uniform(0, 360)
        lo_v = max(th.min_speed_mps, 0.5 * th.cruise_speed_mps)
        hi_v = th.max_speed_mps if th.kind != "aircraft" else min(th.max_speed_mps, 550.0)
        pts = [Waypoint(float(lat0[0]), float(lon0[0]), alt)]
        lat, lon = lat0, lon0
        for _ in range(3):
            v = rng.uniform(lo_v, hi_v)
            heading += rng.normal(0, 40.0)
            lat, lon = _offset(lat, lon, np.array([heading]), np.array([v * rng.uniform(150, 300)]))
            a = float(np.clip(alt * rng.uniform(0.7, 1.3), th.min_alt_m, th.max_alt_m))
            pts.append(Waypoint(float(lat[0]), float(lon[0]), a, float(v)))
        start = float(rng.uniform(0.0, 0.6 * ROUND_DURATION_S))
        mans = []
        if rng.uniform() < 0.35:
            for _ in range(int(rng.integers(1, 3))):
                mans.append(
                    Manoeuvre(
                        start + float(rng.uniform(20.0, 400.0)),
                        float(rng.uniform(10.0, 60.0)),
                        float(rng.uniform(1.2, th.max_load_factor_g)),
                        "left" if rng.uniform() < 0.5 else "right",
                    )
                )
        mans.sort(key=lambda m: m.start_time_s)
        route = AirRoute(
            threat=th,
            waypoints=tuple(pts),
            start_time_s=start,
            manoeuvres=tuple(mans),
            end_time_s=ROUND_DURATION_S,
        )
        out.append(AirVehicle(id0 + i, route))
    return out


def _clutter_trajectories(
    n: int, radar: RadarSite, rng: np.random.Generator, step_s: float = 2.0
) -> tuple[TrajectorySet, FloatArray]:
    """n slow, low, erratic movers near the radar (random-walk heading and speed) and their RCS."""
    k = int(ROUND_DURATION_S / step_s) + 1
    t = np.arange(k) * step_s
    start = rng.uniform(0.0, ROUND_DURATION_S - 200.0, n)
    dur = rng.uniform(200.0, ROUND_DURATION_S, n)
    r0 = 1e3 * np.sqrt(rng.uniform(3.0**2, 60.0**2, n))  # uniform in area
    lat0, lon0 = _offset(
        np.full(n, radar.lat_deg), np.full(n, radar.lon_deg), rng.uniform(0, 360, n), r0
    )
    alt0 = rng.uniform(10.0, 800.0, n)
    speed0 = rng.uniform(2.0, 25.0, n)
    # Heading: random walk (turn-rate sigma 2-10 °/s per step); speed: mean-reverting walk.
    turn_sigma = np.radians(rng.uniform(2.0, 10.0, n))
    heading = rng.uniform(0, 2 * math.pi, n)[:, None] + np.cumsum(
        turn_sigma[:, None] * step_s * rng.standard_normal((n, k)), axis=1
    )
    speed = np.clip(
        speed0[:, None] * (1.0 + 0.3 * np.cumsum(rng.standard_normal((n, k)), axis=1) / np.sqrt(k)),
        0.5,
        30.0,
    )
    vz = 0.5 * rng.standard_normal((n, k))
    ve, vn = speed * np.sin(heading), speed * np.cos(heading)
    e = np.cumsum(ve, axis=1) * step_s
    nn = np.cumsum(vn, axis=1) * step_s
    u = np.clip(alt0[:, None] + np.cumsum(vz, axis=1) * step_s, 5.0, 1500.0)
    lat, lon, h = geo.enu_to_geodetic(
        e, nn, u - alt0[:, None], lat0[:, None], lon0[:, None], alt0[:, None]
    )
    pos = np.stack(geo.geodetic_to_ecef(lat, lon, h), axis=-1)
    ea, na, ua = geo.enu_axes(lat, lon)
    vel = ve[..., None] * ea + vn[..., None] * na + vz[..., None] * ua
    acc = np.gradient(vel, step_s, axis=1)
    # Keep each mover's [start, start + dur] part: shift its knots to the front of the row.
    first = np.searchsorted(t, start)
    n_knots = np.minimum(((dur / step_s).astype(np.int64) + 1), k - first)
    cols = np.minimum(np.arange(k)[None, :], (n_knots - 1)[:, None]) + first[:, None]
    rows = np.arange(n)[:, None]
    traj = TrajectorySet(
        np.broadcast_to(t, (n, k))[rows, cols] * 1.0,
        pos[rows, cols - first[:, None]],
        vel[rows, cols - first[:, None]],
        acc[rows, cols - first[:, None]],
        n_knots.astype(np.int64),
    )
    rcs = np.exp(rng.uniform(math.log(1e-3), math.log(3e-2), n))
    return traj, rcs


# ----------------------------------------------------------------------------- one round


def _simulate_round(
    counts: dict[str, int],
    catalogue: Catalogue,
    radar: RadarSite,
    rng: np.random.Generator,
) -> tuple[TrackHistory, FloatArray, IntArray, FloatArray, dict[int, tuple[str, str]]]:
    """Fly, observe and track one round. Returns the history, the RCS (dBsm) and truth id of
    the detection matched to each history row (NaN / -2 for prediction-only rows), the rows'
    'updated' flag as float, and truth id → (class, threat key)."""
    by_kind: dict[str, list[BallisticThreat | AirBreathingThreat]] = {}
    for th in catalogue.values():
        by_kind.setdefault(th.kind, []).append(th)
    groups: list[_Group] = []
    next_id = 1
    if counts.get("ballistic_missile", 0):
        ths = [t for t in by_kind.get("ballistic", []) if isinstance(t, BallisticThreat)]
        groups.append(_ballistic_group(ths, counts["ballistic_missile"], radar, rng, next_id))
        next_id += counts["ballistic_missile"]
    air: list[AirVehicle] = []
    for kind in ("cruise_missile", "aircraft", "drone"):
        m = counts.get(kind, 0)
        ths_a = [t for t in by_kind.get(kind, []) if isinstance(t, AirBreathingThreat)]
        if m and ths_a:
            air.extend(_air_vehicles(ths_a, m, radar, rng, next_id + len(air)))
    scenario = Scenario(
        name="classifier training",
        duration_s=ROUND_DURATION_S,
        seed=0,
        truth_sample_s=1.0,
        epoch=None,
        ballistic=(),
        airbreathers=tuple(air),
        radars=(radar,),
        jammers=(),
        catalogue=catalogue,
    )
    if air:
        truth_a, targets_a, _, _ = fly_scenario(scenario)
        assert targets_a.rcs_switch_time_s is not None and targets_a.rcs_after_m2 is not None
        groups.append(
            _Group(
                targets_a.trajectories,
                truth_a.truth_id,
                list(truth_a.threat_keys),
                list(truth_a.kinds),
                targets_a.rcs_m2,
                targets_a.rcs_after_m2,
                targets_a.rcs_switch_time_s,
                targets_a.swerling,
            )
        )
        next_id += len(air)
    n_clutter = counts.get("clutter", 0)
    if n_clutter:
        ctraj, crcs = _clutter_trajectories(n_clutter, radar, rng)
        groups.append(
            _Group(
                ctraj,
                np.arange(next_id, next_id + n_clutter, dtype=np.int64),
                ["clutter"] * n_clutter,
                ["clutter"] * n_clutter,
                crcs,
                crcs,
                np.full(n_clutter, np.inf),
                np.full(n_clutter, 2, dtype=np.int64),  # flocks and sea clutter decorrelate
            )
        )
    traj = TrajectorySet.concatenate([g.traj for g in groups])
    ids = np.concatenate([g.ids for g in groups])
    keys = [k for g in groups for k in g.keys]
    kinds = [k for g in groups for k in g.kinds]
    targets = Targets(
        trajectories=traj,
        truth_id=ids,
        rcs_m2=np.concatenate([g.rcs_m2 for g in groups]),
        swerling=np.concatenate([g.swerling for g in groups]),
        rcs_switch_time_s=np.concatenate([g.switch_s for g in groups]),
        rcs_after_m2=np.concatenate([g.rcs_after_m2 for g in groups]),
    )
    truth = TruthSet(ids, tuple(keys), tuple(kinds), traj)
    lookup = {
        int(i): (KIND_TO_CLASS[k], key) for i, k, key in zip(ids.tolist(), kinds, keys, strict=True)
    }
    lookup[-1] = ("clutter", "false_alarm")
    det = observe(radar, targets, 0.0, ROUND_DURATION_S, rng).detections.sorted_by_time()
    result = ScenarioResult(scenario, truth, targets, det, JammerStrobes.empty(), (), ())
    lat0, lon0 = radar.lat_deg, radar.lon_deg
    pos, cov = detections_to_common_enu(det, lat0, lon0)
    trk = make_cv_tracker(
        3, 30.0, velocity_sigma=1500.0, m=3, n=4, gate_probability=0.99, max_misses=5,
        max_position_trace=max_position_trace_m2(radar),
    )  # fmt: skip
    scans = _coverage_scans(result, det, pos, cov, 1.0, lat0, lon0, trk.ndim_state)
    hist = TrackHistory.from_estimates(trk.run(scans), trk.ndim_state)

    # Rows sorted by (track, time); an update shrinks the position covariance, a prediction
    # grows it, so a row is an update where the trace fell (or the track's first row).
    order = np.lexsort((hist.time, hist.track_id))
    hist = TrackHistory(
        hist.time[order], hist.scan_index[order], hist.track_id[order], hist.status[order],
        hist.mean[order], hist.covar[order],
    )  # fmt: skip
    trace = np.trace(hist.covar[:, :3, :3], axis1=1, axis2=2)
    new_track = np.r_[True, hist.track_id[1:] != hist.track_id[:-1]][: hist.time.size]
    updated = new_track | np.r_[False, trace[1:] < trace[:-1]][: hist.time.size]
    # The detection of each update: the nearest one of the same 1 s bin (4-D KD-tree, the bin
    # number scaled far apart so neighbours never cross bins).
    rcs = np.full(hist.time.size, np.nan)
    tid = np.full(hist.time.size, -2, dtype=np.int64)
    if len(det) and hist.time.size:
        sep = 1e9
        tree = cKDTree(np.c_[pos, np.floor(det.time_s) * sep])
        q = np.c_[hist.mean[:, :3], np.floor(hist.time) * sep]
        dist, j = tree.query(q[updated], distance_upper_bound=20e3)
        hit = np.isfinite(dist)
        rows = np.flatnonzero(updated)[hit]
        jj = j[hit]
        rcs[rows] = rcs_dbsm_from_snr(det.snr_db[jj], det.range_m[jj], radar_constant_of(radar))
        tid[rows] = det.truth_id[jj]
    return hist, rcs, tid, updated.astype(np.float64), lookup


def _windows_of_round(
    hist: TrackHistory,
    rcs: FloatArray,
    tid: IntArray,
    updated: FloatArray,
    lookup: dict[int, tuple[str, str]],
    length: int,
    radar: RadarSite,
    rng: np.random.Generator,
) -> TrainingTracks:
    keep = updated > 0
    track = hist.track_id[keep]
    uniq, tix = np.unique(track, return_inverse=True)
    n = uniq.size
    t = hist.time[keep]
    mean = hist.mean[keep]
    pos = _enu_to_ecef(mean[:, :3], radar.lat_deg, radar.lon_deg)
    e, nn, u = geo.enu_axes(radar.lat_deg, radar.lon_deg)
    vel = mean[:, 3:6] @ np.stack([e, nn, u])
    # Label: the truth id with most matched updates (ties: the smallest id).
    t_ids = tid[keep]
    matched = t_ids != -2
    pair_keys, pair_counts = np.unique(
        np.c_[tix[matched], t_ids[matched]], axis=0, return_counts=True
    )
    best = np.full(n, -2, dtype=np.int64)
    share = np.zeros(n)
    if pair_keys.size:
        o = np.lexsort((-pair_counts, pair_keys[:, 0]))
        pk, pc = pair_keys[o], pair_counts[o]
        first = np.r_[True, pk[1:, 0] != pk[:-1, 0]]
        best[pk[first, 0]] = pk[first, 1]
        total = np.bincount(tix[matched], minlength=n)
        share[pk[first, 0]] = pc[first] / np.maximum(total[pk[first, 0]], 1)
    counts = np.bincount(tix, minlength=n)
    # Keep tracks that lived (more updates than the confirmation took) and mostly followed one
    # object: the rest are short-lived junk, tracks strung from several objects' detections.
    labelled = (best != -2) & (counts >= MIN_TRACK_UPDATES) & (share >= MIN_PURITY)
    lo = np.minimum(1, counts - 1)
    labels = np.array([lookup[int(b)][0] if b != -2 else "" for b in best.tolist()], dtype=np.str_)
    keys = np.array([lookup[int(b)][1] if b != -2 else "" for b in best.tolist()], dtype=np.str_)
    idx = np.flatnonzero(labelled)
    parts = []
    for _ in range(WINDOWS_PER_TRACK):  # independent cut points in each track's life
        end = lo + np.floor(rng.uniform(0, 1, n) * (counts - lo)).astype(np.int64)
        win = TrackWindow.from_rows(tix, t, pos, vel, rcs[keep], n, length, end_row=end)
        parts.append(win.take(idx))
    reps = WINDOWS_PER_TRACK
    return TrainingTracks(
        TrackWindow.concatenate(parts),
        np.tile(labels[idx], reps),
        np.tile(keys[idx], reps),
        np.tile(share[idx], reps),
    )


# ----------------------------------------------------------------------------- public


def simulate_training_tracks_detailed(
    n_per_class: int,
    seed: int,
    catalogue: Catalogue | None = None,
    window: int = 16,
    *,
    radar: RadarSite = DEFAULT_RADAR,
    max_rounds: int = 60,
) -> TrainingTracks:
    """:func:`simulate_training_tracks` with the threat key and purity of every window."""
    if n_per_class < 1:
        raise ValueError(f"n_per_class: must be >= 1, got {n_per_class}")
    if window < 2:
        raise ValueError(f"window: must be >= 2, got {window}")
    cat = load_catalogue() if catalogue is None else catalogue
    present = {KIND_TO_CLASS[t.kind] for t in cat.values()} | {"clutter"}
    missing = [c for c in CLASSES if c not in present]
    if missing:
        raise ValueError(
            f"catalogue has no threat of class(es) {missing}; the classifier needs all of {list(CLASSES)}"
        )
    ss = np.random.SeedSequence(seed)
    parts: list[TrainingTracks] = []
    have = dict.fromkeys(CLASSES, 0)
    yield_guess = dict.fromkeys(CLASSES, 1.0)
    for _ in range(max_rounds):
        short = {c: n_per_class - have[c] for c in CLASSES if have[c] < n_per_class}
        if not short:
            break
        counts = {
            c: min(
                MAX_CLUTTER_PER_ROUND if c == "clutter" else MAX_PER_CLASS_PER_ROUND,
                math.ceil(1.15 * s / yield_guess[c]) + 3,
            )
            for c, s in short.items()
        }
        rng = np.random.default_rng(ss.spawn(1)[0])
        got = _windows_of_round(*_simulate_round(counts, cat, radar, rng), window, radar, rng)
        # False-alarm clutter tracks appear whatever was flown; keep only the asked classes.
        for c in CLASSES:
            m = got.labels == c
            if c in counts:
                yield_guess[c] = max(0.1, float(m.sum()) / counts[c])
        keep = np.isin(got.labels, list(short))
        got = TrainingTracks(
            got.window.take(keep), got.labels[keep], got.threat_keys[keep], got.purity[keep]
        )
        parts.append(got)
        for c in short:
            have[c] += int(np.sum(got.labels == c))
    window_all = TrackWindow.concatenate([p.window for p in parts])
    labels = np.concatenate([p.labels for p in parts])
    keys = np.concatenate([p.threat_keys for p in parts])
    purity = np.concatenate([p.purity for p in parts])
    # Exactly n_per_class of each class (fewer if max_rounds ran out), in a seeded order.
    rng = np.random.default_rng(ss.spawn(1)[0])
    pick = []
    for c in CLASSES:
        idx = np.flatnonzero(labels == c)
        pick.append(rng.permutation(idx)[:n_per_class])
    sel = rng.permutation(np.concatenate(pick))
    return TrainingTracks(window_all.take(sel), labels[sel], keys[sel], purity[sel])


def simulate_training_tracks(
    n_per_class: int,
    seed: int,
    catalogue: Catalogue | None = None,
    window: int = 16,
    *,
    radar: RadarSite = DEFAULT_RADAR,
) -> tuple[TrackWindow, npt.NDArray[np.str_]]:
    """Simulated track windows (``n_per_class`` of each of :data:`~argus.defense.classify.CLASSES`)
    and their class names, deterministic for a seed (see the module docstring for the
    geometry). ``window`` is K, the number of track updates per window. If a class cannot be
    filled in 8 rounds of simulation it has fewer windows (it does not happen with the
    default radar and catalogue)."""
    out = simulate_training_tracks_detailed(n_per_class, seed, catalogue, window, radar=radar)
    return out.window, out.labels
