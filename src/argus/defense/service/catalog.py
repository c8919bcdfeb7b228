"""The seed's type tables and the defense demo: missile, battery and radar types, the demo's
radar RAD_VBG, batteries BAT_LA / BAT_SD and the defended assets they cover.

Names follow seed 002 (RAD_VBG at Vandenberg, BAT_LA with 32 rounds, BAT_SD with 16, SCUD-class
threats). Numbers are public-domain orders of magnitude, not data of any real system:

- AN/TPY-2-class X-band radar: 900 km instrumented range, a 120° sector swept every 2 s, 2 MW
  peak, 50 dB gain, Pfa 1e-9; the radar equation then detects a 0.5 m² re-entry vehicle at
  ~670 km (Pd 0.9, Swerling I).
- SM-6-class interceptor: :data:`argus.defense.interceptor.SM6_CLASS` (Mach ~3.5 ≈ 1,200 m/s,
  200 km, 35 g, 10 m lethal radius, Pk 0.8, a 15 km terminal seeker).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.db.models import (
    BatteryType,
    DefendedAsset,
    MissileType,
    RadarSiteRow,
    RadarType,
    Scenario,
    Weapon,
)
from argus.db.models.tewa import ScenarioAsset
from argus.defense.interceptor import SM6_CLASS, InterceptorType
from argus.sensors.site import RadarSite

DEMO_SCENARIO = "Defense demo"

MISSILE_TYPES: tuple[dict[str, Any], ...] = (
    {"name": "SCUD-B", "catalogue_key": "scud-b", "speed_mps": 1500.0, "blast_radius_m": 150.0,
     "notes": "SRBM, ~300 km (argus.sim catalogue 'scud-b')"},
    {"name": "SCUD-C", "catalogue_key": "scud-c", "speed_mps": 1800.0, "blast_radius_m": 120.0,
     "notes": "SRBM, ~500 km (argus.sim catalogue 'scud-c')"},
    {"name": "MRBM-1300", "catalogue_key": "mrbm-1300", "speed_mps": 3000.0,
     "blast_radius_m": 200.0, "notes": "MRBM, ~1,300 km (argus.sim catalogue 'mrbm-1300')"},
)  # fmt: skip

_SM6 = {f.name: getattr(SM6_CLASS, f.name) for f in dataclasses.fields(SM6_CLASS)}
_BT_COLUMNS = ("max_range_m", "max_speed_mps", "lethal_radius_m", "pk", "boost_time_s",
               "max_flight_time_s")  # fmt: skip
BATTERY_TYPES: tuple[dict[str, Any], ...] = (
    {
        "name": "SM-6",
        **{k: _SM6[k] for k in _BT_COLUMNS},
        "max_g": SM6_CLASS.max_accel_g,
        "params": {k: v for k, v in _SM6.items() if k not in (*_BT_COLUMNS, "name", "max_accel_g")},
    },
)

TPY2_PARAMS: dict[str, Any] = {
    "min_range_m": 5_000.0,
    "min_elevation_deg": 0.0,
    "max_elevation_deg": 80.0,
    "azimuth_width_deg": 120.0,
    "scan_period_s": 2.0,
    "sigma_range_m": 20.0,
    "sigma_azimuth_deg": 0.05,
    "sigma_elevation_deg": 0.05,
    "sigma_range_rate_mps": 2.0,
    "peak_power_w": 2.0e6,
    "gain_db": 50.0,
    "frequency_hz": 9.5e9,
    "noise_figure_db": 3.0,
    "bandwidth_hz": 5.0e6,
    "losses_db": 5.0,
    "processing_gain_db": 30.0,
    "pfa": 1.0e-9,
    "beamwidth_az_deg": 0.5,
    "beamwidth_el_deg": 0.5,
    "antenna_height_m": 10.0,
}
RADAR_TYPES: tuple[dict[str, Any], ...] = (
    {"name": "AN/TPY-2", "max_range_m": 900_000.0, "sweep_rate_deg_s": 60.0,
     "params": TPY2_PARAMS},
)  # fmt: skip

#: The demo: two defended cities, their batteries and the radar watching the sea to the south-west.
DEMO_ASSETS: tuple[dict[str, Any], ...] = (
    {"name": "Los Angeles", "lat": 34.05, "lon": -118.25, "radius_km": 25.0, "value": 1.0},
    {"name": "San Diego", "lat": 32.72, "lon": -117.16, "radius_km": 15.0, "value": 0.8},
)
DEMO_RADARS: tuple[dict[str, Any], ...] = (
    {"name": "RAD_VBG", "type": "AN/TPY-2", "lat": 34.74, "lon": -120.57, "alt_m": 100.0,
     "params": {"azimuth_center_deg": 150.0}},
)  # fmt: skip
DEMO_BATTERIES: tuple[dict[str, Any], ...] = (
    {"call_sign": "BAT_LA", "lat": 34.05, "lon": -118.25, "alt_m": 50.0, "rounds": 32},
    {"call_sign": "BAT_SD", "lat": 32.72, "lon": -117.16, "alt_m": 20.0, "rounds": 16},
)
#: Launch boxes of the demo raid (at sea, 400-450 km from the cities; SCUD-C reach).
DEMO_RAID: tuple[dict[str, Any], ...] = (
    {"lat": 31.2, "lon": -121.6, "target": "Los Angeles", "delay_s": 0.0},
    {"lat": 30.4, "lon": -120.6, "target": "San Diego", "delay_s": 20.0},
    {"lat": 31.0, "lon": -121.9, "target": "Los Angeles", "delay_s": 40.0},
)


def ensure_catalog(session: Session) -> None:
    """Insert the missing default types (existing rows are left as the user edited them)."""
    for model, rows in ((MissileType, MISSILE_TYPES), (BatteryType, BATTERY_TYPES),
                        (RadarType, RADAR_TYPES)):  # fmt: skip
        have = set(session.scalars(select(model.name)))
        for row in rows:
            if row["name"] not in have:
                session.add(model(**row))
    session.flush()


def interceptor_type(row: BatteryType) -> InterceptorType:
    """The engine's interceptor type of a ``battery_type`` row."""
    params = dict(row.params or {})
    return InterceptorType(
        name=row.name,
        max_range_m=row.max_range_m,
        max_speed_mps=row.max_speed_mps,
        boost_time_s=row.boost_time_s,
        max_accel_g=row.max_g,
        max_flight_time_s=row.max_flight_time_s,
        lethal_radius_m=row.lethal_radius_m,
        pk=row.pk,
        **params,
    )


