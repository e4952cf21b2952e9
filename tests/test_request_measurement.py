"""One measurement per request feeds the request histogram, the timings and the alerts' request window.

Also: the server span still gets its response attributes after the Flask
instrumentation's WSGI layer is dropped, and the Resource hashes once.
"""
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app import create_app, telemetry
from app.extensions import db
from app.monitor.alerts import request_window
from app.telemetry.resource import HashOnceResource, build_resource
from app.telemetry.settings import from_config
from tests.factories import Factory
from tests.otlp_receiver import OTLPReceiver

SERVER = 2  # opentelemetry.proto.trace.v1.Span.SpanKind
STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.StatusCode


def make_app(tmp_path, **extra):
    config = {
        "TESTING": True, "SECRET_KEY": "x", "REDIS_URL": None, "CACHE_TYPE": "SimpleCache",
        "RATELIMIT_STORAGE_URI": "memory://", "PROPAGATE_EXCEPTIONS": False,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'measure.db'}",
        **extra,
    }
    app = create_app(config)

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    with app.app_context():
        db.create_all()
        Factory().book(id=42, title="Dune")
    return app


def traced_app(tmp_path, **extra):
    """make_app with every request traced, and the finished spans kept in memory: (app, exporter)."""
    app = make_app(tmp_path, OTEL_TRACES_SAMPLER="always_on", **extra)
    spans = InMemorySpanExporter()
    telemetry.tracer_provider_for(app).add_span_processor(SimpleSpanProcessor(spans))
    return app, spans


def send(client):
    """Two books, an unknown book, a 500, and the excluded probe and scrape paths."""
    assert client.get("/api/books/42").status_code == 200
    assert client.get("/api/books/42").status_code == 200
    assert client.get("/api/books/7").status_code == 404
    assert client.get("/boom").status_code == 500
    client.get("/healthz")
    client.get("/metrics")


@pytest.mark.parametrize("disabled", [False, True], ids=["telemetry-on", "OTEL_SDK_DISABLED"])
def test_request_window_counts_every_request_but_the_excluded_ones(tmp_path, disabled):
    app = make_app(tmp_path, OTEL_SDK_DISABLED=disabled)
    send(app.test_client())
    window = request_window.read(app)
    assert window["requests"] == 4
    assert window["errors"] == 1
    assert window["p95_seconds"] > 0


def test_one_duration_feeds_histogram_and_window(tmp_path):
    app = make_app(tmp_path)
    seen = []
    # A recorder registered after start is still called: the middleware holds the live list.
    telemetry.add_request_recorder(app, lambda duration, status: seen.append((duration, status)))
    client = app.test_client()
    send(client)
    assert [status for _, status in seen] == [200, 200, 404, 500]
    body = client.get("/metrics").get_data(as_text=True)
    route = 'route="/api/books/<int:book_id>"'
    sums = {line.split(" ")[0]: float(line.split(" ")[1]) for line in body.splitlines()
            if line.startswith("library_api_request_duration_seconds_sum") and route in line}
    assert sums[f'library_api_request_duration_seconds_sum{{method="GET",{route},status="200"}}'] == \
        pytest.approx(seen[0][0] + seen[1][0], abs=1e-9)
    assert sums[f'library_api_request_duration_seconds_sum{{method="GET",{route},status="404"}}'] == \
        pytest.approx(seen[2][0], abs=1e-9)
    rows = app.extensions["monitor_request_window"].local_rows()
    assert sum(row[0] for row in rows.values()) == 4


