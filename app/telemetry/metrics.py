"""Instrument names, bucket bounds and the metric Views that give histograms seconds-sized buckets."""
from dataclasses import dataclass

from opentelemetry.sdk.metrics import Histogram
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

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


def views() -> list[View]:
    """Explicit bucket bounds in seconds (the SDK default bounds are millisecond-sized)."""
    return [
        View(instrument_type=Histogram, instrument_name=REQUEST_DURATION,
             aggregation=ExplicitBucketHistogramAggregation(boundaries=REQUEST_BUCKETS)),
        View(instrument_type=Histogram, instrument_name=DB_QUERY_DURATION,
             aggregation=ExplicitBucketHistogramAggregation(boundaries=DB_BUCKETS)),
    ]


@dataclass(frozen=True)
class Instruments:
    """The synchronous instruments the request, database and cache hooks record into."""

    request_duration: object
    db_query_duration: object
    cache_operations: object


def create_instruments(meter) -> Instruments:
    """Create the synchronous library_* instruments on `meter`."""
    return Instruments(
        request_duration=meter.create_histogram(
            REQUEST_DURATION, unit="s",
            description="Duration of HTTP requests by route template, method and status."),
        db_query_duration=meter.create_histogram(
            DB_QUERY_DURATION, unit="s",
            description="Duration of database statements (cursor execute)."),
        cache_operations=meter.create_counter(
            CACHE_OPERATIONS,
            description="Cache operations by operation and result (hit/miss for get, ok/error otherwise)."),
    )
