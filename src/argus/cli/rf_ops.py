"""RF operations commands, added to the ``argus rf`` Typer app by :func:`register`:
``receivers add|list|remove|check``, ``acquire``, ``prune``, ``sweep``, ``maintain``,
``serve-receiver``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from argus.cli.common import console, fail, session_scope_from_settings, settings


def _store() -> Any:
    from argus.db.objectstore import ObjectStore

    return ObjectStore.from_settings(settings())


def register(app: typer.Typer) -> None:
    """Add the RF operations commands to ``app`` (the ``argus rf`` Typer app)."""
    from argus.rf import service

    receivers = typer.Typer(help="Receivers: add, list, remove, check.", no_args_is_help=True)
    app.add_typer(receivers, name="receivers")

    @receivers.command("add")
    def receivers_add(
        name: Annotated[str, typer.Option(help="Unique receiver name.")],
        lat_deg: Annotated[float, typer.Option(help="Latitude, degrees.")],
        lon_deg: Annotated[float, typer.Option(help="Longitude, degrees.")],
        kind: Annotated[str, typer.Option(help="network, websdr, simulated or sigmf.")] = "network",
        url: Annotated[
            str | None, typer.Option(help="ws://host:port, http(s)://… or a folder.")
        ] = None,
        alt_m: Annotated[float, typer.Option(help="Altitude, m.")] = 0.0,
        sample_rate_hz: Annotated[float, typer.Option(help="Sample rate, Hz.")] = 2e6,
        min_frequency_hz: Annotated[float | None, typer.Option()] = None,
        max_frequency_hz: Annotated[float | None, typer.Option()] = None,
        clock_source: Annotated[str, typer.Option()] = "unknown",
        clock_sigma_ns: Annotated[
            float, typer.Option(help="Clock timing error, ns (1 sigma).")
        ] = 50.0,
    ) -> None:
        try:
            with session_scope_from_settings() as s:
                r = service.add_receiver(
                    s, name=name, kind=kind, url=url, lat_deg=lat_deg, lon_deg=lon_deg,
                    alt_m=alt_m, sample_rate_hz=sample_rate_hz,
                    min_frequency_hz=min_frequency_hz, max_frequency_hz=max_frequency_hz,
                    clock_source=clock_source, clock_sigma_s=clock_sigma_ns * 1e-9,
                )  # fmt: skip
                rid = r.id
        except service.InvalidInput as exc:
            raise fail(str(exc)) from None
        console.print(f"receiver {name} added (id {rid})")

    @receivers.command("list")
    def receivers_list(
        as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    ) -> None:
        with session_scope_from_settings() as s:
            rows = [service.receiver_json(r) for r in service.list_receivers(s)]
        if as_json:
            console.print_json(json.dumps(rows, default=str))
            return
        table = Table("id", "name", "kind", "url", "lat", "lon", "status", "last seen")
        for r in rows:
            table.add_row(
                str(r["id"]), r["name"], r["kind"], r["url"] or "", f"{r['lat_deg']:.5f}",
                f"{r['lon_deg']:.5f}", r["status"], str(r["last_seen_at"] or ""),
            )  # fmt: skip
        console.print(table)

    @receivers.command("remove")
    def receivers_remove(receiver: Annotated[str, typer.Argument(help="Name or id.")]) -> None:
        try:
            with session_scope_from_settings() as s:
                service.remove_receiver(s, service.find_receiver(s, receiver).id)
        except service.NotFoundError as exc:
            raise fail(str(exc)) from None
        console.print(f"receiver {receiver} removed")

    @receivers.command("check")
    def receivers_check(
        receiver: Annotated[
            str | None, typer.Argument(help="Name or id; all when left out.")
        ] = None,
    ) -> None:
        try:
            with session_scope_from_settings() as s:
                targets = (
                    [service.find_receiver(s, receiver)] if receiver else service.list_receivers(s)
                )
                for r in targets:
                    service.check_receiver(s, r.id)
                    console.print(
                        f"{r.name}: {r.status}" + (f" ({r.last_error})" if r.last_error else "")
                    )
        except service.NotFoundError as exc:
            raise fail(str(exc)) from None

    @app.command("acquire")
    def acquire(
        frequency_hz: Annotated[float, typer.Option(help="Frequency to tune, Hz.")],
        duration_s: Annotated[float, typer.Option(help="Capture length, s.")],
        receivers_: Annotated[
            str | None, typer.Option("--receivers", help="Comma-separated names or ids (all).")
        ] = None,
        source: Annotated[str, typer.Option(help="network, sigmf or simulated.")] = "network",
        params: Annotated[str | None, typer.Option(help="Source options as JSON.")] = None,
        localize: Annotated[bool, typer.Option(help="Localize when >= 3 receivers.")] = True,
    ) -> None:
        from argus.db.session import make_engine, make_sessionmaker

        opts = json.loads(params) if params else None
        engine = make_engine(settings().database_url)
        factory = make_sessionmaker(engine)
        try:
            with factory() as s:
                if receivers_:
                    chosen = [service.find_receiver(s, x.strip()) for x in receivers_.split(",")]
                else:
                    chosen = service.list_receivers(s)
                infos = [service.info(r) for r in chosen]
            src = service.source_for(source, infos, opts)
            with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), console=console) as bar:  # fmt: skip
                task = bar.add_task("acquiring", total=1.0)
                res = service.acquire_iq(
                    factory, frequency_hz, duration_s, [r.id for r in infos], source=src,
                    store=_store(), localize=localize, params=opts,
                    progress=lambda p, who: bar.update(task, completed=p, description=who),
                )  # fmt: skip
        except (service.InvalidInput, service.NotFoundError) as exc:
            raise fail(str(exc)) from None
        except Exception as exc:
            raise fail(f"acquisition failed: {type(exc).__name__}: {exc}") from None
        finally:
            engine.dispose()
        console.print(
            f"acquisition {res.id}: {res.status}, {res.measurements} measurements"
            + (f", localization {res.localization_id}" if res.localization_id else "")
            + (f" ({res.localization_error})" if res.localization_error else "")
        )

    @app.command("prune")
    def prune(
        days: Annotated[int, typer.Option("--days", min=0, help="Keep the last N days.")],
    ) -> None:
        store = _store()
        with session_scope_from_settings() as s:
            report = service.prune(s, store, days)
        console.print(
            f"before {report.cutoff.isoformat()}: {len(report.partitions_dropped)} partitions "
            f"dropped, {report.measurements_deleted} measurements, "
            f"{report.acquisitions_deleted} acquisitions, {report.objects_deleted} objects removed"
        )

    @app.command("sweep")
    def sweep(
        grace_s: Annotated[
            float, typer.Option(help="Keep unnamed objects younger than this.")
        ] = 3600.0,
        stale_after_s: Annotated[float, typer.Option(help="Fail rows idle this long.")] = 3600.0,
    ) -> None:
        store = _store()
        with session_scope_from_settings() as s:
            r = service.sweep(s, store, grace_s=grace_s, stale_after_s=stale_after_s)
        console.print(
            f"{len(r.orphans_deleted)} orphan objects removed ({r.orphans_kept} within grace), "
            f"{len(r.failed_acquisitions)} abandoned acquisitions failed, "
            f"{len(r.missing_objects)} complete acquisitions with missing objects"
        )

    @app.command("maintain")
    def maintain() -> None:
        """Partitions ahead, hourly aggregates refreshed (the periodic job, run once)."""
        with session_scope_from_settings() as s:
            made = service.ensure_partitions_ahead(s)
            hours = service.refresh_hourly(s)
        console.print(f"{len(made)} partitions created, {hours} hourly aggregates refreshed")

    @app.command("serve-receiver")
    def serve_receiver(
        sigmf: Annotated[Path | None, typer.Option(help="Play this .sigmf-meta recording.")] = None,
        simulate: Annotated[
            str | None, typer.Option(help="Simulate: JSON of the emitter's fields.")
        ] = None,
        name: Annotated[str, typer.Option(help="Receiver name (simulate).")] = "rx",
        lat_deg: Annotated[float, typer.Option()] = 0.0,
        lon_deg: Annotated[float, typer.Option()] = 0.0,
        alt_m: Annotated[float, typer.Option()] = 0.0,
        sample_rate_hz: Annotated[float, typer.Option()] = 2e6,
        host: Annotated[str, typer.Option()] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535)] = 8765,
    ) -> None:
        from argus.rf import netreceiver

        if (sigmf is None) == (simulate is None):
            raise fail("give exactly one of --sigmf FILE or --simulate EMITTER_JSON")
        if sigmf is not None:
            from argus.rf.sigmf_io import read_sigmf  # type: ignore[import-not-found, unused-ignore]

            producer = netreceiver.recording_producer(read_sigmf(sigmf))
        else:
            from argus.rf.simulate import Emitter, ReceiverSpec  # type: ignore[import-not-found, unused-ignore]

            spec = ReceiverSpec(
                name=name, lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_m, clock_sigma_s=50e-9
            )
            producer = netreceiver.simulated_producer(
                Emitter(**json.loads(simulate or "{}")), spec, sample_rate_hz=sample_rate_hz
            )
        server = netreceiver.ReceiverServer(producer, host=host, port=port, name=name)
        console.print(f"receiver {name} streaming on {server.url}", highlight=False)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            server.stop()
