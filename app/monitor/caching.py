"""Response cache for the monitoring endpoints (Flask-Caching), with honest timings.

Each cache get and set is reported to app.telemetry.timings; a request carrying
`Cache-Control: no-cache` skips the read and refreshes the stored value;
MONITOR_CACHE_SECONDS=0 switches the cache off.
"""
import logging
import time

from flask import current_app, request

from ..extensions import cache
from . import measured

log = logging.getLogger(__name__)
KEY_PREFIX = "monitor:endpoint:"


def _timed(operation, call):
    start = time.perf_counter()
    try:
        result = call()
    except Exception:  # the cache is an optimisation: an outage must not fail the endpoint
        log.warning("monitor cache %s failed", operation, exc_info=True)
        result = None
    elapsed = time.perf_counter() - start
    return result, elapsed


def wants_fresh() -> bool:
    """True when the client asked for fresh values (Cache-Control: no-cache)."""
    return bool(request.cache_control.no_cache)


def cached_body(name: str, build):
    """(body, hit): the cached body for `name`, or `build()` stored for MONITOR_CACHE_SECONDS."""
    key = KEY_PREFIX + name
    timeout = current_app.config["MONITOR_CACHE_SECONDS"]
    if timeout <= 0:  # caching switched off (Flask-Caching would read 0 as "never expire")
        return build(), False
    if not wants_fresh():
        body, elapsed = _timed("get", lambda: cache.get(key))
        measured.record_cache_operation("get", body is not None, elapsed)
        if body is not None:
            return body, True
    body = build()
    _, elapsed = _timed("set", lambda: cache.set(key, body, timeout=timeout))
    measured.record_cache_operation("set", None, elapsed)  # hit applies to gets only
    return body, False
