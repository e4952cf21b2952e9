"""Timings this process measured, for the system endpoint's performance_overview.

Interface:
- record_request(duration_seconds, status_code)
- record_db_query(duration_seconds)
- record_cache_operation(operation, hit, duration_seconds)
- snapshot() -> {"avg_api_response": float|None, "avg_db_query": float|None,
                 "avg_cache_operation": float|None}   (seconds; None = nothing measured yet)
- error_rate_percent() -> float|None   (5xx ÷ all requests × 100 over the last
  ERROR_WINDOW_SECONDS; None when no request was measured in that window)

Running sums and counts are per process since it started (each gunicorn worker
has its own); the request hook in app/telemetry/requests.py and the database
hook in app/telemetry/database.py feed them with the same measurement that goes
into the histograms.
"""
import threading
import time

ERROR_WINDOW_SECONDS = 300


class Timings:
    """Thread-safe running sums/counts per kind plus a per-second ring for the error rate."""

    def __init__(self, window_seconds: int = ERROR_WINDOW_SECONDS, clock=time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self._window = window_seconds
        self._sums = {"api": 0.0, "db": 0.0, "cache": 0.0}
        self._counts = {"api": 0, "db": 0, "cache": 0}
        # One slot per second: [second, requests, errors]; a slot is reused when its second is stale.
        self._ring = [[-1, 0, 0] for _ in range(window_seconds)]

    def _add(self, kind, duration):
        with self._lock:
            self._sums[kind] += duration
            self._counts[kind] += 1

    def record_request(self, duration_seconds, status_code):
        """One HTTP request: its duration and final status code."""
        second = int(self._clock())
        with self._lock:
            self._sums["api"] += duration_seconds
            self._counts["api"] += 1
            slot = self._ring[second % self._window]
            if slot[0] != second:
                slot[0], slot[1], slot[2] = second, 0, 0
            slot[1] += 1
            if status_code >= 500:
                slot[2] += 1

    def record_db_query(self, duration_seconds):
        """One database statement."""
        self._add("db", duration_seconds)

    def record_cache_operation(self, operation, hit, duration_seconds):
        """One cache operation (`hit` is None for operations other than get)."""
        self._add("cache", duration_seconds)

    def snapshot(self) -> dict:
        """Average durations in seconds since process start; None where nothing was measured."""
        with self._lock:
            sums, counts = dict(self._sums), dict(self._counts)

        def avg(kind):
            return sums[kind] / counts[kind] if counts[kind] else None

        return {"avg_api_response": avg("api"), "avg_db_query": avg("db"), "avg_cache_operation": avg("cache")}

    def counts(self) -> dict:
        """How many requests, queries and cache operations were measured."""
        with self._lock:
            return dict(self._counts)

    def error_rate_percent(self):
        """5xx ÷ all requests × 100 over the window; None when the window holds no request."""
        now = int(self._clock())
        oldest = now - self._window + 1
        requests = errors = 0
        with self._lock:
            for second, n, e in self._ring:
                if oldest <= second <= now:
                    requests += n
                    errors += e
        if not requests:
            return None
        return errors * 100.0 / requests


_process = Timings()


def record_request(duration_seconds, status_code):
    """Record one HTTP request in this process's timings."""
    _process.record_request(duration_seconds, status_code)


def record_db_query(duration_seconds):
    """Record one database statement in this process's timings."""
    _process.record_db_query(duration_seconds)


def record_cache_operation(operation, hit, duration_seconds):
    """Record one cache operation in this process's timings."""
    _process.record_cache_operation(operation, hit, duration_seconds)


def snapshot() -> dict:
    """This process's average durations (seconds; None = nothing measured yet)."""
    return _process.snapshot()


def counts() -> dict:
    """How many requests/queries/cache operations this process measured."""
    return _process.counts()


def error_rate_percent():
    """This process's 5xx rate over the last ERROR_WINDOW_SECONDS (None = no requests)."""
    return _process.error_rate_percent()
