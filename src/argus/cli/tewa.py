"""TEWA commands: compute-threats, rank, params, weapons, assign (registered on the main app)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated, Any

import typer
from rich.table import Table

from argus.cli.common import console, fail, parse_when, session_scope_from_settings

ScenarioOpt = Annotated[str, typer.Option("--scenario", "-s", help="Scenario name.")]

params_app = typer.Typer(
    help="Show or change a scenario's threat-score parameters.", no_args_is_help=True
)
weapons_app = typer.Typer(help="Fire units (batteries) of a scenario.", no_args_is_help=True)


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isinf(x)):
        return "∞"
    return f"{x:.{digits}f}"


def _level(score: float) -> str:
    return "bold red" if score >= 0.7 else "yellow" if score >= 0.4 else "green"


def compute_threats(
    scenario: ScenarioOpt,
    at: Annotated[
        str | None, typer.Option("--at", help="ISO 8601 time with zone (default: now).")
    ] = None,
    da: Annotated[
        list[str] | None,
        typer.Option(
            "--da", help="Defended asset name (repeatable; default: all of the scenario's)."
        ),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="linear (interpolate between samples) or latest.")
    ] = "linear",
    weapon_range_km: Annotated[
        float | None,
        typer.Option("--weapon-range-km", help="Override the weapon release range for this call."),
    ] = None,
    persist: Annotated[
        bool | None,
        typer.Option(
            "--persist/--no-persist",
            help="Store the scores. Without --at (a live evaluation at the scenario's own now, "
            "which feeds the live board): stored unless --no-persist. With --at (a what-if): "
            "stored, as a what-if apart from the live board, only with --persist.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON array, one object per (track, DA); null for infinities."),
    ] = False,
) -> None:
    """Compute CPA, TCPA, TDB, TWRP and the threat score of every track against the scenario's assets."""
    from argus.tewa import service

    live = at is None
    store = live if persist is None else persist
    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
            now = dt.datetime.now(dt.UTC)
            when = service.scenario_time(sc, now) if live else parse_when(at)
            da_ids = None
            if da:
                found = service.asset_ids_by_name(s, list(da))
                missing = [n for n in da if n not in found]
                if missing:
                    raise fail(f"--da: no defended asset named {', '.join(map(repr, missing))}")
                da_ids = [found[n] for n in da]
            res = service.compute_at(
                s,
                sc,
                when,
                da_ids=da_ids,
                method=method,
                weapon_range_km=weapon_range_km,
                persist=store,
                live=live and store,
                evaluated_at=now,
            )
        except (service.NotFoundError, service.InvalidInput) as exc:
            raise fail(str(exc)) from None
    if as_json:
        keys = (
            "track_id",
            "da_name",
            "cpa_km",
            "tcpa_s",
            "tdb_km",
            "twrp_s",
            "score",
            "n_cpa",
            "n_tcpa",
            "n_tdb",
            "n_twrp",
            "status",
        )
        console.print_json(json.dumps([{k: p.as_json()[k] for k in keys} for p in res.pairs]))
        return
    table = Table(title=f"{scenario} at {when.isoformat()} ({method})")
    for col in ("track", "DA", "CPA km", "TCPA s", "TDB km", "TWRP s", "score", "state"):
        table.add_column(col, justify="right" if col not in ("track", "DA", "state") else "left")
    for p in sorted(res.pairs, key=lambda p: -p.score):
        table.add_row(
            p.track_id,
            p.da_name,
            _fmt(p.cpa_km),
            _fmt(p.tcpa_s, 0),
            _fmt(p.tdb_km),
            _fmt(p.twrp_s, 0),
            f"[{_level(p.score)}]{p.score:.3f}[/]",
            p.status,
        )
    console.print(table)
    notes = []
    if res.stale:
        notes.append(f"stale (no sample within the extrapolation limit): {', '.join(res.stale)}")
    if res.not_started:
        notes.append(f"not started yet: {', '.join(res.not_started)}")
    if store:
        notes.append(f"{res.persisted} scores stored" + (" (what-if)" if res.what_if else ""))
    for n in notes:
        console.print(f"[dim]{n}[/]")


