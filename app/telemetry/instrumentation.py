"""OpenTelemetry instrumentation of this app's Flask app, database engines and Redis clients.

Providers are always passed explicitly; nothing here patches classes globally,
so many apps can live in one process (tests) and `opentelemetry-instrument` on
top does not double anything (see docs/telemetry.md).
"""
import logging

import flask
from opentelemetry import trace
from opentelemetry.instrumentation import flask as otel_flask
from opentelemetry.instrumentation import wsgi as otel_wsgi
from opentelemetry.instrumentation._semconv import (
    _get_schema_url,
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _set_db_operation,
    _set_db_statement,
    _set_db_system,
)
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.flask.version import __version__ as flask_instrumentation_version
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.sqlalchemy.engine import (
    EngineTracer,
    _get_attributes_from_cursor_or_conn,
    _get_attributes_from_url,
    _get_db_name_from_cursor_or_conn,
)
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_instrumentation_version
from opentelemetry.instrumentation.utils import _start_internal_or_server_span, is_instrumentation_enabled
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import TraceFlags
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
    get_custom_headers,
    parse_excluded_urls,
    sanitize_method,
)

from .metrics import UNMATCHED_ROUTE
from .requests import RULE_ENVIRON_KEY, SPAN_ENVIRON_KEY

log = logging.getLogger(__name__)

UNMATCHED_SPAN_NAME = f"HTTP {UNMATCHED_ROUTE}"

# OpenTelemetry's own http.server.* and db.client.* instruments are not recorded:
# library_api_request_duration_seconds / library_db_query_duration_seconds replace
# them, and recording both cost a third of the throughput (bench/overhead).
_NO_METRICS = NoOpMeterProvider()


def _sampled_attributes_before_request(tracer, excluded_urls, mode):
    """The Flask instrumentation's before_request hook, building attributes only for recorded spans.

    The stock hook (opentelemetry.instrumentation.flask._wrapped_before_request) builds the
    request attribute dict (URL, host, peer, user agent: about 100 Python calls) before it
    starts the span, so also for the 90 % of requests the default sampler drops. This one
    starts the span first and sets the same attributes only when the span records. The
    samplers OTEL_TRACES_SAMPLER can name never read attributes, so they decide the same.
    Exclusions match the path (PATH_INFO), as RequestMetricsMiddleware's do, not request.url,
    which costs about 18 µs to build. The span ends in the stock teardown hook, which reads
    the same environ keys. It also names unmatched paths' spans UNMATCHED_SPAN_NAME and keeps
    the matched rule and the span for RequestMetricsMiddleware (label and exemplar).
    """
    wsgi_getter = otel_wsgi.wsgi_getter
    capture_headers = _capturing_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST)

    def _before_request():
        request = flask.request._get_current_object()  # one context-variable lookup, not one per use
        environ = request.environ
        if excluded_urls and excluded_urls.url_disabled(environ.get("PATH_INFO", "")):
            return
        rule = request.url_rule
        environ[RULE_ENVIRON_KEY] = rule
        if rule is None:
            name = UNMATCHED_SPAN_NAME
        else:
            method = sanitize_method(environ.get("REQUEST_METHOD", "").strip())
            name = f"{'HTTP' if method == '_OTHER' else method} {rule.rule}"
        span, token = _start_internal_or_server_span(tracer=tracer, span_name=name, start_time=None,
                                                     context_carrier=environ, context_getter=wsgi_getter)
        environ[SPAN_ENVIRON_KEY] = span
        if span.is_recording():
            attributes = otel_wsgi.collect_request_attributes(environ, sem_conv_opt_in_mode=mode)
            if rule is not None:
                attributes[HTTP_ROUTE] = rule.rule
            span.set_attributes(attributes)
            if capture_headers and span.kind == trace.SpanKind.SERVER:
                custom = otel_wsgi.collect_custom_request_headers_attributes(environ)
                if custom:
                    span.set_attributes(custom)
        activation = trace.use_span(span, end_on_exit=True)
        activation.__enter__()  # pylint: disable=unnecessary-dunder-call
        environ[otel_flask._ENVIRON_ACTIVATION_KEY] = activation
        environ[otel_flask._ENVIRON_REQCTX_REF_KEY] = otel_flask._request_ctx_ref()
        environ[otel_flask._ENVIRON_SPAN_KEY] = span
        environ[otel_flask._ENVIRON_TOKEN] = token

    return _before_request


