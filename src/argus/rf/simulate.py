"""A simulated receiver network: one emitter seen by several receivers, with the truth kept.

Signal model (complex baseband at the common tuning ``f_c``; ``t`` true time):

    r_i[k] = a_i · b(t_ik - τ_i) · e^{j2π f_e (t_ik - τ_i)} · e^{-j2π f_c τ_i}
             · e^{-j2π δ_i (t_ik - t_0)} + n_i[k],        t_ik = T_i - ε_i + k / fs

- ``b`` the emitter's unit-power complex envelope (``cw``: 1; ``nfm``: ``exp(jφ)`` with
  ``φ = 2π Δf ∫ m``, ``m`` unit-RMS band-limited noise in 300 Hz–``audio_bandwidth_hz``, a
  voice-like modulation; ``wideband``: complex Gaussian noise, flat over ``bandwidth_hz`` with
  raised-cosine edges (the spectrum of a QPSK-like signal with 10 % roll-off); ``burst``: the
  wideband signal gated on ``burst_duty`` of every ``burst_period_s`` with raised-cosine ramps),
  ``f_e`` its frequency offset from ``f_c``;
- ``τ_i = |p_e - p_i| / c`` the exact propagation delay (WGS-84 ECEF slant range), applied as a
  fractional delay in the frequency domain: ``b`` is generated periodic and band-limited on a
  grid longer than every capture, so multiplying its DFT by ``e^{j2π m u / L}`` is an exact
  shift by any real ``u`` samples (the DFT shift theorem);
- ``T_i = start + start_offset_s`` the start the receiver *stamps* (``core:datetime``; receivers
  do not start together), ``ε_i ~ N(0, clock_sigma_s²)`` its clock error (the clock reads
  ``ε_i`` ahead of true time), so the stamped arrival is ``τ_i + ε_i``;
- ``δ_i`` the receiver's LO offset; ``a_i`` from the link budget: received power
  ``P_r = EIRP + G_rx - PL(d)`` with free-space loss ``PL = 20 log10(4π d f_c / c)``
  (Friis 1946) or the log-distance model ``PL = FSPL(d_0) + 10 n log10(d / d_0) + X``,
  ``X ~ N(0, σ_sh²)`` lognormal shadowing (T. S. Rappaport, *Wireless Communications*, 2nd ed.,
  §4.9–4.10); ``n_i`` thermal noise of power ``k T_0 fs · F`` (−174 dBm/Hz + NF).

Full scale: each receiver's gain puts its noise at −40 dBFS; ``meta["argus:full_scale_dbm"]``
records the input power of 0 dBFS so RSS can compare receivers in dBm.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft

from argus.geo import enu_to_geodetic, geodetic_to_ecef
from argus.rf.recording import SPEED_OF_LIGHT_MPS, Recording, split_time_s

FloatArray = npt.NDArray[np.float64]
Kind = Literal["cw", "nfm", "wideband", "burst"]
KINDS: tuple[str, ...] = ("cw", "nfm", "wideband", "burst")

#: Thermal noise density at T0 = 290 K, dBm/Hz (k T0 = 4.00e-21 W/Hz).
KT0_DBM_HZ = 10.0 * math.log10(1.380649e-23 * 290.0 * 1e3)
#: Where each simulated receiver puts its noise power (dBFS over the whole band).
NOISE_DBFS = -40.0


@dataclass(frozen=True)
class Emitter:
    """A transmitter: where, how strong (EIRP, dBm), what it sends."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 10.0
    eirp_dbm: float = 30.0
    kind: Kind = "wideband"
    bandwidth_hz: float = 200e3  # wideband/burst occupied band; nfm: informational (Carson)
    frequency_offset_hz: float = 0.0
    deviation_hz: float = 2500.0  # nfm peak-ish (RMS of the unit-RMS modulation × this)
    audio_bandwidth_hz: float = 3000.0  # nfm modulation band 300 Hz .. this
    burst_period_s: float = 2e-3
    burst_duty: float = 0.3

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind in ("wideband", "burst") and not self.bandwidth_hz > 0:
            raise ValueError(f"bandwidth_hz: must be > 0, got {self.bandwidth_hz}")
        if self.kind == "burst" and not (0.0 < self.burst_duty <= 1.0):
            raise ValueError(f"burst_duty: must be in (0, 1], got {self.burst_duty}")
        if self.kind == "burst" and not self.burst_period_s > 0:
            raise ValueError(f"burst_period_s: must be > 0, got {self.burst_period_s}")
        if self.kind == "nfm" and not (self.deviation_hz > 0 and self.audio_bandwidth_hz > 300):
            raise ValueError("deviation_hz > 0 and audio_bandwidth_hz > 300 are required for nfm")


