from __future__ import annotations

import numpy as np
import pytest

from argus.defense.levels import LEVELS, LevelThresholds, threat_levels


def test_levels_by_score_time_and_class() -> None:
    th = LevelThresholds(high_score=0.6, critical_score=0.8, high_tti_s=180, critical_tti_s=60)
    score = [0.1, 0.3, 0.6, 0.85, 0.1, 0.1, 0.95, np.nan]
    tti = [np.nan, np.nan, np.nan, np.nan, 120.0, 30.0, 10.0, np.nan]
    threat = [True, True, True, True, True, True, False, True]
    got = [LEVELS[i] for i in threat_levels(score, tti, threat, th)]
    assert got == ["low", "medium", "high", "critical", "high", "critical", "none", "low"]


def test_negative_time_to_impact_does_not_escalate() -> None:
    assert LEVELS[int(threat_levels([0.1], [-5.0], [True])[0])] == "low"


@pytest.mark.parametrize(("high", "critical"), [(0.9, 0.8), (0.0, 0.5), (0.5, 1.5)])
def test_bad_thresholds_are_refused(high: float, critical: float) -> None:
    with pytest.raises(ValueError, match="threat thresholds"):
        LevelThresholds(high_score=high, critical_score=critical)
