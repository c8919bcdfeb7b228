"""TEWA service: the one door between the TEWA engines and storage.

Functions take an open SQLAlchemy ``Session`` and never commit: the caller owns the
transaction (``argus.db.session.session_scope``), so an import is all-or-nothing. The
interfaces (``argus.api``, ``argus.cli``, ``argus.jobs``) call these functions and run no
queries of their own (``tests/test_layering.py``).

This package is a facade: ``from argus.tewa import service; service.compute_at(...)``. The code
lives in one module per concern:

- ``scenarios``: scenarios, defended assets, the scenario's DA set, its replay clock
  (``scenario_time``) and revision (``scenario_revision``); the id-paged listings of scenarios,
  assets, tracks and samples (``list_scenarios``, ``list_assets``, ``list_tracks``,
  ``list_samples``) and the lookups and writes behind the resource routes;
- ``ingest``: track import (``import_tracks``, ``import_samples``);
- ``demo``: the demo scenario (``seed_demo``);
- ``evaluation``: track states and scores at a time (``compute_at``, ``track_picture``), their
  storage;
- ``ranking``: stored scores read back (``rank``, ``latest_scores``, ``score_history``,
  ``latest_score``, ``board_time``), and the scores.csv rows page by page (``iter_score_rows``);
- ``params``: model params and doctrine presets;
- ``assignment``: weapons, kill probabilities, weapon-target assignment, track identity;
- ``jobs``: job records and the periodic task's lookups;
- ``errors``: ``NotFoundError`` (404) and ``InvalidInput`` (422).
"""

from __future__ import annotations

from argus.db.models import DefendedAsset, Job, Scenario
from argus.tewa.service.assignment import (
    AssignmentLine,
    AssignmentResult,
    add_weapon,
    kill_probability_matrix,
    list_weapons,
    plan_assignment,
    set_kill_probability,
    set_track_identity,
)
from argus.tewa.service.demo import SeedReport, demo_tracks_path, seed_demo
from argus.tewa.service.errors import InvalidInput, NotFoundError
from argus.tewa.service.evaluation import (
    SCORE_FIELDS,
    ComputeResult,
    PairColumns,
    PairScore,
    compute_at,
    track_picture,
)
from argus.tewa.service.ingest import ImportReport, import_samples, import_tracks
from argus.tewa.service.jobs import (
    active_scenario_ids,
    begin_periodic_job,
    get_job,
    new_job,
    set_job_state,
)
from argus.tewa.service.params import (
    CUSTOM_DOCTRINE,
    PARAM_FIELDS,
    apply_preset,
    engine_params,
    get_model_params,
    matching_preset,
    params_as_dict,
    params_use_quality,
    set_params,
)
from argus.tewa.service.ranking import (
    RankedThreat,
    board_time,
    iter_score_rows,
    latest_score,
    latest_scores,
    rank,
    ranking_json_postgres,
    ranking_snapshot_body,
    score_history,
    store_ranking_snapshot,
)
from argus.tewa.service.scenarios import (
    SCENARIO_REVISION,
    asset_id_by_name,
    asset_ids_by_name,
    attach_asset,
    create_asset,
    create_scenario,
    defended_asset_exists,
    delete_asset,
    delete_scenario,
    find_asset,
    find_scenario,
    find_track,
    find_track_pk,
    get_or_create_scenario,
    get_scenario,
    list_assets,
    list_samples,
    list_scenarios,
    list_tracks,
    scenario_assets,
    scenario_id_by_name,
    scenario_revision,
    scenario_revision_async,
    scenario_time,
    set_scenario_assets,
    update_asset,
    update_scenario,
    upsert_defended_asset,
)

__all__ = [
    "CUSTOM_DOCTRINE",
    "PARAM_FIELDS",
    "SCENARIO_REVISION",
    "SCORE_FIELDS",
    "AssignmentLine",
    "AssignmentResult",
    "ComputeResult",
    # model types the functions return, for callers' annotations
    "DefendedAsset",
    "ImportReport",
    "InvalidInput",
    "Job",
    "NotFoundError",
    "PairColumns",
    "PairScore",
    "RankedThreat",
    "Scenario",
    "SeedReport",
    "active_scenario_ids",
    "add_weapon",
    "apply_preset",
    "asset_id_by_name",
    "asset_ids_by_name",
    "attach_asset",
    "begin_periodic_job",
    "board_time",
    "compute_at",
    "create_asset",
    "create_scenario",
    "defended_asset_exists",
    "delete_asset",
    "delete_scenario",
    "demo_tracks_path",
    "engine_params",
    "find_asset",
    "find_scenario",
    "find_track",
    "find_track_pk",
    "get_job",
    "get_model_params",
    "get_or_create_scenario",
    "get_scenario",
    "import_samples",
    "import_tracks",
    "iter_score_rows",
    "kill_probability_matrix",
    "latest_score",
    "latest_scores",
    "list_assets",
    "list_samples",
    "list_scenarios",
    "list_tracks",
    "list_weapons",
    "matching_preset",
    "new_job",
    "params_as_dict",
    "params_use_quality",
    "plan_assignment",
    "rank",
    "ranking_json_postgres",
    "ranking_snapshot_body",
    "scenario_assets",
    "scenario_id_by_name",
    "scenario_revision",
    "scenario_revision_async",
    "scenario_time",
    "score_history",
    "seed_demo",
    "set_job_state",
    "set_kill_probability",
    "set_params",
    "set_scenario_assets",
    "set_track_identity",
    "store_ranking_snapshot",
    "track_picture",
    "update_asset",
    "update_scenario",
    "upsert_defended_asset",
]
