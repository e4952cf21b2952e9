"""OpenTelemetry for the library service: providers per app, instrumentation, /metrics, logs.

The factory calls `init_app(app)` first (settings, logging, providers, the
library_* instruments, /metrics) and `start(app)` last, once the database
engines and the cache exist (Flask, SQLAlchemy, Redis, cache instrumentation).
Under gunicorn with TELEMETRY_DEFER_START=1 both wait for `start_worker(app)`,
called after fork, so every worker builds its own providers and exporters.
Public helpers: meter_for, tracer_provider_for, add_request_recorder, shutdown,
force_flush; and
app.telemetry.propagation.inject_context / job_span for jobs.
"""
import logging
from dataclasses import dataclass, field

from opentelemetry.metrics import NoOpMeter
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.util.http import parse_excluded_urls

from . import business, cache, exposition, instrumentation, logs, metrics, queries, requests
from .providers import build_providers
from .resource import build_resource
from .settings import from_config

log = logging.getLogger(__name__)

EXTENSION = "telemetry"


@dataclass
class TelemetryState:
    """One app's telemetry, kept in app.extensions["telemetry"]."""

    settings: object
    providers: object = None
    meter: object = None
    instruments: object = None
    started: bool = False
    # Hands out meters before the providers exist (deferred start); bound to them at start_worker.
    early_meters: _ProxyMeterProvider = field(default_factory=_ProxyMeterProvider)


def _state(app) -> TelemetryState | None:
    return app.extensions.get(EXTENSION)


def init_app(app):
    """Read settings, configure logging, build providers and instruments, route /metrics.

    Idempotent: a second call is a no-op. With OTEL_SDK_DISABLED=true nothing is
    built and /metrics answers 404.
    """
    if _state(app) is not None:
        return
    settings = from_config(app.config)
    state = app.extensions[EXTENSION] = TelemetryState(settings)
    logs.configure(settings)
    if not settings.enabled:
        return
    for rule in ("/metrics", "/metrics/"):
        app.add_url_rule(rule, endpoint="telemetry_metrics", view_func=exposition.metrics_view,
                         methods=["GET"])
    if not settings.defer_start:
        _build(app, state)


def _build(app, state):
    providers = build_providers(state.settings, build_resource(state.settings),
                                shutdown_on_exit=not app.testing)
    state.providers = providers
    state.meter = providers.meter_provider.get_meter(metrics.METER_NAME)
    state.instruments = metrics.create_instruments(state.meter, providers.hot_metrics)
    business.register(state.meter, app)
    state.early_meters.on_set_meter_provider(providers.meter_provider)


def start(app):
    """Instrument Flask, the database engines, the cache and Redis; call at the end of create_app.

    Waits for start_worker when TELEMETRY_DEFER_START is set. Idempotent. With
    telemetry disabled it only times requests for the recorders of add_request_recorder.
    """
    state = _state(app)
    if state is None or state.started:
        return
    if not state.settings.enabled:
        _time_requests_only(app, state)
    elif not state.settings.defer_start:
        _instrument(app, state)


def add_request_recorder(app, recorder):
    """Have `recorder(duration_seconds, status_code)` called once per measured request.

    The telemetry's single per-request measurement feeds it (excluded paths are
    not passed on), also with OTEL_SDK_DISABLED=true. Call before start(app).
    """
    requests.add_recorder(app, recorder)


def _excluded(settings):
    return parse_excluded_urls(settings.excluded_urls) if settings.excluded_urls else None


def _time_requests_only(app, state):
    recorders = requests.recorders_of(app)
    if recorders:
        app.wsgi_app = requests.RequestTimer(app.wsgi_app, recorders, _excluded(state.settings))
    state.started = True


def start_worker(app):
    """Build providers and instrument in this (forked) process: gunicorn post_worker_init. Idempotent."""
    state = _state(app)
    if state is None or not state.settings.enabled or state.started:
        return
    if state.providers is None:
        _build(app, state)
    _instrument(app, state)


def _instrument(app, state):
    from ..extensions import db

    settings = state.settings
    tracer_provider = state.providers.tracer_provider
    own_layer = instrumentation.instrument_flask(app, tracer_provider, settings.excluded_urls)
    app.wsgi_app = requests.RequestMetricsMiddleware(
        app.wsgi_app, state.instruments.request_duration, _excluded(settings),
        recorders=requests.recorders_of(app),
        response_attributes=instrumentation.response_attributes_setter() if own_layer else None)
    if not own_layer:
        # Our server-span hook keeps the route for the histogram; without it, this does,
        # first in line, so requests that an earlier hook answers (CSRF, rate limits) keep it.
        app.before_request_funcs.setdefault(None, []).insert(0, requests.remember_route)
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        timer = queries.StatementTimer(engine, state.instruments.db_query_duration)
        if not instrumentation.instrument_engine(engine, tracer_provider, statement_timer=timer,
                                                 parent_based=settings.sampler_name.startswith("parentbased_")):
            queries.time_queries(engine, timer)
    cache.instrument_cache(app, state.instruments.cache_operations)
    if app.config.get("REDIS_URL"):
        for client in instrumentation.redis_clients_of_cache(app):
            instrumentation.instrument_redis_client(client, tracer_provider)
    state.started = True


def meter_for(app):
    """The app's Meter for other areas' instruments (a no-op meter when telemetry is off).

    Before a deferred start it returns a proxy whose instruments become real at start_worker.
    """
    state = _state(app)
    if state is None or not state.settings.enabled:
        return NoOpMeter(metrics.METER_NAME)
    if state.providers is not None:
        return state.providers.meter_provider.get_meter(metrics.METER_NAME)
    return state.early_meters.get_meter(metrics.METER_NAME)


def tracer_provider_for(app):
    """The app's TracerProvider, or None when telemetry is off or not started yet."""
    state = _state(app)
    return getattr(getattr(state, "providers", None), "tracer_provider", None)


def instrument_redis(app, client):
    """Trace one more redis-py client (e.g. the RQ connection) with the app's provider."""
    provider = tracer_provider_for(app)
    if provider is not None:
        instrumentation.instrument_redis_client(client, provider)


def force_flush(app, timeout_millis: int = 10_000) -> bool:
    """Export pending spans and metrics now (True when everything was exported)."""
    state = _state(app)
    if state is None or state.providers is None:
        return True
    return state.providers.force_flush(timeout_millis)


def shutdown(app):
    """Flush and shut the app's providers down (tests, gunicorn worker_exit). Idempotent."""
    state = _state(app)
    if state is not None and state.providers is not None:
        state.providers.shutdown()
