"""Stamps of a candidate for the console: science (new), reference and difference cutouts read
from the difference run's stored FITS products, and a PNG of the three."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from argus.astro.service.errors import InvalidInput
from argus.astro.service.products import get_candidate, get_difference_run, product_bytes
from argus.db.objectstore import ObjectStore

MAX_STAMP = 255


@dataclass(frozen=True)
class Stamps:
    science: npt.NDArray[np.float64]
    reference: npt.NDArray[np.float64]
    difference: npt.NDArray[np.float64]


def _read(data: bytes) -> npt.NDArray[np.float64]:
    from astropy.io import fits  # type: ignore[import-untyped]

    with fits.open(io.BytesIO(data)) as hdul:
        return np.asarray(hdul[0].data, dtype=float)


def cut(image: npt.NDArray[np.float64], x: float, y: float, size: int) -> npt.NDArray[np.float64]:
    """A ``size`` × ``size`` stamp centred on pixel (x, y) (0-based, x = column); outside the
    image is NaN."""
    out = np.full((size, size), np.nan)
    cx, cy = round(x), round(y)
    half = size // 2
    y0, x0 = cy - half, cx - half
    ys = slice(max(0, y0), min(image.shape[0], y0 + size))
    xs = slice(max(0, x0), min(image.shape[1], x0 + size))
    if ys.start < ys.stop and xs.start < xs.stop:
        out[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = image[ys, xs]
    return out


def candidate_stamps(
    session: Session, store: ObjectStore, candidate_id: object, *, size: int = 63
) -> Stamps:
    if not (8 <= size <= MAX_STAMP):
        raise InvalidInput(f"size: {size} is not in [8, {MAX_STAMP}]")
    c = get_candidate(session, candidate_id)  # type: ignore[arg-type]
    run = get_difference_run(session, c.difference_run_id)
    return Stamps(
        science=cut(_read(product_bytes(store, run, "new")), c.pixel_x, c.pixel_y, size),
        reference=cut(_read(product_bytes(store, run, "ref")), c.pixel_x, c.pixel_y, size),
        difference=cut(_read(product_bytes(store, run, "D")), c.pixel_x, c.pixel_y, size),
    )


def _zscale_limits(image: npt.NDArray[np.float64]) -> tuple[float, float]:
    """IRAF's zscale display limits of the finite pixels (0, 1 when there are none)."""
    from astropy.visualization import ZScaleInterval  # type: ignore[import-untyped]

    finite = image[np.isfinite(image)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = ZScaleInterval().get_limits(finite)
    return float(lo), float(hi)


#: The cutouts of a candidate, by name, and the difference-run product each is cut from.
CUTOUT_PRODUCTS = {"science": "new", "reference": "ref", "difference": "D"}


def candidate_cutout(
    session: Session, store: ObjectStore, candidate_id: object, kind: str, *, size: int = 63
) -> npt.NDArray[np.float64]:
    """One of the candidate's three cutouts (``science``, ``reference`` or ``difference``),
    reading only that product."""
    if kind not in CUTOUT_PRODUCTS:
        raise InvalidInput(f"kind: {kind!r} is not one of {', '.join(CUTOUT_PRODUCTS)}")
    if not (8 <= size <= MAX_STAMP):
        raise InvalidInput(f"size: {size} is not in [8, {MAX_STAMP}]")
    c = get_candidate(session, candidate_id)  # type: ignore[arg-type]
    run = get_difference_run(session, c.difference_run_id)
    image = _read(product_bytes(store, run, CUTOUT_PRODUCTS[kind]))
    return cut(image, c.pixel_x, c.pixel_y, size)


def cutout_png(image: npt.NDArray[np.float64], *, scale: int = 4) -> bytes:
    """One cutout as an 8-bit grey PNG: zscale limits; the array's row 0 (the FITS image's first
    row) at the bottom, as ``stamps_png`` draws it (origin lower: north up for a standard WCS);
    each pixel drawn as ``scale`` x ``scale`` (nearest neighbour, so the pixels stay visible).
    Pixels outside the image are black."""
    from PIL import Image

    if not (1 <= scale <= 8):
        raise InvalidInput(f"scale: {scale} is not in [1, 8]")
    finite = np.isfinite(image)
    lo, hi = _zscale_limits(image)
    span = hi - lo if hi > lo else 1.0
    grey = np.clip((np.where(finite, image, lo) - lo) / span, 0.0, 1.0) * 255.0
    grey = np.flipud(np.rint(grey).astype(np.uint8))
    grey = np.repeat(np.repeat(grey, scale, axis=0), scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="PNG")
    return buf.getvalue()


def stamps_png(stamps: Stamps, *, title: str | None = None) -> bytes:
    """The three stamps side by side (zscale, grey), as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 2.8), dpi=100)
    axes = fig.subplots(1, 3)
    for ax, (name, img) in zip(
        axes,
        (
            ("science", stamps.science),
            ("reference", stamps.reference),
            ("difference", stamps.difference),
        ),
        strict=True,
    ):
        lo, hi = _zscale_limits(img)
        ax.imshow(img, origin="lower", cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
