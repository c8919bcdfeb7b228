"""Simple multi-target truth and cluttered detections, for tests and benchmarks.

Targets move with the nearly-constant-velocity model of :class:`~argus.tracking.models.
ConstantVelocity` (sampled exactly from its ``F`` and ``Q``), are born as a Poisson process at
uniform positions in a box, survive each step with a fixed probability, and are detected with
probability ``P_D`` with Gaussian position noise. False alarms are a Poisson number per scan,
uniform over the box. Everything is vectorized over targets and seeded.

This is deliberately independent of :mod:`argus.sim` / :mod:`argus.sensors`: it is the
tracking engine's own, minimal test-data generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from argus.tracking.models import ConstantVelocity, LinearPosition, NoiseKind
from argus.tracking.tracker import Scan

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = ["SimulatedScan", "position_scans", "simulate_cv_scenario"]


@dataclass(frozen=True)
class SimulatedScan:
    """Truth and detections at one time.

    ``truth_id`` (n,), ``truth_state`` (n, 2d) ``[p, v]``; ``z`` (j, d) detected positions,
    ``covar`` (d, d) their common covariance, ``source`` (j,) the truth id behind each detection
    (-1 for a false alarm).
    """

    time: float
    truth_id: IntArray
    truth_state: FloatArray
    z: FloatArray
    covar: FloatArray
    source: IntArray

    @property
    def truth_pos(self) -> FloatArray:
        return self.truth_state[:, : self.z.shape[1]]


def simulate_cv_scenario(
    *,
    n_initial: int = 100,
    birth_rate: float = 0.3,
    survival_probability: float = 1.0,
    n_steps: int = 25,
    dt: float = 5.0,
    ndim: int = 2,
    half_width: float = 20_000.0,
    speed_sigma: float = 50.0,
    noise_intensity: float = 1.0,
    noise: NoiseKind = "continuous",
    detection_probability: float = 0.9,
    clutter_rate: float = 50.0,
    measurement_sigma: float = 20.0,
    seed: int = 0,
) -> list[SimulatedScan]:
    """Simulate ``n_steps`` scans, ``dt`` seconds apart, starting at time 0.

    Targets start uniform in the box ``[-half_width, half_width]^ndim`` with per-axis velocity
    ``N(0, speed_sigma²)``; ``birth_rate`` new targets per step (Poisson) appear likewise.
    Measurements are positions with noise ``N(0, measurement_sigma² I)``; ``clutter_rate`` false
    alarms per scan (Poisson) uniform in the box.
    """
    rng = np.random.default_rng(seed)
    model = ConstantVelocity(ndim, noise_intensity, noise)
    f = model.matrix(dt)
    q_chol = np.linalg.cholesky(model.covar(dt) + 1e-12 * np.eye(2 * ndim))
    r = measurement_sigma**2 * np.eye(ndim)

    def spawn(count: int) -> FloatArray:
        pos = rng.uniform(-half_width, half_width, size=(count, ndim))
        vel = rng.normal(0.0, speed_sigma, size=(count, ndim))
        return np.concatenate([pos, vel], axis=1)

    states = spawn(n_initial)
    ids = np.arange(n_initial, dtype=np.int64)
    next_id = n_initial
    out: list[SimulatedScan] = []
    for k in range(n_steps):
        if k > 0:
            states = states @ f.T + rng.standard_normal(states.shape) @ q_chol.T
            alive = rng.random(len(states)) < survival_probability
            states, ids = states[alive], ids[alive]
            n_birth = int(rng.poisson(birth_rate))
            if n_birth:
                states = np.concatenate([states, spawn(n_birth)])
                ids = np.concatenate([ids, np.arange(next_id, next_id + n_birth, dtype=np.int64)])
                next_id += n_birth
        detected = rng.random(len(states)) < detection_probability
        z_true = states[detected, :ndim] + rng.normal(
            0.0, measurement_sigma, size=(int(detected.sum()), ndim)
        )
        n_clutter = int(rng.poisson(clutter_rate))
        z_false = rng.uniform(-half_width, half_width, size=(n_clutter, ndim))
        z = np.concatenate([z_true, z_false])
        source = np.concatenate([ids[detected], np.full(n_clutter, -1, dtype=np.int64)])
        perm = rng.permutation(len(z))
        out.append(SimulatedScan(k * dt, ids.copy(), states.copy(), z[perm], r, source[perm]))
    return out


def position_scans(sim: list[SimulatedScan], ndim_state: int | None = None) -> list[Scan]:
    """Tracker scans (linear position measurements) from a simulation."""
    scans = []
    for s in sim:
        d = s.z.shape[1]
        n = ndim_state if ndim_state is not None else 2 * d
        scans.append(Scan(s.time, s.z, s.covar, LinearPosition(n, d)))
    return scans
