"""Fixtures: a fresh database per test, on SQLite and (where reachable) PostgreSQL.

PostgreSQL tests use a schema of their own in the `test` database (PG_TEST_URL),
dropped afterwards. Where PostgreSQL is not reachable they skip, unless
REQUIRE_POSTGRES=1 (set by .ci/run), which turns the skip into a failure.
"""
import os
import shutil
import uuid

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from tests.factories import Factory

PG_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def required_binary(name: str, package: str) -> str:
    """The path of a program the test runs; skips where it is not installed, fails in CI
    (CI=true: .ci/run installs the Debian package)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} missing in CI (.ci/run installs the Debian package {package})")
        pytest.skip(f"{name} not installed (apt-get install {package})")
    return path


def _base_config(tmp_path):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "REDIS_URL": None,
        "CACHE_TYPE": "SimpleCache",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
    }


def _postgres_schema_url():
    """A URL whose connections use a new, empty schema; returns (url, drop)."""
    try:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")

    def drop():
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def _make_app(kind, tmp_path, extra=None):
    config = _base_config(tmp_path)
    drop = None
    if kind == "sqlite":
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        config["SQLALCHEMY_DATABASE_URI"], drop = _postgres_schema_url()
    config.update(extra or {})
    app = create_app(config)
    with app.app_context():
        db.create_all()
    return app, drop


@pytest.fixture
def app_config():
    """Override in a test module to pass extra configuration to the app."""
    return {}


def _app_fixture(kind, tmp_path, app_config):
    app, drop = _make_app(kind, tmp_path, app_config)
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    if drop:
        drop()


@pytest.fixture
def app(tmp_path, app_config):
    """An app on a fresh SQLite database."""
    yield from _app_fixture("sqlite", tmp_path, app_config)


@pytest.fixture
def pg_app(tmp_path, app_config):
    """An app on a fresh PostgreSQL schema."""
    yield from _app_fixture("postgresql", tmp_path, app_config)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, tmp_path, app_config):
    """The same test on both databases."""
    yield from _app_fixture(request.param, tmp_path, app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app):
    """Model factory bound to `app` (see tests/factories.py)."""
    with app.app_context():
        yield Factory()
