"""Database statement duration from SQLAlchemy cursor events (one listener pair per engine)."""
import logging
from time import perf_counter

from sqlalchemy import event

from . import timings

log = logging.getLogger(__name__)

_START = "_library_query_start"


def time_queries(engine, histogram, record=timings.record_db_query):
    """Feed library_db_query_duration_seconds and timings.record_db_query from `engine`."""
    labels = (engine.dialect.name,)  # metrics.DB_QUERY_LABELS

    def before(conn, cursor, statement, parameters, context, executemany):
        if context is not None:
            setattr(context, _START, perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        start = getattr(context, _START, None)
        if start is None:
            return
        duration = perf_counter() - start
        try:
            histogram.record(duration, labels)
            record(duration)
        except Exception:  # telemetry never breaks a query
            log.exception("telemetry: could not record query duration")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
