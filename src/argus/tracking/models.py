"""Transition and measurement models, batched over tracks.

State layout
------------
Every kinematic state is stored in *derivative blocks*: for ``d`` spatial dimensions (2 or 3,
East-North-Up, metres) a constant-velocity state is ``[p_1..p_d, v_1..v_d]`` and a
constant-acceleration state ``[p, v, a]``. Position is therefore always ``x[..., :d]``. The
coordinated-turn state appends the turn rate: ``[p, v, omega]`` (rad/s, positive
counter-clockwise seen from above, i.e. from East towards North).

With this layout the per-axis matrices of a kinematic model are lifted to ``d`` dimensions with a
Kronecker product, ``F = F_1 ⊗ I_d`` and ``Q = Q_1 ⊗ I_d``.

Process noise
-------------
Two conventions of Bar-Shalom, Li & Kirubarajan (2001), §6.2-6.3, are offered for the polynomial
models; ``noise_intensity`` means something different in each:

- ``"discrete"``: the next derivative is white and constant over each step: piecewise-constant
  acceleration for CV (Bar-Shalom's DWNA model), piecewise-constant jerk for CA.
  ``noise_intensity`` is its standard deviation ``sigma`` (m/s² for CV, m/s³ for CA);
  ``Q = sigma² Γ Γᵀ`` with ``Γ_i = T^(k+1-i) / (k+1-i)!`` for state derivative ``i = 0..k``
  (CV: ``Γ = [T²/2, T]``; CA: ``Γ = [T³/6, T²/2, T]``). For CV this is the model behind the
  Kalata (1984) tracking index. (Bar-Shalom's DWPA model for CA, ``Γ = [T²/2, T, 1]`` with the
  acceleration increment as noise, can be had with :class:`CombinedTransition` parts or by
  scaling; it is not the default.)
- ``"continuous"``: continuous white noise on the highest derivative with power spectral density
  ``q = noise_intensity`` (m²/s³ for CV, m²/s⁵ for CA);
  ``Q_ij = q T^(2k+1-i-j) / ((k-i)! (k-j)! (2k+1-i-j))``. This is what Stone Soup's
  ``ConstantVelocity(noise_diff_coeff=q)`` uses.

Measurements
------------
Azimuth is measured from North, clockwise (the project's heading convention):
``az = atan2(east, north)``; elevation ``el = atan2(up, sqrt(east² + north²))``; both in radians.
:func:`unbiased_converted_measurement` turns range/azimuth/elevation into an ENU position with the
measurement-conditioned covariance of the unbiased conversion (Longbin, Xiaoquan, Yiyu, Kang &
Bar-Shalom 1998; Bar-Shalom, Li & Kirubarajan 2001, §1.7 and §10.2).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
NoiseKind = Literal["discrete", "continuous"]

__all__ = [
    "CombinedTransition",
    "ConstantAcceleration",
    "ConstantVelocity",
    "CoordinatedTurn",
    "LinearPosition",
    "LinearTransitionModel",
    "MeasurementModel",
    "RandomWalk",
    "RangeAzEl",
    "TransitionModel",
    "enu_to_rae",
    "polynomial_transition",
    "rae_to_enu",
    "unbiased_converted_measurement",
]


# ---- transition models ----


class TransitionModel(ABC):
    """``x_k = f(x_{k-1}, T) + w``, ``w ~ N(0, Q(T))``, batched over the first axis of ``x``."""

    @property
    @abstractmethod
    def ndim_state(self) -> int:
        """Length of the state vector."""

    @property
    def linear(self) -> bool:
        """True when ``f`` is a matrix that does not depend on the state."""
        return False

    @abstractmethod
    def function(self, x: FloatArray, dt: float) -> FloatArray:
        """Propagate means ``x`` (k, n) over ``dt`` seconds, noise-free."""

    @abstractmethod
    def jacobian(self, x: FloatArray, dt: float) -> FloatArray:
        """``∂f/∂x`` at each row of ``x``: (k, n, n)."""

    @abstractmethod
    def covar(self, dt: float) -> FloatArray:
        """Process-noise covariance ``Q`` (n, n) for a step of ``dt`` seconds."""


class LinearTransitionModel(TransitionModel):
    """A transition ``x_k = F(T) x_{k-1} + w``."""

    @property
    def linear(self) -> bool:
        return True

    @abstractmethod
    def matrix(self, dt: float) -> FloatArray:
        """Transition matrix ``F`` (n, n)."""

    def function(self, x: FloatArray, dt: float) -> FloatArray:
        return np.asarray(x, dtype=np.float64) @ self.matrix(dt).T

    def jacobian(self, x: FloatArray, dt: float) -> FloatArray:
        f = self.matrix(dt)
        return np.broadcast_to(f, (len(x), *f.shape))


def polynomial_transition(
    order: int, dt: float, noise_intensity: float, noise: NoiseKind
) -> tuple[FloatArray, FloatArray]:
    """One-axis ``(F_1, Q_1)`` of the order-``order`` polynomial (nearly constant derivative) model.

    ``order=1`` is constant velocity (state ``[p, v]``), ``order=2`` constant acceleration
    (``[p, v, a]``). See the module docstring for the two noise conventions.
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if noise not in ("discrete", "continuous"):
        raise ValueError(f"noise must be 'discrete' or 'continuous', got {noise!r}")
    size = order + 1
    f = np.zeros((size, size))
    for i in range(size):
        for j in range(i, size):
            f[i, j] = dt ** (j - i) / math.factorial(j - i)
    q = np.empty((size, size))
    if noise == "discrete":
        gamma = np.array(
            [dt ** (order + 1 - i) / math.factorial(order + 1 - i) for i in range(size)]
        )
        q = noise_intensity**2 * np.outer(gamma, gamma)
    else:
        for i in range(size):
            for j in range(size):
                power = 2 * order + 1 - i - j
                q[i, j] = (
                    noise_intensity
                    * dt**power
                    / (math.factorial(order - i) * math.factorial(order - j) * power)
                )
    return f, q