def test_server_span_keeps_status_attributes_without_the_instrumentations_wsgi_layer(tmp_path):
    with OTLPReceiver() as receiver:
        app = make_app(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                       OTEL_TRACES_SAMPLER="parentbased_always_on")
        try:
            assert app.wsgi_app.wsgi_app is app._original_wsgi_app  # one layer: ours
            send(app.test_client())
            telemetry.force_flush(app)
        finally:
            telemetry.shutdown(app)
        raw = [span for request in receiver.traces for rs in request.resource_spans
               for ss in rs.scope_spans for span in ss.spans if span.kind == SERVER]
        spans = receiver.spans()
    servers = [s for s in spans if s["kind"] == SERVER]
    codes = [s["attributes"].get("http.status_code", s["attributes"].get("http.response.status_code"))
             for s in servers]
    assert codes == [200, 200, 404, 500]
    assert [s.status.code == STATUS_ERROR for s in raw] == [False, False, False, True]


def test_resource_hash_is_the_sdks_and_computed_once(tmp_path):
    app = make_app(tmp_path)
    resource = build_resource(from_config(app.config))
    assert isinstance(resource, HashOnceResource)
    plain = Resource(resource.attributes, resource.schema_url)
    assert hash(resource) == hash(plain) and resource == plain
    assert resource._hash == hash(plain)  # kept after the first call
    assert {plain: "x"}[resource] == "x"


class _NullHistogram:
    def record(self, value, labels, span_context=None):
        pass


def _plain_app():
    from flask import Flask

    app = Flask("plain")

    @app.route("/api/books/<int:book_id>")
    def book(book_id):
        return {"id": book_id}

    return app


def test_server_spans_have_the_stock_instrumentations_name_and_attributes():
    """Our before_request hook builds attributes only for recorded spans, and builds the same ones."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from app.telemetry import instrumentation, requests

    def provider(exporter):
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        return tracer_provider

    stock_spans, our_spans = InMemorySpanExporter(), InMemorySpanExporter()
    stock, ours = _plain_app(), _plain_app()
    FlaskInstrumentor.instrument_app(stock, tracer_provider=provider(stock_spans), meter_provider=NoOpMeterProvider(),
                                     excluded_urls="/healthz", enable_commenter=False)
    assert instrumentation.instrument_flask(ours, provider(our_spans), "/healthz")
    ours.wsgi_app = requests.RequestMetricsMiddleware(
        ours.wsgi_app, _NullHistogram(), response_attributes=instrumentation.response_attributes_setter())
    for app in (stock, ours):
        client = app.test_client()
        assert client.get("/api/books/42?edition=2", headers={"User-Agent": "curl/8.5",
                                                               "X-Forwarded-For": "10.1.2.3"}).status_code == 200
        assert client.post("/api/books/7").status_code == 405
        assert client.get("/nowhere").status_code == 404
        assert client.get("/healthz").status_code == 404  # excluded: no span
    stock_finished, our_finished = stock_spans.get_finished_spans(), our_spans.get_finished_spans()
    assert [span.name for span in our_finished] == [
        "GET /api/books/<int:book_id>", "HTTP unmatched", "HTTP unmatched"]
    assert [span.name for span in stock_finished][0] == "GET /api/books/<int:book_id>"
    assert [dict(span.attributes) for span in our_finished] == [dict(span.attributes) for span in stock_finished]
    assert dict(our_finished[0].attributes)["http.route"] == "/api/books/<int:book_id>"
    assert [span.kind for span in our_finished] == [span.kind for span in stock_finished]


def test_unsampled_requests_build_no_span_attributes(tmp_path, monkeypatch):
    """The request attribute dict is built for recorded server spans only."""
    from opentelemetry.instrumentation import wsgi as otel_wsgi

    built = []
    real = otel_wsgi.collect_request_attributes
    monkeypatch.setattr(otel_wsgi, "collect_request_attributes", lambda *a, **k: built.append(1) or real(*a, **k))
    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    app = make_app(tmp_path / "off", OTEL_TRACES_SAMPLER="always_off")
    client = app.test_client()
    assert client.get("/api/books/42").status_code == 200
    assert built == []
    sampled = make_app(tmp_path / "on", OTEL_TRACES_SAMPLER="always_on")
    assert sampled.test_client().get("/api/books/42").status_code == 200
    assert built == [1]


def statements_timed(app) -> int:
    """Statements the app's statement histogram has counted so far."""
    metric = app.extensions["telemetry"].instruments.db_query_duration.metric(0)
    return sum(point.count for point in metric.data.data_points) if metric else 0


