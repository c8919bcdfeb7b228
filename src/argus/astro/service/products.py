"""What the engines produce, stored: difference runs and their FITS products, candidates, the
model registry, model runs and detections.

The engines (``argus.astro.difference``, ``argus.astro.detect``, ``argus.astro.realbogus``)
are duck-typed here: a subtraction is anything with ``D``, ``Scorr``, ``new``, ``ref_aligned``
arrays, ``flux_ratio``, ``header`` and ``meta``; a candidate table is a mapping of column name
to 1-D array with at least :data:`CANDIDATE_COLUMNS`.
"""

from __future__ import annotations

import hashlib
import io
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, as_uuid, audit, jsonable, now
from argus.astro.service.errors import (
    InvalidInput,
    NoActiveModel,
    NotFoundError,
    RejectedBatch,
    RowError,
)
from argus.astro.service.sky import healpix_ids
from argus.db.models.astro import (
    Candidate,
    CandidateStatus,
    Detection,
    DetectionStatus,
    DetectionType,
    DifferenceAlgorithm,
    DifferenceRun,
    Model,
    ModelRun,
    ModelType,
    Observation,
    ObservationStatus,
    PreprocessRun,
    RunStatus,
)
from argus.db.objectstore import ObjectStore

#: The columns ``argus.astro.detect.find_candidates`` returns (its contract).
CANDIDATE_COLUMNS = (
    "x",
    "y",
    "ra",
    "dec",
    "flux",
    "flux_err",
    "snr",
    "fwhm",
    "ellipticity",
    "pa_deg",
    "sign",
    "flags",
)
#: Bits of the ``flags`` column (the extraction engine's contract).
FLAG_SATURATED = 1
FLAG_BLENDED = 2
FLAG_EDGE = 4
#: Rows per INSERT statement (SQLite's bound-parameter limit is 32766; 20 columns a row).
_INSERT_CHUNK = 1000
#: Product names of a difference run, in the store under astro/difference/<run id>/<name>.fits.
PRODUCTS = ("D", "Scorr", "new", "ref")


def _fits_bytes(data: npt.ArrayLike, header: Any = None) -> bytes:
    from astropy.io import fits  # type: ignore[import-untyped]

    buf = io.BytesIO()
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32), header=header).writeto(buf)
    return buf.getvalue()


