"""The pipeline: ingest → preprocess → difference → candidates → real/bogus → detections →
alerts.

Each step of each observation is a ProcessingJob (``jobs.job_step``, or ``jobs.run_job`` for
the preprocessing, which is retried up to ``retries`` times): a failing step is rolled back to
its savepoint and recorded as failed, and the pipeline goes on with the next observation. A
failed preprocessing also leaves a failed PreprocessRun with the error. The engines are
imported inside the function (engine modules of this domain: ``argus.astro.preprocess``,
``difference``, ``detect``, ``realbogus``, ``cutouts``).

Preprocessing (``preprocess=True``): calibration frames of a folder (``IMAGETYP`` bias, dark,
flat) are set aside before the ingest and combined into masters unless ``calibration`` is given;
every observation is calibrated and cleaned of cosmic rays (the reference only with
``reference_cosmic_rays``: a reference is usually a stack, and L.A.Cosmic flags the cores of
its undersampled stars), the reference is registered onto each new image, and the difference
step works on the processed images with the reference's fitted WCS.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor
from argus.astro.service.alerts import AlertRules, deliver_alert, raise_alerts
from argus.astro.service.errors import InvalidInput
from argus.astro.service.ingest import fits_files_in, ingest_fits, read_observation_image
from argus.astro.service.jobs import job_step, run_job
from argus.astro.service.preprocess import (
    CalibrationSet,
    Preprocessed,
    calibration_frames,
    preprocess_observation,
    processed_image,
    split_calibration_files,
)
from argus.astro.service.products import (
    active_model,
    list_candidates,
    model_bytes,
    preprocess_runs,
    record_difference_run,
    record_model_run,
    record_preprocess_run,
    store_candidates,
)
from argus.astro.service.surveys import get_observation
from argus.db.models.astro import (
    Detection,
    DifferenceAlgorithm,
    Observation,
    ProcessingJob,
    RunStatus,
)
from argus.db.objectstore import ObjectStore
from argus.logs import get_logger

log = get_logger("argus.astro")


def run_pipeline(
    session: Session,
    store: ObjectStore,
    source: str | Path | Sequence[uuid.UUID | str],
    *,
    survey: str | None = None,
    reference_id: uuid.UUID | str | None = None,
    algorithm: DifferenceAlgorithm | str = DifferenceAlgorithm.ZOGY,
    threshold: float = 5.0,
    score: bool = True,
    rules: AlertRules | None = None,
    webhook_url: str | None = None,
    preprocess: bool = True,
    calibration: CalibrationSet | None = None,
    cosmic_rays: bool = True,
    reference_cosmic_rays: bool = False,
    retries: int = 0,
    workflow_id: str | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Run the pipeline on a folder of FITS files (ingested first) or on stored observations.

    The reference is ``reference_id`` or else the earliest observation; every other one is
    preprocessed (see the module docstring) and differenced against it. Returns a summary
    (workflow id, per-observation counts and registration quality, errors). Scoring needs an
    active real/bogus model (``NoActiveModel`` names ``argus astro train``).
    """
    # The engines of issue 12 (another half of the work): looked up at call time.
    cutout_triplets = importlib.import_module("argus.astro.cutouts").cutout_triplets
    find_candidates = importlib.import_module("argus.astro.detect").find_candidates
    subtract_images = importlib.import_module("argus.astro.difference").subtract_images
    real_bogus_model = importlib.import_module("argus.astro.realbogus").RealBogusModel

    if retries < 0:
        raise InvalidInput("retries: must be >= 0")
    workflow = workflow_id or uuid.uuid4().hex
    summary: dict[str, Any] = {"workflow_id": workflow, "observations": [], "errors": []}
    if isinstance(source, str | Path):
        with job_step(session, "ingest", entity_type="folder", entity_id=str(source)[:64],
                      workflow_id=workflow) as job:  # fmt: skip
            p = Path(source)
            files = fits_files_in(p) if p.is_dir() else [p]
            if not files:
                raise InvalidInput(f"folder: no FITS file in {p}")
            science, cal_files = split_calibration_files(files)
            if not science:
                raise InvalidInput(f"folder: only calibration frames (IMAGETYP) in {p}")
            report = ingest_fits(session, store, science, survey=survey, actor=actor)
            job.result = {
                **report.as_dict(),
                "calibration_files": {k: [f.name for f in v] for k, v in cal_files.items()},
            }
        observations = report.stored
        if preprocess and calibration is None and any(cal_files.values()):
            calibration = calibration_frames(**cal_files)
    else:
        observations = [get_observation(session, i) for i in source]
    if len(observations) < 2 and reference_id is None:
        raise InvalidInput("source: the pipeline needs a reference and at least one new image")
    observations.sort(key=lambda o: (o.observation_time, str(o.id)))
    reference: Observation = (
        get_observation(session, reference_id) if reference_id else observations[0]
    )
    model = active_model(session) if score else None
    rb = real_bogus_model.from_bytes(model_bytes(model)) if model is not None else None
    rules = rules or AlertRules.from_config(session)
    summary["reference_observation_id"] = str(reference.id)

    def prep(obs: Observation, ref: Preprocessed | None, crs: bool) -> Preprocessed:
        return run_preprocess(
            session, store, obs, reference=ref, calibration=calibration, cosmic_rays=crs,
            max_retries=retries, workflow_id=workflow, actor=actor,
        )  # fmt: skip

    ref_prep: Preprocessed | None = None
    if preprocess:
        try:
            ref_prep = prep(reference, None, reference_cosmic_rays)
        except Exception as exc:
            summary["errors"].append({"observation_id": str(reference.id), "error": str(exc)[:500]})
            log.warning("pipeline_reference_failed", workflow_id=workflow,
                        observation_id=str(reference.id), error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
            return summary
        ref_data, ref_header = ref_prep.data, ref_prep.header
    else:
        ref_data, ref_header = read_observation_image(store, reference)

    for obs in observations:
        if obs.id == reference.id:
            continue
        entry: dict[str, Any] = {"observation_id": str(obs.id)}
        try:
            reg_header = ref_header
            if ref_prep is not None:
                new_prep = prep(obs, ref_prep, cosmic_rays)
                entry["preprocess_run_id"] = str(new_prep.run.id)
                entry["registration_quality"] = new_prep.run.registration_quality
                if new_prep.registration is not None and new_prep.registration.refined:
                    reg_header = new_prep.registration.ref_header
            with job_step(session, "difference", entity_type="observation", entity_id=obs.id,
                          workflow_id=workflow, parameters={"algorithm": str(algorithm)}) as job:  # fmt: skip
                if ref_prep is not None:
                    new_data, new_header = new_prep.data, new_prep.header
                else:
                    new_data, new_header = read_observation_image(store, obs)
                t0 = time.perf_counter()
                sub = subtract_images(
                    new_data, new_header, ref_data, reg_header, algorithm=str(algorithm)
                )
                run = record_difference_run(
                    session, store, obs, sub, reference=reference, algorithm=algorithm,
                    detection_threshold=threshold,
                    processing_time_seconds=time.perf_counter() - t0, actor=actor,
                )  # fmt: skip
                job.result = {"difference_run_id": str(run.id)}
            entry["difference_run_id"] = str(run.id)
            with job_step(session, "extract", entity_type="difference_run", entity_id=run.id,
                          workflow_id=workflow, parameters={"threshold": threshold}) as job:  # fmt: skip
                table = find_candidates(sub, threshold=threshold)
                n = store_candidates(session, run, table, actor=actor)
                job.result = {"candidates": n}
            entry["candidates"] = n
            if rb is not None and model is not None and n:
                with job_step(session, "score", entity_type="difference_run", entity_id=run.id,
                              workflow_id=workflow) as job:  # fmt: skip
                    cands = list(list_candidates(session, difference_run_id=run.id, limit=n))
                    xs = [c.pixel_x for c in cands]
                    ys = [c.pixel_y for c in cands]
                    t0 = time.perf_counter()
                    triplets = cutout_triplets(sub.new, sub.ref_aligned, sub.D, xs, ys)
                    scores = rb.score(triplets)
                    mrun = record_model_run(
                        session, model, cands, scores,
                        inference_time_ms=(time.perf_counter() - t0) * 1000, actor=actor,
                    )  # fmt: skip
                    job.result = {"model_run_id": str(mrun.id)}
                with job_step(session, "alert", entity_type="model_run", entity_id=mrun.id,
                              workflow_id=workflow) as job:  # fmt: skip
                    ids = list(
                        session.scalars(
                            select(Detection.id).where(Detection.model_run_id == mrun.id)
                        )
                    )
                    alerts = raise_alerts(session, rules=rules, detection_ids=ids, actor=actor)
                    job.result = {"alerts": len(alerts)}
                entry["alerts"] = len(alerts)
                if webhook_url:
                    with job_step(session, "deliver", entity_type="model_run", entity_id=mrun.id,
                                  workflow_id=workflow) as job:  # fmt: skip
                        done = [deliver_alert(session, a, webhook_url) for a in alerts]
                        job.result = {"delivered": sum(a.status == "delivered" for a in done)}
        except Exception as exc:  # the job row keeps the details; go on with the next image
            summary["errors"].append({"observation_id": str(obs.id), "error": str(exc)[:500]})
            log.warning(
                "pipeline_observation_failed",
                workflow_id=workflow,
                observation_id=str(obs.id),
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
        summary["observations"].append(entry)
        log.info("pipeline_observation", stage="pipeline", workflow_id=workflow, **entry)
    return summary


def run_preprocess(
    session: Session,
    store: ObjectStore,
    observation: Observation,
    *,
    reference: Preprocessed | None = None,
    calibration: CalibrationSet | None = None,
    cosmic_rays: bool = True,
    max_retries: int = 0,
    workflow_id: str | None = None,
    job: ProcessingJob | None = None,
    task_id: str | None = None,
    actor: Actor | None = None,
) -> Preprocessed:
    """Preprocess one observation as a ``preprocess`` ProcessingJob (``job`` if given, e.g. the
    one a Celery task was sent for), retried up to ``max_retries`` times (the job's own
    ``max_retries`` when ``job`` is given). When every attempt failed, a failed PreprocessRun
    keeps the error (the observation becomes ``failed``) and the error is raised."""
    params = {
        "calibration": calibration.describe() if calibration else None,
        "cosmic_rays": cosmic_rays,
        "reference": None if reference is None else str(reference.run.observation_id),
    }

    def step(j: ProcessingJob) -> Preprocessed:
        return _preprocess_step(session, store, observation, j, calibration, reference,
                                cosmic_rays, actor)  # fmt: skip

    try:
        return run_job(
            session, "preprocess", step, entity_type="observation", entity_id=observation.id,
            workflow_id=workflow_id, parameters=params, max_retries=max_retries, job=job,
            task_id=task_id,
        )  # fmt: skip
    except Exception as exc:
        record_preprocess_run(
            session, observation, status=RunStatus.FAILED,
            error_message=f"{type(exc).__name__}: {exc}"[:4000],
            retry_count=job.retry_count if job is not None else max_retries, actor=actor,
        )  # fmt: skip
        raise


def latest_preprocessed(
    session: Session, store: ObjectStore, observation: Observation
) -> Preprocessed | None:
    """The observation's latest completed preprocessing, its stored image read back."""
    runs = [r for r in preprocess_runs(session, observation) if r.status == RunStatus.COMPLETED]
    if not runs:
        return None
    data, header = processed_image(store, runs[-1])
    return Preprocessed(run=runs[-1], data=data, header=header)


def _preprocess_step(
    session: Session,
    store: ObjectStore,
    obs: Observation,
    job: Any,
    calibration: CalibrationSet | None,
    reference: Preprocessed | None,
    cosmic_rays: bool,
    actor: Actor | None,
) -> Preprocessed:
    out = preprocess_observation(
        session, store, obs, calibration=calibration, reference=reference,
        cosmic_rays=cosmic_rays, retry_count=job.retry_count, actor=actor,
    )  # fmt: skip
    job.result = {
        "preprocess_run_id": str(out.run.id),
        "registration_quality": out.run.registration_quality,
        "wcs_aligned": out.run.wcs_aligned,
        "calibration_applied": out.run.calibration_applied,
        "cosmic_ray_pixels": (out.run.wcs_info or {}).get("cosmic_ray_pixels"),
    }
    return out