def rank(
    scenario: ScenarioOpt,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Rank the latest scores at or before this time (default: now)."),
    ] = None,
    da: Annotated[
        str | None, typer.Option("--da", help="Rank for one defended asset (default: global).")
    ] = None,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Keep the best N.")] = None,
    what_if: Annotated[
        bool, typer.Option("--what-if", help="Rank the stored what-ifs instead of live scores.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rank threats from stored scores: latest score per track, by score, then TCPA, then track id."""
    from argus.tewa import service

    when = parse_when(at)
    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
            da_id = None
            if da is not None:
                da_id = service.asset_id_by_name(s, da)
                if da_id is None:
                    raise fail(f"--da: no defended asset named {da!r}")
            ranked = service.rank(
                s, sc, at=when if at is not None else None, da_id=da_id, top_n=top, what_if=what_if
            )
        except (service.NotFoundError, service.InvalidInput) as exc:
            raise fail(str(exc)) from None
    if as_json:
        console.print_json(json.dumps([r.as_json() for r in ranked]))
        return
    if not ranked:
        console.print(
            f"no scores at or before {when.isoformat()}: run `argus compute-threats --scenario {scenario}`"
        )
        return
    table = Table(
        title=f"threat ranking — {scenario} — {'DA ' + da if da else 'global'} at {when.isoformat()}"
    )
    for col in ("#", "track", "DA", "score", "CPA km", "TCPA s", "TDB km", "TWRP s", "computed at"):
        table.add_column(col)
    for r in ranked:
        table.add_row(
            str(r.rank),
            r.track_id,
            r.da_name,
            f"[{_level(r.score)}]{r.score:.3f}[/]",
            _fmt(r.cpa_km),
            _fmt(r.tcpa_s, 0),
            _fmt(r.tdb_km),
            _fmt(r.twrp_s, 0),
            r.computed_at.isoformat(),
        )
    console.print(table)


def _print_params(name: str, doctrine: str, values: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps({"scenario": name, "doctrine": doctrine, **values}))
        return
    table = Table(title=f"model params — {name} (doctrine: {doctrine})")
    table.add_column("parameter")
    table.add_column("value")
    for k, v in values.items():
        table.add_row(k, "—" if v is None else str(v))
    console.print(table)


@params_app.command("show")
def params_show(
    scenario: ScenarioOpt,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the scenario's weights, scales and options."""
    from argus.tewa import service

    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
        except service.NotFoundError as exc:
            raise fail(str(exc)) from None
        _print_params(
            sc.name, sc.doctrine, service.params_as_dict(service.get_model_params(s, sc)), as_json
        )


@params_app.command("set")
def params_set(
    scenario: ScenarioOpt,
    assignments: Annotated[
        list[str],
        typer.Argument(
            help="NAME=VALUE pairs, e.g. w_cpa=0.5 tcpa_scale_s=240 clamp_0_1=false cpa_logistic=5,1 (midpoint,width; 'none' clears)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Change parameters; the result is validated as a whole (weights in [0, 1], scales > 0).

    The doctrine shown becomes "custom" once the params differ from every preset.
    """
    from argus.tewa import service

    changes: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise fail(f"{item!r}: expected NAME=VALUE")
        key, raw = item.split("=", 1)
        key = key.strip()
        value: Any
        if raw.lower() in ("none", "null", ""):
            value = None
        elif raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif key.endswith("_logistic"):
            try:
                mid, width = (float(v) for v in raw.split(","))
            except ValueError:
                raise fail(f"{key}: expected MIDPOINT,WIDTH, got {raw!r}") from None
            value = {"midpoint": mid, "width": width}
        else:
            try:
                value = float(raw)
            except ValueError:
                raise fail(f"{key}: {raw!r} is not a number") from None
        changes[key] = value
    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
            row = service.set_params(s, sc, **changes)
        except (service.NotFoundError, service.InvalidInput) as exc:
            raise fail(str(exc)) from None
        _print_params(sc.name, sc.doctrine, service.params_as_dict(row), as_json)


@params_app.command("preset")
def params_preset(
    scenario: ScenarioOpt,
    preset: Annotated[
        str, typer.Argument(help="default, point-defense, area-defense or ballistic.")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Apply a doctrine preset (weights and scales) to the scenario."""
    from argus.tewa import service

    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
            row = service.apply_preset(s, sc, preset)
        except (service.NotFoundError, service.InvalidInput) as exc:
            raise fail(str(exc)) from None
        _print_params(sc.name, sc.doctrine, service.params_as_dict(row), as_json)


@weapons_app.command("add")
def weapons_add(
    scenario: ScenarioOpt,
    call_sign: Annotated[
        str,
        typer.Option(
            "--call-sign", help="Unique within the scenario; an existing one is replaced."
        ),
    ],
    weapon_type: Annotated[
        str, typer.Option("--type", help="Weapon type (kill-probability table key), e.g. SAM-MR.")
    ],
    lat: Annotated[float, typer.Option(help="Battery latitude, degrees.")],
    lon: Annotated[float, typer.Option(help="Battery longitude, degrees.")],
    rounds: Annotated[int, typer.Option(help="Ready rounds.")],
    max_range_km: Annotated[float, typer.Option("--max-range-km", help="Maximum intercept range.")],
    min_range_km: Annotated[
        float, typer.Option("--min-range-km", help="Minimum intercept range.")
    ] = 0.0,
    max_target_speed_mps: Annotated[
        float, typer.Option("--max-target-speed-mps", help="Fastest target it can engage.")
    ] = 1500.0,
    fire_channels: Annotated[
        int, typer.Option("--fire-channels", help="Targets it can engage at once.")
    ] = 1,
    max_salvo: Annotated[
        int, typer.Option("--max-salvo", min=1, help="Most rounds at one target per engagement.")
    ] = 2,
    interceptor_speed_mps: Annotated[
        float,
        typer.Option("--interceptor-speed-mps", help="Mean interceptor speed (time of flight)."),
    ] = 1000.0,
) -> None:
    """Add a fire unit (battery) to a scenario."""
    from argus.tewa import service

    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
            w = service.add_weapon(
                s,
                sc,
                call_sign=call_sign,
                weapon_type=weapon_type,
                lat=lat,
                lon=lon,
                rounds=rounds,
                max_range_km=max_range_km,
                min_range_km=min_range_km,
                max_target_speed_mps=max_target_speed_mps,
                fire_channels=fire_channels,
                interceptor_speed_mps=interceptor_speed_mps,
                max_salvo=max_salvo,
            )
        except (service.NotFoundError, service.InvalidInput) as exc:
            raise fail(str(exc)) from None
        console.print(
            f"weapon {w.call_sign} ({w.weapon_type}) in {sc.name}: {w.rounds} rounds, "
            f"{w.min_range_km:g}-{w.max_range_km:g} km, {w.fire_channels} fire channel(s), "
            f"salvo of at most {w.max_salvo}"
        )


@weapons_app.command("list")
def weapons_list(
    scenario: ScenarioOpt,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a scenario's fire units."""
    from argus.tewa import service

    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
        except service.NotFoundError as exc:
            raise fail(str(exc)) from None
        rows = [
            {
                "call_sign": w.call_sign,
                "type": w.weapon_type,
                "lat": w.lat,
                "lon": w.lon,
                "rounds": w.rounds,
                "min_range_km": w.min_range_km,
                "max_range_km": w.max_range_km,
                "max_target_speed_mps": w.max_target_speed_mps,
                "fire_channels": w.fire_channels,
                "max_salvo": w.max_salvo,
                "interceptor_speed_mps": w.interceptor_speed_mps,
            }
            for w in service.list_weapons(s, sc)
        ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"weapons — {scenario}")
    for col in (
        "call sign",
        "type",
        "lat",
        "lon",
        "rounds",
        "range km",
        "max target m/s",
        "channels",
        "max salvo",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["call_sign"]),
            str(r["type"]),
            f"{r['lat']:.4f}",
            f"{r['lon']:.4f}",
            str(r["rounds"]),
            f"{r['min_range_km']:g}-{r['max_range_km']:g}",
            f"{r['max_target_speed_mps']:g}",
            str(r["fire_channels"]),
            str(r["max_salvo"]),
        )
    console.print(table)


def assign(
    scenario: ScenarioOpt,
    at: Annotated[
        str | None, typer.Option("--at", help="ISO 8601 time with zone (default: now).")
    ] = None,
    solver: Annotated[
        str,
        typer.Option(help="auto (exact when small, else heuristic), exact, heuristic or greedy."),
    ] = "auto",
    hysteresis: Annotated[
        float,
        typer.Option(
            help="Keep the previous plan unless the new one is this much better (0.05 = 5 %)."
        ),
    ] = 0.05,
    persist: Annotated[
        bool,
        typer.Option("--persist/--no-persist", help="Store the plan (the next cycle's reference)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Weapon-target assignment: which battery fires how many rounds at which hostile track."""
    from argus.tewa import service

    when = parse_when(at)
    with session_scope_from_settings() as s:
        try:
            sc = service.get_scenario(s, scenario)
            plan = service.plan_assignment(
                s, sc, when, solver=solver, hysteresis=hysteresis, persist=persist
            )
        except (service.NotFoundError, service.InvalidInput) as exc:
            raise fail(str(exc)) from None
    if as_json:
        console.print_json(json.dumps(plan.as_json()))
        return
    table = Table(title=f"assignment plan — {scenario} at {when.isoformat()}")
    for col in (
        "weapon",
        "target",
        "rounds",
        "P(kill)",
        "value saved",
        "threat",
        "DA",
        "intercept in s",
    ):
        table.add_column(col)
    for ln in plan.lines:
        table.add_row(
            ln.weapon,
            ln.target,
            str(ln.rounds),
            f"{ln.kill_probability:.3f}",
            f"{ln.expected_value_saved:.3f}",
            f"{ln.threat_score:.3f}",
            ln.da_name,
            _fmt(ln.intercept_time_s, 0),
        )
    console.print(table)
    gap = "—" if plan.gap is None else f"{100 * plan.gap:.2f} %"
    console.print(
        f"expected value saved {plan.objective:.3f} (bound {_fmt(plan.upper_bound, 3)}, gap {gap}); "
        f"solver {plan.solver}{' (proven optimal)' if plan.proven_optimal else ''}"
        f"{'; previous plan kept' if plan.kept_previous else ''}"
    )
    if plan.unassigned_hostile:
        console.print(f"[yellow]hostile, not engaged:[/] {', '.join(plan.unassigned_hostile)}")
    if plan.not_engageable:
        console.print(f"[dim]not engageable (IFF not hostile): {', '.join(plan.not_engageable)}[/]")


def register(app: typer.Typer) -> None:
    app.command("compute-threats")(compute_threats)
    app.command("rank")(rank)
    app.command("assign")(assign)
    app.add_typer(params_app, name="params")
    app.add_typer(weapons_app, name="weapons")
