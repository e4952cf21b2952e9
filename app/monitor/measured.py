"""What this process measured, read from app.telemetry.timings.

The telemetry module owns the measurements; this adapter keeps the monitoring
honest when a measurement is missing: None ("nothing measured"), never a guess.
"""
from ..telemetry import timings

_EMPTY = {"avg_api_response": None, "avg_db_query": None, "avg_cache_operation": None}


def response_times() -> dict:
    """{avg_api_response, avg_db_query, avg_cache_operation} in seconds, None where unmeasured."""
    snapshot = getattr(timings, "snapshot", None)
    if snapshot is None:
        return dict(_EMPTY)
    values = snapshot() or {}
    return {key: values.get(key) for key in _EMPTY}


def error_rate_percent():
    """The error rate this process measured, in percent, or None."""
    rate = getattr(timings, "error_rate_percent", None)
    return rate() if rate is not None else None


def record_cache_operation(operation: str, hit, duration_seconds: float) -> None:
    """Report one cache get (hit True/False) or set (hit None) to the telemetry timings."""
    record = getattr(timings, "record_cache_operation", None)
    if record is not None:
        record(operation, hit, duration_seconds)
