"""The astronomy service against SQLite and PostgreSQL: jobs, difference products, candidates,
the model registry, model runs and detections, curation, queries, config and audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits
from PIL import Image
from sqlalchemy.orm import Session

from argus.astro import service
from argus.astro.service.stamps import cut
from argus.db.models.astro import (
    AuditLog,
    Candidate,
    CandidateStatus,
    Detection,
    DetectionStatus,
    DetectionType,
    JobStatus,
    ObservationStatus,
)
from argus.db.objectstore import ObjectStore
from tests.astro._support import T0, candidate_table, fits_image, stored_run, subtraction


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "objects"))


def _count(session: Session, model: type) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


# ---- surveys ----


def test_survey_crud_is_audited(session: Session) -> None:
    who = service.Actor("alice", "10.0.0.1", "pytest")
    s = service.create_survey(session, " ZTF ", description="Zwicky", actor=who)
    assert s.name == "ZTF" and service.find_survey(session, "ZTF") is s
    with pytest.raises(service.InvalidInput, match=r"^name: a survey named 'ZTF' exists"):
        service.create_survey(session, "ZTF")
    service.update_survey(session, s, description="Zwicky Transient Facility", actor=who)
    rows = session.scalars(
        sa.select(AuditLog).where(AuditLog.entity_id == str(s.id)).order_by(AuditLog.created_at)
    ).all()
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[1].old_values["description"] == "Zwicky"
    assert rows[1].new_values["description"] == "Zwicky Transient Facility"
    assert (rows[1].user_id, rows[1].ip_address, rows[1].user_agent) == (
        "alice",
        "10.0.0.1",
        "pytest",
    )
    service.delete_survey(session, s)
    assert service.list_surveys(session) == []
    with pytest.raises(service.NotFoundError, match=r"^survey_id:"):
        service.get_survey(session, s.id)
    with pytest.raises(service.InvalidInput, match=r"^survey_id: not a UUID"):
        service.get_survey(session, "nope")


def test_survey_with_observations_is_not_deleted(session: Session, store: ObjectStore) -> None:
    (o,) = service.ingest_fits(session, store, [("a.fits", fits_image())]).stored
    s = service.get_survey(session, o.survey_id)
    with pytest.raises(service.InvalidInput, match="still has 1 observations"):
        service.delete_survey(session, s)
    page = service.list_observations(session, survey_id=s.id)
    assert [x.id for x in page] == [o.id]
    service.set_observation_status(session, o, ObservationStatus.ARCHIVED)
    assert service.list_observations(session, status=ObservationStatus.INGESTED) == []


# ---- jobs ----


def test_job_lifecycle_retries_and_timings(session: Session) -> None:
    job = service.create_job(session, "difference", entity_type="observation", entity_id="o1", max_retries=1)  # fmt: skip
    assert job.status == JobStatus.PENDING and job.scheduled_at is not None
    service.start_job(session, job)
    service.fail_job(session, job, RuntimeError("ZOGY diverged"))
    assert (job.status, job.retry_count) == (JobStatus.PENDING, 1)  # one retry left: pending
    assert job.error_message == "RuntimeError: ZOGY diverged"
    assert job.error_details["type"] == "RuntimeError"
    service.start_job(session, job)
    service.fail_job(session, job, "again")
    assert (job.status, job.retry_count) == (JobStatus.FAILED, 1)  # no retry left
    ok = service.create_job(session, "extract")
    service.start_job(session, ok)
    service.finish_job(session, ok, result={"candidates": 3})
    assert ok.status == JobStatus.COMPLETED and ok.result == {"candidates": 3}
    assert ok.duration_seconds is not None and ok.duration_seconds >= 0
    with pytest.raises(service.InvalidInput, match=r"^status:"):
        service.start_job(session, ok)
    with pytest.raises(service.InvalidInput, match=r"^job_type:"):
        service.create_job(session, "teleport")
    assert [j.id for j in service.list_jobs(session, status=JobStatus.FAILED)] == [job.id]
    assert service.get_job(session, str(ok.id)) is ok


def test_job_step_rolls_back_the_step_and_keeps_the_failure(
    session: Session, store: ObjectStore
) -> None:
    with (
        pytest.raises(ValueError, match="boom"),
        service.job_step(session, "ingest", entity_type="folder", entity_id="x"),
    ):
        service.create_survey(session, "HalfWritten")
        raise ValueError("boom")
    assert service.find_survey(session, "HalfWritten") is None  # the step's write is gone
    (job,) = service.list_jobs(session)
    assert job.status == JobStatus.FAILED and "boom" in (job.error_message or "")
    with service.job_step(session, "ingest") as ok:
        service.create_survey(session, "Kept")
        ok.result = {"n": 1}
    assert service.find_survey(session, "Kept") is not None
    assert ok.status == JobStatus.COMPLETED and ok.result == {"n": 1}


# ---- preprocessing ----


def test_preprocess_runs(session: Session, store: ObjectStore) -> None:
    (o,) = service.ingest_fits(session, store, [("a.fits", fits_image())]).stored
    failed = service.record_preprocess_run(
        session, o, status="failed", error_message="no stars for the WCS fit", retry_count=1
    )
    assert o.status == ObservationStatus.FAILED and failed.retry_count == 1
    ok = service.record_preprocess_run(
        session, o, calibration_applied=True, wcs_aligned=True, registration_quality=0.05,
        wcs_info={"CTYPE1": "RA---TAN"}, processing_time_seconds=1.5,
    )  # fmt: skip
    assert o.status == ObservationStatus.PREPROCESSED
    assert {r.id for r in service.preprocess_runs(session, o)} == {failed.id, ok.id}
    assert ok.wcs_info == {"CTYPE1": "RA---TAN"} and ok.registration_quality == 0.05
    with pytest.raises(service.InvalidInput, match=r"^registration_quality:"):
        service.record_preprocess_run(session, o, registration_quality=-1.0)


# ---- difference runs and candidates ----


def test_difference_products_in_the_store(session: Session, store: ObjectStore) -> None:
    st = stored_run(session, store)
    run = st.run
    assert set(run.products) == {"D", "Scorr", "new", "ref"}
    sub = subtraction()
    for name, arr in (("D", sub.D), ("Scorr", sub.Scorr), ("new", sub.new), ("ref", sub.ref_aligned)):  # fmt: skip
        data = service.product_bytes(store, run, name)
        assert hashlib.sha512(data).hexdigest() == run.products[name]["sha512"]
        with fits.open(io.BytesIO(data)) as h:
            np.testing.assert_allclose(h[0].data, arr.astype(np.float32))
            assert h[0].header["CTYPE1"] == "RA---TAN"
    assert run.difference_image_path == run.products["D"]["url"]
    assert run.noise_level == pytest.approx(1.0, rel=0.1)  # D ~ N(0, 1)
    assert run.flux_ratio == 0.97 and run.candidates_found == 3
    assert st.new.status == ObservationStatus.DIFFERENCED
    assert run.parameters["meta"] == {"tiles": 1}
    # a tampered product is refused
    store.put_bytes(run.products["D"]["key"], b"tampered")
    with pytest.raises(service.InvalidInput, match="sha512"):
        service.product_bytes(store, run, "D")


def test_candidates_bulk_insert_and_flags(session: Session, store: ObjectStore) -> None:
    n = 2500
    rng = np.random.default_rng(3)
    ra = rng.uniform(149.9, 150.1, n)
    dec = rng.uniform(2.1, 2.3, n)
    flags = rng.integers(0, 8, n)
    sign = np.where(rng.uniform(size=n) < 0.3, -1, 1)
    st = stored_run(session, store, ra=ra, dec=dec, flags=flags, sign=sign)
    assert len(st.candidates) == n and st.run.candidates_found == n
    by_x = {round(c.pixel_x, 9): c for c in st.candidates}
    xs = np.linspace(10, 60, n)
    for i in (0, 1, 777, n - 1):
        c = by_x[round(float(xs[i]), 9)]
        assert c.ra == pytest.approx(ra[i]) and c.dec == pytest.approx(dec[i])
        assert c.is_saturated == bool(flags[i] & 1) and c.is_blended == bool(flags[i] & 2)
        assert c.is_edge == bool(flags[i] & 4) and c.flags == flags[i] and c.sign == sign[i]
        assert c.healpix == int(service.healpix_ids([ra[i]], [dec[i]])[0])
        assert c.status == CandidateStatus.PENDING and c.significance == 10.0
    assert service.candidate_counts(session) == {"pending": n}


def test_bad_candidate_rows_reject_the_table(session: Session, store: ObjectStore) -> None:
    st = stored_run(session, store)
    bad = candidate_table(
        [1.0, 2.0, 3.0, 4.0], [0.0, 95.0, 0.0, 0.0],
        ellipticity=[0.1, 0.1, 1.5, 0.1], flux_err=[1.0, 1.0, 1.0, -2.0],
    )  # fmt: skip
    before = _count(session, Candidate)
    with pytest.raises(service.RejectedBatch) as err:
        service.store_candidates(session, st.run, bad)
    assert [(e.where, e.field) for e in err.value.errors] == [
        ("row 1", "dec"),
        ("row 2", "ellipticity"),
        ("row 3", "flux_err"),
    ]
    assert _count(session, Candidate) == before
    missing = candidate_table([1.0], [0.0])
    del missing["snr"]
    with pytest.raises(service.InvalidInput, match=r"^snr: candidate column missing"):
        service.store_candidates(session, st.run, missing)


# ---- models, runs, detections ----


def test_no_active_model_names_the_train_command(session: Session) -> None:
    with pytest.raises(service.NoActiveModel, match="argus astro train"):
        service.active_model(session, "real_bogus")


def test_model_registry_versions_and_activation(session: Session) -> None:
    m1 = service.register_model(
        session, name="rb-gbm", model_type="real_bogus", blob=b"model-1",
        metrics={"accuracy": 0.97, "precision": 0.96, "recall": 0.98, "tpr_at_1pct_fpr": 0.965},
    )  # fmt: skip
    m2 = service.register_model(
        session, name="rb-gbm", model_type="real_bogus", blob=b"model-2", metrics={}
    )
    assert (m1.version, m2.version) == ("1", "2")
    session.refresh(m1)
    assert not m1.is_active and m2.is_active
    assert service.active_model(session) is m2
    assert m1.precision == 0.96 and m1.training_metrics["tpr_at_1pct_fpr"] == 0.965
    assert service.model_bytes(m1) == b"model-1"
    assert m1.sha512 == hashlib.sha512(b"model-1").hexdigest()
    with pytest.raises(service.InvalidInput, match=r"^accuracy:"):
        service.register_model(session, name="x", model_type="real_bogus", blob=b"x", metrics={"accuracy": 1.5})  # fmt: skip
    with pytest.raises(service.InvalidInput, match=r"^version:"):
        service.register_model(session, name="rb-gbm", model_type="real_bogus", blob=b"x", metrics={}, version="1")  # fmt: skip


def test_model_run_makes_detections(session: Session, store: ObjectStore) -> None:
    st = stored_run(session, store)
    m = service.register_model(session, name="rb", model_type="real_bogus", blob=b"m", metrics={})
    run = service.record_model_run(session, m, st.candidates, [0.95, 0.3, 0.6], inference_time_ms=30.0)  # fmt: skip
    assert (run.total_predictions, run.high_confidence_predictions) == (3, 1)
    dets = service.detections_of_run(session, run)
    assert [d.confidence_score for d in dets] == [0.95, 0.6, 0.3]
    assert [d.detection_type for d in dets] == [
        DetectionType.TRANSIENT,
        DetectionType.TRANSIENT,
        DetectionType.ARTIFACT,
    ]
    assert dets[0].inference_time_ms == pytest.approx(10.0) and dets[0].model_version == "rb:1"
    assert [c.rb_score for c in st.candidates] == [0.95, 0.3, 0.6]
    assert {c.status for c in st.candidates} == {CandidateStatus.SCORED}
    assert service.latest_detection(session, st.candidates[0]) == dets[0]
    with pytest.raises(service.RejectedBatch, match="scores"):
        service.record_model_run(session, m, st.candidates, [0.5, 1.2, 0.1])
    with pytest.raises(service.InvalidInput, match=r"^scores:"):
        service.record_model_run(session, m, st.candidates, [0.5])


# ---- curation ----


def test_validation_events_and_the_queue(session: Session, store: ObjectStore) -> None:
    st = stored_run(session, store)
    m = service.register_model(session, name="rb", model_type="real_bogus", blob=b"m", metrics={})
    run = service.record_model_run(session, m, st.candidates, [0.4, 0.9, 0.7])
    queue = service.validation_queue(session)
    assert [q.detection.confidence_score for q in queue] == [0.9, 0.7, 0.4]
    assert queue[0].candidate is not None and queue[0].candidate.id == st.candidates[1].id
    top, mid, low = (q.detection for q in queue)
    e = service.validate_detection(session, top.id, "real", validator="ops1", confidence_level="expert", tags=["sn"])  # fmt: skip
    service.validate_detection(session, low.id, "bogus", validator="ops1", image_quality="poor")
    service.validate_detection(session, mid.id, "label", validator="ops2", label="variable")
    assert (top.status, top.is_validated, top.validation_confidence) == (DetectionStatus.VALIDATED, True, 1.0)  # fmt: skip
    assert (low.status, low.human_label) == (DetectionStatus.REJECTED, "bogus")
    assert (mid.status, mid.human_label, mid.is_validated) == (DetectionStatus.PENDING, "variable", False)  # fmt: skip
    assert st.candidates[1].status == CandidateStatus.VALIDATED
    assert st.candidates[0].status == CandidateStatus.REJECTED
    assert e.tags == ["sn"] and e.is_valid is True
    assert [q.detection.id for q in service.validation_queue(session)] == [mid.id]
    assert len(service.validation_events(session)) == 3
    assert len(service.validation_events(session, detection_id=top.id)) == 1
    assert service.list_candidates(session, status=CandidateStatus.VALIDATED)[0].id == st.candidates[1].id  # fmt: skip
    audits = session.scalars(sa.select(AuditLog.action).where(AuditLog.entity_type == "detection")).all()  # fmt: skip
    assert sorted(audits) == ["validate_bogus", "validate_label", "validate_real"]
    with pytest.raises(service.InvalidInput, match=r"^label:"):
        service.validate_detection(session, mid.id, "label", validator="ops2")
    with pytest.raises(service.InvalidInput, match=r"^decision:"):
        service.validate_detection(session, mid.id, "maybe", validator="ops2")  # type: ignore[arg-type]
    with pytest.raises(service.NotFoundError, match=r"^detection_id:"):
        service.validate_detection(session, run.id, "real", validator="ops2")
    assert _count(session, Detection) == 3


# ---- queries ----


def test_light_curve_across_observations(session: Session, store: ObjectStore) -> None:
    """The same source in three observations (and a neighbour 10 arcsec away)."""
    ra0, dec0 = 150.0, 2.2
    fluxes = [300.0, 500.0, -200.0]
    for k, flux in enumerate(fluxes):
        stored_run(
            session, store, ra=[ra0 + 0.2 / 3600, ra0 + 10 / 3600], dec=[dec0, dec0],
            when=T0 + dt.timedelta(days=k + 1), obsid=f"N{k}", ref_obsid="REF" if k == 0 else None,
            flux=[flux, 9999.0], flux_err=[30.0, 1.0], sign=[1 if flux > 0 else -1, 1],
        )  # fmt: skip
    lc = service.light_curve(session, ra0, dec0, radius_arcsec=1.5)
    assert [p.flux for p in lc] == fluxes
    assert [p.observation_time for p in lc] == [T0 + dt.timedelta(days=k + 1) for k in range(3)]
    assert lc[0].mag == pytest.approx(-2.5 * np.log10(300.0))
    assert lc[0].mag_error == pytest.approx(1.0857 * 30 / 300, rel=1e-3)
    assert lc[2].mag is None and lc[2].sign == -1
    assert lc[0].mjd == pytest.approx(61101.1666667, abs=1e-6)
    assert all(p.separation_arcsec == pytest.approx(0.2, abs=0.01) for p in lc)
    assert service.light_curve(session, 10.0, 10.0) == []


# ---- config and stamps ----


def test_system_config_get_set(session: Session) -> None:
    assert service.get_config(session, "astro.alerts.webhook_url", "none") == "none"
    service.set_config(session, "astro.alerts.webhook_url", "http://a", description="hook")
    service.set_config(session, "astro.alerts.webhook_url", "http://b")
    assert service.get_config(session, "astro.alerts.webhook_url") == "http://b"
    service.set_config(session, "astro.alerts.webhook_url", "http://c", is_active=False)
    assert service.get_config(session, "astro.alerts.webhook_url", "off") == "off"
    (row,) = service.list_config(session)
    assert row.description == "hook"
    logs = session.scalars(sa.select(AuditLog).where(AuditLog.entity_type == "system_config").order_by(AuditLog.created_at)).all()  # fmt: skip
    assert len(logs) == 3 and logs[1].old_values == {"value": "http://a", "is_active": True}


def test_stamps_from_the_stored_products(session: Session, store: ObjectStore) -> None:
    st = stored_run(session, store)
    c = st.candidates[0]  # at pixel (10, 12)
    stamps = service.candidate_stamps(session, store, c.id, size=9)
    sub = subtraction()
    assert stamps.science.shape == (9, 9)
    # the new image's pixel value is its flat index: the stamp centre is pixel (x=10, y=12)
    assert stamps.science[4, 4] == 100 + 12 * 80 + 10
    assert stamps.reference[4, 4] == -(100 + 12 * 80 + 10)
    np.testing.assert_allclose(stamps.difference[4, 4], np.float32(sub.D[12, 10]))
    # a stamp at the edge is padded with NaN
    edge = cut(np.arange(16.0).reshape(4, 4), 0, 0, 3)
    assert np.isnan(edge[0]).all() and np.isnan(edge[:, 0]).all() and edge[1, 1] == 0.0
    png = service.stamps_png(stamps, title="c")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (750, 280)
    with pytest.raises(service.InvalidInput, match=r"^size:"):
        service.candidate_stamps(session, store, c.id, size=1000)
