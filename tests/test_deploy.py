"""deploy/ parses and is consistent with the metrics the code exports (Docker cannot run here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from argus import metrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_compose_has_the_scale_out_services() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert {"db", "redis", "api", "worker", "beat", "prometheus", "grafana", "migrate"} <= set(
        compose["services"]
    )
    assert "postgis" in compose["services"]["db"]["image"]


@pytest.mark.parametrize("name", ["argus.json", "defense.json"])
def test_dashboard_queries_name_real_metrics(name: str) -> None:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / name).read_text())
    exported = {
        m.describe()[0].name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)
    }
    used = set()
    for p in dash["panels"]:
        for t in p["targets"]:
            used |= set(re.findall(r"argus_[a-z_]+", t["expr"]))
    base = {re.sub(r"_(bucket|total|count|sum)$", "", u) for u in used}
    assert base <= {re.sub(r"_total$", "", e) for e in exported}, base - exported
    assert len(dash["panels"]) >= 6


_SECRET_KEYS = re.compile(r"(PASSWORD|SECRET|TOKEN)", re.I)


def _walk(node: object, path: str = "") -> list[tuple[str, str]]:
    """Every (dotted path, string value) in a parsed YAML tree."""
    if isinstance(node, dict):
        return [kv for k, v in node.items() for kv in _walk(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [kv for i, v in enumerate(node) for kv in _walk(v, f"{path}[{i}]")]
    return [(path, str(node))]


def test_compose_has_no_default_password_and_refuses_empty_ones() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    refs = re.findall(r"\$\{([A-Z_]+)([^}]*)\}", text)
    assert refs, "the compose file takes its secrets from the environment"
    # ${VAR:?msg} makes compose stop when VAR is unset *or empty*; ${VAR:-x} or ${VAR} would not.
    assert all(op.startswith(":?") for _, op in refs), refs
    for path, value in _walk(compose):
        key = path.rsplit(".", 1)[-1]
        if _SECRET_KEYS.search(key):
            assert value.startswith("${") and ":?" in value, f"{path} has a literal value"
        # a URL with a password carries it from the environment, never inline
        for pw in re.findall(r"://[^:/@\s]*:([^@\s]+)@", value):
            assert pw.startswith("${") and ":?" in pw, f"{path}: inline password in a URL"
    example = (DEPLOY / ".env.example").read_text()
    keys = dict(re.findall(r"^([A-Z_]+)=(.*)$", example, flags=re.M))
    assert set(keys) == {name for name, _ in refs}
    assert all(v == "" for v in keys.values()), "the example must not ship values"
    gitignore = (DEPLOY.parent / ".gitignore").read_text().split()
    assert "deploy/.env" in gitignore
