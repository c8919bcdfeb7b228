"""Cutout triplets: science, reference and difference stamps around candidate positions.

Real/bogus classifiers look at a small square of each of the three images centred on the
candidate (ZTF: 63 x 63 pixels; Duev et al. 2019, MNRAS 489, 3582, "braai"). The stamps are
cut for every candidate at once with fancy indexing into NaN-padded images, so a candidate
near an edge gets NaN where its stamp leaves the image and ``np.isfinite`` is the mask of the
valid pixels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["cutout_triplets", "stamp_slices"]

FloatArray = npt.NDArray[np.floating]


def _centre_pixels(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-pixel integer centres of 0-based numpy coordinates (pixel k spans k-0.5..k+0.5)."""
    xa = np.asarray(x, dtype=np.float64).reshape(-1)
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    if xa.shape != ya.shape:
        raise ValueError(f"x, y: {xa.size} x values for {ya.size} y values")
    bad = np.flatnonzero(~(np.isfinite(xa) & np.isfinite(ya)))
    if bad.size:
        raise ValueError(f"x, y: row {int(bad[0])} is not finite ({xa[bad[0]]}, {ya[bad[0]]})")
    return np.floor(xa + 0.5).astype(np.int64), np.floor(ya + 0.5).astype(np.int64)


def stamp_slices(
    x: npt.ArrayLike, y: npt.ArrayLike, size: int = 63
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index arrays, (n, size) each, of the stamps centred on (x, y)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size: must be a positive odd number of pixels, got {size}")
    xi, yi = _centre_pixels(x, y)
    offsets = np.arange(size, dtype=np.int64) - size // 2
    return yi[:, None] + offsets[None, :], xi[:, None] + offsets[None, :]


def cutout_triplets(
    new: np.ndarray,
    ref: np.ndarray,
    diff: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: int = 63,
    dtype: npt.DTypeLike = np.float32,
) -> np.ndarray:
    """Stamps of the science (``new``), reference and difference images around each candidate.

    ``x``, ``y`` are 0-based numpy pixel coordinates (column, row) of the candidates; a stamp is
    centred on the nearest pixel. Returns an array of shape ``(n, 3, size, size)`` (axis 1:
    science, reference, difference), NaN where a stamp falls outside the images. The three
    images must have the same 2-D shape (the reference already aligned onto the new image).
    A candidate whose centre pixel is outside the image is refused (it cannot be a detection
    of these images).
    """
    images = []
    for name, img in (("new", new), ("ref", ref), ("diff", diff)):
        arr = np.asarray(img)
        if arr.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D image, got shape {arr.shape}")
        images.append(arr)
    shape = images[0].shape
    for name, arr in zip(("ref", "diff"), images[1:], strict=True):
        if arr.shape != shape:
            raise ValueError(f"{name}: shape {arr.shape} differs from new's {shape}")
    rows, cols = stamp_slices(x, y, size)
    n = rows.shape[0]
    if n == 0:
        return np.zeros((0, 3, size, size), dtype=dtype)
    centre_r, centre_c = rows[:, size // 2], cols[:, size // 2]
    outside = np.flatnonzero(
        (centre_r < 0) | (centre_r >= shape[0]) | (centre_c < 0) | (centre_c >= shape[1])
    )
    if outside.size:
        k = int(outside[0])
        raise ValueError(
            f"x, y: row {k} ({float(np.asarray(x).reshape(-1)[k])}, "
            f"{float(np.asarray(y).reshape(-1)[k])}) is outside the {shape[1]} x {shape[0]} image"
        )
    half = size // 2
    # One NaN-padded cube of the three images; every stamp is then in range of the padding.
    cube = np.full((3, shape[0] + 2 * half, shape[1] + 2 * half), np.nan, dtype=dtype)
    for k, arr in enumerate(images):
        cube[k, half : half + shape[0], half : half + shape[1]] = arr
    out = cube[:, (rows + half)[:, :, None], (cols + half)[:, None, :]]  # (3, n, size, size)
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3))
