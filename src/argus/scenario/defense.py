"""Defense scenario files: the ``argus sim`` TOML format extended with ``[[battery]]`` and
``[[asset]]`` tables (and a ``name`` for every ``[[radar]]``).

::

    [[radar]]                 # any RadarSite field (as in argus sim), plus a unique name
    id = 1
    name = "RAD_VBG"
    lat_deg = 34.74
    lon_deg = -120.57
    ...

    [[battery]]               # a TEWA weapon row with an interceptor type
    call_sign = "BAT_LA"
    lat_deg = 34.05
    lon_deg = -118.25
    alt_m = 50.0              # optional (0)
    rounds = 32
    interceptor = "SM-6"      # a battery_type name (default SM-6)
    fire_channels = 2         # optional (2)

    [[asset]]                 # a defended asset
    name = "Los Angeles"
    lat_deg = 34.05
    lon_deg = -118.25
    radius_km = 25.0          # optional (10)
    value = 1.0               # optional (1)

``[[ballistic]]`` and ``[[airbreather]]`` entries are the scripted raid (times in seconds after
the run starts) and ``[[jammer]]`` the jammers, exactly as ``argus sim`` reads them. Errors name
the table, the row and the field (``defense.toml: battery[1].rounds: ...``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argus.scenario.runner import Scenario, ScenarioError, parse_scenario_doc


@dataclass(frozen=True)
class BatteryRow:
    call_sign: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    rounds: int
    interceptor: str
    fire_channels: int


@dataclass(frozen=True)
class AssetRow:
    name: str
    lat_deg: float
    lon_deg: float
    radius_km: float
    value: float


@dataclass(frozen=True)
class DefenseScenario:
    scenario: Scenario
    batteries: tuple[BatteryRow, ...]
    assets: tuple[AssetRow, ...]


def _number(row: dict[str, Any], key: str, where: str, default: float | None = None,
            lo: float | None = None, hi: float | None = None) -> float:  # fmt: skip
    if key not in row:
        if default is None:
            raise ScenarioError(f"{where}.{key}: required")
        return default
    v = row[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ScenarioError(f"{where}.{key}: expected a number, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ScenarioError(f"{where}.{key}: {v} outside [{lo}, {hi}]")
    return float(v)


def _text(row: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    v = row.get(key, default)
    if not isinstance(v, str) or not v.strip():
        raise ScenarioError(f"{where}.{key}: expected a non-empty string, got {v!r}")
    return v


def _rows(doc: dict[str, Any], name: str, label: str, allowed: set[str]) -> list[dict[str, Any]]:
    rows = doc.pop(name, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ScenarioError(f"{label}: {name}: expected an array of tables ([[{name}]])")
    for i, r in enumerate(rows):
        extra = set(r) - allowed
        if extra:
            raise ScenarioError(f"{label}: {name}[{i}]: unknown field(s) {sorted(extra)}")
    return rows


def parse_defense_scenario(text: str, origin: str = "<string>") -> DefenseScenario:
    label = Path(origin).name
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: not valid TOML: {exc}") from exc
    brows = _rows(doc, "battery", label, {"call_sign", "lat_deg", "lon_deg", "alt_m", "rounds",
                                          "interceptor", "fire_channels"})  # fmt: skip
    arows = _rows(doc, "asset", label, {"name", "lat_deg", "lon_deg", "radius_km", "value"})
    batteries = []
    for i, r in enumerate(brows):
        w = f"{label}: battery[{i}]"
        rounds = _number(r, "rounds", w, lo=0)
        if rounds != int(rounds):
            raise ScenarioError(f"{w}.rounds: expected a whole number, got {r['rounds']!r}")
        batteries.append(BatteryRow(
            _text(r, "call_sign", w), _number(r, "lat_deg", w, lo=-90, hi=90),
            _number(r, "lon_deg", w, lo=-180, hi=180), _number(r, "alt_m", w, 0.0),
            int(rounds), _text(r, "interceptor", w, "SM-6"),
            int(_number(r, "fire_channels", w, 2.0, lo=1)),
        ))  # fmt: skip
    assets = [
        AssetRow(_text(r, "name", f"{label}: asset[{i}]"),
                 _number(r, "lat_deg", f"{label}: asset[{i}]", lo=-90, hi=90),
                 _number(r, "lon_deg", f"{label}: asset[{i}]", lo=-180, hi=180),
                 _number(r, "radius_km", f"{label}: asset[{i}]", 10.0, lo=0),
                 _number(r, "value", f"{label}: asset[{i}]", 1.0, lo=0))
        for i, r in enumerate(arows)
    ]  # fmt: skip
    for kind, names in (
        ("battery", [b.call_sign for b in batteries]),
        ("asset", [a.name for a in assets]),
    ):
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ScenarioError(f"{label}: {kind}: duplicate name(s) {sorted(dup)}")
    scenario = parse_scenario_doc(doc, origin)
    radar_names = [r.name for r in scenario.radars]
    if any(not n for n in radar_names) or len(set(radar_names)) != len(radar_names):
        raise ScenarioError(
            f"{label}: radar: every [[radar]] needs a unique name (got {radar_names})"
        )
    if not scenario.radars:
        raise ScenarioError(f"{label}: radar: a defense scenario needs at least one [[radar]]")
    if not assets:
        raise ScenarioError(f"{label}: asset: a defense scenario needs at least one [[asset]]")
    return DefenseScenario(scenario, tuple(batteries), tuple(assets))


def load_defense_scenario(path: str | Path) -> DefenseScenario:
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"scenario file not found: {p}")
    return parse_defense_scenario(p.read_text(encoding="utf-8"), origin=str(p))
