"""Hostile input found by a new user: deep JSON, out-of-range due times, e-mails in search text."""
import pytest

from tests.factories import Factory, login

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT])
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register", "/api/loans", "/api/reservations"])
def test_deeply_nested_json_is_a_400_not_a_500(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": {"code": 400, "message": "Request body is not valid JSON"}}


@pytest.fixture
def staff(app):
    with app.app_context():
        make = Factory()
        make.admin("boss")
        member_id = make.user("ann").id
        book_id = make.book("Dune", copies=2).id
    client = app.test_client()
    assert login(client, "boss").status_code == 200
    return client, member_id, book_id


@pytest.mark.parametrize("due_at", [
    "9999-12-31T23:59:59-01:00",   # past the largest datetime once in UTC
    "9999-12-31T23:59:59+14:00",   # representable, but thousands of years ahead
    "0001-01-01T00:00:00-01:00",   # millennia before the loan: an absurd fine
])
def test_staff_due_time_outside_the_allowed_window_is_a_422(app, staff, due_at):
    client, member_id, book_id = staff
    response = client.post("/api/loans", json={"book_id": book_id, "user_id": member_id, "due_at": due_at})
    assert response.status_code == 422
    assert "due_at" in response.get_json()["error"]["message"]
    assert client.get("/api/loans").get_json()["total"] == 0  # nothing written


def test_email_addresses_never_reach_the_search_log(app, staff):
    client, _, _ = staff
    for _ in range(3):
        client.get("/api/books?q=Ann.Reader@example.com")
    client.get("/api/books?q=dune by ann@example.org")
    body = client.get("/api/analytics/monitor/analytics/", headers={"Cache-Control": "no-cache"}).get_json()
    assert "@" not in str(body)
    assert body["search_metrics"]["top_queries"] == [{"query": "<email>", "count": 3},
                                                     {"query": "dune by <email>", "count": 1}]
