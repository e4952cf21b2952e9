"""/alerts/, /jobs/ and /silences/ answer like the five monitoring endpoints.

Same access (401 JSON for API clients, the login page for an anonymous browser,
403 JSON for members) and the same slash handling (with or without the trailing
slash, answered directly - no 308 redirect).
"""
import pytest

from tests.factories import Factory, login

OPS = ("alerts", "jobs", "silences")
URL = "/api/analytics/monitor/{}/"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def users(app):
    with app.app_context():
        Factory().admin("boss")
        Factory().user("reader")
    return app


@pytest.mark.parametrize("area", OPS)
@pytest.mark.parametrize("slash", ["/", ""])
def test_anonymous_json_gets_401_without_redirect(client, area, slash):
    response = client.get(URL.format(area).rstrip("/") + slash)
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert response.get_json() == {"error": {"code": 401, "message": "Authentication required"}}


@pytest.mark.parametrize("area", OPS)
@pytest.mark.parametrize("slash", ["/", ""])
def test_anonymous_browser_is_sent_to_login(client, area, slash):
    path = URL.format(area).rstrip("/") + slash
    response = client.get(path + "?x=1", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=" + path.replace("/", "%2F") + "%3Fx%3D1"


@pytest.mark.parametrize("area", OPS)
@pytest.mark.parametrize("slash", ["/", ""])
def test_member_gets_403(users, area, slash):
    client = users.test_client()
    assert login(client, "reader").status_code == 200
    response = client.get(URL.format(area).rstrip("/") + slash, headers=HTML)
    assert response.status_code == 403
    assert response.get_json() == {"error": {"code": 403, "message": "Administrator access required"}}


@pytest.mark.parametrize("area", OPS)
def test_admin_gets_the_same_answer_with_or_without_the_slash(users, area):
    client = users.test_client()
    assert login(client, "boss").status_code == 200
    with_slash = client.get(URL.format(area))
    without = client.get(URL.format(area).rstrip("/"))
    assert (with_slash.status_code, without.status_code) == (200, 200)
    drop = {"timestamp"}
    assert ({k: v for k, v in without.get_json().items() if k not in drop}
            == {k: v for k, v in with_slash.get_json().items() if k not in drop})


def test_silence_created_without_the_slash(users):
    client = users.test_client()
    assert login(client, "boss").status_code == 200
    created = client.post("/api/analytics/monitor/silences",
                          json={"rule": "HighErrorRate", "duration_seconds": 60, "comment": "deploy"})
    assert created.status_code == 201
    assert [s["id"] for s in client.get("/api/analytics/monitor/silences").get_json()["silences"]] == [
        created.get_json()["id"]]