def robust_std(a: npt.ArrayLike) -> float:
    """1.4826 × the median absolute deviation of the finite values (NaN for none)."""
    x = np.asarray(a, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


# ---- preprocessing ------------------------------------------------------------------------


def record_preprocess_run(
    session: Session,
    observation: Observation,
    *,
    status: RunStatus | str = RunStatus.COMPLETED,
    calibration_applied: bool = False,
    wcs_aligned: bool = False,
    registration_quality: float | None = None,
    processed_fits_path: str | None = None,
    wcs_info: dict[str, Any] | None = None,
    processing_time_seconds: float | None = None,
    error_message: str | None = None,
    retry_count: int = 0,
    actor: Actor | None = None,
) -> PreprocessRun:
    """A preprocessing run of an observation (calibration, WCS alignment, its quality); the
    observation becomes ``preprocessed`` when the run completed, ``failed`` when it failed."""
    try:
        st = RunStatus(status)
    except ValueError:
        raise InvalidInput(f"status: {status!r} is not a run status") from None
    if registration_quality is not None and not (
        math.isfinite(registration_quality) and registration_quality >= 0
    ):
        raise InvalidInput("registration_quality: must be a finite number >= 0")
    run = PreprocessRun(
        observation_id=observation.id,
        status=st,
        calibration_applied=calibration_applied,
        wcs_aligned=wcs_aligned,
        registration_quality=registration_quality,
        processed_fits_path=processed_fits_path,
        wcs_info=jsonable(wcs_info) if wcs_info is not None else None,
        processing_time_seconds=processing_time_seconds,
        error_message=error_message,
        retry_count=retry_count,
    )
    session.add(run)
    if st == RunStatus.COMPLETED:
        observation.status = ObservationStatus.PREPROCESSED
    elif st == RunStatus.FAILED:
        observation.status = ObservationStatus.FAILED
    session.flush()
    audit(session, actor, "preprocess_run", run.id, "create", new={"status": str(st)})
    return run


def preprocess_runs(session: Session, observation: Observation) -> Sequence[PreprocessRun]:
    return list(
        session.scalars(
            select(PreprocessRun)
            .where(PreprocessRun.observation_id == observation.id)
            .order_by(PreprocessRun.created_at, PreprocessRun.id)
        )
    )


# ---- difference runs ----------------------------------------------------------------------


def record_difference_run(
    session: Session,
    store: ObjectStore,
    observation: Observation,
    subtraction: Any,
    *,
    reference: Observation | None = None,
    algorithm: DifferenceAlgorithm | str = DifferenceAlgorithm.ZOGY,
    detection_threshold: float = 5.0,
    parameters: dict[str, Any] | None = None,
    processing_time_seconds: float | None = None,
    actor: Actor | None = None,
) -> DifferenceRun:
    """A completed difference run: D, Scorr, the new image and the aligned reference written to
    the object store as FITS (the subtraction's header on each), with their sha512s."""
    try:
        algo = DifferenceAlgorithm(algorithm)
    except ValueError:
        raise InvalidInput(f"algorithm: {algorithm!r} is not zogy or alard_lupton") from None
    if not (math.isfinite(detection_threshold) and detection_threshold > 0):
        raise InvalidInput("detection_threshold: must be > 0")
    if reference is not None and reference.id == observation.id:
        raise InvalidInput("reference_observation_id: the reference is the observation itself")
    arrays = {
        "D": subtraction.D,
        "Scorr": subtraction.Scorr,
        "new": subtraction.new,
        "ref": subtraction.ref_aligned,
    }
    shape = np.shape(arrays["D"])
    for name, arr in arrays.items():
        if np.ndim(arr) != 2 or np.shape(arr) != shape:
            raise InvalidInput(f"{name}: expected a 2-D array of shape {shape}")
    run = DifferenceRun(
        observation_id=observation.id,
        reference_observation_id=None if reference is None else reference.id,
        algorithm=algo,
        status=RunStatus.COMPLETED,
        parameters=jsonable({**(parameters or {}), "meta": dict(getattr(subtraction, "meta", {}))}),
        detection_threshold=float(detection_threshold),
        flux_ratio=_finite(getattr(subtraction, "flux_ratio", None)),
        noise_level=_finite(robust_std(arrays["D"])),
        processing_time_seconds=processing_time_seconds,
    )
    run.id = uuid.uuid4()
    header = getattr(subtraction, "header", None)
    written: list[str] = []
    products: dict[str, Any] = {}
    try:
        for name, arr in arrays.items():
            key = f"astro/difference/{run.id}/{name}.fits"
            obj = store.put_bytes(key, _fits_bytes(arr, header))
            written.append(key)
            products[name] = {
                "key": key,
                "url": obj.url,
                "sha512": obj.sha512,
                "size_bytes": obj.size_bytes,
            }
        run.products = products
        run.difference_image_path = products["D"]["url"]
        run.significance_map_path = products["Scorr"]["url"]
        session.add(run)
        observation.status = ObservationStatus.DIFFERENCED
        session.flush()
    except BaseException:
        store.delete_many(written)
        raise
    audit(
        session,
        actor,
        "difference_run",
        run.id,
        "create",
        new={"observation_id": observation.id, "algorithm": str(algo), "products": products},
    )
    return run


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def get_difference_run(session: Session, run_id: uuid.UUID | str) -> DifferenceRun:
    run = session.get(DifferenceRun, as_uuid(run_id, "difference_run_id"))
    if run is None:
        raise NotFoundError(f"difference_run_id: no difference run {run_id}")
    return run


def list_difference_runs(
    session: Session,
    *,
    observation_id: uuid.UUID | None = None,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> Sequence[DifferenceRun]:
    q = select(DifferenceRun).order_by(DifferenceRun.id).limit(limit)
    if observation_id is not None:
        q = q.where(DifferenceRun.observation_id == observation_id)
    if after is not None:
        q = q.where(DifferenceRun.id > after)
    return list(session.scalars(q))


def product_bytes(store: ObjectStore, run: DifferenceRun, name: str) -> bytes:
    """A stored product of a run (D, Scorr, new, ref), checked against its recorded sha512."""
    entry = (run.products or {}).get(name)
    if not entry:
        raise NotFoundError(f"product: difference run {run.id} has no {name!r} product")
    try:
        data = store.get_bytes(entry["key"])
    except FileNotFoundError:
        raise NotFoundError(
            f"product: {entry['key']} of difference run {run.id} is missing from the object store"
        ) from None
    if hashlib.sha512(data).hexdigest() != entry["sha512"]:
        raise InvalidInput(f"product: {entry['key']} does not match its recorded sha512")
    return data


# ---- candidates ---------------------------------------------------------------------------


def store_candidates(
    session: Session,
    run: DifferenceRun,
    table: Mapping[str, npt.ArrayLike],
    *,
    actor: Actor | None = None,
) -> int:
    """Insert the candidate table of a difference run in bulk; the number inserted.

    Every row is checked first (finite positions on the sky, flux error and FWHM >= 0,
    ellipticity in [0, 1], sign ±1); a bad row rejects the whole table with every bad row listed
    (``RejectedBatch``: ``row <i>``, the column, the reason). HEALPix ids are computed for all
    rows at once.
    """
    missing = [c for c in CANDIDATE_COLUMNS if c not in table]
    if missing:
        raise InvalidInput(f"{missing[0]}: candidate column missing (need {CANDIDATE_COLUMNS})")
    cols = {c: np.asarray(table[c]) for c in table}
    n = len(cols["x"])
    for c, v in cols.items():
        if v.ndim != 1 or len(v) != n:
            raise InvalidInput(f"{c}: expected a 1-D column of {n} values, got shape {v.shape}")
    f = {c: cols[c].astype(float) for c in CANDIDATE_COLUMNS if c != "flags"}
    flags = cols["flags"].astype(np.int64)
    ra = np.mod(f["ra"], 360.0)
    checks: list[tuple[str, npt.NDArray[np.bool_], str]] = [
        ("x", ~np.isfinite(f["x"]), "not finite"),
        ("y", ~np.isfinite(f["y"]), "not finite"),
        ("ra", ~np.isfinite(f["ra"]), "not a finite right ascension"),
        ("dec", ~(np.isfinite(f["dec"]) & (np.abs(f["dec"]) <= 90)), "not in [-90, 90]"),
        ("flux", ~np.isfinite(f["flux"]), "not finite"),
        ("flux_err", f["flux_err"] < 0, "negative"),
        ("fwhm", f["fwhm"] < 0, "negative"),
        ("ellipticity", (f["ellipticity"] < 0) | (f["ellipticity"] > 1), "not in [0, 1]"),
        ("sign", ~np.isin(f["sign"], (-1.0, 1.0)), "not +1 or -1"),
    ]
    rb = None
    if "rb_score" in cols:
        rb = cols["rb_score"].astype(float)
        checks.append(("rb_score", ~((rb >= 0) & (rb <= 1)) & ~np.isnan(rb), "not in [0, 1]"))
    errors = [
        RowError(f"row {i}", name, reason)
        for name, bad, reason in checks
        for i in np.flatnonzero(bad).tolist()
    ]
    if errors:
        errors.sort(key=lambda e: int(e.where.split()[1]))
        raise RejectedBatch("candidate table", errors)
    significance = cols["significance"].astype(float) if "significance" in cols else f["snr"]
    hp = healpix_ids(ra, f["dec"]) if n else np.zeros(0, dtype=np.int64)

    def opt(a: npt.NDArray[np.float64], i: int) -> float | None:
        v = float(a[i])
        return v if math.isfinite(v) else None

    rows = [
        {
            "id": uuid.uuid4(),
            "difference_run_id": run.id,
            "observation_id": run.observation_id,
            "ra": float(ra[i]),
            "dec": float(f["dec"][i]),
            "healpix": int(hp[i]),
            "pixel_x": float(f["x"][i]),
            "pixel_y": float(f["y"][i]),
            "flux": float(f["flux"][i]),
            "flux_error": opt(f["flux_err"], i),
            "significance": opt(significance, i),
            "snr": opt(f["snr"], i),
            "fwhm": opt(f["fwhm"], i),
            "ellipticity": opt(f["ellipticity"], i),
            "position_angle": opt(f["pa_deg"], i),
            "sign": int(f["sign"][i]),
            "flags": int(flags[i]),
            "is_saturated": bool(flags[i] & FLAG_SATURATED),
            "is_blended": bool(flags[i] & FLAG_BLENDED),
            "is_edge": bool(flags[i] & FLAG_EDGE),
            "rb_score": None if rb is None else opt(rb, i),
            "status": CandidateStatus.PENDING if rb is None else CandidateStatus.SCORED,
        }
        for i in range(n)
    ]
    for k in range(0, n, _INSERT_CHUNK):
        session.execute(insert(Candidate), rows[k : k + _INSERT_CHUNK])
    run.candidates_found = (run.candidates_found or 0) + n
    session.flush()
    audit(
        session,
        actor,
        "difference_run",
        run.id,
        "candidates",
        new={"inserted": n},
        summary=f"{n} candidates stored",
    )
    return n


def get_candidate(session: Session, candidate_id: uuid.UUID | str) -> Candidate:
    c = session.get(Candidate, as_uuid(candidate_id, "candidate_id"))
    if c is None:
        raise NotFoundError(f"candidate_id: no candidate {candidate_id}")
    return c


def list_candidates(
    session: Session,
    *,
    status: CandidateStatus | None = None,
    observation_id: uuid.UUID | None = None,
    difference_run_id: uuid.UUID | None = None,
    min_score: float | None = None,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> Sequence[Candidate]:
    """Candidates by status (and observation, run, score), keyset-paged by id."""
    q = select(Candidate).order_by(Candidate.id).limit(limit)
    if status is not None:
        q = q.where(Candidate.status == status)
    if observation_id is not None:
        q = q.where(Candidate.observation_id == observation_id)
    if difference_run_id is not None:
        q = q.where(Candidate.difference_run_id == difference_run_id)
    if min_score is not None:
        q = q.where(Candidate.rb_score >= min_score)
    if after is not None:
        q = q.where(Candidate.id > after)
    return list(session.scalars(q))


def candidate_counts(session: Session) -> dict[str, int]:
    """Number of candidates in each status."""
    rows = session.execute(select(Candidate.status, func.count()).group_by(Candidate.status))
    return {str(s): int(n) for s, n in rows}


# ---- model registry -----------------------------------------------------------------------

_METRIC_COLUMNS = ("precision", "recall", "f1_score", "accuracy")


def register_model(
    session: Session,
    *,
    name: str,
    model_type: ModelType | str,
    blob: bytes,
    metrics: dict[str, Any],
    version: str | None = None,
    architecture: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    training_dataset: str | None = None,
    mlflow_run_id: str | None = None,
    activate: bool = True,
    actor: Actor | None = None,
) -> Model:
    """Register a trained model (its bytes in the row, with their sha512, and its metrics).

    ``version`` defaults to one more than the highest integer version of ``name``. With
    ``activate`` the model becomes the active one of its type (the previous one is deactivated
    in the same transaction)."""
    try:
        mtype = ModelType(model_type)
    except ValueError:
        raise InvalidInput(f"model_type: {model_type!r} is not a model type") from None
    if not name or not name.strip():
        raise InvalidInput("name: a model needs a name")
    if not isinstance(blob, bytes | bytearray) or not blob:
        raise InvalidInput("blob: the serialized model is empty")
    scores: dict[str, float | None] = {}
    for k in _METRIC_COLUMNS:
        v = metrics.get(k)
        if v is None:
            scores[k] = None
            continue
        x = _finite(v)
        if x is None or not 0 <= x <= 1:
            raise InvalidInput(f"{k}: metric {v!r} is not in [0, 1]")
        scores[k] = x
    if version is None:
        existing = session.scalars(select(Model.version).where(Model.name == name)).all()
        numbers = [int(v) for v in existing if v.isdigit()]
        version = str(max(numbers, default=0) + 1)
    elif session.scalar(select(Model.id).where(Model.name == name, Model.version == version)):
        raise InvalidInput(f"version: model {name!r} version {version!r} exists")
    if activate:
        session.execute(
            update(Model)
            .where(Model.model_type == mtype, Model.is_active.is_(True))
            .values(is_active=False)
        )
        session.flush()
    m = Model(
        name=name.strip(),
        version=version,
        model_type=mtype,
        architecture=jsonable(architecture) if architecture else None,
        hyperparameters=jsonable(hyperparameters) if hyperparameters else None,
        training_dataset=training_dataset,
        training_metrics=jsonable(metrics),
        is_active=activate,
        deployment_date=now() if activate else None,
        blob=bytes(blob),
        sha512=hashlib.sha512(blob).hexdigest(),
        mlflow_run_id=mlflow_run_id,
        created_by=(actor.user_id if actor else None),
        **scores,
    )
    session.add(m)
    session.flush()
    audit(
        session,
        actor,
        "model",
        m.id,
        "register",
        new={"name": m.name, "version": m.version, "model_type": str(mtype), "active": activate},
    )
    return m


def active_model(session: Session, kind: ModelType | str = ModelType.REAL_BOGUS) -> Model:
    """The active model of type ``kind``; NoActiveModel naming ``argus astro train`` if none."""
    try:
        mtype = ModelType(kind)
    except ValueError:
        raise InvalidInput(f"model_type: {kind!r} is not a model type") from None
    m = session.scalar(select(Model).where(Model.model_type == mtype, Model.is_active.is_(True)))
    if m is None:
        raise NoActiveModel(
            f"model_type: no active {mtype} model is registered; train and register one with "
            "`argus astro train` (there is no untrained fallback)"
        )
    return m


def model_bytes(model: Model) -> bytes:
    """The model's serialized bytes, checked against the recorded sha512."""
    if model.blob is None:
        raise NotFoundError(f"model_id: model {model.id} has no stored bytes")
    if model.sha512 and hashlib.sha512(model.blob).hexdigest() != model.sha512:
        raise InvalidInput(f"model_id: the bytes of model {model.id} do not match their sha512")
    return model.blob


def list_models(session: Session, *, model_type: ModelType | None = None) -> Sequence[Model]:
    q = select(Model).order_by(Model.name, Model.created_at.desc())
    if model_type is not None:
        q = q.where(Model.model_type == model_type)
    return list(session.scalars(q))


def get_model(session: Session, model_id: uuid.UUID | str) -> Model:
    m = session.get(Model, as_uuid(model_id, "model_id"))
    if m is None:
        raise NotFoundError(f"model_id: no model {model_id}")
    return m


# ---- model runs and detections ------------------------------------------------------------


def detection_type_for(score: float, *, real_threshold: float = 0.5) -> DetectionType:
    """``transient`` at or above the real/bogus threshold, ``artifact`` below it."""
    return DetectionType.TRANSIENT if score >= real_threshold else DetectionType.ARTIFACT


def record_model_run(
    session: Session,
    model: Model,
    candidates: Sequence[Candidate],
    scores: npt.ArrayLike,
    *,
    inference_time_ms: float | None = None,
    memory_usage_mb: float | None = None,
    real_threshold: float = 0.5,
    high_confidence: float = 0.9,
    actor: Actor | None = None,
) -> ModelRun:
    """A completed ModelRun over ``candidates`` (one observation) with one Detection per
    candidate: confidence = score, type from ``real_threshold``; the candidates get their
    ``rb_score`` and the status ``scored``."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1 or len(s) != len(candidates):
        raise InvalidInput(f"scores: expected {len(candidates)} scores, got shape {s.shape}")
    bad = np.flatnonzero(~((s >= 0) & (s <= 1)))
    if bad.size:
        raise RejectedBatch(
            "scores",
            [RowError(f"row {i}", "scores", f"{s[i]} is not in [0, 1]") for i in bad.tolist()],
        )
    observations = {c.observation_id for c in candidates}
    if len(observations) > 1:
        raise InvalidInput("candidates: a model run covers the candidates of one observation")
    if not candidates:
        raise InvalidInput("candidates: nothing to score")
    runs = {c.difference_run_id for c in candidates}
    run = ModelRun(
        model_id=model.id,
        observation_id=next(iter(observations)),
        difference_run_id=next(iter(runs)) if len(runs) == 1 else None,
        inference_time_ms=inference_time_ms,
        memory_usage_mb=memory_usage_mb,
        total_predictions=len(candidates),
        high_confidence_predictions=int(np.sum(s >= high_confidence)),
        status=RunStatus.COMPLETED,
    )
    session.add(run)
    session.flush()
    per_ms = None if inference_time_ms is None else inference_time_ms / max(1, len(candidates))
    rows = []
    for c, score in zip(candidates, s.tolist(), strict=True):
        rows.append(
            {
                "id": uuid.uuid4(),
                "model_run_id": run.id,
                "observation_id": c.observation_id,
                "candidate_id": c.id,
                "ra": c.ra,
                "dec": c.dec,
                "healpix": c.healpix,
                "pixel_x": c.pixel_x,
                "pixel_y": c.pixel_y,
                "confidence_score": score,
                "detection_type": detection_type_for(score, real_threshold=real_threshold),
                "model_version": f"{model.name}:{model.version}",
                "inference_time_ms": per_ms,
                "prediction_metadata": {"snr": c.snr, "sign": c.sign},
                "status": DetectionStatus.PENDING,
                "is_validated": False,
            }
        )
        c.rb_score = score
        if c.status == CandidateStatus.PENDING:
            c.status = CandidateStatus.SCORED
    for k in range(0, len(rows), _INSERT_CHUNK):
        session.execute(insert(Detection), rows[k : k + _INSERT_CHUNK])
    session.flush()
    audit(
        session,
        actor,
        "model_run",
        run.id,
        "create",
        new={"model_id": model.id, "total": len(rows), "high": run.high_confidence_predictions},
    )
    return run


def get_model_run(session: Session, run_id: uuid.UUID | str) -> ModelRun:
    r = session.get(ModelRun, as_uuid(run_id, "model_run_id"))
    if r is None:
        raise NotFoundError(f"model_run_id: no model run {run_id}")
    return r


def get_detection(session: Session, detection_id: uuid.UUID | str) -> Detection:
    d = session.get(Detection, as_uuid(detection_id, "detection_id"))
    if d is None:
        raise NotFoundError(f"detection_id: no detection {detection_id}")
    return d


def detections_of_run(session: Session, run: ModelRun) -> Sequence[Detection]:
    return list(
        session.scalars(
            select(Detection)
            .where(Detection.model_run_id == run.id)
            .order_by(Detection.confidence_score.desc(), Detection.id)
        )
    )


def latest_detection(session: Session, candidate: Candidate) -> Detection | None:
    return session.scalar(
        select(Detection)
        .where(Detection.candidate_id == candidate.id)
        .order_by(Detection.created_at.desc(), Detection.id)
        .limit(1)
    )
