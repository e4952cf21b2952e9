"""Failed-login throttling per account and per client address (Flask-Limiter)."""
import os
import uuid

import pytest

from app.extensions import db
from app.library.models import LoginEvent
from tests.conftest import _make_app
from tests.factories import PASSWORD, Factory, login
from tests.test_login_form import HTML, csrf_token


@pytest.fixture
def app_config():
    return {"LOGIN_RATE_LIMIT_ACCOUNT": "3 per 15 minutes", "LOGIN_RATE_LIMIT_ADDRESS": "5 per 15 minutes"}


def _from(address):
    return {"REMOTE_ADDR": address}


def _users(app, *names):
    with app.app_context():
        factory = Factory()
        for name in names:
            factory.user(name)


def _event_count(app):
    with app.app_context():
        return db.session.execute(db.select(db.func.count(LoginEvent.id))).scalar_one()


def test_account_limit_counts_failures_per_username(any_app):
    _users(any_app, "tara", "uma")
    client = any_app.test_client()
    # Three failures from three addresses: the account key alone decides.
    for n in range(3):
        response = client.post("/api/auth/login", json={"username": "tara", "password": "wrong password"},
                               environ_base=_from(f"10.0.0.{n}"))
        assert response.status_code == 401
    response = client.post("/api/auth/login", json={"username": "TARA ", "password": PASSWORD},
                           environ_base=_from("10.0.0.9"))
    assert response.status_code == 429
    assert response.get_json() == {"error": {
        "code": 429, "message": "Too many failed login attempts for this account; try again later"}}
    assert 0 < int(response.headers["Retry-After"]) <= 900
    # The blocked attempt never reached the password check: no LoginEvent for it.
    assert _event_count(any_app) == 3
    # Another account from the same address is unaffected.
    assert login(client, "uma").status_code == 200


def test_successful_logins_do_not_count(app):
    _users(app, "vera")
    client = app.test_client()
    for _ in range(6):
        assert login(client, "vera").status_code == 200


def test_address_limit_counts_failures_across_accounts(app):
    _users(app, "walt", "xena")
    client = app.test_client()
    for n in range(5):
        response = client.post("/api/auth/login", json={"username": f"nobody{n}", "password": "wrong pass"},
                               environ_base=_from("192.0.2.7"))
        assert response.status_code == 401
    response = client.post("/api/auth/login", json={"username": "walt", "password": PASSWORD},
                           environ_base=_from("192.0.2.7"))
    assert response.status_code == 429
    assert response.get_json()["error"]["message"] == (
        "Too many failed login attempts from this address; try again later")
    assert "Retry-After" in response.headers
    # The same account from another address logs in.
    response = client.post("/api/auth/login", json={"username": "walt", "password": PASSWORD},
                           environ_base=_from("192.0.2.8"))
    assert response.status_code == 200


def test_validation_errors_do_not_count(app):
    client = app.test_client()
    for _ in range(6):
        assert client.post("/api/auth/login", json={"username": "yara"}).status_code == 422
    _users(app, "yara")
    assert login(client, "yara").status_code == 200


def test_form_and_api_share_the_account_counter(app):
    _users(app, "zoe")
    client = app.test_client()
    assert login(client, "zoe", "wrong password").status_code == 401
    assert login(client, "zoe", "wrong password").status_code == 401
    token = csrf_token(client)
    response = client.post("/login", headers=HTML,
                           data={"csrf_token": token, "username": "zoe", "password": "wrong password"})
    assert response.status_code == 401
    token = csrf_token(client)
    response = client.post("/login", headers=HTML,
                           data={"csrf_token": token, "username": "zoe", "password": PASSWORD})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many failed login attempts for this account; try again later" in html
    assert 'name="csrf_token"' in html
    assert "Retry-After" in response.headers
    assert login(client, "zoe").status_code == 429
    # The login page itself stays reachable while the account is locked.
    assert client.get("/login", headers=HTML).status_code == 200


def test_limits_are_read_from_config(app):
    _users(app, "abe")
    client = app.test_client()
    app.config["LOGIN_RATE_LIMIT_ACCOUNT"] = "1 per 15 minutes"
    assert login(client, "abe", "wrong password").status_code == 401
    assert login(client, "abe").status_code == 429


REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_app(tmp_path):
    """An app whose limiter stores counters in real Redis, under a key prefix of its own."""
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    app, _ = _make_app("sqlite", tmp_path, {
        "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_RATE_LIMIT_ACCOUNT": "2 per 15 minutes", "LOGIN_RATE_LIMIT_ADDRESS": "50 per 15 minutes"})
    yield app
    for key in connection.scan_iter(f"*{prefix}*"):
        connection.delete(key)
    with app.app_context():
        db.session.remove()


def test_account_limit_with_redis_storage(redis_app):
    _users(redis_app, "bea")
    client = redis_app.test_client()
    assert login(client, "bea", "wrong password").status_code == 401
    assert login(client, "bea", "wrong password").status_code == 401
    assert login(client, "bea").status_code == 429
    # A second client (another process would see the same) shares the Redis counter.
    assert login(redis_app.test_client(), "bea").status_code == 429


def test_unreachable_redis_falls_back_to_memory_not_500(tmp_path):
    app, _ = _make_app("sqlite", tmp_path, {
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0", "LOGIN_RATE_LIMIT_ACCOUNT": "2 per 15 minutes"})
    _users(app, "cyd")
    client = app.test_client()
    assert login(client, "cyd", "wrong password").status_code == 401
    assert login(client, "cyd", "wrong password").status_code == 401
    assert login(client, "cyd").status_code == 429
