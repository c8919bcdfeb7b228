"""Shared astro test data, built once per session: simulated image pairs (~3 s) for the engine
tests and a small real/bogus model (~10 s) for the classifier tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.spatial import cKDTree

from argus.astro.detect import find_candidates
from argus.astro.difference import Subtraction, subtract_images
from argus.astro.rbsim import TripletSet, simulate_triplets
from argus.astro.simulate import SimulatedPair, simulate_noise_pair, simulate_pair


@pytest.fixture(scope="session")
def pair_1k() -> SimulatedPair:
    return simulate_pair(1024, seed=7)


@pytest.fixture(scope="session")
def sub_1k(pair_1k: SimulatedPair) -> Subtraction:
    return subtract_images(pair_1k.new, pair_1k.new_header, pair_1k.ref, pair_1k.ref_header)


@pytest.fixture(scope="session")
def cands_1k(sub_1k: Subtraction) -> dict[str, np.ndarray]:
    return find_candidates(sub_1k, threshold=5.0)


@pytest.fixture(scope="session")
def noise_pair_1k() -> SimulatedPair:
    return simulate_noise_pair(1024, seed=8)


@pytest.fixture(scope="session")
def noise_sub_1k(noise_pair_1k: SimulatedPair) -> Subtraction:
    p = noise_pair_1k
    return subtract_images(p.new, p.new_header, p.ref, p.ref_header)


def match(
    cands: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, radius: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """(matched mask over the truth rows, index of the candidate for each matched row)."""
    if cands["x"].size == 0:
        return np.zeros(x.size, bool), np.zeros(0, np.int64)
    d, j = cKDTree(np.column_stack([cands["x"], cands["y"]])).query(
        np.column_stack([x, y]), distance_upper_bound=radius
    )
    ok = np.isfinite(d)
    return ok, j[ok]


def source_free(sub: Subtraction, pair: SimulatedPair, radius: int = 10) -> np.ndarray:
    """Pixels farther than ``radius`` from every truth source (stars fainter than 2000 ADU
    excepted) and unmasked."""
    from scipy.ndimage import binary_dilation

    t = pair.truth
    keep = (t["kind"] != "star") | (t["flux"] > 2000)
    ny, nx = sub.D.shape
    m = np.zeros((ny, nx), bool)
    xi = np.clip(np.rint(t["x"][keep]).astype(int), 0, nx - 1)
    yi = np.clip(np.rint(t["y"][keep]).astype(int), 0, ny - 1)
    m[yi, xi] = True
    m = binary_dilation(m, iterations=radius)
    assert sub.mask is not None
    return ~m & (sub.mask == 0)


@pytest.fixture(scope="session")
def rb_training_set() -> TripletSet:
    return simulate_triplets(2400, seed=101)


@pytest.fixture(scope="session")
def rb_trained(rb_training_set: TripletSet) -> tuple[Any, dict[str, Any]]:
    from argus.astro.realbogus import train_real_bogus

    return train_real_bogus(triplet_set=rb_training_set, seed=101)


@pytest.fixture(scope="session")
def rb_fresh_set() -> TripletSet:
    """Candidates from another seed: never seen in training nor in its held-out split."""
    return simulate_triplets(800, seed=202)
