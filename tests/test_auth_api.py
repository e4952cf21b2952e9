"""The auth JSON API: register, login, me, logout, and the JSON-only body rules."""
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.auth import admin_required
from app.extensions import db
from app.library.models import LoginEvent, User
from app.timeutil import utcnow
from tests.factories import PASSWORD, Factory, login

NEW_PASSWORD = "a long enough password"


def _register(client, **overrides):
    body = {"username": "reader", "email": "reader@example.test", "password": NEW_PASSWORD}
    body.update(overrides)
    return client.post("/api/auth/register", json=body)


def _events(app):
    with app.app_context():
        rows = db.session.execute(db.select(LoginEvent).order_by(LoginEvent.id)).scalars().all()
        return [(event.user_id, event.success) for event in rows]


def test_register_login_me_logout_flow(any_app):
    client = any_app.test_client()

    response = _register(client)
    assert response.status_code == 201
    user_id = response.get_json()["id"]
    assert response.get_json() == {"id": user_id, "username": "reader", "role": "member"}

    assert client.get("/api/auth/me").status_code == 401

    response = client.post("/api/auth/login", json={"username": "reader", "password": NEW_PASSWORD})
    assert response.status_code == 200
    assert response.get_json() == {"id": user_id, "username": "reader", "role": "member", "is_admin": False}
    assert "session=" in response.headers["Set-Cookie"]

    response = client.get("/api/auth/me")
    assert response.status_code == 200
    assert response.get_json() == {"id": user_id, "username": "reader", "role": "member", "is_admin": False}

    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/me").status_code == 401

    with any_app.app_context():
        user = db.session.get(User, user_id)
        assert (user.role, user.is_admin, user.email_verification) == ("member", False, "pending")
        assert user.account_status == "active"
        assert user.check_password(NEW_PASSWORD)
        assert user.password_hash != NEW_PASSWORD
        assert user.last_login_at is not None
        assert user.last_seen_at == user.last_login_at
    assert _events(any_app) == [(user_id, True)]


def test_register_cannot_choose_role(app):
    client = app.test_client()
    response = _register(client, role="admin", is_admin=True)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]["json"]
    assert set(fields) == {"role", "is_admin"}
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar_one() == 0


@pytest.mark.parametrize("overrides, field", [
    ({"username": "ab"}, "username"),
    ({"username": "x" * 81}, "username"),
    ({"username": "bad name!"}, "username"),
    ({"email": "not-an-email"}, "email"),
    ({"password": "123456789"}, "password"),
    ({"password": 1234567890}, "password"),
    ({"username": None}, "username"),
])
def test_register_validation_names_the_field(app, overrides, field):
    client = app.test_client()
    response = _register(client, **overrides)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert list(error["fields"]["json"]) == [field]
    assert field in error["message"]
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar_one() == 0


def test_register_missing_fields_are_named(app):
    response = app.test_client().post("/api/auth/register", json={})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]["json"]) == {"username", "email", "password"}


def test_duplicate_username_and_email_are_409(any_app):
    client = any_app.test_client()
    assert _register(client).status_code == 201

    response = _register(client, username="READER", email="other@example.test")
    assert response.status_code == 409
    assert response.get_json()["error"] == {
        "code": 409, "message": "That username is already registered", "field": "username"}

    response = _register(client, username="someone", email="Reader@Example.test")
    assert response.status_code == 409
    assert response.get_json()["error"]["field"] == "email"

    with any_app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar_one() == 1


def test_bad_credentials_are_401_with_one_message(any_app):
    client = any_app.test_client()
    with any_app.app_context():
        user_id = Factory().user("carol").id

    wrong_password = login(client, "carol", "wrong password!")
    unknown_user = login(client, "nobody", "wrong password!")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.get_json() == unknown_user.get_json() == {
        "error": {"code": 401, "message": "Invalid username or password"}}
    assert client.get("/api/auth/me").status_code == 401

    assert login(client, "carol").status_code == 200
    assert _events(any_app) == [(user_id, False), (None, False), (user_id, True)]
    with any_app.app_context():
        assert db.session.get(User, user_id).last_login_at is not None


def test_failed_login_leaves_last_login_unset(app):
    client = app.test_client()
    with app.app_context():
        user_id = Factory().user("dave").id
    assert login(client, "dave", "not the password").status_code == 401
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.last_login_at, user.last_seen_at) == (None, None)


def test_suspended_account_is_403(any_app):
    client = any_app.test_client()
    with any_app.app_context():
        user_id = Factory().user("erin", account_status="suspended").id
    response = login(client, "erin")
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "This account is suspended"
    assert client.get("/api/auth/me").status_code == 401
    # A wrong password on a suspended account reveals nothing about the suspension.
    assert login(client, "erin", "not the password").status_code == 401
    assert _events(any_app) == [(user_id, False), (user_id, False)]