@dataclass(frozen=True)
class ReceiverSpec:
    """A receiver: position, clock quality (1-σ timing error), LO offset, noise figure."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 10.0
    clock_sigma_s: float = 50e-9
    lo_offset_hz: float = 0.0
    noise_figure_db: float = 6.0
    start_offset_s: float = 0.0  # when it starts (stamped), after the acquisition's start
    antenna_gain_dbi: float = 0.0


@dataclass(frozen=True)
class PathLoss:
    """Free space (``exponent = 2``, no shadowing) or log-distance with lognormal shadowing."""

    exponent: float = 2.0
    reference_distance_m: float = 1.0
    shadowing_db: float = 0.0

    def loss_db(self, distance_m: FloatArray, frequency_hz: float) -> FloatArray:
        d0 = self.reference_distance_m
        fspl_d0 = 20.0 * np.log10(4.0 * np.pi * d0 * frequency_hz / SPEED_OF_LIGHT_MPS)
        return fspl_d0 + 10.0 * self.exponent * np.log10(np.maximum(distance_m, d0) / d0)


@dataclass(frozen=True)
class Truth:
    """What the simulation did, per receiver in the order given (for scoring)."""

    emitter: Emitter
    receivers: tuple[str, ...]
    start: dt.datetime
    sample_rate_hz: float
    center_frequency_hz: float
    distance_m: FloatArray
    propagation_delay_s: FloatArray
    clock_error_s: FloatArray
    start_offset_s: FloatArray
    received_power_dbm: FloatArray
    noise_power_dbm: FloatArray
    shadowing_db: FloatArray
    snr_db: FloatArray  # signal over the noise of the whole band (measure.py's definition)
    lo_offset_hz: FloatArray
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stamped_arrival_s(self) -> FloatArray:
        """``τ_i + ε_i``: the arrival time each receiver's clock assigns, minus the emission."""
        return self.propagation_delay_s + self.clock_error_s

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "emitter": asdict(self.emitter),
            "receivers": list(self.receivers),
            "start": self.start.isoformat(),
            "sample_rate_hz": self.sample_rate_hz,
            "center_frequency_hz": self.center_frequency_hz,
        }
        for name in (
            "distance_m",
            "propagation_delay_s",
            "clock_error_s",
            "start_offset_s",
            "received_power_dbm",
            "noise_power_dbm",
            "shadowing_db",
            "snr_db",
            "lo_offset_hz",
        ):
            out[name] = [float(v) for v in getattr(self, name)]
        out.update(self.extra)
        return out


def slant_range_m(
    lat_deg: float, lon_deg: float, alt_m: float, receivers: Sequence[ReceiverSpec]
) -> FloatArray:
    """WGS-84 straight-line distances from the point to each receiver (m)."""
    e = np.array(geodetic_to_ecef(lat_deg, lon_deg, alt_m))
    r = np.stack(
        geodetic_to_ecef(
            np.array([s.lat_deg for s in receivers]),
            np.array([s.lon_deg for s in receivers]),
            np.array([s.alt_m for s in receivers]),
        ),
        axis=-1,
    )
    return np.asarray(np.linalg.norm(r - e, axis=-1), dtype=np.float64)


def _raised_cosine_band(f: FloatArray, bandwidth_hz: float, rolloff: float = 0.1) -> FloatArray:
    """Amplitude response: flat to ``(1-α)B/2``, cosine to zero at ``(1+α)B/2``."""
    half = bandwidth_hz / 2.0
    lo, hi = (1.0 - rolloff) * half, (1.0 + rolloff) * half
    a = np.abs(f)
    out = np.where(a <= lo, 1.0, 0.0)
    edge = (a > lo) & (a < hi)
    out[edge] = 0.5 * (1.0 + np.cos(np.pi * (a[edge] - lo) / (hi - lo)))
    return out


