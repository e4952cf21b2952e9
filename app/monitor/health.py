"""Liveness (/healthz) and readiness (/readyz), and the checks the system endpoint shares."""
import secrets

from flask import jsonify
from sqlalchemy import text

from ..extensions import cache, db
from .blueprint import bp


def _reason(exc: Exception) -> str:
    first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:300]


def check_database(session) -> dict:
    """{ok: True} when `SELECT 1` answers, else {ok: False, error}."""
    try:
        ok = session.execute(text("SELECT 1")).scalar_one() == 1
        session.rollback()  # release the connection (and SQLite's write lock) at once
    except Exception as exc:  # any driver or pool failure means "not ready"
        session.rollback()
        return {"ok": False, "error": _reason(exc)}
    return {"ok": True} if ok else {"ok": False, "error": "SELECT 1 returned an unexpected value"}


def check_cache(cache_backend) -> dict:
    """{ok: True} when a set/get round trip returns what was stored, else {ok: False, error}."""
    key = "monitor:health:" + secrets.token_hex(8)
    token = secrets.token_hex(8)
    try:
        stored = cache_backend.set(key, token, timeout=10)
        value = cache_backend.get(key)
        cache_backend.delete(key)
    except Exception as exc:  # a Redis outage surfaces here
        return {"ok": False, "error": _reason(exc)}
    if value != token:
        return {"ok": False, "error": f"cache round trip failed (set returned {stored!r}, read back {value!r})"}
    return {"ok": True}


def readiness_checks() -> dict:
    """{database: {...}, cache: {...}} for this app."""
    return {"database": check_database(db.session), "cache": check_cache(cache)}


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers. No database or cache access."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness: database and cache answer; 503 with the reasons otherwise."""
    checks = readiness_checks()
    if all(check["ok"] for check in checks.values()):
        return jsonify(status="ready", checks=checks)
    return jsonify(status="not ready", checks=checks), 503
