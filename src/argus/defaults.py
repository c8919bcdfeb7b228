"""Defaults shared by the storage layer and the engines (foundation: imports nothing of Argus).

Threat-score model parameters: the database's server defaults and the engine's fallbacks
both come from ``DEFAULT_MODEL_PARAMS``.
"""

from __future__ import annotations

from typing import Final

#: Weights express doctrine (they need not sum to 1); scales set what "urgent" means for each
#: component: n(x) = 1 / (1 + x/scale) is 0.5 when x equals its scale.
DEFAULT_MODEL_PARAMS: Final[dict[str, float | bool]] = {
    "w_cpa": 0.35,
    "w_tcpa": 0.25,
    "w_tdb": 0.25,
    "w_twrp": 0.15,
    "cpa_scale_km": 10.0,
    "tcpa_scale_s": 300.0,
    "tdb_scale_km": 25.0,
    "twrp_scale_s": 180.0,
    "clamp_0_1": True,
    "weapon_range_km": 20.0,
}

WEIGHT_FIELDS: Final = ("w_cpa", "w_tcpa", "w_tdb", "w_twrp")
SCALE_FIELDS: Final = ("cpa_scale_km", "tcpa_scale_s", "tdb_scale_km", "twrp_scale_s")
