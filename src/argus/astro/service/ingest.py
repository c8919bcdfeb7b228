"""Ingest of FITS files (paths, a folder, or uploaded bytes) into observations.

Header keywords → Observation fields (the first keyword found wins; the image HDU's header is
searched first, then the primary header):

=================  ==================================================  ======================
field              keywords                                            when none is found
=================  ==================================================  ======================
observation_id     OBSID, OBS_ID, OBS-ID, EXPID, EXPNUM, FRAMEID       the file name's stem
observation_time   DATE-OBS (ISO 8601; a date alone + TIME-OBS / UT /  rejected
                   UTC-OBS), else MJD-OBS, else DATE-BEG, else MJD
exposure_time (s)  EXPTIME, EXPOSURE, ITIME, EXP_TIME                  rejected (must be > 0)
filter_band        FILTER, FILTER1, FILTNAM, BAND                      NULL
airmass            AIRMASS, SECZ                                       NULL (must be > 0)
seeing (arcsec)    SEEING, FWHM, PSF_FWHM                              NULL (must be > 0)
pixel_scale        PIXSCALE, SECPIX, PIXSCAL1, else the WCS's mean     NULL (must be > 0)
(arcsec/pixel)     pixel scale
ra, dec (deg)      the celestial WCS at the image centre               RA/DEC (or OBJRA/OBJDEC)
                   ((nx - 1) / 2, (ny - 1) / 2)                        keywords, degrees or
                                                                       sexagesimal; else rejected
survey             the ``survey`` argument, else SURVEY, else TELESCOP rejected
=================  ==================================================  ======================

``healpix`` is computed from ra/dec (``sky.healpix_ids``). The file itself goes to the object
store under ``astro/observations/<observation uuid>.fits`` with its size and sha512 on the row.

A batch is validated whole first: every bad file (unreadable, no image, a missing or invalid
keyword, a duplicate of a stored or batch observation) is listed with its file name and keyword
in one :class:`RejectedBatch`, and nothing is stored — unless ``partial=True``, which stores
the good files and reports the bad ones.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import uuid
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, audit, jsonable
from argus.astro.service.errors import InvalidInput, RejectedBatch, RowError
from argus.astro.service.sky import healpix_id
from argus.astro.service.surveys import get_or_create_survey
from argus.db.models.astro import Observation, ObservationStatus, Survey
from argus.db.objectstore import ObjectStore
from argus.logs import get_logger

log = get_logger("argus.astro")

ID_KEYS = ("OBSID", "OBS_ID", "OBS-ID", "EXPID", "EXPNUM", "FRAMEID")
EXPTIME_KEYS = ("EXPTIME", "EXPOSURE", "ITIME", "EXP_TIME")
FILTER_KEYS = ("FILTER", "FILTER1", "FILTNAM", "BAND")
AIRMASS_KEYS = ("AIRMASS", "SECZ")
SEEING_KEYS = ("SEEING", "FWHM", "PSF_FWHM")
PIXSCALE_KEYS = ("PIXSCALE", "SECPIX", "PIXSCAL1")
RA_KEYS = ("RA", "OBJRA", "RA_OBJ", "CRVAL1")
DEC_KEYS = ("DEC", "OBJDEC", "DEC_OBJ", "CRVAL2")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fz")


@dataclass(frozen=True)
class ParsedFits:
    """What a FITS file's headers say, mapped to Observation fields."""

    name: str
    fields: dict[str, Any]
    header: dict[str, Any]


@dataclass
class IngestReport:
    stored: list[Observation] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": len(self.stored),
            "observation_ids": [str(o.id) for o in self.stored],
            "errors": [
                {"file": e.where, "field": e.field, "reason": e.reason} for e in self.errors
            ],
        }


class _Bad(Exception):
    def __init__(self, keyword: str, reason: str) -> None:
        super().__init__(f"{keyword}: {reason}")
        self.keyword, self.reason = keyword, reason


