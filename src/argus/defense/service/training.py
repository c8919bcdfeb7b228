"""``argus models train-classifier``: simulate tracks with the scenario's own radar, train,
evaluate on held-out tracks of another seed, register the model with its metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.db.models import RadarSiteRow, RadarType
from argus.defense.classify import TrainedClassifier, evaluate, features, train
from argus.defense.service.catalog import radar_site
from argus.defense.service.models import save_classifier
from argus.scenario.training import DEFAULT_RADAR, simulate_training_tracks
from argus.sensors.site import RadarSite


@dataclass(frozen=True)
class TrainingReport:
    model_id: int
    version: int
    metrics: dict[str, Any]
    model: TrainedClassifier


def training_radar(session: Session, scenario_id: int | None) -> RadarSite:
    """The first radar site of the scenario (the pipeline's own sensor), else the default."""
    if scenario_id is None:
        return DEFAULT_RADAR
    row = session.execute(
        select(RadarSiteRow, RadarType)
        .join(RadarType, RadarType.id == RadarSiteRow.radar_type_id)
        .where(RadarSiteRow.scenario_id == scenario_id)
        .order_by(RadarSiteRow.id)
    ).first()
    return DEFAULT_RADAR if row is None else radar_site(row[0], row[1], 1)


def train_classifier(
    session: Session,
    *,
    n_per_class: int = 600,
    n_estimators: int = 100,
    seed: int = 1,
    scenario_id: int | None = None,
    created_by: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingReport:
    say = progress or (lambda _msg: None)
    radar = training_radar(session, scenario_id)
    say(
        f"simulating {n_per_class} training tracks per class (radar {radar.name or radar.radar_id})"
    )
    win, y = simulate_training_tracks(n_per_class, seed, radar=radar)
    say("training")
    # 100 boosting iterations: the held-out accuracy of 300 (99.1 % on the demo radar) at a
    # third of the per-cycle prediction cost (benchmarks/README.md, bench_pipeline)
    model = train(features(win), y, seed, n_estimators=n_estimators)
    n_test = max(100, n_per_class // 3)
    say(f"simulating {n_test} held-out tracks per class (seed {seed + 1000})")
    wt, yt = simulate_training_tracks(n_test, seed + 1000, radar=radar)
    m = evaluate(model, features(wt), yt).as_dict()
    m.update({"n_train": len(y), "seed": seed, "radar": radar.name or str(radar.radar_id)})
    row = save_classifier(session, model, m, created_by)
    return TrainingReport(row.id, row.version, m, model)