@dataclass(frozen=True)
class _Polynomial(LinearTransitionModel):
    ndim: int = 3
    """Number of spatial dimensions ``d`` (2 or 3 in practice; any ``d >= 1`` works)."""
    noise_intensity: float = 1.0
    """``sigma`` (discrete) or spectral density ``q`` (continuous) of the highest derivative."""
    noise: NoiseKind = "discrete"
    """Process-noise convention, ``"discrete"`` or ``"continuous"``."""

    _order: int = field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ndim < 1:
            raise ValueError(f"ndim must be >= 1, got {self.ndim}")
        if self.noise_intensity < 0:
            raise ValueError(f"noise_intensity must be >= 0, got {self.noise_intensity}")
        if self.noise not in ("discrete", "continuous"):
            raise ValueError(f"noise must be 'discrete' or 'continuous', got {self.noise!r}")

    @property
    def ndim_state(self) -> int:
        return (self._order + 1) * self.ndim

    def matrix(self, dt: float) -> FloatArray:
        f1, _ = polynomial_transition(self._order, dt, self.noise_intensity, self.noise)
        return np.asarray(np.kron(f1, np.eye(self.ndim)), dtype=np.float64)

    def covar(self, dt: float) -> FloatArray:
        _, q1 = polynomial_transition(self._order, dt, self.noise_intensity, self.noise)
        return np.asarray(np.kron(q1, np.eye(self.ndim)), dtype=np.float64)


@dataclass(frozen=True)
class ConstantVelocity(_Polynomial):
    """Nearly constant velocity: state ``[p (d), v (d)]``, white (or piecewise-constant) acceleration.

    Properties: ``ndim`` (spatial dimensions), ``noise_intensity`` (``sigma_a`` in m/s² for
    ``noise="discrete"``, PSD ``q`` in m²/s³ for ``"continuous"``), ``noise``.
    """

    _order: int = field(default=1, init=False, repr=False)


@dataclass(frozen=True)
class ConstantAcceleration(_Polynomial):
    """Nearly constant acceleration: state ``[p, v, a]``, white (or piecewise-constant) jerk.

    Properties: ``ndim``, ``noise_intensity`` (``sigma_j`` in m/s³ for ``"discrete"``, PSD ``q``
    in m²/s⁵ for ``"continuous"``), ``noise``.
    """

    _order: int = field(default=2, init=False, repr=False)


