"""Timings this process measured, for the system endpoint's performance_overview.

Interface (filled in by the telemetry work):
- record_request(duration_seconds, status_code)
- record_db_query(duration_seconds)
- record_cache_operation(operation, hit, duration_seconds)
- snapshot() -> {"avg_api_response": float|None, "avg_db_query": float|None,
                 "avg_cache_operation": float|None}   (seconds; None = nothing measured yet)
- error_rate_percent() -> float|None
"""
