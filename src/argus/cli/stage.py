"""``argus stage <name>``: one stage of the defense pipeline on the NATS bus."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from argus.cli.common import console, fail, settings

stage_app = typer.Typer(
    help=(
        "Run one defense-pipeline stage on the bus (ARGUS_BUS_URL=nats://…), on this machine "
        "or another: radar, command-center, battery, interceptor, broadcast. All stages of a "
        "run share the database and the scenario (default: the defense demo)."
    ),
    no_args_is_help=True,
)

Scenario = Annotated[str | None, typer.Option(help="scenario name (default: the defense demo)")]
Run = Annotated[str, typer.Option(help="run tag shared by the stages of one run")]


def _run(name: str, scenario: str | None, run: str, **kwargs: object) -> None:
    from argus.db.session import make_engine, make_sessionmaker
    from argus.defense.service.catalog import DEMO_SCENARIO
    from argus.defense.service.stages import build_stage
    from argus.pipeline.asyncbus import make_bus
    from argus.tewa.service import scenario_id_by_name

    s = settings()
    if not s.bus_url:
        raise fail(
            "ARGUS_BUS_URL: not set. Stages on separate processes talk over NATS JetStream: "
            "export ARGUS_BUS_URL=nats://127.0.0.1:4222 (all stages in one process: "
            "`argus serve --pipeline`)",
            2,
        )
    engine = make_engine(s.database_url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        sid = scenario_id_by_name(session, scenario or DEMO_SCENARIO)
    if sid is None:
        raise fail(
            f"--scenario: no scenario {scenario or DEMO_SCENARIO!r} (`argus defense seed`)", 2
        )

    async def main() -> None:
        bus = await make_bus(s.bus_url)
        runner = build_stage(
            name, factory, sid, run, bus, scan_interval_s=s.scan_interval_s,
            detection_threshold_db=s.detection_threshold, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
        await runner.start()
        restored = getattr(runner, "restored_cycle", None)
        if restored is not None:
            n_tracks = len(runner.stage.picture)
            console.print(
                f"stage {name}: resumed after cycle {restored} ({n_tracks} tracks) from its checkpoint"
            )
        console.print(f"stage {name} running on {s.masked()['bus_url']} (run {run}); Ctrl-C stops")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(runner.run()) if hasattr(runner, "run") else None
        await stop.wait()
        if task is not None:
            task.cancel()
        await runner.stop()
        await bus.close()

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


@stage_app.command("radar")
def radar(
    site: Annotated[
        list[str] | None, typer.Option(help="radar site name(s), e.g. RAD_VBG (default: all)")
    ] = None,
    scenario: Scenario = None,
    run: Run = "live",
    lockstep: Annotated[
        bool, typer.Option(help="wait for each cycle to be flown before the next")
    ] = False,
) -> None:
    """Scan the world every ARGUS_SCAN_INTERVAL_S; publish radar.detection and the cycle."""
    _run("radar", scenario, run, sites=site, lockstep=lockstep)


@stage_app.command("command-center")
def command_center(scenario: Scenario = None, run: Run = "live") -> None:
    """Track, classify, evaluate and assign: tracking.updated, threat.level_changed, command.intercept."""
    _run("command-center", scenario, run)


@stage_app.command("battery")
def battery(
    call_sign: Annotated[
        list[str] | None, typer.Option("--call-sign", help="e.g. BAT_LA (default: all)")
    ] = None,
    scenario: Scenario = None,
    run: Run = "live",
) -> None:
    """Fire on command.intercept for these batteries: interceptor.launched."""
    _run("battery", scenario, run, call_signs=call_sign)


@stage_app.command("interceptor")
def interceptor(scenario: Scenario = None, run: Run = "live") -> None:
    """Fly the interceptors in the air: interceptor.detonation."""
    _run("interceptor", scenario, run)


@stage_app.command("broadcast")
def broadcast(scenario: Scenario = None, run: Run = "live") -> None:
    """Persist every event of the run (event log, flight and order outcomes)."""
    _run("broadcast", scenario, run)
