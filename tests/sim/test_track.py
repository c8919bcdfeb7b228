"""Converting radar detections to a common frame, and tracking a scenario end to end."""

from __future__ import annotations

import numpy as np
import pytest

from argus import geo
from argus.sim.scenario import example_path, load_scenario, run_scenario
from argus.sim.track import _rotation_enu_from_ecef, detections_to_common_enu, track_scenario


@pytest.fixture(scope="module")
def raid():  # type: ignore[no-untyped-def]
    return run_scenario(load_scenario(example_path()))


def test_converted_detections_sit_on_the_truth(raid) -> None:  # type: ignore[no-untyped-def]
    """Target detections converted to the common ENU frame lie within their own 4-sigma ellipsoid of the truth."""
    det = raid.detections.select(~raid.detections.is_false_alarm)
    lat0, lon0 = -25.0, 135.0
    pos, cov = detections_to_common_enu(det, lat0, lon0)
    truth = np.empty_like(pos)
    for k in range(len(det)):
        i = raid.truth.index_of(int(det.truth_id[k]))
        p, _, _, ok = raid.truth.trajectories.sample(np.array([det.time_s[k]]))
        assert ok[i, 0]
        truth[k] = p[i, 0]
    ref = _rotation_enu_from_ecef(lat0, lon0)
    origin = np.stack(geo.geodetic_to_ecef(lat0, lon0, 0.0), axis=-1)
    truth_enu = (truth - origin) @ ref.T
    d = pos - truth_enu
    m2 = np.einsum("ni,nij,nj->n", d, np.linalg.inv(cov), d)
    # chi-square with 3 dof: 99.9 % quantile 16.27; the linearised covariance is slightly optimistic.
    assert np.mean(m2) == pytest.approx(3.0, rel=0.15)
    assert np.mean(m2 > 16.27) < 0.01


def test_tracking_the_raid_beats_having_no_tracks(raid) -> None:  # type: ignore[no-untyped-def]
    tracked = track_scenario(raid, ospa_c_m=5000.0)
    ospa = tracked.ospa.value_m
    assert ospa.size > 100 and np.all((ospa >= 0) & (ospa <= 5000.0 + 1e-9))
    # With no tracks at all, OSPA is the cut-off c whenever truth exists: tracking must do better.
    assert float(np.mean(ospa)) < 0.8 * 5000.0
    assert len(set(tracked.points.track_id.tolist())) >= 9  # at least one track per object flown
