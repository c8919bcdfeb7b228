"""Plot a scenario: truth, detections, radars, and (optionally) tracks and OSPA over time.

:func:`plot_scenario` is the hook the tracking engine uses to add its output: pass
``tracks=TrackPoints(...)`` (track positions over time) and ``ospa=OspaSeries(...)`` (one or
several metric series) and they are drawn on the same figure. Matplotlib (Agg backend) is
imported only when plotting.

Layout: a local map (east/north km from a reference point, truth lines, detections as dots,
false alarms in grey, radar sites and their instrumented range), altitude versus time, and
either the OSPA/GOSPA series or, without them, the number of detections per radar over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pymap3d

from argus.geo import ecef_to_geodetic_rad
from argus.sensors.radar import Detections
from argus.sensors.site import RadarSite

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TrackPoints:
    """Track estimates over time (struct of arrays): time, track id, ECEF position."""

    time_s: FloatArray
    track_id: IntArray
    pos_ecef_m: FloatArray


@dataclass(frozen=True)
class OspaSeries:
    """A metric over time, e.g. OSPA or GOSPA (m), with its legend label."""

    time_s: FloatArray
    value_m: FloatArray
    label: str = "OSPA"


@dataclass(frozen=True)
class TruthLines:
    """Truth to draw: ids, type keys and positions sampled on a grid (N, M, 3) with a mask."""

    truth_id: IntArray
    labels: tuple[str, ...]
    time_s: FloatArray
    pos_ecef_m: FloatArray
    valid: npt.NDArray[np.bool_]


def truth_lines(truth: Any, t_start_s: float, t_end_s: float, step_s: float = 2.0) -> TruthLines:
    """Sample a :class:`~argus.scenario.runner.TruthSet` (or anything with ``truth_id``,
    ``threat_keys`` and ``trajectories``) for plotting."""
    t = np.arange(t_start_s, t_end_s + 1e-9, step_s)
    pos, _, _, ok = truth.trajectories.sample(t)
    labels = tuple(f"{k} #{i}" for k, i in zip(truth.threat_keys, truth.truth_id, strict=True))
    return TruthLines(np.asarray(truth.truth_id), labels, t, pos, ok)


def _enu_km(pos_ecef: FloatArray, ref: tuple[float, float, float]) -> FloatArray:
    e, n, u = pymap3d.ecef2enu(pos_ecef[..., 0], pos_ecef[..., 1], pos_ecef[..., 2], *ref)
    return np.stack([np.asarray(e), np.asarray(n), np.asarray(u)], axis=-1) / 1000.0


def plot_scenario(
    truth: TruthLines | Any,
    detections: Detections,
    *,
    out: str | Path,
    radars: Sequence[RadarSite] = (),
    tracks: TrackPoints | None = None,
    ospa: OspaSeries | Sequence[OspaSeries] | None = None,
    title: str = "",
    reference_lla: tuple[float, float, float] | None = None,
    t_end_s: float | None = None,
    dpi: int = 110,
) -> Path:
    """Draw truth, detections (and tracks, OSPA) to a PNG file; returns its path.

    ``truth`` is a :class:`TruthLines` or a :class:`~argus.scenario.runner.TruthSet` (sampled
    here every 2 s up to ``t_end_s``, default the last detection or trajectory end).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not isinstance(truth, TruthLines):
        end = t_end_s
        if end is None:
            end = float(np.max(truth.trajectories.end_s)) if truth.size else 1.0
            if len(detections):
                end = max(end, float(detections.time_s.max()))
        start = float(np.min(truth.trajectories.start_s)) if truth.size else 0.0
        truth = truth_lines(truth, min(start, 0.0), end)
    if reference_lla is None:
        if radars:
            reference_lla = (
                float(np.mean([r.lat_deg for r in radars])),
                float(np.mean([r.lon_deg for r in radars])),
                0.0,
            )
        elif truth.valid.any():
            p = truth.pos_ecef_m[truth.valid]
            lat, lon, _ = ecef_to_geodetic_rad(p.mean(axis=0))
            reference_lla = (float(np.degrees(lat)), float(np.degrees(lon)), 0.0)
        else:
            reference_lla = (0.0, 0.0, 0.0)

    fig = plt.figure(figsize=(19, 8.5))
    grid = fig.add_gridspec(2, 3, width_ratios=(1.0, 1.0, 0.95), hspace=0.28, wspace=0.2)
    ax_map = fig.add_subplot(grid[:, 0])
    ax_zoom = fig.add_subplot(grid[:, 1])
    ax_alt = fig.add_subplot(grid[0, 2])
    ax_low = fig.add_subplot(grid[1, 2])
    maps = (ax_map, ax_zoom)
    cmap = plt.get_cmap("tab10")
    colour = {int(tid): cmap(i % 10) for i, tid in enumerate(truth.truth_id)}
    focus: list[FloatArray] = []

    # Detections first (underneath), false alarms in grey.
    if len(detections):
        det_enu = _enu_km(detections.position_ecef_m(), reference_lla)
        fa = detections.is_false_alarm
        hits = ~fa
        cols = [colour.get(int(t), "k") for t in detections.truth_id[hits]]
        for ax in maps:
            ax.scatter(
                det_enu[fa, 0],
                det_enu[fa, 1],
                s=2,
                c="0.75",
                lw=0,
                label=f"false alarms ({int(fa.sum())})",
            )
            ax.scatter(
                det_enu[hits, 0],
                det_enu[hits, 1],
                s=6,
                c=cols,
                lw=0,
                alpha=0.9,
                zorder=3,
                label=f"target detections ({int(hits.sum())})",
            )
        ax_alt.scatter(detections.time_s[hits], det_enu[hits, 2], s=3, c=cols, lw=0, alpha=0.5)
        if hits.any():
            focus.append(np.percentile(det_enu[hits, :2], [2.0, 98.0], axis=0))

    # Truth lines.
    for i, tid in enumerate(truth.truth_id):
        ok = truth.valid[i]
        if not ok.any():
            continue
        enu = _enu_km(truth.pos_ecef_m[i, ok], reference_lla)
        c = colour[int(tid)]
        for ax in maps:
            ax.plot(enu[:, 0], enu[:, 1], "-", color=c, lw=1.2, label=truth.labels[i], zorder=2)
            ax.plot(enu[-1, 0], enu[-1, 1], "x", color=c, ms=7, mew=2)
        focus.append(enu[-1:, :2])
        _, _, alt = ecef_to_geodetic_rad(truth.pos_ecef_m[i, ok])
        ax_alt.plot(truth.time_s[ok], alt / 1000.0, "-", color=c, lw=1.4)

    # Tracks.
    if tracks is not None and tracks.time_s.size:
        tr_enu = _enu_km(tracks.pos_ecef_m, reference_lla)
        for k, tid in enumerate(np.unique(tracks.track_id)):
            sel = np.flatnonzero(tracks.track_id == tid)
            sel = sel[np.argsort(tracks.time_s[sel])]
            for ax in maps:
                ax.plot(
                    tr_enu[sel, 0],
                    tr_enu[sel, 1],
                    "--",
                    color="k",
                    lw=0.9,
                    label="tracks" if k == 0 else None,
                )

    # Radars.
    theta = np.linspace(0.0, 2.0 * np.pi, 361)
    for r in radars:
        site = _enu_km(r.antenna_ecef_m, reference_lla)
        focus.append(site[None, :2])
        lat, lon, _ = pymap3d.aer2geodetic(
            np.degrees(theta), 0.0, r.max_range_m, r.lat_deg, r.lon_deg, r.antenna_alt_m
        )
        ring = _enu_km(np.stack(pymap3d.geodetic2ecef(lat, lon, 0.0), axis=-1), reference_lla)
        half = np.radians(0.5 * r.azimuth_width_deg)
        rel = np.mod(theta - np.radians(r.azimuth_center_deg) + np.pi, 2 * np.pi) - np.pi
        ring[np.abs(rel) > half + 1e-9] = np.nan
        for ax in maps:
            ax.plot(site[0], site[1], "^", color="k", ms=10, mfc="yellow")
            ax.annotate(
                r.name or f"radar {r.radar_id}",
                (site[0], site[1]),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize=8,
            )
            ax.plot(ring[:, 0], ring[:, 1], ":", color="0.4", lw=0.8)

    for ax in maps:
        ax.set_xlabel("east (km)")
        ax.set_ylabel("north (km)")
        ax.grid(True, lw=0.3)
    ax_map.set_aspect("equal", adjustable="datalim")
    ax_map.set_title(
        f"overview, origin {reference_lla[0]:.2f}°, {reference_lla[1]:.2f}° (× = end of truth)",
        fontsize=10,
    )
    ax_map.legend(loc="best", fontsize=7, markerscale=2, framealpha=0.8)
    if focus:
        pts = np.concatenate(focus)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre, half = 0.5 * (lo + hi), 0.5 * float(np.max(hi - lo)) * 1.1 + 5.0
        ax_zoom.set_xlim(centre[0] - half, centre[0] + half)
        ax_zoom.set_ylim(centre[1] - half, centre[1] + half)
    ax_zoom.set_aspect("equal", adjustable="box")
    ax_zoom.set_title("zoom on the detections and the end points", fontsize=10)
    ax_alt.set_xlabel("time (s)")
    ax_alt.set_ylabel("altitude (km)")
    ax_alt.set_title("truth altitude (lines) and detections (dots)", fontsize=10)
    ax_alt.grid(True, lw=0.3)

    series = [ospa] if isinstance(ospa, OspaSeries) else list(ospa or [])
    if series:
        for s in series:
            ax_low.plot(s.time_s, s.value_m, "-", lw=1.4, label=s.label)
        ax_low.set_ylabel("metric (m)")
        ax_low.set_title("track quality over time", fontsize=10)
        ax_low.legend(fontsize=8)
    elif len(detections):
        bins = np.arange(0.0, float(detections.time_s.max()) + 10.0, 10.0)
        for rid in np.unique(detections.radar_id):
            sel = detections.radar_id == rid
            name = next((r.name for r in radars if r.radar_id == rid and r.name), f"radar {rid}")
            h_all, _ = np.histogram(detections.time_s[sel], bins)
            h_fa, _ = np.histogram(detections.time_s[sel & detections.is_false_alarm], bins)
            ax_low.step(bins[:-1], h_all, where="post", lw=1.2, label=f"{name}: all")
            ax_low.step(
                bins[:-1], h_fa, where="post", lw=0.8, ls="--", label=f"{name}: false alarms"
            )
        ax_low.set_ylabel("detections per 10 s")
        ax_low.set_title("detections over time", fontsize=10)
        ax_low.legend(fontsize=8)
    ax_low.set_xlabel("time (s)")
    ax_low.grid(True, lw=0.3)
    if title:
        fig.suptitle(title, fontsize=12)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