@dataclass(frozen=True)
class RandomWalk(LinearTransitionModel):
    """``x_k = decay · x_{k-1} + w`` on ``ndim`` components, ``Q = sigma² T I``.

    Used for extra state components, e.g. the turn rate carried by a constant-velocity mode of an
    IMM whose other mode is :class:`CoordinatedTurn` (``decay=0`` makes the CV mode assert a zero
    turn rate, ``decay=1`` keeps the turn rate unchanged).
    """

    ndim: int = 1
    sigma: float = 0.0
    """Noise standard deviation per square-root second."""
    decay: float = 1.0

    @property
    def ndim_state(self) -> int:
        return self.ndim

    def matrix(self, dt: float) -> FloatArray:
        return self.decay * np.eye(self.ndim)

    def covar(self, dt: float) -> FloatArray:
        return self.sigma**2 * abs(dt) * np.eye(self.ndim)


@dataclass(frozen=True)
class CombinedTransition(TransitionModel):
    """Block-diagonal combination: the state is the concatenation of the parts' states.

    ``CombinedTransition((ConstantVelocity(3, ...), RandomWalk(1, ...)))`` has state
    ``[p, v, omega]``, the same layout as :class:`CoordinatedTurn` with ``ndim=3``.
    """

    models: tuple[TransitionModel, ...] = ()

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("CombinedTransition needs at least one model")

    @property
    def ndim_state(self) -> int:
        return sum(m.ndim_state for m in self.models)

    @property
    def linear(self) -> bool:
        return all(m.linear for m in self.models)

    def _slices(self) -> list[slice]:
        out, start = [], 0
        for m in self.models:
            out.append(slice(start, start + m.ndim_state))
            start += m.ndim_state
        return out

    def function(self, x: FloatArray, dt: float) -> FloatArray:
        return np.concatenate(
            [m.function(x[:, s], dt) for m, s in zip(self.models, self._slices(), strict=True)],
            axis=1,
        )

    def jacobian(self, x: FloatArray, dt: float) -> FloatArray:
        n = self.ndim_state
        out = np.zeros((len(x), n, n))
        for m, s in zip(self.models, self._slices(), strict=True):
            out[:, s, s] = m.jacobian(x[:, s], dt)
        return out

    def matrix(self, dt: float) -> FloatArray:
        """Block-diagonal ``F`` when every part is linear."""
        n = self.ndim_state
        out = np.zeros((n, n))
        for m, s in zip(self.models, self._slices(), strict=True):
            if not isinstance(m, LinearTransitionModel):
                raise TypeError(f"{type(m).__name__} is not linear; use jacobian()")
            out[s, s] = m.matrix(dt)
        return out

    def covar(self, dt: float) -> FloatArray:
        n = self.ndim_state
        out = np.zeros((n, n))
        for m, s in zip(self.models, self._slices(), strict=True):
            out[s, s] = m.covar(dt)
        return out