def envelope_spectrum(
    emitter: Emitter, n: int, sample_rate_hz: float, rng: np.random.Generator
) -> npt.NDArray[np.complex128]:
    """DFT of one period (``n`` samples) of the unit-power complex envelope ``b``."""
    f = sfft.fftfreq(n, 1.0 / sample_rate_hz)
    if emitter.kind == "cw":
        spec = np.zeros(n, complex)
        spec[0] = n
        return spec
    if emitter.kind == "nfm":
        band = (np.abs(f) >= 300.0) & (np.abs(f) <= emitter.audio_bandwidth_hz)
        m_spec = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * band
        m = sfft.ifft(m_spec).real
        m /= np.sqrt(np.mean(m * m))
        # φ = 2π Δf ∫ m dt in the frequency domain (m has no DC, so φ is periodic).
        m_spec = sfft.fft(m)
        phi_spec = np.zeros(n, complex)
        nz = f != 0
        phi_spec[nz] = 2.0 * np.pi * emitter.deviation_hz * m_spec[nz] / (2j * np.pi * f[nz])
        phi = sfft.ifft(phi_spec).real
        return np.asarray(sfft.fft(np.exp(1j * phi)))
    # wideband / burst: band-limited complex Gaussian noise
    shape = _raised_cosine_band(f, emitter.bandwidth_hz)
    spec = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * shape
    if emitter.kind == "burst":
        b = sfft.ifft(spec)
        t = np.arange(n) / sample_rate_hz
        b *= _burst_gate(t, emitter)
        spec = sfft.fft(b)
    power = np.sum(np.abs(spec) ** 2) / n**2
    return np.asarray(spec / np.sqrt(power))


def _burst_gate(t: FloatArray, emitter: Emitter) -> FloatArray:
    """On for ``duty`` of each period, raised-cosine ramps of 10 / bandwidth."""
    period, on = emitter.burst_period_s, emitter.burst_duty * emitter.burst_period_s
    ramp = min(10.0 / emitter.bandwidth_hz, on / 4.0)
    ph = np.mod(t, period)
    g = np.where(ph < on, 1.0, 0.0)
    up = ph < ramp
    g[up] = 0.5 * (1.0 - np.cos(np.pi * ph[up] / ramp))
    down = (ph > on - ramp) & (ph < on)
    g[down] = 0.5 * (1.0 - np.cos(np.pi * (on - ph[down]) / ramp))
    return g


def simulate_acquisition(
    emitter: Emitter,
    receivers: Sequence[ReceiverSpec],
    *,
    sample_rate_hz: float,
    center_frequency_hz: float,
    duration_s: float,
    start: dt.datetime,
    seed: int,
    snr_db: float | None = None,
    path_loss: PathLoss | None = None,
) -> tuple[list[Recording], Truth]:
    """One capture per receiver of ``emitter`` (module docstring: the model), and the truth.

    ``snr_db``: when given, the EIRP is scaled so the strongest receiver's SNR (signal over the
    whole band's noise, as :func:`argus.rf.measure.measure_iq` reports it) equals it.
    Deterministic for a given ``seed``.
    """
    if not receivers:
        raise ValueError("receivers: at least one receiver is required")
    if len({r.name for r in receivers}) != len(receivers):
        raise ValueError("receivers: names must be distinct")
    if not (sample_rate_hz > 0 and duration_s > 0):
        raise ValueError("sample_rate_hz and duration_s must be > 0")
    if start.tzinfo is None:
        raise ValueError("start: a timezone-aware UTC datetime is required")
    pl = path_loss or PathLoss()
    rng = np.random.default_rng(seed)
    fs = float(sample_rate_hz)
    n_cap = round(duration_s * fs)
    if n_cap < 64:
        raise ValueError(f"duration_s: {duration_s} s gives {n_cap} samples; at least 64 needed")
    m = len(receivers)
    dist = slant_range_m(emitter.lat_deg, emitter.lon_deg, emitter.alt_m, receivers)
    tau = dist / SPEED_OF_LIGHT_MPS
    sigma_clock = np.array([r.clock_sigma_s for r in receivers])
    eps = rng.standard_normal(m) * sigma_clock
    offsets = np.array([r.start_offset_s for r in receivers], dtype=np.float64)
    shadow = rng.standard_normal(m) * pl.shadowing_db
    gain = np.array([r.antenna_gain_dbi for r in receivers])
    p_rx = emitter.eirp_dbm + gain - pl.loss_db(dist, center_frequency_hz) - shadow
    noise_dbm = (
        KT0_DBM_HZ + 10.0 * math.log10(fs) + np.array([r.noise_figure_db for r in receivers])
    )
    snr = p_rx - noise_dbm
    if snr_db is not None:
        lift = snr_db - float(snr.max())
        emitter = replace(emitter, eirp_dbm=emitter.eirp_dbm + lift)
        p_rx, snr = p_rx + lift, snr + lift

    # Emission-time grid covering every capture: sample k of receiver i was emitted at
    # offset_i - ε_i - τ_i + k/fs after `start`.
    first = offsets - eps - tau
    t0 = float(first.min()) - 64.0 / fs
    shift = (first - t0) * fs  # fractional samples into the grid
    n_grid = sfft.next_fast_len(math.ceil(shift.max()) + n_cap + 128)
    b_spec = envelope_spectrum(emitter, n_grid, fs, rng)
    mfreq = sfft.fftfreq(n_grid)  # cycles/sample
    sigma_noise = math.sqrt(10.0 ** (NOISE_DBFS / 10.0))
    k = np.arange(n_cap)
    recordings: list[Recording] = []
    for i, spec in enumerate(receivers):
        u = shift[i]
        b = sfft.ifft(b_spec * np.exp(2j * np.pi * mfreq * u))[:n_cap]
        t_emit = t0 + (u + k) / fs  # emission times (s after start) of the samples
        t_true = t_emit + tau[i]
        phase = (
            2.0 * np.pi * emitter.frequency_offset_hz * t_emit
            - 2.0 * np.pi * center_frequency_hz * tau[i]
            - 2.0 * np.pi * spec.lo_offset_hz * t_true
        )
        amp = sigma_noise * 10.0 ** (snr[i] / 20.0)
        noise = rng.standard_normal((n_cap, 2)) @ np.array([1.0, 1j]) * (sigma_noise / math.sqrt(2))
        iq = (amp * b * np.exp(1j * phase) + noise).astype(np.complex64)
        stamped, ns = split_time_s(start, float(offsets[i]))
        recordings.append(
            Recording(
                iq=iq,
                sample_rate_hz=fs,
                center_frequency_hz=float(center_frequency_hz),
                start=stamped,
                start_ns_frac=ns,
                lat_deg=spec.lat_deg,
                lon_deg=spec.lon_deg,
                alt_m=spec.alt_m,
                receiver=spec.name,
                meta={
                    "argus:full_scale_dbm": float(noise_dbm[i] - NOISE_DBFS),
                    "argus:clock_sigma_s": float(spec.clock_sigma_s),
                },
            )
        )
    truth = Truth(
        emitter=emitter,
        receivers=tuple(r.name for r in receivers),
        start=start,
        sample_rate_hz=fs,
        center_frequency_hz=float(center_frequency_hz),
        distance_m=dist,
        propagation_delay_s=tau,
        clock_error_s=eps,
        start_offset_s=offsets,
        received_power_dbm=p_rx,
        noise_power_dbm=noise_dbm,
        shadowing_db=shadow,
        snr_db=snr,
        lo_offset_hz=np.array([r.lo_offset_hz for r in receivers]),
        extra={
            "path_loss": asdict(pl),
            "duration_s": n_cap / fs,
            "seed": seed,
        },
    )
    return recordings, truth


