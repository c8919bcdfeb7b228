"""Defense commands: ``argus models …``, ``argus demo defense``, ``argus defense …`` and
``argus stage …`` (one pipeline stage on the bus)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from argus.cli.common import console, err_console, fail, session_scope_from_settings, settings

models_app = typer.Typer(
    help="Trained models: the track classifier of the defense pipeline.", no_args_is_help=True
)
demo_app = typer.Typer(
    help="Demos that run end to end on the embedded default.", no_args_is_help=True
)
defense_app = typer.Typer(help="The defense pipeline's scenario and runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.add_typer(demo_app, name="demo")
    app.add_typer(defense_app, name="defense")
    from argus.cli.stage import stage_app

    app.add_typer(stage_app, name="stage")


@models_app.command("train-classifier")
def train_classifier(
    per_class: Annotated[
        int,
        typer.Option("--per-class", min=20, max=20_000, help="simulated training tracks per class"),
    ] = 600,
    seed: Annotated[int, typer.Option(help="simulation and training seed")] = 1,
    scenario: Annotated[
        str | None,
        typer.Option(
            help="train with this scenario's first radar (default: the defense demo's, if any)"
        ),
    ] = None,
) -> None:
    """Simulate tracks of the five classes (ballistic missile, cruise missile, aircraft, drone,
    clutter) with the threat catalogue, a radar and the real tracker; train the classifier;
    evaluate it on held-out tracks of another seed; register it in the database.

    The pipeline loads the newest registered model; without one it refuses to start.
    """
    from argus.defense.service.catalog import DEMO_SCENARIO
    from argus.defense.service.training import train_classifier as train
    from argus.tewa.service import scenario_id_by_name

    t0 = time.perf_counter()
    with session_scope_from_settings() as session:
        sid = scenario_id_by_name(session, scenario or DEMO_SCENARIO)
        if scenario and sid is None:
            raise fail(f"--scenario: no scenario named {scenario!r}", 2)
        with console.status("training…") as status:
            rep = train(
                session, n_per_class=per_class, seed=seed, scenario_id=sid,
                progress=lambda msg: status.update(msg + "…"),
            )  # fmt: skip
    m = rep.metrics
    table = Table(title=f"held-out confusion (accuracy {m['accuracy']:.3f}, n = {m['n']})")
    table.add_column("true \\ predicted")
    for c in m["classes"]:
        table.add_column(c, justify="right")
    table.add_column("recall", justify="right")
    for c, row, rec in zip(m["classes"], m["confusion"], m["recall"], strict=True):
        table.add_row(c, *[str(v) for v in row], "-" if rec is None else f"{rec:.3f}")
    console.print(table)
    console.print(
        f"registered track_classifier v{rep.version} (ml_model {rep.model_id}) in "
        f"{time.perf_counter() - t0:.0f} s"
    )


@models_app.command("list")
def list_models() -> None:
    """Registered models, oldest first, with their held-out accuracy."""
    from argus.defense.service.models import list_models as lm

    with session_scope_from_settings() as session:
        rows = [(m.kind, m.version, m.metrics.get("accuracy"), m.created_at) for m in lm(session)]
    table = Table()
    for col in ("kind", "version", "accuracy", "created"):
        table.add_column(col)
    for kind, version, acc, created in rows:
        table.add_row(kind, str(version), "-" if acc is None else f"{acc:.3f}", created.isoformat())
    console.print(table)


@defense_app.command("seed")
def seed() -> None:
    """Create the defense demo scenario: RAD_VBG, BAT_LA (32 rounds), BAT_SD (16), two cities."""
    from argus.defense.service.catalog import ensure_defense_demo

    with session_scope_from_settings() as session:
        sc = ensure_defense_demo(session)
        console.print(f"scenario {sc.name!r} (id {sc.id}) ready")


@defense_app.command("load")
def load(
    path: Annotated[
        str,
        typer.Argument(
            help="a defense scenario TOML (see src/argus/scenario/examples/defense.toml)"
        ),
    ],
    replace: Annotated[bool, typer.Option(help="replace a scenario of the same name")] = False,
) -> None:
    """Create a scenario from a defense scenario file: its radars, batteries and assets (the
    raid and jammers are played by `argus demo defense --scenario FILE --no-serve`)."""
    from argus.defense.service.catalog import load_scenario_file
    from argus.scenario.defense import load_defense_scenario
    from argus.scenario.runner import ScenarioError
    from argus.tewa.service.errors import InvalidInput

    try:
        ds = load_defense_scenario(path)
        with session_scope_from_settings() as session:
            sc = load_scenario_file(session, ds, replace=replace)
            console.print(
                f"scenario {sc.name!r} (id {sc.id}): {len(ds.scenario.radars)} radar(s), "
                f"{len(ds.batteries)} batteries, {len(ds.assets)} assets; raid of "
                f"{len(ds.scenario.ballistic)} ballistic and {len(ds.scenario.airbreathers)} air "
                f"objects, {len(ds.scenario.jammers)} jammer(s)"
            )
    except (ScenarioError, InvalidInput) as exc:
        raise fail(str(exc), 2) from None


def _ensure_demo(train_per_class: int) -> int:
    from argus.defense.service.catalog import ensure_defense_demo
    from argus.defense.service.models import MissingModelError, latest_model
    from argus.defense.service.training import train_classifier as train

    with session_scope_from_settings() as session:
        sc = ensure_defense_demo(session)
        sid = sc.id
    with session_scope_from_settings() as session:
        try:
            latest_model(session)
        except MissingModelError:
            err_console.print(
                f"no track classifier registered yet: training one ({train_per_class} tracks per "
                "class, about a minute)"
            )
            with console.status("training the track classifier…") as status:
                rep = train(
                    session, n_per_class=train_per_class, scenario_id=sid,
                    progress=lambda msg: status.update(msg + "…"),
                )  # fmt: skip
            err_console.print(
                f"classifier v{rep.version}: held-out accuracy {rep.metrics['accuracy']:.3f}"
            )
    return sid


def _raid(launch: Any, spacing: float = 1.0) -> None:
    from argus.defense.service.catalog import DEMO_ASSETS, DEMO_RAID

    cities = {a["name"]: a for a in DEMO_ASSETS}
    t0 = time.monotonic()
    for r in DEMO_RAID:
        delay = t0 + r["delay_s"] * spacing - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        c = cities[r["target"]]
        launch(r["lat"], r["lon"], c["lat"], c["lon"], "SCUD-C")


def _register_other_demos() -> None:
    from argus.cli.astro_ops import register_demo
    from argus.cli.rf_ops import register_demo as register_rf_demo

    register_demo(demo_app)
    register_rf_demo(demo_app)


_register_other_demos()


@demo_app.command("defense")
def demo_defense(
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve", help="serve the API and console (default) or run headless"
        ),
    ] = True,
    duration: Annotated[float, typer.Option(help="headless: simulated seconds to run")] = 420.0,
    train_per_class: Annotated[
        int, typer.Option(help="training tracks per class if no model yet")
    ] = 400,
    scenario: Annotated[
        str | None,
        typer.Option(
            help="play this defense scenario file instead of the demo raid (served live, or "
            "headless with --no-serve)"
        ),
    ] = None,
) -> None:
    """A scripted SCUD-C raid on Los Angeles and San Diego: RAD_VBG detects, the command centre
    tracks, classifies and assigns BAT_LA / BAT_SD, interceptors fly. With ``--serve`` (default)
    the console shows it live at the printed URL; ``--no-serve`` runs it as fast as it computes
    and prints what happened."""
    from argus.cli.ops import require_migrated

    require_migrated()
    sid = _ensure_demo(train_per_class)
    script = None
    if scenario is not None:
        from argus.defense.service.catalog import load_scenario_file
        from argus.scenario.defense import load_defense_scenario
        from argus.scenario.runner import ScenarioError
        from argus.tewa.service.errors import InvalidInput

        try:
            ds = load_defense_scenario(scenario)
            with session_scope_from_settings() as session:
                sid = load_scenario_file(session, ds, replace=True).id
        except (ScenarioError, InvalidInput) as exc:
            raise fail(str(exc), 2) from None
        script = ds.scenario
    if serve:
        _serve_with_raid(scenario)
        return
    from argus.db.session import make_engine, make_sessionmaker
    from argus.defense.service.catalog import reset_magazines
    from argus.defense.service.runtime import DefenseRuntime, battery_rounds

    engine = make_engine(settings().database_url)
    factory = make_sessionmaker(engine)
    with session_scope_from_settings() as session:
        reset_magazines(session, sid)
    rt = DefenseRuntime(factory, sid)
    cities_raid: list[tuple[float, tuple[float, float, float, float]]] = []
    from argus.defense.service.catalog import DEMO_ASSETS, DEMO_RAID

    if script is not None:
        rt.script(script)
        duration = script.duration_s if duration == 420.0 else duration
    else:
        cities = {a["name"]: a for a in DEMO_ASSETS}
        for r in DEMO_RAID:
            c = cities[r["target"]]
            cities_raid.append((r["delay_s"], (r["lat"], r["lon"], c["lat"], c["lon"])))
    from rich.progress import Progress

    n = round(duration / rt.cfg.scan_interval_s)
    kills = 0
    with Progress(console=err_console, transient=True) as prog:
        task = prog.add_task("raid", total=n)
        for _ in range(n):
            for delay, args in list(cities_raid):
                if rt.loop.t_s >= delay:
                    rt.launch(args[0], args[1], args[2], args[3], "SCUD-C", created_by="demo")
                    cities_raid.remove((delay, args))
            rep = rt.step()
            kills += sum(1 for e in rep.events if getattr(e, "kill", False))
            prog.advance(task)
    with factory() as s:
        from argus.defense.service.runtime import list_flights

        flights = list_flights(s, sid, limit=50)
        rounds = battery_rounds(s, sid)
    table = Table(title=f"Defense demo run {rt.run_id}")
    for col in ("flight", "state", "outcome"):
        table.add_column(col)
    for f in flights:
        out = f["outcome"] or {}
        table.add_row(
            f["flight_id"][:8], f["state"],
            f"miss {out['miss_distance_m']:.2f} m" if "miss_distance_m" in out else out.get("by", "-"),
        )  # fmt: skip
    console.print(table)
    console.print(f"kills: {kills}   rounds left: {rounds}")
    engine.dispose()


def _serve_with_raid(scenario: str | None = None) -> None:
    """`argus serve` with the pipeline on, and the scripted raid launched once it runs; with a
    scenario file the server plays it itself (ARGUS_DEFENSE_SCENARIO_FILE)."""
    import os
    from pathlib import Path

    from argus.cli.main import serve as serve_cmd
    from argus.config import get_settings

    os.environ["ARGUS_PIPELINE"] = "true"
    if scenario is not None:
        os.environ["ARGUS_DEFENSE_SCENARIO_FILE"] = str(Path(scenario).resolve())
        get_settings.cache_clear()
        s = get_settings()
        console.print(
            f"playing {scenario} live: watch http://{s.host}:{s.port}/#defense "
            "(POST another file to /api/sim/scenario to switch)"
        )
        serve_cmd(host=None, port=None, migrate_first=False, scheduler=True, workers=1,
                  pipeline=True)  # fmt: skip
        return
    get_settings.cache_clear()

    def launcher() -> None:
        import httpx

        s = get_settings()
        base = f"http://{s.host}:{s.port}"
        creds_file = s.var_dir / "demo-operator.txt"
        for _ in range(120):
            try:
                if (
                    httpx.get(base + "/health", timeout=1).status_code == 200
                    and creds_file.exists()
                ):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        user, pw = _read_creds(creds_file)
        if user is None:
            err_console.print("[yellow]raid not launched: no demo operator credentials found[/]")
            return
        tok = httpx.post(base + "/api/auth/login", data={"username": user, "password": pw}).json()
        headers = {"Authorization": f"Bearer {tok['access_token']}"}

        def launch(lat: float, lon: float, tlat: float, tlon: float, kind: str) -> None:
            httpx.post(
                base + "/api/sim/launch",
                params={
                    "lat": lat,
                    "lon": lon,
                    "targetLat": tlat,
                    "targetLon": tlon,
                    "missileType": kind,
                },
                headers=headers,
                timeout=30,
            )

        _raid(launch)
        console.print(
            f"raid launched at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC: watch {base}/#defense"
        )

    threading.Thread(target=launcher, daemon=True).start()
    serve_cmd(host=None, port=None, migrate_first=False, scheduler=True, workers=1, pipeline=True)


def _read_creds(path: Any) -> tuple[str | None, str | None]:
    """The demo operator file: user name on the first line, password on the second."""
    try:
        lines = path.read_text().split()
    except OSError:
        return None, None
    return (lines[0], lines[1]) if len(lines) >= 2 else (None, None)
