"""All ORM models; importing this module registers every table on ``Base.metadata``."""

from argus.db.models.defense import (
    BatteryType,
    InterceptOrder,
    MissileFlight,
    MissileType,
    MlModel,
    PipelineEvent,
    RadarSiteRow,
    RadarType,
)
from argus.db.models.ops import Job, User
from argus.db.models.tewa import (
    Assignment,
    DefendedAsset,
    KillProbability,
    ModelParams,
    Scenario,
    ScenarioAsset,
    ThreatScore,
    ThreatScoreLatest,
    ThreatScoreWhatIf,
    Track,
    TrackSample,
    Weapon,
)

__all__ = [
    "Assignment",
    "BatteryType",
    "DefendedAsset",
    "InterceptOrder",
    "Job",
    "KillProbability",
    "MissileFlight",
    "MissileType",
    "MlModel",
    "ModelParams",
    "PipelineEvent",
    "RadarSiteRow",
    "RadarType",
    "Scenario",
    "ScenarioAsset",
    "ThreatScore",
    "ThreatScoreLatest",
    "ThreatScoreWhatIf",
    "Track",
    "TrackSample",
    "User",
    "Weapon",
]
