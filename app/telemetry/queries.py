"""Database statement duration from SQLAlchemy cursor events.

The engine tracer (instrumentation._LeanEngineTracer) calls a StatementTimer from the
cursor listeners it already has; `time_queries` registers a listener pair of its own
for an engine that something else traces.
"""
import logging
from time import perf_counter

from sqlalchemy import event

from . import timings

log = logging.getLogger(__name__)

_START = "_library_query_start"


class StatementTimer:
    """Feeds library_db_query_duration_seconds and timings.record_db_query for one engine."""

    def __init__(self, engine, histogram, record=timings.record_db_query):
        self._histogram = histogram
        self._labels = (engine.dialect.name,)  # metrics.DB_QUERY_LABELS
        self._record = record

    def start(self, context):
        """before_cursor_execute: the statement starts now."""
        if context is not None:
            setattr(context, _START, perf_counter())

    def stop(self, context):
        """after_cursor_execute: record the statement's duration."""
        start = getattr(context, _START, None)
        if start is None:
            return
        duration = perf_counter() - start
        try:
            self._histogram.record(duration, self._labels)
            self._record(duration)
        except Exception:  # telemetry never breaks a query
            log.exception("telemetry: could not record query duration")


def time_queries(engine, timer: StatementTimer):
    """Run `timer` from a listener pair of its own on `engine`."""

    def before(conn, cursor, statement, parameters, context, executemany):
        timer.start(context)

    def after(conn, cursor, statement, parameters, context, executemany):
        timer.stop(context)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
