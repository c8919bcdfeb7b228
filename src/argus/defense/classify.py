"""Track classification: ballistic missile, cruise missile, aircraft, drone or clutter.

The real-time pipeline keeps, for every track, a fixed window of its last K estimates
(:class:`TrackWindow`); :func:`features` turns N windows into an (N, F) feature matrix in one
vectorized pass (no loop over tracks), and a :class:`TrainedClassifier` (scikit-learn
``HistGradientBoostingClassifier``) maps the features to a class and a confidence (the largest
class probability). Thresholding the confidence ("unknown" below a minimum) is the caller's job.

Features (:data:`FEATURE_NAMES`), all from the window's valid samples:

- speed |v|: mean, max, standard deviation, last;
- WGS-84 height (:func:`argus.geo.ecef_to_geodetic_rad`): mean, min, max, last;
- vertical speed v·û (û the ellipsoid normal at the track): mean, min, max; ground speed
  sqrt(|v|² - (v·û)²): mean; flight-path angle atan2(v·û, ground speed): mean;
- acceleration from velocity differences of consecutive samples, (v[k] - v[k-1]) / Δt:
  magnitude mean and max, vertical component mean (about -g0 for a ballistic missile coasting
  in the rotating ECEF frame, about 0 for level flight);
- turn rate: the angle between consecutive velocity vectors / Δt (rad/s), mean and max;
- specific mechanical energy ε = |v|²/2 - GM/|r| (J/kg): least-squares slope over time (W/kg;
  about 0 for a coasting ballistic missile, > 0 in boost, < 0 in re-entry drag) and its mean;
- RCS in dBsm: mean, standard deviation, max (NaN when unknown; see :func:`rcs_dbsm_from_snr`);
- number of valid samples and the window's duration (s).

A window with fewer than two valid samples has NaN for the difference-based features;
``HistGradientBoostingClassifier`` handles NaN natively (it learns which branch missing
values take), so short tracks and unknown RCS need no imputation.

Serialization (:meth:`TrainedClassifier.to_bytes`) is a pickle behind a one-line JSON header
recording the format version, the scikit-learn version and the payload's SHA-256;
:meth:`TrainedClassifier.from_bytes` refuses a corrupted payload or a model pickled by another
scikit-learn major.minor (:class:`ModelFormatError`). Unpickling runs code: only load bytes
Argus itself wrote (the model table), never bytes from a user.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from argus.geo import WGS84_GM, ecef_to_geodetic_rad, enu_axes_rad

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

#: The five classes, in the order of confusion-matrix rows/columns and probability columns.
CLASSES: tuple[str, ...] = ("ballistic_missile", "cruise_missile", "aircraft", "drone", "clutter")

FEATURE_NAMES: tuple[str, ...] = (
    "n_valid",
    "duration_s",
    "speed_mean_mps",
    "speed_max_mps",
    "speed_std_mps",
    "speed_last_mps",
    "alt_mean_m",
    "alt_min_m",
    "alt_max_m",
    "alt_last_m",
    "vertical_speed_mean_mps",
    "vertical_speed_min_mps",
    "vertical_speed_max_mps",
    "ground_speed_mean_mps",
    "flight_path_angle_mean_rad",
    "accel_mean_mps2",
    "accel_max_mps2",
    "accel_vertical_mean_mps2",
    "turn_rate_mean_rad_s",
    "turn_rate_max_rad_s",
    "energy_slope_w_per_kg",
    "energy_mean_j_per_kg",
    "rcs_mean_dbsm",
    "rcs_std_db",
    "rcs_max_dbsm",
)

#: Version of the :meth:`TrainedClassifier.to_bytes` layout.
FORMAT_VERSION = 1
_MAGIC = b"ARGUS-TRACK-CLASSIFIER"
_RETRAIN = "retrain it with `argus models train-classifier`"

# Physical constants of the radar equation. They are also in argus.sensors.site, which an
# engine may not import; tests/scenario/test_training.py checks the two agree.
_BOLTZMANN = 1.380649e-23
_SPEED_OF_LIGHT = 299_792_458.0
_T0_K = 290.0


class ModelFormatError(ValueError):
    """Serialized classifier bytes that cannot be loaded (corrupted, or another version)."""


# ----------------------------------------------------------------------------- RCS


def radar_constant_db(
    peak_power_w: float,
    gain_db: float,
    frequency_hz: float,
    noise_figure_db: float,
    bandwidth_hz: float,
    losses_db: float,
    processing_gain_db: float = 0.0,
) -> float:
    """The radar equation's constant C (dB): mean SNR of a 1 m² target at 1 m.

    ``C = P_t G² λ² G_p / ((4π)³ k T0 F B L)`` (Skolnik, *Radar Handbook*, 3rd ed., ch. 2), so
    that SNR = C σ / R⁴. For an :class:`argus.sensors.site.RadarSite` ``site`` this equals
    ``10 log10(site.snr(1.0, 1.0))``; call it with the site's fields of the same names.
    """
    lam = _SPEED_OF_LIGHT / frequency_hz
    noise_w = _BOLTZMANN * _T0_K * 10.0 ** (noise_figure_db / 10.0) * bandwidth_hz
    num = peak_power_w * 10.0 ** (2.0 * gain_db / 10.0) * lam**2
    num *= 10.0 ** (processing_gain_db / 10.0)
    den = (4.0 * math.pi) ** 3 * noise_w * 10.0 ** (losses_db / 10.0)
    return 10.0 * math.log10(num / den)


def rcs_dbsm_from_snr(
    snr_db: npt.ArrayLike,
    range_m: npt.ArrayLike,
    radar_constant: npt.ArrayLike,
    *,
    subtract_noise: bool = True,
) -> FloatArray:
    """RCS estimate (dBsm) of detections from their measured SNR and range (radar equation).

    ``σ = (S/N) R⁴ / C`` with ``C`` from :func:`radar_constant_db` (dB, scalar or one per
    detection). The measured statistic |x|²/N of a square-law detector has mean SNR + 1, so
    with ``subtract_noise`` (default) 1 is taken off the linear S/N first (floored at 1e-3).
    NaN inputs (SNR unknown) give NaN. One look of a Swerling I target fluctuates by ~5.6 dB
    (exponential power), so use the mean of several looks.
    """
    snr = np.asarray(snr_db, dtype=np.float64)
    r = np.asarray(range_m, dtype=np.float64)
    if subtract_noise:
        lin = np.maximum(10.0 ** (snr / 10.0) - 1.0, 1e-3)
        snr = np.where(np.isnan(snr), np.nan, 10.0 * np.log10(lin))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = snr + 40.0 * np.log10(r) - np.asarray(radar_constant, dtype=np.float64)
    return np.asarray(out, dtype=np.float64)


# ----------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class TrackWindow:
    """The last K estimates of N tracks (struct of arrays), left-padded.

    ``t_s`` (N, K) estimate times (s, any common origin), ``pos_ecef_m`` and ``vel_ecef_mps``
    (N, K, 3) the track's ECEF position and velocity, ``rcs_dbsm`` (N, K) the RCS estimated
    from the associated detection's SNR (:func:`rcs_dbsm_from_snr`; NaN where unknown), and
    ``valid`` (N, K) which columns hold an estimate. A track with fewer than K estimates has its
    estimates in the last columns (oldest first) and ``valid`` False before them; what the
    invalid columns hold is ignored. Times increase along each row's valid columns.
    """

    t_s: FloatArray
    pos_ecef_m: FloatArray
    vel_ecef_mps: FloatArray
    rcs_dbsm: FloatArray
    valid: BoolArray

    def __post_init__(self) -> None:
        if self.t_s.ndim != 2:
            raise ValueError(f"t_s: expected shape (N, K), got {self.t_s.shape}")
        n, k = self.t_s.shape
        for name, shape in (
            ("pos_ecef_m", (n, k, 3)),
            ("vel_ecef_mps", (n, k, 3)),
            ("rcs_dbsm", (n, k)),
            ("valid", (n, k)),
        ):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(
                    f"{name}: expected shape {shape}, got {np.shape(getattr(self, name))}"
                )

    @property
    def size(self) -> int:
        """Number of tracks N."""
        return int(self.t_s.shape[0])

    @property
    def length(self) -> int:
        """Window length K."""
        return int(self.t_s.shape[1])

    def take(self, index: npt.ArrayLike) -> TrackWindow:
        """The windows of tracks ``index`` (indices or boolean mask)."""
        idx = np.asarray(index)
        return TrackWindow(
            self.t_s[idx], self.pos_ecef_m[idx], self.vel_ecef_mps[idx], self.rcs_dbsm[idx],
            self.valid[idx],
        )  # fmt: skip

    @staticmethod
    def empty(length: int) -> TrackWindow:
        """No track, window length ``length``."""
        return TrackWindow(
            np.zeros((0, length)),
            np.zeros((0, length, 3)),
            np.zeros((0, length, 3)),
            np.zeros((0, length)),
            np.zeros((0, length), dtype=bool),
        )

    @staticmethod
    def concatenate(parts: Sequence[TrackWindow]) -> TrackWindow:
        """Stack windows of the same length."""
        if not parts:
            raise ValueError("concatenate: need at least one TrackWindow")
        return TrackWindow(
            np.concatenate([p.t_s for p in parts]),
            np.concatenate([p.pos_ecef_m for p in parts]),
            np.concatenate([p.vel_ecef_mps for p in parts]),
            np.concatenate([p.rcs_dbsm for p in parts]),
            np.concatenate([p.valid for p in parts]),
        )

    @staticmethod
    def from_rows(
        track_index: npt.ArrayLike,
        t_s: npt.ArrayLike,
        pos_ecef_m: npt.ArrayLike,
        vel_ecef_mps: npt.ArrayLike,
        rcs_dbsm: npt.ArrayLike | None,
        n_tracks: int,
        length: int,
        *,
        end_row: npt.ArrayLike | None = None,
    ) -> TrackWindow:
        """Windows from flat estimate rows: row i belongs to track ``track_index[i]`` (0..N-1).

        Each track's window holds its last ``length`` rows in time order (or, with
        ``end_row`` (N,), the ``length`` rows ending at its ``end_row[j]``-th row, counted from
        0 in time order). Tracks without rows get an all-invalid window. Vectorized (one sort).
        """
        ti = np.asarray(track_index, dtype=np.int64).reshape(-1)
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        pos = np.asarray(pos_ecef_m, dtype=np.float64).reshape(-1, 3)
        vel = np.asarray(vel_ecef_mps, dtype=np.float64).reshape(-1, 3)
        rcs = (
            np.full(t.size, np.nan)
            if rcs_dbsm is None
            else np.asarray(rcs_dbsm, dtype=np.float64).reshape(-1)
        )
        if not (ti.size == t.size == pos.shape[0] == vel.shape[0] == rcs.size):
            raise ValueError("from_rows: track_index, t_s, pos, vel and rcs need the same rows")
        if ti.size and (ti.min() < 0 or ti.max() >= n_tracks):
            raise ValueError(f"from_rows: track_index outside [0, {n_tracks})")
        order = np.lexsort((t, ti))
        counts = np.bincount(ti, minlength=n_tracks)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        last = counts - 1 if end_row is None else np.asarray(end_row, dtype=np.int64)
        if end_row is not None and np.any((counts > 0) & ((last >= counts) | (last < 0))):
            raise ValueError("from_rows: end_row outside each track's rows")
        rel = last[:, None] - (length - 1) + np.arange(length)[None, :]  # (N, K) row numbers
        valid = (rel >= 0) & (counts[:, None] > 0)
        if ti.size == 0:
            return TrackWindow(
                np.zeros((n_tracks, length)),
                np.zeros((n_tracks, length, 3)),
                np.zeros((n_tracks, length, 3)),
                np.full((n_tracks, length), np.nan),
                np.zeros((n_tracks, length), dtype=bool),
            )
        rows = order[np.clip(first[:, None] + rel, 0, ti.size - 1)]
        return TrackWindow(t[rows], pos[rows], vel[rows], rcs[rows], valid)


# ----------------------------------------------------------------------------- features


def _masked_stats(
    x: FloatArray, m: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-row count, mean, std, min, max of ``x`` over mask ``m`` (NaN where count is 0)."""
    m = m & np.isfinite(x)
    cnt = m.sum(axis=1).astype(np.float64)
    xz = np.where(m, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = xz.sum(axis=1) / cnt
        var = np.where(m, (x - mean[:, None]) ** 2, 0.0).sum(axis=1) / cnt
    lo = np.where(m, x, np.inf).min(axis=1, initial=np.inf)
    hi = np.where(m, x, -np.inf).max(axis=1, initial=-np.inf)
    none = cnt == 0
    lo[none] = np.nan
    hi[none] = np.nan
    return cnt, mean, np.sqrt(var), lo, hi


def _last(x: FloatArray, m: BoolArray) -> FloatArray:
    """Value at each row's last valid column (NaN if none)."""
    k = x.shape[1]
    idx = k - 1 - np.argmax(m[:, ::-1], axis=1)
    out = x[np.arange(x.shape[0]), idx].astype(np.float64)
    out[~m.any(axis=1)] = np.nan
    return out


def features(window: TrackWindow) -> FloatArray:
    """(N, F) feature matrix of N track windows, columns :data:`FEATURE_NAMES` (see the module
    docstring). Vectorized over tracks and samples; NaN where a feature is undefined."""
    n, k = window.t_s.shape
    out = np.full((n, len(FEATURE_NAMES)), np.nan)
    if n == 0:
        return out
    t = np.asarray(window.t_s, dtype=np.float64)
    pos = np.asarray(window.pos_ecef_m, dtype=np.float64)
    vel = np.asarray(window.vel_ecef_mps, dtype=np.float64)
    ok = (
        np.asarray(window.valid, dtype=bool)
        & np.isfinite(t)
        & np.isfinite(pos).all(axis=2)
        & np.isfinite(vel).all(axis=2)
    )
    pos = np.where(ok[..., None], pos, 0.0)
    vel = np.where(ok[..., None], vel, 0.0)
    pos[~ok] = (6.4e6, 0.0, 0.0)  # any point off the Earth's centre, masked out below
    lat, lon, alt = ecef_to_geodetic_rad(pos)
    _, _, up = enu_axes_rad(lat, lon)  # (N, K, 3)
    speed = np.linalg.norm(vel, axis=2)
    vs = np.einsum("nki,nki->nk", vel, up)
    gs = np.sqrt(np.maximum(speed**2 - vs**2, 0.0))
    col = {name: j for j, name in enumerate(FEATURE_NAMES)}

    cnt, mean, std, _, hi = _masked_stats(speed, ok)
    out[:, col["n_valid"]] = cnt
    t0 = np.where(ok, t, np.inf).min(axis=1)
    t1 = np.where(ok, t, -np.inf).max(axis=1)
    out[:, col["duration_s"]] = np.where(cnt > 0, t1 - t0, np.nan)
    out[:, col["speed_mean_mps"]] = mean
    out[:, col["speed_max_mps"]] = hi
    out[:, col["speed_std_mps"]] = std
    out[:, col["speed_last_mps"]] = _last(speed, ok)
    _, mean, _, lo, hi = _masked_stats(alt, ok)
    out[:, col["alt_mean_m"]] = mean
    out[:, col["alt_min_m"]] = lo
    out[:, col["alt_max_m"]] = hi
    out[:, col["alt_last_m"]] = _last(alt, ok)
    _, mean, _, lo, hi = _masked_stats(vs, ok)
    out[:, col["vertical_speed_mean_mps"]] = mean
    out[:, col["vertical_speed_min_mps"]] = lo
    out[:, col["vertical_speed_max_mps"]] = hi
    out[:, col["ground_speed_mean_mps"]] = _masked_stats(gs, ok)[1]
    out[:, col["flight_path_angle_mean_rad"]] = _masked_stats(np.arctan2(vs, gs), ok)[1]

    # Consecutive pairs of valid samples (valid samples are contiguous on the right).
    if k >= 2:
        dt = np.diff(t, axis=1)
        pair = ok[:, 1:] & ok[:, :-1] & (dt > 0)
        dts = np.where(pair, dt, 1.0)
        dv = vel[:, 1:] - vel[:, :-1]
        acc = dv / dts[..., None]
        acc_mag = np.linalg.norm(acc, axis=2)
        up_mid = up[:, 1:]
        acc_up = np.einsum("nki,nki->nk", acc, up_mid)
        _, mean, _, _, hi = _masked_stats(acc_mag, pair)
        out[:, col["accel_mean_mps2"]] = mean
        out[:, col["accel_max_mps2"]] = hi
        out[:, col["accel_vertical_mean_mps2"]] = _masked_stats(acc_up, pair)[1]
        cross = np.linalg.norm(np.cross(vel[:, :-1], vel[:, 1:]), axis=2)
        dot = np.einsum("nki,nki->nk", vel[:, :-1], vel[:, 1:])
        turn = np.arctan2(cross, dot) / dts
        _, mean, _, _, hi = _masked_stats(turn, pair)
        out[:, col["turn_rate_mean_rad_s"]] = mean
        out[:, col["turn_rate_max_rad_s"]] = hi

    radius = np.linalg.norm(pos, axis=2)
    energy = 0.5 * speed**2 - WGS84_GM / radius
    cnt_e, e_mean, _, _, _ = _masked_stats(energy, ok)
    t_mean = np.where(ok, t - t0[:, None], 0.0).sum(axis=1) / np.maximum(cnt_e, 1.0)
    tc = np.where(ok, t - t0[:, None] - t_mean[:, None], 0.0)
    ec = np.where(ok, energy - e_mean[:, None], 0.0)
    sxx = (tc * tc).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (tc * ec).sum(axis=1) / sxx
    out[:, col["energy_slope_w_per_kg"]] = np.where((cnt_e >= 2) & (sxx > 0), slope, np.nan)
    out[:, col["energy_mean_j_per_kg"]] = e_mean

    rcs = np.asarray(window.rcs_dbsm, dtype=np.float64)
    _, mean, std, _, hi = _masked_stats(rcs, ok)
    out[:, col["rcs_mean_dbsm"]] = mean
    out[:, col["rcs_std_db"]] = std
    out[:, col["rcs_max_dbsm"]] = hi
    return out


# ----------------------------------------------------------------------------- model

ModelKind = Literal["hist_gradient_boosting", "random_forest"]


def _sklearn_version() -> str:
    import sklearn  # type: ignore[import-untyped]

    return str(sklearn.__version__)


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


@dataclass(frozen=True)
class ClassifierMetrics:
    """Scores of a classifier on labelled tracks.

    ``confusion[i, j]`` counts tracks of true class ``classes[i]`` predicted ``classes[j]``;
    ``precision``/``recall`` are per class (NaN for a class never predicted / never present).
    """

    accuracy: float
    confusion: npt.NDArray[np.int64]
    classes: tuple[str, ...]
    precision: FloatArray
    recall: FloatArray
    n: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN as None)."""

        def clean(a: FloatArray) -> list[float | None]:
            return [None if math.isnan(v) else float(v) for v in a.tolist()]

        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "classes": list(self.classes),
            "confusion": self.confusion.tolist(),
            "precision": clean(self.precision),
            "recall": clean(self.recall),
        }


@dataclass(frozen=True)
class TrainedClassifier:
    """A fitted scikit-learn classifier over :data:`FEATURE_NAMES`, predicting :data:`CLASSES`."""

    estimator: Any
    kind: ModelKind
    classes: tuple[str, ...] = CLASSES
    feature_names: tuple[str, ...] = FEATURE_NAMES
    sklearn_version: str = field(default_factory=_sklearn_version)
    n_train: int = 0
    seed: int = 0

    def _check(self, x: npt.ArrayLike) -> FloatArray:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(self.feature_names):
            raise ValueError(
                f"X: expected shape (N, {len(self.feature_names)}) (FEATURE_NAMES), got {arr.shape}"
            )
        return arr

    def predict_proba(self, x: npt.ArrayLike) -> FloatArray:
        """(N, C) class probabilities, columns in :attr:`classes` order."""
        arr = self._check(x)
        if arr.shape[0] == 0:
            return np.zeros((0, len(self.classes)))
        p = np.asarray(self.estimator.predict_proba(arr), dtype=np.float64)
        out = np.zeros((arr.shape[0], len(self.classes)))
        out[:, np.asarray(self.estimator.classes_, dtype=np.int64)] = p
        return out

    def predict(self, x: npt.ArrayLike) -> tuple[StrArray, FloatArray]:
        """Class names (N,) and confidence (N,) = the largest class probability."""
        p = self.predict_proba(x)
        idx = np.argmax(p, axis=1) if p.shape[0] else np.zeros(0, dtype=np.int64)
        labels = np.asarray(self.classes, dtype=np.str_)[idx]
        conf = p[np.arange(p.shape[0]), idx] if p.shape[0] else np.zeros(0)
        return labels, conf

    def to_bytes(self) -> bytes:
        """Header line (JSON: format, sklearn version, sha256, classes, features) + pickle."""
        buf = io.BytesIO()
        pickle.dump(self, buf, protocol=pickle.HIGHEST_PROTOCOL)
        payload = buf.getvalue()
        header = {
            "format": FORMAT_VERSION,
            "sklearn": self.sklearn_version,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "kind": self.kind,
            "classes": list(self.classes),
            "features": list(self.feature_names),
        }
        return _MAGIC + b" " + json.dumps(header, sort_keys=True).encode() + b"\n" + payload

    @staticmethod
    def read_header(data: bytes) -> dict[str, Any]:
        """The JSON header of :meth:`to_bytes` output (no unpickling)."""
        if not data.startswith(_MAGIC + b" ") or b"\n" not in data:
            raise ModelFormatError(f"not an Argus track classifier (bad header); {_RETRAIN}")
        line = data[len(_MAGIC) + 1 : data.index(b"\n")]
        try:
            header = json.loads(line)
        except ValueError as exc:
            raise ModelFormatError(
                f"track classifier header is not valid JSON; {_RETRAIN}"
            ) from exc
        if not isinstance(header, dict):
            raise ModelFormatError(f"track classifier header is not a JSON object; {_RETRAIN}")
        return header

    @staticmethod
    def from_bytes(data: bytes) -> TrainedClassifier:
        """Load :meth:`to_bytes` output, refusing another format version, another scikit-learn
        major.minor or a payload whose SHA-256 does not match (:class:`ModelFormatError`)."""
        header = TrainedClassifier.read_header(data)
        if header.get("format") != FORMAT_VERSION:
            raise ModelFormatError(
                f"track classifier format {header.get('format')!r}, this Argus reads "
                f"format {FORMAT_VERSION}; {_RETRAIN}"
            )
        saved = str(header.get("sklearn", "?"))
        here = _sklearn_version()
        if _major_minor(saved) != _major_minor(here):
            raise ModelFormatError(
                f"track classifier was trained with scikit-learn {saved}, this process has "
                f"{here} (major.minor must match); {_RETRAIN}"
            )
        payload = data[data.index(b"\n") + 1 :]
        if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
            raise ModelFormatError(
                f"track classifier payload is corrupted (SHA-256 mismatch); {_RETRAIN}"
            )
        try:
            model = pickle.loads(payload)
        except Exception as exc:
            raise ModelFormatError(
                f"track classifier payload cannot be unpickled ({exc}); {_RETRAIN}"
            ) from exc
        if not isinstance(model, TrainedClassifier):
            raise ModelFormatError(f"payload is a {type(model).__name__}; {_RETRAIN}")
        return model


def _encode(y: npt.ArrayLike, classes: tuple[str, ...] = CLASSES) -> npt.NDArray[np.int64]:
    labels = np.asarray(y).astype(str).reshape(-1)
    lookup = {c: i for i, c in enumerate(classes)}
    bad = sorted(set(labels.tolist()) - set(lookup))
    if bad:
        raise ValueError(f"y: unknown class(es) {bad}; expected one of {list(classes)}")
    return np.array([lookup[v] for v in labels.tolist()], dtype=np.int64)


def train(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    seed: int = 0,
    *,
    kind: ModelKind = "hist_gradient_boosting",
    n_estimators: int = 300,
) -> TrainedClassifier:
    """Fit a classifier on features ``x`` (N, F) and class names ``y`` (N,).

    ``kind`` ``"hist_gradient_boosting"`` (default: best held-out accuracy in
    ``benchmarks/bench_classifier.py``, NaN-aware, small model) or ``"random_forest"``
    (scikit-learn's native missing-value support). ``n_estimators`` is the number of boosting
    iterations or trees. Deterministic for a seed.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"X: expected shape (N, {len(FEATURE_NAMES)}), got {arr.shape}")
    codes = _encode(y)
    if codes.size != arr.shape[0]:
        raise ValueError(f"y has {codes.size} labels for {arr.shape[0]} rows of X")
    if np.unique(codes).size < 2:
        raise ValueError("y: need at least two classes to train")
    if kind == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]

        est: Any = HistGradientBoostingClassifier(
            max_iter=n_estimators,
            learning_rate=0.1,
            max_leaf_nodes=31,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        )
    elif kind == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        est = RandomForestClassifier(
            n_estimators=n_estimators, min_samples_leaf=1, n_jobs=1, random_state=seed
        )
    else:
        raise ValueError(
            f"kind: expected 'hist_gradient_boosting' or 'random_forest', got {kind!r}"
        )
    est.fit(arr, codes)
    return TrainedClassifier(est, kind, n_train=int(arr.shape[0]), seed=seed)


