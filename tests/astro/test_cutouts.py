"""Cutout triplets: stamps equal direct slicing, NaN padding at the edges, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.astro.cutouts import cutout_triplets


def _images(h: int = 80, w: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # every pixel value encodes its own (row, column), so a wrong index shows
    idx = np.arange(h * w, dtype=np.float64).reshape(h, w)
    return idx, idx + 1e5, -idx


def test_interior_stamps_equal_direct_slices() -> None:
    new, ref, diff = _images()
    x = np.array([40.0, 50.3, 60.49])
    y = np.array([30.0, 39.6, 45.5])  # 45.5 rounds up to row 46
    out = cutout_triplets(new, ref, diff, x, y, size=15, dtype=np.float64)
    assert out.shape == (3, 3, 15, 15)
    for k, (xc, yc) in enumerate([(40, 30), (50, 40), (60, 46)]):
        sl = np.s_[yc - 7 : yc + 8, xc - 7 : xc + 8]
        np.testing.assert_array_equal(out[k, 0], new[sl])
        np.testing.assert_array_equal(out[k, 1], ref[sl])
        np.testing.assert_array_equal(out[k, 2], diff[sl])
        assert out[k, 0, 7, 7] == yc * 100 + xc


def test_default_size_is_63_and_float32() -> None:
    new, ref, diff = _images()
    out = cutout_triplets(new, ref, diff, np.array([50.0]), np.array([40.0]))
    assert out.shape == (1, 3, 63, 63) and out.dtype == np.float32


def test_corner_candidate_is_nan_padded() -> None:
    new, ref, diff = _images()
    out = cutout_triplets(new, ref, diff, np.array([0.0]), np.array([2.0]), size=11)
    stamp = out[0, 0]
    # columns -5..-1 and rows -3..-1 are outside the image
    assert np.isnan(stamp[:, :5]).all() and np.isnan(stamp[:3, :]).all()
    assert np.isfinite(stamp[3:, 5:]).all()
    assert np.isfinite(stamp).sum() == 8 * 6
    np.testing.assert_array_equal(stamp[3:, 5:], new[0:8, 0:6])
    assert stamp[5, 5] == 2 * 100 + 0


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(0.0, 99.0, allow_nan=False),
    y=st.floats(0.0, 79.0, allow_nan=False),
    size=st.sampled_from([1, 3, 9, 21]),
)
def test_centre_pixel_and_valid_count(x: float, y: float, size: int) -> None:
    new, ref, diff = _images()
    out = cutout_triplets(new, ref, diff, np.array([x]), np.array([y]), size=size, dtype=np.float64)
    xc, yc = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
    xc, yc = min(xc, 99), min(yc, 79)
    if xc == int(np.floor(x + 0.5)) and yc == int(np.floor(y + 0.5)):
        assert out[0, 0, size // 2, size // 2] == yc * 100 + xc
        h = size // 2
        rows = min(yc + h, 79) - max(yc - h, 0) + 1
        cols = min(xc + h, 99) - max(xc - h, 0) + 1
        assert np.isfinite(out[0, 2]).sum() == rows * cols


def test_many_candidates_vectorized_match_loop() -> None:
    rng = np.random.default_rng(1)
    new, ref, diff = (rng.normal(size=(64, 64)) for _ in range(3))
    x, y = rng.uniform(0, 63, 200), rng.uniform(0, 63, 200)
    out = cutout_triplets(new, ref, diff, x, y, size=7, dtype=np.float64)
    pad = np.pad(new, 3, constant_values=np.nan)
    for k in range(200):
        xc, yc = int(np.floor(x[k] + 0.5)), int(np.floor(y[k] + 0.5))
        np.testing.assert_array_equal(out[k, 0], pad[yc : yc + 7, xc : xc + 7])


def test_empty_candidate_list() -> None:
    new, ref, diff = _images()
    assert cutout_triplets(new, ref, diff, np.zeros(0), np.zeros(0)).shape == (0, 3, 63, 63)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": np.array([200.0]), "y": np.array([10.0])}, "row 0"),
        ({"x": np.array([1.0, np.nan]), "y": np.array([1.0, 2.0])}, "row 1 is not finite"),
        ({"x": np.array([1.0, 2.0]), "y": np.array([1.0])}, "2 x values for 1 y"),
        ({"x": np.array([1.0]), "y": np.array([1.0]), "size": 10}, "odd"),
    ],
)
def test_bad_positions_refused(kwargs: dict, message: str) -> None:
    new, ref, diff = _images()
    with pytest.raises(ValueError, match=message):
        cutout_triplets(new, ref, diff, **kwargs)


def test_shape_mismatch_names_the_image() -> None:
    new, ref, diff = _images()
    with pytest.raises(ValueError, match="ref: shape"):
        cutout_triplets(new, ref[:-1], diff, np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="diff: expected a 2-D"):
        cutout_triplets(new, ref, diff[None], np.array([1.0]), np.array([1.0]))
