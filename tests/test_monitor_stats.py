"""The statistics functions on a known library, on SQLite and PostgreSQL: every field exact."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.monitor.stats import analytics, books, loans, system, users
from app.timeutil import utcnow
from tests import monitor_data as data
from tests.factories import Factory


@pytest.fixture
def known(any_app):
    """(app, now) with the monitor_data library built relative to `now`."""
    now = utcnow()
    with any_app.app_context():
        data.build(Factory(), now)
        yield any_app, now


def test_books(known):
    app, now = known
    assert books.books_stats(db.session, now, app.config) == data.BOOKS
    assert books.books_overview(db.session) == data.BOOKS["overview"]


def test_users(known):
    app, now = known
    assert users.users_stats(db.session, now, app.config) == data.USERS
    assert users.users_overview(db.session, now) == data.USERS["overview"]


def test_loans(known):
    app, now = known
    assert loans.loans_stats(db.session, now, app.config) == data.LOANS


def test_analytics(known):
    app, now = known
    assert analytics.analytics_stats(db.session, now, app.config) == data.ANALYTICS


def test_system(known):
    app, now = known
    health = {"database": True, "cache": True, "overall": True}
    times = {"avg_api_response": None, "avg_db_query": None, "avg_cache_operation": None}
    started = now - timedelta(days=5, hours=12, minutes=30, seconds=9)
    body = system.system_stats(db.session, now, app.config, health=health, response_times=times,
                               error_rate=None, started_at=started)
    assert body == {
        "system_overview": {
            "users": {"total": 6, "active": 3, "activity_rate": 50.0, "status": "healthy"},
            "books": {"total": 10, "available": 4, "availability_rate": 40.0, "status": "healthy"},
            "loans": {"active": 6, "overdue": 3, "overdue_rate": 50.0, "status": "critical"},
        },
        "health_status": health,
        "performance_overview": {"response_times": times, "error_rate_percent": None},
        "status": "critical",
        "critical_alerts": [data.OVERDUE_ALERT],
        "alerts": [data.OVERDUE_ALERT],
        "uptime": "5d 12h 30m",
        "uptime_seconds": 5 * 86400 + 12 * 3600 + 30 * 60 + 9,
    }


def test_system_measured_inputs_raise_alerts(known):
    app, now = known
    times = {"avg_api_response": 0.85, "avg_db_query": 0.002, "avg_cache_operation": 0.0001}
    body = system.system_stats(db.session, now, app.config,
                               health={"database": True, "cache": False, "overall": False},
                               response_times=times, error_rate=6.0, started_at=now)
    assert body["performance_overview"] == {"response_times": times, "error_rate_percent": 6.0}
    assert body["critical_alerts"] == [
        {"rule": "error_rate", "severity": "critical", "value": 6.0, "threshold": 5.0,
         "message": "Error rate 6.0% is at or above the threshold 5.0%"},
        data.OVERDUE_ALERT,
    ]
    assert body["alerts"][2] == {
        "rule": "response_time", "severity": "warning", "value": 850.0, "threshold": 1000.0,
        "message": "Average API response time 850.0ms is near the threshold 1000.0ms (warning from 800.0ms)",
    }
    assert len(body["alerts"]) == 3
    assert body["uptime"] == "0d 0h 0m"


def test_empty_database(any_app):
    now = utcnow()
    with any_app.app_context():
        settings = any_app.config
        assert books.books_stats(db.session, now, settings) == {
            "overview": {"total_books": 0, "available_books": 0, "borrowed_books": 0, "availability_rate": 0.0},
            "category_distribution": {},
            "inventory_metrics": {"low_stock": 0, "out_of_stock": 0, "high_demand": 0, "avg_copies_per_book": 0.0},
            "popularity_metrics": {"most_viewed": [], "most_borrowed": []},
            # An empty catalogue is not "0 % available": the availability rule is not evaluated.
            "status": "healthy",
            "alerts": [],
        }
        assert loans.loans_overview(db.session, now) == {
            "total_loans": 0, "active_loans": 0, "overdue_loans": 0, "overdue_rate": 0.0, "due_soon": 0}
        assert users.users_overview(db.session, now) == {"total_users": 0, "active_users": 0, "activity_rate": 0.0}
        assert analytics.search_metrics(db.session, now) == {
            "searches_today": 0, "searches_this_week": 0, "zero_result_searches": 0, "zero_result_rate": 0.0}


def test_ageing_boundaries(any_app):
    """Exactly 7 days overdue is in 1-7; a second more is 8-30; exactly 30 in 8-30; more is over_30."""
    now = utcnow()
    with any_app.app_context():
        f = Factory()
        member, book = f.user(), f.book(copies=10)
        for age in (timedelta(seconds=1), timedelta(days=7), timedelta(days=7, seconds=1),
                    timedelta(days=30), timedelta(days=30, seconds=1)):
            f.loan(member, book, borrowed_at=now - 40 * data.D, due_at=now - age)
        f.loan(member, book, due_at=now)  # due this instant: overdue from now on, 0 days → 1-7
        f.loan(member, book, due_at=now + timedelta(microseconds=1))  # not overdue yet: due soon
        assert loans.overdue_ageing(db.session, now) == {"1-7": 3, "8-30": 2, "over_30": 1}
        overview = loans.loans_overview(db.session, now)
        assert (overview["overdue_loans"], overview["due_soon"]) == (6, 1)


def test_availability_warning_band(any_app):
    now = utcnow()
    with any_app.app_context():
        f = Factory()
        member = f.user()
        book = f.book(copies=4)
        f.loan(member, book)
        f.loan(member, book)
        f.loan(member, book)  # 1 of 4 available: 25.0 % ≤ 1.25 × 20 → warning
        body = books.books_stats(db.session, now, any_app.config)
        assert body["status"] == "warning"
        assert body["alerts"] == [{
            "rule": "book_availability", "severity": "warning", "value": 25.0, "threshold": 20.0,
            "message": "Book availability 25.0% is near the threshold 20.0% (warning from 25.0%)"}]
