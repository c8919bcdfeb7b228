"""Threat catalogue: load and validate ``catalogue.toml`` into frozen dataclasses.

The catalogue is data (``src/argus/sim/catalogue.toml``), not code. Every entry is checked
when loaded; a bad value raises :class:`CatalogueError` naming the file, the entry and the field,
e.g. ``catalogue.toml: threats.scud-b.burn_time_s: expected a number > 0, got -3``.

Two kinds of entries:

- ``kind = "ballistic"`` → :class:`BallisticThreat` (rocket boost, pitch program, drag tables);
- ``kind = "cruise_missile" | "aircraft" | "drone"`` → :class:`AirBreathingThreat` (cruise
  speed/altitude, turn-rate and load-factor limits).

All figures are nominal open-source approximations (see each entry's ``source``); they are good
enough to make a simulation behave like the class of weapon, not to describe a specific one.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from argus.geo import G0

FloatArray = npt.NDArray[np.float64]

AirBreathingKind = Literal["cruise_missile", "aircraft", "drone"]
SWERLING_CASES = (0, 1, 2, 3, 4)


class CatalogueError(ValueError):
    """A catalogue file or entry is invalid; the message names the file, entry and field."""


@dataclass(frozen=True)
class DragTable:
    """Zero-lift drag coefficient versus Mach number, linearly interpolated, clamped at the ends."""

    mach: tuple[float, ...]
    cd: tuple[float, ...]

    def cd_at(self, mach: npt.ArrayLike) -> FloatArray:
        """Drag coefficient at Mach numbers (any shape)."""
        return np.interp(np.asarray(mach, dtype=float), self.mach, self.cd)


@dataclass(frozen=True)
class BallisticThreat:
    """A ballistic missile class (single stage, liquid or solid).

    Mass flow is constant, ``(launch_mass_kg - burnout_mass_kg) / burn_time_s``; thrust varies
    with ambient pressure p as ``ṁ·g0·(isp_vac - (isp_vac - isp_sl)·p/p0)`` (nozzle back-pressure
    term). The pitch program is vertical for ``vertical_rise_s``, turns linearly to the launch
    elevation over ``pitch_over_s``, then flies a gravity turn (thrust along the air-relative
    velocity) until cut-off. After cut-off a separating re-entry vehicle continues with its own
    mass, diameter and drag table; a non-separating missile re-enters whole.
    """

    key: str
    name: str
    source: str
    nominal_range_km: float
    rcs_m2: float
    swerling: int
    launch_mass_kg: float
    burnout_mass_kg: float
    burn_time_s: float
    isp_sl_s: float
    isp_vac_s: float
    diameter_m: float
    drag: DragTable
    vertical_rise_s: float
    pitch_over_s: float
    separates: bool
    reentry_mass_kg: float
    reentry_diameter_m: float
    reentry_drag: DragTable
    max_axial_g: float
    reentry_rcs_m2: float
    kind: Literal["ballistic"] = "ballistic"

    @property
    def propellant_mass_kg(self) -> float:
        """Usable propellant (kg)."""
        return self.launch_mass_kg - self.burnout_mass_kg

    @property
    def mass_flow_kgps(self) -> float:
        """Constant propellant mass flow (kg/s)."""
        return self.propellant_mass_kg / self.burn_time_s

    @property
    def thrust_sl_n(self) -> float:
        """Sea-level thrust (N)."""
        return self.mass_flow_kgps * G0 * self.isp_sl_s

    @property
    def thrust_vac_n(self) -> float:
        """Vacuum thrust (N)."""
        return self.mass_flow_kgps * G0 * self.isp_vac_s

    @property
    def reference_area_m2(self) -> float:
        """Body cross-section π d²/4 (m²)."""
        return math.pi * self.diameter_m**2 / 4.0

    @property
    def reentry_area_m2(self) -> float:
        """Re-entry body cross-section (m²)."""
        return math.pi * self.reentry_diameter_m**2 / 4.0

    @property
    def ideal_delta_v_mps(self) -> float:
        """Tsiolkovsky Δv with the vacuum Isp (m/s) — an upper bound on burnout speed."""
        return G0 * self.isp_vac_s * math.log(self.launch_mass_kg / self.burnout_mass_kg)


@dataclass(frozen=True)
class AirBreathingThreat:
    """A cruise missile, aircraft or drone flying waypoints.

    The maximum turn rate at speed V is ``min(max_turn_rate_dps, g0·sqrt(n²-1)/V)`` with n the
    maximum load factor (level coordinated turn).
    """

    key: str
    name: str
    kind: AirBreathingKind
    source: str
    nominal_range_km: float
    rcs_m2: float
    swerling: int
    mass_kg: float
    cruise_speed_mps: float
    min_speed_mps: float
    max_speed_mps: float
    cruise_alt_m: float
    min_alt_m: float
    max_alt_m: float
    max_climb_rate_mps: float
    max_accel_mps2: float
    max_turn_rate_dps: float
    max_load_factor_g: float

    @property
    def max_route_km(self) -> float:
        """Longest distance (km) one flight of this type may cover.

        ``nominal_range_km`` is the published one-way range of a cruise missile or drone, and
        the published combat radius of an aircraft (``kind = "aircraft"``), which flies out and
        back: the limit is then twice the radius. Routes longer than this are refused by
        :meth:`argus.sim.airbreathing.AirRoute.validate`.
        """
        factor = 2.0 if self.kind == "aircraft" else 1.0
        return factor * self.nominal_range_km

    def max_turn_rate_rad_s(self, speed_mps: npt.ArrayLike) -> FloatArray:
        """Achievable turn rate (rad/s) at the given speeds."""
        v = np.maximum(np.asarray(speed_mps, dtype=float), 1e-3)
        g_limit = G0 * math.sqrt(max(self.max_load_factor_g**2 - 1.0, 0.0)) / v
        return np.minimum(np.radians(self.max_turn_rate_dps), g_limit)


Threat = BallisticThreat | AirBreathingThreat


@dataclass(frozen=True)
class Catalogue(Mapping[str, Threat]):
    """The loaded catalogue: a read-only mapping from key (e.g. ``"scud-b"``) to threat."""

    threats: Mapping[str, Threat]
    path: str

    def __getitem__(self, key: str) -> Threat:
        try:
            return self.threats[key]
        except KeyError:
            known = ", ".join(sorted(self.threats))
            raise KeyError(
                f"unknown threat type {key!r}; catalogue {self.path} has: {known}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.threats)

    def __len__(self) -> int:
        return len(self.threats)

    def ballistic(self, key: str) -> BallisticThreat:
        """The ballistic entry ``key`` (TypeError if it is not ballistic)."""
        t = self[key]
        if not isinstance(t, BallisticThreat):
            raise TypeError(f"threat type {key!r} is {t.kind}, not ballistic")
        return t

    def airbreathing(self, key: str) -> AirBreathingThreat:
        """The air-breathing entry ``key`` (TypeError if it is ballistic)."""
        t = self[key]
        if not isinstance(t, AirBreathingThreat):
            raise TypeError(f"threat type {key!r} is ballistic, not air-breathing")
        return t


DEFAULT_CATALOGUE_NAME = "catalogue.toml"


def default_catalogue_path() -> Path:
    """Path of the packaged ``catalogue.toml``."""
    return Path(str(resources.files("argus.sim").joinpath(DEFAULT_CATALOGUE_NAME)))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Catalogue:
    return parse_catalogue(Path(path).read_text(encoding="utf-8"), origin=path)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a catalogue file (the packaged one by default; cached per path)."""
    p = Path(path) if path is not None else default_catalogue_path()
    if not p.is_file():
        raise CatalogueError(f"catalogue file not found: {p}")
    return _load_cached(str(p.resolve()))