def random_network(
    n_receivers: int,
    *,
    center_lat_deg: float,
    center_lon_deg: float,
    radius_m: float,
    seed: int,
    clock_sigma_s: float = 50e-9,
    lo_sigma_hz: float = 5.0,
    max_start_offset_s: float = 200e-6,
    alt_m: float = 10.0,
) -> list[ReceiverSpec]:
    """Receivers spread around a circle of ``radius_m`` (angles evenly spaced with ±30 % jitter,
    radii 50–100 % of it), each with its LO offset ``~ N(0, lo_sigma_hz²)`` (GPS-disciplined
    receivers, as TDOA timing needs) and a start offset uniform in ``[0, max_start_offset_s)``."""
    if n_receivers < 1:
        raise ValueError("n_receivers: at least 1")
    rng = np.random.default_rng(seed)
    step = 2.0 * np.pi / n_receivers
    ang = rng.uniform(0, 2 * np.pi) + step * np.arange(n_receivers)
    ang += rng.uniform(-0.3, 0.3, n_receivers) * step
    rad = radius_m * rng.uniform(0.5, 1.0, n_receivers)
    lat, lon, _ = enu_to_geodetic(
        rad * np.sin(ang), rad * np.cos(ang), 0.0, center_lat_deg, center_lon_deg, 0.0
    )
    lo = rng.standard_normal(n_receivers) * lo_sigma_hz
    starts = rng.uniform(0.0, max_start_offset_s, n_receivers)
    return [
        ReceiverSpec(
            name=f"rx{i + 1}",
            lat_deg=float(lat[i]),
            lon_deg=float(lon[i]),
            alt_m=alt_m,
            clock_sigma_s=clock_sigma_s,
            lo_offset_hz=float(lo[i]),
            start_offset_s=float(starts[i]),
        )
        for i in range(n_receivers)
    ]


def random_emitter_position(
    *, center_lat_deg: float, center_lon_deg: float, half_width_m: float, seed: int
) -> tuple[float, float]:
    """A position uniform in the square of side ``2 · half_width_m`` about the centre."""
    rng = np.random.default_rng(seed)
    e, n = rng.uniform(-half_width_m, half_width_m, 2)
    lat, lon, _ = enu_to_geodetic(e, n, 0.0, center_lat_deg, center_lon_deg, 0.0)
    return float(lat), float(lon)
