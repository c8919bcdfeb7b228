"""RF fixtures: the engine modules (or their test doubles, tests/rf/_engines.py), a local store."""

from __future__ import annotations

from pathlib import Path

import pytest

from argus.db.objectstore import ObjectStore
from tests.rf import _engines  # noqa: F401  # installs the stand-ins of missing engine modules


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "objects"))