def parse_catalogue(text: str, origin: str = "<string>") -> Catalogue:
    """Validate catalogue TOML text into a :class:`Catalogue`."""
    label = Path(origin).name if origin != "<string>" else origin
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{label}: not valid TOML: {exc}") from exc
    table = doc.get("threats")
    if not isinstance(table, dict) or not table:
        raise CatalogueError(f"{label}: expected a non-empty [threats] table")
    threats: dict[str, Threat] = {}
    for key, entry in table.items():
        where = f"{label}: threats.{key}"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where}: expected a table, got {type(entry).__name__}")
        kind = entry.get("kind")
        if kind == "ballistic":
            threats[key] = _ballistic(key, entry, where)
        elif kind in ("cruise_missile", "aircraft", "drone"):
            threats[key] = _airbreathing(key, entry, where)
        else:
            raise CatalogueError(
                f"{where}.kind: expected 'ballistic', 'cruise_missile', 'aircraft' or 'drone', got {kind!r}"
            )
    return Catalogue(threats, origin)


class _Fields:
    """Typed field access on one TOML entry with errors naming the field."""

    def __init__(self, entry: dict[str, Any], where: str) -> None:
        self.entry = entry
        self.where = where
        self.used: set[str] = {"kind"}

    def _raw(self, name: str, default: Any) -> Any:
        self.used.add(name)
        if name not in self.entry:
            if default is _REQUIRED:
                raise CatalogueError(f"{self.where}.{name}: required field is missing")
            return default
        return self.entry[name]

    def number(
        self, name: str, *, default: Any = None, minimum: float = 0.0, strict: bool = True
    ) -> float:
        value = self._raw(name, _REQUIRED if default is None else default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise CatalogueError(f"{self.where}.{name}: expected a number, got {value!r}")
        ok = value > minimum if strict else value >= minimum
        if not ok:
            op = ">" if strict else ">="
            raise CatalogueError(
                f"{self.where}.{name}: expected a number {op} {minimum:g}, got {value!r}"
            )
        return float(value)

    def text(self, name: str) -> str:
        value = self._raw(name, _REQUIRED)
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{self.where}.{name}: expected a non-empty string, got {value!r}")
        return value.strip()

    def flag(self, name: str, default: bool) -> bool:
        value = self._raw(name, default)
        if not isinstance(value, bool):
            raise CatalogueError(f"{self.where}.{name}: expected true or false, got {value!r}")
        return value

    def swerling(self, name: str = "swerling") -> int:
        value = self._raw(name, _REQUIRED)
        if isinstance(value, bool) or value not in SWERLING_CASES:
            raise CatalogueError(
                f"{self.where}.{name}: expected a Swerling case 0-4, got {value!r}"
            )
        return int(value)

    def drag(self, mach_name: str, cd_name: str, default: DragTable | None = None) -> DragTable:
        if default is not None and mach_name not in self.entry and cd_name not in self.entry:
            self.used.update((mach_name, cd_name))
            return default
        mach = self._raw(mach_name, _REQUIRED)
        cd = self._raw(cd_name, _REQUIRED)
        for name, arr in ((mach_name, mach), (cd_name, cd)):
            if (
                not isinstance(arr, list)
                or len(arr) < 1
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in arr)
            ):
                raise CatalogueError(f"{self.where}.{name}: expected a non-empty list of numbers")
        if len(mach) != len(cd):
            raise CatalogueError(
                f"{self.where}.{cd_name}: has {len(cd)} values but {mach_name} has {len(mach)}"
            )
        if any(b <= a for a, b in pairwise(mach)) or mach[0] < 0:
            raise CatalogueError(
                f"{self.where}.{mach_name}: expected strictly increasing values >= 0"
            )
        if any(c <= 0 or c > 5 for c in cd):
            raise CatalogueError(f"{self.where}.{cd_name}: drag coefficients must lie in (0, 5]")
        return DragTable(tuple(float(x) for x in mach), tuple(float(x) for x in cd))

    def check_unknown(self) -> None:
        extra = sorted(set(self.entry) - self.used)
        if extra:
            raise CatalogueError(f"{self.where}: unknown field(s) {', '.join(extra)}")


