"""Preprocessing of stored observations (``argus.astro.preprocess``) and its PreprocessRun rows.

- Calibration frames come from files (``--bias/--dark/--flat``) or from the FITS files of a
  folder whose ``IMAGETYP`` (or ``OBSTYPE``/``FRAMETYP``) says bias, dark or flat
  (:func:`split_calibration_files`); they are median-combined into masters
  (:func:`calibration_frames`) and never ingested as observations.
- :func:`preprocess_observation` calibrates an observation, masks its cosmic rays, estimates its
  background, registers the reference onto it when one is given, writes the processed image to
  the object store under ``astro/preprocess/<observation id>/<uuid>.fits`` and records a PreprocessRun
  (``registration_quality`` = RMS of the matched stars' residuals after the fit, pixels;
  ``wcs_info`` = the fitted correction, the header-only RMS and the corrected reference WCS).
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor
from argus.astro.service.errors import InvalidInput
from argus.astro.service.ingest import fits_files_in, read_observation_image
from argus.astro.service.products import _fits_bytes, record_preprocess_run
from argus.db.models.astro import Observation, PreprocessRun, RunStatus
from argus.db.objectstore import ObjectStore
from argus.logs import get_logger

log = get_logger("argus.astro")

#: Header keywords naming the frame type, and the values meaning each calibration kind.
FRAME_TYPE_KEYS = ("IMAGETYP", "OBSTYPE", "FRAMETYP", "IMGTYPE")
FRAME_KINDS = {
    "bias": ("BIAS", "ZERO", "BIAS FRAME", "BIAS_FRAME"),
    "dark": ("DARK", "DARK FRAME", "DARK_FRAME", "DARKCURRENT"),
    "flat": ("FLAT", "FLAT FIELD", "FLATFIELD", "FLAT_FIELD", "SKYFLAT", "DOMEFLAT", "TWIFLAT",
             "SKY FLAT", "DOME FLAT"),
}  # fmt: skip


def _frame_kind(header: Any) -> str | None:
    for key in FRAME_TYPE_KEYS:
        if key in header and header[key] is not None:
            value = str(header[key]).strip().upper()
            for kind, names in FRAME_KINDS.items():
                if value in names:
                    return kind
            return None
    return None


def split_calibration_files(
    files: Iterable[str | Path],
) -> tuple[list[Path], dict[str, list[Path]]]:
    """(science files, {"bias": [...], "dark": [...], "flat": [...]}) by each file's frame-type
    keyword (primary header, then the first image HDU's)."""
    from astropy.io import fits  # type: ignore[import-untyped]

    science: list[Path] = []
    cal: dict[str, list[Path]] = {"bias": [], "dark": [], "flat": []}
    for f in files:
        p = Path(f)
        try:
            with fits.open(p, memmap=False) as hdul:
                kind = _frame_kind(hdul[0].header)
                if kind is None and len(hdul) > 1:
                    kind = _frame_kind(hdul[1].header)
        except OSError:
            kind = None  # unreadable: ingest reports it with the file name
        if kind is None:
            science.append(p)
        else:
            cal[kind].append(p)
    return science, cal


def split_calibration_folder(folder: str | Path) -> tuple[list[Path], dict[str, list[Path]]]:
    return split_calibration_files(fits_files_in(folder))


def _read_frames(kind: str, paths: Sequence[str | Path]) -> tuple[list[np.ndarray], list[float]]:
    from argus.astro.fitsio import read_image

    frames: list[np.ndarray] = []
    exptimes: list[float] = []
    for p in paths:
        try:
            data, header = read_image(p)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{kind}: {exc}") from None
        frames.append(np.asarray(data, dtype=np.float64))
        t = header.get("EXPTIME", header.get("EXPOSURE"))
        exptimes.append(float(t) if t is not None else float("nan"))
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise InvalidInput(f"{kind}: frames of different shapes {sorted(shapes)}")
    return frames, exptimes


@dataclass(frozen=True)
class CalibrationSet:
    """Master frames and where they came from (file names, for the run's record)."""

    frames: Any  # argus.astro.preprocess.CalibrationFrames
    sources: dict[str, list[str]]

    def describe(self) -> dict[str, Any]:
        return {**self.frames.describe(), "files": self.sources}


def calibration_frames(
    *,
    bias: Sequence[str | Path] = (),
    dark: Sequence[str | Path] = (),
    flat: Sequence[str | Path] = (),
) -> CalibrationSet | None:
    """Master bias, dark and flat from FITS files (median combines; the dark bias-subtracted,
    the flats bias- and dark-corrected and normalized). None when no file is given."""
    from argus.astro import preprocess as pre

    if not (bias or dark or flat):
        return None
    b = d = fl = None
    t_dark: float | None = None
    if bias:
        frames, _ = _read_frames("bias", bias)
        b = pre.master_bias(frames)
    if dark:
        frames, times = _read_frames("dark", dark)
        if not all(np.isfinite(times)) or len(set(times)) != 1 or not times[0] > 0:
            raise InvalidInput(
                f"dark: the dark frames need one common EXPTIME > 0 (got {sorted(set(times))})"
            )
        t_dark = times[0]
        d = pre.master_dark(frames, bias=b)
    if flat:
        frames, times = _read_frames("flat", flat)
        if d is not None and not all(np.isfinite(times)):
            raise InvalidInput("flat: every flat needs EXPTIME to subtract the dark")
        fl = pre.master_flat(frames, bias=b, dark=d, dark_exptime_s=t_dark, exptimes_s=times)
    sources = {
        "bias": [Path(p).name for p in bias],
        "dark": [Path(p).name for p in dark],
        "flat": [Path(p).name for p in flat],
    }
    return CalibrationSet(pre.CalibrationFrames(b, d, t_dark, fl), sources)


@dataclass
class Preprocessed:
    """What :func:`preprocess_observation` made: the row, the processed image and header (the
    difference step uses them), and the registration (None for a reference)."""

    run: PreprocessRun
    data: np.ndarray
    header: Any
    registration: Any = None


def preprocess_observation(
    session: Session,
    store: ObjectStore,
    observation: Observation,
    *,
    calibration: CalibrationSet | None = None,
    reference: Preprocessed | None = None,
    cosmic_rays: bool = True,
    retry_count: int = 0,
    actor: Actor | None = None,
) -> Preprocessed:
    """Calibrate, mask cosmic rays, estimate the background; with ``reference`` (the
    preprocessed reference) register it onto this observation. Stores the processed image and
    a completed PreprocessRun; the observation becomes ``preprocessed``."""
    from argus.astro import preprocess as pre

    t0 = time.perf_counter()
    raw, header = read_observation_image(store, observation)
    frames = calibration.frames if calibration is not None else None
    if frames is not None:
        for name in ("bias", "dark", "flat"):
            arr = getattr(frames, name)
            if arr is not None and arr.shape != raw.shape:
                raise InvalidInput(
                    f"{name}: master frame of shape {arr.shape} does not fit observation "
                    f"{observation.observation_id!r} of shape {raw.shape}"
                )
    try:
        out = pre.preprocess_image(raw, header, frames=frames, cosmic_rays=cosmic_rays)
    except pre.PreprocessError as exc:
        raise InvalidInput(f"observation {observation.observation_id!r}: {exc}") from None
    info: dict[str, Any] = {
        "cosmic_ray_pixels": out.meta["cosmic_ray_pixels"],
        "background_adu": out.meta["background_adu"],
        "background_rms_adu": out.meta["background_rms_adu"],
        "noise_model": out.meta["noise_model"],
        "calibration": calibration.describe() if calibration is not None else None,
    }
    registration = None
    if reference is not None:
        try:
            registration = pre.register_reference(
                out.data, out.header, reference.data, reference.header,
                new_mask=out.cosmic_ray_mask, resample=False,
            )  # fmt: skip
        except pre.PreprocessError as exc:
            raise InvalidInput(f"observation {observation.observation_id!r}: {exc}") from None
        info["reference_observation_id"] = str(reference.run.observation_id)
        info["registration"] = registration.as_dict()
        from astropy.wcs import WCS  # type: ignore[import-untyped]

        w = WCS(registration.ref_header).celestial
        info["reference_wcs"] = {k: v for k, v in w.to_header(relax=True).items()}
        if not registration.refined:
            log.warning(
                "registration_not_refined",
                stage="preprocess",
                observation_id=str(observation.id),
                reason=registration.reason,
            )
    key = f"astro/preprocess/{observation.id}/{uuid.uuid4().hex}.fits"
    obj = store.put_bytes(key, _fits_bytes(out.data, out.header))
    info["product"] = {"key": key, "sha512": obj.sha512, "size_bytes": obj.size_bytes}
    quality = None
    if registration is not None:
        quality = registration.rms_px if registration.refined else registration.rms_wcs_px
    try:
        run = record_preprocess_run(
            session, observation, status=RunStatus.COMPLETED,
            calibration_applied=out.calibration_applied,
            wcs_aligned=bool(registration is not None and registration.refined),
            registration_quality=quality, processed_fits_path=obj.url, wcs_info=info,
            processing_time_seconds=time.perf_counter() - t0, retry_count=retry_count,
            actor=actor,
        )  # fmt: skip
    except BaseException:
        store.delete_many([key])
        raise
    log.info(
        "observation_preprocessed",
        stage="preprocess",
        observation_id=str(observation.id),
        preprocess_run_id=str(run.id),
        registration_quality=quality,
        cosmic_ray_pixels=info["cosmic_ray_pixels"],
    )
    return Preprocessed(run=run, data=out.data, header=out.header, registration=registration)


def processed_image(store: ObjectStore, run: PreprocessRun) -> tuple[np.ndarray, Any]:
    """(data, header) of a run's stored processed image."""
    from astropy.io import fits

    key = (run.wcs_info or {}).get("product", {}).get("key")
    if not key:
        raise InvalidInput(f"preprocess_run_id: run {run.id} has no stored image")
    with store.open(key) as fh, fits.open(io.BytesIO(fh.read())) as hdul:
        return np.asarray(hdul[0].data, dtype=float), hdul[0].header.copy()
