"""After login, `next` only ever leads to a path on this site."""
import pytest

from app.library.redirects import safe_next
from tests.factories import Factory
from tests.test_login_form import PASSWORD, csrf_token, post_login

UNSAFE = ["////evil.example", "//evil.example", "https://evil.example", "/\\evil.example",
          "javascript:alert(1)"]


@pytest.mark.parametrize("target", UNSAFE)
def test_unsafe_next_goes_home_after_form_login(app, target):
    client = app.test_client()
    with app.app_context():
        Factory().user("sam")
    response = post_login(client, "sam", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", UNSAFE)
def test_unsafe_next_in_the_query_string_goes_home(app, target):
    client = app.test_client()
    with app.app_context():
        Factory().user("sam")
    token = csrf_token(client)
    response = client.post("/login", query_string={"next": target}, headers={"Accept": "text/html"},
                           data={"csrf_token": token, "username": "sam", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_local_next_with_query_is_kept(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("sam")
    response = post_login(client, "sam", next="/some/path?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/some/path?x=1"


@pytest.mark.parametrize("target", UNSAFE + [
    "", None, "evil.example", "/ok\\..\\evil", "/\tevil", "/ok\r\nSet-Cookie: x=1", "\\\\evil.example",
    " //evil.example", "http:/evil.example", "/\x7f",
])
def test_safe_next_refuses(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/some/path?x=1", "/books/3#reviews", "/a//b", "/?next=//x"])
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target) == target
