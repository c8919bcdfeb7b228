"""RF operations commands, added to the ``argus rf`` Typer app by :func:`register`:
``receivers add|list|remove|check``, ``acquire``, ``prune``, ``sweep``, ``maintain``,
``serve-receiver``; and ``argus demo rf`` (:func:`register_demo`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

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


# ---- argus demo rf -----------------------------------------------------------------------------

#: The demo network: receivers ``demo-rx1..N`` around Turin, 20 km out, GPS-disciplined clocks.
DEMO_CENTER_DEG = (45.07, 7.68)
DEMO_RADIUS_M = 20_000.0
DEMO_FREQUENCY_HZ = 145.5e6
DEMO_SAMPLE_RATE_HZ = 2e6
#: Time between the demo's acquisitions (their simulated start times end now).
DEMO_SPACING = 10  # minutes


def run_rf_demo(
    factory: Any,
    store: Any,
    *,
    n_receivers: int = 5,
    acquisitions: int = 3,
    seed: int = 0,
    snr_db: float = 20.0,
    kind: str = "wideband",
    duration_s: float = 0.01,
    now: Any = None,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Receivers ``demo-rx1..N`` (added once, health-checked), then ``acquisitions`` simulated
    acquisitions of one emitter inside the network through ``service.acquire_iq`` (simulation,
    SigMF into the store, measurements, localization), the hourly aggregates refreshed.

    Returns each acquisition's localization (``service.localization_json`` + the acquisition id
    and its error), oldest first; an acquisition that could not be located has ``None`` fields.
    """
    import dataclasses
    import datetime as dt

    import numpy as np

    from argus.db.session import session_scope
    from argus.geo import enu_to_geodetic
    from argus.rf import service
    from argus.rf.simulate import Emitter, random_network

    specs = random_network(
        n_receivers, center_lat_deg=DEMO_CENTER_DEG[0], center_lon_deg=DEMO_CENTER_DEG[1],
        radius_m=DEMO_RADIUS_M, seed=seed,
    )  # fmt: skip
    with session_scope(factory) as s:
        existing = {r.name: r for r in service.list_receivers(s)}
        ids = []
        for i, spec in enumerate(specs, start=1):
            name = f"demo-rx{i}"
            row = existing.get(name)
            if row is None:
                row = service.add_receiver(
                    s, name=name, kind="simulated", url=None, lat_deg=spec.lat_deg,
                    lon_deg=spec.lon_deg, alt_m=spec.alt_m, sample_rate_hz=DEMO_SAMPLE_RATE_HZ,
                    clock_source="gpsdo", clock_sigma_s=spec.clock_sigma_s,
                )  # fmt: skip
            ids.append(row.id)
    with session_scope(factory) as s:
        for rid in ids:
            service.check_receiver(s, rid)
        infos = [service.info(service.get_receiver(s, rid)) for rid in ids]
    rng = np.random.default_rng(seed)
    # the emitter: inside the network, up to half its radius from the centre
    r_m, az = DEMO_RADIUS_M * 0.5 * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
    lat, lon, _ = enu_to_geodetic(
        r_m * np.sin(az), r_m * np.cos(az), 0.0, DEMO_CENTER_DEG[0], DEMO_CENTER_DEG[1], 0.0
    )
    emitter = Emitter(
        lat_deg=round(float(lat), 6), lon_deg=round(float(lon), 6), kind=cast(Any, kind)
    )
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    out: list[dict[str, Any]] = []
    for k in range(acquisitions):
        start = stamp - dt.timedelta(minutes=DEMO_SPACING * (acquisitions - 1 - k))
        snr = float(snr_db + rng.uniform(-3.0, 3.0))  # the link fades a little between runs
        run_seed = seed * 1000 + k
        source = service.SimulatedNetworkSource(
            emitter, infos, sample_rate_hz=DEMO_SAMPLE_RATE_HZ, start=start, seed=run_seed,
            snr_db=snr,
        )  # fmt: skip
        params = {
            "emitter": dataclasses.asdict(emitter), "seed": run_seed, "snr_db": snr,
            "start": start.isoformat(), "sample_rate_hz": DEMO_SAMPLE_RATE_HZ,
        }  # fmt: skip

        def step(p: float, who: str, k: int = k) -> None:
            if progress is not None:
                progress(k, p, who)

        res = service.acquire_iq(
            factory, DEMO_FREQUENCY_HZ, duration_s, ids, source=source, store=store,
            params=params, created_by="demo", progress=step,
        )  # fmt: skip
        entry: dict[str, Any] = {"acquisition_id": res.id, "error": res.localization_error}
        if res.localization_id is not None:
            with session_scope(factory) as s:
                entry.update(
                    service.localization_json(service.get_localization(s, res.localization_id))
                )
        out.append(entry)
    with session_scope(factory) as s:
        service.refresh_hourly(s)
    return out