def radar_site(site: RadarSiteRow, rtype: RadarType, radar_id: int) -> RadarSite:
    """The engine's radar of a ``radar_site`` row (type parameters, then the site's overrides)."""
    params = {**(rtype.params or {}), **(site.params or {})}
    return RadarSite(
        radar_id=radar_id,
        lat_deg=site.lat,
        lon_deg=site.lon,
        alt_m=site.alt_m,
        name=site.name,
        max_range_m=rtype.max_range_m,
        **params,
    )


def ensure_defense_demo(session: Session) -> Scenario:
    """The demo scenario (idempotent): assets, RAD_VBG, BAT_LA and BAT_SD with full magazines."""
    ensure_catalog(session)
    sc = session.scalars(select(Scenario).where(Scenario.name == DEMO_SCENARIO)).one_or_none()
    if sc is None:
        sc = Scenario(
            name=DEMO_SCENARIO,
            notes="Missile-defense demo (seed 002): RAD_VBG, BAT_LA, BAT_SD; SCUD-C raid",
            start_time=dt.datetime.now(dt.UTC).replace(microsecond=0),
            active=True,  # the periodic TEWA job scores its live tracks (ranking, board)
        )
        session.add(sc)
        session.flush()
    for a in DEMO_ASSETS:
        da = session.scalars(
            select(DefendedAsset).where(DefendedAsset.name == a["name"])
        ).one_or_none()
        if da is None:
            da = DefendedAsset(**a)
            session.add(da)
            session.flush()
        if session.get(ScenarioAsset, (sc.id, da.id)) is None:
            session.add(ScenarioAsset(scenario_id=sc.id, da_id=da.id))
    rtypes = {r.name: r for r in session.scalars(select(RadarType))}
    for r in DEMO_RADARS:
        exists = session.scalars(
            select(RadarSiteRow).where(
                RadarSiteRow.scenario_id == sc.id, RadarSiteRow.name == r["name"]
            )
        ).one_or_none()
        if exists is None:
            session.add(
                RadarSiteRow(
                    scenario_id=sc.id, name=r["name"], radar_type_id=rtypes[r["type"]].id,
                    lat=r["lat"], lon=r["lon"], alt_m=r["alt_m"], params=r["params"],
                )
            )  # fmt: skip
    sm6 = session.scalars(select(BatteryType).where(BatteryType.name == "SM-6")).one()
    for b in DEMO_BATTERIES:
        w = session.scalars(
            select(Weapon).where(Weapon.scenario_id == sc.id, Weapon.call_sign == b["call_sign"])
        ).one_or_none()
        if w is None:
            session.add(
                Weapon(
                    scenario_id=sc.id, call_sign=b["call_sign"], weapon_type="SM-6",
                    lat=b["lat"], lon=b["lon"], alt_m=b["alt_m"], rounds=b["rounds"],
                    min_range_km=1.0, max_range_km=sm6.max_range_m / 1000.0,
                    max_target_speed_mps=4000.0, fire_channels=2, max_salvo=1,
                    interceptor_speed_mps=sm6.max_speed_mps, battery_type_id=sm6.id,
                )
            )  # fmt: skip
    session.flush()
    return sc


