"""Sky queries: cone search over candidates or detections, the light curve of a position."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service.errors import InvalidInput
from argus.astro.service.sky import angular_distance_deg, check_cone, cone_ranges, healpix_filter
from argus.db.models.astro import Candidate, Detection, Observation

Target = Literal["candidates", "detections"]
#: Most rows a cone search returns (nearest first).
MAX_CONE_ROWS = 10_000
#: Most rows the HEALPix ranges of one cone may hold before the exact filter: a wider question
#: is refused (422 naming the radius) rather than answered from a truncated superset.
MAX_SCANNED_ROWS = 200_000


def _too_many(radius_arcsec: float) -> InvalidInput:
    return InvalidInput(
        f"radius_arcsec: the cone of {radius_arcsec:g} arcsec covers more than "
        f"{MAX_SCANNED_ROWS} stored rows; search a smaller radius"
    )


@dataclass(frozen=True)
class ConeMatch:
    row: Any
    separation_arcsec: float


def cone_search(
    session: Session,
    ra: float,
    dec: float,
    radius_arcsec: float,
    *,
    target: Target = "candidates",
    limit: int = 1000,
    before: dt.datetime | None = None,
) -> list[ConeMatch]:
    """Rows within ``radius_arcsec`` of (ra, dec), nearest first (``sky`` explains the method).

    ``before``: only rows of observations taken before that time (the novelty test)."""
    check_cone(ra, dec, radius_arcsec)
    model: Any = Candidate if target == "candidates" else Detection
    radius_deg = radius_arcsec / 3600.0
    q = select(model).where(healpix_filter(model.healpix, cone_ranges(ra, dec, radius_deg)))
    if before is not None:
        q = q.join(Observation, Observation.id == model.observation_id).where(
            Observation.observation_time < before
        )
    rows = list(session.scalars(q.limit(MAX_SCANNED_ROWS + 1)))
    if len(rows) > MAX_SCANNED_ROWS:
        raise _too_many(radius_arcsec)
    if not rows:
        return []
    sep = angular_distance_deg(
        ra, dec, np.array([r.ra for r in rows]), np.array([r.dec for r in rows])
    )
    keep = np.flatnonzero(sep <= radius_deg)
    order = keep[np.lexsort((np.array([str(rows[i].id) for i in keep]), sep[keep]))]
    return [ConeMatch(rows[i], float(sep[i]) * 3600.0) for i in order[: min(limit, MAX_CONE_ROWS)]]


@dataclass(frozen=True)
class LightCurvePoint:
    observation_id: uuid.UUID
    candidate_id: uuid.UUID
    observation_time: dt.datetime
    mjd: float
    filter_band: str | None
    flux: float
    flux_error: float | None
    #: Instrumental magnitude -2.5 log10(flux) (None for a fading, negative-flux difference).
    mag: float | None
    mag_error: float | None
    snr: float | None
    sign: int
    separation_arcsec: float


_MJD_EPOCH = dt.datetime(1858, 11, 17, tzinfo=dt.UTC)


def light_curve(
    session: Session, ra: float, dec: float, *, radius_arcsec: float = 1.5
) -> list[LightCurvePoint]:
    """The candidates at a sky position across observations, in time order: one point per
    observation (the nearest candidate of that observation within the radius)."""
    check_cone(ra, dec, radius_arcsec)
    radius_deg = radius_arcsec / 3600.0
    q = (
        select(Candidate, Observation)
        .join(Observation, Observation.id == Candidate.observation_id)
        .where(healpix_filter(Candidate.healpix, cone_ranges(ra, dec, radius_deg)))
    )
    best: dict[uuid.UUID, tuple[float, Candidate, Observation]] = {}
    pairs = list(session.execute(q.limit(MAX_SCANNED_ROWS + 1)))
    if len(pairs) > MAX_SCANNED_ROWS:
        raise _too_many(radius_arcsec)
    if not pairs:
        return []
    sep = angular_distance_deg(
        ra, dec, np.array([c.ra for c, _ in pairs]), np.array([c.dec for c, _ in pairs])
    )
    for (c, o), s in zip(pairs, sep.tolist(), strict=True):
        if s > radius_deg:
            continue
        if o.id not in best or s < best[o.id][0]:
            best[o.id] = (s, c, o)
    points = []
    for s, c, o in sorted(best.values(), key=lambda t: (t[2].observation_time, str(t[2].id))):
        mag = mag_err = None
        if c.flux > 0:
            mag = -2.5 * math.log10(c.flux)
            if c.flux_error is not None:
                mag_err = 2.5 / math.log(10) * c.flux_error / c.flux
        points.append(
            LightCurvePoint(
                observation_id=o.id,
                candidate_id=c.id,
                observation_time=o.observation_time,
                mjd=(o.observation_time - _MJD_EPOCH).total_seconds() / 86400.0,
                filter_band=o.filter_band,
                flux=c.flux,
                flux_error=c.flux_error,
                mag=mag,
                mag_error=mag_err,
                snr=c.snr,
                sign=c.sign,
                separation_arcsec=s * 3600.0,
            )
        )
    return points
