"""Request counts, 5xx errors and a latency histogram over the last 5 minutes, for the alert rules.

Each web process counts its requests in 10-second buckets. With Redis, the
counts are added to shared hashes at most every FLUSH_SECONDS (one pipelined
round trip), so the alert evaluation in an RQ worker sees every gunicorn
worker's requests. Without Redis the embedded scheduler runs in the server
process and reads this process's buckets directly. A Redis error never reaches
the request: the flush is skipped and retried later.
"""
import bisect
import logging
import threading
import time

from ... import telemetry

log = logging.getLogger(__name__)

BUCKET_SECONDS = 10
WINDOW_SECONDS = 300
FLUSH_SECONDS = 5
# Upper bounds (seconds) of the latency buckets; p95 is interpolated inside a bucket.
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, float("inf"))


class Window:
    """Thread-safe per-bucket counts: {bucket: [requests, errors, *latency bucket counts]}."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._local = {}
        self._unflushed = {}
        self._last_flush = 0.0

    def record(self, duration: float, status: int) -> None:
        bucket = int(self._clock()) // BUCKET_SECONDS * BUCKET_SECONDS
        index = 2 + bisect.bisect_left(BOUNDS, duration)
        with self._lock:
            for store in (self._local, self._unflushed):
                row = store.setdefault(bucket, [0] * (2 + len(BOUNDS)))
                row[0] += 1
                row[1] += 1 if status >= 500 else 0
                row[index] += 1
            oldest = bucket - WINDOW_SECONDS
            for old in [b for b in self._local if b < oldest]:
                del self._local[old]

    def take_unflushed(self, force=False) -> dict:
        with self._lock:
            if not force and self._clock() - self._last_flush < FLUSH_SECONDS:
                return {}
            self._last_flush = self._clock()
            rows, self._unflushed = self._unflushed, {}
            return rows

    def restore(self, rows: dict) -> None:
        with self._lock:
            for bucket, counts in rows.items():
                row = self._unflushed.setdefault(bucket, [0] * (2 + len(BOUNDS)))
                for i, n in enumerate(counts):
                    row[i] += n

    def local_rows(self) -> dict:
        with self._lock:
            return {b: list(r) for b, r in self._local.items()}


def summarise(rows: dict, now: float) -> dict:
    """{requests, errors, p95_seconds} over the buckets of the last WINDOW_SECONDS."""
    total = [0] * (2 + len(BOUNDS))
    for bucket, row in rows.items():
        if bucket > now - WINDOW_SECONDS - BUCKET_SECONDS:
            total = [a + b for a, b in zip(total, row)]
    requests, errors, hist = total[0], total[1], total[2:]
    return {"requests": requests, "errors": errors, "p95_seconds": quantile(0.95, hist) if requests else None}


def quantile(q: float, counts: list) -> float:
    """Linear interpolation inside the bucket holding the q-th request (as histogram_quantile)."""
    rank = q * sum(counts)
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            lower = BOUNDS[i - 1] if i else 0.0
            upper = BOUNDS[i] if BOUNDS[i] != float("inf") else lower
            return round(lower + (upper - lower) * (rank - seen) / n, 6)
        seen += n
    return BOUNDS[-2]


def _key(app, bucket) -> str:
    return f"{app.config['MONITOR_REDIS_PREFIX']}:requests:{bucket}"


def flush(app, window: Window, force=False) -> None:
    """Add this process's new counts to Redis (no-op without Redis or before FLUSH_SECONDS)."""
    from ..scheduling.connection import redis_for

    redis = redis_for(app)
    if redis is None:
        return
    rows = window.take_unflushed(force)
    if not rows:
        return
    try:
        with redis.pipeline(transaction=False) as pipe:
            for bucket, row in rows.items():
                key = _key(app, bucket)
                pipe.hincrby(key, "requests", row[0])
                pipe.hincrby(key, "errors", row[1])
                for i, n in enumerate(row[2:]):
                    if n:
                        pipe.hincrby(key, f"b{i}", n)
                pipe.expire(key, WINDOW_SECONDS * 2)
            pipe.execute()
    except Exception as exc:  # Redis down: keep the counts for the next flush, never fail the request
        window.restore(rows)
        log.warning("request window flush to Redis failed: %s", exc)


def read(app, now: float | None = None) -> dict:
    """The last 5 minutes across all processes (Redis), or this process's (no Redis); {} on a Redis error."""
    from ..scheduling.connection import redis_for

    now = time.time() if now is None else now
    window = app.extensions["monitor_request_window"]
    redis = redis_for(app)
    if redis is None:
        return summarise(window.local_rows(), now)
    last = int(now) // BUCKET_SECONDS * BUCKET_SECONDS
    buckets = range(last - WINDOW_SECONDS, last + BUCKET_SECONDS, BUCKET_SECONDS)
    try:
        with redis.pipeline(transaction=False) as pipe:
            for bucket in buckets:
                pipe.hgetall(_key(app, bucket))
            results = pipe.execute()
    except Exception as exc:  # Redis down: the request rules have no data this time
        log.warning("request window read from Redis failed: %s", exc)
        return {}
    rows = {}
    for bucket, data in zip(buckets, results):
        if data:
            data = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in data.items()}
            rows[bucket] = [data.get("requests", 0), data.get("errors", 0),
                            *[data.get(f"b{i}", 0) for i in range(len(BOUNDS))]]
    return summarise(rows, now)


def init_app(app) -> None:
    """Count every request except the probes and the scrape endpoint.

    The durations come from the telemetry's request middleware (one measurement per
    request for the metrics, the timings and this window; it also runs with
    OTEL_SDK_DISABLED=true) and skip its excluded paths (/metrics, /healthz, /readyz
    by default).
    """
    window = Window()
    app.extensions["monitor_request_window"] = window

    def record(duration: float, status: int) -> None:
        window.record(duration, status)
        flush(app, window)

    telemetry.add_request_recorder(app, record)
