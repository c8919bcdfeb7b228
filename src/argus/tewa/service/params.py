"""Model params of a scenario: read, change, doctrine presets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from argus.db.models import ModelParams, Scenario
from argus.tewa import presets, scoring
from argus.tewa.service.errors import InvalidInput


def get_model_params(session: Session, scenario: Scenario) -> ModelParams:
    params = session.scalar(select(ModelParams).where(ModelParams.scenario_id == scenario.id))
    if params is None:  # only possible if someone deleted the row by hand
        session.execute(insert(ModelParams).values(scenario_id=scenario.id))
        params = session.scalar(select(ModelParams).where(ModelParams.scenario_id == scenario.id))
    assert params is not None
    return params


def engine_params(session: Session, scenario: Scenario) -> scoring.ThreatModelParams:
    """The scenario's stored model params as the engine's parameter object."""
    return scoring.coerce_params(get_model_params(session, scenario))


def params_use_quality(session: Session, scenario: Scenario) -> bool:
    return bool(get_model_params(session, scenario).use_track_quality)


PARAM_FIELDS = (
    "w_cpa",
    "w_tcpa",
    "w_tdb",
    "w_twrp",
    "cpa_scale_km",
    "tcpa_scale_s",
    "tdb_scale_km",
    "twrp_scale_s",
    "clamp_0_1",
    "weapon_range_km",
    "cpa_logistic",
    "tcpa_logistic",
    "tdb_logistic",
    "twrp_logistic",
    "use_track_quality",
)


#: ``scenario.doctrine`` once the params match no preset (a weight or scale changed by hand).
CUSTOM_DOCTRINE = "custom"


def params_as_dict(p: ModelParams) -> dict[str, Any]:
    return {name: getattr(p, name) for name in PARAM_FIELDS}


def matching_preset(params: Any, *, prefer: str | None = None) -> str | None:
    """The doctrine preset whose weights, scales, clamp, weapon range and ramps all equal ``params``.

    ``use_track_quality`` is not part of a preset and is ignored. ``prefer`` (the scenario's
    current doctrine) is tried first; None when no preset matches.
    """
    current = scoring.coerce_params(params).as_dict()
    names = [n for n in presets.PRESET_NAMES if n == prefer]
    names += [n for n in presets.PRESET_NAMES if n != prefer]
    for name in names:
        if scoring.params_from_preset(name).as_dict() == current:
            return name
    return None


def set_params(session: Session, scenario: Scenario, **changes: Any) -> ModelParams:
    """Change some model params; the whole result is validated (the message names the field).

    ``scenario.doctrine`` follows the result: the matching preset's name, or ``"custom"`` once
    the params differ from every preset (see :func:`matching_preset`).
    """
    unknown = set(changes) - set(PARAM_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s): {', '.join(sorted(unknown))}; known: {', '.join(PARAM_FIELDS)}"
        )
    row = get_model_params(session, scenario)
    merged = {**params_as_dict(row), **changes}
    engine_fields = {k: v for k, v in merged.items() if k != "use_track_quality"}
    try:
        checked = scoring.coerce_params(engine_fields)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    for name in PARAM_FIELDS:
        if name == "use_track_quality":
            row.use_track_quality = bool(merged[name])
        elif name.endswith("_logistic"):
            ramp = getattr(checked, name)
            setattr(
                row,
                name,
                None if ramp is None else {"midpoint": ramp.midpoint, "width": ramp.width},
            )
        else:
            setattr(row, name, getattr(checked, name))
    # Keep the doctrine name truthful: a preset's name while the params still equal it, else
    # "custom" (setting the values back to a preset's restores its name).
    scenario.doctrine = matching_preset(checked, prefer=scenario.doctrine) or CUSTOM_DOCTRINE
    session.flush()
    return row


def apply_preset(session: Session, scenario: Scenario, preset: str) -> ModelParams:
    """Set the scenario's params to a doctrine preset (argus.tewa.presets) and remember its name."""
    if preset not in presets.DOCTRINE_PRESETS:
        raise InvalidInput(
            f"preset: unknown {preset!r}; known: {', '.join(presets.DOCTRINE_PRESETS)}"
        )
    p = scoring.params_from_preset(preset)
    row = set_params(
        session, scenario, **{k: v for k, v in p.as_dict().items() if k in PARAM_FIELDS}
    )
    scenario.doctrine = preset
    session.flush()
    return row
