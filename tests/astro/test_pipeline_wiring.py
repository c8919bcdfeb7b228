"""``run_pipeline``'s wiring (jobs, persistence, alerts, failure isolation), with stand-ins for
the engines that follow their contracts. The engines themselves (``argus.astro.difference``,
``detect``, ``realbogus``, ``cutouts``) are tested where they live; this checks only that the
service calls them and stores what they return."""

from __future__ import annotations

import datetime as dt
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from argus.astro import service
from argus.db.models.astro import Alert, Candidate, Detection, DifferenceRun, JobStatus
from argus.db.objectstore import ObjectStore
from tests.astro._support import T0, FakeSubtraction, candidate_table, write_fits


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {"subtract": [], "fail_on": None}

    def subtract_images(new: Any, new_header: Any, ref: Any, ref_header: Any, *, algorithm: str = "zogy", tile_size: Any = None) -> FakeSubtraction:  # fmt: skip
        calls["subtract"].append((new_header["OBSID"], ref_header["OBSID"], algorithm))
        if new_header["OBSID"] == calls["fail_on"]:
            raise RuntimeError("too few stars for the PSF")
        d = new - ref
        return FakeSubtraction(D=d, Scorr=d, S=d, psf_D=np.ones((3, 3)), new=new, ref_aligned=ref, header=new_header)  # fmt: skip

    def find_candidates(sub: Any, *, threshold: float = 5.0) -> dict[str, Any]:
        return candidate_table([150.0, 150.01], [2.2, 2.2], snr=[9.0, 4.0])

    class RealBogusModel:
        @classmethod
        def from_bytes(cls, blob: bytes) -> RealBogusModel:
            assert blob == b"trained"
            return cls()

        def score(self, triplets: Any) -> Any:
            return np.full(len(triplets), 0.9)

    def cutout_triplets(new: Any, ref: Any, diff: Any, x: Any, y: Any, size: int = 63) -> Any:
        return np.zeros((len(x), 3, size, size))

    for name, attrs in {
        "difference": {"subtract_images": subtract_images},
        "detect": {"find_candidates": find_candidates},
        "realbogus": {"RealBogusModel": RealBogusModel},
        "cutouts": {"cutout_triplets": cutout_triplets},
    }.items():
        mod = types.ModuleType(f"argus.astro.{name}")
        for k, v in attrs.items():
            setattr(mod, k, v)
        monkeypatch.setitem(sys.modules, f"argus.astro.{name}", mod)
    return calls


def _night(folder: Path) -> Path:
    folder.mkdir()
    for i, obsid in enumerate(("REF", "NEW-1", "NEW-2")):
        write_fits(folder / f"{obsid}.fits", obsid=obsid, when=T0 + dt.timedelta(days=i), seed=i)
    return folder


def _count(session: Session, model: type) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_pipeline_runs_every_step_as_a_job(
    session: Session, tmp_path: Path, engines: dict[str, Any]
) -> None:
    store = ObjectStore(str(tmp_path / "objects"))
    service.register_model(session, name="rb", model_type="real_bogus", blob=b"trained", metrics={})  # fmt: skip
    summary = service.run_pipeline(session, store, _night(tmp_path / "night"))
    assert summary["errors"] == []
    assert [c[:2] for c in engines["subtract"]] == [("NEW-1", "REF"), ("NEW-2", "REF")]
    assert _count(session, DifferenceRun) == 2 and _count(session, Candidate) == 4
    assert _count(session, Detection) == 4
    # only the first night's SNR-9 source is new; NEW-2 sees it again, the SNR-4 one never passes
    alerts = session.scalars(sa.select(Alert)).all()
    assert [(a.alert_type, a.alert_metadata["snr"]) for a in alerts] == [("new_transient", 9.0)]
    jobs = service.list_jobs(session, workflow_id=summary["workflow_id"], limit=50)
    kinds = sorted(j.job_type for j in jobs)
    # the reference is preprocessed once, each new image before its difference
    assert kinds == sorted(
        ["ingest", "preprocess"] + ["preprocess", "difference", "extract", "score", "alert"] * 2
    )
    assert {j.status for j in jobs} == {JobStatus.COMPLETED}


def test_a_failing_observation_is_recorded_and_the_next_runs(
    session: Session, tmp_path: Path, engines: dict[str, Any]
) -> None:
    store = ObjectStore(str(tmp_path / "objects"))
    service.register_model(session, name="rb", model_type="real_bogus", blob=b"trained", metrics={})  # fmt: skip
    engines["fail_on"] = "NEW-1"
    summary = service.run_pipeline(session, store, _night(tmp_path / "night"))
    assert len(summary["errors"]) == 1 and "too few stars" in summary["errors"][0]["error"]
    assert _count(session, DifferenceRun) == 1 and _count(session, Candidate) == 2
    failed = service.list_jobs(session, status=JobStatus.FAILED)
    assert [j.job_type for j in failed] == ["difference"]
    assert failed[0].error_message == "RuntimeError: too few stars for the PSF"


def test_no_model_is_a_clear_error(
    session: Session, tmp_path: Path, engines: dict[str, Any]
) -> None:
    store = ObjectStore(str(tmp_path / "objects"))
    with pytest.raises(service.NoActiveModel, match="argus astro train"):
        service.run_pipeline(session, store, _night(tmp_path / "night"))
