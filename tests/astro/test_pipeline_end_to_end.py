"""The astronomy pipeline end to end with the real engines, on SQLite and PostgreSQL: two FITS
files of a simulated pair ingested from a folder, ZOGY, candidates, real/bogus scoring by a
registered model, detections and alerts — and the injected transients found where they are."""

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
from argus.db.models.astro import Detection
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
    with session_scope(factory) as s:
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
