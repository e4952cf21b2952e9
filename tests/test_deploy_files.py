"""Structural tests of the deployment files: otel-collector.yaml, prometheus.yml, the alert rules.

The OpenTelemetry Collector binary cannot be installed on these machines, so its configuration is
checked here as data: every component a pipeline names is defined, memory_limiter comes first,
and the ports agree with the app's exporter defaults and with prometheus.yml. The Prometheus files
are checked with the real `promtool` (Debian package `prometheus`, installed by .ci/run).
"""
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from app import config
from tests.conftest import required_binary

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR = ROOT / "otel-collector.yaml"
PROMETHEUS = ROOT / "prometheus.yml"
ALERTS = ROOT / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "prometheus" / "alerts.test.yml"

# Component types this configuration may use (all in the collector-contrib distribution).
KNOWN_TYPES = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch"},
    "exporters": {"otlp", "otlphttp", "prometheus", "debug"},
    "extensions": {"health_check"},
}


@pytest.fixture(scope="module")
def collector():
    return yaml.safe_load(COLLECTOR.read_text())


@pytest.fixture(scope="module")
def prometheus():
    return yaml.safe_load(PROMETHEUS.read_text())


@pytest.fixture(scope="module")
def alerts():
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1].strip("/"))


def _component_type(name: str) -> str:
    """`otlp/traces` -> `otlp` (the collector's type[/name] syntax)."""
    kind, _, instance = name.partition("/")
    assert kind and (not _ or instance), f"bad component id {name!r}"
    return kind


# --- otel-collector.yaml ---------------------------------------------------------------------------


def test_collector_pipelines_are_traces_and_metrics(collector):
    assert set(collector["service"]["pipelines"]) == {"traces", "metrics"}


