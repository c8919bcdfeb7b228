"""``argus.metrics``: the garbage-collector pause histogram, and the API's start-up heap freeze
(ARGUS_GC_FREEZE, set by ``argus serve``)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from argus import metrics
from argus.api.app import create_app
from tests.api._support import make_settings


def _count(generation: str) -> float:
    for m in metrics.GC_PAUSE_SECONDS.collect():
        for s in m.samples:
            if s.name.endswith("_count") and s.labels.get("generation") == generation:
                return s.value
    return 0.0


def test_every_collection_is_timed_by_generation() -> None:
    metrics.install_gc_timing()
    metrics.install_gc_timing()  # idempotent: one callback
    assert gc.callbacks.count(metrics._gc_callback) == 1
    before2, before0 = _count("2"), _count("0")
    gc.collect()
    gc.collect()
    gc.collect(0)
    assert _count("2") == before2 + 2
    assert _count("0") >= before0 + 1


def test_the_served_app_freezes_its_start_up_heap(sqlite_url: str) -> None:
    from argus.db import migrate

    migrate.upgrade(sqlite_url)
    gc.unfreeze()
    try:
        with TestClient(create_app(make_settings(sqlite_url))) as client:
            assert client.get("/health").status_code == 200
            assert gc.get_freeze_count() == 0  # tests build many apps: off by default
        with TestClient(create_app(make_settings(sqlite_url, gc_freeze=True))) as client:
            assert client.get("/health").status_code == 200
            assert gc.get_freeze_count() > 10_000  # modules, routes, schema, metadata
    finally:
        gc.unfreeze()
