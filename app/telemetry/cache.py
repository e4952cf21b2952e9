"""library_cache_operations_total and cache timings, by wrapping the app's Flask-Caching backend."""
import logging
from time import perf_counter

from . import timings

log = logging.getLogger(__name__)

_LOOKUPS = frozenset({"get", "has"})
_WRITES = frozenset({"set", "add", "delete", "delete_many", "set_many", "clear"})


class InstrumentedCacheBackend:
    """Delegates to a Flask-Caching backend, counting and timing each operation.

    get/has count a `hit` or a `miss` (get returning None is a miss, as
    Flask-Caching itself treats it); get_many counts one per key; writes count
    `ok`, or `error` when the backend raised.
    """

    def __init__(self, backend, counter, record=timings.record_cache_operation):
        self._backend = backend
        self._counter = counter
        self._record = record
        self._attributes = {}

    @property
    def wrapped(self):
        """The real backend (probes use it so they are not counted as traffic)."""
        return self._backend

    def __getattr__(self, name):
        value = getattr(self._backend, name)
        if name in _LOOKUPS or name in _WRITES:
            return self._timed(name, value)
        if name == "get_many":
            return self._timed_get_many(value)
        return value

    def _count(self, operation, result, amount=1):
        key = (operation, result)
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes[key] = {"operation": operation, "result": result}
        self._counter.add(amount, attributes)

    def _observe(self, operation, result, hit, duration, amount=1):
        try:
            self._count(operation, result, amount)
            self._record(operation, hit, duration)
        except Exception:  # telemetry never breaks a cache call
            log.exception("telemetry: could not record cache operation")

    def _timed(self, operation, method):
        def call(*args, **kwargs):
            start = perf_counter()
            try:
                value = method(*args, **kwargs)
            except Exception:
                self._observe(operation, "error", None, perf_counter() - start)
                raise
            duration = perf_counter() - start
            if operation == "get":
                hit = value is not None
                self._observe(operation, "hit" if hit else "miss", hit, duration)
            elif operation == "has":
                self._observe(operation, "hit" if value else "miss", bool(value), duration)
            else:
                self._observe(operation, "ok", None, duration)
            return value

        return call

    def _timed_get_many(self, method):
        def call(*keys):
            start = perf_counter()
            values = method(*keys)
            duration = perf_counter() - start
            try:
                hits = sum(1 for value in values if value is not None)
                if hits:
                    self._count("get", "hit", hits)
                if len(values) - hits:
                    self._count("get", "miss", len(values) - hits)
                self._record("get_many", None, duration)
            except Exception:  # telemetry never breaks a cache call
                log.exception("telemetry: could not record cache operation")
            return values

        return call


def instrument_cache(app, counter):
    """Wrap every Flask-Caching backend bound to `app` (idempotent)."""
    backends = app.extensions.get("cache") or {}
    for cache_ext, backend in list(backends.items()):
        if not isinstance(backend, InstrumentedCacheBackend):
            backends[cache_ext] = InstrumentedCacheBackend(backend, counter)
    return backends
