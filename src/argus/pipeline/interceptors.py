"""The interceptor stage: flies every interceptor in the air, one vectorized step for all.

Guidance steers at the *tracked* target (the command centre's latest estimate of the track the
order named, extrapolated at constant velocity) and, inside seeker range, at the seeker's own
noisy measurement of the true target (:mod:`argus.defense.interceptor`). The fuze and the kill
use the truth: each interceptor is bound at launch to the flight nearest to its track (what a
warhead meets is whatever is there, not the track). Steps are 50 ms far out and 2 ms inside
1.5 s to go, each interceptor on its own clock up to the cycle's end.

An interceptor whose target died (killed by another round, or impacted) self-destructs:
``interceptor.detonation`` with ``reason = "self_destruct"`` and no kill — none is ever left
flying at nothing. Seeker noise and kill draws are keyed by the interceptor's id, so a stage
restarted mid-flight replays the same engagement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from argus import geo
from argus.defense.envelope import fly_out_intercept
from argus.defense.interceptor import (
    InterceptorParams,
    InterceptorState,
    InterceptorType,
    keyed_normal,
    keyed_uniform,
    launch,
    seeker_measure,
    step,
)
from argus.pipeline import events as ev
from argus.pipeline.stages import DefenseConfig, TrackPicture, derived_id
from argus.pipeline.world import World

FloatArray = npt.NDArray[np.float64]

DT_FAR_S = 0.05
DT_NEAR_S = 0.02  # median miss 0.27 m vs 0.08 m at 2 ms (docs/defense.md), a quarter of the steps
NEAR_TGO_S = 1.5


def _concat(a: Any, b: Any) -> Any:
    """Row-wise concatenation of two struct-of-arrays dataclasses of the same type."""
    out = {}
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        out[f.name] = (
            _concat(x, y) if hasattr(x, "__dataclass_fields__") else np.concatenate([x, y])
        )
    return type(a)(**out)


class InterceptorStage:
    name = "interceptor"
    subjects = (
        "missile.launched",
        "interceptor.launched",
        "tracking.updated",
        "interceptor.detonation",
    )

    def __init__(self, cfg: DefenseConfig, world: World, launcher: Any = None) -> None:
        from argus.pipeline.stages import launch_into_world

        self.cfg = cfg
        self.world = world
        self.launcher = launcher or launch_into_world
        self.types: list[InterceptorType] = []
        self.state: InterceptorState | None = None
        self.ids: list[str] = []
        self.track: list[str] = []
        self.battery: list[str] = []
        self.truth_index = np.zeros(0, dtype=np.int64)
        self.key = np.zeros(0, dtype=np.int64)
        self.counter = np.zeros(0, dtype=np.int64)
        # the last tracked state of each interceptor's track (ECEF), and its time (s)
        self.last_pos = np.zeros((0, 3))
        self.last_vel = np.zeros((0, 3))
        self.last_t = np.zeros(0)
        self._seen: set[str] = set()
        self.picture: TrackPicture | None = None
        self._tracks: dict[str, tuple[float, FloatArray, FloatArray]] = {}

    # ---- bus door
    def handle(self, event: ev.Event) -> list[ev.Event]:
        if isinstance(event, ev.MissileLaunched):
            self.launcher(self.world, event)
        elif isinstance(event, ev.TrackingUpdated):
            lat, lon, alt = event.lat_deg, event.lon_deg, event.alt_m
            pos = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1)
            e, n, u = geo.enu_axes(lat, lon)
            v = np.asarray(event.velocity_enu_mps)
            vel = v[0] * e + v[1] * n + v[2] * u
            self._tracks[event.track_id] = (self.world.seconds(event.time), pos, vel)
        elif isinstance(event, ev.InterceptorLaunched):
            self.add(event)
        elif (
            isinstance(event, ev.InterceptorDetonation)
            and event.kill
            and event.target_flight_id
            and event.target_flight_id in self.world
        ):
            self.world.kill(event.target_flight_id, self.world.seconds(event.time))
        return []

    def update_tracks(self, picture: TrackPicture) -> None:
        """The command centre's picture, in process (the bus path uses tracking.updated)."""
        self.picture = picture
        if not len(picture) or not self.ids:
            return
        t = self.world.seconds(picture.time)
        names = np.asarray(picture.track_id)
        order = np.argsort(names)
        mine = np.asarray(self.track)
        k = np.searchsorted(names[order], mine)
        k = np.minimum(k, len(names) - 1)
        hit = names[order][k] == mine
        rows = order[k[hit]]
        pos = np.stack(
            geo.geodetic_to_ecef(picture.lat_deg[rows], picture.lon_deg[rows], picture.alt_m[rows]),
            axis=-1,
        )
        e, n, u = geo.enu_axes(picture.lat_deg[rows], picture.lon_deg[rows])
        v = picture.vel_enu_mps[rows]
        vel = v[:, [0]] * e + v[:, [1]] * n + v[:, [2]] * u
        self.last_pos[hit] = pos
        self.last_vel[hit] = vel
        self.last_t[hit] = t

    def refresh_tracks(self) -> None:
        """The latest ``tracking.updated`` of every interceptor's track (the bus path)."""
        for i, name in enumerate(self.track):  # per interceptor in the air (a handful)
            known = self._tracks.get(name)
            if known is not None and known[0] >= self.last_t[i]:
                self.last_t[i], self.last_pos[i], self.last_vel[i] = known

    def add(self, event: ev.InterceptorLaunched) -> None:
        if event.interceptor_id in self._seen:
            return
        self._seen.add(event.interceptor_id)
        bat = self.cfg.battery(event.battery_id)
        itype = bat.interceptor
        if itype not in self.types:
            self.types.append(itype)
        t0 = self.world.seconds(event.time)
        lp = bat.ecef_m.reshape(1, 3)
        known = self._tracks.get(event.track_id)
        if known is None:
            tp, tv, tt = self._picture_state(event.track_id)
        else:
            tt, tp, tv = known
        if tp is None:
            tp, tv, tt = lp[0] + np.array([0.0, 0.0, 1.0]), np.zeros(3), t0
        tp = tp + tv * (t0 - tt)
        t_hit, pip = fly_out_intercept(lp, tp.reshape(1, 3), tv.reshape(1, 3), itype)
        direction = (pip[0] if np.isfinite(t_hit[0]) else tp) - lp[0]
        # bind to the truth nearest to the track at launch
        idx, tpos, _ = self.world.truth_at(t0)
        truth = int(idx[np.argmin(np.linalg.norm(tpos - tp, axis=1))]) if idx.size else -1
        new = launch(
            self.types, [self.types.index(itype)], lp, direction.reshape(1, 3), [t0], [truth]
        )
        self.state = new if self.state is None else _concat(self.state, new)
        if self.state is not None and len(self.types) > 1:
            self.state = replace(
                self.state, params=InterceptorParams.of(self.types, self.state.type_index)
            )
        self.ids.append(event.interceptor_id)
        self.track.append(event.track_id)
        self.battery.append(event.battery_id)
        self.truth_index = np.append(self.truth_index, truth)
        self.key = np.append(self.key, np.int64(int(derived_id(event.interceptor_id).int >> 65)))
        self.counter = np.append(self.counter, 0)
        self.last_pos = np.vstack([self.last_pos, tp.reshape(1, 3)])
        self.last_vel = np.vstack([self.last_vel, tv.reshape(1, 3)])
        self.last_t = np.append(self.last_t, t0)

    def _picture_state(self, track_id: str) -> tuple[Any, Any, float]:
        p = self.picture
        if p is None or track_id not in p.track_id:
            return None, None, 0.0
        i = p.track_id.index(track_id)
        pos = np.stack(geo.geodetic_to_ecef(p.lat_deg[i], p.lon_deg[i], p.alt_m[i]), axis=-1)
        e, n, u = geo.enu_axes(p.lat_deg[i], p.lon_deg[i])
        v = p.vel_enu_mps[i]
        return pos, v[0] * e + v[1] * n + v[2] * u, self.world.seconds(p.time)

    @property
    def n_alive(self) -> int:
        return 0 if self.state is None else int(self.state.alive.sum())

    def positions(self) -> tuple[list[str], FloatArray]:
        """Ids and ECEF positions of the interceptors in flight (for the picture)."""
        if self.state is None:
            return [], np.zeros((0, 3))
        alive = np.flatnonzero(self.state.alive)
        return [self.ids[i] for i in alive], self.state.pos[alive]

    # ---- time door
    def advance(self, t1: float) -> list[ev.Event]:
        """Fly every live interceptor to ``t1``; the detonations on the way."""
        out: list[ev.Event] = []
        if self.state is None or not self.state.alive.any():
            return out
        traj = self.world.targets.trajectories
        killed = self.world.killed_s()
        while True:
            s = self.state
            live = s.alive & (s.time_s < t1 - 1e-9)
            # a target already dead (or never bound): self-destruct, never fly at nothing
            tgt = self.truth_index
            end = traj.end_s[np.maximum(tgt, 0)]
            gone = live & ((tgt < 0) | (killed[np.maximum(tgt, 0)] <= s.time_s) | (end <= s.time_s))
            if gone.any():
                out += self._self_destruct(np.flatnonzero(gone))
                s = self.state
                live = live & ~gone
            if not live.any():
                break
            t = s.time_s
            tp = self.last_pos + self.last_vel * (t - self.last_t)[:, None]
            tv = self.last_vel
            rel = tp - s.pos
            rng_m = np.linalg.norm(rel, axis=1)
            closing = -np.sum(rel * (tv - s.vel), axis=1) / np.maximum(rng_m, 1.0)
            tgo = np.where(closing > 0, rng_m / np.maximum(closing, 1e-9), np.inf)
            h = np.where(tgo > NEAR_TGO_S, DT_FAR_S, DT_NEAR_S)
            h = np.where(live, np.minimum(h, t1 - t), 0.0)
            safe = np.maximum(tgt, 0)
            p0, v0, _, ok0 = traj.state_at(safe, t)
            p1, _, _, ok1 = traj.state_at(safe, t + h)
            # past the end of its trajectory (impact): the object is gone
            p0 = np.where(ok0[:, None], p0, s.pos + 1e7)
            p1 = np.where(ok1[:, None], p1, s.pos + 1e7)
            v0 = np.where(ok0[:, None], v0, 0.0)
            seeker = seeker_measure(
                s, p0, v0, normal=keyed_normal(self.cfg.seed, self.key, self.counter, 4)
            )
            u = keyed_uniform(self.cfg.seed + 1, self.key, self.counter, 1)[:, 0]
            alive_before = s.alive.copy()
            s = replace(s, alive=live)
            new, res = step(
                s, h, tp, tv, None, true_target_pos=p0, true_target_pos_next=p1,
                seeker=seeker, kill_uniform=u,
            )  # fmt: skip
            # interceptors that were alive but already at t1 stay alive
            self.state = replace(new, alive=new.alive | (alive_before & ~live))
            self.counter = self.counter + live
            for i in np.flatnonzero(res.detonated | res.self_destructed):
                out.append(self._detonation(int(i), res, bool(res.self_destructed[i])))
        return out

    def _self_destruct(self, rows: npt.NDArray[np.int64]) -> list[ev.Event]:
        assert self.state is not None
        out: list[ev.Event] = []
        for i in rows.tolist():
            lat, lon, alt = geo.ecef_to_geodetic(*self.state.pos[i])
            out.append(
                self._event(
                    i, float(self.state.time_s[i]), lat, lon, alt, 0.0, False, None, "self_destruct"
                )
            )
        alive = self.state.alive.copy()
        alive[rows] = False
        self.state = replace(self.state, alive=alive)
        return out

    def _detonation(self, i: int, res: Any, self_destruct: bool) -> ev.Event:
        assert self.state is not None
        if self_destruct:
            p = self.state.pos[i]
            t = float(self.state.time_s[i])
            miss, kill, flight = 0.0, False, None
            reason = "self_destruct"
        else:
            p = res.point[i]
            t = float(res.t_cpa_s[i])
            miss, kill = float(res.miss_m[i]), bool(res.kill[i])
            j = int(self.truth_index[i])
            flight = self.world.flights[j].flight_id if j >= 0 and miss < 1000.0 else None
            reason = "proximity"
            if kill and flight is not None:
                self.world.kill(flight, t)
        lat, lon, alt = geo.ecef_to_geodetic(*p)
        return self._event(i, t, lat, lon, alt, miss, kill, flight, reason)

    def _event(
        self, i: int, t: float, lat: Any, lon: Any, alt: Any, miss: float, kill: bool,
        flight: str | None, reason: str,
    ) -> ev.Event:  # fmt: skip
        return ev.InterceptorDetonation(
            event_id=derived_id("detonation", self.ids[i]),
            time=self.world.epoch + dt.timedelta(seconds=t),
            interceptor_id=self.ids[i],
            track_id=self.track[i],
            lat_deg=float(lat),
            lon_deg=float(lon),
            alt_m=float(alt),
            miss_distance_m=max(0.0, miss),
            kill=kill,
            target_flight_id=flight,
            reason=reason,
        )