@dataclass(frozen=True)
class CoordinatedTurn(TransitionModel):
    """Nearly coordinated turn with unknown turn rate (Bar-Shalom, Li & Kirubarajan 2001, §11.7).

    State ``[p (d), v (d), omega]`` with ``d`` = 2 or 3; the turn is in the East-North plane and
    the vertical channel (``d = 3``) is constant velocity. For a turn rate ``ω`` and step ``T``::

        x' = x + sin(ωT)/ω vx - (1 - cos(ωT))/ω vy
        y' = y + (1 - cos(ωT))/ω vx + sin(ωT)/ω vy
        vx' = cos(ωT) vx - sin(ωT) vy
        vy' = sin(ωT) vx + cos(ωT) vy
        ω' = ω

    (the ``ω → 0`` limit is handled with series expansions). Noise: ``sigma_a`` on every
    velocity axis and ``sigma_omega`` on the turn rate, with the same ``noise`` convention as the
    polynomial models (discrete: ``Q_ωω = sigma_omega² T²``; continuous: ``sigma_omega² T``).
    """

    ndim: int = 2
    sigma_a: float = 1.0
    sigma_omega: float = 0.01
    noise: NoiseKind = "discrete"

    def __post_init__(self) -> None:
        if self.ndim not in (2, 3):
            raise ValueError(f"CoordinatedTurn supports ndim 2 or 3, got {self.ndim}")

    @property
    def ndim_state(self) -> int:
        return 2 * self.ndim + 1

    @staticmethod
    def _terms(w: FloatArray, dt: float) -> tuple[FloatArray, ...]:
        """``sin(wT)/w``, ``(1-cos(wT))/w`` and their derivatives in ``w``; stable near 0."""
        wt = w * dt
        small = np.abs(wt) < 1e-4
        ws = np.where(small, 1.0, w)
        s, c = np.sin(wt), np.cos(wt)
        a = np.where(small, dt - w**2 * dt**3 / 6, s / ws)  # sin(wT)/w
        b = np.where(small, w * dt**2 / 2 - w**3 * dt**4 / 24, (1 - c) / ws)  # (1-cos)/w
        da = np.where(small, -w * dt**3 / 3, (dt * c - a) / ws)
        db = np.where(small, dt**2 / 2 - w**2 * dt**4 / 8, (dt * s - b) / ws)
        return s, c, a, b, da, db

    def function(self, x: FloatArray, dt: float) -> FloatArray:
        d = self.ndim
        w = x[:, 2 * d]
        s, c, a, b, _, _ = self._terms(w, dt)
        vx, vy = x[:, d], x[:, d + 1]
        out = x.copy()
        out[:, 0] = x[:, 0] + a * vx - b * vy
        out[:, 1] = x[:, 1] + b * vx + a * vy
        out[:, d] = c * vx - s * vy
        out[:, d + 1] = s * vx + c * vy
        if d == 3:
            out[:, 2] = x[:, 2] + dt * x[:, 5]
        return out

    def jacobian(self, x: FloatArray, dt: float) -> FloatArray:
        d = self.ndim
        n = self.ndim_state
        w = x[:, 2 * d]
        s, c, a, b, da, db = self._terms(w, dt)
        vx, vy = x[:, d], x[:, d + 1]
        jac = np.zeros((len(x), n, n))
        idx = np.arange(n)
        jac[:, idx, idx] = 1.0
        jac[:, 0, d], jac[:, 0, d + 1] = a, -b
        jac[:, 1, d], jac[:, 1, d + 1] = b, a
        jac[:, d, d], jac[:, d, d + 1] = c, -s
        jac[:, d + 1, d], jac[:, d + 1, d + 1] = s, c
        jac[:, 0, 2 * d] = da * vx - db * vy
        jac[:, 1, 2 * d] = db * vx + da * vy
        jac[:, d, 2 * d] = -dt * s * vx - dt * c * vy
        jac[:, d + 1, 2 * d] = dt * c * vx - dt * s * vy
        if d == 3:
            jac[:, 2, 5] = dt
        return jac

    def covar(self, dt: float) -> FloatArray:
        d = self.ndim
        _, q1 = polynomial_transition(1, dt, self.sigma_a, self.noise)
        q = np.zeros((self.ndim_state, self.ndim_state))
        q[: 2 * d, : 2 * d] = np.kron(q1, np.eye(d))
        q[2 * d, 2 * d] = self.sigma_omega**2 * (dt**2 if self.noise == "discrete" else abs(dt))
        return q


# ---- measurement models ----