def reset_magazines(session: Session, scenario_id: int) -> None:
    """Refill the demo batteries (``argus demo defense --reset``)."""
    for b in DEMO_BATTERIES:
        w = session.scalars(
            select(Weapon).where(
                Weapon.scenario_id == scenario_id, Weapon.call_sign == b["call_sign"]
            )
        ).one_or_none()
        if w is not None:
            w.rounds = b["rounds"]
    session.flush()


def find_demo_scenario(session: Session) -> int:
    """The id of the defense demo scenario; LookupError naming the command that creates it."""
    sid = session.scalar(select(Scenario.id).where(Scenario.name == DEMO_SCENARIO))
    if sid is None:
        raise LookupError(
            f"no scenario {DEMO_SCENARIO!r}: create it with `argus demo defense` "
            "(or `argus defense seed`)"
        )
    return int(sid)


def load_scenario_file(session: Session, ds: Any, *, replace: bool = False) -> Scenario:
    """A defense scenario file (``argus.scenario.defense``) into the database: the scenario, one
    ``radar_type`` per file radar (its fields as the type's parameters), the radar sites, the
    batteries (TEWA weapons with their interceptor type) and the assets (reused by name when
    they already exist at the same place)."""
    from argus.tewa.service.errors import InvalidInput

    ensure_catalog(session)
    sc_in = ds.scenario
    old = session.scalars(select(Scenario).where(Scenario.name == sc_in.name)).one_or_none()
    if old is not None:
        if not replace:
            raise InvalidInput(f"scenario: {sc_in.name!r} exists already (use --replace)")
        session.delete(old)
        session.flush()
    sc = Scenario(name=sc_in.name, notes=f"defense scenario file {sc_in.source}",
                  start_time=dt.datetime.now(dt.UTC).replace(microsecond=0), active=True)  # fmt: skip
    session.add(sc)
    session.flush()
    for r in sc_in.radars:
        tname = f"{sc_in.name}/{r.name}"
        params = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)
                  if f.name not in ("radar_id", "lat_deg", "lon_deg", "alt_m", "name", "max_range_m")}  # fmt: skip
        rt = session.scalars(select(RadarType).where(RadarType.name == tname)).one_or_none()
        if rt is None:
            rt = RadarType(name=tname, max_range_m=r.max_range_m,
                           sweep_rate_deg_s=r.azimuth_width_deg / r.scan_period_s, params=params)  # fmt: skip
            session.add(rt)
        else:
            rt.max_range_m, rt.params = r.max_range_m, params
        session.flush()
        session.add(RadarSiteRow(scenario_id=sc.id, name=r.name, radar_type_id=rt.id,
                                 lat=r.lat_deg, lon=r.lon_deg, alt_m=r.alt_m, params={}))  # fmt: skip
    btypes = {b.name: b for b in session.scalars(select(BatteryType))}
    for i, b in enumerate(ds.batteries):
        bt = btypes.get(b.interceptor)
        if bt is None:
            raise InvalidInput(
                f"battery[{i}].interceptor: unknown battery type {b.interceptor!r} (known: {sorted(btypes)})"
            )
        session.add(Weapon(
            scenario_id=sc.id, call_sign=b.call_sign, weapon_type=bt.name, lat=b.lat_deg,
            lon=b.lon_deg, alt_m=b.alt_m, rounds=b.rounds, min_range_km=1.0,
            max_range_km=bt.max_range_m / 1000.0, max_target_speed_mps=4000.0,
            fire_channels=b.fire_channels, max_salvo=1, interceptor_speed_mps=bt.max_speed_mps,
            battery_type_id=bt.id,
        ))  # fmt: skip
    for i, a in enumerate(ds.assets):
        da = session.scalars(
            select(DefendedAsset).where(DefendedAsset.name == a.name)
        ).one_or_none()
        if da is None:
            da = DefendedAsset(
                name=a.name, lat=a.lat_deg, lon=a.lon_deg, radius_km=a.radius_km, value=a.value
            )
            session.add(da)
            session.flush()
        elif abs(da.lat - a.lat_deg) > 1e-6 or abs(da.lon - a.lon_deg) > 1e-6:
            raise InvalidInput(
                f"asset[{i}].name: a defended asset {a.name!r} exists at another place "
                f"({da.lat}, {da.lon}); rename it in the file"
            )
        session.add(ScenarioAsset(scenario_id=sc.id, da_id=da.id))
    session.flush()
    return sc


def demo_radar_site() -> RadarSite:
    """The demo's RAD_VBG as an engine radar, without a database (benchmarks, tests)."""
    r, t = DEMO_RADARS[0], RADAR_TYPES[0]
    return RadarSite(
        radar_id=1, lat_deg=r["lat"], lon_deg=r["lon"], alt_m=r["alt_m"], name=r["name"],
        max_range_m=t["max_range_m"], **{**t["params"], **r["params"]},
    )  # fmt: skip
