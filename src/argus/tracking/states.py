"""Batched state containers: one row per track.

:class:`GaussianStates` holds ``k`` Gaussian states (means (k, n), covariances (k, n, n));
:class:`IMMStates` holds ``k`` Gaussian mixtures over ``r`` motion modes (the IMM's
mode-conditioned estimates and mode probabilities). Both offer the same small interface, which
is all the tracker needs: ``len()``, :meth:`take`, :meth:`put`, :meth:`concat` and the
moment-matched ``mean`` / ``covar``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

__all__ = ["GaussianStates", "IMMStates", "States"]


class States(Protocol):
    """What every batched state container offers."""

    @property
    def mean(self) -> FloatArray: ...

    @property
    def covar(self) -> FloatArray: ...

    def __len__(self) -> int: ...

    def take(self, index: IndexArray | npt.NDArray[np.bool_]) -> Self: ...

    def put(self, index: IndexArray, other: Self) -> None: ...

    def concat(self, others: Sequence[Self]) -> Self: ...


@dataclass
class GaussianStates:
    """``k`` Gaussian states: ``mean`` (k, n) and ``covar`` (k, n, n)."""

    mean: FloatArray
    covar: FloatArray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64)
        self.covar = np.asarray(self.covar, dtype=np.float64)
        if self.mean.ndim != 2:
            raise ValueError(f"mean must be (k, n), got shape {self.mean.shape}")
        k, n = self.mean.shape
        if self.covar.shape != (k, n, n):
            raise ValueError(f"covar must be {(k, n, n)}, got shape {self.covar.shape}")

    @classmethod
    def empty(cls, ndim_state: int) -> GaussianStates:
        return cls(np.zeros((0, ndim_state)), np.zeros((0, ndim_state, ndim_state)))

    @property
    def ndim_state(self) -> int:
        return int(self.mean.shape[1])

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    def take(self, index: IndexArray | npt.NDArray[np.bool_]) -> GaussianStates:
        return GaussianStates(self.mean[index], self.covar[index])

    def put(self, index: IndexArray, other: GaussianStates) -> None:
        self.mean[index] = other.mean
        self.covar[index] = other.covar

    def concat(self, others: Sequence[GaussianStates]) -> GaussianStates:
        parts = [self, *others]
        return GaussianStates(
            np.concatenate([p.mean for p in parts]), np.concatenate([p.covar for p in parts])
        )

    def copy(self) -> GaussianStates:
        return GaussianStates(self.mean.copy(), self.covar.copy())


@dataclass
class IMMStates:
    """``k`` mixtures over ``r`` modes: ``mode_mean`` (k, r, n), ``mode_covar`` (k, r, n, n),
    ``mode_prob`` (k, r) (rows sum to 1)."""

    mode_mean: FloatArray
    mode_covar: FloatArray
    mode_prob: FloatArray

    def __post_init__(self) -> None:
        self.mode_mean = np.asarray(self.mode_mean, dtype=np.float64)
        self.mode_covar = np.asarray(self.mode_covar, dtype=np.float64)
        self.mode_prob = np.asarray(self.mode_prob, dtype=np.float64)
        k, r, n = self.mode_mean.shape
        if self.mode_covar.shape != (k, r, n, n) or self.mode_prob.shape != (k, r):
            raise ValueError(
                f"IMMStates shapes disagree: mean {self.mode_mean.shape}, covar "
                f"{self.mode_covar.shape}, prob {self.mode_prob.shape}"
            )

    @property
    def n_modes(self) -> int:
        return int(self.mode_mean.shape[1])

    @property
    def ndim_state(self) -> int:
        return int(self.mode_mean.shape[2])

    def __len__(self) -> int:
        return int(self.mode_mean.shape[0])

    @property
    def mean(self) -> FloatArray:
        """Moment-matched mean ``Σ_j μ_j x_j`` (k, n)."""
        return np.einsum("kr,krn->kn", self.mode_prob, self.mode_mean)

    @property
    def covar(self) -> FloatArray:
        """Moment-matched covariance ``Σ_j μ_j (P_j + (x_j - x)(x_j - x)ᵀ)`` (k, n, n)."""
        dx = self.mode_mean - self.mean[:, None, :]
        spread = self.mode_covar + dx[..., :, None] * dx[..., None, :]
        return np.einsum("kr,krij->kij", self.mode_prob, spread)

    def take(self, index: IndexArray | npt.NDArray[np.bool_]) -> IMMStates:
        return IMMStates(self.mode_mean[index], self.mode_covar[index], self.mode_prob[index])

    def put(self, index: IndexArray, other: IMMStates) -> None:
        self.mode_mean[index] = other.mode_mean
        self.mode_covar[index] = other.mode_covar
        self.mode_prob[index] = other.mode_prob

    def concat(self, others: Sequence[IMMStates]) -> IMMStates:
        parts = [self, *others]
        return IMMStates(
            np.concatenate([p.mode_mean for p in parts]),
            np.concatenate([p.mode_covar for p in parts]),
            np.concatenate([p.mode_prob for p in parts]),
        )

    def copy(self) -> IMMStates:
        return IMMStates(self.mode_mean.copy(), self.mode_covar.copy(), self.mode_prob.copy())
