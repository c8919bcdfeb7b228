"""deploy/ parses and is consistent with the metrics the code exports (Docker cannot run here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

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


def test_dashboard_queries_name_real_metrics() -> None:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "argus.json").read_text())
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
