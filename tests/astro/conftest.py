"""A small real/bogus model trained once per test session (the training set takes ~10 s)."""

from __future__ import annotations

from typing import Any

import pytest

from argus.astro.rbsim import TripletSet, simulate_triplets


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
