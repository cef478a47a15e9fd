"""deploy/prometheus/alerts.yaml and deploy/grafana/ozgbridge.json: they parse, and every PromQL
expression in them names only metrics — and labels of those metrics — that ozgbridge exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from ozgbridge import metrics
from ozgbridge.metrics_db import DatabaseGauges
from ozgbridge.tenants import load_deployment
from tests.conftest import REPO_ROOT

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "ozgbridge.json"
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"instance", "job"}
DURATION = re.compile(r"\d+[smhd]")


def exposed() -> dict[str, set[str]]:
    """Every series name ozgbridge exposes, with its label names."""
    names: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names[f"{value._name}_total"] = set(value._labelnames)
        elif isinstance(value, Histogram):
            for suffix in ("_sum", "_count"):
                names[value._name + suffix] = set(value._labelnames)
            names[f"{value._name}_bucket"] = {*value._labelnames, "le"}
        elif isinstance(value, Gauge):
            names[value._name] = set(value._labelnames)
    gauges = DatabaseGauges(None, load_deployment(REPO_ROOT / "config"))  # type: ignore[arg-type]
    collected = [*gauges.collect(), *metrics.REGISTRY.collect()]
    for family in collected:
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return {name: labels | TARGET_LABELS for name, labels in names.items()}


def selectors(node: Any) -> Iterator[Any]:
    """Every vector selector in a parsed PromQL expression."""
    if type(node).__name__ == "VectorSelector":
        yield node
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from selectors(child)
    for child in getattr(node, "args", None) or ():
        yield from selectors(child)


def check_expression(expr: str, known: dict[str, set[str]], where: str) -> set[str]:
    """Parse ``expr`` and check its metrics and label matchers; returns the metrics it names."""
    # Grafana's interval variables stand where PromQL wants a duration.
    expr = re.sub(r"\$__\w*interval", "5m", expr)
    try:
        tree = promql_parser.parse(expr)
    except Exception as exc:
        pytest.fail(f"{where}: does not parse as PromQL: {exc}\n{expr}")
    named = set()
    for selector in selectors(tree):
        assert selector.name in known, f"{where}: no such metric {selector.name}"
        named.add(selector.name)
        for matcher in selector.matchers.matchers:
            assert matcher.name in known[selector.name], (
                f"{where}: {selector.name} has no label {matcher.name}"
            )
    assert named, f"{where}: names no metric at all"
    return named


def test_every_exposed_name_is_an_ozgbridge_or_process_metric() -> None:
    assert all(n.startswith(("ozgbridge_", "process_")) for n in exposed())
    assert {
        "ozgbridge_applications_received_total",
        "ozgbridge_delivery_attempts_total",
        "ozgbridge_delivery_attempt_duration_seconds_bucket",
        "ozgbridge_http_requests_total",
        "ozgbridge_http_request_duration_seconds_bucket",
        "ozgbridge_deliveries",
        "ozgbridge_oldest_pending_seconds",
        "ozgbridge_route_state",
    } <= set(exposed())


def test_alert_rules_parse_and_cover_what_operators_need() -> None:
    known = exposed()
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    named: dict[str, set[str]] = {}
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert DURATION.fullmatch(rule["for"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        named[rule["alert"]] = check_expression(rule["expr"], known, rule["alert"])

    assert len(named) == len(rules), "alert names must be unique"
    assert named["OzgbridgeDeadDelivery"] == {"ozgbridge_deliveries"}
    assert named["OzgbridgeOldestPendingOverAnHour"] == {"ozgbridge_oldest_pending_seconds"}
    assert named["OzgbridgeRouteOpen"] == {"ozgbridge_route_state"}
    assert named["OzgbridgeWorkerNotClaiming"] == {"ozgbridge_worker_last_claim_timestamp_seconds"}
    by_name = {rule["alert"]: rule for rule in rules}
    assert "3600" in by_name["OzgbridgeOldestPendingOverAnHour"]["expr"]
    assert by_name["OzgbridgeRouteOpen"]["for"] == "15m"


def test_dashboard_parses_and_names_only_existing_metrics() -> None:
    known = exposed()
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "ozgbridge-operations"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= check_expression(target["expr"], known, panel["title"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"]["query"])
        assert match, variable["name"]
        assert match[2] in known[match[1]]
    # The dashboard shows the figures the issue names.
    assert {
        "ozgbridge_deliveries",
        "ozgbridge_oldest_pending_seconds",
        "ozgbridge_route_state",
        "ozgbridge_delivery_attempts_total",
        "ozgbridge_delivery_attempt_duration_seconds_bucket",
        "ozgbridge_applications_received_total",
        "ozgbridge_http_requests_total",
        "ozgbridge_http_request_duration_seconds_bucket",
    } <= used


def test_a_misspelt_metric_would_be_caught() -> None:
    with pytest.raises(AssertionError, match="no such metric"):
        check_expression("ozgbridge_deliverys > 0", exposed(), "probe")
    with pytest.raises(AssertionError, match="has no label"):
        check_expression('ozgbridge_deliveries{status="dead"} > 0', exposed(), "probe")
