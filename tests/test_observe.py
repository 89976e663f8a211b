"""Issues 14 and 25: the Grafana dashboard and the Prometheus config in observe/.

The dashboard is checked against a schema of what Grafana needs from it (pydantic
models, strict about the parts this project writes), every query (panels and
annotations) names only metrics the monitor exports, filters by the ``run`` (and
``profile``) variables, keeps runs apart, counts a run once however many monitors export
it, and shows rates per simulated second; where ``promtool`` is installed (CI installs
Debian's ``prometheus``), each query parses as PromQL and the Prometheus config is valid.
``tests/test_prometheus_server.py`` has a real Prometheus evaluate every query.
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
SELECTOR = re.compile(r"\bsms_sim_[a-z0-9_]+(\{[^}]*\})?")
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


class Annotation(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    datasource: Datasource
    enable: bool
    expr: str = Field(min_length=1)
    titleFormat: str = Field(min_length=1)
    tagKeys: str = ""


class Annotations(BaseModel):
    list: list[Annotation]


class Dashboard(BaseModel):
    model_config = ConfigDict(extra="allow")

    uid: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    title: str = Field(min_length=1)
    schemaVersion: int = Field(ge=30)
    templating: Templating
    annotations: Annotations
    panels: list[Panel] = Field(min_length=1)

    def queries(self) -> list[tuple[str, str]]:
        """(where, PromQL) of every query: each panel target, each annotation."""
        found = [
            (f"{p.title} {t.refId} {t.legendFormat}", t.expr)
            for p in self.panels
            for t in p.targets
        ]
        notes = self.annotations.list
        return found + [(f"annotation {a.name} tags {a.tagKeys}", a.expr) for a in notes]


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
    assert variables == {"datasource": "datasource", "run": "query", "profile": "query"}
    profile = next(v for v in dashboard.templating.list if v.name == "profile")
    assert "sms_sim_sender_info" in str(profile.model_extra)  # the profiles of the runs chosen


def test_queries_use_only_exported_metrics_and_the_variables(dashboard: Dashboard) -> None:
    exported = metrics.names()
    used = set()
    for where, expr in dashboard.queries():
        names = set(METRIC.findall(expr))
        assert names, (where, expr)
        assert names <= exported, (where, names - exported)
        # Every selector names the runs chosen; one grouped by profile, the profiles too.
        for selector in SELECTOR.findall(expr):
            assert 'run=~"$run"' in selector, (where, expr)
        if "{{profile}}" in where or "profile" in where.split("tags ")[-1]:
            assert 'profile=~"$profile"' in expr, (where, expr)  # shown by profile
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
        "sms_sim_time_scale",
        "sms_sim_sender_info",
    ):
        assert name in used, name


def test_each_selector_is_aggregated_over_monitors(dashboard: Dashboard) -> None:
    """Two monitors exporting one run are two ``instance``s of every series: each query
    takes one of them (``max by``, over labels without ``instance``) before adding up
    (``tests/test_prometheus_server.py`` checks the sums for real)."""
    for where, expr in dashboard.queries():
        for found in re.finditer(r"\bsms_sim_[a-z0-9_]+\{", expr):
            before = expr[: found.start()]
            assert re.search(r"(max|count) by \([^)]*\) \((rate\()?$", before), (where, expr)


def test_percentiles_keep_runs_apart(dashboard: Dashboard) -> None:
    quantiles = [(w, e) for w, e in dashboard.queries() if "histogram_quantile" in e]
    assert len(quantiles) == 6
    for where, expr in quantiles:
        assert re.match(r"histogram_quantile\(0\.\d+, (sum|max) by \(run, le\) ", expr), where


def test_rates_are_per_simulated_second(dashboard: Dashboard) -> None:
    """A counter's rate() is per real second: a rate shown is divided by the run's time
    scale (simulated seconds per real second); a ratio of two rates, or a quantile, needs
    none."""
    for where, expr in dashboard.queries():
        if "rate(" not in expr or "histogram_quantile" in expr:
            continue
        scaled = re.search(r" / on \(run\)( group_left)? max by \(run\) \(sms_sim_time_scale", expr)
        ratio = expr.count("rate(") == 2 and "sms_sim_time_scale" not in expr
        assert scaled or ratio, (where, expr)


def test_outages_are_annotations(dashboard: Dashboard) -> None:
    (outage,) = dashboard.annotations.list
    assert 'status="outage"' in outage.expr and outage.enable
    assert set(outage.tagKeys.split(",")) == {"run", "profile"}


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_every_panel_query_is_valid_promql(dashboard: Dashboard, tmp_path: Path) -> None:
    rules = [
        {"record": f"sms_sim:query{i}", "expr": grafana_free(expr)}
        for i, (_, expr) in enumerate(dashboard.queries())
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


def grafana_free(expr: str, rate_interval: str = "1m", run: str = ".*") -> str:
    """The query as Prometheus gets it once Grafana has filled in its variables."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$run", run)
        .replace("$profile", ".*")
    )
