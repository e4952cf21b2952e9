"""The five monitoring endpoints through the test client: access, exact values, cache, no PII."""
import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db
from app.telemetry import timings
from app.timeutil import utcnow
from tests import monitor_data as data
from tests.factories import Factory, login

AREAS = ("system", "users", "books", "loans", "analytics")
URL = "/api/analytics/monitor/{}/"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FRESH = {"Cache-Control": "no-cache"}


@pytest.fixture
def known(app):
    with app.app_context():
        data.build(Factory(), utcnow())
    return app


@pytest.fixture
def admin_client(known):
    client = known.test_client()
    assert login(client, data.USERNAMES[0]).status_code == 200
    return client


def _without(body, *keys):
    return {k: v for k, v in body.items() if k not in keys}


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("slash", ["/", ""])
def test_anonymous_json_gets_401_without_redirect(client, area, slash):
    response = client.get(URL.format(area).rstrip("/") + slash)
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert response.get_json() == {"error": {"code": 401, "message": "Authentication required"}}


@pytest.mark.parametrize("area", AREAS)
def test_browser_is_sent_to_login(client, area):
    response = client.get(URL.format(area) + "?x=1", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=%2Fapi%2Fanalytics%2Fmonitor%2F{area}%2F%3Fx%3D1"


@pytest.mark.parametrize("area", AREAS)
def test_member_gets_403(known, area):
    client = known.test_client()
    assert login(client, data.USERNAMES[1]).status_code == 200
    response = client.get(URL.format(area))
    assert response.status_code == 403
    assert response.get_json() == {"error": {"code": 403, "message": "Administrator access required"}}


def test_librarian_is_staff(known):
    client = known.test_client()
    assert login(client, data.USERNAMES[5]).status_code == 200
    assert client.get(URL.format("books")).status_code == 200


@pytest.mark.parametrize("slash", ["/", ""])
def test_model_endpoints_exact(admin_client, slash):
    expected = {"users": ("User", data.USERS), "books": ("Book", data.BOOKS), "loans": ("Loan", data.LOANS)}
    for area, (model, stats) in expected.items():
        response = admin_client.get(URL.format(area).rstrip("/") + slash, headers=FRESH)
        assert response.status_code == 200, area
        body = response.get_json()
        assert body["model"] == model
        assert body["timestamp"].endswith("Z")
        assert _without(body, "model", "timestamp") == stats, area


def test_analytics_endpoint_counts_the_admins_own_login(admin_client):
    body = admin_client.get(URL.format("analytics")).get_json()
    expected = json.loads(json.dumps(data.ANALYTICS))
    expected["overview"]["logins_today"] += 1  # the admin logged in through the API for this test
    assert body["model"] == "Analytics"
    assert _without(body, "model", "timestamp") == expected


def test_system_endpoint_exact(admin_client, monkeypatch):
    measured = {"avg_api_response": 0.125, "avg_db_query": 0.045, "avg_cache_operation": 0.002}
    monkeypatch.setattr(timings, "snapshot", lambda: dict(measured), raising=False)
    monkeypatch.setattr(timings, "error_rate_percent", lambda: 4.5, raising=False)
    body = admin_client.get(URL.format("system")).get_json()
    assert body["timestamp"].endswith("Z")
    assert body["uptime"] == "0d 0h 0m"
    assert isinstance(body["uptime_seconds"], int)
    error_warning = {"rule": "error_rate", "severity": "warning", "value": 4.5, "threshold": 5.0,
                     "message": "Error rate 4.5% is near the threshold 5.0% (warning from 4.0%)"}
    assert _without(body, "timestamp", "uptime", "uptime_seconds") == {
        "system_overview": {
            "users": {"total": 6, "active": 3, "activity_rate": 50.0, "status": "healthy"},
            "books": {"total": 10, "available": 4, "availability_rate": 40.0, "status": "healthy"},
            "loans": {"active": 6, "overdue": 3, "overdue_rate": 50.0, "status": "critical"},
        },
        "health_status": {"database": True, "cache": True, "overall": True},
        "performance_overview": {"response_times": measured, "error_rate_percent": 4.5},
        "status": "critical",
        "critical_alerts": [data.OVERDUE_ALERT],
        "alerts": [data.OVERDUE_ALERT, error_warning],
    }


def test_system_shows_null_where_nothing_is_measured(admin_client, monkeypatch):
    empty = {"avg_api_response": None, "avg_db_query": None, "avg_cache_operation": None}
    monkeypatch.setattr(timings, "snapshot", lambda: dict(empty), raising=False)
    monkeypatch.setattr(timings, "error_rate_percent", lambda: None, raising=False)
    body = admin_client.get(URL.format("system"), headers=FRESH).get_json()
    assert body["performance_overview"] == {"response_times": empty, "error_rate_percent": None}
    assert [a["rule"] for a in body["alerts"]] == ["overdue_rate"]


def cache_operations(client) -> dict:
    """{(operation, result): n} from library_cache_operations_total on /metrics."""
    text = client.get("/metrics").get_data(as_text=True)
    return {(s.labels["operation"], s.labels["result"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "library_cache_operations_total"}


def test_cache_hit_then_no_cache_refresh(admin_client, known):
    before = cache_operations(admin_client)
    timed_before = timings.counts()["cache"]
    first = admin_client.get(URL.format("books"))
    assert first.headers["X-Monitor-Cache"] == "miss"
    assert first.get_json()["overview"]["total_books"] == 10
    with known.app_context():
        Factory().book("Walden", copies=5)

    cached = admin_client.get(URL.format("books"))
    assert cached.headers["X-Monitor-Cache"] == "hit"
    assert cached.get_json() == first.get_json()

    fresh = admin_client.get(URL.format("books"), headers=FRESH)
    assert fresh.headers["X-Monitor-Cache"] == "miss"
    assert fresh.get_json()["overview"] == {"total_books": 15, "available_books": 9, "borrowed_books": 6,
                                            "availability_rate": 60.0}
    again = admin_client.get(URL.format("books"))
    assert again.headers["X-Monitor-Cache"] == "hit"
    assert again.get_json() == fresh.get_json()
    counted = cache_operations(admin_client)
    moved = {key: counted[key] - before.get(key, 0) for key in counted}
    # each cache operation counted once: gets 1 miss + 2 hits, sets 2 (the no-cache read skips the get)
    assert {key: n for key, n in moved.items() if n} == {("get", "miss"): 1, ("get", "hit"): 2, ("set", "ok"): 2}
    assert timings.counts()["cache"] - timed_before == 5  # and timed once each for avg_cache_operation


@pytest.mark.parametrize("app_config", [{"MONITOR_CACHE_SECONDS": 0}])
def test_cache_seconds_zero_switches_the_cache_off(admin_client, known, app_config):
    assert admin_client.get(URL.format("books")).headers["X-Monitor-Cache"] == "miss"
    with known.app_context():
        Factory().book("Walden", copies=5)
    second = admin_client.get(URL.format("books"))
    assert second.headers["X-Monitor-Cache"] == "miss"
    assert second.get_json()["overview"]["total_books"] == 15


def test_no_personal_data_in_any_output(admin_client, known):
    with known.app_context():
        from app.library.models import User
        people = db.session.execute(db.select(User.username, User.email)).all()
    texts = [admin_client.get(URL.format(area), headers=FRESH).get_data(as_text=True) for area in AREAS]
    for text in texts:
        assert "@" not in text
        for username, email in people:
            assert username not in text
            assert email not in text
