"""The request and statement histograms (app/telemetry/histograms.py): the SDK's bucket rule and
data-point shape, reaching /metrics and OTLP; the SDK's own instruments when an exporter wants delta."""
import pytest
from opentelemetry.sdk.metrics.export import AggregationTemporality
from opentelemetry.trace import SpanContext, TraceFlags

from app import telemetry
from app.telemetry.histograms import HotHistogram
from tests.test_telemetry_otlp import make_app, receiver  # noqa: F401 (fixture)

DELTA, CUMULATIVE = 1, 2  # opentelemetry.proto.metrics.v1.AggregationTemporality


def test_values_on_a_bound_go_into_that_bound_s_bucket_as_in_the_sdk():
    histogram = HotHistogram("h", "s", "d", (0.1, 0.5, 1.0), ("route",))
    for value in (0.05, 0.1, 0.1000001, 0.5, 2.0):
        histogram.record(value, ("/a",))
    histogram.record(0.3, ("/b",))
    metric = histogram.metric(now_ns=123)
    assert metric.name == "h" and metric.unit == "s"
    assert metric.data.aggregation_temporality == AggregationTemporality.CUMULATIVE
    points = {p.attributes["route"]: p for p in metric.data.data_points}
    a = points["/a"]
    assert list(a.bucket_counts) == [2, 2, 0, 1]
    assert a.count == 5 and a.sum == pytest.approx(2.7500001)
    assert (a.min, a.max) == (0.05, 2.0)
    assert list(a.explicit_bounds) == [0.1, 0.5, 1.0]
    assert a.time_unix_nano == 123 and a.start_time_unix_nano > 0
    assert list(points["/b"].bucket_counts) == [0, 1, 0, 0]
    assert a.exemplars == []


def test_nothing_recorded_gives_no_metric():
    assert HotHistogram("h", "s", "d", (1.0,), ("x",)).metric(now_ns=1) is None


def test_a_sampled_span_context_becomes_its_bucket_s_exemplar():
    histogram = HotHistogram("h", "s", "d", (0.1, 1.0), ("route",))
    first = SpanContext(trace_id=1, span_id=2, is_remote=False, trace_flags=TraceFlags(1))
    last = SpanContext(trace_id=3, span_id=4, is_remote=False, trace_flags=TraceFlags(1))
    histogram.record(0.05, ("/a",), first)
    histogram.record(0.07, ("/a",), last)
    histogram.record(0.5, ("/a",))
    [point] = histogram.metric(now_ns=1).data.data_points
    [exemplar] = point.exemplars
    assert (exemplar.trace_id, exemplar.span_id, exemplar.value) == (3, 4, 0.07)
    assert exemplar.time_unix_nano > 0


def _request_histogram_points(receiver):  # noqa: F811
    [histogram] = receiver.metrics_named("library_api_request_duration_seconds")[-1:]
    return histogram.histogram


@pytest.mark.parametrize("preference, temporality, hot", [("cumulative", CUMULATIVE, True),
                                                          ("delta", DELTA, False)])
def test_otlp_histograms_follow_the_exporter_s_temporality(tmp_path, receiver, monkeypatch,  # noqa: F811
                                                           preference, temporality, hot):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", preference)
    app = make_app(tmp_path, receiver.endpoint)
    try:
        assert (app.extensions["telemetry"].providers.hot_metrics is not None) is hot
        client = app.test_client()
        for _ in range(3):
            assert client.get("/api/books/42").status_code == 200
        telemetry.force_flush(app)
        data = _request_histogram_points(receiver)
        assert data.aggregation_temporality == temporality
        [point] = data.data_points
        assert point.count == 3 and sum(point.bucket_counts) == 3
        assert list(point.explicit_bounds)[:3] == [0.005, 0.01, 0.025]
        # /metrics is cumulative either way.
        text = client.get("/metrics").get_data(as_text=True)
        assert ('library_api_request_duration_seconds_count{method="GET",route="/api/books/<int:book_id>",'
                'status="200"} 3.0') in text
    finally:
        telemetry.shutdown(app)
