"""timings: running averages per kind since start, and the 5xx rate over a sliding window."""
import threading

import pytest

from app.telemetry import timings
from app.telemetry.timings import Timings


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_nothing_measured_is_none():
    t = Timings()
    assert t.snapshot() == {"avg_api_response": None, "avg_db_query": None, "avg_cache_operation": None}
    assert t.error_rate_percent() is None


def test_averages_are_exact():
    t = Timings()
    t.record_request(0.1, 200)
    t.record_request(0.3, 200)
    t.record_db_query(0.002)
    t.record_cache_operation("get", True, 0.004)
    t.record_cache_operation("set", None, 0.002)
    assert t.snapshot() == {"avg_api_response": pytest.approx(0.2), "avg_db_query": pytest.approx(0.002),
                            "avg_cache_operation": pytest.approx(0.003)}
    assert t.counts() == {"api": 2, "db": 1, "cache": 2}


def test_error_rate_over_the_window():
    clock = Clock()
    t = Timings(window_seconds=300, clock=clock)
    for status in (200, 200, 500, 503):
        t.record_request(0.01, status)
    assert t.error_rate_percent() == 50.0
    clock.now += 200
    t.record_request(0.01, 404)  # a 4xx is the client's error, not the service's
    assert t.error_rate_percent() == 40.0
    clock.now += 150  # the first four are now older than 300 s
    assert t.error_rate_percent() == 0.0
    clock.now += 300
    assert t.error_rate_percent() is None


def test_thread_safe_counts():
    t = Timings()

    def work():
        for _ in range(10_000):
            t.record_request(0.001, 500)
            t.record_db_query(0.001)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert t.counts() == {"api": 40_000, "db": 40_000, "cache": 0}
    assert t.error_rate_percent() == 100.0


def test_requests_feed_the_process_timings_once(client, make):
    book = make.book()
    before = timings.counts()["api"]
    for _ in range(3):
        assert client.get(f"/api/books/{book.id}").status_code == 200
    client.get("/healthz")  # excluded from request telemetry
    assert timings.counts()["api"] == before + 3


def test_a_500_moves_the_error_rate(app, client):
    @app.get("/_test/boom")
    def boom():
        return "no", 500

    client.get("/_test/boom")
    assert timings.error_rate_percent() > 0


def test_db_statements_feed_the_process_timings(app):
    from app.extensions import db

    before = timings.counts()["db"]
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))
        db.session.execute(db.text("SELECT 2"))
        db.session.rollback()
    # two statements plus the BEGIN the SQLite set-up issues for the transaction
    assert timings.counts()["db"] - before == 3
