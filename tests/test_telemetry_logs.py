"""Log lines carry trace_id/span_id; LOG_FORMAT=json gives one JSON object per line."""
import json
import logging

import pytest
from flask import current_app, jsonify
from opentelemetry import trace

from app import create_app
from app.extensions import db


def make_app(tmp_path, **extra):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "CACHE_TYPE": "SimpleCache", "REDIS_URL": None,
                      "RATELIMIT_STORAGE_URI": "memory://",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'logs.db'}",
                      "OTEL_TRACES_SAMPLER": "parentbased_always_on", **extra})
    seen = {}

    @app.get("/_test/log")
    def log_something():
        context = trace.get_current_span().get_span_context()
        seen["trace_id"] = format(context.trace_id, "032x")
        seen["span_id"] = format(context.span_id, "016x")
        current_app.logger.warning("borrowing is fun")
        return jsonify(ok=True)

    with app.app_context():
        db.create_all()
    return app, seen


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers  # drop what fileConfig added
    # later tests' apps reconfigure the shared handler; put the text format back
    create_app({"TESTING": True, "SECRET_KEY": "x", "OTEL_SDK_DISABLED": True,
                "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    root.setLevel(level)


def test_json_log_lines_carry_the_request_trace_id(tmp_path, capsys):
    app, seen = make_app(tmp_path, LOG_FORMAT="json")
    capsys.readouterr()
    assert app.test_client().get("/_test/log").status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "borrowing is fun" in line]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["message"] == "borrowing is fun"
    assert entry["level"] == "WARNING"
    assert entry["trace_id"] == seen["trace_id"] and len(entry["trace_id"]) == 32
    assert entry["span_id"] == seen["span_id"]
    assert entry["time"].endswith("Z")


def test_text_log_lines_carry_the_trace_id(tmp_path, capsys):
    app, seen = make_app(tmp_path)
    capsys.readouterr()
    app.test_client().get("/_test/log")
    [line] = [line for line in capsys.readouterr().err.splitlines() if "borrowing is fun" in line]
    assert f"trace_id={seen['trace_id']} span_id={seen['span_id']}" in line


def test_outside_a_span_the_ids_are_empty(tmp_path, capsys):
    make_app(tmp_path, LOG_FORMAT="json")
    capsys.readouterr()
    logging.getLogger("app.test").warning("no request here")
    [entry] = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "no request here" in line]
    assert entry["trace_id"] is None and entry["span_id"] is None


def test_exceptions_are_logged_as_one_json_line(tmp_path, capsys):
    make_app(tmp_path, LOG_FORMAT="json")
    capsys.readouterr()
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("app.test").exception("it failed")
    lines = [line for line in capsys.readouterr().err.splitlines() if "it failed" in line]
    assert len(lines) == 1
    assert "ValueError: boom" in json.loads(lines[0])["exception"]


def test_one_handler_however_many_apps(tmp_path):
    from app.telemetry.logs import StderrHandler

    make_app(tmp_path)
    make_app(tmp_path)
    assert sum(isinstance(h, StderrHandler) for h in logging.getLogger().handlers) == 1


def test_bad_log_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        make_app(tmp_path, LOG_FORMAT="xml")


def test_logging_survives_alembic_file_config(tmp_path, capsys):
    """Migrations run in-process (Alembic's env.py calls logging.config.fileConfig, which
    replaces the root handlers) leave the app's loggers enabled, and the next app's
    init_app puts the trace-id handler back."""
    from flask_migrate import upgrade

    migrated, _ = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'migrated.db'}")
    with migrated.app_context():
        db.drop_all()
        upgrade()
    app, seen = make_app(tmp_path, LOG_FORMAT="json")
    capsys.readouterr()
    app.test_client().get("/_test/log")
    # alembic's own console handler stays on the root logger and prints its plain line too
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if "borrowing is fun" in line and line.startswith("{")]
    assert [line["trace_id"] for line in lines] == [seen["trace_id"]]
