"""Threat levels from the TEWA score and the time to impact (vectorized).

A track's level is the highest rule it meets::

    critical  score >= critical_score   or  time to impact <= critical_tti_s
    high      score >= high_score       or  time to impact <= high_tti_s
    medium    score >= medium_score
    low       otherwise (a hostile or unknown track)
    none      not a threat class (clutter, friendly)

The score thresholds are ``ARGUS_THREAT_THRESHOLD_HIGH`` / ``ARGUS_THREAT_THRESHOLD_CRITICAL``
(defaults 0.6 / 0.8); medium is half of high. Time to impact escalates a track whatever its
score: a ballistic missile 60 s from a defended asset is critical even before its score has
caught up with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LEVELS: tuple[str, ...] = ("none", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class LevelThresholds:
    high_score: float = 0.6
    critical_score: float = 0.8
    high_tti_s: float = 180.0
    critical_tti_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0.0 < self.high_score <= self.critical_score <= 1.0:
            raise ValueError(
                "threat thresholds: need 0 < high <= critical <= 1, got "
                f"high={self.high_score}, critical={self.critical_score}"
            )
        if not 0.0 <= self.critical_tti_s <= self.high_tti_s:
            raise ValueError(
                "threat thresholds: need 0 <= critical_tti_s <= high_tti_s, got "
                f"{self.critical_tti_s}, {self.high_tti_s}"
            )

    @property
    def medium_score(self) -> float:
        return 0.5 * self.high_score


def threat_levels(
    score: npt.ArrayLike,
    time_to_impact_s: npt.ArrayLike,
    is_threat: npt.ArrayLike,
    thresholds: LevelThresholds | None = None,
) -> npt.NDArray[np.int8]:
    """Level index into :data:`LEVELS` for each track ((N,) arrays; NaN time = not closing)."""
    th = thresholds or LevelThresholds()
    s = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=0.0)
    tti = np.asarray(time_to_impact_s, dtype=np.float64)
    closing = np.isfinite(tti) & (tti >= 0.0)
    level = np.ones(s.shape, dtype=np.int8)
    level[s >= th.medium_score] = 2
    level[(s >= th.high_score) | (closing & (tti <= th.high_tti_s))] = 3
    level[(s >= th.critical_score) | (closing & (tti <= th.critical_tti_s))] = 4
    level[~np.asarray(is_threat, dtype=bool)] = 0
    return level
