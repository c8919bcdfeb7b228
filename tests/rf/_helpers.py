"""Synthetic captures shared by the RF tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from argus.rf.simulate import Emitter, envelope_spectrum

FS = 2e6


def noisy(
    clean: npt.NDArray[np.complex128], snr_db: float, seed: int, noise_var: float = 1e-4
) -> npt.NDArray[np.complex64]:
    """``clean`` (unit mean power) scaled to ``snr_db`` over complex white noise of ``noise_var``."""
    rng = np.random.default_rng(seed)
    n = clean.size
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(noise_var / 2)
    amp = np.sqrt(noise_var * 10 ** (snr_db / 10) / np.mean(np.abs(clean) ** 2))
    return (amp * clean + noise).astype(np.complex64)


def tone(n: int, f_hz: float, phase: float = 0.3) -> npt.NDArray[np.complex128]:
    return np.exp(1j * (2 * np.pi * f_hz * np.arange(n) / FS + phase))


def nfm(n: int, f_hz: float, seed: int) -> npt.NDArray[np.complex128]:
    """An NFM capture periodic over its own length: its modulation has zero mean over the
    capture, so its mean instantaneous frequency is exactly ``f_hz``."""
    em = Emitter(0.0, 0.0, kind="nfm", deviation_hz=2500.0, audio_bandwidth_hz=3000.0)
    b = np.fft.ifft(envelope_spectrum(em, n, FS, np.random.default_rng(seed)))
    return b * np.exp(2j * np.pi * f_hz * np.arange(n) / FS)
