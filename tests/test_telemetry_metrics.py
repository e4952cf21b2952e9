"""/metrics: names, exact business values, route-template labels, buckets in seconds, promtool, exemplars."""
from concurrent.futures import ThreadPoolExecutor
import subprocess
import uuid

import pytest
from flask import has_app_context
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db
from app.library.models import LoginEvent
from app.telemetry import metrics as names
from app.timeutil import utcnow
from tests.factories import login
from tests.conftest import required_binary


@pytest.fixture
def app_config():
    return {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}


def scrape(client, **headers):
    """GET /metrics as Prometheus does: no cookies, no transaction left open by the test.

    On SQLite every transaction takes the write lock (BEGIN IMMEDIATE), and the
    metric callbacks read in sessions of their own, so the test's session (which
    the request shares when the test holds an app context) must not keep one open;
    the scrape runs on a thread of its own so it shares neither that context nor
    its `g` (where Flask-Login caches the test's logged-in user).
    """
    if has_app_context():
        db.session.rollback()
    scraper = client.application.test_client()
    with ThreadPoolExecutor(1) as pool:
        response = pool.submit(scraper.get, "/metrics", headers=headers).result()
    assert response.status_code == 200, response.data
    return response


def samples(client) -> dict:
    """{(sample name, frozenset(labels)): value} from one scrape."""
    out = {}
    for family in text_string_to_metric_families(scrape(client).get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(client, name, **labels):
    return samples(client).get((name, frozenset(labels.items())))


def request_series(client) -> set:
    return {labels for (name, labels) in samples(client) if name == names.REQUEST_DURATION + "_count"}


def test_metrics_endpoint_with_and_without_slash(client):
    for path in ("/metrics", "/metrics/"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.get_data(as_text=True)
        for name in (names.BOOK_LOANS, names.BOOK_RETURNS, names.USER_REGISTRATIONS, names.USER_LOGINS,
                     names.ACTIVE_USERS, names.AVAILABLE_BOOKS, names.SYSTEM_STATUS):
            assert f"\n{name}" in text, name


def test_one_borrow_through_the_api_moves_loans_by_exactly_one(app, client, make):
    member = make.user("reader")
    book = make.book(copies=3)
    login(client, "reader")
    before = value(client, names.BOOK_LOANS)
    response = client.post("/api/loans", json={"book_id": book.id})
    assert response.status_code == 201, response.get_json()
    assert value(client, names.BOOK_LOANS) == before + 1
    # and again: the counter is the database's COUNT, the same on every scrape
    assert value(client, names.BOOK_LOANS) == before + 1
    loan_id = response.get_json()["id"]
    returns_before = value(client, names.BOOK_RETURNS)
    assert client.post(f"/api/loans/{loan_id}/return").status_code == 200
    assert value(client, names.BOOK_RETURNS) == returns_before + 1
    assert member.id  # the member exists in this database


def test_registration_and_login_move_their_counters_by_one(client):
    registrations = value(client, names.USER_REGISTRATIONS)
    logins = value(client, names.USER_LOGINS)
    response = client.post("/api/auth/register",
                           json={"username": "newbie", "email": "newbie@example.test",
                                 "password": "a long enough password"})
    assert response.status_code == 201, response.get_json()
    assert value(client, names.USER_REGISTRATIONS) == registrations + 1
    assert login(client, "newbie", "wrong password").status_code == 401
    assert value(client, names.USER_LOGINS) == logins  # a failed login is not a login
    assert login(client, "newbie", "a long enough password").status_code == 200
    assert value(client, names.USER_LOGINS) == logins + 1


def test_counters_survive_a_new_process_because_they_come_from_the_database(app, make):
    """A second app on the same database (a restarted worker) reads the same totals."""
    from app import create_app

    reader = make.user("r")
    book = make.book(copies=5)
    make.loan(reader, book)
    db.session.add(LoginEvent(user_id=reader.id, success=True, created_at=utcnow()))
    db.session.commit()
    other = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        for client in (app.test_client(), other.test_client()):
            assert value(client, names.BOOK_LOANS) == 1
            assert value(client, names.USER_LOGINS) == 1
            assert value(client, names.USER_REGISTRATIONS) == 1
            assert value(client, names.AVAILABLE_BOOKS) == 4
    finally:
        with other.app_context():
            db.engine.dispose()


def test_available_books_equals_the_books_endpoint(app, client, make):
    make.admin("boss")
    reader = make.user("reader")
    a = make.book(copies=4)
    b = make.book(copies=2, category="Poetry")
    make.loan(reader, a)
    make.loan(reader, b)
    login(client, "boss")
    body = client.get("/api/analytics/monitor/books/", headers={"Cache-Control": "no-cache"}).get_json()
    assert body["overview"]["available_books"] == 4
    assert value(client, names.AVAILABLE_BOOKS) == body["overview"]["available_books"]


def test_alert_denominators_equal_the_endpoints(app, client, make):
    from datetime import timedelta

    make.admin("boss")
    reader = make.user("reader")
    a = make.book(copies=4)
    b = make.book(copies=3)
    make.loan(reader, a)
    make.loan(reader, b, due_at=utcnow() - timedelta(days=2))
    login(client, "boss")
    books = client.get("/api/analytics/monitor/books/", headers={"Cache-Control": "no-cache"}).get_json()
    loans = client.get("/api/analytics/monitor/loans/", headers={"Cache-Control": "no-cache"}).get_json()
    assert value(client, names.TOTAL_BOOKS) == books["overview"]["total_books"] == 7
    assert value(client, names.ACTIVE_LOANS) == loans["overview"]["active_loans"] == 2
    assert value(client, names.OVERDUE_LOANS) == loans["overview"]["overdue_loans"] == 1


def test_active_users_equals_the_users_endpoint(app, client, make):
    make.admin("boss", last_seen_at=utcnow())
    make.user("seen", last_seen_at=utcnow())
    make.user("never")
    login(client, "boss")
    body = client.get("/api/analytics/monitor/users/", headers={"Cache-Control": "no-cache"}).get_json()
    assert value(client, names.ACTIVE_USERS) == body["overview"]["active_users"] == 2


def test_request_histogram_uses_the_route_template(client, make):
    book = make.book(copies=1)
    assert client.get(f"/api/books/{book.id}").status_code == 200
    assert client.get("/api/books/999999").status_code == 404
    series = request_series(client)
    assert frozenset({("route", "/api/books/<int:book_id>"), ("method", "GET"), ("status", "200")}) in series
    assert frozenset({("route", "/api/books/<int:book_id>"), ("method", "GET"), ("status", "404")}) in series
    assert not any(str(book.id) in dict(labels)["route"] for labels in series)


def test_a_thousand_unknown_paths_add_at_most_one_series(client):
    before = request_series(client)
    for _ in range(1000):
        assert client.get(f"/no/such/{uuid.uuid4().hex}").status_code == 404
    added = request_series(client) - before
    assert added == {frozenset({("route", "unmatched"), ("method", "GET"), ("status", "404")})}
    assert value(client, names.REQUEST_DURATION + "_count", route="unmatched", method="GET", status="404") == 1000


def test_excluded_paths_are_not_measured(client):
    for path in ("/metrics", "/healthz", "/readyz", "/metrics/"):
        client.get(path)
    routes = {dict(labels)["route"] for labels in request_series(client)}
    assert not routes & {"/metrics", "/metrics/", "/healthz", "/readyz"}


def test_histogram_buckets_are_in_seconds(client, make):
    book = make.book()
    client.get(f"/api/books/{book.id}")
    bounds = {}
    for (name, labels) in samples(client):
        if name.endswith("_bucket"):
            bounds.setdefault(name, set()).add(dict(labels)["le"])
    request_bounds = sorted(float(le) for le in bounds[names.REQUEST_DURATION + "_bucket"])
    db_bounds = sorted(float(le) for le in bounds[names.DB_QUERY_DURATION + "_bucket"])
    assert request_bounds == [*names.REQUEST_BUCKETS, float("inf")]
    assert db_bounds == [*names.DB_BUCKETS, float("inf")]
    assert request_bounds[0] == 0.005 and request_bounds[-2] == 10.0


def test_request_duration_count_equals_requests_made(client, make):
    book = make.book()
    for _ in range(7):
        client.get(f"/api/books/{book.id}")
    assert value(client, names.REQUEST_DURATION + "_count",
                 route="/api/books/<int:book_id>", method="GET", status="200") == 7


def test_db_query_histogram_counts_statements(app, client):
    before = value(client, names.DB_QUERY_DURATION + "_count", db_system="sqlite") or 0
    with app.app_context():
        for _ in range(5):
            db.session.execute(db.text("SELECT 1"))
        db.session.rollback()
    after = value(client, names.DB_QUERY_DURATION + "_count", db_system="sqlite")
    # 5 statements, plus the ones the scrape itself ran between the two reads
    assert after >= before + 5


def test_cache_operations_count_hits_and_misses(app, client):
    from app.extensions import cache

    with app.app_context():
        assert cache.get("k") is None
        cache.set("k", "v")
        assert cache.get("k") == "v"
        assert cache.get("k") == "v"
    assert value(client, names.CACHE_OPERATIONS, operation="get", result="miss") == 1
    assert value(client, names.CACHE_OPERATIONS, operation="get", result="hit") == 2
    assert value(client, names.CACHE_OPERATIONS, operation="set", result="ok") == 1


def test_system_status_reports_each_component(client):
    got = {dict(labels)["component"]: v for (name, labels), v in samples(client).items()
           if name == names.SYSTEM_STATUS}
    assert got == {"database": 0, "cache": 0, "books": 0, "loans": 0, "performance": 0, "overall": 0}


def test_a_failing_callback_skips_its_observation_and_the_scrape_still_works(app, client, monkeypatch):
    from app.telemetry import business

    def broken(session):
        raise RuntimeError("database went away")

    monkeypatch.setattr(business, "books_overview", broken)
    text = scrape(client).get_data(as_text=True)
    assert f"\n{names.AVAILABLE_BOOKS} " not in text
    assert f"\n{names.BOOK_LOANS} 0.0" in text


def test_openmetrics_carries_trace_exemplars(client, make):
    book = make.book()
    client.get(f"/api/books/{book.id}")
    response = scrape(client, Accept="application/openmetrics-text; version=1.0.0")
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    text = response.get_data(as_text=True)
    assert text.rstrip().endswith("# EOF")
    lines = [line for line in text.splitlines()
             if line.startswith(names.REQUEST_DURATION + "_bucket") and "/api/books/<int:book_id>" in line
             and " # {" in line]
    assert len(lines) == 1
    assert 'trace_id="' in lines[0] and 'span_id="' in lines[0]


def test_promtool_complains_only_about_the_two_guide_gauge_names(client, make):
    promtool = required_binary("promtool", "prometheus")
    book = make.book()
    client.get(f"/api/books/{book.id}")
    client.get("/no/such/page")
    from app.extensions import cache
    with client.application.app_context():
        cache.get("x")
    text = scrape(client).get_data(as_text=True)
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    complaints = sorted(line for line in (result.stdout + result.stderr).splitlines() if line.strip())
    assert complaints == [
        'library_active_users_total non-counter metrics should not have "_total" suffix',
        'library_available_books_total non-counter metrics should not have "_total" suffix',
    ]


def test_sdk_disabled_means_no_metrics_endpoint(tmp_path):
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "OTEL_SDK_DISABLED": True,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'off.db'}"})
    assert app.test_client().get("/metrics").status_code == 404
    assert app.extensions["telemetry"].providers is None


def test_init_app_twice_is_a_no_op(app):
    from app import telemetry

    state = app.extensions["telemetry"]
    telemetry.init_app(app)
    telemetry.start(app)
    assert app.extensions["telemetry"] is state
    assert sum(1 for rule in app.url_map.iter_rules() if rule.rule == "/metrics") == 1