def instrument_flask(app, tracer_provider, excluded_urls) -> bool:
    """instrument_app on this app only; False when something instrumented it already."""
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        # opentelemetry-instrument replaced flask.Flask: its wrapper already makes
        # the server span, a second instrument_app would only warn (one span per request).
        log.info("telemetry: Flask app already instrumented (opentelemetry-instrument?); keeping that")
        return False
    FlaskInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        meter_provider=_NO_METRICS,
        excluded_urls=excluded_urls,
        enable_commenter=False,
    )
    # instrument_app appends its before_request hook; replace it with the one that builds
    # attributes only for recorded spans, first in line, so the server span also covers
    # requests that an earlier hook answers (429, CSRF 400). uninstrument_app removes
    # whatever app._before_request is.
    mode = _OpenTelemetrySemanticConventionStability._get_opentelemetry_stability_opt_in_mode(
        _OpenTelemetryStabilitySignalType.HTTP)
    tracer = trace.get_tracer(otel_flask.__name__, flask_instrumentation_version, tracer_provider,
                              schema_url=_get_schema_url(mode))
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.remove(app._before_request)
    app._before_request = _sampled_attributes_before_request(
        tracer, parse_excluded_urls(excluded_urls) if excluded_urls else None, mode)
    hooks.insert(0, app._before_request)
    # Its teardown hook builds request.url for the same exclusion check; without an
    # exclusion list it ends whatever span the before_request hook started, and an
    # excluded request has none.
    teardowns = app.teardown_request_funcs.setdefault(None, [])
    teardowns[teardowns.index(app._teardown_request)] = app._teardown_request = \
        otel_flask._wrapped_teardown_request(excluded_urls=None)
    # instrument_app also wraps wsgi_app in a layer that, for every request, builds a
    # second request-attribute dict and checks the excluded URLs again, only to feed
    # http.server.* instruments (no-op here) and set the span's response attributes.
    # Drop it (instrument_app keeps the unwrapped app in _original_wsgi_app for its own
    # uninstrument_app); requests.RequestMetricsMiddleware sets those attributes with
    # response_attributes_setter(), from the status it already reads.
    app.wsgi_app = app._original_wsgi_app
    return True


def _capturing_headers(variable: str) -> bool:
    """Whether OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST/_RESPONSE names any header.

    The WSGI instrumentation's collect_custom_*_headers_attributes read it (and the sanitize
    list) from the environment and copy every header on each call, also when it names none
    (about 70 Python calls per traced request); read once here, when the hooks are built.
    """
    return bool(get_custom_headers(variable))


def response_attributes_setter():
    """(span, status line, headers) -> None: what the Flask instrumentation's WSGI layer did at
    start_response — response propagator, status attributes and span status, captured headers."""
    mode = _OpenTelemetrySemanticConventionStability._get_opentelemetry_stability_opt_in_mode(
        _OpenTelemetryStabilitySignalType.HTTP)
    capture_headers = _capturing_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE)

    def set_response_attributes(span, status_line, headers):
        propagator = get_global_response_propagator()
        if propagator:
            propagator.inject(headers, setter=otel_wsgi.default_response_propagation_setter)
        if span is None or not span.is_recording():
            return
        otel_wsgi.add_response_attributes(span, status_line, headers, None, mode)
        if capture_headers and span.kind == trace.SpanKind.SERVER:
            custom = otel_wsgi.collect_custom_response_headers_attributes(headers)
            if custom:
                span.set_attributes(custom)

    return set_response_attributes


# Pool events the EngineTracer listens to only to feed db.client.connections.usage,
# which goes to a no-op meter here.
_CONNECTION_USAGE_EVENTS = frozenset({"connect", "close", "checkin", "checkout"})


