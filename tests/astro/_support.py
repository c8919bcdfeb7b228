"""Helpers for the astronomy service tests: FITS files written with astropy, a subtraction and a
candidate table shaped like the engines' contracts, and a small stored pipeline run."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy.orm import Session

from argus.astro import service
from argus.db.objectstore import ObjectStore

T0 = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)


def tan_wcs(ra: float, dec: float, shape: tuple[int, int], scale_arcsec: float = 1.0) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]  # FITS 1-based: the image centre
    w.wcs.cdelt = [-scale_arcsec / 3600, scale_arcsec / 3600]
    return w


def fits_image(
    *,
    ra: float = 150.0,
    dec: float = 2.2,
    shape: tuple[int, int] = (64, 80),
    when: dt.datetime = T0,
    exptime: float | None = 30.0,
    obsid: str | None = "OBS-1",
    band: str = "r",
    airmass: float | str | None = 1.2,
    seeing: float | None = 1.1,
    survey: str | None = "TestSurvey",
    wcs: bool = True,
    extra: dict[str, Any] | None = None,
    seed: int = 0,
) -> bytes:
    """A FITS file (bytes) with a TAN WCS centred on (ra, dec) and the usual keywords."""
    rng = np.random.default_rng(seed)
    data = rng.normal(100.0, 5.0, size=shape).astype(np.float32)
    header = tan_wcs(ra, dec, shape).to_header() if wcs else fits.Header()
    header["DATE-OBS"] = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    if exptime is not None:
        header["EXPTIME"] = exptime
    if obsid is not None:
        header["OBSID"] = obsid
    header["FILTER"] = band
    if airmass is not None:
        header["AIRMASS"] = airmass
    if seeing is not None:
        header["SEEING"] = seeing
    if survey is not None:
        header["SURVEY"] = survey
    for k, v in (extra or {}).items():
        header[k] = v
    buf = io.BytesIO()
    fits.PrimaryHDU(data, header=header).writeto(buf)
    return buf.getvalue()


def write_fits(path: Path, **kw: Any) -> Path:
    path.write_bytes(fits_image(**kw))
    return path


@dataclass
class FakeSubtraction:
    """The ``argus.astro.difference.Subtraction`` contract, filled with known arrays."""

    D: npt.NDArray[np.float64]
    Scorr: npt.NDArray[np.float64]
    S: npt.NDArray[np.float64]
    psf_D: npt.NDArray[np.float64]
    new: npt.NDArray[np.float64]
    ref_aligned: npt.NDArray[np.float64]
    flux_ratio: float = 1.0
    header: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


def subtraction(shape: tuple[int, int] = (64, 80), seed: int = 1) -> FakeSubtraction:
    rng = np.random.default_rng(seed)
    d = rng.normal(0.0, 1.0, size=shape)
    new = 100 + np.arange(shape[0] * shape[1], dtype=float).reshape(shape)  # pixel value = index
    ref = -new
    return FakeSubtraction(
        D=d,
        Scorr=d * 2,
        S=d,
        psf_D=np.ones((5, 5)) / 25,
        new=new,
        ref_aligned=ref,
        flux_ratio=0.97,
        header=tan_wcs(150.0, 2.2, shape).to_header(),
        meta={"tiles": 1},
    )


def candidate_table(
    ra: npt.ArrayLike, dec: npt.ArrayLike, **over: npt.ArrayLike
) -> dict[str, npt.NDArray[Any]]:
    ra = np.asarray(ra, dtype=float)
    n = len(ra)
    t: dict[str, npt.NDArray[Any]] = {
        "x": np.linspace(10, 60, n),
        "y": np.linspace(12, 50, n),
        "ra": ra,
        "dec": np.asarray(dec, dtype=float),
        "flux": np.full(n, 500.0),
        "flux_err": np.full(n, 50.0),
        "snr": np.full(n, 10.0),
        "fwhm": np.full(n, 2.5),
        "ellipticity": np.full(n, 0.1),
        "pa_deg": np.full(n, 30.0),
        "sign": np.ones(n, dtype=int),
        "flags": np.zeros(n, dtype=int),
    }
    t.update({k: np.asarray(v) for k, v in over.items()})
    return t


@dataclass
class Stored:
    new: Any
    ref: Any
    run: Any
    candidates: list[Any]


def stored_run(
    session: Session,
    store: ObjectStore,
    *,
    ra: npt.ArrayLike = (150.0, 150.001, 150.002),
    dec: npt.ArrayLike = (2.2, 2.2005, 2.201),
    when: dt.datetime = T0 + dt.timedelta(days=1),
    obsid: str = "NEW-1",
    survey: str = "TestSurvey",
    ref_obsid: str | None = "REF-1",
    **table: npt.ArrayLike,
) -> Stored:
    """A reference and a new observation ingested, a difference run recorded, candidates stored."""
    files: list[tuple[str, bytes]] = [(f"{obsid}.fits", fits_image(obsid=obsid, when=when))]
    if ref_obsid:
        files.append((f"{ref_obsid}.fits", fits_image(obsid=ref_obsid, when=T0)))
    report = service.ingest_fits(session, store, files, survey=survey)
    new = report.stored[0]
    ref = report.stored[1] if ref_obsid else None
    run = service.record_difference_run(session, store, new, subtraction(), reference=ref)
    service.store_candidates(session, run, candidate_table(ra, dec, **table))
    cands = list(service.list_candidates(session, difference_run_id=run.id, limit=100_000))
    cands.sort(key=lambda c: c.pixel_x)
    return Stored(new, ref, run, cands)


# ---- the route-authorization walk's astronomy rows (fixed ids) ----

WALK_NAMES = (
    "survey", "observation", "reference", "run", "candidate", "model", "model_run",
    "detection", "alert", "job",
)  # fmt: skip
WALK: dict[str, uuid.UUID] = {
    name: uuid.UUID(f"00000000-0000-4000-a000-{i:012d}") for i, name in enumerate(WALK_NAMES, 1)
}
WALK_INCOMING = "walk-night"


def _fits_product(arr: npt.NDArray[Any], header: Any = None) -> bytes:
    buf = io.BytesIO()
    fits.PrimaryHDU(np.asarray(arr, dtype=np.float32), header=header).writeto(buf)
    return buf.getvalue()


def seed_walk(url: str, var_dir: Path) -> None:
    """One of each astronomy row under the fixed ids of ``WALK`` (products in the object store
    at ``<var_dir>/objects``), and a FITS file in ``<var_dir>/astro-incoming/walk-night``."""
    from argus.db.models.astro import (
        Alert,
        Candidate,
        Detection,
        DifferenceRun,
        JobStatus,
        Model,
        ModelRun,
        ModelType,
        Observation,
        ProcessingJob,
        RunStatus,
        Survey,
    )
    from argus.db.session import make_engine, make_sessionmaker, session_scope

    store = ObjectStore(str(var_dir / "objects"))
    incoming = var_dir / "astro-incoming" / WALK_INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    write_fits(incoming / "w1.fits", obsid="WALK-FOLDER-1", survey="WalkSurvey")
    sub = subtraction()
    products = {}
    for name, arr in (("D", sub.D), ("Scorr", sub.Scorr), ("new", sub.new), ("ref", sub.ref_aligned)):  # fmt: skip
        key = f"astro/difference/{WALK['run']}/{name}.fits"
        obj = store.put_bytes(key, _fits_product(arr, sub.header))
        products[name] = {"key": key, "url": obj.url, "sha512": obj.sha512, "size_bytes": obj.size_bytes}  # fmt: skip
    hp = int(service.healpix_ids([150.0], [2.2])[0])
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            s.add(Survey(id=WALK["survey"], name="WalkSurvey"))
            s.flush()
            for key, obsid, when in (("observation", "WALK-NEW", T0 + dt.timedelta(days=1)), ("reference", "WALK-REF", T0)):  # fmt: skip
                s.add(Observation(
                    id=WALK[key], survey_id=WALK["survey"], observation_id=obsid, ra=150.0,
                    dec=2.2, healpix=hp, observation_time=when, exposure_time=30.0,
                    filter_band="r", airmass=1.2, seeing=1.1, pixel_scale=1.0,
                ))  # fmt: skip
            s.flush()
            s.add(DifferenceRun(
                id=WALK["run"], observation_id=WALK["observation"],
                reference_observation_id=WALK["reference"], status=RunStatus.COMPLETED,
                products=products, difference_image_path=products["D"]["url"],
                significance_map_path=products["Scorr"]["url"], candidates_found=1,
            ))  # fmt: skip
            s.flush()
            s.add(Candidate(
                id=WALK["candidate"], difference_run_id=WALK["run"],
                observation_id=WALK["observation"], ra=150.0, dec=2.2, healpix=hp, pixel_x=40.0,
                pixel_y=30.0, flux=500.0, flux_error=50.0, snr=10.0, rb_score=0.95,
            ))  # fmt: skip
            s.add(Model(
                id=WALK["model"], name="rb-walk", version="1", model_type=ModelType.REAL_BOGUS,
                is_active=True, blob=b"walk", training_metrics={"accuracy": 0.9}, accuracy=0.9,
            ))  # fmt: skip
            s.flush()
            s.add(ModelRun(
                id=WALK["model_run"], model_id=WALK["model"], observation_id=WALK["observation"],
                difference_run_id=WALK["run"], total_predictions=1, status=RunStatus.COMPLETED,
            ))  # fmt: skip
            s.flush()
            s.add(Detection(
                id=WALK["detection"], model_run_id=WALK["model_run"],
                observation_id=WALK["observation"], candidate_id=WALK["candidate"], ra=150.0,
                dec=2.2, healpix=hp, pixel_x=40.0, pixel_y=30.0, confidence_score=0.95,
            ))  # fmt: skip
            s.flush()
            s.add(Alert(
                id=WALK["alert"], detection_id=WALK["detection"], alert_type="new_transient",
                title="walk", message="walk alert", delivery_attempts=1,
                delivery_log=[{"at": T0.isoformat(), "url": "http://127.0.0.1:9/x", "attempt": 1,
                               "status_code": 503, "error": "HTTP 503", "elapsed_ms": 1.0}],
            ))  # fmt: skip
            s.add(ProcessingJob(id=WALK["job"], job_type="difference", status=JobStatus.COMPLETED))
    finally:
        engine.dispose()
