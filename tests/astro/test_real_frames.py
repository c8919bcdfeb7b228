"""Real images: the two GOTO-N frames that ship inside the zogyp wheel (a test extra).

They are two processings of one exposure (same RUN, DATE-OBS and WCS; pixel correlation 0.98),
so their noise is largely shared and cancels in the difference: D's robust std comes out near
0.5, not 1 (the noise model counts two independent noises). The test asserts the pipeline runs
and gives sane numbers, not a whiteness it cannot have.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from argus.astro.detect import find_candidates
from argus.astro.difference import subtract_images
from argus.astro.fitsio import read_image


def _goto_frames() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("zogyp")
    if spec is None or spec.origin is None:
        pytest.fail(
            "the zogyp package (test extra) ships the GOTO frames: pip install -e '.[test]'"
        )
    base = Path(spec.origin).parent / "test"
    return base / "1.fits", base / "2.fits"


def test_goto_pair_subtracts_with_sane_numbers() -> None:
    new_path, ref_path = _goto_frames()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy: non-standard GOTO keywords
        new, new_hdr = read_image(new_path)
        ref, ref_hdr = read_image(ref_path)
        sub = subtract_images(new, new_hdr, ref, ref_hdr)
        cands = find_candidates(sub)
    assert new.shape == (1850, 1850)
    assert np.isfinite(sub.D).all() and np.isfinite(sub.Scorr).all()
    ok = sub.mask == 0
    d = sub.D[ok]
    robust = 1.4826 * np.median(np.abs(d - np.median(d)))
    assert 0.3 < robust < 1.2
    assert abs(np.median(d)) < 0.1
    m = sub.meta
    assert m["psf_source"] == "stars" and int(m["n_psf_stars_new"]) >= 10
    assert 2.0 < float(m["fwhm_new_px"]) < 6.0
    assert sub.flux_ratio == pytest.approx(1.0, abs=0.05)  # same exposure
    assert m["source_noise"].startswith("off")  # no GAIN keyword in these headers
    n = cands["x"].size
    assert 5 < n < 2000
    assert np.isfinite(cands["ra"]).all()
    assert (np.abs(cands["dec"] - new_hdr["CRVAL2"]) < 3).all()
