"""argus.sim is a pure engine: importing every module of it pulls in no upper layer."""

from __future__ import annotations

import json
import subprocess
import sys

# Importing PACKAGES (and every submodule, found by walking the package) in a fresh interpreter
# must not import any of FORBIDDEN; prints the argus modules loaded and the offenders as JSON.
_CHECK = """
import importlib, json, pkgutil, sys
packages = sys.argv[1].split(",")
extra = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else []
walked = []
for name in packages:
    pkg = importlib.import_module(name)
    walked.append(name)
    for info in pkgutil.walk_packages(pkg.__path__, name + "."):
        importlib.import_module(info.name)
        walked.append(info.name)
for name in extra:
    importlib.import_module(name)
forbidden_top = ("sqlalchemy", "fastapi", "celery")
forbidden_argus = ("argus.db", "argus.api", "argus.cli", "argus.jobs", "argus.pipeline")
bad = sorted(
    m for m in sys.modules
    if m.split(".")[0] in forbidden_top or m.startswith(forbidden_argus)
)
print(json.dumps({"walked": walked, "bad": bad}))
"""


def import_check(packages: str, extra: str = "") -> tuple[list[str], list[str]]:
    """Run the check in a fresh interpreter; (modules walked, forbidden modules loaded)."""
    res = subprocess.run(
        [sys.executable, "-c", _CHECK, packages, extra],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return out["walked"], out["bad"]


def test_sim_engine_imports_no_upper_layer() -> None:
    walked, bad = import_check("argus.sim")
    assert bad == []
    # The walk really reached the flight engines.
    assert {"argus.sim.ballistic", "argus.sim.airbreathing", "argus.sim.gravity"} <= set(walked)


def test_scenario_orchestration_imports_no_interface() -> None:
    """The scenario runner, tracker glue and plot (above the engines) stay below db/api/cli."""
    walked, bad = import_check("argus.scenario")
    assert bad == []
    assert {"argus.scenario.runner", "argus.scenario.plot", "argus.scenario.track"} <= set(walked)


def test_import_check_catches_an_upper_layer() -> None:
    """The same check fails when an upper layer is imported (here the CLI's sim sub-app)."""
    _, bad = import_check("argus.sim", "argus.cli.sim")
    assert "argus.cli.sim" in bad
