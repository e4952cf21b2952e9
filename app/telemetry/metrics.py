"""Instrument names, bucket bounds and the metric Views that give histograms seconds-sized buckets."""
from dataclasses import dataclass

from opentelemetry.sdk.metrics import Histogram
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

from .histograms import HotHistogram, SdkHistogram

METER_NAME = "library-service"

# Names fixed by the original guide (docs/metrics.md). Counters carry `_total` in the
# OpenTelemetry name too, so the OTLP path (collector -> Prometheus) and /metrics agree.
BOOK_LOANS = "library_book_loans_total"
BOOK_RETURNS = "library_book_returns_total"
USER_REGISTRATIONS = "library_user_registrations_total"
USER_LOGINS = "library_user_logins_total"
REQUEST_DURATION = "library_api_request_duration_seconds"
DB_QUERY_DURATION = "library_db_query_duration_seconds"
CACHE_OPERATIONS = "library_cache_operations_total"
ACTIVE_USERS = "library_active_users_total"
AVAILABLE_BOOKS = "library_available_books_total"
SYSTEM_STATUS = "library_system_status"
# Denominators for the alert rules in prometheus/alerts.yml (not in the guide's list).
TOTAL_BOOKS = "library_total_books"
ACTIVE_LOANS = "library_active_loans"
OVERDUE_LOANS = "library_overdue_loans"
ERROR_RATE = "library_error_rate_percent"

# Seconds. Requests: the semantic-conventions HTTP bounds; queries: shifted towards
# sub-millisecond, where most SQLite and indexed PostgreSQL queries land.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

UNMATCHED_ROUTE = "unmatched"

# Label names, in the order of the label tuples the hooks record with.
REQUEST_LABELS = ("route", "method", "status")
DB_QUERY_LABELS = ("db_system",)


def views() -> list[View]:
    """Explicit bucket bounds in seconds for the SDK histograms (used when an exporter wants delta)."""
    return [
        View(instrument_type=Histogram, instrument_name=REQUEST_DURATION,
             aggregation=ExplicitBucketHistogramAggregation(boundaries=REQUEST_BUCKETS)),
        View(instrument_type=Histogram, instrument_name=DB_QUERY_DURATION,
             aggregation=ExplicitBucketHistogramAggregation(boundaries=DB_BUCKETS)),
    ]


@dataclass(frozen=True)
class Instruments:
    """The synchronous instruments the request, database and cache hooks record into.

    The two histograms take `record(seconds, label_tuple, span_context=None)`.
    """

    request_duration: object
    db_query_duration: object
    cache_operations: object


_HISTOGRAMS = (
    (REQUEST_DURATION, "Duration of HTTP requests by route template, method and status.",
     REQUEST_BUCKETS, REQUEST_LABELS),
    (DB_QUERY_DURATION, "Duration of database statements (cursor execute).", DB_BUCKETS, DB_QUERY_LABELS),
)


def create_instruments(meter, hot_metrics=None) -> Instruments:
    """Create the synchronous library_* instruments: the histograms in `hot_metrics` when given."""
    histograms = []
    for name, description, buckets, labels in _HISTOGRAMS:
        if hot_metrics is not None:
            histograms.append(hot_metrics.add(HotHistogram(name, "s", description, buckets, labels)))
        else:
            histograms.append(SdkHistogram(meter.create_histogram(name, unit="s", description=description),
                                           labels))
    request_duration, db_query_duration = histograms
    return Instruments(
        request_duration=request_duration,
        db_query_duration=db_query_duration,
        cache_operations=meter.create_counter(
            CACHE_OPERATIONS,
            description="Cache operations by operation and result (hit/miss for get, ok/error otherwise)."),
    )
