"""Business and state metrics derived from the database at collection time.

Observable instruments: every worker answers a scrape with the same true value
(it is read from the shared database, not counted in process memory), and a
worker restart resets nothing. Each callback (`db_callback`) runs a few aggregate
queries with instrumentation suppressed (no stray root spans per scrape), and never
lets an exception escape: it logs and skips the observation.
"""
import logging
from contextlib import nullcontext

from flask import current_app, has_app_context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import Observation
from sqlalchemy import func, select

from ..extensions import db
from ..library.models import LoginEvent, Loan, User
from ..monitor import health, status
from ..monitor.stats.books import books_overview
from ..monitor.stats.loans import loans_overview
from ..monitor.stats.system import rule_inputs
from ..monitor.stats.users import users_overview
from ..timeutil import utcnow
from . import metrics, timings

log = logging.getLogger(__name__)

HEALTHY, WARNING, CRITICAL = 0, 1, 2  # library_system_status values


def count_loans(session) -> int:
    """Every loan ever made (a borrow adds one row)."""
    return session.scalar(select(func.count()).select_from(Loan))


def count_returns(session) -> int:
    """Loans with a return time."""
    return session.scalar(select(func.count()).select_from(Loan).where(Loan.returned_at.is_not(None)))


def count_registrations(session) -> int:
    """Registered users."""
    return session.scalar(select(func.count()).select_from(User))


def count_logins(session) -> int:
    """Successful logins."""
    return session.scalar(select(func.count()).select_from(LoginEvent).where(LoginEvent.success.is_(True)))


def available_books(session) -> int:
    """The books endpoint's overview.available_books (same function, so equal by construction)."""
    return books_overview(session)["available_books"]


def total_books(session) -> int:
    """The books endpoint's overview.total_books (SUM of total_copies)."""
    return books_overview(session)["total_books"]


def active_loans(session) -> int:
    """The loans endpoint's active loans (overdue included)."""
    return loans_overview(session, utcnow())["active_loans"]


def overdue_loans(session) -> int:
    """The loans endpoint's overdue loans: active and due before now."""
    return loans_overview(session, utcnow())["overdue_loans"]


def active_users(session) -> int:
    """The users endpoint's overview.active_users at this instant."""
    return users_overview(session, utcnow())["active_users"]


_LEVELS = {status.HEALTHY: HEALTHY, status.WARNING: WARNING, status.CRITICAL: CRITICAL}


def system_status(app, session) -> list[tuple[int, dict]]:
    """[(0|1|2, {"component": name})], the system endpoint's verdicts as numbers.

    database/cache: the readiness checks (critical when they fail); books, loans,
    performance (error rate, response time): the threshold rules of
    app/monitor/status.py evaluated now; overall: the worst of them all, which is
    the system endpoint's `status`.
    """
    backends = list((app.extensions.get("cache") or {}).values())
    # The raw backend: a probe is not cache traffic for library_cache_operations_total.
    cache_ok = all(health.check_cache(getattr(b, "wrapped", b))["ok"] for b in backends)
    levels = {
        "database": status.HEALTHY if health.check_database(session)["ok"] else status.CRITICAL,
        "cache": status.HEALTHY if cache_ok else status.CRITICAL,
    }
    now = utcnow()
    inputs = rule_inputs(books_overview(session), loans_overview(session, now),
                         timings.snapshot(), timings.error_rate_percent())
    for component, area in (("books", "books"), ("loans", "loans"), ("performance", "system")):
        levels[component] = status.worst(*(a["severity"] for a in status.evaluate(inputs, app.config, area)))
    levels["overall"] = status.worst(*levels.values())
    return [(_LEVELS[level], {"component": name}) for name, level in levels.items()]


def _reading_context(app):
    """The app context a callback reads in.

    During a scrape of /metrics the callbacks run on the request's thread: they
    read through the request's own session. A second connection would wait behind
    that session's transaction on SQLite (every transaction takes the write lock)
    until the busy timeout. Elsewhere (the OTLP reader's thread) they push a
    context, and so a session, of their own, removed as soon as they return.
    """
    if has_app_context() and current_app._get_current_object() is app:
        return nullcontext()
    return app.app_context()


def db_callback(app, read):
    """An observable callback: `read(session)` -> value or [(value, attributes)].

    Never lets an exception escape: it logs and skips the observation.
    """

    def callback(options):
        try:
            with _reading_context(app), suppress_instrumentation():
                value = read(db.session)
        except Exception:
            log.exception("telemetry: %s failed; observation skipped", getattr(read, "__name__", read))
            return []
        if isinstance(value, list):
            return [Observation(v, attrs) for v, attrs in value]
        return [Observation(value)]

    return callback


def _error_rate(options):
    rate = timings.error_rate_percent()
    return [] if rate is None else [Observation(rate)]


def register(meter, app) -> None:
    """Create the DB-derived observable instruments on `meter` for `app`."""
    counters = (
        (metrics.BOOK_LOANS, count_loans, "Loans made (COUNT of loans)."),
        (metrics.BOOK_RETURNS, count_returns, "Loans returned (COUNT of loans with returned_at)."),
        (metrics.USER_REGISTRATIONS, count_registrations, "Registered users (COUNT of users)."),
        (metrics.USER_LOGINS, count_logins, "Successful logins (COUNT of successful login events)."),
    )
    for name, read, description in counters:
        meter.create_observable_counter(name, callbacks=[db_callback(app, read)], description=description)
    meter.create_observable_gauge(
        metrics.AVAILABLE_BOOKS, callbacks=[db_callback(app, available_books)],
        description="Available copies now (SUM of available_copies); gauge despite the guide's _total name.")
    meter.create_observable_gauge(
        metrics.ACTIVE_USERS, callbacks=[db_callback(app, active_users)],
        description="Users seen in the last 7 days; gauge despite the guide's _total name.")
    for name, read, description in (
            (metrics.TOTAL_BOOKS, total_books, "Copies owned (SUM of total_copies)."),
            (metrics.ACTIVE_LOANS, active_loans, "Loans not returned, overdue included."),
            (metrics.OVERDUE_LOANS, overdue_loans, "Active loans due before now.")):
        meter.create_observable_gauge(name, callbacks=[db_callback(app, read)], description=description)
    meter.create_observable_gauge(
        metrics.SYSTEM_STATUS,
        callbacks=[db_callback(app, lambda session: system_status(app, session))],
        description="Health per component: 0 healthy, 1 warning, 2 critical.")
    meter.create_observable_gauge(
        metrics.ERROR_RATE, callbacks=[_error_rate], unit="%",
        description="5xx responses / all requests x 100 over the last 5 minutes, this process.")
