"""Traces and metrics through OTLP/HTTP to a test receiver (tests/otlp_receiver.py)."""
import pytest

from app import create_app, telemetry
from app.extensions import db
from tests.factories import Factory
from tests.otlp_receiver import OTLPReceiver
from tests.test_request_measurement import statements_timed

SERVER, CLIENT, CONSUMER = 2, 3, 5  # opentelemetry.proto.trace.v1.Span.SpanKind


@pytest.fixture
def receiver():
    with OTLPReceiver() as r:
        yield r


def make_app(tmp_path, endpoint, **extra):
    config = {
        "TESTING": True, "SECRET_KEY": "x", "REDIS_URL": None, "CACHE_TYPE": "SimpleCache",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'otlp.db'}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        **extra,
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        Factory().book(id=42, title="The Hitchhiker's Guide", copies=2)
    return app


def server_spans(spans):
    return [s for s in spans if s["kind"] == SERVER]


def test_book_detail_gives_one_server_span_with_a_database_child(tmp_path, receiver):
    app = make_app(tmp_path, receiver.endpoint)
    try:
        assert app.test_client().get("/api/books/42").status_code == 200
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    spans = receiver.spans()
    servers = server_spans(spans)
    assert [s["name"] for s in servers] == ["GET /api/books/<int:book_id>"]
    server = servers[0]
    assert server["attributes"]["http.route"] == "/api/books/<int:book_id>"
    children = [s for s in spans if s["parent_span_id"] == server["span_id"]]
    assert children and all(s["kind"] == CLIENT and s["trace_id"] == server["trace_id"] for s in children)
    assert any(s["attributes"].get("db.system") == "sqlite" or s["attributes"].get("db.system.name") == "sqlite"
               for s in children)
    resource = server["resource"]
    assert resource["service.name"] == "library-service"
    assert resource["deployment.environment"] == "production"
    assert resource["service.version"]
    assert str(__import__("os").getpid()) in resource["service.instance.id"]


def test_metrics_arrive_with_the_library_names(tmp_path, receiver):
    app = make_app(tmp_path, receiver.endpoint)
    try:
        app.test_client().get("/api/books/42")
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    names = receiver.metric_names()
    expected = {"library_book_loans_total", "library_book_returns_total", "library_user_registrations_total",
                "library_user_logins_total", "library_api_request_duration_seconds",
                "library_db_query_duration_seconds", "library_active_users_total",
                "library_available_books_total", "library_system_status", "library_error_rate_percent"}
    assert expected <= names
    assert not {n for n in names if n.startswith("http.server")}
    [available] = receiver.metrics_named("library_available_books_total")[-1:]
    assert [p.as_int or p.as_double for p in available.gauge.data_points] == [2]
    [histogram] = receiver.metrics_named("library_api_request_duration_seconds")[-1:]
    points = histogram.histogram.data_points
    assert len(points) == 1 and points[0].count == 1
    assert list(points[0].explicit_bounds)[:3] == [0.005, 0.01, 0.025]
    attributes = {kv.key: kv.value.string_value for kv in points[0].attributes}
    assert attributes == {"route": "/api/books/<int:book_id>", "method": "GET", "status": "200"}


def test_unmatched_paths_share_one_span_name(tmp_path, receiver):
    app = make_app(tmp_path, receiver.endpoint)
    try:
        client = app.test_client()
        for path in ("/a", "/b/c", "/api/nothing-here"):
            assert client.get(path).status_code == 404
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    assert [s["name"] for s in server_spans(receiver.spans())] == ["HTTP unmatched"] * 3


def test_excluded_paths_make_no_spans(tmp_path, receiver):
    app = make_app(tmp_path, receiver.endpoint)
    try:
        client = app.test_client()
        for path in ("/metrics", "/healthz", "/readyz"):
            client.get(path)
        client.get("/api/books/42")
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    assert [s["name"] for s in server_spans(receiver.spans())] == ["GET /api/books/<int:book_id>"]


def test_sdk_disabled_sends_nothing(tmp_path, receiver):
    app = make_app(tmp_path, receiver.endpoint, OTEL_SDK_DISABLED=True)
    client = app.test_client()
    assert client.get("/api/books/42").status_code == 200
    assert client.get("/metrics").status_code == 404
    telemetry.force_flush(app)
    telemetry.shutdown(app)
    assert receiver.spans() == [] and receiver.metric_names() == set()
    assert telemetry.tracer_provider_for(app) is None


def test_init_app_twice_still_one_span_per_request(tmp_path, receiver):
    app = make_app(tmp_path, receiver.endpoint)
    try:
        telemetry.init_app(app)
        telemetry.start(app)
        telemetry.start_worker(app)
        app.test_client().get("/api/books/42")
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    spans = receiver.spans()
    assert len(server_spans(spans)) == 1
    # one CLIENT span per statement, not two
    clients = [s for s in spans if s["kind"] == CLIENT]
    assert len({s["span_id"] for s in clients}) == len(clients)
    statements = [s["attributes"].get("db.statement") for s in clients]
    assert len(statements) == len(set(zip(statements, [s["span_id"] for s in clients])))


