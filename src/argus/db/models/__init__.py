"""All ORM models; importing this module registers every table on ``Base.metadata``."""

from argus.db.models.tewa import (
    DefendedAsset,
    ModelParams,
    Scenario,
    ScenarioAsset,
    ThreatScore,
    Track,
    TrackSample,
)

__all__ = [
    "DefendedAsset",
    "ModelParams",
    "Scenario",
    "ScenarioAsset",
    "ThreatScore",
    "Track",
    "TrackSample",
]
