"""The console's vendored files: shipped as package data, licensed, documented, all local."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "argus"
WEB = PKG / "web"
VENDOR = WEB / "vendor"


def _matches(rel: str, pattern: str) -> bool:
    """setuptools' package-data glob: ``*`` does not cross a ``/``."""
    parts, pats = rel.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(
        fnmatchcase(a, b) for a, b in zip(parts, pats, strict=True)
    )


def test_every_web_file_is_package_data() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["argus"]
    files = [p.relative_to(PKG).as_posix() for p in WEB.rglob("*") if p.is_file()]
    assert any(f.startswith("web/vendor/world-atlas/") for f in files)
    missing = [f for f in files if not any(_matches(f, pat) for pat in patterns)]
    assert not missing, f"not shipped by `pip install .`: {missing}"


def test_each_vendored_package_has_its_licence_and_a_readme_row() -> None:
    readme = (VENDOR / "README.md").read_text()
    for name in ("leaflet", "topojson-client", "world-atlas"):
        assert (VENDOR / name / "LICENSE").read_text().strip(), name
        assert f"npm `{name}`" in readme or f"npm `{name}`," in readme
    assert "Leaflet 1.9.4" in (VENDOR / "leaflet" / "leaflet.js").read_text()[:200]
    assert "1.9.4" in readme and "BSD-2-Clause" in readme
    assert "v3.1.0" in (VENDOR / "topojson-client" / "topojson-client.min.js").read_text()[:200]
    assert "3.1.0" in readme and "2.0.2" in readme and "public domain" in readme
    for f in ("land-50m.json", "countries-50m.json"):
        topo = json.loads((VENDOR / "world-atlas" / f).read_text())
        assert topo["type"] == "Topology" and topo["objects"]


def test_the_console_page_loads_nothing_from_elsewhere() -> None:
    html = (WEB / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith(("/static/", "data:")) for r in refs), refs
    for js in ("console.js", "defense.js"):
        code = (WEB / js).read_text()
        assert not re.search(r"""(fetch|WebSocket)\(\s*["'`]https?:""", code), js
        assert "tilelayer" not in code.lower(), js  # no tile server
