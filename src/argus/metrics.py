"""Prometheus metrics (prometheus-client), shared by the API, the jobs and the scheduler."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("argus_http_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "argus_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCHES = Counter("argus_threat_batches_total", "Threat computation batches stored")
PAIRS = Counter("argus_threat_pairs_scored_total", "(track, DA) pairs scored")
BATCH_SECONDS = Histogram(
    "argus_threat_batch_duration_seconds",
    "Threat batch latency (compute + store)",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOB_RETRIES = Counter("argus_job_retries_total", "Job retries", ["task"])
JOB_FAILURES = Counter("argus_job_failures_total", "Job failures", ["task"])
WS_CLIENTS = Gauge("argus_websocket_clients", "Connected WebSocket clients")
WS_DROPPED = Counter(
    "argus_websocket_dropped_total", "WebSocket clients dropped for falling behind"
)
RANKING_CACHE = Counter(
    "argus_ranking_cache_total",
    "Ranking requests answered from the per-revision cache (hit) or computed (miss)",
    ["result"],
)
LOGINS_THROTTLED = Counter(
    "argus_logins_throttled_total",
    "Logins refused with 429 after repeated failures, by what was throttled",
    ["scope"],
)
PASSWORD_HASHING_BUSY = Counter(
    "argus_password_hashing_busy_total",
    "Requests refused with 503 because no password-hashing slot was free in time",
)

# ---- the defense pipeline (argus.pipeline.controller updates these every cycle)
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LAUNCHES = Counter("argus_pipeline_launches_total", "Threats launched (missile.launched)")
DETECTIONS = Counter("argus_pipeline_detections_total", "Radar plots (radar.detection)")
TRACKS = Gauge("argus_pipeline_tracks", "Confirmed tracks after the last cycle")
INTERCEPT_ORDERS = Counter(
    "argus_pipeline_intercept_orders_total", "Intercept orders (command.intercept)", ["battery"]
)
BATTERY_FIRES = Counter(
    "argus_pipeline_battery_fires_total",
    "Interceptors launched (interceptor.launched)",
    ["battery"],
)
KILLS = Counter("argus_pipeline_kills_total", "Detonations that killed their target")
DETONATIONS = Counter(
    "argus_pipeline_detonations_total", "Interceptor detonations", ["reason", "kill"]
)
MISS_DISTANCE = Histogram(
    "argus_pipeline_miss_distance_meters",
    "Miss distance at proximity detonation",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 50, 100, 1000),
)
CORRELATION_SECONDS = Histogram(
    "argus_pipeline_detection_to_broadcast_seconds",
    "Wall time from the radar scan's plots to the broadcast of the cycle (correlation latency)",
    buckets=_FAST,
)
STAGE_SECONDS = Histogram(
    "argus_pipeline_stage_seconds",
    "Wall time of each pipeline stage per cycle",
    ["stage"],
    buckets=_FAST,
)
CYCLE_SECONDS = Histogram(
    "argus_pipeline_cycle_seconds", "Wall time of a whole pipeline cycle", buckets=_FAST
)

GC_PAUSE_SECONDS = Histogram(
    "argus_gc_pause_seconds",
    "Pauses of Python's cyclic garbage collector, by generation",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
_gc_started: list[float] = []


def _gc_callback(phase: str, info: dict[str, int]) -> None:
    import time

    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
    elif _gc_started:
        GC_PAUSE_SECONDS.labels(generation=str(info.get("generation", -1))).observe(
            time.perf_counter() - _gc_started[0]
        )


def install_gc_timing() -> None:
    """Time every collection (``gc.callbacks``; idempotent). prometheus-client's own GC collector
    counts collections but not how long they stop the process, which is what a latency tail
    needs, hence this small hook."""
    import gc

    if _gc_callback not in gc.callbacks:
        gc.callbacks.append(_gc_callback)
