"""What this process measured, read from app.telemetry.timings.

The telemetry module owns the measurements; None means "nothing measured", never a guess.
"""
from ..telemetry import timings

RESPONSE_TIME_KEYS = ("avg_api_response", "avg_db_query", "avg_cache_operation")


def response_times() -> dict:
    """{avg_api_response, avg_db_query, avg_cache_operation} in seconds, None where unmeasured."""
    values = timings.snapshot()
    return {key: values.get(key) for key in RESPONSE_TIME_KEYS}


def error_rate_percent():
    """The error rate this process measured, in percent, or None."""
    return timings.error_rate_percent()
