"""Doctrine presets: named weight/scale profiles for the threat score, as plain data.

A preset is a partial mapping of model parameters; whatever it leaves out comes from
``argus.defaults.DEFAULT_MODEL_PARAMS`` when it is coerced
(:func:`argus.tewa.scoring.params_from_preset`). The numbers are starting points chosen
from the geometry each mission implies, not validated doctrine: calibrate them against
scenario data and operator judgement before relying on them.

Recall the normalization ``n(x) = 1 / (1 + x/scale)``: a component is "half urgent" when it
equals its scale, so a scale is the distance or time at which that component should start
to dominate attention.

``default``
    Exactly ``DEFAULT_MODEL_PARAMS``: balanced weights (CPA 0.35, TCPA 0.25, TDB 0.25,
    TWRP 0.15) and scales for a medium-range defence (10 km, 5 min, 25 km, 3 min, 20 km
    weapon range).

``point-defense``
    A small site (a ship, a command post, an airbase's runway) defended by short-range
    guns or missiles. What matters is whether the track will actually pass close and how
    soon: CPA and TCPA carry most of the weight, all scales are short (2 km CPA, 60 s TCPA,
    5 km to the boundary, 30 s to weapon release) and the weapon reaches 8 km. A track
    passing 15 km away scores low even if it is fast.

``area-defense``
    A long-range surface-to-air system covering a region. Engagement opportunity drives
    the decision, so TWRP weighs as much as CPA; scales are long (30 km CPA, 10 min TCPA,
    80 km TDB, 5 min TWRP) with a 100 km weapon range, which keeps distant raids ranked
    instead of all scoring near zero.

``ballistic``
    Fast, high-altitude threats whose predicted impact point matters more than their
    current distance. Time dominates: TCPA and TWRP weigh most, with short time scales
    (120 s TCPA, 60 s TWRP), a tight CPA scale (5 km: is the asset inside the predicted
    footprint?) and a long TDB scale (200 km) because distance says little at these speeds;
    40 km engagement range. The engine's straight-line kinematics ignore the trajectory's
    curvature, so for ballistic threats feed it the predicted ground track.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from argus.defaults import DEFAULT_MODEL_PARAMS

PresetValue = float | bool

DOCTRINE_PRESETS: Final[Mapping[str, Mapping[str, PresetValue]]] = MappingProxyType(
    {
        "default": MappingProxyType(dict(DEFAULT_MODEL_PARAMS)),
        "point-defense": MappingProxyType(
            {
                "w_cpa": 0.40,
                "w_tcpa": 0.35,
                "w_tdb": 0.10,
                "w_twrp": 0.15,
                "cpa_scale_km": 2.0,
                "tcpa_scale_s": 60.0,
                "tdb_scale_km": 5.0,
                "twrp_scale_s": 30.0,
                "weapon_range_km": 8.0,
            }
        ),
        "area-defense": MappingProxyType(
            {
                "w_cpa": 0.30,
                "w_tcpa": 0.20,
                "w_tdb": 0.20,
                "w_twrp": 0.30,
                "cpa_scale_km": 30.0,
                "tcpa_scale_s": 600.0,
                "tdb_scale_km": 80.0,
                "twrp_scale_s": 300.0,
                "weapon_range_km": 100.0,
            }
        ),
        "ballistic": MappingProxyType(
            {
                "w_cpa": 0.20,
                "w_tcpa": 0.40,
                "w_tdb": 0.05,
                "w_twrp": 0.35,
                "cpa_scale_km": 5.0,
                "tcpa_scale_s": 120.0,
                "tdb_scale_km": 200.0,
                "twrp_scale_s": 60.0,
                "weapon_range_km": 40.0,
            }
        ),
    }
)

#: Preset names, in a stable order for CLIs and documentation.
PRESET_NAMES: Final = tuple(DOCTRINE_PRESETS)
