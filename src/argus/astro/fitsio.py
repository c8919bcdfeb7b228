"""FITS image I/O (astropy.io.fits): the first image HDU in native-byte-order float, and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits  # type: ignore[import-untyped]

__all__ = ["read_image", "write_image"]


def read_image(path: str | Path, *, hdu: int | None = None) -> tuple[np.ndarray, fits.Header]:
    """The image and header of ``path``: HDU ``hdu``, or the first HDU holding a 2-D image
    (so compressed and extension-only files work). Pixels come back as native-endian float32
    (float64 when the file stores 64-bit floats), BSCALE/BZERO applied; raises ValueError naming
    the file when it holds no 2-D image."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such FITS file")
    try:
        with fits.open(p, memmap=False) as hdul:
            candidates = [hdul[hdu]] if hdu is not None else list(hdul)
            for h in candidates:
                data = getattr(h, "data", None)
                if data is not None and np.ndim(data) == 2:
                    dtype = (
                        np.float64
                        if data.dtype.itemsize == 8 and data.dtype.kind == "f"
                        else np.float32
                    )
                    return np.ascontiguousarray(data, dtype=dtype), h.header.copy()
    except OSError as exc:
        raise ValueError(f"{p}: not a readable FITS file ({exc})") from None
    raise ValueError(f"{p}: no 2-D image HDU")


def write_image(
    path: str | Path, data: np.ndarray, header: fits.Header | None = None, *, overwrite: bool = True
) -> Path:
    """Write ``data`` (as float32) with ``header`` (its WCS kept; structural keywords redone)
    to ``path`` as a primary HDU; returns the path."""
    p = Path(path)
    hdr = header.copy() if header is not None else fits.Header()
    for key in ("BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "BSCALE", "BZERO", "EXTEND", "SIMPLE"):
        hdr.remove(key, ignore_missing=True, remove_all=True)
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32), header=hdr).writeto(p, overwrite=overwrite)
    return p