class _LeanEngineTracer(EngineTracer):
    """EngineTracer without the work whose result is thrown away, also timing statements.

    - With a parent-based sampler, a statement under an unsampled request span
      would get a non-recording span; skip building its attributes and span.
    - A recorded span gets the stock tracer's name and attributes (tests/test_database_spans.py
      compares them on SQLite and PostgreSQL), built in one dict passed at span start, the
      operation name parsed once, not twice, and without entering the span as current
      (the stock tracer does so only while it sets the attributes). The connection's
      attributes (database name, peer) come from the engine's URL for SQLite and for any URL
      naming a host, so they are worked out once per engine; otherwise (a PostgreSQL socket)
      from each cursor, as the stock tracer does.
    - db.client.connections.usage goes to a no-op meter; skip its pool listeners.
    - The statement timer runs from the tracer's own cursor listeners (after the
      span starts, before it ends), not from a second listener pair.
    """

    def __init__(self, *args, skip_unsampled: bool, statement_timer=None, **kwargs):
        self._skip_unsampled = skip_unsampled
        self._timer = statement_timer
        self._engine_attributes = None  # (db name, connection attributes) when the URL decides them
        super().__init__(*args, **kwargs)

    def _register_event_listener(self, target, identifier, func, *args, **kw):
        if identifier in _CONNECTION_USAGE_EVENTS:
            return
        if identifier == "after_cursor_execute":
            func = self._after_cur_exec  # the stock module-level function, plus the timer
        super()._register_event_listener(target, identifier, func, *args, **kw)

    def _before_cur_exec(self, conn, cursor, statement, params, context, executemany):
        # No sqlcommenter: instrument_engine never enables it, so the statement is never rewritten.
        if not (self._skip_unsampled and _unsampled_parent()) and is_instrumentation_enabled():
            self._start_span(conn, cursor, statement, context)
        if self._timer is not None:
            self._timer.start(context)
        return statement, params

    def _start_span(self, conn, cursor, statement, context):
        db_name, attributes = self._connection_attributes(conn, cursor)
        name = self._operation_name(db_name, statement)
        attributes = dict(attributes)
        _set_db_statement(attributes, statement, self._sem_conv_opt_in_mode_db)
        _set_db_system(attributes, self.vendor, self._sem_conv_opt_in_mode_db)
        _set_db_operation(attributes, name, self._sem_conv_opt_in_mode_db)
        context._otel_span = self.tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes)

    def _connection_attributes(self, conn, cursor):
        """(database name, connection attributes) as the stock _before_cur_exec works them out."""
        if self._engine_attributes is not None:
            return self._engine_attributes
        attributes, found = _get_attributes_from_url(conn.engine.url, self._sem_conv_opt_in_mode_db,
                                                     self._sem_conv_opt_in_mode_http)
        if not found:
            attributes = _get_attributes_from_cursor_or_conn(self.vendor, conn, cursor, attributes,
                                                             self._sem_conv_opt_in_mode_db,
                                                             self._sem_conv_opt_in_mode_http)
        result = _get_db_name_from_cursor_or_conn(self.vendor, conn, cursor), attributes
        if found or self.vendor == "sqlite":
            self._engine_attributes = result
        return result

    def _after_cur_exec(self, conn, cursor, statement, params, context, executemany):
        if self._timer is not None:
            self._timer.stop(context)
        span = getattr(context, "_otel_span", None)
        if span is not None:
            span.end()


def _unsampled_parent() -> bool:
    """Whether the current span is a valid, unsampled one (runs before every statement).

    SpanContext is a tuple (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid);
    its fields are read by index, not through three property calls.
    """
    parent = trace.get_current_span().get_span_context()
    return parent[5] and not parent[3] & TraceFlags.SAMPLED


def _engine_traced(engine) -> bool:
    return any(ref() is engine for ref, _identifier, _fn in EngineTracer._remove_event_listener_params)


def instrument_engine(engine, tracer_provider, *, parent_based: bool = True, statement_timer=None) -> bool:
    """Database CLIENT spans for `engine` (and `statement_timer` run from the same listeners),
    unless an EngineTracer is already listening on it (then False, and nothing is added).

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
    _LeanEngineTracer(tracer, engine, connections, skip_unsampled=parent_based, statement_timer=statement_timer)
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
