"""Threat kinematics for every track × defended-asset pair at once: CPA, TCPA, TDB, TWRP.

Each track is projected into each defended asset's (DA's) local East-North-Up tangent plane
(WGS-84, both heights 0) and moved in a straight line at constant velocity. With ``p0`` the
track's horizontal position relative to the DA centre and ``v`` its horizontal velocity in
that plane, all in SI units:

- **TCPA** (time to closest point of approach), signed:
  ``tcpa_s = -(p0 · v) / |v|²``. Negative means the closest point lies in the past (the track
  is receding). A stationary track (``|v| = 0``) has ``tcpa_s = +inf``.
- **CPA** (closest point of approach distance), future only:
  ``cpa_km = |p0 + v · max(tcpa_s, 0)| / 1000``; a receding or stationary track's CPA is its
  current distance.
- **TDB** (distance to the DA boundary): ``tdb_km = max(0, |p0|/1000 - radius_km)``.
- **TWRP** (time to weapon-release range): the smallest ``t ≥ 0`` with
  ``|p0 + v t| = R`` where ``R`` is the weapon range; ``0`` when the track is already within
  ``R``, ``+inf`` when its line never comes that close (receding, passing wide, stationary
  outside).

The CPA/TCPA closed form is the standard minimum of the quadratic ``|p0 + v t|²`` (e.g.
IMO/ARPA collision-avoidance practice; Lenart, "Collision threat parameters for a new radar
display and plot technique", *J. Navigation* 36(3), 1983). TWRP solves the same quadratic set
equal to ``R²``; the root is taken in the cancellation-free form ``c / (-b + √D)``
(Press et al., *Numerical Recipes*, §5.6).

The track's velocity ``speed · (sin h, cos h)`` is defined in the track's own tangent plane and
rotated into each DA's plane through ECEF (:func:`argus.geo.enu_velocity_outer`); far from the
poles this is a fraction of a degree, near them it is what makes "north" mean the right thing.

Everything is computed in row blocks of the ``(N, M)`` result so the temporaries stay in
cache; there is no per-pair Python code. :func:`pair_kinematics_reference` is the same math for
one pair in plain Python, kept for tests and the benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from argus import geo
from argus.defaults import DEFAULT_MODEL_PARAMS

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "PairKinematics",
    "pair_kinematics",
    "pair_kinematics_reference",
    "resolve_weapon_range_km",
]

_BLOCK_ELEMENTS = 16384


@dataclass(frozen=True)
class PairKinematics:
    """Kinematic components for N tracks × M defended assets; every array is ``(N, M)``.

    ``range_km`` is the current horizontal distance from the DA centre. ``weapon_range_km``
    (shape ``(M,)``) is the weapon range each column was computed with.
    """

    cpa_km: FloatArray
    tcpa_s: FloatArray
    tdb_km: FloatArray
    twrp_s: FloatArray
    range_km: FloatArray
    weapon_range_km: FloatArray

    @property
    def shape(self) -> tuple[int, int]:
        n, m = self.cpa_km.shape
        return int(n), int(m)


def resolve_weapon_range_km(
    n_assets: int,
    override_km: float | npt.ArrayLike | None = None,
    per_asset_km: npt.ArrayLike | None = None,
    params_km: float | None = None,
) -> FloatArray:
    """Weapon range per DA: the call's override, else the DA's own value, else the params'.

    ``per_asset_km`` may contain NaN for "not set"; those fall back to ``params_km`` and then
    to ``DEFAULT_MODEL_PARAMS["weapon_range_km"]``. Returns an ``(n_assets,)`` array.
    """
    fallback = (
        float(DEFAULT_MODEL_PARAMS["weapon_range_km"]) if params_km is None else float(params_km)
    )
    if override_km is not None:
        out = np.broadcast_to(np.asarray(override_km, dtype=np.float64), (n_assets,)).copy()
    elif per_asset_km is not None:
        out = np.broadcast_to(np.asarray(per_asset_km, dtype=np.float64), (n_assets,)).copy()
        out[np.isnan(out)] = fallback
    else:
        out = np.full(n_assets, fallback)
    if np.any(out < 0):
        bad = int(np.flatnonzero(out < 0)[0])
        raise ValueError(f"weapon_range_km must be >= 0 (asset {bad}: {out[bad]})")
    return out


def _as_1d(name: str, value: npt.ArrayLike, n: int) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or 1-D array, got shape {arr.shape}")
    try:
        return np.ascontiguousarray(np.broadcast_to(arr, (n,)))
    except ValueError:
        raise ValueError(f"{name} has {arr.size} values, expected {n}") from None


def pair_kinematics(
    track_lat_deg: npt.ArrayLike,
    track_lon_deg: npt.ArrayLike,
    speed_mps: npt.ArrayLike,
    heading_deg: npt.ArrayLike,
    da_lat_deg: npt.ArrayLike,
    da_lon_deg: npt.ArrayLike,
    da_radius_km: npt.ArrayLike = 0.0,
    weapon_range_km: float | npt.ArrayLike | None = None,
) -> PairKinematics:
    """CPA, TCPA, TDB and TWRP for all N tracks × M defended assets.

    Parameters
    ----------
    track_lat_deg, track_lon_deg, speed_mps, heading_deg
        Track states, shape ``(N,)`` (scalars broadcast). Heading 0° = north, clockwise.
        Non-finite inputs give NaN components for that track (scoring maps NaN to 0).
    da_lat_deg, da_lon_deg, da_radius_km
        Defended assets, shape ``(M,)``; ``radius_km >= 0``.
    weapon_range_km
        Scalar or ``(M,)`` per-DA weapon range; ``None`` uses
        ``DEFAULT_MODEL_PARAMS["weapon_range_km"]`` (see :func:`resolve_weapon_range_km` for
        the override → per-DA → params precedence). NaN means "no weapon": TWRP ``+inf``.
    """
    lat = np.atleast_1d(np.asarray(track_lat_deg, dtype=np.float64))
    if lat.ndim != 1:
        raise ValueError(f"track_lat_deg must be 1-D, got shape {lat.shape}")
    n = lat.shape[0]
    lon = _as_1d("track_lon_deg", track_lon_deg, n)
    speed = _as_1d("speed_mps", speed_mps, n)
    heading = _as_1d("heading_deg", heading_deg, n)
    lat0 = np.atleast_1d(np.asarray(da_lat_deg, dtype=np.float64))
    if lat0.ndim != 1:
        raise ValueError(f"da_lat_deg must be 1-D, got shape {lat0.shape}")
    m = lat0.shape[0]
    lon0 = _as_1d("da_lon_deg", da_lon_deg, m)
    radius_km = _as_1d("da_radius_km", da_radius_km, m)
    if np.any(radius_km < 0):
        bad = int(np.flatnonzero(radius_km < 0)[0])
        raise ValueError(f"da_radius_km must be >= 0 (asset {bad}: {radius_km[bad]})")
    wr_km = (
        resolve_weapon_range_km(m)
        if weapon_range_km is None
        else resolve_weapon_range_km(m, override_km=weapon_range_km)
    )

    # Per-track ECEF position and velocity, per-DA axes: O(N + M) work.
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite inputs: NaN rows below
        pos = np.stack(geo.geodetic_to_ecef(lat, lon, 0.0), axis=-1)  # (N, 3)
        ve_own, vn_own = geo.velocity_from_speed_heading(speed, heading)
        e_pt, n_pt, _ = geo.enu_axes(lat, lon)
        vel = ve_own[:, None] * e_pt + vn_own[:, None] * n_pt  # (N, 3)
        origin = np.stack(geo.geodetic_to_ecef(lat0, lon0, 0.0), axis=-1)  # (M, 3)
        e_ax, n_ax, _ = geo.enu_axes(lat0, lon0)
    e_axt = np.ascontiguousarray(e_ax.T)  # (3, M)
    n_axt = np.ascontiguousarray(n_ax.T)
    e_off = np.einsum("mk,mk->m", origin, e_ax)
    n_off = np.einsum("mk,mk->m", origin, n_ax)

    radius_m = radius_km * 1000.0
    wr_m2 = (wr_km * 1000.0) ** 2
    no_weapon = ~np.isfinite(wr_m2)

    cpa = np.empty((n, m))
    tcpa = np.empty((n, m))
    tdb = np.empty((n, m))
    twrp = np.empty((n, m))
    rng = np.empty((n, m))
    rows = max(1, _BLOCK_ELEMENTS // max(m, 1))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            pe = pos[r0:r1] @ e_axt
            pe -= e_off
            pn = pos[r0:r1] @ n_axt
            pn -= n_off
            ve = vel[r0:r1] @ e_axt
            vn = vel[r0:r1] @ n_axt
            _pair_block(
                pe, pn, ve, vn, radius_m, wr_m2,
                cpa[r0:r1], tcpa[r0:r1], tdb[r0:r1], twrp[r0:r1], rng[r0:r1],
            )  # fmt: skip
    if no_weapon.any():
        twrp[:, no_weapon] = np.inf
    # A non-finite input poisons its whole row (track) or column (DA) with NaN.
    bad_rows = ~(np.isfinite(lat) & np.isfinite(lon) & np.isfinite(speed) & np.isfinite(heading))
    bad_cols = ~(np.isfinite(lat0) & np.isfinite(lon0) & np.isfinite(radius_km))
    for arr in (cpa, tcpa, tdb, twrp, rng):
        arr[bad_rows, :] = np.nan
        arr[:, bad_cols] = np.nan
    return PairKinematics(
        cpa_km=cpa, tcpa_s=tcpa, tdb_km=tdb, twrp_s=twrp, range_km=rng, weapon_range_km=wr_km
    )


def _pair_block(
    pe: FloatArray,
    pn: FloatArray,
    ve: FloatArray,
    vn: FloatArray,
    radius_m: FloatArray,
    wr_m2: FloatArray,
    cpa_out: FloatArray,
    tcpa_out: FloatArray,
    tdb_out: FloatArray,
    twrp_out: FloatArray,
    rng_out: FloatArray,
) -> None:
    """The closed forms on one block of rows, writing into the (contiguous) output views.

    Written with in-place ufuncs and ``np.where`` rather than boolean-mask assignment, and
    ``sqrt(x² + y²)`` rather than ``np.hypot`` (several times slower in numpy).
    """
    b = pe * ve
    b += pn * vn  # p0 · v
    a = ve * ve
    a += vn * vn  # |v|²
    r2 = pe * pe
    r2 += pn * pn  # |p0|²
    # TCPA = -b/a; stationary (a == 0) -> +inf.
    np.divide(b, a, out=tcpa_out)
    np.negative(tcpa_out, out=tcpa_out)
    np.copyto(tcpa_out, np.inf, where=a <= 0.0)
    # CPA at max(tcpa, 0): only a closing track (b < 0, a > 0) moves forward.
    closing = (b < 0.0) & (a > 0.0)  # |v|² that underflows to 0 counts as stationary
    t = np.where(closing, tcpa_out, 0.0)
    cx = ve * t
    cx += pe
    cx *= cx
    cy = vn * t
    cy += pn
    cy *= cy
    cx += cy
    np.sqrt(cx, out=cpa_out)
    cpa_out *= 1e-3
    # Current range and TDB.
    np.sqrt(r2, out=rng_out)
    np.subtract(rng_out, radius_m, out=tdb_out)
    tdb_out *= 1e-3
    np.copyto(tdb_out, 0.0, where=tdb_out < 0.0)
    rng_out *= 1e-3
    # TWRP: smallest t >= 0 with a t² + 2 b t + c = 0, c = |p0|² - R²  (D/4 = b² - a c).
    c = r2 - wr_m2
    disc = b * b
    disc -= a * c
    closing &= disc >= 0.0
    np.copyto(disc, 0.0, where=~closing)
    np.sqrt(disc, out=disc)
    disc -= b  # -b + √D, > 0 when closing
    np.divide(c, disc, out=twrp_out)
    np.copyto(twrp_out, np.inf, where=~closing)
    np.copyto(twrp_out, 0.0, where=c <= 0.0)


def pair_kinematics_reference(
    track_lat_deg: float,
    track_lon_deg: float,
    speed_mps: float,
    heading_deg: float,
    da_lat_deg: float,
    da_lon_deg: float,
    da_radius_km: float = 0.0,
    weapon_range_km: float | None = None,
) -> tuple[float, float, float, float]:
    """``(cpa_km, tcpa_s, tdb_km, twrp_s)`` for one pair, in plain Python ``math``.

    The scalar twin of :func:`pair_kinematics` (same formulas, one pair at a time), used by the
    tests as an oracle and by ``benchmarks/bench_tewa.py`` as the per-row loop baseline.
    """
    wr_km = (
        float(DEFAULT_MODEL_PARAMS["weapon_range_km"])
        if weapon_range_km is None
        else weapon_range_km
    )
    a_, e2 = geo.WGS84_A, geo.WGS84_E2

    def ecef(lat_d: float, lon_d: float) -> tuple[float, float, float]:
        la, lo = math.radians(lat_d), math.radians(lon_d)
        sl = math.sin(la)
        nn = a_ / math.sqrt(1.0 - e2 * sl * sl)
        return (
            nn * math.cos(la) * math.cos(lo),
            nn * math.cos(la) * math.sin(lo),
            nn * (1.0 - e2) * sl,
        )

    def axes(
        lat_d: float, lon_d: float
    ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        la, lo = math.radians(lat_d), math.radians(lon_d)
        sl, cl, so, co = math.sin(la), math.cos(la), math.sin(lo), math.cos(lo)
        return (-so, co, 0.0), (-sl * co, -sl * so, cl)

    x, y, z = ecef(track_lat_deg, track_lon_deg)
    x0, y0, z0 = ecef(da_lat_deg, da_lon_deg)
    dx, dy, dz = x - x0, y - y0, z - z0
    e_da, n_da = axes(da_lat_deg, da_lon_deg)
    pe = e_da[0] * dx + e_da[1] * dy + e_da[2] * dz
    pn = n_da[0] * dx + n_da[1] * dy + n_da[2] * dz
    h = math.radians(heading_deg)
    ve0, vn0 = speed_mps * math.sin(h), speed_mps * math.cos(h)
    e_tr, n_tr = axes(track_lat_deg, track_lon_deg)
    vx, vy, vz = (ve0 * e_tr[k] + vn0 * n_tr[k] for k in range(3))
    ve = e_da[0] * vx + e_da[1] * vy + e_da[2] * vz
    vn = n_da[0] * vx + n_da[1] * vy + n_da[2] * vz

    b = pe * ve + pn * vn
    a = ve * ve + vn * vn
    r2 = pe * pe + pn * pn
    if a > 0.0:
        tcpa = -b / a
        t = max(tcpa, 0.0)
    else:
        tcpa, t = math.inf, 0.0
    cpa_km = math.hypot(pe + ve * t, pn + vn * t) / 1000.0
    tdb_km = max(math.sqrt(r2) - da_radius_km * 1000.0, 0.0) / 1000.0
    c = r2 - (wr_km * 1000.0) ** 2
    if c <= 0.0:
        twrp = 0.0
    else:
        disc = b * b - a * c
        closing = b < 0.0 and a > 0.0
        twrp = c / (-b + math.sqrt(disc)) if (closing and disc >= 0.0) else math.inf
    return cpa_km, tcpa, tdb_km, twrp
