"""Astronomy service: the one door between the ``argus.astro`` engines and storage.

Functions take an open SQLAlchemy ``Session`` and never commit: the caller (API request, CLI
command, job) owns the transaction. Mutating calls write an AuditLog row in the same
transaction. ``from argus.astro import service; service.cone_search(...)``. One module per
concern:

- ``surveys``: surveys and observations (create, get, list, update, delete);
- ``ingest``: FITS files or a folder → observations (header mapping, object store, sha512);
- ``jobs``: ProcessingJob records (create/start/finish/fail, ``job_step``, ``run_job`` with
  retries);
- ``preprocess``: calibration frames (files or ``IMAGETYP`` in a folder) and
  ``preprocess_observation`` (calibration, cosmic rays, background, registration → a
  PreprocessRun);
- ``products``: difference runs and their FITS products, candidates, the model registry
  (``register_model``, ``active_model``), model runs and detections;
- ``curation``: validation events and the validation queue;
- ``alerts``: alert rules and webhook delivery with retries;
- ``queries`` and ``sky``: the HEALPix cone search and the light curve;
- ``stamps``: a candidate's science/reference/difference cutouts and their PNG;
- ``config``: SystemConfig get/set;
- ``pipeline``: ``run_pipeline`` (ingest → alerts, calling the engines);
- ``errors``: ``NotFoundError`` (404), ``InvalidInput`` (422), ``RejectedBatch``,
  ``NoActiveModel``.
"""

from __future__ import annotations

from argus.astro.service._common import Actor, audit
from argus.astro.service.alerts import (
    AlertRules,
    alert_payload,
    deliver_alert,
    deliver_pending,
    detections_to_alert,
    get_alert,
    list_alerts,
    raise_alerts,
)
from argus.astro.service.config import (
    ALERT_RULES,
    WEBHOOK_URL,
    check_config_value,
    get_config,
    get_config_row,
    list_config,
    set_config,
)
from argus.astro.service.curation import (
    QueueItem,
    validate_detection,
    validation_events,
    validation_queue,
)
from argus.astro.service.errors import (
    InvalidInput,
    NoActiveModel,
    NotFoundError,
    RejectedBatch,
    RowError,
)
from argus.astro.service.ingest import (
    IngestReport,
    fits_files_in,
    ingest_fits,
    ingest_folder,
    parse_fits,
    read_observation_image,
)
from argus.astro.service.jobs import (
    JOB_TYPES,
    cancel_job,
    create_job,
    fail_job,
    finish_job,
    get_job,
    job_step,
    list_jobs,
    run_job,
    start_job,
)
from argus.astro.service.pipeline import latest_preprocessed, run_pipeline, run_preprocess
from argus.astro.service.preprocess import (
    CalibrationSet,
    Preprocessed,
    calibration_frames,
    preprocess_observation,
    processed_image,
    split_calibration_files,
    split_calibration_folder,
)
from argus.astro.service.products import (
    CANDIDATE_COLUMNS,
    FLAG_BLENDED,
    FLAG_EDGE,
    FLAG_SATURATED,
    active_model,
    candidate_counts,
    detections_of_run,
    get_candidate,
    get_detection,
    get_difference_run,
    get_model,
    get_model_run,
    latest_detection,
    list_candidates,
    list_difference_runs,
    list_models,
    model_bytes,
    preprocess_runs,
    product_bytes,
    record_difference_run,
    record_model_run,
    record_preprocess_run,
    register_model,
    store_candidates,
)
from argus.astro.service.queries import ConeMatch, LightCurvePoint, cone_search, light_curve
from argus.astro.service.sky import angular_distance_deg, cone_ranges, healpix_ids
from argus.astro.service.stamps import (
    CUTOUT_PRODUCTS,
    Stamps,
    candidate_cutout,
    candidate_stamps,
    cutout_png,
    stamps_png,
)
from argus.astro.service.surveys import (
    create_survey,
    delete_observation,
    delete_survey,
    find_survey,
    get_observation,
    get_or_create_survey,
    get_survey,
    list_observations,
    list_surveys,
    set_observation_status,
    update_survey,
)
from argus.db.models.astro import (
    AlertPriority,
    AlertStatus,
    CandidateStatus,
    DetectionStatus,
    JobStatus,
    ModelType,
    ObservationStatus,
)

__all__ = [
    "ALERT_RULES",
    "CANDIDATE_COLUMNS",
    "CUTOUT_PRODUCTS",
    "FLAG_BLENDED",
    "FLAG_EDGE",
    "FLAG_SATURATED",
    "JOB_TYPES",
    "WEBHOOK_URL",
    "Actor",
    "AlertPriority",
    "AlertRules",
    "AlertStatus",
    "CalibrationSet",
    "CandidateStatus",
    "ConeMatch",
    "DetectionStatus",
    "IngestReport",
    "InvalidInput",
    "JobStatus",
    "LightCurvePoint",
    "ModelType",
    "NoActiveModel",
    "NotFoundError",
    "ObservationStatus",
    "Preprocessed",
    "QueueItem",
    "RejectedBatch",
    "RowError",
    "Stamps",
    "active_model",
    "alert_payload",
    "angular_distance_deg",
    "audit",
    "calibration_frames",
    "cancel_job",
    "candidate_counts",
    "candidate_cutout",
    "candidate_stamps",
    "check_config_value",
    "cone_ranges",
    "cone_search",
    "create_job",
    "create_survey",
    "cutout_png",
    "delete_observation",
    "delete_survey",
    "deliver_alert",
    "deliver_pending",
    "detections_of_run",
    "detections_to_alert",
    "fail_job",
    "find_survey",
    "finish_job",
    "fits_files_in",
    "get_alert",
    "get_candidate",
    "get_config",
    "get_config_row",
    "get_detection",
    "get_difference_run",
    "get_job",
    "get_model",
    "get_model_run",
    "get_observation",
    "get_or_create_survey",
    "get_survey",
    "healpix_ids",
    "ingest_fits",
    "ingest_folder",
    "job_step",
    "latest_detection",
    "latest_preprocessed",
    "light_curve",
    "list_alerts",
    "list_candidates",
    "list_config",
    "list_difference_runs",
    "list_jobs",
    "list_models",
    "list_observations",
    "list_surveys",
    "model_bytes",
    "parse_fits",
    "preprocess_observation",
    "preprocess_runs",
    "processed_image",
    "product_bytes",
    "raise_alerts",
    "read_observation_image",
    "record_difference_run",
    "record_model_run",
    "record_preprocess_run",
    "register_model",
    "run_job",
    "run_pipeline",
    "run_preprocess",
    "set_config",
    "set_observation_status",
    "split_calibration_files",
    "split_calibration_folder",
    "stamps_png",
    "start_job",
    "store_candidates",
    "update_survey",
    "validate_detection",
    "validation_events",
    "validation_queue",
]
