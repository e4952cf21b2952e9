"""Admin-only monitoring endpoints under /api/analytics/monitor/ (definitions: docs/metrics.md)."""
from flask import current_app, jsonify

from ..extensions import cache, db
from ..timeutil import isoformat_z, utcnow
from . import measured
from .access import monitor_access
from .blueprint import bp
from .caching import cached_body
from .health import check_cache, check_database
from .stats.analytics import analytics_stats
from .stats.books import books_stats
from .stats.loans import loans_stats
from .stats.system import system_stats
from .stats.users import users_stats

PREFIX = "/api/analytics/monitor"


@bp.record_once
def _remember_start(state):
    state.app.extensions["monitor_started_at"] = utcnow()


def _respond(name, build):
    body, hit = cached_body(name, build)
    response = jsonify(body)
    response.headers["X-Monitor-Cache"] = "hit" if hit else "miss"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _model_endpoint(name, model, stats):
    def build():
        now = utcnow()
        return {"model": model, "timestamp": isoformat_z(now),
                **stats(db.session, now, current_app.config)}

    @monitor_access
    def view():
        return _respond(name, build)

    view.__name__ = f"monitor_{name}"
    view.__doc__ = f"{model} monitoring (admin only)."
    bp.add_url_rule(f"{PREFIX}/{name}/", view.__name__, view, methods=["GET"], strict_slashes=False)


_model_endpoint("users", "User", users_stats)
_model_endpoint("books", "Book", books_stats)
_model_endpoint("loans", "Loan", loans_stats)
_model_endpoint("analytics", "Analytics", analytics_stats)


def _system_body():
    now = utcnow()
    database = check_database(db.session)["ok"]
    cache_ok = check_cache(cache)["ok"]
    body = system_stats(
        db.session, now, current_app.config,
        health={"database": database, "cache": cache_ok, "overall": database and cache_ok},
        response_times=measured.response_times(),
        error_rate=measured.error_rate_percent(),
        started_at=current_app.extensions["monitor_started_at"],
    )
    return {"timestamp": isoformat_z(now), **body}


@bp.get(f"{PREFIX}/system/", strict_slashes=False)
@monitor_access
def monitor_system():
    """System overview (admin only)."""
    return _respond("system", _system_body)
