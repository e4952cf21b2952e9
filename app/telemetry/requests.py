"""Request duration: one WSGI wrapper, one perf_counter pair per request.

The same measurement feeds library_api_request_duration_seconds (labelled by the
route template, never the raw path) and timings.record_request.
"""
import logging
from time import perf_counter

from flask import request as flask_request
from opentelemetry.trace import set_span_in_context

from . import timings
from .metrics import UNMATCHED_ROUTE

log = logging.getLogger(__name__)

# Set by the Flask instrumentation's request hook (instrumentation.py) so the
# histogram can attach the server span as an exemplar.
SPAN_ENVIRON_KEY = "library.telemetry.span"
# Set by remember_route: Flask clears environ["werkzeug.request"] when the request
# context pops, before the middleware gets control back.
RULE_ENVIRON_KEY = "library.telemetry.url_rule"


def remember_route():
    """before_request (registered first): keep the matched rule where the middleware can read it."""
    flask_request.environ[RULE_ENVIRON_KEY] = flask_request.url_rule

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


class RequestMetricsMiddleware:
    """WSGI middleware recording each request's duration once, by route template."""

    def __init__(self, wsgi_app, histogram, excluded=None, record=timings.record_request):
        self.wsgi_app = wsgi_app
        self._histogram = histogram
        self._excluded = excluded
        self._record_timing = record
        # (route, method, status) -> attributes: bounded by routes x methods x statuses.
        self._attributes = {}

    def __call__(self, environ, start_response):
        if self._excluded is not None and self._excluded.url_disabled(environ.get("PATH_INFO", "")):
            return self.wsgi_app(environ, start_response)
        status = ["500"]

        def _start_response(status_line, headers, exc_info=None):
            status[0] = status_line
            return start_response(status_line, headers, exc_info)

        start = perf_counter()
        try:
            return self.wsgi_app(environ, _start_response)
        finally:
            duration = perf_counter() - start
            try:
                self._record(environ, status[0], duration)
            except Exception:  # telemetry never breaks a request
                log.exception("telemetry: could not record request duration")

    def _record(self, environ, status_line, duration):
        code = int(status_line[:3])
        rule = environ.get(RULE_ENVIRON_KEY)
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        method = environ.get("REQUEST_METHOD", "")
        key = (route, method, code)
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = {
                "route": route,
                "method": method if method in _KNOWN_METHODS else "_OTHER",
                "status": str(code),
            }
            self._attributes[key] = attributes
        span = environ.get(SPAN_ENVIRON_KEY)
        if span is not None and span.get_span_context().trace_flags.sampled:
            self._histogram.record(duration, attributes, context=set_span_in_context(span))
        else:
            self._histogram.record(duration, attributes)
        self._record_timing(duration, code)
