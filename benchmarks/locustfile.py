"""Locust load for the defense API: launches (``POST /api/sim/launch``) and the live reads.

Run from a second process against a server on loopback (``bench_locust.py`` does it all)::

    ARGUS_BENCH_USER=operator ARGUS_BENCH_PASSWORD=... \\
        locust -f benchmarks/locustfile.py --headless -u 20 -r 10 -t 60s --host http://127.0.0.1:8000

One user in ten launches (a SCUD-C from the demo's launch boxes at one of the two cities);
the others read the picture, threats, metrics and flights, as a console would.
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

LAUNCH_BOXES = ((31.2, -121.6), (30.4, -120.6), (31.0, -121.9))
CITIES = ((34.05, -118.25), (32.72, -117.16))


class Operator(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        r = self.client.post(
            "/api/auth/login",
            data={
                "username": os.environ["ARGUS_BENCH_USER"],
                "password": os.environ["ARGUS_BENCH_PASSWORD"],
            },
        )
        r.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    @task(1)
    def launch(self) -> None:
        lat, lon = random.choice(LAUNCH_BOXES)
        tlat, tlon = random.choice(CITIES)
        self.client.post(
            "/api/sim/launch",
            params={"lat": lat + random.uniform(-0.3, 0.3), "lon": lon + random.uniform(-0.3, 0.3),
                    "targetLat": tlat, "targetLon": tlon, "missileType": "SCUD-C"},
            name="/api/sim/launch",
        )  # fmt: skip

    @task(3)
    def tracks(self) -> None:
        self.client.get("/api/radar/tracks")

    @task(3)
    def threats(self) -> None:
        self.client.get("/api/threats/active")

    @task(2)
    def summary(self) -> None:
        self.client.get("/api/threats/summary")

    @task(1)
    def metrics(self) -> None:
        self.client.get("/api/metrics/pipeline")

    @task(1)
    def flights(self) -> None:
        self.client.get("/api/sim/flights", params={"limit": 20})
