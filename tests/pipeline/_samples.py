"""One valid event per subject (shared by the codec and bus tests)."""

from __future__ import annotations

from argus.pipeline import events as ev

SAMPLES: dict[str, ev.Event] = {
    e.subject: e
    for e in (
        ev.MissileLaunched(
            flight_id="F1",
            missile_type="SRBM",
            lat_deg=32.1,
            lon_deg=35.2,
            alt_m=10.0,
            target_lat_deg=31.8,
            target_lon_deg=34.9,
        ),
        ev.TrackTruth(
            flight_id="F1", lat_deg=32.0, lon_deg=35.0, alt_m=25e3, velocity_enu_mps=(1, -2, 3)
        ),
        ev.RadarDetection(
            site="R1", range_m=8e4, azimuth_deg=270.5, elevation_deg=12.0, snr_db=18.0
        ),
        ev.TrackingUpdated(
            track_id="T1",
            lat_deg=32.0,
            lon_deg=35.0,
            alt_m=25e3,
            velocity_enu_mps=(100.0, -50.0, -300.0),
            position_sigma_m=120.0,
            n_detections=7,
        ),
        ev.ThreatLevelChanged(track_id="T1", previous_level="low", level="high", score=0.8),
        ev.CommandIntercept(track_id="T1", battery_id="B1", interceptor_type="SAM", pk=0.7),
        ev.InterceptorLaunched(
            interceptor_id="I1", battery_id="B1", track_id="T1", lat_deg=31.9, lon_deg=34.8, alt_m=5
        ),
        ev.InterceptorDetonation(
            interceptor_id="I1",
            track_id="T1",
            lat_deg=31.95,
            lon_deg=34.9,
            alt_m=12e3,
            miss_distance_m=4.5,
            kill=True,
        ),
        ev.EwDetection(
            sensor_id="E1", frequency_hz=9.4e9, bandwidth_hz=5e6, power_dbm=-60, bearing_deg=45
        ),
        ev.EwResponseTriggered(sensor_id="E1", response="jam", frequency_hz=9.4e9, duration_s=2),
        ev.PipelineCycleComplete(cycle=3, duration_s=0.05, n_detections=12, n_tracks=2),
    )
}
