"""The astronomy pipeline end to end with the real engines, on SQLite and PostgreSQL: two FITS
files of a simulated pair ingested from a folder, ZOGY, candidates, real/bogus scoring by a
registered model, detections and alerts — and the injected transients found where they are.
Preprocessing runs first: each observation gets a PreprocessRun, the new one with the
registration quality of the reference aligned onto it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from scipy.spatial import cKDTree

from argus.astro import service
from argus.astro.fitsio import write_image
from argus.astro.simulate import SimulatedPair
from argus.db.models.astro import Detection, Observation, PreprocessRun, RunStatus
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope


@pytest.fixture
def factory(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_folder_to_alerts_finds_the_injected_transients(  # type: ignore[no-untyped-def]
    factory, tmp_path: Path, pair_1k: SimulatedPair, rb_trained: tuple[Any, dict[str, Any]]
) -> None:
    folder = tmp_path / "night"
    folder.mkdir()
    write_image(folder / "ref.fits", pair_1k.ref, pair_1k.ref_header)
    write_image(folder / "new.fits", pair_1k.new, pair_1k.new_header)
    store = ObjectStore(str(tmp_path / "objects"))
    # no model registered: a clear error naming the train command (and the caller's
    # transaction rolls back: nothing of the run is kept)
    with pytest.raises(service.NoActiveModel, match="argus astro train"):  # noqa: SIM117
        with session_scope(factory) as s:
            service.run_pipeline(s, store, folder, survey="SIM")
    model, metrics = rb_trained
    with session_scope(factory) as s:
        service.register_model(
            s, name="rb-test", model_type="real_bogus", blob=model.to_bytes(),
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        )  # fmt: skip
    with session_scope(factory) as s:
        out = service.run_pipeline(s, store, folder, survey="SIM")
    assert out["errors"] == [] and len(out["observations"]) == 1
    (obs,) = out["observations"]
    run_id = uuid.UUID(obs["difference_run_id"])
    assert obs["candidates"] > 0 and obs["alerts"] > 0
    assert obs["registration_quality"] < 0.1
    with session_scope(factory) as s:
        runs = {
            o.observation_id: r
            for r, o in s.execute(
                sa.select(PreprocessRun, Observation).join(
                    Observation, Observation.id == PreprocessRun.observation_id
                )
            )
        }
        assert set(runs) == {"ref", "new"}  # the file stems (no OBSID in the simulated headers)
        new_run, ref_run = runs["new"], runs["ref"]
        assert new_run.status == RunStatus.COMPLETED and new_run.wcs_aligned
        # the simulated WCSs are exact: the matched stars of the aligned reference sit within
        # a few hundredths of a pixel of the new image's
        assert new_run.registration_quality is not None and new_run.registration_quality < 0.1
        assert new_run.wcs_info["registration"]["n_matched"] >= 50
        assert str(new_run.observation_id) == obs["observation_id"]
        # the simulator's 30 cosmic-ray tracks and 15 hot pixels in the new image were masked
        assert new_run.wcs_info["cosmic_ray_pixels"] >= 45
        assert not ref_run.wcs_aligned and ref_run.registration_quality is None
        assert not new_run.calibration_applied  # no calibration frames in the folder
        assert new_run.processed_fits_path and new_run.processing_time_seconds > 0
        jobs = service.list_jobs(s, workflow_id=out["workflow_id"])
        assert jobs and {
            j.status.value if hasattr(j.status, "value") else j.status for j in jobs
        } == {"completed"}
        cands = service.list_candidates(s, difference_run_id=run_id, limit=5000)
        assert len(cands) == obs["candidates"]
        xy = np.array([[c.pixel_x, c.pixel_y] for c in cands])
        truth = pair_1k.truth_of("transient")
        bright = truth["snr"] >= 10
        d, _ = cKDTree(xy).query(np.column_stack([truth["x"], truth["y"]])[bright])
        # every transient at SNR >= 10 is a stored candidate within 2 px of where it was put
        assert bright.sum() > 5 and np.mean(d < 2.0) >= 0.95
        dets = s.scalars(
            sa.select(Detection).where(Detection.candidate_id.in_([c.id for c in cands]))
        ).all()
        assert len(dets) == len(cands)
        conf = np.array([det.confidence_score for det in dets])
        assert np.all((conf >= 0) & (conf <= 1))
        # the model's scores separate the injected transients from the rest
        det_xy = np.array([[det.pixel_x, det.pixel_y] for det in dets])
        dt_, _ = cKDTree(np.column_stack([truth["x"], truth["y"]])).query(det_xy)
        real = dt_ < 2.0
        assert real.any() and (~real).any()
        assert np.median(conf[real]) > np.median(conf[~real]) + 0.3
