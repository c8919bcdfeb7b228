"""Test helper: ECEF position vectors of geodetic points given in degrees."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from argus import geo


def ecef(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, alt_m: npt.ArrayLike) -> np.ndarray:
    """``(..., 3)`` ECEF positions (m): :func:`argus.geo.geodetic_to_ecef` stacked."""
    return np.stack(np.broadcast_arrays(*geo.geodetic_to_ecef(lat_deg, lon_deg, alt_m)), axis=-1)
