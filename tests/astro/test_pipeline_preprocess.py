"""The pipeline's preprocessing step on SQLite and PostgreSQL: calibration frames found in the
folder by IMAGETYP (not ingested), applied to the science frames, PreprocessRun rows with the
registration quality, the transients still found; a failing step recorded with its retries."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits
from scipy.spatial import cKDTree
from sqlalchemy.orm import Session

from argus.astro import preprocess as engine
from argus.astro import service
from argus.astro.fitsio import write_image
from argus.astro.simulate import SimulatedPair, simulate_pair
from argus.db.models.astro import (
    JobStatus,
    Observation,
    ObservationStatus,
    PreprocessRun,
    RunStatus,
)
from argus.db.objectstore import ObjectStore


@pytest.fixture(scope="module")
def pair_512() -> SimulatedPair:
    return simulate_pair(512, seed=21)


def _calibrated_night(folder: Path, pair: SimulatedPair) -> tuple[np.ndarray, np.ndarray]:
    """Raw frames as a camera would give them: the simulated images times a flat plus a bias,
    with 5 bias frames and 5 flats (IMAGETYP) beside them."""
    rng = np.random.default_rng(4)
    shape = pair.new.shape
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    bias = 320.0 + 4.0 * np.sin(xx / 23.0)
    flat = (1.0 - 0.2 * ((xx / shape[1] - 0.5) ** 2 + (yy / shape[0] - 0.5) ** 2)) * (
        1.0 + 0.01 * rng.standard_normal(shape)
    )
    folder.mkdir()
    for name, img, hdr in (("ref", pair.ref, pair.ref_header), ("new", pair.new, pair.new_header)):
        h = hdr.copy()
        h["IMAGETYP"] = "LIGHT"
        write_image(folder / f"{name}.fits", img * flat + bias, h)
    for i in range(5):
        h = fits.Header({"IMAGETYP": "BIAS", "EXPTIME": 0.0})
        write_image(folder / f"bias{i}.fits", bias + rng.normal(0, 0.5, shape), h)
        h = fits.Header({"IMAGETYP": "FLAT", "EXPTIME": 5.0})
        write_image(folder / f"flat{i}.fits", bias + 3e5 * flat, h)
    return bias, flat


def test_folder_with_calibration_frames(
    session: Session, tmp_path: Path, pair_512: SimulatedPair
) -> None:
    folder = tmp_path / "night"
    _, flat = _calibrated_night(folder, pair_512)
    science, cal = service.split_calibration_folder(folder)
    assert [p.name for p in science] == ["new.fits", "ref.fits"]
    assert [len(cal[k]) for k in ("bias", "dark", "flat")] == [5, 0, 5]
    store = ObjectStore(str(tmp_path / "objects"))
    out = service.run_pipeline(session, store, folder, survey="SIM", score=False)
    assert out["errors"] == []
    # only the two science frames became observations
    assert session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 2
    (entry,) = out["observations"]
    runs = {
        o.observation_id: r
        for r, o in session.execute(
            sa.select(PreprocessRun, Observation).join(
                Observation, Observation.id == PreprocessRun.observation_id
            )
        )
    }
    new_run = runs["new"]
    assert new_run.calibration_applied and runs["ref"].calibration_applied
    assert new_run.wcs_info["calibration"]["files"]["flat"] == [f"flat{i}.fits" for i in range(5)]
    assert new_run.wcs_aligned and new_run.registration_quality < 0.1
    assert new_run.wcs_info["noise_model"]["gain_source"] == "header"
    assert new_run.wcs_info["noise_model"]["gain_e_per_adu"] == 1.6
    assert entry["registration_quality"] == new_run.registration_quality
    obs = session.get(Observation, new_run.observation_id)
    assert obs is not None and obs.status == ObservationStatus.DIFFERENCED
    # the stored processed image is the simulated frame again (bias removed, flat-fielded: the
    # flat is normalized to its median) to the master flat's error
    data, header = service.processed_image(store, new_run)
    assert header["CALIB"] == "bias/dark/flat"
    ratio = data / (pair_512.new * np.median(flat))
    assert np.median(np.abs(ratio - 1.0)) < 2e-3
    # and the transients at SNR >= 10 are still found where they were put
    cands = service.list_candidates(session, observation_id=obs.id, limit=5000)
    xy = np.array([[c.pixel_x, c.pixel_y] for c in cands])
    t = pair_512.truth_of("transient")
    bright = t["snr"] >= 10
    d, _ = cKDTree(xy).query(np.column_stack([t["x"], t["y"]])[bright])
    assert bright.sum() >= 3 and np.mean(d < 2.0) >= 0.9
    kinds = sorted(j.job_type for j in service.list_jobs(session, workflow_id=out["workflow_id"]))
    assert kinds == ["difference", "extract", "ingest", "preprocess", "preprocess"]


def _stub_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Difference and extraction stand-ins (their contracts), so only preprocessing is real."""
    from tests.astro._support import FakeSubtraction, candidate_table

    def subtract_images(new: Any, new_header: Any, ref: Any, ref_header: Any, **_: Any) -> Any:
        d = new - ref
        return FakeSubtraction(D=d, Scorr=d, S=d, psf_D=np.ones((3, 3)), new=new, ref_aligned=ref, header=new_header)  # fmt: skip

    def find_candidates(sub: Any, *, threshold: float = 5.0) -> dict[str, Any]:
        return candidate_table([150.0], [2.2])

    for name, attrs in {
        "difference": {"subtract_images": subtract_images},
        "detect": {"find_candidates": find_candidates},
    }.items():
        mod = types.ModuleType(f"argus.astro.{name}")
        for k, v in attrs.items():
            setattr(mod, k, v)
        monkeypatch.setitem(sys.modules, f"argus.astro.{name}", mod)


