"""Time difference of arrival between two receivers' captures of the same emission.

For captures ``a`` and ``b`` (same rate and tuning), stamped starts ``T_a``, ``T_b``, the
stamped arrival difference is ``d_a - d_b = m / fs + (T_a - T_b)`` where ``m`` is the lag of
the maximum of the cross-ambiguity function

    C(m, ν) = Σ_k a[k + m] e^{-j2πν(k+m)/fs} b*[k]      (S. Stein, "Algorithms for ambiguity
                                                        function processing", IEEE Trans. ASSP
                                                        29(3), 1981)

computed with FFTs (``IFFT(X_ν · Y* · W)``, zero-padded to ``L ≥ N_a + N_b``, so linear):

1. **Frequency offsets.** Each receiver's frequency offset (its LO error, Doppler) differs;
   a residual ``Δν`` decorrelates the pair once ``Δν T ≳ 1/2``. ``ν`` runs over a grid of
   ``fs / L ≈ 1 / (2T)`` steps within ``±max_frequency_offset_hz`` (integer shifts of the
   padded DFT, exact), the best row is refined by a parabola across rows, and ``a`` is
   de-rotated by that ``ν`` before the delay is refined.
2. **Weighting.** ``W`` is the maximum-likelihood (Hannan–Thomson) weighting of C. H. Knapp
   and G. C. Carter, "The generalized correlation method for estimation of time delay",
   *IEEE Trans. ASSP* 24(4), 1976: ``W ∝ |γ|² / (|G_ab| (1 - |γ|²))`` with the coherence
   ``|γ|² = S_a S_b / ((S_a + N_a)(S_b + N_b))``, i.e. ``W = √(ρ_a ρ_b) / (ρ_a + ρ_b + 1)`` in
   terms of each receiver's per-bin SNR ``ρ(f)`` (smoothed periodograms over the noise floor of
   :func:`argus.rf.measure.measure_iq`, zero outside the detected band).
3. **Sub-sample peak.** Around the integer peak the band-limited correlation
   ``R(τ) = Σ_k G_k W_k e^{j2π f_k τ}`` divided by the number of overlapping samples is
   maximized over continuous ``τ`` (bounded Brent): the exact interpolation of the sampled
   correlation, without the bias of a parabola. Dividing by the overlap (the "unbiased"
   correlation) matters: the linear correlation of two finite captures is tapered by their
   overlap, which tilts a broad peak (an NFM signal's is ~100 samples wide) towards the lag of
   full overlap by more than a sample.
4. **Checks.** A pair is rejected, with the reason, when the peak does not stand above the
   correlation's noise (the median of ``|C|`` over all lags gives the Rayleigh scale ``σ``;
   the peak must exceed ``σ √(2 ln(cells / p_fa))``), when the peak lies on the edge of the
   physically possible lag window ``|d_a - d_b| ≤ baseline / c + 6 √(σ_a² + σ_b²)``, or when
   the signal carries no usable delay information (predicted σ above ``max_sigma_s``, e.g. a
   tone).
5. **Accuracy.** The Cramér–Rao bound of the delay from two noisy observations of a Gaussian
   signal (Knapp & Carter 1976, eq. 20; the Fisher information of the 2 × 2 spectral
   covariance per bin, with the unknown phase removed by centring the frequencies):
   ``J = 2 (N/L) Σ_k (2π(f_k - f̄))² ρ_a ρ_b / (ρ_a + ρ_b + 1)``, ``σ_τ = J^{-1/2}``
   (``N`` the overlapping samples; ``f̄`` the weighted mean frequency). At high SNR it splits
   into one term per receiver, ``1 / (2 (N/L) Σ (2πΔf)² ρ_i)`` (``separable_var_*``).
6. **Measured accuracy.** The bound assumes a stationary Gaussian signal whose smoothed
   spectrum is the truth; a 5 ms NFM stretch (time-bandwidth product ~75) is neither, and its
   delays scatter ~1.3× the bound. :func:`measured_delay_variance` estimates the variance from
   the pair's own data instead: on the overlapping stretch, aligned at the estimate (unpadded
   DFT, so the bins are independent), the estimator's first-order condition is a sum of
   per-bin scores ``u_k = W_k ω_k Im(G_k)``; its curvature is ``Σ W_k ω_k² Re(G_k)``. The
   sandwich (heteroscedasticity-consistent, H. White, *Econometrica* 48(4), 1980) variance
   ``Σ u_k² / (Σ W ω² Re G)²`` uses the scatter of the scores that the data show, not the one
   the model predicts; divided by ``1 - r²`` for the frequency estimated jointly (item 5).
   ``measured_sigma_s`` reports it; :func:`argus.rf.locate.localize` weights and scales the
   fit with ``max(sigma_s, measured_sigma_s)`` (``effective_sigma_s``) and keeps ``sigma_s``
   for the bound.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft
from scipy import ndimage, optimize, stats

from argus.geo import geodetic_to_ecef
from argus.rf.measure import Measurement, measure_iq
from argus.rf.recording import SPEED_OF_LIGHT_MPS, Recording, RecordingError

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

DEFAULT_MAX_FREQUENCY_OFFSET_HZ = 200.0
DEFAULT_PFA = 1e-3
#: A pair whose predicted timing σ exceeds this carries no useful delay information.
DEFAULT_MAX_SIGMA_S = 2e-6
_SMOOTH_FRACTION = 1.0 / 512  # width of the periodogram smoothing, as a fraction of the band


@dataclass(frozen=True)
class PairTdoa:
    """Stamped arrival difference ``d_a - d_b`` (s) of one pair and how good it is."""

    a: str
    b: str
    tdoa_s: float
    sigma_s: float  # Cramér–Rao σ of the estimate (signal and noise only, no clock)
    separable_var_a_s2: float
    separable_var_b_s2: float
    frequency_difference_hz: float  # ν removed from a relative to b
    peak_over_noise: float  # |C| peak / its false-alarm threshold
    coherence: float  # normalized weighted correlation at the peak, 0..1
    ok: bool
    reason: str = ""
    measured_sigma_s: float = float("nan")  # from the data's score scatter (item 6)

    @property
    def effective_sigma_s(self) -> float:
        """``max(sigma_s, measured_sigma_s)``: the σ a fit should weight this pair with."""
        if math.isfinite(self.measured_sigma_s):
            return max(self.sigma_s, self.measured_sigma_s)
        return self.sigma_s


def _ecef(rec: Recording) -> FloatArray:
    return np.array(geodetic_to_ecef(rec.lat_deg, rec.lon_deg, rec.alt_m), dtype=np.float64)


def snr_profile(
    spectrum: ComplexArray, n_samples: int, noise_density: float, sample_rate_hz: float
) -> FloatArray:
    """Per-bin SNR ``ρ(f)`` on the padded DFT grid: smoothed ``|X|²/N`` over the noise, 0 where
    not significant (a Daniell-smoothed periodogram, 1/512 of the band wide)."""
    size = spectrum.size
    width = max(3, int(size * _SMOOTH_FRACTION))
    per = (spectrum.real**2 + spectrum.imag**2) / n_samples
    smooth = ndimage.uniform_filter1d(per, width, mode="wrap")
    ratio = smooth / (noise_density * sample_rate_hz)
    # Zero-padding to L ≈ 2N correlates neighbouring bins: about width·N/L independent ones.
    dof = max(1.0, width * n_samples / size)
    threshold = stats.gamma.ppf(1.0 - 1e-3, dof, scale=1.0 / dof)
    rho = ratio - 1.0
    rho[ratio < threshold] = 0.0
    return np.asarray(np.clip(rho, 0.0, None), dtype=np.float64)


def overlap_samples(lag: FloatArray, na: int, nb: int) -> FloatArray:
    """Samples shared by ``a[k + lag]`` and ``b[k]`` (continuous in ``lag``, at least 1)."""
    ov = np.minimum(nb, na - lag) - np.maximum(0.0, -lag)
    return np.asarray(np.maximum(ov, 1.0), dtype=np.float64)


def time_frequency_coupling(
    spectrum: ComplexArray,
    n_samples: int,
    band: npt.NDArray[np.bool_],
    f: FloatArray,
    fbar: float,
    noise_var: float,
) -> float:
    """Squared correlation ``r²`` of time and instantaneous frequency in a capture.

    With the delay τ and the frequency offset ν estimated jointly, the Fisher information of
    a signal ``s`` couples them through ``J_τν ∝ Σ t · Im(s* s')`` (a chirp-like trend of the
    instantaneous frequency over the capture); the bound of τ is ``σ_τ² / (1 - r²)`` with
    ``r² = J_τν² / (J_ττ J_νν)`` (Stein 1981; H. L. Van Trees, *Detection, Estimation and
    Modulation Theory* III, §10.2). Computed on the in-band signal, the noise's share of
    ``J_ττ`` and ``J_νν`` removed (it adds nothing to ``J_τν`` on average); capped at 0.9.
    """
    size = spectrum.size
    w = 2.0 * np.pi * (f - fbar)
    xs = sfft.ifft(spectrum * band)[:n_samples]
    ds = sfft.ifft(spectrum * band * 1j * w)[:n_samples]
    t = np.arange(n_samples) - (n_samples - 1) / 2.0
    noise_x = noise_var * n_samples * float(np.count_nonzero(band)) / size**2
    noise_d = noise_var * n_samples * float(np.sum(band * w * w)) / size**2
    cross = float(np.sum(t * np.imag(np.conj(xs) * ds)))
    j_tt = float(np.sum(np.abs(ds) ** 2)) - n_samples * noise_d
    j_nn = float(np.sum(t * t * (np.abs(xs) ** 2 - noise_x)))
    if j_tt <= 0 or j_nn <= 0:
        return 0.0
    return float(min(cross * cross / (j_tt * j_nn), 0.9))


def measured_delay_variance(
    a_iq: npt.NDArray[np.complexfloating],
    b_iq: npt.NDArray[np.complexfloating],
    lag: float,
    frequency_difference_hz: float,
    sample_rate_hz: float,
    noise_density_a: float,
    noise_density_b: float,
) -> float:
    """Sandwich variance (s²) of the delay ``lag`` (samples, ``a[k + lag] ≈ b[k]``) from the data.

    The overlapping stretch of both captures, ``a`` de-rotated by ``frequency_difference_hz``,
    is transformed without padding (independent bins); the cross-spectrum ``G_k`` aligned at
    ``lag`` and at its mean phase gives the per-bin scores ``u_k = W_k ω_k Im G_k`` of the
    weighted-correlation estimator and its curvature ``D = Σ W_k ω_k² Re G_k``
    (``ω_k = 2π(f_k - f̄)``, ``W`` the Hannan–Thomson weight); the variance is ``Σ u_k² / D²``
    (module docstring, item 6). ``noise_density_*``: each capture's noise floor per Hz (linear).
    ``inf`` when there is nothing to measure.
    """
    fs = sample_rate_hz
    m = round(lag)
    frac = lag - m
    k0, k1 = max(0, -m), min(b_iq.size, a_iq.size - m)
    n = k1 - k0
    if n < 64:
        return float("inf")
    ka = np.arange(k0 + m, k1 + m)
    xa = sfft.fft(
        a_iq[ka].astype(np.complex128) * np.exp(-2j * np.pi * frequency_difference_hz * ka / fs)
    )
    yb = sfft.fft(b_iq[k0:k1].astype(np.complex128))
    f = sfft.fftfreq(n, 1.0 / fs)
    rho_a = snr_profile(xa, n, noise_density_a, fs)
    rho_b = snr_profile(yb, n, noise_density_b, fs)
    info = rho_a * rho_b / (rho_a + rho_b + 1.0)
    if not np.any(info > 0):
        return float("inf")
    fbar = float(np.sum(info * f) / np.sum(info))
    omega = 2.0 * np.pi * (f - fbar)
    g = xa * np.conj(yb) * np.exp(2j * np.pi * f * frac / fs)
    g *= np.sqrt(rho_a * rho_b) / (rho_a + rho_b + 1.0)
    g *= np.exp(-1j * np.angle(np.sum(g)))
    curvature = float(np.sum(omega * omega * g.real))
    if curvature <= 0:
        return float("inf")
    return float(np.sum((omega * g.imag) ** 2)) / curvature**2


def pair_tdoa(
    a: Recording,
    b: Recording,
    *,
    measurement_a: Measurement | None = None,
    measurement_b: Measurement | None = None,
    clock_sigma_s: float = 50e-9,
    max_frequency_offset_hz: float = DEFAULT_MAX_FREQUENCY_OFFSET_HZ,
    max_sigma_s: float = DEFAULT_MAX_SIGMA_S,
    p_fa: float = DEFAULT_PFA,
) -> PairTdoa:
    """TDOA ``d_a - d_b`` of one pair on the stamped time axes (module docstring)."""
    for name in ("sample_rate_hz", "center_frequency_hz"):
        if getattr(a, name) != getattr(b, name):
            raise RecordingError(
                f"{name}: receivers {a.receiver!r} and {b.receiver!r} differ "
                f"({getattr(a, name)} vs {getattr(b, name)}); TDOA needs one tuning"
            )
    fs = a.sample_rate_hz
    ma = measurement_a or measure_iq(a.iq, fs)
    mb = measurement_b or measure_iq(b.iq, fs)
    start_diff = a.seconds_since(b.start) - b.start_ns_frac * 1e-9  # T_a - T_b
    baseline = float(np.linalg.norm(_ecef(a) - _ecef(b)))
    window_s = baseline / SPEED_OF_LIGHT_MPS + 6.0 * math.sqrt(2.0) * clock_sigma_s + 4.0 / fs
    na, nb = a.iq.size, b.iq.size
    size = sfft.next_fast_len(na + nb)
    xa = sfft.fft(a.iq.astype(np.complex128), n=size)
    yb = sfft.fft(b.iq.astype(np.complex128), n=size)
    f = sfft.fftfreq(size, 1.0 / fs)

    def fail(reason: str, **kw: float) -> PairTdoa:
        return PairTdoa(
            a.receiver,
            b.receiver,
            float("nan"),
            float("inf"),
            float("inf"),
            float("inf"),
            kw.get("nu", float("nan")),
            kw.get("peak", 0.0),
            kw.get("coh", 0.0),
            False,
            reason,
        )

    if not (math.isfinite(ma.snr_db) and math.isfinite(mb.snr_db)):
        return fail("no signal detected at one of the receivers")
    n0a = 10.0 ** (ma.noise_floor_dbfs / 10.0)
    n0b = 10.0 ** (mb.noise_floor_dbfs / 10.0)
    rho_a = snr_profile(xa, na, n0a, fs)
    rho_b = snr_profile(yb, nb, n0b, fs)
    both = rho_a * rho_b
    if not np.any(both > 0):
        return fail("the two receivers' signal bands do not overlap")
    weight = np.sqrt(both) / (rho_a + rho_b + 1.0)

    # Lags m (samples) allowed: |m/fs + (T_a - T_b)| <= window.
    m_lo = math.floor((-window_s - start_diff) * fs)
    m_hi = math.ceil((window_s - start_diff) * fs)
    if m_hi - m_lo + 1 >= size // 2 or m_lo <= -nb or m_hi >= na:
        return fail("the captures do not overlap within the physically possible delays")
    max_shift = int(max_frequency_offset_hz * size / fs)
    shifts = np.arange(-max_shift, max_shift + 1)
    rows = np.stack([np.roll(xa, -s) for s in shifts]) * (np.conj(yb) * weight)[None, :]
    caf = np.abs(sfft.ifft(rows, axis=-1))
    lags = np.arange(m_lo, m_hi + 1)
    window = caf[:, lags % size]
    taper = overlap_samples(lags.astype(np.float64), na, nb)
    s_idx, l_idx = np.unravel_index(int(np.argmax(window / taper)), window.shape)
    peak = float(window[s_idx, l_idx])
    sigma_noise = float(np.median(caf[s_idx])) / math.sqrt(2.0 * math.log(2.0))
    cells = window.size
    threshold = sigma_noise * math.sqrt(2.0 * math.log(cells / p_fa))
    # frequency: parabola across the CAF rows at the peak lag
    nu_bins = float(shifts[s_idx])
    if 0 < s_idx < len(shifts) - 1:
        c0, c1, c2 = window[s_idx - 1, l_idx], peak, window[s_idx + 1, l_idx]
        den = c0 - 2 * c1 + c2
        if den < 0:
            nu_bins += 0.5 * (c0 - c2) / den
    nu = nu_bins * fs / size
    if peak < threshold:
        return fail(
            "no distinct correlation peak (a tone or an unmodulated carrier carries no delay "
            "information, or the SNR is too low)",
            nu=nu,
            peak=peak / threshold,
        )
    if l_idx in (0, len(lags) - 1):
        return fail(
            "the correlation peak lies on the edge of the physically possible lag window",
            nu=nu,
            peak=peak / threshold,
        )
    m0 = int(lags[l_idx])
    # Joint refinement of (lag, ν): for a non-stationary signal (FM) delay and frequency couple,
    # so ν from the grid alone would bias the lag. Each evaluation de-rotates a by ν (one FFT).
    k = np.arange(na)
    fn = f / fs
    yw = np.conj(yb) * weight

    def spectrum(nu_hz: float) -> ComplexArray:
        return np.asarray(sfft.fft(a.iq * np.exp(-2j * np.pi * nu_hz * k / fs), n=size))

    def neg_caf(params: FloatArray) -> float:
        lag_, nu_ = float(params[0]), float(params[1]) * fs / size
        ov = float(overlap_samples(np.array([lag_]), na, nb)[0])
        return -float(np.abs(np.dot(spectrum(nu_) * yw, np.exp(2j * np.pi * fn * lag_)))) / ov

    res = optimize.minimize(
        neg_caf,
        np.array([float(m0), nu_bins]),
        method="Nelder-Mead",
        options={
            "xatol": 1e-4,
            "fatol": 1e-9,
            "initial_simplex": np.array(
                [[m0, nu_bins], [m0 + 0.5, nu_bins], [m0, nu_bins + 0.5]], dtype=float
            ),
        },
    )
    lag = float(res.x[0])
    nu = float(res.x[1]) * fs / size
    if abs(lag - m0) > 10.0 or not (lags[0] <= lag <= lags[-1]):
        return fail("the delay refinement left the correlation peak", nu=nu, peak=peak / threshold)
    xa_nu = spectrum(nu)
    norm = math.sqrt(
        float(np.sum(weight * np.abs(xa_nu) ** 2)) * float(np.sum(weight * np.abs(yb) ** 2))
    )
    ov_peak = float(overlap_samples(np.array([lag]), na, nb)[0])
    coherence = -float(res.fun) * ov_peak / norm if norm > 0 else 0.0
    # Cramér–Rao bound for this pair (module docstring, item 5)
    overlap = ov_peak
    info_w = both / (rho_a + rho_b + 1.0)
    fbar = float(np.sum(info_w * f) / np.sum(info_w))
    w2 = (2.0 * np.pi * (f - fbar)) ** 2
    # ν is estimated too: the delay's bound grows by 1/(1 - r²), r the time-frequency
    # correlation of the signal (item 5), measured on the stronger capture.
    if ma.snr_db >= mb.snr_db:
        r2 = time_frequency_coupling(xa_nu, na, both > 0, f, fbar, n0a * fs)
    else:
        r2 = time_frequency_coupling(yb, nb, both > 0, f, fbar, n0b * fs)
    scale = 2.0 * overlap / size * (1.0 - r2)
    j_pair = scale * float(np.sum(w2 * info_w))
    var_a = 1.0 / max(scale * float(np.sum(w2 * rho_a * (rho_b > 0))), 1e-300)
    var_b = 1.0 / max(scale * float(np.sum(w2 * rho_b * (rho_a > 0))), 1e-300)
    sigma = 1.0 / math.sqrt(j_pair) if j_pair > 0 else float("inf")
    tdoa = lag / fs + start_diff
    if sigma > max_sigma_s:
        return fail(
            f"too narrowband for timing: predicted σ {sigma * 1e9:.0f} ns > "
            f"{max_sigma_s * 1e9:.0f} ns",
            nu=nu,
            peak=peak / threshold,
            coh=coherence,
        )
    measured_var = measured_delay_variance(a.iq, b.iq, lag, nu, fs, n0a, n0b)
    return PairTdoa(
        a.receiver,
        b.receiver,
        tdoa,
        sigma,
        var_a,
        var_b,
        nu,
        peak / threshold,
        coherence,
        True,
        measured_sigma_s=math.sqrt(measured_var / (1.0 - r2)),
    )


def tdoas_to_reference(
    recordings: Sequence[Recording],
    measurements: Sequence[Measurement],
    reference: int,
    *,
    clock_sigma_s: float = 50e-9,
    max_frequency_offset_hz: float = DEFAULT_MAX_FREQUENCY_OFFSET_HZ,
) -> list[PairTdoa | None]:
    """``pair_tdoa(recordings[i], recordings[reference])`` for each ``i`` (None at the reference)."""
    ref = recordings[reference]
    out: list[PairTdoa | None] = []
    for i, rec in enumerate(recordings):
        if i == reference:
            out.append(None)
            continue
        out.append(
            pair_tdoa(
                rec,
                ref,
                measurement_a=measurements[i],
                measurement_b=measurements[reference],
                clock_sigma_s=clock_sigma_s,
                max_frequency_offset_hz=max_frequency_offset_hz,
            )
        )
    return out


def common_epoch(recordings: Sequence[Recording]) -> dt.datetime:
    """The earliest stamped start (a convenient epoch for relative times)."""
    return min(r.start for r in recordings)