def register_demo(demo_app: typer.Typer) -> None:
    """Add ``argus demo rf`` to the ``argus demo`` Typer app."""

    @demo_app.command("rf")
    def demo_rf(
        serve: Annotated[
            bool,
            typer.Option(
                "--serve/--no-serve", help="serve the API and console afterwards (default)"
            ),
        ] = True,
        n_receivers: Annotated[
            int, typer.Option("--receivers", min=3, max=12, help="receivers in the network")
        ] = 5,
        acquisitions: Annotated[
            int, typer.Option(min=1, max=48, help="acquisitions, 10 simulated minutes apart")
        ] = 3,
        seed: Annotated[int, typer.Option(help="network, emitter and noise seed")] = 0,
        snr_db: Annotated[
            float, typer.Option(min=-10, max=60, help="SNR at the strongest receiver, dB (±3)")
        ] = 20.0,
        kind: Annotated[str, typer.Option(help="emitter: wideband, burst, nfm or cw")] = "wideband",
        duration_s: Annotated[
            float, typer.Option(min=0.001, max=1.0, help="capture length, s")
        ] = 0.01,
    ) -> None:
        """Simulate a multi-receiver network around Turin (receivers demo-rx1..N), run simulated
        acquisitions of one emitter through the real service (SigMF in the object store,
        measurements in the time series, TDOA/RSS localization), and print each localization
        against the truth. With ``--serve`` (default) the console then shows it at the printed
        URL (RF tab); ``--no-serve`` stops after printing."""
        from argus.cli.ops import require_migrated
        from argus.db.session import make_engine, make_sessionmaker
        from argus.rf.simulate import KINDS

        if kind not in KINDS:
            raise fail(f"--kind: one of {', '.join(KINDS)}, got {kind!r}", 2)
        require_migrated()
        s = settings()
        engine = make_engine(s.database_url)
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), console=console, transient=True) as bar:  # fmt: skip
                task = bar.add_task("acquiring", total=float(acquisitions))
                rows = run_rf_demo(
                    make_sessionmaker(engine), _store(), n_receivers=n_receivers,
                    acquisitions=acquisitions, seed=seed, snr_db=snr_db, kind=kind,
                    duration_s=duration_s,
                    progress=lambda k, p, who: bar.update(
                        task, completed=k + p, description=f"acquisition {k + 1}: {who}"
                    ),
                )  # fmt: skip
        except Exception as exc:
            raise fail(f"demo rf failed: {type(exc).__name__}: {exc}") from None
        finally:
            engine.dispose()
        table = Table(title=f"argus demo rf: {n_receivers} receivers, {acquisitions} acquisitions")
        # error: to the simulated truth; a, b, orient: the 95 % ellipse (major axis from north)
        for col in ("id", "lat °", "lon °", "method", "error m", "a m", "b m", "orient °",
                    "CRLB m"):  # fmt: skip
            table.add_column(col, justify="right")
        for r in rows:
            if r.get("id") is None:
                table.add_row("-", "-", "-", r["error"] or "not located", *["-"] * 5)
                continue
            e = r["ellipse95"]
            table.add_row(
                str(r["id"]), f"{r['lat_deg']:.6f}", f"{r['lon_deg']:.6f}", r["method"],
                "-" if r["error_m"] is None else f"{r['error_m']:.1f}",
                f"{e['a_m']:.1f}", f"{e['b_m']:.1f}", f"{e['orient_deg']:.1f}",
                "-" if r["crlb_m"] is None else f"{r['crlb_m']:.1f}",
            )  # fmt: skip
        console.print(table)
        last = next((r for r in reversed(rows) if r.get("id") is not None), None)
        if last is not None:
            t = last["truth"]["emitter"]
            e = last["ellipse95"]
            console.print(
                f"localization {last['id']}: lat {last['lat_deg']:.6f} lon {last['lon_deg']:.6f} "
                f"method {last['method']}; truth lat {t['lat_deg']:.6f} lon {t['lon_deg']:.6f}; "
                f"error {last['error_m']:.1f} m; 95 % ellipse {e['a_m']:.1f} x {e['b_m']:.1f} m "
                f"at {e['orient_deg']:.1f} deg",
                highlight=False,
            )
        url = f"http://{s.host}:{s.port}/#rf"
        if not serve:
            console.print(f"console: {url} (run `argus serve`)", highlight=False)
            return
        console.print(f"console: {url}", highlight=False)
        from argus.cli.main import serve as serve_cmd

        serve_cmd(
            host=None, port=None, migrate_first=False, scheduler=True, workers=1, pipeline=False
        )