def _stored_night(session: Session, store: ObjectStore) -> list[Observation]:
    import datetime as dt

    from tests.astro._support import T0, fits_image

    files = [
        (f"{o}.fits", fits_image(obsid=o, when=T0 + dt.timedelta(days=i), seed=i))
        for i, o in enumerate(("REF", "NEW-1", "NEW-2"))
    ]
    return service.ingest_fits(session, store, files, survey="S").stored


def test_a_failing_preprocess_is_retried_then_recorded_failed(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stub_engines(monkeypatch)
    store = ObjectStore(str(tmp_path / "objects"))
    ref, bad, good = _stored_night(session, store)
    store.delete_many([bad.fits_key])  # its file is gone: every attempt fails the same way
    out = service.run_pipeline(session, store, [ref.id, bad.id, good.id], score=False, retries=2)
    assert [e["observation_id"] for e in out["errors"]] == [str(bad.id)]
    jobs = service.list_jobs(session, workflow_id=out["workflow_id"], job_type="preprocess")
    by_entity = {j.entity_id: j for j in jobs}
    failed = by_entity[str(bad.id)]
    assert failed.status == JobStatus.FAILED
    assert failed.retry_count == 2 and failed.max_retries == 2
    assert "FileNotFoundError" in failed.error_message
    assert [a["attempt"] for a in failed.error_details["attempts"]] == [1, 2, 3]
    assert failed.duration_seconds is not None and failed.completed_at is not None
    # the failure is kept as a failed PreprocessRun, the observation marked failed
    (run,) = service.preprocess_runs(session, bad)
    assert run.status == RunStatus.FAILED and "FileNotFoundError" in run.error_message
    assert run.retry_count == 2 and bad.status == ObservationStatus.FAILED
    # the others went on: no difference job for the bad one, completed ones for the good one
    assert by_entity[str(good.id)].status == JobStatus.COMPLETED
    diff = service.list_jobs(session, workflow_id=out["workflow_id"], job_type="difference")
    assert [j.entity_id for j in diff] == [str(good.id)]


def test_a_transient_failure_succeeds_on_retry(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stub_engines(monkeypatch)
    store = ObjectStore(str(tmp_path / "objects"))
    ref, new, _ = _stored_night(session, store)
    real = engine.preprocess_image
    calls: list[int] = []

    def flaky(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the new image's first attempt
            raise OSError("object store timed out")
        return real(*args, **kw)

    monkeypatch.setattr(engine, "preprocess_image", flaky)
    out = service.run_pipeline(session, store, [ref.id, new.id], score=False, retries=1)
    assert out["errors"] == []
    (job,) = [
        j
        for j in service.list_jobs(session, workflow_id=out["workflow_id"], job_type="preprocess")
        if j.entity_id == str(new.id)
    ]
    assert job.status == JobStatus.COMPLETED and job.retry_count == 1
    assert job.error_message is None
    assert job.error_details["attempts"][0]["error"] == "OSError: object store timed out"
    (run,) = service.preprocess_runs(session, new)
    # the test frames have no GAIN / RDNOISE: the defaults used are said on the run
    assert run.wcs_info["noise_model"]["gain_source"] == "default (no GAIN keyword)"
    # the rolled-back first attempt left nothing: one completed run, retried once
    assert run.status == RunStatus.COMPLETED and run.retry_count == 1
    assert len(calls) == 3


def test_cli_pipeline_with_calibration_flags(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pair_512: SimulatedPair,
    rb_trained: tuple[Any, dict[str, Any]],
) -> None:
    """``argus astro pipeline DIR --bias B --flat F``: the frames given on the command line are
    applied (and named on the run); a flat of the wrong shape fails the step, exit 1."""
    from typer.testing import CliRunner

    from argus.cli.main import app
    from argus.config import get_settings
    from argus.db import migrate
    from argus.db.session import make_engine, make_sessionmaker, session_scope

    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("ARGUS_DATABASE_URL", url)
    monkeypatch.setenv("ARGUS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ARGUS_OBJECT_STORE", raising=False)
    get_settings.cache_clear()
    night = tmp_path / "night"
    _calibrated_night(night, pair_512)
    cal = tmp_path / "cal"
    cal.mkdir()
    for f in night.iterdir():  # the frames move out of the folder: given by flag instead
        if f.name.startswith(("bias", "flat")):
            f.rename(cal / f.name)
    eng = make_engine(url)
    model, metrics = rb_trained
    with session_scope(make_sessionmaker(eng)) as s:
        service.register_model(
            s, name="rb", model_type="real_bogus", blob=model.to_bytes(),
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        )  # fmt: skip
    runner = CliRunner()
    flags = [a for i in range(5) for a in ("--bias", str(cal / f"bias{i}.fits"))]
    flags += [a for i in range(5) for a in ("--flat", str(cal / f"flat{i}.fits"))]
    try:
        res = runner.invoke(app, ["astro", "pipeline", str(night), "--survey", "SIM", *flags])
        assert res.exit_code == 0, res.output
        assert "registration rms" in " ".join(res.output.split())
        with session_scope(make_sessionmaker(eng)) as s:
            runs = s.scalars(sa.select(PreprocessRun)).all()
            assert len(runs) == 2 and all(r.calibration_applied for r in runs)
            assert {tuple(r.wcs_info["calibration"]["files"]["bias"]) for r in runs} == {
                tuple(f"bias{i}.fits" for i in range(5))
            }
            assert min(r.registration_quality or 1.0 for r in runs) < 0.1
        small = tmp_path / "small_flat.fits"
        write_image(small, np.ones((100, 100)), fits.Header({"IMAGETYP": "FLAT", "EXPTIME": 1.0}))
        night2 = tmp_path / "night2"
        night2.mkdir()
        for name, img, hdr in (
            ("ref", pair_512.ref, pair_512.ref_header),
            ("new", pair_512.new, pair_512.new_header),
        ):
            h = hdr.copy()
            h["OBSID"] = f"{name}-2"  # not the first night's observations again
            write_image(night2 / f"{name}.fits", img, h)
        res = runner.invoke(
            app, ["astro", "pipeline", str(night2), "--survey", "SIM", "--flat", str(small)]
        )
        assert res.exit_code == 1, res.output
        assert "does not fit" in " ".join(res.output.split())
        with session_scope(make_sessionmaker(eng)) as s:
            failed = service.list_jobs(s, status=JobStatus.FAILED, job_type="preprocess")
            assert len(failed) == 1 and "flat: master frame of shape" in failed[0].error_message
    finally:
        eng.dispose()
        get_settings.cache_clear()
