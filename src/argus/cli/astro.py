"""``argus astro``: transient detection in survey images, from the command line.

A standalone Typer sub-app (``app``) registered by the main CLI as ``argus astro``. Thin: parse,
call the engines (:mod:`argus.astro.simulate`, :mod:`argus.astro.difference`,
:mod:`argus.astro.detect`), write files, print.
"""

from __future__ import annotations

import csv
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="astro",
    help=(
        "Transient detection in survey images: simulate a reference/new pair with known truth, "
        "subtract two FITS images with ZOGY (or Alard-Lupton) and list the candidates. "
        "Try: argus astro simulate --out sim && argus astro subtract sim/new.fits sim/ref.fits -o out"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


class Algorithm(StrEnum):
    zogy = "zogy"
    alard_lupton = "alard-lupton"


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(2)


def _write_csv(path: Path, columns: dict[str, Any], order: tuple[str, ...]) -> int:
    n = len(columns[order[0]]) if order else 0
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(order)
        for i in range(n):
            w.writerow([_cell(columns[c][i]) for c in order])
    return n


def _cell(v: Any) -> Any:
    if isinstance(v, float) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "f"):
        f = float(v)
        return "" if math.isnan(f) else repr(round(f, 8))
    if hasattr(v, "item"):
        return v.item()
    return v


@app.command("simulate")
def simulate(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder to write ref.fits, new.fits and truth.csv into (created)."
        ),
    ],
    size: Annotated[int, typer.Option("--size", min=128, help="Image side in pixels.")] = 2048,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same images).")] = 0,
) -> None:
    """Simulate a reference/new image pair with a known truth table.

    Moffat PSFs with different seeing per epoch, a sky gradient, Poisson and read noise, TAN WCS
    with a sub-pixel pointing offset, stars from a luminosity function (some saturated),
    transients over SNR 3-50, variable stars, cosmic rays and hot pixels. truth.csv has
    ra, dec, x, y (0-based pixels of new.fits), flux (new-image ADU), snr, kind.
    """
    from argus.astro.fitsio import write_image
    from argus.astro.simulate import TRUTH_COLUMNS, simulate_pair

    out.mkdir(parents=True, exist_ok=True)
    with console.status(f"simulating a {size} x {size} pair (seed {seed})", spinner="dots"):
        pair = simulate_pair(size, seed)
        write_image(out / "ref.fits", pair.ref, pair.ref_header)
        write_image(out / "new.fits", pair.new, pair.new_header)
        n = _write_csv(out / "truth.csv", pair.truth, TRUTH_COLUMNS)
    kinds: dict[str, int] = {}
    for k in pair.truth["kind"]:
        kinds[str(k)] = kinds.get(str(k), 0) + 1
    console.print(
        f"wrote {out / 'ref.fits'}, {out / 'new.fits'}, {out / 'truth.csv'} ({n} rows: "
        + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
        + ")"
    )


@app.command("subtract")
def subtract(
    new: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The new (science) FITS image."
        ),
    ],
    ref: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The reference (template) FITS image."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--out", help="Folder for D.fits, Scorr.fits and candidates.csv (created)."
        ),
    ],
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.5, help="Detection threshold on Scorr, in sigma.")
    ] = 5.0,
    algorithm: Annotated[
        Algorithm,
        typer.Option(
            "--algorithm", help="zogy (Zackay, Ofek & Gal-Yam 2016) or alard-lupton (1998)."
        ),
    ] = Algorithm.zogy,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the candidates as a JSON list on stdout.")
    ] = False,
) -> None:
    """Subtract REF from NEW and extract the transient candidates.

    Uses only the two files: their WCS aligns the reference, their stars give the PSFs, the flux
    ratio and the registration noise (GAIN, SATURATE and SEEING/FWHM keywords are used when
    present). Writes D.fits (the proper difference, unit variance), Scorr.fits (the score in
    sigma) and candidates.csv (x, y, ra, dec, flux, flux_err, snr, fwhm, ellipticity, pa_deg,
    sign, flags; flags bits 1 saturated, 2 blended, 4 edge, 8 on a bright source).
    """
    from argus.astro.detect import CANDIDATE_COLUMNS, find_candidates
    from argus.astro.difference import SubtractionError, subtract_images
    from argus.astro.fitsio import read_image, write_image
    from argus.astro.psf import PSFError

    try:
        new_data, new_hdr = read_image(new)
        ref_data, ref_hdr = read_image(ref)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    try:
        with err_console.status(f"{algorithm.value}: {new.name} - {ref.name}", spinner="dots"):
            sub = subtract_images(new_data, new_hdr, ref_data, ref_hdr, algorithm=algorithm.value)
            cands = find_candidates(sub, threshold=threshold)
    except (SubtractionError, PSFError, ValueError) as exc:
        raise _fail(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    hdr = sub.header.copy()
    for key, value in sub.meta.items():
        if isinstance(value, float) and not math.isfinite(value):
            continue
        card = key.upper().replace("_", "")[:8]
        hdr[f"HIERARCH ARGUS {key.upper()}"[:60] if len(card) < len(key) else card] = value
    write_image(out / "D.fits", sub.D, hdr)
    write_image(out / "Scorr.fits", sub.Scorr, hdr)
    n = _write_csv(out / "candidates.csv", cands, CANDIDATE_COLUMNS)
    if as_json:
        rows = [{c: _cell(cands[c][i]) for c in CANDIDATE_COLUMNS} for i in range(n)]
        for r in rows:
            for k, v in r.items():
                if isinstance(v, str) and k not in ("sign", "flags"):
                    r[k] = float(v) if v else None
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{n} candidates above {threshold:g} sigma ({algorithm.value})")
    for col in ("x", "y", "ra", "dec", "flux", "snr", "sign", "flags"):
        table.add_column(col, justify="right")
    for i in range(min(n, 15)):
        table.add_row(
            f"{cands['x'][i]:.1f}", f"{cands['y'][i]:.1f}", f"{cands['ra'][i]:.6f}",
            f"{cands['dec'][i]:.6f}", f"{cands['flux'][i]:.1f}", f"{cands['snr'][i]:.1f}",
            str(int(cands["sign"][i])), str(int(cands["flags"][i])),
        )  # fmt: skip
    console.print(table)
    m = sub.meta
    console.print(
        f"PSF FWHM new {float(m['fwhm_new_px']):.2f} px / ref {float(m['fwhm_ref_px']):.2f} px "
        f"({m['psf_source']}), flux ratio {sub.flux_ratio:.4g} ({m['flux_ratio_source']}), "
        f"registration rms {float(m['registration_rms_px']):.3f} px; wrote {out}/D.fits, "
        f"Scorr.fits, candidates.csv"
    )


# train, pipeline (argus.astro.service)
from argus.cli import astro_ops as _astro_ops  # noqa: E402

_astro_ops.register(app)
