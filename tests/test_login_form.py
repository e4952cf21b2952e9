"""The browser login form: CSRF, session renewal, logout, home page."""
import re
from urllib.parse import parse_qs, urlsplit

from app.extensions import db
from app.library.models import LoginEvent, User
from tests.factories import PASSWORD, Factory

HTML = {"Accept": "text/html"}


def csrf_token(client, path="/login"):
    """The CSRF token from the form on `path`."""
    page = client.get(path, headers=HTML).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def post_login(client, username, password=PASSWORD, **extra):
    data = {"csrf_token": csrf_token(client), "username": username, "password": password, **extra}
    return client.post("/login", data=data, headers=HTML)


def test_login_page_has_a_csrf_token_and_keeps_a_safe_next(app):
    client = app.test_client()
    page = client.get("/login?next=/books/3", headers=HTML)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'name="csrf_token" type="hidden" value="[^"]{20,}"', html)
    assert 'name="next" type="hidden" value="/books/3"' in html
    evil = client.get("/login?next=//evil.example", headers=HTML).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/"' in evil


def test_form_login_redirects_home_and_records_the_event(any_app):
    client = any_app.test_client()
    with any_app.app_context():
        user_id = Factory().user("hana").id
    response = post_login(client, "hana")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/", headers=HTML)
    assert home.status_code == 200
    assert "Logged in as <strong>hana</strong> (role: member)" in home.get_data(as_text=True)
    with any_app.app_context():
        events = db.session.execute(db.select(LoginEvent.user_id, LoginEvent.success)).all()
        assert [tuple(row) for row in events] == [(user_id, True)]
        assert db.session.get(User, user_id).last_login_at is not None
    # The JSON API sees the same session.
    assert client.get("/api/auth/me").get_json()["username"] == "hana"


def test_form_login_without_csrf_token_is_400_form_page(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("ivan")
    response = client.post("/login", data={"username": "ivan", "password": PASSWORD}, headers=HTML)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The form expired or did not come from this site" in html
    assert 'name="csrf_token"' in html
    assert client.get("/api/auth/me").status_code == 401
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(LoginEvent.id))).scalar_one() == 0


def test_form_login_with_a_forged_csrf_token_is_400(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("jane")
    csrf_token(client)
    response = client.post("/login", headers=HTML,
                           data={"csrf_token": "forged", "username": "jane", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/auth/me").status_code == 401


def test_form_bad_credentials_show_an_error(app):
    client = app.test_client()
    with app.app_context():
        user_id = Factory().user("kim").id
    response = post_login(client, "kim", "wrong password")
    assert response.status_code == 401
    assert "Invalid username or password" in response.get_data(as_text=True)
    with app.app_context():
        events = db.session.execute(db.select(LoginEvent.user_id, LoginEvent.success)).all()
        assert [tuple(row) for row in events] == [(user_id, False)]


def test_form_missing_password_is_400_and_names_the_field(app):
    client = app.test_client()
    response = post_login(client, "kim", "")
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_form_suspended_account_is_403(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("lee", account_status="suspended")
    response = post_login(client, "lee")
    assert response.status_code == 403
    assert "This account is suspended" in response.get_data(as_text=True)


def test_form_login_renews_the_session(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("max")
    token = csrf_token(client)
    with client.session_transaction() as session:
        session["planted"] = "before login"
        old_csrf = session["csrf_token"]
    response = client.post("/login", headers=HTML, data={"csrf_token": token, "username": "max",
                                                         "password": PASSWORD})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != old_csrf
        assert session["_user_id"] == "1"


def test_anonymous_home_redirects_to_login(app):
    response = app.test_client().get("/", headers=HTML)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": ["/"]})


def test_admin_home_links_the_served_monitoring_pages(app):
    client = app.test_client()
    with app.app_context():
        Factory().admin()
    post_login(client, "admin")
    html = client.get("/", headers=HTML).get_data(as_text=True)
    assert 'href="/api/openapi.json"' in html
    links = re.findall(r'<a href="([^"]+)">', html)
    served = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/api/openapi.json" in links
    for link in links:
        assert link in served, link
    for path in ("/api/analytics/monitor/system/", "/metrics"):
        assert (path in links) == (path in served)


def test_member_home_has_no_monitoring_links(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("nora")
    post_login(client, "nora")
    html = client.get("/", headers=HTML).get_data(as_text=True)
    assert "Logged in as <strong>nora</strong>" in html
    assert "/api/openapi.json" not in html


def test_logged_in_user_visiting_login_goes_to_next(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("olga")
    post_login(client, "olga")
    response = client.get("/login?next=/some/page", headers=HTML)
    assert (response.status_code, response.headers["Location"]) == (302, "/some/page")


def test_post_logout_needs_the_csrf_token(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("pia")
    post_login(client, "pia")
    assert client.post("/logout", headers=HTML).status_code == 400
    assert client.get("/api/auth/me").status_code == 200

    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token}, headers=HTML)
    assert (response.status_code, response.headers["Location"]) == (302, "/login")
    assert client.get("/api/auth/me").status_code == 401


def test_get_logout_logs_out(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("quinn")
    post_login(client, "quinn")
    response = client.get("/logout", headers=HTML)
    assert (response.status_code, response.headers["Location"]) == (302, "/login")
    assert client.get("/api/auth/me").status_code == 401


def test_login_works_with_strong_session_protection_across_requests(app):
    """A changed client (User-Agent) loses the session; the same client keeps it."""
    client = app.test_client()
    with app.app_context():
        Factory().user("ruth")
    post_login(client, "ruth")
    assert client.get("/api/auth/me").status_code == 200
    assert client.get("/api/auth/me").status_code == 200
    assert client.get("/api/auth/me", headers={"User-Agent": "another browser"}).status_code == 401
