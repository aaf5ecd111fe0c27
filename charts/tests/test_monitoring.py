"""The chart's Grafana dashboard and PrometheusRule (monitoring.*): off by default, rendered
from the chart's own files (dashboards/landed.json, rules/landed.rules.yaml), lint-clean and
schema-valid when on, and the rendered rules accepted by Debian's `promtool check rules`.

Whether every dashboard query and alert expression finds series on a real Prometheus scraping a
real `landed serve` is the end-to-end test tests/tests/monitoring_prometheus.rs.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from support import CHART, NAMESPACE, config_map, find, landed_config, one, render, validate_strictly

DASHBOARD = CHART / "dashboards" / "landed.json"
RULES = CHART / "rules" / "landed.rules.yaml"
PROMTOOL = "/usr/bin/promtool"

ON = {"monitoring": {"dashboard": {"enabled": True}, "prometheusRule": {"enabled": True}}}
CUSTOM = {
    "monitoring": {
        "dashboard": {
            "enabled": True,
            "namespace": "monitoring",
            "label": "grafana_dashboard_landed",
            "labelValue": 1,
            "annotations": {"grafana_folder": "Admission"},
        },
        "prometheusRule": {
            "enabled": True,
            "namespace": "monitoring",
            "labels": {"release": "prometheus"},
            "alertLabels": {"team": "platform", "severity": "page"},
            "disabledAlerts": ["LandedDenialsHigh"],
        },
    }
}

# What issue #29 asks the alerts to cover, by the metric each one reads.
ALERTED_METRICS = {
    "landed_admission_duration_seconds_bucket",
    "landed_webhook_timeout_seconds",
    "landed_verdicts_total",
    "landed_reviews_total",
    "landed_policy_loaded",
    "landed_cache_lookups_total",
    "landed_registry_token_fetches_total",
    "landed_tls_certificate_not_after_seconds",
}
# And the panels.
PANEL_METRICS = {
    "landed_reviews_total",
    "landed_verdicts_total",
    "landed_admission_duration_seconds_bucket",
    "landed_registry_request_duration_seconds_bucket",
    "landed_registry_errors_total",
    "landed_cache_lookups_total",
    "landed_policy_duration_seconds_bucket",
    "landed_policy_failures_total",
    "landed_audit_would_deny_total",
    "landed_inflight_reviews",
}


def metrics_in(text: str) -> set[str]:
    return set(re.findall(r"\blanded_[a-z_]+", text))


def dashboard_exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def promtool() -> str:
    assert Path(PROMTOOL).exists(), "promtool is missing: Debian package `prometheus`, installed by scripts/install-deps"
    return PROMTOOL


@pytest.mark.parametrize("values", [{}, {"monitoring": {"dashboard": {"enabled": False}, "prometheusRule": {"enabled": False}}}])
def test_off_by_default(values):
    docs = render(values)
    assert find(docs, "PrometheusRule") == []
    assert [d["metadata"]["name"] for d in find(docs, "ConfigMap")] == ["landed"]


@pytest.mark.parametrize("values", [ON, CUSTOM], ids=["on", "custom"])
def test_lint_and_strict_schemas_with_monitoring_on(values):
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
    docs = render(values)
    assert validate_strictly(docs) >= 6  # the dashboard's ConfigMap among them
    landed_config(docs)  # the server's own ConfigMap is still the one with landed.yaml


def test_dashboard_configmap_carries_the_file_for_the_sidecar():
    docs = render(ON)
    cm = next(d for d in find(docs, "ConfigMap") if d is not config_map(docs))
    assert cm["metadata"]["name"] == "landed-dashboard"
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert list(cm["data"]) == ["landed.json"]
    assert json.loads(cm["data"]["landed.json"]) == json.loads(DASHBOARD.read_text())
    # Far below the 1 MiB object limit, and below client-side apply's 256 KiB annotation.
    assert len(cm["data"]["landed.json"]) < 256 * 1024

    custom = render(CUSTOM)
    cm = next(d for d in find(custom, "ConfigMap") if d is not config_map(custom))
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard_landed"] == "1"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Admission"}


def test_dashboard_is_importable_and_covers_the_issue_panels():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["id"] is None
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "job", "instance"} <= set(variables)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            # Every query is scoped to the chosen landed and reads a window Grafana sizes.
            assert 'namespace=~"$namespace"' in target["expr"], (panel["title"], target["expr"])
            assert "vector(" not in target["expr"], "a constant would hide a missing metric"
            if "rate(" in target["expr"]:
                assert "[$__rate_interval]" in target["expr"], target["expr"]
    used = set().union(*(metrics_in(e) for e in dashboard_exprs(dashboard)))
    assert PANEL_METRICS <= used, PANEL_METRICS - used


def test_prometheus_rule_is_the_rules_file_and_promtool_accepts_it(tmp_path):
    rule = one(render(ON), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    rendered = tmp_path / "rendered.rules.yaml"
    rendered.write_text(yaml.safe_dump(rule["spec"]))
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    check = subprocess.run([promtool(), "check", "rules", rendered], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alerts)} rules found" in check.stdout, check.stdout

    # The check can fail: an expression that does not parse is refused.
    broken = yaml.safe_load(RULES.read_text())
    broken["groups"][0]["rules"][0]["expr"] = "sum by (job) (rate(landed_reviews_total[5m])"
    rendered.write_text(yaml.safe_dump(broken))
    check = subprocess.run([promtool(), "check", "rules", rendered], capture_output=True, text=True)
    assert check.returncode != 0 and "FAILED" in check.stdout + check.stderr, check.stdout


def test_alerts_cover_the_issue_and_derive_the_latency_threshold_from_the_timeout():
    spec = yaml.safe_load(RULES.read_text())
    rules = {r["alert"]: r for g in spec["groups"] for r in g["rules"]}
    used = set().union(*(metrics_in(r["expr"]) for r in rules.values()))
    assert ALERTED_METRICS <= used, ALERTED_METRICS - used
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
    # The threshold is the timeout the server runs with, which the chart renders from
    # webhook.timeoutSeconds: no second copy of the number to keep in step.
    latency = rules["LandedAdmissionLatencyNearTimeout"]["expr"]
    assert "landed_webhook_timeout_seconds" in latency and re.search(r">\s*0\.8\s*\*", latency), latency
    config = landed_config(render({"webhook": {"timeoutSeconds": 7}}))
    assert config["server"]["webhookTimeout"] == "7s"


def test_alert_labels_and_disabled_alerts():
    spec = one(render(CUSTOM), "PrometheusRule")
    assert spec["metadata"]["namespace"] == "monitoring"
    assert spec["metadata"]["labels"]["release"] == "prometheus"
    rules = [r for g in spec["spec"]["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    file_names = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert names == file_names - {"LandedDenialsHigh"}
    for rule in rules:
        assert rule["labels"] == {"severity": "page", "team": "platform"}, rule["alert"]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"monitoring": {"prometheusRule": {"enabled": True, "disabledAlerts": ["NoSuchAlert"]}}}, "no alert named NoSuchAlert"),
        ({"monitoring": {"dashboard": {"enabled": True, "label": ""}}}, "monitoring.dashboard.label"),
    ],
)
def test_bad_monitoring_values_fail_to_render(values, message):
    with pytest.raises(Exception, match=message):
        render(values)