@pytest.mark.parametrize("sampler", ["parentbased_always_on", "parentbased_always_off", "always_on"])
def test_every_statement_is_timed_once_from_the_engine_tracers_listeners(tmp_path, sampler):
    from sqlalchemy import event

    app = make_app(tmp_path, OTEL_TRACES_SAMPLER=sampler)
    with app.app_context():
        engine = db.engine
    executed = []
    event.listen(engine, "after_cursor_execute", lambda conn, cursor, statement, *rest: executed.append(statement))
    before = statements_timed(app)
    client = app.test_client()
    assert client.get("/api/books/42").status_code == 200
    assert client.get("/api/books/7").status_code == 404
    assert len(executed) >= 4
    assert statements_timed(app) - before == len(executed)
    # one pair of cursor listeners (the tracer's) and no pool listeners for the no-op usage counter
    assert len(engine.dispatch.before_cursor_execute) == 1
    assert len(engine.pool.dispatch.checkout) == 0


def test_span_hooks_check_exclusions_on_the_path_without_building_the_url(tmp_path, monkeypatch):
    """request.url (about 18 µs: host, quoting, IRI) is built by no telemetry hook; exclusions
    match the path, as the request histogram's do."""
    from werkzeug.sansio.request import Request

    built = []
    real = Request.url.fget
    monkeypatch.setattr(Request, "url", property(lambda self: built.append(self.path) or real(self)))
    app, spans = traced_app(tmp_path)
    client = app.test_client()
    assert client.get("/api/books/42").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert built == []
    assert [span.name for span in spans.get_finished_spans() if span.kind.name == "SERVER"] == [
        "GET /api/books/<int:book_id>"]


def _server_span_attributes(tmp_path, path, headers=None):
    app, spans = traced_app(tmp_path)
    assert app.test_client().get(path, headers=headers or {}).status_code == 200
    return [dict(span.attributes) for span in spans.get_finished_spans() if span.kind.name == "SERVER"][0]


def test_captured_headers_follow_the_standard_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "X-Request-Id,Authorization")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", "Content-Type")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "Authorization")
    attributes = _server_span_attributes(tmp_path, "/api/books/42", {"X-Request-Id": "r-1", "Authorization": "Bearer s"})
    assert attributes["http.request.header.x_request_id"] == ("r-1",)
    assert attributes["http.request.header.authorization"] == ("[REDACTED]",)
    assert attributes["http.response.header.content_type"] == ("application/json",)


def test_no_header_capture_work_when_none_is_configured(tmp_path, monkeypatch):
    from opentelemetry.instrumentation import wsgi as otel_wsgi

    for name in ("REQUEST", "RESPONSE"):
        monkeypatch.delenv(f"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_{name}", raising=False)
    calls = []
    for function in ("collect_custom_request_headers_attributes", "collect_custom_response_headers_attributes"):
        real = getattr(otel_wsgi, function)
        monkeypatch.setattr(otel_wsgi, function, lambda *a, _real=real, _name=function: calls.append(_name) or _real(*a))
    attributes = _server_span_attributes(tmp_path, "/api/books/42", {"X-Request-Id": "r-1"})
    assert not [key for key in attributes if key.startswith("http.request.header.")]
    assert calls == []


def test_excluded_paths_make_no_database_spans_either(tmp_path):
    """A readiness probe's statements would otherwise start traces of their own, with no request span."""
    app, spans = traced_app(tmp_path)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert spans.get_finished_spans() == ()
    assert client.get("/api/books/42").status_code == 200  # and the next request is traced as before
    assert {span.kind.name for span in spans.get_finished_spans()} == {"SERVER", "CLIENT"}
