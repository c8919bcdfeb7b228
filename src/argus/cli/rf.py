"""``argus rf``: measure SigMF captures, locate their emitter, simulate a receiver network.

A standalone Typer sub-app (``app``) registered by the main CLI as ``argus rf``. Thin: parse,
call the engines (:mod:`argus.rf.sigmf_io`, :mod:`argus.rf.measure`, :mod:`argus.rf.locate`,
:mod:`argus.rf.simulate`), print. Definitions of every printed figure: ``docs/rf.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    name="rf",
    help=(
        "Radio-frequency sensing: measure IQ captures (SNR, noise floor, frequency offset, "
        "occupied bandwidth), locate an emitter from several receivers (TDOA, RSS or both, with "
        "the 95 % error ellipse), and simulate a receiver network.\n\n"
        "Files are SigMF pairs (.sigmf-meta + .sigmf-data, cf32_le) whose captures carry "
        "core:datetime (to the nanosecond) and core:geolocation (the receiver). Try:\n\n"
        "  argus rf simulate --out /tmp/rf --receivers 5 --kind wideband --snr-db 20\n\n"
        "  argus rf localize /tmp/rf/*.sigmf-meta --alt-m 10 --truth /tmp/rf/truth.json"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


class Kind(StrEnum):
    cw = "cw"
    nfm = "nfm"
    wideband = "wideband"
    burst = "burst"


class Method(StrEnum):
    auto = "auto"
    tdoa = "tdoa"
    rss = "rss"
    fused = "fused"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def _json_safe(value: Any) -> Any:
    """Non-finite floats become None (JSON has no infinity); containers recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _read(path: Path) -> Any:
    from argus.rf.recording import RecordingError
    from argus.rf.sigmf_io import read_sigmf

    try:
        return read_sigmf(path)
    except RecordingError as exc:
        raise _fail(str(exc)) from None


def _progress(disable: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=disable,
        transient=True,
    )