def test_opentelemetry_instrument_on_top_does_not_double_spans(tmp_path, receiver, monkeypatch):
    """What `opentelemetry-instrument` does: patch flask.Flask, and trace engines as they are created.

    (Its SQLAlchemy step is simulated: SQLAlchemyInstrumentor().instrument() declines
    SQLAlchemy 2.1 and needs greenlet, so here it would not trace engines at all.)
    """
    import flask
    from flask_sqlalchemy import SQLAlchemy
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import app as app_package

    exporter = InMemorySpanExporter()
    global_provider = TracerProvider()
    global_provider.add_span_processor(SimpleSpanProcessor(exporter))
    flask_instrumentor = FlaskInstrumentor()
    flask_instrumentor.instrument(tracer_provider=global_provider)
    make_engine = SQLAlchemy._make_engine

    def traced_make_engine(self, *args, **kwargs):
        engine = make_engine(self, *args, **kwargs)
        EngineTracer(global_provider.get_tracer("global"), engine,
                     NoOpMeter("global").create_up_down_counter("connections"))
        return engine

    monkeypatch.setattr(SQLAlchemy, "_make_engine", traced_make_engine)
    monkeypatch.setattr(app_package, "Flask", flask.Flask)  # the factory imported Flask before the patch
    try:
        app = make_app(tmp_path, receiver.endpoint)
        exporter.clear()
        timed_before = statements_timed(app)
        try:
            app.test_client().get("/api/books/42")
            timed_during = statements_timed(app) - timed_before  # before the flush's metric collection queries
            telemetry.force_flush(app)
        finally:
            telemetry.shutdown(app)
    finally:
        flask_instrumentor.uninstrument()
    ours = receiver.spans()
    theirs = exporter.get_finished_spans()
    # exactly one server span for the request (the wrapper's), and ours stood back
    assert [s.name for s in theirs if s.kind.name == "SERVER"] == ["GET /api/books/<int:book_id>"]
    assert server_spans(ours) == []
    # each statement traced once: the engine already had the wrapper's tracer
    assert [s for s in theirs if s.kind.name == "CLIENT"]
    assert [s for s in ours if s["kind"] == CLIENT] == []
    # and each statement timed once, by our own listener pair beside the wrapper's tracer
    assert timed_during == len([s for s in theirs if s.kind.name == "CLIENT"])


def test_job_span_continues_the_enqueuing_request(tmp_path, receiver):
    from flask import jsonify

    from app.telemetry.propagation import inject_context, job_span

    app = make_app(tmp_path, receiver.endpoint)
    carriers = []

    @app.get("/_test/enqueue")
    def enqueue():
        carriers.append(inject_context())
        return jsonify(ok=True)

    try:
        app.test_client().get("/_test/enqueue")
        with app.app_context():
            with job_span("collect", carriers[0], attributes={"job": "collect"}) as span:
                assert span.is_recording()
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    spans = receiver.spans()
    [server] = server_spans(spans)
    [job] = [s for s in spans if s["kind"] == CONSUMER]
    assert carriers[0]["traceparent"].split("-")[1] == server["trace_id"]
    assert job["name"] == "collect"
    assert job["trace_id"] == server["trace_id"] and job["parent_span_id"] == server["span_id"]


def test_job_span_without_telemetry_is_a_no_op(tmp_path):
    from app.telemetry.propagation import job_span

    app = make_app(tmp_path, None, OTEL_SDK_DISABLED=True)
    with app.app_context(), job_span("collect", {}) as span:
        assert not span.is_recording()


def test_unsampled_requests_send_no_spans_but_still_count(tmp_path, receiver):
    app = make_app(tmp_path, receiver.endpoint, OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                   OTEL_TRACES_SAMPLER_ARG="0")
    try:
        client = app.test_client()
        for _ in range(5):
            assert client.get("/api/books/42").status_code == 200
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    assert receiver.spans() == []
    [histogram] = receiver.metrics_named("library_api_request_duration_seconds")[-1:]
    assert [p.count for p in histogram.histogram.data_points] == [5]


def test_a_sampled_parent_from_upstream_is_followed(tmp_path, receiver):
    """parentbased: a request carrying a sampled traceparent is traced even at ratio 0."""
    app = make_app(tmp_path, receiver.endpoint, OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                   OTEL_TRACES_SAMPLER_ARG="0")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        app.test_client().get("/api/books/42", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    spans = receiver.spans()
    [server] = server_spans(spans)
    assert server["trace_id"] == trace_id and server["parent_span_id"] == "00f067aa0ba902b7"
    assert [s for s in spans if s["kind"] == CLIENT and s["parent_span_id"] == server["span_id"]]