def _lookup(headers: Sequence[Any], keys: Sequence[str]) -> tuple[str, Any] | None:
    for h in headers:
        for k in keys:
            if k in h and h[k] is not None and str(h[k]).strip() != "":
                return k, h[k]
    return None


def _number(
    headers: Sequence[Any], keys: Sequence[str], *, required: bool, positive: bool = True
) -> float | None:
    found = _lookup(headers, keys)
    if found is None:
        if required:
            raise _Bad(keys[0], f"missing (looked for {', '.join(keys)})")
        return None
    k, v = found
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise _Bad(k, f"not a number ({str(v)[:40]!r})") from None
    if not math.isfinite(x) or (positive and x <= 0):
        raise _Bad(k, f"must be a finite number > 0, got {x}")
    return x


def _time(headers: Sequence[Any]) -> Any:
    from astropy.time import Time  # type: ignore[import-untyped]

    found = _lookup(headers, ("DATE-OBS",))
    if found is not None:
        text = str(found[1]).strip()
        if "T" not in text and len(text) <= 10:
            extra = _lookup(headers, ("TIME-OBS", "UT", "UTC-OBS", "UTSTART"))
            if extra is not None:
                text = f"{text}T{str(extra[1]).strip()}"
        try:
            return Time(text, format="isot" if "T" in text else "iso", scale="utc")
        except ValueError:
            try:
                return Time(text, scale="utc")
            except ValueError:
                raise _Bad("DATE-OBS", f"not an ISO 8601 time ({text[:40]!r})") from None
    for key in ("MJD-OBS", "DATE-BEG", "MJD"):
        found = _lookup(headers, (key,))
        if found is None:
            continue
        try:
            if key == "DATE-BEG":
                return Time(str(found[1]).strip(), scale="utc")
            mjd = float(found[1])
            if not math.isfinite(mjd):
                raise ValueError
            return Time(mjd, format="mjd", scale="utc")
        except (TypeError, ValueError):
            raise _Bad(key, f"not a time ({str(found[1])[:40]!r})") from None
    raise _Bad("DATE-OBS", "missing (looked for DATE-OBS, MJD-OBS, DATE-BEG, MJD)")


def _angle(value: Any, *, hours: bool, key: str) -> float:
    from astropy.coordinates import Angle  # type: ignore[import-untyped]

    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        unit = "hourangle" if hours else "deg"
        return float(Angle(str(value).strip(), unit=unit).deg)
    except Exception:
        raise _Bad(key, f"not an angle ({str(value)[:40]!r})") from None