def _fmt(value: float | None, spec: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return format(value, spec)


@app.command("measure")
def measure(
    file: Annotated[
        Path,
        typer.Argument(dir_okay=False, help="A .sigmf-meta file (its .sigmf-data beside it)."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    nfft: Annotated[
        int, typer.Option(min=64, help="Welch segment length (resolution 1.5·fs/nfft).")
    ] = 1024,
) -> None:
    """Measure one capture: SNR, signal power, noise floor, frequency offset, bandwidth, duty.

    SNR is the signal power over the noise in the whole sampled band; the noise floor is in
    dBFS per Hz; the occupied bandwidth holds 99 % of the signal power (docs/rf.md).
    """
    from argus.rf.measure import measure_iq

    rec = _read(file)
    try:
        m = measure_iq(rec.iq, rec.sample_rate_hz, nfft=nfft)
    except ValueError as exc:
        raise _fail(f"{file.name}: {exc}") from None
    out = {
        "file": str(file),
        "receiver": rec.receiver,
        "center_frequency_hz": rec.center_frequency_hz,
        "sample_rate_hz": rec.sample_rate_hz,
        "samples": int(rec.iq.size),
        **m.as_dict(),
    }
    if as_json:
        print(json.dumps(_json_safe(out)))
        return
    table = Table(title=f"{file.name} ({rec.receiver})", show_header=False)
    table.add_row("SNR (whole band)", f"{_fmt(m.snr_db, '.2f')} dB")
    table.add_row("SNR (in band)", f"{_fmt(m.psd_summary.get('snr_in_band_db'), '.2f')} dB")
    table.add_row("signal power", f"{_fmt(m.signal_power_dbfs, '.2f')} dBFS")
    table.add_row("noise floor", f"{_fmt(m.noise_floor_dbfs, '.2f')} dBFS/Hz")
    table.add_row("frequency offset (centroid)", f"{_fmt(m.frequency_offset_hz, '.2f')} Hz")
    table.add_row("peak offset", f"{_fmt(m.peak_offset_hz, '.2f')} Hz")
    table.add_row("occupied bandwidth (99 %)", f"{_fmt(m.occupied_bandwidth_hz, '.1f')} Hz")
    table.add_row("duty cycle", f"{m.duty_cycle:.3f}")
    console.print(table)


@app.command("localize")
def localize_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(dir_okay=False, help="One .sigmf-meta per receiver (same tuning)."),
    ],
    alt_m: Annotated[
        float | None,
        typer.Option("--alt-m", help="Emitter altitude (m); default the receivers' mean."),
    ] = None,
    clock_sigma_ns: Annotated[
        float, typer.Option("--clock-sigma-ns", min=0.0, help="Receiver timing error, 1σ (ns).")
    ] = 50.0,
    method: Annotated[
        Method, typer.Option(help="auto: TDOA/RSS/fused as the data allow.")
    ] = Method.auto,
    shadowing_db: Annotated[
        float, typer.Option(min=0.0, help="RSS model: lognormal shadowing σ (dB).")
    ] = 4.0,
    path_loss_exponent: Annotated[
        float, typer.Option(min=1.0, help="RSS model: path-loss exponent (2 = free space).")
    ] = 2.0,
    truth: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="truth.json of `argus rf simulate`: print the error."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Locate the emitter seen in several receivers' captures.

    Receivers come from each file's core:geolocation, times from core:datetime. Prints the
    position, the method (tdoa / rss / fused), the 95 % error ellipse (semi-axes in m,
    orientation clockwise from north), the covariance, the Cramér–Rao bound, the GDOP and
    each receiver's measurements (with why it was left out, if it was).
    """
    from argus.rf.locate import LocalizationError, localize
    from argus.rf.measure import measure_iq

    if len(files) < 2:
        raise _fail("files: at least 2 receivers' captures are needed")
    recs, meas = [], []
    with _progress(as_json) as progress:
        task = progress.add_task("reading and measuring", total=len(files))
        for path in files:
            rec = _read(path)
            recs.append(rec)
            try:
                meas.append(measure_iq(rec.iq, rec.sample_rate_hz))
            except ValueError as exc:
                raise _fail(f"{path.name}: {exc}") from None
            progress.advance(task)
        progress.add_task("locating", total=None)
        try:
            loc = localize(
                recs,
                alt_m=alt_m,
                clock_sigma_s=clock_sigma_ns * 1e-9,
                method=method.value,
                shadowing_db=shadowing_db,
                path_loss_exponent=path_loss_exponent,
                measurements=meas,
            )
        except LocalizationError as exc:
            raise _fail(str(exc), 1) from None
    out = loc.as_dict()
    if truth is not None:
        out["truth"] = _truth_error(truth, loc.lat_deg, loc.lon_deg)
    if as_json:
        print(json.dumps(_json_safe(out)))
        return
    a, b, o = loc.ellipse95
    console.print(
        f"[bold]{loc.lat_deg:.6f}, {loc.lon_deg:.6f}[/] (alt {loc.alt_m:.0f} m) by "
        f"[bold]{loc.method}[/] from {len(loc.receivers_used)} receivers"
    )
    console.print(
        f"95 % ellipse: {a:.1f} m × {b:.1f} m, major axis {o:.1f}° from north; "
        f"CRLB {loc.crlb_m:.1f} m RMS; GDOP {loc.gdop:.2f}"
    )
    c = loc.cov_enu_m2
    console.print(
        f"covariance (east, north) m²: [[{c[0, 0]:.1f}, {c[0, 1]:.1f}], [{c[1, 0]:.1f}, {c[1, 1]:.1f}]]"
    )
    if "truth" in out:
        t = out["truth"]
        console.print(
            f"truth {t['lat_deg']:.6f}, {t['lon_deg']:.6f}: error {t['error_m']:.1f} m "
            f"({t['error_m'] / max(loc.crlb_m, 1e-9):.2f} × CRLB)"
        )
    table = Table(title="receivers")
    for col in ("name", "SNR dB", "power dBFS", "f offset Hz", "TDOA µs", "σ ns", "used", "reason"):
        table.add_column(col)
    for p in loc.per_receiver:
        tdoa = p["tdoa_s"]
        sig = p["tdoa_sigma_s"]
        table.add_row(
            p["name"],
            _fmt(p["snr_db"], ".1f"),
            _fmt(p["power_dbfs"], ".1f"),
            _fmt(p["frequency_offset_hz"], ".1f"),
            "—" if tdoa is None else f"{tdoa * 1e6:.4f}",
            "—" if sig is None else f"{sig * 1e9:.1f}",
            ",".join(p["used_for"]) or "no",
            p["reason"],
        )
    console.print(table)


def _truth_error(path: Path, lat_deg: float, lon_deg: float) -> dict[str, float]:
    from argus.geo import enu_offsets

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        em = doc["emitter"]
        t_lat, t_lon = float(em["lat_deg"]), float(em["lon_deg"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _fail(f"--truth {path}: needs emitter.lat_deg and emitter.lon_deg ({exc})") from None
    e, n, _ = enu_offsets(lat_deg, lon_deg, t_lat, t_lon)
    return {
        "lat_deg": t_lat,
        "lon_deg": t_lon,
        "east_m": float(e),
        "north_m": float(n),
        "error_m": float(math.hypot(float(e), float(n))),
    }


@app.command("simulate")
def simulate_cmd(
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Output directory.")],
    receivers: Annotated[int, typer.Option(min=2, max=64, help="Receivers in the network.")] = 5,
    kind: Annotated[Kind, typer.Option(help="What the emitter sends.")] = Kind.wideband,
    snr_db: Annotated[
        float, typer.Option(help="SNR (whole band) at the strongest receiver, dB.")
    ] = 20.0,
    seed: Annotated[int, typer.Option(help="Random seed (network, emitter, noise).")] = 1,
    duration_ms: Annotated[float, typer.Option(min=0.1, help="Capture length (ms).")] = 5.0,
    sample_rate_hz: Annotated[float, typer.Option(min=1e3, help="Sample rate (S/s).")] = 2e6,
    frequency_hz: Annotated[float, typer.Option(min=1e3, help="Tuning (Hz).")] = 145e6,
    lat_deg: Annotated[float, typer.Option(help="Network centre latitude.")] = 45.07,
    lon_deg: Annotated[float, typer.Option(help="Network centre longitude.")] = 7.69,
    radius_km: Annotated[float, typer.Option(min=0.1, help="Network radius (km).")] = 30.0,
    clock_sigma_ns: Annotated[float, typer.Option(min=0.0, help="Clock error 1σ (ns).")] = 50.0,
    shadowing_db: Annotated[float, typer.Option(min=0.0, help="Lognormal shadowing σ.")] = 4.0,
) -> None:
    """Simulate one emitter seen by a random receiver network; write one SigMF pair per
    receiver (rx1.sigmf-meta …) and truth.json (emitter, delays, clock errors, SNRs)."""
    from argus.rf.sigmf_io import write_sigmf
    from argus.rf.simulate import (
        Emitter,
        PathLoss,
        random_emitter_position,
        random_network,
        simulate_acquisition,
    )

    specs = random_network(
        receivers,
        center_lat_deg=lat_deg,
        center_lon_deg=lon_deg,
        radius_m=radius_km * 1e3,
        seed=seed,
        clock_sigma_s=clock_sigma_ns * 1e-9,
    )
    e_lat, e_lon = random_emitter_position(
        center_lat_deg=lat_deg,
        center_lon_deg=lon_deg,
        half_width_m=radius_km * 1e3 * 0.8,
        seed=seed + 1,
    )
    emitter = Emitter(e_lat, e_lon, alt_m=10.0, kind=kind.value)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    recs, truth = simulate_acquisition(
        emitter,
        specs,
        sample_rate_hz=sample_rate_hz,
        center_frequency_hz=frequency_hz,
        duration_s=duration_ms * 1e-3,
        start=start,
        seed=seed + 2,
        snr_db=snr_db,
        path_loss=PathLoss(shadowing_db=shadowing_db),
    )
    out.mkdir(parents=True, exist_ok=True)
    with _progress(False) as progress:
        task = progress.add_task("writing SigMF", total=len(recs))
        for rec in recs:
            write_sigmf(out / rec.receiver, rec)
            progress.advance(task)
    (out / "truth.json").write_text(json.dumps(truth.as_dict(), indent=2), encoding="utf-8")
    console.print(
        f"{len(recs)} receivers × {recs[0].iq.size} samples written to [bold]{out}[/] "
        f"(emitter {kind.value} at {e_lat:.5f}, {e_lon:.5f}; truth.json)"
    )


# receivers, acquisitions, retention, sweeper and the network receiver (argus.rf.service)
from argus.cli import rf_ops as _rf_ops  # noqa: E402

_rf_ops.register(app)
