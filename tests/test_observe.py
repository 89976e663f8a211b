"""Issue 14 item 1: the Grafana dashboard and the Prometheus config in observe/.

The dashboard is checked against a schema of what Grafana needs from it (pydantic
models, strict about the parts this project writes), every panel's queries name only
metrics the monitor exports, and, where ``promtool`` is installed (CI installs Debian's
``prometheus``), each query parses as PromQL and the Prometheus config is valid.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from monitor.views import metrics
from tests.support import ROOT

DASHBOARD = ROOT / "observe" / "grafana-dashboard.json"
PROMETHEUS = ROOT / "observe" / "prometheus.yml"
METRIC = re.compile(r"\bsms_sim_[a-z0-9_]+")
PROMTOOL = shutil.which("promtool")


class Datasource(BaseModel):
    type: Literal["prometheus"]
    uid: Literal["${datasource}"]  # the dashboard's own datasource variable


class Target(BaseModel):
    refId: str = Field(min_length=1)
    expr: str = Field(min_length=1)
    datasource: Datasource
    legendFormat: str = ""


class GridPos(BaseModel):
    x: int = Field(ge=0, lt=24)
    y: int = Field(ge=0)
    w: int = Field(gt=0, le=24)
    h: int = Field(gt=0)


class Panel(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    type: Literal["stat", "timeseries", "gauge", "bargauge", "table"]
    title: str = Field(min_length=1)
    datasource: Datasource
    gridPos: GridPos
    targets: list[Target] = Field(min_length=1)


class Variable(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    type: Literal["datasource", "query"]


class Templating(BaseModel):
    list: list[Variable]


class Dashboard(BaseModel):
    model_config = ConfigDict(extra="allow")

    uid: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    title: str = Field(min_length=1)
    schemaVersion: int = Field(ge=30)
    templating: Templating
    panels: list[Panel] = Field(min_length=1)


@pytest.fixture(scope="module")
def dashboard() -> Dashboard:
    return Dashboard.model_validate(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def test_the_dashboard_loads_and_its_panels_are_laid_out(dashboard: Dashboard) -> None:
    ids = [p.id for p in dashboard.panels]
    assert len(ids) == len(set(ids))
    for panel in dashboard.panels:
        assert panel.gridPos.x + panel.gridPos.w <= 24, panel.title
        refs = [t.refId for t in panel.targets]
        assert len(refs) == len(set(refs)), panel.title
    variables = {v.name: v.type for v in dashboard.templating.list}
    assert variables == {"datasource": "datasource", "run": "query"}


def test_panels_use_only_exported_metrics_and_the_run_variable(dashboard: Dashboard) -> None:
    exported = metrics.names()
    used = set()
    for panel in dashboard.panels:
        for target in panel.targets:
            names = set(METRIC.findall(target.expr))
            assert names, (panel.title, target.expr)
            assert names <= exported, (panel.title, names - exported)
            assert 'run=~"$run"' in target.expr, (panel.title, target.expr)
            used |= names
    # Every figure the issue asks for is on the dashboard.
    for name in (
        "sms_sim_messages_sent_total",
        "sms_sim_failed_attempts_total",
        "sms_sim_attempts_total",
        "sms_sim_run_messages",
        "sms_sim_messages_remaining",
        "sms_sim_senders",
        "sms_sim_predicted_messages_per_second",
        "sms_sim_attempt_duration_seconds_bucket",
        "sms_sim_enqueue_to_delivered_seconds_bucket",
    ):
        assert name in used, name


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_every_panel_query_is_valid_promql(dashboard: Dashboard, tmp_path: Path) -> None:
    rules = [
        {"record": f"sms_sim:panel{p.id}:{t.refId}", "expr": _grafana_free(t.expr)}
        for p in dashboard.panels
        for t in p.targets
    ]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_the_prometheus_config_is_valid() -> None:
    done = subprocess.run(
        [str(PROMTOOL), "check", "config", "--syntax-only", str(PROMETHEUS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _grafana_free(expr: str) -> str:
    """The query as Prometheus gets it once Grafana has filled in its variables."""
    return expr.replace("$__rate_interval", "1m").replace("$run", ".*")
