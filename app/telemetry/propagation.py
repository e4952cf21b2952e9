"""Trace context across the queue: inject in the request that enqueues, a span per job in the worker."""
from contextlib import contextmanager

from flask import current_app, has_app_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind


def inject_context() -> dict:
    """The current trace context as a plain dict (W3C traceparent/tracestate), to store with a job."""
    carrier = {}
    propagate.inject(carrier)
    return carrier


def _tracer():
    if not has_app_context():
        return None
    state = current_app.extensions.get("telemetry")
    providers = getattr(state, "providers", None)
    if providers is None:
        return None
    return providers.tracer_provider.get_tracer("library-service.jobs")


@contextmanager
def job_span(name, carrier=None, attributes=None):
    """A CONSUMER span named `name`, child of the context in `carrier` (from inject_context).

    Needs the job's app context to find the app's tracer provider; without
    telemetry it yields a non-recording span. Exceptions are recorded on the span
    and re-raised.
    """
    tracer = _tracer()
    if tracer is None:
        yield trace.INVALID_SPAN
        return
    parent = propagate.extract(carrier or {})
    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.CONSUMER,
                                      attributes=attributes) as span:
        yield span
