"""The HEALPix sky index and the cone search on it (both databases, no extension needed).

Every stored position carries ``healpix``: its pixel id at order :data:`HEALPIX_ORDER` (nside
2**29) in the *nested* scheme of HEALPix (Górski et al. 2005, ApJ 622, 759). In that scheme a
pixel of order ``k`` holds exactly the order-29 pixels with ids in
``[p * 4**(29-k), (p + 1) * 4**(29-k) - 1]``: a contiguous range. A cone search therefore

1. picks a coarse order ``k`` whose pixels are about as large as the cone (finest ``k`` whose
   resolution is still >= the radius), so the cone overlaps a handful of pixels;
2. lists those pixels with astropy-healpix's ``cone_search_lonlat`` (every pixel that
   overlaps the cone, even partially), with a margin for rounding;
3. turns each pixel into its order-29 id range, merges adjacent ranges, and asks the database
   for the rows with ``healpix BETWEEN :lo AND :hi`` (bound parameters, one B-tree range scan
   each) — the same SQL on SQLite and PostgreSQL;
4. keeps the rows whose exact angular distance (haversine, in numpy) is within the radius.

Step 3 is a superset of the cone and step 4 is exact, so the answer is the brute-force answer,
at the poles and across RA = 0/360 as anywhere (tests/astro/test_cone_search.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import astropy.units as u  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from astropy_healpix import HEALPix, lonlat_to_healpix
from sqlalchemy import ColumnElement, and_, or_

from argus.astro.service.errors import InvalidInput
from argus.db.models.astro import HEALPIX_ORDER

NSIDE = 2**HEALPIX_ORDER
#: Largest cone radius the index answers (degrees); wider questions are a survey query.
MAX_RADIUS_DEG = 10.0
#: Extra radius, as a fraction of the coarse pixel size, when listing the overlapping pixels.
_MARGIN = 0.05


def healpix_ids(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Order-29 nested HEALPix ids of positions (degrees), vectorized."""
    ra = np.asarray(ra_deg, dtype=float)
    dec = np.asarray(dec_deg, dtype=float)
    ids = lonlat_to_healpix(ra * u.deg, dec * u.deg, NSIDE, order="nested")
    return np.asarray(ids, dtype=np.int64)


def healpix_id(ra_deg: float, dec_deg: float) -> int:
    return int(healpix_ids(np.array([ra_deg]), np.array([dec_deg]))[0])


def angular_distance_deg(
    ra1: npt.ArrayLike, dec1: npt.ArrayLike, ra2: npt.ArrayLike, dec2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Great-circle distance in degrees (haversine: accurate at arcsecond separations)."""
    r1, d1, r2, d2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    s = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.asarray(np.degrees(2 * np.arcsin(np.sqrt(np.clip(s, 0.0, 1.0)))), dtype=float)


def coarse_order(radius_deg: float) -> int:
    """The finest order whose pixel size (sqrt of the pixel area) is still >= ``radius_deg``."""
    # resolution(k) = sqrt(4 pi / (12 * 4**k)) rad = sqrt(pi / 3) / 2**k rad
    res0 = math.degrees(math.sqrt(math.pi / 3))
    if not radius_deg > 0 or res0 / radius_deg >= 2.0**HEALPIX_ORDER:  # finer than order 29
        return HEALPIX_ORDER
    k = math.floor(math.log2(res0 / radius_deg))
    return max(0, min(HEALPIX_ORDER, k))


def check_cone(ra_deg: float, dec_deg: float, radius_arcsec: float) -> None:
    """InvalidInput naming the field unless the cone is on the sky and not too wide."""
    if not (math.isfinite(ra_deg) and 0 <= ra_deg < 360):
        raise InvalidInput(f"ra: {ra_deg} is not in [0, 360) degrees")
    if not (math.isfinite(dec_deg) and -90 <= dec_deg <= 90):
        raise InvalidInput(f"dec: {dec_deg} is not in [-90, 90] degrees")
    if not (math.isfinite(radius_arcsec) and 0 < radius_arcsec <= MAX_RADIUS_DEG * 3600):
        raise InvalidInput(
            f"radius_arcsec: {radius_arcsec} is not in (0, {MAX_RADIUS_DEG * 3600:g}]"
        )


def cone_ranges(ra_deg: float, dec_deg: float, radius_deg: float) -> list[tuple[int, int]]:
    """Merged, inclusive order-29 id ranges that together cover the cone (a superset)."""
    k = coarse_order(radius_deg)
    hp = HEALPix(nside=2**k, order="nested")
    margin = _MARGIN * float(hp.pixel_resolution.to_value(u.deg))
    pixels = np.unique(
        np.asarray(
            hp.cone_search_lonlat(ra_deg * u.deg, dec_deg * u.deg, (radius_deg + margin) * u.deg),
            dtype=np.int64,
        )
    )
    shift = 2 * (HEALPIX_ORDER - k)  # 4**(29-k) children per coarse pixel
    ranges: list[tuple[int, int]] = []
    for p in pixels.tolist():
        lo, hi = p << shift, ((p + 1) << shift) - 1
        if ranges and ranges[-1][1] + 1 == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    return ranges


def healpix_filter(column: Any, ranges: Sequence[tuple[int, int]]) -> ColumnElement[bool]:
    """``column BETWEEN lo AND hi OR …`` with every bound a bound parameter."""
    return or_(*(and_(column >= lo, column <= hi) for lo, hi in ranges))
