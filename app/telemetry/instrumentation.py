"""OpenTelemetry instrumentation of this app's Flask app, database engines and Redis clients.

Providers are always passed explicitly; nothing here patches classes globally,
so many apps can live in one process (tests) and `opentelemetry-instrument` on
top does not double anything (see docs/telemetry.md).
"""
import logging

import flask
from opentelemetry import trace
from opentelemetry.instrumentation import wsgi as otel_wsgi
from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
)
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_instrumentation_version
from opentelemetry.metrics import NoOpMeterProvider

from .metrics import UNMATCHED_ROUTE
from .requests import SPAN_ENVIRON_KEY

log = logging.getLogger(__name__)

UNMATCHED_SPAN_NAME = f"HTTP {UNMATCHED_ROUTE}"

# OpenTelemetry's own http.server.* and db.client.* instruments are not recorded:
# library_api_request_duration_seconds / library_db_query_duration_seconds replace
# them, and recording both cost a third of the throughput (bench/overhead).
_NO_METRICS = NoOpMeterProvider()


def _request_hook(span, environ):
    """Remember the server span for exemplars; give unmatched paths one fixed span name."""
    environ[SPAN_ENVIRON_KEY] = span
    if span.is_recording() and flask.request.url_rule is None:
        span.update_name(UNMATCHED_SPAN_NAME)


def instrument_flask(app, tracer_provider, excluded_urls) -> bool:
    """instrument_app on this app only; False when something instrumented it already."""
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        # opentelemetry-instrument replaced flask.Flask: its wrapper already makes
        # the server span, a second instrument_app would only warn (one span per request).
        log.info("telemetry: Flask app already instrumented (opentelemetry-instrument?); keeping that")
        return False
    FlaskInstrumentor.instrument_app(
        app,
        request_hook=_request_hook,
        tracer_provider=tracer_provider,
        meter_provider=_NO_METRICS,
        excluded_urls=excluded_urls,
        enable_commenter=False,
    )
    # instrument_app appends its before_request hook; run it first instead, so the
    # server span also covers requests that an earlier hook answers (429, CSRF 400).
    hooks = app.before_request_funcs.setdefault(None, [])
    if app._before_request in hooks:
        hooks.remove(app._before_request)
        hooks.insert(0, app._before_request)
    # instrument_app also wraps wsgi_app in a layer that, for every request, builds a
    # second request-attribute dict and checks the excluded URLs again, only to feed
    # http.server.* instruments (no-op here) and set the span's response attributes.
    # Drop it (instrument_app keeps the unwrapped app in _original_wsgi_app for its own
    # uninstrument_app); requests.RequestMetricsMiddleware sets those attributes with
    # response_attributes_setter(), from the status it already reads.
    app.wsgi_app = app._original_wsgi_app
    return True


def response_attributes_setter():
    """(span, status line, headers) -> None: what the Flask instrumentation's WSGI layer did at
    start_response — response propagator, status attributes and span status, captured headers."""
    mode = _OpenTelemetrySemanticConventionStability._get_opentelemetry_stability_opt_in_mode(
        _OpenTelemetryStabilitySignalType.HTTP)

    def set_response_attributes(span, status_line, headers):
        propagator = get_global_response_propagator()
        if propagator:
            propagator.inject(headers, setter=otel_wsgi.default_response_propagation_setter)
        if span is None or not span.is_recording():
            return
        otel_wsgi.add_response_attributes(span, status_line, headers, None, mode)
        if span.kind == trace.SpanKind.SERVER:
            custom = otel_wsgi.collect_custom_response_headers_attributes(headers)
            if custom:
                span.set_attributes(custom)

    return set_response_attributes


class _LeanEngineTracer(EngineTracer):
    """EngineTracer without the work whose result is thrown away.

    - With a parent-based sampler, a statement under an unsampled request span
      would get a non-recording span; skip building its attributes and span.
    - db.client.connections.usage goes to a no-op meter; skip its per-checkout dicts.
    """

    def __init__(self, *args, skip_unsampled: bool, **kwargs):
        self._skip_unsampled = skip_unsampled
        super().__init__(*args, **kwargs)

    def _before_cur_exec(self, conn, cursor, statement, params, context, executemany):
        if self._skip_unsampled:
            parent = trace.get_current_span().get_span_context()
            if parent.is_valid and not parent.trace_flags.sampled:
                return statement, params
        return super()._before_cur_exec(conn, cursor, statement, params, context, executemany)

    def _add_idle_to_connection_usage(self, value):
        pass

    def _add_used_to_connection_usage(self, value):
        pass


def _engine_traced(engine) -> bool:
    return any(ref() is engine for ref, _identifier, _fn in EngineTracer._remove_event_listener_params)


def instrument_engine(engine, tracer_provider, *, parent_based: bool = True) -> bool:
    """Database CLIENT spans for `engine`, unless an EngineTracer is already listening on it.

    SQLAlchemyInstrumentor().instrument() is a process-wide singleton that also
    patches create_engine for every later engine; the EngineTracer it would
    build for engine=... is used directly instead, with this app's provider.
    """
    if _engine_traced(engine):
        log.info("telemetry: engine %s already traced; keeping that", engine.url.render_as_string())
        return False
    tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy",
                                        sqlalchemy_instrumentation_version)
    connections = _NO_METRICS.get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
        "db.client.connections.usage")
    _LeanEngineTracer(tracer, engine, connections, skip_unsampled=parent_based)
    return True


def instrument_redis_client(client, tracer_provider) -> None:
    """CLIENT spans for every command of one redis-py client (idempotent)."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    if getattr(client, "_is_instrumented_by_opentelemetry", False):
        return
    RedisInstrumentor.instrument_client(client, tracer_provider=tracer_provider)


def redis_clients_of_cache(app):
    """The redis-py clients behind the app's Flask-Caching RedisCache backends."""
    clients = []
    for backend in (app.extensions.get("cache") or {}).values():
        backend = getattr(backend, "wrapped", backend)
        for attr in ("_write_client", "_read_client"):
            client = getattr(backend, attr, None)
            if client is not None and client not in clients:
                clients.append(client)
    return clients
