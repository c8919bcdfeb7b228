"""Pydantic models of the bodies that the TEWA routes (``argus.api.routes.tewa``) and the
operations routes answer with, so the OpenAPI document describes every 2xx body.

They describe the JSON the routes emit today (``ComputeResult.as_json``, ``RankedThreat.as_json``,
``AssignmentResult.as_json`` and the dicts built in the routes): the field names are the wire
names the console and the CLI's users read, do not rename them. Infinite components (a track
that never reaches weapon release range, a stationary track's TCPA) are ``null``.

The routes whose body is large or pre-rendered (compute_at, ranking, score_history) and the ones
that return a ``Response`` themselves (compute_now) declare their model with
``response_model=None`` and ``responses={200: {"model": ...}}``: FastAPI then documents the
model without validating the body again on every request (the ranking's cached bytes are sent as
they are). ``tests/api/test_tewa_typed.py`` checks those bodies against the models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from argus.api.schemas_resources import not_null

#: A track's state at the time asked (``argus.tewa.service.evaluation._STATUS_NAMES``); only
#: the usable ones (ok, extrapolated, track_row) are scored.
PairStatus = Literal["ok", "extrapolated", "track_row"]

_NULL_INF = "null when infinite"


# ---- compute_at ----


class PairScoreOut(BaseModel):
    """One (track, DA) result of a computation: the state used, the components, the score."""

    track_pk: int = Field(description="the track's database id")
    track_id: str
    da_id: int
    da_name: str
    cpa_km: float | None = Field(description=f"closest point of approach, {_NULL_INF}")
    tcpa_s: float | None = Field(description=f"time to the CPA, {_NULL_INF}")
    tdb_km: float | None = Field(description=f"distance to the DA's boundary, {_NULL_INF}")
    twrp_s: float | None = Field(description=f"time to weapon release range, {_NULL_INF}")
    n_cpa: float = Field(description="normalized term in [0, 1]")
    n_tcpa: float
    n_tdb: float
    n_twrp: float
    score: float
    status: PairStatus
    lat: float
    lon: float
    speed_mps: float
    heading_deg: float
    computed_at: dt.datetime | None = Field(
        description="the time the stored row describes; null when not persisted"
    )
    quality: float | None = Field(
        description="track-quality factor the score was multiplied by; null when not used"
    )


class ComputeAtOut(BaseModel):
    scenario_id: int
    scenario: str
    when: dt.datetime
    method: Literal["linear", "latest"]
    results: list[PairScoreOut] = Field(description="one per (track, DA), track-major")
    stale: list[str] = Field(description="track ids too old at ``when`` (not scored)")
    not_started: list[str] = Field(description="track ids whose first sample is after ``when``")
    persisted: int = Field(description="rows stored (0 without persist)")
    what_if: bool = Field(description="always true: compute_at never feeds the live board")
    evaluated_at: dt.datetime | None = Field(
        description="when the stored rows were computed; null when not persisted"
    )


# ---- jobs ----


class JobOut(BaseModel):
    job_id: str
    kind: str = Field(description="compute_scenario or periodic_compute_threats")
    scenario_id: int | None
    status: Literal["queued", "running", "succeeded", "failed"]
    attempts: int
    result: dict[str, Any] | None = Field(
        description="the job's outcome once succeeded (for compute_scenario: scenario_id, "
        "scenario, computed_at, evaluated_at, pairs, written, stale)"
    )
    error: str | None
    created_at: dt.datetime | None
    finished_at: dt.datetime | None
    status_url: str = Field(description="GET it to poll the job")


class JobStarted(JobOut):
    repeated: bool = Field(
        description="true when the idempotency key named an earlier job (that job is answered)"
    )


# ---- ranking ----


class RankedThreatOut(BaseModel):
    rank: int
    track_id: str
    da_id: int
    da_name: str
    score: float
    cpa_km: float | None = Field(description=f"closest point of approach, {_NULL_INF}")
    tcpa_s: float | None = Field(description=f"time to the CPA, {_NULL_INF}")
    tdb_km: float | None = Field(description=f"distance to the DA's boundary, {_NULL_INF}")
    twrp_s: float | None = Field(description=f"time to weapon release range, {_NULL_INF}")
    n_cpa: float | None
    n_tcpa: float | None
    n_tdb: float | None
    n_twrp: float | None
    computed_at: dt.datetime = Field(description="the time the score describes")
    evaluated_at: dt.datetime = Field(description="when it was computed (wall-clock UTC)")
    what_if: bool


class RankingOut(BaseModel):
    scenario_id: int
    da_id: int | None
    at: dt.datetime | None
    what_if: bool
    results: list[RankedThreatOut]


# ---- stored scores: breakdown and history ----


class Weights(BaseModel):
    cpa: float
    tcpa: float
    tdb: float
    twrp: float


class StoredScore(BaseModel):
    computed_at: dt.datetime = Field(description="the time the score describes")
    evaluated_at: dt.datetime = Field(description="when it was computed (wall-clock UTC)")
    what_if: bool
    score: float
    cpa_km: float | None = Field(description=f"closest point of approach, {_NULL_INF}")
    tcpa_s: float | None = Field(description=f"time to the CPA, {_NULL_INF}")
    tdb_km: float | None = Field(description=f"distance to the DA's boundary, {_NULL_INF}")
    twrp_s: float | None = Field(description=f"time to weapon release range, {_NULL_INF}")
    n_cpa: float | None
    n_tcpa: float | None
    n_tdb: float | None
    n_twrp: float | None


class ScoreHistoryRow(StoredScore):
    weights: Weights | None = Field(
        description="the weights in force when computed; null for rows older than revision 0005"
    )
    quality: float | None


class ScoreHistoryOut(BaseModel):
    scenario_id: int
    track_id: str
    da_id: int
    what_if: bool
    results: list[ScoreHistoryRow] = Field(description="by described time, then evaluation")


class ModelParamsOut(BaseModel):
    """The scenario's threat-model parameters (``service.params_as_dict``)."""

    w_cpa: float
    w_tcpa: float
    w_tdb: float
    w_twrp: float
    cpa_scale_km: float
    tcpa_scale_s: float
    tdb_scale_km: float
    twrp_scale_s: float
    clamp_0_1: bool
    weapon_range_km: float
    cpa_logistic: dict[str, float] | None
    tcpa_logistic: dict[str, float] | None
    tdb_logistic: dict[str, float] | None
    twrp_logistic: dict[str, float] | None
    use_track_quality: bool