def test_every_component_a_pipeline_names_is_defined(collector):
    for pipeline_name, pipeline in collector["service"]["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            names = pipeline[section]
            assert names, f"{pipeline_name}: no {section}"
            assert len(names) == len(set(names)), f"{pipeline_name}: {section} repeated"
            for name in names:
                assert name in collector[section], f"{pipeline_name} names undefined {section[:-1]} {name!r}"
                assert _component_type(name) in KNOWN_TYPES[section], f"unknown {section[:-1]} type {name!r}"
    for name in collector["service"]["extensions"]:
        assert name in collector["extensions"]
        assert _component_type(name) in KNOWN_TYPES["extensions"]


def test_every_defined_component_is_used(collector):
    used = {section: set() for section in ("receivers", "processors", "exporters")}
    for pipeline in collector["service"]["pipelines"].values():
        for section in used:
            used[section].update(pipeline[section])
    for section, names in used.items():
        assert set(collector[section]) == names, f"{section} defined but unused"
    assert set(collector["extensions"]) == set(collector["service"]["extensions"])


def test_memory_limiter_first_then_batch(collector):
    limiter = collector["processors"]["memory_limiter"]
    assert {"check_interval", "limit_mib", "spike_limit_mib"} <= set(limiter)
    assert 0 < limiter["spike_limit_mib"] < limiter["limit_mib"]
    for name, pipeline in collector["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name


def test_pipelines_route_traces_to_backend_and_metrics_to_prometheus(collector):
    pipelines = collector["service"]["pipelines"]
    assert pipelines["traces"]["receivers"] == ["otlp"]
    assert pipelines["metrics"]["receivers"] == ["otlp"]
    assert {_component_type(e) for e in pipelines["traces"]["exporters"]} == {"otlp", "debug"}
    assert {_component_type(e) for e in pipelines["metrics"]["exporters"]} == {"prometheus", "debug"}


def test_trace_backend_endpoint_comes_from_the_environment(collector):
    (backend,) = [name for name in collector["service"]["pipelines"]["traces"]["exporters"]
                  if _component_type(name) == "otlp"]
    exporter = collector["exporters"][backend]
    assert exporter["endpoint"] == "${env:TRACE_BACKEND_ENDPOINT}"
    assert exporter["tls"]["insecure"] is True


def test_receiver_ports_match_the_app_exporter_defaults(collector):
    # The SDK's OTLP exporters fall back to these when OTEL_EXPORTER_OTLP_ENDPOINT has no port.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import DEFAULT_ENDPOINT

    protocols = collector["receivers"]["otlp"]["protocols"]
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert urlsplit(DEFAULT_ENDPOINT).port == _port(protocols["http"]["endpoint"])


def test_prometheus_exporter_converts_resource_attributes(collector, prometheus):
    exporter = collector["exporters"]["prometheus"]
    assert exporter["resource_to_telemetry_conversion"] == {"enabled": True}
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    targets = jobs["otel-collector"]["static_configs"][0]["targets"]
    assert targets == [f"localhost:{_port(exporter['endpoint'])}"]
    assert _port(exporter["endpoint"]) == 8889


def test_health_check_extension_enabled(collector):
    assert collector["service"]["extensions"] == ["health_check"]
    assert _port(collector["extensions"]["health_check"]["endpoint"]) == 13133


# --- prometheus.yml and alert rules ---------------------------------------------------------------


def test_prometheus_scrapes_the_app_metrics_endpoint(prometheus):
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    app_job = jobs["library-service"]
    assert app_job["metrics_path"] == "/metrics"
    # gunicorn.conf.py binds 127.0.0.1:8000 unless HOST/PORT say otherwise.
    assert app_job["static_configs"][0]["targets"] == ["localhost:8000"]
    assert prometheus["rule_files"] == ["prometheus/alerts.yml"]
    assert (PROMETHEUS.parent / prometheus["rule_files"][0]).is_file()
    assert prometheus["global"]["scrape_interval"] and prometheus["global"]["evaluation_interval"]


def test_direct_scrape_drops_per_worker_request_metrics_but_keeps_business_metrics(prometheus):
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    (drop,) = jobs["library-service"]["metric_relabel_configs"]
    assert drop["action"] == "drop" and drop["source_labels"] == ["__name__"]
    pattern = re.compile(drop["regex"])
    for name in ("library_api_request_duration_seconds_bucket", "library_api_request_duration_seconds_count",
                 "library_db_query_duration_seconds_sum", "library_cache_operations_total"):
        assert pattern.fullmatch(name), name
    for name in ("library_book_loans_total", "library_available_books_total", "library_active_users_total",
                 "library_error_rate_percent"):
        assert not pattern.fullmatch(name), name


# Alert name -> (config key, factor from the config unit to the metric unit, comparison).
THRESHOLDS = {
    "LibraryHighErrorRate": ("ALERT_ERROR_RATE_PERCENT", 1, ">"),
    "LibraryLowBookAvailability": ("ALERT_BOOK_AVAILABILITY_PERCENT", 1, "<"),
    "LibraryHighOverdueRate": ("ALERT_OVERDUE_RATE_PERCENT", 1, ">"),
    "LibrarySlowResponses": ("ALERT_RESPONSE_TIME_MS", 0.001, ">"),
}


def test_alert_thresholds_equal_the_app_defaults(alerts, tmp_path, monkeypatch):
    for key in {key for key, _, _ in THRESHOLDS.values()}:
        monkeypatch.delenv(key, raising=False)
    defaults = config.from_environment(tmp_path)
    assert set(alerts) == set(THRESHOLDS)
    for alert, (key, factor, op) in THRESHOLDS.items():
        match = re.search(r"([<>])\s*([0-9.]+)\s*$", alerts[alert]["expr"].strip())
        assert match, alerts[alert]["expr"]
        assert match.group(1) == op, alert
        assert float(match.group(2)) == pytest.approx(defaults[key] * factor), alert
        assert alerts[alert]["labels"]["severity"] in {"warning", "critical"}
        assert alerts[alert]["for"]


def test_alert_rules_use_metrics_and_labels_the_app_exports(alerts, client):
    assert client.get("/api/books/1").status_code == 404  # one request with a matched route
    exposition = client.get("/metrics").get_data(as_text=True)
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, _, labels = line.partition("{")
            samples.setdefault(name.split()[0], set()).update(re.findall(r'(\w+)="', labels))
    assert {"route", "method", "status"} <= samples["library_api_request_duration_seconds_count"]
    for alert, rule in alerts.items():
        for name in re.findall(r"\blibrary_\w+", rule["expr"]):
            assert name in samples, f"{alert} uses {name}, which /metrics does not export"
        for label in re.findall(r"(\w+)=~?\"", rule["expr"]):
            assert any(label in labels for labels in samples.values()), f"{alert}: no metric has {label!r}"


def _promtool():
    return required_binary("promtool", "prometheus")


@pytest.mark.parametrize("args", [
    ["check", "config", str(PROMETHEUS)],
    ["check", "rules", str(ALERTS)],
    ["test", "rules", str(ALERTS_TEST)],
], ids=["check-config", "check-rules", "test-rules"])
def test_promtool(args):
    result = subprocess.run([_promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