def evaluate(model: TrainedClassifier, x: npt.ArrayLike, y: npt.ArrayLike) -> ClassifierMetrics:
    """Accuracy, confusion matrix and per-class precision/recall of ``model`` on (x, y)."""
    truth = _encode(y, model.classes)
    labels, _ = model.predict(x)
    pred = _encode(labels, model.classes)
    return metrics_from_labels(truth, pred, model.classes)


def metrics_from_labels(
    truth: npt.ArrayLike, pred: npt.ArrayLike, classes: tuple[str, ...] = CLASSES
) -> ClassifierMetrics:
    """:class:`ClassifierMetrics` of predicted against true labels (class names or codes)."""
    t = np.asarray(truth)
    p = np.asarray(pred)
    if t.dtype.kind in "US" or t.dtype == object:
        t = _encode(t, classes)
    if p.dtype.kind in "US" or p.dtype == object:
        p = _encode(p, classes)
    c = len(classes)
    conf = np.bincount(t * c + p, minlength=c * c).reshape(c, c).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.diag(conf) / conf.sum(axis=0)
        recall = np.diag(conf) / conf.sum(axis=1)
    n = int(t.size)
    return ClassifierMetrics(
        accuracy=float(np.trace(conf) / n) if n else math.nan,
        confusion=conf,
        classes=classes,
        precision=precision.astype(np.float64),
        recall=recall.astype(np.float64),
        n=n,
    )