class MeasurementModel(ABC):
    """``z = h(x) + v``, ``v ~ N(0, R)``; ``R`` comes with each detection.

    Every model also maps a measurement to a Cartesian position with a covariance
    (:meth:`to_position`), used for KD-tree pre-gating and for starting tracks.
    """

    @property
    @abstractmethod
    def ndim_state(self) -> int:
        """Length of the state vector the model reads."""

    @property
    @abstractmethod
    def ndim_meas(self) -> int:
        """Length of a measurement vector."""

    @property
    @abstractmethod
    def ndim_pos(self) -> int:
        """Number of position components at the start of the state."""

    @property
    def linear(self) -> bool:
        return False

    @abstractmethod
    def function(self, x: FloatArray) -> FloatArray:
        """Noise-free measurement of each state row: (k, m)."""

    @abstractmethod
    def jacobian(self, x: FloatArray) -> FloatArray:
        """``∂h/∂x`` (k, m, n)."""

    def residual(self, z: FloatArray, z_pred: FloatArray) -> FloatArray:
        """``z - z_pred`` with angles wrapped to (-π, π]."""
        return np.asarray(z - z_pred, dtype=np.float64)

    @abstractmethod
    def to_position(self, z: FloatArray, covar: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Cartesian positions (j, d) and their covariances (j, d, d) of measurements."""


@dataclass(frozen=True)
class LinearPosition(MeasurementModel):
    """``z = H x + v`` with ``H = [I_d 0]``: the first ``ndim_pos`` state components."""

    state_dim: int = 6
    pos_dim: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.pos_dim <= self.state_dim:
            raise ValueError(f"pos_dim must be in [1, state_dim], got {self.pos_dim}")

    @property
    def ndim_state(self) -> int:
        return self.state_dim

    @property
    def ndim_meas(self) -> int:
        return self.pos_dim

    @property
    def ndim_pos(self) -> int:
        return self.pos_dim

    @property
    def linear(self) -> bool:
        return True

    def matrix(self) -> FloatArray:
        """``H`` (m, n)."""
        return np.eye(self.pos_dim, self.state_dim)

    def function(self, x: FloatArray) -> FloatArray:
        return np.asarray(x[:, : self.pos_dim], dtype=np.float64)

    def jacobian(self, x: FloatArray) -> FloatArray:
        h = self.matrix()
        return np.broadcast_to(h, (len(x), *h.shape))

    def to_position(self, z: FloatArray, covar: FloatArray) -> tuple[FloatArray, FloatArray]:
        return np.asarray(z, dtype=np.float64), np.asarray(covar, dtype=np.float64)


def enu_to_rae(delta: FloatArray) -> FloatArray:
    """Range (m), azimuth (rad, from North clockwise) and elevation (rad) of ENU offsets (k, 3)."""
    e, n, u = delta[..., 0], delta[..., 1], delta[..., 2]
    rho = np.hypot(e, n)
    return np.stack([np.sqrt(rho**2 + u**2), np.arctan2(e, n), np.arctan2(u, rho)], axis=-1)


def rae_to_enu(rae: FloatArray) -> FloatArray:
    """Inverse of :func:`enu_to_rae` (no debiasing)."""
    r, az, el = rae[..., 0], rae[..., 1], rae[..., 2]
    ce = np.cos(el)
    return np.stack([r * ce * np.sin(az), r * ce * np.cos(az), r * np.sin(el)], axis=-1)


def _wrap(angle: FloatArray) -> FloatArray:
    return np.asarray((angle + np.pi) % (2 * np.pi) - np.pi, dtype=np.float64)


@dataclass(frozen=True)
class RangeAzEl(MeasurementModel):
    """Range / azimuth / elevation of the target seen from a radar site at ``site_enu``.

    ``h(x) = [r, az, el]`` of ``x[:3] - site_enu``; azimuth from North clockwise. The Jacobian is
    analytic (EKF). The position must be the first three state components (ENU, metres).
    """

    state_dim: int = 6
    site_enu: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def ndim_state(self) -> int:
        return self.state_dim

    @property
    def ndim_meas(self) -> int:
        return 3

    @property
    def ndim_pos(self) -> int:
        return 3

    def function(self, x: FloatArray) -> FloatArray:
        return enu_to_rae(x[:, :3] - np.asarray(self.site_enu))

    def jacobian(self, x: FloatArray) -> FloatArray:
        delta = x[:, :3] - np.asarray(self.site_enu)
        e, n, u = delta[:, 0], delta[:, 1], delta[:, 2]
        rho2 = e**2 + n**2
        rho = np.sqrt(rho2)
        r2 = rho2 + u**2
        r = np.sqrt(r2)
        jac = np.zeros((len(x), 3, self.state_dim))
        jac[:, 0, 0], jac[:, 0, 1], jac[:, 0, 2] = e / r, n / r, u / r
        jac[:, 1, 0], jac[:, 1, 1] = n / rho2, -e / rho2
        jac[:, 2, 0] = -e * u / (r2 * rho)
        jac[:, 2, 1] = -n * u / (r2 * rho)
        jac[:, 2, 2] = rho / r2
        return jac

    def residual(self, z: FloatArray, z_pred: FloatArray) -> FloatArray:
        out = np.asarray(z - z_pred, dtype=np.float64)
        out[..., 1] = _wrap(out[..., 1])
        return out

    def to_position(self, z: FloatArray, covar: FloatArray) -> tuple[FloatArray, FloatArray]:
        pos, cov = unbiased_converted_measurement(z, covar)
        return pos + np.asarray(self.site_enu), cov


def unbiased_converted_measurement(
    rae: FloatArray, covar: FloatArray | Sequence[float]
) -> tuple[FloatArray, FloatArray]:
    """Unbiased converted measurement of range/azimuth/elevation, relative to the site.

    ``rae`` (j, 3) is ``[r, az, el]`` (m, rad from North clockwise, rad); ``covar`` is (j, 3, 3)
    or (3, 3), of which only the diagonal ``σ_r², σ_az², σ_el²`` is used (independent errors).

    With ``λ_a = exp(-σ_az²/2)`` and ``λ_e = exp(-σ_el²/2)`` the conversion divides out the
    multiplicative bias of the cosines (``E[cos(a + w)] = λ cos a``)::

        east  = r cos(el) sin(az) / (λ_e λ_a)
        north = r cos(el) cos(az) / (λ_e λ_a)
        up    = r sin(el) / λ_e

    and the covariance is the exact second moment of the true position about that value given the
    measurement, ``R = E[(x - x_c)(x - x_c)ᵀ | z]``, computed from ``E[r²] = r_m² + σ_r²``,
    ``E[cos² a] = (1 + λ⁴ cos 2a_m)/2``, ``E[sin² a] = (1 - λ⁴ cos 2a_m)/2`` and
    ``E[sin a cos a] = λ⁴ sin(2a_m)/2`` (Longbin et al. 1998, "Unbiased converted measurements for
    tracking", IEEE Trans. AES 34(3); Bar-Shalom, Li & Kirubarajan 2001, §10.2 for 2-D).

    Returns ENU offsets (j, 3) from the site and covariances (j, 3, 3).
    """
    rae = np.atleast_2d(np.asarray(rae, dtype=np.float64))
    cov = np.asarray(covar, dtype=np.float64)
    if cov.ndim == 2:
        cov = np.broadcast_to(cov, (len(rae), 3, 3))
    var_r, var_a, var_e = cov[:, 0, 0], cov[:, 1, 1], cov[:, 2, 2]
    r, az, el = rae[:, 0], rae[:, 1], rae[:, 2]
    lam_a, lam_e = np.exp(-var_a / 2), np.exp(-var_e / 2)
    lam_a4, lam_e4 = lam_a**4, lam_e**4
    sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)

    # factors: x_k = r * f_k(el) * g_k(az); f = (cos, cos, sin), g = (sin, cos, 1)
    one = np.ones_like(r)
    f_m = [ce, ce, se]  # measured values of f
    g_m = [sa, ca, one]
    ef = [lam_e * ce, lam_e * ce, lam_e * se]  # E[f]
    eg = [lam_a * sa, lam_a * ca, one]  # E[g]
    e_cc_e = (1 + lam_e4 * np.cos(2 * el)) / 2
    e_ss_e = (1 - lam_e4 * np.cos(2 * el)) / 2
    e_sc_e = lam_e4 * np.sin(2 * el) / 2
    e_ss_a = (1 - lam_a4 * np.cos(2 * az)) / 2
    e_cc_a = (1 + lam_a4 * np.cos(2 * az)) / 2
    e_sc_a = lam_a4 * np.sin(2 * az) / 2
    eff = [[e_cc_e, e_cc_e, e_sc_e], [e_cc_e, e_cc_e, e_sc_e], [e_sc_e, e_sc_e, e_ss_e]]
    egg = [
        [e_ss_a, e_sc_a, lam_a * sa],
        [e_sc_a, e_cc_a, lam_a * ca],
        [lam_a * sa, lam_a * ca, one],
    ]
    debias = [lam_e * lam_a, lam_e * lam_a, lam_e]
    xc = np.stack([r * f_m[k] * g_m[k] / debias[k] for k in range(3)], axis=-1)
    ex = np.stack([r * ef[k] * eg[k] for k in range(3)], axis=-1)
    er2 = r**2 + var_r
    out = np.empty((len(r), 3, 3))
    for k in range(3):
        for m in range(k, 3):
            exx = er2 * eff[k][m] * egg[k][m]
            val = exx - xc[:, k] * ex[:, m] - ex[:, k] * xc[:, m] + xc[:, k] * xc[:, m]
            out[:, k, m] = val
            out[:, m, k] = val
    return xc, out