_REQUIRED = object()


def _ballistic(key: str, entry: dict[str, Any], where: str) -> BallisticThreat:
    f = _Fields(entry, where)
    launch = f.number("launch_mass_kg")
    burnout = f.number("burnout_mass_kg")
    if burnout >= launch:
        raise CatalogueError(
            f"{where}.burnout_mass_kg: must be less than launch_mass_kg ({burnout:g} >= {launch:g})"
        )
    isp_sl = f.number("isp_sl_s")
    isp_vac = f.number("isp_vac_s")
    if isp_vac < isp_sl:
        raise CatalogueError(f"{where}.isp_vac_s: must be >= isp_sl_s ({isp_vac:g} < {isp_sl:g})")
    diameter = f.number("diameter_m")
    drag = f.drag("cd_mach", "cd")
    separates = f.flag("separates", False)
    if separates:
        re_mass = f.number("reentry_mass_kg")
        if re_mass >= burnout:
            raise CatalogueError(
                f"{where}.reentry_mass_kg: must be less than burnout_mass_kg ({re_mass:g} >= {burnout:g})"
            )
        re_diam = f.number("reentry_diameter_m")
        re_drag = f.drag("reentry_cd_mach", "reentry_cd")
    else:
        for name in ("reentry_mass_kg", "reentry_diameter_m", "reentry_cd_mach", "reentry_cd"):
            if name in entry:
                raise CatalogueError(f"{where}.{name}: only allowed with separates = true")
        re_mass, re_diam, re_drag = burnout, diameter, drag
    rcs = f.number("rcs_m2")
    threat = BallisticThreat(
        key=key,
        name=f.text("name"),
        source=f.text("source"),
        nominal_range_km=f.number("nominal_range_km"),
        rcs_m2=rcs,
        swerling=f.swerling(),
        launch_mass_kg=launch,
        burnout_mass_kg=burnout,
        burn_time_s=f.number("burn_time_s"),
        isp_sl_s=isp_sl,
        isp_vac_s=isp_vac,
        diameter_m=diameter,
        drag=drag,
        vertical_rise_s=f.number("vertical_rise_s", strict=False),
        pitch_over_s=f.number("pitch_over_s"),
        separates=separates,
        reentry_mass_kg=re_mass,
        reentry_diameter_m=re_diam,
        reentry_drag=re_drag,
        max_axial_g=f.number("max_axial_g"),
        reentry_rcs_m2=f.number("reentry_rcs_m2", default=rcs),
    )
    if threat.vertical_rise_s + threat.pitch_over_s >= threat.burn_time_s:
        raise CatalogueError(
            f"{where}.pitch_over_s: vertical rise + pitch-over must end before burnout"
        )
    f.check_unknown()
    return threat