def test_imported_member_without_password_cannot_log_in(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("imported", password=None)
    assert login(client, "imported", "").status_code == 422
    assert login(client, "imported", "anything at all").status_code == 401


def test_admin_login_reports_is_admin(app):
    client = app.test_client()
    with app.app_context():
        admin_id = Factory().admin().id
    response = login(client, "admin")
    assert response.get_json() == {"id": admin_id, "username": "admin", "role": "admin", "is_admin": True}


def test_session_is_renewed_at_login(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("frank")
    with client.session_transaction() as session:
        session["planted"] = "before login"
        session["_user_id"] = "999"
    assert login(client, "frank").status_code == 200
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == "1"
        assert set(session) == {"_user_id", "_fresh", "_id"}


def test_logout_clears_the_whole_session(app):
    client = app.test_client()
    with app.app_context():
        Factory().user("gina")
    login(client, "gina")
    with client.session_transaction() as session:
        session["extra"] = 1
    assert client.post("/api/auth/logout").status_code == 204
    with client.session_transaction() as session:
        assert dict(session) == {}


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register"])
def test_non_json_body_is_415(app, path):
    response = app.test_client().post(path, data={"username": "x", "password": "y"})
    assert response.status_code == 415
    error = response.get_json()["error"]
    assert error["code"] == 415
    assert error["content_type"] == "application/x-www-form-urlencoded"
    assert "application/json" in error["message"]


def test_text_plain_body_is_415(app):
    response = app.test_client().post("/api/auth/login", data='{"username": "x"}', content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["error"]["content_type"] == "text/plain"


@pytest.mark.parametrize("body", ['{"username": "x",', "not json", b"\xff\xfe{}"])
def test_malformed_json_is_400(app, body):
    response = app.test_client().post("/api/auth/login", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": {"code": 400, "message": "Request body is not valid JSON"}}
    assert _events(app) == []


@pytest.mark.parametrize("path", ["/api/loans", "/api/reservations", "/api/loans/1/renew"])
def test_json_check_covers_the_other_api_blueprints(app, path):
    client = app.test_client()
    response = client.post(path, data="book_id=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.get_json()["error"]["content_type"] == "application/x-www-form-urlencoded"
    response = client.post(path, data="{book_id: 1}", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "Request body is not valid JSON"


def test_json_check_leaves_browser_forms_alone(app):
    response = app.test_client().post("/login", data={"username": "x"}, headers={"Accept": "text/html"})
    assert response.status_code == 400  # the CSRF check, not the JSON check
    assert "text/html" in response.content_type


def test_bodyless_post_is_not_refused(app):
    client = app.test_client()
    assert client.post("/api/auth/logout").status_code == 204


def test_non_object_json_is_422_not_500(app):
    response = app.test_client().post("/api/auth/login", json=["admin", "pw"])
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == 422


@pytest.fixture
def admin_route(app):
    @admin_required
    def staff_only():
        return {"ok": True}

    app.add_url_rule("/api/test-staff-only", "staff_only_api", staff_only)
    app.add_url_rule("/test-staff-only", "staff_only_page", staff_only)
    return app


def test_anonymous_json_request_to_admin_endpoint_is_401_json(admin_route):
    client = admin_route.test_client()
    response = client.get("/api/test-staff-only")
    assert response.status_code == 401
    assert response.get_json() == {"error": {"code": 401, "message": "Authentication required"}}
    assert "Location" not in response.headers

    response = client.get("/test-staff-only", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert "Location" not in response.headers


def test_anonymous_browser_request_to_admin_page_redirects_to_login(admin_route):
    client = admin_route.test_client()
    response = client.get("/test-staff-only?x=1", headers={"Accept": "text/html"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/test-staff-only?x=1"]}


def test_member_gets_403_and_admin_gets_through(admin_route):
    client = admin_route.test_client()
    with admin_route.app_context():
        factory = Factory()
        factory.user("member1")
        factory.admin()
    login(client, "member1")
    response = client.get("/api/test-staff-only")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == 403
    client.post("/api/auth/logout")
    login(client, "admin", PASSWORD)
    assert client.get("/api/test-staff-only").get_json() == {"ok": True}


def _set_last_seen(app, user_id, value):
    with app.app_context():
        db.session.get(User, user_id).last_seen_at = value
        db.session.commit()


def _last_seen(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).last_seen_at


def test_last_seen_is_written_at_most_every_five_minutes(any_app):
    client = any_app.test_client()
    with any_app.app_context():
        user_id = Factory().user("seen").id
    login(client, "seen")

    recent = utcnow() - timedelta(minutes=4, seconds=50)
    _set_last_seen(any_app, user_id, recent)
    statements = []
    with any_app.app_context():
        engine = db.engine

    def _record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _record)
    try:
        assert client.get("/api/auth/me").status_code == 200
        assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
        assert _last_seen(any_app, user_id) == recent

        stale = utcnow() - timedelta(minutes=5, seconds=10)
        _set_last_seen(any_app, user_id, stale)
        statements.clear()
        before = utcnow()
        assert client.get("/api/auth/me").status_code == 200
        updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
        assert len(updates) == 1 and "last_seen_at" in updates[0]
        seen = _last_seen(any_app, user_id)
        assert before <= seen <= utcnow()

        statements.clear()
        assert client.get("/api/auth/me").status_code == 200
        assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
        assert _last_seen(any_app, user_id) == seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", _record)


def test_anonymous_requests_touch_no_user(app):
    client = app.test_client()
    with app.app_context():
        user_id = Factory().user("ghost").id
    assert client.get("/api/auth/me").status_code == 401
    assert _last_seen(app, user_id) is None
