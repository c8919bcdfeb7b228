"""Threat score: normalize CPA, TCPA, TDB and TWRP to urgencies in [0, 1] and weigh them.

For each component ``x`` (``cpa_km``, ``tcpa_s``, ``tdb_km``, ``twrp_s``) with its scale::

    n(x) = 1 / (1 + x / scale)   for finite x >= 0
    n(x) = 0                     for x < 0, NaN, None, +inf

so a component equal to its scale is "half urgent", zero is fully urgent, and an event in the
past (negative TCPA), an impossible one (TWRP = +inf: no weapon-release opportunity) or a
missing value contributes nothing instead of breaking the score. Then::

    score = q · clip(w_cpa n_cpa + w_tcpa n_tcpa + w_tdb n_tdb + w_twrp n_twrp, 0, 1)

with the clip only when ``clamp_0_1`` (weights need not sum to 1; unclamped scores may exceed
1, which is useful when calibrating) and ``q`` an optional track-quality factor in [0, 1].

A component may instead use a logistic ramp ``n(x) = 1 / (1 + exp((x - x0)/s))`` (sharper
urgency around ``x0``), evaluated with ``scipy.special.expit`` so it never overflows.

Parameters come from anything: a :class:`ThreatModelParams`, a mapping, or any object with
the attributes (an ORM ``ModelParams`` row). Missing or ``None`` entries fall back to
``argus.defaults.DEFAULT_MODEL_PARAMS``; named doctrine presets live in
:mod:`argus.tewa.presets`.

:func:`threat_score_reference` is the same formula for one pair in plain Python, the oracle
the tests compare the vectorized :func:`threat_scores` against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from argus.defaults import DEFAULT_MODEL_PARAMS, SCALE_FIELDS, WEIGHT_FIELDS
from argus.tewa.kinematics import PairKinematics
from argus.tewa.presets import DOCTRINE_PRESETS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

__all__ = [
    "COMPONENTS",
    "LogisticRamp",
    "ThreatModelParams",
    "ThreatRanking",
    "ThreatScores",
    "coerce_params",
    "normalize_inverse",
    "normalize_logistic",
    "params_from_preset",
    "rank_threats",
    "score_components_to_threat",
    "score_pairs",
    "threat_score_reference",
    "threat_scores",
]

#: Component names in the order of weights, scales and outputs.
COMPONENTS: Final = ("cpa", "tcpa", "tdb", "twrp")
_LOGISTIC_FIELDS: Final = tuple(f"{c}_logistic" for c in COMPONENTS)
_BLOCK: Final = 16384


@dataclass(frozen=True)
class LogisticRamp:
    """Logistic normalization ``1 / (1 + exp((x - midpoint) / width))`` of one component.

    ``midpoint`` and ``width`` are in the component's unit (km or s); ``width > 0``. At
    ``x = midpoint`` the urgency is 0.5, at ``midpoint ± 4.6·width`` it is 0.99 / 0.01.
    """

    midpoint: float
    width: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.midpoint):
            raise ValueError(f"logistic midpoint must be finite, got {self.midpoint}")
        if not (math.isfinite(self.width) and self.width > 0):
            raise ValueError(f"logistic width must be finite and > 0, got {self.width}")


def _default(name: str) -> Any:
    return DEFAULT_MODEL_PARAMS[name]


@dataclass(frozen=True)
class ThreatModelParams:
    """Weights, scales and options of the threat score (validated on construction)."""

    w_cpa: float = float(_default("w_cpa"))
    w_tcpa: float = float(_default("w_tcpa"))
    w_tdb: float = float(_default("w_tdb"))
    w_twrp: float = float(_default("w_twrp"))
    cpa_scale_km: float = float(_default("cpa_scale_km"))
    tcpa_scale_s: float = float(_default("tcpa_scale_s"))
    tdb_scale_km: float = float(_default("tdb_scale_km"))
    twrp_scale_s: float = float(_default("twrp_scale_s"))
    clamp_0_1: bool = bool(_default("clamp_0_1"))
    weapon_range_km: float = float(_default("weapon_range_km"))
    cpa_logistic: LogisticRamp | None = None
    tcpa_logistic: LogisticRamp | None = None
    tdb_logistic: LogisticRamp | None = None
    twrp_logistic: LogisticRamp | None = None

    def __post_init__(self) -> None:
        for name in (*WEIGHT_FIELDS, *SCALE_FIELDS, "weapon_range_km"):
            v = getattr(self, name)
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {v!r}") from None
            object.__setattr__(self, name, fv)
        object.__setattr__(self, "clamp_0_1", bool(self.clamp_0_1))
        for name in WEIGHT_FIELDS:
            w = getattr(self, name)
            if not 0.0 <= w <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {w!r}")
        for name in SCALE_FIELDS:
            s = getattr(self, name)
            if not (math.isfinite(s) and s > 0):
                raise ValueError(f"{name} must be finite and > 0, got {s!r}")
        if not self.weapon_range_km >= 0:
            raise ValueError(f"weapon_range_km must be >= 0, got {self.weapon_range_km!r}")
        for name in _LOGISTIC_FIELDS:
            ramp = getattr(self, name)
            if ramp is not None and not isinstance(ramp, LogisticRamp):
                raise ValueError(f"{name} must be a LogisticRamp or None, got {ramp!r}")

    @property
    def weights(self) -> tuple[float, float, float, float]:
        return (self.w_cpa, self.w_tcpa, self.w_tdb, self.w_twrp)

    @property
    def scales(self) -> tuple[float, float, float, float]:
        return (self.cpa_scale_km, self.tcpa_scale_s, self.tdb_scale_km, self.twrp_scale_s)

    @property
    def ramps(self) -> tuple[LogisticRamp | None, ...]:
        return (self.cpa_logistic, self.tcpa_logistic, self.tdb_logistic, self.twrp_logistic)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_changes(self, **changes: Any) -> ThreatModelParams:
        """A copy with some fields replaced (coerced like :func:`coerce_params`)."""
        return coerce_params(self, **changes)


#: Parameters as a ThreatModelParams, a mapping, or an object with the attributes.
ParamLike = ThreatModelParams | Mapping[str, Any] | object

_FIELD_NAMES: Final = tuple(f.name for f in fields(ThreatModelParams))


def _coerce_ramp(name: str, value: Any) -> LogisticRamp | None:
    if value is None or isinstance(value, LogisticRamp):
        return value
    if isinstance(value, Mapping):
        keys = set(value)
        if keys != {"midpoint", "width"}:
            raise ValueError(
                f"{name} must have exactly the keys midpoint and width, got {sorted(map(str, keys))}"
            )
        try:
            return LogisticRamp(float(value["midpoint"]), float(value["width"]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: {exc}") from None
    try:
        midpoint, width = value
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a LogisticRamp, a (midpoint, width) pair or a mapping, got {value!r}"
        ) from None
    return LogisticRamp(float(midpoint), float(width))


def coerce_params(params: ParamLike | None = None, **overrides: Any) -> ThreatModelParams:
    """:class:`ThreatModelParams` from a mapping, an object with attributes, or ``None``.

    Keys that are missing, or present with value ``None``, fall back to
    ``DEFAULT_MODEL_PARAMS``; unknown keys are ignored (an ORM row has ``id``, timestamps…).
    Keyword ``overrides`` win over ``params``. Raises ``ValueError`` naming the bad field.
    """
    if isinstance(params, ThreatModelParams) and not overrides:
        return params
    values: dict[str, Any] = {}
    for name in _FIELD_NAMES:
        if name in overrides:
            v = overrides[name]
        elif params is None:
            v = None
        elif isinstance(params, Mapping):
            v = params.get(name)
        else:
            v = getattr(params, name, None)
        if v is None:
            continue
        if name in _LOGISTIC_FIELDS:
            values[name] = _coerce_ramp(name, v)
        elif name == "clamp_0_1":
            values[name] = bool(v)
        else:
            try:
                values[name] = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {v!r}") from None
    unknown = set(overrides) - set(_FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown model parameter(s): {', '.join(sorted(unknown))}")
    return ThreatModelParams(**values)


def params_from_preset(name: str, **overrides: Any) -> ThreatModelParams:
    """The doctrine preset ``name`` (see :mod:`argus.tewa.presets`), with optional overrides."""
    try:
        preset = DOCTRINE_PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown preset {name!r}; known presets: {', '.join(DOCTRINE_PRESETS)}"
        ) from None
    return coerce_params(preset, **overrides)


# ---------------------------------------------------------------- normalization


def normalize_inverse(x: npt.ArrayLike, scale: float) -> FloatArray:
    """``1 / (1 + x/scale)`` for finite ``x >= 0``, else 0 (negative, NaN, ±inf)."""
    xa = np.asarray(x, dtype=np.float64)
    out = np.empty(xa.shape)
    _inverse_into(xa, scale, out)
    return out


def _inverse_into(x: FloatArray, scale: float, out: FloatArray) -> None:
    # +inf needs no mask: 1/(1 + inf) is exactly 0. Negative and NaN fail `x >= 0`.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        np.divide(x, scale, out=out)
        out += 1.0
        np.reciprocal(out, out=out)
        np.copyto(out, 0.0, where=~(x >= 0.0))


def normalize_logistic(x: npt.ArrayLike, midpoint: float, width: float) -> FloatArray:
    """``1 / (1 + exp((x - midpoint)/width))`` for finite ``x >= 0``, else 0; overflow-free."""
    xa = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        valid = (xa >= 0.0) & (xa < np.inf)
        z = np.subtract(midpoint, xa)
        z /= width
        out = np.asarray(expit(z), dtype=np.float64)
    return np.where(valid, out, 0.0)


def _as_component(x: Any) -> FloatArray:
    """Float array with ``None`` (also inside object arrays) turned into NaN."""
    if x is None:
        return np.asarray(np.nan)
    arr = np.asarray(x)
    if arr.dtype == object:
        is_none = np.vectorize(lambda v: v is None, otypes=[bool])(arr)
        arr = np.where(is_none, np.nan, arr)
    return np.asarray(arr, dtype=np.float64)


@dataclass(frozen=True)
class ThreatScores:
    """Raw components, their normalized urgencies and the score; all arrays share one shape."""

    cpa_km: FloatArray
    tcpa_s: FloatArray
    tdb_km: FloatArray
    twrp_s: FloatArray
    n_cpa: FloatArray
    n_tcpa: FloatArray
    n_tdb: FloatArray
    n_twrp: FloatArray
    score: FloatArray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.score.shape)


def _normalize(x: FloatArray, scale: float, ramp: LogisticRamp | None) -> FloatArray:
    if ramp is None:
        return normalize_inverse(x, scale)
    return normalize_logistic(x, ramp.midpoint, ramp.width)


def _check_quality(track_quality: npt.ArrayLike) -> FloatArray:
    q = np.asarray(track_quality, dtype=np.float64)
    bad = ~((q >= 0.0) & (q <= 1.0))
    if bad.any():
        idx = np.unravel_index(int(np.flatnonzero(bad)[0]), q.shape) if q.ndim else ()
        raise ValueError(f"track_quality must be in [0, 1]; element {idx} is {q[idx]}")
    return q


def threat_scores(
    cpa_km: npt.ArrayLike | None,
    tcpa_s: npt.ArrayLike | None,
    tdb_km: npt.ArrayLike | None,
    twrp_s: npt.ArrayLike | None,
    params: ParamLike | None = None,
    track_quality: npt.ArrayLike | None = None,
) -> ThreatScores:
    """Vectorized threat score of broadcastable component arrays.

    ``track_quality`` (in [0, 1]) broadcasts against the components: for ``(N, M)``
    components pass per-track quality as ``q[:, None]`` (or use :func:`score_pairs`).
    """
    p = coerce_params(params)
    originals = [_as_component(c) for c in (cpa_km, tcpa_s, tdb_km, twrp_s)]
    comps = np.broadcast_arrays(*originals)
    shape = comps[0].shape
    flat = [np.ascontiguousarray(c).reshape(-1) for c in comps]
    size = flat[0].size
    norms = [np.empty(size) for _ in COMPONENTS]
    score = np.zeros(size)
    tmp = np.empty(min(size, _BLOCK))
    for s0 in range(0, max(size, 1), _BLOCK):
        s1 = min(size, s0 + _BLOCK)
        acc = score[s0:s1]
        for k in range(4):
            nk = norms[k][s0:s1]
            if p.ramps[k] is None:
                _inverse_into(flat[k][s0:s1], p.scales[k], nk)
            else:
                nk[...] = _normalize(flat[k][s0:s1], p.scales[k], p.ramps[k])
            np.multiply(nk, p.weights[k], out=tmp[: s1 - s0])
            acc += tmp[: s1 - s0]
        if p.clamp_0_1:
            np.clip(acc, 0.0, 1.0, out=acc)
    final = score.reshape(shape)
    if track_quality is not None:
        final = final * _check_quality(track_quality)
    # Keep the caller's component arrays as they are (no copy) unless they were broadcast.
    raw = [o if o.shape == shape else np.array(c) for o, c in zip(originals, comps, strict=True)]
    return ThreatScores(
        cpa_km=raw[0],
        tcpa_s=raw[1],
        tdb_km=raw[2],
        twrp_s=raw[3],
        n_cpa=norms[0].reshape(shape),
        n_tcpa=norms[1].reshape(shape),
        n_tdb=norms[2].reshape(shape),
        n_twrp=norms[3].reshape(shape),
        score=final,
    )


def score_pairs(
    kinematics: PairKinematics,
    params: ParamLike | None = None,
    track_quality: npt.ArrayLike | None = None,
) -> ThreatScores:
    """Threat scores of an ``(N, M)`` :class:`PairKinematics`; ``track_quality`` is per track ``(N,)``."""
    q = None
    if track_quality is not None:
        q = np.asarray(track_quality, dtype=np.float64)
        if q.ndim == 1:
            q = q[:, None]
    return threat_scores(
        kinematics.cpa_km, kinematics.tcpa_s, kinematics.tdb_km, kinematics.twrp_s, params, q
    )


# ---------------------------------------------------------------- scalar twins


def _n_reference(x: float | None, scale: float, ramp: LogisticRamp | None) -> float:
    if x is None or math.isnan(x) or x < 0.0 or math.isinf(x):
        return 0.0
    if ramp is None:
        return 1.0 / (1.0 + x / scale)
    z = (ramp.midpoint - x) / ramp.width
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def threat_score_reference(
    cpa_km: float | None,
    tcpa_s: float | None,
    tdb_km: float | None,
    twrp_s: float | None,
    params: ParamLike | None = None,
    track_quality: float = 1.0,
) -> float:
    """The threat score of one pair in plain Python ``math`` (oracle for tests and benchmarks)."""
    p = coerce_params(params)
    total = 0.0
    for x, w, s, ramp in zip(
        (cpa_km, tcpa_s, tdb_km, twrp_s), p.weights, p.scales, p.ramps, strict=True
    ):
        total += w * _n_reference(None if x is None else float(x), s, ramp)
    if p.clamp_0_1:
        total = min(max(total, 0.0), 1.0)
    if not 0.0 <= track_quality <= 1.0:
        raise ValueError(f"track_quality must be in [0, 1], got {track_quality}")
    return total * track_quality


def score_components_to_threat(
    cpa_km: float | None,
    tcpa_s: float | None,
    tdb_km: float | None,
    twrp_s: float | None,
    params: ParamLike | None = None,
) -> float:
    """Threat score of one pair of components, positional-friendly; same result as :func:`threat_scores`."""
    return float(threat_scores(cpa_km, tcpa_s, tdb_km, twrp_s, params).score)


# ---------------------------------------------------------------- ranking


@dataclass(frozen=True)
class ThreatRanking:
    """Ranked (track, asset) pairs, best first; ``rank`` starts at 1 (per asset or global)."""

    rank: IntArray
    track_index: IntArray
    da_index: IntArray
    score: FloatArray


def rank_threats(
    score: npt.ArrayLike, top_n: int | None = None, per_asset: bool = False
) -> ThreatRanking:
    """Rank an ``(N, M)`` score matrix.

    ``per_asset=False``: each track is ranked once by its highest score over the assets
    (``da_index`` is the asset that score is against). ``per_asset=True``: tracks ranked
    separately for each asset, rows ordered by asset then rank. Ties keep the lower track
    index first; NaN scores rank last. ``top_n`` keeps the best ``top_n`` (per asset).
    """
    s = np.asarray(score, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"score must be 2-D (tracks × assets), got shape {s.shape}")
    n, m = s.shape
    key = np.where(np.isnan(s), -np.inf, s)
    if top_n is not None and top_n < 0:
        raise ValueError(f"top_n must be >= 0, got {top_n}")
    if not per_asset:
        if m == 0:
            empty = np.empty(0, dtype=np.intp)
            return ThreatRanking(empty, empty, empty, np.empty(0))
        best_da = np.argmax(key, axis=1)
        best = s[np.arange(n), best_da]
        order = np.argsort(-key[np.arange(n), best_da], kind="stable")[:top_n]
        return ThreatRanking(
            rank=np.arange(1, order.size + 1, dtype=np.intp),
            track_index=order.astype(np.intp),
            da_index=best_da[order].astype(np.intp),
            score=best[order],
        )
    order = np.argsort(-key, axis=0, kind="stable")[:top_n]  # (k, M)
    k = order.shape[0]
    tracks = order.T.reshape(-1)
    das = np.repeat(np.arange(m, dtype=np.intp), k)
    return ThreatRanking(
        rank=np.tile(np.arange(1, k + 1, dtype=np.intp), m),
        track_index=tracks.astype(np.intp),
        da_index=das,
        score=s[tracks, das],
    )