def _airbreathing(key: str, entry: dict[str, Any], where: str) -> AirBreathingThreat:
    f = _Fields(entry, where)
    threat = AirBreathingThreat(
        key=key,
        name=f.text("name"),
        kind=entry["kind"],
        source=f.text("source"),
        nominal_range_km=f.number("nominal_range_km"),
        rcs_m2=f.number("rcs_m2"),
        swerling=f.swerling(),
        mass_kg=f.number("mass_kg"),
        cruise_speed_mps=f.number("cruise_speed_mps"),
        min_speed_mps=f.number("min_speed_mps"),
        max_speed_mps=f.number("max_speed_mps"),
        cruise_alt_m=f.number("cruise_alt_m"),
        min_alt_m=f.number("min_alt_m", strict=False),
        max_alt_m=f.number("max_alt_m"),
        max_climb_rate_mps=f.number("max_climb_rate_mps"),
        max_accel_mps2=f.number("max_accel_mps2"),
        max_turn_rate_dps=f.number("max_turn_rate_dps"),
        max_load_factor_g=f.number("max_load_factor_g", minimum=1.0),
    )
    if not threat.min_speed_mps <= threat.cruise_speed_mps <= threat.max_speed_mps:
        raise CatalogueError(
            f"{where}.cruise_speed_mps: must lie in [min_speed_mps, max_speed_mps], got "
            f"{threat.cruise_speed_mps:g} not in [{threat.min_speed_mps:g}, {threat.max_speed_mps:g}]"
        )
    if not threat.min_alt_m <= threat.cruise_alt_m <= threat.max_alt_m:
        raise CatalogueError(
            f"{where}.cruise_alt_m: must lie in [min_alt_m, max_alt_m], got {threat.cruise_alt_m:g}"
        )
    f.check_unknown()
    return threat
