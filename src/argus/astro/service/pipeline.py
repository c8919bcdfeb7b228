"""The pipeline: ingest → difference → candidates → real/bogus → detections → alerts.

Each step of each observation is a ProcessingJob (``jobs.job_step``): a failing step is rolled
back to its savepoint and recorded as failed, and the pipeline goes on with the next
observation. The engines are imported inside the function (they are engine modules of this
domain: ``argus.astro.difference``, ``detect``, ``realbogus``, ``cutouts``).

Not exercised by the test suite until those engines exist (issue 12's engine half).
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
from argus.astro.service.ingest import ingest_fits, ingest_folder, read_observation_image
from argus.astro.service.jobs import job_step
from argus.astro.service.products import (
    active_model,
    list_candidates,
    model_bytes,
    record_difference_run,
    record_model_run,
    store_candidates,
)
from argus.astro.service.surveys import get_observation
from argus.db.models.astro import Detection, DifferenceAlgorithm, Observation
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
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Run the pipeline on a folder of FITS files (ingested first) or on stored observations.

    The reference is ``reference_id`` or else the earliest observation; every other one is
    differenced against it. Returns a summary (workflow id, per-observation counts, errors).
    Scoring needs an active real/bogus model (``NoActiveModel`` names ``argus astro train``).
    """
    # The engines of issue 12 (another half of the work): looked up at call time.
    cutout_triplets = importlib.import_module("argus.astro.cutouts").cutout_triplets
    find_candidates = importlib.import_module("argus.astro.detect").find_candidates
    subtract_images = importlib.import_module("argus.astro.difference").subtract_images
    real_bogus_model = importlib.import_module("argus.astro.realbogus").RealBogusModel

    workflow = uuid.uuid4().hex
    summary: dict[str, Any] = {"workflow_id": workflow, "observations": [], "errors": []}
    if isinstance(source, str | Path):
        with job_step(session, "ingest", entity_type="folder", entity_id=str(source)[:64],
                      workflow_id=workflow) as job:  # fmt: skip
            p = Path(source)
            report = (
                ingest_folder(session, store, p, survey=survey, actor=actor)
                if p.is_dir()
                else ingest_fits(session, store, [p], survey=survey, actor=actor)
            )
            job.result = report.as_dict()
        observations = report.stored
    else:
        observations = [get_observation(session, i) for i in source]
    if len(observations) < 2 and reference_id is None:
        raise InvalidInput("source: the pipeline needs a reference and at least one new image")
    observations.sort(key=lambda o: (o.observation_time, str(o.id)))
    reference: Observation = (
        get_observation(session, reference_id) if reference_id else observations[0]
    )
    ref_data, ref_header = read_observation_image(store, reference)
    model = active_model(session) if score else None
    rb = real_bogus_model.from_bytes(model_bytes(model)) if model is not None else None
    rules = rules or AlertRules.from_config(session)

    for obs in observations:
        if obs.id == reference.id:
            continue
        entry: dict[str, Any] = {"observation_id": str(obs.id)}
        try:
            with job_step(session, "difference", entity_type="observation", entity_id=obs.id,
                          workflow_id=workflow, parameters={"algorithm": str(algorithm)}) as job:  # fmt: skip
                new_data, new_header = read_observation_image(store, obs)
                t0 = time.perf_counter()
                sub = subtract_images(
                    new_data, new_header, ref_data, ref_header, algorithm=str(algorithm)
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