class ScoreBreakdownOut(BaseModel):
    scenario_id: int
    track_id: str
    da_id: int
    computed_at: dt.datetime = Field(description="the time the score describes")
    evaluated_at: dt.datetime = Field(description="when it was computed (wall-clock UTC)")
    what_if: bool
    score: float
    cpa_km: float | None = Field(description=f"closest point of approach, {_NULL_INF}")
    tcpa_s: float | None = Field(description=f"time to the CPA, {_NULL_INF}")
    tdb_km: float | None = Field(description=f"distance to the DA's boundary, {_NULL_INF}")
    twrp_s: float | None = Field(description=f"time to weapon release range, {_NULL_INF}")
    n_cpa: float | None
    n_tcpa: float | None
    n_tdb: float | None
    n_twrp: float | None
    quality: float | None
    weights: Weights = Field(
        description="stored with the score (today's params for rows older than revision 0005)"
    )
    contributions: Weights = Field(description="weight × normalized term, per component")
    params: ModelParamsOut = Field(description="the scenario's params today")


# ---- assignment ----


class AssignmentLineOut(BaseModel):
    weapon: str = Field(description="the battery's call sign")
    weapon_type: str
    target: str = Field(description="track id")
    rounds: int
    kill_probability: float
    expected_value_saved: float
    target_value: float
    threat_score: float
    da_name: str
    intercept_time_s: float | None = Field(description="null when no intercept exists")


class AssignmentOut(BaseModel):
    scenario: str
    at: dt.datetime
    lines: list[AssignmentLineOut]
    objective: float
    upper_bound: float | None
    gap: float | None
    solver: str = Field(description="the solver that produced the plan, e.g. exact-oa-milp")
    status: str = Field(
        description="optimal, feasible, heuristic, time_limit, iteration_limit, kept, "
        "no_weapons, no_targets, ..."
    )
    proven_optimal: bool
    kept_previous: bool = Field(description="the previous plan was kept (hysteresis)")
    runtime_s: float
    unassigned_hostile: list[str]
    not_engageable: list[str]
    persisted: int


# ---- presets ----


class PresetOut(BaseModel):
    """A doctrine preset: the params it sets. A field left out (absent, never null) comes from
    the defaults."""

    w_cpa: float = not_null()
    w_tcpa: float = not_null()
    w_tdb: float = not_null()
    w_twrp: float = not_null()
    cpa_scale_km: float = not_null()
    tcpa_scale_s: float = not_null()
    tdb_scale_km: float = not_null()
    twrp_scale_s: float = not_null()
    clamp_0_1: bool = not_null()
    weapon_range_km: float = not_null()


# ---- operations ----


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str


class ReadyOut(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str] = Field(description="database, migrations (and broker): 'ok' each")
