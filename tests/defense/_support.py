"""Shared by the defense tests: a small trained classifier (trained once per code version and
machine, cached on disk under a lock), and a database seeded with the defense demo."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from argus.accounts.service import create_user
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.defense.classify import TrainedClassifier, evaluate, features, train
from argus.defense.service.catalog import demo_radar_site, ensure_defense_demo
from argus.defense.service.models import save_classifier
from argus.scenario.training import simulate_training_tracks
from argus.sensors.site import RadarSite

ROOT = Path(__file__).resolve().parents[2] / "src" / "argus"
PER_CLASS = 80


def demo_radar() -> RadarSite:
    return demo_radar_site()


def _code_hash() -> str:
    h = hashlib.sha256()
    for rel in ("defense/classify.py", "scenario/training.py", "defense/service/catalog.py"):
        h.update((ROOT / rel).read_bytes())
    h.update(str(PER_CLASS).encode())
    return h.hexdigest()[:16]


def trained_blob() -> tuple[bytes, dict[str, object]]:
    """A classifier trained on the demo radar (``PER_CLASS`` tracks per class), cached."""
    cache = Path(os.environ.get("ARGUS_TEST_CACHE", tempfile.gettempdir())) / "argus-test-models"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"classifier-{_code_hash()}.bin"
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            win, y = simulate_training_tracks(PER_CLASS, 7, radar=demo_radar())
            model = train(features(win), y, 7, n_estimators=100)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(model.to_bytes())
            tmp.replace(path)
    blob = path.read_bytes()
    return blob, {"accuracy": None, "n_train": 5 * PER_CLASS, "note": "test model"}


def seed_defense(url: str, users: bool = True) -> int:
    """The defense demo, the cached classifier and one user per role; the scenario id."""
    blob, metrics = trained_blob()
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            sc = ensure_defense_demo(s)
            save_classifier(s, TrainedClassifier.from_bytes(blob), metrics, "tests")
            if users:
                from tests.api._support import PASSWORDS, ROLES

                for role in ROLES:
                    create_user(s, role, PASSWORDS[role], role)
            return int(sc.id)
    finally:
        engine.dispose()


__all__ = ["demo_radar", "evaluate", "seed_defense", "trained_blob"]
