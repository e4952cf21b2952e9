"""Request duration: one WSGI wrapper, one perf_counter pair per request.

The same measurement feeds library_api_request_duration_seconds (labelled by the
route template, never the raw path), timings.record_request and every recorder
other areas register with `add_recorder` (the alert rules' request window), so
no request is timed twice. With OTEL_SDK_DISABLED=true only the recorders are
fed, by the plain `RequestTimer`.
"""
import logging
from time import perf_counter

from flask import request as flask_request
from opentelemetry.instrumentation.utils import suppress_instrumentation

from . import timings
from .metrics import UNMATCHED_ROUTE

log = logging.getLogger(__name__)

# Set by the Flask instrumentation's request hook (instrumentation.py) so the
# histogram can attach the server span as an exemplar.
SPAN_ENVIRON_KEY = "library.telemetry.span"
# Set by remember_route: Flask clears environ["werkzeug.request"] when the request
# context pops, before the middleware gets control back.
RULE_ENVIRON_KEY = "library.telemetry.url_rule"
RECORDERS = "telemetry_request_recorders"


def add_recorder(app, recorder) -> None:
    """Call `recorder(duration_seconds, status_code)` once per request the telemetry measures.

    Excluded paths (/metrics, /healthz, /readyz by default) are not passed on. Works
    with telemetry disabled too. Register before `telemetry.start(app)`.
    """
    recorders_of(app).append(recorder)


def recorders_of(app) -> list:
    """The app's registered request recorders (a live list)."""
    return app.extensions.setdefault(RECORDERS, [])


def remember_route():
    """before_request (registered first): keep the matched rule where the middleware can read it."""
    flask_request.environ[RULE_ENVIRON_KEY] = flask_request.url_rule

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


class RequestTimer:
    """WSGI middleware timing each request once and handing (duration, status) to `recorders`."""

    def __init__(self, wsgi_app, recorders=(), excluded=None):
        self.wsgi_app = wsgi_app
        self._recorders = recorders
        self._excluded = excluded

    def __call__(self, environ, start_response):
        if self._excluded is not None and self._excluded.url_disabled(environ.get("PATH_INFO", "")):
            return self._excluded_request(environ, start_response)
        status = ["500"]

        def _start_response(status_line, headers, exc_info=None):
            status[0] = status_line
            self._response_started(environ, status_line, headers)
            return start_response(status_line, headers, exc_info)

        start = perf_counter()
        try:
            return self.wsgi_app(environ, _start_response)
        finally:
            duration = perf_counter() - start
            code = int(status[0][:3]) if status[0][:3].isdigit() else 500
            try:
                self._record(environ, code, duration)
            except Exception:  # telemetry never breaks a request
                log.exception("telemetry: could not record request duration")
            for recorder in self._recorders:
                try:
                    recorder(duration, code)
                except Exception:  # nor does a recorder, or stop the others
                    log.exception("telemetry: request recorder %r failed", recorder)

    def _excluded_request(self, environ, start_response):
        return self.wsgi_app(environ, start_response)

    def _response_started(self, environ, status_line, headers):
        pass

    def _record(self, environ, code, duration):
        pass


class RequestMetricsMiddleware(RequestTimer):
    """RequestTimer that also records the request histogram by route template and the timings.

    With `response_attributes` (a callable taking span, status line, headers) it also
    sets the server span's response attributes, the job of the Flask instrumentation's
    own WSGI layer, which instrumentation.instrument_flask removes.
    """

    def __init__(self, wsgi_app, histogram, excluded=None, record=timings.record_request, recorders=(),
                 response_attributes=None):
        super().__init__(wsgi_app, recorders, excluded)
        self._histogram = histogram
        self._record_timing = record
        self._response_attributes = response_attributes

    def _excluded_request(self, environ, start_response):
        """An excluded path (a probe, a scrape) gets no span, and neither do its statements,
        which would otherwise start traces of their own with no request above them."""
        with suppress_instrumentation():
            return self.wsgi_app(environ, start_response)

    def _response_started(self, environ, status_line, headers):
        if self._response_attributes is not None:
            self._response_attributes(environ.get(SPAN_ENVIRON_KEY), status_line, headers)

    def _record(self, environ, code, duration):
        rule = environ.get(RULE_ENVIRON_KEY)
        method = environ.get("REQUEST_METHOD", "")
        labels = (rule.rule if rule is not None else UNMATCHED_ROUTE,  # metrics.REQUEST_LABELS
                  method if method in _KNOWN_METHODS else "_OTHER",
                  str(code))
        span = environ.get(SPAN_ENVIRON_KEY)
        span_context = span.get_span_context() if span is not None else None
        self._histogram.record(duration, labels,
                               span_context if span_context is not None and span_context.trace_flags.sampled
                               else None)
        self._record_timing(duration, code)
