"""Response cache for the monitoring endpoints (Flask-Caching).

A request carrying `Cache-Control: no-cache` skips the read and refreshes the
stored value; MONITOR_CACHE_SECONDS=0 switches the cache off. Every get and set
is counted and timed once, by the telemetry's wrapper around the cache backend
(app/telemetry/cache.py).
"""
import logging

from flask import current_app, request

from ..extensions import cache

log = logging.getLogger(__name__)
KEY_PREFIX = "monitor:endpoint:"


def _quietly(operation, call):
    """The cache is an optimisation: an outage must not fail the endpoint."""
    try:
        return call()
    except Exception:
        log.warning("monitor cache %s failed", operation, exc_info=True)
        return None


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
        body = _quietly("get", lambda: cache.get(key))
        if body is not None:
            return body, True
    body = build()
    _quietly("set", lambda: cache.set(key, body, timeout=timeout))
    return body, False