def _centre(headers: Sequence[Any], shape: tuple[int, ...]) -> tuple[float, float, float | None]:
    """(ra, dec, pixel scale in arcsec or None) of the image centre."""
    from astropy.wcs import WCS, FITSFixedWarning  # type: ignore[import-untyped]

    wcs = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            w = WCS(headers[0], naxis=2)
            if w.has_celestial:
                wcs = w.celestial
        except Exception:
            wcs = None
    if wcs is not None:
        ny, nx = shape[-2], shape[-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ra, dec = wcs.all_pix2world([[(nx - 1) / 2, (ny - 1) / 2]], 0)[0]
            try:
                from astropy.wcs.utils import proj_plane_pixel_scales  # type: ignore[import-untyped]

                scale = float(np.mean(proj_plane_pixel_scales(wcs))) * 3600
            except Exception:
                scale = None
        if not (math.isfinite(ra) and math.isfinite(dec)):
            raise _Bad("CTYPE1", "the WCS gives no finite sky position at the image centre")
        return float(ra) % 360.0, float(dec), scale if scale and math.isfinite(scale) else None
    ra_found = _lookup(headers, RA_KEYS[:3])
    dec_found = _lookup(headers, DEC_KEYS[:3])
    if ra_found is None or dec_found is None:
        raise _Bad("CTYPE1", "no celestial WCS and no RA/DEC keywords")
    ra_text = str(ra_found[1])
    ra = _angle(ra_found[1], hours=":" in ra_text or " " in ra_text.strip(), key=ra_found[0])
    dec = _angle(dec_found[1], hours=False, key=dec_found[0])
    if not (math.isfinite(ra) and 0 <= ra % 360 < 360):
        raise _Bad(ra_found[0], f"not a right ascension ({ra_text[:40]!r})")
    if not (math.isfinite(dec) and -90 <= dec <= 90):
        raise _Bad(dec_found[0], f"declination {dec} outside [-90, 90]")
    return ra % 360.0, dec, None


def _header_json(h: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for card in h.cards:
        k = card.keyword
        if not k or k in ("COMMENT", "HISTORY") or k in out:
            continue
        v = card.value
        if isinstance(v, bool | int | float | str):
            out[k] = jsonable(v)
    return out


def parse_fits(name: str, fh: IO[bytes] | str | Path, *, survey: str | None = None) -> ParsedFits:
    """Read one FITS file's headers into Observation fields; ``_Bad`` names the keyword."""
    from astropy.io import fits  # type: ignore[import-untyped]

    try:
        with fits.open(fh, memmap=False, lazy_load_hdus=False) as hdul:
            image = next(
                (h for h in hdul if getattr(h, "data", None) is not None and h.data.ndim >= 2),
                None,
            )
            if image is None:
                raise _Bad("NAXIS", "no image HDU (2-D data) in the file")
            shape = tuple(int(n) for n in image.data.shape)
            headers = [image.header] if image is hdul[0] else [image.header, hdul[0].header]
            merged = _header_json(hdul[0].header) | _header_json(image.header)
            t = _time(headers)
            exptime = _number(headers, EXPTIME_KEYS, required=True)
            airmass = _number(headers, AIRMASS_KEYS, required=False)
            seeing = _number(headers, SEEING_KEYS, required=False)
            pixscale = _number(headers, PIXSCALE_KEYS, required=False)
            ra, dec, wcs_scale = _centre(headers, shape)
            found_id = _lookup(headers, ID_KEYS)
            filt = _lookup(headers, FILTER_KEYS)
            survey_name = survey
            if survey_name is None:
                s = _lookup(headers, ("SURVEY", "TELESCOP"))
                if s is None:
                    raise _Bad("SURVEY", "no survey given and no SURVEY or TELESCOP keyword")
                survey_name = str(s[1]).strip()
    except _Bad:
        raise
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise _Bad("SIMPLE", f"not a readable FITS file ({type(exc).__name__}: {exc})") from None
    stem = Path(name).name
    for suffix in FITS_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    fields = {
        "survey": survey_name,
        "observation_id": str(found_id[1]).strip()[:200] if found_id else stem[:200],
        "observation_time": t.to_datetime(timezone=dt.UTC),
        "exposure_time": exptime,
        "filter_band": str(filt[1]).strip()[:40] if filt else None,
        "airmass": airmass,
        "seeing": seeing,
        "pixel_scale": pixscale if pixscale is not None else wcs_scale,
        "ra": ra,
        "dec": dec,
        "image_height": shape[-2],
        "image_width": shape[-1],
    }
    return ParsedFits(name, fields, merged)


def fits_files_in(folder: str | Path) -> list[Path]:
    """The FITS files of a folder (not recursive), by name."""
    p = Path(folder)
    if not p.is_dir():
        raise InvalidInput(f"folder: {folder} is not a folder")
    return sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(FITS_SUFFIXES))


def ingest_fits(
    session: Session,
    store: ObjectStore,
    files: Iterable[str | Path | tuple[str, bytes]],
    *,
    survey: str | None = None,
    partial: bool = False,
    actor: Actor | None = None,
) -> IngestReport:
    """Register observations from FITS files: paths, or ``(file name, bytes)`` pairs.

    Every file is read and checked before anything is stored; see the module docstring for the
    keyword mapping and the all-or-nothing rule. Objects written to the store for a batch that
    then fails in the database are removed again.
    """
    items = list(files)
    if not items:
        raise InvalidInput("files: no FITS file given")
    parsed: list[tuple[ParsedFits, str | Path | bytes]] = []
    report = IngestReport()
    seen: dict[tuple[str, str], str] = {}
    surveys: dict[str, Survey | None] = {}
    for item in items:
        if isinstance(item, tuple):
            name, data = item
            source: str | Path | bytes = data
            fh: Any = io.BytesIO(data)
        else:
            name, source, fh = str(item), item, str(item)
        try:
            p = parse_fits(name, fh, survey=survey)
        except _Bad as bad:
            report.errors.append(RowError(name, bad.keyword, bad.reason))
            continue
        key = (p.fields["survey"], p.fields["observation_id"])
        if key in seen:
            report.errors.append(
                RowError(name, "observation_id", f"{key[1]!r} is also in {seen[key]}")
            )
            continue
        if key[0] not in surveys:
            surveys[key[0]] = session.scalar(select(Survey).where(Survey.name == key[0]))
        s = surveys[key[0]]
        if s is not None and session.scalar(
            select(Observation.id).where(
                Observation.survey_id == s.id, Observation.observation_id == key[1]
            )
        ):
            report.errors.append(
                RowError(name, "observation_id", f"{key[1]!r} is already stored in {key[0]!r}")
            )
            continue
        seen[key] = name
        parsed.append((p, source))
    if report.errors and not partial:
        log.info("fits_batch_rejected", files=len(items), errors=len(report.errors))
        raise RejectedBatch("FITS batch", report.errors)

    written: list[str] = []
    try:
        with session.begin_nested():
            for p, source in parsed:
                f = dict(p.fields)
                s_name = f.pop("survey")
                s = surveys.get(s_name) or get_or_create_survey(session, s_name, actor=actor)
                surveys[s_name] = s
                obs = Observation(survey_id=s.id, **f, healpix=healpix_id(f["ra"], f["dec"]))
                obs.id = uuid.uuid4()
                obj_key = f"astro/observations/{obs.id}.fits"
                stored = (
                    store.put_bytes(obj_key, source)
                    if isinstance(source, bytes)
                    else store.put_file(obj_key, source)
                )
                written.append(obj_key)
                obs.fits_key, obs.fits_url = obj_key, stored.url
                obs.fits_sha512, obs.fits_size_bytes = stored.sha512, stored.size_bytes
                obs.header = p.header
                obs.status = ObservationStatus.INGESTED
                session.add(obs)
                report.stored.append(obs)
            session.flush()
            for obs in report.stored:
                audit(
                    session,
                    actor,
                    "observation",
                    obs.id,
                    "ingest",
                    new={
                        "observation_id": obs.observation_id,
                        "fits_key": obs.fits_key,
                        "sha512": obs.fits_sha512,
                    },
                )
            session.flush()
    except BaseException:
        store.delete_many(written)
        raise
    log.info(
        "observations_ingested",
        stage="ingest",
        stored=len(report.stored),
        skipped=len(report.errors),
        observation_ids=[str(o.id) for o in report.stored][:20],
    )
    return report


def ingest_folder(
    session: Session,
    store: ObjectStore,
    folder: str | Path,
    *,
    survey: str | None = None,
    partial: bool = False,
    actor: Actor | None = None,
) -> IngestReport:
    files = fits_files_in(folder)
    if not files:
        raise InvalidInput(f"folder: no FITS file ({', '.join(FITS_SUFFIXES)}) in {folder}")
    return ingest_fits(session, store, files, survey=survey, partial=partial, actor=actor)


def read_observation_image(store: ObjectStore, observation: Observation) -> tuple[Any, Any]:
    """(data as float64, header) of an observation's stored FITS image."""
    from astropy.io import fits

    if not observation.fits_key:
        raise InvalidInput(f"observation_id: observation {observation.id} has no stored file")
    with store.open(observation.fits_key) as fh, fits.open(io.BytesIO(fh.read())) as hdul:
        image = next(h for h in hdul if getattr(h, "data", None) is not None and h.data.ndim >= 2)
        return np.asarray(image.data, dtype=float), image.header.copy()
