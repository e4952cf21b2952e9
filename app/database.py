"""Database engine set-up: SQLite pragmas and transaction mode."""
from pathlib import Path

from sqlalchemy import event

from .extensions import db, migrate


def _configure_sqlite(engine, busy_timeout_ms):
    """WAL, a busy timeout, foreign keys, and `BEGIN IMMEDIATE` transactions.

    Deferred SQLite transactions that read and then write fail at once with
    "database is locked" when another writer committed in between (the busy
    timeout does not apply to that case); taking the write lock at BEGIN makes
    writers queue on the busy timeout instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def init_app(app):
    """Bind Flask-SQLAlchemy and Flask-Migrate, and tune SQLite engines."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        app.config.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS",
            {"connect_args": {"timeout": app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000,
                              "check_same_thread": False}},
        )
    else:
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
