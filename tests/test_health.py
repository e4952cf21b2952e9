"""Liveness and readiness: /healthz never touches the database; /readyz says what is broken."""
import pytest

from app import create_app
from app.extensions import db
from tests.conftest import _base_config
from tests.factories import login

BROKEN_DATABASES = {
    "sqlite": "sqlite:////nonexistent-dir/for-sure/library.db",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2",
}


def _app(tmp_path, **overrides):
    config = _base_config(tmp_path)
    config.update(overrides)
    return create_app(config)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("kind", sorted(BROKEN_DATABASES))
def test_healthz_does_not_need_the_database(tmp_path, kind):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=BROKEN_DATABASES[kind])
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_ready(any_app):
    response = any_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": {"ok": True}, "cache": {"ok": True}}}


@pytest.mark.parametrize("kind", sorted(BROKEN_DATABASES))
def test_readyz_database_down(tmp_path, kind):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=BROKEN_DATABASES[kind])
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"]["cache"] == {"ok": True}
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"].startswith("OperationalError: ")


def test_readyz_database_disposed_mid_life(app, monkeypatch):
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    with app.app_context():
        engine = db.engine

        def refuse(*args, **kwargs):
            raise ConnectionRefusedError("database went away")

        monkeypatch.setattr(engine.pool, "connect", refuse)
        engine.pool.dispose()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == {
        "ok": False, "error": "ConnectionRefusedError: database went away"}


REDIS = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": "redis://127.0.0.1:6379/15"}
REDIS_DOWN = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": "redis://127.0.0.1:1/0",
              "CACHE_OPTIONS": {"socket_connect_timeout": 1}}


def _redis_reachable():
    import redis

    try:
        return redis.Redis.from_url(REDIS["CACHE_REDIS_URL"], socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.mark.parametrize("app_config", [REDIS])
def test_readyz_with_real_redis(app, app_config):
    if not _redis_reachable():
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["cache"] == {"ok": True}


@pytest.mark.parametrize("app_config", [REDIS_DOWN])
def test_cache_down_not_ready_but_monitoring_still_answers(app, make, app_config):
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    cache_check = response.get_json()["checks"]["cache"]
    assert cache_check["ok"] is False
    assert cache_check["error"].startswith("ConnectionError: ")

    make.admin("root_keeper")
    assert login(client, "root_keeper").status_code == 200
    books = client.get("/api/analytics/monitor/books/")
    assert books.status_code == 200
    assert books.headers["X-Monitor-Cache"] == "miss"
    system = client.get("/api/analytics/monitor/system/").get_json()
    assert system["health_status"] == {"database": True, "cache": False, "overall": False}
    assert system["status"] == "critical"
