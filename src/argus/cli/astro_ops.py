"""``argus astro train|pipeline`` and ``argus demo astro``: the astro service from the shell.

Thin: parse, call ``argus.astro.service`` (or the engine that trains), print. Registered on
the ``astro`` sub-app by ``argus.cli.astro`` and on ``demo`` by :func:`register_demo`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from argus.cli.common import fail, session_scope_from_settings, settings

console = Console()


def _train(n_samples: int, seed: int) -> dict[str, Any]:
    from argus.astro import service
    from argus.astro.realbogus import train_real_bogus

    with console.status(f"simulating {n_samples} candidate triplets and training…"):
        model, metrics = train_real_bogus(n_samples=n_samples, seed=seed)
    scalars = {k: v for k, v in metrics.items() if isinstance(v, int | float | str)}
    with session_scope_from_settings() as session:
        row = service.register_model(
            session, name="real_bogus_hgb", model_type="real_bogus", blob=model.to_bytes(),
            metrics=metrics if _jsonable(metrics) else scalars,
            training_dataset=f"argus.astro.rbsim n={n_samples} seed={seed}",
        )  # fmt: skip
        version = row.version
    return {"version": version, **scalars}


def _jsonable(value: Any) -> bool:
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        n_samples: Annotated[
            int,
            typer.Option(
                "--n",
                min=500,
                max=200_000,
                help="simulated candidate triplets (the default reaches TPR 96 % at 1 % FPR, "
                "benchmarks/README.md; about 10 min on one core, 20,000 about 4 min at ~95.7 %)",
            ),
        ] = 50_000,
        seed: Annotated[int, typer.Option(help="simulation and training seed")] = 0,
    ) -> None:
        """Train the real/bogus classifier on simulated triplets (injected transients against
        cosmic rays, bad subtractions, dipoles, hot pixels and noise peaks), report it on a
        held-out split, and register it as the active real_bogus model. `argus astro pipeline`
        refuses to score without one."""
        t0 = time.perf_counter()
        m = _train(n_samples, seed)
        table = Table(title="real/bogus, held-out split")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k, v in m.items():
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
        console.print(table)
        console.print(f"registered real_bogus model in {time.perf_counter() - t0:.0f} s")

    @app.command("pipeline")
    def pipeline(
        folder: Annotated[Path, typer.Argument(help="a folder of FITS files (or one file)")],
        survey: Annotated[str | None, typer.Option(help="survey name (default: header)")] = None,
        threshold: Annotated[float, typer.Option(help="Scorr detection threshold (sigma)")] = 5.0,
        algorithm: Annotated[str, typer.Option(help="zogy or alard-lupton")] = "zogy",
        bias: Annotated[
            list[Path] | None, typer.Option("--bias", help="a bias frame (repeat for several)")
        ] = None,
        dark: Annotated[
            list[Path] | None,
            typer.Option("--dark", help="a dark frame, EXPTIME in its header (repeatable)"),
        ] = None,
        flat: Annotated[
            list[Path] | None, typer.Option("--flat", help="a flat frame (repeatable)")
        ] = None,
        preprocess: Annotated[
            bool,
            typer.Option(
                "--preprocess/--no-preprocess",
                help="calibrate, mask cosmic rays and register the reference before differencing",
            ),
        ] = True,
        retries: Annotated[
            int, typer.Option(min=0, max=10, help="retries of a failing preprocessing step")
        ] = 0,
    ) -> None:
        """Ingest a folder of FITS files and run it to alerts: the earliest observation is the
        reference; every observation is preprocessed (bias/dark/flat from --bias/--dark/--flat
        or from the folder's frames whose IMAGETYP says BIAS, DARK or FLAT, cosmic rays masked
        with L.A.Cosmic, background, the reference registered on the stars), every other one
        is differenced against the reference (ZOGY), candidates are extracted on Scorr, scored
        by the registered real/bogus model, and alerts raised by the rules."""
        from argus.astro import service
        from argus.db.objectstore import ObjectStore

        if not folder.exists():
            raise fail(f"FOLDER: {folder} does not exist", 2)
        for name, paths in (("--bias", bias), ("--dark", dark), ("--flat", flat)):
            for p in paths or []:
                if not p.is_file():
                    raise fail(f"{name}: {p} is not a file", 2)
        store = ObjectStore.from_settings(settings())
        try:
            calibration = service.calibration_frames(
                bias=bias or [], dark=dark or [], flat=flat or []
            )
            with (
                session_scope_from_settings() as session,
                console.status("ingest → preprocess → difference → candidates → alerts…"),
            ):
                out = service.run_pipeline(
                    session, store, folder, survey=survey, threshold=threshold,
                    algorithm=algorithm.replace("-", "_"), preprocess=preprocess,
                    calibration=calibration, retries=retries,
                )  # fmt: skip
        except (service.NoActiveModel, service.InvalidInput, service.RejectedBatch) as exc:
            raise fail(str(exc), 2) from None
        table = Table(title=f"workflow {out['workflow_id']}")
        for col in ("observation", "registration rms (px)", "difference run", "candidates",
                    "alerts"):  # fmt: skip
            table.add_column(col)
        for o in out["observations"]:
            q = o.get("registration_quality")
            table.add_row(str(o["observation_id"]), "-" if q is None else f"{q:.3f}",
                          str(o.get("difference_run_id")), str(o.get("candidates")),
                          str(o.get("alerts")))  # fmt: skip
        console.print(table)
        for err in out["errors"]:
            console.print(f"[red]error[/]: {err}")
        if out["errors"]:
            raise typer.Exit(1)


def register_demo(demo_app: typer.Typer) -> None:
    @demo_app.command("astro")
    def demo_astro(
        size: Annotated[int, typer.Option(min=256, max=4096, help="image side (pixels)")] = 1024,
        seed: Annotated[int, typer.Option(help="simulation seed")] = 0,
    ) -> None:
        """Simulate a reference/new pair with known transients, train and register a real/bogus
        model if none is registered, run the pipeline on the pair, and print the console URL."""
        from argus.astro import service
        from argus.astro.fitsio import write_image
        from argus.astro.simulate import simulate_pair

        s = settings()
        folder = Path(s.var_dir) / "astro-demo" / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        pair = simulate_pair(size, seed=seed)
        write_image(folder / "ref.fits", pair.ref, pair.ref_header)
        write_image(folder / "new.fits", pair.new, pair.new_header)
        with session_scope_from_settings() as session:
            try:
                service.active_model(session)
                have_model = True
            except service.NoActiveModel:
                have_model = False
        if not have_model:
            console.print("no real/bogus model registered: training one (5,000 triplets)")
            _train(5000, seed)
        from argus.db.objectstore import ObjectStore

        store = ObjectStore.from_settings(s)
        with session_scope_from_settings() as session:
            out = service.run_pipeline(session, store, folder, survey=f"ArgusSim-{seed}")
        n = sum(o["candidates"] for o in out["observations"])
        a = sum(o["alerts"] for o in out["observations"])
        truth = int((pair.truth["kind"] == "transient").sum())
        console.print(
            f"{truth} transients injected; {n} candidates, {a} alerts stored "
            f"(workflow {out['workflow_id']})"
        )
        console.print(f"console: http://{s.host}:{s.port}/ (run `argus serve`)")
