"""Peer libraries that parity tests compare against (Stone Soup, from the ``bench`` extra).

``pytest.importorskip`` would let a CI run without the peer pass silently with the parity tests
skipped; ``import_peer`` skips only outside CI, and fails under ``CI=true`` (``make test``
installs ``.[test,bench]``, so a missing peer there is a broken install).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def import_peer(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        msg = f"{name} is not installed ({exc}); `.venv/bin/pip install -e '.[test,bench]'`"
        if IN_CI:
            pytest.fail(msg + "; CI=true makes this a failure", pytrace=False)
        pytest.skip(msg)
